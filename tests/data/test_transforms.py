"""Crop presets, image loading and tensor conversion (reference §5 preprocessing)."""

import numpy as np
import pytest
import torch
from PIL import Image

from stgan.data.transforms import crop_box, load_image
from stgan.errors import UserError
from stgan.imageio import to_float, to_uint8


def _noise(w, h, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_celeba_box_full_resolution():
    # the paper's box: 170x170 at top 26, left 3 of the 178x218 aligned image
    assert crop_box("celeba", 178, 218) == pytest.approx((3.0, 26.0, 173.0, 196.0))


def test_celeba_box_half_resolution_is_fractional():
    # 89x109 is exactly half: 85x85 at top 13, left 1.5 (not rounded)
    assert crop_box("celeba", 89, 109) == pytest.approx((1.5, 13.0, 86.5, 98.0))


def test_center_and_none_boxes():
    assert crop_box("center", 178, 218) == (0.0, 20.0, 178.0, 198.0)
    assert crop_box("center", 109, 89) == (10.0, 0.0, 99.0, 89.0)
    assert crop_box("none", 128, 128) == (0.0, 0.0, 128.0, 128.0)


@pytest.mark.parametrize(
    "preset,w,h,match",
    [("celeba", 128, 128, "128x128"), ("none", 178, 218, "not square"), ("nope", 9, 9, "unknown")],
)
def test_crop_box_rejects_sizes_the_preset_does_not_fit(preset, w, h, match):
    with pytest.raises(ValueError, match=match):
        crop_box(preset, w, h)


def test_load_image_celeba_crop_sits_at_top26_left3(tmp_path):
    arr = _noise(178, 218)
    Image.fromarray(arr).save(tmp_path / "a.png")
    # at scale 1 bicubic resampling is the identity, so the output is the raw crop
    out = load_image(tmp_path / "a.png", "celeba", 170)
    assert out.dtype == np.uint8 and out.shape == (170, 170, 3)
    np.testing.assert_array_equal(out, arr[26:196, 3:173])
    center = load_image(tmp_path / "a.png", "center", 178)
    np.testing.assert_array_equal(center, arr[20:198])


def test_half_resolution_gives_the_same_face_region(tmp_path):
    yy, xx = np.mgrid[0:218, 0:178].astype(np.float32)
    smooth = np.stack([xx / 178 * 255, yy / 218 * 255, (xx + yy) / 396 * 255], -1)
    full = Image.fromarray(smooth.astype(np.uint8))
    full.save(tmp_path / "full.png")
    full.resize((89, 109), Image.Resampling.BICUBIC).save(tmp_path / "half.png")
    a = load_image(tmp_path / "full.png", "celeba", 32).astype(np.float32)
    b = load_image(tmp_path / "half.png", "celeba", 32).astype(np.float32)
    assert np.abs(a - b).mean() < 0.3  # ~0.06; rounding the box to whole pixels gives ~0.7


def test_load_image_converts_grey_and_rgba_to_rgb(tmp_path):
    Image.new("L", (20, 20), 77).save(tmp_path / "g.png")
    Image.new("RGBA", (20, 20), (10, 20, 30, 0)).save(tmp_path / "r.png")
    g = load_image(tmp_path / "g.png", "none", 8)
    r = load_image(tmp_path / "r.png", "none", 8)
    assert g.shape == r.shape == (8, 8, 3)
    assert (g == 77).all()
    assert (r == 255).all()  # fully transparent: the white background, not the hidden colour


def test_load_image_reads_16_bit_grey_and_exif_orientation(tmp_path):
    Image.fromarray(np.full((20, 20), 257 * 60, np.uint16)).save(tmp_path / "g16.png")
    assert (load_image(tmp_path / "g16.png", "none", 8) == 60).all()  # not clipped to white
    arr = np.zeros((20, 30, 3), np.uint8)  # stored 30 wide, 20 high
    exif = Image.Exif()
    exif[0x0112] = 8  # "rotate 90° counter-clockwise to display": 20 wide, 30 high
    Image.fromarray(arr).save(tmp_path / "o.jpg", exif=exif)
    with pytest.raises(UserError, match="o.jpg is 20x30, not square"):
        load_image(tmp_path / "o.jpg", "none", 8)
    assert load_image(tmp_path / "o.jpg", "center", 8).shape == (8, 8, 3)


def test_load_image_errors_name_the_file(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(UserError, match="broken.jpg"):
        load_image(bad, "none", 8)
    with pytest.raises(UserError, match="ghost.jpg"):
        load_image(tmp_path / "ghost.jpg", "none", 8)
    Image.new("RGB", (30, 20)).save(tmp_path / "wide.png")
    with pytest.raises(UserError, match="wide.png.*center"):
        load_image(tmp_path / "wide.png", "none", 8)


def test_load_image_truncated_jpeg_is_an_error(tmp_path):
    p = tmp_path / "t.jpg"
    Image.fromarray(_noise(64, 64)).save(p, quality=90)
    p.write_bytes(p.read_bytes()[:600])
    with pytest.raises(UserError, match="t.jpg"):
        load_image(p, "none", 16)


def test_to_float_scales_and_moves_channels():
    img = np.zeros((2, 4, 5, 3), np.uint8)
    img[0, 1, 2] = (0, 255, 51)
    t = to_float(img)
    assert t.shape == (2, 3, 4, 5) and t.dtype == torch.float32
    assert t[0, :, 1, 2].tolist() == pytest.approx([-1.0, 1.0, 51 / 127.5 - 1])
    assert to_float(img[0]).shape == (3, 4, 5)
    with pytest.raises(ValueError):
        to_float(np.zeros((4, 4), np.uint8))


def test_to_uint8_round_trip_and_clamp():
    vals = np.arange(256, dtype=np.uint8)
    img = np.stack([vals, vals[::-1], vals], -1).reshape(16, 16, 3)
    np.testing.assert_array_equal(to_uint8(to_float(img)), img)
    t = torch.tensor([[[[1.7]], [[-3.0]], [[0.0]]]])  # (1, 3, 1, 1)
    assert to_uint8(t).reshape(-1).tolist() == [255, 0, 128]  # 127.5 rounds half to even


def test_none_at_native_size_is_the_image_itself(tmp_path):
    arr = _noise(24, 24, seed=3)
    Image.fromarray(arr).save(tmp_path / "sq.png")
    np.testing.assert_array_equal(load_image(tmp_path / "sq.png", "none", 24), arr)
    # the shortcut agrees with what a bicubic resize at scale 1 gives
    same = Image.fromarray(arr).resize((24, 24), Image.Resampling.BICUBIC, box=(0, 0, 24, 24))
    np.testing.assert_array_equal(np.asarray(same), arr)
    assert load_image(tmp_path / "sq.png", "none", 12).shape == (12, 12, 3)


def test_load_image_refuses_an_image_over_the_pixel_limit_naming_it(tmp_path, monkeypatch):
    Image.new("RGB", (30, 30)).save(tmp_path / "huge.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 900 pixels: a "bomb" at this limit
    with pytest.raises(UserError, match=r"^image .*huge\.png is too large to read safely") as e:
        load_image(tmp_path / "huge.png", "none", 8)
    assert "\n" not in str(e.value)
