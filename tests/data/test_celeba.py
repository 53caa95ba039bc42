"""CelebA layout: label and partition files, image folders, splits and their errors."""

import numpy as np
import pytest
from PIL import Image

from stgan.data.celeba import (
    CELEBA_N,
    check_images,
    find_image_dir,
    parse_attr_file,
    read_celeba,
    split_indices,
    split_sizes,
)
from stgan.errors import UserError

NAMES = ["Bald", "Bangs", "Male", "Young"]


def write_labels(folder, files, values, crlf=False, count=None):
    """A list_attr_celeba.txt in CelebA's format (trailing space, two spaces before +1)."""
    rows = [str(len(files) if count is None else count), " ".join(NAMES) + " "]
    for f, v in zip(files, values, strict=True):
        rows.append(f + "".join(f" {x:2d}" for x in v))
    nl = "\r\n" if crlf else "\n"
    (folder / "list_attr_celeba.txt").write_bytes((nl.join(rows) + nl).encode())


def make_folder(tmp_path, n=6, sub="img_align_celeba", crlf=False, order=None):
    rng = np.random.default_rng(0)
    files = [f"{i:06d}.jpg" for i in (order or range(1, n + 1))]
    values = rng.choice([-1, 1], size=(len(files), len(NAMES)))
    img_dir = tmp_path / sub if sub else tmp_path
    img_dir.mkdir(exist_ok=True)
    for f in files:
        Image.new("RGB", (36, 44), (100, 50, 25)).save(img_dir / f)
    write_labels(tmp_path, files, values, crlf=crlf)
    return files, (values > 0).astype(np.uint8)


@pytest.mark.parametrize("crlf", [False, True])
def test_parse_lf_and_crlf(tmp_path, crlf):
    files, labels = make_folder(tmp_path, crlf=crlf)
    names, got_files, got = parse_attr_file(tmp_path / "list_attr_celeba.txt")
    assert names == tuple(NAMES) and got_files == files
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, labels)


def test_parse_keeps_label_file_order_and_skips_blank_lines(tmp_path):
    files, labels = make_folder(tmp_path, order=[5, 2, 9, 1])
    p = tmp_path / "list_attr_celeba.txt"
    p.write_text(p.read_text() + "\n\n")
    _, got_files, got = parse_attr_file(p)
    assert got_files == ["000005.jpg", "000002.jpg", "000009.jpg", "000001.jpg"]
    np.testing.assert_array_equal(got, labels)


def test_missing_label_file(tmp_path):
    with pytest.raises(UserError, match="list_attr_celeba.txt does not exist"):
        read_celeba(tmp_path)


@pytest.mark.parametrize(
    "bad",
    [
        "000003.jpg 1 -1 1",
        "000003.jpg 1 -1 1 1 1",
        "000003.jpg 1 -1 x 1",
        "000003.jpg 1 -1 2 1",
        "000003.jpg 1 -1 1.5 1",
        "000003.jpg 1 -1 -1-1 1",
    ],
)
def test_malformed_line_names_its_number(tmp_path, bad):
    make_folder(tmp_path, n=4)
    p = tmp_path / "list_attr_celeba.txt"
    lines = p.read_text().splitlines()
    lines[4] = bad  # the third row, line 5 of the file
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=r"malformed line 5 of .*list_attr_celeba\.txt"):
        parse_attr_file(p)


def test_count_line_must_match_rows(tmp_path):
    files, labels = make_folder(tmp_path, n=4)
    write_labels(tmp_path, files, labels.astype(int) * 2 - 1, count=5)
    with pytest.raises(UserError, match="says 5 images on line 1 but has 4 rows"):
        parse_attr_file(tmp_path / "list_attr_celeba.txt")


def test_duplicate_file_is_an_error(tmp_path):
    write_labels(tmp_path, ["a.jpg", "a.jpg"], [[1, 1, 1, 1], [-1, 1, 1, 1]])
    with pytest.raises(UserError, match="a.jpg more than once"):
        parse_attr_file(tmp_path / "list_attr_celeba.txt")


def test_missing_image_is_named(tmp_path):
    files, _ = make_folder(tmp_path, n=5)
    (tmp_path / "img_align_celeba" / files[3]).unlink()
    table = read_celeba(tmp_path)
    img_dir = find_image_dir(tmp_path, table.files, ("img_align_celeba", "images"))
    with pytest.raises(UserError, match=f"image {files[3]} listed in .* does not exist"):
        check_images(img_dir, table.files, table.path)


@pytest.mark.parametrize("sub", ["img_align_celeba", "images", ""])
def test_image_folder_lookup(tmp_path, sub):
    files, _ = make_folder(tmp_path, sub=sub)
    got = find_image_dir(tmp_path, files, ("img_align_celeba", "images"))
    assert got == (tmp_path / sub if sub else tmp_path)
    check_images(got, files, tmp_path / "list_attr_celeba.txt")  # no error


def test_partition_file_defines_splits(tmp_path):
    files, _ = make_folder(tmp_path, n=6)
    codes = [0, 2, 0, 1, 2, 0]
    text = "".join(f"{f} {c}\r\n" for f, c in zip(files, codes, strict=True))
    (tmp_path / "list_eval_partition.txt").write_text("000999.jpg 0\n" + text)  # extra row: ok
    table = read_celeba(tmp_path)
    assert table.partition.tolist() == codes
    assert split_indices(6, "train", 0.1, table.partition).tolist() == [0, 2, 5]
    assert split_indices(6, "val", 0.1, table.partition).tolist() == [3]
    assert split_indices(6, "test", 0.1, table.partition).tolist() == [1, 4]


def test_partition_file_missing_a_row_or_malformed(tmp_path):
    files, _ = make_folder(tmp_path, n=3)
    part = tmp_path / "list_eval_partition.txt"
    part.write_text(f"{files[0]} 0\n{files[1]} 0\n")
    with pytest.raises(UserError, match=f"no row for image {files[2]}"):
        read_celeba(tmp_path)
    part.write_text(f"{files[0]} 0\n{files[1]} 7\n")
    with pytest.raises(UserError, match="malformed line 2 of .*list_eval_partition"):
        read_celeba(tmp_path)


def test_fractional_split_without_partition_file():
    # 1000 rows, test_fraction 0.1: test = last 100, val = 3 rows before it, train = the rest
    assert split_sizes(1000, 0.1) == (897, 3, 100)
    tr, va, te = (split_indices(1000, s, 0.1) for s in ("train", "val", "test"))
    assert tr.tolist() == list(range(897)) and va.tolist() == [897, 898, 899]
    assert te.tolist() == list(range(900, 1000))
    assert split_indices(1000, "all", 0.1).tolist() == list(range(1000))
    assert split_sizes(10, 0.1) == (8, 1, 1)


def test_official_split_for_full_celeba():
    tr, va, te = (split_indices(CELEBA_N, s, 0.1) for s in ("train", "val", "test"))
    assert (len(tr), len(va), len(te)) == (182_000, 637, 19_962)
    assert va[0] == 182_000 and te[0] == 182_637  # 182638.jpg is the first test image
    with pytest.raises(UserError, match="unknown split"):
        split_indices(10, "dev", 0.1)
