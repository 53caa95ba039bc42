"""ONNX export (stgan.export, ``stgan export``): ONNX Runtime against PyTorch, the metadata,
the weights of a checkpoint, the documented NumPy recipe, the command's checks."""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from stgan import checkpoint, ema
from stgan.attributes import Coding
from stgan.cli import main
from stgan.config import load
from stgan.export import (
    META_KEYS,
    OPSET,
    check_onnx,
    export_checkpoint,
    export_onnx,
    read_metadata,
)
from stgan.models import build_generator

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

ATOL = 1e-4  # |ONNX Runtime − PyTorch| on outputs in [−1, 1]; measured ≤ 3e-6
DOC = Path(__file__).resolve().parents[1] / "docs" / "export.md"

CONFIGS = {  # name: (shipped config, preset, recipe, overrides)
    "tiny": ("tiny", None, None, []),  # the fast recipe: resize upsampling
    "tiny-mask": ("tiny", None, None, ["model.mask=true"]),
    "tiny-attgan": ("tiny", "attgan", None, []),  # target code, no STU
    # the official code's other options: instance-normed STUs of their own width, the image
    # fed to 3 encoder layers, a last stride-1 convolution
    "tiny-official": ("tiny", None, "paper", ["model.stu_norm=in", "model.stu_dim=8",
                                              "model.stu_inject_layers=2",
                                              "model.multi_inputs=3", "model.one_more_conv=3"]),
    # the paper's layers (deconv, 5 levels, 4 STUs) at 64 px and width 8
    "paper-64": ("celeba128", None, "paper", ["model.img_size=64", "model.enc_dim=8",
                                              "model.dec_dim=8"]),
}  # fmt: skip


def _cfg(name: str):
    base, preset, recipe, sets = CONFIGS[name]
    return load(base, preset, sets, recipe)


def _randomise_(G: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random weights and BatchNorm statistics far from (0, 1), so that train-mode BatchNorm
    or a mask stuck at its initial bias would show in the outputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in G.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
        for m in G.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return G


def _generator(cfg, n_attrs: int, seed: int = 0):
    return _randomise_(build_generator(cfg.model, n_attrs), seed).eval()


@torch.no_grad()
def _torch_outputs(G, x: np.ndarray, code: np.ndarray):
    x_t, c_t = torch.from_numpy(x), torch.from_numpy(code)
    raw, m = G.decode_raw(G.encode(x_t), c_t)
    out = [G(x_t, c_t).numpy()]
    return out if m is None else [*out, m.numpy()]


def _batch(n: int, n_attrs: int, size: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 3, size, size)).astype(np.float32)
    code = rng.uniform(-1.5, 1.5, (n, n_attrs)).astype(np.float32)
    return x, code


def _opset(path) -> int:
    import onnx

    model = onnx.load(str(path))
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def _max_error(path, G, n_attrs: int, size: int, batches=(1, 3)) -> float:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for n in batches:
        x, code = _batch(n, n_attrs, size, seed=n)
        theirs = session.run(None, {"image": x, "att_diff": code})
        ours = _torch_outputs(G, x, code)
        assert len(theirs) == len(ours)
        for t, o in zip(theirs, ours, strict=True):
            assert t.shape == o.shape
            worst = max(worst, float(np.abs(t - o).max()))
    return worst


@pytest.mark.parametrize(
    "name",
    [
        "tiny",
        "tiny-mask",
        "tiny-attgan",
        "tiny-official",
        pytest.param("paper-64", marks=pytest.mark.slow),
    ],
)
def test_onnx_runtime_matches_pytorch(tmp_path, name):
    cfg = _cfg(name)
    n, size = 5, cfg.model.img_size
    G = _generator(cfg, n)
    r = export_onnx(G, n, size, tmp_path / "g.onnx")
    assert r.max_abs_error is not None and r.max_abs_error < ATOL  # the built-in check
    assert _max_error(r.path, G, n, size) < ATOL  # batch 1 and 3 against a batch-2 export

    session = ort.InferenceSession(str(r.path), providers=["CPUExecutionProvider"])
    shapes = {v.name: v.shape for v in (*session.get_inputs(), *session.get_outputs())}
    assert shapes.pop("image") == ["batch", 3, size, size]
    assert shapes.pop("att_diff") == ["batch", n]
    assert shapes.pop("edited") == ["batch", 3, size, size]
    if cfg.model.mask:
        assert shapes.pop("mask") == ["batch", 1, size, size]
    assert shapes == {}
    assert _opset(r.path) == OPSET
    assert r.outputs == (("edited", "mask") if cfg.model.mask else ("edited",))


def test_both_upsamplings_are_covered():
    """The export tests see a ConvTranspose decoder and a Resize one."""
    assert _cfg("tiny").model.upsample == "resize"
    assert _cfg("paper-64").model.upsample == "deconv"
    assert _cfg("tiny-mask").model.mask and _cfg("tiny-attgan").model.label == "target"


def test_exported_in_eval_mode_and_mode_restored(tmp_path):
    cfg = _cfg("tiny")
    G = _generator(cfg, 4).train()
    r = export_onnx(G, 4, cfg.model.img_size, tmp_path / "g.onnx", check=False)
    assert G.training and r.max_abs_error is None
    assert _max_error(r.path, G.eval(), 4, cfg.model.img_size) < ATOL


@pytest.mark.slow
def test_dynamo_exporter(tmp_path):
    """The torch.export-based exporter, for torch versions without the TorchScript one."""
    cfg = _cfg("paper-64")
    G = _generator(cfg, 3)
    r = export_onnx(G, 3, cfg.model.img_size, tmp_path / "g.onnx", dynamo=True)
    assert _max_error(r.path, G, 3, cfg.model.img_size) < ATOL
    assert _opset(r.path) == OPSET


def test_check_measures_the_difference(tmp_path):
    cfg = _cfg("tiny-mask")
    G1, G2 = _generator(cfg, 4, seed=1), _generator(cfg, 4, seed=2)
    data = export_onnx(G1, 4, 32, tmp_path / "g.onnx", check=False).path.read_bytes()
    assert check_onnx(data, G1, 4, 32) < ATOL
    assert check_onnx(data, G2, 4, 32) > 0.01


def test_check_failure_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr("stgan.export.check_onnx", lambda *a, **k: 0.5)
    cfg = _cfg("tiny")
    with pytest.raises(Exception, match="differs from PyTorch by up to 0.5.*not written"):
        export_onnx(_generator(cfg, 4), 4, cfg.model.img_size, tmp_path / "g.onnx")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# checkpoints: the output weights and the metadata
def _save_run(run: Path, cfg="tiny-mask", n_attrs: int | None = None, step=7):
    """A run folder with one checkpoint whose G, G_ema and bn_eval all differ; returns the
    generator its outputs use (G_ema's weights with the bn_eval statistics)."""
    from stgan.attributes import DEFAULT_ATTRS

    cfg = _cfg(cfg) if isinstance(cfg, str) else cfg
    names = DEFAULT_ATTRS[:n_attrs] if n_attrs else DEFAULT_ATTRS
    G, G_ema, bn = (_generator(cfg, len(names), seed) for seed in (1, 2, 3))
    payload = checkpoint.make_payload(step, cfg.to_dict(), names, G)
    payload["G_ema"] = checkpoint.cpu_state(G_ema.state_dict())
    payload["bn_eval"] = ema.bn_state(bn)
    checkpoint.save(checkpoint.ckpt_path(run, step), payload)
    G_ema.load_state_dict({**G_ema.state_dict(), **ema.bn_state(bn)})
    return cfg, names, G_ema, G


def test_checkpoint_exports_its_output_weights(tmp_path):
    cfg, names, G_out, G_raw = _save_run(tmp_path / "run", n_attrs=4)
    r = export_checkpoint(tmp_path / "run", tmp_path / "g.onnx")
    size = cfg.model.img_size
    assert _max_error(r.path, G_out, 4, size) < ATOL
    assert _max_error(r.path, G_raw, 4, size) > 0.01  # not the raw G's weights


def test_metadata_round_trip(tmp_path):
    cfg, names, *_ = _save_run(tmp_path / "run", step=12)
    r = export_checkpoint(tmp_path / "run", tmp_path / "g.onnx", check=False)
    meta = read_metadata(r.path)
    assert set(meta) == set(META_KEYS)
    assert json.loads(meta["attr_names"]) == list(names)
    assert int(meta["img_size"]) == cfg.model.img_size == 32
    assert Coding(meta["label"], float(meta["thres_int"]), float(meta["test_int"])) == (
        Coding.from_config(cfg)
    )
    assert meta["crop"] == cfg.data.image_crop == "none"  # synthetic faces
    assert json.loads(meta["crop_box"]) == [0, 0, 1, 1] and meta["resize"] == "pil"
    assert meta["outputs"] == "edited,mask" and meta["step"] == "12"
    import stgan

    assert meta["stgan_version"] == stgan.__version__
    session = ort.InferenceSession(str(r.path), providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map == meta  # what runtimes see


@pytest.mark.parametrize(
    "size, box",  # the paper's 170x170 box at left 3, top 26; the official 148 box at 64 px
    [(128, [3 / 178, 26 / 218, 173 / 178, 196 / 218]),
     (64, [15 / 178, 40 / 218, 163 / 178, 188 / 218])],
)  # fmt: skip
def test_metadata_of_a_celeba_run(tmp_path, size, box):
    cfg = load("tiny", None, [f"model.img_size={size}", "data.dataset=celeba", "data.crop=celeba",
                              "data.resize=tf-bicubic"])  # fmt: skip
    _save_run(tmp_path / "run", cfg, n_attrs=4)
    meta = read_metadata(export_checkpoint(tmp_path / "run", tmp_path / "g.onnx").path)
    assert meta["crop"] == "celeba" and meta["resize"] == "tf-bicubic"
    np.testing.assert_allclose(json.loads(meta["crop_box"]), box, atol=1e-6)
    assert meta["img_size"] == str(size)


def test_metadata_records_the_target_code(tmp_path):
    cfg, *_ = _save_run(tmp_path / "run", "tiny-attgan", n_attrs=4)
    meta = read_metadata(export_checkpoint(tmp_path / "run", tmp_path / "g.onnx").path)
    assert meta["label"] == "target" and meta["outputs"] == "edited"


# --------------------------------------------------------------------------------------------
# the NumPy recipe of docs/export.md, run as written
def _doc_script() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    (script,) = [b for b in blocks if "def attribute_code" in b]
    return script


@pytest.mark.parametrize(
    "cfg_name, photo",  # synthetic faces (crop none) and a CelebA-aligned photo (crop celeba)
    [("tiny", (32, 32)), ("tiny-attgan", (32, 32)), ("tiny-celeba", (218, 178))],
)
def test_documented_numpy_recipe(tmp_path, monkeypatch, cfg_name, photo):
    from stgan.data.transforms import load_image
    from stgan.imageio import to_float, to_uint8, write_png
    from stgan.inference import Editor

    cfg = load("tiny", None, ["data.dataset=celeba"]) if cfg_name == "tiny-celeba" else cfg_name
    cfg, names, G_out, _ = _save_run(tmp_path / "run", cfg)
    export_checkpoint(tmp_path / "run", tmp_path / "stgan.onnx")
    rng = np.random.default_rng(0)
    write_png(tmp_path / "face.png", rng.integers(0, 256, (*photo, 3), dtype=np.uint8))
    face = load_image(tmp_path / "face.png", cfg.data.image_crop, 32)  # as stgan edit reads it
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(_doc_script(), str(DOC), "exec"), ns)

    # attribute_code is the code of `stgan edit` (Editor.target, then the coding)
    editor = Editor(G_out, cfg, names)
    rng = np.random.default_rng(1)
    for changes in (
        {"Blond_Hair": 1, "Young": 0.5},
        {"Black_Hair": 0, "Bangs": 1},
        {"Bald": 1, "Male": -0.5},
        {"Brown_Hair": 0.3, "Eyeglasses": 0},
    ):
        src = (rng.random((1, len(names))) > 0.5).astype(np.float32)
        src_t = torch.from_numpy(src)
        want = editor.coding.code(src_t, editor.target(src_t, changes))[0].numpy()
        np.testing.assert_array_equal(ns["attribute_code"](src[0], changes), want)

    # the script reads the face as stgan does, its edit is PyTorch's, its file that edit
    np.testing.assert_array_equal(ns["image"], to_float(face[None]).numpy())
    src = np.zeros((1, len(names)), np.float32)
    src[0, names.index("Black_Hair")] = 1
    src_t = torch.from_numpy(src)
    code = editor.coding.code(src_t, editor.target(src_t, {"Blond_Hair": 1, "Young": 0.5}))
    with torch.no_grad():
        want = G_out(to_float(face[None]), code).numpy()
    assert np.abs(ns["edited"] - want).max() < ATOL
    from PIL import Image

    got = np.asarray(Image.open(tmp_path / "face_edited.png"))
    np.testing.assert_array_equal(got, to_uint8(torch.from_numpy(ns["edited"]))[0])


# --------------------------------------------------------------------------------------------
# the command
def _stgan(command: str) -> int:
    return main(shlex.split(command))


def _one_line_error(capsys, *words: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("stgan"), err
    for w in words:
        assert w in err, err
    return err


def test_cli_export(tmp_path, capsys):
    cfg, names, G_out, _ = _save_run(tmp_path / "run", n_attrs=4, step=9)
    out = tmp_path / "model.onnx"
    assert _stgan(f"export --checkpoint {tmp_path / 'run'} --format onnx --out {out}") == 0
    printed = capsys.readouterr().out
    error = float(re.search(r"max abs error (\S+) ", printed).group(1))
    assert error < ATOL and f"wrote {out}" in printed
    assert read_metadata(out)["step"] == "9"
    assert _max_error(out, G_out, 4, cfg.model.img_size) < ATOL


def test_cli_refuses_existing_output(tmp_path, capsys):
    _save_run(tmp_path / "run", n_attrs=4)
    out = tmp_path / "model.onnx"
    out.write_bytes(b"keep me")
    assert _stgan(f"export --checkpoint {tmp_path / 'run'} --out {out}") == 2
    _one_line_error(capsys, "already exists", "--overwrite")
    assert out.read_bytes() == b"keep me"
    assert _stgan(f"export --checkpoint {tmp_path / 'run'} --out {out} --overwrite") == 0
    assert read_metadata(out)["img_size"] == "32"


@pytest.mark.parametrize(
    "args, words",
    [
        ("--format tflite --out {t}/m.onnx", ["invalid choice: 'tflite'"]),
        ("--out {t}/m.pt", ["must end with .onnx"]),
        ("--out {t}/file.txt/m.onnx", ["is a file, not a folder"]),
    ],
)
def test_cli_bad_arguments(tmp_path, capsys, args, words):
    _save_run(tmp_path / "run", n_attrs=4)
    (tmp_path / "file.txt").write_text("x")
    before = sorted(tmp_path.rglob("*"))
    assert _stgan(f"export --checkpoint {tmp_path / 'run'} " + args.format(t=tmp_path)) == 2
    _one_line_error(capsys, *words)
    assert sorted(tmp_path.rglob("*")) == before


def test_cli_missing_checkpoint(tmp_path, capsys):
    assert _stgan(f"export --checkpoint {tmp_path / 'nope'} --out {tmp_path / 'm.onnx'}") == 2
    _one_line_error(capsys, "does not exist")


@pytest.mark.parametrize("missing, flag", [("onnx", ""), ("onnxruntime", "--check")])
def test_cli_missing_package(tmp_path, capsys, monkeypatch, missing, flag):
    _save_run(tmp_path / "run", n_attrs=4)
    monkeypatch.setitem(sys.modules, missing, None)  # import fails
    out = tmp_path / "m.onnx"
    assert _stgan(f"export --checkpoint {tmp_path / 'run'} --out {out} {flag}") == 2
    _one_line_error(capsys, f"needs the {missing} package", "pip install 'stgan[export]'")
    assert not out.exists()


def test_cli_no_check_needs_no_onnxruntime(tmp_path, capsys, monkeypatch):
    _save_run(tmp_path / "run", n_attrs=4)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    out = tmp_path / "m.onnx"
    assert _stgan(f"export --checkpoint {tmp_path / 'run'} --out {out} --no-check") == 0
    assert "max abs error" not in capsys.readouterr().out
    assert read_metadata(out)["outputs"] == "edited,mask"


@pytest.mark.slow
def test_cli_export_of_a_trained_run(tmp_path, capsys):
    """End to end: `stgan train` (the fast recipe, with EMA and recalibrated BatchNorm, and a
    mask), then `stgan export`; ONNX Runtime reproduces the run's own Editor."""
    from stgan.inference import Editor

    run = tmp_path / "run"
    sets = " ".join(
        f"--set {s}"
        for s in ("data.synthetic_n=24", "model.enc_dim=4", "model.dec_dim=4",
                  "model.dis_dim=4", "model.dis_fc_dim=8", "train.batch_size=4",
                  "train.n_samples=2", "train.bn_batches=1", "model.mask=true")
    )  # fmt: skip
    assert _stgan(f"train --config tiny --quiet {sets} --max-steps 2 --out {run}") == 0
    out = tmp_path / "run.onnx"
    assert _stgan(f"export --checkpoint {run} --out {out}") == 0
    assert "max abs error" in capsys.readouterr().out
    editor = Editor.from_checkpoint(run)
    assert _max_error(out, editor.G, len(editor.attr_names), editor.img_size) < ATOL
