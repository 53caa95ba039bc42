"""The training fast path (issue 7): switches that change how an iteration runs on the
device, never the algorithm it runs (:mod:`stgan.trainer`; docs/benchmarks.md).

Each switch is a ``train.*`` field; ``auto`` turns it on where it pays (CUDA) and off
elsewhere, so that the paper recipe on a CPU runs exactly the plain fp32 eager code:

- ``amp = bf16``: the forward passes under ``torch.autocast(bfloat16)``; weights, optimiser
  state, the loss reductions and the gradient penalty's norm stay in fp32
  (:mod:`stgan.losses`). bf16 has fp32's exponent range, so no loss scaling is needed.
- ``channels_last``: G's and D's weights (and so their activations) in NHWC layout.
- ``adam``: torch's ``fused`` or ``foreach`` Adam instead of its default.
- ``cuda_graph``: whole G iterations (n_critic D steps + one G step, penalty and optimiser
  steps included) captured once in a CUDA graph and replayed (:class:`CapturedIterations`).
  The captured function is the eager one, ``Trainer.iteration``; what a replayed graph
  cannot see changing is made a device tensor written before each replay: the batches
  (static input buffers), the learning rates (capturable Adam reads a tensor ``lr``) and
  the EMA decay; the permutation of target labels uses the capture-safe
  ``argsort(rand)`` (``randperm`` cannot be captured; only on this path, so the CPU path
  keeps its draws). One graph per pattern of penalised critic steps (lazy penalties).
  Anything that makes capture fail falls back to eager iterations with one warning line.
- ``compile``: ``torch.compile`` of G's blocks (encoder and decoder layers, STUs), in place
  (state-dict keys unchanged). D stays eager: compiled autograd has no double backward,
  which its penalty needs; compiling the whole iteration fails inside inductor (torch 2.13).
  Opt-in: measured slower in the issue, and the first iterations pay the compilation
  (minutes on a CPU).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

Batch = tuple[Tensor, Tensor]  # images (B, 3, H, W) in [-1, 1], 0/1 labels (B, n)
Iteration = Callable[[list[Batch], tuple[bool, ...]], dict[str, Tensor]]

CAPTURE_WARMUP = 2  # eager iterations of each penalty pattern before its capture


@dataclass(frozen=True)
class FastPath:
    """The resolved switches of one run on one device (:func:`resolve`)."""

    device: str = "cpu"  # where the run trains (cpu, cuda, cuda:1, mps)
    bf16: bool = False  # forward passes under bf16 autocast
    channels_last: bool = False  # NHWC weights and activations
    adam: str = "default"  # default (torch's choice) | foreach | fused
    cuda_graph: bool = False  # whole iterations replayed from CUDA graphs
    compile: bool = False  # torch.compile of G's blocks

    def switches(self) -> dict[str, object]:
        """The switches by name (for benchmarks and logs)."""
        out = asdict(self)
        del out["device"]
        return out

    @property
    def device_type(self) -> str:
        return torch.device(self.device).type

    @property
    def plain(self) -> bool:
        """Every switch off: the plain fp32 eager path."""
        return self == FastPath(self.device)

    def autocast(self):
        """The forward passes' context: bf16 autocast, or nothing. Captured steps cast the
        weights anew each time (no cast cache: its copies would outlive the capture)."""
        if self.bf16:
            return torch.autocast(
                self.device_type, dtype=torch.bfloat16, cache_enabled=not self.cuda_graph
            )
        return nullcontext()

    def prepare(self, G: nn.Module, D: nn.Module) -> None:
        """G and D in the switches' memory layout, G's blocks compiled (in place)."""
        if self.channels_last:
            G.to(memory_format=torch.channels_last)
            D.to(memory_format=torch.channels_last)
        if self.compile:
            for part in G.children():  # ModuleLists of blocks, or blocks
                for block in part if isinstance(part, nn.ModuleList) else [part]:
                    block.compile()

    def adam_for(
        self, params: Iterable[Tensor], lr: float, betas: tuple[float, float]
    ) -> torch.optim.Adam:
        """Adam with the switches' implementation; capturable with a device-tensor ``lr`` on
        the graph path (a captured step reads the tensor: the lr schedule needs no capture)."""
        kw: dict[str, object] = {}
        if self.adam == "fused":
            kw["fused"] = True
        elif self.adam == "foreach":
            kw["foreach"] = True
        if self.cuda_graph:
            kw["capturable"] = True
        return torch.optim.Adam(params, lr=self.scalar(lr), betas=betas, **kw)

    def scalar(self, value: float) -> float | Tensor:
        """A per-iteration scalar as the steps read it: a float, or on the graph path a 0-d
        fp32 device tensor (write it with :meth:`assign`)."""
        if self.cuda_graph:
            return torch.tensor(float(value), dtype=torch.float32, device=self.device)
        return value

    def assign(self, current: float | Tensor, value: float) -> float | Tensor:
        """``value`` for a scalar made by :meth:`scalar`: written in place into its tensor on
        the graph path (replays read it), else the float itself."""
        if self.cuda_graph:
            if isinstance(current, Tensor) and current.device.type == self.device_type:
                return current.fill_(value)
            return self.scalar(value)
        return value

    def runner(self, iteration: Iteration) -> Iteration:
        """How ``iteration`` runs: eagerly, or captured in CUDA graphs."""
        if self.cuda_graph:
            return CapturedIterations(iteration, self.channels_last)
        return iteration


def resolve(train, device: torch.device, processes: int = 1) -> FastPath:
    """The switches of ``train`` (a :class:`~stgan.config.TrainConfig`) on ``device``:
    ``auto`` is on for CUDA (bf16, channels_last, fused Adam, CUDA graphs) and off elsewhere;
    CUDA graphs stay off under ``auto`` with several processes (torchrun: the gradient
    all-reduce inside the iteration is not captured here; untested on GPUs).
    ``cuda_graph = on`` off CUDA falls back to eager with one warning line on stderr."""
    cuda = device.type == "cuda"

    def on(value: str, when_auto: bool) -> bool:
        return when_auto if value == "auto" else value in ("on", "bf16")

    graph = on(train.cuda_graph, cuda and processes == 1)
    if graph and not cuda:
        warn(f"train.cuda_graph=on needs a CUDA device, not {device.type}: running eager")
        graph = False
    adam = ("fused" if cuda else "default") if train.adam == "auto" else train.adam
    return FastPath(
        device=str(device),
        bf16=on(train.amp, cuda),
        channels_last=on(train.channels_last, cuda),
        adam=adam,
        cuda_graph=graph,
        compile=bool(train.compile),
    )


def widen(t: Tensor) -> Tensor:
    """``t`` in fp32 if it is a narrower float (bf16 or fp16 under autocast), else unchanged
    (fp32, or fp64 where a test runs a whole training step in double precision): losses,
    penalties and batch statistics are reduced in at least fp32."""
    return t.float() if t.is_floating_point() and t.element_size() < 4 else t


def warn(message: str) -> None:
    """One line on stderr: the fast path never stops a run."""
    print(f"stgan: warning: {message}", file=sys.stderr, flush=True)


class CapturedIterations:
    """Whole iterations replayed from CUDA graphs, one per pattern of penalised critic steps.

    Each pattern first runs eagerly :data:`CAPTURE_WARMUP` times on a side stream (these are
    real training iterations: optimiser state, cuDNN's algorithm choice and the allocator
    settle), then is captured with static copies of its batches as inputs and replayed;
    capture runs no kernel, so the capturing iteration is done by its first replay. Every
    iteration is computed exactly once. A capture that fails (an operation that cannot be
    captured) leaves eager iterations for the rest of the run and one warning line.

    Attributes:
        step: the captured function, the same object an eager run calls.
        graphs: pattern → (graph, static input batches, static outputs).
    """

    def __init__(self, step: Iteration, channels_last: bool = False):
        self.step = step
        self.channels_last = channels_last
        self.graphs: dict[tuple[bool, ...], tuple[object, list[Batch], dict[str, Tensor]]] = {}
        self.eager_runs: Counter = Counter()
        self.failed: str | None = None

    def __call__(self, batches: list[Batch], penalize: tuple[bool, ...]) -> dict[str, Tensor]:
        if self.failed is not None:
            return self.step(batches, penalize)
        captured = self.graphs.get(penalize)
        if captured is not None:
            graph, inputs, outputs = captured
            for (x_in, a_in), (x, a) in zip(inputs, batches, strict=True):
                x_in.copy_(x, non_blocking=True)
                a_in.copy_(a, non_blocking=True)
            graph.replay()
            return outputs
        if self.eager_runs[penalize] < CAPTURE_WARMUP:
            self.eager_runs[penalize] += 1
            return self._side_stream(batches, penalize)
        return self._capture(batches, penalize)

    def _side_stream(self, batches, penalize):
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            out = self.step(batches, penalize)
        torch.cuda.current_stream().wait_stream(side)
        return out

    def _capture(self, batches, penalize):
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        inputs = [(x.clone(memory_format=fmt), a.clone()) for x, a in batches]
        graph = torch.cuda.CUDAGraph()
        stream = torch.cuda.current_stream()
        try:
            torch.cuda.synchronize()
            with torch.cuda.graph(graph):
                outputs = self.step(inputs, penalize)
        except Exception as e:  # any capture failure: eager from here on
            self.failed = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            warn(f"CUDA-graph capture failed ({self.failed}); training eagerly")
            torch.cuda.set_stream(stream)  # a failed capture may leave its own stream current
            torch.cuda.synchronize()
            return self.step(batches, penalize)
        self.graphs[penalize] = (graph, inputs, outputs)
        graph.replay()
        return outputs

    @property
    def captured(self) -> int:
        """How many patterns run from graphs."""
        return len(self.graphs)
