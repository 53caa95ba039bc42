"""A judge no better than its majority-class baseline is named in one warning line on stderr
by train-classifier, eval and study; train-classifier draws the progress bars itself.

The work behind each command (training the judge, evaluating, the study) is stubbed: only
what the command prints around it is tested here (the work has its own tests)."""

from __future__ import annotations

import json

import pytest
import torch
from cli_helpers import stgan

from stgan.attributes import DEFAULT_ATTRS
from stgan.judge import Judge, build_classifier, save_judge
from stgan.progress import Bar

WEAK = ("Bald", "Young")  # at and below their baselines


def metrics(weak: tuple[str, ...] = WEAK, names=DEFAULT_ATTRS) -> dict:
    acc = {n: (0.5 if n == "Young" else 0.9) if n in weak else 0.95 for n in names}
    return {
        "n_images": 10,
        "accuracy": acc,
        "majority_baseline": dict.fromkeys(names, 0.9),
        "accuracy_mean": sum(acc.values()) / len(acc),
        "majority_baseline_mean": 0.9,
        "train": {"epochs": 1.0, "steps": 2, "loss": 0.5, "minutes": 0.0},
    }


def judge_file(path, weak: tuple[str, ...] = WEAK):
    torch.manual_seed(0)
    save_judge(path, build_classifier(13, 32), DEFAULT_ATTRS, 32, "none", metrics=metrics(weak))
    return path


def warning(err: str, n: int = 13) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "warning: the judge" in lines[0] and f"2 of {n} attributes (Bald, Young;" in lines[0]
    return lines[0]


def test_eval_warns_about_a_weak_judge(run, tmp_path, capsys, monkeypatch):
    out, _ = run
    evaluated = []

    def fake_evaluate(checkpoint, judge, *args, **kw):
        evaluated.append(judge.info["path"])
        none = {"gt_edit_psnr": None, "fid": None}
        return {"n_images": 2, "strengths": [], "summary": {"psnr": 20.0, "ssim": 0.5, **none}}

    monkeypatch.setattr("stgan.evaluate.evaluate_checkpoint", fake_evaluate)
    weak, good = judge_file(tmp_path / "weak.pt"), judge_file(tmp_path / "good.pt", ())
    cmd = f"eval --checkpoint {out} --limit 2 --quiet --classifier"
    assert stgan(f"{cmd} {weak} --out {tmp_path / 'a'}") == 0
    assert warning(capsys.readouterr().err).startswith(f"stgan eval: warning: the judge {weak}")
    assert stgan(f"{cmd} {good} --out {tmp_path / 'b'}") == 0
    assert capsys.readouterr().err == ""
    assert evaluated == [str(weak), str(good)]


@pytest.mark.parametrize("given", [True, False])
def test_study_warns_about_the_judge_it_uses(tmp_path, capsys, monkeypatch, given):
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


@pytest.mark.parametrize("quiet", [False, True])
def test_train_classifier_warns_and_draws_its_bars(tmp_path, capsys, monkeypatch, quiet):
    names = ("Bald", "Male", "Young")

    def fake_fit(train_set, test_set, img_size, device, epochs, *args, on_step, on_batch, **kw):
        assert isinstance(on_step, Bar) and isinstance(on_batch, Bar)
        on_step(1, 2, loss=0.75)
        on_step(2, 2, loss=0.5)
        on_batch(1, 1)
        return Judge(build_classifier(3, 32), names, 32), metrics(WEAK, names)

    monkeypatch.setattr("stgan.judge.fit_judge", fake_fit)
    cmd = f"train-classifier --img-size 32 --set data.synthetic_n=16 --attrs {','.join(names)}"
    assert stgan(f"{cmd} --out {tmp_path / 'j'} --device cpu {'--quiet' * quiet}") == 0
    err = capsys.readouterr().err
    bars = "classifier: 100%" in err and "loss=0.5000" in err and "classify: 100%" in err
    assert bars is not quiet
    last = err.splitlines()[-1]
    assert warning(last, 3).startswith(f"stgan train-classifier: warning: the judge {tmp_path}")
    saved = json.loads((tmp_path / "j" / "metrics.json").read_text())
    assert saved["accuracy"] == metrics(WEAK, names)["accuracy"]
