"""Training in several processes (one per GPU, on one or many nodes), started by ``torchrun``.

``torchrun --standalone --nproc_per_node N $(which stgan) train ...`` starts N copies of
``stgan train``; torchrun tells each its place through the environment (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT``).
:func:`setup` reads it, joins the process group (NCCL for CUDA tensors, gloo for CPU ones)
and returns a :class:`Dist`; without torchrun (or with one process) it returns None and
nothing here runs. docs/distributed.md has the commands and the choices below.

**The same training as one process.** ``train.batch_size`` is the global batch. Every rank
draws the same epoch permutation and takes its contiguous slice of each global batch
(:func:`stgan.data.stream.batch_stream`), so N processes consume exactly the batches one
process would. Every rank holds the same RNG state (same seed, resumed from rank 0's saved
state): the random draws of a step that span the batch (target permutation, flips) are made
on the global batch on every rank, and each keeps its slice (:meth:`Dist.global_rows`).

**Gradients: an explicit bucketed all-reduce, not DistributedDataParallel.** After each
``backward`` the trainer calls :meth:`Dist.sync_gradients`: the gradients are flattened into
buckets of ~32 MB, all-reduced (sum) and divided by the world size. DDP was not used because
(1) the G step runs ``G.encode`` and ``G.decode_raw`` (twice) directly, not through a
wrapper's ``forward``, and DDP's reducer is armed in ``forward``; (2) both penalties take
``torch.autograd.grad(..., create_graph=True)`` and backpropagate through it, so D's
parameters receive gradient twice in one backward, which DDP's reducer rejects or needs
``static_graph`` for; (3) D is frozen with ``requires_grad_(False)`` inside the G step, which
a DDP wrapper built once would treat as unused parameters. StyleGAN2-ADA averages gradients
the same explicit way. The cost: no overlap of communication with the backward pass.

Every loss is a mean over the batch, and shards are equal, so the mean over ranks of the
per-rank gradients is the gradient of the global-batch loss (up to the order of float sums).

**BatchNorm.** G has BatchNorm (D has InstanceNorm, per image, exact under sharding). By
default each process normalises with its shard's statistics (as DDP does), and G's running
statistics are averaged over ranks after each G backward so that G, its EMA and every
checkpoint are the same on all ranks. ``train.sync_bn = true`` makes G's BatchNorm layers
:class:`SyncBatchNorm2d`: statistics of the global batch, i.e. exactly one process's training
(our own module, because torch's ``SyncBatchNorm`` runs on GPUs only and the tests run on
CPUs). Outputs (samples, checkpoints, recalibrated statistics) are made on rank 0 alone, from
a copy with per-process BatchNorm (:func:`local_copy`) over global-size batches.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch
import torch.distributed as tdist
from torch import Tensor, nn

from stgan.errors import UserError
from stgan.fastpath import widen

#: flattened gradients per all-reduce call (bytes)
BUCKET_BYTES = 32 * 2**20
_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass
class Dist:
    """This process's place in a run of several processes, and the collectives training needs.

    Training collectives run on the default process group (NCCL for CUDA tensors, gloo for
    CPU ones); ``control`` is a gloo group for small host-side messages (plans, stop flags),
    which then never wait on a GPU stream.
    """

    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    control: object = None  # a gloo ProcessGroup

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes, prints and holds the run lock."""
        return self.rank == 0

    # --- set-up ---------------------------------------------------------------------------
    def device(self, name: str) -> torch.device:
        """The device of this process for ``train.device`` = ``name``: with CUDA, the GPU of
        its local rank (``cuda:LOCAL_RANK``); else the CPU.

        Raises:
            UserError: a single GPU or MPS is named, or this node has fewer GPUs than
                processes.
        """
        if name == "auto":
            name = "cuda" if torch.cuda.is_available() else "cpu"
        if name == "cpu":
            return torch.device("cpu")
        if name != "cuda":
            raise UserError(
                f"train.device={name} cannot be shared by {self.world_size} torchrun "
                "processes; use train.device=cuda (each process takes the GPU of its "
                "LOCAL_RANK), auto or cpu"
            )
        have = torch.cuda.device_count()
        if have == 0:
            raise UserError(
                "train.device=cuda asked for, but this torch sees no CUDA GPU; use "
                "train.device=cpu (or auto)"
            )
        if have < self.local_world_size:
            raise UserError(
                f"torchrun starts {self.local_world_size} processes on this node but it has "
                f"{have} CUDA GPU(s); lower --nproc_per_node to {have} or less"
            )
        torch.cuda.set_device(self.local_rank)
        return torch.device("cuda", self.local_rank)

    def shard_size(self, batch_size: int) -> int:
        """Images per process of a global batch of ``batch_size``.

        Raises:
            UserError: ``batch_size`` is not a multiple of the world size.
        """
        from stgan.data.stream import shard_size

        return shard_size(batch_size, self.world_size)

    # --- training collectives -------------------------------------------------------------
    def all_gather_rows(self, x: Tensor) -> Tensor:
        """The global batch of a per-rank tensor (B/N, ...): (B, ...), in rank order."""
        parts = [torch.empty_like(x) for _ in range(self.world_size)]
        tdist.all_gather(parts, x.contiguous())
        return torch.cat(parts)

    def own_rows(self, x: Tensor) -> Tensor:
        """This rank's contiguous slice of a global-batch tensor (B, ...)."""
        n = x.shape[0] // self.world_size
        return x[self.rank * n : (self.rank + 1) * n]

    def global_rows(self, fn, x: Tensor) -> Tensor:
        """``fn`` applied to the global batch of ``x``, this rank's rows of the result: a
        random draw over the batch (all ranks draw alike from the same RNG state) equals one
        process's draw."""
        return self.own_rows(fn(self.all_gather_rows(x)))

    def sync_gradients(self, module: nn.Module, buffers: bool = False) -> None:
        """Average the gradients of ``module`` over ranks (bucketed, flattened all-reduces);
        with ``buffers``, also its floating-point BatchNorm running statistics."""
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        self._all_mean(grads)
        if buffers:
            self._all_mean(running_stats(module))

    def _all_mean(self, tensors: list[Tensor]) -> None:
        for bucket in _buckets(tensors, BUCKET_BYTES):
            flat = torch.cat([t.reshape(-1) for t in bucket])
            tdist.all_reduce(flat)
            flat.div_(self.world_size)
            for t, part in zip(bucket, flat.split([t.numel() for t in bucket]), strict=True):
                t.copy_(part.view_as(t))

    def mean_scalars(self, scalars: dict[str, Tensor]) -> dict[str, Tensor]:
        """The logged losses averaged over ranks (the global batch's means), one all-reduce."""
        if not scalars:
            return scalars
        flat = torch.stack([v.detach().float() for v in scalars.values()])
        tdist.all_reduce(flat)
        flat.div_(self.world_size)
        return dict(zip(scalars, flat.unbind(), strict=True))

    def broadcast_module(self, module: nn.Module) -> None:
        """Rank 0's parameters and buffers on every rank."""
        with torch.no_grad():
            for t in [*module.parameters(), *module.buffers()]:
                tdist.broadcast(t.data, src=0)

    def sync_rng(self, device: torch.device) -> None:
        """Rank 0's RNG states (CPU, and ``device``'s when CUDA) on every rank: after a resume
        rank k's GPU would otherwise take rank 0's saved state of GPU k, not of GPU 0."""
        state = [torch.get_rng_state()]
        if device.type == "cuda":
            state.append(torch.cuda.get_rng_state(device))
        tdist.broadcast_object_list(state, src=0, group=self.control)
        torch.set_rng_state(state[0])
        if device.type == "cuda":
            torch.cuda.set_rng_state(state[1], device)

    # --- host-side agreement (gloo) --------------------------------------------------------
    def broadcast(self, obj=None):
        """Rank 0's ``obj`` (any picklable value) on every rank."""
        box = [obj]
        tdist.broadcast_object_list(box, src=0, group=self.control)
        return box[0]

    def gather(self, obj) -> list:
        """Every rank's ``obj``, in rank order, on every rank."""
        out: list = [None] * self.world_size
        tdist.all_gather_object(out, obj, group=self.control)
        return out

    def agree_stop(self, signum: int, time_up: bool) -> tuple[int, bool]:
        """Whether any rank got a stop signal (its number, else 0) or ran out of time: every
        rank asks after the same iteration, so all stop after the same one."""
        flags = torch.tensor([signum, int(time_up)], dtype=torch.int64)
        tdist.all_reduce(flags, op=tdist.ReduceOp.MAX, group=self.control)
        return int(flags[0]), bool(flags[1])

    def barrier(self) -> None:
        tdist.barrier(group=self.control)


def env_world() -> tuple[int, int, int, int] | None:
    """``(rank, world_size, local_rank, local_world_size)`` set by torchrun, or None.

    Raises:
        UserError: the variables are partly set or not integers.
    """
    present = [k for k in _ENV if k in os.environ]
    if not present:
        return None
    if len(present) < len(_ENV):
        missing = ", ".join(k for k in _ENV if k not in present)
        raise UserError(
            f"{present[0]} is set but {missing} is not; start several processes with "
            "torchrun (docs/distributed.md) or unset these variables"
        )
    try:
        rank, world, local = (int(os.environ[k]) for k in _ENV)
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    except ValueError:
        raise UserError(
            "RANK, WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE must be integers (as torchrun "
            "sets them)"
        ) from None
    if not (0 <= rank < world and 0 <= local < local_world):
        raise UserError(f"RANK={rank} / LOCAL_RANK={local} outside WORLD_SIZE={world}")
    return rank, world, local, local_world


def setup() -> Dist | None:
    """Join the process group that torchrun describes; None for a single process.

    NCCL carries CUDA tensors (when this torch has CUDA), gloo CPU tensors and the host-side
    messages. Call :func:`teardown` when done (also on errors).
    """
    world = env_world()
    if world is None or world[1] == 1:
        return None
    rank, size, local, local_size = world
    if not tdist.is_available():
        raise UserError("this torch build has no torch.distributed; run one process")
    for key in ("MASTER_ADDR", "MASTER_PORT"):
        if key not in os.environ:
            raise UserError(f"{key} is not set; start the processes with torchrun")
    backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
    if not tdist.is_initialized():
        tdist.init_process_group(backend, rank=rank, world_size=size)
    control = tdist.new_group(backend="gloo")
    return Dist(rank, size, local, local_size, control)


def teardown(dist: Dist | None) -> None:
    """Leave the process group (safe to call twice, or after a failed setup)."""
    if dist is not None and tdist.is_initialized():
        tdist.destroy_process_group()


def is_peer_failure(e: BaseException) -> bool:
    """Whether ``e`` is a failed collective (typically: another process went away)."""
    if isinstance(e, getattr(tdist, "DistError", ())):
        return True
    text = str(e)
    return isinstance(e, RuntimeError) and any(
        k in text for k in ("Connection closed by peer", "Connection reset by peer", "gloo", "NCCL")
    )


# --------------------------------------------------------------------------------------------
# BatchNorm over the global batch
class _AllReduceSum(torch.autograd.Function):
    """``Σ_ranks t``, differentiable: the gradient of each rank's input is the sum of every
    rank's gradient of the output (each rank's loss depends on the shared sum)."""

    @staticmethod
    def forward(ctx, t: Tensor) -> Tensor:
        t = t.clone()
        tdist.all_reduce(t)
        return t

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        grad = grad.clone()
        tdist.all_reduce(grad)
        return grad


class SyncBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm whose training-mode statistics are those of the global batch, gathered from
    every process (two all-reduces per call: the sum, then the squared deviations, for
    accuracy). Running statistics as :class:`torch.nn.BatchNorm2d` (unbiased variance);
    evaluation mode and one process behave as BatchNorm2d (:func:`local_copy` for a copy that
    one rank may run alone)."""

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and tdist.is_initialized() and tdist.get_world_size() > 1):
            return super().forward(x)
        xf = widen(x)  # statistics in fp32 under bf16 autocast, in fp64 for fp64
        n_local = xf.numel() // xf.shape[1]
        stats = torch.cat([xf.sum((0, 2, 3)), xf.new_full((1,), float(n_local))])
        stats = _AllReduceSum.apply(stats)
        n = stats[-1]
        mean = stats[:-1] / n  # (C,)
        dev = xf - mean[None, :, None, None]
        var = _AllReduceSum.apply(dev.pow(2).sum((0, 2, 3))) / n  # biased, as BN normalises
        y = dev * torch.rsqrt(var + self.eps)[None, :, None, None]
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                f = (
                    self.momentum
                    if self.momentum is not None
                    else 1.0 / float(self.num_batches_tracked)
                )
                self.running_mean.lerp_(mean.detach(), f)
                self.running_var.lerp_((var * n / (n - 1)).detach(), f)
        return y.to(x.dtype)


def convert_sync_batch_norm(module: nn.Module) -> nn.Module:
    """``module`` with every ``BatchNorm2d`` replaced, in place, by a :class:`SyncBatchNorm2d`
    holding the same parameter and buffer tensors (optimisers built on it stay valid)."""
    return _swap_bn(module, nn.BatchNorm2d, SyncBatchNorm2d)


def local_copy(module: nn.Module) -> nn.Module:
    """A copy of ``module`` without gradients whose BatchNorm is per process (what rank 0
    alone may run, e.g. to recalibrate statistics or draw samples)."""
    out = copy.deepcopy(module).requires_grad_(False)
    return _swap_bn(out, SyncBatchNorm2d, nn.BatchNorm2d)


def _swap_bn(module: nn.Module, old: type, new: type) -> nn.Module:
    for name, child in module.named_children():
        if type(child) is old:
            bn = new(
                child.num_features, child.eps, child.momentum, child.affine,
                child.track_running_stats,
            )  # fmt: skip
            if child.affine:
                bn.weight, bn.bias = child.weight, child.bias
            if child.track_running_stats:
                bn.running_mean, bn.running_var = child.running_mean, child.running_var
                bn.num_batches_tracked = child.num_batches_tracked
            bn.train(child.training)
            setattr(module, name, bn)
        else:
            _swap_bn(child, old, new)
    return module


def running_stats(module: nn.Module) -> list[Tensor]:
    """The floating-point running statistics of the BatchNorm layers of ``module``."""
    out = []
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
            out += [m.running_mean, m.running_var]
    return out


def _buckets(tensors: Iterable[Tensor], limit: int) -> Iterator[list[Tensor]]:
    """Consecutive groups of same-dtype, same-device tensors of about ``limit`` bytes."""
    bucket: list[Tensor] = []
    size = 0
    for t in tensors:
        if bucket and (
            size + t.numel() * t.element_size() > limit
            or (t.dtype, t.device) != (bucket[0].dtype, bucket[0].device)
        ):
            yield bucket
            bucket, size = [], 0
        bucket.append(t)
        size += t.numel() * t.element_size()
    if bucket:
        yield bucket


class NullLog:
    """What non-zero ranks write their scalars to: nothing."""

    def write(self, step: int, scalars: dict[str, float]) -> None:
        pass

    def close(self) -> None:
        pass
