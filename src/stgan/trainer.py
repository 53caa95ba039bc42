"""The STGAN training loop (reference §4), short enough to read as the algorithm.

    for every G iteration:
        lr ← base lr, ÷10 from the decay epoch on
        repeat n_critic (5) times, each on a fresh batch (x, a_s):       d_step
            a_t ← a permutation of the batch's label rows
            L_D = −(E D(x) − E D(G(x, a_t − a_s))) + 10·GP + 1·BCE(D_att(x), a_s)
        on a fresh batch:                                                  g_step
            L_G = −E D(G(x, Δ)) + 10·BCE(D_att(G(x, Δ)), a_t) + 100·‖x − G(x, 0)‖₁

Steps stay on the device: losses are tensors, and the host reads them only every
``log_every`` iterations, so a whole iteration can later be captured on a GPU.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from stgan import checkpoint, losses
from stgan.attributes import encode, generator_code, permute_targets
from stgan.config import Config
from stgan.data.stream import batch_stream, to_model_input
from stgan.editing import sample_grid
from stgan.imageio import write_png
from stgan.scalars import ScalarLog


@dataclass
class RunState:
    """What a run has done so far."""

    step: int = 0  # G iterations completed


class Trainer:
    """Owns G, D, their optimisers and the schedule of one run."""

    def __init__(self, cfg: Config, G: nn.Module, D: nn.Module, attr_names, device):
        self.cfg, self.G, self.D, self.device = cfg, G.to(device), D.to(device), device
        self.attr_names = tuple(attr_names)
        t = cfg.train
        self.opt_G = torch.optim.Adam(G.parameters(), lr=t.lr, betas=(t.beta1, t.beta2))
        self.opt_D = torch.optim.Adam(D.parameters(), lr=t.lr, betas=(t.beta1, t.beta2))
        self.state = RunState()

    # --- the algorithm ------------------------------------------------------------------
    def code(self, a: Tensor, b: Tensor) -> Tensor:
        """Generator input for source labels ``a`` and target labels ``b`` (both 0/1)."""
        thres = self.cfg.train.thres_int
        return generator_code(a, encode(b, thres), self.cfg.model.label, thres)

    def d_step(self, x_real: Tensor, a: Tensor) -> dict[str, Tensor]:
        """One critic update on a batch (B, 3, H, W) with its 0/1 labels (B, n)."""
        t, B = self.cfg.train, x_real.shape[0]
        b = permute_targets(a)
        with torch.no_grad():  # G stays in training mode: its BN statistics move, as official
            x_fake = self.G(x_real, self.code(a, b))
        alpha = torch.rand(B, 1, 1, 1, device=x_real.device)
        x_hat = losses.interpolate(x_real, x_fake, alpha).requires_grad_(True)
        # one D pass over real, fake and interpolates: InstanceNorm is per instance, so this
        # equals three separate passes
        adv, att = self.D(torch.cat([x_real, x_fake, x_hat]))
        real_adv, fake_adv, hat_adv = adv.split(B)
        wgan = losses.wgan_d(real_adv, fake_adv)
        gp = losses.gradient_penalty(hat_adv, x_hat)
        att_loss = losses.attribute_bce(att[:B], a)
        loss = wgan + t.w_gp * gp + t.w_att_d * att_loss
        self.opt_D.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_D.step()
        return {"D/loss": loss, "D/wdist": -wgan, "D/gp": gp, "D/att": att_loss}

    def g_step(self, x_real: Tensor, a: Tensor) -> dict[str, Tensor]:
        """One generator update on a fresh batch."""
        t = self.cfg.train
        b = permute_targets(a)
        feats = self.G.encode(x_real)  # the encoder runs once; the decoder twice, as official
        x_fake = self.G.decode(feats, self.code(a, b))
        x_rec = self.G.decode(feats, self.code(a, a))
        self.D.requires_grad_(False)
        fake_adv, fake_att = self.D(x_fake)
        self.D.requires_grad_(True)
        adv = losses.wgan_g(fake_adv)
        att_loss = losses.attribute_bce(fake_att, b)
        rec = losses.reconstruction_l1(x_real, x_rec)
        loss = adv + t.w_att_g * att_loss + t.w_rec * rec
        self.opt_G.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_G.step()
        return {"G/loss": loss, "G/adv": adv, "G/att": att_loss, "G/rec": rec}

    def lr_at(self, step: int, iters_per_epoch: int) -> float:
        """Learning rate of iteration ``step``: ÷10 from ``decay_epoch`` on (reference §4)."""
        t = self.cfg.train
        return t.lr * (0.1 if step // iters_per_epoch >= t.decay_epoch else 1.0)

    def set_lr(self, lr: float) -> None:
        for opt in (self.opt_G, self.opt_D):
            for group in opt.param_groups:
                group["lr"] = lr

    # --- the run ------------------------------------------------------------------------
    def fit(
        self,
        train_set,
        run_dir: str | Path,
        sample_batch: tuple[Tensor, Tensor],
        max_steps: int | None = None,
        max_minutes: float | None = None,
        progress: Callable[[int, int], object] | None = None,
    ) -> int:
        """Train from ``self.state.step`` until the schedule, ``max_steps`` or the time budget
        ends; write logs, sample grids and checkpoints into ``run_dir``. Returns the step."""
        t = self.cfg.train
        per_iter = t.batch_size * (t.n_critic + 1)
        iters_per_epoch = max(1, len(train_set) // per_iter)
        total = t.epochs * iters_per_epoch
        if max_steps is not None:
            total = min(total, max_steps)
        start = self.state.step
        cuda = self.device.type == "cuda"
        batches = batch_stream(
            train_set,
            t.batch_size,
            t.seed,
            start=start * (t.n_critic + 1),
            num_workers=self.cfg.data.num_workers,
            pin_memory=cuda,
        )
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        log = ScalarLog(run_dir, start)
        bar = progress(start, total) if progress else None
        t0 = time.monotonic()
        last_saved = start
        try:
            for step in range(start, total):
                lr = self.lr_at(step, iters_per_epoch)
                self.set_lr(lr)
                for _ in range(t.n_critic):
                    d_logs = self.d_step(*self._to_device(next(batches)))
                g_logs = self.g_step(*self._to_device(next(batches)))
                self.state.step = done = step + 1
                if done % t.log_every == 0 or done == total:
                    scalars = self._host({**d_logs, **g_logs})
                    log.write(done, {**scalars, "lr": lr, "epoch": done / iters_per_epoch})
                    if bar is not None:
                        bar.set_postfix(
                            {
                                k: f"{v:.3g}"
                                for k, v in scalars.items()
                                if k in ("D/wdist", "D/gp", "G/att", "G/rec")
                            }
                        )
                if bar is not None:
                    bar.update(1)
                if done % t.sample_every == 0:
                    self.save_samples(run_dir, sample_batch)
                if done % t.ckpt_every == 0:
                    self.save_checkpoint(run_dir)
                    last_saved = done
                if max_minutes is not None and time.monotonic() - t0 > 60.0 * max_minutes:
                    break
        finally:
            log.close()
            if bar is not None:
                bar.close()
        if self.state.step != last_saved:
            self.save_checkpoint(run_dir)
        if self.state.step % t.sample_every != 0:
            self.save_samples(run_dir, sample_batch)
        return self.state.step

    def _to_device(self, batch) -> tuple[Tensor, Tensor]:
        x, a = batch
        return to_model_input(x, self.device), a.to(self.device, non_blocking=True)

    @staticmethod
    def _host(scalars: dict[str, Tensor]) -> dict[str, float]:
        """The one host synchronisation: every ``log_every`` iterations."""
        values = torch.stack([v.detach().float() for v in scalars.values()]).tolist()
        return dict(zip(scalars, values, strict=True))

    # --- files --------------------------------------------------------------------------
    def save_samples(self, run_dir: str | Path, sample_batch: tuple[Tensor, Tensor]) -> Path:
        """Write ``samples/step_XXXXXXXX.png``: input | reconstruction | each attribute flipped."""
        x, a = (v.to(self.device) for v in sample_batch)
        t = self.cfg.train
        self.G.eval()
        grid = sample_grid(
            self.G, x, a, self.attr_names, self.cfg.model.label, t.thres_int, t.test_int
        )
        self.G.train()
        path = Path(run_dir) / "samples" / f"step_{self.state.step:08d}.png"
        write_png(path, grid)
        return path

    def save_checkpoint(self, run_dir: str | Path) -> Path:
        path = checkpoint.ckpt_path(run_dir, self.state.step)
        payload = checkpoint.make_payload(
            self.state.step,
            self.cfg.to_dict(),
            self.attr_names,
            self.G,
            self.D,
            self.opt_G,
            self.opt_D,
            checkpoint.rng_state(),
        )
        checkpoint.save(path, payload)
        checkpoint.prune(run_dir, self.cfg.train.keep_ckpts)
        return path

    def load_checkpoint(self, ckpt: dict) -> None:
        """Restore G, D, both optimisers, the step and the RNG states (exact resume)."""
        checkpoint.load_state(self.G, ckpt["G"], "generator", ckpt["path"])
        checkpoint.load_state(self.D, ckpt["D"], "discriminator", ckpt["path"])
        self.opt_G.load_state_dict(ckpt["opt_G"])
        self.opt_D.load_state_dict(ckpt["opt_D"])
        checkpoint.set_rng_state(ckpt["rng"])
        self.state.step = int(ckpt["step"])
