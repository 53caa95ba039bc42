"""The data pipeline of the official code (csmliu/STGAN data.py, train.py): its split by file
order, its 64 px crop, TF1's bicubic resize, sample grids from val (reference §5)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from stgan.config import DataConfig, load
from stgan.data import celeba, open_dataset
from stgan.data.celeba import CELEBA_N, choose_split, split_indices
from stgan.data.transforms import crop_box, load_image, load_image_float, tf_bicubic
from stgan.errors import UserError


def _noise(w, h, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# --- TF1 resize_images(BICUBIC): an independent reference written from the definition ------
def _keys(d: float, a: float = -0.75) -> float:
    """The cubic convolution kernel W(d) of Keys (1981) with coefficient a."""
    d = abs(d)
    if d <= 1:
        return (a + 2) * d**3 - (a + 3) * d**2 + 1
    if d < 2:
        return a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a
    return 0.0


def _reference(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Pixel by pixel: source position = output index × in/out (no half-pixel centres), the
    four nearest taps with edge pixels repeated, the fraction rounded to 1/1024 (TF's table)."""
    h, w, c = img.shape
    out = np.zeros((out_h, out_w, c))
    for i in range(out_h):
        for j in range(out_w):
            y, x = i * h / out_h, j * w / out_w
            y0, x0 = math.floor(y), math.floor(x)
            ty, tx = round((y - y0) * 1024) / 1024, round((x - x0) * 1024) / 1024
            for m in range(-1, 3):
                for n in range(-1, 3):
                    wgt = _keys(m - ty) * _keys(n - tx)
                    yy, xx = min(max(y0 + m, 0), h - 1), min(max(x0 + n, 0), w - 1)
                    out[i, j] += wgt * img[yy, xx]
    return np.clip(out, 0, 255)


def test_tf_bicubic_by_hand_legacy_mapping_and_overshoot():
    # 1x2 → 1x4: positions 0, 0.5, 1, 1.5 of [0, 200]; at 0.5 the weights are
    # W(1.5) = -0.09375 and W(0.5) = 0.59375, so 200·(0.59375 − 0.09375) = 100; at 1.5 the
    # taps are 0, 200, 200, 200: 200·(0.59375 + 0.59375 − 0.09375) = 218.75 (a = −0.75's
    # overshoot, kept: no rounding, only the clip to 255).
    row = np.array([[[0.0], [200.0]]])  # (1, 2, 1)
    np.testing.assert_allclose(tf_bicubic(row, 4, (0, 0, 2, 1))[0, :, 0], [0, 100, 200, 218.75])
    hot = np.array([[[0.0], [250.0]]])
    assert tf_bicubic(hot, 4, (0, 0, 2, 1))[0, 3, 0] == 255.0  # 273.4 clipped
    # legacy mapping: halving samples rows/columns 0 and 2 exactly (half-pixel centres would
    # blend neighbours)
    img = _noise(4, 4).astype(np.float32)
    np.testing.assert_array_equal(tf_bicubic(img, 2), img[::2, ::2])


@pytest.mark.parametrize("shape,size", [((9, 7), 5), ((5, 5), 8), ((13, 11), 6)])
def test_tf_bicubic_matches_the_definition(shape, size):
    img = _noise(shape[1], shape[0], seed=size).astype(np.float32)  # (h, w, 3)
    got = tf_bicubic(img, size)
    assert got.dtype == np.float32 and got.shape == (size, size, 3)
    np.testing.assert_allclose(got, _reference(img, size, size), atol=2e-3)


def test_tf_bicubic_of_an_integer_box_is_crop_then_resize():
    img = _noise(30, 40).astype(np.float32)
    box = (3, 5, 23, 25)  # 20x20 at top 5, left 3
    np.testing.assert_array_equal(tf_bicubic(img, 12, box), tf_bicubic(img[5:25, 3:23], 12))
    np.testing.assert_allclose(tf_bicubic(img, 12, box), _reference(img[5:25, 3:23], 12, 12),
                               atol=2e-3)  # fmt: skip


def test_load_image_float_keeps_tf_floats_and_load_image_rounds_them(tmp_path):
    arr = _noise(178, 218)
    Image.fromarray(arr).save(tmp_path / "a.png")
    f = load_image_float(tmp_path / "a.png", "celeba", 128, "tf-bicubic")
    assert f.dtype == np.float32 and f.shape == (128, 128, 3)
    assert (f != np.rint(f)).mean() > 0.5  # not rounded to levels
    np.testing.assert_array_equal(f, tf_bicubic(arr[26:196, 3:173], 128))
    u8 = load_image(tmp_path / "a.png", "celeba", 128, "tf-bicubic")
    np.testing.assert_array_equal(u8, np.rint(f).astype(np.uint8))
    # pil at 128 px is what it always was: Pillow's bicubic from the 170 box
    want = Image.fromarray(arr).resize((128, 128), Image.Resampling.BICUBIC, box=(3, 26, 173, 196))
    np.testing.assert_array_equal(load_image(tmp_path / "a.png", "celeba", 128), np.array(want))


# --- the official 64 px crop -----------------------------------------------------------------
def test_celeba_crop_at_64_px_is_the_official_148_box():
    assert crop_box("celeba", 178, 218, size=64) == pytest.approx((15, 40, 163, 188))
    assert crop_box("celeba", 89, 109, size=64) == pytest.approx((7.5, 20, 81.5, 94))
    for size in (None, 32, 128, 256):  # every other size: the 170 box, as before
        assert crop_box("celeba", 178, 218, size=size) == pytest.approx((3, 26, 173, 196))
    assert crop_box("celeba-170", 178, 218, size=64) == pytest.approx((3, 26, 173, 196))


def test_load_image_at_64_px_reads_the_148_box(tmp_path):
    arr = _noise(178, 218)
    Image.fromarray(arr).save(tmp_path / "a.png")
    got = load_image_float(tmp_path / "a.png", "celeba", 64, "tf-bicubic")
    np.testing.assert_array_equal(got, tf_bicubic(arr[40:188, 15:163], 64))
    old = load_image_float(tmp_path / "a.png", "celeba-170", 64, "tf-bicubic")
    np.testing.assert_array_equal(old, tf_bicubic(arr[26:196, 3:173], 64))


# --- the split -------------------------------------------------------------------------------
def test_choose_split_auto_and_explicit(tmp_path):
    lbl = tmp_path / "list_attr_celeba.txt"
    part = np.zeros(CELEBA_N, np.int8)
    assert choose_split("auto", CELEBA_N, True, part, lbl)[0] == "stgan"  # partition ignored
    assert choose_split("auto", CELEBA_N, True, None, lbl)[0] == "stgan"
    assert choose_split("auto", CELEBA_N, False, None, lbl)[0] == "fraction"  # a CSV folder
    assert choose_split("auto", 10_000, True, None, lbl)[0] == "fraction"
    assert choose_split("auto", 10_000, True, np.zeros(10_000), lbl)[0] == "partition"
    assert choose_split("auto", CELEBA_N + 1, True, None, lbl)[0] == "fraction"
    assert choose_split("partition", CELEBA_N, True, part, lbl) == ("partition", "set explicitly")
    with pytest.raises(UserError, match="data.split=stgan .* 10,000: use data.split=fraction"):
        choose_split("stgan", 10_000, True, None, lbl)
    with pytest.raises(UserError, match="data.split=partition needs list_eval_partition.txt"):
        choose_split("partition", 10_000, True, None, lbl)
    # fraction on the full CelebA is the fraction rule, not the official one
    n_test = len(split_indices(CELEBA_N, "test", 0.1, part, "fraction"))
    assert n_test == round(CELEBA_N * 0.1)


def _fake_celeba(folder, n, partition: bool):
    """A label file of ``n`` rows (one attribute) and, optionally, CelebA's partition file
    (its real boundaries: 162,770 train, 19,867 val, the rest test); no images."""
    files = [f"{i:06d}.jpg" for i in range(1, n + 1)]
    rows = "".join(f"{f} {'1' if i % 3 else '-1'}\n" for i, f in enumerate(files))
    (folder / "list_attr_celeba.txt").write_text(f"{n}\nMale\n{rows}")
    if partition:
        codes = np.repeat([0, 1, 2], [162_770, 19_867, n - 182_637])
        text = "".join(f"{f} {c}\n" for f, c in zip(files, codes, strict=True))
        (folder / "list_eval_partition.txt").write_text(text)
    (folder / "img_align_celeba").mkdir()


@pytest.mark.slow
def test_full_celeba_trains_947_iterations_per_epoch_on_the_official_split(tmp_path, monkeypatch):
    """A 202,599-row label file with CelebA's partition file: auto picks the official split,
    and the trainer's schedule is 947 iterations per epoch, 189,400 in all (partition: 847,
    169,400). No image is read: the existence check is switched off."""
    import torch

    from stgan.models import build_discriminator, build_generator
    from stgan.trainer import Trainer

    _fake_celeba(tmp_path, CELEBA_N, partition=True)
    monkeypatch.setattr(celeba, "check_images", lambda *a: None)
    monkeypatch.setattr("stgan.trainer.ScalarLog", lambda *a, **k: None)  # no run files
    cfg = load(
        "tiny",
        recipe="paper",
        overrides=[
            f"data.dataset={tmp_path}",
            "data.attrs=Male",
            "train.batch_size=32",
            "train.n_critic=5",
            "train.epochs=200",
            "data.num_workers=0",
            "model.enc_dim=2",
            "model.dec_dim=2",
            "model.dis_dim=2",
            "model.dis_fc_dim=2",
        ],
    )
    assert cfg.data.split == "auto"

    def schedule(data: DataConfig) -> tuple[int, str, int]:
        train = open_dataset(data, 32, "train", progress=False, read_first=False)
        trainer = Trainer(
            cfg, build_generator(cfg.model, 1), build_discriminator(cfg.model, 1), ("Male",),
            torch.device("cpu"),
        )  # fmt: skip
        seen = {}

        class Stop(Exception):
            pass

        def progress(start, total):  # the trainer announces its schedule, then we stop it
            seen["total"] = total
            raise Stop

        with pytest.raises(Stop):
            trainer.fit(train, tmp_path / "run", (None, None), progress=progress)
        return len(train), train.split_rule[0], seen["total"]

    assert schedule(cfg.data) == (182_000, "stgan", 189_400)  # 947 per epoch
    assert 182_000 // (32 * 6) == 947
    val = open_dataset(cfg.data, 32, "val", progress=False, read_first=False)
    test = open_dataset(cfg.data, 32, "test", progress=False, read_first=False)
    assert (len(val), len(test)) == (637, 19_962)
    assert (val.files[0], test.files[0], test.files[-1]) == (
        "182001.jpg",
        "182638.jpg",
        "202599.jpg",
    )
    part = DataConfig(dataset=str(tmp_path), attrs=("Male",), split="partition")
    assert schedule(part) == (162_770, "partition", 169_400)  # 847 per epoch


def test_a_subset_folder_keeps_the_fraction_split_and_data_check_says_so(tmp_path, capsys):
    from stgan.cli import main
    from stgan.data.synthetic import write_celeba_layout

    write_celeba_layout(tmp_path / "f", 20, 32, seed=0, progress=False)
    assert main(["data", "check", "--data", str(tmp_path / "f"), "--size", "32", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "train 17, val 1, test 2" in out
    assert "split: fraction (data.split=auto: not the full CelebA (20 rows) and no " in out
    codes = "".join(f"{i:06d}.png {i % 3}\n" for i in range(1, 21))
    (tmp_path / "f" / "list_eval_partition.txt").write_text(codes)
    assert main(["data", "check", "--data", str(tmp_path / "f"), "--size", "32", "--quiet"]) == 0
    assert "split: partition (data.split=auto: not the full CelebA" in capsys.readouterr().out
    cmd = ["data", "check", "--data", str(tmp_path / "f"), "--size", "32", "--quiet"]
    assert main([*cmd, "--set", "data.split=stgan"]) == 2
    assert "data.split=stgan is the official split" in capsys.readouterr().err


def test_training_sample_grids_come_from_val(tmp_path):
    """The sample batch of `stgan train` is the first val images, not test images."""
    import torch

    from stgan.cli import build_parser
    from stgan.cli.train import _plan

    argv = ["train", "--config", "tiny", "--out", str(tmp_path / "run"), "--quiet"]
    argv += ["--set", "data.synthetic_n=16", "--set", "train.n_samples=2"]
    args = build_parser().parse_args(argv)
    plan = _plan(args, tmp_path / "run", resume=False)
    data = plan.cfg.data
    val = open_dataset(data, 32, "val", progress=False)
    test = open_dataset(data, 32, "test", progress=False)
    x, y = plan.sample_batch
    assert x.shape[0] == 2
    torch.testing.assert_close(x, torch.stack([val[0][0], val[1][0]]), rtol=0, atol=0)
    assert not torch.equal(x[0], test[0][0])


def _celeba_folder(folder, n=3):
    """``n`` noise images of CelebA's aligned size (178×218) in CelebA layout."""
    (folder / "img_align_celeba").mkdir(parents=True)
    rows = ""
    for i in range(1, n + 1):
        Image.fromarray(_noise(178, 218, seed=i)).save(folder / "img_align_celeba" / f"{i}.png")
        rows += f"{i}.png {'1' if i % 2 else '-1'}\n"
    (folder / "list_attr_celeba.txt").write_text(f"{n}\nMale\n{rows}")


def test_tf_bicubic_items_are_floats_and_the_cache_holds_them_rounded(tmp_path):
    from stgan.imageio import to_float

    _celeba_folder(tmp_path / "f")
    cfg = DataConfig(dataset=str(tmp_path / "f"), attrs=("Male",), resize="tf-bicubic")
    direct = open_dataset(cfg, 64, "all", progress=False)
    exact = load_image_float(tmp_path / "f" / "img_align_celeba" / "2.png", "celeba", 64,
                             "tf-bicubic")  # fmt: skip
    np.testing.assert_array_equal(direct[1][0].numpy(), to_float(exact).numpy())
    assert not np.array_equal(direct[1][0].numpy(), to_float(np.rint(exact)).numpy())
    cached_cfg = replace(cfg, cache=True, cache_dir=str(tmp_path / "c"))
    cached = open_dataset(cached_cfg, 64, "all", progress=False)
    np.testing.assert_array_equal(cached.image_uint8(1), np.rint(exact).astype(np.uint8))
    np.testing.assert_array_equal(cached.image_uint8(1), direct.image_uint8(1))
    names = sorted(p.name for p in (tmp_path / "c").glob("*.npy"))
    assert names == ["f-all-celeba-148-tf-64.npy"]  # its own cache file: not pil's, not 128's
