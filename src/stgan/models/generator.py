"""The STGAN generator: encoder, Selective Transfer Units, decoder (paper §3; reference §2).

With the defaults (128 px, 13 attributes) the layers are::

    encoder  3 → 64 → 128 → 256 → 512 → 1024            f1 (64²) … f5 (4²)
    STUs     on f4, f3, f2, f1 (8² … 64²), state chain starting at f5
    decoder  [f5, att] 1037 → 1024 (8²)
             [·, STU(f4), att] 1549 → 512 (16²)
             [·, STU(f3), att]  781 → 256 (32²)
             [·, STU(f2), att]  397 → 128 (64²)
             [·, STU(f1), att]  205 →   3 (128²), tanh

The switches of the official code select the paper's variants: ``shortcut_layers`` (0–4 skip
connections, deepest first), ``inject_layers`` (decoder layers followed by the tiled code),
``use_stu`` (STUs on the skips, or plain encoder features) and ``stu_state``. Its other
model options are arguments too, off by default (the paper's model): ``stu_dim``,
``stu_norm``, ``stu_inject_layers`` (see :class:`~stgan.models.stu.STU`), ``multi_inputs``
(encoder layers 1 … multi_inputs−1 also receive the input image at their resolution: TF1's
legacy ``resize_bicubic`` by an integer factor 2^i samples pixel (2^i·r, 2^i·c) exactly, so
it is plain subsampling) and ``one_more_conv`` (the last upsampling goes to dec_dim/4
channels + BatchNorm + ReLU, then a k×k stride-1 transposed convolution makes RGB).

Two switches go beyond the paper (off by default; docs/recipes.md): ``upsample="resize"``
(nearest resize + 3×3 convolutions instead of transposed ones) and ``mask``: the last layer
has a 4th channel whose sigmoid ``m`` blends the generated image with the input,
``y = m·G(x) + (1 − m)·x`` (as in GANimation and SaGAN), so pixels an edit has no reason to
touch can be left exactly as they were.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from stgan.models.blocks import (
    conv_bn_lrelu,
    deconv_bn_relu,
    init_weights_,
    tile_concat,
    upconv,
    width,
)
from stgan.models.stu import STU, STU_STATES

MASK_BIAS = -2.0  # initial bias of the mask logit (``mask`` only)


class Generator(nn.Module):
    """Encoder–decoder with optional STUs on the skip connections.

    Args:
        n_attrs: length of the attribute code (att_diff, or the target vector for AttGAN).
        enc_dim: channels of the first encoder layer; layer i has min(enc_dim·2^i, 1024).
        dec_dim: decoder hidden layer i has min(dec_dim·2^(dec_layers−1−i), 1024) channels.
        enc_layers: encoder depth (each layer halves H and W).
        dec_layers: decoder depth; must equal ``enc_layers``.
        shortcut_layers: skip connections, deepest first: decoder layer i < shortcut_layers
            receives the feature of its resolution (f4 for i = 0, f3 for i = 1, ...).
        inject_layers: decoder layers i < inject_layers are followed by the tiled code.
        use_stu: pass the skips through STUs (STGAN) instead of as plain features (AttGAN).
        stu_state: state passed between STUs: ``stu`` | ``gru`` | ``direct``.
        stu_kernel: kernel of the STU gate convolutions.
        upsample: ``deconv`` (the paper) or ``resize`` (nearest resize + 3×3 convolution).
        mask: blend output and input through a predicted mask (a 4th output channel).
        stu_dim: STU i (deepest first) has min(stu_dim·2^(enc_layers−2−i), 1024) channels;
            0 = the width of its encoder feature (the paper, and the official default 64).
        stu_norm: ``none`` | ``bn`` | ``in`` after the STU gate convolutions.
        stu_inject_layers: the state STU i hands to STU i+1 carries the tiled code for
            i < stu_inject_layers (the first STU's state always does).
        multi_inputs: encoder layers 1 … multi_inputs−1 also take the subsampled input.
        one_more_conv: 0, or the kernel (1 or 3) of an extra stride-1 last layer.

    Attributes:
        encoder: ``enc_layers`` blocks, shallowest first.
        stus: one STU per skip, deepest first (empty without ``use_stu``).
        decoder: ``dec_layers`` blocks; the last one outputs 3 channels with tanh.
    """

    def __init__(
        self,
        n_attrs: int,
        enc_dim: int = 64,
        dec_dim: int = 64,
        enc_layers: int = 5,
        dec_layers: int = 5,
        shortcut_layers: int = 4,
        inject_layers: int = 4,
        use_stu: bool = True,
        stu_state: str = "stu",
        stu_kernel: int = 3,
        upsample: str = "deconv",
        mask: bool = False,
        stu_dim: int = 0,
        stu_norm: str = "none",
        stu_inject_layers: int = 4,
        multi_inputs: int = 1,
        one_more_conv: int = 0,
    ) -> None:
        super().__init__()
        if dec_layers != enc_layers:
            raise ValueError(f"dec_layers ({dec_layers}) must equal enc_layers ({enc_layers})")
        if not 0 <= shortcut_layers < dec_layers:
            raise ValueError(f"shortcut_layers must be in 0..{dec_layers - 1}")
        if not 0 <= inject_layers < dec_layers:
            raise ValueError(f"inject_layers must be in 0..{dec_layers - 1}")
        if stu_state not in STU_STATES:
            raise ValueError(f"stu_state must be one of {STU_STATES}, got {stu_state!r}")
        self.n_attrs = n_attrs
        self.shortcut_layers = shortcut_layers
        self.inject_layers = inject_layers
        self.use_stu = use_stu
        self.mask = mask
        self.multi_inputs = multi_inputs

        enc_ch = [width(enc_dim, i) for i in range(enc_layers)]
        enc_in = [3, *enc_ch[:-1]]  # + 3 for the subsampled image of ``multi_inputs``
        enc_in = [c + 3 if 0 < i < multi_inputs else c for i, c in enumerate(enc_in)]
        self.encoder = nn.ModuleList(
            conv_bn_lrelu(c_in, c_out) for c_in, c_out in zip(enc_in, enc_ch, strict=True)
        )

        # skip i (deepest first) carries encoder feature enc_layers - 2 - i
        skip_ch = [enc_ch[-2 - i] for i in range(shortcut_layers)]
        self.stus = nn.ModuleList()
        if use_stu:
            c_state = enc_ch[-1]  # the chain starts at f5
            for i, c_feat in enumerate(skip_ch):
                c_out = width(stu_dim, enc_layers - 2 - i) if stu_dim else c_feat
                stu = STU(
                    c_state, c_feat, n_attrs, stu_kernel, stu_state, c_out,
                    inject=i <= stu_inject_layers, norm=stu_norm,
                )  # fmt: skip
                self.stus.append(stu)
                skip_ch[i] = c_state = c_out  # the decoder and the next STU get its width

        self.decoder = nn.ModuleList()
        c_in = enc_ch[-1] + n_attrs
        for i in range(dec_layers - 1):
            c_out = width(dec_dim, dec_layers - 1 - i)
            self.decoder.append(deconv_bn_relu(c_in, c_out, upsample))
            c_in = c_out
            if i < shortcut_layers:
                c_in += skip_ch[i]
            if i < inject_layers:
                c_in += n_attrs
        # the last layer: RGB through tanh (and with ``mask`` a 4th, mask-logit channel)
        c_rgb = 4 if mask else 3
        if one_more_conv:  # official ``one_more_conv``: upsample to dec_dim/4, then k×k
            k = one_more_conv
            last = nn.Sequential(
                deconv_bn_relu(c_in, dec_dim // 4, upsample),
                nn.ConvTranspose2d(dec_dim // 4, c_rgb, k, stride=1, padding=(k - 1) // 2),
            )
        else:
            last = upconv(c_in, c_rgb, upsample, True)
        self.decoder.append(nn.Sequential(last, nn.Tanh()))
        init_weights_(self)
        if mask:  # the mask starts nearly closed (sigmoid(−2) ≈ 0.12): an edit must open it
            nn.init.constant_(self._last_conv().bias[3], MASK_BIAS)

    def _last_conv(self) -> nn.Module:
        conv = self.decoder[-1][0]
        return conv[-1] if isinstance(conv, nn.Sequential) else conv  # resize: [Upsample, Conv]

    def encode(self, x: Tensor) -> list[Tensor]:
        """Encode images ``(B, 3, S, S)`` in [−1, 1] into ``[f1, ..., f5]``, shallowest first;
        ``f_i`` is ``(B, min(enc_dim·2^(i−1), 1024), S/2^i, S/2^i)``."""
        feats = []
        h = x
        for i, layer in enumerate(self.encoder):
            if 0 < i < self.multi_inputs:  # TF1 legacy bicubic ÷2^i = subsampling
                h = torch.cat([h, x[:, :, :: 2**i, :: 2**i]], dim=1)
            h = layer(h)
            feats.append(h)
        return feats

    def select(self, feats: list[Tensor], code: Tensor) -> list[Tensor]:
        """The skip features handed to the decoder, deepest first (f4's resolution first).

        With ``use_stu`` these are the STU outputs f_t (eq. 7), the state chain starting at
        f5; otherwise the encoder features themselves.
        """
        skips = [feats[-2 - i] for i in range(self.shortcut_layers)]
        if not self.use_stu:
            return skips
        out = []
        state = feats[-1]
        for stu, feat in zip(self.stus, skips, strict=True):
            f_t, state = stu(feat, state, code)
            out.append(f_t)
        return out

    def decode_raw(self, feats: list[Tensor], code: Tensor) -> tuple[Tensor, Tensor | None]:
        """Decode encoder features ``[f1, ..., f5]`` under ``code`` ``(B, n_attrs)``.

        Returns the generated images ``(B, 3, S, S)`` in [−1, 1] (tanh) and, with ``mask``,
        the mask ``(B, 1, S, S)`` in (0, 1) (else None), before any blending."""
        skips = self.select(feats, code)
        h = tile_concat([feats[-1]], code)  # (B, C5 + n_attrs, S/2^L, S/2^L) at the bottleneck
        for i, layer in enumerate(self.decoder[:-1]):
            h = layer(h)
            parts = [h]
            if i < self.shortcut_layers:
                parts.append(skips[i])
            h = tile_concat(parts, code if i < self.inject_layers else None)
        if not self.mask:
            return self.decoder[-1](h), None
        conv, tanh = self.decoder[-1]
        out = conv(h)  # (B, 4, S, S): RGB logits and the mask logit
        return tanh(out[:, :3]), torch.sigmoid(out[:, 3:])

    @staticmethod
    def blend(x: Tensor, raw: Tensor, m: Tensor | None) -> Tensor:
        """The output image: ``m·raw + (1 − m)·x`` with a mask, else ``raw``."""
        return raw if m is None else x + m * (raw - x)

    def decode(self, feats: list[Tensor], code: Tensor, x: Tensor | None = None) -> Tensor:
        """Decode encoder features under ``code`` into images ``(B, 3, S, S)`` in [−1, 1];
        with ``mask`` the input images ``x`` are needed for the blend."""
        raw, m = self.decode_raw(feats, code)
        if m is not None and x is None:
            raise ValueError("a masked generator needs the input images x to decode")
        return self.blend(x, raw, m)

    def forward(self, x: Tensor, code: Tensor) -> Tensor:
        """Edit images ``x`` ``(B, 3, S, S)`` in [−1, 1] under ``code`` ``(B, n_attrs)``
        (att_diff for STGAN, the target vector for AttGAN); returns ``(B, 3, S, S)``, tanh."""
        return self.decode(self.encode(x), code, x)

    def edit_mask(self, x: Tensor, code: Tensor) -> Tensor:
        """The mask ``(B, 1, S, S)`` of the edit of ``x`` under ``code`` (ones without
        ``mask``: every pixel comes from the generator)."""
        _, m = self.decode_raw(self.encode(x), code)
        return torch.ones_like(x[:, :1]) if m is None else m
