"""Quality against compute: training recipes and their switches, side by side (docs/recipes.md).

Each *variant* is a recipe plus ``--set``-style overrides, written as one spec::

    paper                                   the paper's recipe
    fast                                    the fast recipe
    fast+model.mask=false                   the fast recipe without one of its switches
    paper+train.ema_decay=0.99              the paper's recipe with one switch added

Every variant trains on the same data from the same seed and is evaluated by the same judge
(:mod:`stgan.evaluate`) after each budget of G iterations: reconstruction PSNR/SSIM, mean and
per-attribute accuracy, preservation error and, on synthetic faces, ground-truth edit PSNR next
to the identity baseline. A run is trained once, in segments (resuming is exact), so the
budgets are points on one learning curve. Compute is measured as training CPU seconds of this
process (``time.process_time``, all threads) and wall seconds.

Layout::

    OUT/judge/classifier.pt                the judge (trained here unless one is given)
    OUT/<variant>/                         the run (checkpoints/, samples/, log.jsonl)
    OUT/<variant>/eval_<steps>/metrics.json
    OUT/ablation.json, ablation.md, ablation.png
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from stgan.config import RECIPES, Config, load
from stgan.errors import UserError
from stgan.imageio import atomic_write_bytes

LOG = Callable[[str], None]
DEFAULT_VARIANTS = ("paper", "fast")
_METRICS = (
    ("psnr", "recon PSNR", "{:.2f}"),
    ("ssim", "recon SSIM", "{:.3f}"),
    ("accuracy_mean", "accuracy", "pct"),
    ("preservation_mean", "preservation err", "pct"),
    ("gt_edit_psnr", "GT edit PSNR", "{:.2f}"),
    ("gt_identity_psnr", "identity PSNR", "{:.2f}"),
)


def parse_variant(spec: str) -> tuple[str, list[str]]:
    """``recipe+section.key=value+...`` → ``(recipe, overrides)``; a UserError names a bad
    spec."""
    recipe, *sets = spec.split("+")
    if recipe not in RECIPES:
        raise UserError(
            f"variant {spec!r} must start with a recipe ({', '.join(RECIPES)}), "
            "e.g. fast+model.mask=false"
        )
    for s in sets:
        if not re.fullmatch(r"[a-z]+\.[a-z_0-9]+=[^+]+", s):
            raise UserError(f"variant {spec!r}: {s!r} is not section.key=value")
    return recipe, sets


def parse_budgets(budgets: Sequence[int | float | str]) -> tuple[str, list[float]]:
    """Budgets as ``("steps", [G iterations])`` or ``("cpu", [CPU seconds])``: plain numbers
    are G iterations, numbers with an ``s`` suffix (``"60s"``) cumulative training CPU
    seconds of this process; one unit for all. A UserError names a bad budget."""
    units, values = set(), []
    for b in budgets:
        text = str(b).strip()
        cpu = text.endswith("s")
        try:
            v = float(text[:-1]) if cpu else int(text)
        except ValueError:
            v = 0
        if not v > 0:
            raise UserError(
                f"budget {text!r} must be a G-iteration count ≥ 1 (e.g. 400) or CPU seconds "
                "(e.g. 120s)"
            )
        units.add("cpu" if cpu else "steps")
        values.append(v)
    if len(units) != 1:
        raise UserError("give every budget in one unit: G iterations (400) or CPU seconds (120s)")
    return units.pop(), sorted(set(values))


def variant_config(spec: str, config: str, overrides: Sequence[str], data: str | None) -> Config:
    """The config of one variant: shipped name or file ← recipe ← ``--set`` ← its switches."""
    recipe, sets = parse_variant(spec)
    extra = [f"data.dataset={data}"] if data else []
    return load(config, None, [*overrides, *extra, *sets], recipe=recipe)


def _dirname(spec: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", spec.replace("+", "__"))


def run_ablation(
    out: str | Path,
    variants: Sequence[str] = DEFAULT_VARIANTS,
    budgets: Sequence[int] = (100, 200, 400),
    config: str = "tiny",
    data: str | None = None,
    classifier: str | None = None,
    judge_epochs: int = 5,
    overrides: Sequence[str] = (),
    limit: int | None = 200,
    device: torch.device | str = "cpu",
    progress: bool = True,
    log: LOG = print,
) -> dict[str, Any]:
    """Train every variant to each budget (G iterations) and evaluate it there.

    Args:
        out: the ablation folder (resumable: finished evaluations are not redone).
        variants: variant specs (see the module docstring).
        budgets: increasing G-iteration budgets; each variant is evaluated at each.
        config: shipped config name or TOML file shared by all variants.
        data: ``synthetic`` or a folder (None: the config's).
        classifier: a judge file; None trains one on the same data into ``out/judge``.
        judge_epochs: epochs of that judge.
        overrides: ``section.key=value`` overrides for every variant (before its switches).
        limit: evaluate on the first ``limit`` test images.
        device: where to train and evaluate.
        progress: progress bars.
        log: where the one-line messages go.

    Returns:
        The content of ``ablation.json``.
    """
    from stgan.evaluate import evaluate_checkpoint
    from stgan.judge import weakness_warning
    from stgan.study import side_by_side, train_variant

    out, device = Path(out), torch.device(device)
    unit, budgets = parse_budgets(budgets)
    if not variants:
        raise UserError("name at least one variant")
    cfgs = {v: variant_config(v, config, overrides, data) for v in variants}
    base = next(iter(cfgs.values()))
    side = side_by_side(cfgs, out, classifier, judge_epochs, device, log, progress)
    names, judge, test_set = side.names, side.judge, side.test_set
    warning = weakness_warning(judge.info.get("metrics"), f"the judge {judge.info.get('path')}")
    if warning:
        log(f"warning: {warning}")

    def bar(start: int, total: int):
        from tqdm import tqdm

        return tqdm(total=total, initial=start, desc="train", unit="it", disable=not progress)

    curves: dict[str, list[dict[str, Any]]] = {}
    for v in variants:
        run_dir = out / _dirname(v)
        rec_path = run_dir / "ablation_curve.json"
        curve = json.loads(rec_path.read_text()) if rec_path.is_file() else []
        done = {p.get("budget", p["steps"]) for p in curve}
        cpu = curve[-1]["cpu_seconds"] if curve else 0.0
        wall = curve[-1]["wall_seconds"] if curve else 0.0
        for b in budgets:
            if b in done:
                continue
            c0, w0 = time.process_time(), time.monotonic()
            stop = None
            if unit == "steps":
                log(f"ablation: {v}: training to {b} G iterations")
                steps = int(b)
            else:  # a cumulative CPU-time budget: train until this process has spent it
                log(f"ablation: {v}: training to {b:g} CPU seconds")
                steps, left = 10**9, b - cpu

                def stop(c0=c0, left=left) -> bool:
                    return time.process_time() - c0 >= left

            rec = train_variant(
                cfgs[v],
                names,
                side.train_set,
                side.sample_batch,
                run_dir,
                device,
                steps,
                None,
                bar,
                stop,
            )
            cpu += time.process_time() - c0
            wall += time.monotonic() - w0
            result = evaluate_checkpoint(
                run_dir,
                judge,
                run_dir / ("eval_" + (f"{int(b):06d}" if unit == "steps" else f"{b:g}s")),
                limit=limit,
                device=device,
                dataset=test_set,
                progress=progress,
            )
            point = {
                "budget": b,
                "steps": rec["steps"],
                "cpu_seconds": round(cpu, 1),
                "wall_seconds": round(wall, 1),
                **result["summary"],
                "accuracy": (result["strengths"][0].get("accuracy") or {}),
            }
            curve.append(point)
            atomic_write_bytes(rec_path, (json.dumps(curve, indent=2) + "\n").encode())
            log(f"ablation: {v} @ {b}: " + _one_line(point))
        curves[v] = sorted(curve, key=lambda p: p.get("budget", p["steps"]))
    result = {
        "config": config,
        "data": base.data.dataset,
        "img_size": base.model.img_size,
        "budgets": budgets,
        "budget_unit": unit,
        "overrides": list(overrides),
        "classifier": judge.info.get("path"),
        "classifier_accuracy": (judge.info.get("metrics") or {}).get("accuracy_mean"),
        "threads": torch.get_num_threads(),
        "limit": limit,
        "attr_names": list(names),
        "variants": {v: {"recipe": parse_variant(v)[0], "curve": curves[v]} for v in variants},
    }
    write_ablation(out, result)
    return result


def _fmt(v: Any, fmt: str) -> str:
    if v is None:
        return "–"
    return f"{100 * v:.1f}%" if fmt == "pct" else fmt.format(v)


def _one_line(p: dict[str, Any]) -> str:
    return ", ".join(f"{label} {_fmt(p.get(k), f)}" for k, label, f in _METRICS)


def format_ablation(result: dict[str, Any], figures: Sequence[str] = ()) -> str:
    """The ablation as Markdown: one table row per variant and budget."""
    lines = [
        f"# Ablation: {result['config']} on {result['data']} ({result['img_size']} px)",
        "",
        f"Judge: {result['classifier']} (held-out accuracy "
        f"{_fmt(result['classifier_accuracy'], 'pct')}); evaluated on "
        f"{result['limit']} test images; {result['threads']} torch threads.",
        "",
        "| variant | G its | CPU s | " + " | ".join(m[1] for m in _METRICS) + " |",
        "| --- | ---: | ---: | " + " | ".join("---:" for _ in _METRICS) + " |",
    ]
    for v, rec in result["variants"].items():
        for p in rec["curve"]:
            cells = [_fmt(p.get(k), f) for k, _, f in _METRICS]
            lines.append(
                f"| {v} | {p['steps']} | {p['cpu_seconds']:.0f} | " + " | ".join(cells) + " |"
            )
    names = result["attr_names"]
    lines += ["", "Per-attribute accuracy at the largest budget:", ""]
    lines.append("| variant | " + " | ".join(names) + " |")
    lines.append("| --- | " + " | ".join("---:" for _ in names) + " |")
    for v, rec in result["variants"].items():
        acc = rec["curve"][-1].get("accuracy") or {} if rec["curve"] else {}
        lines.append(f"| {v} | " + " | ".join(_fmt(acc.get(n), "pct") for n in names) + " |")
    lines += [f"\n![{f}]({f})" for f in figures]
    return "\n".join(lines) + "\n"


def write_ablation(out: str | Path, result: dict[str, Any]) -> list[Path]:
    """Write ``ablation.json``, ``ablation.png`` (when matplotlib is there) and
    ``ablation.md``."""
    from stgan.plots import quality_vs_compute

    out = Path(out)
    written = [out / "ablation.json"]
    atomic_write_bytes(written[0], (json.dumps(result, indent=2) + "\n").encode())
    figures = []
    if quality_vs_compute(out / "ablation.png", result):
        figures.append("ablation.png")
        written.append(out / "ablation.png")
    atomic_write_bytes(out / "ablation.md", format_ablation(result, figures).encode())
    written.append(out / "ablation.md")
    return written
