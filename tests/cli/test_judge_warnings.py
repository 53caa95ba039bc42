"""A judge no better than its majority-class baseline is named in one warning line on stderr
by train-classifier, eval and study; the train-classifier progress comes from the CLI's bars."""

from __future__ import annotations

import json

import pytest
import torch
from cli_helpers import stgan

from stgan.attributes import DEFAULT_ATTRS
from stgan.judge import build_classifier, save_judge, weak_attributes

WEAK = ("Bald", "Young")  # at and below their baselines


def metrics(weak: tuple[str, ...] = WEAK) -> dict:
    acc = {n: (0.5 if n == "Young" else 0.9) if n in weak else 0.95 for n in DEFAULT_ATTRS}
    base = {n: 0.9 for n in DEFAULT_ATTRS}
    return {
        "n_images": 10,
        "accuracy": acc,
        "majority_baseline": base,
        "accuracy_mean": sum(acc.values()) / len(acc),
        "majority_baseline_mean": 0.9,
        "train": {"epochs": 1.0, "steps": 1, "loss": 0.5, "minutes": 0.0},
    }


def judge_file(path, weak: tuple[str, ...] = WEAK):
    torch.manual_seed(0)
    save_judge(path, build_classifier(13, 32), DEFAULT_ATTRS, 32, "none", metrics=metrics(weak))
    return path


def warning(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "warning: the judge" in lines[0] and "2 of 13 attributes (Bald, Young;" in lines[0]
    return lines[0]


def test_eval_warns_about_a_weak_judge(run, tmp_path, capsys):
    out, _ = run
    weak, good = judge_file(tmp_path / "weak.pt"), judge_file(tmp_path / "good.pt", ())
    cmd = f"eval --checkpoint {out} --limit 2 --quiet --classifier"
    assert stgan(f"{cmd} {weak} --out {tmp_path / 'a'}") == 0
    assert warning(capsys.readouterr().err).startswith(f"stgan eval: warning: the judge {weak}")
    assert stgan(f"{cmd} {good} --out {tmp_path / 'b'}") == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("given", [True, False])
def test_study_warns_about_the_judge_it_uses(tmp_path, capsys, monkeypatch, given):
    """The study itself is stubbed: only the judge it reports using matters here."""
    weak = judge_file(tmp_path / "weak.pt")
    seen = []

    def fake_study(out, *args, **kw):
        seen.append(capsys.readouterr().err)  # what was printed before the work
        (out / "study.md").write_text("| variant |\n")
        return {"variants": [], "classifier": str(weak)}

    monkeypatch.setattr("stgan.study.run_study", fake_study)
    extra = f"--classifier {weak}" if given else ""
    assert stgan(f"study --out {tmp_path / 's'} --quiet {extra}") == 0
    before, after = seen[0], capsys.readouterr().err
    assert warning(before if given else after).startswith("stgan study: warning: the judge")
    assert (after if given else before) == ""  # one warning, not two


def test_train_classifier_warns_and_draws_its_bars(tmp_path, capsys):
    cmd = "train-classifier --img-size 32 --epochs 1 --batch-size 8 --set data.synthetic_n=16"
    assert stgan(f"{cmd} --out {tmp_path / 'j'} --device cpu") == 0
    err = capsys.readouterr().err
    assert "classifier: 100%" in err and "loss=" in err and "classify: 100%" in err
    # one epoch on 16 faces: attributes absent from the 2 held-out faces are at their baseline
    weak = weak_attributes(json.loads((tmp_path / "j" / "metrics.json").read_text()))
    last = err.splitlines()[-1]
    assert weak and f"({', '.join(weak)};" in last
    assert last.startswith(f"stgan train-classifier: warning: the judge {tmp_path / 'j'}")
    assert stgan(f"{cmd} --out {tmp_path / 'k'} --device cpu --quiet") == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "warning" in err  # --quiet: no bars, the warning stays
