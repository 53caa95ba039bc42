"""The judge: the attribute classifier that scores edits (reference §6), trained, saved, loaded.

The paper measures attribute generation accuracy with a separately trained classifier
(:class:`stgan.models.Classifier`: five blocks of two 3×3 conv + BN + ReLU with 16…256
channels and max-pooling, FC 512). It is trained as the official one
(att_classification/train.py and models.py, :data:`OFFICIAL`): Adam 2e-4 (β 0.9/0.999),
batch 64, 25 epochs, mean BCE with logits, L2 weight decay 1e-4 on the conv and FC weights,
the learning rate × (1 − max(epoch − 8, 0)/epochs)^0.75, on the train + val images, with 40
outputs (all CelebA attributes; :func:`default_attrs`). :data:`LEGACY` is how stgan trained
it before (no weight decay, constant learning rate, train split only).
This module trains it (:func:`train_classifier`), measures it on held-out images
(:func:`predict_dataset`, :func:`accuracy_report`; :func:`weak_attributes` names those
where it is no better than the majority-class baseline), and stores it as data
(:func:`save_judge`): a dict with the weights, attribute names, image size, crop and
preprocessing, tagged ``"format": "stgan-classifier"`` and loadable with
``torch.load(..., weights_only=True)``.

:class:`Judge` is the loaded classifier: it predicts 0/1 attributes of uint8 or float
images (resizing them to its own size when they differ), so it judges generator outputs and
can also guess the source attributes of a photo before editing it.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from stgan.attributes import CELEBA_ATTRS, DEFAULT_ATTRS
from stgan.data.stream import UserErrorLoader, to_model_input
from stgan.data.transforms import load_image
from stgan.errors import UserError
from stgan.imageio import atomic_write_bytes
from stgan.jsonio import json_ready
from stgan.models import Classifier
from stgan.models.classifier import decayed_parameters

FORMAT = "stgan-classifier"
VERSION = 1
FILE_NAME = "classifier.pt"  # the judge file inside a train-classifier output folder
WIDTHS = (16, 32, 64, 128, 256)  # reference §6
FC_DIM = 512
PREPROCESS = {  # how images must be prepared before the network (reference §5)
    "resize": "bicubic",
    "range": "x / 127.5 - 1 (uint8 RGB to [-1, 1])",
}


@dataclass(frozen=True)
class JudgeRecipe:
    """How the judge is trained, beyond the optimiser's learning rate, batch and epochs.

    ``weight_decay`` is the value of PyTorch Adam's ``weight_decay`` on the conv and linear
    weights (not on biases or BatchNorm parameters). The official code adds
    ``slim.l2_regularizer(1e-4)`` terms to the loss, i.e. 1e-4 · tf.nn.l2_loss(w) =
    1e-4 · Σw²/2 per weight tensor; its gradient is 1e-4 · w, and PyTorch's Adam with
    ``weight_decay=λ`` adds exactly λ · w to the gradient before the moment estimates (an
    L2 term in the loss, not AdamW's decoupled decay), so λ = 1e-4. (Had the term been
    λ · Σw², without the ½, the value would be 2λ.)
    """

    name: str  # "official" or "legacy"
    weight_decay: float  # Adam weight_decay on conv/linear weights
    lr_decay: bool  # lr × (1 − max(epoch − 8, 0)/epochs)^0.75 (official); else constant
    splits: tuple[str, ...]  # data splits trained on


OFFICIAL = JudgeRecipe("official", 1e-4, True, ("train", "val"))
LEGACY = JudgeRecipe("legacy", 0.0, False, ("train",))  # stgan before issue 8
RECIPES = {r.name: r for r in (OFFICIAL, LEGACY)}
LR_DECAY_START = 8  # official train.py: epochs 0-8 at the full rate
LR_DECAY_POWER = 0.75


def lr_factor(epoch: int, epochs: int) -> float:
    """The official learning-rate factor of 0-based ``epoch`` out of ``epochs``.

    att_classification/train.py: ``lr * (1 - max(it // batch_epoch - 8, 0) / epoch_) ** 0.75``
    with ``epoch_ = 25``, the number of epochs; here ``epochs`` takes its place, so the
    official 25 epochs give the official factors (1 up to epoch 8, 0.465 in epoch 24) and
    any other length never reaches a negative base.
    """
    return (1.0 - max(epoch - LR_DECAY_START, 0) / epochs) ** LR_DECAY_POWER


class Judge:
    """A trained attribute classifier in eval mode, with what it needs to read images.

    Args:
        model: the classifier (put in eval mode and moved to ``device``).
        attr_names: names of its logits, in order.
        img_size: side of the images it was trained on.
        crop: the crop its training photos had (``none`` for synthetic faces).
        device: where it runs.
        info: anything else stored in the file (metrics, data, epochs).
    """

    def __init__(
        self,
        model: nn.Module,
        attr_names: Sequence[str],
        img_size: int,
        crop: str = "celeba",
        device: str | torch.device = "cpu",
        info: dict[str, Any] | None = None,
    ):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.attr_names = tuple(attr_names)
        self.img_size = int(img_size)
        self.crop = crop
        self.info = dict(info or {})

    @classmethod
    def from_file(cls, path: str | Path, device: str | torch.device = "cpu") -> Judge:
        """Load a judge file, or the ``classifier.pt`` of a ``train-classifier`` folder.

        Raises:
            UserError: missing file, not a torch file, or not written by
                ``stgan train-classifier``.
        """
        p = Path(path)
        if p.is_dir():
            p = p / FILE_NAME
        if not p.is_file():
            raise UserError(
                f"classifier {p} does not exist; train one with `stgan train-classifier` "
                "and pass its output folder or its classifier.pt"
            )
        try:
            data = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises many types for foreign or truncated files
            msg = str(e).splitlines()[0][:100] if str(e) else type(e).__name__
            raise UserError(f"classifier {p} is corrupt or not a torch file ({msg})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise UserError(
                f"{p} is not an stgan classifier (format tag {FORMAT!r} missing); pass a file "
                "written by `stgan train-classifier`, not a generator checkpoint"
            )
        if data.get("version") != VERSION:
            raise UserError(
                f"classifier {p} has format version {data.get('version')}, "
                f"this stgan reads version {VERSION}"
            )
        names = list(data["attr_names"])
        model = Classifier(
            len(names), int(data["img_size"]), tuple(data["widths"]), int(data["fc_dim"])
        )
        try:
            model.load_state_dict(data["state_dict"])
        except RuntimeError as e:
            raise UserError(f"classifier {p} does not match its own header ({e})") from None
        info = {k: data[k] for k in ("metrics", "data", "epochs", "steps", "training") if k in data}
        info["path"] = str(p)
        return cls(model, names, int(data["img_size"]), str(data["crop"]), device, info)

    def columns(self, names: Sequence[str]) -> list[int]:
        """Indices of the judge's logits for attribute ``names`` (matched by name).

        Raises:
            UserError: a name the judge was not trained on.
        """
        missing = [n for n in names if n not in self.attr_names]
        if missing:
            raise UserError(
                f"the classifier {self.info.get('path', '')} does not judge "
                f"{', '.join(missing)} (it knows {', '.join(self.attr_names)}); train one "
                "with those attributes: stgan train-classifier --attrs ..."
            )
        return [self.attr_names.index(n) for n in names]

    def prepare(self, images: np.ndarray | Tensor) -> Tensor:
        """uint8 (B, H, W, 3) or float (B, 3, H, W) in [-1, 1] → float (B, 3, S, S) on device.

        Images of another size are resized bicubically (antialiased) to :attr:`img_size`.
        """
        if isinstance(images, np.ndarray):
            images = torch.from_numpy(np.ascontiguousarray(images))
        if images.dtype == torch.uint8:
            if images.ndim != 4 or images.shape[-1] != 3:
                raise ValueError(f"expected uint8 images (B, H, W, 3), got {tuple(images.shape)}")
        elif images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected float images (B, 3, H, W), got {tuple(images.shape)}")
        x = to_model_input(images, self.device).float()  # (B, 3, H, W) in [-1, 1]
        if x.shape[-2:] != (self.img_size, self.img_size):
            x = F.interpolate(
                x,
                size=(self.img_size, self.img_size),
                mode="bicubic",
                align_corners=False,
                antialias=True,
            ).clamp(-1.0, 1.0)
        return x

    @torch.no_grad()
    def predict_logits(self, images: np.ndarray | Tensor, batch_size: int = 256) -> Tensor:
        """Logits (B, n) of uint8 (B, H, W, 3) or float (B, 3, H, W) images, on the CPU."""
        out = []
        for start in range(0, len(images), batch_size):
            out.append(self.model(self.prepare(images[start : start + batch_size])).float().cpu())
        if not out:
            return torch.zeros(0, len(self.attr_names))
        return torch.cat(out)

    def predict(self, images: np.ndarray | Tensor, batch_size: int = 256) -> np.ndarray:
        """0/1 ``uint8`` predictions (B, n): logit > 0, i.e. probability > 0.5."""
        return (self.predict_logits(images, batch_size) > 0).numpy().astype(np.uint8)

    def predict_files(self, paths: Sequence[str | Path], crop: str | None = None) -> np.ndarray:
        """0/1 predictions (B, n) for photo files, cropped like the judge's training images.

        Gives the source attributes of a photo before editing it (the face must be aligned
        like the training data, reference §8).
        """
        images = np.stack([load_image(p, crop or self.crop, self.img_size) for p in paths])
        return self.predict(images)


def build_classifier(
    n_attrs: int, img_size: int, widths: Sequence[int] = WIDTHS, fc_dim: int = FC_DIM
) -> Classifier:
    """The reference classifier for ``img_size`` (a multiple of 32) and ``n_attrs`` logits."""
    scale = 2 ** len(widths)
    if img_size < scale or img_size % scale:
        raise UserError(
            f"the classifier needs an image size that is a multiple of {scale}, "
            f"got {img_size}; pass --img-size 32, 64, 128, ..."
        )
    return Classifier(n_attrs, img_size, tuple(widths), fc_dim)


def train_classifier(
    model: nn.Module,
    train_set: Dataset,
    device: str | torch.device,
    epochs: int = 25,
    batch_size: int = 64,
    lr: float = 2e-4,
    seed: int = 0,
    num_workers: int = 0,
    max_minutes: float | None = None,
    on_step: Callable[..., Any] | None = None,
    recipe: JudgeRecipe = OFFICIAL,
) -> dict[str, float]:
    """Train ``model`` on ``(image, 0/1 labels)`` items with BCE on logits (reference §6).

    Adam(lr, β 0.9/0.999), mean BCE over batch × attributes, shuffled each epoch by a
    generator seeded with ``seed``; ``recipe`` adds the weight decay on the conv and linear
    weights and the per-epoch learning-rate factor :func:`lr_factor` (:data:`OFFICIAL`).
    Stops after ``epochs`` or, cleanly between two batches, after ``max_minutes``.
    ``on_step(done, total, loss=...)`` is called after every batch with the batches done,
    those planned and the epoch's mean loss so far (e.g. a :class:`stgan.progress.Bar`).

    Returns:
        ``{"epochs": completed epochs (fractional), "steps": batches, "loss": last mean
        loss of an epoch, "minutes": time spent}``.
    """
    device = torch.device(device)
    model.to(device).train()
    weights, others = decayed_parameters(model)
    opt = torch.optim.Adam(
        [{"params": weights, "weight_decay": recipe.weight_decay}, {"params": others}], lr=lr
    )
    loader = UserErrorLoader(  # a bad image in a worker: one line, not its traceback
        train_set,
        batch_size=batch_size,
        shuffle=True,
        drop_last=len(train_set) > batch_size,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed),
    )  # workers are not persistent: after a bad image they stop at once (not at a later
    # garbage collection, which can wait 5 s for each)
    per_epoch = len(loader)
    total = epochs * per_epoch
    t0, steps, loss_sum, n_loss, last_loss = time.monotonic(), 0, 0.0, 0, float("nan")
    stop = False
    for epoch in range(epochs):
        for group in opt.param_groups:
            group["lr"] = lr * (lr_factor(epoch, epochs) if recipe.lr_decay else 1.0)
        loss_sum, n_loss = 0.0, 0
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = F.binary_cross_entropy_with_logits(model(x), y)  # mean over B × n
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
            loss_sum += loss.item()
            n_loss += 1
            if on_step is not None:
                on_step(steps, total, loss=loss_sum / n_loss)
            if max_minutes is not None and time.monotonic() - t0 > 60.0 * max_minutes:
                stop = True
                break
        last_loss = loss_sum / max(n_loss, 1)
        if stop:
            break
    model.eval()
    return {
        "epochs": steps / max(per_epoch, 1),
        "steps": steps,
        "loss": last_loss,
        "minutes": (time.monotonic() - t0) / 60.0,
    }


@torch.no_grad()
def predict_dataset(
    judge: Judge,
    dataset: Dataset,
    batch_size: int = 256,
    on_batch: Callable[[int, int], Any] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Judge every item of a dataset of ``(image, 0/1 labels)``; ``on_batch(done, total)``
    is called after every batch (e.g. a :class:`stgan.progress.Bar`).

    Returns:
        ``(predictions, labels)``, both (N, n) ``uint8`` 0/1, in item order (each label
        row comes with its own image).
    """
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    preds, labels = [], []
    for x, y in loader:
        preds.append(judge.predict(x, batch_size))
        labels.append(y.numpy() > 0.5)
        if on_batch is not None:
            on_batch(len(preds), len(loader))
    if not preds:
        empty = np.zeros((0, len(judge.attr_names)), np.uint8)
        return empty, empty
    return np.concatenate(preds), np.concatenate(labels).astype(np.uint8)


def fit_judge(
    train_set,
    test_set,
    img_size: int,
    device: torch.device,
    epochs: int,
    batch_size: int = 64,
    max_minutes: float | None = None,
    seed: int = 0,
    num_workers: int = 0,
    crop: str = "none",
    progress: bool = False,
    on_step: Callable[..., Any] | None = None,
    on_batch: Callable[[int, int], Any] | None = None,
    recipe: JudgeRecipe = OFFICIAL,
) -> tuple[Judge, dict[str, Any]]:
    """Train the reference classifier on ``train_set`` (e.g. :func:`open_training_set`) with
    ``recipe``; measure it on ``test_set``.

    Returns the judge (eval mode) and :func:`accuracy_report` with a ``train`` section
    (:func:`train_classifier`'s statistics).
    The classifier is initialised from the global torch RNG: seed it first.
    Progress goes to ``on_step`` (training, :func:`train_classifier`) and ``on_batch``
    (the held-out predictions, :func:`predict_dataset`); ``progress=True`` draws plain
    bars for those not given.
    """
    names = train_set.attr_names
    model = build_classifier(len(names), img_size)
    with ExitStack() as bars:
        if progress:
            from stgan.progress import Bar

            on_step = on_step or bars.enter_context(Bar("classifier", "batch"))
            on_batch = on_batch or bars.enter_context(Bar("classify", "batch"))
        stats = train_classifier(
            model,
            train_set,
            device,
            epochs,
            batch_size,
            seed=seed,
            num_workers=num_workers,
            max_minutes=max_minutes,
            on_step=on_step,
            recipe=recipe,
        )
        judge = Judge(model, names, img_size, crop, device)
        pred, labels = predict_dataset(judge, test_set, on_batch=on_batch)
    report = accuracy_report(pred, labels, names, train_set.labels)
    report["train"] = {**stats, "recipe": recipe_info(recipe, train_set)}
    return judge, report


def recipe_info(recipe: JudgeRecipe, train_set) -> dict[str, Any]:
    """What a judge file and its ``metrics.json`` record about its training: the recipe, and
    the splits actually trained on (those :func:`open_training_set` opened; None for a data
    set it did not open)."""
    splits = getattr(train_set, "splits", None)
    return {
        **asdict(recipe),
        "splits": list(splits) if splits is not None else None,
        "lr_schedule": (
            f"lr * (1 - max(epoch - {LR_DECAY_START}, 0) / epochs) ** {LR_DECAY_POWER}"
            if recipe.lr_decay
            else "constant"
        ),
        "n_train_images": len(train_set),
    }


class TrainingSet(ConcatDataset):
    """Several splits as one training set, with the ``attr_names`` and ``labels`` (N, n)
    that :func:`fit_judge` uses (the majority baseline comes from these labels)."""

    def __init__(self, parts: Sequence[Dataset], splits: Sequence[str]):
        super().__init__(parts)
        self.attr_names = tuple(parts[0].attr_names)
        self.labels = np.concatenate([np.asarray(p.labels) for p in parts])
        self.splits = tuple(splits)


def open_training_set(data_cfg, img_size: int, recipe: JudgeRecipe, progress: bool = False):
    """The splits of ``recipe`` (train, or train + val) of the data ``data_cfg`` describes.

    A folder too small to have a validation split (``split 'val' ... is empty``) trains on
    its train split alone.
    """
    from stgan.data import open_dataset

    parts, splits = [], []
    for split in recipe.splits:
        try:
            parts.append(open_dataset(data_cfg, img_size, split, progress=progress))
        except UserError as e:
            if not splits or f"split {split!r}" not in str(e) or "is empty" not in str(e):
                raise
        else:
            splits.append(split)
    return TrainingSet(parts, splits)


def default_attrs(dataset: str) -> tuple[str, ...]:
    """The attributes a judge learns by default: all 40 of CelebA, as the official classifier
    (att_dim 40), when the data's label file has them; else the model's 13 (synthetic faces
    and `stgan data synth` folders carry only those)."""
    if dataset == "synthetic":
        return DEFAULT_ATTRS
    from stgan.data import read_table

    names = set(read_table(dataset).names)
    return CELEBA_ATTRS if set(CELEBA_ATTRS) <= names else DEFAULT_ATTRS


def resolve_attrs(items: Sequence[str], dataset: str) -> tuple[str, ...]:
    """``--attrs``: ``13`` (the model's), ``40`` (all CelebA attributes), names, or nothing
    (:func:`default_attrs`)."""
    if not items:
        return default_attrs(dataset)
    if len(items) == 1 and items[0] in ("13", "40"):
        return DEFAULT_ATTRS if items[0] == "13" else CELEBA_ATTRS
    return tuple(items)


def accuracy_report(
    pred: np.ndarray, labels: np.ndarray, names: Sequence[str], train_labels: np.ndarray
) -> dict[str, Any]:
    """Per-attribute and mean accuracy, next to the trivial majority-class baseline.

    Args:
        pred: (N, n) 0/1 predictions on held-out images.
        labels: (N, n) 0/1 true labels of those images.
        names: the n attribute names.
        train_labels: (M, n) 0/1 training labels: the baseline predicts, for each
            attribute, the value that is more frequent in training.
    """
    pred, labels = np.asarray(pred) > 0, np.asarray(labels) > 0
    acc = (pred == labels).mean(axis=0, dtype=np.float64)  # (n,)
    majority = np.asarray(train_labels, dtype=np.float64).mean(axis=0) > 0.5  # (n,)
    base = (labels == majority[None]).mean(axis=0, dtype=np.float64)
    report = {
        "n_images": int(len(labels)),
        "accuracy": {n: float(a) for n, a in zip(names, acc, strict=True)},
        "accuracy_mean": float(acc.mean()),
        "majority_baseline": {n: float(b) for n, b in zip(names, base, strict=True)},
        "majority_baseline_mean": float(base.mean()),
    }
    if set(DEFAULT_ATTRS) < set(names):  # e.g. 40 outputs: also the paper's 13 (its 94.5 %)
        cols = [list(names).index(n) for n in DEFAULT_ATTRS]
        report["model_attrs"] = {
            "names": list(DEFAULT_ATTRS),
            "accuracy_mean": float(acc[cols].mean()),
            "majority_baseline_mean": float(base[cols].mean()),
        }
    return report


def weak_attributes(metrics: Mapping[str, Any] | None) -> list[str]:
    """The attributes on which a judge is no better than the majority-class baseline.

    Args:
        metrics: an :func:`accuracy_report` (a judge file keeps it: ``Judge.info["metrics"]``);
            None or a report without a baseline gives none.

    Returns:
        The names whose held-out accuracy is at or below their baseline, in report order:
        on those the judge's verdicts (and a generator's accuracy measured with them) say
        little.
    """
    acc = (metrics or {}).get("accuracy") or {}
    base = (metrics or {}).get("majority_baseline") or {}
    return [n for n, a in acc.items() if base.get(n) is not None and a is not None and a <= base[n]]


def restrict_report(metrics: Mapping[str, Any] | None, names: Sequence[str]) -> dict | None:
    """An :func:`accuracy_report` restricted to attribute ``names`` (means recomputed), e.g.
    a 40-output judge's report on the 13 attributes a generator edits; unchanged when it
    lacks one of them."""
    m = dict(metrics or {})
    acc, base = m.get("accuracy") or {}, m.get("majority_baseline") or {}
    if not names or not all(n in acc and n in base for n in names):
        return metrics
    m["accuracy"] = {n: acc[n] for n in names}
    m["majority_baseline"] = {n: base[n] for n in names}
    m["accuracy_mean"] = float(np.mean(list(m["accuracy"].values())))
    m["majority_baseline_mean"] = float(np.mean(list(m["majority_baseline"].values())))
    return m


def weakness_warning(metrics: Mapping[str, Any] | None, judge: str = "the judge") -> str | None:
    """One line warning that names :func:`weak_attributes`, or None if there are none."""
    weak = weak_attributes(metrics)
    if not weak:
        return None
    m = dict(metrics or {})
    means = ""
    if m.get("accuracy_mean") is not None and m.get("majority_baseline_mean") is not None:
        means = (
            f"; held-out mean {100 * m['accuracy_mean']:.1f}% vs baseline "
            f"{100 * m['majority_baseline_mean']:.1f}%"
        )
    return (
        f"{judge} is no better than always guessing the majority class on {len(weak)} of "
        f"{len(m['accuracy'])} attributes ({', '.join(weak)}{means}): its verdicts on them "
        "mean little; train it longer or on more images"
    )


def format_accuracy_table(report: dict[str, Any]) -> str:
    """Markdown table: attribute | accuracy | majority baseline, and the means."""
    lines = ["| attribute | accuracy | majority baseline |", "| --- | ---: | ---: |"]
    for n, a in report["accuracy"].items():
        lines.append(f"| {n} | {100 * a:.1f}% | {100 * report['majority_baseline'][n]:.1f}% |")
    lines.append(
        f"| **mean** | **{100 * report['accuracy_mean']:.1f}%** | "
        f"{100 * report['majority_baseline_mean']:.1f}% |"
    )
    sub = report.get("model_attrs")
    if sub:
        lines.append(
            f"| **mean of the model's {len(sub['names'])}** | "
            f"**{100 * sub['accuracy_mean']:.1f}%** | "
            f"{100 * sub['majority_baseline_mean']:.1f}% |"
        )
    return "\n".join(lines)


def save_judge(
    path: str | Path,
    model: Classifier,
    attr_names: Sequence[str],
    img_size: int,
    crop: str,
    widths: Sequence[int] = WIDTHS,
    fc_dim: int = FC_DIM,
    **info: Any,
) -> None:
    """Write a judge file atomically: weights and everything needed to use them.

    ``info`` (JSON-like values: metrics, data, epochs, steps) is stored alongside.
    """
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "attr_names": list(attr_names),
        "img_size": int(img_size),
        "crop": str(crop),
        "preprocess": dict(PREPROCESS, crop=str(crop), img_size=int(img_size)),
        "widths": [int(w) for w in widths],
        "fc_dim": int(fc_dim),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        **{k: json_ready(v) for k, v in info.items()},
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(path, buf.getvalue())
