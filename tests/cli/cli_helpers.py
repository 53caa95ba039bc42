"""Helpers of the CLI tests: run ``stgan`` in-process, the tiny training options."""

from __future__ import annotations

import shlex
from pathlib import Path

from stgan.cli import main

FAST = (
    "--config tiny --recipe paper --quiet --set data.synthetic_n=48 --set model.enc_dim=4"
    " --set model.dec_dim=4 --set model.dis_dim=4 --set model.dis_fc_dim=8"
    " --set train.batch_size=4 --set train.n_critic=1 --set train.n_samples=2"
    " --set data.num_workers=0"
)


def stgan(command: str) -> int:
    """Run ``stgan COMMAND`` (a shell-like string; paths here have no spaces)."""
    return main(shlex.split(command))


def first_face(faces):
    return sorted((faces / "img_align_celeba").iterdir())[0]


def tree(*roots: Path) -> dict[str, tuple[bool, int, int]]:
    """Every path under ``roots`` with (is a file, size, mtime): any write shows up."""
    out = {}
    for root in roots:
        for p in [root, *root.rglob("*")]:
            st = p.stat()
            out[str(p)] = (p.is_file(), st.st_size, st.st_mtime_ns)
    return out


def fails(capsys, argv: str, message: str, *watched: Path) -> None:
    """Exit 2, one line on stderr naming ``message`` (no traceback), nothing written under
    ``watched``."""
    before = tree(*watched)
    code = main(shlex.split(argv))
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("stgan"), err
    assert "Traceback" not in err
    assert message in err, err
    assert tree(*watched) == before, "something was written"
