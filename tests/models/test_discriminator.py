"""Discriminator: parameter count, shapes, per-instance normalisation, init (reference §3)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from stgan.models import Discriminator, count_parameters


@pytest.mark.slow
def test_default_count_and_shapes():
    torch.manual_seed(0)
    d = Discriminator(13)
    assert count_parameters(d) == 44_718_990
    assert count_parameters(d.trunk) == 11_148_160
    assert d.adv_head[0].in_features == 16384 and d.adv_head[0].out_features == 1024
    assert d.adv_head[2].out_features == 1 and d.att_head[2].out_features == 13
    shapes = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, o: shapes.append(tuple(o.shape))) for m in d.trunk
    ]
    x = torch.rand(1, 3, 128, 128) * 2 - 1
    with torch.no_grad():
        adv, att = d(x)
    for h in hooks:
        h.remove()
    assert shapes == [
        (1, 64, 64, 64),
        (1, 128, 32, 32),
        (1, 256, 16, 16),
        (1, 512, 8, 8),
        (1, 1024, 4, 4),
    ]
    assert adv.shape == (1,) and att.shape == (1, 13)


def _tiny(**kw) -> Discriminator:
    torch.manual_seed(0)
    return Discriminator(5, **{"img_size": 32, "dim": 4, "fc_dim": 8, "n_layers": 4, **kw})


def test_instance_norm_is_per_instance_in_train_and_eval():
    d = _tiny()
    norms = [m for m in d.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert len(norms) == 4
    for m in norms:
        assert m.affine and not m.track_running_stats and m.eps == 1e-6
        assert m.running_mean is None and m.running_var is None
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    # perturb the weights so that the affine parameters are not the identity
    with torch.no_grad():
        for m in norms:
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.5, 0.5)
    torch.manual_seed(1)
    batch = torch.rand(4, 3, 32, 32) * 2 - 1
    other = torch.rand(4, 3, 32, 32) * 2 - 1
    d.train()
    adv_tr, att_tr = d(batch)
    adv_alone, att_alone = d(batch[:1])
    adv_mix, _ = d(torch.cat([batch[:1], other[1:]]))
    d.eval()
    adv_ev, att_ev = d(batch)
    torch.testing.assert_close(adv_alone, adv_tr[:1])
    torch.testing.assert_close(att_alone, att_tr[:1])
    torch.testing.assert_close(adv_mix[0], adv_tr[0])
    torch.testing.assert_close(adv_ev, adv_tr)
    torch.testing.assert_close(att_ev, att_tr)
    assert adv_tr.std() > 0  # the samples are scored differently


def test_layers_and_init():
    d = _tiny()
    for layer in d.trunk:
        assert layer[0].bias is None
        assert isinstance(layer[2], nn.LeakyReLU) and layer[2].negative_slope == 0.2
        assert torch.all(layer[1].weight == 1) and torch.all(layer[1].bias == 0)
    for head in (d.adv_head, d.att_head):
        assert isinstance(head[1], nn.LeakyReLU) and head[1].negative_slope == 0.2
        assert torch.count_nonzero(head[0].bias) == 0 and torch.count_nonzero(head[2].bias) == 0
    assert [layer[0].out_channels for layer in d.trunk] == [4, 8, 16, 32]


@pytest.mark.parametrize("size", [64, 128, 256])
def test_sizes(size):
    torch.manual_seed(0)
    d = Discriminator(3, img_size=size, dim=2, fc_dim=6)
    assert d.adv_head[0].in_features == 32 * (size // 32) ** 2
    adv, att = d(torch.rand(2, 3, size, size))
    assert adv.shape == (2,) and att.shape == (2, 3)


def test_widths_capped_at_1024():
    d = Discriminator(2, img_size=8, dim=600, fc_dim=2, n_layers=2)
    assert [layer[0].out_channels for layer in d.trunk] == [600, 1024]


def test_rejects_single_pixel_trunk():
    # instance norm over one pixel would erase everything; refuse instead of training blind
    with pytest.raises(ValueError, match="n_layers"):
        Discriminator(13, img_size=32, n_layers=5)
    with pytest.raises(ValueError, match="n_layers"):
        Discriminator(13, img_size=100)


def test_backward_reaches_every_parameter():
    d = _tiny()
    adv, att = d(torch.rand(3, 3, 32, 32))
    (adv.sum() + att.sum()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in d.parameters())
