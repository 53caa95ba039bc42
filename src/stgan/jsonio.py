"""Strict JSON for results and run records: plain values only, NaN and ±inf as null."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from stgan.imageio import atomic_write_bytes


def json_ready(v: Any) -> Any:
    """Nested dicts/lists of plain Python values: numpy scalars to Python, NaN and ±inf to
    None (strict JSON, and what ``torch.load(..., weights_only=True)`` accepts)."""
    if isinstance(v, dict):
        return {str(k): json_ready(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_ready(x) for x in v]
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, (np.integer, int)) and not isinstance(v, bool):
        return int(v)
    return v


def write_json(path: str | Path, value: Any) -> None:
    """Write ``value`` (made :func:`json_ready`) atomically as indented JSON with a final
    newline."""
    atomic_write_bytes(path, (json.dumps(json_ready(value), indent=2) + "\n").encode())
