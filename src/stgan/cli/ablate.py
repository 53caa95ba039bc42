"""``stgan ablate``: training recipes and their switches, quality against compute."""

from __future__ import annotations

import argparse

from stgan.cli.options import add_data, add_device, add_quiet, add_set, positive_int


def register(sub) -> None:
    a = sub.add_parser(
        "ablate",
        help="recipes and switches side by side: quality against compute (docs/recipes.md)",
        description="Train each variant (a recipe plus switches, e.g. 'fast', 'paper', "
        "'fast+model.mask=false', 'paper+train.ema_decay=0.99') on the same data from the "
        "same seed, evaluate it with the same judge after each budget of G iterations, and "
        "write OUT/ablation.md (table), ablation.json and ablation.png (quality against "
        "training CPU seconds). Resumable: finished points are not redone.",
    )
    a.add_argument("--out", required=True, help="ablation folder")
    a.add_argument(
        "--variants",
        default="paper,fast",
        help="comma-separated variant specs RECIPE[+section.key=value...] (default paper,fast)",
    )
    a.add_argument(
        "--budgets",
        default="100,200,400",
        help="comma-separated budgets, G iterations (100,200,400) or cumulative training CPU "
        "seconds (60s,120s); each variant is evaluated at each",
    )
    a.add_argument("--config", default="tiny", help="shipped config or TOML file (default tiny)")
    add_data(a, help="'synthetic' (default) or a data folder; the same for every variant")
    a.add_argument(
        "--classifier", help="the judge (a `stgan train-classifier` output); default: train one"
    )
    a.add_argument(
        "--judge-epochs", type=positive_int, default=5, help="epochs of a judge trained here"
    )
    a.add_argument(
        "--limit", type=positive_int, default=200, help="test images evaluated (default 200)"
    )
    add_set(a, help="override a config field for every variant (before its own switches)")
    add_device(a, default="cpu")
    add_quiet(a)
    a.set_defaults(func=cmd_ablate)


def cmd_ablate(args: argparse.Namespace) -> int:
    from stgan.ablation import parse_budgets, parse_variant, run_ablation
    from stgan.outputs import check_writable_dir
    from stgan.runtime import resolve_device

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    for v in variants:
        parse_variant(v)  # a bad spec fails before any work
    budgets = args.budgets.split(",")
    parse_budgets(budgets)  # a bad budget fails before any work
    check_writable_dir(args.out, "--out")
    result = run_ablation(
        args.out,
        variants,
        budgets,
        config=args.config,
        data=args.data,
        classifier=args.classifier,
        judge_epochs=args.judge_epochs,
        overrides=args.set,
        limit=args.limit,
        device=resolve_device(args.device),
        progress=not args.quiet,
    )
    print(
        f"wrote {args.out}/ablation.md "
        f"({len(result['variants'])} variants × {len(budgets)} budgets)"
    )
    return 0
