"""The fast CPU editing path (stgan.fastedit) and the Editor API around it: exact float
rewrites, the int8 path within its stated error bound against fp32, encoder-once editing,
and the plain path unchanged. Nothing here is timed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from stgan.config import load
from stgan.editing import edit, flip_target, sample_grid
from stgan.errors import UserError
from stgan.fastedit import (
    Int8Conv2d,
    Int8SubpixelUpconv,
    SplitSTU,
    SubpixelUpconv,
    fast_generator,
    int8_available,
)
from stgan.imageio import to_float, to_uint8
from stgan.inference import Editor
from stgan.models import build_discriminator, build_generator
from stgan.trainer import Trainer

# The bound stated in docs/benchmarks.md for the int8 path against fp32, on edited uint8
# images: PSNR over all pixels and the largest difference of any pixel (measured worst
# case on trained tiny models: 47.9 dB / 13 levels; random celeba128: 58 dB / 1).
MIN_PSNR_DB = 40.0
MAX_ABS = 24

needs_int8 = pytest.mark.skipif(not int8_available(), reason="no oneDNN int8 on this CPU")
NAMES = ("Bald", "Bangs", "Black_Hair", "Blond_Hair", "Eyeglasses", "Male")


def _generator(*sets: str, seed: int = 0, recipe: str = "paper") -> tuple[nn.Module, object]:
    """A random tiny generator (widths 8, 32 px) with non-trivial BatchNorm statistics."""
    cfg = load("tiny", overrides=list(sets), recipe=recipe)
    torch.manual_seed(seed)
    G = build_generator(cfg.model, len(NAMES)).eval()
    g = torch.Generator().manual_seed(seed)
    for m in G.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.2 - 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) * 1.5 + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=g) * 0.4 - 0.2)
    return G, cfg


def _faces(n: int = 4, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Smooth uint8 images (n, S, S, 3) and 0/1 labels (n, len(NAMES))."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, 4, 4, generator=g) * 2 - 1
    x = nn.functional.interpolate(coarse, size=size, mode="bilinear", align_corners=False)
    labels = (torch.rand(n, len(NAMES), generator=g) > 0.5).float().numpy()
    return to_uint8(x), labels


def _targets(editor: Editor, src: np.ndarray) -> list[torch.Tensor]:
    """Reconstruction and every attribute flipped, encoded."""
    s = torch.as_tensor(src)
    out = [editor.coding.encode(s)]
    return out + [flip_target(s, editor.attr_names, i, editor.coding)[1] for i in range(len(NAMES))]


def _error(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """PSNR over all pixels (dB) and the largest absolute difference of two uint8 arrays."""
    d = a.astype(np.float64) - b
    mse = float((d**2).mean())
    return (float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)), int(np.abs(d).max())


@pytest.fixture(scope="module")
def trained():
    """The tiny config (widths 8, 32 px, its fast recipe: resize upsampling) after 12
    training iterations on smooth random faces."""
    cfg = load("tiny", overrides=["train.batch_size=8", "train.n_critic=1"])
    torch.manual_seed(0)
    G, D = build_generator(cfg.model, len(NAMES)), build_discriminator(cfg.model, len(NAMES))
    tr = Trainer(cfg, G, D, NAMES, torch.device("cpu"))
    images, labels = _faces(8, seed=1)
    x, a = to_float(images), torch.as_tensor(labels)
    for _ in range(12):
        tr.d_step(x, a)
        tr.g_step(x, a)
    return tr.G.eval(), cfg


# --- exact float rewrites --------------------------------------------------------------------
@pytest.mark.parametrize("upsample", ["deconv", "resize"])
def test_subpixel_upconv_equals_the_upsampling_layer(upsample):
    from stgan.models.blocks import upconv

    torch.manual_seed(0)
    up = upconv(5, 7, upsample, bias=True)
    nn.init.normal_(up.bias if upsample == "deconv" else up[-1].bias)
    x = torch.randn(2, 5, 6, 9)
    with torch.no_grad():
        want, got = up(x), SubpixelUpconv(up)(x)
    assert got.shape == want.shape == (2, 7, 12, 18)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "sets",
    [
        [],
        ["model.upsample=resize"],
        ["model.mask=true", "model.upsample=resize"],
        ["model.one_more_conv=3"],
        ["model.stu_norm=bn"],
        ["model.stu_norm=in", "model.multi_inputs=3"],
        ["model.stu_state=gru", "model.shortcut_layers=2", "model.inject_layers=1"],
    ],
)
def test_float_rewrite_equals_the_generator(sets):
    """BatchNorm folding, sub-pixel upsampling and split STU gates change no result beyond
    float rounding, on every generator variant (the plain STU is kept under InstanceNorm)."""
    G, _ = _generator(*sets)
    before = {k: v.clone() for k, v in G.state_dict().items()}
    fast = fast_generator(G, int8=False)
    for k, v in G.state_dict().items():  # G itself is left as it was
        assert torch.equal(v, before[k]), k
    x, code = torch.rand(2, 3, 32, 32) * 2 - 1, torch.randn(2, len(NAMES))
    with torch.inference_mode():
        torch.testing.assert_close(fast(x, code), G(x, code), rtol=0, atol=2e-5)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in fast.modules())
    n_split = sum(isinstance(m, SplitSTU) for m in fast.modules())
    assert n_split == (0 if "model.stu_norm=in" in sets else len(G.stus))


@needs_int8
def test_int8_convolution_is_close_to_the_float_one():
    """Per-image shifted 7-bit activations and per-channel int8 weights: ~1 % of the output's
    spread, with signed inputs and zero padding (the lo·ΣW bias term is needed for both)."""
    torch.manual_seed(0)
    conv = nn.Conv2d(64, 32, 3, padding="same")
    x = nn.functional.leaky_relu(torch.randn(3, 64, 10, 10) + 0.3, 0.2) * 2 - 0.5
    with torch.inference_mode():
        want, got = conv(x), Int8Conv2d(conv)(x)
    rel = ((got - want).std() / want.std()).item()
    assert rel < 0.03, rel
    border = (got - want)[..., 0, :].abs().mean() / want.abs().mean()
    assert border < 0.05, border


@needs_int8
@pytest.mark.parametrize("levels", [127, 255])
def test_quantised_input_is_within_half_a_step_and_pads_are_zero(levels):
    """7-bit (or 8-bit) levels of x − lo (lo ≤ 0 ≤ hi): each value within half a step, the
    padding at the level of 0, channels-last (the layout oneDNN reads)."""
    from stgan.fastedit import _quantize_new

    x = torch.randn(1, 5, 6, 7).contiguous(memory_format=torch.channels_last) + 0.7
    q, scale, lo = _quantize_new(x, (1, 2, 3, 0), levels)
    assert q.dtype == torch.uint8 and q.shape == (1, 5, 9, 10)
    assert q.is_contiguous(memory_format=torch.channels_last)
    assert lo == pytest.approx(min(x.min().item(), 0.0)) and int(q.max()) == levels
    inner = q[:, :, 3:9, 1:8].float() * scale + lo
    assert (inner - x).abs().max() <= scale / 2 * 1.001
    zero = q[:, :, 0, :].float() * scale + lo  # a padded row
    assert zero.abs().max() <= scale / 2 * 1.001
    assert torch.equal(q[:, :, :3], torch.full_like(q[:, :, :3], round(-lo / scale)))


@needs_int8
@pytest.mark.parametrize("upsample", ["deconv", "resize"])
def test_int8_upsampling_per_phase_equals_the_single_int8_convolution(upsample):
    """One int8 convolution per phase on its own window is the single 4·C_out convolution of
    the same quantised input (exact: int32 sums, same per-channel scales), interleaved; each
    image of a batch on its own; with the ReLU post-op, its ReLU."""
    from stgan.fastedit import _interleave, _quantize_new
    from stgan.models.blocks import upconv

    torch.manual_seed(0)
    up = SubpixelUpconv(upconv(6, 5, upsample, bias=True))
    x = torch.randn(3, 6, 4, 7).contiguous(memory_format=torch.channels_last)
    fast = Int8SubpixelUpconv(up)
    whole = Int8Conv2d(up.conv)  # padding 1: (H+1)×(W+1) per phase
    with torch.inference_mode():
        got = fast(x)
        for i in range(3):
            y = whole.run(*_quantize_new(x[i : i + 1], (1, 1, 1, 1), 127))
            phases = [
                y[:, 5 * k : 5 * k + 5, k // 2 : k // 2 + 4, k % 2 : k % 2 + 7] for k in range(4)
            ]
            torch.testing.assert_close(got[i : i + 1], _interleave(phases), rtol=0, atol=1e-5)
        rel = ((got - up(x)).std() / up(x).std()).item()
        assert rel < 0.03, rel  # and close to the float layer
        fast.relu = True
        torch.testing.assert_close(fast(x), got.relu(), rtol=0, atol=0)


@needs_int8
def test_int8_generator_fuses_its_relus_and_quantises_each_feature_once(monkeypatch):
    """No ReLU module is left after an int8 layer (oneDNN applies it), and an encoder
    feature is quantised once for the next encoder layer and its STU."""
    import stgan.fastedit

    G, _ = _generator()
    fast = fast_generator(G, int8=True)
    assert not any(type(m) is nn.ReLU for m in fast.decoder[:-1].modules())
    ups = [m for m in fast.modules() if isinstance(m, Int8SubpixelUpconv)]
    dec = [m for m in fast.decoder.modules() if isinstance(m, Int8SubpixelUpconv)]
    assert len(dec) == len(G.decoder) - 1 and all(m.relu for m in dec)  # the last one is float
    assert not any(m.relu for m in ups if m not in dec)  # the STUs' ŝ has no ReLU
    calls = []
    real = stgan.fastedit._quantize_new
    monkeypatch.setattr(stgan.fastedit, "_quantize_new", lambda *a: calls.append(1) or real(*a))
    x, code = torch.rand(1, 3, 32, 32) * 2 - 1, torch.randn(1, len(NAMES))
    with torch.inference_mode():
        fast(x, code)
    phases = {id(p) for m in ups for p in m.phases}
    convs = [m for m in fast.modules() if isinstance(m, Int8Conv2d) and id(m) not in phases]
    n_inputs = len(ups) + len(convs)  # each layer quantises its input once
    assert len(calls) == n_inputs - len(G.stus)  # f1 … f4: once each, not twice


def test_tile_concat_keeps_channels_last():
    """The tiled code follows channels-last features (torch.cat of an expanded code returns
    NCHW, 10× slower), and NCHW ones as before; same values either way."""
    from stgan.models.blocks import tile_concat

    f = torch.randn(2, 4, 3, 5)
    code = torch.randn(2, 6)
    want = tile_concat([f, f], code)
    assert want.is_contiguous()
    got = tile_concat([f.contiguous(memory_format=torch.channels_last)] * 2, code)
    assert got.is_contiguous(memory_format=torch.channels_last) and not got.is_contiguous()
    assert torch.equal(got, want)


# --- the int8 path against fp32 --------------------------------------------------------------
@needs_int8
@pytest.mark.parametrize("sets", [[], ["model.mask=true", "model.upsample=resize"]])
def test_fast_editor_within_the_bound_on_random_weights(sets):
    G, cfg = _generator(*sets)
    plain, fast = Editor(G, cfg, NAMES, fast=False), Editor(G, cfg, NAMES, fast=True)
    assert fast.path == "fast int8" and plain.path == "fp32 eager"
    images, src = _faces()
    want = np.concatenate(plain.edit_codes(images, src, _targets(plain, src)))
    got = np.concatenate(fast.edit_codes(images, src, _targets(fast, src)))
    psnr, max_abs = _error(want, got)
    assert psnr >= MIN_PSNR_DB and max_abs <= MAX_ABS, (psnr, max_abs)
    assert not np.array_equal(want, got)  # int8 really ran


@needs_int8
@pytest.mark.slow
def test_fast_editor_within_the_bound_on_a_trained_model(trained):
    G, cfg = trained
    plain, fast = Editor(G, cfg, NAMES, fast=False), Editor(G, cfg, NAMES, fast=True)
    images, src = _faces(seed=5)
    want = np.concatenate(plain.edit_codes(images, src, _targets(plain, src)))
    got = np.concatenate(fast.edit_codes(images, src, _targets(fast, src)))
    psnr, max_abs = _error(want, got)
    assert psnr >= MIN_PSNR_DB and max_abs <= MAX_ABS, (psnr, max_abs)
    assert not np.array_equal(want, got)


# --- the Editor API ---------------------------------------------------------------------------
@pytest.mark.parametrize("fast", [False, True])
def test_edit_codes_equals_separate_edits(fast):
    G, cfg = _generator("model.mask=true", "model.upsample=resize")
    editor = Editor(G, cfg, NAMES, fast=fast)
    images, src = _faces(3)
    changes = [{"Bangs": 1}, {"Male": 0.5}, {"Bald": 0, "Eyeglasses": 1}]
    targets = [editor.target(torch.as_tensor(src), c) for c in changes]
    together = editor.edit_codes(images, src, targets)
    for c, out in zip(changes, together, strict=True):
        np.testing.assert_array_equal(out, editor.edit(images, src, c))
    # a face's edit does not depend on the other faces of its batch
    np.testing.assert_array_equal(together[0][1:2], editor.edit(images[1:2], src[1:2], changes[0]))


@pytest.mark.parametrize("fast", [False, True])
def test_encode_decode_equals_the_forward(fast):
    G, cfg = _generator("model.mask=true", "model.upsample=resize")
    editor = Editor(G, cfg, NAMES, fast=fast)
    images, src = _faces(2)
    tgt = editor.target(torch.as_tensor(src), {"Blond_Hair": 1})
    code = editor.coding.code(torch.as_tensor(src), tgt)
    enc = editor.encode(images)
    assert len(enc) == 2
    with torch.inference_mode():
        want = to_uint8(editor.net(to_float(images), code))
    np.testing.assert_array_equal(editor.decode(enc, src, tgt), want)
    np.testing.assert_array_equal(editor.decode(enc, src, tgt), want)  # decoded again


@needs_int8
def test_feature_half_of_the_gates_runs_once_per_encoded_image():
    G, cfg = _generator()
    editor = Editor(G, cfg, NAMES, fast=True)
    images, src = _faces(1)
    calls = []
    for m in editor.net.modules():
        if isinstance(m, SplitSTU):
            m.feat_conv.register_forward_hook(lambda *_: calls.append(1))
    enc = editor.encode(images)
    targets = _targets(editor, src)
    outs = [editor.decode(enc, src, t) for t in targets]
    assert len(calls) == len(G.stus)  # not once per target
    assert not np.array_equal(outs[0], outs[1])
    editor.decode(editor.encode(images), src, targets[0])  # a new encoding: computed anew
    assert len(calls) == 2 * len(G.stus)


@pytest.mark.parametrize("sets", [[], ["model.mask=true", "model.upsample=resize"]])
def test_plain_path_is_bit_identical_to_the_previous_editor(sets):
    """fast=False: edit as ``editing.edit(G, ...)`` and grid as ``editing.sample_grid``
    (what Editor did before the fast path), bit for bit, masks rows included."""
    G, cfg = _generator(*sets)
    editor = Editor(G, cfg, NAMES, fast=False)
    assert editor.net is editor.G
    images, src = _faces(3)
    s = torch.as_tensor(src)
    tgt = editor.target(s, {"Bangs": 1, "Male": -0.5})
    want = to_uint8(edit(G, to_float(images), s, tgt, editor.coding))
    np.testing.assert_array_equal(editor.edit(images, src, {"Bangs": 1, "Male": -0.5}), want)
    grid = sample_grid(G, to_float(images), s, NAMES, editor.coding)
    np.testing.assert_array_equal(editor.grid(images, src), grid)


@needs_int8
def test_fast_grid_has_the_plain_layout_within_the_bound():
    G, cfg = _generator("model.mask=true", "model.upsample=resize")
    images, src = _faces(2)
    want = Editor(G, cfg, NAMES, fast=False).grid(images, src)
    got = Editor(G, cfg, NAMES, fast=True).grid(images, src)
    assert got.shape == want.shape
    psnr, max_abs = _error(want, got)
    assert psnr >= MIN_PSNR_DB and max_abs <= MAX_ABS, (psnr, max_abs)


def test_auto_uses_the_fast_path_only_where_it_pays(monkeypatch):
    import stgan.inference

    G, cfg = _generator()
    assert not Editor(G, cfg, NAMES).fast  # 1 M parameters: the plain path
    assert Editor(G, cfg, NAMES, fast=True).fast
    monkeypatch.setattr(stgan.inference, "FAST_MIN_PARAMS", 1000)  # as if G were big
    auto = Editor(G, cfg, NAMES)
    assert auto.fast == int8_available() and auto.int8 == int8_available()
    assert not Editor(G, cfg, NAMES, fast=False).fast
    assert auto._fast_G is None  # built on first use only
    auto.edit(*_faces(1), {"Bald": 1})
    assert isinstance(auto._fast_G, nn.Module) and auto._fast_G is not G


def test_fast_on_another_device_is_a_user_error():
    G, cfg = _generator()
    with pytest.raises(UserError, match="fast editing is for CPUs"):
        Editor(G, cfg, NAMES, device="meta", fast=True)
    assert not Editor(G, cfg, NAMES, device="meta").fast  # auto: plain off the CPU


# --- stgan bench --edit (runs the bench; asserts no time) -----------------------------------
def test_bench_edit_json_reports_both_paths_and_the_error(capsys):
    import json

    from stgan.cli import main

    sets = "--set model.enc_dim=4 --set model.dec_dim=4"
    assert main(f"bench --edit --json --config tiny {sets} --steps 1 --warmup 0".split()) == 0
    r = json.loads(capsys.readouterr().out)
    for key in ("ms_per_edit_fp32", "ms_per_edit", "speedup", "ms_per_extra_edit"):
        assert r[key] > 0, key
    assert r["device"] == "cpu" and r["torch"] == torch.__version__ and r["threads"] >= 1
    assert r["path"] == ("fast int8" if int8_available() else "fast fp32")
    assert r["weights"] == "random" and r["img_size"] == 32
    assert r["error_images"] == 4 * (1 + 5)  # 4 faces × (reconstruction + 5 of 13 flips)
    if int8_available():
        assert MIN_PSNR_DB <= r["psnr_db"] < 200 and 0 < r["max_abs"] <= MAX_ABS
    assert r["load_average"] is None or r["load_average"] >= 0  # how busy the machine was
    from stgan.bench import EDIT_HEADER, EditSpeed

    header, rule = EDIT_HEADER.splitlines()
    row = EditSpeed(**r).row()  # the Markdown row: one cell per column of the header
    assert row.count("|") == header.count("|") == rule.count("|")
