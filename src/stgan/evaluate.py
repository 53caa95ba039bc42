"""The paper's evaluation in one call (reference §6), plus ground truth on synthetic faces.

For every test image ``x`` with source labels ``a_s`` (joined to the image by file name,
never by position, reference §8):

- **reconstruction**: PSNR and SSIM between ``x`` and ``G(x, 0)`` on uint8 images;
- **attribute generation accuracy**: each attribute is flipped in turn (conflict rules
  applied, :func:`stgan.editing.flip_target`) and the judge (:mod:`stgan.judge`) checks
  that it sees the flipped value; mean over the attributes;
- **preservation error**, two definitions side by side: ``preservation``, how often the
  judge's prediction of each *other* attribute changed between source and edit (changes
  the conflict rules asked for are not errors), and ``preservation_official``, the official
  test code's: how often the prediction on the edit differs from the *ground-truth* label
  (conflict changes counted), which also charges the judge's own errors to the editor;
- on synthetic faces, **ground-truth edit fidelity**: PSNR/SSIM between each edit and the
  same face rendered with the target attributes (:meth:`SyntheticDataset.counterfactual`),
  next to the *identity* baseline (the unedited image against the same ground truth);
- optionally **FID** between the edited and the real test images.

**Strength.** An edit sets the flipped attribute to ``±strength`` while the others stay at
``±thres_int`` (0.5). The paper's numbers use ``strength = test_int = 1`` (``att_diff =
±1.5`` for STGAN's difference input); other strengths, e.g. 0.5 (``att_diff = ±1``, the
training scale), are reported next to it.

:func:`evaluate` computes the numbers from a generator and a dataset: one pass of the
generator over the test images (:func:`generator_pass`) feeds one accumulator per metric
(:class:`Reconstruction`, :class:`JudgeVerdicts`, :class:`GroundTruth`, :class:`FIDFeatures`),
and each reported number is one small function of what they gathered
(:func:`generation_accuracy`, :func:`preservation`, :func:`judge_on_real`, ...).
:func:`stgan.report.write_report` writes ``metrics.json``, ``report.md`` and the figures;
:func:`evaluate_checkpoint` does both for a checkpoint file (``stgan eval``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from stgan import metrics
from stgan.attributes import Coding, check_names
from stgan.editing import edit, flip_target, reconstruct
from stgan.errors import UserError
from stgan.imageio import to_float, to_uint8
from stgan.jsonio import json_ready
from stgan.judge import Judge
from stgan.report import write_report


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


# --------------------------------------------------------------------------------------------
# the generator pass


@dataclass
class Batch:
    """One batch of test images through the generator: reconstructions and every edit.

    ``targets[k][i]`` and ``edits[k][i]`` are the target labels and the edited images when
    attribute ``i`` is flipped at strength ``k``.
    """

    index: range  # the dataset items
    real: np.ndarray  # (B, S, S, 3) uint8
    rec: np.ndarray  # (B, S, S, 3) uint8: G(x, 0)
    targets: list[list[np.ndarray]]  # [strength][attribute] (B, n) uint8 0/1
    edits: list[list[np.ndarray]]  # [strength][attribute] (B, S, S, 3) uint8


def generator_pass(
    G: nn.Module,
    names: Sequence[str],
    dataset,
    source01: np.ndarray,
    coding: Coding,
    strengths: Sequence[float],
    batch_size: int,
    device: torch.device,
    progress: bool,
) -> Iterator[Batch]:
    """Reconstruct every item of ``dataset`` and flip each attribute in turn (conflict rules
    applied, :func:`stgan.editing.flip_target`) at every strength (``coding`` with that
    ``test_int``), ``batch_size`` items at a time."""
    codings = [replace(coding, test_int=s) for s in strengths]
    bar = tqdm(total=len(dataset), desc="evaluate", unit="img", disable=not progress)
    for start in range(0, len(dataset), batch_size):
        idx = range(start, min(start + batch_size, len(dataset)))
        x_u8 = np.stack([dataset.image_uint8(i) for i in idx])  # (B, S, S, 3)
        x = to_float(x_u8).to(device)  # (B, 3, S, S) in [-1, 1]
        src = torch.as_tensor(source01[start : idx.stop], dtype=torch.float32, device=device)
        rec = to_uint8(reconstruct(G, x, src, coding))
        targets, edits = [], []
        for coding_k in codings:
            t_k, e_k = [], []
            for i in range(len(names)):
                tgt01, tgt_enc = flip_target(src, names, i, coding_k)
                e_k.append(to_uint8(edit(G, x, src, tgt_enc, coding_k)))
                t_k.append(tgt01.cpu().numpy().astype(np.uint8))
            targets.append(t_k)
            edits.append(e_k)
        yield Batch(idx, x_u8, rec, targets, edits)
        bar.update(len(idx))
    bar.close()


# --------------------------------------------------------------------------------------------
# metrics: accumulators fed by the pass, and one small function per number


class Reconstruction:
    """PSNR and SSIM between each image and its reconstruction ``G(x, 0)``, on uint8."""

    def __init__(self):
        self.psnr: list[np.ndarray] = []
        self.ssim: list[np.ndarray] = []

    def update(self, b: Batch) -> None:
        self.psnr.append(metrics.psnr(b.real, b.rec))
        self.ssim.append(metrics.ssim(b.real, b.rec))

    def result(self) -> dict[str, Any]:
        """Mean PSNR over the images not reconstructed exactly (their PSNR is infinite, and
        counted), mean SSIM."""
        psnr, ssim = np.concatenate(self.psnr), np.concatenate(self.ssim)
        return {
            "psnr": metrics.finite_mean(psnr),
            "ssim": float(ssim.mean()),
            "psnr_n_inf": int(np.isinf(psnr).sum()),
        }


class JudgeVerdicts:
    """The judge's 0/1 predictions on the unedited images and on every edit."""

    def __init__(self, judge: Judge, names: Sequence[str], n_strengths: int):
        self.judge, self.cols = judge, judge.columns(names)
        self.source: list[np.ndarray] = []  # (B, n) per batch
        self.edit: list[list[np.ndarray]] = [[] for _ in range(n_strengths)]  # (n, B, n)
        self.target: list[list[np.ndarray]] = [[] for _ in range(n_strengths)]  # (n, B, n)

    def update(self, b: Batch) -> None:
        self.source.append(self.judge.predict(b.real)[:, self.cols])
        for k, edits in enumerate(b.edits):
            self.edit[k].append(np.stack([self.judge.predict(e)[:, self.cols] for e in edits]))
            self.target[k].append(np.stack(b.targets[k]))

    def sources(self) -> np.ndarray:
        """Predictions on the unedited images (N, n)."""
        return np.concatenate(self.source)

    def edits(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Predictions on the edits at strength ``k`` and their targets, each (n, N, n)."""
        return np.concatenate(self.edit[k], axis=1), np.concatenate(self.target[k], axis=1)


class Critic:
    """The run's own discriminator's attribute head, read like a judge (0/1 verdicts).

    ``critic_accuracy`` (how often D's head sees the requested value of a flipped attribute)
    next to the judge's ``accuracy`` shows whether G passes its own critic with edits an
    independent classifier does not accept: the gap ``train.w_att_fake`` closes
    (docs/recipes.md)."""

    def __init__(self, D: nn.Module, names: Sequence[str], device: torch.device):
        self.D, self.n, self.device = D.to(device).eval(), len(names), device

    def columns(self, names: Sequence[str]) -> list[int]:
        return list(range(self.n))  # D's head has the generator's attributes, in its order

    @torch.no_grad()
    def predict(self, images: np.ndarray) -> np.ndarray:
        """0/1 ``uint8`` (B, n): D's attribute logit > 0 on uint8 images (B, S, S, 3)."""
        _, att = self.D(to_float(images).to(self.device))
        return (att > 0).cpu().numpy().astype(np.uint8)


def generation_accuracy(
    names: Sequence[str], pred_edit: np.ndarray, target: np.ndarray
) -> dict[str, Any]:
    """Per attribute, how often the judge sees the flipped value after flipping it (paper
    §4.1); (n, N, n) predictions and targets."""
    acc = metrics.generation_accuracy(pred_edit, target)  # (n,)
    return {
        "accuracy": dict(zip(names, map(float, acc), strict=True)),
        "accuracy_mean": float(acc.mean()),
    }


def preservation(
    names: Sequence[str], pred_src: np.ndarray, pred_edit: np.ndarray, target: np.ndarray
) -> dict[str, Any]:
    """How often the judge's prediction of each *other* attribute changed with an edit (an
    (n, n) matrix with a NaN diagonal; changes the conflict rules asked for are no errors),
    per edited attribute and overall."""
    pres = metrics.preservation_error(pred_src, pred_edit, target)  # (n, n)
    rows = [np.delete(pres[i], i) for i in range(len(names))]
    return {
        "matrix": pres.tolist(),
        "per_attr": {nm: metrics.nan_mean(r) for nm, r in zip(names, rows, strict=True)},
        "mean": metrics.preservation_mean(pres),
    }


def preservation_official(
    names: Sequence[str], source01: np.ndarray, pred_edit: np.ndarray
) -> dict[str, Any]:
    """The official preservation error (att_classification/test.py, reference §6): how often
    the judge's prediction of each *other* attribute on the edit differs from its
    ground-truth label (conflict-rule changes counted), per edited attribute (the official
    "Err.") and overall; the matrix is the official "Err. Each" with a NaN diagonal."""
    pres = metrics.preservation_error_official(source01, pred_edit)  # (n, n)
    rows = [np.delete(pres[i], i) for i in range(len(names))]
    return {
        "matrix": pres.tolist(),
        "per_attr": {nm: metrics.nan_mean(r) for nm, r in zip(names, rows, strict=True)},
        "mean": metrics.preservation_mean(pres),
    }


def judge_on_real(names: Sequence[str], pred_src: np.ndarray, source01: np.ndarray) -> dict:
    """The judge's accuracy on the unedited images: an upper bound on what it can certify."""
    acc = (pred_src == source01).mean(axis=0, dtype=np.float64)
    return {
        "accuracy": dict(zip(names, map(float, acc), strict=True)),
        "accuracy_mean": float(acc.mean()),
    }


class GroundTruth:
    """Each edit at the main strength against the same face rendered with the target labels
    (:meth:`SyntheticDataset.counterfactual`), next to the unedited image against it."""

    def __init__(self, dataset):
        self.dataset = dataset
        self.scores: dict[str, list[np.ndarray]] = {k: [] for k in _GT_KEYS}  # (n, B) each

    def update(self, b: Batch) -> None:
        per_attr: dict[str, list[np.ndarray]] = {k: [] for k in _GT_KEYS}
        for tgt01, x_edit in zip(b.targets[0], b.edits[0], strict=True):
            truth = np.stack(
                [self.dataset.counterfactual(j, t) for j, t in zip(b.index, tgt01, strict=True)]
            )
            per_attr["psnr"].append(metrics.psnr(x_edit, truth))
            per_attr["ssim"].append(metrics.ssim(x_edit, truth))
            per_attr["id_psnr"].append(metrics.psnr(b.real, truth))
            per_attr["id_ssim"].append(metrics.ssim(b.real, truth))
        for key, v in per_attr.items():
            self.scores[key].append(np.stack(v))

    def result(self, names: Sequence[str]) -> dict[str, Any]:
        g = {key: np.concatenate(v, axis=1) for key, v in self.scores.items()}  # (n, N)
        return {
            "edit_psnr": _per_attr(names, g["psnr"], psnr=True),
            "edit_ssim": _per_attr(names, g["ssim"], psnr=False),
            "identity_psnr": _per_attr(names, g["id_psnr"], psnr=True),
            "identity_ssim": _per_attr(names, g["id_ssim"], psnr=False),
        }


_GT_KEYS = ("psnr", "ssim", "id_psnr", "id_ssim")


def _per_attr(names: Sequence[str], values: np.ndarray, psnr: bool) -> dict[str, Any]:
    """Per-attribute means of (n, N) scores and their mean (PSNR: finite values only)."""
    avg = metrics.finite_mean if psnr else (lambda r: float(np.mean(r)))
    vals = [avg(r) for r in values]
    return {"per_attr": dict(zip(names, vals, strict=True)), "mean": avg(np.asarray(vals))}


class FIDFeatures:
    """Inception features of the real images and of every edit at the main strength."""

    def __init__(self, inception):
        self.inception = inception
        self.real: list[np.ndarray] = []
        self.fake: list[np.ndarray] = []

    def update(self, b: Batch) -> None:
        self.real.append(self.inception(b.real))
        self.fake.extend(self.inception(e) for e in b.edits[0])

    def result(self) -> float:
        """FID of the edited images against the real ones."""
        from stgan.fid import fid_from_features

        return fid_from_features(np.concatenate(self.fake), np.concatenate(self.real))


# --------------------------------------------------------------------------------------------
# the evaluation


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
    critic: Critic | None = None,
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
        critic: the run's discriminator (:class:`Critic`): its attribute head's accuracy on
            the same edits is reported as ``critic_accuracy``; None skips it.

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

    rec = Reconstruction()
    verdicts = JudgeVerdicts(judge, names, len(strengths)) if judge is not None else None
    gt = GroundTruth(dataset) if hasattr(dataset, "counterfactual") else None
    fid = FIDFeatures(inception) if inception is not None else None
    by_critic = JudgeVerdicts(critic, names, len(strengths)) if critic is not None else None
    accumulators = [a for a in (rec, verdicts, by_critic, gt, fid) if a is not None]
    coding = Coding(label, thres_int)
    batches = generator_pass(
        G, names, dataset, source01, coding, strengths, batch_size, device, progress
    )
    for batch in batches:
        for acc in accumulators:
            acc.update(batch)

    result: dict[str, Any] = {
        "n_images": N,
        "attr_names": list(names),
        "reconstruction": rec.result(),
        "strengths": [],
    }
    for k, strength in enumerate(strengths):
        entry: dict[str, Any] = {"strength": float(strength)}
        if label == "diff":
            entry["att_diff"] = float(strength + thres_int)
        if verdicts is not None:
            pred_edit, target = verdicts.edits(k)
            entry.update(generation_accuracy(names, pred_edit, target))
            entry["preservation"] = preservation(names, verdicts.sources(), pred_edit, target)
            entry["preservation_official"] = preservation_official(names, source01, pred_edit)
        if by_critic is not None:
            entry["critic_accuracy"] = generation_accuracy(names, *by_critic.edits(k))
        result["strengths"].append(entry)
    if verdicts is not None:
        result["judge_on_real"] = judge_on_real(names, verdicts.sources(), source01)
    if gt is not None:
        result["ground_truth"] = {
            "strength": float(strengths[0]),
            "reconstruction": {k: result["reconstruction"][k] for k in ("psnr", "ssim")},
            **gt.result(names),
        }
    if fid is not None:
        result["fid"] = {"strength": float(strengths[0]), "edited_vs_real": fid.result()}
    result["summary"] = summary(result)
    return json_ready(result)


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of an :func:`evaluate` result, flat (None where not measured)."""
    main = result["strengths"][0] if result.get("strengths") else {}
    gt = result.get("ground_truth")
    return {
        "psnr": result["reconstruction"]["psnr"],
        "ssim": result["reconstruction"]["ssim"],
        "accuracy_mean": main.get("accuracy_mean"),
        "critic_accuracy_mean": (main.get("critic_accuracy") or {}).get("accuracy_mean"),
        "preservation_mean": (main.get("preservation") or {}).get("mean"),
        "preservation_official_mean": (main.get("preservation_official") or {}).get("mean"),
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
    from stgan import checkpoint as ckpt_mod
    from stgan.inference import Editor

    ckpt = ckpt_mod.load(checkpoint)  # read once: the generator and the critic
    path = Path(ckpt["path"])  # the file read (a run folder may get a newer one meanwhile)
    editor = Editor.from_loaded(ckpt, device)
    cfg, names = editor.cfg, editor.attr_names
    critic = _critic(ckpt, cfg, names, torch.device(device))
    del ckpt  # the optimiser states and the rest are not needed while evaluating
    data_cfg, dataset, src = _test_split(editor, data, crop, dataset, progress)
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
        critic,
    )
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
        "classifier_accuracy": _judge_accuracy(judge, names),
        "device": str(device),
        "seconds": round(time.monotonic() - t0, 1),
    }
    if out_dir is not None:
        write_report(out_dir, result)
    return result


def _critic(ckpt: dict, cfg, names: Sequence[str], device: torch.device) -> Critic | None:
    """The discriminator of a loaded checkpoint as a :class:`Critic` (None when it has none,
    e.g. an imported generator)."""
    from stgan import checkpoint as ckpt_mod
    from stgan.models import build_discriminator

    if "D" not in ckpt:
        return None
    D = build_discriminator(cfg.model, len(names))
    ckpt_mod.load_state(D, ckpt["D"], "discriminator", ckpt["path"])
    return Critic(D, names, device)


def _judge_accuracy(judge: Judge | None, names: Sequence[str]) -> float | None:
    """The judge's held-out mean accuracy over the generator's attributes (a judge with 40
    outputs also reports its mean over all 40, which is not what it certifies here)."""
    m = (judge.info.get("metrics") or {}) if judge is not None else {}
    acc = m.get("accuracy") or {}
    if acc and all(n in acc for n in names):
        return float(np.mean([acc[n] for n in names]))
    return m.get("accuracy_mean")


def _test_split(editor, data: str | None, crop: str | None, dataset, progress: bool):
    """The data config, the test split and its source labels (N, n) for a generator."""

    from stgan.data import open_dataset, read_labels

    names = editor.attr_names
    data_cfg = replace(editor.cfg.data, dataset=data) if data else editor.cfg.data
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
    return data_cfg, dataset, source_labels(dataset, names, table)


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
