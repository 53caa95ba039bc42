"""Selective Transfer Unit: eqs. 2–7 checked against hand computations (reference §2)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from stgan.models import Generator, count_parameters
from stgan.models.stu import STU


def _randomise(module: nn.Module, seed: int) -> None:
    """Random weights *and* biases, so that a wiring mistake cannot hide behind zeros."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)


def _inputs(b=2, c_state=3, c_feat=4, n=2, h=3):
    g = torch.Generator().manual_seed(1)
    feat = torch.randn(b, c_feat, 2 * h, 2 * h, generator=g)  # f^l
    state = torch.randn(b, c_state, h, h, generator=g)  # s^{l+1}
    code = torch.randn(b, n, generator=g)
    return feat, state, code


def _reference(stu: STU, feat, state, code):
    """Eqs. 2–7 written out with torch.nn.functional and the unit's own weights."""
    b, n = code.shape
    att = code.view(b, n, 1, 1).repeat(1, 1, *state.shape[-2:])
    s_hat = F.conv_transpose2d(
        torch.cat([state, att], 1), stu.transform.weight, stu.transform.bias, 2, 1
    )
    k = stu.reset_gate.kernel_size[0]
    pad = k // 2
    fs = torch.cat([feat, s_hat], 1)
    r = torch.sigmoid(F.conv2d(fs, stu.reset_gate.weight, stu.reset_gate.bias, padding=pad))
    z = torch.sigmoid(F.conv2d(fs, stu.update_gate.weight, stu.update_gate.bias, padding=pad))
    s = r * s_hat
    fsh = torch.cat([feat, s], 1)
    f_hat = torch.tanh(F.conv2d(fsh, stu.hidden.weight, stu.hidden.bias, padding=pad))
    f_t = (1 - z) * s_hat + z * f_hat
    return f_t, s, s_hat


@pytest.mark.parametrize("pass_state", ["stu", "gru", "direct"])
def test_stu_matches_equations(pass_state):
    stu = STU(3, 4, 2, kernel_size=3, pass_state=pass_state)
    _randomise(stu, 0)
    feat, state, code = _inputs()
    f_t, nxt = stu(feat, state, code)
    ref_f_t, ref_s, ref_s_hat = _reference(stu, feat, state, code)
    assert f_t.shape == (2, 4, 6, 6)
    torch.testing.assert_close(f_t, ref_f_t)
    expected = {"stu": ref_s, "gru": ref_f_t, "direct": ref_s_hat}[pass_state]
    torch.testing.assert_close(nxt, expected)
    # the three candidate states really are different tensors here
    assert not torch.allclose(ref_s, ref_f_t) and not torch.allclose(ref_s, ref_s_hat)


def test_stu_by_hand_on_one_pixel_state():
    """A 1×1 state and 1×1 gates: every equation as an explicit sum (einsum), no convs."""
    c_state, c, n = 2, 3, 2
    stu = STU(c_state, c, n, kernel_size=1)
    _randomise(stu, 3)
    g = torch.Generator().manual_seed(4)
    state = torch.randn(1, c_state, 1, 1, generator=g)
    code = torch.randn(1, n, generator=g)
    feat = torch.randn(1, c, 2, 2, generator=g)
    f_t, s_out = stu(feat, state, code)

    v = torch.cat([state.flatten(), code.flatten()])  # [s^{l+1}, att], (c_state + n,)
    w_t = stu.transform.weight  # (c_state + n, C, 4, 4)
    # transposed conv k4 s2 p1 of a single pixel: output (y, x) takes kernel tap (y+1, x+1)
    s_hat = torch.einsum("i,ioyx->oyx", v, w_t[:, :, 1:3, 1:3]) + stu.transform.bias[:, None, None]

    def conv1x1(layer, a, b):  # W * [a, b] with a 1×1 kernel
        w = layer.weight[:, :, 0, 0]
        return torch.einsum("oi,iyx->oyx", w, torch.cat([a, b])) + layer.bias[:, None, None]

    f = feat[0]
    r = torch.sigmoid(conv1x1(stu.reset_gate, f, s_hat))  # (3)
    z = torch.sigmoid(conv1x1(stu.update_gate, f, s_hat))  # (4)
    s = r * s_hat  # (5)
    f_hat = torch.tanh(conv1x1(stu.hidden, f, s))  # (6)
    expected = (1 - z) * s_hat + z * f_hat  # (7)
    torch.testing.assert_close(f_t[0], expected)
    torch.testing.assert_close(s_out[0], s)


def test_stu_with_constant_gates():
    """Zero gate weights: r, z, f̂ are the sigmoids/tanh of the biases, ŝ the deconv bias."""
    stu = STU(2, 3, 1)
    with torch.no_grad():
        for p in stu.parameters():
            p.zero_()
        stu.transform.bias.copy_(torch.tensor([1.0, -2.0, 0.5]))
        stu.reset_gate.bias.fill_(0.3)
        stu.update_gate.bias.fill_(-0.7)
        stu.hidden.bias.fill_(0.2)
    feat, state, code = torch.randn(1, 3, 4, 4), torch.randn(1, 2, 2, 2), torch.ones(1, 1)
    f_t, s = stu(feat, state, code)
    s_hat = torch.tensor([1.0, -2.0, 0.5]).view(1, 3, 1, 1)
    z = torch.sigmoid(torch.tensor(-0.7))
    expected = (1 - z) * s_hat + z * torch.tanh(torch.tensor(0.2))
    torch.testing.assert_close(f_t, expected.expand(1, 3, 4, 4))
    torch.testing.assert_close(s, (torch.sigmoid(torch.tensor(0.3)) * s_hat).expand(1, 3, 4, 4))


def test_stu_has_no_norm_and_all_biases():
    stu = STU(8, 4, 3)
    convs = [m for m in stu.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert len(convs) == 4
    assert all(m.bias is not None for m in convs)
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) for m in stu.modules())
    assert stu.transform.in_channels == 8 + 3 and stu.transform.out_channels == 4
    assert stu.reset_gate.kernel_size == (3, 3) and stu.reset_gate.in_channels == 8


def test_stu_rejects_unknown_state():
    with pytest.raises(ValueError, match="pass_state"):
        STU(4, 4, 2, pass_state="lstm")


@pytest.mark.slow
def test_generator_stus_at_128px():
    """Four separate STUs, deepest first: 512@8², 256@16², 128@32², 64@64²; 30,145,280 params."""
    g = Generator(13)
    assert len(g.stus) == 4
    assert count_parameters(g.stus) == 30_145_280
    assert [s.transform.in_channels for s in g.stus] == [1037, 525, 269, 141]
    assert [s.transform.out_channels for s in g.stus] == [512, 256, 128, 64]
    ptrs = {s.reset_gate.weight.data_ptr() for s in g.stus}
    assert len(ptrs) == 4  # separate weights per STU
    torch.manual_seed(0)
    # shapes through the chain, without running the encoder at full size
    feats = [torch.randn(1, c, 128 >> (i + 1), 128 >> (i + 1)) for i, c in enumerate(
        [64, 128, 256, 512, 1024]
    )]  # fmt: skip
    with torch.no_grad():
        skips = g.select(feats, torch.randn(1, 13))
    assert [tuple(t.shape) for t in skips] == [
        (1, 512, 8, 8),
        (1, 256, 16, 16),
        (1, 128, 32, 32),
        (1, 64, 64, 64),
    ]


def test_fewer_shortcuts_put_stus_on_the_deepest_skips():
    g = Generator(5, enc_dim=4, dec_dim=4, shortcut_layers=2, inject_layers=1)
    assert len(g.stus) == 2
    # chain starts at f5 (64 ch at enc_dim 4), feeds f4's (32 ch) STU, then f3's (16 ch)
    assert [s.transform.in_channels for s in g.stus] == [64 + 5, 32 + 5]
    assert [s.transform.out_channels for s in g.stus] == [32, 16]
