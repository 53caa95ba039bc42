"""Benchmarks: training speed of one full iteration (n_critic D steps + 1 G step) and input
throughput. Numbers go into docs/benchmarks.md with the command and machine that made them;
tests never time anything."""

from __future__ import annotations

import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from stgan.config import Config
from stgan.data.cache import check_writable, ensure_cache
from stgan.errors import UserError
from stgan.models import build_discriminator, build_generator, count_parameters
from stgan.trainer import Trainer


@dataclass(frozen=True)
class TrainSpeed:
    device: str
    img_size: int
    batch_size: int
    n_critic: int
    params_G: int
    params_D: int
    ms_per_iter: float  # one G iteration: n_critic D steps + one G step
    images_per_s: float  # training images consumed per second (batch × (n_critic + 1))
    peak_mem_mb: float  # CUDA: max allocated; CPU: peak resident set of the process

    def row(self) -> str:
        return (
            f"| {self.device} | {self.img_size} | {self.batch_size} | {self.n_critic} | "
            f"{self.params_G / 1e6:.2f} M / {self.params_D / 1e6:.2f} M | "
            f"{self.ms_per_iter:.1f} | {self.images_per_s:.1f} | {self.peak_mem_mb:.0f} |"
        )


HEADER = (
    "| device | px | batch | n_critic | params G / D | ms / G iteration | images / s | "
    "peak MB |\n|---|---|---|---|---|---|---|---|"
)


def train_speed(
    cfg: Config, device: torch.device, n_attrs: int = 13, steps: int = 10, warmup: int = 2
) -> TrainSpeed:
    """Time full training iterations on random batches already on the device."""
    t, m = cfg.train, cfg.model
    G, D = build_generator(m, n_attrs), build_discriminator(m, n_attrs)
    tr = Trainer(cfg, G, D, [f"a{i}" for i in range(n_attrs)], device)
    x = torch.rand(t.batch_size, 3, m.img_size, m.img_size, device=device) * 2 - 1
    a = (torch.rand(t.batch_size, n_attrs, device=device) > 0.5).float()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    k = 0  # critic steps so far: the penalty every penalty_every-th, as in Trainer.fit

    def iteration():
        nonlocal k
        for _ in range(t.n_critic):
            tr.d_step(x, a, penalize=k % t.penalty_every == 0)
            k += 1
        tr.g_step(x, a)

    for _ in range(warmup):
        iteration()
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        iteration()
    sync()
    dt = (time.perf_counter() - t0) / steps
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return TrainSpeed(
        str(device),
        m.img_size,
        t.batch_size,
        t.n_critic,
        count_parameters(G),
        count_parameters(D),
        1000 * dt,
        t.batch_size * (t.n_critic + 1) / dt,
        peak,
    )


@dataclass(frozen=True)
class InputSpeed:
    dataset: str
    img_size: int
    path: str  # "jpeg" (decode + crop + resize per item), "cache" (uint8 memmap), "memory"
    images: int
    images_per_s: float

    def row(self) -> str:
        return (
            f"| {self.dataset} | {self.img_size} | {self.path} | {self.images} | "
            f"{self.images_per_s:,.0f} |"
        )


INPUT_HEADER = "| data | px | path | images read | images / s |\n|---|---|---|---|---|"


def input_speed(
    data_cfg, img_size: int, n: int = 2000, batch_size: int = 32, num_workers: int = 2
) -> list[InputSpeed]:
    """Images/s delivered by a DataLoader (``num_workers`` processes) for the direct path
    (decode, crop, resize every item) and for the decoded cache (built first, not timed).

    The cache holds only the ``n`` images read and lives in a temporary folder, removed
    afterwards: under ``data.cache_dir`` when it is set, else in the system's temporary
    folder. Nothing is written into the data folder (which may be read-only).

    Raises:
        UserError: as :func:`stgan.data.open_dataset`; an unreadable image; a temporary
            folder that cannot be written (naming it and suggesting ``data.cache_dir``).
    """
    from dataclasses import replace

    from stgan.data import FaceDataset, open_dataset

    ds = open_dataset(replace(data_cfg, cache=False), img_size, "train", progress=False)
    count = min(n, len(ds))
    if not isinstance(ds, FaceDataset):  # synthetic faces: already decoded, in memory
        return [_time_reading(ds, count, "memory", data_cfg, img_size, batch_size, num_workers)]
    rows = [_time_reading(ds, count, "jpeg", data_cfg, img_size, batch_size, num_workers)]
    parent = Path(data_cfg.cache_dir).expanduser() if data_cfg.cache_dir else None
    if parent is not None:
        check_writable(parent)
    try:
        tmp = tempfile.TemporaryDirectory(prefix="stgan-bench-", dir=parent)
    except OSError as e:
        raise UserError(
            f"cannot create a temporary folder for the benchmark's cache in "
            f"{parent or tempfile.gettempdir()} ({e.strerror or e}); set data.cache_dir=DIR "
            "to a writable folder"
        ) from None
    with tmp as folder:
        files = ds.files[:count]
        npy, _ = ensure_cache(
            ds.image_dir, files, ds.crop, img_size, Path(folder), "bench", progress=False
        )
        cached = FaceDataset(
            ds.image_dir, files, ds.labels[:count], ds.attr_names, ds.crop, img_size, npy
        )
        rows.append(
            _time_reading(cached, count, "cache", data_cfg, img_size, batch_size, num_workers)
        )
    return rows


def _time_reading(ds, count, path, data_cfg, img_size, batch_size, num_workers) -> InputSpeed:
    from torch.utils.data import Subset

    from stgan.data.stream import UserErrorLoader

    batches = UserErrorLoader(
        Subset(ds, range(count)), batch_size=batch_size, num_workers=num_workers
    )
    t0 = time.perf_counter()
    read = sum(x.shape[0] for x, _ in batches)
    dt = time.perf_counter() - t0
    return InputSpeed(str(data_cfg.dataset), img_size, path, read, read / dt)
