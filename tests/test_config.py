import dataclasses

import pytest

from stgan import config as C
from stgan.errors import UserError


def test_defaults_are_the_papers():
    cfg = C.load()
    assert cfg.model.img_size == 128 and cfg.model.enc_dim == 64 and cfg.model.use_stu
    assert cfg.model.shortcut_layers == 4 and cfg.model.inject_layers == 4
    t = cfg.train
    assert (t.batch_size, t.n_critic, t.epochs, t.decay_epoch) == (32, 5, 200, 100)
    assert (t.lr, t.beta1, t.beta2) == (2e-4, 0.5, 0.999)
    assert (t.w_gp, t.w_att_d, t.w_att_g, t.w_rec) == (10.0, 1.0, 10.0, 100.0)
    assert (t.thres_int, t.test_int) == (0.5, 1.0)
    assert C.load("celeba128") == dataclasses.replace(cfg)


def test_tiny_and_presets():
    tiny = C.load("tiny")
    assert tiny.model.img_size == 32 and tiny.model.enc_dim == 8
    ed = C.load("tiny", "attgan-ed")
    assert ed.model.shortcut_layers == 0 and not ed.model.use_stu and ed.model.label == "target"
    assert ed.model.img_size == 32  # the preset changes only the variant fields
    assert C.load(preset="stgan-gru").model.stu_state == "gru"


def test_overrides_typed_and_validated():
    cfg = C.load(
        "tiny",
        overrides=[
            "train.lr=1e-3",
            "model.use_stu=false",
            "data.attrs=Bald, Male",
            "train.batch_size=8",
        ],
    )
    assert cfg.train.lr == 1e-3 and cfg.model.use_stu is False
    assert cfg.data.attrs == ("Bald", "Male") and cfg.train.batch_size == 8
    with pytest.raises(UserError, match="unknown config field train.lrr"):
        C.load(overrides=["train.lrr=1"])
    with pytest.raises(UserError, match="train.batch_size expects int"):
        C.load(overrides=["train.batch_size=eight"])
    with pytest.raises(UserError, match="malformed --set"):
        C.load(overrides=["batch_size=8"])
    with pytest.raises(UserError, match="model.stu_state must be one of"):
        C.load(overrides=["model.stu_state=lstm"])
    with pytest.raises(UserError, match="unknown preset"):
        C.load(preset="stargan")
    with pytest.raises(UserError, match="img_size"):
        C.load(overrides=["model.img_size=100"])


def test_file_roundtrip_and_errors(tmp_path):
    cfg = C.load("tiny", "attgan-2s", ["train.seed=7"])
    f = tmp_path / "run.toml"
    f.write_text(C.to_toml(cfg))
    assert C.load(str(f)) == cfg
    assert C.from_dict(cfg.to_dict()) == cfg
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\nwidth = 3\n")
    with pytest.raises(UserError, match="unknown config field model.width"):
        C.load(str(bad))
    wrong = tmp_path / "wrong.toml"
    wrong.write_text("[train]\nbatch_size = 2.5\n")
    with pytest.raises(UserError, match="train.batch_size expects int"):
        C.load(str(wrong))
    with pytest.raises(UserError, match="neither a shipped config"):
        C.load(str(tmp_path / "missing.toml"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.train.lr = 1.0  # type: ignore[misc]


@pytest.mark.parametrize("size", [64, 128, 256, 384])
def test_image_sizes_of_the_paper_build_and_run(size):
    """384 px (the paper's HQ model) is not a power of two: 12x12 bottleneck."""
    import torch

    from stgan.models import build_discriminator, build_generator

    cfg = C.load(
        overrides=[
            f"model.img_size={size}",
            "model.enc_dim=2",
            "model.dec_dim=2",
            "model.dis_dim=2",
            "model.dis_fc_dim=4",
        ]
    )
    G, D = build_generator(cfg.model, 13), build_discriminator(cfg.model, 13)
    x = torch.rand(1, 3, size, size) * 2 - 1
    with torch.no_grad():
        feats = G.encode(x)
        y = G(x, torch.zeros(1, 13))
        adv, att = D(y)
    assert [f.shape[-1] for f in feats] == [size // 2**i for i in range(1, 6)]
    assert y.shape == x.shape and adv.shape == (1,) and att.shape == (1, 13)


def test_sizes_that_do_not_divide_are_refused():
    with pytest.raises(UserError, match="multiple of 2\\*\\*model.enc_layers"):
        C.load(overrides=["model.img_size=100"])


def test_data_split_resize_and_crop_choices():
    # Pillow's resize stays the default of every recipe: recipes compared side by side
    # (stgan ablate, study) must read one data set (docs/data.md)
    assert C.load().data.split == "auto" and C.load("celeba128").data.resize == "pil"
    assert C.load(overrides=["data.resize=tf-bicubic"]).data.resize == "tf-bicubic"
    cfg = C.load(overrides=["data.split=stgan", "data.crop=celeba-170"])
    assert (cfg.data.split, cfg.data.crop) == ("stgan", "celeba-170")
    assert 'split = "stgan"' in C.to_toml(cfg) and C.from_dict(cfg.to_dict()) == cfg
    for bad in ("data.split=official", "data.resize=bicubic", "data.crop=celeba-148"):
        with pytest.raises(UserError, match=f"config field {bad.split('=')[0]} must be one of"):
            C.load(overrides=[bad])
    assert C.load(preset="attgan-official").model.label == "diff"
