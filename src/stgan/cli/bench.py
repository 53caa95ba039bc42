"""``stgan bench``: training speed, input throughput of a data folder, or editing speed on
the CPU (``--edit``: the plain fp32 eager path against the fast one, in the same run)."""

from __future__ import annotations

import argparse

from stgan.cli import options
from stgan.errors import UserError


def register(sub) -> None:
    b = sub.add_parser(
        "bench",
        help="measure training speed (ms per G iteration), input or editing speed",
        description="Time full training iterations (n_critic D steps + one G "
        "step) on random batches already on the device; prints a Markdown row "
        "for docs/benchmarks.md.",
    )
    options.add_config(b, "default: the paper's settings (celeba128)")
    options.add_recipe(b)
    options.add_device(b, default=None)  # None: the config's train.device
    options.add_data(
        b,
        help="measure input throughput of this data folder instead: "
        "JPEG decoding vs the decoded cache (built first, untimed)",
    )
    b.add_argument(
        "--images", type=options.positive_int, default=2000, help="images read per path (--data)"
    )
    b.add_argument(
        "--steps", type=options.positive_int, default=10, help="timed iterations (default 10)"
    )
    b.add_argument("--warmup", type=int, default=2, help="untimed iterations first")
    b.add_argument(
        "--edit",
        action="store_true",
        help="measure one edit on the CPU instead: the plain fp32 eager generator against "
        "the fast path (int8), interleaved in the same run, with the fast path's error "
        "against fp32 (random weights of --config, or those of --checkpoint)",
    )
    b.add_argument(
        "--checkpoint",
        help="with --edit: time and measure the error of this run's generator (a run folder "
        "or a .pt file) instead of random weights",
    )
    b.add_argument("--json", action="store_true", help="with --edit: print one JSON object")
    b.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    import torch

    from stgan.bench import HEADER, train_speed
    from stgan.config import load
    from stgan.runtime import resolve_device, seed_everything

    if args.edit:
        return _bench_edit(args)
    if args.checkpoint or args.json:
        raise UserError("--checkpoint and --json go with --edit")
    cfg = load(args.config, args.preset, options.with_data(args.set, args.data), args.recipe)
    if args.data:
        from stgan.bench import INPUT_HEADER, input_speed

        rows = input_speed(
            cfg.data, cfg.model.img_size, args.images, cfg.train.batch_size, cfg.data.num_workers
        )
        print(INPUT_HEADER)
        print("\n".join(r.row() for r in rows))
        return 0
    device = resolve_device(args.device or cfg.train.device)
    seed_everything(cfg.train.seed)
    torch.backends.cudnn.benchmark = True
    r = train_speed(cfg, device, len(cfg.data.attrs), steps=args.steps, warmup=args.warmup)
    print(HEADER)
    print(r.row())
    return 0


def _bench_edit(args: argparse.Namespace) -> int:
    import json

    from stgan.bench import EDIT_HEADER, edit_speed
    from stgan.config import load
    from stgan.runtime import seed_everything

    if args.data:
        raise UserError("--edit times the generator on synthetic faces; leave out --data")
    if args.device not in (None, "cpu"):
        raise UserError(f"--edit measures the CPU paths; leave out --device {args.device}")
    if args.checkpoint:
        from stgan.inference import Editor

        editor = Editor.from_checkpoint(args.checkpoint, "cpu", fast=False)
        cfg, G, names = editor.cfg, editor.G, editor.attr_names
    else:
        cfg = load(args.config, args.preset, args.set, args.recipe)
        seed_everything(cfg.train.seed)
        G, names = None, None
    r = edit_speed(cfg, G, names, steps=args.steps, warmup=args.warmup)
    if args.json:
        from stgan.jsonio import json_ready

        print(json.dumps(json_ready(r.to_json()), indent=2))
        return 0
    print(f"{r.cpu}, torch {r.torch}, {r.threads} threads; fast path: {r.path}")
    print(EDIT_HEADER)
    print(r.row())
    return 0
