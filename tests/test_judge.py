"""The judge classifier (reference §6): train, save, load, predict; the train-classifier CLI."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from stgan.cli import main
from stgan.config import DataConfig
from stgan.errors import UserError
from stgan.judge import (
    FORMAT,
    Judge,
    accuracy_report,
    build_classifier,
    predict_dataset,
    save_judge,
    train_classifier,
    weak_attributes,
    weakness_warning,
)

NAMES = ("Bald", "Bangs", "Black_Hair")


class Bright(torch.utils.data.Dataset):
    """Labels read off the image: attribute 0 = red image, 1 = bright top half, 2 = noise."""

    def __init__(self, n: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        self.labels = (torch.rand(n, 3, generator=g) > 0.5).to(torch.uint8).numpy()
        x = torch.rand(n, 3, 32, 32, generator=g) * 0.6 - 0.8
        lab = torch.from_numpy(self.labels).float()
        x[:, 0] += 1.0 * lab[:, 0, None, None]
        x[:, :, :16] += 0.8 * lab[:, 1, None, None, None]
        self.x, self.attr_names = x.clamp(-1, 1), NAMES

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], torch.from_numpy(self.labels[i].astype(np.float32))


def random_images(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build_classifier(len(NAMES), 32).eval()
    save_judge(tmp_path / "c.pt", model, NAMES, 32, "celeba", metrics={"accuracy_mean": 0.5})
    data = torch.load(tmp_path / "c.pt", weights_only=True)  # plain data, no pickled classes
    assert data["format"] == FORMAT and data["attr_names"] == list(NAMES)
    assert data["img_size"] == 32 and data["crop"] == "celeba"
    assert data["preprocess"]["crop"] == "celeba"
    judge = Judge.from_file(tmp_path / "c.pt")
    assert judge.attr_names == NAMES and judge.img_size == 32 and judge.crop == "celeba"
    assert judge.info["metrics"]["accuracy_mean"] == 0.5
    images = random_images(5, 32)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        expect = model(x)
    got = judge.predict_logits(images)
    torch.testing.assert_close(got, expect)
    torch.testing.assert_close(judge.predict_logits(x), expect)  # float input, same answer
    assert judge.predict(images).tolist() == (expect > 0).int().tolist()


def test_resizes_other_sizes_to_its_own(tmp_path):
    torch.manual_seed(0)
    save_judge(tmp_path / "c.pt", build_classifier(3, 32), NAMES, 32, "none")
    judge = Judge.from_file(tmp_path / "c.pt")
    big = random_images(2, 64)
    x = torch.from_numpy(big).permute(0, 3, 1, 2).float() / 127.5 - 1
    small = torch.nn.functional.interpolate(x, size=32, mode="bicubic", antialias=True)
    torch.testing.assert_close(judge.predict_logits(big), judge.predict_logits(small.clamp(-1, 1)))
    assert judge.predict_logits(big).shape == (2, 3)


def test_wrong_files_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        Judge.from_file(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(UserError, match="not a torch file"):
        Judge.from_file(tmp_path / "junk.pt")
    torch.save({"format": "stgan-checkpoint", "G": {}}, tmp_path / "gen.pt")
    with pytest.raises(UserError, match="not an stgan classifier"):
        Judge.from_file(tmp_path / "gen.pt")


def test_columns_match_by_name(tmp_path):
    judge = Judge(build_classifier(3, 32), NAMES, 32)
    assert judge.columns(["Black_Hair", "Bald"]) == [2, 0]
    with pytest.raises(UserError, match="Young"):
        judge.columns(["Bald", "Young"])


@pytest.mark.slow
def test_training_learns_what_the_images_show():
    torch.manual_seed(0)
    train, test = Bright(192, seed=1), Bright(64, seed=2)
    model = build_classifier(3, 32)
    stats = train_classifier(model, train, "cpu", epochs=8, batch_size=32, lr=1e-3)
    assert stats["steps"] == 8 * 6 and stats["epochs"] == pytest.approx(8)
    pred, labels = predict_dataset(Judge(model, NAMES, 32), test)
    np.testing.assert_array_equal(labels, test.labels)
    rep = accuracy_report(pred, labels, NAMES, train.labels)
    # measured (8 epochs): 1.00 and 1.00 on the two visible attributes (0.78 / 1.00 after 5
    # epochs, chance after 4: BatchNorm's running statistics lag); the noise one 0.53
    assert rep["accuracy"]["Bald"] > 0.9 and rep["accuracy"]["Bangs"] > 0.9
    assert rep["accuracy"]["Black_Hair"] < 0.8
    majority = train.labels.mean(0) > 0.5  # the baseline predicts training's majority value
    baseline = (test.labels == majority).mean(0)
    assert list(rep["majority_baseline"].values()) == pytest.approx(baseline.tolist(), abs=1e-12)


@pytest.mark.slow
def test_train_classifier_command_on_synthetic_faces(tmp_path, capsys):
    out = tmp_path / "judge"
    argv = ["train-classifier", "--data", "synthetic", "--out", str(out), "--img-size", "32",
            "--epochs", "1", "--set", "data.synthetic_n=96", "--device", "cpu", "--quiet",
            "--attrs", "Male,Eyeglasses", "Bangs"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| Eyeglasses |" in printed and "majority baseline" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["accuracy"]) == ["Male", "Eyeglasses", "Bangs"]
    judge = Judge.from_file(out)  # the folder works as well as the file
    assert judge.attr_names == ("Male", "Eyeglasses", "Bangs") and judge.crop == "none"
    # the reported accuracy, recomputed on the held-out split with the saved judge
    from stgan.data import open_dataset

    data = DataConfig(dataset="synthetic", synthetic_n=96, attrs=judge.attr_names)
    test = open_dataset(data, 32, "test", progress=False)
    images = np.stack([test.image_uint8(i) for i in range(len(test))])
    hits = judge.predict(images) == (test.labels > 0.5)
    assert metrics["n_images"] == len(test) == 10
    assert list(metrics["accuracy"].values()) == pytest.approx(hits.mean(0).tolist(), abs=1e-12)
    assert metrics["accuracy_mean"] == pytest.approx(hits.mean(), abs=1e-12)
    assert judge.info["metrics"]["accuracy_mean"] == metrics["accuracy_mean"]
    # trained the official way, on the 96 training and 10 validation faces
    assert judge.info["training"]["name"] == "official"
    assert judge.info["training"]["splits"] == ["train", "val"]
    assert metrics["train"]["recipe"]["n_train_images"] == 96 + 10
    assert main(argv) == 2  # refuses to overwrite
    legacy = tmp_path / "legacy"
    assert main([*argv[:4], str(legacy), *argv[5:-3], "--legacy"]) == 0  # the 13, train only
    old = Judge.from_file(legacy)
    assert len(old.attr_names) == 13 and old.info["training"]["splits"] == ["train"]
    assert json.loads((legacy / "metrics.json").read_text())["train"]["recipe"][
        "n_train_images"] == 96  # fmt: skip
    assert main([*argv[:-3], "--attrs", "Nope", "--overwrite"]) == 2


def metrics_of(acc: dict[str, float], base: dict[str, float]) -> dict:
    return {
        "accuracy": acc,
        "majority_baseline": base,
        "accuracy_mean": sum(acc.values()) / len(acc),
        "majority_baseline_mean": sum(base.values()) / len(base),
    }


def test_weak_attributes_are_those_at_or_below_the_baseline():
    m = metrics_of({"Bald": 0.97, "Bangs": 0.80, "Male": 0.95}, {"Bald": 0.97, "Bangs": 0.85,
                                                                  "Male": 0.60})  # fmt: skip
    assert weak_attributes(m) == ["Bald", "Bangs"]  # equal counts as no better
    line = weakness_warning(m, "the judge J")
    assert line.startswith("the judge J is no better") and "\n" not in line
    assert "2 of 3 attributes (Bald, Bangs;" in line and "90.7% vs baseline 80.7%" in line
    good = metrics_of({"Bald": 0.98, "Bangs": 0.9}, {"Bald": 0.97, "Bangs": 0.85})
    assert weak_attributes(good) == [] and weakness_warning(good) is None
    assert weak_attributes(None) == [] and weak_attributes({"accuracy_mean": 0.5}) == []


def test_training_and_prediction_report_progress_through_callbacks():
    torch.manual_seed(0)
    train, test = Bright(24, seed=1), Bright(5, seed=2)
    calls = []
    stats = train_classifier(
        build_classifier(3, 32), train, "cpu", epochs=2, batch_size=8,
        on_step=lambda done, total, loss: calls.append((done, total, loss)),
    )  # fmt: skip
    assert [c[:2] for c in calls] == [(k, 6) for k in range(1, 7)]
    assert calls[-1][2] == pytest.approx(stats["loss"])  # the last epoch's mean loss
    batches = []
    judge = Judge(build_classifier(3, 32), NAMES, 32)
    predict_dataset(judge, test, batch_size=2, on_batch=lambda d, t: batches.append((d, t)))
    assert batches == [(1, 3), (2, 3), (3, 3)]


# -------------------------------------------------------------------------------------------
# training as the official classifier (att_classification/train.py, models.py)


def test_lr_factor_is_the_official_schedule():
    from stgan.judge import lr_factor

    # train.py: lr * (1 - max(it // batch_epoch - 8, 0) / 25) ** 0.75, 25 epochs
    assert [lr_factor(e, 25) for e in range(9)] == [1.0] * 9
    assert lr_factor(9, 25) == pytest.approx((24 / 25) ** 0.75)
    assert lr_factor(24, 25) == pytest.approx(0.36**0.75)  # the last epoch: 0.465
    assert lr_factor(9, 10) == pytest.approx(0.9**0.75)  # `epochs` takes 25's place


def _tiny_model(n: int = 3):
    torch.manual_seed(0)
    return build_classifier(n, 32, (2, 2, 2, 2, 2), 4)


def _reference_training(model, data, epochs: int, lr: float, l2: float, decay: bool):
    """The official update written out: Adam without weight decay on the loss
    BCE + l2 · Σ ||w||² / 2 over conv and FC weights (slim.l2_regularizer(l2) = l2 ·
    tf.nn.l2_loss), learning rate × the official factor each epoch; one batch per epoch."""
    from stgan.models.classifier import decayed_parameters

    model.train()
    weights, _ = decayed_parameters(model)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x = torch.stack([data[i][0] for i in range(len(data))])
    y = torch.stack([data[i][1] for i in range(len(data))])
    for epoch in range(epochs):
        for g in opt.param_groups:
            g["lr"] = lr * ((1 - max(epoch - 8, 0) / epochs) ** 0.75 if decay else 1.0)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
        loss = loss + l2 * sum((w**2).sum() / 2 for w in weights)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def _max_gap(a, b) -> float:
    pairs = zip(a.parameters(), b.parameters(), strict=True)
    return max((x - y).abs().max().item() for x, y in pairs)


@pytest.mark.parametrize("recipe_name", ["official", "legacy"])
def test_training_is_the_official_update(recipe_name):
    """11 epochs of one batch (so the schedule acts from epoch 9), against the update
    written out: weight decay λ = 1e-4 is the loss term 1e-4 · Σw²/2, not 2e-4, and both the
    decay and the schedule matter."""
    from stgan.judge import RECIPES

    data = Bright(8, seed=3)
    got = _tiny_model()
    # a high lr: the weights move far enough for the L2 term and schedule to show
    train_classifier(got, data, "cpu", 11, 8, lr=0.05, recipe=RECIPES[recipe_name])
    variants = {  # (l2, schedule)
        "official": (1e-4, True),
        "legacy": (0.0, False),
        "decay only": (1e-4, False),
        "schedule only": (0.0, True),
        "twice the decay": (2e-4, True),
    }
    gaps = {
        k: _max_gap(got, _reference_training(_tiny_model(), data, 11, 0.05, l2, sched))
        for k, (l2, sched) in variants.items()
    }
    # measured: 3.7e-5 (official) and 5.6e-6 (legacy) from the matching update (float32
    # sums in another order); at least 0.01 from every other
    assert gaps.pop(recipe_name) < 2e-4, gaps
    assert min(gaps.values()) > 5e-3, gaps


def test_old_judge_files_still_load(tmp_path):
    """A judge file in the layout the judge code wrote before issue 8 (``save_judge`` of
    commit 7239835: format version 1, no ``training`` field) still loads and predicts with
    its weights. The payload is written here key by key as that code wrote it; the network's
    parameter names are those of that commit's classifier (checked equal when this test was
    written)."""
    torch.manual_seed(0)
    widths, fc_dim = (2, 2, 2, 2, 2), 4
    net = build_classifier(3, 32, widths, fc_dim).eval()
    with torch.no_grad():  # weights and statistics of a trained size (logits of order 1)
        for name, t in net.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.randn_like(t).abs() + 0.5 if "running_var" in name
                        else torch.randn_like(t))  # fmt: skip
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        expect = net(x)
    payload = {
        "format": "stgan-classifier",
        "version": 1,
        "attr_names": ["Bald", "Eyeglasses", "Male"],
        "img_size": 32,
        "crop": "none",
        "preprocess": {
            "resize": "bicubic",
            "range": "x / 127.5 - 1 (uint8 RGB to [-1, 1])",
            "crop": "none",
            "img_size": 32,
        },  # fmt: skip
        "widths": list(widths),
        "fc_dim": fc_dim,
        "state_dict": {k: v.clone() for k, v in net.state_dict().items()},
        "metrics": {"accuracy_mean": 0.5},
        "data": "synthetic",
        "epochs": 1.0,
        "steps": 2,
    }
    path = tmp_path / "judge_v1.pt"
    torch.save(payload, path)
    judge = Judge.from_file(path)
    assert judge.attr_names == ("Bald", "Eyeglasses", "Male") and judge.crop == "none"
    assert judge.info["metrics"]["accuracy_mean"] == 0.5 and "training" not in judge.info
    torch.testing.assert_close(judge.predict_logits(x), expect)


def test_training_set_is_train_plus_val_unless_legacy():
    from stgan.judge import LEGACY, OFFICIAL, open_training_set

    data = DataConfig(dataset="synthetic", synthetic_n=20, attrs=NAMES)
    both = open_training_set(data, 32, OFFICIAL)
    train = open_training_set(data, 32, LEGACY)
    from stgan.data import open_dataset

    val = open_dataset(data, 32, "val", progress=False)
    assert len(train) == 20 and len(both) == 20 + len(val) and len(val) > 0
    assert both.splits == ("train", "val") and train.splits == ("train",)
    np.testing.assert_array_equal(both.labels, np.concatenate([train.labels, val.labels]))
    x, y = both[20]  # the first validation face
    torch.testing.assert_close(x, val[0][0])
    assert both.attr_names == NAMES


def write_label_file(folder, names, n: int = 3) -> None:
    folder.mkdir()
    rows = [f"{k + 1:06d}.jpg " + " ".join(["-1"] * len(names)) for k in range(n)]
    (folder / "list_attr_celeba.txt").write_text(f"{n}\n{' '.join(names)}\n" + "\n".join(rows))


def test_attrs_default_to_all_40_when_the_labels_have_them(tmp_path):
    from stgan.attributes import CELEBA_ATTRS, DEFAULT_ATTRS
    from stgan.judge import resolve_attrs

    write_label_file(tmp_path / "full", CELEBA_ATTRS)
    write_label_file(tmp_path / "synth", DEFAULT_ATTRS)
    assert resolve_attrs([], str(tmp_path / "full")) == CELEBA_ATTRS and len(CELEBA_ATTRS) == 40
    assert resolve_attrs([], str(tmp_path / "synth")) == DEFAULT_ATTRS
    assert resolve_attrs([], "synthetic") == DEFAULT_ATTRS
    assert resolve_attrs(["13"], str(tmp_path / "full")) == DEFAULT_ATTRS
    assert resolve_attrs(["40"], "synthetic") == CELEBA_ATTRS  # the data check refuses later
    assert resolve_attrs(["Male", "Bald"], "synthetic") == ("Male", "Bald")


def test_report_adds_the_mean_over_the_model_attributes():
    from stgan.attributes import CELEBA_ATTRS, DEFAULT_ATTRS
    from stgan.judge import format_accuracy_table

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, (50, 40))
    pred = labels.copy()
    pred[:, [CELEBA_ATTRS.index(n) for n in DEFAULT_ATTRS]] ^= 1  # the 13 all wrong
    rep = accuracy_report(pred, labels, CELEBA_ATTRS, labels)
    assert rep["accuracy_mean"] == pytest.approx(27 / 40)
    assert rep["model_attrs"]["accuracy_mean"] == 0.0
    assert rep["model_attrs"]["names"] == list(DEFAULT_ATTRS)
    assert "| **mean of the model's 13** | **0.0%** |" in format_accuracy_table(rep)
    assert "model_attrs" not in accuracy_report(labels[:, :13], labels[:, :13],
                                                DEFAULT_ATTRS, labels[:, :13])  # fmt: skip


def test_a_folder_without_validation_images_trains_on_train(tmp_path):
    from stgan.data.synthetic import write_celeba_layout
    from stgan.judge import OFFICIAL, open_training_set

    folder = tmp_path / "faces"
    write_celeba_layout(folder, 12, 32, seed=1, progress=False)
    files = sorted(p.name for p in (folder / "img_align_celeba").iterdir())
    rows = [f"{f} {2 if k % 3 == 0 else 0}" for k, f in enumerate(files)]  # no val (code 1)
    (folder / "list_eval_partition.txt").write_text("\n".join(rows) + "\n")
    data = DataConfig(dataset=str(folder), crop="none", attrs=NAMES)
    got = open_training_set(data, 32, OFFICIAL)
    assert got.splits == ("train",) and len(got) == 8
    rows[1] = f"{files[1]} 1"  # one validation image
    (folder / "list_eval_partition.txt").write_text("\n".join(rows) + "\n")
    got = open_training_set(data, 32, OFFICIAL)
    assert got.splits == ("train", "val") and len(got) == 8
    with pytest.raises(UserError, match="Nope"):  # other errors are not swallowed
        open_training_set(replace(data, attrs=("Nope",)), 32, OFFICIAL)


def test_a_report_restricted_to_the_attributes_judged():
    from stgan.judge import restrict_report

    m = metrics_of({"Bald": 0.97, "Bangs": 0.80, "Male": 0.95}, {"Bald": 0.96, "Bangs": 0.85,
                                                                  "Male": 0.60})  # fmt: skip
    sub = restrict_report(m, ["Male", "Bald"])
    assert list(sub["accuracy"]) == ["Male", "Bald"] and weak_attributes(sub) == []
    assert sub["accuracy_mean"] == pytest.approx(0.96)
    assert sub["majority_baseline_mean"] == pytest.approx(0.78)
    assert weak_attributes(restrict_report(m, ["Bangs"])) == ["Bangs"]
    assert restrict_report(m, ["Young"]) is m and restrict_report(m, []) is m
    assert m["accuracy_mean"] == pytest.approx((0.97 + 0.80 + 0.95) / 3)  # m is untouched
    assert list(m["accuracy"]) == ["Bald", "Bangs", "Male"]
