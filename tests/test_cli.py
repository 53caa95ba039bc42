"""End to end through ``stgan.cli.main``: train, resume, edit, sample, and the error paths."""

import pytest
from PIL import Image

from stgan import checkpoint
from stgan.cli import main

FAST = [
    "--config", "tiny", "--quiet",
    "--set", "data.synthetic_n=48", "--set", "model.enc_dim=4", "--set", "model.dec_dim=4",
    "--set", "model.dis_dim=4", "--set", "model.dis_fc_dim=8", "--set", "train.batch_size=4",
    "--set", "train.n_critic=1", "--set", "train.n_samples=2", "--set", "data.num_workers=0",
]  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny run trained 2 steps, then resumed to 4; plus 3 synthetic faces to edit."""
    root = tmp_path_factory.mktemp("cli")
    out = root / "run"
    assert main(["train", *FAST, "--out", str(out), "--max-steps", "2"]) == 0
    assert main(["train", "--quiet", "--out", str(out), "--resume", "--max-steps", "4"]) == 0
    faces = root / "faces"
    assert (
        main(
            [
                "data",
                "synth",
                "--n",
                "3",
                "--size",
                "32",
                "--seed",
                "5",
                "--out",
                str(faces),
                "--quiet",
            ]
        )
        == 0
    )
    return out, faces


def test_train_and_resume_write_the_run_folder(run):
    out, _ = run
    assert (out / "config.toml").is_file() and (out / "log.jsonl").is_file()
    assert Image.open(out / "losses.png").size[0] > 300  # loss curves of the run
    assert checkpoint.load(out)["step"] == 4
    grids = sorted((out / "samples").glob("step_*.png"))
    assert grids[-1].name == "step_00000004.png"
    w, h = Image.open(grids[-1]).size
    assert (w, h) == (2 + 15 * 34, 2 + 2 * 34)  # input | rec | 13 flips, 2 rows of 32 px + pad


def test_edit_one_image_and_a_folder(run, tmp_path, capsys):
    out, faces = run
    img = sorted((faces / "img_align_celeba").iterdir())[0]
    dst = tmp_path / "one.png"
    assert (
        main(
            [
                "edit",
                "--checkpoint",
                str(out),
                "--image",
                str(img),
                "--set",
                "Blond_Hair=1",
                "--set",
                "Young=-0.4",
                "--source",
                "Male=1",
                "--out",
                str(dst),
            ]
        )
        == 0
    )
    assert Image.open(dst).size == (32, 32)
    plain = tmp_path / "plain"  # the checkpoints/ folder works as well as the run folder
    assert (
        main(
            [
                "edit",
                "--checkpoint",
                str(out / "checkpoints"),
                "--image",
                str(faces),
                "--set",
                "Eyeglasses=1",
                "--out",
                str(plain),
            ]
        )
        == 0
    )
    assert len(list(plain.glob("*.png"))) == 3
    folder = tmp_path / "many"
    assert (
        main(
            [
                "edit",
                "--checkpoint",
                str(out),
                "--image",
                str(faces),
                "--set",
                "Eyeglasses=1",
                "--side-by-side",
                "--out",
                str(folder),
            ]
        )
        == 0
    )
    written = sorted(p.name for p in folder.iterdir())
    assert len(written) == 3 and Image.open(folder / written[0]).size == (2 + 2 * 34, 36)


def test_sample_grid(run, tmp_path):
    out, faces = run
    dst = tmp_path / "grid.png"
    assert (
        main(
            [
                "sample",
                "--checkpoint",
                str(out),
                "--images",
                str(faces),
                "--out",
                str(dst),
                "--n",
                "3",
            ]
        )
        == 0
    )
    assert Image.open(dst).size == (2 + 15 * 34, 2 + 3 * 34)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--set", "Blonde=1"], "unknown attribute Blonde"),
        (["--set", "Blond_Hair"], "malformed --set"),
        (["--set", "Blond_Hair=3"], "malformed --set"),
        (["--set", "Bald=1", "--set", "Bangs=1"], "conflict"),
    ],
)
def test_edit_errors_are_one_line_exit_2(run, tmp_path, capsys, argv, message):
    out, faces = run
    img = sorted((faces / "img_align_celeba").iterdir())[0]
    dst = tmp_path / "x.png"
    code = main(
        [
            "edit",
            "--checkpoint",
            str(out),
            "--image",
            str(img),
            "--source",
            "Male=1",
            *argv,
            "--out",
            str(dst),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not dst.exists()


def test_checkpoint_and_image_errors(run, tmp_path, capsys):
    out, faces = run
    img = sorted((faces / "img_align_celeba").iterdir())[0]
    bad_ckpt = tmp_path / "bad.pt"
    bad_ckpt.write_bytes(b"\x00" * 64)
    bad_img = tmp_path / "bad.png"
    bad_img.write_bytes(b"not a png")
    cases = [
        (["--checkpoint", str(tmp_path / "missing"), "--image", str(img)], "does not exist"),
        (["--checkpoint", str(bad_ckpt), "--image", str(img)], "corrupt"),
        (["--checkpoint", str(out), "--image", str(bad_img)], "bad.png"),
    ]
    for argv, message in cases:
        dst = tmp_path / "y.png"
        code = main(["edit", *argv, "--set", "Male=0", "--source", "Male=1", "--out", str(dst)])
        err = capsys.readouterr().err
        assert code == 2 and message in err and "Traceback" not in err, err
        assert not dst.exists()


def test_resume_with_another_configuration_is_refused(run, capsys):
    out, _ = run
    code = main(["train", "--quiet", "--out", str(out), "--resume", "--set", "model.enc_dim=8"])
    err = capsys.readouterr().err
    assert code == 2 and "model.enc_dim=4" in err and "model.enc_dim" in err
    assert checkpoint.load(out)["step"] == 4
    code = main(["train", *FAST, "--out", str(out), "--max-steps", "1"])
    assert code == 2 and "--resume" in capsys.readouterr().err


def test_train_config_errors(tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "--config",
                "tiny",
                "--set",
                "train.batchsize=3",
                "--out",
                str(tmp_path / "r"),
            ]
        )
        == 2
    )
    assert "unknown config field train.batchsize" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                "--config",
                "tiny",
                "--set",
                "data.attrs=Bald,Smiling",
                "--out",
                str(tmp_path / "r"),
            ]
        )
        == 2
    )
    assert "Smiling" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_help_explains_every_command(capsys):
    for cmd in ("train", "edit", "sample", "bench"):
        with pytest.raises(SystemExit) as e:
            main([cmd, "--help"])
        assert e.value.code == 0
        assert "--" in capsys.readouterr().out


def test_edit_with_source_attributes_from_a_judge(run, tmp_path):
    """--classifier predicts each image's source attributes; the edit then flips from them."""
    import torch

    from stgan.attributes import DEFAULT_ATTRS
    from stgan.judge import build_classifier, save_judge

    out, faces = run
    torch.manual_seed(0)
    judge = tmp_path / "judge.pt"
    save_judge(judge, build_classifier(13, 32), DEFAULT_ATTRS, 32, "none")
    dst = tmp_path / "edited"
    assert (
        main(
            [
                "edit",
                "--checkpoint",
                str(out),
                "--image",
                str(faces),
                "--classifier",
                str(judge),
                "--set",
                "Mustache=1",
                "--out",
                str(dst),
            ]
        )
        == 0
    )
    assert len(list(dst.glob("*.png"))) == 3


def test_plot_command(run, tmp_path, capsys):
    out, _ = run
    (out / "losses.png").unlink()
    assert main(["plot", str(out)]) == 0 and (out / "losses.png").is_file()
    assert main(["plot", str(tmp_path)]) == 2
    assert "no log.jsonl" in capsys.readouterr().err
