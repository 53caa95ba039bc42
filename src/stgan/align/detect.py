"""Faces and eyes in a photo with the Haar cascades that ship inside ``opencv-python-headless``.

No model is downloaded: the cascades are the XML files in ``cv2.data.haarcascades``
(Viola-Jones boosted Haar features). The search:

1. The photo is searched for faces in greyscale, histogram-equalised, shrunk to at most
   :data:`DETECT_SIDE` pixels on its longer side (``frontalface_alt2``, then
   ``frontalface_default`` when alt2 finds nothing).
2. Each face is cut out of the full-resolution photo as a :data:`PATCH`-pixel square and its
   upper part searched for eyes (``eye`` and ``eye_tree_eyeglasses``). The pair kept has one
   eye on each side of the box's centre line, both in the upper 60 %, 0.2–0.65 box widths
   apart, the line between them tilted by less than ~27°, and lies closest to where eyes
   usually sit in such a box (:data:`EYES_IN_BOX`).
3. A frontal cascade finds faces tilted by up to ~15° in the image plane. While some face has
   no eyes or no face is found, copies rotated by each angle of :data:`ANGLES` are searched
   the same way and the results mapped back to the photo; a face found with its eyes replaces
   the same face found without them.
4. A face whose eyes are never found gets them estimated from its box with the mean eye
   position inside a box of that cascade, :data:`EYES_IN_BOX` (``eyes_found=False``).
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass

import numpy as np

from stgan.align.cv import opencv
from stgan.align.warp import affine_inverse, apply, compose, warp
from stgan.errors import UserError

FACE_CASCADES = ("haarcascade_frontalface_alt2.xml", "haarcascade_frontalface_default.xml")
EYE_CASCADES = ("haarcascade_eye.xml", "haarcascade_eye_tree_eyeglasses.xml")
DETECT_SIDE = 960  # faces are searched in a copy at most this many pixels on its longer side
MIN_FACE = 0.04  # smallest face searched, as a fraction of the photo's shorter side (≥ 24 px)
ANGLES = (-20.0, 20.0)  # degrees: rotated copies of the photo searched when no face is upright
EYE_TILTS = (0.0, -15.0, 15.0, -30.0, 30.0)  # degrees: rotations of a face searched for eyes
PATCH = 160  # side in pixels of the face square searched for eyes

#: Mean eye centres ``((x, y) left, (x, y) right)`` inside a face box of each face cascade,
#: as fractions of the box side (0 and 1 its edges), measured by this module where both eyes
#: were found, on real faces (2,500 aligned CelebA and 2,000 CelebA-HQ images: 3,911 alt2
#: boxes, only 42 default boxes, which serve when alt2 finds nothing). Used when the eyes are
#: not found.
EYES_IN_BOX = {
    "haarcascade_frontalface_alt2.xml": ((0.303, 0.386), (0.682, 0.387)),
    "haarcascade_frontalface_default.xml": ((0.309, 0.374), (0.668, 0.373)),
}


@dataclass(frozen=True)
class Face:
    """One face found in a photo.

    Attributes:
        box: ``(x, y, w, h)`` in photo pixels: a square of the detector's face size centred
            on the face (for a face found in a rotated copy, the square is not rotated).
        left_eye: ``(x, y)`` centre of the eye on the image's left (the person's right eye).
        right_eye: ``(x, y)`` centre of the eye on the image's right.
        eyes_found: False when the eyes were estimated from the box (a fallback).
    """

    box: tuple[int, int, int, int]
    left_eye: tuple[float, float]
    right_eye: tuple[float, float]
    eyes_found: bool


class _Cascades:
    """The loaded cascades; detection runs under a lock (a CascadeClassifier is not
    thread-safe, and the web demo may call from several threads)."""

    def __init__(self):
        cv2 = opencv()
        root = getattr(getattr(cv2, "data", None), "haarcascades", None)
        if root is None:
            raise UserError(
                "this OpenCV has no Haar cascades (cv2.data.haarcascades; OpenCV 5 wheels "
                "dropped them); pip install 'opencv-python-headless<5'"
            )
        self.cascades = {}
        for name in FACE_CASCADES + EYE_CASCADES:
            c = cv2.CascadeClassifier(root + name)
            if c.empty():
                raise UserError(f"cannot load OpenCV's {name}; reinstall 'stgan[photo]'")
            self.cascades[name] = c
        self.lock = threading.Lock()


@functools.cache
def _cascades() -> _Cascades:
    return _Cascades()


def detect_faces(photo: np.ndarray) -> list[Face]:
    """All faces in ``photo`` (uint8 ``(H, W, 3)`` RGB), the largest first; ``[]`` when none.

    Raises:
        UserError: OpenCV or its cascades are missing.
    """
    if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[2] != 3:
        raise ValueError(f"expected a uint8 (H, W, 3) photo, got {photo.dtype} {photo.shape}")
    cv2, det = opencv(), _cascades()
    grey = cv2.cvtColor(np.ascontiguousarray(photo), cv2.COLOR_RGB2GRAY)  # (H, W)
    h, w = grey.shape
    down = min(1.0, DETECT_SIDE / max(h, w))
    small = grey
    if down < 1.0:
        small = cv2.resize(grey, (round(w * down), round(h * down)), interpolation=cv2.INTER_AREA)
        down = small.shape[1] / w
    small = cv2.equalizeHist(small)
    # photo -> small, pixel centres kept: x_small = (x + 0.5) * down - 0.5
    to_small = np.array([[down, 0, 0.5 * down - 0.5], [0, down, 0.5 * down - 0.5]])
    min_face = max(24, round(MIN_FACE * min(small.shape)))
    found: list[Face] = []
    with det.lock:
        boxes = _faces_at(small, to_small, 0.0, min_face, det, FACE_CASCADES)
        upright = bool(boxes)
        if not upright:  # a face tilted beyond the cascades' reach: search rotated copies
            for angle in ANGLES:
                boxes += _faces_at(small, to_small, angle, min_face, det, FACE_CASCADES[:1])
        for to_patch, cascade in boxes:
            face = _face(grey, to_patch, cascade, det)
            if upright or face.eyes_found:  # in rotated copies, eyes confirm a face
                _merge(found, face)
    return sorted(found, key=lambda f: f.box[2] * f.box[3], reverse=True)


def _faces_at(small, to_small, angle, min_face, det, cascades):
    """Faces in ``small`` rotated by ``angle`` degrees: ``[(photo -> patch matrix, cascade)]``."""
    cv2 = opencv()
    h, w = small.shape
    rot = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
    c, s = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    rw, rh = math.ceil(w * c + h * s), math.ceil(w * s + h * c)  # the whole rotated copy
    rot[:, 2] += ((rw - 1) / 2 - (w - 1) / 2, (rh - 1) / 2 - (h - 1) / 2)
    img = small if angle == 0 else cv2.warpAffine(small, rot, (rw, rh), flags=cv2.INTER_LINEAR)
    to_rot = compose(rot, to_small)  # photo -> rotated copy
    for cascade in cascades:
        boxes = det.cascades[cascade].detectMultiScale(
            img, scaleFactor=1.1, minNeighbors=5, minSize=(min_face, min_face)
        )
        if len(boxes):
            break
    out = []
    for x, y, bw, _ in boxes:
        k = PATCH / bw  # rotated copy -> patch: the box becomes the whole patch
        box_to_patch = np.array([[k, 0, k * (0.5 - x) - 0.5], [0, k, k * (0.5 - y) - 0.5]])
        out.append((compose(box_to_patch, to_rot), cascade))
    return out


def _face(grey, to_patch, cascade, det) -> Face:
    """The face whose box is the patch of ``to_patch`` (photo -> patch), with its eyes: the
    patch is searched upright, then turned by each angle of :data:`EYE_TILTS`."""
    cv2 = opencv()
    c = (PATCH - 1) / 2
    for tilt in EYE_TILTS:
        m = compose(cv2.getRotationMatrix2D((c, c), tilt, 1.0), to_patch)  # photo -> patch
        pair = _find_eyes(warp(grey, m, PATCH, PATCH, cv2.BORDER_REPLICATE), cascade, det)
        if pair is not None:
            break
    found = pair is not None
    if not found:  # the fallback: the eyes' mean place in a box of this cascade
        m = to_patch
        (lx, ly), (rx, ry) = EYES_IN_BOX[cascade]
        pair = ((lx * PATCH - 0.5, ly * PATCH - 0.5), (rx * PATCH - 0.5, ry * PATCH - 0.5))
    back = affine_inverse(m)  # patch -> photo
    (lx, ly), (rx, ry) = (apply(back, p) for p in pair)
    cx, cy = apply(back, (c, c))
    side = PATCH * math.sqrt(abs(np.linalg.det(back[:, :2])))
    x0, y0 = round(cx - side / 2 + 0.5), round(cy - side / 2 + 0.5)
    return Face((x0, y0, round(side), round(side)), (lx, ly), (rx, ry), found)


def _find_eyes(patch, cascade, det):
    """The most plausible (left, right) eye centres in a face patch (P, P), or None."""
    patch = opencv().equalizeHist(patch)
    upper = patch[: round(0.6 * PATCH)]
    cands = []  # (x, y) eye centres in the patch
    for name in EYE_CASCADES:
        for x, y, ew, eh in det.cascades[name].detectMultiScale(
            upper, scaleFactor=1.05, minNeighbors=3, minSize=(PATCH // 10, PATCH // 10),
            maxSize=(PATCH * 2 // 5, PATCH * 2 // 5),
        ):  # fmt: skip
            cands.append((x + ew / 2 - 0.5, y + eh / 2 - 0.5))
    return _pick_eyes(cands, cascade)


def _pick_eyes(cands, cascade):
    """The most plausible (left, right) pair of eye centres in a patch, or None."""
    (elx, ely), (erx, ery) = (np.array(e) * PATCH for e in EYES_IN_BOX[cascade])
    mid = (PATCH - 1) / 2
    best, best_cost = None, 0.35 * PATCH  # a pair farther than this from the mean is refused
    for lx, ly in cands:
        for rx, ry in cands:
            d = rx - lx
            if not (lx < mid < rx and 0.2 * PATCH <= d <= 0.65 * PATCH and abs(ry - ly) < 0.5 * d):
                continue
            cost = math.hypot(lx - elx, ly - ely) + math.hypot(rx - erx, ry - ery)
            if cost < best_cost:
                best, best_cost = ((lx, ly), (rx, ry)), cost
    return best


def _merge(found: list[Face], face: Face) -> None:
    """Add ``face`` to ``found`` unless it is one already there; one found with eyes replaces
    the same face found without."""
    cx, cy = face.box[0] + face.box[2] / 2, face.box[1] + face.box[3] / 2
    for i, f in enumerate(found):
        fx, fy = f.box[0] + f.box[2] / 2, f.box[1] + f.box[3] / 2
        if math.hypot(cx - fx, cy - fy) < 0.5 * max(face.box[2], f.box[2]):
            if face.eyes_found and not f.eyes_found:
                found[i] = face
            return
    found.append(face)
