"""Procedural faces with exact counterfactuals: the label model, the nuisance and the renderer.

The synthetic dataset (:mod:`stgan.data.synthetic`) stands in for CelebA (reference §5) when
no real data is at hand, and adds what CelebA lacks: for every image and every attribute
vector, the *ground-truth* edited image. A face is a function of two independent random
draws, both derived from ``(seed, index)`` only (:mod:`~stgan.data.synth.streams`):

- the **labels** (:mod:`~stgan.data.synth.labels`), 13 bits in
  :data:`~stgan.attributes.DEFAULT_ATTRS` order, drawn from a maximum-entropy (pairwise
  log-linear) model whose marginals and pairwise co-occurrences match CelebA's, with the
  hard rules Bald ⇒ Male, Mustache ⇒ Male, no Bald with Bangs and at most one hair colour;
- the **nuisance** (:mod:`~stgan.data.synth.nuisance`): pose, scale, background, lighting,
  skin tone, eye/nose/mouth shapes, hair length and shape, glasses style, ...

:func:`render_face` (:mod:`~stgan.data.synth.render`) draws a face from any 13-bit vector
and a nuisance, so the counterfactual of a sample is ``render_face(other_labels,
same_nuisance)``. The face's shared layout (outline, eyes, mouth, glasses, hair cap, colour
fields) is :class:`~stgan.data.synth.face.Face`; the painters
(:mod:`~stgan.data.synth.painters`) add its layers back to front: background, clothes, hair
behind the head, neck, ears, face skin, wrinkles, nose, beard, lips and mouth, mustache,
eyes, eyebrows, glasses, hair in front. Each attribute changes the shape or colour of its
own layers only, and the geometry keeps a gap of at least two pixels between layers that
must not touch (glasses vs. hair), so edits are local: e.g. Eyeglasses changes no hair
pixel, a hair colour changes no eye or glasses pixel, Pale_Skin changes skin-coloured pixels
only. Shapes (:mod:`~stgan.data.synth.shapes`) are polygons drawn by the
:class:`~stgan.data.synth.canvas.Canvas` with PIL at several times the output size and
box-filtered down (anti-aliasing with a compact support: a pixel no shape reaches is exactly
unchanged).
"""

from stgan.data.synth.labels import (
    ATTRS,
    CELEBA_CONDITIONALS,
    CELEBA_MARGINALS,
    LABEL_WEIGHTS,
    allowed,
    fit_label_weights,
    label_table,
    sample_labels,
)
from stgan.data.synth.nuisance import Nuisance, sample_nuisance
from stgan.data.synth.painters import GROUPS
from stgan.data.synth.render import MAX_SIZE, MIN_SIZE, SyntheticFaces, render_face

__all__ = [
    "ATTRS",
    "CELEBA_CONDITIONALS",
    "CELEBA_MARGINALS",
    "GROUPS",
    "LABEL_WEIGHTS",
    "MAX_SIZE",
    "MIN_SIZE",
    "Nuisance",
    "SyntheticFaces",
    "allowed",
    "fit_label_weights",
    "label_table",
    "render_face",
    "sample_labels",
    "sample_nuisance",
]
