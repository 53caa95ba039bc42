import json

import pytest
import torch

from stgan import checkpoint
from stgan.models import build_discriminator, build_generator
from stgan.trainer import Trainer


def make_trainer(cfg, names):
    torch.manual_seed(cfg.train.seed)
    G = build_generator(cfg.model, len(names))
    D = build_discriminator(cfg.model, len(names))
    return Trainer(cfg, G, D, names, torch.device("cpu"))


def sample_batch(ds, n=2):
    return ds.x[:n], ds.y[:n]


def test_steps_return_device_tensors_and_update(tiny_cfg, tiny_faces):
    tr = make_trainer(tiny_cfg, tiny_faces.attr_names)
    x, a = tiny_faces.x[:4], tiny_faces.y[:4]
    g0 = [p.clone() for p in tr.G.parameters()]
    d0 = [p.clone() for p in tr.D.parameters()]
    d = tr.d_step(x, a)
    assert set(d) == {"D/loss", "D/wdist", "D/gp", "D/att"}
    assert all(torch.is_tensor(v) and v.ndim == 0 for v in d.values())
    assert all(torch.equal(p, q) for p, q in zip(g0, tr.G.parameters(), strict=True))
    assert any(not torch.equal(p, q) for p, q in zip(d0, tr.D.parameters(), strict=True))
    d1 = [p.clone() for p in tr.D.parameters()]
    g = tr.g_step(x, a)
    assert set(g) == {"G/loss", "G/adv", "G/att", "G/rec"}
    assert any(not torch.equal(p, q) for p, q in zip(g0, tr.G.parameters(), strict=True))
    assert all(torch.equal(p, q) for p, q in zip(d1, tr.D.parameters(), strict=True))
    t = tiny_cfg.train
    expect = g["G/adv"] + t.w_att_g * g["G/att"] + t.w_rec * g["G/rec"]
    assert g["G/loss"].item() == pytest.approx(expect.item(), rel=1e-5)


def test_lr_decays_tenfold_from_decay_epoch(tiny_cfg, tiny_faces):
    tr = make_trainer(tiny_cfg, tiny_faces.attr_names)
    k = tiny_cfg.train.decay_epoch
    assert tr.lr_at(k * 5 - 1, 5) == pytest.approx(tiny_cfg.train.lr)
    assert tr.lr_at(k * 5, 5) == pytest.approx(tiny_cfg.train.lr / 10)


def test_fit_writes_run_folder(tiny_cfg, tiny_faces, tmp_path):
    from dataclasses import replace

    cfg = replace(
        tiny_cfg, train=replace(tiny_cfg.train, sample_every=3, ckpt_every=2, keep_ckpts=2)
    )
    tr = make_trainer(cfg, tiny_faces.attr_names)
    assert tr.fit(tiny_faces, tmp_path, sample_batch(tiny_faces), max_steps=5) == 5
    names = [p.name for p in checkpoint.list_checkpoints(tmp_path)]
    assert names == ["step_00000004.pt", "step_00000005.pt"]  # pruned to 2, final kept
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "step_00000003.png",
        "step_00000005.png",
    ]
    rows = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5]
    assert {"D/gp", "G/rec", "lr", "epoch"} <= set(rows[0])
    ck = checkpoint.load(tmp_path)
    assert ck["step"] == 5 and ck["attr_names"] == list(tiny_faces.attr_names)
    assert {"G", "D", "opt_G", "opt_D", "rng", "config"} <= set(ck)


@pytest.mark.slow
def test_resume_is_exact(tiny_cfg, tiny_faces, tmp_path):
    """2N steps in one go == N steps, stop, resume from the checkpoint, N more steps."""
    n = 3
    one = make_trainer(tiny_cfg, tiny_faces.attr_names)
    one.fit(tiny_faces, tmp_path / "one", sample_batch(tiny_faces), max_steps=2 * n)

    first = make_trainer(tiny_cfg, tiny_faces.attr_names)
    first.fit(tiny_faces, tmp_path / "two", sample_batch(tiny_faces), max_steps=n)
    second = make_trainer(tiny_cfg, tiny_faces.attr_names)  # (seeds the global RNG itself)
    torch.manual_seed(1234)  # disturb the global RNG: the checkpoint must restore it
    second.load_checkpoint(checkpoint.load(tmp_path / "two"))
    assert second.state.step == n
    second.fit(tiny_faces, tmp_path / "two", sample_batch(tiny_faces), max_steps=2 * n)

    for (k, p), q in zip(one.G.state_dict().items(), second.G.state_dict().values(), strict=True):
        assert torch.equal(p, q), k
    for (k, p), q in zip(one.D.state_dict().items(), second.D.state_dict().values(), strict=True):
        assert torch.equal(p, q), k


@pytest.mark.slow
def test_training_reduces_reconstruction_error(tiny_cfg, tiny_faces, tmp_path):
    from dataclasses import replace

    cfg = replace(tiny_cfg, train=replace(tiny_cfg.train, lr=2e-3))  # visible within 30 steps
    tr = make_trainer(cfg, tiny_faces.attr_names)
    tr.fit(tiny_faces, tmp_path, sample_batch(tiny_faces), max_steps=30)
    rows = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    first, last = rows[0]["G/rec"], sum(r["G/rec"] for r in rows[-5:]) / 5
    assert last < 0.85 * first, (first, last)


def test_uniform_target_strength_spans_the_test_strength(tiny_cfg, tiny_faces):
    """train.target_int = uniform: each target entry ±U(0, 2·thres_int) (AttGAN's official
    train.py), so changed attributes get att_diff in [0.5, 1.5] (the test strength 1.5 at the
    top) and kept ones in [−0.5, 0.5]; fixed is the paper's code."""
    from dataclasses import replace

    from stgan.config import load

    names = tiny_faces.attr_names
    torch.manual_seed(1)
    a = (torch.rand(512, len(names)) > 0.5).float()
    b = a[torch.randperm(512)]
    fixed = make_trainer(tiny_cfg, names)
    assert torch.equal(fixed.edit_code(a, b), fixed.code(a, b))
    cfg = replace(tiny_cfg, train=replace(tiny_cfg.train, target_int="uniform"))
    tr = make_trainer(cfg, names)
    code, exact = tr.edit_code(a, b), tr.code(a, b)
    changed = a != b
    assert torch.equal(code[changed].sign(), exact[changed].sign())
    mag, kept = code[changed].abs(), code[~changed].abs()
    assert mag.min() >= 0.5 and mag.max() <= 1.5 and mag.max() > 1.45 and mag.min() < 0.55
    assert kept.max() <= 0.5 and kept.max() > 0.45
    assert abs(mag.mean().item() - 1.0) < 0.05  # uniform, not a fixed value
    # a floor: U(0.5, 1)·2·thres_int, so changed entries in [1, 1.5], kept ones in [0, 0.5]
    cfg = replace(cfg, train=replace(cfg.train, target_int_min=0.5))
    code = make_trainer(cfg, names).edit_code(a, b)
    mag, kept = code[changed].abs(), code[~changed].abs()
    assert mag.min() >= 1.0 and mag.min() < 1.05 and mag.max() <= 1.5 and mag.max() > 1.45
    assert kept.max() <= 0.5 and kept.min() < 0.05
    with pytest.raises(Exception, match="target_int"):
        load("tiny", overrides=["train.target_int=random"])
    with pytest.raises(Exception, match="target_int_min"):
        load("tiny", overrides=["train.target_int_min=1.5"])


def test_test_target_strength_trains_the_edits_evaluated(tiny_cfg):
    """train.target_int = test: changed entries at the test strength (att_diff ±1.5), kept
    ones 0, so a single-attribute flip trains on exactly the code the evaluation edits with
    (editing.flip_target); AttGAN's target label gets ±test_int on changed entries."""
    from dataclasses import replace

    from stgan.attributes import DEFAULT_ATTRS
    from stgan.editing import flip_target

    names = list(DEFAULT_ATTRS)
    torch.manual_seed(2)
    a = (torch.rand(256, len(names)) > 0.5).float()
    b = a[torch.randperm(256)]
    cfg = replace(tiny_cfg, train=replace(tiny_cfg.train, target_int="test"))
    tr = make_trainer(cfg, names)
    code, changed = tr.edit_code(a, b), a != b
    assert torch.equal(code[changed], (b[changed] * 2 - 1) * 1.5)
    assert torch.equal(code[~changed], torch.zeros_like(code[~changed]))
    young = names.index("Young")  # no conflict rules: the flip changes this entry only
    b1, enc = flip_target(a, names, young, tr.coding)
    assert torch.equal(tr.edit_code(a, b1), tr.coding.code(a, enc))
    cfg = replace(cfg, model=replace(cfg.model, label="target"))
    code = make_trainer(cfg, names).edit_code(a, b)
    assert torch.equal(code[changed], (b[changed] * 2 - 1) * 1.0)
    assert torch.equal(code[~changed], (b[~changed] * 2 - 1) * 0.5)
