"""``stgan data synth`` and ``stgan data check``: write synthetic faces, inspect a data folder."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from stgan.cli import options
from stgan.errors import UserError


def register(sub) -> None:
    d = sub.add_parser("data", help="dataset tools")
    dsub = d.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    ds = dsub.add_parser(
        "synth",
        help="write synthetic faces in CelebA layout",
        description="Write N procedural faces (PNG) and list_attr_celeba.txt "
        "with the 13 STGAN attributes. An existing dataset in --out is never replaced.",
    )
    ds.add_argument("--n", type=options.positive_int, required=True, help="number of images")
    ds.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    ds.add_argument("--out", required=True, help="output folder")
    ds.add_argument("--seed", type=int, default=0, help="seed (same seed, same faces)")
    options.add_quiet(ds)
    ds.set_defaults(func=cmd_data_synth)

    dc = dsub.add_parser(
        "check",
        help="read every image of a data folder; counts, attribute rates, a contact sheet",
        description="Read a data folder as training would (splits, crop, resize): print the "
        "split rule in use (data.split) and why, the resize, the number of images per split "
        "and the rate of +1 of each attribute, then decode every "
        "image (all cores) and print one line per image that cannot be read (missing, corrupt, "
        "too large, too small for the crop); exit status 2 if there is any. --sheet writes the "
        "first test images as training sees them (only when every image reads). Nothing else "
        "is written (no decoded cache).",
    )
    options.add_data(dc, help="'synthetic' or a data folder", required=True)
    dc.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    options.add_crop(dc, "default: celeba")
    dc.add_argument("--sheet", help="write a contact sheet image (.png or .jpg) here")
    dc.add_argument(
        "--n", type=options.positive_int, default=16, help="images on the sheet (default 16)"
    )
    options.add_overwrite(dc, "an existing --sheet")
    options.add_quiet(dc)
    options.add_set(
        dc,
        metavar="data.KEY=VALUE",
        help="data option, e.g. --set data.attrs=Male,Young (repeatable)",
    )
    dc.set_defaults(func=cmd_data_check)


def cmd_data_synth(args: argparse.Namespace) -> int:
    from stgan.data.synthetic import write_celeba_layout
    from stgan.outputs import check_writable_dir

    if not 16 <= args.size <= 1024:
        raise UserError("--size must be in 16..1024")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; a folder is needed")
    check_writable_dir(out, "--out")
    t0 = time.monotonic()
    write_celeba_layout(out, args.n, args.size, seed=args.seed, progress=not args.quiet)
    print(
        f"wrote {args.n} synthetic faces at {args.size} px to {out} "
        f"in {time.monotonic() - t0:.1f} s"
    )
    return 0


def cmd_data_check(args: argparse.Namespace) -> int:
    """Counts per split, the rate of each attribute, every image decoded, and a contact sheet
    of what training sees."""
    from stgan.config import load
    from stgan.data import open_dataset, resolve_crop, unreadable_images
    from stgan.imageio import make_grid
    from stgan.outputs import check_output_file, write_image

    overrides = options.with_data(args.set, args.data)
    if args.crop:
        overrides.append(f"data.crop={args.crop}")
    cfg = load(overrides=overrides)
    data, note = resolve_crop(cfg.data)
    # read from the files, never through (or into) a decoded cache: the check writes nothing
    cfg = replace(cfg, data=replace(data, cache=False))
    if note:
        print(note)
    if args.sheet:
        inputs = [] if cfg.data.dataset == "synthetic" else [Path(cfg.data.dataset)]
        check_output_file(args.sheet, "--sheet", inputs, args.overwrite)
    sets = {
        s: open_dataset(cfg.data, args.size, s, progress=False, read_first=False)
        for s in ("train", "val", "test")
    }
    names = sets["train"].attr_names
    total = sum(len(d) for d in sets.values())
    print(f"{args.data}: {total} images — " + ", ".join(f"{s} {len(d)}" for s, d in sets.items()))
    print(_split_line(cfg.data, sets["train"]))
    labels = np.concatenate([np.asarray(d.labels) for d in sets.values()])
    print("| attribute | rate of +1 |\n|---|---:|")
    for name, rate in zip(names, labels.mean(axis=0), strict=True):
        print(f"| {name} | {rate:.3f} |")
    everything = open_dataset(cfg.data, args.size, "all", progress=False, read_first=False)
    bad = unreadable_images(everything, progress=not args.quiet)
    for line in bad:
        print(line)
    if bad:
        raise UserError(
            f"{len(bad)} of {len(everything)} images cannot be read (listed above); fix or "
            "remove them (and their label rows) before training"
        )
    if cfg.data.dataset != "synthetic":
        print(f"every one of the {len(everything)} images reads as training reads it")
    if args.sheet:
        test = sets["test"]
        tiles = [test.image_uint8(i) for i in range(min(args.n, len(test)))]
        cols = max(1, int(np.ceil(np.sqrt(len(tiles)))))
        write_image(
            args.sheet, make_grid([tiles[r : r + cols] for r in range(0, len(tiles), cols)])
        )
        print(f"wrote {args.sheet}: the first {len(tiles)} test images after crop and resize")
    return 0


def _split_line(data, train) -> str:
    """Which split rule and resize the check (and a run with these settings) uses, and why."""
    if data.dataset == "synthetic":
        return (
            "split: synthetic (samples in order: train, test, val; data.test_fraction="
            f"{data.test_fraction})"
        )
    rule, why = train.split_rule
    return f"split: {rule} (data.split={data.split}: {why}); resize: {data.resize}"
