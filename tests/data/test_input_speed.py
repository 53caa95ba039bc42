"""stgan bench --data: input throughput, measured without writing into the data folder."""

import tempfile

import numpy as np
from PIL import Image

from stgan.bench import input_speed
from stgan.config import DataConfig


def _folder(root, n=6):
    root.mkdir()
    rows = ["file,Smiling"]
    for i in range(n):
        Image.fromarray(np.full((20, 20, 3), 20 * i, np.uint8)).save(root / f"p{i}.png")
        rows.append(f"p{i}.png,{i % 2}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")


def _tree(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob("*"))


def test_input_speed_leaves_nothing_in_the_data_folder_or_temp(tmp_path, monkeypatch, read_only):
    data = tmp_path / "data"
    _folder(data, n=12)
    before = _tree(data)
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    read_only(data)  # a read-only data folder is fine: nothing is written there
    cfg = DataConfig(dataset=str(data), attrs=("Smiling",), crop="none", test_fraction=0.1)
    rows = input_speed(cfg, 8, n=5, batch_size=2, num_workers=0)
    assert [r.path for r in rows] == ["jpeg", "cache"]
    assert [r.images for r in rows] == [5, 5] and all(r.images_per_s > 0 for r in rows)
    assert _tree(data) == before
    assert list(temp.iterdir()) == []  # the temporary cache is removed


def test_input_speed_cache_under_the_users_cache_dir_is_removed(tmp_path):
    data = tmp_path / "data"
    _folder(data)
    mine = tmp_path / "mine"
    cfg = DataConfig(dataset=str(data), attrs=("Smiling",), crop="none", cache_dir=str(mine))
    assert len(input_speed(cfg, 8, n=3, batch_size=1, num_workers=0)) == 2
    assert list(mine.iterdir()) == []


def test_input_speed_of_synthetic_faces_is_one_in_memory_row():
    cfg = DataConfig(dataset="synthetic", synthetic_n=6, attrs=("Male",))
    rows = input_speed(cfg, 16, n=4, batch_size=2, num_workers=0)
    assert [(r.path, r.images) for r in rows] == [("memory", 4)]
