"""Selective Transfer Unit (paper §3.2, eqs. 2–7; reference §2).

A GRU-like cell on one skip connection. From the encoder feature ``f^l`` of its resolution,
the state ``s^{l+1}`` coming from the deeper layer and the attribute code, it decides what
of ``f^l`` the decoder receives and how to change it:

    ŝ^{l+1} = W_t *ᵀ [s^{l+1}, att]                  (2)  transposed conv 4×4 s2
    r^l     = σ(W_r * [f^l, ŝ^{l+1}])                (3)
    z^l     = σ(W_z * [f^l, ŝ^{l+1}])                (4)
    s^l     = r^l ∘ ŝ^{l+1}                           (5)
    f̂_t^l   = tanh(W_h * [f^l, s^l])                 (6)
    f_t^l   = (1 − z^l) ∘ ŝ^{l+1} + z^l ∘ f̂_t^l       (7)

No normalisation and every convolution has a bias, as in the paper. The official code's
options (train.py) are arguments here: ``out_channels`` (``--stu_dim``: the unit's width may
differ from its feature's), ``inject`` (``--stu_inject_layers``: whether the incoming state
carries the tiled code) and ``norm`` (``--stu_norm``: BatchNorm or InstanceNorm after the gate
convolutions W_r, W_z, W_h, which then have no bias, as TF-slim drops it under a normaliser).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from stgan.models.blocks import IN_EPS, batch_norm, tile_concat

STU_STATES = ("stu", "gru", "direct")
STU_NORMS = ("none", "bn", "in")


def _gate(in_channels: int, out_channels: int, kernel_size: int, norm: str) -> nn.Module:
    """A gate convolution ('same' padding): with a bias, or without one and followed by
    BatchNorm (TF-slim's) or affine InstanceNorm (eps 1e-6) for ``norm`` = bn | in."""
    if norm == "none":
        return nn.Conv2d(in_channels, out_channels, kernel_size, padding="same")
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding="same", bias=False)
    if norm == "bn":
        return nn.Sequential(conv, batch_norm(out_channels))
    if norm == "in":
        inorm = nn.InstanceNorm2d(out_channels, eps=IN_EPS, affine=True)
        return nn.Sequential(conv, inorm)
    raise ValueError(f"norm must be one of {STU_NORMS}, got {norm!r}")


class STU(nn.Module):
    """One Selective Transfer Unit.

    Args:
        state_channels: channels of the incoming state ``s^{l+1}`` (without the code).
        feat_channels: channels of the encoder feature ``f^l``; also of the output and state.
        n_attrs: length of the attribute code, tiled and appended to the state (eq. 2).
        kernel_size: kernel of the gate convolutions W_r, W_z, W_h ('same' padding).
        pass_state: the state handed to the next, shallower unit, as in the official code:
            ``"stu"`` s^l (eq. 5, the paper), ``"gru"`` f_t^l (a plain ConvGRU),
            ``"direct"`` ŝ^{l+1}.
        out_channels: channels of the unit (ŝ, gates, output, state); None = ``feat_channels``.
        inject: append the tiled code to the incoming state (eq. 2); the official code's
            ``--stu_inject_layers`` turns it off for the units after the first ones.
        norm: ``none`` (the paper) | ``bn`` | ``in`` after the gate convolutions.
    """

    def __init__(
        self,
        state_channels: int,
        feat_channels: int,
        n_attrs: int,
        kernel_size: int = 3,
        pass_state: str = "stu",
        out_channels: int | None = None,
        inject: bool = True,
        norm: str = "none",
    ) -> None:
        super().__init__()
        if pass_state not in STU_STATES:
            raise ValueError(f"pass_state must be one of {STU_STATES}, got {pass_state!r}")
        c = out_channels or feat_channels
        c_in = feat_channels + c  # [f^l, ŝ^{l+1}] and [f^l, s^l]
        self.pass_state = pass_state
        self.inject = inject
        c_state = state_channels + (n_attrs if inject else 0)
        self.transform = nn.ConvTranspose2d(c_state, c, 4, stride=2, padding=1)
        self.reset_gate = _gate(c_in, c, kernel_size, norm)  # W_r
        self.update_gate = _gate(c_in, c, kernel_size, norm)  # W_z
        self.hidden = _gate(c_in, c, kernel_size, norm)  # W_h

    def forward(self, feat: Tensor, state: Tensor, code: Tensor) -> tuple[Tensor, Tensor]:
        """Apply eqs. 2–7.

        Args:
            feat: encoder feature f^l, ``(B, C, H, W)``.
            state: state s^{l+1} from the deeper layer, ``(B, C_s, H/2, W/2)``.
            code: attribute code, ``(B, n_attrs)``.

        Returns:
            ``(f_t, next_state)``: the transferred feature for the decoder ``(B, C, H, W)``
            and the state for the next unit ``(B, C, H, W)`` chosen by ``pass_state``.
        """
        s_hat = self.transform(tile_concat([state], code if self.inject else None))  # eq. 2
        gate_in = torch.cat([feat, s_hat], dim=1)  # (B, C_f + C, H, W)
        r = torch.sigmoid(self.reset_gate(gate_in))  # eq. 3
        z = torch.sigmoid(self.update_gate(gate_in))  # eq. 4
        s = r * s_hat  # eq. 5
        f_hat = torch.tanh(self.hidden(torch.cat([feat, s], dim=1)))  # eq. 6
        f_t = (1 - z) * s_hat + z * f_hat  # eq. 7
        if self.pass_state == "stu":
            return f_t, s
        if self.pass_state == "gru":
            return f_t, f_t
        return f_t, s_hat
