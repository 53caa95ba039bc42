"""``stgan edit`` and ``stgan sample``: a trained generator applied to the user's photos.

Outputs are checked before the model runs: they never replace an input, existing files are
kept unless ``--overwrite``, and two photos never write the same output name.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from stgan.cli import options
from stgan.errors import UserError

VALUE_SCALE = (
    "1 = on and 0 = off, both at the checkpoint's full test strength (the paper's ±1.5 "
    "difference); any other value in [-1, 1] is an intensity that places the attribute at "
    "that value on the model's scale (so 0 is fully off, while 0.001 is about neutral and "
    "-0.5 half off)"
)


def _add_source(q: argparse.ArgumentParser) -> None:
    q.add_argument(
        "--source",
        action="append",
        metavar="NAME=0|1,...",
        help="source attributes of the image(s), the same for all; unnamed ones count as 0. "
        "Give one of --source, --labels or --classifier; without any, a label file beside "
        "the images is used",
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
    options.add_crop(q, "crop before resizing (default: as the training data)")
    options.add_device(q)


def register(sub) -> None:
    e = sub.add_parser(
        "edit",
        help="edit attributes of images",
        description="Edit the named attributes of one image or a folder; the "
        "others are kept (difference attribute vector, reference §1). Values: "
        + VALUE_SCALE
        + ". An input is never overwritten, nor an existing output without --overwrite.",
    )
    e.add_argument("--checkpoint", required=True, help="run folder (newest checkpoint) or .pt")
    e.add_argument("--image", required=True, help="an image file or a folder of images")
    e.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="attribute to change (repeatable), e.g. --set Blond_Hair=1 --set Young=-0.5: "
        "1 = on, 0 = off (full strength), other values in [-1, 1] = intensity",
    )
    e.add_argument(
        "--out",
        required=True,
        help="output .png or .jpg (one image), or a folder (NAME.png per image; images "
        "sharing a name, a.jpg and a.png, give a.jpg.png and a.png.png)",
    )
    e.add_argument("--side-by-side", action="store_true", help="write input | edit pairs")
    e.add_argument("--batch-size", type=options.positive_int, default=16, help=argparse.SUPPRESS)
    options.add_overwrite(e)
    _add_source(e)
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
    s.add_argument("--out", required=True, help="output image (.png, or .jpg)")
    s.add_argument(
        "--n", type=options.positive_int, default=8, help="rows (images), ≥ 1, default 8"
    )
    options.add_overwrite(s)
    _add_source(s)
    s.set_defaults(func=cmd_sample)


def cmd_edit(args: argparse.Namespace) -> int:
    import torch

    from stgan.inference import Editor
    from stgan.outputs import (
        IMAGE_FORMATS,
        check_output_dir,
        check_output_file,
        edit_names,
        write_image,
    )
    from stgan.photos import list_images, load_images, parse_assignments, source_labels
    from stgan.runtime import resolve_device

    changes = parse_assignments(args.set, "--set")
    if not changes:
        raise UserError("name at least one attribute to change: --set Name=VALUE")
    image = Path(args.image)
    files = list_images(image)
    out = Path(args.out)
    inputs = [image, *files, Path(args.checkpoint)]
    single = image.is_file() and out.suffix.lower() in IMAGE_FORMATS
    if not single and out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; a folder is needed (or a .png/.jpg name)")
    if single:
        check_output_file(out, "--out", inputs, args.overwrite)
        names = [out.name]
    elif out.suffix and not out.is_dir():
        raise UserError(
            f"--out {out} must be a folder, or, for one image, a file name ending with "
            f"{' or '.join(IMAGE_FORMATS)}"
        )
    else:
        names = edit_names(files)
        check_output_dir(out, names, "--out", inputs, args.overwrite)

    editor = Editor.from_checkpoint(args.checkpoint, resolve_device(args.device))
    editor.target(torch.zeros(1, len(editor.attr_names)), changes)  # check names first
    crop = args.crop or editor.crop
    images = load_images(files, crop, editor.img_size)  # every input read before any output
    source = source_labels(
        files, editor.attr_names, images, args.source, args.classifier, args.labels
    )
    paths = [out] if single else [out / n for n in names]
    for start in range(0, len(files), args.batch_size):
        end = start + args.batch_size
        edited = editor.edit(images[start:end], source[start:end], changes)
        for path, img, src in zip(paths[start:end], edited, images[start:end], strict=True):
            write_image(path, _side_by_side(src, img) if args.side_by_side else img)
    n = len(paths)
    print(
        f"wrote {n} edited image{'s' if n != 1 else ''}" + (f": {out}" if single else f" to {out}")
    )
    return 0


def _side_by_side(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from stgan.imageio import make_grid

    return make_grid([[a, b]])


def cmd_sample(args: argparse.Namespace) -> int:
    from stgan.inference import Editor
    from stgan.outputs import check_output_file, write_image
    from stgan.photos import list_images, load_images, source_labels
    from stgan.runtime import resolve_device

    files = list_images(Path(args.images))[: args.n]
    inputs = [Path(args.images), *files, Path(args.checkpoint)]
    check_output_file(args.out, "--out", inputs, args.overwrite)
    editor = Editor.from_checkpoint(args.checkpoint, resolve_device(args.device))
    images = load_images(files, args.crop or editor.crop, editor.img_size)
    source = source_labels(
        files, editor.attr_names, images, args.source, args.classifier, args.labels
    )
    grid = editor.grid(images, source)
    write_image(args.out, grid)
    print(
        f"wrote {args.out}: {len(files)} rows × (input, reconstruction, "
        f"{len(editor.attr_names)} flips: {', '.join(editor.attr_names)})"
        + ("; under each row its masks (white: generated, black: input kept)"
           if editor.cfg.model.mask else "")
    )  # fmt: skip
    return 0
