"""The user's photos for ``stgan edit`` and ``stgan sample``: finding them, reading them, the
edits asked for (``Name=VALUE``) and each photo's source attributes.

Source attributes come from exactly one place, in this order of precedence: ``source`` (the
same for every photo), ``classifier`` (a judge predicts them), ``labels`` (a label file joined
by file name), else a label file beside the photos.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stgan.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def parse_assignments(items: Sequence[str], what: str) -> dict[str, float]:
    """``["A=1,B=0", "C=-0.5"]`` → ``{"A": 1.0, "B": 0.0, "C": -0.5}``; values in [-1, 1].

    Raises:
        UserError: an item without ``=``, without a name, or with a value outside [-1, 1].
    """
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


def parse_flips(items: Sequence[str], what: str = "--flip") -> list[tuple[str, float]]:
    """``["Bald,Eyeglasses=2"]`` → ``[("Bald", 1.0), ("Eyeglasses", 2.0)]``, in order.

    A name alone has ``t_int`` 1 (the official test.py's default ``--test_ints``); ``=T`` sets
    another strength T > 0.

    Raises:
        UserError: an empty name, a strength that is not a finite number > 0, or a name
            given twice (a second flip would undo the first).
    """
    out: list[tuple[str, float]] = []
    for item in items:
        for part in item.split(","):
            name, sep, value = (s.strip() for s in part.partition("="))
            try:
                t = float(value) if sep else 1.0
            except ValueError:
                t = float("nan")
            if not name or not 0.0 < t < float("inf"):
                raise UserError(
                    f"malformed {what} {part!r}; expected Name or Name=T (T > 0, the "
                    "strength: 1 gives att_diff ±1, 2 gives ±1.5), e.g. --flip Bald,Eyeglasses"
                )
            if name in (n for n, _ in out):
                raise UserError(f"{what} names {name} twice; a second flip would undo the first")
            out.append((name, t))
    return out


def parse_range(text: str, what: str = "--range") -> tuple[float, float]:
    """``"-1,1"`` → ``(-1.0, 1.0)``: the two finite, different ends of a slide.

    Raises:
        UserError: not two numbers, a non-finite one, or equal ends.
    """
    parts = text.split(",")
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        lo = hi = float("nan")
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo == hi:
        raise UserError(
            f"malformed {what} {text!r}; expected LO,HI, two different numbers, e.g. -1,1"
        )
    return lo, hi


def list_images(path: str | Path) -> list[Path]:
    """An image file itself, or the images of a folder (or of its ``img_align_celeba/`` or
    ``images/`` subfolder), sorted by name.

    Raises:
        UserError: a path that does not exist or a folder without images.
    """
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise UserError(f"image path {path} does not exist; pass an image file or a folder")
    for sub in (path / "img_align_celeba", path / "images", path):
        if sub.is_dir():
            found = sorted(
                p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
            )
            if found:
                return found
    raise UserError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {path}")


def load_images(files: Sequence[Path], crop: str, size: int) -> np.ndarray:
    """uint8 (N, size, size, 3) images, read and prepared as the training data was."""
    from stgan.data.transforms import load_image

    return np.stack([load_image(f, crop, size) for f in files])


def find_label_file(files: Sequence[Path]) -> Path | None:
    """A label source beside the photos: their folder or its parent, if it holds a
    ``list_attr_celeba.txt`` or a CSV."""
    folder = Path(files[0]).parent
    for c in (folder, folder.parent):
        if (c / "list_attr_celeba.txt").is_file() or any(c.glob("*.csv")):
            return c
    return None


def source_labels(
    files: Sequence[Path],
    names: Sequence[str],
    images: np.ndarray,
    source: Sequence[str] | None = None,
    classifier: str | None = None,
    labels: str | Path | None = None,
) -> np.ndarray:
    """0/1 source attributes (len(files), len(names)) of the photos.

    Args:
        files: the photos (their names join them to a label file).
        names: the generator's attribute names, in its order.
        images: the photos as read (for ``classifier``).
        source: ``Name=1,...`` items, the same for every photo (unnamed attributes are 0).
        classifier: a judge file that predicts the attributes.
        labels: a label file or folder (CelebA ``list_attr_celeba.txt`` or CSV).

    Raises:
        UserError: more than one of ``source``, ``classifier`` and ``labels``; no source at
            all; an unknown name; a photo without a label row.
    """
    from stgan.attributes import check_names
    from stgan.data import label_columns, read_labels

    given = [o for o, v in (("--source", source), ("--classifier", classifier),
                            ("--labels", labels)) if v]  # fmt: skip
    if len(given) > 1:
        raise UserError(
            f"{' and '.join(given)} both give the source attributes; pass only one of them"
        )
    if source:
        src = parse_assignments(source, "--source")
        check_names(list(src), names, "--source")
        row = np.array([1.0 if src.get(n, 0.0) > 0 else 0.0 for n in names], dtype=np.float32)
        return np.tile(row, (len(files), 1))
    if classifier:
        from stgan.judge import Judge

        judge = Judge.from_file(classifier)
        cols = judge.columns(names)
        return judge.predict(images)[:, cols].astype(np.float32)
    if labels:
        label_path = Path(labels)
    else:
        label_path = find_label_file(files)
        if label_path is None:
            raise UserError(
                "the source attributes of the images are needed: pass --source "
                "Name=1,Name=0,..., --labels FILE (CelebA list_attr or CSV) or --classifier C"
            )
    all_names, label_files, table = read_labels(label_path)  # says if the file is missing
    cols = label_columns(names, all_names, label_path)
    index = {f: i for i, f in enumerate(label_files)}
    rows = []
    for f in files:
        if Path(f).name not in index:
            raise UserError(f"image {Path(f).name} has no row in the labels of {label_path}")
        rows.append(table[index[Path(f).name], cols])
    return np.asarray(rows, dtype=np.float32)
