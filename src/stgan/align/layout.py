"""Where the eyes lie in the model's input: the layout a photo is aligned to.

A model only edits faces framed like its training data, so a photo's face is aligned to put
its eyes where the training images had them on average. Each number's source:

- **Synthetic faces** (``data.dataset = "synthetic"``, or a folder written by
  ``stgan data synth``): computed from the renderer's geometry. The eyes sit at face-frame
  ``(±eye_x, -0.04 + eye_y)`` (:class:`stgan.data.synth.face.Face`) with the iris centre
  0.1 × the opening ``eye_h`` above (:func:`stgan.data.synth.painters.eyes`); ``eye_x`` is
  uniform in 0.094 ± 0.006, ``eye_y`` in 0 ± 0.008, ``eye_h`` in 0.018 ± 0.003, the zoom in
  0.93..1.06, rotation and shift centred on 0
  (:func:`stgan.data.synth.nuisance.sample_nuisance`); the
  :class:`stgan.data.synth.canvas.Canvas` of the mean pose maps the mean eyes to pixels.
  ``tests/test_align.py`` checks it on rendered faces: the detector's eyes on them average
  within 1.5 px of this layout at 128 px.
- **Aligned CelebA** (``data.crop`` ``celeba``, ``celeba-170`` or ``center``):
  :data:`CELEBA_EYES`, the mean eye centres in the 178×218 aligned images, mapped through the
  crop box that :func:`stgan.data.transforms.crop_box` gives for the model's size.
- **Square, already cropped real faces** (``data.crop = "none"``: CelebA-HQ style):
  :data:`CELEBA_HQ_EYES`, the mean eye centres as fractions of the side.

Both real-data layouts were measured with this package's own detector
(:func:`stgan.align.detect_faces`, faces with both eyes found) on the real subsets named in
docs/photos.md, so the detector's own bias (the Haar eye boxes' centres sit slightly above
the pupils) is the same on the training data and on the user's photo and cancels out.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stgan.config import Config, DataConfig

#: Mean eye centres ``((x, y) left, (x, y) right)`` in the aligned 178×218 CelebA images, in
#: pixels (pixel centres at integers): both eyes found in 2,138 of 2,500 aligned CelebA images
#: (000001–002500 of the official train split, at half resolution, coordinates doubled);
#: standard deviation about 3.4 px in x, 2.5 px in y.
CELEBA_EYES = ((68.3, 111.5), (107.4, 111.7))

#: Mean eye centres in CelebA-HQ style square crops, as fractions of the side (continuous
#: coordinates: 0 is the left/top edge, 1 the right/bottom edge): both eyes found in 1,815 of
#: 2,000 CelebA-HQ faces at 128 px (train split); standard deviation about 0.015 in x, 0.008
#: in y.
CELEBA_HQ_EYES = ((0.375, 0.477), (0.617, 0.478))

# the synthetic renderer's mean pose and eyes (stgan.data.synth.nuisance.sample_nuisance)
_SYNTH_ZOOM = 0.93 + 0.13 / 2
# (half the eye distance, height of the iris centre: the eye line -0.04 less 0.1 x the mean
# opening 0.018, stgan.data.synth.painters.eyes) in the face frame
_SYNTH_EYE = (0.094, -0.04 - 0.1 * 0.018)


def eye_layout(cfg: Config) -> tuple[tuple[float, float], tuple[float, float]]:
    """The mean eye centres ``((x, y) left, (x, y) right)`` in the model's input, a
    ``cfg.model.img_size`` square, in pixels (pixel centres at integers)."""
    s = cfg.model.img_size
    (lx, ly), (rx, ry) = _fractions(cfg.data, s)
    return (s * lx - 0.5, s * ly - 0.5), (s * rx - 0.5, s * ry - 0.5)


def _fractions(data: DataConfig, size: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """The eye centres as fractions of the image side (0 and 1 are the edges)."""
    if data.dataset == "synthetic" or _written_by_synth(data.dataset):
        return synthetic_eyes()
    if data.crop == "none":
        return CELEBA_HQ_EYES
    from stgan.data.transforms import CELEBA_SIZE, crop_box

    left, top, right, bottom = crop_box(data.crop, *CELEBA_SIZE, size=size)
    return tuple(
        ((x + 0.5 - left) / (right - left), (y + 0.5 - top) / (bottom - top))
        for x, y in CELEBA_EYES
    )


@functools.cache
def synthetic_eyes() -> tuple[tuple[float, float], tuple[float, float]]:
    """The synthetic faces' mean eye centres as fractions of the side."""
    from stgan.data.synth.canvas import Canvas

    side = 1000
    cv = Canvas(side, rot=0.0, scale=_SYNTH_ZOOM, shift=(0.0, 0.0))
    ex, ey = _SYNTH_EYE
    out = []
    for u in (-ex, ex):
        x, y = cv.lin @ (u, ey) + cv.off
        out.append((float(x) / side, float(y) / side))
    return tuple(out)


def _written_by_synth(dataset: str) -> bool:
    """Whether the folder ``dataset`` records that ``stgan data synth`` wrote it."""
    try:
        info = json.loads((Path(dataset).expanduser() / "stgan-data.json").read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(info, dict) and info.get("written_by") == "stgan data synth"
