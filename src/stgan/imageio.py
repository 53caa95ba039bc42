"""Image files and grids without torchvision: reading any image file as RGB, atomic PNG
writing and a small grid writer."""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from stgan.errors import UserError

_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_BACKGROUND = (255, 255, 255)  # transparent pixels are shown on white


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow image as 8-bit RGB, each mode by its meaning rather than by clipping.

    - 16-bit and 32-bit integer greyscale (``I;16*``, ``I``): 0..65535 scaled to 0..255
      (rounded; ``I`` values outside 0..65535 are clipped). Pillow's own conversion clips at
      255, which turns a 16-bit photo white.
    - float greyscale (``F``): 0..1 scaled to 0..255 when no value exceeds 1, else taken as
      0..255; clipped, NaN as 0.
    - transparency (``RGBA``, ``LA``, ``PA``, premultiplied ``RGBa``/``La``, a palette or
      colour key with ``transparency``): composited over white, not dropped (the colour
      under a transparent pixel is arbitrary).
    - ``1``, ``L``, ``P``, ``CMYK``, ``YCbCr``, ``LAB``, ``HSV``, ``RGBX``: Pillow's conversion.

    Raises:
        ValueError: a mode Pillow cannot convert to RGB.
    """
    mode = im.mode
    if mode == "RGB" and "transparency" not in im.info:
        return im
    if mode == "I" or mode.startswith("I;16"):
        v = np.clip(np.asarray(im).astype(np.int64), 0, 65535)
        grey = ((v + 128) // 257).astype(np.uint8)  # round(v * 255 / 65535), exactly
        return Image.fromarray(np.repeat(grey[..., None], 3, axis=-1))
    if mode == "F":
        v = np.nan_to_num(np.asarray(im, dtype=np.float64), nan=0.0, posinf=255.0, neginf=0.0)
        scale = 255.0 if v.size and v.max() <= 1.0 else 1.0
        grey = np.rint(np.clip(v * scale, 0, 255)).astype(np.uint8)
        return Image.fromarray(np.repeat(grey[..., None], 3, axis=-1))
    if mode in _ALPHA_MODES or "transparency" in im.info:
        rgba = (im.convert("LA") if mode == "La" else im).convert("RGBA")
        back = Image.new("RGBA", rgba.size, (*_BACKGROUND, 255))
        return Image.alpha_composite(back, rgba).convert("RGB")
    return im.convert("RGB")


def read_rgb(path: str | Path) -> Image.Image:
    """Read an image file as an 8-bit RGB image, upright.

    The EXIF orientation of photos is applied (:func:`PIL.ImageOps.exif_transpose`) and every
    colour mode is converted by its meaning (:func:`to_rgb`).

    Raises:
        UserError: the file is missing, not an image, truncated or corrupt, has more pixels
            than Pillow's decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``), or a colour
            mode without an RGB conversion; the one-line message names the file.
    """
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 1x and 2x the limit, then decodes; refuse those too
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                im.load()
                ImageOps.exif_transpose(im, in_place=True)  # no copy when already upright
                upright = im
    except FileNotFoundError:
        raise UserError(
            f"image {path} does not exist; restore it or remove its label row"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise UserError(
            f"image {path} is too large to read safely ({str(e).rstrip('.')}); "
            "shrink it to a few megapixels"
        ) from None
    except Exception as e:  # a decoder fails on bad bytes in many ways (struct.error, EOFError...)
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(
            f"cannot read image {path} ({why}); replace the file or remove its label row"
        ) from None
    try:
        return to_rgb(upright)
    except ValueError as e:
        raise UserError(
            f"cannot read image {path}: colour mode {upright.mode} ({e}); save it as RGB"
        ) from None


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_png(path: str | Path, image: np.ndarray) -> None:
    """Write a uint8 (H, W, 3) image as PNG, atomically (no half-written file on error)."""
    import io

    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected uint8 (H, W, 3), got {image.dtype} {image.shape}")
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())


def make_grid(rows: Sequence[Sequence[np.ndarray]], pad: int = 2, pad_value: int = 255):
    """Tile images into one uint8 image: ``rows[r][c]`` is an (H, W, 3) uint8 tile.

    All tiles must share one shape; ``pad`` pixels of ``pad_value`` separate them.
    """
    if not rows or not rows[0]:
        raise ValueError("make_grid needs at least one tile")
    h, w, c = rows[0][0].shape
    n_cols = max(len(r) for r in rows)
    out = np.full(
        (len(rows) * (h + pad) + pad, n_cols * (w + pad) + pad, c), pad_value, dtype=np.uint8
    )
    for r, row in enumerate(rows):
        for col, tile in enumerate(row):
            if tile.shape != (h, w, c):
                raise ValueError(f"tile ({r}, {col}) has shape {tile.shape}, expected {(h, w, c)}")
            y, x = pad + r * (h + pad), pad + col * (w + pad)
            out[y : y + h, x : x + w] = tile
    return out


#: How far apart (levels) a pixel's channels may be for it to count as grey (an encoder's
#: rounding in a black-and-white photo stored as RGB).
GREY_TOLERANCE = 2


def match_grey(reference: np.ndarray, image: np.ndarray) -> np.ndarray:
    """``image`` (uint8 ``(..., 3)``) as greyscale when ``reference`` (the pixels it
    replaces, same shape) is: R, G and B within :data:`GREY_TOLERANCE` of each other in
    every pixel. Then each pixel becomes its luminance ``(299·R + 587·G + 114·B) / 1000``,
    rounded (ITU-R 601, as Pillow's ``L``), in all three channels, so that an edit pasted
    into a black-and-white photo stays black and white. Otherwise ``image`` itself is
    returned."""
    ref = reference.astype(np.int16)
    spread = ref.max(axis=-1) - ref.min(axis=-1)
    if spread.size and spread.max() > GREY_TOLERANCE:
        return image
    luma = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    grey = np.clip(np.rint(luma), 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


def to_uint8(images) -> np.ndarray:
    """Float CHW or NCHW tensor in [-1, 1] → uint8 HWC or NHWC (clamped, rounded half to even)."""
    if images.ndim not in (3, 4) or images.shape[-3] != 3:
        raise ValueError(f"expected (3, H, W) or (N, 3, H, W), got {tuple(images.shape)}")
    x = images.detach().float().cpu().numpy()
    x = np.rint((x + 1.0) * 127.5).clip(0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.moveaxis(x, -3, -1))  # (..., H, W, 3)


def to_float(images: np.ndarray):
    """uint8 HWC or NHWC images → float32 CHW or NCHW tensor in [-1, 1] (``x / 127.5 - 1``).

    The arithmetic runs in NumPy, single-threaded: per-image torch ops would start torch's
    thread pool in a data-loading process for a few microseconds of work.
    """
    import torch

    if images.ndim not in (3, 4) or images.shape[-1] != 3:
        raise ValueError(f"expected (H, W, 3) or (N, H, W, 3) uint8, got {images.shape}")
    x = np.ascontiguousarray(np.moveaxis(images, -1, -3), dtype=np.float32)  # (..., 3, H, W)
    x /= 127.5
    x -= 1.0
    return torch.from_numpy(x)
