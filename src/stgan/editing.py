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
    """The paper-style grid: one row per image, input | reconstruction | each flip, the
    encoder run once; a masked G adds under each row the mask of every column (black: input
    kept, white: generated). ``G`` is anything with ``encode``, ``decode_raw`` and ``blend``
    (the generator, or the fast editing path's rewrite of it)."""
    targets = [coding.encode(source01)]
    targets += [flip_target(source01, names, i, coding)[1] for i in range(len(names))]
    feats = G.encode(x)
    cols, masks = [to_uint8(x)], [to_uint8(torch.zeros_like(x))]
    for target in targets:
        raw, m = G.decode_raw(feats, coding.code(source01, target))
        cols.append(to_uint8(G.blend(x, raw, m)))
        if m is not None:
            masks.append(to_uint8((m * 2.0 - 1.0).expand(-1, 3, -1, -1)))
    rows = [[c[b] for c in cols] for b in range(x.shape[0])]
    if len(masks) > 1:
        rows = [r for b in range(x.shape[0]) for r in (rows[b], [m[b] for m in masks])]
    return make_grid(rows)


# --- the official test modes (test.py of csmliu/STGAN; reference §4 "official test modes") ---


def slide_values(n: int, lo: float = -1.0, hi: float = 1.0) -> list[float]:
    """``n`` values evenly from ``lo`` to ``hi``, both ends included (test.py's ``--n_slide``,
    ``--test_int_min``, ``--test_int_max``: ``t_i = lo + (hi − lo)·i/(n − 1)``).

    Raises:
        ValueError: ``n < 2`` (one value has no spacing; test.py divides by ``n − 1``).
    """
    if n < 2:
        raise ValueError(f"a slide needs at least 2 values, got n={n}")
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)]


def slide_targets(
    source01: Tensor, index: int, values: Sequence[float], coding: Coding
) -> list[Tensor]:
    """Encoded targets (B, n) of the official *slide* mode, one per value ``t``.

    Every attribute keeps its source value (``±thres_int``) but attribute ``index``, whose
    target is ``t`` itself on the encoded scale. **No** conflict rules apply (sliding
    Blond_Hair up leaves Black_Hair as it was). With the difference code the generator gets
    ``att_diff = t − (±thres_int)`` on that attribute and 0 elsewhere: with the defaults,
    t = 1 on an attribute that is off gives +1.5 (the test strength), t = −1 on one that
    is on gives −1.5, and t = ±thres_int (±0.5) is the source itself.

    Verified against test.py: ``t_i`` as :func:`slide_values`, the target column set to
    ``t`` and no ``check_attribute_conflict`` call in the slide branch. (test.py encodes its
    slide targets twice — ``(b·2 − 1)·thres_int`` again on the already
    encoded row —, which also gives every *other* attribute ``att_diff = −0.5`` and shifts
    ``t`` by −0.5; we follow the mode's stated meaning, the other attributes unchanged, so
    that ``t = ±thres_int`` at the source's value reconstructs the input; docs/photos.md.)
    """
    base = coding.encode(source01)
    out = []
    for t in values:
        tgt = base.clone()
        tgt[:, index] = float(t)
        out.append(tgt)
    return out


def flip_targets(
    source01: Tensor,
    names: Sequence[str],
    indices: Sequence[int],
    coding: Coding,
    t_ints: Sequence[float] | None = None,
) -> tuple[Tensor, Tensor]:
    """0/1 target and encoded target of the official *multi* mode (test.py ``--test_atts``).

    The attributes ``indices`` are flipped one after the other, each followed by its
    conflict rules (:func:`~stgan.attributes.flip_attribute`), so a later flip may clear an
    earlier one (``Bangs`` then ``Bald``: Bangs ends off). The row is then encoded as
    ``±thres_int`` and each listed attribute multiplied by its ``t_int`` (test.py's
    ``--test_ints``, default 1): with the defaults a flipped attribute's target is ±0.5
    and its ``att_diff`` ±1 — not the ±1.5 of the single-attribute grid, whose strength is
    ``coding.test_int`` (unused here, as in test.py). Attributes cleared by a conflict rule
    keep ``±thres_int``.

    Verified against test.py (its multi branch flips ``b[:, i] = 1 − b[:, i]`` and calls
    ``check_attribute_conflict`` per listed attribute, then ``(b·2 − 1)·thres_int`` times
    each ``test_ints`` entry; its ``test_int`` multiplies only the single mode's column) and
    reference §4 ("target ±0.5·t_int, i.e. att_diff ±1 by default").
    """
    t_ints = [1.0] * len(indices) if t_ints is None else list(t_ints)
    if len(t_ints) != len(indices):
        raise ValueError(f"{len(indices)} attributes but {len(t_ints)} t_ints")
    target01 = source01
    for i in indices:
        target01 = flip_attribute(target01, names, i)
    enc = coding.encode(target01)
    for i, t in zip(indices, t_ints, strict=True):
        enc[:, i] = enc[:, i] * float(t)
    return target01, enc
