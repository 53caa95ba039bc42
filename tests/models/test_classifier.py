"""Evaluation classifier (reference §6)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from stgan.models import Classifier, count_parameters


def test_parameter_count_at_128px_40_attrs():
    # convs (3x3, no bias): 3·16·9 + 16·16·9 + 16·32·9 + 32·32·9 + 32·64·9 + 64·64·9
    #   + 64·128·9 + 128·128·9 + 128·256·9 + 256·256·9 = 1,177,776
    # BN affine: 2·2·(16 + 32 + 64 + 128 + 256) = 1,984
    # FC: (4·4·256)·512 + 512 = 2,097,664;  512·40 + 40 = 20,520
    # total 3,297,944 — the reference's "~3.3 M"
    assert count_parameters(Classifier(40)) == 3_297_944
    assert count_parameters(Classifier(13)) == 3_297_944 - 27 * 513


def test_structure():
    c = Classifier(13)
    convs = [m for m in c.modules() if isinstance(m, nn.Conv2d)]
    assert [m.out_channels for m in convs] == [16, 16, 32, 32, 64, 64, 128, 128, 256, 256]
    assert all(m.kernel_size == (3, 3) and m.padding == (1, 1) for m in convs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in c.modules()) == 10
    assert sum(isinstance(m, nn.MaxPool2d) for m in c.modules()) == 5
    linears = [m for m in c.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(4096, 512), (512, 13)]


@pytest.mark.parametrize("size", [32, 96, 128])
def test_sizes_multiple_of_32(size):
    torch.manual_seed(0)
    c = Classifier(7, img_size=size, widths=(2, 2, 2, 2, 4), fc_dim=8)
    out = c(torch.rand(2, 3, size, size) * 2 - 1)
    assert out.shape == (2, 7)
    out.sum().backward()
    assert all(p.grad is not None for p in c.parameters())


def test_rejects_other_sizes():
    with pytest.raises(ValueError, match="multiple of 32"):
        Classifier(13, img_size=100)
    with pytest.raises(ValueError, match="multiple of 8"):
        Classifier(13, img_size=12, widths=(4, 4, 4))


def test_widths_are_parameters():
    c = Classifier(3, img_size=16, widths=(4, 8), fc_dim=5)
    assert c.head[0].in_features == 8 * 4 * 4 and c.head[2].in_features == 5
    assert c(torch.zeros(1, 3, 16, 16)).shape == (1, 3)


def test_batchnorm_is_the_official_decay_0_9_and_eps_1e_5():
    # TF slim: moving = 0.9 * moving + 0.1 * batch; PyTorch: (1 - momentum) * running +
    # momentum * batch, so momentum 0.1 (and the variance is the unbiased one in both)
    torch.manual_seed(0)
    c = Classifier(3, img_size=32, widths=(2, 2, 2, 2, 2), fc_dim=4).train()
    bns = [m for m in c.modules() if isinstance(m, nn.BatchNorm2d)]
    assert {(m.momentum, m.eps) for m in bns} == {(0.1, 1e-5)}
    x = torch.randn(4, 3, 32, 32) * 3 + 1
    c(x)
    first = c.features[1]  # the BN after the first conv
    y = c.features[0](x)  # (4, 2, 32, 32)
    torch.testing.assert_close(first.running_mean, 0.1 * y.mean(dim=(0, 2, 3)))
    var = y.var(dim=(0, 2, 3), unbiased=True)
    torch.testing.assert_close(first.running_var, 0.9 * torch.ones(2) + 0.1 * var)


def test_decayed_parameters_are_the_conv_and_linear_weights():
    from stgan.models.classifier import decayed_parameters

    c = Classifier(5, img_size=32, widths=(2, 2, 2, 2, 2), fc_dim=4)
    weights, others = decayed_parameters(c)
    assert len(weights) == 10 + 2 and len(others) == 10 * 2 + 2  # BN γ/β, two FC biases
    assert all(w.ndim in (2, 4) for w in weights) and all(p.ndim == 1 for p in others)
    assert sum(p.numel() for p in weights + others) == count_parameters(c)
