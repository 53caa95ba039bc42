"""What a slide of one attribute is written as (the official *slide* test mode, reference §4):
a strip (the input, then one column per value t, each labelled when the label fits) and an
animated GIF of the edited frames that loops forever.

Pure functions on uint8 (H, W, 3) arrays; :func:`write_gif` writes atomically.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: Long side of a strip's tiles and of a GIF's frames made from large photos (``--align``):
#: larger frames are scaled down to it, smaller ones are kept as they are.
STRIP_MAX_SIDE = 1024
GIF_MAX_SIDE = 512

FRAME_MS = 150  # each frame of a GIF
HOLD_MS = 600  # the first and last frames (the two ends of the slide) stay longer


def fit(image: np.ndarray, max_side: int) -> np.ndarray:
    """``image`` scaled down (Lanczos) so that its long side is at most ``max_side``."""
    from PIL import Image

    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def value_label(t: float) -> str:
    """A slide value as written under its column: ``+0.50``, ``-1.00``."""
    return f"{t:+.2f}"


def slide_strip(
    image: np.ndarray,
    frames: Sequence[np.ndarray],
    values: Sequence[float],
    pad: int = 2,
    max_side: int = STRIP_MAX_SIDE,
) -> np.ndarray:
    """One row: ``image`` | ``frames[0]`` | ... (``len(frames) + 1`` columns, ``pad`` px of
    white between them), tiles scaled down to ``max_side``. Under each column its label
    (``input``, then each value) when the longest one fits the tile's width; otherwise the
    strip has no label band.
    """
    from PIL import Image, ImageDraw, ImageFont

    from stgan.imageio import make_grid

    if len(frames) != len(values):
        raise ValueError(f"{len(frames)} frames but {len(values)} values")
    tiles = [fit(image, max_side), *(fit(f, max_side) for f in frames)]
    grid = make_grid([tiles], pad=pad)
    labels = ["input", *(value_label(t) for t in values)]
    tile_w = tiles[0].shape[1]
    try:  # Pillow ≥ 10.1: its bundled font at a size that suits the tiles
        font = ImageFont.load_default(size=min(max(tile_w // 10, 10), 40))
    except TypeError:  # older Pillow: the fixed bitmap font
        font = ImageFont.load_default()
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    boxes = [draw.textbbox((0, 0), s, font=font) for s in labels]
    text_w = max(b[2] - b[0] for b in boxes)
    text_h = max(b[3] - b[1] for b in boxes)
    if text_w + 2 > tile_w:
        return grid  # labels would overlap: a bare strip
    band = Image.new("RGB", (grid.shape[1], text_h + 2 * pad + 2), (255, 255, 255))
    draw = ImageDraw.Draw(band)
    for col, (s, b) in enumerate(zip(labels, boxes, strict=True)):
        x = pad + col * (tile_w + pad) + (tile_w - (b[2] - b[0])) // 2 - b[0]
        draw.text((x, pad - b[1]), s, fill=(0, 0, 0), font=font)
    return np.concatenate([grid, np.asarray(band)], axis=0)


def gif_bytes(
    frames: Sequence[np.ndarray],
    max_side: int = GIF_MAX_SIDE,
    frame_ms: int = FRAME_MS,
    hold_ms: int = HOLD_MS,
) -> bytes:
    """An animated GIF of ``frames`` (scaled down to ``max_side``), looping forever, the
    first and last frames held ``hold_ms``, the others shown ``frame_ms`` each.

    Pillow merges a frame identical to the one before it into that one (a longer duration),
    so a slide whose edits do not change the image has fewer frames.
    """
    from PIL import Image

    if not frames:
        raise ValueError("a GIF needs at least one frame")
    images = [Image.fromarray(fit(f, max_side)) for f in frames]
    durations = [frame_ms] * len(images)
    durations[0] = durations[-1] = hold_ms
    buf = io.BytesIO()
    images[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=durations,
        loop=0,
        disposal=1,
    )
    return buf.getvalue()


def write_gif(path: str | Path, frames: Sequence[np.ndarray], **kw) -> None:
    """Write :func:`gif_bytes` of ``frames`` to ``path`` atomically."""
    from stgan.imageio import atomic_write_bytes

    atomic_write_bytes(path, gif_bytes(frames, **kw))
