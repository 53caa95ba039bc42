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

No normalisation; every convolution has a bias.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from stgan.models.blocks import tile_concat

STU_STATES = ("stu", "gru", "direct")


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
    """

    def __init__(
        self,
        state_channels: int,
        feat_channels: int,
        n_attrs: int,
        kernel_size: int = 3,
        pass_state: str = "stu",
    ) -> None:
        super().__init__()
        if pass_state not in STU_STATES:
            raise ValueError(f"pass_state must be one of {STU_STATES}, got {pass_state!r}")
        c = feat_channels
        self.pass_state = pass_state
        self.transform = nn.ConvTranspose2d(state_channels + n_attrs, c, 4, stride=2, padding=1)
        self.reset_gate = nn.Conv2d(2 * c, c, kernel_size, padding="same")  # W_r
        self.update_gate = nn.Conv2d(2 * c, c, kernel_size, padding="same")  # W_z
        self.hidden = nn.Conv2d(2 * c, c, kernel_size, padding="same")  # W_h

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
        s_hat = self.transform(tile_concat([state], code))  # (B, C, H, W)  eq. 2
        gate_in = torch.cat([feat, s_hat], dim=1)  # (B, 2C, H, W)
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
