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
from stgan.editing import sample_grid
from stgan.errors import UserError
from stgan.fastedit import fast_generator, int8_available
from stgan.imageio import to_float, to_uint8
from stgan.models import build_generator, count_parameters

FAST_MIN_PARAMS = 5_000_000  # auto: the fast path from here (celeba128: 75 M; tiny: 1 M)


@dataclass(frozen=True)
class Encoded:
    """What the decoder needs of a batch of images: the images in [−1, 1] ``(B, 3, S, S)``
    (for a masked generator's blend) and the encoder features ``[f1, ..., f5]``, made by
    the path (plain or fast) that will decode them.

    Opaque to callers: make it with :meth:`Editor.encode`, hand it to :meth:`Editor.decode`.
    """

    x: torch.Tensor
    feats: list[torch.Tensor]

    def __len__(self) -> int:
        return self.x.shape[0]


class Editor:
    """A generator in eval mode with the attribute names and settings it was trained with.

    Args:
        G: the generator (kept as ``self.G``, fp32, unchanged).
        cfg: its configuration.
        attr_names: the names of its attribute code.
        device: where it runs.
        fast: ``None`` (auto): the fast CPU path (:mod:`stgan.fastedit`: folded BatchNorm,
            sub-pixel upsampling, split STU gates, int8 convolutions) on a CPU where int8
            runs, for generators of at least ``FAST_MIN_PARAMS`` parameters (smaller ones
            gain nothing: docs/benchmarks.md), else the plain path; ``True``: the fast path
            (float32 where int8 cannot run; CPU only); ``False``: the plain fp32 eager
            generator, bit for bit as before.

    Raises:
        UserError: ``fast=True`` on a device other than the CPU.
    """

    def __init__(
        self, G: torch.nn.Module, cfg: Config, attr_names, device="cpu", fast: bool | None = None
    ):
        self.G, self.cfg, self.device = G.to(device).eval(), cfg, torch.device(device)
        self.attr_names = tuple(attr_names)
        cpu = self.device.type == "cpu"
        if fast and not cpu:
            raise UserError(f"fast editing is for CPUs; on {self.device} leave it off")
        auto = int8_available() and count_parameters(self.G) >= FAST_MIN_PARAMS
        self.fast = bool(cpu and (fast or (fast is None and auto)))
        self.int8 = self.fast and int8_available()
        self._fast_G: torch.nn.Module | None = None  # built on first use

    @classmethod
    def from_checkpoint(cls, path: str | Path, device="cpu", fast: bool | None = None) -> Editor:
        """The generator of a checkpoint (file or run folder); ``fast`` as in the class."""
        return cls.from_loaded(checkpoint.load(path), device, fast)

    @classmethod
    def from_loaded(cls, ckpt: dict, device="cpu", fast: bool | None = None) -> Editor:
        """The generator of a checkpoint already read by :func:`stgan.checkpoint.load`."""
        cfg = from_dict(ckpt["config"])
        names = ckpt["attr_names"]
        G = build_generator(cfg.model, len(names))
        checkpoint.load_state(G, checkpoint.output_state(ckpt), "generator", ckpt["path"])
        return cls(G, cfg, names, device, fast)

    @property
    def path(self) -> str:
        """Which path edits: ``fp32 eager``, ``fast fp32`` or ``fast int8``."""
        return "fp32 eager" if not self.fast else "fast int8" if self.int8 else "fast fp32"

    @property
    def net(self) -> torch.nn.Module:
        """The module that edits: ``G`` itself, or its fast rewrite (built once, lazily)."""
        if not self.fast:
            return self.G
        if self._fast_G is None:
            self._fast_G = fast_generator(self.G, int8=self.int8)
        return self._fast_G

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
        tgt = self.target(self._source(source01), changes)
        return self.decode(self.encode(images), source01, tgt)

    def grid(self, images: np.ndarray, source01: np.ndarray) -> np.ndarray:
        """Paper-style grid: a row per image, input | reconstruction | each attribute flipped
        (the encoder run once); a masked generator adds a row of masks under each row."""
        x, src = self._input(images), self._source(source01)
        return sample_grid(self.net, x, src, self.attr_names, self.coding)

    def _source(self, source01) -> torch.Tensor:
        return torch.as_tensor(source01, dtype=torch.float32, device=self.device)

    @torch.inference_mode()
    def encode(self, images: np.ndarray) -> Encoded:
        """Run the encoder once on uint8 images (B, S, S, 3); decode the result under any
        number of targets with :meth:`decode`."""
        x = self._input(images)
        return Encoded(x, self.net.encode(x))

    def _input(self, images: np.ndarray) -> torch.Tensor:
        """uint8 images (B, S, S, 3) as the path's input: [−1, 1], channels-last when fast."""
        x = to_float(images).to(self.device)
        return x.contiguous(memory_format=torch.channels_last) if self.fast else x

    @torch.inference_mode()
    def _decode(self, enc: Encoded, source01, target_enc: torch.Tensor):
        """The edited images in [−1, 1] and the mask (None without one)."""
        code = self.coding.code(self._source(source01), target_enc.to(self.device))
        raw, m = self.net.decode_raw(enc.feats, code)
        return self.net.blend(enc.x, raw, m), m

    def decode(self, enc: Encoded, source01, target_enc: torch.Tensor) -> np.ndarray:
        """The images of ``enc`` edited from ``source01`` (0/1, (B, n)) towards an encoded
        target (B, n) (e.g. from :meth:`target`); returns uint8 (B, S, S, 3)."""
        return to_uint8(self._decode(enc, source01, target_enc)[0])

    def edit_codes(
        self, images: np.ndarray, source01, targets: Sequence[torch.Tensor]
    ) -> list[np.ndarray]:
        """One edit of ``images`` per encoded target, the encoder run once: a uint8
        (B, S, S, 3) array per target."""
        enc = self.encode(images)
        return [self.decode(enc, source01, t) for t in targets]
