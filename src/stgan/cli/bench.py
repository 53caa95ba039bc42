"""``stgan bench``: training speed, or input throughput of a data folder."""

from __future__ import annotations

import argparse

from stgan.cli import options


def register(sub) -> None:
    b = sub.add_parser(
        "bench",
        help="measure training speed (ms per G iteration)",
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
    b.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    import torch

    from stgan.bench import HEADER, train_speed
    from stgan.config import load
    from stgan.runtime import resolve_device, seed_everything

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
