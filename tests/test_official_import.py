"""``stgan import-official``: the tensor-bundle reader, the variable mapping, the CLI.

The fixture (tests/fixtures/official_tiny/, written by scripts/make_official_fixture.py) holds
tiny checkpoints in the official naming scheme. The imported PyTorch models are checked
against an independent NumPy forward pass written here from the official models.py: NHWC
tensors, TF kernel layouts as stored, TF 'SAME' padding computed from its definition.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from stgan import checkpoint, config, official, tfcheckpoint
from stgan.cli import main
from stgan.errors import UserError
from stgan.judge import Judge
from stgan.models import build_discriminator, build_generator

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "official_tiny"
GAN_DIR = FIXTURE / "stgan" / "checkpoints"
JUDGE_CKPT = FIXTURE / "classifier" / "tiny.ckpt"


def _script():
    spec = importlib.util.spec_from_file_location(
        "make_official_fixture", ROOT / "scripts" / "make_official_fixture.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


MAKE = _script()


# --- the reader --------------------------------------------------------------------------------
def test_crc32c_known_value_and_fast_equals_slow():
    assert tfcheckpoint.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert tfcheckpoint.crc32c(b"") == 0
    rng = np.random.default_rng(0)
    for n in (1, 3, 4, 7, 64, 1000, 5000):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert tfcheckpoint.crc32c(data, block=256) == tfcheckpoint.crc32c_slow(data)


def test_round_trip_many_keys_and_dtypes(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {f"scope/Conv_{i}/weights": rng.normal(size=(3, 2, i % 3 + 1)) for i in range(40)}
    tensors = {k: v.astype(np.float32) for k, v in tensors.items()}
    tensors["counter/counter"] = np.array(123456789012, np.int64)
    tensors["half"] = rng.normal(size=(5,)).astype(np.float16)
    tensors["ints"] = np.arange(6, dtype=np.int32).reshape(2, 3)
    tfcheckpoint.write_bundle(tmp_path / "m.ckpt", tensors)
    b = tfcheckpoint.Bundle(tmp_path / "m.ckpt")
    assert b.names() == sorted(tensors)
    for k, v in tensors.items():
        got = b.read(k)
        assert got.dtype == v.dtype and got.shape == v.shape and np.array_equal(got, v)


def _block(entries: list[tuple[bytes, bytes]]) -> bytes:
    """A LevelDB block by hand: every entry a restart point (shared = 0), no compression."""
    body = b""
    offsets = []
    for key, value in entries:
        offsets.append(len(body))
        body += bytes([0, len(key), len(value)]) + key + value  # varints < 128: one byte each
    body += b"".join(struct.pack("<I", o) for o in offsets) + struct.pack("<I", len(offsets))
    crc = tfcheckpoint.mask_crc(tfcheckpoint.crc32c(body + b"\0"))
    return body + b"\0" + struct.pack("<I", crc)


def test_reads_an_index_assembled_byte_by_byte(tmp_path):
    # BundleHeaderProto {num_shards: 1, version {producer: 1}}; BundleEntryProto {dtype: 1
    # (float), shape {dim {size: 2}}, size: 8, crc32c: masked} for the variable "a/w"
    raw = np.array([1.5, -2.0], "<f4").tobytes()
    crc = tfcheckpoint.mask_crc(tfcheckpoint.crc32c(raw))
    entry = (
        b"\x08\x01" + b"\x12\x04\x12\x02\x08\x02" + b"\x28\x08" + b"\x35" + struct.pack("<I", crc)
    )
    data = _block([(b"", b"\x08\x01\x1a\x02\x08\x01"), (b"a/w", entry)])
    meta = _block([])
    index = _block([(b"a/w", bytes([0, len(data) - 5]))])  # BlockHandle(offset 0, size)
    handles = bytes([len(data), len(meta) - 5, len(data) + len(meta), len(index) - 5])
    footer = handles.ljust(40, b"\0") + struct.pack("<Q", 0xDB4775248B80FB57)
    (tmp_path / "x.ckpt.index").write_bytes(data + meta + index + footer)
    (tmp_path / "x.ckpt.data-00000-of-00001").write_bytes(raw)
    b = tfcheckpoint.Bundle(tmp_path)  # a folder with one index
    assert b.names() == ["a/w"] and b.shape("a/w") == (2,)
    assert b.read("a/w").tolist() == [1.5, -2.0]


def test_corrupt_files_are_one_line_errors(tmp_path):
    tfcheckpoint.write_bundle(tmp_path / "m.ckpt", {"w": np.ones(4, np.float32)})
    data = tmp_path / "m.ckpt.data-00000-of-00001"
    data.write_bytes(b"\1" + data.read_bytes()[1:])  # 1.0f is 00 00 80 3f
    with pytest.raises(UserError, match="variable w .* fails its checksum"):
        tfcheckpoint.Bundle(tmp_path / "m.ckpt").read("w")
    data.write_bytes(data.read_bytes()[:8])
    with pytest.raises(UserError, match="truncated"):
        tfcheckpoint.Bundle(tmp_path / "m.ckpt").read("w")
    index = tmp_path / "m.ckpt.index"
    index.write_bytes(index.read_bytes()[:-3])
    with pytest.raises(UserError, match="not a readable TensorFlow checkpoint index"):
        tfcheckpoint.Bundle(tmp_path / "m.ckpt")
    with pytest.raises(UserError, match="no TensorFlow checkpoint"):
        tfcheckpoint.Bundle(tmp_path / "nothing.ckpt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no TensorFlow checkpoint"):
        tfcheckpoint.Bundle(tmp_path / "empty")


def test_checkpoint_file_with_a_foreign_absolute_path(tmp_path):
    tfcheckpoint.write_bundle(tmp_path / "a.ckpt", {"w": np.ones(1, np.float32)})
    tfcheckpoint.write_bundle(tmp_path / "b.ckpt", {"w": np.ones(1, np.float32)})
    with pytest.raises(UserError, match="2 checkpoints"):
        tfcheckpoint.resolve_prefix(tmp_path)
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "/home/someone/out/b.ckpt"\n')
    assert tfcheckpoint.resolve_prefix(tmp_path) == tmp_path / "b.ckpt"


# --- an independent forward pass of the official graph (NumPy, NHWC) ---------------------------
def _same(n: int, k: int, s: int) -> tuple[int, int]:
    """TF 'SAME' padding of one axis: out = ceil(n/s), total = max((out−1)·s + k − n, 0)."""
    total = max((-(-n // s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def np_conv(x, w, s=1):
    """tf.nn.conv2d(x, w, strides=s, padding='SAME'); x (B, H, W, I), w (k, k, I, O)."""
    k, (b, h, wd, _) = w.shape[0], x.shape
    (t, bo), (le, r) = _same(h, k, s), _same(wd, k, s)
    xp = np.pad(x, ((0, 0), (t, bo), (le, r), (0, 0)))
    ho, wo = -(-h // s), -(-wd // s)
    out = np.zeros((b, ho, wo, w.shape[3]))
    for i in range(k):
        for j in range(k):
            out += xp[:, i : i + s * ho : s, j : j + s * wo : s, :] @ w[i, j]
    return out


def np_deconv(x, w, s=2):
    """tf.nn.conv2d_transpose to (H·s, W·s), 'SAME': the adjoint of np_conv; w (k, k, O, I)."""
    k, (b, h, wd, _) = w.shape[0], x.shape
    ho, wo = h * s, wd * s
    full = np.zeros((b, (h - 1) * s + k, (wd - 1) * s + k, w.shape[2]))
    for i in range(k):
        for j in range(k):
            full[:, i : i + s * (h - 1) + 1 : s, j : j + s * (wd - 1) + 1 : s] += x @ w[i, j].T
    t, le = _same(ho, k, s)[0], _same(wo, k, s)[0]
    return full[:, t : t + ho, le : le + wo]


def np_bicubic_tf1(x, size):
    """tf.image.resize_bicubic (TF1: align_corners=False, legacy coordinates src = dst·in/out,
    Keys a = −0.75, edge-clamped taps); x (B, H, W, C), square."""
    n = x.shape[1]

    def kern(t):
        t, a = abs(t), -0.75
        if t <= 1:
            return (a + 2) * t**3 - (a + 3) * t**2 + 1
        return a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a if t < 2 else 0.0

    m = np.zeros((size, n))
    for o in range(size):
        src = o * n / size
        base = int(np.floor(src))
        for d in (-1, 0, 1, 2):
            m[o, min(max(base + d, 0), n - 1)] += kern(src - (base + d))
    return np.einsum("oh,bhwc,pw->bopc", m, x, m)


def np_bn(v, scope, x, eps=1e-3):
    g, b = v[f"{scope}/BatchNorm/gamma"], v[f"{scope}/BatchNorm/beta"]
    m, var = v[f"{scope}/BatchNorm/moving_mean"], v[f"{scope}/BatchNorm/moving_variance"]
    return (x - m) / np.sqrt(var + eps) * g + b


def np_in(v, scope, x, eps=1e-6):
    m, var = x.mean(axis=(1, 2), keepdims=True), x.var(axis=(1, 2), keepdims=True)
    return (x - m) / np.sqrt(var + eps) * v[f"{scope}/InstanceNorm/gamma"] + v[
        f"{scope}/InstanceNorm/beta"
    ]


def lrelu(x):
    return np.where(x > 0, x, 0.2 * x)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def tile(z, a):
    return np.concatenate([z, np.broadcast_to(a[:, None, None, :], (*z.shape[:3], a.shape[1]))], 3)


def official_generator(v, s, x, a):
    """models.py Genc → Gstu → Gdec, inference mode (BN moving statistics)."""
    sc, zs, z = MAKE.Scope("Genc"), [], x
    for i in range(s["enc_layers"]):
        if 0 < i < s["multi_inputs"]:
            z = np.concatenate([z, np_bicubic_tf1(x, x.shape[1] // 2**i)], 3)
        name = sc.next("Conv")
        z = lrelu(np_bn(v, name, np_conv(z, v[f"{name}/weights"], 2)))
        zs.append(z)
    if s["use_stu"]:
        sc, n, out = MAKE.Scope("Gstu"), s["stu_layers"], {}
        state = tile(zs[-1], a)

        def gate(inp, act):
            name = sc.next("Conv")
            h = np_conv(inp, v[f"{name}/weights"])
            norm = s["stu_norm"]
            h = (
                h + v[f"{name}/biases"]
                if norm == "none"
                else (np_bn if norm == "bn" else np_in)(v, name, h)
            )
            return act(h)

        for i in range(n):
            feat = zs[n - 1 - i]
            name = sc.next("Conv2d_transpose")
            st_ = np_deconv(state, v[f"{name}/weights"]) + v[f"{name}/biases"]
            r = gate(np.concatenate([feat, st_], 3), sigmoid)
            u = gate(np.concatenate([feat, st_], 3), sigmoid)
            new_state = r * st_
            info = gate(np.concatenate([feat, new_state], 3), np.tanh)
            out[n - 1 - i] = (1 - u) * st_ + u * info
            passed = {"stu": new_state, "gru": out[n - 1 - i], "direct": st_}[s["stu_state"]]
            state = tile(passed, a) if s["stu_inject_layers"] > i else passed
        zs = [out[j] for j in range(n)] + [zs[-1]]
    sc, L = MAKE.Scope("Gdec"), s["dec_layers"]
    z = tile(zs[-1], a)
    for i in range(L):
        name = sc.next("Conv2d_transpose")
        if i < L - 1:
            z = np.maximum(np_bn(v, name, np_deconv(z, v[f"{name}/weights"])), 0)
            if min(s["shortcut_layers"], L - 1) > i:
                z = np.concatenate([z, zs[L - 2 - i]], 3)
            if min(s["inject_layers"], L - 1) > i:
                z = tile(z, a)
        elif s["one_more_conv"]:
            z = np.maximum(np_bn(v, name, np_deconv(z, v[f"{name}/weights"])), 0)
            name = sc.next("Conv2d_transpose")
            z = np.tanh(np_deconv(z, v[f"{name}/weights"], 1) + v[f"{name}/biases"])
        else:
            z = np.tanh(np_deconv(z, v[f"{name}/weights"]) + v[f"{name}/biases"])
    return z


def np_fc(v, scope, y):
    name = f"{scope}/fully_connected"
    return y.reshape(len(y), -1) @ v[f"{name}/weights"] + v[f"{name}/biases"]  # NHWC flatten


def official_discriminator(v, s, x):
    sc, y = MAKE.Scope("D"), x
    for _ in range(s["dis_layers"]):
        name = sc.next("Conv")
        y = lrelu(np_in(v, name, np_conv(y, v[f"{name}/weights"], 2)))
    fc = [sc.next("flatten_fully_connected") for _ in range(4)]  # gan, gan, att, att
    gan = np_fc(v, fc[1], lrelu(np_fc(v, fc[0], y)))
    att = np_fc(v, fc[3], lrelu(np_fc(v, fc[2], y)))
    return gan[:, 0], att


def official_classifier(v, x):
    sc, y = MAKE.Scope("classifier"), x
    for _ in range(5):
        for _ in range(2):
            name = sc.next("Conv")
            y = np.maximum(np_bn(v, name, np_conv(y, v[f"{name}/weights"]), eps=1e-5), 0)
        b, h, w, c = y.shape
        y = y.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))  # max_pool2d 2, 2, VALID
    hid = np.maximum(np_fc(v, sc.next("flatten_fully_connected"), y), 0)
    return np_fc(v, sc.next("flatten_fully_connected"), hid)


def _values(prefix) -> dict[str, np.ndarray]:
    b = tfcheckpoint.Bundle(prefix)
    return {n: b.read(n).astype(np.float64) for n in b.names() if b.entries[n].dtype == 1}


def _inputs(img: int, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (2, img, img, 3))
    a = rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], size=(2, n))
    return x, a


def _torch(x):
    return torch.from_numpy(x.transpose(0, 3, 1, 2).copy())  # float64, as the reference


def _load_run(run: Path):
    ck = checkpoint.load(run)
    cfg = config.from_dict(ck["config"])
    n = len(ck["attr_names"])
    G, D = build_generator(cfg.model, n), build_discriminator(cfg.model, n)
    G.load_state_dict(ck["G"])
    D.load_state_dict(ck["D"])
    return ck, cfg, G.double().eval(), D.double().eval()


def _import(tmp_path: Path, *extra: str) -> Path:
    out = tmp_path / "run"
    assert main(["import-official", "--ckpt", str(GAN_DIR), "--out", str(out), *extra]) == 0
    return out


# --- the generator and discriminator -----------------------------------------------------------
def test_import_matches_the_official_forward_pass(tmp_path):
    ck, cfg, G, D = _load_run(_import(tmp_path))
    s = MAKE.SETTINGS
    assert ck["step"] == MAKE.STEP and tuple(ck["attr_names"]) == tuple(s["atts"])
    m = cfg.model
    assert (m.img_size, m.enc_layers, m.dis_layers, m.stu_dim, m.shortcut_layers) == (
        32,
        3,
        3,
        6,
        2,
    )
    assert cfg.recipe == "paper"
    v = _values(GAN_DIR / "Epoch_(1)_(3of3).ckpt")
    x, a = _inputs(32, len(s["atts"]))
    with torch.no_grad():
        y = G(_torch(x), torch.from_numpy(a)).numpy().transpose(0, 2, 3, 1)
        adv, att = D(_torch(x))
    want = official_generator(v, s, x, a)
    assert np.abs(want).mean() > 0.05  # a real output, not a saturated or empty one
    np.testing.assert_allclose(y, want, rtol=0, atol=1e-9)
    g_adv, g_att = official_discriminator(v, s, x)
    assert np.abs(g_att).std() > 0.1
    np.testing.assert_allclose(adv.numpy(), g_adv, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(att.numpy(), g_att, rtol=1e-9, atol=1e-9)


VARIANTS = {
    "stu_norm_bn": dict(stu_norm="bn"),
    "stu_norm_in": dict(stu_norm="in", stu_state="gru"),
    "one_more_conv": dict(one_more_conv=3, dec_dim=8, stu_dim=8, enc_dim=8),
    "multi_inputs": dict(multi_inputs=3, stu_inject_layers=0, stu_state="direct"),
    "unused_stu_cell": dict(shortcut_layers=1),  # the official code still builds 2 STU cells
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_official_options_import_exactly(tmp_path, name):
    s = {**MAKE.SETTINGS, **VARIANTS[name]}
    run = tmp_path / "official" / "checkpoints"
    run.mkdir(parents=True)
    (run.parent / "setting.txt").write_text(json.dumps(s))
    v32 = MAKE.random_values(MAKE.official_variables(s), seed=3)
    tfcheckpoint.write_bundle(run / "m.ckpt", v32)
    out = tmp_path / "run"
    assert main(["import-official", "--ckpt", str(run / "m.ckpt"), "--out", str(out)]) == 0
    _, cfg, G, D = _load_run(out)
    v = {k: np.asarray(t, np.float64) for k, t in v32.items() if t.dtype == np.float32}
    x, a = _inputs(32, len(s["atts"]), seed=1)
    with torch.no_grad():
        y = G(_torch(x), torch.from_numpy(a)).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(y, official_generator(v, s, x, a), rtol=0, atol=1e-9)


def test_tf_same_padding_equals_the_projects_for_these_layers():
    # the premise of the import: TF pads a 4×4 stride-2 convolution of an even side by 1 on
    # each side (PyTorch padding=1), and k×k stride-1 ones by (k−1)/2 on each side
    for n in (4, 8, 32, 128, 384):
        assert _same(n, 4, 2) == (1, 1)
    assert _same(7, 3, 1) == (1, 1) and _same(7, 1, 1) == (0, 0)
    assert _same(9, 4, 2) == (1, 2)  # odd sides would differ (config keeps sides even)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("extra", "has variable Gdec/Extra/weights, which the configured model has no place"),
        ("missing", "lacks variable D/Conv_1/InstanceNorm/gamma"),
        (
            "shape",
            r"Gstu/Conv_2/weights has shape \(3, 3, 20, 11\), the configured model needs "
            r"\(3, 3, 20, 12\)",
        ),
    ],
)
def test_mismatches_are_refused_naming_the_variable(tmp_path, capsys, edit, message):
    v = MAKE.random_values(MAKE.official_variables(MAKE.SETTINGS), seed=0)
    if edit == "extra":
        v["Gdec/Extra/weights"] = np.zeros((1, 1), np.float32)
    elif edit == "missing":
        del v["D/Conv_1/InstanceNorm/gamma"]
    else:
        v["Gstu/Conv_2/weights"] = np.zeros((3, 3, 20, 11), np.float32)
    ck = tmp_path / "in"
    ck.mkdir()
    shutil.copy(FIXTURE / "stgan" / "setting.txt", ck / "setting.txt")
    tfcheckpoint.write_bundle(ck / "m.ckpt", v)
    out = tmp_path / "run"
    assert main(["import-official", "--ckpt", str(ck), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert __import__("re").search(message, err), err
    assert not out.exists() or not any(out.rglob("*"))  # nothing half-written


def test_wrong_options_name_the_first_variable(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["import-official", "--ckpt", str(GAN_DIR), "--out", str(out), "--set",
                 "model.dis_fc_dim=16"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "D/flatten_fully_connected/fully_connected/weights has shape (256, 8)" in err
    assert "needs (256, 16)" in err and not out.exists()


def test_existing_outputs_need_overwrite(tmp_path, capsys):
    run = _import(tmp_path)
    assert main(["import-official", "--ckpt", str(GAN_DIR), "--out", str(run)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["import-official", "--ckpt", str(GAN_DIR), "--out", str(run), "--overwrite"]) == 0


def test_imported_run_edits(tmp_path):
    from PIL import Image

    run = _import(tmp_path)
    img = tmp_path / "face.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), np.uint8)).save(img)
    out = tmp_path / "edited.png"
    code = main(["edit", "--checkpoint", str(run), "--image", str(img), "--crop", "none",
                 "--source", "Bald=0,Eyeglasses=0,Young=1", "--set", "Eyeglasses=1",
                 "--out", str(out), "--quiet"])  # fmt: skip
    assert code == 0 and Image.open(out).size == (32, 32)


def test_settings_with_impossible_stu_layers_are_refused(tmp_path):
    p = tmp_path / "setting.txt"
    p.write_text(json.dumps({**MAKE.SETTINGS, "stu_layers": 1}))
    with pytest.raises(UserError, match="stu_layers = 1 is not enc_layers - 1"):
        official.settings_overrides(p)


# --- the judge ---------------------------------------------------------------------------------
def test_classifier_import_matches_the_official_forward_pass(tmp_path):
    out = tmp_path / "judge"
    assert (
        main(["import-official", "--classifier", "--ckpt", str(JUDGE_CKPT), "--out", str(out)]) == 0
    )
    judge = Judge.from_file(out)
    assert judge.img_size == 64 and len(judge.attr_names) == 40 and judge.attr_names[-1] == "Young"
    v = _values(JUDGE_CKPT)
    x, _ = _inputs(64, 1)
    with torch.no_grad():
        logits = judge.model.double()(_torch(x)).numpy()
    want = official_classifier(v, x)
    assert np.abs(want).std() > 0.1
    np.testing.assert_allclose(logits, want, rtol=1e-9, atol=1e-9)


def test_classifier_needs_names_for_other_output_counts(tmp_path, capsys):
    out = tmp_path / "judge"
    code = main(["import-official", "--classifier", "--ckpt", str(JUDGE_CKPT), "--out", str(out),
                 "--attrs", "Bald,Young"])  # fmt: skip
    assert code == 2 and "has 40 outputs" in capsys.readouterr().err and not out.exists()
    code = main(["import-official", "--classifier", "--ckpt", str(GAN_DIR), "--out", str(out)])
    assert code == 2 and "not an official attribute classifier" in capsys.readouterr().err


def test_fixture_is_small_and_reproducible(tmp_path, monkeypatch):
    assert sum(f.stat().st_size for f in FIXTURE.rglob("*") if f.is_file()) < 1_000_000
    monkeypatch.setattr(MAKE, "OUT", tmp_path)
    MAKE.main()
    for f in FIXTURE.rglob("*"):
        if f.is_file():
            assert (tmp_path / f.relative_to(FIXTURE)).read_bytes() == f.read_bytes(), f


OFFICIAL_DEFAULTS = {  # the official train.py defaults (the released 128 px model)
    "atts": list(config.DEFAULT_ATTRS),
    **{k: v for k, v in MAKE.SETTINGS.items() if k not in ("atts",)},
    "img_size": 128,
    "shortcut_layers": 4,
    "inject_layers": 4,
    "enc_dim": 64,
    "dec_dim": 64,
    "dis_dim": 64,
    "dis_fc_dim": 1024,
    "enc_layers": 5,
    "dec_layers": 5,
    "dis_layers": 5,
    "stu_dim": 64,
    "stu_layers": 4,
    "stu_inject_layers": 4,
}
# the README's 384 px command: --img_size 384 --enc_dim 48 --dec_dim 48 --dis_dim 48
# --dis_fc_dim 512 (stu_dim stays 64: STU widths differ from the encoder's)
HD = {**OFFICIAL_DEFAULTS, "img_size": 384, "enc_dim": 48, "dec_dim": 48, "dis_dim": 48,
      "dis_fc_dim": 512}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("settings", [OFFICIAL_DEFAULTS, HD], ids=["128", "384"])
def test_full_size_official_models_map_by_name_and_shape(tmp_path, settings):
    path = tmp_path / "setting.txt"
    path.write_text(json.dumps(settings))
    cfg = config.apply(config.load("celeba128", recipe="paper"), official.settings_overrides(path))
    config.validate(cfg)
    n = len(cfg.data.attrs)
    G, D = build_generator(cfg.model, n), build_discriminator(cfg.model, n)
    states = {"G": G.state_dict(), "D": D.state_dict()}
    params = official.generator_params(G) + official.discriminator_params(D)
    mapped = {
        p.tf_name: official.tf_shape(p, states[p.key[0]][p.key.split(".", 1)[1]].shape)
        for p in params
    }
    assert mapped == MAKE.official_variables(settings)
    if settings is OFFICIAL_DEFAULTS:  # the paper's counts (tests/models), from the TF side
        trainable = {k: s for k, s in mapped.items() if "moving_" not in k}
        g = sum(int(np.prod(s)) for k, s in trainable.items() if k.startswith("G"))
        d = sum(int(np.prod(s)) for k, s in trainable.items() if k.startswith("D/"))
        assert (g, d) == (74_998_771, 44_718_990)
