"""The canvas: polygons in the face frame rasterised to anti-aliased coverage masks.

Shapes are drawn with PIL at several times the output size and box-filtered down, so the
anti-aliasing has a compact support: a pixel no shape reaches is exactly unchanged (what
keeps the counterfactual edits of :mod:`stgan.data.synth` local).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

# The face frame's place in the image: CelebA's crop has the eyes ~0.23 image widths apart at
# half height and the mouth at ~3/4 height (reference §5 crop of the aligned images).
_BASE_SCALE = 1.25
_BASE_OFFSET = np.array([0.0, 0.06])


class Canvas:
    """Draws polygon masks in the face frame, supersampled ``ss`` times and box-filtered.

    A mask is only drawn over the bounding box of its polygons, so small features are cheap.

    Args:
        size: output side in pixels.
        rot: the pose's rotation of the face frame, radians.
        scale: the pose's zoom.
        shift: the pose's translation, in image widths.
    """

    def __init__(self, size: int, rot: float, scale: float, shift: tuple[float, float]):
        self.size = size
        self.ss = 8 if size <= 32 else 4 if size <= 96 else 3  # supersampling factor
        c, s = math.cos(rot), math.sin(rot)
        k = _BASE_SCALE * scale * size
        self.lin = np.array([[c, -s], [s, c]]) * k  # face frame -> output pixels
        self.off = (0.5 + _BASE_OFFSET + np.asarray(shift)) * size
        self.px = 1.0 / k  # one output pixel, in face units

    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """Face-frame coordinates ``(u, v)`` of the output pixel centres, each (S, S)."""
        j = np.arange(self.size) + 0.5
        x, y = np.meshgrid(j, j)
        inv = np.linalg.inv(self.lin)
        dx, dy = x - self.off[0], y - self.off[1]
        u = (inv[0, 0] * dx + inv[0, 1] * dy).astype(np.float32)
        v = (inv[1, 0] * dx + inv[1, 1] * dy).astype(np.float32)
        return u, v

    def mask(self, *polys, cut=()) -> np.ndarray:
        """Coverage (S, S) float32 in [0, 1] of the union of ``polys`` minus ``cut``."""
        ss, size = self.ss, self.size
        pts = [(np.asarray(p) @ self.lin.T + self.off) * ss for p in polys]
        holes = [(np.asarray(p) @ self.lin.T + self.off) * ss for p in cut]
        out = np.zeros((size, size), np.float32)
        allp = np.vstack(pts)
        x0, y0 = np.floor(allp.min(0) / ss).astype(int) - 1
        x1, y1 = np.ceil(allp.max(0) / ss).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, size), min(y1, size)
        if x1 <= x0 or y1 <= y0:
            return out
        img = Image.new("L", ((x1 - x0) * ss, (y1 - y0) * ss), 0)
        draw = ImageDraw.Draw(img)
        shift = np.array([x0, y0]) * ss
        for p in pts:
            draw.polygon((p - shift).ravel().tolist(), fill=255)
        for p in holes:
            draw.polygon((p - shift).ravel().tolist(), fill=0)
        small = img.reduce(ss) if ss > 1 else img
        out[y0:y1, x0:x1] = np.asarray(small, dtype=np.float32) * (1.0 / 255.0)
        return out

    def lines(self, strokes, base: int = 128) -> np.ndarray:
        """A shading field (S, S) in [0, 1]: ``strokes`` = [(points, value, width)], drawn
        over a uniform ``base`` grey at full canvas size."""
        ss, size = min(self.ss, 3), self.size
        img = Image.new("L", (size * ss, size * ss), base)
        draw = ImageDraw.Draw(img)
        for pts, value, width in strokes:
            p = (np.asarray(pts) @ self.lin.T + self.off) * ss
            draw.line(
                p.ravel().tolist(), fill=int(value), width=max(1, round(width / self.px * ss))
            )
        return np.asarray(img.reduce(ss), dtype=np.float32) * (1.0 / 255.0)
