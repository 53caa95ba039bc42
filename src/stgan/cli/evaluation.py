"""Evaluation commands: ``train-classifier``, ``eval``, ``study``.

The paper's numbers (reference §6) with one command each; the work is done by
:mod:`stgan.judge`, :mod:`stgan.evaluate` and :mod:`stgan.study`. Every output folder is
checked (not an input, existing reports kept unless ``--overwrite``, writable) before the
work starts.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from stgan.cli import options
from stgan.config import PRESETS, SHIPPED
from stgan.errors import UserError

# the files `stgan eval` writes into --out
EVAL_FILES = ("metrics.json", "report.md", "accuracy.png", "preservation.png")


def _attr_list(items: list[str]) -> tuple[str, ...]:
    """``--attrs`` as space- and/or comma-separated names."""
    return tuple(n.strip() for item in items for n in item.split(",") if n.strip())


def _data_inputs(data: str | None) -> list[Path]:
    return [Path(data)] if data and data != "synthetic" else []


def _warn_if_weak(command: str, metrics, judge: str) -> None:
    """One line on stderr if the judge is no better than its majority-class baseline on
    some attributes (:func:`stgan.judge.weak_attributes`)."""
    from stgan.judge import weakness_warning

    line = weakness_warning(metrics, judge)
    if line:
        print(f"stgan {command}: warning: {line}", file=sys.stderr)


# --------------------------------------------------------------------------------------------
def cmd_train_classifier(args: argparse.Namespace) -> int:
    from stgan.config import Config, DataConfig, apply, parse_set, validate
    from stgan.data import open_dataset, resolve_crop
    from stgan.imageio import atomic_write_bytes
    from stgan.judge import (
        FILE_NAME,
        LEGACY,
        OFFICIAL,
        fit_judge,
        format_accuracy_table,
        json_ready,
        open_training_set,
        resolve_attrs,
        save_judge,
    )
    from stgan.models import count_parameters
    from stgan.outputs import check_output_dir
    from stgan.progress import Bar
    from stgan.runtime import resolve_device, seed_everything

    sets = parse_set(args.set)
    if set(sets) - {"data"}:
        raise UserError("train-classifier takes only --set data.KEY=VALUE overrides")
    recipe = LEGACY if args.legacy else OFFICIAL
    attrs = _attr_list(args.attrs or (["13"] if args.legacy else []))
    data = DataConfig(dataset=args.data, attrs=resolve_attrs(attrs, args.data))
    if args.crop:
        data = replace(data, crop=args.crop)
    cfg = apply(Config(data=data), sets, from_text=True)
    validate(cfg)
    data, note = resolve_crop(cfg.data)
    crop = data.image_crop
    device = resolve_device(args.device)
    out = check_output_dir(
        args.out, (FILE_NAME, "metrics.json"), "--out", _data_inputs(data.dataset), args.overwrite
    )
    train_set = open_training_set(data, args.img_size, recipe, progress=not args.quiet)
    test_set = open_dataset(data, args.img_size, "test", progress=not args.quiet)
    seed_everything(args.seed)
    if not args.quiet:
        if note:
            print(note)
        print(
            f"stgan train-classifier: {len(train_set)} training / {len(test_set)} held-out "
            f"images ({data.dataset}, {' + '.join(train_set.splits)}), {args.img_size} px, "
            f"{len(train_set.attr_names)} attributes, {args.epochs} epochs, batch "
            f"{args.batch_size}, {recipe.name} recipe, device {device}"
        )
    show = not args.quiet
    with Bar("classifier", "batch", show) as on_step, Bar("classify", "batch", show) as on_batch:
        judge, report = fit_judge(
            train_set,
            test_set,
            args.img_size,
            device,
            args.epochs,
            args.batch_size,
            args.max_minutes,
            args.seed,
            data.num_workers,
            crop,
            on_step=on_step,
            on_batch=on_batch,
            recipe=recipe,
        )
    report.update(
        data=data.dataset, img_size=args.img_size, crop=crop, params=count_parameters(judge.model)
    )
    save_judge(
        out / FILE_NAME,
        judge.model,
        judge.attr_names,
        args.img_size,
        crop,
        metrics=report,
        data=data.dataset,
        epochs=report["train"]["epochs"],
        steps=report["train"]["steps"],
        training=report["train"].get("recipe"),
    )
    atomic_write_bytes(
        out / "metrics.json", (json.dumps(json_ready(report), indent=2) + "\n").encode()
    )
    print(
        f"held-out accuracy on {report['n_images']} test images "
        f"(after {report['train']['epochs']:.2f} epochs, {report['train']['minutes']:.1f} min):"
    )
    print(format_accuracy_table(report))
    print(f"wrote {out / FILE_NAME} and {out / 'metrics.json'}")
    _warn_if_weak("train-classifier", report, f"the judge {out / FILE_NAME}")
    return 0


# --------------------------------------------------------------------------------------------
def cmd_eval(args: argparse.Namespace) -> int:
    from stgan.evaluate import evaluate_checkpoint
    from stgan.judge import Judge
    from stgan.outputs import check_output_dir
    from stgan.runtime import resolve_device

    inputs = [Path(args.checkpoint), *_data_inputs(args.data)]
    inputs += [Path(p) for p in (args.classifier, args.inception) if p]
    check_output_dir(args.out, EVAL_FILES, "--out", inputs, args.overwrite)
    device = resolve_device(args.device)
    judge = Judge.from_file(args.classifier, device) if args.classifier else None
    inception = None
    if args.inception:
        from stgan.fid import InceptionFeatures

        inception = InceptionFeatures(args.inception, device)
    r = evaluate_checkpoint(
        args.checkpoint,
        judge,
        args.out,
        data=args.data,
        crop=args.crop,
        limit=args.limit,
        strength=args.strength,
        batch_size=args.batch_size,
        device=device,
        inception=inception,
        progress=not args.quiet,
    )
    if judge is not None:  # on the attributes it judged here (it may know more)
        from stgan.judge import restrict_report

        held_out = restrict_report(judge.info.get("metrics"), r.get("attr_names") or [])
        _warn_if_weak("eval", held_out, f"the judge {judge.info['path']}")
    s = r["summary"]
    print(
        f"{r['n_images']} test images: reconstruction PSNR {s['psnr']:.2f} dB, SSIM {s['ssim']:.4f}"
    )
    for e in r["strengths"]:
        if "accuracy_mean" in e:
            print(
                f"strength {e['strength']:g}: mean attribute accuracy "
                f"{100 * e['accuracy_mean']:.2f}%, preservation error "
                f"{100 * e['preservation']['mean']:.2f}% (official definition: "
                f"{100 * e['preservation_official']['mean']:.2f}%)"
            )
    if s["gt_edit_psnr"] is not None:
        print(
            f"ground-truth edit fidelity: PSNR {s['gt_edit_psnr']:.2f} dB, SSIM "
            f"{s['gt_edit_ssim']:.4f} (unedited image: {s['gt_identity_psnr']:.2f} dB)"
        )
    if s["fid"] is not None:
        print(f"FID edited vs real: {s['fid']:.2f}")
    print(f"wrote {Path(args.out) / 'report.md'} and metrics.json")
    return 0


# --------------------------------------------------------------------------------------------
def cmd_study(args: argparse.Namespace) -> int:
    from stgan.judge import Judge
    from stgan.outputs import check_writable_dir
    from stgan.runs import RunLock
    from stgan.runtime import resolve_device
    from stgan.study import run_study

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; a study folder is needed")
    check_writable_dir(out, "--out")
    if args.classifier:  # a judge given: warned about before the work
        judge = Judge.from_file(args.classifier)
        _warn_if_weak("study", judge.info.get("metrics"), f"the judge {judge.info['path']}")
    with RunLock(out):  # one study per folder (its variant runs live inside)
        study = run_study(
            out,
            args.config,
            args.data,
            args.variants,
            args.max_steps,
            args.max_minutes,
            args.classifier,
            args.judge_epochs,
            args.set,
            args.limit,
            args.batch_size,
            resolve_device(args.device),
            progress=not args.quiet,
            recipe=args.recipe,
        )
    print((out / "study.md").read_text())
    print(f"wrote {out / 'study.md'}, study.json and figures; {len(study['variants'])} variants")
    if not args.classifier and study.get("classifier"):  # the judge the study trained
        judge = Judge.from_file(study["classifier"])
        _warn_if_weak("study", judge.info.get("metrics"), f"the judge {study['classifier']}")
    return 0


# --------------------------------------------------------------------------------------------
def register(sub) -> None:
    c = sub.add_parser(
        "train-classifier",
        help="train the attribute classifier that judges edits",
        description="Train the reference's attribute classifier as the official code does "
        "(paper §4.1: 5 conv blocks, FC 512; Adam 2e-4, batch 64, 25 epochs, BCE, L2 weight "
        "decay 1e-4, lr x (1 - max(epoch - 8, 0)/epochs)^0.75, on the train + val images, 40 "
        "attributes when the labels have them). Prints per-attribute accuracy on the "
        "held-out test split next to the majority-class baseline; writes OUT/classifier.pt "
        "and OUT/metrics.json.",
    )
    options.add_data(
        c,
        help="'synthetic' (default) or a folder in CelebA layout or with images and a CSV of "
        "labels",
        default="synthetic",
    )
    c.add_argument("--out", required=True, help="output folder")
    c.add_argument(
        "--img-size",
        type=int,
        default=128,
        help="image side, a multiple of 32 (default 128, as the paper)",
    )
    c.add_argument(
        "--epochs", type=options.positive_int, default=25, help="training epochs (default 25)"
    )
    c.add_argument("--batch-size", type=_batch_size, default=64, help="batch size (default 64)")
    c.add_argument(
        "--attrs",
        nargs="+",
        metavar="NAME",
        help="attributes to learn: 40 (all CelebA attributes, as the official classifier), "
        "13 (the model's), or names, space- or comma-separated (default: 40 when the label "
        "file has them, else 13)",
    )
    c.add_argument(
        "--legacy",
        action="store_true",
        help="train as stgan did before: no weight decay, constant lr, train split only, "
        "13 attributes unless --attrs",
    )
    options.add_crop(c, "crop of the photos (default celeba; synthetic faces need none)")
    c.add_argument(
        "--max-minutes", type=options.positive_float, help="stop training after this many minutes"
    )
    options.add_set(
        c,
        metavar="data.KEY=VALUE",
        help="data option, e.g. --set data.synthetic_n=4000 or data.cache=true",
    )
    c.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    options.add_device(c)
    options.add_overwrite(c, "OUT/classifier.pt and OUT/metrics.json")
    options.add_quiet(c)
    c.set_defaults(func=cmd_train_classifier)

    e = sub.add_parser(
        "eval",
        help="the paper's metrics for a generator checkpoint",
        description="Evaluate a generator on the test split of its data (reference §6): "
        "reconstruction PSNR/SSIM, attribute generation accuracy, preservation error, "
        "ground-truth edit fidelity on synthetic faces, optional FID. Writes metrics.json, "
        "report.md, accuracy.png and preservation.png into --out.",
    )
    e.add_argument("--checkpoint", required=True, help="run folder (newest checkpoint) or .pt")
    e.add_argument(
        "--classifier",
        help="judge from `stgan train-classifier` (folder or .pt); "
        "without it only reconstruction and ground truth are measured",
    )
    options.add_data(e, help="test data other than the checkpoint's: 'synthetic' or a folder")
    options.add_crop(e, "crop of the --data photos (default: as the generator's training data)")
    e.add_argument("--out", required=True, help="report folder")
    e.add_argument(
        "--limit", type=options.positive_int, help="only the first N test images (quick runs)"
    )
    e.add_argument(
        "--strength",
        type=float,
        help="also report accuracy with the flipped "
        "attribute set to ±S (the paper's setting is the checkpoint's test_int, 1: "
        "att_diff ±1.5; 0.5 gives att_diff ±1, the training scale)",
    )
    e.add_argument(
        "--batch-size", type=options.positive_int, default=32, help="images per pass (default 32)"
    )
    e.add_argument(
        "--inception",
        metavar="PATH",
        help="TorchScript Inception file: also compute FID of the edited vs the real test images",
    )
    options.add_device(e)
    options.add_overwrite(e, "an existing report in --out")
    options.add_quiet(e)
    e.set_defaults(func=cmd_eval)

    s = sub.add_parser(
        "study",
        help="train and compare the AttGAN variants and STGAN (paper Fig. 4)",
        description="Train each variant for the same budget on the same data and seed, "
        "evaluate each with the same judge (trained first on the same data unless "
        "--classifier is given) and write the reconstruction-vs-editing trade-off: "
        "study.md, study.json, study_scatter.png, study_accuracy.png. Variants already "
        "evaluated in --out are skipped (resumable); the folder is locked while a study runs.",
    )
    s.add_argument("--out", required=True, help="study folder (an existing one is continued)")
    s.add_argument(
        "--config",
        default="tiny",
        help=f"shipped config ({', '.join(SHIPPED)}) "
        "or TOML file shared by every variant (default tiny)",
    )
    options.add_recipe(s)
    options.add_data(s, help="'synthetic' (default) or a folder", default="synthetic")
    s.add_argument(
        "--variants",
        nargs="+",
        choices=list(PRESETS),
        metavar="PRESET",
        default=["attgan-ed", "attgan", "attgan-2s", "attgan-unet", "stgan"],
        help="presets to compare (default: attgan-ed attgan attgan-2s attgan-unet stgan)",
    )
    s.add_argument("--max-steps", type=options.positive_int, help="G iterations per variant")
    s.add_argument(
        "--max-minutes", type=options.positive_float, help="training minutes per variant"
    )
    s.add_argument("--classifier", help="judge file; default: train one on the same data")
    s.add_argument(
        "--judge-epochs",
        type=options.positive_int,
        default=5,
        help="epochs of that judge (default 5)",
    )
    s.add_argument(
        "--limit", type=options.positive_int, help="evaluate on the first N test images only"
    )
    s.add_argument(
        "--batch-size",
        type=options.positive_int,
        default=32,
        help="images per evaluation pass",
    )
    options.add_set(s, help="config override for every variant (repeatable)")
    options.add_device(s)
    options.add_quiet(s)
    s.set_defaults(func=cmd_study)


def _batch_size(text: str) -> int:
    v = options.positive_int(text)
    if v < 2:
        raise argparse.ArgumentTypeError(f"must be ≥ 2, got {v}")
    return v
