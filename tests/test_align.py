"""Face alignment and paste-back (stgan.align) on a real face that ships with scikit-image:
``skimage.data.astronaut()`` (Eileen Collins, NASA, public domain), upright, rotated and
scaled; reading photos of every mode; the synthetic and CelebA eye layouts."""

from __future__ import annotations

import math
import struct
import subprocess
import sys
import zlib
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

cv2 = pytest.importorskip("cv2")
skdata = pytest.importorskip("skimage.data")

from stgan import align as A  # noqa: E402
from stgan.align import detect as D  # noqa: E402
from stgan.align import layout as L  # noqa: E402
from stgan.align import photo as P  # noqa: E402
from stgan.config import load  # noqa: E402
from stgan.errors import UserError  # noqa: E402

# The pupils of astronaut(), read by hand off an 8x enlargement of the photo (pixel centres
# at integers): independent of the detector.
ASTRONAUT_EYES = np.array([[203.0, 100.8], [245.6, 102.8]])
HEAD = (slice(20, 240), slice(115, 335))  # a 220x220 crop around the head: faster detection


def _cfg(dataset="synthetic", crop="celeba", size=128):
    cfg = load("tiny")
    return replace(
        cfg,
        model=replace(cfg.model, img_size=size),
        data=replace(cfg.data, dataset=dataset, crop=crop),
    )


def _eyes_of(face):
    return np.array([face.left_eye, face.right_eye])


def _apply(m, pts):
    return np.asarray(pts) @ m[:, :2].T + m[:, 2]


@pytest.fixture(scope="module")
def astronaut():
    return skdata.astronaut()  # (512, 512, 3) uint8


@pytest.fixture(scope="module")
def astronaut_faces(astronaut):
    return A.detect_faces(astronaut)


@pytest.fixture(scope="module")
def head(astronaut):
    """The head crop, its eyes, and its face aligned upright (the reference for warps)."""
    photo = np.ascontiguousarray(astronaut[HEAD])
    eyes = ASTRONAUT_EYES - (HEAD[1].start, HEAD[0].start)
    face = A.Face((0, 0, 1, 1), tuple(eyes[0]), tuple(eyes[1]), True)
    layout = A.eye_layout(_cfg(dataset="/celeba", crop="celeba"))
    return photo, eyes, A.align(photo, face, layout, 128)


# ---------------------------------------------------------------- detection


def test_detects_the_astronaut_and_her_eyes(astronaut_faces):
    faces = astronaut_faces
    assert len(faces) == 1
    f = faces[0]
    assert f.eyes_found
    assert np.abs(_eyes_of(f) - ASTRONAUT_EYES).max() < 2.5  # pixels, in a 512 px photo
    x, y, w, h = f.box
    assert x < ASTRONAUT_EYES[0, 0] < ASTRONAUT_EYES[1, 0] < x + w
    assert y < ASTRONAUT_EYES[:, 1].min() < y + h / 2 and 70 < w < 120


@pytest.mark.parametrize(
    "angle, scale", [(20, 1.0), (-20, 1.0), (0, 0.5), (0, 2.0)], ids=["+20", "-20", "0.5x", "2x"]
)
def test_eyes_land_on_the_layout_in_rotated_and_scaled_photos(head, angle, scale):
    photo, eyes, upright = head
    h, w = photo.shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, scale)
    m[:, 2] += (scale - 1) * np.array([(w - 1) / 2, (h - 1) / 2])  # keep the whole photo
    out = (round(w * scale), round(h * scale))
    moved = cv2.warpAffine(photo, m, out, flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC,
                           borderMode=cv2.BORDER_REFLECT_101)  # fmt: skip
    true_eyes = _apply(m, eyes)
    faces = A.detect_faces(moved)
    assert len(faces) == 1 and faces[0].eyes_found
    assert np.abs(_eyes_of(faces[0]) - true_eyes).max() < 3 * scale
    layout = A.eye_layout(_cfg(dataset="/celeba", crop="celeba"))
    al = A.align(moved, faces[0], layout, 128)
    assert al.face.shape == (128, 128, 3) and al.face.dtype == np.uint8
    assert np.abs(_apply(al.matrix, true_eyes) - np.array(layout)).max() < 2.0  # of 128 px
    # the warp itself: aligned by its true eyes, the moved photo gives the upright face back
    exact = A.Face(faces[0].box, tuple(true_eyes[0]), tuple(true_eyes[1]), True)
    diff = np.abs(A.align(moved, exact, layout, 128).face.astype(float) - upright.face)
    lost = {0.5: 4.5, 1.0: 0.0, 2.0: 1.5}[scale]  # detail lost or smoothed by the resize
    assert diff[16:112, 16:112].mean() < 2.0 + lost, diff[16:112, 16:112].mean()


def test_no_face_in_plain_or_faceless_images(astronaut):
    assert A.detect_faces(np.full((240, 320, 3), 128, np.uint8)) == []
    ramp = np.broadcast_to(np.linspace(0, 255, 320, dtype=np.uint8)[None, :, None], (240, 320, 3))
    assert A.detect_faces(np.ascontiguousarray(ramp)) == []
    assert A.detect_faces(np.ascontiguousarray(astronaut[300:, 300:])) == []  # suit and flag


def test_eyes_estimated_from_the_box_when_not_found(head, monkeypatch):
    photo, eyes, _ = head
    monkeypatch.setattr(D, "_find_eyes", lambda *a: None)  # no eye is ever found
    (f,) = A.detect_faces(photo)
    assert not f.eyes_found
    x, y, w, h = f.box
    expect = np.array(D.EYES_IN_BOX[D.FACE_CASCADES[0]]) * w + (x - 0.5, y - 0.5)
    assert np.abs(_eyes_of(f) - expect).max() < 1  # the box is rounded to whole pixels
    # the mean eye place in a box is close to this face's real eyes: a usable alignment
    assert np.abs(_eyes_of(f) - eyes).max() < 0.1 * w


def test_faces_in_rotated_copies_need_their_eyes(head, monkeypatch):
    photo, _, _ = head
    h, w = photo.shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), -20, 1.0)
    tilted = cv2.warpAffine(photo, m, (w, h), borderMode=cv2.BORDER_REFLECT_101)
    assert len(A.detect_faces(tilted)) == 1  # found in a rotated copy, with its eyes
    monkeypatch.setattr(D, "_find_eyes", lambda *a: None)
    assert A.detect_faces(tilted) == []  # without eyes, a rotated copy's face is not trusted


def test_missing_opencv_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(UserError, match=r"pip install 'stgan\[photo\]'"):
        A.detect_faces(np.zeros((32, 32, 3), np.uint8))


def test_import_does_not_load_opencv():
    code = "import sys, stgan.align; assert 'cv2' not in sys.modules, 'cv2 imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- paste-back


def _outside_disc(photo_shape, aligned, size):
    """Photo pixels whose place in the aligned square lies outside its inscribed disc."""
    h, w = photo_shape[:2]
    xy = np.stack(np.meshgrid(np.arange(w), np.arange(h)), -1).reshape(-1, 2).astype(float)
    fx, fy = _apply(aligned.matrix, xy).T
    c = (size - 1) / 2
    return (np.hypot(fx - c, fy - c) / (size / 2)).reshape(h, w)


def test_paste_back_changes_only_the_face(astronaut, astronaut_faces):
    photo = astronaut.copy()
    (f,) = astronaut_faces
    al = A.align(photo, f, A.eye_layout(_cfg()), 64)
    edited = 255 - al.face  # as different as can be
    out = A.paste_back(photo, al, edited)
    assert np.array_equal(photo, astronaut)  # the input is not modified
    assert out.shape == photo.shape and out.dtype == np.uint8
    r = _outside_disc(photo.shape, al, 64)
    assert np.array_equal(out[r >= 1], photo[r >= 1])  # bit-identical outside the mask
    inner = r < 0.7
    assert inner.sum() > 2000
    assert (out[inner] != photo[inner]).any(-1).mean() > 0.99
    assert np.abs(out[inner].astype(int) - photo[inner]).mean() > 50


def test_paste_back_keeps_the_photos_detail_where_nothing_changes(astronaut):
    """A 64 px edit pasted into a 3x photo keeps the photo's full-resolution detail where the
    edit changed nothing, and carries the change where it did."""
    big = cv2.resize(astronaut[HEAD], None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    eyes = (ASTRONAUT_EYES - (HEAD[1].start, HEAD[0].start)) * 3 + 1  # pixel centres x3
    face = A.Face((0, 0, 1, 1), tuple(eyes[0]), tuple(eyes[1]), True)
    al = A.align(big, face, A.eye_layout(_cfg(size=64)), 64)
    assert np.array_equal(A.paste_back(big, al, al.face), big)  # no change, no blur
    edited = al.face.copy()
    edited[44:52, 24:40] = (200, 30, 30)  # a red bar over the mouth
    out = A.paste_back(big, al, edited).astype(int)
    r = _outside_disc(big.shape, al, 64)
    h, w = big.shape[:2]
    fx, fy = _apply(al.matrix, np.stack(np.meshgrid(np.arange(w), np.arange(h)), -1)).transpose(
        2, 0, 1
    )
    bar = (fx > 26) & (fx < 38) & (fy > 45) & (fy < 51)
    far = (r < 0.6) & (np.hypot(fx - 32, fy - 48) > 16)  # in the face, away from the bar
    # the bar is the edit's flat red: the teeth under it do not show through
    assert np.abs(out[bar] - (200, 30, 30)).mean() < 6 and out[bar].std(0).max() < 8
    assert np.abs(out[far] - big[far]).mean() < 1.0


def test_paste_back_near_the_photo_border(astronaut):
    photo = np.ascontiguousarray(astronaut[90:250, 215:400])  # the face cut by the border
    eyes = ASTRONAUT_EYES - (215, 90)
    face = A.Face((0, 0, 1, 1), tuple(eyes[0]), tuple(eyes[1]), True)
    al = A.align(photo, face, A.eye_layout(_cfg()), 128)
    out = A.paste_back(photo, al, np.full_like(al.face, 200))
    r = _outside_disc(photo.shape, al, 128)
    assert np.array_equal(out[r >= 1], photo[r >= 1])
    assert (out[r < 0.5] != photo[r < 0.5]).any()


def test_seam_is_continuous_when_the_edit_shifts_colours(astronaut, astronaut_faces):
    (f,) = astronaut_faces
    al = A.align(astronaut, f, A.eye_layout(_cfg()), 128)
    shift = np.array([-35, 20, 30])  # no channel clips on this face
    edited = np.clip(al.face.astype(int) + shift, 0, 255).astype(np.uint8)
    out = A.paste_back(astronaut, al, edited).astype(float)
    r = _outside_disc(astronaut.shape, al, 128)
    ring_in, ring_out = (r > 0.85) & (r < 1.0), (r >= 1.0) & (r < 1.15)
    # the colour step from just inside to just outside the mask's edge, beyond the photo's own
    step = (out[ring_in].mean(0) - out[ring_out].mean(0)) - (
        astronaut[ring_in].mean(0) - astronaut[ring_out].mean(0)
    )
    assert np.abs(step).max() < 3.0, step
    jump = np.abs(out[ring_in] - astronaut[ring_in]).mean()  # in the feather band
    assert jump < 3.0, jump
    centre = out[r < 0.35] - astronaut[r < 0.35]  # the edit itself is kept inside
    assert np.allclose(centre.mean(0), shift, atol=6), centre.mean(0)


def test_paste_back_keeps_a_black_and_white_photo_grey(astronaut, astronaut_faces):
    grey = np.repeat(cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=-1)
    (f,) = astronaut_faces
    al = A.align(grey, f, A.eye_layout(_cfg()), 64)
    cast = np.clip(al.face.astype(int) + (-35, 20, 60), 0, 255).astype(np.uint8)  # in colour
    out = A.paste_back(grey, al, cast)
    r = _outside_disc(grey.shape, al, 64)
    assert np.array_equal(out[r >= 1], grey[r >= 1])
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])
    inner = r < 0.5
    lift = out[inner].astype(int) - grey[inner]  # the cast's luminance: 0.3·−35 + 0.59·20 + 0.11·60
    assert 5 < lift.mean() < 11, lift.mean()
    # a colour photo gets the colour cast itself
    al_c = A.align(astronaut, f, A.eye_layout(_cfg()), 64)
    cast_c = np.clip(al_c.face.astype(int) + (-35, 20, 60), 0, 255).astype(np.uint8)
    shift = A.paste_back(astronaut, al_c, cast_c)[inner].astype(int) - astronaut[inner]
    assert np.allclose(shift.mean(0), (-35, 20, 60), atol=8), shift.mean(0)


def test_align_shrinking_a_lot_is_antialiased():
    # fine stripes two pixels wide: a plain bicubic warp at 1/8 scale aliases them into
    # strong moiré; the area pre-filter gives their mean grey
    stripes = np.zeros((1024, 1024, 3), np.uint8)
    stripes[:, ::2] = 255
    face = A.Face((0, 0, 1, 1), (400.0, 500.0), (624.0, 500.0), True)
    al = A.align(stripes, face, ((50.0, 60.0), (78.0, 60.0)), 128)  # scale 1/8
    assert np.abs(al.face.astype(float) - 127.5).max() < 8


# ---------------------------------------------------------------- eye layouts


def test_synthetic_layout_matches_rendered_faces():
    """The detector's eyes on rendered synthetic faces average onto the computed layout."""
    from stgan.data.synth import SyntheticFaces

    faces, size = SyntheticFaces(seed=0), 128
    found = []
    for i in range(16):
        f = A.detect_faces(faces.render(i, size))
        if f and f[0].eyes_found:
            found.append(_eyes_of(f[0]))
    assert len(found) >= 10
    offset = np.mean(found, axis=0) - np.array(A.eye_layout(_cfg(size=size)))
    assert np.abs(offset).max() < 1.5, offset  # pixels at 128 px


def test_synthetic_layout_is_the_mean_of_the_sampled_poses():
    """The layout equals the iris centres averaged over sampled poses, each mapped by its own
    canvas (rotation, zoom, shift): the means the layout assumes are the sampler's."""
    from stgan.data.synth import sample_nuisance
    from stgan.data.synth.canvas import Canvas

    pts = []
    for i in range(1000):
        nz = sample_nuisance(0, i)
        cv = Canvas(1, nz.rot, nz.scale, nz.shift)
        v = -0.04 + nz.eye_y - 0.1 * nz.eye_h  # face.Face's eye line; painters.eyes' iris
        pts.append([cv.lin @ (u, v) + cv.off for u in (-nz.eye_x, nz.eye_x)])
    layout = (np.array(A.eye_layout(_cfg(size=128))) + 0.5) / 128  # fractions of the side
    assert np.abs(np.mean(pts, axis=0) - layout).max() < 0.0015  # 0.2 px at 128


@pytest.mark.parametrize("crop", ["celeba", "celeba-170", "center"])
@pytest.mark.parametrize("size", [64, 128])
def test_celeba_layout_follows_the_crop(tmp_path, crop, size):
    """Dots drawn at CELEBA_EYES in a 178x218 image and cropped like training data land on
    eye_layout (the crop code and the layout agree on boxes and pixel centres)."""
    from stgan.data.transforms import load_image

    ys, xs = np.mgrid[0:218, 0:178]
    img = np.zeros((218, 178), float)
    for x, y in L.CELEBA_EYES:
        img += np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * 4.0**2))
    path = tmp_path / "dots.png"
    Image.fromarray(np.repeat((img * 250).astype(np.uint8)[..., None], 3, -1)).save(path)
    out = load_image(path, crop, size)[..., 0].astype(float)
    oy, ox = np.mgrid[0:size, 0:size]
    layout = A.eye_layout(_cfg(dataset="/celeba", crop=crop, size=size))
    for k, (ex, ey) in enumerate(layout):
        side = (ox < (size - 1) / 2) if k == 0 else (ox > (size - 1) / 2)
        wgt = out * side
        got = ((wgt * ox).sum() / wgt.sum(), (wgt * oy).sum() / wgt.sum())
        assert math.hypot(got[0] - ex, got[1] - ey) < 0.25, (got, (ex, ey))


def test_layouts_differ_by_training_data():
    synth = np.array(A.eye_layout(_cfg()))
    celeba = np.array(A.eye_layout(_cfg(dataset="/celeba", crop="celeba")))
    center = np.array(A.eye_layout(_cfg(dataset="/celeba", crop="center")))
    hq = np.array(A.eye_layout(_cfg(dataset="/celebahq", crop="none")))
    for lay in (synth, celeba, center, hq):  # level, symmetric about the centre, plausible
        (lx, ly), (rx, ry) = lay
        assert abs(ly - ry) < 1 and abs((lx + rx) / 2 - 63.5) < 2 and 20 < rx - lx < 60
    assert np.abs(center - celeba).max() > 1  # a larger crop: eyes closer together
    assert np.abs(hq - celeba).max() > 1


def test_synth_folder_gets_the_synthetic_layout(tmp_path):
    from stgan.data.folderinfo import info_text

    (tmp_path / "stgan-data.json").write_text(info_text("none", written_by="stgan data synth"))
    assert A.eye_layout(_cfg(dataset=str(tmp_path), crop="none")) == A.eye_layout(_cfg())


# ---------------------------------------------------------------- read_photo


@pytest.fixture(scope="module")
def small(astronaut):
    return np.ascontiguousarray(astronaut[60:180:2, 150:300:2])  # (60, 75, 3), not square


def test_read_photo_modes(tmp_path, small):
    Image.fromarray(small).save(tmp_path / "rgb.png")
    assert np.array_equal(A.read_photo(tmp_path / "rgb.png"), small)

    Image.fromarray(small).convert("L").save(tmp_path / "grey.png")
    grey = A.read_photo(tmp_path / "grey.png")
    assert grey.shape == small.shape and (grey[..., 0] == grey[..., 2]).all()

    pal = Image.fromarray(small).quantize(64)  # mode P, 64 colours
    pal.save(tmp_path / "pal.png")
    assert np.array_equal(A.read_photo(tmp_path / "pal.png"), np.asarray(pal.convert("RGB")))

    rgba = np.dstack([small, np.full(small.shape[:2], 255, np.uint8)])
    rgba[:10, :, 3] = 0  # transparent band on top
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    got = A.read_photo(tmp_path / "rgba.png")
    assert (got[:10] == 255).all() and np.array_equal(got[10:], small[10:])  # on white

    Image.fromarray(small[..., 0].astype(np.uint16) * 257).save(tmp_path / "16bit.png")
    assert np.array_equal(A.read_photo(tmp_path / "16bit.png")[..., 0], small[..., 0])

    Image.fromarray(small).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    assert A.read_photo(tmp_path / "cmyk.jpg").shape == small.shape

    Image.fromarray(small).save(tmp_path / "photo.webp", lossless=True)
    assert np.array_equal(A.read_photo(tmp_path / "photo.webp"), small)


def test_read_photo_applies_exif_orientation(tmp_path, small):
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: rotate 90° clockwise to display
    stored = np.rot90(small, 1)  # what such a camera stores: the scene turned 90° left
    Image.fromarray(np.ascontiguousarray(stored)).save(tmp_path / "turned.png", exif=exif)
    assert np.array_equal(A.read_photo(tmp_path / "turned.png"), small)


def _png_header_only(path, width, height):
    """A tiny PNG file that declares ``width`` x ``height`` pixels (a decompression bomb's
    header: decoding it would allocate width * height * 3 bytes)."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)


def test_read_photo_refuses_decompression_bombs(tmp_path, small, monkeypatch):
    bomb = tmp_path / "bomb.png"
    _png_header_only(bomb, 10_000, 7_000)  # 70 Mpx > MAX_PIXELS, in a 70-byte file
    with pytest.raises(UserError, match="bomb.png.*Mpx"):
        A.read_photo(bomb)
    huge = tmp_path / "huge.png"
    _png_header_only(huge, 40_000, 40_000)  # over Pillow's own limit as well
    with pytest.raises(UserError, match="huge.png"):
        A.read_photo(huge)
    Image.fromarray(small).save(tmp_path / "ok.png")
    monkeypatch.setattr(P, "MAX_PIXELS", small.shape[0] * small.shape[1] - 1)  # the limit rules
    with pytest.raises(UserError, match="ok.png"):
        A.read_photo(tmp_path / "ok.png")


def test_read_photo_unreadable_files(tmp_path):
    with pytest.raises(UserError, match="missing.png"):
        A.read_photo(tmp_path / "missing.png")
    (tmp_path / "text.jpg").write_text("not an image")
    with pytest.raises(UserError, match="text.jpg"):
        A.read_photo(tmp_path / "text.jpg")
    buf = tmp_path / "cut.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8) + 7).save(buf)
    buf.write_bytes(buf.read_bytes()[:60])  # truncated
    with pytest.raises(UserError, match="cut.png") as e:
        A.read_photo(buf)
    assert "\n" not in str(e.value)
