"""Test-time editing with a generator: reconstruction, single edits, the flip-every-attribute
grid (reference §4 "Editing strength at test time", §6).

Pure tensor functions; the generator is used as given (callers put it in eval mode).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from stgan.attributes import encode, encode_target, flip_attribute, generator_code
from stgan.imageio import make_grid, to_uint8


@torch.no_grad()
def reconstruct(
    G: nn.Module, x: Tensor, source01: Tensor, label: str, thres_int: float = 0.5
) -> Tensor:
    """``G(x, 0)`` for the difference code (or ``G(x, a_s)`` for the target code)."""
    return G(x, generator_code(source01, encode(source01, thres_int), label, thres_int))


@torch.no_grad()
def edit(
    G: nn.Module,
    x: Tensor,
    source01: Tensor,
    target_enc: Tensor,
    label: str,
    thres_int: float = 0.5,
) -> Tensor:
    """Edit images ``x`` (B, 3, H, W) from ``source01`` towards an encoded target (B, n)."""
    return G(x, generator_code(source01, target_enc, label, thres_int))


def flip_target(
    source01: Tensor,
    names: Sequence[str],
    index: int,
    thres_int: float = 0.5,
    test_int: float = 1.0,
) -> tuple[Tensor, Tensor]:
    """0/1 target and encoded target for flipping attribute ``index`` (conflicts applied).

    The flipped attribute gets ``±test_int`` (att_diff ±1.5 with the defaults); attributes
    cleared by a conflict rule keep ``±thres_int``, as in the official test code.
    """
    target01 = flip_attribute(source01, names, index)
    changed = torch.zeros_like(source01, dtype=torch.bool)
    changed[:, index] = True
    return target01, encode_target(target01, changed, thres_int, test_int)


@torch.no_grad()
def flip_all(
    G: nn.Module,
    x: Tensor,
    source01: Tensor,
    names: Sequence[str],
    label: str,
    thres_int: float = 0.5,
    test_int: float = 1.0,
) -> list[Tensor]:
    """One edited batch per attribute, each flipping that attribute for every image."""
    out = []
    for i in range(len(names)):
        _, tgt = flip_target(source01, names, i, thres_int, test_int)
        out.append(edit(G, x, source01, tgt, label, thres_int))
    return out


@torch.no_grad()
def sample_grid(
    G: nn.Module,
    x: Tensor,
    source01: Tensor,
    names: Sequence[str],
    label: str,
    thres_int: float = 0.5,
    test_int: float = 1.0,
) -> np.ndarray:
    """The paper-style grid: one row per image, input | reconstruction | each flip."""
    cols = [x, reconstruct(G, x, source01, label, thres_int)]
    cols += flip_all(G, x, source01, names, label, thres_int, test_int)
    tiles = [to_uint8(c) for c in cols]  # each (B, H, W, 3)
    rows = [[t[b] for t in tiles] for b in range(x.shape[0])]
    if getattr(G, "mask", False):  # a masked G: under each row, the mask of every column
        masks = [
            torch.zeros_like(x),
            _mask_image(G, x, source01, encode(source01, thres_int), thres_int),
        ]
        for i in range(len(names)):
            _, tgt = flip_target(source01, names, i, thres_int, test_int)
            masks.append(_mask_image(G, x, source01, tgt, thres_int))
        mask_tiles = [to_uint8(m) for m in masks]
        rows = [r for b in range(x.shape[0]) for r in (rows[b], [t[b] for t in mask_tiles])]
    return make_grid(rows)


def _mask_image(
    G: nn.Module, x: Tensor, source01: Tensor, target_enc: Tensor, thres_int: float
) -> Tensor:
    """The edit's mask as a grey image in [−1, 1] (black: input kept, white: generated)."""
    m = G.edit_mask(x, generator_code(source01, target_enc, "diff", thres_int))
    return (m * 2.0 - 1.0).expand(-1, 3, -1, -1)
