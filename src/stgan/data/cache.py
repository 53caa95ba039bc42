"""Decode once: a ``uint8`` memory-mapped array of the cropped, resized images of a split.

Decoding JPEGs is the input bottleneck on a fast GPU. With ``data.cache`` on, the images of
a split are decoded once (crop and bicubic resize as in :mod:`stgan.data.transforms`) into
``<name>-<pipeline>-<size>.npy`` (shape ``(N, S, S, 3)``, ``uint8``, opened with
``np.load(..., mmap_mode="r")``) next to a small JSON index holding the file list and a key.
``<pipeline>`` is the crop, with ``celeba-148`` for the official 64 px box and ``-tf`` for
the TF1 resize, whose float output the cache holds rounded to ``uint8``
(:func:`stgan.data.transforms.pipeline_id`). The key hashes the file names, their sizes and
modification times, the pipeline and the size; any change rebuilds the cache. Building uses
a progress bar and a process pool and writes atomically (temporary file, then
:func:`os.replace`), so an interrupted build never leaves a cache that looks valid. A folder
that cannot be written is reported before any decoding (set ``data.cache_dir`` to another
folder); an up-to-date cache is read from a read-only folder as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tqdm import tqdm

from stgan.data.transforms import load_image, pipeline_id
from stgan.errors import UserError

CACHE_VERSION = 2  # bump when the decoding changes, so that old caches are rebuilt
DEFAULT_DIR = ".stgan-cache"  # under the dataset folder


def cache_key(
    image_dir: Path, files: Sequence[str], crop: str, img_size: int, resize: str = "pil"
) -> str:
    """SHA-256 of the file names, their sizes and mtimes, the crop (its box) and the size,
    and the resize (:func:`~stgan.data.transforms.pipeline_id`)."""
    pipeline = pipeline_id(crop, img_size, resize)
    h = hashlib.sha256(json.dumps([CACHE_VERSION, pipeline, img_size]).encode())
    for f in files:
        try:
            st = os.stat(image_dir / f)
        except OSError:
            raise UserError(
                f"image {image_dir / f} does not exist; restore it or remove its label row"
            ) from None
        h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def cache_paths(cache_dir: Path, name: str, crop: str, img_size: int) -> tuple[Path, Path]:
    """``(array .npy, index .json)`` of a cache."""
    stem = f"{name}-{crop}-{img_size}"
    return cache_dir / f"{stem}.npy", cache_dir / f"{stem}.json"


def _valid(npy: Path, index: Path, key: str, shape: tuple[int, ...]) -> bool:
    try:
        meta = json.loads(index.read_text(encoding="utf-8"))
        arr = np.load(npy, mmap_mode="r")
    except (OSError, ValueError):
        return False
    return meta.get("key") == key and arr.shape == shape and arr.dtype == np.uint8


def _workers(n: int, workers: int | None) -> int:
    if workers is None:
        try:
            workers = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover (macOS, Windows)
            workers = os.cpu_count() or 1
    return 0 if workers <= 1 or n < 64 else min(workers, n)


def parallel_map(fn: Callable, items: Sequence, workers: int | None = None) -> Iterator:
    """``fn(item)`` for each item, in order, in a process pool (``fn`` must pickle).

    ``workers``: None = all available cores, 0 or 1 = in this process; fewer than 64 items
    are always mapped here (a pool costs more than it saves).
    """
    n_proc = _workers(len(items), workers)
    if n_proc == 0:
        yield from map(fn, items)
        return
    with get_context().Pool(n_proc) as pool:
        yield from pool.imap(fn, items, chunksize=32)


def build(
    image_dir: Path,
    files: Sequence[str],
    crop: str,
    img_size: int,
    npy: Path,
    progress: bool = True,
    workers: int | None = None,
    resize: str = "pil",
) -> None:
    """Decode ``files`` into ``npy`` (written atomically). ``workers`` None = all cores.
    A ``tf-bicubic`` resize is rounded to ``uint8`` here (docs/data.md)."""
    shape = (len(files), img_size, img_size, 3)
    tmp = npy.with_name(f".{npy.name}.tmp{os.getpid()}")
    npy.parent.mkdir(parents=True, exist_ok=True)
    decode = partial(load_image, crop=crop, size=img_size, resize=resize)
    paths = [str(image_dir / f) for f in files]
    bar = tqdm(total=len(files), desc=f"caching {npy.stem}", unit="img", disable=not progress)
    try:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        for i, img in enumerate(parallel_map(decode, paths, workers)):
            out[i] = img
            bar.update()
        out.flush()
        del out
        os.replace(tmp, npy)
    finally:
        bar.close()
        tmp.unlink(missing_ok=True)


def ensure_cache(
    image_dir: Path,
    files: Sequence[str],
    crop: str,
    img_size: int,
    cache_dir: Path,
    name: str,
    progress: bool = True,
    workers: int | None = None,
    resize: str = "pil",
) -> tuple[Path, bool]:
    """Return the path of an up-to-date cache of ``files``, building it if needed.

    Args:
        image_dir: folder the file names are relative to.
        files: image file names, in dataset order (row ``i`` of the cache is ``files[i]``).
        crop: crop preset.
        img_size: output side.
        cache_dir: folder of the cache files (created if needed).
        name: cache name, e.g. ``"<dataset folder>-<split>"``.
        progress: show a progress bar while building.
        workers: decoding processes; None = all available cores, 0 or 1 = in this process.
        resize: ``pil`` or ``tf-bicubic`` (:mod:`stgan.data.transforms`).

    Returns:
        ``(path of the .npy, whether it was (re)built now)``.

    Raises:
        UserError: a missing or unreadable image (naming it), or a ``cache_dir`` that cannot
            be written (naming it, before any decoding).
    """
    cache_dir = Path(cache_dir)
    npy, index = cache_paths(cache_dir, name, pipeline_id(crop, img_size, resize), img_size)
    key = cache_key(image_dir, files, crop, img_size, resize)
    shape = (len(files), img_size, img_size, 3)
    if _valid(npy, index, key, shape):
        return npy, False  # reading needs no write access: a cache on read-only media works
    check_writable(cache_dir)  # before any decoding
    try:
        index.unlink(missing_ok=True)  # the array below is no longer described by it
        build(image_dir, files, crop, img_size, npy, progress, workers, resize)
        meta = {
            "version": CACHE_VERSION,
            "key": key,
            "crop": crop,
            "resize": resize,
            "img_size": img_size,
            "image_dir": str(image_dir),
            "files": list(files),
        }
        tmp = index.with_name(f".{index.name}.tmp{os.getpid()}")
        tmp.write_text(json.dumps(meta), encoding="utf-8")
        os.replace(tmp, index)
    except OSError as e:  # disk full, quota, permissions changed mid-build
        raise _unwritable(cache_dir, e) from None
    return npy, True


def _unwritable(cache_dir: Path, e: OSError) -> UserError:
    return UserError(
        f"cannot write the image cache in {cache_dir} ({e.strerror or e}); "
        "set data.cache_dir=DIR to a writable folder with room for it"
    )


def check_writable(cache_dir: Path) -> None:
    """Create ``cache_dir`` if needed and check that a file can be written into it.

    Raises:
        UserError: naming the folder and suggesting ``data.cache_dir`` (a read-only data
            folder, a path through a file, no permission).
    """
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=cache_dir, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise _unwritable(cache_dir, e) from None


def open_cache(npy: Path) -> np.ndarray:
    """The cached images ``(N, S, S, 3)`` ``uint8``, memory-mapped read-only."""
    return np.load(npy, mmap_mode="r")
