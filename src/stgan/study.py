"""The paper's variant study (§4.2, Fig. 4): the skip-connection trade-off, measured.

Trains each generator variant (AttGAN-ED, AttGAN, AttGAN-2s, AttGAN-UNet, STGAN; reference
§1) for the same budget, on the same data, from the same seed, then evaluates each with the
same judge (:mod:`stgan.evaluate`). The table puts reconstruction (PSNR/SSIM) next to
editing (mean attribute accuracy) and, on synthetic faces, ground-truth edit fidelity: more
skips should reconstruct better and edit worse; STGAN should do well on both.

Layout of a study folder::

    OUT/judge/classifier.pt          the judge (trained here unless one is given)
    OUT/<variant>/                   a training run (checkpoints/, samples/, log.jsonl)
    OUT/<variant>/eval/metrics.json  its evaluation (report.md, figures)
    OUT/study.json, study.md, study_scatter.png, study_accuracy.png

A variant whose ``eval/metrics.json`` exists is not trained again (resumable study). With a
step budget an interrupted variant continues from its newest checkpoint; with a time budget
it starts again (the minutes already spent are unknown).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from stgan import checkpoint
from stgan.config import Config, load, to_toml
from stgan.errors import UserError
from stgan.evaluate import evaluate_checkpoint
from stgan.imageio import atomic_write_bytes
from stgan.judge import Judge

VARIANTS: tuple[str, ...] = ("attgan-ed", "attgan", "attgan-2s", "attgan-unet", "stgan")
LOG = Callable[[str], None]


def variant_config(
    config: str,
    variant: str,
    overrides: Sequence[str],
    data: str | None,
    recipe: str | None = None,
):
    """The config of one variant: shipped name or file ← recipe ← variant preset ← ``--set``."""
    cfg = load(config, variant, list(overrides), recipe=recipe)
    if data:
        cfg = replace(cfg, data=replace(cfg.data, dataset=data))
    return cfg


def train_variant(
    cfg: Config,
    attr_names: Sequence[str],
    train_set,
    sample_batch,
    run_dir: Path,
    device: torch.device,
    max_steps: int | None,
    max_minutes: float | None,
    progress: Callable[[int, int], Any] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Train one variant into ``run_dir`` (resuming a step-budget run); returns its record.
    ``should_stop`` is asked after every iteration (e.g. a CPU-time budget)."""
    from stgan.models import build_discriminator, build_generator, count_parameters
    from stgan.runtime import seed_everything
    from stgan.trainer import Trainer

    seed_everything(cfg.train.seed)
    G = build_generator(cfg.model, len(attr_names))
    D = build_discriminator(cfg.model, len(attr_names))
    trainer = Trainer(cfg, G, D, attr_names, device)
    previous = checkpoint.list_checkpoints(run_dir)
    if previous and max_steps is not None:
        trainer.load_checkpoint(checkpoint.load(previous[-1]))
    elif previous:  # a time budget cannot be resumed fairly: start the variant again
        shutil.rmtree(checkpoint.ckpt_dir(run_dir))
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(run_dir / "config.toml", to_toml(cfg).encode())
    t0 = time.monotonic()
    step = trainer.fit(
        train_set, run_dir, sample_batch, max_steps, max_minutes, progress, should_stop
    )
    return {
        "steps": step,
        "train_minutes": (time.monotonic() - t0) / 60.0,
        "G_params": count_parameters(G),
    }


def get_judge(
    out: Path,
    classifier: str | None,
    train_set,
    test_set,
    data_cfg,
    img_size: int,
    device: torch.device,
    epochs: int,
    log: LOG,
    progress: bool,
) -> Judge:
    """The given judge, the one already trained in ``out/judge``, or a new one on the data."""
    from stgan.jsonio import json_ready
    from stgan.judge import FILE_NAME, fit_judge, format_accuracy_table, save_judge
    from stgan.runtime import seed_everything

    if classifier:
        return Judge.from_file(classifier, device)
    path = out / "judge" / FILE_NAME
    if path.is_file():
        log(f"study: using the judge trained earlier, {path}")
        return Judge.from_file(path, device)
    log(f"study: training a judge on the same data ({epochs} epochs, {img_size} px)")
    crop = data_cfg.image_crop
    seed_everything(0)
    judge, report = fit_judge(
        train_set, test_set, img_size, device, epochs, crop=crop, progress=progress
    )
    atomic_write_bytes(
        out / "judge" / "metrics.json", (json.dumps(json_ready(report), indent=2) + "\n").encode()
    )
    save_judge(
        path,
        judge.model,
        judge.attr_names,
        img_size,
        crop,
        metrics=report,
        data=data_cfg.dataset,
        epochs=report["train"]["epochs"],
    )
    log(format_accuracy_table(report))
    return Judge.from_file(path, device)


@dataclass
class SideBySide:
    """What variants trained side by side share: the data, the judge, the sample batch."""

    train_set: Any
    test_set: Any
    names: tuple[str, ...]
    judge: Judge
    sample_batch: tuple[torch.Tensor, torch.Tensor]


def side_by_side(
    cfgs: dict[str, Config],
    out: Path,
    classifier: str | None,
    judge_epochs: int,
    device: torch.device,
    log: LOG,
    progress: bool,
) -> SideBySide:
    """Open the one data set of ``cfgs`` (a UserError if a variant changes it), get the judge
    (:func:`get_judge`) and the sample batch (the first ``n_samples`` test images)."""
    from stgan.data import open_dataset

    first, base = next(iter(cfgs.items()))
    for v, c in cfgs.items():
        if c.data != base.data or c.model.img_size != base.model.img_size:
            raise UserError(
                f"variant {v} trains on other data than {first}; variants compared side by "
                "side need one data set"
            )
    train_set = open_dataset(base.data, base.model.img_size, "train", progress=progress)
    test_set = open_dataset(base.data, base.model.img_size, "test", progress=progress)
    judge = get_judge(
        out,
        classifier,
        train_set,
        test_set,
        base.data,
        base.model.img_size,
        device,
        judge_epochs,
        log,
        progress,
    )
    n = min(base.train.n_samples, len(test_set))
    xs, ys = zip(*(test_set[i] for i in range(n)), strict=True)
    return SideBySide(
        train_set, test_set, tuple(train_set.attr_names), judge, (torch.stack(xs), torch.stack(ys))
    )


def run_study(
    out: str | Path,
    config: str = "tiny",
    data: str | None = "synthetic",
    variants: Sequence[str] = VARIANTS,
    max_steps: int | None = None,
    max_minutes: float | None = None,
    classifier: str | None = None,
    judge_epochs: int = 5,
    overrides: Sequence[str] = (),
    limit: int | None = None,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    progress: bool = True,
    log: LOG = print,
    recipe: str | None = None,
) -> dict[str, Any]:
    """Train and evaluate every variant; write ``study.json``, ``study.md`` and figures.

    Args:
        out: the study folder.
        config: shipped config name or TOML file shared by all variants.
        data: ``synthetic`` or a folder (None: the config's).
        variants: presets to compare (keys of :data:`stgan.config.PRESETS`).
        max_steps: G iterations per variant (the same for all).
        max_minutes: or a time budget per variant.
        classifier: a judge file; None trains one on the same data into ``out/judge``.
        judge_epochs: epochs of that judge.
        overrides: ``section.key=value`` config overrides for every variant.
        limit: evaluate on the first ``limit`` test images only.
        batch_size: images per generator pass in the evaluation.
        device: where to train and evaluate.
        progress: progress bars.
        log: where the one-line messages go.
        recipe: the training recipe of every variant (None: the config's own).

    Returns:
        The content of ``study.json``.
    """

    out = Path(out)
    device = torch.device(device)
    if not variants:
        raise UserError("name at least one variant to study")
    if max_steps is not None and max_steps < 1:
        raise UserError(f"--max-steps must be ≥ 1, got {max_steps}")
    cfgs = {v: variant_config(config, v, overrides, data, recipe) for v in variants}
    base = cfgs[variants[0]]
    side = side_by_side(cfgs, out, classifier, judge_epochs, device, log, progress)
    train_set, test_set, names, judge = side.train_set, side.test_set, side.names, side.judge
    sample_batch = side.sample_batch

    def bar(start: int, total: int):
        from tqdm import tqdm

        return tqdm(total=total, initial=start, desc="train", unit="it", disable=not progress)

    results: dict[str, Any] = {}
    for v in variants:
        run_dir = out / v
        done = run_dir / "eval" / "metrics.json"
        record_path = run_dir / "study_record.json"
        if done.is_file() and record_path.is_file():
            log(f"study: {v} already done ({done}); skipping")
            record = json.loads(record_path.read_text())
            record["eval"] = json.loads(done.read_text())
            results[v] = record
            continue
        log(f"study: training {v} ({_budget(max_steps, max_minutes)})")
        record = {
            "preset": v,
            **train_variant(
                cfgs[v],
                names,
                train_set,
                sample_batch,
                run_dir,
                device,
                max_steps,
                max_minutes,
                bar,
            ),
        }
        log(f"study: evaluating {v} after {record['steps']} steps")
        result = evaluate_checkpoint(
            run_dir,
            judge,
            run_dir / "eval",
            limit=limit,
            batch_size=batch_size,
            device=device,
            dataset=test_set,
            progress=progress,
        )
        atomic_write_bytes(record_path, (json.dumps(record, indent=2) + "\n").encode())
        results[v] = {**record, "eval": result}
    study = {
        "config": config,
        "recipe": base.recipe,
        "data": base.data.dataset,
        "img_size": base.model.img_size,
        "budget": {"max_steps": max_steps, "max_minutes": max_minutes},
        "overrides": list(overrides),
        "classifier": judge.info.get("path"),
        "classifier_accuracy": (judge.info.get("metrics") or {}).get("accuracy_mean"),
        "attr_names": list(names),
        "variants": {
            v: {
                **{k: r[k] for k in ("preset", "steps", "train_minutes", "G_params")},
                **r["eval"]["summary"],
                "accuracy": (r["eval"]["strengths"][0].get("accuracy") or {}),
                "n_images": r["eval"]["n_images"],
            }
            for v, r in results.items()
        },
    }
    write_study(out, study)
    return study


def _budget(max_steps: int | None, max_minutes: float | None) -> str:
    parts = []
    if max_steps is not None:
        parts.append(f"{max_steps} steps")
    if max_minutes is not None:
        parts.append(f"{max_minutes:g} min")
    return " or ".join(parts) or "the config's full schedule"


def write_study(out: str | Path, study: dict[str, Any]) -> list[Path]:
    """Write ``study.json``, ``study.md``, ``study_scatter.png`` and ``study_accuracy.png``."""
    from stgan import plots

    out = Path(out)
    written = [out / "study.json", out / "study.md"]
    atomic_write_bytes(written[0], (json.dumps(study, indent=2) + "\n").encode())
    vs = study["variants"]
    points = {
        v: (r["psnr"], r["accuracy_mean"])
        for v, r in vs.items()
        if r["psnr"] is not None and r["accuracy_mean"] is not None
    }
    if points and plots.tradeoff_scatter(out / "study_scatter.png", points):
        written.append(out / "study_scatter.png")
    names = study["attr_names"]
    series = {v: [r["accuracy"][n] for n in names] for v, r in vs.items() if r["accuracy"]}
    if series and plots.accuracy_bars(
        out / "study_accuracy.png", names, series, "Attribute generation accuracy per variant"
    ):
        written.append(out / "study_accuracy.png")
    atomic_write_bytes(written[1], format_study(study, [p.name for p in written]).encode())
    return written


def format_study(study: dict[str, Any], figures: Sequence[str] = ()) -> str:
    """The trade-off table in Markdown."""

    def f(v, fmt):
        return "–" if v is None else format(v, fmt)

    def pct(v):
        return "–" if v is None else f"{100 * v:.1f}%"

    b = study["budget"]
    L = [
        "# Variant study: reconstruction vs. editing",
        "",
        f"Config `{study['config']}`, data `{study['data']}` at {study['img_size']} px, "
        f"budget per variant: {_budget(b['max_steps'], b['max_minutes'])}; judge "
        f"`{study['classifier']}` (held-out accuracy {pct(study['classifier_accuracy'])}).",
        "",
        "| variant | G params | steps | train min | PSNR (dB) | SSIM | mean accuracy | "
        "preservation err | official preservation err | GT edit PSNR | GT edit SSIM |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for v, r in study["variants"].items():
        L.append(
            f"| {v} | {r['G_params']:,} | {r['steps']} | {r['train_minutes']:.1f} | "
            f"{f(r['psnr'], '.2f')} | {f(r['ssim'], '.4f')} | {pct(r['accuracy_mean'])} | "
            f"{pct(r['preservation_mean'])} | {pct(r.get('preservation_official_mean'))} | "
            f"{f(r['gt_edit_psnr'], '.2f')} | {f(r['gt_edit_ssim'], '.4f')} |"
        )
    ident = [
        r["gt_identity_psnr"]
        for r in study["variants"].values()
        if r["gt_identity_psnr"] is not None
    ]
    if ident:
        L += [
            "",
            f"Identity baseline (the unedited image against the ground-truth edit): "
            f"{ident[0]:.2f} dB.",
        ]
    L.append("")
    for name in figures:
        if name.endswith(".png"):
            L += [f"![{name[:-4]}]({name})", ""]
    return "\n".join(L)
