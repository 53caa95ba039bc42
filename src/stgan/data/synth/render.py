"""Rendering: compose the painted layers into an image, and the sample-indexed faces.

:func:`render_face` draws any 13-bit label vector with a given nuisance; the counterfactual
of a sample is ``render_face(other_labels, same_nuisance)``. :class:`SyntheticFaces` ties
labels and nuisance to ``(seed, index)``.
"""

from __future__ import annotations

import math

import numpy as np

from stgan.attributes import DEFAULT_ATTRS
from stgan.data.synth.face import Face
from stgan.data.synth.labels import ATTRS, sample_labels
from stgan.data.synth.nuisance import Nuisance, sample_nuisance
from stgan.data.synth.painters import GROUPS, background, paint
from stgan.errors import UserError

MIN_SIZE, MAX_SIZE = 16, 1024


def render_face(
    labels: np.ndarray, nz: Nuisance, size: int, regions: bool = False
) -> np.ndarray | tuple[np.ndarray, dict[str, np.ndarray]]:
    """Draw a face with attribute vector ``labels`` (13 0/1) and nuisance ``nz``.

    Any vector is drawn, also one the label model never samples: several hair colours are
    averaged; Bald removes all hair, the fringe included (so Bangs shows only without
    Bald); Mustache and beards are drawn on any face.

    Args:
        labels: (13,) 0/1 in :data:`ATTRS` order.
        nz: the nuisance of the sample.
        size: output side in pixels.
        regions: also return, per layer group of :data:`GROUPS`, the (S, S) weight with which
            that group shows in each pixel (the weights of a pixel sum to 1).

    Returns:
        ``(S, S, 3)`` ``uint8`` RGB, or ``(image, {group: weight})`` when ``regions``.
    """
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise UserError(
            f"synthetic image size {size} is out of range; use {MIN_SIZE}..{MAX_SIZE} pixels"
        )
    lab = np.asarray(labels).astype(bool)
    if lab.shape != (len(ATTRS),):
        raise ValueError(f"labels must have shape ({len(ATTRS)},), got {lab.shape}")
    f = Face(lab, nz, size)
    paint(f)
    img = _composite(f)
    return (img, _regions(f)) if regions else img


def _composite(f: Face) -> np.ndarray:
    """The layers over the background, then the lighting gradient: (S, S, 3) ``uint8``."""
    nz = f.nz
    out = background(f)  # (S, S, 3)
    tmp = np.empty_like(out)
    for _, a, c in f.layers:  # out += a * (c - out), in place
        np.subtract(c, out, out=tmp)
        tmp *= a[..., None]
        out += tmp
    light = 1.0 + nz.light * np.clip(
        (f.gu * math.cos(nz.light_angle) + f.gv * math.sin(nz.light_angle)) / 0.35, -1, 1
    )
    return np.clip(out * light[..., None] * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _regions(f: Face) -> dict[str, np.ndarray]:
    """Per layer group, the (S, S) weight with which it shows in each pixel (sum 1)."""
    size = f.size
    weights = {g: np.zeros((size, size), np.float32) for g in GROUPS}
    cover = np.ones((size, size), np.float32)
    for g, a, _ in reversed(f.layers):
        weights[g] += a * cover
        cover = cover * (1 - a)
    weights["background"] += cover
    return weights


class SyntheticFaces:
    """Synthetic faces indexed by integers: labels, images and exact counterfactuals.

    Sample ``index`` of seed ``seed`` is fully determined by the pair; labels and nuisance
    come from independent random streams, so ``render(i, s, other_labels)`` is the same face
    (pose, shapes, colours, lighting) with other attributes: an edit's ground truth.
    """

    ATTRS = DEFAULT_ATTRS

    def __init__(self, seed: int = 0):
        if seed < 0:
            raise UserError(f"synthetic seed must be ≥ 0, got {seed}; use data.synthetic_seed ≥ 0")
        self.seed = int(seed)

    def labels(self, index: int) -> np.ndarray:
        """``(13,)`` ``uint8`` 0/1 labels of sample ``index`` in :data:`DEFAULT_ATTRS` order."""
        return sample_labels(self.seed, index)

    def nuisance(self, index: int) -> Nuisance:
        """The nuisance (everything but the attributes) of sample ``index``."""
        return sample_nuisance(self.seed, index)

    def render(self, index: int, size: int, labels: np.ndarray | None = None) -> np.ndarray:
        """Image ``(size, size, 3)`` ``uint8`` of sample ``index``.

        Args:
            index: sample number (≥ 0).
            size: side in pixels.
            labels: None for the sample's own labels, else a (13,) 0/1 vector: the
                counterfactual with the same nuisance.
        """
        lab = self.labels(index) if labels is None else np.asarray(labels)
        return render_face(lab, self.nuisance(index), size)

    def render_regions(
        self, index: int, size: int, labels: np.ndarray | None = None
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Like :meth:`render`, plus the (S, S) weight of each layer group of :data:`GROUPS`
        in every pixel: ground-truth region masks (hair, eyes, glasses frames, ...)."""
        lab = self.labels(index) if labels is None else np.asarray(labels)
        return render_face(lab, self.nuisance(index), size, regions=True)
