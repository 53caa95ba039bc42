"""The paper's evaluation in one call (reference §6), plus ground truth on synthetic faces.

For every test image ``x`` with source labels ``a_s`` (joined to the image by file name,
never by position, reference §8):

- **reconstruction**: PSNR and SSIM between ``x`` and ``G(x, 0)`` on uint8 images;
- **attribute generation accuracy**: each attribute is flipped in turn (conflict rules
  applied, :func:`stgan.editing.flip_target`) and the judge (:mod:`stgan.judge`) checks
  that it sees the flipped value; mean over the attributes;
- **preservation error**: how often the judge's prediction of each *other* attribute
  changed (an (n, n) matrix; changes the conflict rules asked for are not errors);
- on synthetic faces, **ground-truth edit fidelity**: PSNR/SSIM between each edit and the
  same face rendered with the target attributes (:meth:`SyntheticDataset.counterfactual`),
  next to the *identity* baseline (the unedited image against the same ground truth);
- optionally **FID** between the edited and the real test images.

**Strength.** An edit sets the flipped attribute to ``±strength`` while the others stay at
``±thres_int`` (0.5). The paper's numbers use ``strength = test_int = 1`` (``att_diff =
±1.5`` for STGAN's difference input); other strengths, e.g. 0.5 (``att_diff = ±1``, the
training scale), are reported next to it.

:func:`evaluate` computes the numbers from a generator and a dataset; :func:`write_report`
writes ``metrics.json``, ``report.md`` and the figures; :func:`evaluate_checkpoint` does
both for a checkpoint file (``stgan eval``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from stgan import metrics
from stgan.attributes import check_names
from stgan.editing import edit, flip_target, reconstruct
from stgan.errors import UserError
from stgan.imageio import atomic_write_bytes, to_float, to_uint8
from stgan.judge import Judge, json_ready

REPORT_FILES = ("metrics.json", "report.md", "accuracy.png", "preservation.png")


def source_labels(
    dataset, names: Sequence[str], table: tuple[Sequence[str], Sequence[str], np.ndarray]
) -> np.ndarray:
    """0/1 labels (N, n) of the dataset's items for attribute ``names``, joined by file name.

    Args:
        dataset: has ``files`` (item ``i`` is file ``files[i]``).
        names: the generator's attribute names, in its order.
        table: ``(attribute names, file names, (M, k) 0/1 labels)``, e.g. from
            :func:`stgan.data.read_labels`, in any row and column order.

    Raises:
        UserError: an attribute missing from the table, or an image without a label row.
    """
    t_names, t_files, t_labels = table
    check_names(list(names), list(t_names), "the test labels")
    row_of = {f: r for r, f in enumerate(t_files)}
    missing = [f for f in dataset.files if f not in row_of]
    if missing:
        raise UserError(
            f"image {missing[0]} (and {len(missing) - 1} more) has no label row; "
            "fix the label file of the test data"
        )
    rows = [row_of[f] for f in dataset.files]
    cols = [list(t_names).index(n) for n in names]
    return np.asarray(t_labels)[np.ix_(rows, cols)].astype(np.uint8)


@torch.no_grad()
def evaluate(
    G: nn.Module,
    names: Sequence[str],
    dataset,
    source01: np.ndarray,
    label: str,
    thres_int: float = 0.5,
    strengths: Sequence[float] = (1.0,),
    judge: Judge | None = None,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    inception=None,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate generator ``G`` on every item of ``dataset`` (reference §6).

    Args:
        G: the generator; it is put in eval mode (deterministic, no randomness).
        names: its attribute names (n).
        dataset: ``image_uint8(i)`` gives item ``i`` as uint8 (S, S, 3); with a
            ``counterfactual(i, labels01)`` method (synthetic faces), the ground-truth
            fidelity of every edit is measured too.
        source01: (N, n) 0/1 labels of the items (:func:`source_labels`).
        label: the generator's input code, ``diff`` or ``target``.
        thres_int: the ± value of unchanged attributes.
        strengths: values the flipped attribute is set to; the first is the main one
            (ground truth and FID use it). Each must be > 0.
        judge: the attribute classifier; None skips accuracy and preservation.
        batch_size: images per generator pass.
        device: where ``G`` runs.
        inception: an :class:`stgan.fid.InceptionFeatures`, or None for no FID.
        progress: show a progress bar.

    Returns:
        A JSON-ready dict (see ``docs/evaluation.md``); NaN values become None.
    """
    n, N = len(names), len(dataset)
    if N == 0:
        raise UserError("the test split is empty; pass other --data or a larger split")
    if any(not s > 0 for s in strengths):
        raise UserError(
            f"--strength must be > 0 (the value the flipped attribute is set "
            f"to), got {', '.join(map(str, strengths))}"
        )
    if inception is not None and N < 2:
        raise UserError("FID needs at least 2 test images; raise --limit")
    source01 = np.asarray(source01)
    if source01.shape != (N, n):
        raise ValueError(f"source01 must be ({N}, {n}), got {source01.shape}")
    device = torch.device(device)
    G = G.to(device).eval()
    cols = judge.columns(names) if judge is not None else None
    has_gt = hasattr(dataset, "counterfactual")

    # per batch: reconstruction scores (B,), judge on sources (B, n); per strength k the
    # judge on edits and the targets (n, B, n); at the main strength, ground truth (n, B)
    rec_psnr, rec_ssim, pred_src = [], [], []
    pred_edit: list[list[np.ndarray]] = [[] for _ in strengths]
    targets: list[list[np.ndarray]] = [[] for _ in strengths]
    gt: dict[str, list[np.ndarray]] = {k: [] for k in ("psnr", "ssim", "id_psnr", "id_ssim")}
    feats_real, feats_fake = [], []

    bar = tqdm(total=N, desc="evaluate", unit="img", disable=not progress)
    for start in range(0, N, batch_size):
        idx = range(start, min(start + batch_size, N))
        x_u8 = np.stack([dataset.image_uint8(i) for i in idx])  # (B, S, S, 3)
        x = to_float(x_u8).to(device)  # (B, 3, S, S) in [-1, 1]
        src = torch.as_tensor(source01[start : idx.stop], dtype=torch.float32, device=device)
        x_rec = to_uint8(reconstruct(G, x, src, label, thres_int))
        rec_psnr.append(metrics.psnr(x_u8, x_rec))
        rec_ssim.append(metrics.ssim(x_u8, x_rec))
        if judge is not None:
            pred_src.append(judge.predict(x_u8)[:, cols])
        if inception is not None:
            feats_real.append(inception(x_u8))
        for k, strength in enumerate(strengths):
            main = k == 0
            p_k, t_k, g_k = [], [], {key: [] for key in gt}
            for i in range(n):  # flip attribute i on every image of the batch
                tgt01, tgt_enc = flip_target(src, names, i, thres_int, strength)
                x_edit = to_uint8(edit(G, x, src, tgt_enc, label, thres_int))  # (B, S, S, 3)
                t_k.append(tgt01.cpu().numpy().astype(np.uint8))
                if judge is not None:
                    p_k.append(judge.predict(x_edit)[:, cols])
                if main and has_gt:
                    truth = np.stack(
                        [dataset.counterfactual(j, t) for j, t in zip(idx, t_k[-1], strict=True)]
                    )
                    g_k["psnr"].append(metrics.psnr(x_edit, truth))
                    g_k["ssim"].append(metrics.ssim(x_edit, truth))
                    g_k["id_psnr"].append(metrics.psnr(x_u8, truth))
                    g_k["id_ssim"].append(metrics.ssim(x_u8, truth))
                if main and inception is not None:
                    feats_fake.append(inception(x_edit))
            targets[k].append(np.stack(t_k))
            if judge is not None:
                pred_edit[k].append(np.stack(p_k))
            if main and has_gt:
                for key in gt:
                    gt[key].append(np.stack(g_k[key]))
        bar.update(len(idx))
    bar.close()

    rec_psnr_all, rec_ssim_all = np.concatenate(rec_psnr), np.concatenate(rec_ssim)
    result: dict[str, Any] = {
        "n_images": N,
        "attr_names": list(names),
        "reconstruction": {
            "psnr": metrics.finite_mean(rec_psnr_all),
            "ssim": float(rec_ssim_all.mean()),
            "psnr_n_inf": int(np.isinf(rec_psnr_all).sum()),
        },
        "strengths": [],
    }
    for k, strength in enumerate(strengths):
        entry: dict[str, Any] = {"strength": float(strength)}
        if label == "diff":
            entry["att_diff"] = float(strength + thres_int)
        if judge is not None:
            entry.update(
                _judge_scores(
                    names,
                    np.concatenate(pred_src),
                    np.concatenate(pred_edit[k], axis=1),
                    np.concatenate(targets[k], axis=1),
                )
            )
        result["strengths"].append(entry)
    if judge is not None:
        real_acc = (np.concatenate(pred_src) == source01).mean(axis=0, dtype=np.float64)
        result["judge_on_real"] = {
            "accuracy": dict(zip(names, map(float, real_acc), strict=True)),
            "accuracy_mean": float(real_acc.mean()),
        }
    if has_gt:
        g = {key: np.concatenate(v, axis=1) for key, v in gt.items()}  # (n, N)
        result["ground_truth"] = {
            "strength": float(strengths[0]),
            "reconstruction": {k: result["reconstruction"][k] for k in ("psnr", "ssim")},
            "edit_psnr": _per_attr(names, g["psnr"], psnr=True),
            "edit_ssim": _per_attr(names, g["ssim"], psnr=False),
            "identity_psnr": _per_attr(names, g["id_psnr"], psnr=True),
            "identity_ssim": _per_attr(names, g["id_ssim"], psnr=False),
        }
    if inception is not None:
        from stgan.fid import fid_from_features

        fid = fid_from_features(np.concatenate(feats_fake), np.concatenate(feats_real))
        result["fid"] = {"strength": float(strengths[0]), "edited_vs_real": fid}
    result["summary"] = summary(result)
    return json_ready(result)


def _judge_scores(
    names: Sequence[str], pred_src: np.ndarray, pred_edit: np.ndarray, target: np.ndarray
) -> dict[str, Any]:
    """Accuracy and preservation of one strength from (N, n), (n, N, n), (n, N, n) arrays."""
    acc = metrics.generation_accuracy(pred_edit, target)  # (n,)
    pres = metrics.preservation_error(pred_src, pred_edit, target)  # (n, n), NaN diagonal
    rows = [np.delete(pres[i], i) for i in range(len(names))]
    return {
        "accuracy": dict(zip(names, map(float, acc), strict=True)),
        "accuracy_mean": float(acc.mean()),
        "preservation": {
            "matrix": pres.tolist(),
            "per_attr": {nm: metrics.nan_mean(r) for nm, r in zip(names, rows, strict=True)},
            "mean": metrics.preservation_mean(pres),
        },
    }


def _per_attr(names: Sequence[str], values: np.ndarray, psnr: bool) -> dict[str, Any]:
    """Per-attribute means of (n, N) scores and their mean (PSNR: finite values only)."""
    avg = metrics.finite_mean if psnr else (lambda r: float(np.mean(r)))
    vals = [avg(r) for r in values]
    return {"per_attr": dict(zip(names, vals, strict=True)), "mean": avg(np.asarray(vals))}


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of an :func:`evaluate` result, flat (None where not measured)."""
    main = result["strengths"][0] if result.get("strengths") else {}
    gt = result.get("ground_truth")
    return {
        "psnr": result["reconstruction"]["psnr"],
        "ssim": result["reconstruction"]["ssim"],
        "accuracy_mean": main.get("accuracy_mean"),
        "preservation_mean": (main.get("preservation") or {}).get("mean"),
        "gt_edit_psnr": gt["edit_psnr"]["mean"] if gt else None,
        "gt_edit_ssim": gt["edit_ssim"]["mean"] if gt else None,
        "gt_identity_psnr": gt["identity_psnr"]["mean"] if gt else None,
        "fid": (result.get("fid") or {}).get("edited_vs_real"),
    }


# --------------------------------------------------------------------------------------------
# a checkpoint end to end
def evaluate_checkpoint(
    checkpoint: str | Path,
    judge: Judge | None,
    out_dir: str | Path | None = None,
    data: str | None = None,
    crop: str | None = None,
    limit: int | None = None,
    strength: float | None = None,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    inception=None,
    dataset=None,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate a generator checkpoint on the test split of its data; write the report.

    Args:
        checkpoint: a ``.pt`` checkpoint or a run folder (newest checkpoint).
        judge: the attribute classifier (None: reconstruction and ground truth only).
        out_dir: report folder (None: write nothing).
        data: another dataset than the checkpoint's (``synthetic`` or a folder).
        crop: crop of that folder's photos; default the checkpoint's ``data.crop``, or
            ``none`` for a generator trained on synthetic faces (square, uncropped).
        limit: evaluate only the first ``limit`` test images.
        strength: extra strength to report next to the checkpoint's ``test_int``.
        batch_size: images per generator pass.
        device: where to run.
        inception: an :class:`stgan.fid.InceptionFeatures` for FID, or None.
        dataset: an already opened test split (skips opening one; ``data`` is ignored).
        progress: progress bars.

    Returns:
        The :func:`evaluate` result with a ``run`` section (checkpoint, data, settings).
    """
    from dataclasses import replace

    from stgan.data import open_dataset, read_labels
    from stgan.inference import Editor

    editor = Editor.from_checkpoint(checkpoint, device)
    cfg, names = editor.cfg, editor.attr_names
    data_cfg = replace(cfg.data, dataset=data) if data else cfg.data
    # the crop the generator's training images got (none for synthetic faces, which also
    # fits a `stgan data synth` folder), unless --crop says otherwise
    data_cfg = replace(data_cfg, crop=crop or editor.crop)
    if dataset is None:
        dataset = open_dataset(
            replace(data_cfg, cache=False), editor.img_size, "test", progress=progress
        )
    if tuple(getattr(dataset, "attr_names", names)) != tuple(names):
        check_names(list(names), list(dataset.attr_names), "the test data")
    if data_cfg.dataset == "synthetic":
        table = (dataset.attr_names, dataset.files, dataset.labels)
    else:
        table = read_labels(data_cfg.dataset)  # the label file itself, joined by file name
    src = source_labels(dataset, names, table)
    if limit is not None:
        if limit < 1:
            raise UserError(f"--limit must be ≥ 1, got {limit}")
        dataset, src = _Head(dataset, limit), src[:limit]
    t = cfg.train
    strengths = [t.test_int] + (
        [strength] if strength is not None and strength != t.test_int else []
    )
    t0 = time.monotonic()
    result = evaluate(
        editor.G,
        names,
        dataset,
        src,
        cfg.model.label,
        t.thres_int,
        strengths,
        judge,
        batch_size,
        device,
        inception,
        progress,
    )
    from stgan import checkpoint as ckpt_mod

    path = ckpt_mod.resolve(checkpoint)
    result["run"] = {
        "checkpoint": str(path),
        "step": _checkpoint_step(path),
        "preset": cfg.preset,
        "img_size": editor.img_size,
        "data": data_cfg.dataset,
        "crop": data_cfg.crop,
        "split": "test",
        "limit": limit,
        "label": cfg.model.label,
        "thres_int": t.thres_int,
        "test_int": t.test_int,
        "classifier": judge.info.get("path") if judge is not None else None,
        "classifier_accuracy": (
            (judge.info.get("metrics") or {}).get("accuracy_mean") if judge is not None else None
        ),
        "device": str(device),
        "seconds": round(time.monotonic() - t0, 1),
    }
    if out_dir is not None:
        write_report(out_dir, result)
    return result


class _Head:
    """The first ``n`` items of a dataset (``--limit``), keeping its extra methods."""

    def __init__(self, dataset, n: int):
        self.base, self.n = dataset, min(n, len(dataset))
        self.attr_names = dataset.attr_names
        self.files = list(dataset.files[: self.n])
        if hasattr(dataset, "counterfactual"):
            self.counterfactual = dataset.counterfactual

    def __len__(self) -> int:
        return self.n

    def image_uint8(self, i: int) -> np.ndarray:
        return self.base.image_uint8(i)


def _checkpoint_step(path: Path) -> int | None:
    import re

    m = re.match(r"step_(\d+)\.pt$", path.name)
    return int(m.group(1)) if m else None


# --------------------------------------------------------------------------------------------
# report
def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _num(v: float | None, fmt: str = ".2f") -> str:
    return "–" if v is None else format(v, fmt)


def write_report(out_dir: str | Path, result: dict[str, Any]) -> list[Path]:
    """Write ``metrics.json``, ``report.md``, ``accuracy.png`` and ``preservation.png``.

    Figures need matplotlib; without it only the JSON and Markdown files are written.
    Returns the paths written.
    """
    from stgan import plots

    out = Path(out_dir)
    written = [out / "metrics.json", out / "report.md"]
    atomic_write_bytes(written[0], (json.dumps(result, indent=2) + "\n").encode())
    names = result["attr_names"]
    with_acc = [s for s in result["strengths"] if "accuracy" in s]
    if with_acc:
        series = {
            f"strength {s['strength']:g}": [s["accuracy"][n] for n in names] for s in with_acc
        }
        if plots.accuracy_bars(out / "accuracy.png", names, series):
            written.append(out / "accuracy.png")
        m = np.array(with_acc[0]["preservation"]["matrix"], dtype=np.float64)  # None → nan
        if plots.preservation_heatmap(out / "preservation.png", m, names):
            written.append(out / "preservation.png")
    atomic_write_bytes(written[1], format_report(result, [p.name for p in written]).encode())
    return written


def format_report(result: dict[str, Any], figures: Sequence[str] = ()) -> str:
    """The Markdown report of an :func:`evaluate_checkpoint` result."""
    run, rec, names = result.get("run", {}), result["reconstruction"], result["attr_names"]
    L = ["# STGAN evaluation report", ""]
    if run:
        L += [
            f"- checkpoint: `{run['checkpoint']}` (step {run['step']}, preset "
            f"`{run['preset']}`, {run['img_size']} px)",
            f"- data: `{run['data']}`, test split, {result['n_images']} images"
            + (f" (--limit {run['limit']})" if run.get("limit") else ""),
            f"- classifier: `{run['classifier']}`"
            + (
                f" (held-out accuracy {_pct(run['classifier_accuracy'])})"
                if run.get("classifier_accuracy") is not None
                else ""
            ),
            f"- device: {run['device']}, {run['seconds']} s",
            "",
        ]
    L += [
        "## Reconstruction (att_diff = 0)",
        "",
        "| PSNR (dB) | SSIM |",
        "| ---: | ---: |",
        f"| {_num(rec['psnr'])} | {_num(rec['ssim'], '.4f')} |",
        "",
    ]
    if rec.get("psnr_n_inf"):
        L += [
            f"{rec['psnr_n_inf']} image(s) reconstructed exactly (infinite PSNR, left out "
            "of the mean).",
            "",
        ]
    with_acc = [s for s in result["strengths"] if "accuracy" in s]
    gt = result.get("ground_truth")
    if with_acc or gt:
        L += ["## Per attribute", ""]
        head = ["attribute"]
        for s in with_acc:
            head.append(f"accuracy @ {s['strength']:g}")
        if with_acc:
            head.append(f"preservation error @ {with_acc[0]['strength']:g}")
        if gt:
            head += ["GT edit PSNR", "GT edit SSIM", "identity PSNR"]
        L += ["| " + " | ".join(head) + " |", "| --- " + "| ---: " * (len(head) - 1) + "|"]
        rows = list(names) + ["**mean**"]
        for r in rows:
            key = None if r == "**mean**" else r

            def pick(d: dict, key=key) -> float | None:
                return d["mean"] if key is None else d["per_attr"][key]

            cells = [r]
            for s in with_acc:
                cells.append(_pct(s["accuracy_mean"] if key is None else s["accuracy"][key]))
            if with_acc:
                cells.append(_pct(pick(with_acc[0]["preservation"])))
            if gt:
                cells += [
                    _num(pick(gt["edit_psnr"])),
                    _num(pick(gt["edit_ssim"]), ".4f"),
                    _num(pick(gt["identity_psnr"])),
                ]
            L.append("| " + " | ".join(cells) + " |")
        L.append("")
    if "judge_on_real" in result:
        j = result["judge_on_real"]
        L += [
            f"Classifier accuracy on the unedited test images: {_pct(j['accuracy_mean'])} "
            "(an upper bound on what it can certify about edits).",
            "",
        ]
    if "fid" in result:
        L += [
            f"FID of the edited images (every attribute flipped, strength "
            f"{result['fid']['strength']:g}) against the real test images: "
            f"{_num(result['fid']['edited_vs_real'])}",
            "",
        ]
    for f in figures:
        if f.endswith(".png"):
            L += [f"![{f[:-4]}]({f})", ""]
    L += [
        "## Definitions",
        "",
        "- *accuracy @ s*: each attribute flipped on every image (conflict rules applied), "
        "the flipped attribute set to ±s and the others left at ±0.5; an edit counts when "
        "the classifier predicts the flipped value (paper §4.1; s = 1 is the paper's "
        "setting, att_diff = ±1.5).",
        "- *preservation error*: fraction of the other attributes whose predicted value "
        "changed; changes required by a conflict rule are not counted.",
        "- *GT edit PSNR/SSIM* (synthetic faces only): each edit against the same face "
        "rendered with the target attributes; *identity PSNR* scores the unedited image "
        "against that ground truth (what doing nothing achieves).",
        "",
    ]
    return "\n".join(L)
