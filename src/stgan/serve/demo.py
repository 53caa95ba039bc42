"""The browser demo's work, without the web framework: uploads, faces, slider edits.

:class:`Demo` holds a loaded :class:`~stgan.inference.Editor` (and optionally a
:class:`~stgan.judge.Judge`) and the photos users opened, in memory only:

1. :meth:`Demo.open_photo` validates the uploaded bytes (size, image type by content,
   pixel count before decoding), reads the photo upright, finds the largest face, aligns it
   to the model's training layout, predicts its source attributes with the judge (when there
   is one) and runs the generator's encoder once. The result is kept in an LRU store under
   a random id; nothing touches the disk.
2. :meth:`Demo.edit` decodes the cached code towards the slider values and pastes the edited
   face back into a display-sized copy of the photo (or the full-resolution photo, for the
   download), returned as PNG bytes.

Slider values follow the official test code's "slide" (reference §4, test-time strength):
the value ``t`` in [−1, 1] *is* the attribute's target on the model's scale, placed with no
conflict rules; an attribute without a slider value keeps its source encoding
(``±thres_int``: 0.5 when present, −0.5 when absent), so untouched sliders rest there and
the edit at rest is a reconstruction. This is ``Editor.target``'s intensity (any value
that is not exactly 0 or 1) applied to every value, so the scale has no jump at 0: ``0`` is
neutral and ``±1`` is the checkpoint's test strength (``±test_int``, 1 by default).

Photos that already are an aligned face crop skip detection: a square photo of exactly the
model's size (the bundled synthetic faces, images from ``stgan data synth``) is the model's
input as it is; any other photo opened with ``aligned=True`` is cropped like the training
data (the checkpoint's crop preset) and resized, and the edit replaces that crop box.
"""

from __future__ import annotations

import io
import secrets
import threading
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from stgan.errors import UserError
from stgan.imageio import match_grey

FORMATS = {  # what uploads may be, told by their first bytes (never by name or header)
    "PNG": lambda b: b.startswith(b"\x89PNG\r\n\x1a\n"),
    "JPEG": lambda b: b.startswith(b"\xff\xd8\xff"),
    "WEBP": lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP",
}
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # an upload's size limit (the CLI's --max-upload-mb)
MAX_PIXELS = 40_000_000  # decoded pixels allowed (decompression bombs; --max-megapixels)
PREVIEW_SIDE = 768  # longest side of the photo the page shows while sliders move
N_FACES = 4  # bundled synthetic faces
FACES_SEED = 2019  # their synthetic population (the training default is seed 0)
FACES_INDICES = (1, 4, 6, 9)  # varied hair, sex, age and glasses in population 2019


class RequestError(UserError):
    """A request the demo refuses: one-line message plus the HTTP status to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Upload:
    """An opened photo with everything the sliders need (memory only).

    Attributes:
        photo: ``(H, W, 3)`` ``uint8`` RGB, upright, full resolution.
        preview: the photo shrunk to at most :data:`PREVIEW_SIDE` on its longest side.
        face: ``(S, S, 3)`` ``uint8``: the aligned face, the model's input.
        code: the encoder's output for ``face`` (or the input tensor, for an editor
            without a separate encoder).
        source: ``(n,)`` 0/1 source attributes as opened (predicted or given).
        place_full / place_preview: how to put an edited face back into ``photo`` /
            ``preview`` (:func:`_paste`).
        summary: the JSON the page gets about this photo.
    """

    photo: np.ndarray
    preview: np.ndarray
    face: np.ndarray
    code: Any
    source: np.ndarray
    place_full: Any
    place_preview: Any
    summary: dict


class UploadStore:
    """Opened photos under random ids, the least recently used dropped beyond ``capacity``."""

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError(f"capacity must be ≥ 1, got {capacity}")
        self.capacity = capacity
        self._items: OrderedDict[str, Upload] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: Upload) -> str:
        uid = secrets.token_urlsafe(12)
        with self._lock:
            self._items[uid] = item
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return uid

    def get(self, uid: str) -> Upload:
        with self._lock:
            item = self._items.get(uid)
            if item is None:
                raise RequestError(
                    404,
                    f"unknown upload id {uid[:40]!r}: the server keeps the last "
                    f"{self.capacity} photos in memory (and none after a restart); open the "
                    "photo again",
                )
            self._items.move_to_end(uid)
            return item


def sniff_format(data: bytes) -> str:
    """The image format of ``data`` by its first bytes.

    Raises:
        RequestError: 415 for anything but PNG, JPEG or WebP.
    """
    for name, test in FORMATS.items():
        if test(data[:16]):
            return name
    raise RequestError(
        415, "unsupported file type: upload a PNG, JPEG or WebP photo (checked by content)"
    )


def read_photo_bytes(data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode uploaded bytes into an upright ``(H, W, 3)`` ``uint8`` RGB array.

    The format is taken from the content (:func:`sniff_format`) and only that decoder is
    allowed; the pixel count is checked from the header before any pixel is decoded, and
    Pillow's decompression-bomb warning is an error too.

    Raises:
        RequestError: 415 (not PNG/JPEG/WebP), 413 (more than ``max_pixels`` pixels), 422
            (corrupt or truncated).
    """
    from stgan.imageio import to_rgb

    fmt = sniff_format(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt]) as im:
                w, h = im.size
                if w * h > max_pixels:
                    raise RequestError(413, _too_many_pixels(w, h, max_pixels))
                im.load()
                upright = ImageOps.exif_transpose(im)
                rgb = to_rgb(upright)
                return np.array(rgb, dtype=np.uint8)
    except RequestError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise RequestError(413, _too_many_pixels(0, 0, max_pixels)) from None
    except Exception as e:  # decoders fail on bad bytes in many ways (OSError, SyntaxError...)
        why = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise RequestError(422, f"cannot read this {fmt} file ({why}); is it complete?") from None


def _too_many_pixels(w: int, h: int, max_pixels: int) -> str:
    size = f" ({w}×{h})" if w else ""
    return (
        f"the image is too large{size}: at most {max_pixels / 1e6:g} megapixels are read "
        "(decompression-bomb limit); shrink it"
    )


def encode_png(image: np.ndarray, compress_level: int = 1) -> bytes:
    """``(H, W, 3)`` ``uint8`` → PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def shrink(image: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """The image with its longest side at most ``side`` (Lanczos) and the scale applied."""
    h, w = image.shape[:2]
    scale = min(1.0, side / max(h, w))
    if scale == 1.0:
        return image, 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    out = Image.fromarray(image).resize(size, Image.Resampling.LANCZOS)
    return np.asarray(out), size[0] / w


def slider_target(editor, source01: torch.Tensor, values: Mapping[str, float]) -> torch.Tensor:
    """Encoded target (B, n): the source (``±thres_int``) with ``values`` placed as they are.

    The official test code's slide (:func:`stgan.editing.slide_targets`) for several
    attributes at once: no conflict rules, no special meaning of 0 or 1.
    """
    names = list(editor.attr_names)
    target = editor.coding.encode(source01)  # nothing changed: the source, encoded
    for name, v in values.items():
        target[:, names.index(name)] = float(v)
    return target


def check_values(names, values: Any) -> dict[str, float]:
    """Slider values from JSON: ``{name: number in [−1, 1]}`` with known names.

    Raises:
        RequestError: 422 naming the first bad entry.
    """
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise RequestError(422, "values must be an object {attribute: number in [-1, 1]}")
    out = {}
    for name, v in values.items():
        _check_name(name, names)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not -1.0 <= v <= 1.0:
            raise RequestError(
                422, f"value of {name} must be a number in [-1, 1], got {json_text(v)}"
            )
        out[name] = float(v)
    return out


def check_source(names, source: Any, default: np.ndarray) -> np.ndarray:
    """Source attributes from JSON: ``{name: 0 | 1}``; attributes not named keep ``default``.

    Raises:
        RequestError: 422 naming the first bad entry.
    """
    out = default.astype(np.float32).copy()
    if source is None:
        return out
    if not isinstance(source, dict):
        raise RequestError(422, "source must be an object {attribute: 0 or 1}")
    for name, v in source.items():
        _check_name(name, names)
        if isinstance(v, str) or v not in (0, 1):
            raise RequestError(422, f"source of {name} must be 0 or 1, got {json_text(v)}")
        out[list(names).index(name)] = float(v)
    return out


def _check_name(name: str, names) -> None:
    if name not in names:
        raise RequestError(
            422, f"unknown attribute {str(name)[:60]!r}; this model edits {', '.join(names)}"
        )


def json_text(v: Any) -> str:
    text = repr(v) if not isinstance(v, str) else f"{v[:40]!r}"
    return text[:60]


def _paste_box(photo: np.ndarray, edited: np.ndarray, box) -> np.ndarray:
    """``photo`` with crop ``box`` (left, top, right, bottom; float) replaced by ``edited``."""
    left, top, right, bottom = (round(v) for v in box)
    out = photo.copy()
    w, h = right - left, bottom - top
    tile = Image.fromarray(edited).resize((w, h), Image.Resampling.BICUBIC)
    region = out[top:bottom, left:right]
    region[...] = match_grey(region, np.asarray(tile))  # a greyscale photo stays greyscale
    return out


class Demo:
    """The demo's state: the model, the bundled faces and the opened photos.

    Args:
        editor: a loaded :class:`~stgan.inference.Editor`.
        judge: predicts the source attributes of opened photos (optional; without it the
            page asks the user).
        max_upload_bytes: largest upload accepted.
        max_pixels: largest decoded image accepted (width × height).
        cache_size: photos kept in memory (least recently used dropped first).
        preview_side: longest side of the photo shown while sliders move.
        n_faces: bundled synthetic faces to offer (0 for none).
    """

    def __init__(
        self,
        editor,
        judge=None,
        *,
        max_upload_bytes: int = MAX_UPLOAD_BYTES,
        max_pixels: int = MAX_PIXELS,
        cache_size: int = 8,
        preview_side: int = PREVIEW_SIDE,
        n_faces: int = N_FACES,
    ):
        self.editor, self.judge = editor, judge
        self.names = tuple(editor.attr_names)
        self.judge_cols = judge.columns(self.names) if judge is not None else None
        self.max_upload_bytes, self.max_pixels = int(max_upload_bytes), int(max_pixels)
        self.preview_side = int(preview_side)
        self.store = UploadStore(cache_size)
        self._model_lock = threading.Lock()  # one forward at a time (threads share the cores)
        self.faces = self._bundled_faces(n_faces)

    # -- the page's questions -------------------------------------------------------------

    def info(self) -> dict:
        coding = self.editor.coding
        return {
            "attributes": list(self.names),
            "img_size": self.editor.img_size,
            "classifier": self.judge is not None,
            "rest": {"on": coding.thres_int, "off": -coding.thres_int},
            "strength": coding.test_int,
            "path": getattr(self.editor, "path", "fp32 eager"),  # how edits run
            "max_upload_bytes": self.max_upload_bytes,
            "max_pixels": self.max_pixels,
            "formats": ["PNG", "JPEG", "WebP"],
        }

    def face_list(self) -> list[dict]:
        return [
            {"index": i, "image": f"/api/faces/{i}.png", "source": self._by_name(lab)}
            for i, (_, lab) in enumerate(self.faces)
        ]

    def face_png(self, index: int) -> bytes:
        return encode_png(self._face(index)[0])

    # -- opening a photo ------------------------------------------------------------------

    def check_size(self, n_bytes: int) -> None:
        """Refuse an upload of ``n_bytes`` over the limit (413)."""
        if n_bytes > self.max_upload_bytes:
            raise RequestError(
                413,
                f"the file is too large: at most {self.max_upload_bytes / 2**20:g} MB are accepted",
            )

    def open_photo(self, data: bytes, aligned: bool = False) -> dict:
        """Validate and open uploaded bytes; returns the page's summary (with its ``id``).

        Args:
            data: the file's bytes.
            aligned: the photo is already an aligned face crop: crop it like the training
                data instead of detecting a face.
        """
        self.check_size(len(data))
        if not data:
            raise RequestError(422, "the upload is empty; choose a photo file")
        photo = read_photo_bytes(data, self.max_pixels)
        return self._open(photo, None, aligned)

    def open_face(self, index: int) -> dict:
        """Open bundled synthetic face ``index`` (its true attributes are the source)."""
        image, labels = self._face(index)
        return self._open(image, labels, aligned=True)

    def _open(self, photo: np.ndarray, labels: np.ndarray | None, aligned: bool) -> dict:
        size = self.editor.img_size
        h, w = photo.shape[:2]
        preview, scale = shrink(photo, self.preview_side)
        if aligned or (w == h == size):
            face, place_full, place_preview, located = self._as_is(photo, preview, scale)
        else:
            face, place_full, place_preview, located = self._detect(photo, preview, scale)
        if labels is not None:
            source, source_from = labels, "synthetic"
        elif self.judge is not None:
            source = self.judge.predict(face[None])[0, self.judge_cols].astype(np.float32)
            source_from = "classifier"
        else:
            source, source_from = np.zeros(len(self.names), np.float32), "user"
        with self._model_lock:
            code = self._encode(face)
        up = Upload(photo, preview, face, code, source, place_full, place_preview, {})
        uid = self.store.add(up)
        up.summary = {
            "id": uid,
            "width": int(preview.shape[1]),
            "height": int(preview.shape[0]),
            "full_width": int(w),
            "full_height": int(h),
            **located,
            "source": self._by_name(source),
            "source_from": source_from,
            "photo": f"/api/uploads/{uid}/photo.png",
            "face": f"/api/uploads/{uid}/face.png",
        }
        return up.summary

    def _as_is(self, photo, preview, scale):
        """An aligned crop: the training crop box of the photo, resized to the model size."""
        from stgan.data.transforms import crop_box

        size = self.editor.img_size
        h, w = photo.shape[:2]
        crop = self.editor.crop
        try:  # a crop of the model's size is the model's input itself, whatever the preset
            box = (0.0, 0.0, float(w), float(h)) if w == h == size else crop_box(crop, w, h)
        except ValueError as e:
            raise RequestError(
                422,
                f"the photo {e} (the model's training crop is {crop!r}); untick 'already "
                "aligned' to detect the face instead",
            ) from None
        face = np.asarray(Image.fromarray(photo).resize((size, size), Image.Resampling.BICUBIC,
                                                        box=box))  # fmt: skip
        box_preview = tuple(v * scale for v in box)
        left, top, right, bottom = box_preview
        located = {
            "method": "as-is",
            "box": [left, top, right - left, bottom - top],
            "eyes": None,
            "faces_found": None,
            "eyes_found": None,
        }
        return face, ("box", box), ("box", box_preview), located

    def _detect(self, photo, preview, scale):
        """The largest face, detected and aligned to the model's eye layout."""
        from stgan import align

        faces = align.detect_faces(photo)
        if not faces:
            raise RequestError(
                422,
                "no face found in the photo: use a photo with a frontal face, well lit and "
                "not too small (or tick 'already aligned' for a face crop like the training "
                "data)",
            )
        face = faces[0]
        layout = align.eye_layout(self.editor.cfg)
        full = align.align(photo, face, layout, self.editor.img_size)
        # the same face and map, seen from the preview: preview (x, y) -> photo -> face
        # (pixel centres kept: x_photo = (x_preview + 0.5) / scale - 0.5)
        to_photo = np.array([[1 / scale, 0, 0.5 / scale - 0.5], [0, 1 / scale, 0.5 / scale - 0.5]])
        small = align.Aligned(full.face, _compose(full.matrix, to_photo))
        x, y, bw, bh = face.box  # corners scale with the image; pixel centres shift by 0.5
        box = [x * scale, y * scale, bw * scale, bh * scale]
        eyes = [[(c + 0.5) * scale - 0.5 for c in e] for e in (face.left_eye, face.right_eye)]
        located = {
            "method": "detected",
            "box": box,
            "eyes": eyes,
            "faces_found": len(faces),
            "eyes_found": bool(face.eyes_found),
        }
        return full.face, ("aligned", full), ("aligned", small), located

    # -- editing --------------------------------------------------------------------------

    def edit(self, uid: str, source: Any = None, values: Any = None, full: bool = False):
        """PNG bytes of photo ``uid`` edited towards slider ``values`` with ``source``.

        Args:
            uid: an id from :meth:`open_photo` / :meth:`open_face`.
            source: ``{name: 0|1}`` overriding the opened photo's source attributes.
            values: ``{name: t}`` slider values in [−1, 1] (see the module docstring).
            full: paste into the full-resolution photo (the download) instead of the
                preview.
        """
        up = self.store.get(uid)
        vals = check_values(self.names, values)
        src = check_source(self.names, source, up.source)
        src_t = torch.as_tensor(src[None], dtype=torch.float32, device=self.editor.device)
        target = slider_target(self.editor, src_t, vals)
        with self._model_lock:
            edited = self._decode(up.code, src_t, target)[0]
        if full:
            return encode_png(_paste(up.photo, edited, up.place_full), compress_level=3)
        return encode_png(_paste(up.preview, edited, up.place_preview))

    def photo_png(self, uid: str) -> bytes:
        return encode_png(self.store.get(uid).preview)

    def face_crop_png(self, uid: str) -> bytes:
        return encode_png(self.store.get(uid).face)

    # -- helpers --------------------------------------------------------------------------

    def _encode(self, face: np.ndarray):
        return self.editor.encode(face[None])

    def _decode(self, code, source01: torch.Tensor, target: torch.Tensor) -> np.ndarray:
        return self.editor.decode(code, source01, target)

    def _by_name(self, labels: np.ndarray) -> dict[str, int]:
        return {n: int(v > 0.5) for n, v in zip(self.names, labels, strict=True)}

    def _face(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < len(self.faces):
            raise RequestError(404, f"no bundled face {index}; there are {len(self.faces)}")
        return self.faces[index]

    def _bundled_faces(self, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Synthetic faces at the model's size with their labels in the model's order."""
        from stgan.attributes import DEFAULT_ATTRS
        from stgan.data.synth import MAX_SIZE, MIN_SIZE, SyntheticFaces

        size = self.editor.img_size
        if n <= 0 or not MIN_SIZE <= size <= MAX_SIZE:
            return []
        faces = SyntheticFaces(FACES_SEED)
        indices = [*FACES_INDICES, *range(max(FACES_INDICES) + 1, max(FACES_INDICES) + 1 + n)]
        out = []
        for i in indices[:n]:
            lab = faces.labels(i)
            mine = np.array(
                [lab[DEFAULT_ATTRS.index(a)] if a in DEFAULT_ATTRS else 0 for a in self.names],
                np.float32,
            )
            out.append((faces.render(i, size), mine))
        return out


def _paste(photo: np.ndarray, edited: np.ndarray, place) -> np.ndarray:
    kind, how = place
    if kind == "box":
        return _paste_box(photo, edited, how)
    from stgan import align

    return align.paste_back(photo, how, edited)


def _compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The affine map ``a ∘ b`` of two (2, 3) maps."""
    a3, b3 = np.vstack([a, [0, 0, 1]]), np.vstack([b, [0, 0, 1]])
    return (a3 @ b3)[:2]


__all__ = [
    "Demo",
    "RequestError",
    "UploadStore",
    "check_source",
    "check_values",
    "read_photo_bytes",
    "slider_target",
    "sniff_format",
]
