"""Synthetic faces with ground-truth counterfactuals: the project's built-in default dataset.

A stand-in for CelebA (reference §5) that needs no download: procedural faces carrying the
13 attributes of the paper, co-occurring at CelebA's rates, each visibly rendered, with
pose, lighting, colour and shape variation. Every sample can be re-rendered with any other
attribute vector and the same nuisance, so every edit has a pixel-exact ground truth
(:meth:`SyntheticDataset.counterfactual`). How faces are drawn, and why edits are local:
:mod:`stgan.data.synth` and ``docs/synthetic.md``.

- :class:`SyntheticFaces`: sample ``index`` → labels, image, counterfactual images.
- :class:`SyntheticDataset`: a range of samples rendered once into memory, items
  ``(image in [-1, 1], 0/1 labels)`` like :class:`stgan.data.FaceDataset`.
- :func:`write_celeba_layout`: the same faces as a CelebA-layout folder on disk.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from tqdm import tqdm

from stgan.attributes import DEFAULT_ATTRS, check_names
from stgan.data.folderinfo import INFO_FILE, info_text
from stgan.data.synth import (
    ATTRS,
    MAX_SIZE,
    MIN_SIZE,
    SyntheticFaces,
    render_face,
    sample_labels,
    sample_nuisance,
)
from stgan.errors import UserError
from stgan.imageio import to_float

__all__ = ["SyntheticFaces", "SyntheticDataset", "write_celeba_layout"]

IMAGE_DIR = "img_align_celeba"
LABEL_FILE = "list_attr_celeba.txt"
_CHUNK = 64  # images per task sent to a worker process
_MIN_PARALLEL = 256  # fewer images than this are rendered in the calling process


def _check_size(size: int) -> None:
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise UserError(
            f"synthetic image size {size} is out of range; use {MIN_SIZE}..{MAX_SIZE} pixels"
        )


def _n_workers(n: int, workers: int | None) -> int:
    """Worker processes for ``n`` images: 0 (render here) for few images or one core."""
    if workers is None:
        try:
            workers = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover (macOS, Windows)
            workers = os.cpu_count() or 1
    return 0 if workers <= 1 or n < _MIN_PARALLEL else min(workers, n // _CHUNK + 1)


def _render_chunk(task: tuple[int, int, list[int]]) -> np.ndarray:
    """Render samples ``indices`` of ``seed`` at ``size``: ``(n, S, S, 3)`` ``uint8``."""
    seed, size, indices = task
    out = np.empty((len(indices), size, size, 3), np.uint8)
    for k, i in enumerate(indices):
        out[k] = render_face(sample_labels(seed, i), sample_nuisance(seed, i), size)
    return out


def _write_chunk(task: tuple[int, int, list[int], str]) -> int:
    """Render samples ``indices`` and write them as ``{index + 1:06d}.png`` into a folder."""
    seed, size, indices, folder = task
    for i, img in zip(indices, _render_chunk((seed, size, indices)), strict=True):
        Image.fromarray(img).save(os.path.join(folder, _file_name(i)), compress_level=1)
    return len(indices)


def _file_name(index: int) -> str:
    return f"{index + 1:06d}.png"


def _run(tasks: list, fn, n_proc: int):
    """Yield ``fn(task)`` in order, in ``n_proc`` worker processes (0: here)."""
    if n_proc == 0:
        for t in tasks:
            yield fn(t)
        return
    with get_context().Pool(n_proc) as pool:
        yield from pool.imap(fn, tasks)


class SyntheticDataset(Dataset):
    """Synthetic samples ``indices`` of seed ``seed``, rendered once at construction.

    Items are ``(image, labels)``: ``float32`` ``(3, S, S)`` in [-1, 1] (``x / 127.5 - 1``,
    reference §5) and ``float32`` ``(len(attrs),)`` 0/1, like :class:`stgan.data.FaceDataset`.
    Images live in one ``uint8`` ``(N, S, S, 3)`` array (rendered by a process pool when
    ``N`` is large), so reading an item costs no rendering.

    Args:
        size: image side in pixels.
        indices: sample numbers (e.g. ``range(0, 20000)``); sample ``i`` is file
            ``{i + 1:06d}.png`` of :func:`write_celeba_layout` with the same seed.
        seed: which synthetic population.
        attrs: the label columns, a subset of the 13 attributes, in any order.
        progress: show a progress bar while rendering.

    Raises:
        UserError: an unknown or repeated attribute name, or a size out of range.
    """

    def __init__(
        self,
        size: int,
        indices: Sequence[int],
        seed: int = 0,
        attrs: Sequence[str] = DEFAULT_ATTRS,
        progress: bool = True,
    ):
        check_names(list(attrs), ATTRS, where="the synthetic dataset (data.attrs)")
        if len(set(attrs)) != len(attrs):
            raise UserError(f"data.attrs repeats a name ({', '.join(attrs)}); list each once")
        _check_size(size)
        self.faces = SyntheticFaces(seed)
        self.seed = int(seed)
        self.size = int(size)
        self.indices = indices
        self.attr_names: tuple[str, ...] = tuple(attrs)
        self._cols = [ATTRS.index(a) for a in self.attr_names]
        self.files: list[str] = [_file_name(i) for i in indices]
        full = [self.faces.labels(i) for i in indices]
        self.all_labels = np.stack(full) if full else np.zeros((0, len(ATTRS)), np.uint8)
        self.labels = np.ascontiguousarray(self.all_labels[:, self._cols])  # (N, n) 0/1
        self.images = self._render_all(progress)  # (N, S, S, 3) uint8

    def _render_all(self, progress: bool) -> np.ndarray:
        n, s = len(self.indices), self.size
        images = np.empty((n, s, s, 3), np.uint8)
        idx = list(self.indices)
        tasks = [(self.seed, s, idx[k : k + _CHUNK]) for k in range(0, n, _CHUNK)]
        with tqdm(total=n, desc=f"rendering synthetic faces ({s}px)", unit="img",
                  disable=not progress) as bar:  # fmt: skip
            k = 0
            for chunk in _run(tasks, _render_chunk, _n_workers(n, None)):
                images[k : k + len(chunk)] = chunk
                k += len(chunk)
                bar.update(len(chunk))
        return images

    def __len__(self) -> int:
        return len(self.files)

    def image_uint8(self, i: int) -> np.ndarray:
        """Image ``i`` as ``uint8`` ``(S, S, 3)`` RGB."""
        return self.images[i]

    def uint8_array(self) -> np.ndarray:
        """All images, ``uint8`` ``(N, S, S, 3)``: the batch stream slices whole batches."""
        return self.images

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = to_float(self.images[i])  # (3, S, S) in [-1, 1]
        y = torch.from_numpy(self.labels[i].astype(np.float32))  # (n,) 0/1
        return x, y

    def counterfactual(self, i: int, labels01: np.ndarray) -> np.ndarray:
        """Item ``i`` re-rendered with other attributes: the ground truth of an edit.

        Args:
            i: item number (not sample index).
            labels01: ``(len(attr_names),)`` 0/1 values of :attr:`attr_names`; the
                attributes not in :attr:`attr_names` keep the sample's values. No conflict
                rule is applied (see :func:`stgan.attributes.set_attribute` for that).

        Returns:
            ``uint8`` ``(S, S, 3)``: the same face, pose, colours and lighting.
        """
        values = np.asarray(labels01, dtype=np.float64).reshape(-1)
        if values.shape != (len(self._cols),) or not np.isin(values, (0, 1)).all():
            raise ValueError(
                f"labels01 must be {len(self._cols)} values of 0/1 for {self.attr_names}"
            )
        full = self.all_labels[i].copy()
        full[self._cols] = values.astype(np.uint8)
        index = self.indices[i]
        return render_face(full, sample_nuisance(self.seed, index), self.size)


def write_celeba_layout(
    out_dir: str | Path,
    n: int,
    size: int,
    seed: int = 0,
    progress: bool = True,
    workers: int | None = None,
) -> None:
    """Write samples ``0 .. n-1`` of ``seed`` as a CelebA-layout folder.

    Creates ``out_dir/img_align_celeba/000001.png ...`` (square ``size`` px images),
    ``out_dir/list_attr_celeba.txt`` in CelebA's format (the count, the 13 attribute names,
    then one row per image of ±1 values) and ``out_dir/stgan-data.json``, which records
    ``crop: none`` so that the folder is read uncropped without ``data.crop=none``
    (:mod:`stgan.data.folderinfo`). Everything is written into a temporary folder inside
    ``out_dir`` and moved into place at the end (the label file last), so an error or an
    interrupt leaves no half-written dataset.

    Args:
        out_dir: destination folder (created if missing).
        n: number of images (≥ 1).
        size: image side in pixels.
        seed: which synthetic population (the same as :class:`SyntheticDataset`'s).
        progress: show a progress bar.
        workers: worker processes; None = one per available core, ≤ 1 = none.

    Raises:
        UserError: ``n`` < 1, a size out of range, or an ``out_dir`` that already holds a
            label file or image folder.
    """
    if n < 1:
        raise UserError(f"the number of synthetic images must be ≥ 1, got {n}")
    _check_size(size)
    SyntheticFaces(seed)  # validates the seed
    out = Path(out_dir).expanduser()
    for name in (IMAGE_DIR, LABEL_FILE, INFO_FILE):
        if (out / name).exists():
            raise UserError(
                f"{out / name} already exists; delete it or choose another output folder"
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create output folder {out} ({e}); check the path") from None
    labels = [sample_labels(seed, i) for i in range(n)]  # also fits the label model once,
    # before worker processes are forked
    tmp = Path(tempfile.mkdtemp(prefix=".synthetic-", dir=out))
    try:
        img_dir = tmp / IMAGE_DIR
        img_dir.mkdir()
        tasks = [(seed, size, list(range(k, min(k + _CHUNK, n))), str(img_dir))
                 for k in range(0, n, _CHUNK)]  # fmt: skip
        with tqdm(total=n, desc=f"writing synthetic faces ({size}px)", unit="img",
                  disable=not progress) as bar:  # fmt: skip
            for done in _run(tasks, _write_chunk, _n_workers(n, workers)):
                bar.update(done)
        lines = [str(n), " ".join(ATTRS)]
        for i, row in enumerate(labels):
            values = " ".join(f"{2 * int(v) - 1:2d}" for v in row)
            lines.append(f"{_file_name(i)} {values}")
        (tmp / LABEL_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
        info = info_text("none", written_by="stgan data synth", size=size, seed=seed)
        (tmp / INFO_FILE).write_text(info, encoding="utf-8")
        os.replace(img_dir, out / IMAGE_DIR)
        os.replace(tmp / INFO_FILE, out / INFO_FILE)
        os.replace(tmp / LABEL_FILE, out / LABEL_FILE)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
