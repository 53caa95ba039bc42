"""Graph-vs-eager parity of the training fast path (issue 7, stgan.fastpath).

Two trainers from the same seed and weights, with the same switches (``train.cuda_graph=on``:
capture-safe draws, capturable Adam, device-tensor lr), run the same N iterations on the
same batches as ``Trainer.fit`` runs them: one calls ``Trainer.iteration`` eagerly, the other
replays it from CUDA graphs. Prints, as one JSON line: the largest and the mean absolute
weight difference of G and D (the mean in units of lr × N, the most Adam can move a weight:
≪ 1 for float noise, ~1 for runs that went apart), the largest relative difference of any
logged loss over the N iterations, and how many penalty patterns were captured. Exit 1 when
the losses differ by more than ``--tol``.

    python scripts/graph_parity.py --config celeba128 --steps 20            # on a GPU
    python scripts/graph_parity.py --config tiny --steps 3 --device cpu     # CPU dry run

On a machine without CUDA the graph arm runs eagerly too (one warning line), so the dry run
checks the script's logic: both arms must agree exactly (differences 0).
"""

from __future__ import annotations

import argparse
import json
import sys

import torch


def main(argv: list[str] | None = None) -> int:
    from stgan.config import load
    from stgan.models import build_discriminator, build_generator
    from stgan.runtime import resolve_device
    from stgan.trainer import Trainer

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="celeba128")
    p.add_argument("--recipe", default="paper")
    p.add_argument("--set", action="append", default=[], help="section.key=value")
    p.add_argument("--steps", type=int, default=20, help="G iterations per arm")
    p.add_argument("--device", default="auto")
    p.add_argument("--tol", type=float, default=0.02, help="largest relative loss difference")
    args = p.parse_args(argv)

    cfg = load(args.config, None, [*args.set, "train.cuda_graph=on"], args.recipe)
    device = resolve_device(args.device)
    t, m, n = cfg.train, cfg.model, len(cfg.data.attrs)
    torch.backends.cudnn.benchmark = device.type == "cuda"
    g = torch.Generator().manual_seed(1)
    batches = [
        (
            (torch.rand(t.batch_size, 3, m.img_size, m.img_size, generator=g) * 2 - 1).to(device),
            (torch.rand(t.batch_size, n, generator=g) > 0.5).float().to(device),
        )
        for _ in range(t.n_critic + 1)
    ]

    def arm(graph: bool):
        torch.manual_seed(t.seed)
        G, D = build_generator(m, n), build_discriminator(m, n)
        tr = Trainer(cfg, G, D, [f"a{i}" for i in range(n)], device)
        run = tr.run_iteration if graph else tr.iteration
        torch.manual_seed(t.seed + 1)  # the same draws from here on in both arms
        logs = []
        for step in range(args.steps):
            tr.schedule(step, 10**9)
            logs.append({k: v.item() for k, v in run(batches, tr.penalized(step)).items()})
        return tr, logs, getattr(tr.run_iteration, "captured", 0) if graph else 0

    eager, logs_e, _ = arm(graph=False)
    graphed, logs_g, captured = arm(graph=True)
    out = {"device": str(device), "steps": args.steps, "graphs": captured}
    out["switches"] = graphed.fast.switches()
    for name in ("G", "D"):
        diffs = [
            (a.detach().float() - b.detach().float()).abs()
            for a, b in zip(
                getattr(eager, name).state_dict().values(),
                getattr(graphed, name).state_dict().values(),
                strict=True,
            )
            if a.is_floating_point()
        ]
        flat = torch.cat([d.flatten() for d in diffs])
        out[f"max_weight_diff_{name}"] = flat.max().item()
        out[f"mean_weight_diff_{name}_per_lr_step"] = flat.mean().item() / (t.lr * args.steps)
    rel = max(
        abs(a[k] - b[k]) / max(abs(a[k]), 1e-6)
        for a, b in zip(logs_e, logs_g, strict=True)
        for k in a
    )
    out["max_rel_loss_diff"] = rel
    print(json.dumps(out))
    return 0 if rel <= args.tol else 1


if __name__ == "__main__":
    sys.exit(main())
