"""Scalar logs of a run: JSON lines always (``log.jsonl``), TensorBoard when installed."""

from __future__ import annotations

import json
import math
from pathlib import Path


class ScalarLog:
    """Appends ``{"step": s, "name": value, ...}`` rows to ``RUN/log.jsonl``.

    On resume, rows at or after the resumed step are dropped first so the file stays a
    clean, monotone record of the run.
    """

    def __init__(self, run_dir: str | Path, start_step: int = 0, tensorboard: bool = True):
        self.path = Path(run_dir) / "log.jsonl"
        if self.path.exists():
            rows = read_log(self.path)
            kept = [r for r in rows if r["step"] <= start_step]
            self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))
        self._f = self.path.open("a", encoding="utf-8")
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(Path(run_dir) / "tb"), purge_step=start_step)
            except ImportError:  # tensorboard not installed: JSONL only
                self._tb = None

    def write(self, step: int, scalars: dict[str, float]) -> None:
        row = {"step": step, **{k: (v if math.isfinite(v) else None) for k, v in scalars.items()}}
        self._f.write(json.dumps(row) + "\n")
        self._f.flush()
        if self._tb is not None:
            for k, v in scalars.items():
                self._tb.add_scalar(k, v, step)

    def close(self) -> None:
        self._f.close()
        if self._tb is not None:
            self._tb.close()


def read_log(path: str | Path) -> list[dict]:
    """Rows of a ``log.jsonl`` (a torn last line from a crash is ignored)."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows
