"""stgan.ablation: variant specs, budgets, and one tiny ablation end to end."""

from __future__ import annotations

import json

import pytest

from stgan.ablation import parse_budgets, parse_variant, run_ablation, variant_config
from stgan.errors import UserError


def test_variant_specs_are_a_recipe_plus_switches():
    assert parse_variant("fast") == ("fast", [])
    assert parse_variant("paper+train.ema_decay=0.99+model.mask=true") == (
        "paper",
        ["train.ema_decay=0.99", "model.mask=true"],
    )
    cfg = variant_config("paper+train.ema_decay=0.99", "tiny", ["train.batch_size=8"], None)
    assert cfg.recipe == "paper" and cfg.train.ema_decay == 0.99 and cfg.train.batch_size == 8
    # the variant's own switches win over the shared overrides
    cfg = variant_config("fast+train.n_critic=3", "tiny", ["train.n_critic=2"], "synthetic")
    assert cfg.recipe == "fast" and cfg.train.n_critic == 3
    for bad in ("quick", "fast+mask", "fast+model.mask"):
        with pytest.raises(UserError, match="variant"):
            parse_variant(bad)


def test_budgets_are_iterations_or_cpu_seconds_in_one_unit():
    assert parse_budgets(["400", "100", "200"]) == ("steps", [100, 200, 400])
    assert parse_budgets(["60s", "30s"]) == ("cpu", [30.0, 60.0])
    for bad in (["0"], ["-5"], ["ten"], ["0s"]):
        with pytest.raises(UserError, match="budget"):
            parse_budgets(bad)
    with pytest.raises(UserError, match="one unit"):
        parse_budgets(["100", "60s"])


@pytest.mark.slow
def test_a_tiny_ablation_trains_each_variant_along_one_curve(tmp_path):
    sets = ["data.synthetic_n=200", "train.batch_size=8", "model.dis_fc_dim=8"]
    result = run_ablation(
        tmp_path, ["paper", "fast"], [2, 3], overrides=sets, judge_epochs=1, limit=8,
        progress=False, log=lambda m: None,
    )  # fmt: skip
    curves = {v: r["curve"] for v, r in result["variants"].items()}
    assert [p["steps"] for p in curves["paper"]] == [2, 3]
    assert [p["steps"] for p in curves["fast"]] == [2, 3]
    for curve in curves.values():  # CPU time accumulates along the curve
        assert 0 < curve[0]["cpu_seconds"] <= curve[1]["cpu_seconds"]
    # each point is the evaluation of the checkpoint at that step (one run, resumed)
    for v, d in (("paper", "paper"), ("fast", "fast")):
        m = json.loads((tmp_path / d / "eval_000003" / "metrics.json").read_text())
        assert m["summary"]["psnr"] == curves[v][1]["psnr"]
    md = (tmp_path / "ablation.md").read_text()
    assert "| paper | 2 |" in md and "| fast | 3 |" in md
    assert json.loads((tmp_path / "ablation.json").read_text())["budget_unit"] == "steps"
    # resumable: a second call redoes nothing and gives the same curves
    again = run_ablation(
        tmp_path, ["paper", "fast"], [2, 3], overrides=sets, judge_epochs=1, limit=8,
        progress=False, log=lambda m: None,
    )  # fmt: skip
    assert {v: r["curve"] for v, r in again["variants"].items()} == curves


def test_long_variant_names_wrap_after_a_plus_in_the_plot_legend():
    """The quality-vs-compute legend sits under the panels, names wrapped at their '+'."""
    from stgan.plots import _wrap_variant

    name = "fast+model.mask=true+train.target_int=test+train.lr=0.002+train.w_att_d=6"
    lines = _wrap_variant(name, width=40).splitlines()
    assert "".join(lines) == name
    assert lines == [
        "fast+model.mask=true",
        "+train.target_int=test+train.lr=0.002",
        "+train.w_att_d=6",
    ]
    assert _wrap_variant("paper") == "paper"
