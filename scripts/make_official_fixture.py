"""Write tests/fixtures/official_tiny/: tiny checkpoints in the official STGAN naming scheme.

The variable names and TF shapes are enumerated here from the official construction order
(csmliu/STGAN models.py: TF-slim default scopes Conv, Conv_1, ... and Conv2d_transpose, ...
per variable scope; att_classification/models.py for the judge), independently of
``stgan.official``, so that the tests check that module against a second description.

    .venv/bin/python scripts/make_official_fixture.py        # rewrites the fixture

Layout (as the official train.py writes it: output/NAME/setting.txt + checkpoints/):

    official_tiny/stgan/setting.txt
    official_tiny/stgan/checkpoints/checkpoint
    official_tiny/stgan/checkpoints/Epoch_(1)_(3of3).ckpt.{index,data-00000-of-00001}
    official_tiny/classifier/tiny.ckpt.{index,data-00000-of-00001}
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from stgan.tfcheckpoint import write_bundle  # noqa: E402

OUT = ROOT / "tests" / "fixtures" / "official_tiny"
MAX_DIM = 1024

#: The tiny official run: train.py options (setting.txt), 32 px, 3 attributes.
SETTINGS = {
    "atts": ["Bald", "Eyeglasses", "Young"],
    "img_size": 32,
    "shortcut_layers": 2,
    "inject_layers": 2,
    "enc_dim": 4,
    "dec_dim": 4,
    "dis_dim": 4,
    "dis_fc_dim": 8,
    "enc_layers": 3,
    "dec_layers": 3,
    "dis_layers": 3,
    "label": "diff",
    "use_stu": True,
    "stu_dim": 6,  # ≠ enc_dim: STU widths 12, 6 against features 8, 4
    "stu_layers": 2,
    "stu_inject_layers": 2,
    "stu_kernel_size": 3,
    "stu_norm": "none",
    "stu_state": "stu",
    "multi_inputs": 1,
    "rec_loss_weight": 100.0,
    "one_more_conv": 0,
    "mode": "wgan",
    "epoch": 2,
    "init_epoch": 1,
    "batch_size": 4,
    "lr": 0.0002,
    "n_d": 5,
    "thres_int": 0.5,
    "test_int": 1.0,
}
STEP = 6  # counter/counter


class Scope:
    """TF-slim's default layer names inside one variable scope."""

    def __init__(self, name: str):
        self.name, self.count = name, {}

    def next(self, base: str) -> str:
        i = self.count.get(base, 0)
        self.count[base] = i + 1
        return f"{self.name}/{base}" + (f"_{i}" if i else "")


def _bn(layer: str, c: int) -> dict[str, tuple]:
    return {
        f"{layer}/BatchNorm/{v}": (c,) for v in ("beta", "gamma", "moving_mean", "moving_variance")
    }


def _in(layer: str, c: int) -> dict[str, tuple]:
    return {f"{layer}/InstanceNorm/beta": (c,), f"{layer}/InstanceNorm/gamma": (c,)}


def _norm(kind: str, layer: str, c: int) -> dict[str, tuple]:
    return {"bn": _bn, "in": _in}[kind](layer, c) if kind != "none" else {f"{layer}/biases": (c,)}


def official_variables(s: dict) -> dict[str, tuple]:
    """Every model variable (name → TF shape) of the official graph for settings ``s``."""
    n_att = len(s["atts"])
    v: dict[str, tuple] = {}
    # Genc: conv_bn_lrelu(z, d, 4, 2), the subsampled image concatenated for 0 < i < multi_inputs
    sc, c_in, zs = Scope("Genc"), 3, []
    for i in range(s["enc_layers"]):
        d = min(s["enc_dim"] * 2**i, MAX_DIM)
        if 0 < i < s["multi_inputs"]:
            c_in += 3
        name = sc.next("Conv")
        v[f"{name}/weights"] = (4, 4, c_in, d)
        v.update(_bn(name, d))
        zs.append(d)
        c_in = d
    # Gstu: per cell, dconv(state, d, 4, 2) with biases, then gates: conv(k) ×3
    sc, stu_out = Scope("Gstu"), {}
    n, k = s["stu_layers"], s["stu_kernel_size"]
    c_state = zs[-1] + n_att  # the first state always carries the code
    for i in range(n):
        d = min(s["stu_dim"] * 2 ** (n - 1 - i), MAX_DIM)
        c_feat = zs[n - 1 - i]
        name = sc.next("Conv2d_transpose")
        v[f"{name}/weights"] = (4, 4, d, c_state)
        v[f"{name}/biases"] = (d,)
        for _ in range(3):
            name = sc.next("Conv")
            v[f"{name}/weights"] = (k, k, c_feat + d, d)
            v.update(_norm(s["stu_norm"], name, d))
        stu_out[n - 1 - i] = d
        c_state = d + (n_att if s["stu_inject_layers"] > i else 0)
    skips = [stu_out[j] for j in range(n)] + [zs[-1]] if s["use_stu"] else zs
    # Gdec
    sc, L = Scope("Gdec"), s["dec_layers"]
    short, inj = min(s["shortcut_layers"], L - 1), min(s["inject_layers"], L - 1)
    c = zs[-1] + n_att
    for i in range(L):
        if i < L - 1:
            d = min(s["dec_dim"] * 2 ** (L - 1 - i), MAX_DIM)
            name = sc.next("Conv2d_transpose")
            v[f"{name}/weights"] = (4, 4, d, c)
            v.update(_bn(name, d))
            c = d + (skips[L - 2 - i] if short > i else 0) + (n_att if inj > i else 0)
        elif s["one_more_conv"]:
            name = sc.next("Conv2d_transpose")
            v[f"{name}/weights"] = (4, 4, s["dec_dim"] // 4, c)
            v.update(_bn(name, s["dec_dim"] // 4))
            name = sc.next("Conv2d_transpose")
            k2 = s["one_more_conv"]
            v[f"{name}/weights"] = (k2, k2, 3, s["dec_dim"] // 4)
            v[f"{name}/biases"] = (3,)
        else:
            name = sc.next("Conv2d_transpose")
            v[f"{name}/weights"] = (4, 4, 3, c)
            v[f"{name}/biases"] = (3,)
    # D: conv_in_lrelu ×n, then fc(fc_dim), fc(1), fc(fc_dim), fc(n_att)
    sc, c = Scope("D"), 3
    for i in range(s["dis_layers"]):
        d = min(s["dis_dim"] * 2**i, MAX_DIM)
        name = sc.next("Conv")
        v[f"{name}/weights"] = (4, 4, c, d)
        v.update(_in(name, d))
        c = d
    side = s["img_size"] // 2 ** s["dis_layers"]
    flat = c * side * side
    fc = s["dis_fc_dim"]
    for f_in, f_out in ((flat, fc), (fc, 1), (flat, fc), (fc, n_att)):  # gan, gan, att, att
        name = sc.next("flatten_fully_connected") + "/fully_connected"
        v[f"{name}/weights"] = (f_in, f_out)
        v[f"{name}/biases"] = (f_out,)
    return v


def classifier_variables(dim: int = 2, att_dim: int = 40, img_size: int = 64) -> dict:
    """att_classification/models.py: conv_bn_relu ×2 + pool per block (dim/2 … dim·8), fc."""
    sc, v, c = Scope("classifier"), {}, 3
    for mult in (0.5, 1, 2, 4, 8):
        d = int(dim * mult)
        for _ in range(2):
            name = sc.next("Conv")
            v[f"{name}/weights"] = (3, 3, c, d)
            v.update(_bn(name, d))
            c = d
    side = img_size // 32
    for f_in, f_out in ((c * side * side, dim * 16), (dim * 16, att_dim)):
        name = sc.next("flatten_fully_connected") + "/fully_connected"
        v[f"{name}/weights"] = (f_in, f_out)
        v[f"{name}/biases"] = (f_out,)
    return v


def random_values(variables: dict[str, tuple], seed: int) -> dict[str, np.ndarray]:
    """Values for every variable (BN variances positive), Adam slots and the bookkeeping."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in variables.items():
        if name.endswith(("moving_variance", "gamma")):
            val = rng.uniform(0.5, 1.5, shape)
        else:
            val = rng.normal(0.0, 0.3, shape)
        out[name] = val.astype(np.float32)
        out[f"{name}/Adam"] = np.zeros(shape, np.float32)
        out[f"{name}/Adam_1"] = np.zeros(shape, np.float32)
    for b in ("beta1_power", "beta2_power", "beta1_power_1", "beta2_power_1"):
        out[b] = np.array(0.9, np.float32)
    out["counter/counter"] = np.array(STEP, np.int64)
    return out


def main() -> None:
    run = OUT / "stgan"
    ckpts = run / "checkpoints"
    ckpts.mkdir(parents=True, exist_ok=True)
    (run / "setting.txt").write_text(json.dumps(SETTINGS, indent=4) + "\n")
    name = "Epoch_(1)_(3of3).ckpt"
    write_bundle(ckpts / name, random_values(official_variables(SETTINGS), seed=0))
    (ckpts / "checkpoint").write_text(
        f'model_checkpoint_path: "{name}"\nall_model_checkpoint_paths: "{name}"\n'
    )
    judge = OUT / "classifier"
    judge.mkdir(parents=True, exist_ok=True)
    write_bundle(judge / "tiny.ckpt", random_values(classifier_variables(), seed=1))
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"wrote {OUT} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
