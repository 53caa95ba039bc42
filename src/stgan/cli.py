"""The ``stgan`` command line: argv → config → calls into the library.

The only module with process-wide side effects (seeding, printing, folders). Every
:class:`~stgan.errors.UserError` becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from stgan import __version__
from stgan.config import PRESETS, SHIPPED
from stgan.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


# --------------------------------------------------------------------------------------------
# train
def cmd_train(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from stgan import checkpoint
    from stgan.config import apply, from_dict, load, parse_set, to_toml, validate
    from stgan.data import open_dataset
    from stgan.imageio import atomic_write_bytes
    from stgan.models import build_discriminator, build_generator, count_parameters
    from stgan.runtime import resolve_device, seed_everything
    from stgan.trainer import Trainer

    run_dir = Path(args.out) if args.out else Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    sets = _with_data(args.set, args.data)
    ckpt = None
    if args.resume:
        ckpt = checkpoint.load(run_dir)
        saved = from_dict(ckpt["config"])
        if args.config or args.preset:
            cfg = load(args.config, args.preset, sets)
        else:  # continue with the run's own config, plus any --set
            cfg = apply(saved, parse_set(sets), from_text=True)
        _check_same_run(cfg, saved, ckpt["path"])
    else:
        cfg = load(args.config, args.preset, sets)
        if checkpoint.list_checkpoints(run_dir):
            raise UserError(
                f"run folder {run_dir} already holds checkpoints; pass --resume to "
                "continue it or choose another --out"
            )
    validate(cfg)
    device = resolve_device(cfg.train.device)

    train_set = open_dataset(cfg.data, cfg.model.img_size, "train")
    test_set = open_dataset(cfg.data, cfg.model.img_size, "test")
    names = train_set.attr_names
    n = min(cfg.train.n_samples, len(test_set))
    xs, ys = zip(*(test_set[i] for i in range(n)), strict=True)
    sample_batch = (torch.stack(xs), torch.stack(ys))

    seed_everything(cfg.train.seed)
    G = build_generator(cfg.model, len(names))
    D = build_discriminator(cfg.model, len(names))
    trainer = Trainer(cfg, G, D, names, device)
    if ckpt is not None:
        trainer.load_checkpoint(ckpt)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(run_dir / "config.toml", to_toml(cfg).encode())
    print(
        f"stgan train: preset {cfg.preset}, {len(train_set)} training images "
        f"({cfg.data.dataset}), {cfg.model.img_size} px, G {count_parameters(G):,} / "
        f"D {count_parameters(D):,} parameters, device {device}, run folder {run_dir}"
    )

    def bar(start: int, total: int):
        return tqdm(
            total=total,
            initial=start,
            desc="train",
            unit="it",
            dynamic_ncols=True,
            disable=args.quiet,
        )

    step = trainer.fit(train_set, run_dir, sample_batch, args.max_steps, args.max_minutes, bar)
    last = checkpoint.list_checkpoints(run_dir)[-1]
    plotted = _plot_losses(run_dir)
    print(
        f"stopped at step {step}; checkpoint {last}; samples in {run_dir / 'samples'}"
        + (f"; loss curves {run_dir / 'losses.png'}" if plotted else "")
    )
    return 0


def _plot_losses(run_dir: Path) -> bool:
    from stgan.plots import loss_curves
    from stgan.scalars import read_log

    log = run_dir / "log.jsonl"
    return log.is_file() and loss_curves(run_dir / "losses.png", read_log(log))


def cmd_plot(args: argparse.Namespace) -> int:
    run_dir = Path(args.run)
    if not (run_dir / "log.jsonl").is_file():
        raise UserError(f"{run_dir} has no log.jsonl; pass the folder of a `stgan train` run")
    if not _plot_losses(run_dir):
        raise UserError("plotting needs matplotlib: pip install matplotlib (or stgan[plots])")
    print(f"wrote {run_dir / 'losses.png'}")
    return 0


def _with_data(sets: list[str], data: str | None) -> list[str]:
    """``--data DIR`` is the override ``data.dataset=DIR``, applied after the other --set."""
    return [*sets, f"data.dataset={data}"] if data else list(sets)


def _check_same_run(cfg, saved, path: str) -> None:
    """A resumed run must keep the model and the data of its checkpoint."""
    for section in ("model", "data"):
        a, b = getattr(saved, section), getattr(cfg, section)
        for key in a.__dataclass_fields__:
            if key in ("num_workers", "cache", "cache_dir"):
                continue
            if getattr(a, key) != getattr(b, key):
                raise UserError(
                    f"checkpoint {path} was trained with {section}.{key}="
                    f"{getattr(a, key)!r}, this run asks for {getattr(b, key)!r}; resume with "
                    "the run's own config or start a new --out"
                )


# --------------------------------------------------------------------------------------------
# edit and sample
def _parse_assignments(items: list[str], what: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        for part in item.split(","):
            name, sep, value = part.partition("=")
            try:
                v = float(value)
            except ValueError:
                v = float("nan")
            if not sep or not name.strip() or not (-1.0 <= v <= 1.0):
                raise UserError(
                    f"malformed {what} {part!r}; expected Name=VALUE with VALUE 1 "
                    "(on), 0 (off) or an intensity in [-1, 1]"
                )
            out[name.strip()] = v
    return out


def _list_images(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise UserError(f"image path {path} does not exist; pass an image file or a folder")
    for sub in (path / "img_align_celeba", path / "images", path):
        if sub.is_dir():
            found = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if found:
                return found
    raise UserError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {path}")


def _source_labels(files: list[Path], names, args, images: np.ndarray) -> np.ndarray:
    """0/1 source attributes (len(files), n) from --source, --classifier, --labels or a label
    file beside the images (joined by file name)."""
    from stgan.attributes import check_names
    from stgan.data import read_labels

    if getattr(args, "source", None):
        src = _parse_assignments(args.source, "--source")
        check_names(list(src), names, "--source")
        row = np.array([1.0 if src.get(n, 0.0) > 0 else 0.0 for n in names], dtype=np.float32)
        return np.tile(row, (len(files), 1))
    if getattr(args, "classifier", None):
        from stgan.judge import Judge

        judge = Judge.from_file(args.classifier)
        cols = judge.columns(names)
        return judge.predict(images)[:, cols].astype(np.float32)
    label_path = getattr(args, "labels", None)
    if label_path is None:
        folder = files[0].parent
        label_path = next(
            (c for c in (folder, folder.parent)
             if (c / "list_attr_celeba.txt").is_file() or any(c.glob("*.csv"))),
            None,
        )  # fmt: skip
        if label_path is None:
            raise UserError(
                "the source attributes of the images are needed: pass --source "
                "Name=1,Name=0,..., --labels FILE (CelebA list_attr or CSV) or --classifier C"
            )
    all_names, label_files, labels = read_labels(label_path)
    check_names(names, all_names, f"the labels of {label_path}")
    index = {f: i for i, f in enumerate(label_files)}
    cols = [all_names.index(n) for n in names]
    rows = []
    for f in files:
        if f.name not in index:
            raise UserError(f"image {f.name} has no row in the labels of {label_path}")
        rows.append(labels[index[f.name], cols])
    return np.asarray(rows, dtype=np.float32)


def _load_images(files: list[Path], crop: str, size: int) -> np.ndarray:
    from stgan.data.transforms import load_image

    return np.stack([load_image(f, crop, size) for f in files])


def cmd_edit(args: argparse.Namespace) -> int:
    import torch

    from stgan.imageio import write_png
    from stgan.inference import Editor
    from stgan.runtime import resolve_device

    changes = _parse_assignments(args.set, "--set")
    if not changes:
        raise UserError("name at least one attribute to change: --set Name=VALUE")
    editor = Editor.from_checkpoint(args.checkpoint, resolve_device(args.device))
    editor.target(torch.zeros(1, len(editor.attr_names)), changes)  # check names first
    files = _list_images(Path(args.image))
    out = Path(args.out)
    single = Path(args.image).is_file() and out.suffix.lower() == ".png"
    if not single and out.suffix:
        raise UserError(
            f"--out {out} must be a folder when editing a folder of images, or end "
            "with .png for one image"
        )
    crop = args.crop or editor.crop
    images = _load_images(files, crop, editor.img_size)  # every input read before any output
    source = _source_labels(files, editor.attr_names, args, images)
    written = []
    for start in range(0, len(files), args.batch_size):
        end = start + args.batch_size
        edited = editor.edit(images[start:end], source[start:end], changes)
        for f, img, src in zip(files[start:end], edited, images[start:end], strict=True):
            path = out if single else out / f"{f.stem}.png"
            write_png(path, _side_by_side(src, img) if args.side_by_side else img)
            written.append(path)
    print(
        f"wrote {len(written)} edited image{'s' if len(written) != 1 else ''}"
        f"{' to ' + str(out) if not single else ': ' + str(out)}"
    )
    return 0


def _side_by_side(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from stgan.imageio import make_grid

    return make_grid([[a, b]])


def cmd_sample(args: argparse.Namespace) -> int:
    from stgan.imageio import write_png
    from stgan.inference import Editor
    from stgan.runtime import resolve_device

    editor = Editor.from_checkpoint(args.checkpoint, resolve_device(args.device))
    files = _list_images(Path(args.images))[: args.n]
    images = _load_images(files, args.crop or editor.crop, editor.img_size)
    source = _source_labels(files, editor.attr_names, args, images)
    grid = editor.grid(images, source)
    write_png(args.out, grid)
    print(
        f"wrote {args.out}: {len(files)} rows × (input, reconstruction, "
        f"{len(editor.attr_names)} flips: {', '.join(editor.attr_names)})"
    )
    return 0


# --------------------------------------------------------------------------------------------
# data
def cmd_data_synth(args: argparse.Namespace) -> int:
    from stgan.data.synthetic import write_celeba_layout

    if args.n < 1 or not 16 <= args.size <= 1024:
        raise UserError("--n must be ≥ 1 and --size in 16..1024")
    t0 = time.monotonic()
    write_celeba_layout(args.out, args.n, args.size, seed=args.seed, progress=not args.quiet)
    print(
        f"wrote {args.n} synthetic faces at {args.size} px to {args.out} "
        f"in {time.monotonic() - t0:.1f} s"
    )
    return 0


def cmd_data_check(args: argparse.Namespace) -> int:
    """Counts per split, the rate of each attribute, and a contact sheet of what training sees."""
    from stgan.config import load
    from stgan.data import open_dataset
    from stgan.imageio import make_grid, write_png

    overrides = _with_data(args.set, args.data)
    if args.crop:
        overrides.append(f"data.crop={args.crop}")
    cfg = load(overrides=overrides)
    sets = {
        s: open_dataset(cfg.data, args.size, s, progress=False) for s in ("train", "val", "test")
    }
    names = sets["train"].attr_names
    total = sum(len(d) for d in sets.values())
    print(f"{args.data}: {total} images — " + ", ".join(f"{s} {len(d)}" for s, d in sets.items()))
    labels = np.concatenate([np.asarray(d.labels) for d in sets.values()])
    print("| attribute | rate of +1 |\n|---|---:|")
    for name, rate in zip(names, labels.mean(axis=0), strict=True):
        print(f"| {name} | {rate:.3f} |")
    if args.sheet:
        test = sets["test"]
        tiles = [test.image_uint8(i) for i in range(min(args.n, len(test)))]
        cols = max(1, int(np.ceil(np.sqrt(len(tiles)))))
        write_png(args.sheet, make_grid([tiles[r : r + cols] for r in range(0, len(tiles), cols)]))
        print(f"wrote {args.sheet}: the first {len(tiles)} test images after crop and resize")
    return 0


# --------------------------------------------------------------------------------------------
# bench
def cmd_bench(args: argparse.Namespace) -> int:
    import torch

    from stgan.bench import HEADER, train_speed
    from stgan.config import load
    from stgan.runtime import resolve_device, seed_everything

    cfg = load(args.config, args.preset, _with_data(args.set, args.data))
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


# --------------------------------------------------------------------------------------------
# options shared by several commands
def add_config_args(p: argparse.ArgumentParser, default_note: str, preset: bool = True) -> None:
    """--config, --preset and --set, the three ways to choose a configuration."""
    p.add_argument(
        "--config", help=f"shipped config ({', '.join(SHIPPED)}) or a TOML file; {default_note}"
    )
    if preset:
        p.add_argument("--preset", choices=list(PRESETS), help="generator variant (default stgan)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a config field, e.g. --set train.batch_size=16 (repeatable)",
    )


def add_device_arg(p: argparse.ArgumentParser, default: str | None = "auto") -> None:
    p.add_argument("--device", default=default, help="auto | cpu | cuda | cuda:N | mps")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="stgan",
        description="STGAN (Liu et al., CVPR 2019): train, edit facial attributes, evaluate.",
    )
    p.add_argument("--version", action="version", version=f"stgan {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser(
        "train",
        help="train STGAN or an AttGAN variant",
        description="Train a generator and discriminator (reference §4). Writes "
        "config.toml, checkpoints/, samples/ and log.jsonl into the run folder.",
    )
    add_config_args(t, "default: the paper's settings (celeba128)")
    t.add_argument(
        "--data",
        help="'synthetic' (default) or a folder in CelebA layout "
        "(list_attr_celeba.txt) or with images and a CSV of labels",
    )
    t.add_argument("--out", help="run folder (default runs/<date-time>)")
    t.add_argument("--max-steps", type=int, help="stop after this many G iterations")
    t.add_argument(
        "--max-minutes",
        type=float,
        help="stop cleanly (final checkpoint and "
        "samples) once this many minutes of training have passed",
    )
    t.add_argument(
        "--resume",
        action="store_true",
        help="continue the newest checkpoint of --out exactly (weights, optimisers, step, RNG)",
    )
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    def add_source(q):
        q.add_argument(
            "--source",
            action="append",
            metavar="NAME=0|1,...",
            help="source attributes of the image(s); unnamed ones count as 0",
        )
        q.add_argument(
            "--classifier",
            help="judge file from `stgan train-classifier`: predict each image's source "
            "attributes with it",
        )
        q.add_argument(
            "--labels",
            help="label file giving the source attributes by file name "
            "(CelebA list_attr_celeba.txt or CSV); default: one beside the images",
        )
        q.add_argument(
            "--crop",
            choices=("celeba", "none", "center"),
            help="crop before resizing (default: as the training data)",
        )
        add_device_arg(q)

    e = sub.add_parser(
        "edit",
        help="edit attributes of images",
        description="Edit the named attributes of one image or a folder; the "
        "others are kept (difference attribute vector, reference §1).",
    )
    e.add_argument("--checkpoint", required=True, help="run folder (newest checkpoint) or .pt")
    e.add_argument("--image", required=True, help="an image file or a folder of images")
    e.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="attribute to change: 1 = on, 0 = off (at the paper's test strength), "
        "or an intensity in [-1, 1]; repeatable, e.g. --set Blond_Hair=1",
    )
    e.add_argument("--out", required=True, help="output .png (one image) or folder")
    e.add_argument("--side-by-side", action="store_true", help="write input | edit pairs")
    e.add_argument("--batch-size", type=int, default=16, help=argparse.SUPPRESS)
    add_source(e)
    e.set_defaults(func=cmd_edit)

    s = sub.add_parser(
        "sample",
        help="paper-style grid: input, reconstruction, every flip",
        description="Write a grid with one row per image: input | "
        "reconstruction | each attribute flipped at the test strength.",
    )
    s.add_argument("--checkpoint", required=True, help="run folder (newest checkpoint) or .pt")
    s.add_argument(
        "--images",
        required=True,
        help="folder of images (a CelebA-layout or CSV folder gives the source labels itself)",
    )
    s.add_argument("--out", required=True, help="output PNG")
    s.add_argument("--n", type=int, default=8, help="rows (images), default 8")
    add_source(s)
    s.set_defaults(func=cmd_sample)

    d = sub.add_parser("data", help="dataset tools")
    dsub = d.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    ds = dsub.add_parser(
        "synth",
        help="write synthetic faces in CelebA layout",
        description="Write N procedural faces (PNG) and list_attr_celeba.txt "
        "with the 13 STGAN attributes.",
    )
    ds.add_argument("--n", type=int, required=True, help="number of images")
    ds.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    ds.add_argument("--out", required=True, help="output folder")
    ds.add_argument("--seed", type=int, default=0, help="seed (same seed, same faces)")
    ds.add_argument("--quiet", action="store_true", help="no progress bar")
    ds.set_defaults(func=cmd_data_synth)
    dc = dsub.add_parser(
        "check",
        help="counts, attribute rates and a contact sheet of a data folder",
        description="Read a data folder as training would (splits, crop, resize) and print "
        "the number of images per split and the rate of +1 of each attribute; --sheet writes "
        "the first test images as training sees them.",
    )
    dc.add_argument("--data", required=True, help="'synthetic' or a data folder")
    dc.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    dc.add_argument("--crop", choices=("celeba", "none", "center"), help="default: celeba")
    dc.add_argument("--sheet", help="write a contact sheet PNG here")
    dc.add_argument("--n", type=int, default=16, help="images on the sheet (default 16)")
    dc.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="data.KEY=VALUE",
        help="data option, e.g. --set data.attrs=Male,Young (repeatable)",
    )
    dc.set_defaults(func=cmd_data_check)
    b = sub.add_parser(
        "bench",
        help="measure training speed (ms per G iteration)",
        description="Time full training iterations (n_critic D steps + one G "
        "step) on random batches already on the device; prints a Markdown row "
        "for docs/benchmarks.md.",
    )
    add_config_args(b, "default: the paper's settings (celeba128)")
    add_device_arg(b, default=None)  # None: the config's train.device
    b.add_argument(
        "--data",
        help="measure input throughput of this data folder instead: "
        "JPEG decoding vs the decoded cache (built first, untimed)",
    )
    b.add_argument("--images", type=int, default=2000, help="images read per path (--data)")
    b.add_argument("--steps", type=int, default=10, help="timed iterations (default 10)")
    b.add_argument("--warmup", type=int, default=2, help="untimed iterations first")
    b.set_defaults(func=cmd_bench)

    pl = sub.add_parser(
        "plot",
        help="loss curves of a run (losses.png)",
        description="Plot the scalars of RUN/log.jsonl into RUN/losses.png (also written at "
        "the end of every `stgan train`); works while the run is training.",
    )
    pl.add_argument("run", help="run folder")
    pl.set_defaults(func=cmd_plot)

    from stgan.cli_eval import add_parsers

    add_parsers(sub)  # train-classifier, eval, study
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as e:
        print(f"stgan: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stgan: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
