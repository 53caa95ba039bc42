"""Image preprocessing of the reference (§5): crop, bicubic resize, scale to [-1, 1].

The paper crops the aligned 178×218 CelebA image to the 170×170 box at top 26, left 3,
resizes it bicubically to ``img_size`` and maps pixels to [-1, 1] with ``x / 127.5 - 1``; no
flip. The box is given *in proportion to the image size* (:func:`crop_box`), so the same
preset serves CelebA at half resolution (89×109 → 85×85 at top 13, left 1.5): PIL resizes from
a fractional box, no rounding of the crop.

Presets:

- ``celeba``: the paper's box, scaled to the image. The image must have CelebA's aspect
  ratio (178:218, within 3%): other images were not aligned like CelebA.
- ``none``: the whole image, for faces that are already cropped (CelebA-HQ). It must be
  square; a non-square image is an error that suggests ``center``.
- ``center``: the largest centred square.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from stgan.errors import UserError
from stgan.imageio import read_rgb

CROPS: tuple[str, ...] = ("celeba", "none", "center")

# The paper's crop of the 178×218 aligned CelebA image (official code: offset 26, 3; size 170).
CELEBA_SIZE = (178, 218)  # (width, height)
CELEBA_BOX = (3, 26, 170, 170)  # (left, top, width, height)
_ASPECT_TOL = 0.03  # relative tolerance on CelebA's width/height ratio


def crop_box(preset: str, width: int, height: int) -> tuple[float, float, float, float]:
    """The crop of ``preset`` for a ``width``×``height`` image, as a float PIL box.

    Args:
        preset: ``celeba``, ``none`` or ``center``.
        width: image width in pixels.
        height: image height in pixels.

    Returns:
        ``(left, top, right, bottom)`` in pixels, possibly fractional.

    Raises:
        ValueError: unknown preset, or an image size the preset does not fit (``celeba``
            on an image not shaped like CelebA, ``none`` on a non-square image).
    """
    if preset == "celeba":
        cw, ch = CELEBA_SIZE
        aspect, want = width / height, cw / ch
        if abs(aspect / want - 1.0) > _ASPECT_TOL:
            raise ValueError(
                f"is {width}x{height}, not shaped like an aligned CelebA image (178x218); "
                "use data.crop=none for already-cropped square faces or data.crop=center"
            )
        sx, sy = width / cw, height / ch
        left, top, w, h = CELEBA_BOX
        return (left * sx, top * sy, (left + w) * sx, (top + h) * sy)
    if preset == "none":
        if width != height:
            raise ValueError(
                f"is {width}x{height}, not square, but data.crop=none expects square "
                "already-cropped faces; use data.crop=center (or celeba for aligned CelebA)"
            )
        return (0.0, 0.0, float(width), float(height))
    if preset == "center":
        side = min(width, height)
        left, top = (width - side) / 2, (height - side) / 2
        return (left, top, left + side, top + side)
    raise ValueError(f"unknown crop preset {preset!r}; valid: {', '.join(CROPS)}")


def load_image(path: str | Path, crop: str, size: int) -> np.ndarray:
    """Read an image file, crop it with ``crop`` and resize it bicubically to ``size``.

    Args:
        path: an image file Pillow can read (JPEG, PNG, ...), read upright (EXIF
            orientation) and converted to RGB by :func:`stgan.imageio.read_rgb`.
        crop: a crop preset (see :func:`crop_box`).
        size: side of the square output.

    Returns:
        ``uint8`` array ``(size, size, 3)``, RGB.

    Raises:
        UserError: the file is missing, unreadable, corrupt or too large (a decompression
            bomb), or its size does not fit the crop; the message names the file.
    """
    rgb = read_rgb(path)
    try:
        box = crop_box(crop, *rgb.size)
    except ValueError as e:
        raise UserError(f"image {path} {e}") from None
    if box == (0.0, 0.0, float(size), float(size)):  # already the right size: identity
        return np.array(rgb, dtype=np.uint8)
    out = rgb.resize((size, size), resample=Image.Resampling.BICUBIC, box=box)
    return np.array(out, dtype=np.uint8)  # (size, size, 3), writable
