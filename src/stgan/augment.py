"""Differentiable augmentation of everything the discriminator sees (not in the paper).

``train.augment`` (docs/recipes.md): every image that enters D — real or generated, in the
critic step, the penalty and the generator step — is first shifted by a random whole number
of pixels (up to 1/8 of the side, the vacated border filled with zeros) and, with
``translate-flip``, mirrored left–right at random, each image on its own draw. This is
DiffAugment's translation (Zhao et al., NeurIPS 2020), chosen because it keeps every
attribute label true: no colour change (hair colours, Pale_Skin) and no cutout (a mouth or
a pair of glasses could vanish).

Why: a small training set lets D's attribute head learn pixel-exact cues, and the
generator then "edits" by perturbing exactly those pixels: D's head sees the requested
attribute while an independent judge does not (measured in docs/recipes.md). Cues that
survive random shifts are the attribute's shape and colour, so G has to draw those.

The shifts are drawn from the global torch RNG on the images' device (checkpoints resume
exactly; capture-safe for CUDA graphs: no host synchronisation) and are applied as a
gather, so gradients flow to the images (R1, WGAN-GP and the generator's losses).
"""

from __future__ import annotations

import torch
from torch import Tensor

AUGMENTS = ("none", "translate", "translate-flip")
SHIFT_RATIO = 0.125  # DiffAugment's translation ratio: shifts in [−S/8, S/8]


def augment(x: Tensor, kind: str, rand: Tensor | None = None) -> Tensor:
    """``x`` (B, C, H, W) shifted (and mirrored) per image as ``kind`` says.

    Args:
        x: images.
        kind: ``none`` (returns ``x``), ``translate`` or ``translate-flip``.
        rand: U(0, 1) draws of shape (B, 3) (row shift, column shift, flip); drawn here when
            None. Passing them makes the augmentation reproducible (tests, several ranks).
    """
    if kind == "none":
        return x
    if kind not in AUGMENTS:
        raise ValueError(f"augment must be one of {AUGMENTS}, got {kind!r}")
    B, _, H, W = x.shape
    if rand is None:
        rand = torch.rand(B, 3, device=x.device)
    rows = _shifted(H, _shift(rand[:, 0], H))  # (B, H): source row of each output row
    cols = _shifted(W, _shift(rand[:, 1], W))  # (B, W)
    if kind == "translate-flip":
        flip = (rand[:, 2] < 0.5).unsqueeze(1)
        cols = torch.where(flip, cols.flip(1), cols)
    valid = (rows >= 0).unsqueeze(2) & (cols >= 0).unsqueeze(1)  # (B, H, W)
    r = rows.clamp(min=0).view(B, 1, H, 1).expand(-1, x.shape[1], -1, W)
    c = cols.clamp(min=0).view(B, 1, 1, W).expand(-1, x.shape[1], H, -1)
    picked = x.gather(2, r).gather(3, c)
    return picked * valid.unsqueeze(1).to(x.dtype)


def _shift(u: Tensor, size: int) -> Tensor:
    """Whole-pixel shifts in [−m, m], m = round(size · SHIFT_RATIO), from U(0, 1) draws."""
    m = round(size * SHIFT_RATIO)
    return (u * (2 * m + 1)).floor().long().clamp(max=2 * m) - m


def _shifted(size: int, shift: Tensor) -> Tensor:
    """(B, size) source index of each output position, −1 where it falls outside."""
    idx = torch.arange(size, device=shift.device).unsqueeze(0) - shift.unsqueeze(1)
    return torch.where((idx >= 0) & (idx < size), idx, torch.full_like(idx, -1))
