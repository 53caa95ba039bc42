import numpy as np
import pytest
import torch
from PIL import Image

from stgan import imageio


def test_grid_layout():
    a = np.zeros((4, 5, 3), np.uint8)
    b = np.full((4, 5, 3), 200, np.uint8)
    g = imageio.make_grid([[a, b], [b]], pad=1, pad_value=255)
    assert g.shape == (2 * 5 + 1, 2 * 6 + 1, 3)
    assert (g[1:5, 1:6] == 0).all() and (g[1:5, 7:12] == 200).all()
    assert (g[6:10, 1:6] == 200).all() and (g[6:10, 7:12] == 255).all()  # empty cell = pad
    assert (g[0] == 255).all() and (g[:, 6] == 255).all()
    with pytest.raises(ValueError):
        imageio.make_grid([[a, np.zeros((3, 5, 3), np.uint8)]])


def test_png_roundtrip_and_atomic(tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    p = tmp_path / "sub" / "x.png"
    imageio.write_png(p, img)
    assert np.array_equal(np.asarray(Image.open(p)), img)
    assert [f.name for f in p.parent.iterdir()] == ["x.png"]  # no temporary left behind
    with pytest.raises(ValueError):
        imageio.write_png(tmp_path / "y.png", img.astype(np.float32))
    assert not (tmp_path / "y.png").exists()


def test_float_uint8_conversions():
    img = np.array(Image.new("RGB", (3, 2), (0, 128, 255)))
    t = imageio.to_float(img)
    assert t.shape == (3, 2, 3) and t.min() == -1 and t.max() == 1
    assert np.array_equal(imageio.to_uint8(t), img)
    assert imageio.to_uint8(torch.full((1, 3, 2, 2), 5.0)).max() == 255


def test_atomic_files_get_normal_permissions(tmp_path):
    import os

    p = tmp_path / "z.png"
    imageio.write_png(p, np.zeros((2, 2, 3), np.uint8))
    mask = os.umask(0)
    os.umask(mask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~mask
