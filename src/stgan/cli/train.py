"""``stgan train``: a run folder from a config, with one writer at a time and clean stops.

SIGINT (Ctrl-C) and SIGTERM (schedulers) do not kill the run: the trainer finishes the current
iteration, writes a checkpoint, samples and losses.png, and the command exits with 130
(SIGINT) or 143 (SIGTERM), the shell's codes for those signals, so scripts can tell a stopped
run from a finished one (0). A second signal aborts at once (the last checkpoint stays).
"""

from __future__ import annotations

import argparse
import inspect
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
    plan = _plan(args, run_dir, resume)  # everything that can fail, before any write
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
                plan = _plan(args, run_dir, resume)  # another process trained meanwhile
                if plan is None:
                    return 0
            elif not resume and checkpoint.list_checkpoints(run_dir):
                raise UserError(f"run folder {run_dir} got checkpoints meanwhile; not touching it")
            return _train_locked(args, run_dir, plan)
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


def _plan(args: argparse.Namespace, run_dir: Path, resume: bool) -> _Plan | None:
    """The config, checkpoint, data and device of the run (reads only); None: nothing to do."""
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
    device = resolve_device(cfg.train.device)
    progress = not args.quiet
    train_set = open_dataset(cfg.data, cfg.model.img_size, "train", progress=progress)
    val_set = open_dataset(cfg.data, cfg.model.img_size, "val", progress=progress)
    n = min(cfg.train.n_samples, len(val_set))  # sample grids show val images (docs/data.md)
    xs, ys = zip(*(val_set[i] for i in range(n)), strict=True)
    return _Plan(cfg, ckpt, train_set, (torch.stack(xs), torch.stack(ys)), device)


def _train_locked(args: argparse.Namespace, run_dir: Path, plan: _Plan) -> int:
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
    names = train_set.attr_names
    seed_everything(cfg.train.seed)
    G = build_generator(cfg.model, len(names))
    D = build_discriminator(cfg.model, len(names))
    trainer = Trainer(cfg, G, D, names, device)
    if ckpt is not None:
        trainer.load_checkpoint(ckpt)
        if args.resume_from:
            _supersede_newer(run_dir, int(ckpt["step"]), args)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(run_dir / "config.toml", to_toml(cfg).encode())
    _say(
        args,
        f"stgan train: preset {cfg.preset}, {len(train_set)} training images "
        f"({cfg.data.dataset}), {cfg.model.img_size} px, G {count_parameters(G):,} / "
        f"D {count_parameters(D):,} parameters, device {device}, run folder {run_dir}",
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
    stop = StopSignals()
    kwargs = {}
    if "should_stop" in inspect.signature(trainer.fit).parameters:
        kwargs["should_stop"] = stop
    else:  # a trainer without clean stops: signals keep their default behaviour
        stop.enabled = False
    try:
        with stop:
            step = trainer.fit(
                train_set, run_dir, sample_batch, args.max_steps, args.max_minutes, bar, **kwargs
            )
    except Aborted as e:
        print(
            f"stgan: aborted by a second {_signame(e.signum)}; the last checkpoint stays; "
            f"resume with: stgan train --out {run_dir} --resume",
            file=sys.stderr,
        )
        return 128 + e.signum
    last = checkpoint.list_checkpoints(run_dir)[-1]
    plotted = plot_losses(run_dir)
    where = f"checkpoint {last}; samples in {run_dir / 'samples'}" + (
        f"; loss curves {run_dir / 'losses.png'}" if plotted else ""
    )
    if stop.signum is not None:
        print(
            f"stopped by {_signame(stop.signum)} at step {step}; {where}; resume with: "
            f"stgan train --out {run_dir} --resume"
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

    def __init__(self) -> None:
        self.signum: int | None = None
        self.enabled = True
        self._old: dict[int, object] = {}

    def __call__(self) -> bool:
        return self.signum is not None

    def __enter__(self) -> StopSignals:
        if self.enabled and threading.current_thread() is threading.main_thread():
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
        print(
            f"\nstgan: {_signame(signum)} received: finishing the current iteration, then a "
            "checkpoint, samples and losses.png (send it again to abort at once)",
            file=sys.stderr,
            flush=True,
        )
