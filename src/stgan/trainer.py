"""The STGAN training loop (reference §4), short enough to read as the algorithm.

    for every G iteration:
        lr ← base lr, ÷10 from the decay epoch on
        repeat n_critic (5) times, each on a fresh batch (x, a_s):       d_step
            a_t ← a permutation of the batch's label rows
            L_D = −(E D(x) − E D(G(x, a_t − a_s))) + 10·GP + 1·BCE(D_att(x), a_s)
        on a fresh batch:                                                  g_step
            L_G = −E D(G(x, Δ)) + 10·BCE(D_att(G(x, Δ)), a_t) + 100·‖x − G(x, 0)‖₁

Steps stay on the device: losses are tensors, and the host reads them only every
``log_every`` iterations. One G iteration is one function, :meth:`Trainer.iteration`, run
eagerly or captured whole in a CUDA graph and replayed; bf16 autocast, channels-last and
fused Adam are switches of the same code (``train.amp`` …, :mod:`stgan.fastpath`).

The ``fast`` recipe (docs/recipes.md) changes only switches of this algorithm, each a config
field whose default is the paper: the adversarial loss (``adv_loss``), the penalty (WGAN-GP on
interpolates or R1 on real images, every ``penalty_every`` critic steps), ``n_critic``, D's
learning rate (``lr_d_scale``), a warm-up, a masked generator (``model.mask``: L_G adds
``w_mask``·mean mask, and the reconstruction term applies to the generator's raw output), and
what the outputs are made with: an EMA of G's weights and recalibrated BatchNorm statistics
(:mod:`stgan.ema`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from stgan import checkpoint, distributed, ema, fastpath, losses
from stgan.attributes import Coding, conflict_matrix, training_targets
from stgan.config import Config
from stgan.data.stream import batch_stream, to_model_input
from stgan.editing import sample_grid
from stgan.errors import UserError
from stgan.imageio import write_png
from stgan.scalars import ScalarLog


@dataclass
class RunState:
    """What a run has done so far."""

    step: int = 0  # G iterations completed


class Trainer:
    """Owns G, D, their optimisers and the schedule of one run."""

    def __init__(
        self, cfg: Config, G: nn.Module, D: nn.Module, attr_names, device,
        dist: distributed.Dist | None = None,
    ):  # fmt: skip
        self.cfg, self.G, self.D, self.device = cfg, G.to(device), D.to(device), device
        processes = 1 if dist is None else dist.world_size
        self.fast = fastpath.resolve(cfg.train, device, processes)  # how iterations run
        self.fast.prepare(self.G, self.D)
        self.attr_names = tuple(attr_names)
        self.coding = Coding.from_config(cfg)
        self.conflict = conflict_matrix(self.attr_names).to(device)
        t = cfg.train
        self.opt_G = self.fast.adam_for(G.parameters(), t.lr, (t.beta1, t.beta2))
        self.opt_D = self.fast.adam_for(D.parameters(), t.lr * t.lr_d_scale, (t.beta1, t.beta2))
        self.G_ema = ema.frozen_copy(self.G) if t.ema_decay > 0 else None
        self.ema_beta = self.fast.scalar(ema.ema_beta(t.ema_decay, 0))  # set by schedule()
        self.state = RunState()
        self._last_pen = torch.zeros((), device=device)  # the last penalty (lazy steps log it)
        self.run_iteration = self.fast.runner(self.iteration)  # eager, or replayed CUDA graphs
        self.bn_batches: list[tuple[Tensor, list[Tensor]]] = []  # for bn_eval = recalibrate
        self.dist = dist  # one of several torchrun processes (stgan.distributed); None: alone
        if dist is not None and t.sync_bn:  # same tensors: the optimiser and EMA stay valid
            distributed.convert_sync_batch_norm(self.G)

    # --- the algorithm ------------------------------------------------------------------
    def code(self, a: Tensor, b: Tensor) -> Tensor:
        """Generator input for source labels ``a`` and target labels ``b`` (both 0/1)."""
        return self.coding.code(a, self.coding.encode(b))

    def edit_code(self, a: Tensor, b: Tensor) -> Tensor:
        """The code of the edits G trains on: :meth:`code`, or with ``train.target_int =
        uniform`` the targets at a random strength, each entry ±U(0, 2·thres_int) (AttGAN's
        official train.py; STGAN's keeps ±thres_int; ``target_int_min`` raises the lower end
        to that share of 2·thres_int), so that the test strength (±test_int,
        att_diff ±1.5) lies inside the training range instead of beyond it; or with
        ``test`` every changed entry at that test strength (:meth:`Coding.encode_target`:
        att_diff ±1.5, kept ones 0), so that G trains on exactly the edits it is asked for
        at test time (docs/recipes.md: fixed-strength edits extrapolated to ±1.5 damage the
        pixels outside the attribute's region)."""
        if self.cfg.train.target_int == "fixed":
            return self.code(a, b)
        if self.cfg.train.target_int == "test":
            return self.coding.code(a, self.coding.encode_target(b, changed=a != b))
        lo = self.cfg.train.target_int_min
        u = lo + (1.0 - lo) * self.batch_rand(*b.shape, device=b.device)
        return self.coding.code(a, self.coding.encode(b) * 2.0 * u)

    def targets(self, a: Tensor) -> Tensor:
        """Target labels for a batch's source labels ``a``: a permutation of its rows (the
        paper), a ``flip_share`` of them single-attribute flips (:func:`training_targets`)."""
        t = self.cfg.train

        def draw(rows: Tensor) -> Tensor:
            return training_targets(rows, t.flip_share, self.conflict, self.fast.cuda_graph)

        # several processes: drawn over the global batch (alike on every rank), as one process
        return draw(a) if self.dist is None else self.dist.global_rows(draw, a)

    def d_step(self, x_real: Tensor, a: Tensor, penalize: bool = True) -> dict[str, Tensor]:
        """One critic update on a batch (B, 3, H, W) with its 0/1 labels (B, n); the penalty
        term only when ``penalize`` (lazy regularisation: every ``penalty_every`` steps).

        With ``train.w_att_fake`` (not the paper) D's attribute head also learns that G's
        edits carry their *source* labels: an adversarial attribute classifier, so that an
        edit counts only once D's head cannot tell it from a real face with the target
        attributes (the paper's head, trained on real faces only, is fooled by small
        perturbations G learns to draw: docs/recipes.md, fourth round)."""
        t, B = self.cfg.train, x_real.shape[0]
        b = self.targets(a)
        with self.fast.autocast():  # bf16 forward passes when train.amp is on
            with torch.no_grad():  # G stays in training mode: its BN statistics move, as official
                x_fake = self.G(x_real, self.edit_code(a, b))
            # one D pass over real, fake (and interpolates): InstanceNorm is per instance, so
            # this equals separate passes
            if penalize and t.penalty == "wgan-gp":
                alpha = self.batch_rand(B, 1, 1, 1, device=x_real.device)
                x_hat = losses.interpolate(x_real, x_fake, alpha).requires_grad_(True)
                adv, att = self.D(torch.cat([x_real, x_fake, x_hat]))
                real_adv, fake_adv, hat_adv = adv.split(B)
                pen = losses.gradient_penalty(hat_adv, x_hat)
            else:
                x_in = x_real.detach().requires_grad_(True) if penalize else x_real
                adv, att = self.D(torch.cat([x_in, x_fake]))
                real_adv, fake_adv = adv.split(B)
                pen = losses.r1_penalty(real_adv, x_in) if penalize else None
            loss = losses.adversarial_d(real_adv, fake_adv, t.adv_loss)
            if pen is not None:  # lazy: k times the weight every k-th step
                loss = loss + t.w_gp * t.penalty_every * pen
                self._last_pen.copy_(pen.detach())  # in place: a captured step writes it too
            att_loss = losses.attribute_bce(att[:B], a)
            loss = loss + t.w_att_d * att_loss
            if t.w_att_fake > 0:  # not the paper: an edit still shows its source attributes
                loss = loss + t.w_att_fake * losses.attribute_bce(att[B : 2 * B], a)
        self.opt_D.zero_grad(set_to_none=True)
        loss.backward()
        self._sync_grads(self.D)
        self.opt_D.step()
        wdist = real_adv.detach().float().mean() - fake_adv.detach().float().mean()
        return {"D/loss": loss, "D/wdist": wdist, "D/gp": self._last_pen, "D/att": att_loss}

    def g_step(self, x_real: Tensor, a: Tensor) -> dict[str, Tensor]:
        """One generator update on a fresh batch."""
        t = self.cfg.train
        b = self.targets(a)
        with self.fast.autocast():  # bf16 forward passes when train.amp is on
            feats = self.G.encode(x_real)  # the encoder runs once; the decoder twice (official)
            raw_fake, m_fake = self.G.decode_raw(feats, self.edit_code(a, b))
            x_fake = self.G.blend(x_real, raw_fake, m_fake)
            x_rec, m_rec = self.G.decode_raw(feats, self.code(a, a))  # raw: no blend to hide in
            self.D.requires_grad_(False)
            fake_adv, fake_att = self.D(x_fake)
            self.D.requires_grad_(True)
            adv = losses.adversarial_g(fake_adv, t.adv_loss)
            att_loss = losses.attribute_bce(fake_att, b)
            rec = losses.reconstruction_l1(x_real, x_rec)
            loss = adv + t.w_att_g * att_loss + t.w_rec * rec
            logs = {"G/loss": loss, "G/adv": adv, "G/att": att_loss, "G/rec": rec}
            if m_fake is not None:  # a masked G: the mask's mean (sparsity), edits and zero code
                mask = 0.5 * (fastpath.widen(m_fake).mean() + fastpath.widen(m_rec).mean())
                loss = loss + t.w_mask * mask
                logs.update({"G/loss": loss, "G/mask": mask})
        self.opt_G.zero_grad(set_to_none=True)
        loss.backward()
        self._sync_grads(self.G)
        self.opt_G.step()
        if self.G_ema is not None:
            ema.ema_update(self.G_ema, self.G, self.ema_beta)
        return logs

    def iteration(
        self, batches: list[tuple[Tensor, Tensor]], penalize: tuple[bool, ...]
    ) -> dict[str, Tensor]:
        """One G iteration on ``n_critic + 1`` fresh batches: a critic step on each but the
        last (with the penalty where ``penalize`` says), then a generator step on the last.
        The one function that runs eagerly and is captured in CUDA graphs (``run_iteration``)."""
        *critic, last = batches
        for (x, a), pen in zip(critic, penalize, strict=True):
            d_logs = self.d_step(x, a, penalize=pen)
        return {**d_logs, **self.g_step(*last)}

    def penalized(self, step: int) -> tuple[bool, ...]:
        """Which critic steps of iteration ``step`` take the penalty (lazy regularisation:
        every ``penalty_every``-th critic step of the run; all of them in the paper)."""
        t = self.cfg.train
        return tuple((step * t.n_critic + i) % t.penalty_every == 0 for i in range(t.n_critic))

    # --- several processes (torchrun; stgan.distributed) ---------------------------------
    @property
    def is_main(self) -> bool:
        """Whether this process writes outputs: the only one, or rank 0 of several."""
        return self.dist is None or self.dist.is_main

    def _sync_grads(self, module: nn.Module) -> None:
        """Several processes: ``module``'s gradients averaged over ranks (and G's BatchNorm
        running statistics when each rank normalises with its own, so they stay equal)."""
        if self.dist is not None:
            per_rank_bn = module is self.G and not self.cfg.train.sync_bn
            self.dist.sync_gradients(module, buffers=per_rank_bn)

    def batch_rand(self, B: int, *shape: int, device: torch.device) -> Tensor:
        """U(0, 1) of shape (B, *shape) for a batch of B; with several processes this rank's
        rows of one draw for the global batch (alike on every rank), as one process draws it."""
        if self.dist is None:
            return torch.rand(B, *shape, device=device)
        return self.dist.own_rows(torch.rand(B * self.dist.world_size, *shape, device=device))

    def lr_at(self, step: int, iters_per_epoch: int) -> float:
        """Learning rate of iteration ``step``: ÷10 per ``decay_epoch`` epochs, as the official
        train.py's ``lr / 10 ** (epoch // init_epoch)`` (reference §4; for the paper's 200
        epochs one division at epoch 100), times a linear warm-up over the first ``warmup``
        iterations (0 in the paper)."""
        t = self.cfg.train
        lr = t.lr / 10 ** (step // iters_per_epoch // t.decay_epoch)
        return lr * min(1.0, (step + 1) / t.warmup) if t.warmup else lr

    def set_lr(self, lr: float) -> None:
        """G's learning rate ``lr``, D's ``lr × lr_d_scale``: floats, or on the graph path
        device tensors written in place (a replayed iteration reads them)."""
        for opt, scale in ((self.opt_G, 1.0), (self.opt_D, self.cfg.train.lr_d_scale)):
            for group in opt.param_groups:
                group["lr"] = self.fast.assign(group["lr"], lr * scale)

    def schedule(self, step: int, iters_per_epoch: int) -> float:
        """Set iteration ``step``'s learning rates and EMA decay; returns the lr."""
        lr = self.lr_at(step, iters_per_epoch)
        self.set_lr(lr)
        beta = ema.ema_beta(self.cfg.train.ema_decay, step)
        self.ema_beta = self.fast.assign(self.ema_beta, beta)
        return lr

    # --- the run ------------------------------------------------------------------------
    def fit(
        self,
        train_set,
        run_dir: str | Path,
        sample_batch: tuple[Tensor, Tensor],
        max_steps: int | None = None,
        max_minutes: float | None = None,
        progress: Callable[[int, int], object] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> int:
        """Train from ``self.state.step`` until the schedule, ``max_steps``, the time budget
        or ``should_stop()`` (asked after every iteration, e.g. set by a signal) ends; write
        logs, sample grids and checkpoints into ``run_dir``. Returns the step.

        Raises:
            UserError: a logged loss is not finite (the run diverged; nothing is saved).
        """
        t = self.cfg.train
        per_iter = t.batch_size * (t.n_critic + 1)
        iters_per_epoch = max(1, len(train_set) // per_iter)
        total = t.epochs * iters_per_epoch
        if max_steps is not None:
            total = min(total, max_steps)
        start = self.state.step
        if t.bn_eval == "recalibrate" and not self.bn_batches and self.is_main:  # for outputs
            self.bn_batches = self._recalibration_batches(train_set)
        cuda = self.device.type == "cuda"
        batches = batch_stream(
            train_set,
            t.batch_size,
            t.seed,
            start=start * (t.n_critic + 1),
            num_workers=self.cfg.data.num_workers,
            pin_memory=cuda,
            rank=0 if self.dist is None else self.dist.rank,  # its share of each global batch
            world_size=1 if self.dist is None else self.dist.world_size,
        )
        if self.is_main:  # one writer: rank 0
            Path(run_dir).mkdir(parents=True, exist_ok=True)
        log = ScalarLog(run_dir, start) if self.is_main else distributed.NullLog()
        bar = progress(start, total) if progress else None
        t0 = time.monotonic()
        last_saved = start
        try:
            for step in range(start, total):
                lr = self.schedule(step, iters_per_epoch)
                fresh = [self._to_device(next(batches)) for _ in range(t.n_critic + 1)]
                logs = self.run_iteration(fresh, self.penalized(step))  # n_critic d, one g
                self.state.step = done = step + 1
                if done % t.log_every == 0 or done == total:
                    if self.dist is not None:  # the global batch's means
                        logs = self.dist.mean_scalars(logs)
                    scalars = self._host(logs)
                    log.write(done, {**scalars, "lr": lr, "epoch": done / iters_per_epoch})
                    bad = [k for k, v in scalars.items() if not math.isfinite(v)]
                    if bad:
                        raise UserError(
                            f"training diverged at step {done}: {bad[0]} = {scalars[bad[0]]} "
                            "(not finite); nothing was saved for it. Lower train.lr or resume "
                            "from an earlier checkpoint"
                        )
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
                if self._write_outputs(
                    run_dir, sample_batch, done % t.sample_every == 0, done % t.ckpt_every == 0
                ):
                    last_saved = done
                if max_minutes is not None and time.monotonic() - t0 > 60.0 * max_minutes:
                    break
                if should_stop is not None and should_stop():
                    break
        finally:
            log.close()
            if bar is not None:
                bar.close()
        step = self.state.step
        self._write_outputs(run_dir, sample_batch, step % t.sample_every != 0, step != last_saved)
        return step

    def _write_outputs(self, run_dir, sample_batch, samples: bool, ckpt: bool) -> bool:
        """Write the due sample grid and checkpoint, both from one output generator (its
        BatchNorm recalibration runs once); returns whether a checkpoint was written."""
        if not self.is_main:  # rank 0 writes; the others go on to the next iteration
            return ckpt
        if samples or ckpt:
            G_out = self.output_generator()
            if samples:
                self.save_samples(run_dir, sample_batch, G_out)
            if ckpt:
                self.save_checkpoint(run_dir, G_out)
        return ckpt

    def _to_device(self, batch) -> tuple[Tensor, Tensor]:
        x, a = batch
        return to_model_input(x, self.device), a.to(self.device, non_blocking=True)

    @staticmethod
    def _host(scalars: dict[str, Tensor]) -> dict[str, float]:
        """The one host synchronisation: every ``log_every`` iterations."""
        values = torch.stack([v.detach().float() for v in scalars.values()]).tolist()
        return dict(zip(scalars, values, strict=True))

    # --- outputs: samples, checkpoints ---------------------------------------------------
    def _recalibration_batches(self, train_set) -> list[tuple[Tensor, list[Tensor]]]:
        """A fixed set of ``bn_batches`` training batches with their edit and zero codes,
        drawn from a generator of their own (the training RNG and stream are untouched)."""
        t = self.cfg.train
        g = torch.Generator().manual_seed(t.seed + 7919)
        n = min(len(train_set), t.bn_batches * t.batch_size)
        idx = torch.randperm(len(train_set), generator=g)[:n].tolist()
        out = []
        for k in range(0, n - t.batch_size + 1, t.batch_size):
            xs, ys = zip(*(train_set[i] for i in idx[k : k + t.batch_size]), strict=True)
            a = torch.stack(ys)
            b = a[torch.randperm(len(a), generator=g)]
            x = torch.stack(xs).to(self.device)
            a, b = a.to(self.device), b.to(self.device)
            out.append((x, [self.code(a, b), self.code(a, a)]))
        return out

    def output_generator(self) -> nn.Module:
        """The generator that samples, checkpoints and edits use: G, or its EMA, with
        BatchNorm statistics recalibrated when ``bn_eval = recalibrate`` (a copy: the
        training G is never touched, so resuming stays exact)."""
        G = self.G_ema if self.G_ema is not None else self.G
        if self.cfg.train.bn_eval == "recalibrate" and self.bn_batches:
            G = ema.frozen_copy(G) if self.dist is None else distributed.local_copy(G)
            ema.recalibrate_bn(G, self.bn_batches)
        return G

    def save_samples(
        self, run_dir: str | Path, sample_batch: tuple[Tensor, Tensor], G: nn.Module | None = None
    ) -> Path:
        """Write ``samples/step_XXXXXXXX.png``: input | reconstruction | each attribute flipped
        (with a masked G, each row is followed by a row of the masks)."""
        x, a = (v.to(self.device) for v in sample_batch)
        G = self.output_generator() if G is None else G
        was_training = G.training
        G.eval()
        grid = sample_grid(G, x, a, self.attr_names, self.coding)
        G.train(was_training)
        path = Path(run_dir) / "samples" / f"step_{self.state.step:08d}.png"
        write_png(path, grid)
        return path

    def save_checkpoint(self, run_dir: str | Path, G_out: nn.Module | None = None) -> Path:
        """Write a checkpoint; with the fast recipe's switches it also holds the EMA weights
        (``G_ema``, to resume) and the output generator's BatchNorm statistics (``bn_eval``)."""
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
        if self.G_ema is not None:
            payload["G_ema"] = checkpoint.cpu_state(self.G_ema.state_dict())
        if self.cfg.train.bn_eval == "recalibrate" and self.bn_batches:
            G_out = self.output_generator() if G_out is None else G_out
            payload["bn_eval"] = ema.bn_state(G_out)
        checkpoint.save(path, payload)
        checkpoint.prune(run_dir, self.cfg.train.keep_ckpts)
        return path

    def load_checkpoint(self, ckpt: dict) -> None:
        """Restore G, D, both optimisers, the EMA, the step and the RNG states (exact)."""
        checkpoint.load_state(self.G, ckpt["G"], "generator", ckpt["path"])
        checkpoint.load_state(self.D, ckpt["D"], "discriminator", ckpt["path"])
        self.opt_G.load_state_dict(ckpt["opt_G"])
        self.opt_D.load_state_dict(ckpt["opt_D"])
        if self.G_ema is not None:
            if "G_ema" not in ckpt:
                raise UserError(
                    f"checkpoint {ckpt['path']} has no EMA weights but this run uses "
                    "train.ema_decay > 0; resume with the run's own config"
                )
            checkpoint.load_state(self.G_ema, ckpt["G_ema"], "generator", ckpt["path"])
        checkpoint.set_rng_state(ckpt["rng"])
        self.state.step = int(ckpt["step"])
