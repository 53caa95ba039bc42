"""The official code's model options (train.py): shapes and parameter counts by hand.

Base model: 32 px, 3 attributes, 3 encoder/decoder layers of widths 4, 8, 16, two STUs
(on the 8-channel f2 and the 4-channel f1), so every count below is small enough to write out.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from stgan import config
from stgan.errors import UserError
from stgan.models import Generator, build_generator, count_parameters

N = 3
BASE = dict(enc_dim=4, dec_dim=4, enc_layers=3, dec_layers=3, shortcut_layers=2, inject_layers=2)


def gen(**kw) -> Generator:
    torch.manual_seed(0)
    return Generator(N, **{**BASE, **kw})


def run(g: Generator) -> torch.Tensor:
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        return g.eval()(x, torch.randn(2, N))


def stu_params(c_state: int, c_feat: int, width: int, code: bool, k: int = 3) -> int:
    """One STU by hand: transposed 4×4 conv (with bias) + three k×k gates (with bias)."""
    transform = (c_state + (N if code else 0)) * width * 16 + width
    return transform + 3 * ((c_feat + width) * width * k * k + width)


def test_base_stus_by_hand():
    g = gen()
    # STU 0 on f2 (8 ch.) from f3 (16 ch.), STU 1 on f1 (4 ch.) from STU 0's state (8 ch.)
    assert count_parameters(g.stus) == stu_params(16, 8, 8, True) + stu_params(8, 4, 4, True)
    assert run(g).shape == (2, 3, 32, 32)


@pytest.mark.parametrize("norm", ["bn", "in"])
def test_stu_norm(norm):
    base, g = gen(), gen(stu_norm=norm)
    # each gate: bias dropped (−c), scale and shift added (+2c): +c per gate, 3 gates per STU
    assert count_parameters(g) - count_parameters(base) == 3 * (8 + 4)
    kind = nn.BatchNorm2d if norm == "bn" else nn.InstanceNorm2d
    gates = [getattr(s, n) for s in g.stus for n in ("reset_gate", "update_gate", "hidden")]
    assert all(isinstance(m[1], kind) and m[0].bias is None for m in gates)
    assert run(g).shape == (2, 3, 32, 32)


def test_stu_dim():
    g = gen(stu_dim=6)  # STU widths 12 (deepest) and 6, against features 8 and 4
    assert count_parameters(g.stus) == stu_params(16, 8, 12, True) + stu_params(12, 4, 6, True)
    # the decoder reads the STU outputs: [up 16 + STU 12 + code 3], [up 8 + STU 6 + code 3]
    assert [layer[0].in_channels for layer in g.decoder] == [16 + N, 16 + 12 + N, 8 + 6 + N]
    assert run(g).shape == (2, 3, 32, 32)


def test_stu_inject_layers():
    g = gen(stu_inject_layers=0)  # the first STU's state has the code, the second's not
    assert count_parameters(g.stus) == stu_params(16, 8, 8, True) + stu_params(8, 4, 4, False)
    assert [s.inject for s in g.stus] == [True, False]
    assert count_parameters(gen(stu_inject_layers=1)) == count_parameters(gen())
    assert run(g).shape == (2, 3, 32, 32)


def test_multi_inputs():
    base, g = gen(), gen(multi_inputs=3)
    # encoder layers 1 and 2 take 3 more channels: 4×4 kernels to 8 and 16 channels
    assert count_parameters(g) - count_parameters(base) == 3 * 16 * (8 + 16)
    assert [layer[0].in_channels for layer in g.encoder] == [3, 4 + 3, 8 + 3]
    assert run(g).shape == (2, 3, 32, 32)


def test_multi_inputs_sees_the_subsampled_image():
    g = gen(multi_inputs=2).eval()
    x = torch.rand(1, 3, 32, 32)
    x2 = x.clone()
    x2[:, :, 1::2, :] = 5.0  # pixels the subsampled image never reads ...
    x2[:, :, :, 1::2] = 5.0
    with torch.no_grad():
        f1a, f2a = g.encoder[0](x), g.encoder[1](torch.cat([g.encoder[0](x), x[..., ::2, ::2]], 1))
        feats = g.encode(x)
    assert torch.allclose(feats[0], f1a) and torch.allclose(feats[1], f2a)
    with torch.no_grad():  # ... change f1 but not the image channel appended to it
        assert torch.equal(
            torch.cat([g.encoder[0](x2), x2[..., ::2, ::2]], 1)[:, 4:],
            torch.cat([g.encoder[0](x), x[..., ::2, ::2]], 1)[:, 4:],
        )


def _tf1_legacy_bicubic(img: np.ndarray, out: int) -> np.ndarray:
    """TF1 ``resize_bicubic`` (align_corners=False, no half-pixel centres) by its definition:
    source coordinate = out index × in/out, Keys' kernel a = −0.75, 4 taps, edges clamped."""

    def w(t):
        t = abs(t)
        a = -0.75
        if t <= 1:
            return (a + 2) * t**3 - (a + 3) * t**2 + 1
        return a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a if t < 2 else 0.0

    n = img.shape[0]
    scale = n / out

    def axis(i):
        src = i * scale
        base = int(np.floor(src))
        return [(min(max(base + o, 0), n - 1), w(src - (base + o))) for o in (-1, 0, 1, 2)]

    res = np.zeros((out, out))
    for r in range(out):
        for c in range(out):
            res[r, c] = sum(wr * wc * img[ir, ic] for ir, wr in axis(r) for ic, wc in axis(c))
    return res


@pytest.mark.parametrize("factor", [2, 4])
def test_tf1_bicubic_by_integer_factor_is_subsampling(factor):
    img = np.random.default_rng(0).normal(size=(16, 16))
    resized = _tf1_legacy_bicubic(img, 16 // factor)
    np.testing.assert_allclose(resized, img[::factor, ::factor], atol=1e-12)


@pytest.mark.parametrize("k", [1, 3])
def test_one_more_conv(k):
    base, g = gen(), gen(one_more_conv=k)
    c_in = 8 + 4 + N  # the last layer's input: [up 8, STU 4, code 3]
    old = c_in * 3 * 16 + 3  # transposed 4×4 conv to RGB, with bias
    new = c_in * 1 * 16 + 2 * 1 + 1 * 3 * k * k + 3  # to dec_dim/4 = 1 ch. + BN, then k×k
    assert count_parameters(g) - count_parameters(base) == new - old
    assert run(g).shape == (2, 3, 32, 32)
    last = g.decoder[-1][0][1]
    assert (last.kernel_size, last.stride, last.padding) == ((k, k), (1, 1), ((k - 1) // 2,) * 2)


def test_config_fields_reach_the_model():
    sets = [
        "model.stu_dim=6",
        "model.stu_norm=bn",
        "model.stu_inject_layers=0",
        "model.multi_inputs=2",
        "model.one_more_conv=3",
    ]
    cfg = config.load("tiny", overrides=[*sets, "model.upsample=deconv"])
    direct = Generator(
        len(cfg.data.attrs), enc_dim=8, dec_dim=8, stu_dim=6, stu_norm="bn",
        stu_inject_layers=0, multi_inputs=2, one_more_conv=3,
    )  # fmt: skip
    assert count_parameters(build_generator(cfg.model, len(cfg.data.attrs))) == count_parameters(
        direct
    )


def test_defaults_are_the_papers():
    m = config.ModelConfig()
    assert (m.stu_dim, m.stu_norm, m.stu_inject_layers, m.multi_inputs, m.one_more_conv) == (
        0, "none", 4, 1, 0,
    )  # fmt: skip


@pytest.mark.parametrize(
    "item",
    ["model.stu_norm=ln", "model.one_more_conv=2", "model.multi_inputs=0", "model.stu_dim=-1"],
)
def test_bad_values_are_refused(item):
    with pytest.raises(UserError, match=item.split("=")[0]):
        config.load("tiny", overrides=[item])
