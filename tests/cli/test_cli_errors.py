"""Every CLI-level row of issue 10's list of bad inputs, through ``main(argv)``: exit status 2,
exactly one line on stderr, no traceback, and nothing written or changed on disk."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest
from cli_helpers import FAST, fails, first_face
from PIL import Image

from stgan.cli import main


@pytest.fixture
def work(run, tmp_path):
    """tmp_path with a copy of one face (photo.png), a folder of faces, an existing file and
    an existing folder; the shared run and faces are watched too."""
    out, faces = run
    shutil.copy(first_face(faces), tmp_path / "photo.png")
    shutil.copytree(faces / "img_align_celeba", tmp_path / "photos")
    (tmp_path / "file.txt").write_text("keep me\n")
    (tmp_path / "folder.png").mkdir()  # a folder with an image's name
    (tmp_path / "exists.png").write_bytes((tmp_path / "photo.png").read_bytes())
    return tmp_path, out, faces


def edit(out: Path, image: Path, extra: str = "") -> str:
    return f"edit --checkpoint {out} --image {image} --set Male=1 --source Young=1 {extra}"


def test_edit_never_replaces_its_input(work, capsys):
    tmp, out, faces = work
    photo = tmp / "photo.png"
    fails(capsys, edit(out, photo, f"--out {photo}"), "is an input", tmp, out, faces)
    fails(capsys, edit(out, photo, f"--out {photo} --overwrite"), "is an input", tmp, out)
    photos = tmp / "photos"
    fails(capsys, edit(out, photos, f"--out {photos}"), "holds the input", tmp, out)
    fails(capsys, edit(out, photos, f"--out {photos} --overwrite"), "holds the input", tmp)
    fails(capsys, edit(out, faces, f"--out {faces}"), "holds the input", tmp, out, faces)


def test_existing_outputs_are_refused_without_overwrite(work, capsys):
    tmp, out, faces = work
    exists = tmp / "exists.png"
    fails(capsys, edit(out, tmp / "photo.png", f"--out {exists}"), "--overwrite", tmp, out)
    cmd = f"sample --checkpoint {out} --images {faces} --n 2 --out {exists}"
    fails(capsys, cmd, "already exists", tmp, out, faces)
    folder = tmp / "edited"
    folder.mkdir()
    (folder / "000002.png").write_text("an earlier edit")
    fails(capsys, edit(out, tmp / "photos", f"--out {folder}"), "000002.png", tmp, out)
    # with --overwrite they are replaced
    assert main(shlex.split(edit(out, tmp / "photo.png", f"--out {exists} --overwrite"))) == 0
    assert Image.open(exists).size == (32, 32)
    assert main(shlex.split(edit(out, tmp / "photos", f"--out {folder} --overwrite"))) == 0
    assert Image.open(folder / "000002.png").size == (32, 32)


def test_outputs_of_the_wrong_kind(work, capsys):
    tmp, out, faces = work
    file, folder = tmp / "file.txt", tmp / "folder.png"
    fails(capsys, edit(out, tmp / "photo.png", f"--out {folder}"), "is a folder", tmp)
    fails(capsys, edit(out, tmp / "photos", f"--out {file}"), "is a file", tmp)
    fails(capsys, edit(out, tmp / "photos", f"--out {tmp / 'x.png'}"), "must be a folder", tmp)
    fails(capsys, edit(out, tmp / "photo.png", f"--out {tmp / 'x.gif'}"), ".png", tmp)
    cmd = f"sample --checkpoint {out} --images {faces} --out {folder}"
    fails(capsys, cmd, "is a folder", tmp, out, faces)
    fails(capsys, f"eval --checkpoint {out} --out {file} --limit 2", "is a file", tmp, out)
    fails(capsys, f"train {FAST} --out {file} --max-steps 2", "is a file", tmp)
    fails(capsys, f"train --out {file} --resume", "is a file", tmp)
    fails(capsys, f"train --out {tmp / 'file.txt' / 'run'} --max-steps 2", "is a file", tmp)
    cmd = "train-classifier --img-size 32 --epochs 1 --set data.synthetic_n=16"
    fails(capsys, f"{cmd} --out {file}", "is a file", tmp)
    fails(capsys, f"data check --data {faces} --size 32 --sheet {folder}", "is a folder", tmp)
    fails(capsys, f"data synth --n 2 --size 32 --out {file}", "is a file", tmp)


def test_existing_reports_are_kept_and_checked_before_the_work(work, capsys):
    tmp, out, faces = work
    report = tmp / "report"
    report.mkdir()
    (report / "report.md").write_text("an earlier report")
    fails(capsys, f"eval --checkpoint {out} --out {report} --limit 2", "--overwrite", tmp, out)
    judge = tmp / "judge"
    judge.mkdir()
    (judge / "classifier.pt").write_text("an earlier judge")
    # 100 epochs on 4000 faces would take minutes: the refusal comes before any of it
    cmd = f"train-classifier --img-size 32 --epochs 100 --set data.synthetic_n=4000 --out {judge}"
    fails(capsys, cmd, "already exists", tmp)
    sheet = tmp / "exists.png"
    fails(capsys, f"data check --data {faces} --size 32 --sheet {sheet}", "--overwrite", tmp)


def test_unwritable_output_folders(work, capsys, monkeypatch):
    """A read-only folder (simulated: the tests may run as root, who may write anywhere)."""
    import os

    tmp, out, faces = work
    ro = tmp / "readonly"
    ro.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        "stgan.outputs.os.access",
        lambda p, mode: False if Path(p) == ro else real_access(p, mode),
    )
    fails(capsys, edit(out, tmp / "photo.png", f"--out {ro / 'x.png'}"), "not writable", tmp)
    fails(capsys, edit(out, tmp / "photos", f"--out {ro / 'sub' / 'dir'}"), "not writable", tmp)
    cmd = f"sample --checkpoint {out} --images {faces} --out {ro / 'g.png'}"
    fails(capsys, cmd, "not writable", tmp)
    fails(capsys, f"eval --checkpoint {out} --out {ro / 'r'} --limit 2", "not writable", tmp)
    fails(capsys, f"train {FAST} --out {ro / 'run'} --max-steps 2", "not writable", tmp)
    cmd = "train-classifier --img-size 32 --epochs 1 --set data.synthetic_n=16"
    fails(capsys, f"{cmd} --out {ro / 'j'}", "not writable", tmp)
    cmd = f"data check --data {faces} --size 32 --sheet {ro / 's.png'}"
    fails(capsys, cmd, "not writable", tmp)
    fails(capsys, f"data synth --n 2 --size 32 --out {ro / 'd'}", "not writable", tmp)
    fails(capsys, f"study --out {ro / 's'} --max-steps 1", "not writable", tmp)


def test_os_errors_become_one_line(work, capsys, monkeypatch):
    """An OSError the checks could not foresee (a full disk) is one line, not a traceback."""
    import errno

    tmp, out, _ = work

    def full(*args, **kw):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp / "x.png"))

    monkeypatch.setattr("stgan.outputs.write_png", full, raising=False)
    monkeypatch.setattr("stgan.imageio.atomic_write_bytes", full)
    fails(capsys, edit(out, tmp / "photo.png", f"--out {tmp / 'x.png'}"), "No space left", tmp)


def test_image_errors_become_one_line(work, capsys, monkeypatch):
    tmp, out, faces = work
    (tmp / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    fails(capsys, edit(out, tmp / "bad.png", f"--out {tmp / 'x.png'}"), "bad.png", tmp)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 32 x 32 faces are now "bombs"
    fails(capsys, edit(out, tmp / "photo.png", f"--out {tmp / 'x.png'}"), "photo.png", tmp)
    cmd = f"data check --data {faces} --size 32 --sheet {tmp / 's.png'} --quiet"
    fails(capsys, cmd, "3 of 3 images cannot be read", tmp)


@pytest.mark.parametrize(
    "bad, message",
    [
        ("--max-steps 0", "--max-steps"),
        ("--max-steps -3", "--max-steps"),
        ("--max-minutes 0", "--max-minutes"),
        ("--set train.lr=nan", "train.lr"),
        ("--set train.lr=-0.1", "train.lr"),
        ("--set train.lr=inf", "train.lr"),
        ("--set train.w_gp=nan", "train.w_gp"),
        ("--set train.beta1=1.5", "train.beta1"),
        ("--set data.num_workers=-1", "data.num_workers"),
        ("--recipe slow", "--recipe"),
    ],
)
def test_train_refuses_bad_values_before_writing(tmp_path, capsys, bad, message):
    fails(capsys, f"train {FAST} --out {tmp_path / 'run'} {bad}", message, tmp_path)


def test_resume_errors(work, capsys):
    tmp, out, _ = work
    fails(capsys, "train --resume --max-steps 9", "--resume needs --out", tmp, out)
    fails(capsys, f"train --out {tmp / 'new'} --resume", "no checkpoint", tmp)
    fails(capsys, f"train --resume-from {tmp / 'none.pt'}", "not a checkpoint file", tmp, out)
    fails(capsys, f"train --resume-from {tmp / 'file.txt'}", "corrupt", tmp)  # not a torch file
    fails(capsys, f"train --out {out} --resume --recipe fast", "keeps its recipe", out)


@pytest.mark.parametrize(
    "bad, message",
    [
        ("--n 0", "--n"),
        ("--n -3", "--n"),
        ("--labels {tmp}/missing.txt", "label file"),
        ("--source Male=1 --labels {faces}/list_attr_celeba.txt", "only one"),
        ("--source Male=1 --classifier {tmp}/judge.pt", "only one"),
        ("--labels {tmp}/file.txt", "file.txt"),
    ],
)
def test_sample_source_errors(work, capsys, bad, message):
    tmp, out, faces = work
    argv = f"sample --checkpoint {out} --images {faces} --out {tmp / 'g.png'} "
    fails(capsys, argv + bad.format(tmp=tmp, faces=faces), message, tmp, out, faces)


def test_missing_label_column(work, capsys):
    tmp, out, _ = work
    labels = tmp / "labels.csv"
    labels.write_text("file,Male\nphoto.png,1\n")
    argv = edit(out, tmp / "photo.png", f"--out {tmp / 'x.png'}").replace(" --source Young=1", "")
    fails(capsys, f"{argv} --labels {labels}", "has no column", tmp)


def test_usage_errors_are_one_line(capsys, tmp_path):
    fails(capsys, "edit --image x.png", "required", tmp_path)
    fails(capsys, "nonsense", "invalid choice", tmp_path)
    fails(capsys, "train --max-steps many", "--max-steps", tmp_path)


def test_error_message_maps_library_and_system_errors():
    """The one place that turns errors into a line: Pillow's, OSError, config ValueErrors."""
    import errno

    from PIL import UnidentifiedImageError

    from stgan.cli import error_message
    from stgan.errors import UserError

    assert error_message(UserError("bad\nthing")) == "bad thing"
    bomb = Image.DecompressionBombError("Image size (400000000 pixels) exceeds limit")
    assert error_message(bomb) == "cannot read image: Image size (400000000 pixels) exceeds limit"
    bad = UnidentifiedImageError("cannot identify image file 'x.png'")
    assert error_message(bad) == "cannot read image: cannot identify image file 'x.png'"
    denied = PermissionError(errno.EACCES, "Permission denied", "/data/out.png")
    assert error_message(denied).startswith("/data/out.png: Permission denied; check")
    try:  # a ValueError raised inside stgan/config.py (code compiled under that name)
        exec(compile("raise ValueError('train.lr must be finite')", "src/stgan/config.py", "exec"))
    except ValueError as e:
        assert error_message(e) == "invalid configuration: train.lr must be finite"
    try:
        raise ValueError("a bug elsewhere")
    except ValueError as e:
        assert error_message(e) is None  # a bug keeps its traceback
    assert error_message(KeyError("x")) is None
