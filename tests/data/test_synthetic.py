"""Synthetic faces: determinism, label statistics, exact and local counterfactuals, I/O."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from PIL import Image

from stgan.attributes import DEFAULT_ATTRS, conflicts
from stgan.data import synth, synthetic
from stgan.data.celeba import parse_attr_file
from stgan.data.synth import ATTRS, GROUPS, SyntheticFaces, sample_labels
from stgan.data.synthetic import SyntheticDataset, write_celeba_layout
from stgan.errors import UserError

pytestmark = pytest.mark.timeout(60)

A = {name: k for k, name in enumerate(ATTRS)}
SIZE = 64
INDICES = range(8)  # faces checked pixel by pixel (several with glasses, bangs, beard...)

# Layer groups each attribute may change; every other pixel must stay exactly the same.
ALLOWED = {
    "Bald": ("hair", "bangs"),
    "Bangs": ("bangs",),
    "Black_Hair": ("hair", "bangs"),
    "Blond_Hair": ("hair", "bangs"),
    "Brown_Hair": ("hair", "bangs"),
    "Bushy_Eyebrows": ("brows",),
    "Eyeglasses": ("frames", "lenses"),
    "Mouth_Slightly_Open": ("lips", "mouth"),
    "Mustache": ("mustache",),
    "No_Beard": ("beard",),
    "Pale_Skin": ("skin", "wrinkles", "nose", "lips"),
    "Young": ("hair", "bangs", "wrinkles", "beard", "mustache", "brows"),
}


@pytest.fixture(scope="module")
def faces() -> SyntheticFaces:
    return SyntheticFaces(seed=0)


def flipped(labels: np.ndarray, name: str) -> np.ndarray:
    """Flip one attribute; turning it on clears its conflicts (Bald vs Bangs, hair colours)."""
    out = labels.copy()
    k = A[name]
    out[k] = 1 - out[k]
    if out[k]:
        out[conflicts(name, ATTRS)] = 0
    return out


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(S, S) bool: pixels where any channel differs."""
    return (a != b).any(-1)


# --- determinism --------------------------------------------------------------------------


def test_same_seed_and_index_give_identical_pixels(faces):
    again = SyntheticFaces(seed=0)
    for i in (0, 5, 1234):
        a = faces.render(i, SIZE)
        assert a.dtype == np.uint8 and a.shape == (SIZE, SIZE, 3)
        np.testing.assert_array_equal(a, again.render(i, SIZE))
        np.testing.assert_array_equal(faces.labels(i), again.labels(i))


def test_different_index_or_seed_gives_a_different_face(faces):
    a = faces.render(3, SIZE).astype(int)
    assert np.abs(a - faces.render(4, SIZE)).mean() > 5
    assert np.abs(a - SyntheticFaces(seed=1).render(3, SIZE)).mean() > 5


def test_negative_seed_is_a_user_error():
    with pytest.raises(UserError, match="seed"):
        SyntheticFaces(seed=-1)


# --- labels -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def many_labels() -> np.ndarray:
    return np.stack([sample_labels(0, i) for i in range(5000)])  # (5000, 13)


# The paper's 13 attributes in the order of its code (and of the label vectors here).
PAPER_ATTRS = ("Bald", "Bangs", "Black_Hair", "Blond_Hair", "Brown_Hair", "Bushy_Eyebrows",
               "Eyeglasses", "Male", "Mouth_Slightly_Open", "Mustache", "No_Beard",
               "Pale_Skin", "Young")  # fmt: skip
# CelebA's rate of each attribute (list_attr_celeba.txt, images 000001-020000), by name.
CELEBA_RATE = {"Bald": 0.023, "Bangs": 0.151, "Black_Hair": 0.243, "Blond_Hair": 0.149,
               "Brown_Hair": 0.203, "Bushy_Eyebrows": 0.144, "Eyeglasses": 0.065,
               "Male": 0.422, "Mouth_Slightly_Open": 0.479, "Mustache": 0.039,
               "No_Beard": 0.832, "Pale_Skin": 0.043, "Young": 0.780}  # fmt: skip


def test_labels_are_13_bits_in_the_papers_order(faces, many_labels):
    assert SyntheticFaces.ATTRS == ATTRS == DEFAULT_ATTRS == PAPER_ATTRS
    lab = faces.labels(0)
    assert lab.dtype == np.uint8 and lab.shape == (13,) and set(np.unique(lab)) <= {0, 1}
    # column k really is attribute PAPER_ATTRS[k]: its rate is that attribute's CelebA rate
    rates = dict(zip(PAPER_ATTRS, many_labels.mean(0), strict=True))
    for name, rate in CELEBA_RATE.items():
        assert abs(rates[name] - rate) < 0.025, (name, rates[name], rate)


def test_labels_obey_the_hard_rules(many_labels):
    L = many_labels.astype(bool)
    assert not (L[:, A["Bald"]] & ~L[:, A["Male"]]).any()  # Bald ⇒ Male
    assert not (L[:, A["Mustache"]] & ~L[:, A["Male"]]).any()  # Mustache ⇒ Male
    assert not (L[:, A["Bald"]] & L[:, A["Bangs"]]).any()
    hair = L[:, [A["Black_Hair"], A["Blond_Hair"], A["Brown_Hair"]]].sum(1)
    assert hair.max() <= 1
    # Mustache faces are mostly bearded, as in CelebA (97 %)
    assert 1 - L[L[:, A["Mustache"]], A["No_Beard"]].mean() > 0.85


def test_main_conditionals_match_celeba(many_labels):
    L = many_labels.astype(float)
    joint = L.T @ L
    cond = joint / np.maximum(joint.diagonal()[:, None], 1)  # P(col | row)
    target = synth.CELEBA_CONDITIONALS
    for row, col in [("Male", "Bushy_Eyebrows"), ("Eyeglasses", "Male"), ("Young", "Male"),
                     ("Blond_Hair", "Male"), ("No_Beard", "Male"), ("Black_Hair", "Bushy_Eyebrows"),
                     ("Male", "No_Beard"), ("Eyeglasses", "Young")]:  # fmt: skip
        assert abs(cond[A[row], A[col]] - target[A[row], A[col]]) < 0.06, (row, col)


def test_stored_label_weights_are_the_fit():
    np.testing.assert_allclose(synth.fit_label_weights(), synth.LABEL_WEIGHTS,
                               atol=1e-6)  # fmt: skip


# --- counterfactuals ----------------------------------------------------------------------


def visible(regions: dict[str, np.ndarray], group: str) -> bool:
    """Whether a layer group shows in at least one pixel (by more than a trace)."""
    return bool((regions[group] > 0.05).any())


def test_each_sample_shows_its_own_labels(faces):
    """The image of sample i draws exactly the attributes ``labels(i)`` reports, read back
    from which layers are visible; so does its counterfactual with those same labels."""
    seen = set()
    rare = [i for i in range(16, 400) if faces.labels(i)[A["Mustache"]]][:3]  # 4 % of faces
    for i in [*range(16), *rare]:
        lab = {name: bool(v) for name, v in zip(PAPER_ATTRS, faces.labels(i), strict=True)}
        img, r = faces.render_regions(i, 32)
        assert visible(r, "frames") == lab["Eyeglasses"], i
        assert visible(r, "mustache") == lab["Mustache"], i
        assert visible(r, "beard") == (not lab["No_Beard"]), i
        assert visible(r, "wrinkles") == (not lab["Young"]), i
        assert visible(r, "hair") == (not lab["Bald"]), i
        assert visible(r, "bangs") == (lab["Bangs"] and not lab["Bald"]), i
        np.testing.assert_array_equal(faces.render(i, 32), img)
        np.testing.assert_array_equal(faces.render(i, 32, faces.labels(i)), img)
        seen |= {(k, v) for k, v in lab.items()}
    for name in ("Eyeglasses", "Mustache", "No_Beard", "Young", "Bangs"):  # both values met
        assert (name, True) in seen and (name, False) in seen, name


def test_regions_are_weights_that_sum_to_one(faces):
    img, regions = faces.render_regions(0, SIZE)
    np.testing.assert_array_equal(img, faces.render(0, SIZE))
    assert set(regions) == set(GROUPS)
    total = sum(regions.values())
    np.testing.assert_allclose(total, 1.0, atol=1e-4)
    assert (regions["eyes"] > 0.99).sum() >= 8 and (regions["background"] > 0.99).sum() > 100


@pytest.mark.parametrize("size", [32, pytest.param(64, marks=pytest.mark.slow)])
def test_every_edit_stays_in_its_own_layers(faces, size):
    """Flipping an attribute changes only pixels where its layers show (in either image)."""
    for i in INDICES:
        lab = faces.labels(i)
        a, ra = faces.render_regions(i, size)
        for name, groups in ALLOWED.items():
            b, rb = faces.render_regions(i, size, flipped(lab, name))
            ok = np.zeros((size, size), bool)
            for g in groups:
                ok |= (ra[g] > 0) | (rb[g] > 0)
            if name == "Bangs" and lab[A["Bald"]]:  # Bangs on clears Bald: the hair grows
                ok |= (ra["hair"] > 0) | (rb["hair"] > 0)
            bad = changed(a, b) & ~ok
            assert not bad.any(), f"face {i}: {name} changed {bad.sum()} pixels outside {groups}"


def test_glasses_touch_no_hair_and_hair_colour_touches_no_eye_or_glasses(faces):
    n_checked = 0
    for i in INDICES:
        lab = faces.labels(i)
        on = lab.copy()
        on[A["Eyeglasses"]] = 1
        on[A["Bald"]] = 0  # make sure there is hair to protect
        off = on.copy()
        off[A["Eyeglasses"]] = 0
        a, ra = faces.render_regions(i, SIZE, on)
        b, rb = faces.render_regions(i, SIZE, off)
        hair = (ra["hair"] + ra["bangs"] + rb["hair"] + rb["bangs"]) > 0
        assert changed(a, b).any()
        assert not (changed(a, b) & hair).any(), f"face {i}: glasses changed hair pixels"
        for colour in ("Black_Hair", "Blond_Hair", "Brown_Hair"):
            c = on.copy()
            c[[A["Black_Hair"], A["Blond_Hair"], A["Brown_Hair"]]] = 0
            c[A[colour]] = 1
            if (c == on).all():
                continue
            d = faces.render(i, SIZE, c)
            eyes_or_glasses = (ra["eyes"] + ra["frames"] + ra["lenses"]) > 0
            assert changed(a, d).any()
            assert not (changed(a, d) & eyes_or_glasses).any(), f"face {i}: {colour} hit eyes"
            n_checked += 1
    assert n_checked >= len(INDICES)


def test_pale_skin_changes_skin_only(faces):
    skin_groups = ("skin", "wrinkles", "nose", "lips")
    for i in INDICES:
        lab = faces.labels(i)
        a, ra = faces.render_regions(i, SIZE)
        b = faces.render(i, SIZE, flipped(lab, "Pale_Skin"))
        diff = changed(a, b)
        skin = sum(ra[g] for g in skin_groups)
        assert diff.sum() > 0.1 * SIZE * SIZE  # a large visible change...
        assert not (diff & (skin == 0)).any()  # ...on skin-coloured pixels only
        for g in ("background", "hair", "eyes", "frames"):  # nothing else shows there
            assert not (diff & (ra[g] > 0.999)).any(), g


@pytest.mark.slow  # 8 faces x 13 flips rendered at 64 px (~1 s)
def test_every_attribute_is_visible(faces):
    """Each flip changes a clearly visible patch: enough pixels by more than 25/255."""
    min_pixels = {"Bushy_Eyebrows": 20, "Mouth_Slightly_Open": 8, "Mustache": 15,
                  "Eyeglasses": 25, "Young": 25}  # fmt: skip
    for i in INDICES:
        lab = faces.labels(i)
        img = faces.render(i, SIZE).astype(int)
        for name in ATTRS:
            if name.endswith("_Hair") and lab[A["Bald"]]:
                continue  # a bald head has no hair to colour
            if name == "Mustache" and not lab[A["No_Beard"]]:
                continue  # a mustache on a beard of the same colour is subtle by design
            diff = np.abs(img - faces.render(i, SIZE, flipped(lab, name))).max(-1)
            n = int((diff > 25).sum())
            assert n >= min_pixels.get(name, 40), f"face {i}: {name} changed only {n} pixels"


@pytest.mark.parametrize("size", [32, 256])
def test_any_size_draws_the_same_face(faces, size):
    img = faces.render(2, size)
    assert img.shape == (size, size, 3) and img.dtype == np.uint8
    ref = faces.render(2, 64).astype(np.float32)
    small = np.asarray(Image.fromarray(img).resize((64, 64), Image.Resampling.BOX), np.float32)
    assert np.abs(small - ref).mean() < 8  # same geometry, only the sampling differs


def test_size_out_of_range_is_a_user_error(faces):
    with pytest.raises(UserError, match="size"):
        faces.render(0, 4)


# --- dataset ------------------------------------------------------------------------------


def test_dataset_items_shapes_and_values(faces):
    ds = SyntheticDataset(32, range(3, 9), seed=0, attrs=("Male", "Eyeglasses"), progress=False)
    assert len(ds) == 6 and ds.attr_names == ("Male", "Eyeglasses")
    assert ds.files[0] == "000004.png" and ds.files[-1] == "000009.png"
    x, y = ds[0]
    assert x.dtype == torch.float32 and x.shape == (3, 32, 32)
    assert x.min() >= -1 and x.max() <= 1 and x.std() > 0.1
    assert y.dtype == torch.float32 and y.shape == (2,)
    for k, i in enumerate(range(3, 9)):
        full = faces.labels(i)
        assert ds[k][1].tolist() == [float(full[A["Male"]]), float(full[A["Eyeglasses"]])]
        np.testing.assert_array_equal(ds.image_uint8(k), faces.render(i, 32))
    np.testing.assert_allclose(x.numpy(), ds.image_uint8(0).transpose(2, 0, 1) / 127.5 - 1,
                               atol=1e-6)  # fmt: skip


def test_dataset_counterfactual(faces):
    ds = SyntheticDataset(32, range(10, 12), seed=0, attrs=("Eyeglasses", "Young"), progress=False)
    own = ds.labels[1]
    np.testing.assert_array_equal(ds.counterfactual(1, own), ds.image_uint8(1))
    edit = own.copy()
    edit[0] = 1 - edit[0]
    full = faces.labels(11)
    full[A["Eyeglasses"]] = edit[0]  # the other 11 attributes keep the sample's values
    out = ds.counterfactual(1, edit)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, faces.render(11, 32, full))
    with pytest.raises(ValueError):
        ds.counterfactual(1, np.array([0, 1, 1]))


def test_dataset_renders_the_same_in_worker_processes(monkeypatch):
    serial = SyntheticDataset(32, range(20, 27), seed=3, progress=False)
    monkeypatch.setattr(synthetic, "_MIN_PARALLEL", 1)
    monkeypatch.setattr(synthetic, "_CHUNK", 2)
    parallel = SyntheticDataset(32, range(20, 27), seed=3, progress=False)
    np.testing.assert_array_equal(serial.images, parallel.images)


def test_unknown_or_repeated_attribute_is_a_user_error():
    with pytest.raises(UserError, match="Smiling.*valid names: Bald, Bangs"):
        SyntheticDataset(32, range(2), attrs=("Male", "Smiling"), progress=False)
    with pytest.raises(UserError, match="repeats"):
        SyntheticDataset(32, range(2), attrs=("Male", "Male"), progress=False)


# --- CelebA layout on disk ----------------------------------------------------------------


@pytest.mark.parametrize("workers", [0, 2])
def test_write_celeba_layout(tmp_path, monkeypatch, workers, faces):
    monkeypatch.setattr(synthetic, "_MIN_PARALLEL", 1)
    monkeypatch.setattr(synthetic, "_CHUNK", 2)
    write_celeba_layout(tmp_path, 5, 32, seed=0, progress=False, workers=workers)
    lines = (tmp_path / "list_attr_celeba.txt").read_text().splitlines()
    assert lines[0] == "5"
    assert lines[1].split() == list(DEFAULT_ATTRS)
    assert len(lines) == 7
    for k, line in enumerate(lines[2:], start=1):  # "000001.png  1 -1 ...": CelebA's spacing
        assert re.fullmatch(rf"{k:06d}\.png( [ -]1){{13}}", line), line
    names, files, labels = parse_attr_file(tmp_path / "list_attr_celeba.txt")
    assert names == DEFAULT_ATTRS and files == [f"00000{k}.png" for k in range(1, 6)]
    for k in range(5):
        np.testing.assert_array_equal(labels[k], faces.labels(k))
        img = np.asarray(Image.open(tmp_path / "img_align_celeba" / files[k]).convert("RGB"))
        np.testing.assert_array_equal(img, faces.render(k, 32))
    left = sorted(p.name for p in tmp_path.iterdir())  # no temporary folder left behind
    assert left == ["img_align_celeba", "list_attr_celeba.txt", "stgan-data.json"]
    with pytest.raises(UserError, match="already exists"):
        write_celeba_layout(tmp_path, 5, 32, progress=False)


def test_write_celeba_layout_leaves_nothing_on_error(tmp_path, monkeypatch):
    def broken(task):
        raise RuntimeError("disk full")

    monkeypatch.setattr(synthetic, "_write_chunk", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write_celeba_layout(tmp_path / "out", 3, 32, progress=False, workers=0)
    assert list((tmp_path / "out").iterdir()) == []


def test_write_celeba_layout_rejects_bad_arguments(tmp_path):
    with pytest.raises(UserError, match="≥ 1"):
        write_celeba_layout(tmp_path, 0, 32, progress=False)
    with pytest.raises(UserError, match="size"):
        write_celeba_layout(tmp_path, 2, 2000, progress=False)
