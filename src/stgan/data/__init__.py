"""Datasets: real faces from a folder (CelebA layout or images + CSV) and synthetic faces.

:func:`open_dataset` turns a :class:`~stgan.config.DataConfig` and a split name into a
dataset whose items are ``(image, labels)``: a ``float32`` ``(3, S, S)`` image in [-1, 1]
(reference §5 preprocessing, :mod:`stgan.data.transforms`) and ``float32`` ``(n,)`` 0/1
labels of the configured attributes. Labels are always joined to images by file name,
never by position (reference §8); :func:`read_labels` exposes the table for evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from stgan.data import celeba, csvfolder
from stgan.data.cache import DEFAULT_DIR, ensure_cache, open_cache, parallel_map
from stgan.data.celeba import LabelTable, split_indices
from stgan.data.folderinfo import resolve_crop
from stgan.data.transforms import load_image, load_image_float
from stgan.errors import UserError
from stgan.imageio import to_float

if TYPE_CHECKING:
    from stgan.config import DataConfig
    from stgan.data.synthetic import SyntheticDataset

__all__ = [
    "FaceDataset",
    "label_columns",
    "open_dataset",
    "read_labels",
    "read_table",
    "resolve_crop",
    "unreadable_images",
]


class FaceDataset(Dataset):
    """Face images of one split of a folder, with 0/1 labels of the chosen attributes.

    Args:
        image_dir: folder the file names are relative to.
        files: image file names as written in the label file.
        labels: ``(N, n)`` ``uint8`` 0/1, row ``i`` belongs to ``files[i]``.
        attr_names: the ``n`` attribute names of the label columns.
        crop: crop preset (:func:`stgan.data.transforms.crop_box`).
        img_size: side of the square images.
        cache: a ``.npy`` cache of exactly these files (:mod:`stgan.data.cache`), or None to
            decode each image when it is read.
        resize: ``pil`` or ``tf-bicubic`` (:mod:`stgan.data.transforms`). Without a cache,
            items of ``tf-bicubic`` are its float output (not rounded); the cache and
            :meth:`image_uint8` hold it rounded to ``uint8``.
        split_rule: the split rule the rows were chosen by (``stgan``, ``partition``,
            ``fraction``) and why (:func:`stgan.data.celeba.choose_split`), for reports.
    """

    def __init__(
        self,
        image_dir: Path,
        files: list[str],
        labels: np.ndarray,
        attr_names: tuple[str, ...],
        crop: str,
        img_size: int,
        cache: Path | None = None,
        resize: str = "pil",
        split_rule: tuple[str, str] = ("", ""),
    ):
        if labels.shape != (len(files), len(attr_names)):
            raise ValueError(f"labels {labels.shape} do not match {len(files)} files")
        self.image_dir = Path(image_dir)
        self.files = list(files)
        self.labels = np.ascontiguousarray(labels, dtype=np.uint8)
        self.attr_names = tuple(attr_names)
        self.crop = crop
        self.img_size = img_size
        self.cache = cache
        self.resize = resize
        self.split_rule = split_rule
        self._images: np.ndarray | None = None  # memmap, opened lazily in each process

    def __len__(self) -> int:
        return len(self.files)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_images"] = None  # never pickle the memmap's contents to worker processes
        return state

    def uint8_array(self) -> np.ndarray | None:
        """All images as one ``uint8`` ``(N, S, S, 3)`` array (the memory-mapped cache), or
        None without a cache. Lets the batch stream slice whole batches without decoding."""
        if self.cache is None:
            return None
        if self._images is None:
            self._images = open_cache(self.cache)
        return self._images

    def image_uint8(self, i: int) -> np.ndarray:
        """Image ``i`` after crop and resize: ``uint8`` ``(S, S, 3)`` RGB."""
        if self.cache is None:
            return load_image(self.image_dir / self.files[i], self.crop, self.img_size, self.resize)
        if self._images is None:
            self._images = open_cache(self.cache)
        return np.array(self._images[i])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cache is None and self.resize != "pil":  # TF's float output, not rounded
            path = self.image_dir / self.files[i]
            x = to_float(load_image_float(path, self.crop, self.img_size, self.resize))
        else:
            x = to_float(self.image_uint8(i))  # (3, S, S) in [-1, 1]
        y = torch.from_numpy(self.labels[i].astype(np.float32))  # (n,) 0/1
        return x, y


def _folder(dataset: str) -> Path:
    folder = Path(dataset).expanduser()
    if not folder.is_dir():
        raise UserError(
            f"dataset folder {dataset} does not exist; set data.dataset to a CelebA-layout "
            "folder (list_attr_celeba.txt + images), a folder of images with a CSV, or synthetic"
        )
    return folder


def read_table(folder: str | Path) -> LabelTable:
    """The label table of a CelebA-layout folder, else of an images + CSV folder."""
    folder = _folder(str(folder))
    if celeba.is_celeba_folder(folder):
        return celeba.read_celeba(folder)
    return csvfolder.read_csv_folder(folder)


def read_labels(path: str | Path) -> tuple[list[str], list[str], np.ndarray]:
    """``(attribute names, file names, (N, n_all) uint8 0/1 labels)`` of a folder or file.

    ``path`` is a folder of either layout, or a label file itself (``*.csv`` is read as a
    CSV, anything else as a ``list_attr_celeba.txt``). Images are not opened or checked:
    evaluation joins labels to its outputs by file name.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise UserError(
            f"label file {path} does not exist; give a CelebA list_attr_celeba.txt, a CSV of "
            "labels, or a folder holding one"
        )
    if p.is_file():
        parse = csvfolder.parse_csv if p.suffix.lower() == ".csv" else celeba.parse_attr_file
        names, files, labels = parse(p)
        return list(names), files, labels
    t = read_table(p)
    return list(t.names), list(t.files), t.labels


def label_columns(wanted: Sequence[str], names: Sequence[str], path: str | Path) -> list[int]:
    """The column of each ``wanted`` attribute among a label file's ``names``.

    Args:
        wanted: attribute names, e.g. ``data.attrs`` or a generator's attributes.
        names: the columns of the label file, in file order.
        path: the label file, for the message.

    Raises:
        UserError: ``label file PATH has no column NAME (it has: ...)``.
    """
    missing = [a for a in wanted if a not in names]
    if missing:
        s = "s" if len(missing) > 1 else ""
        raise UserError(
            f"label file {path} has no column{s} {', '.join(missing)} (it has: {', '.join(names)})"
        )
    return [list(names).index(a) for a in wanted]


def _read_error(path: str, crop: str, size: int, resize: str) -> str | None:
    try:
        load_image(path, crop, size, resize)
    except UserError as e:
        return str(e)
    return None


def unreadable_images(
    dataset: FaceDataset | SyntheticDataset, progress: bool = True, workers: int | None = None
) -> list[str]:
    """Decode every image of ``dataset`` as training reads it (crop and resize included)
    and report those that cannot be read.

    Training decodes each image only when it reaches it, so a corrupt file can stop a run
    hours in; this reads them all first. Images are read from their files even when a
    decoded cache exists. Synthetic faces are rendered in memory: nothing to read.

    Args:
        dataset: a dataset from :func:`open_dataset` (e.g. split ``all``).
        progress: show a progress bar.
        workers: decoding processes; None = all available cores, 0 or 1 = this process.

    Returns:
        One line per unreadable image, in file order, naming it and why (missing, corrupt,
        too large, a size the crop does not fit); empty when every image reads.
    """
    if not isinstance(dataset, FaceDataset):
        return []
    read = partial(_read_error, crop=dataset.crop, size=dataset.img_size, resize=dataset.resize)
    paths = [str(dataset.image_dir / f) for f in dataset.files]
    errors = []
    with tqdm(total=len(paths), desc="reading every image", unit="img",
              disable=not progress) as bar:  # fmt: skip
        for error in parallel_map(read, paths, workers):
            if error is not None:
                errors.append(error)
            bar.update()
    return errors


def _synthetic(cfg: DataConfig, img_size: int, split: str, progress: bool) -> SyntheticDataset:
    from stgan.data.synthetic import SyntheticDataset

    if cfg.split not in ("auto", "fraction"):
        raise UserError(
            f"data.split={cfg.split} applies to folders; the synthetic faces have their own "
            "split (data.test_fraction): leave data.split at auto"
        )
    n = cfg.synthetic_n
    n_test = max(1, round(n * cfg.test_fraction))
    indices = {
        "train": range(0, n),
        "test": range(n, n + n_test),
        "val": range(n + n_test, n + 2 * n_test),
        "all": range(0, n + 2 * n_test),
    }[split]
    return SyntheticDataset(img_size, indices, cfg.synthetic_seed, cfg.attrs, progress=progress)


def open_dataset(
    cfg: DataConfig, img_size: int, split: str, progress: bool = True, read_first: bool = True
) -> FaceDataset | SyntheticDataset:
    """Open split ``split`` (train, val, test or all) of the data that ``cfg`` describes.

    ``cfg.dataset`` is ``"synthetic"`` or a folder: CelebA layout if it holds
    ``list_attr_celeba.txt``, else images with a CSV. ``cfg.crop``, ``cfg.resize``,
    ``cfg.split``, ``cfg.test_fraction``, ``cfg.cache`` and ``cfg.cache_dir`` apply to
    folders; the split rule is :func:`stgan.data.celeba.choose_split` (the dataset's
    ``split_rule`` says which and why). A folder written by ``stgan data synth`` is read
    with the crop it records (``none``) when ``cfg.crop`` is the default: see
    :func:`resolve_crop`, which a caller recording the config of a run should apply first.
    ``read_first=False`` skips reading the split's first image (for :func:`unreadable_images`).

    Raises:
        UserError: missing folder or label file, malformed labels, missing images, a label
            file without a column of ``cfg.attrs``, an image the crop does not fit, a split
            rule the folder cannot follow, an empty split, or a cache folder that cannot be
            written.
    """
    if split not in celeba.SPLITS:
        raise UserError(f"unknown split {split!r}; valid: {', '.join(celeba.SPLITS)}")
    if cfg.dataset == "synthetic":
        return _synthetic(cfg, img_size, split, progress)
    folder = _folder(cfg.dataset)
    cfg, _ = resolve_crop(cfg)  # a `stgan data synth` folder is read uncropped by default
    table = read_table(folder)
    dirs = celeba.IMAGE_DIRS if celeba.is_celeba_folder(folder) else csvfolder.IMAGE_DIRS
    image_dir = celeba.find_image_dir(folder, table.files, dirs)
    if len(set(cfg.attrs)) != len(cfg.attrs):
        raise UserError(f"data.attrs repeats a name ({', '.join(cfg.attrs)}); list each once")
    cols = label_columns(cfg.attrs, table.names, table.path)
    celeba.check_images(image_dir, table.files, table.path)
    n = len(table.files)
    rule = celeba.choose_split(
        cfg.split, n, celeba.is_celeba_folder(folder), table.partition, table.path
    )
    rows = split_indices(n, split, cfg.test_fraction, table.partition, rule[0])
    if len(rows) == 0:
        raise UserError(
            f"split {split!r} of {folder} is empty ({n} images, data.split={cfg.split} "
            f"→ {rule[0]}, data.test_fraction={cfg.test_fraction}); add images or change "
            "data.split"
        )
    files = [table.files[r] for r in rows]
    labels = table.labels[np.ix_(rows, cols)]
    if read_first:  # fail early if the crop does not fit
        load_image(image_dir / files[0], cfg.crop, img_size, cfg.resize)
    cache = None
    if cfg.cache:
        cache_dir = Path(cfg.cache_dir).expanduser() if cfg.cache_dir else folder / DEFAULT_DIR
        cache, _ = ensure_cache(
            image_dir,
            files,
            cfg.crop,
            img_size,
            cache_dir,
            f"{folder.resolve().name}-{split}",
            progress=progress,
            resize=cfg.resize,
        )
    attrs = tuple(cfg.attrs)
    return FaceDataset(image_dir, files, labels, attrs, cfg.crop, img_size, cache, cfg.resize, rule)
