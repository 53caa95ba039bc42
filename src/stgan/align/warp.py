"""Similarity alignment of a face to the model's eye layout, and pasting the edit back.

:func:`align` maps the photo by the similarity transform (rotation, uniform scale,
translation) that puts the two detected eye centres on the layout's. :func:`paste_back` maps
the edit's *change* (``edited - aligned.face``) back by the inverse transform and adds it to a
copy of the photo through :func:`face_mask`, a disc inscribed in the square with a feathered
rim, so the photo keeps its full-resolution detail wherever the edit changes little; where
the change is large (over :data:`DETAIL_UNTIL` levels) the model's pixels replace the
photo's, so nothing of the old face shows through. Near the rim the change's low-frequency
part is removed (a Gaussian blur of ``original - edit`` added back, weighted from 0 at
:data:`FIX_FROM` to 1 at :data:`FEATHER_FROM` of the radius), so the seam is continuous even
when the model shifts colours; inside, the edit is kept as it is. Pixels the mask does not
reach are copied bit for bit.

Resampling is bicubic; when a map shrinks by more than 1.5× the source is first reduced by
area averaging (an antialiasing pre-filter) so that the warp itself runs near scale 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from stgan.align.cv import opencv
from stgan.imageio import match_grey

FEATHER_FROM = 0.8  # the mask is 1 inside this fraction of the disc's radius, then falls to 0
FIX_FROM = 0.5  # the colour correction starts at this fraction of the radius ...
FIX_SIGMA = 1 / 16  # ... and removes differences blurred by this σ (fraction of the side)
DETAIL_UNTIL = 40.0  # the photo's own detail is kept where the edit changes less (0..255)
_SHRINK = 2 / 3  # maps that shrink more than this are pre-filtered by area averaging


@dataclass(frozen=True, eq=False)
class Aligned:
    """A face aligned for the model.

    Attributes:
        face: uint8 ``(S, S, 3)``: the model's input.
        matrix: ``(2, 3)`` float64 affine map, photo ``(x, y)`` -> face ``(x, y)``.
    """

    face: np.ndarray
    matrix: np.ndarray


def align(photo: np.ndarray, face, eyes, size: int) -> Aligned:
    """Cut ``face`` out of ``photo`` with its eyes moved onto ``eyes``.

    Args:
        photo: uint8 ``(H, W, 3)``.
        face: a :class:`~stgan.align.Face` (its ``left_eye`` and ``right_eye`` are used).
        eyes: ``((x, y) left, (x, y) right)`` eye centres in the output, e.g. from
            :func:`~stgan.align.eye_layout`.
        size: the output side ``S``.

    Returns:
        The :class:`Aligned` face; parts of the square outside the photo are filled by
        reflecting the photo at its border.
    """
    cv2 = opencv()
    src_l, src_r = complex(*face.left_eye), complex(*face.right_eye)
    dst_l, dst_r = complex(*eyes[0]), complex(*eyes[1])
    if abs(src_r - src_l) < 1e-6 or abs(dst_r - dst_l) < 1e-6:
        raise ValueError("the two eyes coincide; cannot align")
    z = (dst_r - dst_l) / (src_r - src_l)  # scale * rotation
    t = dst_l - z * src_l
    m = np.array([[z.real, -z.imag, t.real], [z.imag, z.real, t.imag]])
    return Aligned(warp(photo, m, size, size, cv2.BORDER_REFLECT_101), m)


def face_mask(size: int) -> np.ndarray:
    """The blending weight in the aligned square: float32 ``(S, S)``, 1 inside
    :data:`FEATHER_FROM` of the inscribed disc's radius, 0 outside the disc."""
    j = np.arange(size, dtype=np.float64)
    return _feather(_radius(j[None, :], j[:, None], size)).astype(np.float32)


def paste_back(photo: np.ndarray, aligned: Aligned, edited: np.ndarray) -> np.ndarray:
    """The edited face blended back into a copy of ``photo`` at full resolution.

    Args:
        photo: uint8 ``(H, W, 3)``: the photo ``aligned`` was cut from (not modified).
        aligned: the output of :func:`align`.
        edited: uint8 ``(S, S, 3)``: the model's edit of ``aligned.face``.

    Returns:
        uint8 ``(H, W, 3)``: pixels outside the mask are exactly ``photo``'s. Where the
        photo is greyscale around the face, the pasted pixels are too
        (:func:`~stgan.imageio.match_grey`).
    """
    cv2 = opencv()
    size = aligned.face.shape[0]
    if edited.shape != aligned.face.shape or edited.dtype != np.uint8:
        raise ValueError(
            f"edited must be uint8 {aligned.face.shape}, got {edited.dtype} {edited.shape}"
        )
    # colour continuity: remove the edit's low-frequency difference near the rim
    orig, edit = aligned.face.astype(np.float32), edited.astype(np.float32)  # (S, S, 3)
    low = cv2.GaussianBlur(orig - edit, (0, 0), FIX_SIGMA * size, borderType=cv2.BORDER_REFLECT_101)
    j = np.arange(size, dtype=np.float64)
    r = _radius(j[None, :], j[:, None], size)
    delta = edit - orig + (_smoothstep(FIX_FROM, FEATHER_FROM, r)[..., None] * low)  # (S, S, 3)
    # where the edit changes little, the photo's own detail is kept (weight 1 - change)
    change = cv2.GaussianBlur(np.abs(delta).mean(-1), (0, 0), 1.0) / DETAIL_UNTIL  # (S, S)
    keep = np.clip(1.0 - change, 0.0, 1.0)
    # where the disc lands in the photo
    m = aligned.matrix
    back = affine_inverse(m)  # face -> photo
    c, half = (size - 1) / 2, size / 2
    pts = [apply(back, (c + dx, c + dy)) for dx in (-half, half) for dy in (-half, half)]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    h, w = photo.shape[:2]
    x0, x1 = max(0, math.floor(min(xs)) - 1), min(w, math.ceil(max(xs)) + 2)
    y0, y1 = max(0, math.floor(min(ys)) - 1), min(h, math.ceil(max(ys)) + 2)
    out = photo.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    to_roi = compose(np.array([[1.0, 0, -x0], [0, 1.0, -y0]]), back)
    roi_w, roi_h, rep = x1 - x0, y1 - y0, cv2.BORDER_REPLICATE
    orig_keep = warp(np.dstack([orig, keep]).astype(np.float32), to_roi, roi_w, roi_h, rep)
    delta_up = warp(delta.astype(np.float32), to_roi, roi_w, roi_h, rep)  # (h', w', 3)
    u = np.arange(x0, x1, dtype=np.float32)[None, :]  # (1, w')
    v = np.arange(y0, y1, dtype=np.float32)[:, None]  # (h', 1)
    m32 = m.astype(np.float32)
    fx, fy = m32[0, 0] * u + m32[0, 1] * v + m32[0, 2], m32[1, 0] * u + m32[1, 1] * v + m32[1, 2]
    alpha = _feather(_radius(fx, fy, size)).astype(np.float32)[..., None]  # (h', w', 1)
    roi = out[y0:y1, x0:x1]
    photo_px = roi.astype(np.float32)
    orig_up, keep_up = orig_keep[..., :3], np.clip(orig_keep[..., 3:], 0.0, 1.0)
    # the edit at full resolution: the photo, plus the edit's change, with the photo's detail
    # (photo - orig_up) dropped where the change is large
    full = photo_px + delta_up + (1.0 - keep_up) * (orig_up - photo_px)
    blend = np.clip(np.rint(photo_px + alpha * (full - photo_px)), 0, 255).astype(np.uint8)
    blend = match_grey(roi, blend)  # a black-and-white photo stays black and white
    np.copyto(roi, blend, where=alpha > 0)  # outside the disc: untouched
    return out


def warp(src: np.ndarray, m: np.ndarray, out_w: int, out_h: int, border: int) -> np.ndarray:
    """``src`` mapped by the affine ``m`` (src ``(x, y)`` -> output ``(x, y)``) into an
    ``out_h`` × ``out_w`` image: bicubic, area-prefiltered when ``m`` shrinks by more than
    1.5×, only the part of ``src`` that the output sees is read."""
    cv2 = opencv()
    scale = math.sqrt(abs(np.linalg.det(m[:, :2])))  # output pixels per source pixel
    inv = affine_inverse(m)
    pts = [apply(inv, (x, y)) for x in (-0.5, out_w - 0.5) for y in (-0.5, out_h - 0.5)]
    margin = math.ceil(3 / min(scale, 1.0)) + 2  # the cubic kernel's reach, in src pixels
    h, w = src.shape[:2]
    x0 = max(0, math.floor(min(p[0] for p in pts)) - margin)
    x1 = min(w, math.ceil(max(p[0] for p in pts)) + margin)
    y0 = max(0, math.floor(min(p[1] for p in pts)) - margin)
    y1 = min(h, math.ceil(max(p[1] for p in pts)) + margin)
    if x1 > x0 and y1 > y0:  # else the output lies wholly outside: keep src for the border
        src = src[y0:y1, x0:x1]
        m = compose(m, np.array([[1.0, 0, x0], [0, 1.0, y0]]))
    if scale < _SHRINK:
        ch, cw = src.shape[:2]
        nw, nh = max(1, round(cw * scale)), max(1, round(ch * scale))
        fx, fy = nw / cw, nh / ch
        src = cv2.resize(src, (nw, nh), interpolation=cv2.INTER_AREA)
        # pixel centres: x_small = (x + 0.5) * fx - 0.5
        unshrink = np.array([[1 / fx, 0, 0.5 / fx - 0.5], [0, 1 / fy, 0.5 / fy - 0.5]])
        m = compose(m, unshrink)
    return cv2.warpAffine(
        np.ascontiguousarray(src), m, (out_w, out_h), flags=cv2.INTER_CUBIC, borderMode=border
    )


def compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The 2x3 affine map ``a ∘ b`` (``b`` first)."""
    return np.hstack([a[:, :2] @ b[:, :2], (a[:, :2] @ b[:, 2] + a[:, 2])[:, None]])


def affine_inverse(m: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 affine map."""
    lin = np.linalg.inv(m[:, :2])
    return np.hstack([lin, (-lin @ m[:, 2])[:, None]])


def apply(m: np.ndarray, p) -> tuple[float, float]:
    """The point ``p = (x, y)`` mapped by the 2x3 affine ``m``."""
    x, y = m[:, :2] @ np.asarray(p, dtype=np.float64) + m[:, 2]
    return float(x), float(y)


def _radius(x: np.ndarray, y: np.ndarray, size: int) -> np.ndarray:
    """Distance from the square's centre in units of the inscribed disc's radius."""
    c = (size - 1) / 2
    return np.hypot(x - c, y - c) / (size / 2)


def _smoothstep(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _feather(r: np.ndarray) -> np.ndarray:
    """The mask at radius ``r``: 1 up to :data:`FEATHER_FROM`, exactly 0 from 1 on."""
    return 1.0 - _smoothstep(FEATHER_FROM, 1.0, r)
