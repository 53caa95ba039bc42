"""Your own data: a folder of images and one CSV file of labels.

The CSV's header row names the file-name column first (any name), then any attribute
columns (any names). Each row holds a file name and one value per attribute: 0/1 or -1/+1
(one convention per file). The CSV is ``labels.csv`` if present, else the folder's single
``*.csv``; the images lie in the folder itself or in an ``images/`` subfolder. Splits follow
file order as for a CelebA subset (:func:`stgan.data.celeba.split_indices`).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from stgan.data.celeba import LabelTable, check_unique
from stgan.errors import UserError

CSV_NAME = "labels.csv"
IMAGE_DIRS = ("images",)
_VALUES = {"1": 1, "+1": 1, "0": 0, "-1": 0}


def find_csv(folder: str | Path) -> Path:
    """``folder/labels.csv`` if it exists, else the folder's only ``*.csv``."""
    folder = Path(folder)
    if (folder / CSV_NAME).is_file():
        return folder / CSV_NAME
    found = sorted(p for p in folder.glob("*.csv") if p.is_file())
    if len(found) == 1:
        return found[0]
    if not found:
        raise UserError(
            f"{folder} holds neither list_attr_celeba.txt nor a *.csv of labels; add a CSV "
            "(header: file column, then attribute columns of 0/1 or -1/1)"
        )
    names = ", ".join(p.name for p in found)
    raise UserError(f"{folder} holds several CSV files ({names}); name the labels {CSV_NAME}")


def parse_csv(path: str | Path) -> tuple[tuple[str, ...], list[str], np.ndarray]:
    """Parse a label CSV.

    Returns:
        ``(names, files, labels)`` with ``labels`` ``(N, len(names))`` ``uint8`` 0/1.

    Raises:
        UserError: unreadable file, bad header, malformed row (with its line number),
            a file mixing 0 and -1, a repeated file name, or no rows.
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
    except FileNotFoundError:
        raise UserError(f"label file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise UserError(f"cannot read label file {path} ({e}); check the file") from None
    if not rows:
        raise UserError(f"{path} is empty; it needs a header row and one row per image")
    header = [h.strip() for h in rows[0]]
    names = tuple(header[1:])
    if len(header) < 2 or not all(names):
        raise UserError(
            f"line 1 of {path} should be a header: the file-name column, then one non-empty "
            f"name per attribute column; got {','.join(header)[:80]!r}"
        )
    if len(set(names)) != len(names):
        raise UserError(f"line 1 of {path} repeats an attribute name; make the names unique")
    n = len(names)
    files: list[str] = []
    values: list[list[int]] = []
    seen_values: set[str] = set()
    for k, row in enumerate(rows[1:], start=2):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        try:
            if len(cells) != n + 1 or not cells[0]:
                raise KeyError
            values.append([_VALUES[c] for c in cells[1:]])
        except KeyError:
            raise UserError(
                f"malformed line {k} of {path}: expected a file name and {n} values of 0/1 "
                f"or -1/1, got {','.join(cells)[:60]!r}; fix the line"
            ) from None
        seen_values.update(cells[1:])
        files.append(cells[0])
    if not files:
        raise UserError(f"{path} has a header but no rows; add one row per image")
    if "0" in seen_values and "-1" in seen_values:
        raise UserError(f"{path} mixes 0 and -1 values; use 0/1 or -1/1 throughout")
    check_unique(files, path)
    return names, files, np.asarray(values, dtype=np.uint8).reshape(len(files), n)


def read_csv_folder(folder: str | Path) -> LabelTable:
    """Read the label CSV of an images-and-CSV folder."""
    path = find_csv(folder)
    names, files, labels = parse_csv(path)
    return LabelTable(path, names, files, labels, None)
