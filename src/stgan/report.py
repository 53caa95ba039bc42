"""The evaluation report: ``metrics.json``, ``report.md`` and the figures of ``stgan eval``.

Formatting only: the numbers come from :func:`stgan.evaluate.evaluate` (and
:func:`stgan.evaluate.evaluate_checkpoint` for the ``run`` section); figures are drawn by
:mod:`stgan.plots`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from stgan.imageio import atomic_write_bytes
from stgan.jsonio import write_json


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
    write_json(written[0], result)
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
    """The Markdown report of an :func:`~stgan.evaluate.evaluate_checkpoint` result."""
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
    main = result["strengths"][0] if result["strengths"] else {}
    critic = main.get("critic_accuracy")
    if with_acc or gt or critic:
        L += ["## Per attribute", ""]
        head = ["attribute"]
        for s in with_acc:
            head.append(f"accuracy @ {s['strength']:g}")
        if critic:
            head.append(f"D's head @ {main['strength']:g}")
        official = bool(with_acc) and "preservation_official" in with_acc[0]
        if with_acc:
            head.append(f"preservation error @ {with_acc[0]['strength']:g}")
        if official:
            head.append(f"official preservation error @ {with_acc[0]['strength']:g}")
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
            if critic:
                cells.append(
                    _pct(critic["accuracy_mean"] if key is None else critic["accuracy"][key])
                )
            if with_acc:
                cells.append(_pct(pick(with_acc[0]["preservation"])))
            if official:
                cells.append(_pct(pick(with_acc[0]["preservation_official"])))
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
        "- *D's head @ s*: the same edits scored by the run's own discriminator's attribute "
        "head instead of the classifier; far above *accuracy*, it says the generator passes "
        "its critic with edits an independent classifier does not accept.",
        "- *preservation error*: fraction of the other attributes whose predicted value "
        "changed between the source image and the edit; changes required by a conflict rule "
        "are not counted.",
        "- *official preservation error* (the official att_classification/test.py): fraction "
        "of the other attributes whose predicted value on the edit differs from the source "
        "image's ground-truth label; changes made by a conflict rule count as errors, and so "
        "do the classifier's own mistakes on the source image.",
        "- *GT edit PSNR/SSIM* (synthetic faces only): each edit against the same face "
        "rendered with the target attributes; *identity PSNR* scores the unedited image "
        "against that ground truth (what doing nothing achieves).",
        "",
    ]
    return "\n".join(L)
