"""The decoded uint8 memory-mapped cache: built once, reused, rebuilt on change, exact."""

import json
import os
import pickle

import numpy as np
import pytest
from PIL import Image

from stgan.data import FaceDataset
from stgan.data.cache import ensure_cache, open_cache
from stgan.data.transforms import load_image
from stgan.errors import UserError


def make_images(folder, n, seed=0):
    rng = np.random.default_rng(seed)
    files = [f"{i:04d}.jpg" for i in range(n)]
    for f in files:
        arr = rng.integers(0, 256, (22, 18, 3), dtype=np.uint8)
        Image.fromarray(arr).save(folder / f, quality=90)
    return files


def direct(folder, files, crop, size):
    return np.stack([load_image(folder / f, crop, size) for f in files])


def test_build_reuse_and_exact_pixels(tmp_path):
    files = make_images(tmp_path, 5)
    cdir = tmp_path / "cache"
    npy, built = ensure_cache(tmp_path, files, "celeba", 16, cdir, "s", progress=False)
    assert built and npy.name == "s-celeba-16.npy"
    imgs = open_cache(npy)
    assert imgs.shape == (5, 16, 16, 3) and imgs.dtype == np.uint8
    np.testing.assert_array_equal(imgs, direct(tmp_path, files, "celeba", 16))
    index = json.loads(npy.with_suffix(".json").read_text())
    assert index["files"] == files and index["crop"] == "celeba"
    assert sorted(p.name for p in cdir.iterdir()) == ["s-celeba-16.json", "s-celeba-16.npy"]

    mtime = npy.stat().st_mtime_ns
    npy2, built2 = ensure_cache(tmp_path, files, "celeba", 16, cdir, "s", progress=False)
    assert npy2 == npy and not built2 and npy.stat().st_mtime_ns == mtime


def test_rebuilt_when_a_file_or_the_crop_or_the_list_changes(tmp_path):
    files = make_images(tmp_path, 4)
    cdir = tmp_path / "cache"
    npy, _ = ensure_cache(tmp_path, files, "celeba", 16, cdir, "s", progress=False)
    Image.new("RGB", (18, 22), (255, 0, 0)).save(tmp_path / files[2])
    os.utime(tmp_path / files[2], ns=(1_000_000_000, 1_000_000_000))
    _, built = ensure_cache(tmp_path, files, "celeba", 16, cdir, "s", progress=False)
    assert built
    red = open_cache(npy)[2].reshape(-1, 3).mean(0)
    assert red[0] > 200 and red[1] < 40  # the new content, not the old one
    npy_c, built_c = ensure_cache(tmp_path, files, "center", 16, cdir, "s", progress=False)
    assert built_c and npy_c != npy
    np.testing.assert_array_equal(open_cache(npy_c), direct(tmp_path, files, "center", 16))
    _, built_l = ensure_cache(tmp_path, files[:3], "celeba", 16, cdir, "s", progress=False)
    assert built_l and open_cache(npy).shape[0] == 3


def test_corrupt_index_rebuilds(tmp_path):
    files = make_images(tmp_path, 2)
    npy, _ = ensure_cache(tmp_path, files, "center", 8, tmp_path, "s", False)
    npy.with_suffix(".json").write_text("{not json")
    assert ensure_cache(tmp_path, files, "center", 8, tmp_path, "s", progress=False)[1]


def test_pool_build_equals_in_process_build(tmp_path):
    files = make_images(tmp_path, 70)  # pools start from 64 images
    a, _ = ensure_cache(tmp_path, files, "celeba", 8, tmp_path / "a", "s", False, workers=2)
    b, _ = ensure_cache(tmp_path, files, "celeba", 8, tmp_path / "b", "s", False, workers=0)
    np.testing.assert_array_equal(open_cache(a), open_cache(b))


def test_failed_build_leaves_nothing(tmp_path):
    files = make_images(tmp_path, 3)
    (tmp_path / files[1]).write_bytes(b"garbage")
    cdir = tmp_path / "cache"
    with pytest.raises(UserError, match=files[1]):
        ensure_cache(tmp_path, files, "celeba", 8, cdir, "s", progress=False)
    assert list(cdir.iterdir()) == []


def test_face_dataset_from_cache_matches_direct_and_pickles_small(tmp_path):
    files = make_images(tmp_path, 6)
    labels = np.eye(6, 2, dtype=np.uint8)
    npy, _ = ensure_cache(tmp_path, files, "celeba", 16, tmp_path / "c", "s", progress=False)
    plain = FaceDataset(tmp_path, files, labels, ("A", "B"), "celeba", 16)
    cached = FaceDataset(tmp_path, files, labels, ("A", "B"), "celeba", 16, cache=npy)
    for i in range(6):
        xa, ya = plain[i]
        xb, yb = cached[i]
        assert xa.equal(xb) and ya.equal(yb)
    assert len(pickle.dumps(cached)) < 4096  # workers reopen the memmap, no pixel copy


def test_read_only_folder_is_one_error_naming_it_before_any_decoding(
    tmp_path, read_only, monkeypatch
):
    import stgan.data.cache as cache

    files = make_images(tmp_path, 3)
    decoded = []
    monkeypatch.setattr(cache, "load_image", lambda *a, **k: decoded.append(a))
    read_only(tmp_path)
    cdir = tmp_path / ".stgan-cache"
    with pytest.raises(UserError) as e:
        ensure_cache(tmp_path, files, "celeba", 8, cdir, "s", progress=False)
    msg = str(e.value)
    assert msg.startswith(f"cannot write the image cache in {cdir} (Read-only file system)")
    assert "data.cache_dir=" in msg and "\n" not in msg
    assert decoded == [] and not cdir.exists()


def test_an_existing_cache_is_used_from_a_read_only_folder(tmp_path, read_only):
    files = make_images(tmp_path, 3)
    cdir = tmp_path / "c"
    npy, _ = ensure_cache(tmp_path, files, "center", 8, cdir, "s", progress=False)
    read_only(tmp_path)
    assert ensure_cache(tmp_path, files, "center", 8, cdir, "s", progress=False) == (npy, False)


def test_a_cache_dir_through_a_file_is_one_error_naming_it(tmp_path):
    files = make_images(tmp_path, 2)
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    cdir = tmp_path / "notes.txt" / "cache"
    with pytest.raises(UserError, match=f"cannot write the image cache in {cdir} .*cache_dir="):
        ensure_cache(tmp_path, files, "center", 8, cdir, "s", progress=False)


def test_disk_full_while_building_is_one_error_and_leaves_nothing(tmp_path, monkeypatch):
    import errno

    import stgan.data.cache as cache

    files = make_images(tmp_path, 3)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np.lib.format, "open_memmap", full)
    cdir = tmp_path / "c"
    with pytest.raises(UserError, match="No space left on device.*data.cache_dir="):
        cache.ensure_cache(tmp_path, files, "center", 8, cdir, "s", progress=False)
    assert list(cdir.iterdir()) == []
