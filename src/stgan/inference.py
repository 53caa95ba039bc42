"""Load a trained generator from a checkpoint and edit images with it (reference §4).

``Editor`` is the library entry point behind ``stgan edit``, ``stgan sample`` and the demo:

    editor = Editor.from_checkpoint("runs/demo")
    out = editor.edit(images, source01, {"Blond_Hair": 1, "Eyeglasses": 0})

Many edits of the same images (sliders, sweeps, the grid) run the encoder once::

    enc = editor.encode(images)                      # uint8 (B, S, S, 3)
    out = editor.decode(enc, source01, target_enc)   # uint8 (B, S, S, 3), per target
    outs = editor.edit_codes(images, source01, [t1, t2, ...])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from stgan import checkpoint
from stgan.attributes import Coding, check_names, conflicts, set_attribute
from stgan.config import Config, from_dict
from stgan.editing import edit, sample_grid
from stgan.errors import UserError
from stgan.imageio import to_float, to_uint8
from stgan.models import build_generator


@dataclass(frozen=True)
class Encoded:
    """What the decoder needs of a batch of images: the images in [−1, 1] ``(B, 3, S, S)``
    (for a masked generator's blend) and the encoder features ``[f1, ..., f5]``.

    Opaque to callers: make it with :meth:`Editor.encode`, hand it to :meth:`Editor.decode`.
    """

    x: torch.Tensor
    feats: list[torch.Tensor]

    def __len__(self) -> int:
        return self.x.shape[0]


class Editor:
    """A generator in eval mode with the attribute names and settings it was trained with."""

    def __init__(
        self, G: torch.nn.Module, cfg: Config, attr_names, device="cpu", fast: bool | None = None
    ):
        self.G, self.cfg, self.device = G.to(device).eval(), cfg, torch.device(device)
        self.attr_names = tuple(attr_names)
        self.fast = False  # the fast CPU path is not wired in yet: plain fp32 eager

    @classmethod
    def from_checkpoint(cls, path: str | Path, device="cpu", fast: bool | None = None) -> Editor:
        ckpt = checkpoint.load(path)
        cfg = from_dict(ckpt["config"])
        names = ckpt["attr_names"]
        G = build_generator(cfg.model, len(names))
        checkpoint.load_state(G, checkpoint.output_state(ckpt), "generator", ckpt["path"])
        return cls(G, cfg, names, device, fast)

    @property
    def img_size(self) -> int:
        return self.cfg.model.img_size

    @property
    def coding(self) -> Coding:
        """How attributes become the generator's input (its label code, thres_int, test_int)."""
        return Coding.from_config(self.cfg)

    @property
    def crop(self) -> str:
        """The crop the training images had (``none`` for the synthetic faces)."""
        return self.cfg.data.image_crop

    def target(self, source01: torch.Tensor, changes: Mapping[str, float]) -> torch.Tensor:
        """Encoded target for ``changes`` {name: value}: 1 / 0 turn an attribute on / off at
        the test strength (``±test_int``); any other value t in [−1, 1] is an intensity that
        places the attribute at t. Conflict rules apply to attributes turned on."""
        names = self.attr_names
        check_names(list(changes), names, "the edit")
        on = [n for n, v in changes.items() if v > 0]
        for n in on:
            clash = [names[j] for j in conflicts(n, names) if names[j] in on]
            if clash:
                raise UserError(f"cannot set {n} and {clash[0]} on together (they conflict)")
        target01 = source01.clone()
        changed = torch.zeros_like(source01, dtype=torch.bool)
        for n, v in changes.items():
            i = names.index(n)
            target01 = set_attribute(target01, names, i, 1.0 if v > 0 else 0.0)
            changed[:, i] = True
        enc = self.coding.encode_target(target01, changed)
        for n, v in changes.items():
            if v not in (0.0, 1.0):  # an intensity on the slider
                enc[:, names.index(n)] = float(v)
        return enc

    def edit(
        self, images: np.ndarray, source01: np.ndarray, changes: Mapping[str, float]
    ) -> np.ndarray:
        """Edit uint8 images (B, S, S, 3) with 0/1 source labels (B, n); returns uint8."""
        x = to_float(images).to(self.device)
        src = torch.as_tensor(source01, dtype=torch.float32, device=self.device)
        tgt = self.target(src, changes)
        return to_uint8(edit(self.G, x, src, tgt, self.coding))

    def grid(self, images: np.ndarray, source01: np.ndarray) -> np.ndarray:
        """Paper-style grid: a row per image, input | reconstruction | each attribute flipped."""
        x = to_float(images).to(self.device)
        src = torch.as_tensor(source01, dtype=torch.float32, device=self.device)
        return sample_grid(self.G, x, src, self.attr_names, self.coding)

    def _source(self, source01) -> torch.Tensor:
        return torch.as_tensor(source01, dtype=torch.float32, device=self.device)

    @torch.inference_mode()
    def encode(self, images: np.ndarray) -> Encoded:
        """Run the encoder once on uint8 images (B, S, S, 3); decode the result under any
        number of targets with :meth:`decode`."""
        x = to_float(images).to(self.device)
        return Encoded(x, self.G.encode(x))

    @torch.inference_mode()
    def decode(self, enc: Encoded, source01, target_enc: torch.Tensor) -> np.ndarray:
        """The images of ``enc`` edited from ``source01`` (0/1, (B, n)) towards an encoded
        target (B, n) (e.g. from :meth:`target`); returns uint8 (B, S, S, 3)."""
        code = self.coding.code(self._source(source01), target_enc.to(self.device))
        return to_uint8(self.G.decode(enc.feats, code, enc.x))

    def edit_codes(
        self, images: np.ndarray, source01, targets: Sequence[torch.Tensor]
    ) -> list[np.ndarray]:
        """One edit of ``images`` per encoded target, the encoder run once: a uint8
        (B, S, S, 3) array per target."""
        enc = self.encode(images)
        return [self.decode(enc, source01, t) for t in targets]
