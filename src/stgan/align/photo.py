"""Reading a user's photo for alignment: any size, upright, RGB, with an explicit pixel limit."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from stgan.errors import UserError
from stgan.imageio import read_rgb

#: The most pixels a photo may have (64 Mpx: a 9248×6936 phone photo is 64.1 M, a 48 Mpx
#: sensor's 8000×6000 is 48 M). Checked from the header before decoding, so a decompression
#: bomb (a small file that decodes to gigabytes) is refused without allocating it.
MAX_PIXELS = 64_000_000


def read_photo(path: str | Path) -> np.ndarray:
    """Read an image file as an upright uint8 ``(H, W, 3)`` RGB array.

    The EXIF orientation is applied; transparency is composited on white; greyscale,
    palette, CMYK and 16-bit images are converted by their meaning
    (:func:`stgan.imageio.read_rgb`). JPEG, PNG, WebP and whatever else Pillow reads.

    Raises:
        UserError: the file is missing or unreadable, or has more than :data:`MAX_PIXELS`
            pixels; the one-line message names the file.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:  # reads the header only
                w, h = im.size
    except FileNotFoundError:
        raise UserError(f"photo {path} does not exist") from None
    except Image.DecompressionBombError as e:  # Pillow's own limit, above ours
        raise UserError(f"photo {path} is too large to read safely ({e}); shrink it") from None
    except Exception as e:
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(f"cannot read photo {path} ({why}); use a JPEG, PNG or WebP file") from None
    if w * h > MAX_PIXELS:
        raise UserError(
            f"photo {path} has {w * h / 1e6:.0f} Mpx, more than the {MAX_PIXELS / 1e6:.0f} Mpx "
            "allowed (a decompression bomb, or a very large photo); shrink it"
        )
    return np.array(read_rgb(path), dtype=np.uint8)  # (H, W, 3), writable
