"""stgan.editing and attributes.Coding: which code the generator is given for each edit.

A recording generator keeps every attribute code it is called with, so each expected code is
written out by hand from the coding's ``label``, ``thres_int`` and ``test_int``."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from stgan.attributes import Coding
from stgan.config import Config
from stgan.editing import edit, flip_all, flip_target, reconstruct, sample_grid

NAMES = ("Bald", "Bangs", "Black_Hair", "Blond_Hair", "Male")
SRC = torch.tensor([[0.0, 1.0, 1.0, 0.0, 1.0], [1.0, 0.0, 0.0, 1.0, 0.0]])  # (B, n)


class Recorder(nn.Module):
    """Returns its input images unchanged and records the codes it was given (a masked one:
    mask 0.25 everywhere, and the codes its masks were made under)."""

    def __init__(self, mask: bool = False):
        super().__init__()
        self.mask = mask
        self.codes: list[torch.Tensor] = []
        self.mask_codes: list[torch.Tensor] = []

    def forward(self, x, code):
        return self.blend(x, *self.decode_raw(self.encode(x), code))

    def encode(self, x):
        return x  # the "features": the images themselves

    def decode_raw(self, feats, code):
        self.codes.append(code.clone())
        if not self.mask:
            return feats, None
        self.mask_codes.append(code.clone())
        return feats, torch.full_like(feats[:, :1], 0.25)  # (B, 1, H, W)

    @staticmethod
    def blend(x, raw, m):
        return raw if m is None else x + m * (raw - x)


def pm(labels01, value):
    """0/1 labels as ±value, written out."""
    return torch.where(labels01 > 0.5, torch.tensor(value), torch.tensor(-value))


def test_coding_from_config_and_its_checks():
    cfg = Config()
    cfg = replace(
        cfg,
        model=replace(cfg.model, label="target"),
        train=replace(cfg.train, thres_int=0.4, test_int=0.7),
    )
    assert Coding.from_config(cfg) == Coding("target", 0.4, 0.7)
    assert Coding.from_config(Config()) == Coding("diff", 0.5, 1.0) == Coding()  # the paper's
    with pytest.raises(ValueError, match="label"):
        Coding("difference")
    with pytest.raises(AttributeError):  # frozen: a coding travels unchanged
        Coding().label = "target"


def test_flip_target_uses_test_int_on_the_flipped_attribute_only():
    coding = Coding("diff", thres_int=0.4, test_int=0.7)
    blond = NAMES.index("Blond_Hair")
    target01, enc = flip_target(SRC, NAMES, blond, coding)
    # row 0: Blond on (test_int), Black_Hair cleared by the conflict rule (keeps thres_int)
    assert target01[0].tolist() == [0.0, 1.0, 0.0, 1.0, 1.0]
    assert enc[0].tolist() == pytest.approx([-0.4, 0.4, -0.4, 0.7, 0.4])
    # row 1: Blond turned off: -test_int there, nothing else changes
    assert target01[1].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert enc[1].tolist() == pytest.approx([0.4, -0.4, -0.4, -0.7, -0.4])


@pytest.mark.parametrize("label", ["diff", "target"])
def test_reconstruct_and_edit_give_the_coding_s_code(label):
    coding = Coding(label, thres_int=0.4, test_int=0.7)
    G, x = Recorder(), torch.zeros(2, 3, 4, 4)
    reconstruct(G, x, SRC, coding)
    expected = torch.zeros(2, 5) if label == "diff" else pm(SRC, 0.4)
    assert torch.allclose(G.codes[-1], expected)
    tgt = torch.full((2, 5), 0.9)
    edit(G, x, SRC, tgt, coding)
    expected = tgt - pm(SRC, 0.4) if label == "diff" else tgt
    assert torch.allclose(G.codes[-1], expected)


def test_flip_all_and_sample_grid_codes_and_layout():
    coding = Coding("diff", thres_int=0.4, test_int=0.7)
    G, x = Recorder(), torch.rand(2, 3, 4, 4) * 2 - 1
    flips = flip_all(G, x, SRC, NAMES, coding)
    assert len(flips) == len(NAMES) and len(G.codes) == len(NAMES)
    male = NAMES.index("Male")  # no conflicts: only its own entry moves
    want = torch.zeros(2, 5)
    want[:, male] = torch.tensor([-0.7 - 0.4, 0.7 + 0.4])  # on -> off, off -> on
    assert torch.allclose(G.codes[male], want)

    G = Recorder()
    grid = sample_grid(G, x, SRC, NAMES, coding)
    assert grid.shape == (2 + 2 * 6, 2 + (2 + len(NAMES)) * 6, 3)  # 2 rows of 4 px + 2 pad
    assert torch.equal(G.codes[0], torch.zeros(2, 5))  # the reconstruction: a zero difference
    assert torch.allclose(G.codes[1 + male], want)


def test_sample_grid_of_a_masked_generator_adds_the_mask_rows():
    coding = Coding("diff", thres_int=0.4, test_int=0.7)
    G, x = Recorder(mask=True), torch.zeros(2, 3, 4, 4)
    grid = sample_grid(G, x, SRC, NAMES, coding)
    assert grid.shape[0] == 2 + 4 * 6  # each image row followed by its mask row
    assert len(G.mask_codes) == 1 + len(NAMES)
    for code, mask_code in zip(G.codes, G.mask_codes, strict=True):
        assert torch.equal(code, mask_code)  # each mask is that of the column's own edit
    tile = grid[8:12, 8:12]  # the first mask row, reconstruction column (tiles 4 + pad 2)
    assert np.all(tile == round((0.25 * 2 - 1 + 1) * 127.5))  # mask 0.25 as grey
