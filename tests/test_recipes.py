"""The training recipes and the switches beyond the paper (stgan.config.RECIPES, stgan.ema,
the masked generator, R1 and lazy penalties): each checked against an independent
computation; the paper recipe is pinned by the rest of the suite."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from stgan import checkpoint, ema, losses
from stgan.config import RECIPES, from_dict, load, to_toml
from stgan.errors import UserError
from stgan.inference import Editor
from stgan.models import build_discriminator, build_generator
from stgan.trainer import Trainer
from tests.conftest import TINY_SET


def make_trainer(cfg, names):
    torch.manual_seed(cfg.train.seed)
    G = build_generator(cfg.model, len(names))
    D = build_discriminator(cfg.model, len(names))
    return Trainer(cfg, G, D, names, torch.device("cpu"))


def fast_cfg(*extra):
    return load("tiny", overrides=[*TINY_SET, "train.bn_batches=2", *extra], recipe="fast")


# --- config ---------------------------------------------------------------------------------
def test_paper_recipe_changes_nothing_and_fast_sets_its_switches():
    base = load("tiny", overrides=TINY_SET, recipe="paper")
    assert base.recipe == "paper" and RECIPES["paper"] == {}
    assert base.train.n_critic == 2 and base.train.ema_decay == 0.0  # TINY_SET's, untouched
    assert base.train.bn_eval == "running" and base.model.upsample == "deconv"
    assert base.model.mask is False
    fast = load("celeba128", recipe="fast")
    assert fast.recipe == "fast"
    for section, values in RECIPES["fast"].items():
        for k, v in values.items():
            assert getattr(getattr(fast, section), k) == v, f"{section}.{k}"
    # --set wins over the recipe
    assert load("tiny", overrides=["train.n_critic=3"], recipe="fast").train.n_critic == 3


def test_recipe_round_trips_through_run_files_and_rejects_unknown_names():
    cfg = load("tiny", recipe="fast")
    assert 'recipe = "fast"' in to_toml(cfg)
    assert from_dict(cfg.to_dict()) == cfg
    with pytest.raises(UserError, match="unknown recipe 'quick'"):
        load("tiny", recipe="quick")


@pytest.mark.parametrize(
    "bad, field",
    [
        ("train.lr=nan", "train.lr"),
        ("train.w_gp=inf", "train.w_gp"),
        ("train.lr=-1", "train.lr"),
        ("train.beta1=1.5", "train.beta1"),
        ("train.ema_decay=1", "train.ema_decay"),
        ("data.num_workers=-1", "data.num_workers"),
        ("train.penalty_every=0", "train.penalty_every"),
    ],
)
def test_every_numeric_field_is_checked(bad, field):
    with pytest.raises(UserError, match=field.replace(".", r"\.")):
        load("tiny", overrides=[bad])


# --- EMA and BatchNorm statistics ---------------------------------------------------------
def test_ema_update_is_the_weighted_average_and_copies_buffers():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    avg = ema.frozen_copy(model)
    before = [p.clone() for p in avg.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
        model[1].running_mean.fill_(7.0)
    ema.ema_update(avg, model, 0.9)
    for p_avg, p0, p in zip(avg.parameters(), before, model.parameters(), strict=True):
        torch.testing.assert_close(p_avg, 0.9 * p0 + 0.1 * p)
    assert torch.equal(avg[1].running_mean, torch.full((2,), 7.0))
    assert not any(p.requires_grad for p in avg.parameters())
    assert ema.ema_beta(0.999, 0) == pytest.approx(0.1)  # ramp: (1 + 0) / (10 + 0)
    assert ema.ema_beta(0.99, 10_000) == 0.99


def test_recalibrated_statistics_equal_a_direct_computation(tiny_faces):
    cfg = fast_cfg()
    G = build_generator(cfg.model, len(tiny_faces.attr_names))
    x = tiny_faces.x[:4]
    code = torch.zeros(4, len(tiny_faces.attr_names))
    ema.recalibrate_bn(G, [(x, [code])])
    conv, bn = G.encoder[0][0], G.encoder[0][1]
    with torch.no_grad():
        h = conv(x)  # (B, C, H, W): what the first BatchNorm normalises
    torch.testing.assert_close(bn.running_mean, h.mean((0, 2, 3)))
    torch.testing.assert_close(bn.running_var, h.var((0, 2, 3), unbiased=True))
    assert bn.momentum == pytest.approx(0.001)  # restored
    # two batches: the plain average of their statistics
    x2 = tiny_faces.x[4:8]
    ema.recalibrate_bn(G, [(x, [code]), (x2, [code])])
    with torch.no_grad():
        h2 = conv(x2)
    torch.testing.assert_close(bn.running_mean, (h.mean((0, 2, 3)) + h2.mean((0, 2, 3))) / 2)


@pytest.mark.slow  # three short trainings (~1.5 s)
def test_fast_recipe_resumes_exactly_with_ema(tiny_faces, tmp_path):
    cfg = fast_cfg("train.ckpt_every=100", "train.sample_every=100")
    names = tiny_faces.attr_names
    batch = (tiny_faces.x[:2], tiny_faces.y[:2])
    one = make_trainer(cfg, names)
    one.fit(tiny_faces, tmp_path / "one", batch, max_steps=6)
    two = make_trainer(cfg, names)
    two.fit(tiny_faces, tmp_path / "two", batch, max_steps=3)
    resumed = make_trainer(cfg, names)
    torch.manual_seed(1234)  # a disturbance the checkpoint's RNG state must undo
    resumed.load_checkpoint(checkpoint.load(tmp_path / "two"))
    resumed.fit(tiny_faces, tmp_path / "two", batch, max_steps=6)
    for a, b in ((one.G, resumed.G), (one.D, resumed.D), (one.G_ema, resumed.G_ema)):
        for (k, v), w in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(v, w), k
    ck1, ck2 = checkpoint.load(tmp_path / "one"), checkpoint.load(tmp_path / "two")
    assert ck1["step"] == ck2["step"] == 6
    for k, v in ck1["bn_eval"].items():
        assert torch.equal(v, ck2["bn_eval"][k]), k
    # the EMA differs from G, and the editor uses the EMA weights with recalibrated stats
    assert any(
        not torch.equal(p, q)
        for p, q in zip(one.G.parameters(), one.G_ema.parameters(), strict=True)
    )
    editor = Editor.from_checkpoint(tmp_path / "one")
    expect = {**ck1["G_ema"], **ck1["bn_eval"]}
    for k, v in editor.G.state_dict().items():
        assert torch.equal(v, expect[k]), k


def test_outputs_never_touch_the_training_generator(tiny_faces):
    cfg = fast_cfg()
    tr = make_trainer(cfg, tiny_faces.attr_names)
    tr.bn_batches = tr._recalibration_batches(tiny_faces)
    before = {k: v.clone() for k, v in tr.G.state_dict().items()}
    G_out = tr.output_generator()
    assert G_out is not tr.G and G_out is not tr.G_ema
    for k, v in tr.G.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert not torch.equal(G_out.encoder[0][1].running_mean, tr.G.encoder[0][1].running_mean)


# --- penalties and adversarial losses ------------------------------------------------------
def test_r1_penalty_matches_a_hand_computation():
    w = torch.randn(3, 4, 4)
    x = torch.randn(5, 3, 4, 4, requires_grad=True)
    logits = (x * w).flatten(1).sum(1) + (x**2).flatten(1).sum(1)  # ∇ = w + 2x
    expect = ((w + 2 * x.detach()) ** 2).flatten(1).sum(1).mean()
    torch.testing.assert_close(losses.r1_penalty(logits, x), expect)


def test_adversarial_attribute_loss_on_edits_toward_the_source(tiny_faces):
    """train.w_att_fake: D's loss gains w · BCE(D_att(G's edits), source labels); nothing else
    of the step changes (same draws, same edits)."""
    x, a = tiny_faces.x[:4], tiny_faces.y[:4]

    def trainer(w):
        return make_trainer(fast_cfg(f"train.w_att_fake={w}"), tiny_faces.attr_names)

    def d_loss(w):
        tr = trainer(w)
        torch.manual_seed(5)
        return tr.d_step(x, a, penalize=False)["D/loss"].detach()

    tr = trainer(0.0)
    torch.manual_seed(5)
    with torch.no_grad():
        fake = tr.G(x, tr.edit_code(a, tr.targets(a)))
        by_hand = losses.attribute_bce(tr.D(fake)[1], a)
    assert by_hand > 0
    torch.testing.assert_close(d_loss(0.5), d_loss(0.0) + 0.5 * by_hand)


def test_nonsaturating_losses_match_their_definitions():
    r, f = torch.tensor([0.5, -1.0]), torch.tensor([2.0, 0.0])
    sp = torch.nn.functional.softplus
    torch.testing.assert_close(losses.adversarial_d(r, f, "nsgan"), sp(-r).mean() + sp(f).mean())
    torch.testing.assert_close(losses.adversarial_g(f, "nsgan"), sp(-f).mean())
    torch.testing.assert_close(losses.adversarial_d(r, f, "wgan"), f.mean() - r.mean())


@pytest.mark.parametrize("penalty", ["wgan-gp", "r1"])
@pytest.mark.parametrize("every", [1, 4])
def test_lazy_penalty_weighs_k_times_and_is_skipped_between(tiny_faces, penalty, every):
    cfg = fast_cfg(  # the WGAN critic loss, so that −wdist is the adversarial term
        f"train.penalty={penalty}", f"train.penalty_every={every}", "train.w_gp=3",
        "train.adv_loss=wgan", "train.w_att_fake=0",  # the D loss is its logged terms alone
    )  # fmt: skip
    tr = make_trainer(cfg, tiny_faces.attr_names)
    x, a = tiny_faces.x[:4], tiny_faces.y[:4]
    t = cfg.train
    on = tr.d_step(x, a, penalize=True)
    adv = -on["D/wdist"]  # wgan: fake − real
    expect = adv + t.w_gp * every * on["D/gp"] + t.w_att_d * on["D/att"]
    torch.testing.assert_close(on["D/loss"], expect)
    assert on["D/gp"] > 0
    off = tr.d_step(x, a, penalize=False)
    torch.testing.assert_close(off["D/loss"], -off["D/wdist"] + t.w_att_d * off["D/att"])


def test_fit_applies_the_penalty_every_k_critic_steps(tiny_faces, tmp_path, monkeypatch):
    cfg = fast_cfg("train.penalty_every=3", "train.n_critic=2")
    tr = make_trainer(cfg, tiny_faces.attr_names)
    seen = []
    real = tr.d_step

    def spy(x, a, penalize=True):
        seen.append(penalize)
        return real(x, a, penalize)

    monkeypatch.setattr(tr, "d_step", spy)
    tr.fit(tiny_faces, tmp_path, (tiny_faces.x[:2], tiny_faces.y[:2]), max_steps=4)
    assert seen == [True, False, False, True, False, False, True, False]


# --- the masked generator -----------------------------------------------------------------
def test_masked_generator_blends_input_and_output(tiny_faces):
    cfg = fast_cfg("model.mask=true")
    G = build_generator(cfg.model, len(tiny_faces.attr_names)).eval()
    x = tiny_faces.x[:3]
    code = torch.randn(3, len(tiny_faces.attr_names))
    with torch.no_grad():
        raw, m = G.decode_raw(G.encode(x), code)
        y = G(x, code)
    assert m.shape == (3, 1, 32, 32) and bool(((m > 0) & (m < 1)).all())
    torch.testing.assert_close(y, m * raw + (1 - m) * x)
    with torch.no_grad():
        G._last_conv().bias[3] = -50.0  # a closed mask: the input comes back exactly
        torch.testing.assert_close(G(x, code), x, atol=1e-6, rtol=0)


def test_masked_training_adds_the_mask_term_and_draws_masks(tiny_faces, tmp_path):
    from PIL import Image

    cfg = fast_cfg("model.mask=true", "train.w_mask=2", "train.sample_every=2")
    tr = make_trainer(cfg, tiny_faces.attr_names)
    g = tr.g_step(tiny_faces.x[:4], tiny_faces.y[:4])
    t = cfg.train
    expect = g["G/adv"] + t.w_att_g * g["G/att"] + t.w_rec * g["G/rec"] + 2 * g["G/mask"]
    torch.testing.assert_close(g["G/loss"], expect)
    tr.fit(tiny_faces, tmp_path, (tiny_faces.x[:2], tiny_faces.y[:2]), max_steps=2)
    h = Image.open(tmp_path / "samples" / "step_00000002.png").size[1]
    assert h == 2 + 4 * (32 + 2)  # 2 images, each with a row of masks under it


def test_masked_target_code_generators_blend_too():
    cfg = load("tiny", preset="attgan", overrides=["model.mask=true"], recipe="fast")
    assert cfg.model.mask and cfg.model.label == "target"
    G = build_generator(cfg.model, 4).eval()
    x, code = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 4) - 0.5
    with torch.no_grad():
        raw, m = G.decode_raw(G.encode(x), code)
        torch.testing.assert_close(G(x, code), m * raw + (1 - m) * x)


def test_resize_upsampling_keeps_shapes_and_drops_transposed_convolutions():
    cfg = fast_cfg("model.upsample=resize")
    G = build_generator(cfg.model, 4)
    # the decoder's upsamplings change; the STUs keep their transposed convolution (eq. 2)
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in G.decoder.modules())
    assert sum(isinstance(m, torch.nn.Upsample) for m in G.decoder.modules()) == 5
    y = G(torch.zeros(2, 3, 32, 32), torch.zeros(2, 4))
    assert y.shape == (2, 3, 32, 32)


# --- run control --------------------------------------------------------------------------
def test_fit_stops_when_asked_and_saves_the_reached_step(tiny_faces, tmp_path):
    cfg = load("tiny", overrides=TINY_SET, recipe="paper")
    tr = make_trainer(cfg, tiny_faces.attr_names)
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) >= 3

    step = tr.fit(
        tiny_faces, tmp_path, (tiny_faces.x[:2], tiny_faces.y[:2]), 10, None, None, should_stop
    )
    assert step == 3
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path)] == ["step_00000003.pt"]


def test_non_finite_losses_stop_the_run_naming_step_and_loss(tiny_faces, tmp_path, monkeypatch):
    cfg = load("tiny", overrides=[*TINY_SET, "train.log_every=2"], recipe="paper")
    tr = make_trainer(cfg, tiny_faces.attr_names)
    real = tr.g_step

    def bad_g_step(x, a):
        logs = real(x, a)
        return {**logs, "G/rec": torch.tensor(float("nan"))}

    monkeypatch.setattr(tr, "g_step", bad_g_step)
    with pytest.raises(UserError, match=r"diverged at step 2: G/rec = nan"):
        tr.fit(tiny_faces, tmp_path, (tiny_faces.x[:2], tiny_faces.y[:2]), max_steps=5)
    assert checkpoint.list_checkpoints(tmp_path) == []


def test_warmup_and_two_learning_rates(tiny_faces):
    cfg = fast_cfg("train.warmup=4", "train.lr_d_scale=2")
    tr = make_trainer(cfg, tiny_faces.attr_names)
    lr = cfg.train.lr
    assert [tr.lr_at(s, 1000) for s in range(5)] == pytest.approx(
        [lr / 4, lr / 2, 3 * lr / 4, lr, lr]
    )
    tr.set_lr(0.5)
    assert tr.opt_G.param_groups[0]["lr"] == 0.5 and tr.opt_D.param_groups[0]["lr"] == 1.0
    fresh = make_trainer(replace(cfg), tiny_faces.attr_names)
    assert fresh.opt_D.param_groups[0]["lr"] == pytest.approx(2 * lr)
