"""Every variant preset of ``stgan.config`` builds, runs and trains (tiny widths, 32 px)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from stgan.config import PRESETS, Config, ModelConfig, apply_preset
from stgan.models import build_discriminator, build_generator, count_parameters

N_ATTRS = 5
TINY = ModelConfig(img_size=32, enc_dim=4, dec_dim=4, dis_dim=4, dis_fc_dim=8, dis_layers=4)


def _model_cfg(preset: str) -> ModelConfig:
    return apply_preset(Config(model=TINY), preset).model


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_builds_and_trains(preset):
    m = _model_cfg(preset)
    torch.manual_seed(0)
    g, d = build_generator(m, N_ATTRS), build_discriminator(m, N_ATTRS)
    assert len(g.stus) == (m.shortcut_layers if m.use_stu else 0)
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    code = torch.randn(4, N_ATTRS)
    y = g(x, code)
    assert y.shape == x.shape and y.abs().max() <= 1
    adv, att = d(y)
    assert adv.shape == (4,) and att.shape == (4, N_ATTRS)
    (adv.mean() + att.mean()).backward()
    for name, p in [*g.named_parameters(), *d.named_parameters()]:
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert all(p.grad.abs().sum() > 0 for p in g.parameters())


def test_presets_differ_as_the_paper_says():
    counts = {p: count_parameters(build_generator(_model_cfg(p), N_ATTRS)) for p in PRESETS}
    # more skips, more parameters (AttGAN family); STUs add parameters on top
    assert counts["attgan-ed"] < counts["attgan"] < counts["attgan-2s"] < counts["attgan-unet"]
    assert counts["attgan-unet"] < counts["stgan"]
    # the passed state and the label type change no parameter shapes
    assert counts["stgan"] == counts["stgan-gru"] == counts["stgan-direct"]
    assert counts["stgan"] == counts["stgan-target"]


def test_build_reads_widths_from_config():
    m = replace(TINY, enc_dim=6, dec_dim=10, dis_dim=3, dis_fc_dim=7)
    g, d = build_generator(m, 2), build_discriminator(m, 2)
    assert g.encoder[0][0].out_channels == 6 and g.decoder[-2][0].out_channels == 2 * 10
    assert d.trunk[0][0].out_channels == 3 and d.adv_head[0].out_features == 7
    assert len(d.trunk) == 4


def test_stu_states_give_different_outputs():
    """Same weights (same seed, same shapes), different state passing: different images."""
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    code = torch.randn(2, N_ATTRS)
    outs = {}
    ref_state = None
    for state in ("stu", "gru", "direct"):
        torch.manual_seed(0)
        g = build_generator(replace(TINY, stu_state=state), N_ATTRS).eval()
        if ref_state is None:
            ref_state = g.state_dict()
        else:  # the variants share one checkpoint layout and, here, identical weights
            sd = g.state_dict()
            assert sd.keys() == ref_state.keys()
            assert all(torch.equal(sd[k], ref_state[k]) for k in sd)
        with torch.no_grad():
            outs[state] = g(x, code)
    assert not torch.allclose(outs["stu"], outs["gru"])
    assert not torch.allclose(outs["stu"], outs["direct"])
    assert not torch.allclose(outs["gru"], outs["direct"])


def test_attgan_official_is_attgan_with_the_difference_vector():
    """The official repository's AttGAN command keeps train.py's label = diff; `attgan` (the
    AttGAN paper) takes the target vector. Same architecture, same parameters."""
    official, paper = _model_cfg("attgan-official"), _model_cfg("attgan")
    assert official.label == "diff" and paper.label == "target"
    assert replace(official, label="target") == paper
    g_off, g_pap = (build_generator(m, N_ATTRS) for m in (official, paper))
    assert count_parameters(g_off) == count_parameters(g_pap)
