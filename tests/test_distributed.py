"""Training in several processes (stgan.distributed): the sharded stream, the collectives
and two gloo processes on the CPU against one process on the same global batch."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import pytest
import torch

from stgan.data.stream import EpochOrderSampler, batch_stream
from stgan.errors import UserError


@functools.cache
def _shared():
    """tests/conftest.py as a module (TinyFaces, TINY_SET), also in spawned processes, where
    no fixtures exist (``import conftest`` may find another folder's conftest)."""
    path = Path(__file__).with_name("conftest.py")
    spec = importlib.util.spec_from_file_location("_stgan_tests_conftest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _take(it, k):
    return [next(it) for _ in range(k)]


@pytest.mark.parametrize("world", [2, 4])
def test_shards_together_are_the_one_process_batches_in_order(tiny_faces, world):
    """Across an epoch boundary and from a resume offset: rank 0's rows, then rank 1's, ...
    are the one-process batch, row for row."""
    B, start, k = 8, 5, 6  # 64 images: 8 batches per epoch; batches 5..10 cross into epoch 1
    one = _take(batch_stream(tiny_faces, B, seed=3, start=start), k)
    shards = [
        _take(batch_stream(tiny_faces, B, seed=3, start=start, rank=r, world_size=world), k)
        for r in range(world)
    ]
    for i, (x, a) in enumerate(one):
        assert all(s[i][0].shape[0] == B // world for s in shards)
        assert torch.equal(torch.cat([s[i][0] for s in shards]), x)
        assert torch.equal(torch.cat([s[i][1] for s in shards]), a)


def test_sampler_shards_partition_each_global_batch():
    one = iter(EpochOrderSampler(30, 6, seed=1, start=3))
    ranks = [
        iter(EpochOrderSampler(30, 6, seed=1, start=3, rank=r, world_size=3)) for r in range(3)
    ]
    for _ in range(7):
        assert sum((next(r) for r in ranks), []) == next(one)


def test_one_process_needs_no_process_group(monkeypatch):
    from stgan import distributed

    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(k, raising=False)
    assert distributed.setup() is None
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert distributed.setup() is None  # torchrun --nproc_per_node 1: as without torchrun


def test_partial_or_bad_torchrun_env_is_one_line_error(monkeypatch):
    from stgan import distributed

    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(UserError, match="RANK is set but WORLD_SIZE, LOCAL_RANK is not"):
        distributed.setup()
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "x")
    with pytest.raises(UserError, match="must be integers"):
        distributed.setup()
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(UserError, match="outside WORLD_SIZE=2"):
        distributed.setup()


def test_device_per_local_rank_and_its_errors():
    from stgan.distributed import Dist

    d = Dist(rank=3, world_size=4, local_rank=1, local_world_size=2)
    assert d.device("cpu") == torch.device("cpu")
    with pytest.raises(UserError, match="train.device=cuda:1 cannot be shared by 4"):
        d.device("cuda:1")
    if torch.cuda.device_count() == 0:
        with pytest.raises(UserError, match="sees no CUDA GPU"):
            d.device("cuda")
    elif torch.cuda.device_count() < 2:
        with pytest.raises(UserError, match="starts 2 processes on this node but it has 1"):
            d.device("cuda")
    assert d.shard_size(8) == 2
    with pytest.raises(UserError, match="not divisible by the 4 processes"):
        d.shard_size(6)


def test_one_image_per_process_needs_global_batch_norm(tmp_path):
    """Checked by rank 0 before anything is read or written."""
    from stgan.cli import build_parser
    from stgan.cli.train import _plan, _Team
    from stgan.distributed import Dist

    team = _Team(Dist(rank=0, world_size=8, local_rank=0, local_world_size=8))
    argv = ["train", "--config", "tiny", "--set", "train.batch_size=8", "--set"]
    args = build_parser().parse_args([*argv, "train.device=cpu", "--quiet"])
    with pytest.raises(UserError, match="each of the 8 processes one image"):
        _plan(args, tmp_path / "run", resume=False, team=team)
    args = build_parser().parse_args([*argv, "train.batch_size=12", "--quiet"])
    with pytest.raises(UserError, match="batch_size=12 .* not divisible by the 8 processes"):
        _plan(args, tmp_path / "run", resume=False, team=team)
    assert not (tmp_path / "run").exists()


def test_global_batch_not_divisible_is_one_line_error(tiny_faces):
    with pytest.raises(UserError, match="batch_size=6 .*not divisible by the 4 processes"):
        batch_stream(tiny_faces, 6, seed=0, rank=0, world_size=4)


# --------------------------------------------------------------------------------------------
# two gloo processes on the CPU
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _join(rank: int, world: int, port: int):
    """This spawned process as rank ``rank`` of a torchrun-like run: the env, then setup()."""
    import os

    from stgan import distributed

    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)  # see FP64 below
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world),
    )  # fmt: skip
    return distributed.setup()


def _spawn(fn, world: int, *args) -> None:
    import torch.multiprocessing as mp

    mp.spawn(fn, args=(world, _free_port(), *args), nprocs=world, join=True)


def _tiny(extra: list[str], recipe: str = "paper"):
    TINY_SET = _shared().TINY_SET
    from stgan.config import load

    sets = [*TINY_SET, "train.batch_size=8", "train.sample_every=1000", *extra]
    return load("tiny", overrides=sets, recipe=recipe)


def _trainer(cfg, dist, sgd: bool = False):
    """A trainer as `stgan train` builds it (same seed on every rank). ``sgd``: plain SGD
    instead of Adam, for comparisons with one process: Adam's first steps move every weight
    by ±lr whatever the gradient's size, so a gradient that is ~0 takes its sign from
    float rounding and one run's weights differ from the other's by 2·lr there (measured:
    0.1 % of some weights after one iteration of tiny). Adam itself works element by element
    on the gradients compared here, identically on every rank."""
    TinyFaces = _shared().TinyFaces
    from stgan.models import build_discriminator, build_generator
    from stgan.runtime import seed_everything
    from stgan.trainer import Trainer

    seed_everything(cfg.train.seed)
    names = TinyFaces().attr_names
    G, D = build_generator(cfg.model, len(names)), build_discriminator(cfg.model, len(names))
    tr = Trainer(cfg, G, D, names, torch.device("cpu"), dist=dist)
    if sgd:
        tr.opt_G = torch.optim.SGD(tr.G.parameters(), lr=cfg.train.lr)
        tr.opt_D = torch.optim.SGD(tr.D.parameters(), lr=cfg.train.lr)
    return tr


def _fit(cfg, dist, run_dir, steps: int, start_from=None, sgd: bool = False):
    """:func:`_trainer` fitted on TinyFaces up to G iteration ``steps``, from a checkpoint
    when given (every rank loads it; rank 0's RNG states, as `stgan train` does)."""
    TinyFaces = _shared().TinyFaces
    from stgan import checkpoint

    data = TinyFaces()
    tr = _trainer(cfg, dist, sgd)
    if start_from is not None:
        tr.load_checkpoint(checkpoint.load(start_from))
        if dist is not None:
            dist.sync_rng(torch.device("cpu"))
    tr.fit(data, run_dir, (data.x[:2], data.y[:2]), max_steps=steps)
    return tr


def _first_step_grads(cfg, dist) -> dict[str, torch.Tensor]:
    """The gradients of a first D step (with its penalty) and, from the same start, of a
    first G step, on the first global batch (this rank's share of it): as the optimiser
    receives them, i.e. averaged over ranks."""
    TinyFaces = _shared().TinyFaces
    rank, world = (0, 1) if dist is None else (dist.rank, dist.world_size)
    out = {}
    for kind in ("D", "G"):
        tr = _trainer(cfg, dist)
        x, a = next(batch_stream(TinyFaces(), cfg.train.batch_size, 0, 0, 0, False, rank, world))
        tr.d_step(x, a, penalize=True) if kind == "D" else tr.g_step(x, a)
        net = tr.D if kind == "D" else tr.G
        out |= {f"{kind}.{k}": p.grad.clone() for k, p in net.named_parameters()}
    return out


def _weights(tr) -> dict[str, torch.Tensor]:
    out = {f"G.{k}": v.clone() for k, v in tr.G.state_dict().items()}
    out |= {f"D.{k}": v.clone() for k, v in tr.D.state_dict().items()}
    if tr.G_ema is not None:
        out |= {f"G_ema.{k}": v.clone() for k, v in tr.G_ema.state_dict().items()}
    return out


# the runs compared: (name, recipe, --set overrides, SGD); each trains STEPS G iterations
RUNS = [
    ("fast", "fast", ["train.sync_bn=true"], False),  # R1, EMA, recalibrated BN, nsgan
    ("fast-sgd", "fast", ["train.sync_bn=true"], True),
    ("paper-sgd", "paper", ["train.sync_bn=true"], True),  # WGAN-GP on interpolates
    ("per-rank-bn", "fast", [], False),  # per-process BN statistics (the default)
    ("per-rank-bn-sgd", "fast", [], True),
]
GRADS = [  # (name, recipe, --set overrides)
    ("fast", "fast", ["train.sync_bn=true"]),
    ("paper", "paper", ["train.sync_bn=true"]),
    ("uniform", "paper", ["train.sync_bn=true", "train.target_int=uniform"]),  # random strengths
]
STEPS = 3


def _runs_worker(rank, world, port, out_dir):
    """Each first-step gradient of GRADS, each run of RUNS, then "per-rank-bn" again as 2
    iterations, a checkpoint, and a resume to 3."""
    from stgan import checkpoint, distributed

    dist = _join(rank, world, port)
    try:
        # a stop signal on rank 1 only, rank 0's clock ran out: both ranks hear both
        torch.save(dist.agree_stop(15 * rank, rank == 0), out_dir / f"stop.rank{rank}.pt")
        for name, recipe, sets in GRADS:
            grads = _first_step_grads(_tiny(sets, recipe), dist)
            torch.save(grads, out_dir / f"grads-{name}.rank{rank}.pt")
        for name, recipe, sets, sgd in RUNS:
            tr = _fit(_tiny(sets, recipe), dist, out_dir / name, STEPS, sgd=sgd)
            torch.save(_weights(tr), out_dir / f"{name}.rank{rank}.pt")
        cfg = _tiny(["train.ckpt_every=2"], "fast")
        _fit(cfg, dist, out_dir / "resumed", 2)
        dist.barrier()  # rank 0 wrote the checkpoint
        ckpt = checkpoint.ckpt_path(out_dir / "resumed", 2)
        tr = _fit(cfg, dist, out_dir / "resumed", STEPS, start_from=ckpt)
        torch.save(_weights(tr), out_dir / f"resumed.rank{rank}.pt")
    finally:
        distributed.teardown(dist)


@pytest.fixture(scope="module")
def two_rank_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("two_ranks")
    _spawn(_runs_worker, 2, out)
    return out


def _load(out, name):
    return [torch.load(out / f"{name}.rank{r}.pt") for r in range(2)]


def _relative_gap(a: dict, b: dict, ref: dict | None = None) -> float:
    """‖a − b‖ / ‖b − ref‖ (‖b‖ without ``ref``) over all floating-point tensors: the gap
    between two runs as a share of what training changed (or of the tensors)."""
    keys = [k for k in b if b[k].is_floating_point()]
    gap = torch.cat([(a[k] - b[k]).flatten() for k in keys]).norm()
    size = torch.cat([(b[k] - (0 if ref is None else ref[k])).flatten() for k in keys]).norm()
    return float(gap / size)


@pytest.mark.slow
@pytest.mark.parametrize("name", [r[0] for r in RUNS] + ["resumed"])
def test_weights_stay_identical_on_every_rank(two_rank_runs, name):
    """G, D, the EMA and BatchNorm statistics: bit for bit (gradients and per-rank BN
    statistics are averaged by one all-reduce whose result every rank receives)."""
    r0, r1 = _load(two_rank_runs, name)
    assert r0.keys() == r1.keys()
    different = [k for k in r0 if not torch.equal(r0[k], r1[k])]
    assert not different, different[:5]


# FP64: the ranks and the one-process references run in double precision. In fp32, float
# sums in another order move a value by ~1e-6, and a ReLU input that close to 0 takes the
# other side of the kink: its gradient flips, and the runs part (seen with fast +
# train.w_att_fake: one decoder ReLU input at -5.0e-7 in one process, +9.1e-7 in two,
# relative gap 1.5e-2 after 2 iterations and 4.5e-2 after 3). In fp64 the same runs agree
# to 1e-13. Measured gaps in fp64: 2-5e-15 (gradients), 2e-15 to 4e-14 (3 SGD iterations).
# Broken: 3e-2 (BatchNorm's variance over n - 1 instead of n), 0.4 to 1.3 (no gradient
# all-reduce; targets, interpolation alpha, target strength or BatchNorm statistics per rank;
# different shards).
GRAD_TOLERANCE = 1e-10
RUN_TOLERANCE = 1e-9


@pytest.fixture
def fp64():
    """Double precision for the one-process reference (the ranks set it in _join)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.mark.slow
@pytest.mark.parametrize("name, recipe, sets", GRADS)
def test_first_step_gradients_equal_one_process_on_the_global_batch(
    two_rank_runs, fp64, name, recipe, sets
):
    """2 ranks x 4 images give the optimisers the gradients of 1 process x 8 images (D with
    its penalty, G), up to the order of float sums."""
    one = _first_step_grads(_tiny(sets, recipe), None)
    for r in _load(two_rank_runs, f"grads-{name}"):
        assert r.keys() == one.keys()
        assert _relative_gap(r, one) < GRAD_TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize("name", ["fast-sgd", "paper-sgd"])
def test_two_processes_train_as_one_on_the_global_batch(two_rank_runs, fp64, tmp_path, name):
    """With BatchNorm over the global batch, 3 iterations of 2 ranks x 4 images = 3 of one
    process x 8 images, up to float rounding."""
    recipe, sets, sgd = next((r, s, g) for n, r, s, g in RUNS if n == name)
    cfg = _tiny(sets, recipe)
    one = _weights(_fit(cfg, None, tmp_path / "one", STEPS, sgd=sgd))
    init = _weights(_trainer(cfg, None))
    r0, _ = _load(two_rank_runs, name)
    assert _relative_gap(r0, one, init) < RUN_TOLERANCE


@pytest.mark.slow
def test_per_rank_batch_norm_differs_from_one_process(two_rank_runs, fp64, tmp_path):
    """The default (per-process BN statistics) is not the one-process run: the comparison
    above tells them apart."""
    cfg = _tiny([], "fast")
    one = _weights(_fit(cfg, None, tmp_path / "one", STEPS, sgd=True))
    init = _weights(_trainer(cfg, None))
    r0, _ = _load(two_rank_runs, "per-rank-bn-sgd")
    assert _relative_gap(r0, one, init) > 10 * RUN_TOLERANCE


@pytest.mark.slow
def test_resume_with_two_processes_is_exact(two_rank_runs):
    """2 iterations, a checkpoint (rank 0's), every rank loads it, 1 more = 3 in one go."""
    resumed, _ = _load(two_rank_runs, "resumed")
    straight, _ = _load(two_rank_runs, "per-rank-bn")
    different = [k for k in straight if not torch.equal(resumed[k], straight[k])]
    assert not different, different[:5]


@pytest.mark.slow
def test_every_rank_stops_after_the_same_iteration(two_rank_runs):
    assert _load(two_rank_runs, "stop") == [(15, True), (15, True)]


@pytest.mark.slow
def test_only_rank_0_writes(two_rank_runs):
    run = two_rank_runs / "fast"
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints", "log.jsonl", "samples"]
    rows = (run / "log.jsonl").read_text().splitlines()
    assert len(rows) == STEPS  # one writer: no row twice


def test_sync_batch_norm_keeps_the_tensors_and_local_copy_undoes_it(tiny_cfg):
    """Converting G keeps its parameter and buffer tensors (the optimiser and EMA built on
    them stay valid); the copy rank 0 runs alone has plain BatchNorm and the same state."""
    from stgan import distributed
    from stgan.models import build_generator

    G = build_generator(tiny_cfg.model, 4)
    before = {k: v for k, v in G.state_dict(keep_vars=True).items()}
    distributed.convert_sync_batch_norm(G)
    kinds = {type(m) for m in G.modules()}
    assert distributed.SyncBatchNorm2d in kinds and torch.nn.BatchNorm2d not in kinds
    after = G.state_dict(keep_vars=True)
    assert before.keys() == after.keys() and all(after[k] is v for k, v in before.items())
    copy = distributed.local_copy(G)
    assert distributed.SyncBatchNorm2d not in {type(m) for m in copy.modules()}
    assert all(torch.equal(copy.state_dict()[k], v) for k, v in G.state_dict().items())
    assert not any(p.requires_grad for p in copy.parameters())


# --------------------------------------------------------------------------------------------
# `stgan train` under torchrun
def _torchrun(argv: list[str], nproc: int = 2):
    import os
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    cmd += [f"--nproc_per_node={nproc}", "-m", "stgan", *argv]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


CLI = [
    "train", "--config", "tiny", "--set", "data.synthetic_n=64", "--set", "train.batch_size=8",
    "--set", "train.sync_bn=true", "--set", "train.log_every=1",
]  # fmt: skip


@pytest.mark.slow
def test_stgan_train_under_torchrun_trains_resumes_and_prints_once(tmp_path):
    """Two processes: one header line, one final line, rank 0's files only, no lock left;
    the first iteration's D losses (before any update, averaged over ranks) are one
    process's on the global batch; --resume continues from rank 0's checkpoint."""
    import json

    from stgan.cli import main

    run = tmp_path / "run"
    p = _torchrun([*CLI, "--out", str(run), "--max-steps", "2"])
    assert p.returncode == 0, p.stderr[-2000:]
    lines = p.stdout.splitlines()
    assert [x for x in lines if x.startswith("stgan train:")] == [lines[0]]
    assert "2 processes (torchrun), global batch 8 = 2 x 4" in lines[0]
    assert lines[-1].startswith("stopped at step 2;") and len(lines) == 2
    assert sorted(x.name for x in run.iterdir()) == [
        "checkpoints", "config.toml", "log.jsonl", "losses.png", "samples",
    ]  # fmt: skip
    assert main([*CLI, "--out", str(tmp_path / "one"), "--max-steps", "1", "--quiet"]) == 0

    def first_row(folder):
        return json.loads((folder / "log.jsonl").read_text().splitlines()[0])

    two, one = first_row(run), first_row(tmp_path / "one")
    for key in ("D/loss", "D/att", "D/wdist"):
        assert two[key] == pytest.approx(one[key], rel=1e-5, abs=1e-6), key

    p = _torchrun([*CLI, "--out", str(run), "--resume", "--max-steps", "3"])
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.splitlines()[-1].startswith("stopped at step 3;")
    steps = [json.loads(x)["step"] for x in (run / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]


@pytest.mark.slow
@pytest.mark.parametrize(
    "bad, message",
    [
        ("train.batch_size=5", "train.batch_size=5 (the global batch) is not divisible by the "
         "2 processes; use a multiple of 2"),
    ],
)  # fmt: skip
def test_a_bad_setup_under_torchrun_is_one_line_from_rank_0(tmp_path, bad, message):
    """A global batch the processes cannot share: one error line (not one per rank),
    torchrun fails, nothing written."""
    p = _torchrun(["train", "--config", "tiny", "--set", bad, "--out", str(tmp_path / "run")])
    assert p.returncode != 0
    errors = [x for x in p.stderr.splitlines() if x.startswith("stgan: error:")]
    assert errors == [f"stgan: error: {message}"]
    assert not (tmp_path / "run").exists()
