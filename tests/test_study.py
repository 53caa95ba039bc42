"""``stgan study``: variants trained for one budget, evaluated, tabulated; resumable."""

from __future__ import annotations

import json

import pytest

from stgan.cli import main
from stgan.errors import UserError

TINY = ["model.enc_dim=4", "model.dec_dim=4", "model.dis_dim=4", "model.dis_fc_dim=8",
        "train.batch_size=4", "train.n_critic=1", "data.synthetic_n=40"]  # fmt: skip


def recompute(run, judge_file, n: int) -> tuple[float, list[float]]:
    """A variant's reconstruction PSNR and per-attribute generation accuracy (strength 1) on
    the first ``n`` test images, computed here image by image (reference §6)."""
    import numpy as np
    import torch

    from stgan import metrics
    from stgan.attributes import Coding
    from stgan.data import open_dataset
    from stgan.editing import edit, flip_target, reconstruct
    from stgan.imageio import to_float, to_uint8
    from stgan.inference import Editor
    from stgan.judge import Judge

    editor, judge = Editor.from_checkpoint(run), Judge.from_file(judge_file)
    coding, names = Coding(editor.cfg.model.label, 0.5, 1.0), editor.attr_names
    test = open_dataset(editor.cfg.data, editor.cfg.model.img_size, "test", progress=False)
    x_u8 = np.stack([test.image_uint8(i) for i in range(n)])
    x, src = to_float(x_u8), torch.from_numpy(test.labels[:n]).float()
    psnr = metrics.psnr(x_u8, to_uint8(reconstruct(editor.G, x, src, coding))).mean()
    accuracy = []
    for i in range(len(names)):
        tgt01, tgt = flip_target(src, names, i, coding)
        pred = judge.predict(to_uint8(edit(editor.G, x, src, tgt, coding)))
        accuracy.append(float((pred[:, i] == tgt01[:, i].numpy()).mean()))
    return float(psnr), accuracy


@pytest.mark.slow
def test_study_two_variants_then_resume(tmp_path, capsys):
    from stgan.study import run_study

    out = tmp_path / "study"
    sets = [a for s in TINY for a in ("--set", s)]
    argv = ["study", "--out", str(out), "--variants", "attgan-ed", "stgan", "--max-steps", "2",
            "--judge-epochs", "1", "--limit", "3", "--device", "cpu", "--quiet", *sets]  # fmt: skip
    assert main(argv) == 0
    assert "| attgan-ed |" in capsys.readouterr().out
    study = json.loads((out / "study.json").read_text())
    v = study["variants"]
    assert list(v) == ["attgan-ed", "stgan"]
    assert v["attgan-ed"]["steps"] == v["stgan"]["steps"] == 2
    assert v["attgan-ed"]["G_params"] < v["stgan"]["G_params"]  # no skips vs 4 STUs
    for name, r in v.items():
        assert r["n_images"] == 3 and r["gt_edit_psnr"] > 0
        assert list(r["accuracy"]) == study["attr_names"]
        psnr, accuracy = recompute(out / name, out / "judge" / "classifier.pt", 3)
        assert r["psnr"] == pytest.approx(psnr, rel=1e-9)
        assert list(r["accuracy"].values()) == pytest.approx(accuracy, abs=1e-12)
        assert r["accuracy_mean"] == pytest.approx(sum(accuracy) / len(accuracy), abs=1e-12)
    assert study["classifier"].endswith("judge/classifier.pt")
    md = (out / "study.md").read_text()
    assert "| stgan |" in md and "GT edit PSNR" in md
    assert (out / "study_scatter.png").stat().st_size > 1000
    assert (out / "stgan" / "eval" / "report.md").is_file()

    ckpt = out / "stgan" / "checkpoints" / "step_00000002.pt"
    mtime = ckpt.stat().st_mtime_ns
    messages: list[str] = []
    again = run_study(out, "tiny", "synthetic", ["attgan-ed", "stgan"], max_steps=2,
                      overrides=TINY, limit=3, progress=False, log=messages.append)  # fmt: skip
    assert sum("already done" in m for m in messages) == 2
    assert any("judge trained earlier" in m for m in messages)
    assert ckpt.stat().st_mtime_ns == mtime  # nothing retrained
    assert again["variants"] == study["variants"]


def test_study_rejects_bad_budgets(tmp_path):
    from stgan.study import run_study

    with pytest.raises(UserError, match="max-steps"):
        run_study(tmp_path, max_steps=0, overrides=TINY, progress=False)
    with pytest.raises(UserError, match="at least one variant"):
        run_study(tmp_path, variants=[], max_steps=1, overrides=TINY, progress=False)


def test_study_table_has_both_preservation_errors():
    from stgan.study import format_study

    row = {"preset": "stgan", "G_params": 1234, "steps": 2, "train_minutes": 0.5, "psnr": 25.0,
           "ssim": 0.8, "accuracy_mean": 0.5, "preservation_mean": 0.1,
           "preservation_official_mean": 0.25, "gt_edit_psnr": None, "gt_edit_ssim": None,
           "gt_identity_psnr": None}  # fmt: skip
    old = {k: v for k, v in row.items() if k != "preservation_official_mean"}  # before issue 8
    study = {"config": "tiny", "data": "synthetic", "img_size": 32, "classifier": "j.pt",
             "classifier_accuracy": 0.9, "budget": {"max_steps": 2, "max_minutes": None},
             "variants": {"stgan": row, "attgan": old}}  # fmt: skip
    md = format_study(study).splitlines()
    head = next(line for line in md if line.startswith("| variant"))
    assert "| preservation err | official preservation err |" in head
    assert "| stgan | 1,234 | 2 | 0.5 | 25.00 | 0.8000 | 50.0% | 10.0% | 25.0% | – | – |" in md
    assert "| attgan | 1,234 | 2 | 0.5 | 25.00 | 0.8000 | 50.0% | 10.0% | – | – | – |" in md
