"""Attribute names, the conflict rules, label encoding and training targets.

The one home for everything the reference (§4, §5) says about attributes:

- the 13 attributes of the paper (:data:`DEFAULT_ATTRS`);
- the encoding of 0/1 labels as ±``thres_int`` (±0.5) for the generator;
- training targets as a random permutation of the batch's own label rows;
- the conflict rules applied when a user or the evaluation *sets* an attribute
  (never in training): Bald/Receding_Hairline ⇒ no Bangs; Bangs ⇒ no Bald or
  Receding_Hairline; one hair colour ⇒ the others off; Straight_Hair and Wavy_Hair
  exclude each other. Turning an attribute off changes nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from stgan.errors import UserError

DEFAULT_ATTRS: tuple[str, ...] = (
    "Bald",
    "Bangs",
    "Black_Hair",
    "Blond_Hair",
    "Brown_Hair",
    "Bushy_Eyebrows",
    "Eyeglasses",
    "Male",
    "Mouth_Slightly_Open",
    "Mustache",
    "No_Beard",
    "Pale_Skin",
    "Young",
)

#: The 40 CelebA attributes in the column order of ``list_attr_celeba.txt``.
CELEBA_ATTRS: tuple[str, ...] = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair",
    "Bushy_Eyebrows", "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair",
    "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache",
    "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline",
    "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair",
    "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace",
    "Wearing_Necktie", "Young",
)  # fmt: skip

HAIR_COLOURS: tuple[str, ...] = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")

# name set to 1  ->  names forced to 0 (only those present in the attribute list apply)
_CONFLICTS: dict[str, tuple[str, ...]] = {
    "Bald": ("Bangs",),
    "Receding_Hairline": ("Bangs",),
    "Bangs": ("Bald", "Receding_Hairline"),
    "Straight_Hair": ("Wavy_Hair",),
    "Wavy_Hair": ("Straight_Hair",),
    **{c: tuple(o for o in HAIR_COLOURS if o != c) for c in HAIR_COLOURS},
}


def check_names(names: Sequence[str], available: Sequence[str], where: str = "") -> None:
    """Raise a :class:`UserError` listing the valid names if any name is unknown."""
    unknown = [n for n in names if n not in available]
    if unknown:
        loc = f" in {where}" if where else ""
        raise UserError(
            f"unknown attribute{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}{loc}; "
            f"valid names: {', '.join(available)}"
        )


def conflicts(name: str, names: Sequence[str]) -> list[int]:
    """Indices in ``names`` that are forced to 0 when attribute ``name`` is set to 1."""
    return [names.index(o) for o in _CONFLICTS.get(name, ()) if o in names]


def set_attribute(labels: torch.Tensor, names: Sequence[str], index: int, value: float):
    """Set attribute ``index`` to ``value`` in 0/1 ``labels`` (B, n), applying the conflicts.

    ``value`` > 0 counts as "on": its conflicting attributes are set to 0. Turning an
    attribute off changes nothing else (reference §4). Returns a new tensor.
    """
    out = labels.clone()
    out[:, index] = value
    if value > 0:
        for j in conflicts(names[index], names):
            out[:, j] = 0.0
    return out


def encode(labels01: torch.Tensor, thres_int: float = 0.5) -> torch.Tensor:
    """Map 0/1 labels to ±``thres_int`` (reference §4: ``(a * 2 - 1) * thres_int``)."""
    return (labels01 * 2.0 - 1.0) * thres_int


def flip_targets(labels01: torch.Tensor, names: Sequence[str]) -> list[torch.Tensor]:
    """One 0/1 target per attribute: that attribute flipped, conflicts applied.

    Returns a list of ``len(names)`` tensors shaped like ``labels01`` (B, n).
    """
    return [set_attribute_rows(labels01, names, i) for i in range(len(names))]


def set_attribute_rows(labels01: torch.Tensor, names: Sequence[str], index: int) -> torch.Tensor:
    """Flip attribute ``index`` of every row; rows turned on get their conflicts cleared."""
    out = labels01.clone()
    new = 1.0 - labels01[:, index]
    out[:, index] = new
    on = new > 0.5
    for j in conflicts(names[index], names):
        out[on, j] = 0.0
    return out


def edit_code(
    source01: torch.Tensor, target01: torch.Tensor, changed: torch.Tensor | None,
    thres_int: float = 0.5, test_int: float = 1.0,
) -> torch.Tensor:
    """Test-time ``att_diff`` for the generator (reference §4, ``test_int``).

    The encoded target is ``±thres_int`` everywhere except on ``changed`` (a boolean
    (B, n) mask, usually the attributes the user named), which is set to ``±test_int``:
    with the defaults a flipped attribute gets ``att_diff = ±1.5``, as in the paper.
    """
    src = encode(source01, thres_int)
    tgt = encode(target01, thres_int)
    if changed is not None:
        tgt = torch.where(changed, (target01 * 2.0 - 1.0) * test_int, tgt)
    return tgt - src


def permute_targets(labels01: torch.Tensor, generator: torch.Generator | None = None):
    """Training targets: a random permutation of the batch's own label rows (reference §4)."""
    perm = torch.randperm(labels01.shape[0], generator=generator, device="cpu")
    return labels01[perm.to(labels01.device)]


def parse_labels_pm1(values: Sequence[str] | np.ndarray) -> np.ndarray:
    """Convert ±1 or 0/1 label values to a 0/1 ``uint8`` array; raise ValueError otherwise."""
    arr = np.asarray(values, dtype=np.int64)
    if not np.isin(arr, (-1, 0, 1)).all():
        raise ValueError("labels must be -1/1 or 0/1")
    return (arr > 0).astype(np.uint8)
