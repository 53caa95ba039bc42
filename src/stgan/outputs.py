"""Output safety: nothing the user had is lost.

Every command checks its outputs with these functions **before** any work starts:

- an output never replaces an input (the photo being edited, a checkpoint, a data folder);
- an existing output is refused unless the user passed ``--overwrite``;
- file names planned inside a folder are unique (``a.jpg`` and ``a.png`` would both become
  ``a.png``: :func:`edit_names` disambiguates them);
- a file where a folder is needed (or the reverse) and a folder that cannot be written are
  reported as one line naming the path.

:func:`write_image` writes PNG or JPEG by the file's suffix, atomically.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from stgan.errors import UserError

IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies below it (resolved, symlinks followed)."""
    p, f = path.resolve(), folder.resolve()
    return p == f or f in p.parents


def check_writable_dir(folder: str | Path, what: str) -> None:
    """``folder`` (or, if it does not exist yet, its nearest existing parent) is a writable
    folder, so that the folder and files inside can be created.

    Raises:
        UserError: a file in the way, or a folder without write permission.
    """
    folder = Path(folder)
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        if probe.is_symlink():  # a dangling link: mkdir would fail on it
            raise UserError(f"{what} {folder}: {probe} is a broken symbolic link")
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise UserError(f"{what} {folder}: {probe} is a file, not a folder; choose another path")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(f"{what} {folder}: folder {probe} is not writable; choose another path")


def check_output_file(
    path: str | Path,
    what: str = "--out",
    inputs: Iterable[str | Path] = (),
    overwrite: bool = False,
    suffixes: Sequence[str] | None = None,
) -> Path:
    """Check one output file before the work that produces it.

    Args:
        path: the file to be written.
        what: how the user named it (the option), for the messages.
        inputs: files the command reads; the output may not be one of them.
        overwrite: an existing file may be replaced.
        suffixes: allowed suffixes (lower case, with the dot), or None for any.

    Raises:
        UserError: an input, an existing folder, an existing file without ``overwrite``, a
            suffix not allowed, or a parent folder that cannot be written.
    """
    p = Path(path)
    if suffixes is not None and p.suffix.lower() not in suffixes:
        raise UserError(f"{what} {p} must end with {' or '.join(suffixes)}")
    for src in inputs:
        if _same(p, Path(src)):
            raise UserError(f"{what} {p} is an input of this command; it would be overwritten")
    if p.is_dir():
        raise UserError(f"{what} {p} is a folder; give a file name")
    if p.exists() and not overwrite:
        raise UserError(f"{what} {p} already exists; pass --overwrite or choose another name")
    check_writable_dir(p.parent, what)
    return p


def check_output_dir(
    folder: str | Path,
    names: Sequence[str] = (),
    what: str = "--out",
    inputs: Iterable[str | Path] = (),
    overwrite: bool = False,
) -> Path:
    """Check an output folder and the file ``names`` to be written inside it.

    Args:
        folder: the output folder (created later if missing).
        names: the files the command will write there.
        what: how the user named it (the option), for the messages.
        inputs: files the command reads: the folder may not hold any of them (outputs go
            beside no input), and no planned file may be one of them.
        overwrite: existing files among ``names`` may be replaced.

    Raises:
        UserError: a file where the folder should be, an input folder, a repeated name,
            existing files without ``overwrite``, or a folder that cannot be written.
    """
    d = Path(folder)
    if d.exists() and not d.is_dir():
        raise UserError(f"{what} {d} is a file; a folder is needed")
    inputs = [Path(s) for s in inputs]
    for src in inputs:
        if d.exists() and (_same(d, src) or (src.is_file() and _same(d, src.parent))):
            raise UserError(
                f"{what} {d} holds the input {src}; write the outputs into another folder"
            )
    seen: set[str] = set()
    for name in names:
        key = name.lower()  # also unique on case-insensitive file systems
        if key in seen:
            raise UserError(f"two outputs would be named {d / name}; rename one of the inputs")
        seen.add(key)
    if not overwrite:
        existing = [n for n in names if (d / n).exists()]
        if existing:
            more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
            raise UserError(
                f"{d / existing[0]}{more} already exists; pass --overwrite or choose another {what}"
            )
    check_writable_dir(d, what)
    return d


def edit_names(files: Sequence[str | Path], suffix: str = ".png") -> list[str]:
    """Output names for edited photos: ``stem + suffix``, except that photos sharing a stem
    (``a.jpg``, ``a.png``) keep their own suffix in the name (``a.jpg.png``, ``a.png.png``)."""
    stems: dict[str, int] = {}
    for f in files:
        key = Path(f).stem.lower()
        stems[key] = stems.get(key, 0) + 1
    return [
        Path(f).stem + suffix if stems[Path(f).stem.lower()] == 1 else Path(f).name + suffix
        for f in files
    ]


def write_image(path: str | Path, image: np.ndarray, quality: int = 95) -> None:
    """Write a uint8 (H, W, 3) image atomically, as JPEG for ``.jpg``/``.jpeg``, else PNG."""
    import io

    from PIL import Image

    from stgan.imageio import atomic_write_bytes, write_png

    fmt = IMAGE_FORMATS.get(Path(path).suffix.lower(), "PNG")
    if fmt == "PNG":
        write_png(path, image)
        return
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected uint8 (H, W, 3), got {image.dtype} {image.shape}")
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt, quality=quality)
    atomic_write_bytes(path, buf.getvalue())
