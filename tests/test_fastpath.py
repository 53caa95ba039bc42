"""The training fast path (stgan.fastpath, issue 7) on the CPU: each switch computes what the
plain fp32 eager path computes (bf16 within a stated tolerance, the others to float
rounding), the graph path captures the eager step function itself, exact resume holds with
every CPU-usable switch on, and the config fields are validated.

Tolerances (tiny models, the paper recipe, fixed batches and draws):
- bf16 autocast: every logged loss within 5 % (relative) of fp32's over 3 iterations, and
  the first iteration's gradients at cosine similarity ≥ 0.99 with fp32's;
- channels_last and fused / foreach Adam: weights within 1e-5 of the plain path's.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace

import pytest
import torch
from torch import nn

from stgan import checkpoint, fastpath, losses
from stgan.attributes import permute_targets
from stgan.config import from_dict, load, to_toml
from stgan.errors import UserError
from stgan.fastpath import CAPTURE_WARMUP, CapturedIterations, FastPath
from stgan.models import build_discriminator, build_generator
from stgan.trainer import Trainer
from tests.conftest import TINY_SET

NAMES = ("Bald", "Bangs", "Black_Hair", "Blond_Hair")
CPU = torch.device("cpu")


def cfg_with(*sets, recipe="paper"):
    return load("tiny", overrides=[*TINY_SET, *sets], recipe=recipe)


def make_trainer(cfg) -> Trainer:
    torch.manual_seed(cfg.train.seed)
    G = build_generator(cfg.model, len(NAMES))
    D = build_discriminator(cfg.model, len(NAMES))
    return Trainer(cfg, G, D, NAMES, CPU)


def batches(n: int, seed: int = 3):
    """``n`` batches of four smooth images with random 0/1 labels."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        coarse = torch.rand(4, 3, 4, 4, generator=g) * 2 - 1
        x = nn.functional.interpolate(coarse, size=32, mode="bilinear")
        out.append((x, (torch.rand(4, len(NAMES), generator=g) > 0.5).float()))
    return out


def run(tr: Trainer, iterations: int) -> list[dict[str, float]]:
    """``iterations`` iterations through ``run_iteration`` on fixed batches and draws; the
    logs of each (every logged tensor must be fp32, whatever the switches)."""
    torch.manual_seed(7)
    t, out = tr.cfg.train, []
    for step in range(iterations):
        tr.schedule(step, 1000)
        logs = tr.run_iteration(batches(t.n_critic + 1), tr.penalized(step))
        assert {v.dtype for v in logs.values()} == {torch.float32}, logs
        out.append({k: v.item() for k, v in logs.items()})
    return out


def one_step_each(tr: Trainer):
    """A critic step, then (on the same batch) a generator step, from the trainer's initial
    weights for both; the logs and the gradients of each."""
    (x, a), logs, grads = batches(1)[0], {}, {}
    D0 = {k: v.clone() for k, v in tr.D.state_dict().items()}
    for net, step in ((tr.D, tr.d_step), (tr.G, tr.g_step)):
        torch.manual_seed(5)
        logs.update({k: v.item() for k, v in step(x, a).items()})
        grads[net] = torch.cat([p.grad.flatten() for p in net.parameters()])
        tr.D.load_state_dict(D0)  # G's step sees the initial D
    return logs, list(grads.values())


def cosine(a, b) -> float:
    return nn.functional.cosine_similarity(a, b, dim=0).item()


def max_weight_diff(a: nn.Module, b: nn.Module) -> float:
    return max(
        (p.detach().float() - q.detach().float()).abs().max().item()
        for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
        if p.is_floating_point()
    )


# --- config ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad, field",
    [
        ("train.amp=fp16", "train.amp"),
        ("train.channels_last=yes", "train.channels_last"),
        ("train.adam=sgd", "train.adam"),
        ("train.cuda_graph=1", "train.cuda_graph"),
        ("train.compile=maybe", "train.compile"),
    ],
)
def test_bad_switch_values_name_the_field(bad, field):
    with pytest.raises(UserError, match=field.replace(".", r"\.")):
        load("tiny", overrides=[bad])


def test_switches_round_trip_through_run_files():
    cfg = cfg_with("train.amp=bf16", "train.adam=foreach", "train.cuda_graph=off")
    text = to_toml(cfg)
    assert 'amp = "bf16"' in text and 'adam = "foreach"' in text and "compile = false" in text
    assert from_dict(cfg.to_dict()) == cfg
    old = cfg.to_dict()  # a checkpoint written before the switches existed: the defaults
    for k in ("amp", "channels_last", "adam", "cuda_graph", "compile"):
        del old["train"][k]
    assert from_dict(old).train.amp == "auto" and from_dict(old).train.compile is False


def test_auto_is_on_for_cuda_and_off_on_the_cpu(capsys):
    t = cfg_with().train
    assert fastpath.resolve(t, CPU).plain
    cuda = fastpath.resolve(t, torch.device("cuda"))  # resolving needs no GPU
    assert (cuda.bf16, cuda.channels_last, cuda.adam, cuda.cuda_graph) == (
        True,
        True,
        "fused",
        True,
    )
    assert cuda.compile is False
    off = replace(t, amp="off", channels_last="off", adam="default", cuda_graph="off")
    assert fastpath.resolve(off, torch.device("cuda")).plain
    assert capsys.readouterr().err == ""


def test_cuda_graph_off_cuda_falls_back_to_eager_with_one_warning_line(capsys):
    tr = make_trainer(cfg_with("train.cuda_graph=on"))
    assert not tr.fast.cuda_graph and tr.run_iteration == tr.iteration
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "train.cuda_graph=on needs a CUDA device" in err


# --- each switch computes what the plain path computes ------------------------------------
def test_paper_recipe_on_the_cpu_runs_the_plain_eager_path():
    tr = make_trainer(cfg_with())
    assert tr.fast.plain and tr.run_iteration == tr.iteration
    assert isinstance(tr.opt_G.param_groups[0]["lr"], float)
    assert not tr.opt_G.defaults["fused"] and not tr.opt_G.defaults["foreach"]


def test_bf16_steps_agree_with_fp32_within_tolerance():
    """One critic and one generator step from the same weights: losses within 2 %, the
    gradients at cosine ≥ 0.98 (D) and ≥ 0.9 (G: the tiny nets' 4-channel BatchNorms cancel
    much of the bf16 rounding's signal; fp16 autocast, 3 more mantissa bits, gives 0.998);
    then 3 whole iterations: losses within 10 %."""
    fp32, bf16 = make_trainer(cfg_with()), make_trainer(cfg_with("train.amp=bf16"))
    dtypes = []
    bf16.D.trunk[0][0].register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
    bf16.G.encoder[0][0].register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
    logs32, (gd32, gg32) = one_step_each(fp32)
    logs16, (gd16, gg16) = one_step_each(bf16)
    assert set(dtypes) == {torch.bfloat16}, "the bf16 trainer must really run in bf16"
    for k, v in logs32.items():
        assert logs16[k] == pytest.approx(v, rel=0.02, abs=0.01), k
    assert cosine(gd32, gd16) >= 0.98 and cosine(gg32, gg16) >= 0.9
    assert not torch.equal(gg32, gg16)  # really another computation

    fp32, bf16 = make_trainer(cfg_with()), make_trainer(cfg_with("train.amp=bf16"))
    for a, b in zip(run(fp32, 3), run(bf16, 3), strict=True):
        for k in a:
            assert b[k] == pytest.approx(a[k], rel=0.1, abs=0.05), k
    for p in bf16.G.parameters():  # weights and optimiser state stay fp32
        assert p.dtype == torch.float32
        assert all(v.dtype == torch.float32 for v in bf16.opt_G.state[p].values())


def test_gradient_penalty_norm_is_fp32_under_bf16_autocast():
    """Under autocast the penalties equal an fp64 computation of the same gradient's norm
    (a bf16 norm would be ~1e-3 off)."""
    torch.manual_seed(0)
    D = build_discriminator(cfg_with().model, len(NAMES))
    x = (torch.rand(4, 3, 32, 32) * 2 - 1).requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        adv, _ = D(x)
        assert adv.dtype == torch.bfloat16
        gp = losses.gradient_penalty(adv, x)
        r1 = losses.r1_penalty(adv, x)
    (grad,) = torch.autograd.grad(adv.float().sum(), x, retain_graph=True)
    norm = grad.double().flatten(1).norm(dim=1)
    assert gp.dtype == r1.dtype == torch.float32
    torch.testing.assert_close(gp.double(), ((norm - 1) ** 2).mean(), rtol=1e-6, atol=0)
    torch.testing.assert_close(r1.double(), (norm**2).mean(), rtol=1e-6, atol=0)


def test_channels_last_gives_the_same_results():
    plain, nhwc = make_trainer(cfg_with()), make_trainer(cfg_with("train.channels_last=on"))
    for net in (nhwc.G, nhwc.D):
        conv = next(m for m in net.modules() if isinstance(m, nn.Conv2d)).weight
        assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    same_steps(plain, nhwc)


@pytest.mark.parametrize("impl", ["fused", "foreach"])
def test_fused_and_foreach_adam_equal_the_plain_one(impl):
    plain, fast = make_trainer(cfg_with()), make_trainer(cfg_with(f"train.adam={impl}"))
    assert fast.opt_G.defaults[impl] and fast.opt_D.defaults[impl]
    same_steps(plain, fast)


def same_steps(plain: Trainer, fast: Trainer, iterations: int = 2):
    """The same losses and gradients to float rounding; the weights after ``iterations``
    iterations within lr / 4: Adam divides by √v + ε, so where a gradient is of the order of
    ε (1e-8: a bias that a norm layer cancels) rounding moves its update by a fraction of lr
    (measured: ≤ 0.07·lr; a wrong lr, beta or layout would move weights by ~lr)."""
    logs_a, grads_a = one_step_each(plain)
    logs_b, grads_b = one_step_each(fast)
    assert logs_b == pytest.approx(logs_a, rel=1e-5, abs=1e-6)
    for a, b in zip(grads_a, grads_b, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5 * a.abs().max().item())
    plain, fast = make_trainer(plain.cfg), make_trainer(fast.cfg)
    for a, b in zip(run(plain, iterations), run(fast, iterations), strict=True):
        assert b == pytest.approx(a, rel=1e-4, abs=1e-6)
    bound = plain.cfg.train.lr / 4
    assert max_weight_diff(plain.G, fast.G) <= bound and max_weight_diff(plain.D, fast.D) <= bound


# --- the graph path -------------------------------------------------------------------------
def test_graph_path_captures_the_eager_step_function():
    tr = make_trainer(cfg_with())
    graphed = FastPath("cuda", cuda_graph=True).runner(tr.iteration)
    assert isinstance(graphed, CapturedIterations)
    assert graphed.step == tr.iteration  # the bound method the eager path calls
    assert graphed.step.__func__ is Trainer.iteration
    assert tr.run_iteration == tr.iteration  # the eager path (CPU)


def test_graph_path_scalars_are_device_tensors_written_in_place():
    fp = FastPath("cpu", cuda_graph=True)  # the tensors' logic, on the CPU
    lr = fp.scalar(2e-4)
    assert isinstance(lr, torch.Tensor) and lr.dtype == torch.float32 and lr.ndim == 0
    same = fp.assign(lr, 1e-5)
    assert same is lr and lr.item() == pytest.approx(1e-5)
    assert FastPath("cpu").assign(lr, 3e-4) == 3e-4  # eager path: a float again


def test_capture_safe_targets_are_permutations_of_the_rows():
    a = torch.eye(6)
    torch.manual_seed(0)
    seen = set()
    for _ in range(30):
        b = permute_targets(a, capture_safe=True)
        assert sorted(map(tuple, b.tolist())) == sorted(map(tuple, a.tolist()))
        seen.add(tuple(b.argmax(1).tolist()))
    assert len(seen) > 20  # random, not a fixed reordering
    torch.manual_seed(0)
    first = permute_targets(a, capture_safe=True)
    torch.manual_seed(0)
    assert torch.equal(first, permute_targets(a, capture_safe=True))  # from the global RNG


class FakeCuda:
    """Stands in for torch.cuda with the semantics CapturedIterations relies on: a capture
    runs no kernel (the step function, told by ``capturing``, records what a replay will do
    on its static inputs); replay does it."""

    def __init__(self, monkeypatch):
        self.capturing, self.captures, self.current = False, 0, None
        fake = self

        class Graph:
            fn = None

            def replay(self):
                self.fn()

        @contextlib.contextmanager
        def graph(g):
            fake.capturing, fake.current = True, g
            fake.captures += 1
            try:
                yield
            finally:
                fake.capturing = False

        class Stream:
            def wait_stream(self, other):
                pass

        fakes = {
            "CUDAGraph": Graph,
            "graph": graph,
            "Stream": Stream,
            "stream": lambda s: contextlib.nullcontext(),
            "current_stream": Stream,
            "set_stream": lambda s: None,
            "synchronize": lambda *a: None,
        }
        for name, value in fakes.items():
            monkeypatch.setattr(torch.cuda, name, value)


def test_captured_iterations_warm_up_capture_and_replay_each_pattern_once(monkeypatch, capsys):
    fake = FakeCuda(monkeypatch)
    done = []  # (first pixel of each batch, pattern) of every iteration really computed

    def compute(bs, pen, out):
        done.append(([x[0, 0, 0, 0].item() for x, _ in bs], pen))
        out["n"].fill_(len(done))

    def step(bs, pen):
        out = {"n": torch.zeros(())}
        if fake.capturing:
            fake.current.fn = lambda: compute(bs, pen, out)
        else:
            compute(bs, pen, out)
        return out

    run_it = CapturedIterations(step)
    pats = [(True,), (False,)] * 5
    for i, pen in enumerate(pats):
        bs = [(torch.full((1, 3, 2, 2), float(i)), torch.zeros(1, 2)) for _ in range(2)]
        assert run_it(bs, pen)["n"].item() == len(done) == i + 1
    # every iteration computed once, on its own batches, with its own pattern
    assert done == [([float(i), float(i)], pen) for i, pen in enumerate(pats)]
    assert fake.captures == 2 and run_it.captured == 2  # one graph per pattern
    assert list(run_it.eager_runs.values()) == [CAPTURE_WARMUP, CAPTURE_WARMUP]
    assert capsys.readouterr().err == ""


def test_a_failed_capture_falls_back_to_eager_with_one_warning_line(monkeypatch, capsys):
    fake = FakeCuda(monkeypatch)
    calls = []

    def step(bs, pen):
        if fake.capturing:
            raise RuntimeError("operation not permitted when stream is capturing\nmore")
        calls.append(pen)
        return {}

    run_it = CapturedIterations(step)
    for _ in range(5):
        run_it([(torch.zeros(1), torch.zeros(1))], (True,))
    assert len(calls) == 5 and run_it.captured == 0 and fake.captures == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "capture failed (operation not permitted" in err


# --- exact resume ---------------------------------------------------------------------------
@pytest.mark.slow  # three short trainings with bf16 on the CPU (~5 s)
@pytest.mark.parametrize("recipe", ["paper", "fast"])
def test_resume_is_exact_with_every_cpu_switch_on(tiny_faces, tmp_path, recipe):
    sets = ["train.amp=bf16", "train.channels_last=on", "train.adam=fused", "train.bn_batches=2"]
    cfg = cfg_with(*sets, recipe=recipe)
    batch = (tiny_faces.x[:2], tiny_faces.y[:2])
    one = make_trainer(cfg)
    assert (one.fast.bf16, one.fast.channels_last, one.fast.adam) == (True, True, "fused")
    one.fit(tiny_faces, tmp_path / "one", batch, max_steps=4)
    two = make_trainer(cfg)
    two.fit(tiny_faces, tmp_path / "two", batch, max_steps=2)
    resumed = make_trainer(cfg)
    torch.manual_seed(1234)  # the checkpoint's RNG state must undo this
    ck = checkpoint.load(tmp_path / "two")
    assert all(v.is_contiguous() for v in ck["G"].values())  # stored in the usual layout
    resumed.load_checkpoint(ck)
    resumed.fit(tiny_faces, tmp_path / "two", batch, max_steps=4)
    pairs = [(one.G, resumed.G), (one.D, resumed.D)]
    if one.G_ema is not None:
        pairs.append((one.G_ema, resumed.G_ema))
    for a, b in pairs:
        for (k, v), w in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(v, w), k


def test_compile_compiles_g_blocks_in_place_and_leaves_d_and_copies_eager():
    """Building only (compiling runs on first use: minutes on a CPU, not in the tests)."""
    tr = make_trainer(cfg_with("train.compile=true", "train.ema_decay=0.9"))
    plain = make_trainer(cfg_with())
    blocks = [*tr.G.encoder, *tr.G.stus, *tr.G.decoder]
    assert blocks and all(b._compiled_call_impl is not None for b in blocks)
    assert all(m._compiled_call_impl is None for m in tr.D.modules())  # penalty: 2nd backward
    assert all(m._compiled_call_impl is None for m in tr.G_ema.modules())  # a plain copy
    assert list(tr.G.state_dict()) == list(plain.G.state_dict())  # checkpoints unchanged


def test_auto_keeps_cuda_graphs_off_with_several_processes():
    t = cfg_with().train
    assert not fastpath.resolve(t, torch.device("cuda"), processes=2).cuda_graph
    assert fastpath.resolve(replace(t, cuda_graph="on"), torch.device("cuda"), 2).cuda_graph


@pytest.mark.slow  # two short trainings (~2-4 s)
def test_graph_parity_script_dry_run_on_the_cpu(capsys):
    """scripts/graph_parity.py's logic without a GPU: both arms run eagerly (the graph arm
    says so in one warning line) and must agree exactly."""
    import json
    import runpy
    from pathlib import Path

    script = Path(__file__).parents[1] / "scripts" / "graph_parity.py"
    main = runpy.run_path(str(script))["main"]
    sets = [arg for item in TINY_SET for arg in ("--set", item)]
    assert main(["--config", "tiny", "--steps", "2", "--device", "cpu", *sets]) == 0
    out = capsys.readouterr()
    r = json.loads(out.out)
    assert r["steps"] == 2 and r["graphs"] == 0 and r["device"] == "cpu"
    assert r["max_weight_diff_G"] == r["max_weight_diff_D"] == r["max_rel_loss_diff"] == 0
    assert "train.cuda_graph=on needs a CUDA device" in out.err
