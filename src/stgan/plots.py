"""Figures of the evaluation reports: per-attribute accuracy bars (the paper's Fig. 4 style),
the preservation-error heatmap and the reconstruction-vs-editing trade-off scatter (§4.2).

matplotlib is an optional dependency (``pip install stgan[plots]``): it is imported lazily
with the non-interactive Agg backend, and each function returns False without it, so a
report is still written (without figures) where matplotlib is missing.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from stgan.imageio import atomic_write_bytes


def _pyplot():
    """matplotlib.pyplot on the Agg backend, or None if matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _save(fig, path: str | Path, dpi: int) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())


def accuracy_bars(
    path: str | Path,
    names: Sequence[str],
    series: Mapping[str, Sequence[float]],
    title: str = "Attribute generation accuracy",
    dpi: int = 100,
) -> bool:
    """Grouped bars: one group per attribute, one bar per series (e.g. per variant), in %.

    Args:
        path: output PNG.
        names: attribute names (x axis).
        series: label → accuracies in [0, 1], one per attribute.
        title: figure title.
        dpi: resolution.

    Returns:
        False when matplotlib is unavailable (nothing written).
    """
    plt = _pyplot()
    if plt is None:
        return False
    k = max(len(series), 1)
    width = 0.8 / k
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(min(12.0, max(6.0, 0.5 * len(names) * max(1.0, k / 2.5))), 3.6))
    for j, (label, values) in enumerate(series.items()):
        v = 100.0 * np.asarray(values, dtype=np.float64)
        ax.bar(x - 0.4 + width * (j + 0.5), v, width, label=label)
    ax.set_xticks(x)
    ax.set_xticklabels([n.replace("_", " ") for n in names], rotation=40, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _save(fig, path, dpi)
    plt.close(fig)
    return True


def preservation_heatmap(
    path: str | Path,
    matrix: np.ndarray,
    names: Sequence[str],
    title: str = "Attribute preservation error",
    dpi: int = 100,
) -> bool:
    """Heatmap of an (n, n) preservation matrix: row = edited attribute, column = the
    attribute whose prediction changed (in %); the NaN diagonal is left blank."""
    plt = _pyplot()
    if plt is None:
        return False
    m = 100.0 * np.asarray(matrix, dtype=np.float64)
    n = len(names)
    fig, ax = plt.subplots(figsize=(0.45 * n + 2.5, 0.45 * n + 1.5))
    im = ax.imshow(
        np.ma.masked_invalid(m),
        cmap="viridis",
        vmin=0.0,
        vmax=max(1.0, float(np.nanmax(m)) if np.isfinite(m).any() else 1.0),
    )
    labels = [s.replace("_", " ") for s in names]
    ax.set_xticks(range(n))
    ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("attribute whose prediction changed")
    ax.set_ylabel("edited attribute")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="%")
    _save(fig, path, dpi)
    plt.close(fig)
    return True


def tradeoff_scatter(
    path: str | Path,
    points: Mapping[str, tuple[float, float]],
    xlabel: str = "reconstruction PSNR (dB)",
    ylabel: str = "mean attribute accuracy (%)",
    title: str = "Reconstruction vs. editing",
    dpi: int = 100,
) -> bool:
    """One labelled point per variant: (x, y) with y given in [0, 1] and drawn in %."""
    plt = _pyplot()
    if plt is None:
        return False
    fig, ax = plt.subplots(figsize=(5.0, 3.8))
    for label, (x, y) in points.items():
        ax.scatter([x], [100.0 * y], s=40)
        ax.annotate(label, (x, 100.0 * y), textcoords="offset points", xytext=(5, 4), fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.margins(0.2)
    _save(fig, path, dpi)
    plt.close(fig)
    return True


#: The training scalars shown by :func:`loss_curves`, one panel each (keys of ``log.jsonl``).
LOSS_PANELS = (
    ("D/wdist", "Wasserstein estimate E D(x) − E D(ŷ)"),
    ("D/gp", "gradient penalty"),
    ("D/att", "D attribute BCE (real)"),
    ("G/adv", "G adversarial −E D(ŷ)"),
    ("G/att", "G attribute BCE (edited)"),
    ("G/rec", "reconstruction L1"),
)


def loss_curves(path: str | Path, rows: Sequence[Mapping[str, float]], dpi: int = 100) -> bool:
    """Six panels of the training scalars of a run (rows of ``log.jsonl``) against the step."""
    plt = _pyplot()
    if plt is None or not rows:
        return False
    steps = np.array([r["step"] for r in rows], dtype=float)
    fig, axes = plt.subplots(2, 3, figsize=(12, 6), sharex=True)
    for ax, (key, title) in zip(axes.ravel(), LOSS_PANELS, strict=True):
        y = np.array([np.nan if r.get(key) is None else r[key] for r in rows], dtype=float)
        ax.plot(steps, y, lw=0.8, alpha=0.35, color="C0")
        if len(y) >= 10:  # a moving average over ~5% of the run shows the trend
            k = max(2, len(y) // 20)
            smooth = np.convolve(np.nan_to_num(y), np.ones(k) / k, mode="valid")
            ax.plot(steps[k - 1 :], smooth, lw=1.6, color="C0")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("G iteration")
    fig.tight_layout()
    _save(fig, path, dpi)
    plt.close(fig)
    return True


def quality_vs_compute(path: str | Path, result: Mapping, dpi: int = 100) -> bool:
    """Quality against training compute (an ablation, :mod:`stgan.ablation`): one panel per
    metric (ground-truth edit PSNR with the identity baseline, accuracy, reconstruction PSNR,
    preservation error), CPU seconds on the x axis, one line per variant."""
    plt = _pyplot()
    if plt is None:
        return False
    panels = [
        ("gt_edit_psnr", "ground-truth edit PSNR (dB)", 1.0),
        ("accuracy_mean", "attribute accuracy (%)", 100.0),
        ("psnr", "reconstruction PSNR (dB)", 1.0),
        ("preservation_mean", "preservation error (%)", 100.0),
    ]
    variants = result["variants"]
    has = [
        p
        for p in panels
        if any(pt.get(p[0]) is not None for v in variants.values() for pt in v["curve"])
    ]
    fig, axes = plt.subplots(1, len(has), figsize=(4.2 * len(has), 3.4), squeeze=False)
    for ax, (key, label, scale) in zip(axes[0], has, strict=True):
        for name, rec in variants.items():
            pts = [p for p in rec["curve"] if p.get(key) is not None]
            if pts:
                xs = [p["cpu_seconds"] for p in pts]
                ax.plot(xs, [scale * p[key] for p in pts], marker="o", label=name)
        if key == "gt_edit_psnr":
            ident = [
                p["gt_identity_psnr"]
                for v in variants.values()
                for p in v["curve"]
                if p.get("gt_identity_psnr") is not None
            ]
            if ident:
                ax.axhline(ident[0], color="grey", linestyle="--", label="identity (no edit)")
        ax.set_xlabel("training CPU seconds")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    # one legend under the panels, long variant names wrapped at their '+' (a name like
    # fast+model.mask=true+train.target_int=test+... would cover the first panel)
    handles, labels = axes[0][0].get_legend_handles_labels()
    labels = [_wrap_variant(x) for x in labels]
    ncol = min(3, len(labels))
    rows = [
        max(x.count("\n") + 1 for x in labels[i : i + ncol]) for i in range(0, len(labels), ncol)
    ]
    extra = 0.17 * sum(rows) + 0.25  # inches of legend text under the panels
    fig.set_size_inches(4.2 * len(has), 3.4 + extra)
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, extra / (3.4 + extra), 1, 1))
    _save(fig, path, dpi)
    plt.close(fig)
    return True


def _wrap_variant(name: str, width: int = 60) -> str:
    """A variant name (``fast+section.key=value+...``) on lines of at most ``width``
    characters, broken after a ``+``."""
    lines = [""]
    for i, part in enumerate(name.split("+")):
        piece = part if i == 0 else "+" + part
        if lines[-1] and len(lines[-1]) + len(piece) > width:
            lines.append(piece)
        else:
            lines[-1] += piece
    return "\n".join(lines)
