"""Image preprocessing of the reference (§5): crop, bicubic resize, scale to [-1, 1].

The official code (csmliu/STGAN ``data.py``) crops the aligned 178×218 CelebA image with a
box that depends on the output size, resizes it bicubically to ``img_size`` and maps pixels
to [-1, 1] with ``x / 127.5 - 1``; no flip:

- at 64 px: 148×148 at top 40, left 15 ("as VAE/GAN do");
- at any other size (128 px in the paper): 170×170 at top 26, left 3.

The box is given *in proportion to the image size* (:func:`crop_box`), so the same preset
serves CelebA at half resolution (89×109 → 85×85 at top 13, left 1.5 for 128 px): the resize
reads a fractional box, no rounding of the crop.

Crop presets:

- ``celeba``: the official box for the output size, scaled to the image. The image must have
  CelebA's aspect ratio (178:218, within 3%): other images were not aligned like CelebA.
- ``celeba-170``: the 170×170 box at every size (what ``celeba`` meant at 64 px before the
  official 64 px box was adopted; keeps older 64 px runs reproducible).
- ``none``: the whole image, for faces that are already cropped (CelebA-HQ). It must be
  square; a non-square image is an error that suggests ``center``.
- ``center``: the largest centred square.

Resizes (``data.resize``):

- ``pil``: Pillow's bicubic (a = −0.5, antialiased when shrinking), rounded to ``uint8``.
- ``tf-bicubic``: TF1 ``tf.image.resize_images(..., BICUBIC)`` as the official code calls it
  (:func:`tf_bicubic`): legacy pixel mapping ``src = dst · in/out`` (no half-pixel centres,
  ``align_corners=False``), Keys cubic with a = −0.75, the fractional position quantised to
  1/1024 as TF's coefficient table does, edge pixels repeated, no antialiasing, float output
  clipped to [0, 255] and not rounded (:func:`load_image_float`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from stgan.errors import UserError
from stgan.imageio import read_rgb

CROPS: tuple[str, ...] = ("celeba", "celeba-170", "none", "center")
RESIZES: tuple[str, ...] = ("pil", "tf-bicubic")

# The official crops of the 178×218 aligned CelebA image (csmliu/STGAN data.py).
CELEBA_SIZE = (178, 218)  # (width, height)
CELEBA_BOX = (3, 26, 170, 170)  # (left, top, width, height): every size but 64
CELEBA_BOX_64 = (15, 40, 148, 148)  # at img_size 64
_ASPECT_TOL = 0.03  # relative tolerance on CelebA's width/height ratio

TF_CUBIC_A = -0.75  # TF1's cubic coefficient (Keys' a = -0.5 is what Pillow uses)
TF_TABLE_SIZE = 1024  # TF1 looks its weights up at the fractional position rounded to 1/1024


def crop_box(
    preset: str, width: int, height: int, size: int | None = None
) -> tuple[float, float, float, float]:
    """The crop of ``preset`` for a ``width``×``height`` image, as a float box.

    Args:
        preset: ``celeba``, ``celeba-170``, ``none`` or ``center``.
        width: image width in pixels.
        height: image height in pixels.
        size: the output side; ``celeba`` takes the official 64 px box when it is 64, the
            170×170 box otherwise (None: the 170 box).

    Returns:
        ``(left, top, right, bottom)`` in pixels, possibly fractional.

    Raises:
        ValueError: unknown preset, or an image size the preset does not fit (``celeba``
            on an image not shaped like CelebA, ``none`` on a non-square image).
    """
    if preset in ("celeba", "celeba-170"):
        cw, ch = CELEBA_SIZE
        aspect, want = width / height, cw / ch
        if abs(aspect / want - 1.0) > _ASPECT_TOL:
            raise ValueError(
                f"is {width}x{height}, not shaped like an aligned CelebA image (178x218); "
                "use data.crop=none for already-cropped square faces or data.crop=center"
            )
        sx, sy = width / cw, height / ch
        official_64 = preset == "celeba" and size == 64
        left, top, w, h = CELEBA_BOX_64 if official_64 else CELEBA_BOX
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


def pipeline_id(crop: str, size: int, resize: str = "pil") -> str:
    """A name for how an image becomes a training image (crop, box, resize), e.g. for cache
    files: ``crop`` itself wherever the pixels are those of the first releases, so that those
    caches stay valid; ``celeba-148`` for the official 64 px box; ``-tf`` for TF's resize."""
    name = "celeba-148" if (crop, size) == ("celeba", 64) else crop
    return name if resize == "pil" else f"{name}-tf"


def tf_cubic_weights(
    in_start: float, scale: float, out_size: int, limit: int
) -> tuple[np.ndarray, np.ndarray]:
    """Source indices and weights of TF1's legacy bicubic resize along one axis.

    Output ``j`` samples the source at ``in_start + j · scale`` (legacy mapping: no
    half-pixel centres). Its four taps are ``floor(.) - 1 … floor(.) + 2``, clamped to
    ``[0, limit - 1]`` (the edge pixel repeats), weighted by the cubic kernel with
    a = −0.75 at the fractional position rounded to 1/1024 (TF's coefficient table).

    Returns:
        ``(index, weight)``, both ``(out_size, 4)``: ``int64`` and ``float32``.
    """
    loc = np.float32(in_start) + np.arange(out_size, dtype=np.float32) * np.float32(scale)
    base = np.floor(loc)
    t = np.rint((loc - base) * TF_TABLE_SIZE) / TF_TABLE_SIZE  # (out,) in [0, 1]
    dist = np.stack([1 + t, t, 1 - t, 2 - t], axis=1).astype(np.float64)  # |tap − position|
    a = TF_CUBIC_A
    near = ((a + 2) * dist - (a + 3)) * dist * dist + 1  # |d| ≤ 1
    far = ((a * dist - 5 * a) * dist + 8 * a) * dist - 4 * a  # 1 < |d| < 2
    weight = np.where(dist <= 1, near, far).astype(np.float32)
    index = np.clip(base.astype(np.int64)[:, None] + np.arange(-1, 3), 0, limit - 1)
    return index, weight


def tf_bicubic(
    image: np.ndarray, size: int, box: tuple[float, float, float, float] | None = None
) -> np.ndarray:
    """TF1 ``resize_images(BICUBIC)`` of the ``box`` crop of ``image`` to ``size``×``size``.

    An integer box gives exactly TF's ``crop_to_bounding_box`` followed by its resize (taps
    are clamped to the box); a fractional box (CelebA at half resolution) samples from its
    left/top edge with taps clamped to the pixels it touches. Rows are interpolated first,
    then columns, in float32, as TF does.

    Args:
        image: ``(H, W, C)`` array, any real dtype.
        size: output side.
        box: ``(left, top, right, bottom)`` in pixels; None = the whole image.

    Returns:
        ``float32`` ``(size, size, C)``, clipped to [0, 255], not rounded.
    """
    h, w = image.shape[:2]
    left, top, right, bottom = box if box is not None else (0.0, 0.0, float(w), float(h))
    x0, y0 = int(np.floor(left)), int(np.floor(top))
    x1, y1 = int(np.ceil(right)), int(np.ceil(bottom))
    crop = np.asarray(image[y0:y1, x0:x1], dtype=np.float32)  # (h', w', C)
    iy, wy = tf_cubic_weights(top - y0, (bottom - top) / size, size, y1 - y0)
    ix, wx = tf_cubic_weights(left - x0, (right - left) / size, size, x1 - x0)
    rows = np.einsum("ok,okwc->owc", wy, crop[iy])  # (size, w', C)
    out = np.einsum("ok,hokc->hoc", wx, rows[:, ix])  # (size, size, C)
    return np.clip(out, 0.0, 255.0).astype(np.float32)


def _prepare(path: str | Path, crop: str, size: int, resize: str) -> np.ndarray:
    """uint8 (pil, or no resize needed) or float32 (tf-bicubic) ``(size, size, 3)``."""
    if resize not in RESIZES:
        raise ValueError(f"unknown resize {resize!r}; valid: {', '.join(RESIZES)}")
    rgb = read_rgb(path)
    try:
        box = crop_box(crop, *rgb.size, size=size)
    except ValueError as e:
        raise UserError(f"image {path} {e}") from None
    if box == (0.0, 0.0, float(size), float(size)):  # already the right size: identity
        return np.array(rgb, dtype=np.uint8)
    if resize == "tf-bicubic":
        return tf_bicubic(np.asarray(rgb), size, box)
    out = rgb.resize((size, size), resample=Image.Resampling.BICUBIC, box=box)
    return np.array(out, dtype=np.uint8)  # (size, size, 3), writable


def load_image(path: str | Path, crop: str, size: int, resize: str = "pil") -> np.ndarray:
    """Read an image file, crop it with ``crop`` and resize it bicubically to ``size``.

    Args:
        path: an image file Pillow can read (JPEG, PNG, ...), read upright (EXIF
            orientation) and converted to RGB by :func:`stgan.imageio.read_rgb`.
        crop: a crop preset (see :func:`crop_box`).
        size: side of the square output.
        resize: ``pil`` or ``tf-bicubic``; the latter's float output is rounded to the
            nearest level here (:func:`load_image_float` keeps it).

    Returns:
        ``uint8`` array ``(size, size, 3)``, RGB.

    Raises:
        UserError: the file is missing, unreadable, corrupt or too large (a decompression
            bomb), or its size does not fit the crop; the message names the file.
    """
    img = _prepare(path, crop, size, resize)
    return img if img.dtype == np.uint8 else np.rint(img).astype(np.uint8)


def load_image_float(path: str | Path, crop: str, size: int, resize: str) -> np.ndarray:
    """As :func:`load_image`, but ``float32`` in [0, 255]: TF's resize not rounded."""
    return _prepare(path, crop, size, resize).astype(np.float32, copy=False)
