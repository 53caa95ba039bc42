"""``stgan edit`` and ``stgan sample``: a trained generator applied to the user's photos.

``stgan edit`` has one of three modes (reference §4, "test modes"):

- ``--set Name=VALUE``: the project's edit, attributes *set* to on / off at the test strength
  (``att_diff`` ±1.5) or to an intensity;
- ``--flip A,B``: the official test code's *multi* mode, each attribute flipped in turn with
  the conflict rules (``att_diff`` ±1 by default);
- ``--slide ATTR`` (or ``--sweep ATTR``): the official *slide* mode, one attribute's target set
  to each of n values (no conflict rules), written as a strip and an animated GIF.

``--align`` edits faces in any photo: each face is found, aligned like the training data,
edited and pasted back into the full-resolution photo (:mod:`stgan.align`).

Outputs are checked before the model runs: they never replace an input, existing files are
kept unless ``--overwrite``, and two photos never write the same output name.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
SLIDE_N = 8  # values of a slide (test.py's --n_slide is 10)
SLIDE_RANGE = "-1,1"  # its bounds (test.py's --test_int_min / --test_int_max)


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
    from stgan.strips import GIF_MAX_SIDE, STRIP_MAX_SIDE

    e = sub.add_parser(
        "edit",
        help="edit attributes of images, or of the faces in any photo (--align)",
        description="Edit the named attributes of one image or a folder; the others are "
        "kept (difference attribute vector, reference §1). One mode per run: --set (set "
        "values), --flip (the official test code's multi mode) or --slide/--sweep (its "
        "slide mode: a strip and a GIF). --set values: "
        + VALUE_SCALE
        + ". Without --align, images must be aligned and cropped like the training data; "
        "with --align, any photo works. An input is never overwritten, nor an existing "
        "output without --overwrite.",
    )
    # "--range -1,1": argparse would read "-1,1" as an option; numbers with a comma are values
    e._negative_number_matcher = re.compile(r"^-\d+$|^-\d*\.\d+$|^-\d*\.?\d+,")
    e.add_argument("--checkpoint", required=True, help="run folder (newest checkpoint) or .pt")
    e.add_argument("--image", required=True, help="an image file or a folder of images")
    mode = e.add_mutually_exclusive_group()
    mode.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="attribute to change (repeatable), e.g. --set Blond_Hair=1 --set Young=-0.5: "
        "1 = on, 0 = off (full strength), other values in [-1, 1] = intensity; conflicting "
        "attributes (another hair colour...) are turned off, two conflicting ones refused",
    )
    mode.add_argument(
        "--flip",
        action="append",
        metavar="A,B,...",
        help="the official multi mode: flip each listed attribute (on -> off, off -> on) in "
        "turn, each followed by its conflict rules, at the official strength (att_diff ±1); "
        "NAME=T scales one attribute's target by T > 0 as test.py's --test_ints (T = 2 gives "
        "att_diff ±1.5, as --set)",
    )
    mode.add_argument(
        "--slide",
        metavar="ATTR",
        help="the official slide mode: ATTR's target set to each of --n values from LO to HI "
        "(no conflict rules, the other attributes kept); per image a strip (input | one "
        "column per value, .png or .jpg) and an animated GIF of the values (.gif beside it). "
        "With --align, strip tiles larger than "
        f"{STRIP_MAX_SIDE} px and GIF frames larger than {GIF_MAX_SIDE} px on the long side "
        "are scaled down to that",
    )
    mode.add_argument("--sweep", metavar="ATTR", help="the same as --slide ATTR")
    e.add_argument(
        "--n",
        type=_slide_n,
        help=f"number of values of a slide, ≥ 2 (default {SLIDE_N})",
    )
    e.add_argument(
        "--range",
        metavar="LO,HI",
        help=f"the slide's first and last values (default {SLIDE_RANGE}; --range=-1,1 works "
        "too): the attribute's target on the model's scale, where the training labels are "
        "±0.5, so t = 1 on an attribute that is off gives att_diff +1.5 (the --set strength) "
        "and t = 0.5 on one that is on leaves it as it is",
    )
    e.add_argument(
        "--out",
        required=True,
        help="output .png or .jpg (one image; a slide adds the .gif of the same name), or a "
        "folder (NAME.png per image, NAME.png + NAME.gif for a slide; images sharing a name, "
        "a.jpg and a.png, give a.jpg.png and a.png.png)",
    )
    e.add_argument(
        "--align",
        action="store_true",
        help="edit the faces of any photo (any size, EXIF orientation, colour mode): the "
        "largest face is found, aligned like the training data, edited and pasted back into "
        "the full-resolution photo; needs --source or --classifier (judged on the aligned "
        "face). No face found: an error, nothing written",
    )
    e.add_argument(
        "--all-faces",
        action="store_true",
        help="with --align: edit every face, not only the largest",
    )
    e.add_argument(
        "--side-by-side",
        action="store_true",
        help="write input | edit pairs (with --align: original photo | result); not with "
        "--slide, whose strip starts with the input",
    )
    e.add_argument("--batch-size", type=options.positive_int, default=16, help=argparse.SUPPRESS)
    options.add_overwrite(e)
    options.add_quiet(e)
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


#: argparse type: the number of values of a slide, an integer ≥ 2.
_slide_n = options.int_at_least(2, "a slide needs at least 2 values")


@dataclass(frozen=True)
class _Mode:
    """What ``stgan edit`` was asked to do, parsed and checked (names are checked against the
    checkpoint later)."""

    kind: str  # "set" | "flip" | "slide"
    changes: dict[str, float] = field(default_factory=dict)  # --set
    flips: list[tuple[str, float]] = field(default_factory=list)  # --flip: (name, t_int)
    attr: str = ""  # --slide
    values: tuple[float, ...] = ()  # --slide
    option: str = "--set"  # how the user spelt the mode, for messages


def _parse_mode(args: argparse.Namespace) -> _Mode:
    """The edit mode and its values; every combination of options that makes no sense is a
    one-line error, before any work."""
    from stgan.editing import slide_values
    from stgan.photos import parse_assignments, parse_flips, parse_range

    slide_attr = args.slide if args.slide is not None else args.sweep
    slide = slide_attr is not None
    if not slide and (args.n is not None or args.range is not None):
        raise UserError("--n and --range belong to a slide; add --slide ATTR (or --sweep ATTR)")
    if slide and args.side_by_side:
        raise UserError("--side-by-side does not apply to --slide: its strip starts with the input")
    if args.all_faces and not args.align:
        raise UserError("--all-faces needs --align (faces are only searched for with --align)")
    if args.align:
        if args.crop:
            raise UserError("--crop does not apply with --align: the face is aligned instead")
        if args.labels:
            raise UserError(
                "--labels does not apply with --align (a label row cannot say which face it "
                "describes); pass --source Name=1,... or --classifier JUDGE"
            )
        if not (args.source or args.classifier):
            raise UserError(
                "--align needs the source attributes of the face: pass --classifier JUDGE (it "
                "judges the aligned face) or --source Name=1,... (the same for every face)"
            )
    if slide:
        lo, hi = parse_range(args.range or SLIDE_RANGE)
        name = slide_attr.strip()
        values = tuple(slide_values(args.n or SLIDE_N, lo, hi))
        option = "--slide" if args.slide is not None else "--sweep"
        return _Mode("slide", attr=name, values=values, option=option)
    if args.flip:
        return _Mode("flip", flips=parse_flips(args.flip), option="--flip")
    changes = parse_assignments(args.set, "--set")
    if not changes:
        raise UserError("name what to change: --set Name=VALUE, --flip Name,... or --slide Name")
    return _Mode("set", changes=changes)


def _targets_of(mode: _Mode, editor) -> Callable:
    """``source01 (B, n) -> [encoded target (B, n), ...]``: one target for --set and --flip,
    one per value for --slide. Unknown names are refused here (before any image is read)."""
    import torch

    from stgan.attributes import check_names
    from stgan.editing import flip_targets, slide_targets

    names, coding = editor.attr_names, editor.coding
    if mode.kind == "flip":
        check_names([n for n, _ in mode.flips], names, "--flip")
        idx, t_ints = [names.index(n) for n, _ in mode.flips], [t for _, t in mode.flips]
    elif mode.kind == "slide":
        check_names([mode.attr], names, mode.option)
        i = names.index(mode.attr)

    def fn(src: torch.Tensor) -> list[torch.Tensor]:
        if mode.kind == "set":
            return [editor.target(src, mode.changes)]
        if mode.kind == "flip":
            return [flip_targets(src, names, idx, coding, t_ints)[1]]
        return slide_targets(src, i, mode.values, coding)

    fn(torch.zeros(1, len(names)))  # --set: refuses conflicting pairs now
    return fn


def _plan_outputs(
    image: Path, files: Sequence[Path], out: Path, slide: bool, inputs, overwrite: bool
) -> tuple[list[Path], list[Path | None]]:
    """The output of each input file (and its GIF for a slide), all checked before any work."""
    from stgan.outputs import IMAGE_FORMATS, check_output_dir, check_output_file, edit_names

    single = image.is_file() and out.suffix.lower() in IMAGE_FORMATS
    if not single and out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; a folder is needed (or a .png/.jpg name)")
    if single:
        check_output_file(out, "--out", inputs, overwrite)
        paths = [out]
    elif out.suffix and not out.is_dir():
        raise UserError(
            f"--out {out} must be a folder, or, for one image, a file name ending with "
            f"{' or '.join(IMAGE_FORMATS)}"
        )
    else:
        names = edit_names(files)
        gifs = [Path(n).with_suffix(".gif").name for n in names] if slide else []
        check_output_dir(out, [*names, *gifs], "--out", inputs, overwrite)
        paths = [out / n for n in names]
    if not slide:
        return paths, [None] * len(paths)
    gifs = [p.with_suffix(".gif") for p in paths]
    if single:
        check_output_file(gifs[0], "--out (its GIF)", inputs, overwrite)
    return paths, gifs


def cmd_edit(args: argparse.Namespace) -> int:
    import torch

    from stgan.inference import Editor
    from stgan.photos import list_images
    from stgan.progress import Bar
    from stgan.runtime import resolve_device

    mode = _parse_mode(args)
    image, out = Path(args.image), Path(args.out)
    files = list_images(image)
    inputs = [image, *files, Path(args.checkpoint)]
    paths, gifs = _plan_outputs(image, files, out, mode.kind == "slide", inputs, args.overwrite)

    editor = Editor.from_checkpoint(args.checkpoint, resolve_device(args.device))
    targets_of = _targets_of(mode, editor)

    def write(i: int, original: np.ndarray, frames: list[np.ndarray]) -> None:
        _write(mode, paths[i], gifs[i], original, frames, args.side_by_side)

    if args.align:
        n_faces = _edit_photos(args, editor, files, targets_of, write)
    else:
        from stgan.imageio import match_grey
        from stgan.photos import load_images, source_labels

        images = load_images(
            files, args.crop or editor.crop, editor.img_size
        )  # every input read before any output
        source = source_labels(
            files, editor.attr_names, images, args.source, args.classifier, args.labels
        )
        with Bar("edit", "image", enabled=not args.quiet) as bar:
            for start in range(0, len(files), args.batch_size):
                end = min(start + args.batch_size, len(files))
                src = torch.as_tensor(source[start:end])
                outs = editor.edit_codes(images[start:end], src, targets_of(src))
                for k in range(start, end):  # a black-and-white image stays black and white
                    write(k, images[k], [match_grey(images[k], o[k - start]) for o in outs])
                bar(end, len(files))
        n_faces = None
    print(_summary(mode, paths, out, single=paths == [out], n_faces=n_faces))
    return 0


def _edit_photos(args, editor, files: Sequence[Path], targets_of, write) -> int:
    """``--align``: find and align the faces of every photo first (a photo without a face is
    an error before anything is written), then edit them and paste them back, photo by
    photo. Returns the number of faces edited."""
    import torch

    from stgan.align import align, detect_faces, eye_layout, read_photo
    from stgan.photos import source_labels
    from stgan.progress import Bar

    eyes = eye_layout(editor.cfg)
    per_photo, notes = [], []
    with Bar("find faces", "photo", enabled=not args.quiet) as bar:
        for i, f in enumerate(files):
            photo = read_photo(f)
            faces = detect_faces(photo)
            if not faces:
                raise UserError(
                    f"no face found in {f}; use a photo with a frontal face, or crop and align "
                    "it yourself and edit without --align"
                )
            faces = faces if args.all_faces else faces[:1]
            estimated = sum(not face.eyes_found for face in faces)
            if estimated:
                notes.append(
                    f"note: {f}: eyes not found in {estimated} of {len(faces)} face(s); "
                    "estimated from the face box (the alignment may be off)"
                )
            per_photo.append([align(photo, face, eyes, editor.img_size) for face in faces])
            bar(i + 1, len(files))
    for note in notes:
        print(note, file=sys.stderr)
    crops = np.stack([a.face for faces in per_photo for a in faces])  # (F, S, S, 3)
    owners = [f for f, faces in zip(files, per_photo, strict=True) for _ in faces]
    source = source_labels(owners, editor.attr_names, crops, args.source, args.classifier)
    first = 0
    with Bar("edit", "photo", enabled=not args.quiet) as bar:
        for i, (f, faces) in enumerate(zip(files, per_photo, strict=True)):
            last = first + len(faces)
            src = torch.as_tensor(source[first:last])
            outs = editor.edit_codes(crops[first:last], src, targets_of(src))
            photo = read_photo(f)  # again: only the small aligned faces were kept
            write(i, photo, [_paste_all(photo, faces, o) for o in outs])
            first = last
            bar(i + 1, len(files))
    return len(crops)


def _paste_all(photo: np.ndarray, faces, edited: np.ndarray) -> np.ndarray:
    """``photo`` with each aligned face's edit (``edited[j]`` for ``faces[j]``) pasted back."""
    from stgan.align import paste_back

    result = photo
    for face, img in zip(faces, edited, strict=True):
        result = paste_back(result, face, img)
    return result


def _write(mode: _Mode, path: Path, gif: Path | None, original, frames, side_by_side) -> None:
    """One input's outputs: the edit (or input | edit), or a slide's strip and GIF."""
    from stgan.outputs import write_image
    from stgan.strips import slide_strip, write_gif

    if mode.kind == "slide":
        write_image(path, slide_strip(original, frames, mode.values))
        write_gif(gif, frames)
        return
    (edited,) = frames
    write_image(path, _side_by_side(original, edited) if side_by_side else edited)


def _summary(mode: _Mode, paths, out: Path, single: bool, n_faces: int | None) -> str:
    n = len(paths)
    what = (
        f"{n} strip{'s' if n != 1 else ''} and GIF{'s' if n != 1 else ''} of {mode.attr} "
        f"({len(mode.values)} values from {mode.values[0]:g} to {mode.values[-1]:g})"
        if mode.kind == "slide"
        else f"{n} edited image{'s' if n != 1 else ''}"
    )
    faces = "" if n_faces is None else f" ({n_faces} face{'s' if n_faces != 1 else ''})"
    if single:
        where = f": {out}" + (f" and {out.with_suffix('.gif')}" if mode.kind == "slide" else "")
    else:
        where = f" to {out}"
    return f"wrote {what}{faces}{where}"


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
