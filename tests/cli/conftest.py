"""A tiny trained run and a few synthetic faces, shared by the CLI tests (built once)."""

from __future__ import annotations

import pytest
from cli_helpers import FAST, stgan


@pytest.fixture(scope="session")
def run(tmp_path_factory):
    """A tiny run trained 2 steps, then resumed to 4; plus 3 synthetic faces to edit.

    Tests must not write into these folders (copy what they change)."""
    root = tmp_path_factory.mktemp("cli")
    out, faces = root / "run", root / "faces"
    # the first training skips its loss plot (~1 s of matplotlib layout): the resumed run
    # below replaces it anyway, and that plot is the one the tests check
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("stgan.runs.plot_losses", lambda run_dir: False)
        assert stgan(f"train {FAST} --out {out} --max-steps 2") == 0
    assert not (out / "losses.png").exists()
    assert stgan(f"train --quiet --out {out} --resume --max-steps 4") == 0
    assert stgan(f"data synth --n 3 --size 32 --seed 5 --out {faces} --quiet") == 0
    return out, faces
