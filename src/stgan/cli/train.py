"""``stgan train``: a run folder from a config, with one writer at a time and clean stops.

SIGINT (Ctrl-C) and SIGTERM (schedulers) do not kill the run: the trainer finishes the current
iteration, writes a checkpoint, samples and losses.png, and the command exits with 130
(SIGINT) or 143 (SIGTERM), the shell's codes for those signals, so scripts can tell a stopped
run from a finished one (0). A second signal aborts at once (the last checkpoint stays).

Started by ``torchrun`` (docs/distributed.md), every process runs this command: rank 0 checks
the run folder, holds the lock, makes the plan (config, checkpoint) and sends it to the other
ranks, which build the same trainer from it; rank 0 alone prints and writes. Setup errors of
any rank are printed once, by rank 0; stops (signals, ``--max-minutes``) are agreed after
every iteration, so all ranks stop after the same one.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from stgan.cli import options
from stgan.errors import UserError

# a generator bigger than this on a CPU gets a warning (the paper's 128 px G: 75 M parameters)
CPU_WARN_PARAMS = 20_000_000


def register(sub) -> None:
    t = sub.add_parser(
        "train",
        help="train STGAN or an AttGAN variant",
        description="Train a generator and discriminator (reference §4). Writes "
        "config.toml, checkpoints/, samples/, log.jsonl and losses.png into the run folder, "
        "which is locked (run.lock) while training. Ctrl-C or SIGTERM stops cleanly: the "
        "current iteration ends, a checkpoint, samples and losses.png are written and the "
        "command exits with 130 (SIGINT) or 143 (SIGTERM); a second signal aborts at once.",
    )
    options.add_config(t, "default: the paper's settings (celeba128; slow on a CPU: use tiny)")
    options.add_recipe(t)
    options.add_data(t)
    t.add_argument("--out", help="run folder (default runs/<date-time>)")
    t.add_argument(
        "--max-steps",
        type=options.positive_int,
        help="stop once the run has done this many G iterations in total (on --resume too: "
        "the total, not the number of further iterations)",
    )
    t.add_argument(
        "--max-minutes",
        type=options.positive_float,
        help="stop cleanly (final checkpoint and samples) once this many minutes of training "
        "have passed",
    )
    t.add_argument(
        "--resume",
        action="store_true",
        help="continue the newest checkpoint of --out exactly (weights, optimisers, step, RNG)",
    )
    t.add_argument(
        "--resume-from",
        metavar="CHECKPOINT",
        help="continue from this checkpoint file instead of the newest (e.g. when the newest "
        "is corrupt); newer checkpoints of the run are renamed *.pt.superseded, not deleted",
    )
    options.add_overwrite(
        t, "the config, log and samples of a run folder that holds no checkpoint yet"
    )
    options.add_quiet(t)
    t.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from stgan import distributed

    dist = distributed.setup()  # None: one process
    try:
        if dist is None:
            return _cmd_train(args, None)
        team = _Team(dist)
        if dist.is_main:
            return _lead(args, team)
        return _follow(args, team)
    finally:
        distributed.teardown(dist)


def _cmd_train(args: argparse.Namespace, team: _Team | None) -> int:
    """The run as one process, or as rank 0 of several (``team``)."""
    from stgan import checkpoint
    from stgan.outputs import check_writable_dir
    from stgan.runs import RunLock

    resume = args.resume or bool(args.resume_from)
    if args.resume_from:
        ckpt_file = Path(args.resume_from)
        if not ckpt_file.is_file():
            raise UserError(f"--resume-from {ckpt_file} is not a checkpoint file")
        default_run = ckpt_file.parent
        if default_run.name == "checkpoints":
            default_run = default_run.parent
        run_dir = Path(args.out) if args.out else default_run
    elif args.out:
        run_dir = Path(args.out)
    elif resume:
        raise UserError("--resume needs --out RUN, the run folder to continue")
    else:
        run_dir = Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"--out {run_dir} is a file; a run folder is needed")
    check_writable_dir(run_dir, "--out")
    if not resume:
        if checkpoint.list_checkpoints(run_dir):
            raise UserError(
                f"run folder {run_dir} already holds checkpoints; pass --resume to "
                "continue it or choose another --out"
            )
        earlier = [n for n in ("config.toml", "log.jsonl") if (run_dir / n).exists()]
        if earlier and not args.overwrite:
            raise UserError(
                f"run folder {run_dir} holds the {earlier[0]} of an earlier run (no "
                "checkpoint); pass --overwrite to start afresh there or choose another --out"
            )
    plan = _plan(args, run_dir, resume, team)  # everything that can fail, before any write
    if plan is None:
        return 0
    created = [p for p in (run_dir, *run_dir.parents) if not p.exists()]  # innermost first
    try:
        with RunLock(run_dir) as lock:
            if lock.took_over:
                _say(
                    args,
                    f"stgan train: took over the lock of process {lock.took_over.get('pid')}, "
                    "which no longer runs",
                )
            if resume and not args.resume_from and plan.ckpt_path != checkpoint.resolve(run_dir):
                plan = _plan(args, run_dir, resume, team)  # another process trained meanwhile
                if plan is None:
                    return 0
            elif not resume and checkpoint.list_checkpoints(run_dir):
                raise UserError(f"run folder {run_dir} got checkpoints meanwhile; not touching it")
            return _train_locked(args, run_dir, plan, team)
    finally:
        for folder in created:  # a run that failed before writing leaves no empty folder
            try:
                folder.rmdir()
            except OSError:
                break


@dataclass
class _Plan:
    cfg: object
    ckpt: dict | None
    train_set: object
    sample_batch: tuple
    device: object

    @property
    def ckpt_path(self) -> Path | None:
        return Path(self.ckpt["path"]) if self.ckpt else None


def _plan(
    args: argparse.Namespace, run_dir: Path, resume: bool, team: _Team | None = None
) -> _Plan | None:
    """The config, checkpoint, data and device of the run (reads only); None: nothing to do.
    As rank 0 of a ``team``: this process's GPU, and a global batch the ranks can share."""
    import torch

    from stgan import checkpoint
    from stgan.config import apply, from_dict, load, parse_set, validate
    from stgan.data import open_dataset
    from stgan.runs import check_same_run
    from stgan.runtime import resolve_device

    sets = options.with_data(args.set, args.data)
    ckpt = None
    if resume:
        if not args.resume_from and not checkpoint.list_checkpoints(run_dir):
            raise UserError(
                f"run folder {run_dir} holds no checkpoint to resume; start it without --resume"
            )
        ckpt = checkpoint.load(args.resume_from or run_dir)
        saved = from_dict(ckpt["config"])
        if args.config or args.preset:
            cfg = load(args.config, args.preset, sets, args.recipe)
        else:  # continue with the run's own config, plus any --set
            if args.recipe and args.recipe != saved.recipe:
                raise UserError(
                    f"--recipe {args.recipe}: the run trains with recipe "
                    f"{saved.recipe}; a resumed run keeps its recipe"
                )
            cfg = apply(saved, parse_set(sets), from_text=True)
        cfg = _resolve_crop(cfg, args)
        check_same_run(cfg, saved, ckpt["path"])
        step = int(ckpt["step"])
        if args.max_steps is not None and step >= args.max_steps:
            print(
                f"run {run_dir} is already at step {step} (--max-steps {args.max_steps} is the "
                "total); nothing to do: raise --max-steps to train further"
            )
            return None
    else:
        cfg = _resolve_crop(load(args.config, args.preset, sets, args.recipe), args)
    validate(cfg)
    if team is None:
        device = resolve_device(cfg.train.device)
    else:
        if team.dist.shard_size(cfg.train.batch_size) < 2 and not cfg.train.sync_bn:
            raise UserError(
                f"train.batch_size={cfg.train.batch_size} gives each of the "
                f"{team.dist.world_size} processes one image, and G's BatchNorm cannot "
                "normalise one image alone; raise train.batch_size or set train.sync_bn=true"
            )
        device = team.dist.device(cfg.train.device)
    progress = not args.quiet
    train_set = open_dataset(cfg.data, cfg.model.img_size, "train", progress=progress)
    val_set = open_dataset(cfg.data, cfg.model.img_size, "val", progress=progress)
    n = min(cfg.train.n_samples, len(val_set))  # sample grids show val images (docs/data.md)
    xs, ys = zip(*(val_set[i] for i in range(n)), strict=True)
    return _Plan(cfg, ckpt, train_set, (torch.stack(xs), torch.stack(ys)), device)


def _train_locked(
    args: argparse.Namespace, run_dir: Path, plan: _Plan, team: _Team | None = None
) -> int:
    """Train with the plan: as one process, or as any rank of a ``team`` (rank 0 first sends
    the plan to the others; only rank 0 writes and prints)."""
    from tqdm import tqdm

    from stgan import checkpoint
    from stgan.config import to_toml
    from stgan.imageio import atomic_write_bytes
    from stgan.models import build_discriminator, build_generator, count_parameters
    from stgan.runs import plot_losses
    from stgan.runtime import seed_everything
    from stgan.trainer import Trainer

    cfg, ckpt, train_set, sample_batch, device = (
        plan.cfg, plan.ckpt, plan.train_set, plan.sample_batch, plan.device
    )  # fmt: skip
    resume = ckpt is not None
    main = team is None or team.dist.is_main
    if team is not None and main:
        team.start(cfg, plan.ckpt_path, run_dir)  # the other ranks build the same trainer
    names = train_set.attr_names
    seed_everything(cfg.train.seed)
    G = build_generator(cfg.model, len(names))
    D = build_discriminator(cfg.model, len(names))
    trainer = Trainer(cfg, G, D, names, device, dist=None if team is None else team.dist)
    if ckpt is not None:
        trainer.load_checkpoint(ckpt)
        if args.resume_from and main:
            _supersede_newer(run_dir, int(ckpt["step"]), args)
    if team is not None:
        team.align(trainer, device)
    if not main:
        return _train_follower(args, trainer, train_set, run_dir, team)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(run_dir / "config.toml", to_toml(cfg).encode())
    _say(
        args,
        f"stgan train: preset {cfg.preset}, {len(train_set)} training images "
        f"({cfg.data.dataset}), {cfg.model.img_size} px, G {count_parameters(G):,} / "
        f"D {count_parameters(D):,} parameters, device {device}, run folder {run_dir}"
        + (f", {team.describe(cfg.train.batch_size)}" if team is not None else ""),
    )
    if device.type == "cpu" and count_parameters(G) > CPU_WARN_PARAMS:
        print(
            f"stgan train: warning: a {count_parameters(G) / 1e6:.0f} M-parameter generator on a "
            "CPU takes about a minute per iteration; for a quick run use --config tiny",
            file=sys.stderr,
        )

    def bar(start: int, total: int):
        return tqdm(
            total=total, initial=start, desc="train", unit="it", dynamic_ncols=True,
            disable=args.quiet,
        )  # fmt: skip

    start = trainer.state.step
    under = "" if team is None else " (under torchrun, as this run)"
    stop = StopSignals()
    should_stop, max_minutes = stop, args.max_minutes
    if team is not None:  # all ranks stop after the same iteration (rank 0's clock)
        should_stop, max_minutes = team.agreed_stop(stop, max_minutes), None
    try:
        with stop:
            step = trainer.fit(
                train_set, run_dir, sample_batch, args.max_steps, max_minutes, bar, should_stop
            )
    except Aborted as e:
        print(
            f"stgan: aborted by a second {_signame(e.signum)}; the last checkpoint stays; "
            f"resume with: stgan train --out {run_dir} --resume{under}",
            file=sys.stderr,
        )
        return 128 + e.signum
    except RuntimeError as e:
        if team is None or not team.lost_peer(e):
            raise
        cause = " ".join(str(e).split())[:200]
        raise UserError(
            f"a collective operation failed ({cause}): another process of this torchrun run "
            "probably stopped (its message or torchrun's report says why); the last "
            f"checkpoint stays; resume with: stgan train --out {run_dir} --resume{under}"
        ) from None
    last = checkpoint.list_checkpoints(run_dir)[-1]
    plotted = plot_losses(run_dir)
    where = f"checkpoint {last}; samples in {run_dir / 'samples'}" + (
        f"; loss curves {run_dir / 'losses.png'}" if plotted else ""
    )
    if stop.signum is not None:
        print(
            f"stopped by {_signame(stop.signum)} at step {step}; {where}; resume with: "
            f"stgan train --out {run_dir} --resume{under}"
        )
        return 128 + stop.signum
    if resume and step == start:
        print(
            f"run {run_dir} had already finished its schedule at step {step} (train.epochs); "
            "nothing to do: raise train.epochs with --set to train further"
        )
        return 0
    print(f"stopped at step {step}; {where}")
    return 0


# --------------------------------------------------------------------------------------------
# several processes (torchrun)
@dataclass
class _Team:
    """The processes of a torchrun run, as this command sees them (:mod:`stgan.distributed`)."""

    dist: object  # stgan.distributed.Dist
    started: bool = False  # rank 0 sent the plan

    def start(self, cfg, ckpt_path: Path | None, run_dir: Path) -> None:
        """Rank 0: send the plan; raise the first setup error of another rank, if any."""
        msg = {"cfg": cfg.to_dict(), "ckpt": ckpt_path and str(ckpt_path), "run": str(run_dir)}
        self.dist.broadcast(msg)
        self.started = True
        errors = self.dist.gather(None)
        for rank, error in enumerate(errors):
            if error:
                raise UserError(f"rank {rank} of {len(errors)}: {error}")

    def align(self, trainer, device) -> None:
        """Rank 0's weights and RNG states on every rank (equal already when all went well)."""
        for m in (trainer.G, trainer.D, trainer.G_ema):
            if m is not None:
                self.dist.broadcast_module(m)
        self.dist.sync_rng(device)

    def describe(self, batch_size: int) -> str:
        n = self.dist.world_size
        return f"{n} processes (torchrun), global batch {batch_size} = {n} x {batch_size // n}"

    def agreed_stop(self, stop: StopSignals, max_minutes: float | None):
        """``should_stop`` for every rank: a signal on any rank, or rank 0's time limit."""
        t0 = time.monotonic()

        def should_stop() -> bool:
            late = max_minutes is not None and time.monotonic() - t0 > 60.0 * max_minutes
            signum, late = self.dist.agree_stop(stop.signum or 0, late)
            if signum and stop.signum is None:
                stop.signum = signum  # another rank was signalled: stop as it does
            return bool(signum) or late

        return should_stop

    @staticmethod
    def lost_peer(e: BaseException) -> bool:
        from stgan.distributed import is_peer_failure

        return is_peer_failure(e)


def _lead(args: argparse.Namespace, team: _Team) -> int:
    """Rank 0: the command as one process would run it, plus the plan sent to the others
    (or, when it ends before, the exit status they should end with: it printed why)."""
    try:
        code = _cmd_train(args, team)
    except BaseException:
        if not team.started:
            team.dist.broadcast({"exit": 2})
        raise
    if not team.started:
        team.dist.broadcast({"exit": code})
    return code


def _follow(args: argparse.Namespace, team: _Team) -> int:
    """Ranks > 0: wait for rank 0's plan, build the same trainer, train; print nothing but
    errors of their own (prefixed with the rank)."""
    from stgan import checkpoint
    from stgan.cli import error_message
    from stgan.config import from_dict
    from stgan.data import open_dataset

    dist = team.dist
    msg = dist.broadcast()
    if "exit" in msg:
        return msg["exit"]  # rank 0 stopped before training and said why
    error, plan = None, None
    try:
        cfg = from_dict(msg["cfg"])
        device = dist.device(cfg.train.device)
        ckpt = checkpoint.load(msg["ckpt"]) if msg["ckpt"] else None
        train_set = open_dataset(cfg.data, cfg.model.img_size, "train", progress=False)
        plan = _Plan(cfg, ckpt, train_set, (), device)
    except Exception as e:  # noqa: BLE001 - reported by rank 0, re-raised below if a bug
        error = error_message(e) or f"{type(e).__name__}: {e}"
        if error_message(e) is None:
            dist.gather(error)
            raise
    if any(dist.gather(error)):
        return 2  # rank 0 printed the first error
    quiet = argparse.Namespace(**{**vars(args), "quiet": True})
    try:
        return _train_locked(quiet, Path(msg["run"]), plan, team)
    except UserError as e:
        raise UserError(f"rank {dist.rank}: {e}") from None
    except RuntimeError as e:
        if team.lost_peer(e):
            return 2  # rank 0 (or torchrun) reports it
        raise


def _train_follower(args, trainer, train_set, run_dir: Path, team: _Team) -> int:
    """A rank > 0 trains in step with rank 0 (which writes everything); exit status 0, or
    128 + the signal that stopped the run."""
    stop = StopSignals(quiet=True)
    try:
        with stop:
            trainer.fit(
                train_set, run_dir, (), args.max_steps, None, None,
                should_stop=team.agreed_stop(stop, None),
            )  # fmt: skip
    except Aborted as e:
        return 128 + e.signum
    return 128 + stop.signum if stop.signum is not None else 0


def _resolve_crop(cfg, args: argparse.Namespace):
    """The config with the crop its data folder records (a `stgan data synth` folder), so
    that config.toml and the checkpoints say how the images were really read."""
    from dataclasses import replace

    from stgan.data import resolve_crop

    data, note = resolve_crop(cfg.data)
    if note:
        _say(args, f"stgan train: {note}")
    return replace(cfg, data=data)


def _say(args: argparse.Namespace, text: str) -> None:
    """A progress message: printed unless --quiet."""
    if not args.quiet:
        print(text)


def _supersede_newer(run_dir: Path, step: int, args: argparse.Namespace) -> None:
    """Rename the run's checkpoints newer than ``step`` (kept, no longer the newest)."""
    from stgan import checkpoint

    newer = [p for p in checkpoint.list_checkpoints(run_dir) if int(p.stem[5:]) > step]
    for p in newer:
        p.rename(p.with_name(p.name + ".superseded"))
    if newer:
        _say(args, f"stgan train: renamed {len(newer)} newer checkpoint(s) to *.pt.superseded")


# --------------------------------------------------------------------------------------------
# clean stops
class Aborted(KeyboardInterrupt):
    """A second stop signal: leave at once."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _signame(signum: int) -> str:
    return signal.Signals(signum).name


class StopSignals:
    """While entered, SIGINT and SIGTERM set a flag (``stop()`` returns True) instead of
    killing the process; a second signal raises :class:`Aborted`. Only in the main thread
    (elsewhere Python cannot install handlers, and the flag stays False)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, quiet: bool = False) -> None:
        self.signum: int | None = None
        self.quiet = quiet  # no message (ranks > 0 of a torchrun run)
        self._old: dict[int, object] = {}

    def __call__(self) -> bool:
        return self.signum is not None

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._old = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for s, old in self._old.items():
            signal.signal(s, old)
        self._old = {}

    def _handle(self, signum: int, frame) -> None:
        if self.signum is not None:
            raise Aborted(signum)
        self.signum = signum
        if self.quiet:
            return
        print(
            f"\nstgan: {_signame(signum)} received: finishing the current iteration, then a "
            "checkpoint, samples and losses.png (send it again to abort at once)",
            file=sys.stderr,
            flush=True,
        )
