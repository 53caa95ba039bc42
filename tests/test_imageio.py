import numpy as np
import pytest
import torch
from PIL import Image

from stgan import imageio
from stgan.errors import UserError


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


# ------------------------------------------------------------------------------------------
# reading: every colour mode by its meaning, EXIF orientation, bombs and broken files


def _grey(values, mode):
    """A 1-row image of ``mode`` holding ``values``."""
    dtype = {"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode]
    im = Image.fromarray(np.array([values], dtype=dtype))
    assert im.mode == mode
    return im


def test_16bit_grey_png_is_scaled_to_8_bits_not_clipped_white(tmp_path):
    values = [0, 1000, 257 * 100, 32896, 65535]
    p = tmp_path / "g16.png"
    _grey(values, "I;16").save(p)
    assert Image.open(p).mode == "I;16"  # what Pillow makes of a 16-bit greyscale PNG
    rgb = np.asarray(imageio.read_rgb(p))
    assert rgb.shape == (1, 5, 3) and (rgb == rgb[..., :1]).all()
    assert rgb[0, :, 0].tolist() == [0, 4, 100, 128, 255]  # round(v * 255 / 65535)


@pytest.mark.parametrize(
    "make,suffix,expected",
    [
        (lambda: Image.new("1", (2, 1), 1), "png", [(255, 255, 255)] * 2),
        (lambda: Image.new("L", (2, 1), 77), "png", [(77, 77, 77)] * 2),
        (lambda: _grey([0, 65535, 70000, -5, 257 * 7], "I"), "tif",
         [(0,) * 3, (255,) * 3, (255,) * 3, (0,) * 3, (7,) * 3]),
        (lambda: _grey([0.0, 0.5, 1.0], "F"), "tif", [(0,) * 3, (128,) * 3, (255,) * 3]),
        (lambda: _grey([0.0, 128.4, 300.0], "F"), "tif", [(0,) * 3, (128,) * 3, (255,) * 3]),
        (lambda: Image.frombytes("CMYK", (2, 1), bytes([255, 0, 0, 0, 0, 0, 0, 255])), "tif",
         [(0, 255, 255), (0, 0, 0)]),
        (lambda: Image.frombytes("LA", (3, 1), bytes([77, 255, 77, 0, 0, 128])), "png",
         [(77, 77, 77), (255, 255, 255), (127, 127, 127)]),
        (lambda: Image.frombytes("RGBA", (2, 1), bytes([10, 20, 30, 255, 10, 20, 30, 0])), "png",
         [(10, 20, 30), (255, 255, 255)]),
    ],
    ids=["1", "L", "I", "F01", "F255", "CMYK", "LA", "RGBA"],
)  # fmt: skip
def test_every_mode_reads_as_the_rgb_it_means(tmp_path, make, suffix, expected):
    im = make()
    p = tmp_path / f"x.{suffix}"
    im.save(p)
    assert Image.open(p).mode == im.mode  # the file really holds this mode
    got = np.asarray(imageio.read_rgb(p))
    assert got.dtype == np.uint8 and [tuple(px) for px in got[0].tolist()] == expected


def test_palette_images_with_and_without_transparency(tmp_path):
    im = Image.new("P", (2, 1))
    im.putpalette([200, 10, 20, 5, 6, 7] + [0] * 762)
    im.putpixel((0, 0), 0)
    im.putpixel((1, 0), 1)
    im.save(tmp_path / "p.png")
    im.save(tmp_path / "pt.png", transparency=1)  # colour 1 transparent
    assert np.asarray(imageio.read_rgb(tmp_path / "p.png"))[0].tolist() == [
        [200, 10, 20], [5, 6, 7]]  # fmt: skip
    assert np.asarray(imageio.read_rgb(tmp_path / "pt.png"))[0].tolist() == [
        [200, 10, 20], [255, 255, 255]]  # fmt: skip


def test_exif_orientation_is_applied(tmp_path):
    arr = np.full((16, 32, 3), 128, np.uint8)  # stored 32 wide, 16 high
    arr[:8, :8] = (255, 0, 0)  # a red block in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    p = tmp_path / "phone.jpg"
    Image.fromarray(arr).save(p, exif=exif, quality=95)
    up = np.asarray(imageio.read_rgb(p)).astype(int)
    assert up.shape == (32, 16, 3)  # displayed upright: 16 wide, 32 high
    assert up[2:6, 10:14].mean(axis=(0, 1)) == pytest.approx([255, 0, 0], abs=12)  # top-right
    assert up[2:6, 2:6].mean(axis=(0, 1)) == pytest.approx([128, 128, 128], abs=12)


def _png_header_only(path, width, height):
    """A PNG whose header claims ``width`` x ``height`` pixels, with no real pixel data."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))  # fmt: skip

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 16)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [20000, 10000])  # over 2x Pillow's limit (error), over 1x (warns)
def test_decompression_bomb_is_a_one_line_user_error_naming_the_file(tmp_path, side):
    p = tmp_path / "bomb.png"
    _png_header_only(p, side, side)
    with pytest.raises(UserError, match=r"image .*bomb\.png is too large") as e:
        imageio.read_rgb(p)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "data", [b"", b"GIF89a garbage", b"\x89PNG\r\n\x1a\n" + b"\0" * 40], ids=["empty", "gif", "png"]
)
def test_corrupt_files_are_one_line_user_errors_naming_the_file(tmp_path, data):
    p = tmp_path / "bad.png"
    p.write_bytes(data)
    with pytest.raises(UserError, match=r"cannot read image .*bad\.png") as e:
        imageio.read_rgb(p)
    assert "\n" not in str(e.value)


def test_corrupt_pixel_data_is_a_user_error(tmp_path):
    p = tmp_path / "c.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), np.uint8)).save(p)
    raw = bytearray(p.read_bytes())
    start = raw.index(b"IDAT") + 8
    raw[start : start + 200] = bytes(200)  # zero the compressed pixels: a broken stream
    p.write_bytes(bytes(raw))
    with pytest.raises(UserError, match=r"cannot read image .*c\.png"):
        imageio.read_rgb(p)


def test_match_grey_turns_an_image_grey_only_over_a_grey_reference():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    grey_ref = np.repeat(rng.integers(0, 256, (20, 30, 1), dtype=np.uint8), 3, axis=-1)
    out = imageio.match_grey(grey_ref, image)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])
    pillow = np.asarray(Image.fromarray(image).convert("L")).astype(int)  # ITU-R 601 luma
    assert np.abs(out[..., 0].astype(int) - pillow).max() <= 1
    tol = imageio.GREY_TOLERANCE
    near = grey_ref.copy()
    near[3, 4] = (100, 100, 100 + tol)  # an encoder's rounding: still grey
    assert np.array_equal(imageio.match_grey(near, image), imageio.match_grey(grey_ref, image))
    near[3, 4] = (100, 100, 100 + tol + 1)  # one level more: a colour photo
    assert imageio.match_grey(near, image) is image
