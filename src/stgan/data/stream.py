"""An endless, deterministic, resumable stream of training batches.

Epoch ``e`` visits the training set in the order ``randperm(N)`` drawn from a generator
seeded with ``(seed, e)``; the last incomplete batch is dropped. The stream can start at any
global batch index, so a resumed run sees exactly the batches an uninterrupted run would.
STGAN draws a fresh batch for every D step and every G step (reference §4).

Several processes (:mod:`stgan.distributed`) share each global batch: every rank draws the
same permutation and takes its contiguous slice (rank ``r`` of ``N``: rows ``r·B/N`` to
``(r+1)·B/N``), so together they consume exactly the batches of one process at batch ``B``,
and a resumed run (``start``) too.

A :class:`~stgan.errors.UserError` raised while reading an item (a corrupt image) reaches the
caller as the same one-line UserError, also from a worker process (:class:`UserErrorLoader`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from stgan.errors import UserError


def shard_size(batch_size: int, world_size: int) -> int:
    """Rows per process of a global batch of ``batch_size`` shared by ``world_size``.

    Raises:
        UserError: ``batch_size`` is not a multiple of ``world_size``.
    """
    if batch_size % world_size:
        raise UserError(
            f"train.batch_size={batch_size} (the global batch) is not divisible by the "
            f"{world_size} processes; use a multiple of {world_size}"
        )
    return batch_size // world_size


class EpochOrderSampler:
    """Yields index lists (batches) from global batch ``start`` on, forever; with
    ``world_size`` > 1, rank ``rank``'s contiguous share of each global batch."""

    def __init__(
        self, n: int, batch_size: int, seed: int, start: int = 0, rank: int = 0,
        world_size: int = 1,
    ):  # fmt: skip
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not one of {world_size} processes")
        self.n, self.batch_size, self.seed, self.start = n, batch_size, seed, start
        self.per_epoch = n // batch_size
        self.shard = shard_size(batch_size, world_size)
        self.offset = rank * self.shard

    def order(self, epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.n, generator=g)

    def __iter__(self) -> Iterator[list[int]]:
        k, epoch, perm = self.start, -1, None
        while True:
            e, pos = divmod(k, self.per_epoch)
            if e != epoch:
                epoch, perm = e, self.order(e)
            first = pos * self.batch_size + self.offset
            yield perm[first : first + self.shard].tolist()
            k += 1


def _array_batches(images, labels, sampler: EpochOrderSampler) -> Iterator:
    """Batches sliced from an in-memory or memory-mapped uint8 array: no per-item work, and
    uint8 pixels (4x less than float32) until the trainer converts them on its device."""
    for idx in sampler:
        order = np.asarray(idx)
        yield (
            torch.from_numpy(np.ascontiguousarray(images[order])),
            torch.from_numpy(labels[order].astype(np.float32)),
        )


@dataclass(frozen=True)
class _Failed:
    """An item (or batch) whose reading raised a UserError: its one-line message."""

    message: str


class _Guarded(Dataset):
    """``dataset`` whose UserErrors become :class:`_Failed` items. A worker's exception would
    reach the main process re-raised with the worker's traceback inside its message; as
    data, the message crosses the process boundary intact."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, i: int):
        try:
            return self.dataset[i]
        except UserError as e:
            return _Failed(str(e))


def _collate(items: list):
    return next((x for x in items if isinstance(x, _Failed)), None) or default_collate(items)


class UserErrorLoader(DataLoader):
    """A :class:`~torch.utils.data.DataLoader` (same arguments, no ``collate_fn``) that raises
    a UserError of ``dataset[i]``, read in this process or in a worker, as the same one-line
    UserError, not as the worker's traceback."""

    def __init__(self, dataset: Dataset, **loader_args):
        super().__init__(_Guarded(dataset), collate_fn=_collate, **loader_args)

    def __iter__(self) -> Iterator:
        batches = super().__iter__()
        for batch in batches:
            if isinstance(batch, _Failed):
                del batches  # stop the workers now (unless persistent: the loader owns them)
                raise UserError(batch.message)
            yield batch


def batch_stream(
    dataset: Dataset,
    batch_size: int,
    seed: int,
    start: int = 0,
    num_workers: int = 0,
    pin_memory: bool = False,
    rank: int = 0,
    world_size: int = 1,
) -> Iterator:
    """Iterator over ``(images, labels)`` batches from global batch index ``start`` on;
    ``batch_size`` is the global batch, of which rank ``rank`` of ``world_size`` gets its
    contiguous ``batch_size // world_size`` rows.

    Images are float32 (B, 3, S, S) in [-1, 1] from a DataLoader, or, when the dataset holds
    all its images in one uint8 array (synthetic faces, the decoded cache) and no worker
    processes are asked for, uint8 (B, S, S, 3) slices of it (see :func:`to_model_input`).
    """
    n = len(dataset)  # type: ignore[arg-type]
    if n < batch_size:
        raise UserError(
            f"the training set has {n} images, fewer than train.batch_size="
            f"{batch_size}; lower train.batch_size or add images"
        )
    sampler = EpochOrderSampler(n, batch_size, seed, start, rank, world_size)
    array = getattr(dataset, "uint8_array", lambda: None)()
    if array is not None and num_workers == 0:
        return _array_batches(array, dataset.labels, sampler)  # type: ignore[attr-defined]
    loader = UserErrorLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=num_workers,
        pin_memory=pin_memory,
        prefetch_factor=4 if num_workers > 0 else None,
        generator=torch.Generator(),  # keeps the global RNG untouched (exact resume)
    )
    return iter(loader)


def to_model_input(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A batch from :func:`batch_stream` as float32 (B, 3, S, S) in [-1, 1] on ``device``.

    uint8 (B, S, S, 3) batches travel as uint8 and are converted on the device with the
    same float32 arithmetic as :func:`stgan.imageio.to_float` (``x / 127.5 - 1``).
    """
    if x.dtype == torch.uint8:
        x = x.to(device, non_blocking=True).permute(0, 3, 1, 2).float()
        return x.div_(127.5).sub_(1.0).contiguous()
    return x.to(device, non_blocking=True)
