"""The training step pinned (reference §4): what every loss term of ``d_step`` and ``g_step``
sees, and one step of each against an independent hand computation.

    L_D = −(E D(x) − E D(G(x, a_t − a_s))) + 10·GP(x̂) + 1·BCE(D_att(x), a_s),
          x̂ = x + α (G(x, a_t − a_s) − x), one α per image
    L_G = −E D(G(x, Δ)) + 10·BCE(D_att(G(x, Δ)), a_t) + 100·‖x − G(x, 0)‖₁

The recording tests make the tiny G and D record their inputs and check which codes and
images each term was computed from; the hand computations redo one step with copies of the
networks, the same random draws and their own loss formulas (not ``stgan.losses``), then
compare the logged losses, the gradients and the Adam-updated weights.
"""

from __future__ import annotations

import copy
import inspect

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stgan.config import load
from stgan.models import build_discriminator, build_generator
from stgan.trainer import Trainer

TINY = [
    "model.img_size=32", "model.enc_dim=4", "model.dec_dim=4", "model.dis_dim=4",
    "model.dis_fc_dim=8", "train.batch_size=4", "train.n_critic=2", "data.num_workers=0",
]  # fmt: skip
NAMES = ("Bald", "Bangs", "Black_Hair", "Blond_Hair")
W_GP, W_ATT_D, W_ATT_G, W_REC = 10.0, 1.0, 10.0, 100.0  # the paper's weights (reference §4)


def paper_cfg():
    """The tiny config with the paper's training recipe, named explicitly where ``load``
    knows recipes, so that these tests keep pinning the paper recipe."""
    kw = {"recipe": "paper"} if "recipe" in inspect.signature(load).parameters else {}
    cfg = load("tiny", overrides=TINY, **kw)
    t = cfg.train
    assert (t.w_gp, t.w_att_d, t.w_att_g, t.w_rec, t.thres_int) == (
        W_GP,
        W_ATT_D,
        W_ATT_G,
        W_REC,
        0.5,
    )
    return cfg


def batch() -> tuple[Tensor, Tensor]:
    """Four smooth images and four distinct label rows (so every permutation moves one)."""
    g = torch.Generator().manual_seed(3)
    x = F.interpolate(torch.rand(4, 3, 4, 4, generator=g) * 2 - 1, size=32, mode="bilinear")
    a = torch.tensor([[1, 0, 0, 1], [0, 1, 1, 0], [1, 1, 0, 0], [0, 0, 1, 1]], dtype=torch.float)
    return x, a


def make_trainer(G: nn.Module | None = None, D: nn.Module | None = None) -> Trainer:
    cfg = paper_cfg()
    torch.manual_seed(0)
    G = G if G is not None else build_generator(cfg.model, len(NAMES))
    D = D if D is not None else build_discriminator(cfg.model, len(NAMES))
    return Trainer(cfg, G, D, NAMES, torch.device("cpu"))


# --------------------------------------------------------------------------------------------
# recording networks: which codes and images does each loss term see?
def record_decoder(G: nn.Module) -> list[tuple[Tensor, Tensor]]:
    """Make ``G`` record the code and the output image of every decoder pass, whichever
    entry point (``forward``, ``decode``, ``decode_raw``) the trainer uses."""
    calls: list[tuple[Tensor, Tensor]] = []
    name = "decode_raw" if hasattr(G, "decode_raw") else "decode"
    inner = getattr(G, name)

    def recorded(feats, code, *args, **kwargs):
        out = inner(feats, code, *args, **kwargs)
        image = out[0] if isinstance(out, tuple) else out  # decode_raw: (image, mask)
        calls.append((code.detach().clone(), image.detach().clone()))
        return out

    setattr(G, name, recorded)  # the instance attribute shadows the method
    return calls


def record_calls(D: nn.Module) -> list[tuple[Tensor, Tensor, Tensor]]:
    """Make ``D`` record every input and its two outputs (adv, att)."""
    calls: list[tuple[Tensor, Tensor, Tensor]] = []
    D.register_forward_hook(
        lambda _, args, out: calls.append(tuple(t.detach().clone() for t in (args[0], *out)))
    )
    return calls


def seen(calls) -> tuple[Tensor, Tensor, Tensor]:
    """All images D was shown, with their adversarial and attribute logits."""
    return tuple(torch.cat(parts) for parts in zip(*calls, strict=True))


def rows_of(images: Tensor, wanted: Tensor) -> list[int]:
    """For each image of ``wanted``, the index of the identical row of ``images``."""
    out = []
    for w in wanted:
        hits = [k for k in range(len(images)) if torch.equal(images[k], w)]
        assert hits, "an expected image was never shown to D"
        out.append(hits[0])
    return out


def assert_permutation_code(code: Tensor, a: Tensor) -> Tensor:
    """``code`` must be encode(b) − encode(a) = b − a for b a row permutation of ``a`` (not
    the identity); returns b."""
    b = a + code
    assert torch.equal(b, b.round()) and ((b == 0) | (b == 1)).all(), code
    assert sorted(map(tuple, b.tolist())) == sorted(map(tuple, a.tolist()))
    assert not torch.equal(b, a), "the targets must differ from the sources"
    return b


def test_d_step_terms_see_real_fake_and_per_image_interpolates():
    tr = make_trainer()
    decodes, d_calls = record_decoder(tr.G), record_calls(tr.D)
    x, a = batch()
    torch.manual_seed(11)
    logs = tr.d_step(x, a)

    # G: one pass, under the difference code of a permutation of the batch's labels
    assert len(decodes) == 1
    code, x_fake = decodes[0]
    assert_permutation_code(code, a)

    # D: the real images, the fakes, and B interpolates between them
    images, adv, att = seen(d_calls)
    assert len(images) == 3 * len(x)
    real, fake = rows_of(images, x), rows_of(images, x_fake)
    rest = [k for k in range(len(images)) if k not in real + fake]
    assert len(rest) == len(x)
    alphas = []
    for i, k in enumerate(rest):
        d = x_fake[i] - x[i]
        alpha = ((images[k] - x[i]) * d).sum() / (d * d).sum()
        torch.testing.assert_close(images[k], x[i] + alpha * d, atol=1e-6, rtol=0)
        assert 0 < alpha < 1
        alphas.append(alpha)
    alphas = torch.stack(alphas)
    assert alphas.max() - alphas.min() > 0.1, f"one α per image, got {alphas.tolist()}"

    torch.testing.assert_close(logs["D/wdist"], adv[real].mean() - adv[fake].mean())
    want_att = F.binary_cross_entropy_with_logits(att[real], a)
    assert not torch.allclose(want_att, F.binary_cross_entropy_with_logits(att[fake], a))
    torch.testing.assert_close(logs["D/att"], want_att)


def test_g_step_reconstructs_with_the_zero_code_and_judges_the_edit():
    tr = make_trainer()
    decodes, d_calls = record_decoder(tr.G), record_calls(tr.D)
    x, a = batch()
    torch.manual_seed(11)
    logs = tr.g_step(x, a)

    # two decoder passes: the edit under a_t − a_s, the reconstruction under 0
    assert len(decodes) == 2
    zero = [k for k, (c, _) in enumerate(decodes) if not c.any()]
    assert len(zero) == 1, "the reconstruction must be decoded with the zero difference"
    (_, x_rec), (edit_code, x_fake) = decodes[zero[0]], decodes[1 - zero[0]]
    b = assert_permutation_code(edit_code, a)
    torch.testing.assert_close(logs["G/rec"], (x - x_rec).abs().mean())

    # D judges the edits only
    images, adv, att = seen(d_calls)
    assert torch.equal(images, x_fake)
    torch.testing.assert_close(logs["G/adv"], -adv.mean())
    torch.testing.assert_close(logs["G/att"], F.binary_cross_entropy_with_logits(att, b))


# --------------------------------------------------------------------------------------------
# one step against a hand computation
def bce(logits: Tensor, target: Tensor) -> Tensor:
    """Mean binary cross-entropy with logits, written out (log(1 + e^z) − z·y, stably)."""
    return (logits.clamp(min=0) - logits * target + torch.log1p(torch.exp(-logits.abs()))).mean()


def adam_first_step(p0: Tensor, grad: Tensor, lr: float, eps: float = 1e-8) -> Tensor:
    """Adam's first update: the bias-corrected moments are g and g², so p − lr·g/(|g| + ε)."""
    return p0 - lr * grad / (grad.abs() + eps)


def check_update(before: nn.Module, after: nn.Module, grads: dict[str, Tensor], lr: float):
    """The trainer's gradients equal the hand ones and its weights took Adam's first step.

    Where a hand gradient is ~0 (e.g. conv biases before InstanceNorm, which cancels them)
    its sign is float noise, so there the step is only bounded by lr.
    """
    p0 = dict(before.named_parameters())
    for name, p in after.named_parameters():
        g = grads[name]
        torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-7 + 1e-4 * g.abs().max())
        clear = g.abs() > 1e-4 * g.abs().max() + 1e-9
        want = adam_first_step(p0[name].detach(), g, lr)
        torch.testing.assert_close(p.detach()[clear], want[clear], rtol=0, atol=lr * 1e-3)
        assert ((p.detach() - p0[name]).abs() <= lr * 1.001).all(), name


def test_d_step_matches_a_hand_computation():
    tr = make_trainer()
    x, a = batch()
    B, lr = len(x), tr.cfg.train.lr
    G0, D0 = copy.deepcopy(tr.G), copy.deepcopy(tr.D)
    g_before = copy.deepcopy(tr.G.state_dict())
    torch.manual_seed(5)
    logs = tr.d_step(x, a)

    torch.manual_seed(5)  # the same draws, in the algorithm's order: targets, then α
    b = a[torch.randperm(B)]
    code = (b - 0.5) - (a - 0.5)  # ±0.5 encoding, difference of target and source
    with torch.no_grad():
        x_fake = G0(x, code)  # G in training mode: its BatchNorm statistics move
    alpha = torch.rand(B, 1, 1, 1)
    x_hat = (x + alpha * (x_fake - x)).requires_grad_(True)
    adv_real, att_real = D0(x)  # three separate passes (InstanceNorm is per image)
    adv_fake, _ = D0(x_fake)
    adv_hat, _ = D0(x_hat)
    (grad,) = torch.autograd.grad(adv_hat.sum(), x_hat, create_graph=True)
    gp = ((grad.reshape(B, -1).pow(2).sum(1).sqrt() - 1) ** 2).mean()
    att = bce(att_real, a)
    wdist = adv_real.mean() - adv_fake.mean()
    loss = -wdist + W_GP * gp + W_ATT_D * att
    close = dict(rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(logs["D/wdist"], wdist, **close)
    torch.testing.assert_close(logs["D/gp"], gp, **close)
    torch.testing.assert_close(logs["D/att"], att, **close)
    torch.testing.assert_close(logs["D/loss"], loss, **close)

    names, params = zip(*D0.named_parameters(), strict=True)
    grads = dict(zip(names, torch.autograd.grad(loss, params), strict=True))
    check_update(D0, tr.D, grads, lr)
    # G is not trained by d_step, but ran in training mode like the hand copy
    for k, v in tr.G.state_dict().items():
        assert torch.equal(v, G0.state_dict()[k]), k
    assert any(not torch.equal(v, g_before[k]) for k, v in tr.G.state_dict().items())


def test_g_step_matches_a_hand_computation():
    tr = make_trainer()
    x, a = batch()
    B, lr = len(x), tr.cfg.train.lr
    G0, D0 = copy.deepcopy(tr.G), copy.deepcopy(tr.D)
    torch.manual_seed(9)
    logs = tr.g_step(x, a)

    torch.manual_seed(9)
    b = a[torch.randperm(B)]
    x_fake = G0(x, b - a)  # (b − 0.5) − (a − 0.5)
    x_rec = G0(x, torch.zeros_like(a))
    adv_fake, att_fake = D0(x_fake)
    adv = -adv_fake.mean()
    att = bce(att_fake, b)
    rec = (x - x_rec).abs().mean()
    loss = adv + W_ATT_G * att + W_REC * rec
    close = dict(rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(logs["G/adv"], adv, **close)
    torch.testing.assert_close(logs["G/att"], att, **close)
    torch.testing.assert_close(logs["G/rec"], rec, **close)
    torch.testing.assert_close(logs["G/loss"], loss, **close)

    names, params = zip(*G0.named_parameters(), strict=True)
    grads = dict(zip(names, torch.autograd.grad(loss, params), strict=True))
    check_update(G0, tr.G, grads, lr)
    for (k, p), q in zip(D0.named_parameters(), tr.D.parameters(), strict=True):
        assert torch.equal(p, q) and q.grad is None, k  # D is only read by g_step
    assert all(p.requires_grad for p in tr.D.parameters())  # and left trainable
