"""Image files and grids without torchvision: atomic PNG writing and a small grid writer."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


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
