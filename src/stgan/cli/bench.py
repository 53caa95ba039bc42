"""``stgan bench``: training speed (``--compare``: the plain fp32 eager path against the fast
path, in the same run), input throughput of a data folder, or editing speed on the CPU
(``--edit``: the plain fp32 eager path against the fast one, in the same run)."""

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
        "for docs/benchmarks.md: ms per G iteration, images/s, TFLOP/s from FLOPs counted by "
        "torch's FlopCounterMode, the fraction of the device's published peak when known, "
        "peak memory and the fast-path switches (train.amp, train.channels_last, train.adam, "
        "train.cuda_graph, train.compile).",
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
    b.add_argument(
        "--compare",
        action="store_true",
        help="measure the plain fp32 eager path (every fast-path switch off) and the "
        "config's fast path in the same run, interleaved, and print the ratio",
    )
    b.add_argument(
        "--each-switch",
        action="store_true",
        help="with --compare: also the plain path with each switch of the fast path alone",
    )
    b.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per measured configuration, one per line (with --edit: "
        "one object)",
    )
    b.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    import torch

    from stgan.bench import HEADER, plain_config, switch_configs, train_speeds
    from stgan.config import load
    from stgan.runtime import resolve_device, seed_everything

    if args.edit:
        if args.compare or args.each_switch:
            raise UserError("--edit always compares the fp32 and fast paths; leave out --compare")
        return _bench_edit(args)
    if args.checkpoint:
        raise UserError("--checkpoint goes with --edit")
    if args.each_switch and not args.compare:
        raise UserError("--each-switch goes with --compare")
    cfg = load(args.config, args.preset, options.with_data(args.set, args.data), args.recipe)
    if args.data:
        if args.compare or args.json:
            raise UserError("--data measures input throughput; leave out --compare and --json")
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
    configs = {"config": cfg}
    if args.compare:
        configs = {"plain": plain_config(cfg), "fast": cfg}
        if args.each_switch:
            configs.update(switch_configs(cfg, device))
    rows = train_speeds(configs, device, len(cfg.data.attrs), args.steps, args.warmup)
    if args.json:
        import json

        from stgan.jsonio import json_ready

        for r in rows:
            print(json.dumps(json_ready(r.to_json())))
        return 0
    r0 = rows[0]
    print(
        f"{r0.device_name}, torch {r0.torch}, {r0.threads} threads; "
        f"{r0.gflop_per_iter:.1f} GFLOP per G iteration (counted)"
    )
    print(HEADER)
    print("\n".join(r.row() for r in rows))
    if args.compare:
        fast = next(r for r in rows if r.name == "fast")
        print(
            f"fast path: {fast.ms_per_iter:.1f} ms against {r0.ms_per_iter:.1f} ms per G "
            f"iteration plain: {fast.speedup:.2f}x"
        )
        if fast.plain:
            print(
                f"(every switch resolves to off on {device.type}: set some, e.g. --set "
                "train.amp=bf16 --set train.channels_last=on --set train.adam=fused)"
            )
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
