"""Benchmarks: training speed of one full iteration (n_critic D steps + 1 G step) and input
throughput. Numbers go into docs/benchmarks.md with the command and machine that made them;
tests never time anything."""

from __future__ import annotations

import resource
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from stgan.config import Config
from stgan.data.cache import check_writable, ensure_cache
from stgan.data.celeba import OFFICIAL_TRAIN_END
from stgan.errors import UserError
from stgan.fastpath import CAPTURE_WARMUP, FastPath
from stgan.models import build_discriminator, build_generator, count_parameters
from stgan.trainer import Trainer

#: Published dense (no sparsity) peak TFLOP/s by device name, first match wins: NVIDIA's
#: data sheets (H100 SXM5 / PCIe, H200 SXM / NVL, A100 SXM4 / PCIe). ``tf32`` and ``bf16``
#: are tensor-core rates; ``fp32`` the CUDA-core rate.
PEAK_TFLOPS: tuple[tuple[str, dict[str, float]], ...] = (
    ("H200 NVL", {"fp32": 60.0, "tf32": 417.5, "bf16": 835.5}),
    ("H200", {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4}),
    ("H100 PCIe", {"fp32": 51.2, "tf32": 378.0, "bf16": 756.0}),
    ("H100", {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4}),
    ("A100", {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0}),
)


def device_peak(device_name: str, dtype: str) -> float | None:
    """The published dense peak (TFLOP/s) of a device for ``dtype`` (fp32 | tf32 | bf16);
    None for a device not in :data:`PEAK_TFLOPS` (every CPU)."""
    for key, peaks in PEAK_TFLOPS:
        if key.lower() in device_name.lower():
            return peaks.get(dtype)
    return None


@dataclass(frozen=True)
class TrainSpeed:
    """One measured configuration of ``stgan bench`` (training)."""

    name: str  # plain | fast | config | +<switch> (the plain path with one switch on)
    device: str
    device_name: str  # torch.cuda.get_device_name, or the CPU's model name
    torch: str
    threads: int  # torch intra-op threads (CPU)
    img_size: int
    batch_size: int
    n_critic: int
    params_G: int
    params_D: int
    switches: dict  # the resolved fast-path switches (stgan.fastpath.FastPath)
    graphs: int  # penalty patterns replayed from CUDA graphs (0: eager)
    ms_per_iter: float  # one G iteration (n_critic D steps + one G step): median wall clock
    cpu_ms_per_iter: float  # median process CPU time per iteration (all threads)
    images_per_s: float  # training images consumed per second (batch × (n_critic + 1))
    gflop_per_iter: float  # counted FLOPs of one iteration (count_flops), in GFLOP
    tflops: float  # achieved: gflop_per_iter / ms_per_iter
    peak_dtype: str  # the precision the convolutions run in: bf16 | tf32 | fp32
    peak_tflops: float | None  # the device's published dense peak for it (None: unknown)
    peak_fraction: float | None  # tflops / peak_tflops
    peak_mem_mb: float  # CUDA: this configuration's peak allocation; CPU: the process's RSS
    schedule_hours: float  # the config's whole schedule on CelebA's 182,000 training images
    speedup: float | None = None  # plain ms_per_iter / this one (measured side by side)

    def row(self) -> str:
        on = [k if v is True else f"{k}={v}" for k, v in self.switches.items() if v]
        sw = ", ".join(s for s in on if s != "adam=default") or "none (plain)"
        frac = "–" if self.peak_fraction is None else f"{100 * self.peak_fraction:.1f} %"
        ratio = "" if self.speedup is None else f" ({self.speedup:.2f}×)"
        return (
            f"| {self.name} | {self.device} | {self.img_size} | {self.batch_size} | "
            f"{self.n_critic} | {sw} | {self.ms_per_iter:.1f}{ratio} | {self.images_per_s:.1f} "
            f"| {self.tflops:.3g} | {frac} | {self.peak_mem_mb:.0f} | {self.schedule_hours:,.1f} |"
        )

    @property
    def plain(self) -> bool:
        """Every switch off: the plain fp32 eager path."""
        return self.switches == FastPath(self.device).switches()

    def to_json(self) -> dict:
        return asdict(self)


HEADER = (
    "| config | device | px | batch | n_critic | switches | ms / G iteration | images / s | "
    "TFLOP/s | of peak | peak MB | schedule h |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
)

SWITCH_FIELDS = ("amp", "channels_last", "adam", "cuda_graph", "compile")


def plain_config(cfg: Config) -> Config:
    """``cfg`` with every fast-path switch off: the plain fp32 eager path."""
    off = dict(amp="off", channels_last="off", adam="default", cuda_graph="off", compile=False)
    return replace(cfg, train=replace(cfg.train, **off))


def switch_configs(cfg: Config, device: torch.device) -> dict[str, Config]:
    """The plain path with each switch that ``cfg`` turns on on ``device``, one at a time."""
    from stgan.fastpath import resolve

    on = resolve(cfg.train, device)
    plain = plain_config(cfg)
    values = {
        "amp": ("bf16", on.bf16),
        "channels_last": ("on", on.channels_last),
        "adam": (on.adam, on.adam != "default"),
        "cuda_graph": ("on", on.cuda_graph),
        "compile": (True, on.compile),
    }
    return {
        f"+{k}={v}" if k == "adam" else f"+{k}": replace(
            plain, train=replace(plain.train, **{k: v})
        )
        for k, (v, wanted) in values.items()
        if wanted
    }


def schedule_iterations(t, n_train: int = OFFICIAL_TRAIN_END) -> int:
    """G iterations of a whole schedule (``train.epochs``) on ``n_train`` images: 189,400
    for the paper's settings on CelebA's official training split."""
    return t.epochs * max(1, n_train // (t.batch_size * (t.n_critic + 1)))


def count_flops(cfg: Config, device: torch.device, n_attrs: int = 13) -> float:
    """FLOPs of one G iteration at ``cfg``'s batch size, counted by torch's
    ``FlopCounterMode`` (convolutions and matrix products, forward and backward, the
    penalty's double backward included) on the plain eager path at batch 2, times
    batch_size / 2 (every counted operation is linear in the batch); with a lazy penalty,
    the mean over ``penalty_every`` iterations."""
    from torch.utils.flop_counter import FlopCounterMode

    t = cfg.train
    small = plain_config(replace(cfg, train=replace(t, batch_size=2)))
    tr, batches = _trainer(small, device, n_attrs)
    counter = FlopCounterMode(display=False)
    with counter:
        for step in range(t.penalty_every):
            tr.iteration(batches, tr.penalized(step))
    return counter.get_total_flops() / t.penalty_every * t.batch_size / 2


def _trainer(cfg: Config, device: torch.device, n_attrs: int):
    t, m = cfg.train, cfg.model
    torch.manual_seed(t.seed)
    G, D = build_generator(m, n_attrs), build_discriminator(m, n_attrs)
    tr = Trainer(cfg, G, D, [f"a{i}" for i in range(n_attrs)], device)
    x = torch.rand(t.batch_size, 3, m.img_size, m.img_size, device=device) * 2 - 1
    a = (torch.rand(t.batch_size, n_attrs, device=device) > 0.5).float()
    return tr, [(x, a)] * (t.n_critic + 1)


def train_speeds(
    configs: dict[str, Config],
    device: torch.device,
    n_attrs: int = 13,
    steps: int = 10,
    warmup: int = 2,
) -> list[TrainSpeed]:
    """Time full training iterations of each configuration on random batches already on the
    device, interleaved: each timed round runs one iteration of every configuration in
    turn, so a busy machine slows them alike. Each configuration first runs ``warmup``
    untimed iterations (plus those a CUDA-graph capture needs); the learning rate is set
    every iteration as in :meth:`Trainer.fit`. Medians over ``steps`` rounds.

    With ``"plain"`` among the names, every result carries its ``speedup`` against it.
    """
    cuda = device.type == "cuda"

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    first = next(iter(configs.values()))
    gflop = count_flops(first, device, n_attrs) / 1e9  # the same for every switch
    runs = {}
    for name, cfg in configs.items():
        t = cfg.train
        if cuda:
            sync()
            torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device)
        tr, batches = _trainer(cfg, device, n_attrs)
        extra = (CAPTURE_WARMUP + 1) * t.penalty_every if tr.fast.cuda_graph else 0
        for step in range(warmup + extra):
            tr.schedule(step, 10**9)
            tr.run_iteration(batches, tr.penalized(step))
        sync()
        if cuda:
            mem = (torch.cuda.max_memory_allocated(device) - base) / 2**20
        else:
            mem = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        runs[name] = (tr, batches, warmup + extra, mem, [], [])
    for _ in range(steps):
        for tr, batches, k, _, ms, cpu_ms in runs.values():
            step = k + len(ms)
            sync()
            t0, c0 = time.perf_counter(), time.process_time()
            tr.schedule(step, 10**9)
            tr.run_iteration(batches, tr.penalized(step))
            sync()
            ms.append(1000 * (time.perf_counter() - t0))
            cpu_ms.append(1000 * (time.process_time() - c0))
    name_of = torch.cuda.get_device_name(device) if cuda else cpu_name()
    out = []
    for name, (tr, _, _, mem, ms, cpu_ms) in runs.items():
        t, m = tr.cfg.train, tr.cfg.model
        dt = statistics.median(ms)
        tflops = gflop / dt  # GFLOP per ms = TFLOP per s
        dtype = "bf16" if tr.fast.bf16 else "fp32"
        if cuda and dtype == "fp32" and torch.backends.cudnn.allow_tf32:
            dtype = "tf32"  # cuDNN's default for fp32 convolutions on tensor cores
        peak = device_peak(name_of, dtype) if cuda else None
        out.append(
            TrainSpeed(
                name=name,
                device=str(device),
                device_name=name_of,
                torch=torch.__version__,
                threads=torch.get_num_threads(),
                img_size=m.img_size,
                batch_size=t.batch_size,
                n_critic=t.n_critic,
                params_G=count_parameters(tr.G),
                params_D=count_parameters(tr.D),
                switches=tr.fast.switches(),
                graphs=getattr(tr.run_iteration, "captured", 0),
                ms_per_iter=dt,
                cpu_ms_per_iter=statistics.median(cpu_ms),
                images_per_s=t.batch_size * (t.n_critic + 1) / dt * 1000,
                gflop_per_iter=gflop,
                tflops=tflops,
                peak_dtype=dtype,
                peak_tflops=peak,
                peak_fraction=None if peak is None else tflops / peak,
                peak_mem_mb=mem,
                schedule_hours=schedule_iterations(t) * dt / 3.6e6,
            )
        )
    if "plain" in configs:
        base = next(r.ms_per_iter for r in out if r.name == "plain")
        out = [replace(r, speedup=base / r.ms_per_iter) for r in out]
    return out


def train_speed(
    cfg: Config, device: torch.device, n_attrs: int = 13, steps: int = 10, warmup: int = 2
) -> TrainSpeed:
    """Time full training iterations of one configuration (:func:`train_speeds`)."""
    return train_speeds({"config": cfg}, device, n_attrs, steps, warmup)[0]


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


@dataclass(frozen=True)
class EditSpeed:
    """One 128 px (or any size) edit, plain fp32 eager against the fast CPU path, timed in
    the same run (interleaved), with the fast path's error against fp32."""

    device: str
    cpu: str  # the processor's model name, as the OS reports it
    torch: str
    threads: int  # torch intra-op threads
    img_size: int
    params_G: int
    weights: str  # "random" (Xavier, as built) or "checkpoint"
    path: str  # Editor.path of the fast editor: "fast int8" | "fast fp32"
    ms_per_edit_fp32: float  # median over steps: encoder + decoder, uint8 in and out
    ms_per_edit: float
    speedup: float  # ms_per_edit_fp32 / ms_per_edit
    ms_per_extra_edit_fp32: float  # another edit of an already encoded image (decoder only)
    ms_per_extra_edit: float
    speedup_extra: float  # ms_per_edit_fp32 / ms_per_extra_edit
    cpu_ms_per_edit_fp32: float  # process CPU time per edit (all threads, spin-waits too)
    cpu_ms_per_edit: float  # with 1 thread: the work itself, robust to other busy processes
    cpu_ms_per_extra_edit: float
    psnr_db: float  # edited uint8 images of the fast path against fp32's
    max_abs: int  # largest uint8 difference over those images
    error_images: int  # synthetic faces × targets the error was measured on
    load_average: float | None  # the OS's 1-minute load average after the timing (None: n/a)

    def row(self) -> str:
        load = "–" if self.load_average is None else f"{self.load_average:.1f}"
        return (
            f"| {self.img_size} | {self.threads} | {load} | {self.weights} | {self.path} | "
            f"{self.ms_per_edit_fp32:.1f} | {self.ms_per_edit:.1f} | {self.speedup:.2f}× | "
            f"{self.ms_per_extra_edit:.1f} | {self.speedup_extra:.2f}× | "
            f"{self.cpu_ms_per_edit_fp32:.0f} / {self.cpu_ms_per_edit:.0f} / "
            f"{self.cpu_ms_per_extra_edit:.0f} | {self.psnr_db:.1f} dB / {self.max_abs} |"
        )

    def to_json(self) -> dict:
        return asdict(self)


EDIT_HEADER = (
    "| px | threads | load average | weights | fast path | fp32 eager ms / edit | "
    "fast ms / edit | speedup | fast ms / extra edit | speedup | "
    "CPU ms: fp32 / fast / extra | error vs fp32 (PSNR / max) |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def cpu_name() -> str:
    """The processor's model name (Linux /proc/cpuinfo, else :func:`platform.processor`)."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def edit_speed(
    cfg: Config,
    G: torch.nn.Module | None = None,
    attr_names=None,
    steps: int = 10,
    warmup: int = 2,
    error_faces: int = 4,
) -> EditSpeed:
    """Time one edit of one synthetic face with the plain fp32 eager Editor and the fast one
    (``Editor(fast=True)``), interleaved step by step, medians of wall-clock and of process
    CPU time; and another edit of the same, already encoded face (the decoder only:
    sliders, sweeps, the grid).

    The error is measured on ``error_faces`` other synthetic faces, each reconstructed and
    edited towards every third attribute flipped, as uint8 images against the fp32 path's.

    Args:
        cfg: the configuration (the generator is built from ``cfg.model`` when ``G`` is None,
            with random weights).
        G: a trained generator, or None.
        attr_names: its attribute names (default: ``cfg.data.attrs``).
    """
    import numpy as np

    from stgan.editing import flip_target
    from stgan.inference import Editor

    names = tuple(attr_names or cfg.data.attrs)
    weights = "checkpoint" if G is not None else "random"
    if G is None:
        G = build_generator(cfg.model, len(names))
    plain = Editor(G, cfg, names, "cpu", fast=False)
    fast = Editor(G, cfg, names, "cpu", fast=True)
    images, source = _faces(cfg.model.img_size, names, 1 + error_faces)
    img, src = images[:1], source[:1]
    changes = {names[0]: 1.0 - float(src[0, 0])}  # flip the first attribute
    tgt = plain.target(torch.as_tensor(src), changes)
    enc_plain, enc_fast = plain.encode(img), fast.encode(img)
    timed = {
        "fp32": lambda: plain.edit(img, src, changes),
        "fast": lambda: fast.edit(img, src, changes),
        "fp32_extra": lambda: plain.decode(enc_plain, src, tgt),
        "fast_extra": lambda: fast.decode(enc_fast, src, tgt),
    }
    ms = {k: [] for k in timed}
    cpu_ms = {k: [] for k in timed}
    for i in range(warmup + steps):
        for k, f in timed.items():
            t0, c0 = time.perf_counter(), time.process_time()
            f()
            if i >= warmup:
                ms[k].append(1000 * (time.perf_counter() - t0))
                cpu_ms[k].append(1000 * (time.process_time() - c0))
    med = {k: float(np.median(v)) for k, v in ms.items()}
    cpu = {k: float(np.median(v)) for k, v in cpu_ms.items()}
    load = _load_average()

    x_err, s_err = images[1:], source[1:]
    s_t = torch.as_tensor(s_err)
    targets = [plain.coding.encode(s_t)]
    targets += [flip_target(s_t, names, i, plain.coding)[1] for i in range(0, len(names), 3)]
    ref = np.concatenate(plain.edit_codes(x_err, s_err, targets))
    out = np.concatenate(fast.edit_codes(x_err, s_err, targets))
    return EditSpeed(
        device="cpu",
        cpu=cpu_name(),
        torch=torch.__version__,
        threads=torch.get_num_threads(),
        img_size=cfg.model.img_size,
        params_G=count_parameters(G),
        weights=weights,
        path=fast.path,
        ms_per_edit_fp32=med["fp32"],
        ms_per_edit=med["fast"],
        speedup=med["fp32"] / med["fast"],
        ms_per_extra_edit_fp32=med["fp32_extra"],
        ms_per_extra_edit=med["fast_extra"],
        speedup_extra=med["fp32"] / med["fast_extra"],
        cpu_ms_per_edit_fp32=cpu["fp32"],
        cpu_ms_per_edit=cpu["fast"],
        cpu_ms_per_extra_edit=cpu["fast_extra"],
        psnr_db=_psnr_all(ref, out),
        max_abs=int(np.abs(ref.astype(np.int16) - out).max()),
        error_images=len(ref),
        load_average=load,
    )


def _load_average() -> float | None:
    """The OS's 1-minute load average (how busy the machine was), None where unknown."""
    import os

    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _psnr_all(a, b) -> float:
    """PSNR over all pixels of two uint8 arrays (inf when identical)."""
    import numpy as np

    mse = float(((a.astype(np.float64) - b) ** 2).mean())
    return float("inf") if mse == 0 else 10 * float(np.log10(255.0**2 / mse))


def _faces(size: int, names, n: int):
    """``n`` synthetic faces (uint8 (n, S, S, 3)) and 0/1 labels for ``names`` (theirs where
    the synthetic faces carry the attribute, else a fixed random draw)."""
    import numpy as np

    from stgan.attributes import DEFAULT_ATTRS
    from stgan.data.synthetic import SyntheticDataset

    ds = SyntheticDataset(size, range(n), seed=11, attrs=DEFAULT_ATTRS, progress=False)
    rng = np.random.default_rng(11)
    cols = [
        ds.labels[:, DEFAULT_ATTRS.index(a)] if a in DEFAULT_ATTRS else rng.integers(0, 2, n)
        for a in names
    ]
    return ds.images, np.stack(cols, 1).astype(np.float32)
