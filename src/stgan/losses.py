"""Loss terms of STGAN (reference §4), as pure functions returning unweighted terms.

The weights (10 for the gradient penalty, 1 / 10 for the attribute terms of D / G, 100 for
reconstruction) are applied in one place, the trainer. Every reduction is a mean over all
elements (batch × attributes, batch × pixels): a summed BCE would make the attribute term
13× stronger, a mistake of other ports (reference §8).

    L_D = −(E D_adv(x) − E D_adv(ŷ)) + λ_gp·GP + λ_att_d·BCE(D_att(x), a_s)
    L_G = −E D_adv(ŷ) + λ_att_g·BCE(D_att(ŷ), a_t) + λ_rec·‖x − G(x, 0)‖₁

Beyond the paper (the ``fast`` recipe's candidates, docs/recipes.md): the non-saturating
logistic loss (Goodfellow et al. 2014) and the R1 penalty on real images (Mescheder et al.
2018), ``E ‖∇ₓ D_adv(x)‖²``.

Under bf16 autocast (``train.amp``, :mod:`stgan.fastpath`) every term is reduced in fp32:
the logits are cast up before their means, and the penalties' gradient norms are taken in
fp32 (the gradient with respect to an fp32 input is fp32; the cast makes it explicit); fp64
(the double-precision comparisons of tests/test_distributed.py) stays fp64.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from stgan.fastpath import widen


def wgan_d(real_logit: Tensor, fake_logit: Tensor) -> Tensor:
    """Critic loss ``−(E D(x) − E D(ŷ))``: minus the Wasserstein estimate."""
    return widen(fake_logit).mean() - widen(real_logit).mean()


def wgan_g(fake_logit: Tensor) -> Tensor:
    """Generator adversarial loss ``−E D(ŷ)``."""
    return -widen(fake_logit).mean()


def nsgan_d(real_logit: Tensor, fake_logit: Tensor) -> Tensor:
    """Non-saturating critic loss ``E softplus(−D(x)) + E softplus(D(ŷ))``."""
    return F.softplus(-widen(real_logit)).mean() + F.softplus(widen(fake_logit)).mean()


def nsgan_g(fake_logit: Tensor) -> Tensor:
    """Non-saturating generator loss ``E softplus(−D(ŷ))``."""
    return F.softplus(-widen(fake_logit)).mean()


def adversarial_d(real_logit: Tensor, fake_logit: Tensor, kind: str = "wgan") -> Tensor:
    """D's adversarial term: ``wgan`` (paper) or ``nsgan``."""
    return wgan_d(real_logit, fake_logit) if kind == "wgan" else nsgan_d(real_logit, fake_logit)


def adversarial_g(fake_logit: Tensor, kind: str = "wgan") -> Tensor:
    """G's adversarial term: ``wgan`` (paper) or ``nsgan``."""
    return wgan_g(fake_logit) if kind == "wgan" else nsgan_g(fake_logit)


def r1_penalty(logit_real: Tensor, x_real: Tensor) -> Tensor:
    """R1: ``E ‖∇ₓ D_adv(x)‖²`` on real images ``x_real`` (created with ``requires_grad``);
    the squared norm is per sample over all pixels; the graph is kept so it trains D."""
    (grad,) = torch.autograd.grad(widen(logit_real).sum(), x_real, create_graph=True)
    return widen(grad).flatten(1).pow(2).sum(1).mean()


def interpolate(real: Tensor, fake: Tensor, alpha: Tensor) -> Tensor:
    """Random points ``x̂ = real + α (fake − real)`` for the gradient penalty, α (B, 1, 1, 1)."""
    return real + alpha * (fake - real)


def gradient_penalty(logit_hat: Tensor, x_hat: Tensor) -> Tensor:
    """WGAN-GP: ``E (‖∇ₓ̂ D_adv(x̂)‖₂ − 1)²`` (Gulrajani et al., as the official code).

    Args:
        logit_hat: adversarial logits (B,) of the interpolates, computed from ``x_hat``.
        x_hat: the interpolates (B, 3, H, W), created with ``requires_grad``.

    The norm is per sample over all pixels; the graph is kept so the penalty trains D.
    """
    (grad,) = torch.autograd.grad(widen(logit_hat).sum(), x_hat, create_graph=True)
    norm = widen(grad).flatten(1).norm(2, dim=1)  # (B,), in fp32 under bf16 autocast too
    return ((norm - 1.0) ** 2).mean()


def attribute_bce(logits: Tensor, target01: Tensor) -> Tensor:
    """Attribute classification loss, BCE with logits, mean over batch × attributes."""
    return F.binary_cross_entropy_with_logits(widen(logits), target01, reduction="mean")


def reconstruction_l1(x: Tensor, x_rec: Tensor) -> Tensor:
    """Reconstruction loss ``‖x − G(x, 0)‖₁`` as a mean over batch × pixels × channels."""
    return (widen(x) - widen(x_rec)).abs().mean()
