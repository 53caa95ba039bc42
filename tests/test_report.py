"""The evaluation's metric functions on known inputs, and the report written from a result."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from stgan.data.synthetic import SyntheticDataset
from stgan.evaluate import evaluate
from stgan.judge import Judge
from stgan.report import format_report, write_report

pytestmark = pytest.mark.timeout(60)

NAMES = ("Bald", "Eyeglasses", "Male")


class Identity(torch.nn.Module):
    """A generator that returns its input: every edit and reconstruction is the image."""

    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(()))  # something to move and put in eval

    def forward(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        return x


class Constant(torch.nn.Module):
    """A classifier that always predicts ``on`` (logit +5) or off (-5), whatever the image."""

    def __init__(self, on: list[bool]):
        super().__init__()
        self.register_buffer("logits", torch.tensor([5.0 if v else -5.0 for v in on]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(len(x), -1)


def test_evaluate_numbers_of_a_known_generator_and_judge():
    """Identity G, constant judge: each number follows from the labels alone."""
    ds = SyntheticDataset(16, range(6), seed=0, attrs=NAMES, progress=False)
    src = ds.labels.astype(np.uint8)  # (6, 3)
    on = [True, False, True]  # the judge says Bald, not Eyeglasses, Male: for every image
    judge = Judge(Constant(on), NAMES, 16, crop="none")
    r = evaluate(Identity(), NAMES, ds, src, "diff", 0.5, (1.0, 0.5), judge, batch_size=4,
                 progress=False)  # fmt: skip

    assert r["n_images"] == 6
    assert r["reconstruction"] == {"psnr": None, "ssim": pytest.approx(1.0), "psnr_n_inf": 6}
    assert [s["att_diff"] for s in r["strengths"]] == [1.5, 1.0]
    for k, name in enumerate(NAMES):
        # flipping attribute k sets it to 1 - source; the judge sees its constant value
        expect = np.mean((1 - src[:, k]) == on[k])
        assert r["strengths"][0]["accuracy"][name] == pytest.approx(expect)
        assert r["strengths"][1]["accuracy"][name] == pytest.approx(expect)
        assert r["judge_on_real"]["accuracy"][name] == pytest.approx(np.mean(src[:, k] == on[k]))
    pres = r["strengths"][0]["preservation"]
    off_diagonal = [v for i, row in enumerate(pres["matrix"]) for j, v in enumerate(row) if i != j]
    assert off_diagonal == [0.0] * 6 and pres["mean"] == 0.0  # predictions never change
    assert [pres["matrix"][i][i] for i in range(3)] == [None] * 3
    # the official definition compares with the true labels: the constant judge is wrong on
    # attribute j of every image whose label is not on[j], edit after edit
    official = r["strengths"][0]["preservation_official"]
    for i, row in enumerate(official["matrix"]):
        for j, v in enumerate(row):
            assert v == (None if i == j else pytest.approx(np.mean(src[:, j] != on[j])))
    wrong = [np.mean(src[:, j] != on[j]) for j in range(3)]
    assert official["per_attr"]["Bald"] == pytest.approx((wrong[1] + wrong[2]) / 2)
    assert official["mean"] == pytest.approx(np.mean(wrong))  # each j is "other" twice
    assert official["mean"] > 0 and r["summary"]["preservation_official_mean"] == official["mean"]
    assert r["summary"]["preservation_mean"] == 0.0
    # ground truth: the "edit" is the unedited image, so it scores exactly like identity
    gt = r["ground_truth"]
    assert gt["edit_psnr"] == gt["identity_psnr"] and gt["edit_ssim"] == gt["identity_ssim"]
    assert r["summary"]["accuracy_mean"] == pytest.approx(
        np.mean([r["strengths"][0]["accuracy"][n] for n in NAMES])
    )


def a_result() -> dict:
    return {
        "n_images": 4,
        "attr_names": ["Bald", "Male"],
        "reconstruction": {"psnr": 31.234, "ssim": 0.91237, "psnr_n_inf": 1},
        "strengths": [
            {
                "strength": 1.0,
                "att_diff": 1.5,
                "accuracy": {"Bald": 0.75, "Male": 0.5},
                "accuracy_mean": 0.625,
                "preservation": {
                    "matrix": [[float("nan"), 0.25], [0.0, float("nan")]],
                    "per_attr": {"Bald": 0.25, "Male": 0.0},
                    "mean": 0.125,
                },
            }
        ],
        "ground_truth": {
            "edit_psnr": {"per_attr": {"Bald": 20.0, "Male": None}, "mean": 20.0},
            "edit_ssim": {"per_attr": {"Bald": 0.5, "Male": 0.25}, "mean": 0.375},
            "identity_psnr": {"per_attr": {"Bald": 15.0, "Male": 16.0}, "mean": 15.5},
        },
    }


def test_format_report_tables():
    md = format_report(a_result()).splitlines()
    assert "| 31.23 | 0.9124 |" in md  # PSNR 2 decimals, SSIM 4
    assert any(line.startswith("1 image(s) reconstructed exactly") for line in md)
    assert ("| attribute | accuracy @ 1 | preservation error @ 1 | GT edit PSNR | GT edit SSIM "
            "| identity PSNR |") in md  # fmt: skip
    assert "| Bald | 75.0% | 25.0% | 20.00 | 0.5000 | 15.00 |" in md
    assert "| Male | 50.0% | 0.0% | – | 0.2500 | 16.00 |" in md  # None shows as a dash
    assert "| **mean** | 62.5% | 12.5% | 20.00 | 0.3750 | 15.50 |" in md
    assert not any(line.startswith("- checkpoint") for line in md)  # no run section given


def test_format_report_shows_the_official_preservation_next_to_ours():
    result = a_result()
    result["strengths"][0]["preservation_official"] = {
        "matrix": [[None, 0.5], [0.25, None]],
        "per_attr": {"Bald": 0.5, "Male": 0.25},
        "mean": 0.375,
    }
    md = format_report(result).splitlines()
    assert ("| attribute | accuracy @ 1 | preservation error @ 1 | official preservation error "
            "@ 1 | GT edit PSNR | GT edit SSIM | identity PSNR |") in md  # fmt: skip
    assert "| Bald | 75.0% | 25.0% | 50.0% | 20.00 | 0.5000 | 15.00 |" in md
    assert "| **mean** | 62.5% | 12.5% | 37.5% | 20.00 | 0.3750 | 15.50 |" in md
    assert any(line.startswith("- *official preservation error*") for line in md)


def test_write_report_writes_strict_json_and_the_report(tmp_path):
    written = write_report(tmp_path / "r", a_result())
    names = [p.name for p in written]
    assert names[:2] == ["metrics.json", "report.md"]
    text = (tmp_path / "r" / "metrics.json").read_text()

    def no_constants(c):
        raise AssertionError(f"non-strict JSON constant {c}")

    m = json.loads(text, parse_constant=no_constants)
    assert m["strengths"][0]["preservation"]["matrix"] == [[None, 0.25], [0.0, None]]
    report = (tmp_path / "r" / "report.md").read_text()
    assert report == format_report(a_result(), names)
    for f in names[2:]:  # figures, when matplotlib is installed
        assert (tmp_path / "r" / f).stat().st_size > 100 and f"]({f})" in report


def test_the_judge_accuracy_reported_is_over_the_attributes_judged():
    from stgan.evaluate import _judge_accuracy

    m = {"accuracy": {"Bald": 0.9, "Male": 0.8, "Smiling": 0.2}, "accuracy_mean": 0.6}
    judge = Judge(Constant([True] * 3), ("Bald", "Male", "Smiling"), 16, info={"metrics": m})
    assert _judge_accuracy(judge, ["Male", "Bald"]) == pytest.approx(0.85)  # not 0.6
    assert _judge_accuracy(judge, ["Young"]) == 0.6  # a report without them: its own mean
    assert _judge_accuracy(None, ["Bald"]) is None
