"""The official test modes of stgan.editing (test.py of csmliu/STGAN): *slide* and *multi*.

Each expected tensor is written out by hand from the rules: slide sets one attribute's
encoded target to t and applies no conflict rule; multi flips each listed attribute in turn,
applying its conflict rules, and encodes the row at ±thres_int × t_int."""

import pytest
import torch

from stgan.attributes import Coding
from stgan.editing import flip_targets, slide_targets, slide_values

NAMES = ("Bald", "Bangs", "Black_Hair", "Blond_Hair", "Male")
# row 0: Bangs, Black_Hair, Male on; row 1: Bald, Blond_Hair on
SRC = torch.tensor([[0.0, 1.0, 1.0, 0.0, 1.0], [1.0, 0.0, 0.0, 1.0, 0.0]])


def test_slide_values_are_evenly_spaced_with_both_ends():
    assert slide_values(5) == pytest.approx([-1.0, -0.5, 0.0, 0.5, 1.0])
    assert slide_values(3, -0.4, 1.2) == pytest.approx([-0.4, 0.4, 1.2])
    assert slide_values(2, 1.0, -1.0) == pytest.approx([1.0, -1.0])  # a reversed range
    with pytest.raises(ValueError, match="at least 2"):
        slide_values(1)


def test_slide_targets_set_one_attribute_and_apply_no_conflict_rule():
    coding = Coding("diff", thres_int=0.5, test_int=1.0)
    blond = NAMES.index("Blond_Hair")
    targets = slide_targets(SRC, blond, [-1.0, 0.25, 1.0], coding)
    assert len(targets) == 3
    # the source row encoded at ±0.5, Blond_Hair replaced by t; Black_Hair of row 0 stays on
    # (+0.5) even at t = 1: sliding a hair colour clears no other colour
    for t, tgt in zip([-1.0, 0.25, 1.0], targets, strict=True):
        want = torch.tensor([[-0.5, 0.5, 0.5, t, 0.5], [0.5, -0.5, -0.5, t, -0.5]])
        assert torch.allclose(tgt, want)
    # the generator's difference code: t − source on Blond_Hair, 0 elsewhere
    code = coding.code(SRC, targets[2])
    assert torch.allclose(code, torch.tensor([[0, 0, 0, 1.5, 0], [0, 0, 0, 0.5, 0.0]]))
    code = coding.code(SRC, targets[0])
    assert torch.allclose(code, torch.tensor([[0, 0, 0, -0.5, 0], [0, 0, 0, -1.5, 0.0]]))


def test_slide_targets_follow_thres_int_and_leave_the_source_alone():
    coding = Coding("target", thres_int=0.4, test_int=0.7)
    src = SRC.clone()
    (tgt,) = slide_targets(src, 0, [0.9], coding)
    assert torch.allclose(
        tgt, torch.tensor([[0.9, 0.4, 0.4, -0.4, 0.4], [0.9, -0.4, -0.4, 0.4, -0.4]])
    )
    assert torch.equal(src, SRC)
    assert torch.allclose(coding.code(src, tgt), tgt)  # the target code is the target itself


def test_flip_targets_flip_in_turn_with_conflicts_at_plus_minus_half():
    coding = Coding("diff", thres_int=0.5, test_int=1.0)  # test_int is not used by multi
    blond, male = NAMES.index("Blond_Hair"), NAMES.index("Male")
    target01, enc = flip_targets(SRC, NAMES, [blond, male], coding)
    # row 0: Blond 0 -> 1 clears Black_Hair; Male 1 -> 0
    # row 1: Blond 1 -> 0 (turning off clears nothing); Male 0 -> 1
    assert target01.tolist() == [[0.0, 1.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0, 1.0]]
    assert torch.allclose(
        enc, torch.tensor([[-0.5, 0.5, -0.5, 0.5, -0.5], [0.5, -0.5, -0.5, -0.5, 0.5]])
    )
    # att_diff ±1 on the flipped attributes (the official default), −1 on the cleared colour
    assert torch.allclose(
        coding.code(SRC, enc), torch.tensor([[0, 0, -1.0, 1, -1], [0, 0, 0, -1, 1]])
    )


def test_flip_targets_order_matters_and_t_ints_scale_the_listed_attributes():
    coding = Coding("diff", thres_int=0.5)
    bald, bangs = NAMES.index("Bald"), NAMES.index("Bangs")
    src = torch.zeros(1, 5)
    # Bangs then Bald: Bald on clears the Bangs just set; Bald then Bangs: the reverse
    t01, _ = flip_targets(src, NAMES, [bangs, bald], coding)
    assert t01.tolist() == [[1.0, 0.0, 0.0, 0.0, 0.0]]
    t01, enc = flip_targets(src, NAMES, [bald, bangs], coding, t_ints=[2.0, 3.0])
    assert t01.tolist() == [[0.0, 1.0, 0.0, 0.0, 0.0]]
    # each listed attribute × its t_int (test.py --test_ints), the others ±thres_int
    assert torch.allclose(enc, torch.tensor([[-1.0, 1.5, -0.5, -0.5, -0.5]]))
    with pytest.raises(ValueError, match="t_ints"):
        flip_targets(src, NAMES, [bald], coding, t_ints=[1.0, 2.0])
