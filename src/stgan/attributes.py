"""Attribute names, the conflict rules, label encoding and training targets.

The one home for everything the reference (§4, §5) says about attributes:

- the 13 attributes of the paper (:data:`DEFAULT_ATTRS`);
- the encoding of 0/1 labels as ±``thres_int`` (±0.5) for the generator;
- :class:`Coding`: how labels become the generator's input (``diff`` or ``target``,
  ``thres_int``, ``test_int``), the three settings that always travel together;
- training targets as a random permutation of the batch's own label rows;
- the conflict rules applied when a user or the evaluation *sets* an attribute
  (never in training): Bald/Receding_Hairline ⇒ no Bangs; Bangs ⇒ no Bald or
  Receding_Hairline; one hair colour ⇒ the others off; Straight_Hair and Wavy_Hair
  exclude each other. Turning an attribute off changes nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from stgan.errors import UserError

if TYPE_CHECKING:
    from stgan.config import Config

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


def set_attribute(labels01: torch.Tensor, names: Sequence[str], index: int, value: float):
    """Set attribute ``index`` of every row of 0/1 ``labels01`` (B, n) to ``value``.

    Rows where the attribute ends up on (``value > 0``) get its conflicting attributes set
    to 0; turning an attribute off changes nothing else (reference §4). Returns a new tensor.
    """
    out = labels01.clone()
    out[:, index] = value
    if value > 0:
        out[:, conflicts(names[index], names)] = 0.0
    return out


def flip_attribute(labels01: torch.Tensor, names: Sequence[str], index: int) -> torch.Tensor:
    """Flip attribute ``index`` of every row; rows turned on get their conflicts cleared."""
    out = labels01.clone()
    new = 1.0 - labels01[:, index]
    out[:, index] = new
    on = new > 0.5
    for j in conflicts(names[index], names):
        out[on, j] = 0.0
    return out


def encode(labels01: torch.Tensor, thres_int: float = 0.5) -> torch.Tensor:
    """Map 0/1 labels to ±``thres_int`` (reference §4: ``(a * 2 - 1) * thres_int``)."""
    return (labels01 * 2.0 - 1.0) * thres_int


def encode_target(
    target01: torch.Tensor,
    changed: torch.Tensor | None = None,
    thres_int: float = 0.5,
    test_int: float = 1.0,
) -> torch.Tensor:
    """Encode a test-time target: ``±thres_int``, but ``±test_int`` where ``changed``.

    ``changed`` is a boolean (B, n) mask of the attributes the user (or the evaluation)
    set. With the defaults a flipped attribute reaches ±1 while its source was ±0.5, so
    ``att_diff = ±1.5`` on it, as the paper's numbers were made (official ``test_int``).
    Attributes changed only by a conflict rule keep ±``thres_int``, as in the official code.
    """
    tgt = encode(target01, thres_int)
    if changed is not None:
        tgt = torch.where(changed, (target01 * 2.0 - 1.0) * test_int, tgt)
    return tgt


def generator_code(
    source01: torch.Tensor, target_enc: torch.Tensor, label: str, thres_int: float = 0.5
) -> torch.Tensor:
    """The generator's attribute input for an encoded target (reference §1, §2).

    ``label == "diff"`` (STGAN): ``att_diff = target_enc - encode(source01)``, zero = keep.
    ``label == "target"`` (AttGAN, STGAN-target): the encoded target itself.
    """
    if label == "diff":
        return target_enc - encode(source01, thres_int)
    return target_enc


@dataclass(frozen=True)
class Coding:
    """How attributes become the generator's input (reference §1, §2, §4): the three
    settings that always travel together.

    Build it from a config with :meth:`from_config`; the defaults are the paper's STGAN.
    """

    label: str = "diff"  # "diff": target − source (STGAN); "target": the target (AttGAN)
    thres_int: float = 0.5  # ± value of an attribute's 0/1 label (training and kept ones)
    test_int: float = 1.0  # ± value of an attribute set at test time (att_diff ±1.5)

    def __post_init__(self):
        if self.label not in ("diff", "target"):
            raise ValueError(f"label must be 'diff' or 'target', got {self.label!r}")

    @classmethod
    def from_config(cls, cfg: Config) -> Coding:
        """The coding of a :class:`stgan.config.Config` (``model.label``, ``train.thres_int``,
        ``train.test_int``)."""
        return cls(cfg.model.label, cfg.train.thres_int, cfg.train.test_int)

    def encode(self, labels01: torch.Tensor) -> torch.Tensor:
        """0/1 labels as ±``thres_int`` (:func:`encode`)."""
        return encode(labels01, self.thres_int)

    def encode_target(
        self, target01: torch.Tensor, changed: torch.Tensor | None = None
    ) -> torch.Tensor:
        """A test-time target: ±``test_int`` where ``changed``, else ±``thres_int``
        (:func:`encode_target`)."""
        return encode_target(target01, changed, self.thres_int, self.test_int)

    def code(self, source01: torch.Tensor, target_enc: torch.Tensor) -> torch.Tensor:
        """The generator's input for an encoded target (:func:`generator_code`)."""
        return generator_code(source01, target_enc, self.label, self.thres_int)


def conflict_matrix(names: Sequence[str]) -> torch.Tensor:
    """Boolean (n, n): row i marks the attributes cleared when attribute i is turned on."""
    m = torch.zeros(len(names), len(names), dtype=torch.bool)
    for i, name in enumerate(names):
        m[i, conflicts(name, names)] = True
    return m


def flip_one(labels01: torch.Tensor, conflict: torch.Tensor) -> torch.Tensor:
    """Each row with one attribute, drawn uniformly, flipped; a row whose attribute turns on
    gets that attribute's conflicts cleared (``conflict``: :func:`conflict_matrix`).

    Vectorised, no host synchronisation (so a CUDA graph can capture it: no ``one_hot``,
    whose range check reads the indices back, and ``conflict`` already on the device, as
    the trainer keeps it); draws from the global torch RNG on the labels' device (one
    ``randint``)."""
    B, n = labels01.shape
    idx = torch.randint(n, (B,), device=labels01.device)
    pick = idx[:, None] == torch.arange(n, device=labels01.device)
    out = torch.where(pick, 1.0 - labels01, labels01)
    turned_on = (out * pick).sum(1, keepdim=True) > 0.5  # (B, 1)
    clear = conflict.to(labels01.device)[idx] & turned_on
    return out.masked_fill(clear, 0.0)


def training_targets(
    labels01: torch.Tensor,
    flip_share: float = 0.0,
    conflict: torch.Tensor | None = None,
    capture_safe: bool = False,
) -> torch.Tensor:
    """Training targets: the batch's label rows permuted (reference §4), and with
    ``flip_share`` > 0 (not the paper: ``train.flip_share``) that share of the rows, drawn
    at random, replaced by :func:`flip_one` of the row's own labels — every attribute, rare
    ones (Bald, Mustache) included, is then asked for as often as any other. ``flip_share``
    0 draws exactly what :func:`permute_targets` draws (``capture_safe``: see there)."""
    targets = permute_targets(labels01, capture_safe)
    if flip_share <= 0:
        return targets
    if conflict is None:
        raise ValueError("flip_share > 0 needs the conflict matrix of the attribute names")
    flipped = flip_one(labels01, conflict)
    rows = torch.rand(labels01.shape[0], 1, device=labels01.device) < flip_share
    return torch.where(rows, flipped, targets)


def permute_targets(labels01: torch.Tensor, capture_safe: bool = False) -> torch.Tensor:
    """Training targets: a random permutation of the batch's own label rows (reference §4).

    Drawn from the global torch RNG on the labels' device, so that checkpoints that save the
    RNG states resume exactly. ``capture_safe`` draws it as ``argsort(rand(B))`` (uniform
    too; ``randperm`` cannot be captured in a CUDA graph): the training fast path's graphs.
    """
    B = labels01.shape[0]
    if capture_safe:
        perm = torch.rand(B, device=labels01.device).argsort()
    else:
        perm = torch.randperm(B, device=labels01.device)
    return labels01[perm]
