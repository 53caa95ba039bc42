"""Output safety checks and image writing (stgan.outputs)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from stgan.errors import UserError
from stgan.outputs import (
    check_output_dir,
    check_output_file,
    check_writable_dir,
    edit_names,
    write_image,
)


def test_edit_names_keep_photos_that_share_a_stem_apart():
    assert edit_names(["d/a.jpg", "d/b.png"]) == ["a.png", "b.png"]
    assert edit_names(["d/a.jpg", "d/a.png", "d/b.JPG"]) == ["a.jpg.png", "a.png.png", "b.png"]
    assert edit_names(["d/A.jpg", "d/a.png"]) == ["A.jpg.png", "a.png.png"]  # case-blind disks


def test_repeated_names_in_one_folder_are_refused(tmp_path):
    with pytest.raises(UserError, match="two outputs would be named"):
        check_output_dir(tmp_path / "o", ["x.png", "X.png"])
    assert not (tmp_path / "o").exists()


def test_output_file_checks(tmp_path):
    src = tmp_path / "in.png"
    src.write_bytes(b"x")
    link = tmp_path / "link.png"
    link.symlink_to(src)
    with pytest.raises(UserError, match="is an input"):
        check_output_file(link, inputs=[src], overwrite=True)  # the same file by another name
    with pytest.raises(UserError, match="already exists"):
        check_output_file(src)
    assert check_output_file(src, overwrite=True) == src
    with pytest.raises(UserError, match="must end with .png"):
        check_output_file(tmp_path / "x.gif", suffixes=(".png",))
    with pytest.raises(UserError, match="is a file, not a folder"):
        check_output_file(src / "deeper" / "x.png")
    assert check_output_file(tmp_path / "new" / "deeper" / "x.png").name == "x.png"
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_writable_dir_sees_a_broken_link(tmp_path):
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    with pytest.raises(UserError, match="broken symbolic link"):
        check_writable_dir(tmp_path / "dangling" / "out", "--out")


def test_write_image_by_suffix(tmp_path):
    img = np.zeros((8, 8, 3), np.uint8)
    img[:, 4:] = 200
    write_image(tmp_path / "a.jpg", img)
    write_image(tmp_path / "a.JPEG", img)
    write_image(tmp_path / "a.png", img)
    assert Image.open(tmp_path / "a.jpg").format == "JPEG"
    assert Image.open(tmp_path / "a.JPEG").format == "JPEG"
    with Image.open(tmp_path / "a.png") as png:
        assert png.format == "PNG" and np.array_equal(np.asarray(png), img)
    jpg = np.asarray(Image.open(tmp_path / "a.jpg")).astype(int)
    assert np.abs(jpg - img).max() < 40  # lossy but the same picture
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.JPEG", "a.jpg", "a.png"]  # no tmp
