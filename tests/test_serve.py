"""The web demo's API (stgan.serve) through FastAPI's test client, and ``stgan serve``."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("fastapi", reason="the serve extra (FastAPI) is not installed")
pytest.importorskip("httpx", reason="FastAPI's test client needs httpx")

from fastapi.testclient import TestClient  # noqa: E402
from serve_helpers import (  # noqa: E402
    ASTRONAUT_FACE,
    NAMES,
    TINY,
    astronaut,
    decode,
    encode,
    save_run,
    tiny_editor,
)

from stgan.cli import main  # noqa: E402
from stgan.serve.app import create_app  # noqa: E402
from stgan.serve.demo import FACES_INDICES, FACES_SEED  # noqa: E402

LIMITS = {"max_upload_bytes": 300_000, "max_pixels": 1_000_000, "preview_side": 256}


class CountingEditor:
    """An editor that counts encoder and decoder runs (everything else passed through)."""

    def __init__(self, editor):
        self._editor, self.n_encode, self.n_decode = editor, 0, 0

    def __getattr__(self, name):
        return getattr(self._editor, name)

    def encode(self, images):
        self.n_encode += 1
        return self._editor.encode(images)

    def decode(self, enc, source01, target):
        self.n_decode += 1
        return self._editor.decode(enc, source01, target)


@pytest.fixture(scope="module")
def editor():
    return CountingEditor(tiny_editor())


@pytest.fixture(scope="module")
def client(editor):
    return TestClient(create_app(editor, cache_size=50, **LIMITS))


@pytest.fixture(scope="module")
def astronaut_jpeg():
    return encode(astronaut(), "JPEG", quality=90)


@pytest.fixture(scope="module")
def opened(client, astronaut_jpeg):
    """The astronaut, uploaded once for the tests that only read."""
    r = client.post("/api/upload", content=astronaut_jpeg)
    assert r.status_code == 200, r.text
    return r.json()


def jpeg_pixels(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB")).astype(int)


def error_of(r, status: int) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    message = r.json()["error"]
    assert message and "\n" not in message
    return message


# -- the page ---------------------------------------------------------------------------


def test_page_and_its_assets_are_served_locally(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sorted(assets) == ["/static/app.js", "/static/style.css"]
    for path in assets:
        r = client.get(path)
        assert r.status_code == 200 and len(r.text) > 500
        assert not re.search(r"https?://|//cdn|@import", r.text), path  # nothing from elsewhere
    # the browser is told to load nothing from elsewhere either
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_info_names_the_attributes_and_the_slider_rest(client):
    info = client.get("/api/info").json()
    assert info["attributes"] == list(NAMES)
    assert info["img_size"] == 32 and info["classifier"] is False
    assert info["rest"] == {"on": 0.5, "off": -0.5}  # the source, ±thres_int
    assert info["max_upload_bytes"] == LIMITS["max_upload_bytes"]


def test_bundled_faces_are_synthetic_faces_with_their_true_labels(client):
    from stgan.attributes import DEFAULT_ATTRS
    from stgan.data.synth import SyntheticFaces

    faces = client.get("/api/faces").json()
    assert [f["index"] for f in faces] == [0, 1, 2, 3]
    truth = SyntheticFaces(FACES_SEED)
    for f, i in zip(faces, FACES_INDICES, strict=True):
        labels = truth.labels(i)
        assert f["source"] == {n: int(labels[DEFAULT_ATTRS.index(n)]) for n in NAMES}
        image = decode(client.get(f["image"]).content)
        np.testing.assert_array_equal(image, truth.render(i, 32))
    assert len({str(f["source"]) for f in faces}) > 1  # not all alike

    summary = client.post("/api/faces/2/open").json()
    assert summary["method"] == "as-is" and summary["source_from"] == "synthetic"
    assert summary["source"] == faces[2]["source"]
    assert summary["box"] == [0, 0, 32, 32]
    face = decode(client.get(summary["face"]).content)
    np.testing.assert_array_equal(face, truth.render(FACES_INDICES[2], 32))  # no resampling
    assert error_of(client.post("/api/faces/4/open"), 404).startswith("no bundled face 4")
    error_of(client.get("/api/faces/9.png"), 404)


# -- opening a photo --------------------------------------------------------------------


def test_upload_finds_and_aligns_the_astronauts_face(client, opened):
    assert opened["method"] == "detected" and opened["faces_found"] >= 1
    assert opened["source_from"] == "user" and set(opened["source"].values()) == {0}
    # the preview is the photo at preview_side (256 of 512): box and eyes in its pixels
    assert (opened["width"], opened["height"]) == (256, 256)
    assert (opened["full_width"], opened["full_height"]) == (512, 512)
    x, y, w, h = (v * 2 for v in opened["box"])
    x0, y0, x1, y1 = ASTRONAUT_FACE
    assert x0 - 20 <= x and x + w <= x1 + 20 and y0 - 20 <= y and y + h <= y1 + 20
    assert w > 50
    if opened["eyes_found"]:
        (lx, ly), (rx, ry) = opened["eyes"]
        assert x / 2 < lx < rx < (x + w) / 2 and y / 2 < ly < (y + h) / 2
    assert decode(client.get(opened["photo"]).content).shape == (256, 256, 3)
    assert decode(client.get(opened["face"]).content).shape == (32, 32, 3)


def test_a_photo_of_the_model_size_is_used_as_it_is(client):
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    summary = client.post("/api/upload", content=encode(image)).json()
    assert summary["method"] == "as-is"  # no detection on a model-sized crop
    np.testing.assert_array_equal(decode(client.get(summary["face"]).content), image)


def test_aligned_option_crops_like_the_training_data(client):
    rng = np.random.default_rng(1)
    square = rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)
    summary = client.post("/api/upload?aligned=true", content=encode(square)).json()
    assert summary["method"] == "as-is" and summary["box"] == [0, 0, 96, 96]
    # the tiny model was trained on square synthetic faces (crop "none"): a wide photo is
    # not such a crop
    wide = rng.integers(0, 256, (60, 90, 3), dtype=np.uint8)
    message = error_of(client.post("/api/upload?aligned=true", content=encode(wide)), 422)
    assert "not square" in message and "untick" in message
    error_of(client.post("/api/upload?aligned=maybe", content=encode(square)), 422)


def test_an_aligned_greyscale_crop_is_edited_in_grey(client):
    rng = np.random.default_rng(2)
    grey = np.repeat(rng.integers(0, 256, (96, 96, 1), dtype=np.uint8), 3, axis=-1)
    uid = client.post("/api/upload?aligned=true", content=encode(grey)).json()["id"]
    body = {"values": {"Blond_Hair": 1}}
    out = decode(client.post(f"/api/uploads/{uid}/download", json=body).content)
    assert out.shape == grey.shape and not np.array_equal(out, grey)  # edited
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])


def test_bundled_faces_open_whatever_the_models_crop():
    """A model trained on CelebA crops still takes a model-sized square as it is."""
    from stgan.config import load
    from stgan.inference import Editor
    from stgan.models import build_generator

    cfg = load("tiny", overrides=[*TINY, "data.dataset=elsewhere", "data.crop=celeba"])
    assert cfg.data.image_crop == "celeba"
    editor = Editor(build_generator(cfg.model, len(NAMES)), cfg, NAMES)
    client = TestClient(create_app(editor, n_faces=1))
    summary = client.post("/api/faces/0/open").json()
    assert summary["method"] == "as-is" and summary["box"] == [0, 0, 32, 32]
    # a square of another size is no CelebA crop: the preset refuses it
    square = encode(np.zeros((40, 40, 3), np.uint8))
    assert "178x218" in error_of(client.post("/api/upload?aligned=1", content=square), 422)


def test_photos_are_read_upright_in_rgb(client):
    from PIL import Image

    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 3  # orientation: rotated 180°
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", exif=exif)
    face = client.get(client.post("/api/upload", content=buf.getvalue()).json()["face"])
    np.testing.assert_array_equal(decode(face.content), image[::-1, ::-1])

    grey = rng.integers(0, 256, (32, 32), dtype=np.uint8)
    face = client.get(client.post("/api/upload", content=encode(grey)).json()["face"])
    np.testing.assert_array_equal(decode(face.content), np.repeat(grey[..., None], 3, axis=2))


def test_webp_photos_are_accepted(client):
    from PIL import features

    if not features.check("webp"):
        pytest.skip("this Pillow has no WebP support")
    image = np.random.default_rng(4).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    r = client.post("/api/upload", content=encode(image, "WEBP", lossless=True))
    face = decode(client.get(r.json()["face"]).content)
    np.testing.assert_array_equal(face, image)


def test_a_server_bug_is_a_json_500(editor, monkeypatch):
    app = create_app(editor, n_faces=1)
    client = TestClient(app, raise_server_exceptions=False)
    uid = client.post("/api/faces/0/open").json()["id"]

    def broken(*args, **kwargs):
        raise RuntimeError("something broke\nsecond line")

    monkeypatch.setattr(app.state.demo, "edit", broken)
    message = error_of(client.post(f"/api/uploads/{uid}/edit", json={}), 500)
    assert message.startswith("the server failed on this request (RuntimeError: something broke)")


def test_no_face_is_a_clear_error(client):
    flat = np.tile(np.linspace(40, 200, 300, dtype=np.uint8)[None, :, None], (200, 1, 3))
    assert error_of(client.post("/api/upload", content=encode(flat)), 422).startswith(
        "no face found"
    )


@pytest.mark.parametrize(
    "data, status, words",
    [
        (b"just some text, not an image", 415, "PNG, JPEG or WebP"),
        (b"GIF89a" + bytes(100), 415, "PNG, JPEG or WebP"),  # an image type not accepted
        (b"", 422, "empty"),
        (b"\x89PNG\r\n\x1a\n" + bytes(40), 422, "cannot read this PNG"),  # truncated
    ],
)
def test_uploads_of_the_wrong_type_are_refused(client, data, status, words):
    assert words in error_of(client.post("/api/upload", content=data), status)


def test_a_real_gif_is_refused_by_its_content_whatever_its_name(client):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 40), (200, 10, 10)).save(buf, format="GIF")
    r = client.post("/api/upload", content=buf.getvalue(), headers={"content-type": "image/png"})
    assert "PNG, JPEG or WebP" in error_of(r, 415)


def test_uploads_over_the_size_limit_are_refused(client):
    big = b"\xff\xd8\xff" + bytes(LIMITS["max_upload_bytes"])
    assert "at most" in error_of(client.post("/api/upload", content=big), 413)

    def chunks():  # no Content-Length: the body is counted as it arrives
        for _ in range(4):
            yield bytes(LIMITS["max_upload_bytes"] // 3)

    assert "too large" in error_of(client.post("/api/upload", content=chunks()), 413)


def _png_bomb(side: int) -> bytes:
    """A valid PNG of side × side black pixels (3·side² bytes decoded) in a few hundred kB."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    z, row = zlib.compressobj(9), bytes(1 + 3 * side)  # filter byte + RGB
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_refused_before_decoding(client):
    bomb = _png_bomb(2500)  # 19 MB decoded, 6 × the test's limit of 1 megapixel
    assert len(bomb) < LIMITS["max_upload_bytes"] / 10
    message = error_of(client.post("/api/upload", content=bomb), 413)
    assert "2500×2500" in message and "at most 1 megapixels" in message
    small = _png_bomb(64)  # the same construction under the limit is a valid photo
    assert client.post("/api/upload?aligned=true", content=small).json()["method"] == "as-is"


def test_uploads_stay_in_memory(editor, monkeypatch, tmp_path):
    """A 1.5 MB upload (larger than the 1 MB at which multipart parsers spool to disk)
    leaves no file in the temporary folder."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    client = TestClient(create_app(editor, max_upload_bytes=4_000_000))
    flat = np.tile(np.linspace(40, 200, 720, dtype=np.uint8)[None, :, None], (720, 1, 3))
    data = encode(flat, compress_level=0)
    assert len(data) > 1_500_000
    error_of(client.post("/api/upload", content=data), 422)  # decoded, no face found
    assert list(tmp_path.iterdir()) == []


# -- editing ----------------------------------------------------------------------------


def test_edit_returns_a_png_that_follows_the_slider(client, opened):
    url = f"/api/uploads/{opened['id']}/edit"
    rest = client.post(url, json={})
    assert rest.status_code == 200 and rest.headers["content-type"] == "image/png"
    at_rest = decode(rest.content)
    assert at_rest.shape == (256, 256, 3)  # the preview
    up = decode(client.post(url, json={"values": {"Blond_Hair": 1}}).content)
    down = decode(client.post(url, json={"values": {"Blond_Hair": -1}}).content)
    again = decode(client.post(url, json={"values": {"Blond_Hair": 1}}).content)
    assert np.abs(up.astype(int) - at_rest).max() > 0
    assert np.abs(up.astype(int) - down).max() > 0
    np.testing.assert_array_equal(up, again)  # deterministic
    # the source toggles matter too: +1 on a face that has the attribute is a smaller
    # difference (+0.5) than on one without it (+1.5)
    body = {"source": {"Blond_Hair": 1}, "values": {"Blond_Hair": 1}}
    other = decode(client.post(url, json=body).content)
    assert np.abs(other.astype(int) - up).max() > 0
    # pasted back: far from the face the preview is the photo itself
    photo = decode(client.get(opened["photo"]).content)
    x, y, w, h = (round(v) for v in opened["box"])
    outside = np.ones(photo.shape[:2], bool)
    outside[max(0, y - h) : y + 2 * h, max(0, x - w) : x + 2 * w] = False
    np.testing.assert_array_equal(up[outside], photo[outside])


def test_slider_values_are_the_slide_targets(editor):
    """0 is neutral (not "off") and only the named attribute moves: the official slide."""
    from stgan.serve.demo import slider_target

    src = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
    target = slider_target(editor, src, {"Blond_Hair": 0.0, "Bald": -1.0})
    assert target.tolist() == [[-1.0, -0.5, 0.5, 0.0]]


def test_the_encoder_runs_once_per_photo(client, editor, astronaut_jpeg):
    uid = client.post("/api/upload", content=astronaut_jpeg).json()["id"]
    encodes, decodes = editor.n_encode, editor.n_decode
    for v in (-1.0, -0.5, 0.25, 1.0):
        assert client.post(f"/api/uploads/{uid}/edit", json={"values": {"Bangs": v}}).is_success
    assert (editor.n_encode - encodes, editor.n_decode - decodes) == (0, 4)


def test_download_is_the_full_resolution_photo(client, opened, astronaut_jpeg):
    body = {"values": {"Bald": 0.9}, "source": {"Bangs": 1}}
    r = client.post(f"/api/uploads/{opened['id']}/download", json=body)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.headers["content-disposition"] == 'attachment; filename="stgan-edit.png"'
    full = decode(r.content)
    assert full.shape == (512, 512, 3)
    photo = jpeg_pixels(astronaut_jpeg)  # what the server read
    changed = np.abs(full.astype(int) - photo).max(axis=2) > 0
    x0, y0, x1, y1 = ASTRONAUT_FACE
    assert changed[y0:y1, x0:x1].mean() > 0.5  # the face is edited
    changed[: y1 + 100, max(0, x0 - 100) : x1 + 100] = False  # the aligned square's reach
    assert changed.sum() == 0  # and nothing else


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({"values": {"Smiling": 1}}, 422, "unknown attribute 'Smiling'"),
        ({"source": {"Wings": 1}}, 422, "unknown attribute 'Wings'"),
        ({"values": {"Bald": 1.5}}, 422, "value of Bald must be a number in [-1, 1], got 1.5"),
        ({"values": {"Bald": -1.01}}, 422, "must be a number in [-1, 1]"),
        ({"values": {"Bald": "1"}}, 422, "must be a number"),
        ({"values": {"Bald": True}}, 422, "must be a number"),
        ({"values": [1, 2]}, 422, "values must be an object"),
        ({"source": {"Bald": 0.5}}, 422, "source of Bald must be 0 or 1"),
        ([1, 2], 400, "expected a JSON object"),
    ],
)
def test_bad_edit_requests_are_refused(client, opened, body, status, words):
    for what in ("edit", "download"):
        r = client.post(f"/api/uploads/{opened['id']}/{what}", json=body)
        assert words in error_of(r, status)


def test_malformed_json_is_refused(client, opened):
    r = client.post(f"/api/uploads/{opened['id']}/edit", content=b"{values: ")
    assert "not valid JSON" in error_of(r, 400)


def test_unknown_upload_ids_are_404(client):
    for r in (
        client.post("/api/uploads/nope/edit", json={}),
        client.post("/api/uploads/nope/download", json={}),
        client.get("/api/uploads/nope/photo.png"),
        client.get("/api/uploads/nope/face.png"),
    ):
        assert "unknown upload id 'nope'" in error_of(r, 404)
    assert "no such page" in error_of(client.get("/api/nothing"), 404)


def test_the_store_keeps_the_most_recently_used_photos(editor):
    client = TestClient(create_app(editor, cache_size=2, n_faces=3))
    a, b, c = (client.post(f"/api/faces/{i}/open").json()["id"] for i in range(3))
    error_of(client.post(f"/api/uploads/{a}/edit", json={}), 404)  # dropped: the oldest
    assert client.post(f"/api/uploads/{b}/edit", json={}).is_success
    d = client.post("/api/faces/0/open").json()["id"]  # drops c: b was used more recently
    error_of(client.post(f"/api/uploads/{c}/edit", json={}), 404)
    assert client.post(f"/api/uploads/{b}/edit", json={}).is_success
    assert client.post(f"/api/uploads/{d}/edit", json={}).is_success


# -- the classifier ---------------------------------------------------------------------


def _judge(names, on):
    from stgan.judge import Judge
    from stgan.models import Classifier

    model = Classifier(len(names), 32, (4, 4, 4, 4, 4), 8)
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():  # logits = ±10 whatever the image: predictions are `on`
        last.weight.zero_()
        last.bias.copy_(torch.tensor([10.0 if n in on else -10.0 for n in names]))
    return Judge(model, names, 32, crop="none")


def test_the_classifier_predicts_the_source_attributes(editor, astronaut_jpeg):
    # the judge knows more attributes, in another order: columns are matched by name
    judge = _judge(("Young", "Blond_Hair", "Bald", "Bangs", "Black_Hair"), {"Blond_Hair", "Bald"})
    client = TestClient(create_app(editor, judge))
    assert client.get("/api/info").json()["classifier"] is True
    summary = client.post("/api/upload", content=astronaut_jpeg).json()
    assert summary["source_from"] == "classifier"
    assert summary["source"] == {"Bald": 1, "Bangs": 0, "Black_Hair": 0, "Blond_Hair": 1}
    # the bundled faces keep their true labels
    assert client.post("/api/faces/0/open").json()["source_from"] == "synthetic"


def test_a_classifier_without_the_models_attributes_is_refused(editor):
    from stgan.errors import UserError

    with pytest.raises(UserError, match="does not judge Black_Hair"):
        create_app(editor, _judge(("Bald", "Bangs", "Blond_Hair"), set()))


# -- the command ------------------------------------------------------------------------


def test_serve_without_fastapi_names_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "fastapi", None)  # `import fastapi` fails
    assert main(["serve", "--checkpoint", "nowhere"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "stgan: error: the web demo needs FastAPI and uvicorn (fastapi is missing): "
        "pip install 'stgan[serve]'"
    )


def test_serve_on_a_busy_port_is_a_one_line_error(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["serve", "--checkpoint", "nowhere", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"stgan: error: cannot listen on 127.0.0.1:{port}") and err.count("\n") == 1
    )


@pytest.mark.parametrize("port", ["-1", "65536", "http"])
def test_serve_refuses_bad_ports(port, capsys):
    assert main(["serve", "--checkpoint", "x", "--port", port]) == 2
    assert "--port" in capsys.readouterr().err


def test_serve_with_a_missing_checkpoint_is_a_one_line_error(capsys, tmp_path):
    assert main(["serve", "--checkpoint", str(tmp_path / "none"), "--port", "0"]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_serve_prints_its_url_serves_and_stops_on_ctrl_c(tmp_path):
    import httpx

    run = save_run(tiny_editor(), tmp_path / "run")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "stgan", "serve", "--checkpoint", str(run), "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        found = re.search(r"open (http://127\.0\.0\.1:(\d+)/) \(4 attributes; Ctrl-C stops\)", line)
        assert found, (line, proc.stderr.read() if proc.poll() is not None else "")
        url = found.group(1)
        assert int(found.group(2)) > 0  # port 0: a free port, chosen and printed
        assert httpx.get(url + "api/info", timeout=30).json()["img_size"] == 32
        assert "<title>" in httpx.get(url, timeout=30).text
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.strip() == "stgan serve: stopped"
    assert "Traceback" not in err


def test_the_page_ships_with_the_package():
    """setuptools installs the page as package data (else an installed demo is a 404)."""
    from fnmatch import fnmatch

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    root = Path(__file__).resolve().parents[1]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["stgan"]
    static = root / "src" / "stgan" / "serve" / "static"
    files = sorted(p.relative_to(static.parents[1]).as_posix() for p in static.iterdir())
    assert files == ["serve/static/app.js", "serve/static/index.html", "serve/static/style.css"]
    for f in files:
        assert any(fnmatch(f, pattern) for pattern in patterns), f


def test_serving_in_a_thread_answers_then_stops(editor):
    """``serving`` (notebooks, scripts, the browser tests): a real HTTP server on a free port
    of 127.0.0.1 while the block runs, closed after it."""
    import json
    import urllib.error
    import urllib.request

    from stgan.serve.app import serving

    with serving(create_app(editor, n_faces=0)) as url:
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "api/info", timeout=10) as r:
            assert json.load(r)["attributes"] == list(NAMES)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "api/info", timeout=5)
