"""open_dataset: dispatch on data.dataset, splits, attributes, crop and cache options."""

import numpy as np
import pytest
import torch
from PIL import Image

from stgan.attributes import CELEBA_ATTRS
from stgan.config import DataConfig
from stgan.data import FaceDataset, open_dataset, read_labels
from stgan.errors import UserError

ATTRS = ("Bald", "Male", "Young")


def celeba_folder(tmp_path, n=12, sub="img_align_celeba"):
    """A CelebA-layout folder with all 40 attributes; Male = row parity, Young = row < 6."""
    (tmp_path / sub).mkdir(parents=True)
    rng = np.random.default_rng(1)
    lines = [str(n), " ".join(CELEBA_ATTRS)]
    files = []
    for i in range(n):
        f = f"{i + 1:06d}.jpg"
        files.append(f)
        arr = rng.integers(0, 256, (44, 36, 3), dtype=np.uint8)
        Image.fromarray(arr).save(tmp_path / sub / f)
        vals = [-1] * 40
        vals[CELEBA_ATTRS.index("Male")] = 1 if i % 2 else -1
        vals[CELEBA_ATTRS.index("Young")] = 1 if i < 6 else -1
        lines.append(f + " " + " ".join(f"{v:2d}" for v in vals))
    (tmp_path / "list_attr_celeba.txt").write_text("\r\n".join(lines) + "\r\n")
    return files


def csv_folder(tmp_path, n=5):
    rows = ["name,Smiling,Hat"]
    for i in range(n):
        Image.new("RGB", (20, 20), (i * 40, 0, 0)).save(tmp_path / f"p{i}.png")
        rows.append(f"p{i}.png,{1 if i % 2 else -1},{1 if i == 0 else -1}")
    (tmp_path / "mine.csv").write_text("\n".join(rows) + "\n")


def test_celeba_folder_items_and_splits(tmp_path):
    files = celeba_folder(tmp_path)
    cfg = DataConfig(dataset=str(tmp_path), attrs=ATTRS, test_fraction=0.25)
    train = open_dataset(cfg, 16, "train", progress=False)
    val, test = (open_dataset(cfg, 16, s, progress=False) for s in ("val", "test"))
    assert isinstance(train, FaceDataset) and train.attr_names == ATTRS
    assert (len(train), len(val), len(test)) == (8, 1, 3)
    assert train.files + val.files + test.files == files
    assert test.labels.dtype == np.uint8 and test.labels.shape == (3, 3)
    assert test.labels[:, 1].tolist() == [1, 0, 1]  # Male of rows 9..11 (parity)
    x, y = train[3]
    assert x.shape == (3, 16, 16) and x.dtype == torch.float32
    assert -1.0 <= x.min() < x.max() <= 1.0
    assert y.dtype == torch.float32 and y.tolist() == [0.0, 1.0, 1.0]
    assert train.image_uint8(3).shape == (16, 16, 3)
    assert len(open_dataset(cfg, 16, "all", progress=False)) == 12


def test_csv_folder_dispatch(tmp_path):
    csv_folder(tmp_path)
    cfg = DataConfig(dataset=str(tmp_path), attrs=("Hat", "Smiling"), crop="none")
    ds = open_dataset(cfg, 8, "all", progress=False)
    assert ds.files == [f"p{i}.png" for i in range(5)]
    assert ds.labels.tolist() == [[1, 0], [0, 1], [0, 0], [0, 1], [0, 0]]
    assert ds[2][0].shape == (3, 8, 8)


def test_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        open_dataset(DataConfig(dataset=str(tmp_path / "nope")), 16, "train")
    celeba_folder(tmp_path)
    cfg = DataConfig(dataset=str(tmp_path), attrs=("Bald", "Smiley"))
    with pytest.raises(UserError) as e:
        open_dataset(cfg, 16, "train")
    assert str(e.value) == (
        f"label file {tmp_path / 'list_attr_celeba.txt'} has no column Smiley "
        f"(it has: {', '.join(CELEBA_ATTRS)})"
    )
    with pytest.raises(UserError, match="repeats a name"):
        open_dataset(DataConfig(dataset=str(tmp_path), attrs=("Male", "Male")), 16, "train")
    cfg = DataConfig(dataset=str(tmp_path), crop="none")
    with pytest.raises(UserError, match="000001.jpg is 36x44, not square"):
        open_dataset(cfg, 16, "train")
    with pytest.raises(UserError, match="unknown split"):
        open_dataset(DataConfig(dataset=str(tmp_path)), 16, "training")
    (tmp_path / "img_align_celeba" / "000007.jpg").unlink()
    with pytest.raises(UserError, match="image 000007.jpg listed in"):
        open_dataset(DataConfig(dataset=str(tmp_path)), 16, "test")


def test_empty_split_is_an_error(tmp_path):
    celeba_folder(tmp_path, n=2, sub="images")
    with pytest.raises(UserError, match="split 'train' .* is empty"):
        open_dataset(DataConfig(dataset=str(tmp_path)), 16, "train")


def test_cache_option(tmp_path):
    celeba_folder(tmp_path)
    plain = open_dataset(DataConfig(dataset=str(tmp_path)), 16, "test", progress=False)
    cfg = DataConfig(dataset=str(tmp_path), cache=True)
    cached = open_dataset(cfg, 16, "test", progress=False)
    assert cached.cache is not None and cached.cache.parent == tmp_path / ".stgan-cache"
    assert all(plain[i][0].equal(cached[i][0]) for i in range(len(plain)))
    other = tmp_path / "elsewhere"
    ds = open_dataset(
        DataConfig(dataset=str(tmp_path), cache=True, cache_dir=str(other)), 16, "val"
    )
    assert ds.cache.parent == other and ds.cache.is_file()


def test_read_labels_both_layouts(tmp_path):
    files = celeba_folder(tmp_path / "c")
    names, got_files, labels = read_labels(tmp_path / "c")
    assert names == list(CELEBA_ATTRS) and got_files == files and labels.shape == (12, 40)
    assert labels[:, CELEBA_ATTRS.index("Young")].tolist() == [1] * 6 + [0] * 6
    (tmp_path / "s").mkdir()
    csv_folder(tmp_path / "s")
    names, got_files, labels = read_labels(tmp_path / "s")
    assert names == ["Smiling", "Hat"] and labels[0].tolist() == [0, 1]
    # a label file itself
    assert read_labels(tmp_path / "s" / "mine.csv")[1] == [f"p{i}.png" for i in range(5)]
    assert read_labels(tmp_path / "c" / "list_attr_celeba.txt")[1] == files
    for missing in ("nowhere", "missing.txt", "missing.csv"):
        with pytest.raises(UserError, match=f"^label file {tmp_path / missing} does not exist;"):
            read_labels(tmp_path / missing)


def test_label_columns_name_the_file_and_what_it_has(tmp_path):
    from stgan.data import label_columns

    assert label_columns(["Hat", "Bald"], ["Bald", "Male", "Hat"], "l.csv") == [2, 0]
    with pytest.raises(UserError) as e:
        label_columns(["Hat", "Wig", "Bald", "Cap"], ["Bald", "Hat"], tmp_path / "l.csv")
    assert (
        str(e.value)
        == f"label file {tmp_path / 'l.csv'} has no columns Wig, Cap (it has: Bald, Hat)"
    )


def test_synthetic_splits():
    cfg = DataConfig(dataset="synthetic", synthetic_n=10, test_fraction=0.2, attrs=ATTRS)
    train, test, val, all_ = (
        open_dataset(cfg, 16, s, progress=False) for s in ("train", "test", "val", "all")
    )
    assert (len(train), len(test), len(val), len(all_)) == (10, 2, 2, 14)
    assert tuple(train.attr_names) == ATTRS
    x, y = test[0]
    assert x.shape == (3, 16, 16) and y.shape == (3,)
    # test is the first n_test after train, val the next: items match the "all" set
    assert test[0][0].equal(all_[10][0]) and val[0][0].equal(all_[12][0])
    assert not test[0][0].equal(val[0][0])


def test_synthetic_written_as_celeba_layout_reads_back_identically(tmp_path):
    from stgan.data.synthetic import SyntheticDataset, write_celeba_layout

    write_celeba_layout(tmp_path, n=6, size=16, seed=0, progress=False, workers=0)
    mem = SyntheticDataset(16, range(6), seed=0, progress=False)
    # data.crop left at its default (celeba, which cannot apply to square images) and explicit
    for cfg in (DataConfig(dataset=str(tmp_path)), DataConfig(dataset=str(tmp_path), crop="none")):
        ds = open_dataset(cfg, 16, "all", progress=False)
        assert ds.files == mem.files and ds.crop == "none"
        np.testing.assert_array_equal(ds.labels, mem.labels)
        for i in range(6):
            np.testing.assert_array_equal(ds.image_uint8(i), mem.image_uint8(i))


def test_a_synth_folder_records_its_crop_and_resolve_crop_says_when_it_uses_it(tmp_path):
    import json

    from stgan.data import resolve_crop
    from stgan.data.synthetic import write_celeba_layout

    write_celeba_layout(tmp_path, n=3, size=16, seed=0, progress=False, workers=0)
    assert json.loads((tmp_path / "stgan-data.json").read_text())["crop"] == "none"
    default = DataConfig(dataset=str(tmp_path))
    cfg, note = resolve_crop(default)
    assert cfg == DataConfig(dataset=str(tmp_path), crop="none")
    assert note.startswith(f"{tmp_path} records data.crop=none") and "\n" not in note
    explicit = DataConfig(dataset=str(tmp_path), crop="center")
    assert resolve_crop(explicit) == (explicit, "")  # a crop the user chose is kept
    assert open_dataset(explicit, 8, "all", progress=False).crop == "center"
    plain = tmp_path / "plain"
    celeba_folder(plain)  # no stgan-data.json: read as configured
    assert resolve_crop(DataConfig(dataset=str(plain))) == (DataConfig(dataset=str(plain)), "")
    assert resolve_crop(DataConfig()) == (DataConfig(), "")  # synthetic
    (tmp_path / "stgan-data.json").write_text('{"crop": "tight"}')
    with pytest.raises(UserError, match="stgan-data.json records crop 'tight'"):
        resolve_crop(default)
    (tmp_path / "stgan-data.json").write_text("{not json")
    with pytest.raises(UserError, match=r"cannot read .*stgan-data\.json"):
        open_dataset(default, 16, "all", progress=False)


def test_cache_in_a_read_only_data_folder_is_one_error_suggesting_cache_dir(tmp_path, read_only):
    data = tmp_path / "data"
    celeba_folder(data)
    read_only(data)
    with pytest.raises(UserError) as e:
        open_dataset(DataConfig(dataset=str(data), cache=True), 16, "test", progress=False)
    msg = str(e.value)
    assert msg.startswith(f"cannot write the image cache in {data / '.stgan-cache'} (")
    assert "set data.cache_dir=" in msg and "\n" not in msg
    # the way out it names works
    cfg = DataConfig(dataset=str(data), cache=True, cache_dir=str(tmp_path / "c"))
    assert open_dataset(cfg, 16, "test", progress=False).cache.is_file()


def _break(folder, name, how):
    p = folder / "img_align_celeba" / name
    if how == "truncated":
        p.write_bytes(p.read_bytes()[:300])
    elif how == "garbage":
        p.write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    elif how == "square":  # readable, but the celeba crop does not fit it
        Image.new("RGB", (40, 40)).save(p, format="JPEG")


@pytest.mark.parametrize("workers", [0, 2])
def test_unreadable_images_reads_every_image_and_names_the_bad_ones(tmp_path, workers):
    from stgan.data import unreadable_images

    n = 70 if workers else 12  # a pool starts from 64 images
    files = celeba_folder(tmp_path, n=n)
    _break(tmp_path, files[9], "square")
    _break(tmp_path, files[2], "garbage")
    _break(tmp_path, files[-1], "truncated")  # a test image: training never reached it
    ds = open_dataset(DataConfig(dataset=str(tmp_path)), 16, "all", progress=False)
    errors = unreadable_images(ds, progress=False, workers=workers)
    img = tmp_path / "img_align_celeba"
    assert len(errors) == 3 and all("\n" not in e for e in errors)
    assert errors[0].startswith(f"cannot read image {img / files[2]} (")
    assert errors[1].startswith(f"image {img / files[9]} is 40x40, not shaped like")
    assert errors[2].startswith(f"cannot read image {img / files[-1]} (")
    good = FaceDataset(img, files[:2], ds.labels[:2], ds.attr_names, "celeba", 16)
    assert unreadable_images(good, progress=False) == []


def test_unreadable_images_of_synthetic_faces_is_empty():
    from stgan.data import unreadable_images

    ds = open_dataset(DataConfig(synthetic_n=4, attrs=ATTRS), 16, "test", progress=False)
    assert unreadable_images(ds, progress=False) == []
