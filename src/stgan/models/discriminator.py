"""The STGAN discriminator: a shared trunk with an adversarial and an attribute head
(paper §3.3; reference §3).

At 128 px: 5 × [Conv 4×4 s2 + InstanceNorm + LeakyReLU(0.2)], 3 → 64 → 128 → 256 → 512 → 1024
(4²), flattened to 16384; ``D_adv`` = Linear(16384, 1024) + LeakyReLU + Linear(1024, 1) (the
WGAN-GP critic), ``D_att`` = the same with 13 outputs (attribute logits).
"""

from __future__ import annotations

from torch import Tensor, nn

from stgan.models.blocks import conv_in_lrelu, fc_head, init_weights_, width


class Discriminator(nn.Module):
    """Critic and attribute classifier sharing one trunk.

    Args:
        n_attrs: attribute logits of ``D_att``.
        img_size: side of the square input images; a multiple of 2^n_layers, at least
            2^(n_layers+1) (instance norm needs more than one pixel).
        dim: channels of the first trunk layer; layer i has min(dim·2^i, 1024).
        fc_dim: hidden width of each head.
        n_layers: trunk depth (each layer halves H and W).

    Attributes:
        trunk: the convolutional layers.
        adv_head: ``D_adv``, one logit per image.
        att_head: ``D_att``, ``n_attrs`` logits per image.
    """

    def __init__(
        self,
        n_attrs: int,
        img_size: int = 128,
        dim: int = 64,
        fc_dim: int = 1024,
        n_layers: int = 5,
    ) -> None:
        super().__init__()
        side = img_size // 2**n_layers
        if side < 2 or side * 2**n_layers != img_size:
            # instance norm over a single pixel would erase the trunk's output
            raise ValueError(
                f"img_size ({img_size}) must be a multiple of 2**n_layers and at least "
                f"2**(n_layers+1) = {2 ** (n_layers + 1)}; use fewer layers for small images"
            )
        chans = [width(dim, i) for i in range(n_layers)]
        self.trunk = nn.Sequential(
            *(
                conv_in_lrelu(c_in, c_out)
                for c_in, c_out in zip([3, *chans[:-1]], chans, strict=True)
            )
        )
        flat = chans[-1] * side * side
        self.adv_head = fc_head(flat, fc_dim, 1)
        self.att_head = fc_head(flat, fc_dim, n_attrs)
        init_weights_(self)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Score images ``(B, 3, S, S)``.

        Returns:
            ``(adv, att)``: adversarial logits ``(B,)`` and attribute logits ``(B, n_attrs)``.
        """
        h = self.trunk(x).flatten(1)  # (B, C·s·s)
        return self.adv_head(h).squeeze(1), self.att_head(h)
