"""Outputs of a short run: an exponential moving average of G's weights and recalibrated
BatchNorm statistics (the ``fast`` recipe; docs/recipes.md).

The paper samples and evaluates the training generator with BatchNorm running statistics
kept at TF's decay 0.999, which lag the weights by thousands of iterations in a short run.
Two remedies, each a switch of the config (``train.ema_decay``, ``train.bn_eval``):

- **EMA** (Karras et al. 2018, StyleGAN2; StarGAN v2): ``θ_ema ← β·θ_ema + (1 − β)·θ`` after
  every G step, with ``β_n = min(β, (1 + n)/(10 + n))`` so that the first iterations are not
  dominated by the random initialisation. Buffers (BN statistics) are copied.
- **Recalibration**: the BatchNorm running statistics of the output generator recomputed as
  the plain average over a fixed set of training batches, run as in a G step (encoder once,
  decoder under the edit code and the zero code).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import Tensor, nn


def ema_beta(decay: float, n: int) -> float:
    """The EMA decay at G iteration ``n`` (0-based): ``min(decay, (1 + n) / (10 + n))``."""
    return min(decay, (1.0 + n) / (10.0 + n))


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, beta: float) -> None:
    """``ema ← beta·ema + (1 − beta)·model`` for parameters; buffers are copied."""
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.lerp_(p, 1.0 - beta)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)


def frozen_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` without gradients (the EMA generator)."""
    return copy.deepcopy(model).requires_grad_(False)


def batch_norms(model: nn.Module) -> list[nn.BatchNorm2d]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def recalibrate_bn(G: nn.Module, batches: Sequence[tuple[Tensor, Sequence[Tensor]]]) -> None:
    """Recompute G's BatchNorm running statistics in place as the average over ``batches``.

    Each item is ``(x, codes)``: images ``(B, 3, S, S)`` and the codes ``(B, n)`` the decoder
    runs under (the edit code and the zero code, as in a G step). Every forward pass
    contributes its batch mean and unbiased batch variance with equal weight (PyTorch's
    cumulative average, ``momentum=None``). G's mode and momenta are restored.
    """
    norms = batch_norms(G)
    momenta = [m.momentum for m in norms]
    was_training = G.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    G.train()
    try:
        for x, codes in batches:
            feats = G.encode(x)
            for code in codes:
                G.decode_raw(feats, code)
    finally:
        for m, mom in zip(norms, momenta, strict=True):
            m.momentum = mom
        G.train(was_training)


def bn_state(G: nn.Module) -> dict[str, Tensor]:
    """The BatchNorm statistics of G (``running_mean``, ``running_var``,
    ``num_batches_tracked``) by state-dict key, on the CPU."""
    keys = ("running_mean", "running_var", "num_batches_tracked")
    return {k: v.detach().cpu() for k, v in G.state_dict().items() if k.rsplit(".", 1)[-1] in keys}
