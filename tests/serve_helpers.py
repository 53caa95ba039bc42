"""Helpers of the web demo tests: a tiny editor, a tiny trained run, photos as bytes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from stgan.config import load
from stgan.inference import Editor
from stgan.models import build_generator

NAMES = ("Bald", "Bangs", "Black_Hair", "Blond_Hair")
TINY = ["model.img_size=32", "model.enc_dim=4", "model.dec_dim=4"]
# the astronaut's face in skimage.data.astronaut() (512×512), found by eye: (x0, y0, x1, y1)
ASTRONAUT_FACE = (170, 60, 280, 170)


def tiny_editor(seed: int = 0) -> Editor:
    """A 32 px generator with random weights: every code path, no training."""
    torch.manual_seed(seed)
    cfg = load("tiny", overrides=TINY, recipe="paper")
    return Editor(build_generator(cfg.model, len(NAMES)), cfg, NAMES)


def save_run(editor: Editor, out: Path) -> Path:
    """A run folder holding ``editor``'s generator as a checkpoint, written as training
    writes them (so ``Editor.from_checkpoint`` and ``stgan serve`` read it as a run)."""
    from stgan import checkpoint

    payload = checkpoint.make_payload(0, editor.cfg.to_dict(), editor.attr_names, editor.G)
    checkpoint.save(checkpoint.ckpt_path(out, 0), payload)
    return out


def astronaut() -> np.ndarray:
    from skimage.data import astronaut as photo

    return photo()  # (512, 512, 3) uint8, bundled with scikit-image (no download)


def encode(image: np.ndarray, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt, **kw)
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB"))
