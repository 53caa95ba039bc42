"""Test-time editing with a generator: reconstruction, single edits, the flip-every-attribute
grid (reference §4 "Editing strength at test time", §6).

Pure tensor functions; the generator is used as given (callers put it in eval mode). How
attributes become the generator's input (difference or target code, ``thres_int``,
``test_int``) is one :class:`~stgan.attributes.Coding`, e.g. ``Coding.from_config(cfg)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from stgan.attributes import Coding, flip_attribute
from stgan.imageio import make_grid, to_uint8


@torch.no_grad()
def reconstruct(G: nn.Module, x: Tensor, source01: Tensor, coding: Coding) -> Tensor:
    """``G(x, 0)`` for the difference code (or ``G(x, a_s)`` for the target code)."""
    return G(x, coding.code(source01, coding.encode(source01)))


@torch.no_grad()
def edit(G: nn.Module, x: Tensor, source01: Tensor, target_enc: Tensor, coding: Coding) -> Tensor:
    """Edit images ``x`` (B, 3, H, W) from ``source01`` towards an encoded target (B, n)."""
    return G(x, coding.code(source01, target_enc))


def flip_target(
    source01: Tensor, names: Sequence[str], index: int, coding: Coding
) -> tuple[Tensor, Tensor]:
    """0/1 target and encoded target for flipping attribute ``index`` (conflicts applied).

    The flipped attribute gets ``±test_int`` (att_diff ±1.5 with the defaults); attributes
    cleared by a conflict rule keep ``±thres_int``, as in the official test code.
    """
    target01 = flip_attribute(source01, names, index)
    changed = torch.zeros_like(source01, dtype=torch.bool)
    changed[:, index] = True
    return target01, coding.encode_target(target01, changed)


@torch.no_grad()
def flip_all(
    G: nn.Module, x: Tensor, source01: Tensor, names: Sequence[str], coding: Coding
) -> list[Tensor]:
    """One edited batch per attribute, each flipping that attribute for every image."""
    out = []
    for i in range(len(names)):
        _, tgt = flip_target(source01, names, i, coding)
        out.append(edit(G, x, source01, tgt, coding))
    return out


@torch.no_grad()
def sample_grid(
    G: nn.Module, x: Tensor, source01: Tensor, names: Sequence[str], coding: Coding
) -> np.ndarray:
    """The paper-style grid: one row per image, input | reconstruction | each flip."""
    cols = [x, reconstruct(G, x, source01, coding)]
    cols += flip_all(G, x, source01, names, coding)
    tiles = [to_uint8(c) for c in cols]  # each (B, H, W, 3)
    rows = [[t[b] for t in tiles] for b in range(x.shape[0])]
    if getattr(G, "mask", False):  # a masked G: under each row, the mask of every column
        masks = [torch.zeros_like(x), _mask_image(G, x, source01, coding.encode(source01), coding)]
        for i in range(len(names)):
            _, tgt = flip_target(source01, names, i, coding)
            masks.append(_mask_image(G, x, source01, tgt, coding))
        mask_tiles = [to_uint8(m) for m in masks]
        rows = [r for b in range(x.shape[0]) for r in (rows[b], [t[b] for t in mask_tiles])]
    return make_grid(rows)


def _mask_image(
    G: nn.Module, x: Tensor, source01: Tensor, target_enc: Tensor, coding: Coding
) -> Tensor:
    """The edit's mask as a grey image in [−1, 1] (black: input kept, white: generated).

    A masked generator takes the difference code (the config refuses ``mask`` otherwise)."""
    m = G.edit_mask(x, coding.code(source01, target_enc))
    return (m * 2.0 - 1.0).expand(-1, 3, -1, -1)
