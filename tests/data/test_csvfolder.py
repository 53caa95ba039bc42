"""Your own data: images + a CSV of labels."""

import numpy as np
import pytest
from PIL import Image

from stgan.data.csvfolder import find_csv, parse_csv, read_csv_folder
from stgan.errors import UserError

EXPECTED = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0]], np.uint8)


def write_csv(path, rows, header="file,Smiling,Freckles,Hat"):
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


@pytest.mark.parametrize(
    "rows",
    [
        ["a.png,1,0,1", "b.png,0,0,1", "c.png,1,1,0"],
        ["a.png,1,-1,1", "b.png,-1,-1,1", "c.png, 1 , 1 ,-1"],
    ],
    ids=["01", "pm1"],
)
def test_zero_one_and_plus_minus_one(tmp_path, rows):
    write_csv(tmp_path / "labels.csv", rows)
    names, files, labels = parse_csv(tmp_path / "labels.csv")
    assert names == ("Smiling", "Freckles", "Hat")
    assert files == ["a.png", "b.png", "c.png"]
    np.testing.assert_array_equal(labels, EXPECTED)


def test_bom_crlf_and_any_column_names(tmp_path):
    p = tmp_path / "mine.csv"
    p.write_bytes("\ufeffimage name,Has Glasses\r\nx.jpg,1\r\ny.jpg,0\r\n".encode())
    names, files, labels = parse_csv(p)
    assert names == ("Has Glasses",) and files == ["x.jpg", "y.jpg"]
    assert labels[:, 0].tolist() == [1, 0]


def test_find_csv_prefers_labels_csv_else_single(tmp_path):
    with pytest.raises(UserError, match="neither list_attr_celeba.txt nor a"):
        find_csv(tmp_path)
    write_csv(tmp_path / "one.csv", ["a.png,1,0,1"])
    assert find_csv(tmp_path).name == "one.csv"
    write_csv(tmp_path / "two.csv", ["a.png,1,0,1"])
    with pytest.raises(UserError, match="several CSV files.*labels.csv"):
        find_csv(tmp_path)
    write_csv(tmp_path / "labels.csv", ["a.png,1,0,1"])
    assert find_csv(tmp_path).name == "labels.csv"


@pytest.mark.parametrize(
    "rows,match",
    [
        (["a.png,1,0,1", "b.png,1,0"], "malformed line 3"),
        (["a.png,1,0,1", "b.png,1,0,yes"], "malformed line 3"),
        (["a.png,1,0,1", ",1,0,1"], "malformed line 3"),
        (["a.png,1,0,-1"], "mixes 0 and -1"),
        (["a.png,1,0,1", "a.png,0,0,1"], "a.png more than once"),
        ([], "no rows"),
    ],
)
def test_csv_errors(tmp_path, rows, match):
    write_csv(tmp_path / "labels.csv", rows)
    with pytest.raises(UserError, match=match):
        parse_csv(tmp_path / "labels.csv")


def test_bad_header(tmp_path):
    write_csv(tmp_path / "labels.csv", ["a.png"], header="file")
    with pytest.raises(UserError, match="line 1 .* header"):
        parse_csv(tmp_path / "labels.csv")
    write_csv(tmp_path / "labels.csv", ["a.png,1,1"], header="file,A,A")
    with pytest.raises(UserError, match="repeats an attribute name"):
        parse_csv(tmp_path / "labels.csv")


def test_read_csv_folder(tmp_path):
    (tmp_path / "images").mkdir()
    for f in ("a.png", "b.png", "c.png"):
        Image.new("RGB", (8, 8)).save(tmp_path / "images" / f)
    write_csv(tmp_path / "faces.csv", ["a.png,1,0,1", "b.png,0,0,1", "c.png,1,1,0"])
    t = read_csv_folder(tmp_path)
    assert t.path.name == "faces.csv" and t.partition is None
    np.testing.assert_array_equal(t.labels, EXPECTED)
