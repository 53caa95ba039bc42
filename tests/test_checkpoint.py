import pytest
import torch

from stgan import checkpoint
from stgan.errors import UserError


def payload(step=3):
    G = torch.nn.Linear(2, 2)
    return checkpoint.make_payload(
        step, {"preset": "stgan"}, ["Bald"], G, rng=checkpoint.rng_state()
    )


def test_roundtrip_latest_and_prune(tmp_path):
    for s in (1, 2, 3):
        checkpoint.save(checkpoint.ckpt_path(tmp_path, s), payload(s))
    assert checkpoint.load(tmp_path)["step"] == 3
    checkpoint.prune(tmp_path, 2)
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path)] == [
        "step_00000002.pt",
        "step_00000003.pt",
    ]
    assert not list((tmp_path / "checkpoints").glob("*.tmp"))


def test_errors_are_one_line(tmp_path):
    with pytest.raises(UserError, match="holds no checkpoint"):
        checkpoint.load(tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        checkpoint.load(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(UserError, match="corrupt") as e:
        checkpoint.load(bad)
    assert "\n" not in str(e.value)
    good = tmp_path / "good.pt"
    checkpoint.save(good, payload())
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(good.read_bytes()[:200])
    with pytest.raises(UserError, match="corrupt"):
        checkpoint.load(trunc)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(1)}, other)
    with pytest.raises(UserError, match="not an stgan checkpoint"):
        checkpoint.load(other)


def test_load_state_mismatch_is_a_config_error(tmp_path):
    checkpoint.save(tmp_path / "c.pt", payload())
    ck = checkpoint.load(tmp_path / "c.pt")
    with pytest.raises(UserError, match="does not fit this generator configuration"):
        checkpoint.load_state(torch.nn.Linear(3, 2), ck["G"], "generator", ck["path"])
