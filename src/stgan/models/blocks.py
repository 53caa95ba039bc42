"""Building blocks shared by the networks (reference §2, §3) and their TF-slim initialisation.

The official code is TensorFlow 1.x with TF-slim layers; the hyperparameters here reproduce
its defaults: LeakyReLU slope 0.2, BatchNorm decay 0.999 (PyTorch momentum 0.001) and epsilon
1e-3, instance norm epsilon 1e-6, Xavier-uniform weights and zero biases.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MAX_DIM = 1024  # channel cap of every layer (official ``MAX_DIM``)
LRELU_SLOPE = 0.2  # TF ``leaky_relu`` slope; PyTorch's default 0.01 is a known porting bug (§8)
BN_MOMENTUM = 0.001  # TF-slim batch_norm decay 0.999
BN_EPS = 1e-3  # TF-slim batch_norm epsilon
IN_EPS = 1e-6  # TF-slim instance_norm epsilon


def width(base: int, i: int) -> int:
    """Channels of layer ``i`` of a stack that doubles ``base`` per layer, capped at 1024."""
    return min(base * 2**i, MAX_DIM)


def batch_norm(channels: int) -> nn.BatchNorm2d:
    """BatchNorm with the TF-slim hyperparameters of the official code (reference §2)."""
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM, affine=True)


def conv_bn_lrelu(in_channels: int, out_channels: int) -> nn.Sequential:
    """Encoder layer: Conv 4×4 s2 (no bias) + BatchNorm + LeakyReLU(0.2); halves H and W."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False),
        batch_norm(out_channels),
        nn.LeakyReLU(LRELU_SLOPE),
    )


UPSAMPLES = ("deconv", "resize")


def upconv(in_channels: int, out_channels: int, upsample: str = "deconv", bias: bool = False):
    """A layer that doubles H and W: the paper's transposed Conv 4×4 s2 (``deconv``), or
    nearest-neighbour resize + Conv 3×3 (``resize``, Odena et al. 2016), whose every output
    pixel sees the same number of weights, so it cannot draw the checkerboard of uneven
    kernel overlap. ``resize`` is a named switch beyond the paper (docs/recipes.md)."""
    if upsample == "deconv":
        return nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=bias)
    if upsample == "resize":
        return ResizeConv(in_channels, out_channels, bias)
    raise ValueError(f"upsample must be one of {UPSAMPLES}, got {upsample!r}")


class ResizeConv(nn.Sequential):
    """Nearest-neighbour resize ×2 then Conv 3×3 (padding 1), kept as ``[Upsample, Conv2d]``
    (its parameters and state-dict keys), but run as the transposed Conv 4×4 s2 (padding 1)
    that computes the same function: 2.25× fewer multiply-adds than convolving the upsampled
    map (a G iteration of tiny at 64 px: 352–358 CPU ms against 500–538 ms for the
    convolution on the upsampled map, docs/recipes.md fifth round).

    Along each axis, output pixel 2m sees ``w0·x[m−1] + (w1+w2)·x[m]`` and 2m+1 sees
    ``(w0+w1)·x[m] + w2·x[m+1]`` (zero padding gives the missing x at the borders), which is
    the transposed convolution's 4-tap kernel ``[w2, w1+w2, w0+w1, w0]`` (:func:`resize_kernel`).
    Exact in real arithmetic; in floats the tap sums round differently (~1e-7 relative)."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = False):
        super().__init__(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=bias),
        )

    def forward(self, x: Tensor) -> Tensor:
        conv = self[1]
        return F.conv_transpose2d(x, resize_kernel(conv.weight), conv.bias, stride=2, padding=1)


def resize_kernel(w: Tensor) -> Tensor:
    """The transposed Conv 4×4 s2 weight (in, out, 4, 4) equal to nearest ×2 + the Conv 3×3
    weight ``w`` (out, in, 3, 3): each axis's taps ``[w0, w1, w2]`` become
    ``[w2, w1+w2, w0+w1, w0]`` (element-wise sums: no autocast rounding beyond the conv's)."""

    def four(t: Tensor, dim: int) -> Tensor:
        w0, w1, w2 = t.unbind(dim)
        return torch.stack([w2, w1 + w2, w0 + w1, w0], dim)

    return four(four(w, 2), 3).transpose(0, 1)


def deconv_bn_relu(in_channels: int, out_channels: int, upsample: str = "deconv") -> nn.Sequential:
    """Decoder layer: transposed Conv 4×4 s2 (no bias) + BatchNorm + ReLU; doubles H and W."""
    return nn.Sequential(
        upconv(in_channels, out_channels, upsample),
        batch_norm(out_channels),
        nn.ReLU(),
    )


def conv_in_lrelu(in_channels: int, out_channels: int) -> nn.Sequential:
    """Discriminator layer: Conv 4×4 s2 (no bias) + InstanceNorm + LeakyReLU(0.2).

    The instance norm keeps no running statistics, so it normalises each sample by its own
    statistics in training and in evaluation alike (reference §3, §8).
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False),
        nn.InstanceNorm2d(out_channels, eps=IN_EPS, affine=True, track_running_stats=False),
        nn.LeakyReLU(LRELU_SLOPE),
    )


def fc_head(in_features: int, hidden: int, out_features: int) -> nn.Sequential:
    """Discriminator head: Linear + LeakyReLU(0.2) + Linear (reference §3)."""
    return nn.Sequential(
        nn.Linear(in_features, hidden),
        nn.LeakyReLU(LRELU_SLOPE),
        nn.Linear(hidden, out_features),
    )


def tile_concat(feats: list[Tensor], code: Tensor | None = None) -> Tensor:
    """Concatenate feature maps along channels, then ``code`` tiled to their spatial size.

    Args:
        feats: feature maps of equal spatial size, each ``(B, C_i, H, W)``.
        code: attribute code ``(B, n)`` or ``None``.

    Returns:
        ``(B, sum(C_i) [+ n], H, W)``, in the order ``[*feats, code]``.
    """
    if code is not None:
        feats = [*feats, _tile(code, feats[0])]
    return torch.cat(feats, dim=1)


@torch.fx.wrap  # a leaf for fx tracing: the branch is on the memory format, not on data
def _tile(code: Tensor, like: Tensor) -> Tensor:
    """``code`` (B, n) tiled to (B, n, H, W) like ``like``; channels-last when ``like`` is
    (``torch.cat`` keeps channels-last only if all its inputs are: 10× faster than NCHW)."""
    tiled = code[:, :, None, None].expand(-1, -1, *like.shape[-2:])
    if like.is_contiguous(memory_format=torch.channels_last) and not like.is_contiguous():
        return tiled.contiguous(memory_format=torch.channels_last)
    return tiled


@torch.no_grad()
def init_weights_(module: nn.Module) -> None:
    """TF-slim initialisation in place: Xavier-uniform weights and zero biases for every
    convolution, transposed convolution and linear layer; norm layers at weight 1, bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
