"""CelebA's own layout: ``list_attr_celeba.txt``, ``list_eval_partition.txt``, image folder.

Reference §5. The label file has a count line, a line of attribute names, then one row per
image: the file name and one value of +1/-1 per attribute (LF or CRLF line ends, runs of
spaces between fields). The optional partition file has rows ``file 0|1|2`` (train, val,
test). Which rows form train, val and test is ``data.split`` (:func:`choose_split`):

- ``stgan``: the official STGAN split by file order of the label file (csmliu/STGAN
  ``data.py``): train = the first 182,000 rows, val = the next 637, test = the rest;
- ``partition``: the codes of ``list_eval_partition.txt`` (CelebA's own: 162,770 train);
- ``fraction``: test = the last ``test_fraction`` of the rows, val = a slice just before it of
  CelebA's own val ratio (637 / 202,599 ≈ 0.31%, at least one image), train = the rest;
- ``auto`` (default): ``stgan`` for the full CelebA (a CelebA label file of exactly 202,599
  rows, partition file or not), else ``partition`` when the folder has a partition file, else
  ``fraction``.

This module also holds what the CSV-folder layout (:mod:`stgan.data.csvfolder`) shares with
it: the :class:`LabelTable` both return, the image-folder lookup and the split rule.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np

from stgan.errors import UserError

LABEL_FILE = "list_attr_celeba.txt"
PARTITION_FILE = "list_eval_partition.txt"
IMAGE_DIRS = ("img_align_celeba", "images")  # looked for in this order, then the folder itself

CELEBA_N = 202_599  # rows of the full CelebA
OFFICIAL_TRAIN_END = 182_000  # official split by file order: [0, 182000) train
OFFICIAL_VAL_END = 182_637  # [182000, 182637) val, the rest test
VAL_RATIO = (OFFICIAL_VAL_END - OFFICIAL_TRAIN_END) / CELEBA_N  # ≈ 0.31%
SPLITS = ("train", "val", "test", "all")
SPLIT_RULES = ("auto", "stgan", "partition", "fraction")  # data.split
_PART_CODE = {"train": 0, "val": 1, "test": 2}
_VALUE = {"1": 1, "-1": 0, "0": 0, "+1": 1}


@dataclass(frozen=True)
class LabelTable:
    """Labels of one folder, in label-file order.

    Attributes:
        path: the label file.
        names: every attribute column, in file order.
        files: image file names as written in the label file (unique).
        labels: ``(N, len(names))`` ``uint8`` 0/1.
        partition: ``(N,)`` ``int8`` 0/1/2 (train/val/test) from a partition file, or None.
    """

    path: Path
    names: tuple[str, ...]
    files: list[str]
    labels: np.ndarray
    partition: np.ndarray | None = None


def is_celeba_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds a CelebA label file."""
    return (Path(folder) / LABEL_FILE).is_file()


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"label file {path} does not exist; give a folder that holds it") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read label file {path} ({e}); check the file") from None
    return text.splitlines()  # LF or CRLF


def parse_attr_file(path: str | Path) -> tuple[tuple[str, ...], list[str], np.ndarray]:
    """Parse a ``list_attr_celeba.txt``.

    Returns:
        ``(names, files, labels)`` with ``labels`` ``(N, len(names))`` ``uint8`` 0/1.

    Raises:
        UserError: missing file, malformed line (with its number), a count line that
            disagrees with the rows, or a repeated file name.
    """
    path = Path(path)
    lines = _read_lines(path)
    fix = "fix the line or restore the original file"
    if len(lines) < 2:
        raise UserError(f"label file {path} is too short: it needs a count line and a names line")
    try:
        count = int(lines[0].strip())
    except ValueError:
        raise UserError(
            f"line 1 of {path} should be the number of images, got {lines[0].strip()[:40]!r}; "
            + fix
        ) from None
    names = tuple(lines[1].split())
    if not names:
        raise UserError(f"line 2 of {path} should list the attribute names; {fix}")
    n = len(names)
    files: list[str] = []
    values: list[str] = []  # the value part of each row, parsed in one go below
    for k, line in enumerate(lines[2:], start=3):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != n + 1:
            _malformed(path, k, line, n)
        files.append(parts[0])
        values.append(line.strip()[len(parts[0]) :])
    if count != len(files):
        raise UserError(
            f"{path} says {count} images on line 1 but has {len(files)} rows; fix the count "
            "line or restore the missing rows"
        )
    check_unique(files, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # text fromstring cannot parse: a malformed value
        try:
            flat = np.fromstring(" ".join(values), dtype=np.int8, sep=" ")
        except (DeprecationWarning, ValueError):
            flat = np.zeros(0, np.int8)
    if flat.size != len(files) * n or not np.isin(flat, (-1, 0, 1)).all():
        for k, line in enumerate(lines[2:], start=3):  # slow path: find the bad line
            if line.split() and not set(line.split()[1:]) <= set(_VALUE):
                _malformed(path, k, line, n)
        raise UserError(f"cannot parse the values of {path}; {fix}")  # pragma: no cover
    labels = (flat > 0).astype(np.uint8).reshape(len(files), n)
    return names, files, labels


def _malformed(path: Path, k: int, line: str, n: int) -> NoReturn:
    raise UserError(
        f"malformed line {k} of {path}: expected a file name and {n} values of +1/-1, "
        f"got {line.strip()[:60]!r}; fix the line or restore the original file"
    )


def parse_partition_file(path: str | Path) -> dict[str, int]:
    """Parse a ``list_eval_partition.txt`` into ``{file: 0|1|2}``."""
    path = Path(path)
    out: dict[str, int] = {}
    for k, line in enumerate(_read_lines(path), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
            raise UserError(
                f"malformed line {k} of {path}: expected 'file 0|1|2', got {line.strip()[:60]!r}"
                "; fix the line or delete the file to split by file order"
            )
        out[parts[0]] = int(parts[1])
    return out


def check_unique(files: Sequence[str], path: Path) -> None:
    if len(set(files)) != len(files):
        seen: set[str] = set()
        dup = next(f for f in files if f in seen or seen.add(f))
        raise UserError(f"{path} lists image {dup} more than once; keep one row per image")


def read_celeba(folder: str | Path) -> LabelTable:
    """Read the label (and, if present, partition) file of a CelebA-layout folder."""
    folder = Path(folder)
    label_path = folder / LABEL_FILE
    names, files, labels = parse_attr_file(label_path)
    partition = None
    part_path = folder / PARTITION_FILE
    if part_path.is_file():
        table = parse_partition_file(part_path)
        missing = [f for f in files if f not in table]
        if missing:
            raise UserError(
                f"{part_path} has no row for image {missing[0]} (and {len(missing) - 1} more) "
                f"listed in {label_path}; add the rows or delete {PARTITION_FILE}"
            )
        partition = np.array([table[f] for f in files], dtype=np.int8)
    return LabelTable(label_path, names, files, labels, partition)


def find_image_dir(folder: Path, files: Sequence[str], candidates: Sequence[str]) -> Path:
    """The first of ``folder/<candidate>`` (then ``folder``) holding the first listed image.

    Falls back to the first candidate that exists, so that a missing image is reported
    against the folder the user most likely meant.
    """
    dirs = [folder / c for c in candidates if (folder / c).is_dir()] + [folder]
    if files:
        for d in dirs:
            if (d / files[0]).is_file():
                return d
    return dirs[0]


def check_images(image_dir: Path, files: Sequence[str], label_path: Path) -> None:
    """Raise a UserError naming the first listed image missing from ``image_dir``."""
    if any("/" in f or os.sep in f for f in files):
        present = {f for f in files if (image_dir / f).is_file()}
    else:
        present = set(os.listdir(image_dir))  # one directory read, not N stats
    missing = [f for f in files if f not in present]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise UserError(
            f"image {missing[0]}{more} listed in {label_path} does not exist in {image_dir}; "
            "restore the images or remove their rows"
        )


def choose_split(
    rule: str, n: int, celeba_layout: bool, partition: np.ndarray | None, label_path: Path
) -> tuple[str, str]:
    """The split rule ``data.split`` = ``rule`` stands for on a folder, and why.

    Args:
        rule: ``auto``, ``stgan``, ``partition`` or ``fraction``.
        n: rows of the label file.
        celeba_layout: whether the labels come from a ``list_attr_celeba.txt``.
        partition: the folder's partition codes, or None without a partition file.
        label_path: the label file, for messages.

    Returns:
        ``(stgan | partition | fraction, a short reason)``.

    Raises:
        UserError: an unknown rule, ``stgan`` on fewer than 182,638 rows, ``partition``
            without a partition file.
    """
    if rule not in SPLIT_RULES:
        raise UserError(f"unknown data.split {rule!r}; valid: {', '.join(SPLIT_RULES)}")
    if rule == "stgan" and n <= OFFICIAL_VAL_END:
        raise UserError(
            f"data.split=stgan is the official split by file order (train 182,000, val 637, "
            f"test the rest) and needs more than {OFFICIAL_VAL_END:,} rows; {label_path} has "
            f"{n:,}: use data.split=fraction (or partition)"
        )
    if rule == "partition" and partition is None:
        raise UserError(
            f"data.split=partition needs {PARTITION_FILE} beside {label_path}; add it or use "
            "data.split=fraction"
        )
    if rule != "auto":
        return rule, "set explicitly"
    if celeba_layout and n == CELEBA_N:
        why = f"{n:,} rows: the full CelebA, split as the official STGAN code does"
        return "stgan", why + (f" (not by {PARTITION_FILE})" if partition is not None else "")
    if partition is not None:
        return "partition", f"not the full CelebA ({n:,} rows) and {PARTITION_FILE} is present"
    return "fraction", f"not the full CelebA ({n:,} rows) and no {PARTITION_FILE}"


def split_sizes(n: int, test_fraction: float) -> tuple[int, int, int]:
    """``(n_train, n_val, n_test)`` of the ``fraction`` split of ``n`` rows (module doc)."""
    n_test = max(1, round(n * test_fraction))
    n_val = max(1, round(n * VAL_RATIO))
    return n - n_test - n_val, n_val, n_test


def split_indices(
    n: int,
    split: str,
    test_fraction: float,
    partition: np.ndarray | None = None,
    rule: str | None = None,
) -> np.ndarray:
    """Row indices of ``split`` (``train``/``val``/``test``/``all``), in label-file order.

    Args:
        n: number of rows.
        split: which split.
        test_fraction: test share of the ``fraction`` rule.
        partition: ``(n,)`` codes 0/1/2 from a partition file, or None.
        rule: ``stgan``, ``partition`` or ``fraction``; None = what ``auto`` picks for a
            CelebA label file (:func:`choose_split`).
    """
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    if rule is None:
        rule, _ = choose_split("auto", n, True, partition, Path(LABEL_FILE))
    if split == "all":
        return np.arange(n)
    if rule == "partition":
        if partition is None:
            raise ValueError("the partition rule needs partition codes")
        return np.flatnonzero(partition == _PART_CODE[split])
    if rule == "stgan":
        n_train, n_val = OFFICIAL_TRAIN_END, OFFICIAL_VAL_END - OFFICIAL_TRAIN_END
    else:
        n_train, n_val, _ = split_sizes(n, test_fraction)
    start = {"train": 0, "val": max(n_train, 0), "test": max(n_train, 0) + n_val}[split]
    stop = {"train": max(n_train, 0), "val": max(n_train, 0) + n_val, "test": n}[split]
    return np.arange(min(start, n), min(stop, n))
