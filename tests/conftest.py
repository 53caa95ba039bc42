"""Shared fixtures: tiny configs and tiny in-memory datasets (CPU only, fixed seeds)."""

from __future__ import annotations

import pytest
import torch

from stgan.config import load

# One thread: the tiny test models gain nothing from two, and two threads are ~10x slower
# when anything else shares the 2 cores (OpenMP regions wait for a descheduled thread).
torch.set_num_threads(1)


class TinyFaces(torch.utils.data.Dataset):
    """Smooth random images with random 0/1 labels: enough to exercise the training loop."""

    def __init__(self, n: int = 64, size: int = 32, n_attrs: int = 4, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        coarse = torch.rand(n, 3, 4, 4, generator=g) * 2 - 1  # smooth, learnable images
        self.x = torch.nn.functional.interpolate(coarse, size=size, mode="bilinear")
        self.y = (torch.rand(n, n_attrs, generator=g) > 0.5).float()
        self.attr_names = ("Bald", "Bangs", "Black_Hair", "Blond_Hair")[:n_attrs]
        self.files = [f"{i + 1:06d}.png" for i in range(n)]

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


TINY_SET = [
    "model.img_size=32", "model.enc_dim=4", "model.dec_dim=4", "model.dis_dim=4",
    "model.dis_fc_dim=8", "train.batch_size=4", "train.n_critic=2", "data.num_workers=0",
    "train.log_every=1",
]  # fmt: skip


@pytest.fixture
def tiny_cfg():
    return load("tiny", overrides=TINY_SET, recipe="paper")  # tests pin the paper's recipe


@pytest.fixture
def tiny_faces():
    return TinyFaces()
