"""``stgan edit`` modes of the official test code (--flip, --slide/--sweep) and --align.

Expected images are made with the run's own Editor from targets written out by hand, so a
test fails if the command builds another target (a conflict rule applied where none should
be, another strength) or writes another layout."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import fails, first_face, stgan
from PIL import Image

PAD, S = 2, 32  # the strip's padding and the tiny run's image size
SOURCE = "--source Male=1,Black_Hair=1"


def read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def tiles(strip: np.ndarray, n: int) -> list[np.ndarray]:
    """The ``n`` columns of a strip of S-px tiles (its label band, if any, is below)."""
    return [strip[PAD : PAD + S, PAD + c * (S + PAD) : PAD + c * (S + PAD) + S] for c in range(n)]


def editor_and_input(run_dir: Path, photo: Path):
    from stgan.inference import Editor
    from stgan.photos import load_images

    editor = Editor.from_checkpoint(run_dir, "cpu")
    return editor, load_images([photo], editor.crop, editor.img_size)


def encoded(editor, on: dict[str, float]) -> torch.Tensor:
    """An encoded target row written by hand: -0.5 for every attribute but those given."""
    return torch.tensor([[on.get(n, -0.5) for n in editor.attr_names]])


def source01(editor, names=("Male", "Black_Hair")) -> torch.Tensor:
    return torch.tensor([[1.0 if n in names else 0.0 for n in editor.attr_names]])


def test_slide_writes_a_strip_and_a_gif_of_the_hand_computed_targets(run, tmp_path, capsys):
    out, faces = run
    photo = first_face(faces)
    dst = tmp_path / "slide.png"
    argv = f"edit --checkpoint {out} --image {photo} {SOURCE} --slide Blond_Hair --n 5 --out {dst}"
    assert stgan(argv + " --quiet") == 0
    assert f"{dst.with_suffix('.gif')}" in capsys.readouterr().out
    strip = read(dst)
    assert strip.shape[1] == PAD + 6 * (S + PAD)  # input + 5 values
    editor, x = editor_and_input(out, photo)
    assert np.array_equal(tiles(strip, 1)[0], x[0])  # the first column is the input
    # t = -1, -0.5, 0, 0.5, 1 on Blond_Hair; Black_Hair stays on (+0.5): no conflict rule
    src = source01(editor)
    want = editor.edit_codes(
        x, src, [encoded(editor, {"Male": 0.5, "Black_Hair": 0.5, "Blond_Hair": t})
                 for t in (-1.0, -0.5, 0.0, 0.5, 1.0)]
    )  # fmt: skip
    for got, w in zip(tiles(strip, 6)[1:], want, strict=True):
        assert np.array_equal(got, w[0])
    # the conflict rule would have cleared Black_Hair: another image (the test can tell)
    cleared = editor.edit_codes(x, src, [encoded(editor, {"Male": 0.5, "Blond_Hair": 1.0})])
    assert not np.array_equal(cleared[0][0], want[-1][0])
    with Image.open(dst.with_suffix(".gif")) as gif:
        assert gif.n_frames == 5 and gif.size == (S, S) and gif.info["loop"] == 0


@pytest.mark.slow
def test_sweep_is_slide_and_writes_name_png_and_gif_per_image(run, tmp_path):
    out, faces = run
    a, b = tmp_path / "sweep", tmp_path / "slide"
    base = f"edit --checkpoint {out} --image {faces} {SOURCE} --quiet --range=-0.5,1"
    assert stgan(f"{base} --sweep Young --out {a}") == 0
    assert stgan(f"{base} --slide Young --out {b}") == 0
    names = sorted(p.name for p in a.iterdir())
    assert names == ["000001.gif", "000001.png", "000002.gif", "000002.png", "000003.gif",
                     "000003.png"]  # fmt: skip
    for n in names:
        assert (a / n).read_bytes() == (b / n).read_bytes(), n
    strip = read(a / "000002.png")
    assert strip.shape[1] == PAD + 9 * (S + PAD)  # the default 8 values + the input
    with Image.open(a / "000002.gif") as gif:
        assert gif.n_frames == 8


def test_range_with_a_leading_minus_needs_no_equals_sign(run, tmp_path):
    out, faces = run
    dst = tmp_path / "s.png"
    argv = f"edit --checkpoint {out} --image {first_face(faces)} {SOURCE} --quiet"
    assert stgan(f"{argv} --slide Young --range -1,-0.2 --n 2 --out {dst}") == 0
    assert read(dst).shape[1] == PAD + 3 * (S + PAD)


def test_flip_flips_in_turn_with_conflicts_at_the_official_strength(run, tmp_path):
    out, faces = run
    photo = first_face(faces)
    editor, x = editor_and_input(out, photo)
    src = source01(editor)
    cmd = f"edit --checkpoint {out} --image {photo} {SOURCE} --quiet"
    assert stgan(f"{cmd} --flip Blond_Hair,Male --out {tmp_path / 'f.png'}") == 0
    # Blond_Hair 0 -> 1 clears Black_Hair; Male 1 -> 0: every target at ±0.5 (att_diff ±1)
    (want,) = editor.edit_codes(x, src, [encoded(editor, {"Blond_Hair": 0.5})])
    assert np.array_equal(read(tmp_path / "f.png"), want[0])
    # =T scales the listed attribute's target (test.py's --test_ints)
    assert stgan(f"{cmd} --flip Blond_Hair=2 --flip Male --out {tmp_path / 'g.png'}") == 0
    (want2,) = editor.edit_codes(x, src, [encoded(editor, {"Blond_Hair": 1.0})])
    assert np.array_equal(read(tmp_path / "g.png"), want2[0])
    assert not np.array_equal(want[0], want2[0])  # the two strengths are told apart


def test_set_is_unchanged_by_the_new_modes(run, tmp_path):
    out, faces = run
    photo = first_face(faces)
    editor, x = editor_and_input(out, photo)
    dst = tmp_path / "s.png"
    assert stgan(f"edit --checkpoint {out} --image {photo} {SOURCE} --set Blond_Hair=1 "
                 f"--quiet --out {dst}") == 0  # fmt: skip
    # set: Blond on at the test strength (+1, att_diff +1.5), Black_Hair cleared
    (want,) = editor.edit_codes(
        x, source01(editor), [encoded(editor, {"Male": 0.5, "Blond_Hair": 1.0})]
    )
    assert np.array_equal(read(dst), want[0])


def test_a_black_and_white_face_is_edited_in_grey(run, tmp_path):
    out, faces = run
    grey = tmp_path / "grey.png"
    Image.open(first_face(faces)).convert("L").save(grey)
    dst = tmp_path / "g.png"
    assert stgan(f"edit --checkpoint {out} --image {grey} {SOURCE} --set Blond_Hair=1 "
                 f"--quiet --out {dst}") == 0  # fmt: skip
    editor, x = editor_and_input(out, grey)
    (colour,) = editor.edit_codes(
        x, source01(editor), [encoded(editor, {"Male": 0.5, "Blond_Hair": 1.0})]
    )
    luma = np.asarray(Image.fromarray(colour[0]).convert("L")).astype(int)
    got = read(dst)
    assert np.array_equal(got[..., 0], got[..., 1]) and np.array_equal(got[..., 1], got[..., 2])
    assert np.abs(got[..., 0].astype(int) - luma).max() <= 1  # the edit's luminance


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("--flip Blond", "unknown attribute Blond in --flip"),
        ("--slide Blondie", "unknown attribute Blondie in --slide"),
        ("--sweep Blondie", "unknown attribute Blondie in --sweep"),
        ("--slide Young --range 1,1", "malformed --range '1,1'"),
        ("--slide Young --range=-1", "malformed --range"),
        ("--slide Young --range a,b", "malformed --range"),
        ("--slide Young --n 1", "at least 2 values"),
        ("--set Young=1 --flip Male", "not allowed with argument --set"),
        ("--flip Male --slide Young", "not allowed with argument --flip"),
        ("--slide Young --sweep Male", "not allowed with argument --slide"),
        ("--flip Male --n 4", "--n and --range belong to a slide"),
        ("--set Male=0 --range=-1,1", "--n and --range belong to a slide"),
        ("--flip Male,Male", "names Male twice"),
        ("--flip Male=0", "malformed --flip 'Male=0'"),
        ("--slide Young --side-by-side", "--side-by-side does not apply to --slide"),
        ("--flip Male --all-faces", "--all-faces needs --align"),
        ("--flip Male --align --crop none", "--crop does not apply with --align"),
        ("", "name what to change"),
    ],
)
def test_mode_errors_are_one_line_exit_2_nothing_written(run, tmp_path, capsys, extra, message):
    out, faces = run
    photo = tmp_path / "photo.png"
    shutil.copy(first_face(faces), photo)
    argv = f"edit --checkpoint {out} --image {photo} {SOURCE} {extra} --out {tmp_path / 'x.png'}"
    fails(capsys, argv, message, tmp_path, out)


def test_slide_outputs_are_checked_before_any_work(run, tmp_path, capsys):
    out, faces = run
    photo = tmp_path / "photo.png"
    shutil.copy(first_face(faces), photo)
    cmd = f"edit --checkpoint {out} {SOURCE} --slide Young --n 2"
    (tmp_path / "x.gif").write_bytes(b"an earlier GIF")  # the strip is new, its GIF is not
    fails(capsys, f"{cmd} --image {photo} --out {tmp_path / 'x.png'}", "x.gif already exists",
          tmp_path)  # fmt: skip
    folder = tmp_path / "edited"
    folder.mkdir()
    (folder / "photo.gif").write_bytes(b"an earlier GIF")
    fails(capsys, f"{cmd} --image {photo} --out {folder}", "photo.gif", tmp_path)
    as_gif = tmp_path / "y.gif"  # an input that the GIF of --out y.png would replace
    as_gif.write_bytes(photo.read_bytes())
    fails(capsys, f"{cmd} --image {as_gif} --out {tmp_path / 'y.png'} --overwrite",
          "is an input", tmp_path)  # fmt: skip
    assert stgan(f"{cmd} --image {photo} --out {tmp_path / 'x.png'} --overwrite --quiet") == 0
    with Image.open(tmp_path / "x.gif") as gif:
        assert gif.n_frames == 2


# --- --align on a real photo (scikit-image's astronaut) ---


@pytest.fixture(scope="module")
def astronaut(tmp_path_factory) -> Path:
    from skimage import data

    path = tmp_path_factory.mktemp("photos") / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


@pytest.mark.slow
def test_align_pastes_the_edit_back_and_leaves_far_pixels_alone(run, astronaut, tmp_path):
    out, _ = run
    dst = tmp_path / "edited.png"
    argv = f"edit --checkpoint {out} --image {astronaut} --align --source Male=0 --quiet"
    assert stgan(f"{argv} --set Eyeglasses=1 --out {dst}") == 0
    photo, edited = read(astronaut), read(dst)
    assert edited.shape == photo.shape  # the full photo, not the 32 px face
    changed = np.abs(edited.astype(int) - photo).max(axis=-1) > 0
    assert changed[60:180, 170:280].mean() > 0.5  # the face (box about x 178-270, y 69-161)
    assert not changed[300:, :].any() and not changed[:, 350:].any()  # far from it: kept
    sbs = tmp_path / "sbs.png"
    assert stgan(f"{argv} --flip Eyeglasses --side-by-side --out {sbs}") == 0
    pair = read(sbs)
    assert pair.shape == (512 + 2 * PAD, 2 * 512 + 3 * PAD, 3)
    assert np.array_equal(pair[PAD : PAD + 512, PAD : PAD + 512], photo)


@pytest.mark.slow
def test_align_slide_and_all_faces(run, astronaut, tmp_path, capsys):
    out, _ = run
    one = np.asarray(Image.open(astronaut).resize((256, 256), Image.Resampling.LANCZOS))
    pair = np.concatenate([one, one[:, ::-1]], axis=1)  # two faces: it and its mirror image
    two = tmp_path / "two.png"
    Image.fromarray(pair).save(two)
    argv = f"edit --checkpoint {out} --image {two} --align --source Male=0 --quiet"
    assert stgan(f"{argv} --set Bald=1 --out {tmp_path / 'largest.png'}") == 0
    assert "(1 face)" in capsys.readouterr().out
    largest = np.abs(read(tmp_path / "largest.png").astype(int) - pair).max(-1) > 0
    assert largest[:, :256].any() != largest[:, 256:].any()  # one face only
    assert stgan(f"{argv} --all-faces --slide Bald --n 3 --out {tmp_path / 'all.png'}") == 0
    assert "(2 faces)" in capsys.readouterr().out
    strip = read(tmp_path / "all.png")
    h, w = pair.shape[:2]  # full-size tiles (≤ 1024 px): the input and 3 pasted-back photos
    assert strip.shape[1] == PAD + 4 * (w + PAD) and strip.shape[0] >= h + 2 * PAD
    assert np.array_equal(strip[PAD : PAD + h, PAD : PAD + w], pair)
    last = strip[PAD : PAD + h, PAD + 3 * (w + PAD) : PAD + 3 * (w + PAD) + w]
    changed = np.abs(last.astype(int) - pair).max(-1) > 0
    assert changed[:, :256].any() and changed[:, 256:].any()  # both faces edited
    with Image.open(tmp_path / "all.gif") as gif:
        assert gif.n_frames == 3 and gif.size == (w, h)


@pytest.mark.slow
def test_align_notes_estimated_eyes(run, astronaut, tmp_path, capsys, monkeypatch):
    """The detector's fallback (eyes estimated from the box) is announced in one line."""
    from dataclasses import replace

    from stgan.align import detect_faces as real

    monkeypatch.setattr(
        "stgan.align.detect_faces", lambda p: [replace(f, eyes_found=False) for f in real(p)]
    )
    out, _ = run
    dst = tmp_path / "e.png"
    argv = f"edit --checkpoint {out} --image {astronaut} --align --source Male=0"
    assert stgan(f"{argv} --set Bald=1 --quiet --out {dst}") == 0
    err = capsys.readouterr().err
    assert f"note: {astronaut}: eyes not found in 1 of 1 face(s)" in err
    assert dst.is_file()


@pytest.mark.slow
def test_align_errors(run, astronaut, tmp_path, capsys):
    out, _ = run
    blank = tmp_path / "wall.png"  # no face anywhere
    Image.fromarray(np.tile(np.linspace(0, 255, 300, dtype=np.uint8)[:, None, None],
                            (1, 200, 3))).save(blank)  # fmt: skip
    cmd = f"edit --checkpoint {out} --align --set Bald=1 --quiet"
    fails(capsys, f"{cmd} --source Male=0 --image {blank} --out {tmp_path / 'x.png'}",
          f"no face found in {blank}", tmp_path)  # fmt: skip
    fails(capsys, f"{cmd} --image {astronaut} --out {tmp_path / 'x.png'}",
          "--align needs the source attributes", tmp_path)  # fmt: skip
    fails(capsys, f"{cmd} --labels {tmp_path} --image {astronaut} --out {tmp_path / 'x.png'}",
          "--labels does not apply with --align", tmp_path)  # fmt: skip
    # a folder with a face-less photo among good ones: nothing at all is written
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(astronaut, photos / "a.png")
    shutil.copy(blank, photos / "b.png")
    fails(capsys, f"{cmd} --source Male=0 --image {photos} --out {tmp_path / 'out'}",
          "no face found in", tmp_path)  # fmt: skip


@pytest.mark.slow
def test_align_judge_sees_the_aligned_face(run, astronaut, tmp_path, monkeypatch):
    """--classifier with --align: the judge gets the aligned face (the model's input), and
    its prediction is the source: the result equals the --source edit with the same row."""
    from stgan.align import align, detect_faces, eye_layout, read_photo
    from stgan.attributes import DEFAULT_ATTRS
    from stgan.inference import Editor
    from stgan.judge import build_classifier, save_judge

    out, _ = run
    judge = tmp_path / "judge.pt"
    save_judge(judge, build_classifier(13, 32), DEFAULT_ATTRS, 32, "none")
    seen = []

    def predict(self, images, batch_size=256):
        seen.append(np.array(images))
        row = [1 if n in ("Bald", "Young") else 0 for n in self.attr_names]
        return np.tile(np.array(row, dtype=np.uint8), (len(images), 1))

    monkeypatch.setattr("stgan.judge.Judge.predict", predict)
    argv = f"edit --checkpoint {out} --image {astronaut} --align --set Bald=1 --quiet"
    assert stgan(f"{argv} --classifier {judge} --out {tmp_path / 'j.png'}") == 0
    assert stgan(f"{argv} --source Bald=1,Young=1 --out {tmp_path / 's.png'}") == 0
    assert np.array_equal(read(tmp_path / "j.png"), read(tmp_path / "s.png"))
    editor = Editor.from_checkpoint(out, "cpu")
    photo = read_photo(astronaut)
    face = align(photo, detect_faces(photo)[0], eye_layout(editor.cfg), editor.img_size).face
    (images,) = seen
    assert images.shape == (1, S, S, 3) and np.array_equal(images[0], face)
    # a source without Bald: att_diff +1.5 on Bald instead of +0.5, another image
    assert stgan(f"{argv} --source Young=1 --out {tmp_path / 'z.png'}") == 0
    assert not np.array_equal(read(tmp_path / "z.png"), read(tmp_path / "s.png"))
