import pytest
import torch
import torch.nn.functional as F

from stgan import losses


def test_wgan_terms():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0])
    assert losses.wgan_d(real, fake).item() == pytest.approx(-(2.0 - (-1.0)))
    assert losses.wgan_g(fake).item() == pytest.approx(1.0)


def test_gradient_penalty_of_a_linear_critic():
    # D(x) = sum(w * x) has gradient w everywhere: GP = (|w| - 1)^2
    w = torch.full((1, 3, 4, 4), 0.5, requires_grad=True)  # norm = 0.5 * sqrt(48)
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    x_hat = losses.interpolate(real, fake, torch.rand(5, 1, 1, 1)).requires_grad_(True)
    gp = losses.gradient_penalty((x_hat * w).flatten(1).sum(1), x_hat)
    assert gp.item() == pytest.approx((0.5 * 48**0.5 - 1) ** 2, rel=1e-5)
    assert gp.requires_grad  # the graph is kept so the penalty trains D


def test_attribute_bce_is_a_mean_not_a_sum():
    logits, t = torch.randn(8, 13), (torch.rand(8, 13) > 0.5).float()
    got = losses.attribute_bce(logits, t)
    ref = F.binary_cross_entropy_with_logits(logits, t, reduction="sum") / (8 * 13)
    assert got.item() == pytest.approx(ref.item(), rel=1e-6)


def test_reconstruction_l1_mean():
    x = torch.zeros(2, 3, 4, 4)
    assert losses.reconstruction_l1(x, x + 0.25).item() == pytest.approx(0.25)
