"""The learning-rate schedule of the official train.py: ``lr / 10 ** (epoch // init_epoch)``."""

from __future__ import annotations

import pytest
import torch

from stgan import config
from stgan.models import build_discriminator, build_generator
from stgan.trainer import Trainer


@pytest.fixture(scope="module")
def trainer() -> Trainer:
    cfg = config.load("tiny", recipe="paper", overrides=["train.lr=2e-4", "train.decay_epoch=100"])
    n = len(cfg.data.attrs)
    G, D = build_generator(cfg.model, n), build_discriminator(cfg.model, n)
    return Trainer(cfg, G, D, cfg.data.attrs, torch.device("cpu"))


@pytest.mark.parametrize(
    ("epoch", "lr"),
    [(0, 2e-4), (99, 2e-4), (100, 2e-5), (199, 2e-5), (200, 2e-6), (250, 2e-6), (300, 2e-7)],
)
def test_lr_divided_by_ten_per_decay_epochs(trainer, epoch, lr):
    per_epoch = 7
    assert trainer.lr_at(epoch * per_epoch, per_epoch) == pytest.approx(lr, rel=1e-12)
    assert trainer.lr_at(epoch * per_epoch + per_epoch - 1, per_epoch) == pytest.approx(lr)


def test_paper_schedule_unchanged_for_its_200_epochs(trainer):
    # the paper's 200 epochs: the one division at epoch 100 of the former schedule
    per_epoch = 3
    for step in range(0, 200 * per_epoch, 37):
        old = 2e-4 * (0.1 if step // per_epoch >= 100 else 1.0)
        assert trainer.lr_at(step, per_epoch) == pytest.approx(old, rel=1e-12)
