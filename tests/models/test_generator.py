"""Generator: parameter counts, shapes, wiring, init and BN settings (reference §2)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from stgan.models import Generator, count_parameters


@pytest.fixture(scope="module")
def stgan128() -> Generator:
    torch.manual_seed(0)
    return Generator(13)


@pytest.mark.slow
def test_default_parameter_counts(stgan128):
    g = stgan128
    assert count_parameters(g) == 74_998_771
    assert count_parameters(g.encoder) == 11_148_160
    assert count_parameters(g.stus) == 30_145_280
    assert count_parameters(g.decoder) == 33_705_331


@pytest.mark.slow
def test_decoder_input_channels(stgan128):
    # [f5, att]; then [prev, STU output, att] per reference §2
    assert [layer[0].in_channels for layer in stgan128.decoder] == [1037, 1549, 781, 397, 205]
    assert [layer[0].out_channels for layer in stgan128.decoder] == [1024, 512, 256, 128, 3]


@pytest.mark.slow
def test_attgan_configuration_count():
    g = Generator(13, shortcut_layers=1, inject_layers=1, use_stu=False)
    assert count_parameters(g) == 43_459_203
    assert len(g.stus) == 0
    assert [layer[0].in_channels for layer in g.decoder] == [1037, 1549, 512, 256, 128]


@pytest.mark.slow
def test_every_shape_at_128px(stgan128):
    g = stgan128.train()
    shapes: dict[str, tuple] = {}
    hooks = []
    for name, mods in (("enc", g.encoder), ("stu", g.stus), ("dec", g.decoder)):
        for i, m in enumerate(mods):

            def hook(_m, _inp, out, key=f"{name}{i}"):
                shapes[key] = tuple((out[0] if isinstance(out, tuple) else out).shape)

            hooks.append(m.register_forward_hook(hook))
    torch.manual_seed(1)
    x = torch.rand(1, 3, 128, 128) * 2 - 1
    code = torch.randn(1, 13)
    with torch.no_grad():
        y = g(x, code)
    for h in hooks:
        h.remove()
    assert shapes == {
        "enc0": (1, 64, 64, 64),
        "enc1": (1, 128, 32, 32),
        "enc2": (1, 256, 16, 16),
        "enc3": (1, 512, 8, 8),
        "enc4": (1, 1024, 4, 4),
        "stu0": (1, 512, 8, 8),
        "stu1": (1, 256, 16, 16),
        "stu2": (1, 128, 32, 32),
        "stu3": (1, 64, 64, 64),
        "dec0": (1, 1024, 8, 8),
        "dec1": (1, 512, 16, 16),
        "dec2": (1, 256, 32, 32),
        "dec3": (1, 128, 64, 64),
        "dec4": (1, 3, 128, 128),
    }
    assert y.shape == (1, 3, 128, 128)
    assert y.abs().max() <= 1 and y.std() > 0


@pytest.mark.slow
def test_init_and_norm_settings(stgan128):
    convs = [
        m for m in stgan128.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))
    ]
    assert len(convs) == 5 + 4 * 4 + 5
    for m in convs:
        w = m.weight
        rf = w[0, 0].numel()
        fan_in, fan_out = w.shape[1] * rf, w.shape[0] * rf
        bound = math.sqrt(6.0 / (fan_in + fan_out))  # Xavier-uniform (symmetric in the fans)
        assert w.abs().max() <= bound
        assert w.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)
        if m.bias is not None:
            assert torch.count_nonzero(m.bias) == 0
    # hidden encoder/decoder convs have no bias (BN follows); the output layer has one
    for layer in [*stgan128.encoder, *stgan128.decoder[:-1]]:
        assert layer[0].bias is None
        bn = layer[1]
        assert isinstance(bn, nn.BatchNorm2d) and bn.affine
        assert bn.momentum == 0.001 and bn.eps == 1e-3
        assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)
    assert stgan128.decoder[-1][0].bias is not None
    assert isinstance(stgan128.decoder[-1][1], nn.Tanh)


@pytest.mark.slow
def test_activations(stgan128):
    enc_acts = [layer[2] for layer in stgan128.encoder]
    assert all(isinstance(a, nn.LeakyReLU) and a.negative_slope == 0.2 for a in enc_acts)
    assert all(isinstance(layer[2], nn.ReLU) for layer in stgan128.decoder[:-1])


def test_widths_are_parameters_and_capped():
    g = Generator(7, enc_dim=8, dec_dim=4)
    assert [layer[0].out_channels for layer in g.encoder] == [8, 16, 32, 64, 128]
    assert [layer[0].out_channels for layer in g.decoder] == [64, 32, 16, 8, 3]
    # decoder layer 1 input: 64 (dec) + 64 (f4 via STU) + 7 (att)
    assert g.decoder[1][0].in_channels == 64 + 64 + 7
    # the 1024 cap: enc_dim 600 would give 1200 at the second layer
    g = Generator(2, enc_dim=600, dec_dim=600, enc_layers=2, dec_layers=2, shortcut_layers=1,
                  inject_layers=1, use_stu=False)  # fmt: skip
    assert [layer[0].out_channels for layer in g.encoder] == [600, 1024]
    assert g.decoder[0][0].out_channels == 1024
    assert g.decoder[1][0].in_channels == 1024 + 600 + 2


@pytest.mark.parametrize("size", [64, 128, 256])
def test_sizes(size):
    torch.manual_seed(0)
    g = Generator(3, enc_dim=2, dec_dim=2)
    x = torch.rand(2, 3, size, size) * 2 - 1
    feats = g.encode(x)
    assert [tuple(f.shape) for f in feats] == [
        (2, 2 * 2**i, size >> (i + 1), size >> (i + 1)) for i in range(5)
    ]
    y = g(x, torch.randn(2, 3))
    assert y.shape == (2, 3, size, size)


def test_forward_is_decode_of_encode_and_uses_code():
    torch.manual_seed(0)
    g = Generator(4, enc_dim=4, dec_dim=4).eval()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    code = torch.tensor([[1.0, 0.0, -1.0, 0.5], [0.0, 0.0, 0.0, 0.0]])
    with torch.no_grad():
        y = g(x, code)
        torch.testing.assert_close(y, g.decode(g.encode(x), code))
        y2 = g(x, code.flip(0))
    assert not torch.allclose(y, y2)


def test_code_reaches_each_injection_point():
    """With 0 skips and 0 injections the code enters only at the bottleneck; every extra
    injection adds n_attrs input channels to the next decoder layer."""
    for inject in range(5):
        g = Generator(6, enc_dim=2, dec_dim=2, shortcut_layers=0, inject_layers=inject)
        ins = [layer[0].in_channels for layer in g.decoder]
        outs = [32, 16, 8, 4]
        assert ins[0] == 32 + 6
        assert ins[1:] == [o + (6 if i < inject else 0) for i, o in enumerate(outs)]


def test_invalid_arguments():
    with pytest.raises(ValueError, match="stu_state"):
        Generator(3, stu_state="lstm")
    with pytest.raises(ValueError, match="shortcut_layers"):
        Generator(3, shortcut_layers=5)
    with pytest.raises(ValueError, match="inject_layers"):
        Generator(3, inject_layers=-1)
    with pytest.raises(ValueError, match="dec_layers"):
        Generator(3, dec_layers=4)


@pytest.mark.slow
def test_traceable():
    """No data-dependent Python control flow: fx tracing and torch.export capture the model."""
    torch.manual_seed(0)
    g = Generator(5, enc_dim=4, dec_dim=4).eval()
    x, code = torch.rand(2, 3, 32, 32) * 2 - 1, torch.randn(2, 5)
    with torch.no_grad():
        ref = g(x, code)
        torch.testing.assert_close(torch.fx.symbolic_trace(g)(x, code), ref)
        exported = torch.export.export(g, (x, code))
        torch.testing.assert_close(exported.module()(x, code), ref)


def _tile(code: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return code[:, :, None, None].expand(-1, -1, *like.shape[-2:])


def test_stgan_wiring_by_hand():
    """[f5, att] → dec0; then [dec, STU(f^l), att]; the STU state chain starts at f5."""
    torch.manual_seed(0)
    g = Generator(3, enc_dim=2, dec_dim=2).eval()
    x, code = torch.rand(2, 3, 32, 32) * 2 - 1, torch.randn(2, 3)
    with torch.no_grad():
        f1, f2, f3, f4, f5 = g.encode(x)
        u4, s = g.stus[0](f4, f5, code)
        u3, s = g.stus[1](f3, s, code)
        u2, s = g.stus[2](f2, s, code)
        u1, _ = g.stus[3](f1, s, code)
        h = g.decoder[0](torch.cat([f5, _tile(code, f5)], 1))
        h = g.decoder[1](torch.cat([h, u4, _tile(code, h)], 1))
        h = g.decoder[2](torch.cat([h, u3, _tile(code, h)], 1))
        h = g.decoder[3](torch.cat([h, u2, _tile(code, h)], 1))
        y = g.decoder[4](torch.cat([h, u1, _tile(code, h)], 1))
        torch.testing.assert_close(g(x, code), y)


def test_attgan_wiring_by_hand():
    """AttGAN: one plain skip (f4) and one injection, both after the first decoder layer."""
    torch.manual_seed(0)
    g = Generator(3, enc_dim=2, dec_dim=2, shortcut_layers=1, inject_layers=1, use_stu=False)
    g.eval()
    x, code = torch.rand(2, 3, 32, 32) * 2 - 1, torch.randn(2, 3)
    with torch.no_grad():
        _, _, _, f4, f5 = g.encode(x)
        h = g.decoder[0](torch.cat([f5, _tile(code, f5)], 1))
        h = g.decoder[1](torch.cat([h, f4, _tile(code, h)], 1))
        y = g.decoder[4](g.decoder[3](g.decoder[2](h)))
        torch.testing.assert_close(g(x, code), y)


@pytest.mark.parametrize("bias", [False, True])
def test_resize_upsampling_runs_as_the_equal_transposed_convolution(bias):
    """``upsample=resize`` keeps its [Upsample, Conv 3×3] parameters but runs one transposed
    Conv 4×4 s2: the same outputs and gradients as convolving the upsampled map (borders,
    odd sizes and the bias included), up to float rounding."""
    from stgan.models.blocks import ResizeConv, upconv

    torch.manual_seed(0)
    up = upconv(5, 7, "resize", bias=bias)
    assert isinstance(up, ResizeConv) and [k for k, _ in up.named_parameters()] == (
        ["1.weight", "1.bias"] if bias else ["1.weight"]
    )
    if bias:
        nn.init.normal_(up[1].bias)
    x = torch.randn(3, 5, 6, 9, requires_grad=True)
    y = up(x)
    reference = up[1](up[0](x))  # nearest ×2, then the 3×3 convolution on the upsampled map
    assert y.shape == reference.shape == (3, 7, 12, 18)
    torch.testing.assert_close(y, reference, rtol=0, atol=1e-5)
    g = torch.randn_like(y)
    params = [x, *up.parameters()]
    got, want = torch.autograd.grad(y, params, g), torch.autograd.grad(reference, params, g)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-4)
