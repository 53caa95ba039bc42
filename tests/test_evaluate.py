"""``stgan eval`` end to end (reference §6) on a tiny generator trained a few steps."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from stgan import checkpoint, metrics
from stgan.cli import main
from stgan.judge import Judge, build_classifier, save_judge
from stgan.models import build_discriminator

TINY = ["model.enc_dim=4", "model.dec_dim=4", "model.dis_dim=4", "model.dis_fc_dim=8",
        "train.batch_size=4", "train.n_critic=1", "data.synthetic_n=48"]  # fmt: skip
pytestmark = pytest.mark.slow  # every test shares a run trained through the CLI (seconds)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny STGAN trained 2 steps on synthetic faces, and an (untrained) 13-attribute judge."""
    root = tmp_path_factory.mktemp("eval")
    torch.set_num_threads(1)
    sets = [a for s in TINY for a in ("--set", s)]
    assert main(["train", "--config", "tiny", "--out", str(root / "g"), "--max-steps", "2",
                    "--quiet", *sets]) == 0  # fmt: skip
    from stgan.inference import Editor

    names = Editor.from_checkpoint(root / "g").attr_names
    torch.manual_seed(0)
    save_judge(root / "judge.pt", build_classifier(len(names), 32), names, 32, "none")
    return root


def strip_run(m: dict) -> dict:
    return {k: v for k, v in m.items() if k != "run"}


def test_eval_end_to_end(run, tmp_path, capsys):
    from stgan.attributes import Coding
    from stgan.data import open_dataset
    from stgan.editing import edit, flip_target, reconstruct
    from stgan.imageio import to_float, to_uint8
    from stgan.inference import Editor

    out = tmp_path / "report"
    argv = ["eval", "--checkpoint", str(run / "g"), "--classifier", str(run / "judge.pt"),
            "--out", str(out), "--limit", "5", "--strength", "0.5", "--batch-size", "5",
            "--device", "cpu", "--quiet"]  # fmt: skip
    # one batch of 5, as recomputed below: convolution kernels may differ with the batch size
    # in the last bits (batching is the next test's subject)
    assert main(argv) == 0
    printed = capsys.readouterr().out
    for f in ("metrics.json", "report.md", "accuracy.png", "preservation.png"):
        assert (out / f).stat().st_size > 100, f
    m = json.loads((out / "metrics.json").read_text())
    names = m["attr_names"]
    assert m["n_images"] == 5 and len(names) == 13 and m["run"]["step"] == 2
    assert [s["strength"] for s in m["strengths"]] == [1.0, 0.5]
    assert [s["att_diff"] for s in m["strengths"]] == [1.5, 1.0]
    first = m["strengths"][0]
    assert set(first["accuracy"]) == set(names)
    pres = np.array(first["preservation"]["matrix"], dtype=float)  # None (diagonal) → nan
    assert pres.shape == (13, 13) and np.isnan(np.diag(pres)).all()
    report = (out / "report.md").read_text()
    assert "| **mean** |" in report and "accuracy @ 0.5" in report and "GT edit PSNR" in report
    assert "D's head @ 1" in report and m["summary"]["critic_accuracy_mean"] is not None

    # the same numbers, recomputed here image by image
    editor = Editor.from_checkpoint(run / "g")
    judge = Judge.from_file(run / "judge.pt")
    D = build_discriminator(editor.cfg.model, len(names)).eval()
    D.load_state_dict(checkpoint.load(run / "g")["D"])
    test = open_dataset(editor.cfg.data, 32, "test", progress=False)
    x_u8 = np.stack([test.image_uint8(i) for i in range(5)])
    x, src = to_float(x_u8), torch.from_numpy(test.labels[:5]).float()
    rec = to_uint8(reconstruct(editor.G, x, src, Coding("diff", 0.5)))
    assert m["reconstruction"]["psnr"] == pytest.approx(metrics.psnr(x_u8, rec).mean(), 1e-9)
    assert m["reconstruction"]["ssim"] == pytest.approx(metrics.ssim(x_u8, rec).mean(), 1e-9)
    i = names.index("Eyeglasses")
    for entry in m["strengths"]:
        coding = Coding("diff", 0.5, entry["strength"])
        tgt01, tgt = flip_target(src, names, i, coding)
        out_u8 = to_uint8(edit(editor.G, x, src, tgt, coding))
        pred = judge.predict(out_u8)
        hit = pred[:, i] == tgt01[:, i].numpy()
        assert entry["accuracy"]["Eyeglasses"] == pytest.approx(hit.mean())
        with torch.no_grad():  # the run's own D on the same edits
            seen = D(to_float(out_u8))[1][:, i].numpy() > 0
        critic = entry["critic_accuracy"]["accuracy"]["Eyeglasses"]
        assert critic == pytest.approx((seen == tgt01[:, i].numpy().astype(bool)).mean())
        # official: the other attributes on the edit against the true labels
        wrong = np.delete(pred != test.labels[:5], i, axis=1)  # (5, 12)
        official = entry["preservation_official"]
        assert official["per_attr"]["Eyeglasses"] == pytest.approx(wrong.mean())
        assert f"(official definition: {100 * official['mean']:.2f}%)" in printed
        if entry["strength"] == 1.0:
            truth = np.stack([test.counterfactual(k, tgt01[k].numpy()) for k in range(5)])
            gt = m["ground_truth"]
            assert gt["edit_psnr"]["per_attr"]["Eyeglasses"] == pytest.approx(
                metrics.psnr(out_u8, truth).mean(), 1e-9)  # fmt: skip
            assert gt["identity_psnr"]["per_attr"]["Eyeglasses"] == pytest.approx(
                metrics.psnr(x_u8, truth).mean(), 1e-9)  # fmt: skip
    assert m["summary"]["gt_edit_psnr"] == gt["edit_psnr"]["mean"]


def test_eval_is_deterministic_and_batch_size_free(run):
    from stgan.evaluate import evaluate_checkpoint

    judge = Judge.from_file(run / "judge.pt")
    a = evaluate_checkpoint(run / "g", judge, limit=4, batch_size=4, progress=False)
    b = evaluate_checkpoint(run / "g", judge, limit=4, batch_size=3, progress=False)
    # equal up to float32 rounding: convolutions may pick other kernels for other batch sizes,
    # which can move a pixel of an edit by one uint8 level (SSIM then differs by ~2e-5)
    assert _close(strip_run(a), strip_run(b)), (strip_run(a), strip_run(b))


def _close(a, b) -> bool:
    """Nested dicts/lists equal, numbers within rel 1e-4 (a uint8 level in a few pixels)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-4, abs=1e-6, nan_ok=True)
    return a == b


def write_partition(folder, test_every: int = 3) -> None:
    files = sorted(p.name for p in (folder / "img_align_celeba").iterdir())
    rows = [f"{f} {2 if k % test_every == 0 else 0}" for k, f in enumerate(files)]
    (folder / "list_eval_partition.txt").write_text("\n".join(rows) + "\n")


def test_labels_are_joined_by_file_name(run, tmp_path):
    """Shuffling the rows of the label file changes the images' order, not the metrics."""
    from stgan.data import open_dataset
    from stgan.data.synthetic import write_celeba_layout
    from stgan.evaluate import evaluate_checkpoint
    from stgan.inference import Editor

    folder = tmp_path / "faces"
    write_celeba_layout(folder, 24, 32, seed=7, progress=False)
    write_partition(folder)
    judge = Judge.from_file(run / "judge.pt")
    a = evaluate_checkpoint(run / "g", judge, data=str(folder), progress=False)
    label_file = folder / "list_attr_celeba.txt"
    lines = label_file.read_text().splitlines()
    rows = lines[2:]
    random.Random(0).shuffle(rows)
    label_file.write_text("\n".join(lines[:2] + rows) + "\n")
    cfg = Editor.from_checkpoint(run / "g").cfg
    from dataclasses import replace

    test = open_dataset(replace(cfg.data, dataset=str(folder), crop="none"), 32, "test",
                        progress=False)  # fmt: skip
    assert test.files != sorted(test.files)  # the test images now come in another order
    b = evaluate_checkpoint(run / "g", judge, data=str(folder), progress=False)
    assert a["n_images"] == b["n_images"] == 8 and "ground_truth" not in a
    assert a["reconstruction"] == pytest.approx(b["reconstruction"], rel=1e-12)  # sum order
    assert a["judge_on_real"] == b["judge_on_real"]
    sa, sb = a["strengths"][0], b["strengths"][0]
    assert sa["accuracy"] == sb["accuracy"]
    assert sa["preservation"]["matrix"] == sb["preservation"]["matrix"]


def test_bad_inputs_are_user_errors(run, tmp_path):
    base = ["eval", "--checkpoint", str(run / "g"), "--out", str(tmp_path / "r"), "--quiet",
            "--device", "cpu", "--limit", "2"]  # fmt: skip
    save_judge(tmp_path / "small.pt", build_classifier(2, 32), ("Bald", "Male"), 32, "none")
    assert main([*base, "--classifier", str(tmp_path / "small.pt")]) == 2  # misses names
    assert main([*base, "--classifier", str(run / "g")]) == 2  # a run folder, not a judge
    assert main([*base, "--strength", "0"]) == 2
    assert main([*base[:-1], "0"]) == 2
    assert not (tmp_path / "r" / "metrics.json").exists()
    assert main(base) == 0  # no classifier: reconstruction and ground truth only
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert "accuracy" not in m["strengths"][0]
    # the same reconstruction and ground-truth numbers as an evaluation with a judge
    from stgan.evaluate import evaluate_checkpoint

    judged = evaluate_checkpoint(run / "g", Judge.from_file(run / "judge.pt"), limit=2,
                                 progress=False)  # fmt: skip
    assert "accuracy" in judged["strengths"][0]
    assert m["reconstruction"] == judged["reconstruction"]
    assert m["ground_truth"] == judged["ground_truth"]


class ChannelStats(torch.nn.Module):
    """A stand-in for the Inception network: per-channel mean and std as 6-d features."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], dim=1)  # (B, 6)


def test_fid_with_a_local_torchscript_network(run, tmp_path):
    import warnings

    from stgan.fid import InceptionFeatures, fid_from_features
    from stgan.imageio import to_uint8

    net = tmp_path / "net.pt"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.jit.script(ChannelStats()).save(str(net))
    out = tmp_path / "r"
    argv = ["eval", "--checkpoint", str(run / "g"), "--out", str(out), "--limit", "3",
            "--inception", str(net), "--device", "cpu", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["summary"]["fid"] == m["fid"]["edited_vs_real"] > 0
    assert "FID of the edited images" in (out / "report.md").read_text()

    # recomputed: 3 real images against their 13 x 3 edits
    from stgan.attributes import Coding
    from stgan.data import open_dataset
    from stgan.editing import flip_all
    from stgan.imageio import to_float
    from stgan.inference import Editor

    editor = Editor.from_checkpoint(run / "g")
    test = open_dataset(editor.cfg.data, 32, "test", progress=False)
    x_u8 = np.stack([test.image_uint8(i) for i in range(3)])
    edits = flip_all(editor.G, to_float(x_u8), torch.from_numpy(test.labels[:3]).float(),
                     editor.attr_names, Coding("diff", 0.5, 1.0))  # fmt: skip
    feats = InceptionFeatures(net)
    fake = feats(np.concatenate([to_uint8(e) for e in edits]))
    assert m["fid"]["edited_vs_real"] == pytest.approx(fid_from_features(fake, feats(x_u8)))
