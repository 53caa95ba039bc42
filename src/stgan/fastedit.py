"""Fast CPU inference: the same generator, rewritten layer by layer for a CPU (issue 11 §4).

:func:`fast_generator` returns a copy of a trained generator whose ``encode`` /
``decode_raw`` / ``forward`` are the generator's own code (same graph, same equations); only
its leaf layers change:

1. **BatchNorm folded** into the convolution before it (eval-mode statistics):
   ``w' = w·γ/√(σ²+ε)``, ``b' = (b − μ)·γ/√(σ²+ε) + β``.
2. **Upsampling as a sub-pixel convolution.** A transposed Conv 4×4 stride 2 (padding 1) and
   a nearest ×2 resize followed by a Conv 3×3 (padding 1) both give output pixel
   ``(2i+a, 2j+b)`` from the 2×2 input neighbourhood starting at ``(i−1+a, j−1+b)``, with a
   2×2 kernel per phase ``(a, b)``: taps ``[3, 1]`` / ``[2, 0]`` of the 4×4 kernel (deconv;
   the resize form first becomes that kernel, :func:`~stgan.models.blocks.resize_kernel`,
   so its taps are ``[w0, w1+w2]`` / ``[w0+w1, w2]`` of the 3×3 one). All four phases are one 2×2
   convolution with 4×C_out channels over the zero-padded input, interleaved afterwards
   (exact in real arithmetic; the resize form does 2.25× fewer multiply-adds than the
   convolution on the upsampled map). A stride-1 transposed convolution is a convolution
   with the kernel flipped.
3. **STU gates split by input** (:class:`SplitSTU`): ``W * [f, ŝ] = W_f * f + W_ŝ * ŝ``;
   the feature halves of the three gates depend only on the encoder feature and are
   computed once per encoded image, so another edit of the same image skips them. The
   gates' elementwise equations run in place, and ``tanh(h) = 2·σ(2h) − 1`` with ``W_h``,
   ``b_h`` doubled once (torch.tanh is 2.4× slower than sigmoid on AVX2).
4. **int8 convolutions** (``int8=True``, :class:`Int8Conv2d`): every convolution but the
   first and the last (the image in, the image out) runs as oneDNN's int8 convolution with a
   float32 output: weights per output channel, symmetric int8; activations quantised per
   call and per image from their own range (7-bit: AVX2 multiplies u8·s8 pairs into
   saturating 16-bit sums), so there is no calibration and no data set, and an image's edit
   does not depend on the other images of its batch. An int8 upsampling layer
   (:class:`Int8SubpixelUpconv`) quantises its input once and runs one convolution per phase
   on that phase's own H×W window (the single 4·C_out convolution computes (H+1)×(W+1)
   positions per phase); a ReLU after an int8 layer is oneDNN's post-op; an encoder
   feature is quantised once for the next encoder layer and its STU. Sigmoid, the STU
   products and the tiled code stay float.

Layers of other forms (InstanceNorm, dilated or grouped convolutions) are kept as they are.
The error of the result against the fp32 eager generator is measured by ``stgan bench
--edit`` and bounded by the tests (tests/test_fastedit.py).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn
from torch.utils.weak import WeakIdKeyDictionary

from stgan.models.blocks import resize_kernel, tile_concat
from stgan.models.stu import STU

# deconv 4×4 s2 p1: the kernel taps that phase a (rows) / b (columns) uses, in input order
DECONV_TAPS = ((3, 1), (2, 0))
ACT_LEVELS = 127  # 7-bit activations (see Int8Conv2d)
SMALL_C = 16  # fewer channels than this (the image out): NCHW is faster than channels-last


def int8_available() -> bool:
    """Whether this PyTorch runs oneDNN int8 convolutions fast here: an x86 CPU with AVX2 or
    newer and a build with oneDNN (mkldnn) and its quantized convolution."""
    capability = torch.backends.cpu.get_cpu_capability()
    return (
        torch.backends.mkldnn.is_available()
        and hasattr(torch.ops.onednn, "qconv2d_pointwise")
        and capability.startswith(("AVX2", "AVX512", "AMX"))
    )


def _phase_taps(w: Tensor, a: int, dim: int) -> Tensor:
    """The 2 taps along ``dim`` of phase ``a`` of a 4×4 transposed-convolution kernel."""
    return w.index_select(dim, torch.tensor(DECONV_TAPS[a]))


class SubpixelUpconv(nn.Module):
    """A ×2 upsampling layer as one 2×2 convolution with 4·C_out channels + interleaving.

    Built from ``nn.ConvTranspose2d(·, ·, 4, stride=2, padding=1)`` or from
    ``nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(·, ·, 3,
    padding=1))``; same output, up to float rounding.
    """

    def __init__(self, up: nn.Module):
        super().__init__()
        resize = isinstance(up, nn.Sequential)
        conv = up[-1] if resize else up
        w = resize_kernel(conv.weight.detach()) if resize else conv.weight.detach()
        w = w.transpose(0, 1).contiguous()  # (C_out, C_in, 4, 4) in cross-correlation form
        phases = [_phase_taps(_phase_taps(w, a, 2), b, 3) for a in (0, 1) for b in (0, 1)]
        c_out = w.shape[0]
        bias = conv.bias.detach() if conv.bias is not None else torch.zeros(c_out)
        self.c_out = c_out
        self.conv = _conv(torch.cat(phases, 0), bias.repeat(4), 1)

    def forward(self, x: Tensor) -> Tensor:
        H, W = x.shape[2:]
        y = self.conv(x)  # zero-padded by 1: (B, 4·C, H+1, W+1); phase (a, b) at (a, b)
        c = self.c_out
        if c < SMALL_C:  # the image out: interleaved in NCHW (channels-last copies 3 at a time)
            y = y.contiguous()
        return _interleave(
            [
                y[:, (2 * a + b) * c : (2 * a + b + 1) * c, a : a + H, b : b + W]
                for a in (0, 1)
                for b in (0, 1)
            ]
        )


def _interleave(phases: list[Tensor]) -> Tensor:
    """The ×2 image whose pixel ``(2i+a, 2j+b)`` is pixel ``(i, j)`` of ``phases[2a+b]``
    (four (B, C, H, W) tensors); channels-last, or NCHW under ``SMALL_C`` channels."""
    B, C, H, W = phases[0].shape
    fmt = torch.contiguous_format if C < SMALL_C else torch.channels_last
    out = torch.empty(B, C, 2 * H, 2 * W, dtype=phases[0].dtype, memory_format=fmt)
    for k, y in enumerate(phases):
        out[:, :, k // 2 :: 2, k % 2 :: 2] = y
    return out


def _conv(weight: Tensor, bias: Tensor | None, padding) -> nn.Conv2d:
    """A stride-1 ``nn.Conv2d`` holding ``weight`` (C_out, C_in, kh, kw) and ``bias`` (built
    on the meta device first: no random initialisation to throw away)."""
    c_out, c_in, kh, kw = weight.shape
    conv = nn.Conv2d(c_in, c_out, (kh, kw), padding=padding, bias=bias is not None, device="meta")
    conv.weight = nn.Parameter(weight.contiguous(), requires_grad=False)
    if bias is not None:
        conv.bias = nn.Parameter(bias, requires_grad=False)
    return conv


def is_subpixel_upconv(m: nn.Module) -> bool:
    """Whether ``m`` is a ×2 upsampling :class:`SubpixelUpconv` can rewrite."""
    if isinstance(m, nn.ConvTranspose2d):
        return (
            m.kernel_size == (4, 4)
            and m.stride == (2, 2)
            and m.padding == (1, 1)
            and m.output_padding == (0, 0)
            and m.dilation == (1, 1)
            and m.groups == 1
        )
    if isinstance(m, nn.Sequential) and len(m) == 2:
        up, conv = m
        return (
            isinstance(up, nn.Upsample)
            and up.mode == "nearest"
            and up.scale_factor in (2, 2.0, (2, 2), (2.0, 2.0))
            and isinstance(conv, nn.Conv2d)
            and _plain_conv(conv)
            and conv.kernel_size == (3, 3)
            and _padding(conv) == [1, 1]
        )
    return False


def _padding(conv: nn.Conv2d) -> list[int]:
    if isinstance(conv.padding, str):  # "same" with an odd kernel and stride 1
        return [(k - 1) // 2 for k in conv.kernel_size]
    return list(conv.padding)


def _plain_conv(conv: nn.Conv2d) -> bool:
    odd = all(k % 2 == 1 for k in conv.kernel_size)
    return (
        conv.groups == 1
        and conv.dilation == (1, 1)
        and conv.padding_mode == "zeros"
        and (conv.padding != "same" or (odd and conv.stride == (1, 1)))
        and conv.padding != "valid"
    )


def _transpose_as_conv(t: nn.ConvTranspose2d) -> nn.Conv2d | None:
    """A stride-1 transposed convolution as the convolution with its kernel flipped."""
    k, p = t.kernel_size, t.padding
    if t.stride != (1, 1) or t.dilation != (1, 1) or t.groups != 1 or t.output_padding != (0, 0):
        return None
    if any(pi > ki - 1 for pi, ki in zip(p, k, strict=True)):
        return None
    w = t.weight.detach().flip(2, 3).transpose(0, 1)
    bias = t.bias.detach().clone() if t.bias is not None else None
    return _conv(w, bias, [k[0] - 1 - p[0], k[1] - 1 - p[1]])


# encoder feature -> (pad, levels, _quantize's result): each goes to the next encoder layer
# and to an STU, both zero-padded by 1: quantised once (by the encoder layer) for both
_QUANTIZED: WeakIdKeyDictionary = WeakIdKeyDictionary()


def _quantize(x: Tensor, pad: tuple[int, int, int, int], levels: int, keep: bool = False):
    """:func:`_quantize_new`, or its result kept for the same tensor, padding and levels
    (``keep``: keep this one, for a tensor nothing changes in place: an encoder feature)."""
    hit = _QUANTIZED.get(x)
    if hit is not None and hit[:2] == (pad, levels):
        return hit[2]
    out = _quantize_new(x, pad, levels)
    if keep:
        _QUANTIZED[x] = (pad, levels, out)
    return out


def _quantize_new(x: Tensor, pad: tuple[int, int, int, int], levels: int):
    """Image ``x`` (1, C, H, W) as uint8, channels-last, zero-padded by ``pad`` (left, right,
    top, bottom): ``q = round((x − lo)·levels / (hi − lo))`` with ``lo ≤ 0 ≤ hi`` its range
    (zero included, so that the padding is a value of the range too). Returns ``(q, scale,
    lo)``, ``x ≈ q·scale + lo``.

    One pass of float arithmetic (``x·inv + (0.5 − lo·inv)``, all ≥ 0, truncated) and one
    of conversion: float → int8 (≤ 127 levels) or int16 is vectorised where float → uint8
    is not (4× slower).
    """
    lo, hi = torch.aminmax(x.permute(0, 2, 3, 1).reshape(-1))  # a flat view if channels-last
    lo, hi = min(lo.item(), 0.0), max(hi.item(), 0.0)
    inv = levels / max(hi - lo, 1e-8)
    offset = 0.5 - lo * inv  # + 0.5: truncation rounds to nearest
    B, C, H, W = x.shape
    left, right, top, bottom = pad
    shape = (B, H + top + bottom, W + left + right, C)
    q = torch.full(shape, int(offset), dtype=torch.uint8).permute(0, 3, 1, 2)  # pads: 0 in x
    levels_x = torch.add(torch.tensor(offset), x, alpha=inv)  # in [0.5, levels + 0.5]
    if levels <= 127:  # float → int8 is vectorised; the same bits as uint8 there
        q[:, :, top : top + H, left : left + W] = levels_x.to(torch.int8).view(torch.uint8)
    else:
        q[:, :, top : top + H, left : left + W] = levels_x.to(torch.int16)
    return q, 1.0 / inv, lo


class Int8Conv2d(nn.Module):
    """A convolution with int8 weights (symmetric, per output channel) and uint8 activations
    quantised per call, image by image, from their own range; float in and out (oneDNN's
    ``qconv2d_pointwise`` with a float32 output: nothing is requantised after accumulating).

    oneDNN is fast only with a zero point of 0, so the input is shifted instead: with ``lo``
    its minimum (≤ 0) and the zero padding applied first, ``W * x = W * (x − lo) + lo·ΣW``,
    and ``x − lo ≥ 0`` is quantised with zero point 0; ``lo·ΣW`` (per output channel) joins
    the bias. Exact up to the rounding of ``x − lo``.

    Args:
        conv: a plain ``nn.Conv2d`` (groups 1, dilation 1, zero padding).
        act_levels: 127 (7-bit activations: AVX2 and AVX-512 without VNNI multiply pairs of
            u8·s8 into saturating 16-bit sums, measured worse with 255) or 255.
    """

    def __init__(self, conv: nn.Conv2d, act_levels: int = ACT_LEVELS):
        super().__init__()
        w = conv.weight.detach().float()
        w_scale = w.abs().amax(dim=(1, 2, 3)).clamp_min(1e-12) / 127  # (C_out,)
        w_int = (w * (1.0 / w_scale)[:, None, None, None]).round_().clamp_(-127, 127)
        w_int = w_int.to(torch.int8)
        self.stride = list(conv.stride)
        ph, pw = _padding(conv)
        self.pad = (pw, pw, ph, ph)  # applied to the quantised input (its zero's level)
        self.act_levels = act_levels
        self.register_buffer("w_scale", w_scale)
        self.register_buffer("w_zero", torch.zeros(len(w_scale), dtype=torch.long))
        self.register_buffer("w_sum", (w_int.float().sum(dim=(1, 2, 3)) * w_scale))  # ΣW
        bias = conv.bias.detach().float() if conv.bias is not None else torch.zeros_like(w_scale)
        self.register_buffer("bias", bias)
        self.packed = torch.ops.onednn.qconv_prepack(  # an opaque mkldnn tensor, not a buffer
            w_int, w_scale, 1.0, 0, self.stride, [0, 0], [1, 1], 1, None
        )
        self.relu = False  # a ReLU after it, run by oneDNN on the output (:func:`_fuse_relu_`)
        self.keep_input = False  # keep the quantised input for other layers (encoder layers)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W), each image quantised on its own
        if x.shape[0] > 1:
            return torch.cat([self(x[i : i + 1]) for i in range(x.shape[0])])
        return self.run(*_quantize(x, self.pad, self.act_levels, self.keep_input))

    def run(self, q: Tensor, scale: float, lo: float) -> Tensor:
        """The convolution of an input already quantised (and padded) by :func:`_quantize`."""
        bias = torch.add(self.bias, self.w_sum, alpha=lo)
        return torch.ops.onednn.qconv2d_pointwise(
            q, scale, 0, self.packed, self.w_scale, self.w_zero, bias, self.stride, [0, 0],
            [1, 1], 1, 1.0, 0, torch.float32, "relu" if self.relu else "none", [], "",
        )  # fmt: skip


class Int8SubpixelUpconv(nn.Module):
    """:class:`SubpixelUpconv` in int8: the input quantised once, then one
    :class:`Int8Conv2d` per phase on its own H×W window (the single convolution with 4·C_out
    channels computes (H+1)×(W+1) positions per phase: 56 % more work on a 4×4 map, 27 % on
    8×8)."""

    def __init__(self, up: SubpixelUpconv, act_levels: int = ACT_LEVELS):
        super().__init__()
        c, w, b = up.c_out, up.conv.weight.detach(), up.conv.bias.detach()
        self.act_levels = act_levels
        self.phases = nn.ModuleList(
            Int8Conv2d(_conv(w[k * c : (k + 1) * c], b[k * c : (k + 1) * c], 0), act_levels)
            for k in range(4)
        )

    @property
    def relu(self) -> bool:
        return self.phases[0].relu

    @relu.setter
    def relu(self, on: bool) -> None:
        for p in self.phases:
            p.relu = on

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[0] > 1:
            return torch.cat([self(x[i : i + 1]) for i in range(x.shape[0])])
        H, W = x.shape[2:]
        q, scale, lo = _quantize(x, (1, 1, 1, 1), self.act_levels)
        return _interleave(
            [
                self.phases[2 * a + b].run(q[:, :, a : a + H + 1, b : b + W + 1], scale, lo)
                for a in (0, 1)
                for b in (0, 1)
            ]
        )


class SplitSTU(nn.Module):
    """An :class:`~stgan.models.stu.STU` with each gate convolution split by input (eqs. 3, 4,
    6 are linear in ``[f, ŝ]`` and ``[f, s]``): ``W * [f, ŝ] = W_f * f + W_ŝ * ŝ``.

    The three ``W_f * f`` (one convolution with 3·C outputs) depend only on the encoder
    feature, so they are computed once per feature tensor and reused while the same tensor
    comes back (many edits of one encoded image: they are kept, weakly referenced, as long
    as the feature tensor lives); ``W_r,ŝ`` and ``W_z,ŝ`` are one
    convolution with 2·C outputs. ``W_h`` and ``b_h`` are stored doubled: the convolutions
    give ``2h`` and ``tanh(h) = 2·σ(2h) − 1``. Same equations as the STU, same results up to
    rounding.
    """

    def __init__(self, stu: nn.Module, transform: nn.Module, gates: list[nn.Conv2d]):
        super().__init__()
        self.pass_state, self.inject = stu.pass_state, stu.inject
        self.transform = transform
        c = gates[0].out_channels
        c_f = gates[0].in_channels - c
        pad = _padding(gates[0])
        w = [g.weight.detach() for g in gates]  # W_r, W_z, W_h: (C, C_f + C, k, k)
        b = [g.bias.detach() if g.bias is not None else torch.zeros(c) for g in gates]
        w[2], b[2] = 2 * w[2], 2 * b[2]  # W_h, b_h doubled: tanh(h) = 2·σ(2h) − 1 (exact)
        self.feat_conv = _conv(torch.cat([wi[:, :c_f] for wi in w]), torch.cat(b), pad)
        self.state_conv = _conv(torch.cat([w[0][:, c_f:], w[1][:, c_f:]]), None, pad)
        self.hidden_conv = _conv(w[2][:, c_f:], None, pad)
        # feature tensor -> its three projections, kept while the feature lives (an Encoded)
        self._memo: WeakIdKeyDictionary = WeakIdKeyDictionary()

    def _feat_terms(self, feat: Tensor) -> Tensor:
        terms = self._memo.get(feat)
        if terms is None:  # (B, 3C, H, W): W_r,f * f + b_r, W_z,f * f + b_z, W_h,f * f + b_h
            terms = self._memo[feat] = self.feat_conv(feat)
        return terms

    def forward(self, feat: Tensor, state: Tensor, code: Tensor) -> tuple[Tensor, Tensor]:
        s_hat = self.transform(tile_concat([state], code if self.inject else None))  # eq. 2
        terms, c = self._feat_terms(feat), s_hat.shape[1]  # in place on fresh outputs below
        rz = torch.sigmoid_(self.state_conv(s_hat).add_(terms[:, : 2 * c]))  # eqs. 3, 4
        r, z = rz[:, :c], rz[:, c:]
        s = r * s_hat  # eq. 5
        sig = torch.sigmoid_(self.hidden_conv(s).add_(terms[:, 2 * c :]))  # eq. 6: f̂ = 2σ − 1
        # eq. 7: (1 − z)·ŝ + z·f̂ = ŝ + 2z·(σ − (1 + ŝ)/2)
        f_t = torch.addcmul(s_hat, z, sig.sub_(s_hat, alpha=0.5).sub_(0.5), value=2.0)
        if self.pass_state == "stu":
            return f_t, s
        if self.pass_state == "gru":
            return f_t, f_t
        return f_t, s_hat


def _split_stu(stu: nn.Module) -> SplitSTU | None:
    """The :class:`SplitSTU` of a (BatchNorm-folded) STU; None when a gate is not a plain
    convolution (InstanceNorm after it)."""
    gates = []
    for g in (stu.reset_gate, stu.update_gate, stu.hidden):
        if isinstance(g, nn.Sequential):  # [conv, Identity (folded BatchNorm)]
            if not all(isinstance(m, nn.Identity) for m in g[1:]):
                return None
            g = g[0]
        if not isinstance(g, nn.Conv2d) or not _plain_conv(g) or g.stride != (1, 1):
            return None
        gates.append(g)
    return SplitSTU(stu, stu.transform, gates)


def _fold(conv: nn.Module, bn: nn.BatchNorm2d) -> nn.Module:
    """``conv`` followed by eval-mode ``bn`` as one layer (``conv`` changed in place)."""
    s = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()
    inner = conv[-1] if isinstance(conv, nn.Sequential) else conv  # resize: [Upsample, Conv]
    w = inner.weight.detach()
    shape = (1, -1, 1, 1) if isinstance(inner, nn.ConvTranspose2d) else (-1, 1, 1, 1)
    bias = inner.bias.detach() if inner.bias is not None else torch.zeros_like(s)
    inner.weight = nn.Parameter(w * s.reshape(shape))
    inner.bias = nn.Parameter((bias - bn.running_mean) * s + bn.bias.detach())
    return conv


def _foldable(m: nn.Module) -> bool:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        return True
    return isinstance(m, nn.Sequential) and is_subpixel_upconv(m)


def fold_batchnorm_(model: nn.Module) -> None:
    """Fold every eval-mode BatchNorm2d that directly follows a convolution in an
    ``nn.Sequential`` into it, in place (the BatchNorm becomes ``nn.Identity``)."""
    for seq in list(model.modules()):
        if not isinstance(seq, nn.Sequential):
            continue
        for i in range(1, len(seq)):
            bn = seq[i]
            if isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats and _foldable(seq[i - 1]):
                seq[i - 1] = _fold(seq[i - 1], bn)
                seq[i] = nn.Identity()


def _replace(model: nn.Module, fn) -> None:
    """Replace each submodule ``m`` by ``fn(name, m)``, outermost first; where ``fn`` returns
    None, look inside ``m``."""
    for name, child in list(model.named_children()):
        new = fn(name, child)
        if new is not None:
            setattr(model, name, new)
        else:
            _replace(child, fn)


def fast_generator(G: nn.Module, int8: bool = True) -> nn.Module:
    """A copy of generator ``G`` (eval mode) rewritten for CPU inference (module docstring).

    The first and the last convolution (in registration order: the encoder's first layer,
    the decoder's last) stay float.

    Args:
        G: a :class:`~stgan.models.generator.Generator` (or any module built from the same
            blocks); left unchanged.
        int8: run the inner convolutions in int8 (needs :func:`int8_available`); False keeps
            float32 (BatchNorm folding, sub-pixel upsampling and split STU gates only).

    Returns:
        The rewritten copy, in eval mode and channels-last memory format; call it as ``G``.
    """
    fast = copy.deepcopy(G).float().eval().requires_grad_(False)
    fold_batchnorm_(fast)

    def rewrite(_name, m):
        if isinstance(m, STU):
            split = _split_stu(m)
            if split is not None:
                _replace(split, rewrite)  # its transform
                return split
            return None
        if is_subpixel_upconv(m):
            return SubpixelUpconv(m)
        if isinstance(m, nn.ConvTranspose2d):
            return _transpose_as_conv(m)
        return None

    _replace(fast, rewrite)
    fast = fast.to(memory_format=torch.channels_last)
    if int8:
        convs = [m for m in fast.modules() if isinstance(m, nn.Conv2d)]
        keep = {id(convs[0]), id(convs[-1])} if convs else set()  # image in, image out

        def quantize(_name, m):
            if isinstance(m, SubpixelUpconv) and id(m.conv) not in keep:
                return Int8SubpixelUpconv(m)
            if isinstance(m, nn.Conv2d) and id(m) not in keep and _plain_conv(m):
                return Int8Conv2d(m)
            return None

        _replace(fast, quantize)
        _fuse_relu_(fast)
        for m in getattr(fast, "encoder", nn.ModuleList()).modules():
            if isinstance(m, Int8Conv2d):  # its input is the previous layer's feature
                m.keep_input = True
    return fast


def _fuse_relu_(model: nn.Module) -> None:
    """Each ``nn.ReLU`` right after an int8 layer in an ``nn.Sequential`` (folded BatchNorms,
    now ``nn.Identity``, in between) runs as that layer's oneDNN post-op instead."""
    for seq in list(model.modules()):
        if not isinstance(seq, nn.Sequential):
            continue
        for i, m in enumerate(seq):
            if type(m) is not nn.ReLU:
                continue
            j = i - 1
            while j >= 0 and isinstance(seq[j], nn.Identity):
                j -= 1
            if j >= 0 and isinstance(seq[j], (Int8Conv2d, Int8SubpixelUpconv)):
                seq[j].relu = True
                seq[i] = nn.Identity()
