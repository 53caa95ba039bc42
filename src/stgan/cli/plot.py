"""``stgan plot``: the loss curves of a run folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from stgan.errors import UserError


def register(sub) -> None:
    pl = sub.add_parser(
        "plot",
        help="loss curves of a run (losses.png)",
        description="Plot the scalars of RUN/log.jsonl into RUN/losses.png (also written at "
        "the end of every `stgan train`); works while the run is training.",
    )
    pl.add_argument("run", help="run folder")
    pl.set_defaults(func=cmd_plot)


def cmd_plot(args: argparse.Namespace) -> int:
    from stgan.outputs import check_writable_dir
    from stgan.runs import plot_losses

    run_dir = Path(args.run)
    if not (run_dir / "log.jsonl").is_file():
        raise UserError(f"{run_dir} has no log.jsonl; pass the folder of a `stgan train` run")
    if (run_dir / "losses.png").is_dir():
        raise UserError(f"{run_dir / 'losses.png'} is a folder; a file is needed")
    check_writable_dir(run_dir, "run folder")
    if not plot_losses(run_dir):
        raise UserError("plotting needs matplotlib: pip install matplotlib (or stgan[plots])")
    print(f"wrote {run_dir / 'losses.png'}")
    return 0
