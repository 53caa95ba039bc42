"""stgan.augment: D's random shifts and flips against a hand computation."""

from __future__ import annotations

import pytest
import torch

from stgan.augment import augment
from tests.conftest import TINY_SET
from tests.test_recipes import make_trainer


def _by_hand(x: torch.Tensor, dy: int, dx: int, flip: bool) -> torch.Tensor:
    """Shift one image (C, H, W) by dy rows and dx columns, zeros where nothing comes in."""
    C, H, W = x.shape
    out = torch.zeros_like(x)
    for i in range(H):
        for j in range(W):
            si, sj = i - dy, j - dx
            if 0 <= si < H and 0 <= sj < W:
                out[:, i, j] = x[:, si, sj]
    return out.flip(-1) if flip else out


@pytest.mark.parametrize("kind", ["translate", "translate-flip"])
def test_shifts_and_flips_each_image_by_its_own_draw(kind):
    torch.manual_seed(0)
    x = torch.randn(5, 3, 16, 16)
    rand = torch.tensor(
        [[0.0, 0.999, 0.2], [0.5, 0.5, 0.7], [0.3, 0.1, 0.4], [0.999, 0.0, 0.9], [0.61, 0.83, 0.0]]
    )
    m = 2  # 16 px: shifts in [−2, 2]
    out = augment(x, kind, rand)
    for k in range(5):
        dy, dx = int(rand[k, 0] * (2 * m + 1)) - m, int(rand[k, 1] * (2 * m + 1)) - m
        flip = kind == "translate-flip" and rand[k, 2] < 0.5
        torch.testing.assert_close(out[k], _by_hand(x[k], dy, dx, flip), rtol=0, atol=0)
    assert torch.equal(out[1], x[1])  # no shift, no flip
    assert augment(x, "none") is x


def test_gradients_reach_the_pixels_that_stay_in_view():
    x = torch.randn(2, 1, 8, 8, requires_grad=True)
    rand = torch.tensor([[0.0, 0.5, 0.9], [0.5, 0.5, 0.9]])  # image 0 up by one row
    augment(x, "translate", rand).sum().backward()
    assert torch.equal(x.grad[0, 0, 0], torch.zeros(8)) and x.grad[0, 0, 1:].eq(1).all()
    assert x.grad[1].eq(1).all()
    with pytest.raises(ValueError, match="augment"):
        augment(x, "colour")


def test_trainer_shows_d_shifted_images(tiny_faces):
    """train.augment: every D input is augmented (critic and generator steps); with none the
    images reach D as they are."""
    from stgan.config import load

    seen = {}
    for kind in ("none", "translate"):
        cfg = load("tiny", overrides=[*TINY_SET, f"train.augment={kind}"], recipe="fast")
        tr = make_trainer(cfg, tiny_faces.attr_names)
        inputs = []
        tr.D.register_forward_pre_hook(lambda mod, args, seen=inputs: seen.append(args[0]))
        torch.manual_seed(3)
        tr.d_step(tiny_faces.x[:4], tiny_faces.y[:4], penalize=True)
        tr.g_step(tiny_faces.x[4:8], tiny_faces.y[4:8])
        seen[kind] = inputs
    plain, shifted = seen["none"], seen["translate"]
    assert torch.equal(plain[0][:4], tiny_faces.x[:4])  # the real images, untouched
    assert not torch.equal(shifted[0][:4], tiny_faces.x[:4])
    assert len(shifted) == len(plain) == 2  # the critic step's and the generator step's

    def vacated(batch):  # images with an all-zero border row or column: shifted ones
        return (batch.abs().sum((1, 3)) == 0).any(1) | (batch.abs().sum((1, 2)) == 0).any(1)

    assert vacated(shifted[0][:4]).any() and vacated(shifted[1]).any()  # reals and G's edits
    assert not vacated(plain[0]).any() and not vacated(plain[1]).any()
