"""End to end through ``stgan.cli.main``: train, resume, edit, sample, plot, data check."""

import shutil

import pytest
from cli_helpers import FAST, first_face, stgan
from PIL import Image

from stgan import checkpoint
from stgan.cli import main


def test_train_and_resume_write_the_run_folder(run):
    out, _ = run
    assert (out / "config.toml").is_file() and (out / "log.jsonl").is_file()
    assert Image.open(out / "losses.png").size[0] > 300  # loss curves of the run
    assert checkpoint.load(out)["step"] == 4
    grids = sorted((out / "samples").glob("step_*.png"))
    assert grids[-1].name == "step_00000004.png"
    w, h = Image.open(grids[-1]).size
    assert (w, h) == (2 + 15 * 34, 2 + 2 * 34)  # input | rec | 13 flips, 2 rows of 32 px + pad


def test_edit_one_image_and_a_folder(run, tmp_path):
    out, faces = run
    dst = tmp_path / "one.png"
    edit = f"edit --checkpoint {out} --image {first_face(faces)}"
    assert stgan(f"{edit} --set Blond_Hair=1 --set Young=-0.4 --source Male=1 --out {dst}") == 0
    assert Image.open(dst).size == (32, 32)
    plain = tmp_path / "plain"  # the checkpoints/ folder works as well as the run folder
    ckpts = out / "checkpoints"
    assert stgan(f"edit --checkpoint {ckpts} --image {faces} --set Eyeglasses=1 --out {plain}") == 0
    assert len(list(plain.glob("*.png"))) == 3
    folder = tmp_path / "many"
    cmd = f"edit --checkpoint {out} --image {faces} --set Eyeglasses=1 --side-by-side"
    assert stgan(f"{cmd} --out {folder}") == 0
    written = sorted(p.name for p in folder.iterdir())
    assert len(written) == 3 and Image.open(folder / written[0]).size == (2 + 2 * 34, 36)


def test_sample_grid(run, tmp_path):
    out, faces = run
    dst = tmp_path / "grid.png"
    assert stgan(f"sample --checkpoint {out} --images {faces} --out {dst} --n 3") == 0
    assert Image.open(dst).size == (2 + 15 * 34, 2 + 3 * 34)


@pytest.mark.parametrize(
    "sets, message",
    [
        ("--set Blonde=1", "unknown attribute Blonde"),
        ("--set Blond_Hair", "malformed --set"),
        ("--set Blond_Hair=3", "malformed --set"),
        ("--set Bald=1 --set Bangs=1", "conflict"),
    ],
)
def test_edit_errors_are_one_line_exit_2(run, tmp_path, capsys, sets, message):
    out, faces = run
    dst = tmp_path / "x.png"
    code = stgan(
        f"edit --checkpoint {out} --image {first_face(faces)} --source Male=1 {sets} --out {dst}"
    )
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not dst.exists()


def test_checkpoint_and_image_errors(run, tmp_path, capsys):
    out, faces = run
    img = first_face(faces)
    bad_ckpt = tmp_path / "bad.pt"
    bad_ckpt.write_bytes(b"\x00" * 64)
    bad_img = tmp_path / "bad.png"
    bad_img.write_bytes(b"not a png")
    cases = [
        (f"--checkpoint {tmp_path / 'missing'} --image {img}", "does not exist"),
        (f"--checkpoint {bad_ckpt} --image {img}", "corrupt"),
        (f"--checkpoint {out} --image {bad_img}", "bad.png"),
    ]
    for args, message in cases:
        dst = tmp_path / "y.png"
        code = stgan(f"edit {args} --set Male=0 --source Male=1 --out {dst}")
        err = capsys.readouterr().err
        assert code == 2 and message in err and "Traceback" not in err, err
        assert not dst.exists()


def test_resume_with_another_configuration_is_refused(run, capsys):
    out, _ = run
    code = stgan(f"train --quiet --out {out} --resume --set model.enc_dim=8 --max-steps 6")
    err = capsys.readouterr().err
    assert code == 2 and "model.enc_dim=4" in err and "model.enc_dim" in err
    assert checkpoint.load(out)["step"] == 4
    code = stgan(f"train --config tiny --quiet --out {out} --max-steps 1")
    assert code == 2 and "--resume" in capsys.readouterr().err


def test_train_config_errors(tmp_path, capsys):
    r = tmp_path / "r"
    assert stgan(f"train --config tiny --set train.batchsize=3 --out {r}") == 2
    assert "unknown config field train.batchsize" in capsys.readouterr().err
    assert stgan(f"train --config tiny --set data.attrs=Bald,Smiling --out {r}") == 2
    assert "Smiling" in capsys.readouterr().err
    assert not r.exists()


HELP = {  # an option and a phrase of each command's own help
    "train": ("--resume-from", "exits with 130 (SIGINT) or 143"),
    "edit": ("--side-by-side", "0.001 is about neutral"),
    "sample": ("--n N", "reconstruction"),
    "bench": ("--warmup", "Markdown row"),
    "plot": ("run", "losses.png"),
    "eval": ("--inception", "preservation"),
    "study": ("--variants", "trade-off"),
    "train-classifier": ("--img-size", "majority-class baseline"),
    "data": ("synth", "check"),
}


@pytest.mark.parametrize("cmd", sorted(HELP))
def test_help_explains_every_command(capsys, cmd):
    with pytest.raises(SystemExit) as e:
        main([cmd, "--help"])
    assert e.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith(f"usage: stgan {cmd}")
    for phrase in HELP[cmd]:
        assert phrase in out, phrase


def test_edit_with_source_attributes_from_a_judge(run, tmp_path, capsys):
    """--classifier predicts each image's source attributes; the edit then flips from them.
    The photos are copied where no label file is, so no label-file fallback can answer."""
    import torch

    from stgan.attributes import DEFAULT_ATTRS
    from stgan.judge import build_classifier, save_judge

    out, faces = run
    photos = tmp_path / "photos"
    shutil.copytree(faces / "img_align_celeba", photos)
    torch.manual_seed(0)
    judge = tmp_path / "judge.pt"
    save_judge(judge, build_classifier(13, 32), DEFAULT_ATTRS, 32, "none")
    cmd = f"edit --checkpoint {out} --image {photos} --set Mustache=1"
    assert stgan(f"{cmd} --out {tmp_path / 'unlabelled'}") == 2  # no source: the fallback fails
    assert "source attributes" in capsys.readouterr().err
    dst = tmp_path / "edited"
    assert stgan(f"{cmd} --classifier {judge} --out {dst}") == 0
    assert len(list(dst.glob("*.png"))) == 3


@pytest.mark.slow  # matplotlib's layout of the curves (the shared run plots them too)
def test_plot_command(run, tmp_path, capsys):
    out, _ = run
    copy = tmp_path / "run"
    copy.mkdir()
    shutil.copy(out / "log.jsonl", copy / "log.jsonl")
    assert stgan(f"plot {copy}") == 0
    assert Image.open(copy / "losses.png").size[0] > 300
    assert stgan(f"plot {tmp_path}") == 2
    assert "no log.jsonl" in capsys.readouterr().err


def test_data_check_counts_rates_and_sheet(run, tmp_path, capsys):
    _, faces = run  # 3 synthetic faces in CelebA layout: square, so crop none
    sheet = tmp_path / "sheet.png"
    cmd = f"data check --data {faces} --size 32 --crop none --set data.test_fraction=0.34"
    assert stgan(f"{cmd} --sheet {sheet} --n 4") == 0
    out = capsys.readouterr().out
    assert "3 images — train 1, val 1, test 1" in out and "| Male |" in out
    assert "every one of the 3 images reads" in out
    assert Image.open(sheet).size == (2 + 34, 2 + 34)  # the one test image
    capsys.readouterr()
    assert stgan(f"data check --data {faces} --size 32 --crop center") == 0
    assert "records data.crop" not in capsys.readouterr().out  # an explicit crop is kept
    assert stgan(f"data check --data {faces} --size 32") == 0  # the folder's recorded crop
    assert "records data.crop=none" in capsys.readouterr().out


def test_data_check_reads_every_image(run, tmp_path, capsys):
    """Every image is decoded (not only the sheet's): one stdout line per unreadable image,
    then one error line and exit 2, and no sheet."""
    _, faces = run
    folder = tmp_path / "faces"
    shutil.copytree(faces, folder)
    images = sorted((folder / "img_align_celeba").iterdir())
    images[0].write_bytes(b"\x89PNG\r\n\x1a\n not really")  # corrupt
    images[2].write_bytes(images[2].read_bytes()[:80])  # truncated
    sheet = tmp_path / "sheet.png"
    assert stgan(f"data check --data {folder} --size 32 --sheet {sheet}") == 2
    out, err = capsys.readouterr()
    listed = [line for line in out.splitlines() if str(images[0].parent) in line]
    assert len(listed) == 2 and str(images[0]) in listed[0] and str(images[2]) in listed[1]
    assert images[1].name not in out
    assert "reading every image" in err  # the progress bar (stderr)
    assert err.splitlines()[-1].startswith("stgan: error: 2 of 3 images cannot be read")
    assert not sheet.exists()
    assert stgan(f"data check --data {folder} --size 32 --quiet") == 2
    assert capsys.readouterr().err.count("\n") == 1  # --quiet: the error line only


@pytest.mark.slow
def test_recipe_option_reaches_the_run_config(run, tmp_path):
    out, _ = run
    assert 'recipe = "paper"' in (out / "config.toml").read_text()  # the shared run's choice
    fast = tmp_path / "fast"
    cmd = f"train {FAST.replace('--recipe paper', '--recipe fast')} --out {fast} --max-steps 1"
    assert stgan(cmd) == 0
    text = (fast / "config.toml").read_text()
    assert 'recipe = "fast"' in text and "ema_decay = 0.99" in text
    assert checkpoint.load(fast)["config"]["recipe"] == "fast"
