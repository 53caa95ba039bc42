import pytest
import torch

from stgan import attributes as A
from stgan.errors import UserError

N = A.DEFAULT_ATTRS


def row(**on):
    return torch.tensor([[1.0 if n in on else 0.0 for n in N]])


def test_thirteen_names_and_encoding():
    assert len(N) == 13 and N[0] == "Bald" and N[-1] == "Young"
    assert A.encode(torch.tensor([0.0, 1.0])).tolist() == [-0.5, 0.5]


def test_conflicts_when_turning_on():
    src = row(Black_Hair=1, Bangs=1)
    blond = A.flip_attribute(src, N, N.index("Blond_Hair"))
    assert blond[0, N.index("Blond_Hair")] == 1 and blond[0, N.index("Black_Hair")] == 0
    assert blond[0, N.index("Bangs")] == 1  # hair colour does not touch Bangs
    bald = A.flip_attribute(src, N, N.index("Bald"))
    assert bald[0, N.index("Bangs")] == 0 and bald[0, N.index("Black_Hair")] == 1
    bangs = A.flip_attribute(row(Bald=1), N, N.index("Bangs"))
    assert bangs[0, N.index("Bald")] == 0


def test_turning_off_changes_nothing_else():
    src = row(Black_Hair=1, Bangs=1, Male=1)
    off = A.flip_attribute(src, N, N.index("Black_Hair"))
    diff = (off != src).nonzero()[:, 1].tolist()
    assert diff == [N.index("Black_Hair")]


def test_test_strength_gives_diff_of_1_5():
    src = row(Male=1)
    i = N.index("Eyeglasses")
    tgt01 = A.flip_attribute(src, N, i)
    changed = torch.zeros_like(src, dtype=torch.bool)
    changed[:, i] = True
    code = A.generator_code(src, A.encode_target(tgt01, changed), "diff")
    assert code[0, i] == pytest.approx(1.5)
    assert code.abs().sum() == pytest.approx(1.5)  # nothing else changes
    # conflict-cleared attributes keep thres_int: Black -> Blond gives -1.0 on Black_Hair
    src = row(Black_Hair=1)
    j = N.index("Blond_Hair")
    tgt01 = A.flip_attribute(src, N, j)
    changed = torch.zeros_like(src, dtype=torch.bool)
    changed[:, j] = True
    code = A.generator_code(src, A.encode_target(tgt01, changed), "diff")
    assert code[0, j] == pytest.approx(1.5) and code[0, N.index("Black_Hair")] == pytest.approx(-1)
    assert torch.equal(A.generator_code(src, A.encode(src), "target"), A.encode(src))


def test_permute_targets_are_rows_of_the_batch():
    torch.manual_seed(0)
    a = (torch.rand(16, 13) > 0.5).float()
    b = A.permute_targets(a)
    assert sorted(map(tuple, b.tolist())) == sorted(map(tuple, a.tolist()))
    assert not torch.equal(a, b)


def test_unknown_names_list_valid_ones():
    with pytest.raises(UserError, match="unknown attribute Blonde_Hair.*valid names: Bald"):
        A.check_names(["Blonde_Hair"], N)


NAMES = ("Bald", "Bangs", "Black_Hair", "Blond_Hair", "Male")


def test_conflict_matrix_marks_what_turning_on_clears():
    m = A.conflict_matrix(NAMES)
    assert m[0].tolist() == [False, True, False, False, False]  # Bald clears Bangs
    assert m[2].tolist() == [False, False, False, True, False]  # Black clears Blond
    assert not m[4].any()  # Male clears nothing


def test_flip_one_flips_exactly_one_attribute_and_applies_conflicts():
    a = torch.tensor([[0.0, 1.0, 0.0, 1.0, 1.0]] * 400)
    torch.manual_seed(0)
    out = A.flip_one(a, A.conflict_matrix(NAMES))
    for row in out.tolist():
        if row[0] == 1.0:  # Bald turned on: Bangs cleared as well
            assert row == [1.0, 0.0, 0.0, 1.0, 1.0]
        elif row[2] == 1.0:  # Black_Hair turned on: Blond_Hair cleared
            assert row == [0.0, 1.0, 1.0, 0.0, 1.0]
        else:  # a turned-off attribute changes nothing else
            assert sum(x != y for x, y in zip(row, a[0].tolist(), strict=True)) == 1
    # every attribute is drawn (uniformly: 400 rows, 5 attributes → ~80 each)
    first_change = (out != a).float().argmax(1)  # the drawn attribute (conflicts come later)
    counts = torch.bincount(first_change, minlength=5)
    assert counts.min() > 40, counts


def test_training_targets_mix_permutations_and_flips():
    torch.manual_seed(0)
    a = (torch.rand(512, len(NAMES)) < 0.5).float()
    conflict = A.conflict_matrix(NAMES)
    torch.manual_seed(1)
    paper = A.permute_targets(a)
    torch.manual_seed(1)
    assert torch.equal(A.training_targets(a, 0.0, conflict), paper)  # the same draws
    torch.manual_seed(2)
    t = A.training_targets(a, 0.5, conflict)
    one_flip = ((t != a).sum(1) >= 1) & ((t != a).sum(1) <= 2)  # a flip (+ one conflict)
    assert 0.4 < one_flip.float().mean() < 0.8  # half flips, plus permutations that land close
    with pytest.raises(ValueError):
        A.training_targets(a, 0.5)
