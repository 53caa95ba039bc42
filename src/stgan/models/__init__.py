"""Networks of STGAN (reference §2, §3) and the evaluation classifier (§6).

The classes take explicit arguments; only the ``build_*`` functions read a
:class:`~stgan.config.ModelConfig`.
"""

from __future__ import annotations

from torch import nn

from stgan.config import ModelConfig
from stgan.models.classifier import Classifier
from stgan.models.discriminator import Discriminator
from stgan.models.generator import Generator
from stgan.models.stu import STU


def build_generator(model_cfg: ModelConfig, n_attrs: int) -> Generator:
    """The generator described by ``model_cfg`` for ``n_attrs`` attributes."""
    m = model_cfg
    return Generator(
        n_attrs,
        enc_dim=m.enc_dim,
        dec_dim=m.dec_dim,
        enc_layers=m.enc_layers,
        dec_layers=m.dec_layers,
        shortcut_layers=m.shortcut_layers,
        inject_layers=m.inject_layers,
        use_stu=m.use_stu,
        stu_state=m.stu_state,
        stu_kernel=m.stu_kernel,
        upsample=m.upsample,
        mask=m.mask,
        stu_dim=m.stu_dim,
        stu_norm=m.stu_norm,
        stu_inject_layers=m.stu_inject_layers,
        multi_inputs=m.multi_inputs,
        one_more_conv=m.one_more_conv,
    )


def build_discriminator(model_cfg: ModelConfig, n_attrs: int) -> Discriminator:
    """The discriminator described by ``model_cfg`` for ``n_attrs`` attributes."""
    m = model_cfg
    return Discriminator(
        n_attrs,
        img_size=m.img_size,
        dim=m.dis_dim,
        fc_dim=m.dis_fc_dim,
        n_layers=m.dis_layers,
    )


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (trainable or not; buffers excluded) of ``module``."""
    return sum(p.numel() for p in module.parameters())


__all__ = [
    "STU",
    "Classifier",
    "Discriminator",
    "Generator",
    "build_discriminator",
    "build_generator",
    "count_parameters",
]
