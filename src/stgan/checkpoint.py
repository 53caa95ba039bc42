"""Checkpoints as data: state dicts, the resolved config, the step and the RNG states.

Files are written atomically (temporary file + rename) under ``RUN/checkpoints/`` as
``step_00001000.pt``; the newest ``keep`` are kept. Loading never unpickles classes
(``weights_only=True``) and turns every failure into a one-line :class:`UserError`.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import torch

from stgan.errors import UserError
from stgan.imageio import atomic_write_bytes

FORMAT = "stgan-checkpoint"
VERSION = 1
_NAME = re.compile(r"^step_(\d{8})\.pt$")


def ckpt_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints"


def ckpt_path(run_dir: str | Path, step: int) -> Path:
    return ckpt_dir(run_dir) / f"step_{step:08d}.pt"


def rng_state() -> dict[str, Any]:
    """The torch RNG states (CPU and every CUDA device) that training draws from."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(path: str | Path, payload: dict[str, Any]) -> None:
    """Save a checkpoint dict (see :func:`make_payload`) atomically."""
    buf = io.BytesIO()
    torch.save({"format": FORMAT, "version": VERSION, **payload}, buf)
    atomic_write_bytes(path, buf.getvalue())


def make_payload(
    step: int, config: dict, attr_names, G, D=None, opt_G=None, opt_D=None, rng: dict | None = None
) -> dict[str, Any]:
    """Collect what a checkpoint holds: everything needed to resume exactly or to edit."""
    out: dict[str, Any] = {
        "step": int(step),
        "config": config,
        "attr_names": list(attr_names),
        "G": cpu_state(G.state_dict()),
    }
    if D is not None:
        out["D"] = cpu_state(D.state_dict())
    if opt_G is not None:
        out["opt_G"] = opt_G.state_dict()
    if opt_D is not None:
        out["opt_D"] = opt_D.state_dict()
    if rng is not None:
        out["rng"] = rng
    return out


def cpu_state(state: dict) -> dict:
    """A state dict with every tensor detached, on the CPU and contiguous (a channels-last
    training run's weights are stored in the usual layout)."""
    return {k: v.detach().cpu().contiguous() if torch.is_tensor(v) else v for k, v in state.items()}


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Checkpoint files of a run, oldest first."""
    d = ckpt_dir(run_dir)
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if _NAME.match(p.name))


def resolve(path: str | Path) -> Path:
    """A checkpoint file, or the newest checkpoint of a run folder."""
    p = Path(path)
    if p.is_dir():
        found = list_checkpoints(p) or sorted(f for f in p.iterdir() if _NAME.match(f.name))
        if not found:
            raise UserError(
                f"run folder {p} holds no checkpoint (checkpoints/step_*.pt); "
                "train first or pass a checkpoint file"
            )
        return found[-1]
    if not p.is_file():
        raise UserError(f"checkpoint {p} does not exist; pass a run folder or a .pt file")
    return p


def load(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint file or a run folder's newest one; any problem is a UserError."""
    p = resolve(path)
    try:
        data = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for truncated or foreign files
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(
            f"checkpoint {p} is corrupt or not a torch file ({msg}); "
            "use another checkpoint of the run"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UserError(f"{p} is not an stgan checkpoint; pass a file written by `stgan train`")
    if data.get("version") != VERSION:
        raise UserError(
            f"checkpoint {p} has format version {data.get('version')}, "
            f"this stgan reads version {VERSION}"
        )
    data["path"] = str(p)
    return data


def prune(run_dir: str | Path, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints of a run."""
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)


def output_state(ckpt: dict[str, Any]) -> dict[str, Any]:
    """The generator state that edits, samples and evaluation use: the EMA weights when the
    run kept them, else G's; with the BatchNorm statistics recalibrated at save time when
    the run recalibrated them (``train.bn_eval = recalibrate``)."""
    state = dict(ckpt.get("G_ema") or ckpt["G"])
    state.update(ckpt.get("bn_eval") or {})
    return state


def load_state(module: torch.nn.Module, state: dict, what: str, path: str) -> None:
    """``load_state_dict`` that reports a shape/name mismatch as a configuration mismatch."""
    try:
        module.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).split("\n")[1].strip() if "\n" in str(e) else str(e)
        raise UserError(
            f"checkpoint {path} does not fit this {what} configuration ({first}); "
            "use the config the checkpoint was trained with"
        ) from None
