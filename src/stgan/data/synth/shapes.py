"""Curves and polygons in the face frame (units of image width): the shapes painters draw.

Pure geometry, no pixels: Catmull-Rom splines through control points, (super)ellipses, and
tapered brush strokes turned into polygons for :class:`~stgan.data.synth.canvas.Canvas`.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

_SPLINE_T = {n: np.linspace(0, 1, n, endpoint=False)[:, None] for n in range(2, 9)}


def spline(points, n: int = 6, closed: bool = False) -> np.ndarray:
    """A Catmull-Rom curve through ``points`` with ``n`` samples per segment."""
    p = np.asarray(points, dtype=np.float64)
    p = np.vstack([p[-1], p, p[0], p[1]]) if closed else np.vstack([p[0], p, p[-1]])
    t = _SPLINE_T[n]  # (n, 1)
    p0, p1, p2, p3 = (p[k : len(p) - 3 + k, None] for k in range(4))  # (segments, 1, 2)
    c = 2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
    c = 0.5 * (c + (3 * p1 - p0 - 3 * p2 + p3) * t**3)  # (segments, n, 2)
    c = c.reshape(-1, 2)
    return c if closed else np.vstack([c, p[-2]])


@lru_cache(maxsize=64)
def arc(n: int, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
    """Cosines and sines of ``n`` angles from ``t0`` to ``t1`` (a full turn: no repeat)."""
    t = np.linspace(t0, t1, n, endpoint=not math.isclose(t1 - t0, 2 * math.pi))
    return np.cos(t), np.sin(t)


def ellipse(cu, cv, ru, rv, exponent: float = 2.0, n: int = 48, t0=0.0, t1=2 * math.pi):
    """Points of a superellipse ``|x/ru|^e + |y/rv|^e = 1`` (e = 2: an ellipse)."""
    c, s = arc(n, t0, t1)
    k = 2.0 / exponent
    return np.stack(
        [cu + ru * np.sign(c) * np.abs(c) ** k, cv + rv * np.sign(s) * np.abs(s) ** k], 1
    )


def stroke(points, half_widths) -> np.ndarray:
    """Polygon of a curve drawn with a varying half-width (a tapered brush stroke)."""
    p = np.asarray(points, dtype=np.float64)
    d = np.empty_like(p)  # tangents: central differences, one-sided at the ends
    d[1:-1] = (p[2:] - p[:-2]) / 2
    d[0], d[-1] = p[1] - p[0], p[-1] - p[-2]
    nrm = np.stack([-d[:, 1], d[:, 0]], 1) / (np.sqrt((d * d).sum(1, keepdims=True)) + 1e-12)
    w = np.broadcast_to(np.asarray(half_widths, dtype=np.float64), (len(p),))[:, None]
    return np.vstack([p + nrm * w, (p - nrm * w)[::-1]])


def taper(n: int, w: float, lo: float = 0.3) -> np.ndarray:
    """Half-widths along a stroke: ``w`` in the middle, ``lo * w`` at both ends."""
    return w * (lo + (1 - lo) * arc(n, 0.0, math.pi)[1])
