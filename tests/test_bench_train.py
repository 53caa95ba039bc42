"""``stgan bench`` for training (issue 7): the FLOP count, the peak table, the JSON and the
comparison of the plain and fast paths (runs the bench on tiny models; asserts no time)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from stgan.bench import _trainer, count_flops, device_peak, schedule_iterations
from stgan.cli import main
from stgan.config import load
from tests.conftest import TINY_SET

SETS = " ".join(f"--set {s}" for s in TINY_SET)


@pytest.mark.parametrize(
    "name, dtype, peak",
    [
        ("NVIDIA H100 80GB HBM3", "bf16", 989.4),
        ("NVIDIA H100 PCIe", "tf32", 378.0),
        ("NVIDIA H200", "bf16", 989.4),
        ("NVIDIA H200 NVL", "bf16", 835.5),
        ("NVIDIA A100-SXM4-80GB", "tf32", 156.0),
        ("NVIDIA GeForce RTX 4090", "bf16", None),
        ("AMD EPYC", "fp32", None),
    ],
)
def test_published_peaks_by_device_name(name, dtype, peak):
    assert device_peak(name, dtype) == peak


@pytest.mark.slow  # counting dispatches every operation through Python (~2-3 s)
@pytest.mark.parametrize("extra", [[], ["train.penalty=r1", "train.penalty_every=2"]])
def test_flop_count_equals_a_direct_count_of_whole_iterations(extra):
    """count_flops counts at batch 2 and scales; a direct count at batch 4 (and, with a lazy
    penalty, over both patterns) must give the same number."""
    cfg = load("tiny", overrides=[*TINY_SET, *extra], recipe="paper")
    t = cfg.train
    tr, batches = _trainer(cfg, torch.device("cpu"), 4)
    counter = FlopCounterMode(display=False)
    with counter:
        for step in range(t.penalty_every):
            tr.iteration(batches, tr.penalized(step))
    direct = counter.get_total_flops() / t.penalty_every
    assert direct > 0
    assert count_flops(cfg, torch.device("cpu"), 4) == pytest.approx(direct, rel=1e-9)


def test_paper_schedule_is_189400_iterations():
    t = load("celeba128").train
    assert schedule_iterations(t) == 189_400
    assert schedule_iterations(replace(t, batch_size=64)) == 200 * (182_000 // 384)


def test_compare_json_has_one_object_per_configuration(capsys):
    argv = f"bench --config tiny --recipe paper {SETS} --set train.adam=foreach --compare "
    argv += "--each-switch --json --steps 1 --warmup 0"
    assert main(argv.split()) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["name"] for r in rows] == ["plain", "fast", "+adam=foreach"]
    for r in rows:
        for key in ("ms_per_iter", "tflops", "gflop_per_iter", "images_per_s", "schedule_hours"):
            assert r[key] > 0, key
        assert r["peak_fraction"] is None and r["peak_tflops"] is None  # a CPU: no peak
        assert r["device"] == "cpu" and r["torch"] == torch.__version__
        assert r["gflop_per_iter"] == rows[0]["gflop_per_iter"]
    assert rows[0]["switches"]["adam"] == "default" and rows[0]["speedup"] == 1.0
    assert rows[1]["switches"]["adam"] == "foreach" and rows[1]["switches"]["bf16"] is False
    assert rows[1]["speedup"] == pytest.approx(rows[0]["ms_per_iter"] / rows[1]["ms_per_iter"])


def test_compare_table_and_the_note_when_nothing_is_switched_on(capsys):
    argv = f"bench --config tiny --recipe paper {SETS} --compare --steps 1 --warmup 0"
    assert main(argv.split()) == 0
    out = capsys.readouterr().out
    assert "| plain | cpu | 32 | 4 | 2 | none (plain) |" in out
    assert "fast path:" in out and "every switch resolves to off on cpu" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        ("bench --each-switch", "--each-switch goes with --compare"),
        ("bench --data synthetic --compare", "--data measures input throughput"),
        ("bench --edit --compare", "--edit always compares"),
        ("bench --edit --data synthetic", "leave out --data"),
        ("bench --edit --device cuda", "leave out --device"),
        ("bench --checkpoint run", "--checkpoint goes with --edit"),
        ("bench --edit --checkpoint missing-run", "does not exist"),
    ],
)
def test_bad_bench_options_are_one_line(argv, message, capsys):
    assert main(argv.split()) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
