"""What the layer painters share: one face's labels, nuisance, canvas, geometry and colours.

:class:`Face` turns a 13-bit label vector and a :class:`~stgan.data.synth.nuisance.Nuisance`
into the layout every painter reads: the face outline, where the eyes, mouth, nose and
glasses sit (in the face frame: units of image width, u to the right, v down), the hair cap,
and the colour fields of skin and hair. Attributes enter here only through the few places
they change the shared layout (Male: outline, neck, hair volume; Pale_Skin: skin; hair
colours, Young, Bald: hair), so each painter's own layers stay the only thing it changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from stgan.data.synth.canvas import Canvas
from stgan.data.synth.labels import ATTRS, HAIR_COLOURS, INDEX
from stgan.data.synth.nuisance import Nuisance

_BLACK = np.array([0.07, 0.06, 0.06])
_BLOND_LIGHT, _BLOND_DARK = np.array([0.92, 0.78, 0.47]), np.array([0.80, 0.60, 0.28])
_BROWN_LIGHT, _BROWN_DARK = np.array([0.47, 0.32, 0.19]), np.array([0.30, 0.19, 0.11])
GREY = np.array([0.74, 0.74, 0.74])  # grey hair
_PALE = np.array([1.0, 0.95, 0.93])
_PALE_MIX = 0.7  # how far Pale_Skin moves the skin colour towards _PALE


@dataclass(frozen=True)
class Outline:
    """The face outline: an ellipse above the widest line, a superellipse (the jaw) below."""

    w: float  # half-width at the widest line
    vc: float  # height of the widest line
    up: float  # height of the skull above it
    lo: float  # height of the chin below it
    jaw_e: float  # superellipse exponent of the jaw (squareness)

    def half_width(self, v: float) -> float:
        """Half-width of the outline at height ``v``."""
        w, vc = self.w, self.vc
        if v < vc:
            return w * math.sqrt(max(0.0, 1 - ((v - vc) / self.up) ** 2))
        e = self.jaw_e
        return w * max(0.0, 1 - ((v - vc) / self.lo) ** e) ** (1 / e)


@dataclass(frozen=True)
class Eyes:
    """Both eyes, mirrored about u = 0."""

    x: float  # half the distance between the eye centres
    y: float  # height of the eye line
    w: float  # half-width of one eye
    h: float  # opening


@dataclass(frozen=True)
class Mouth:
    y: float  # height of the line between the lips
    w: float  # half-width


@dataclass(frozen=True)
class Glasses:
    """Where glasses sit; it also bounds the hair, so it exists whether they are worn or not."""

    rx: float  # lens half-width, to the middle of the frame
    ry: float  # lens half-height
    t: float  # half thickness of the frame
    v: float  # height of the lens centres


@dataclass(frozen=True)
class HairCap:
    """The elliptic cap of hair around the skull (above the widest line of the face)."""

    ru: float  # horizontal radius
    rv: float  # vertical radius


def hair_colour(labels: np.ndarray, nz: Nuisance) -> np.ndarray:
    """Hair colour: the mean of the hair-colour attributes that are on, else the nuisance
    colour (auburn, ginger, grey, silver). Greying (not Young) is added per strand."""
    t = nz.u_hair_tone
    options = {
        "Black_Hair": _BLACK + 0.05 * t[0],
        "Blond_Hair": (1 - t[1]) * _BLOND_LIGHT + t[1] * _BLOND_DARK,
        "Brown_Hair": (1 - t[2]) * _BROWN_LIGHT + t[2] * _BROWN_DARK,
    }
    on = [options[a] for a in HAIR_COLOURS if labels[INDEX[a]]]
    col = np.mean(on, axis=0) if on else np.clip(nz.hair_other, 0, 1)
    return col


def skin_colour(labels: np.ndarray, nz: Nuisance) -> np.ndarray:
    """Skin colour: the nuisance tone, moved towards a pale tone by Pale_Skin."""
    if labels[INDEX["Pale_Skin"]]:
        return (1 - _PALE_MIX) * nz.skin + _PALE_MIX * _PALE
    return nz.skin


class Face:
    """One face being painted: labels, nuisance, canvas, geometry, colour fields, and the
    list of layers painted so far (back to front).

    Args:
        labels: (13,) bool in :data:`~stgan.data.synth.labels.ATTRS` order.
        nz: the nuisance of the sample.
        size: output side in pixels.
    """

    def __init__(self, labels: np.ndarray, nz: Nuisance, size: int):
        self.on = {a: bool(labels[INDEX[a]]) for a in ATTRS}
        self.nz, self.size = nz, size
        self.cv = Canvas(size, nz.rot, nz.scale, nz.shift)
        self.gu, self.gv = self.cv.grid()  # (S, S) face-frame coordinates of the pixels
        self.margin = max(0.03, 2.5 * self.cv.px)  # gap between layers that must never touch
        self.layers: list[tuple[str, np.ndarray, np.ndarray]] = []  # (group, alpha, colour)
        male = self.male = self.on["Male"]
        o = self.outline = Outline(
            w=0.205 + nz.face_w + (0.03 if male else 0.0),
            vc=-0.02,
            up=nz.face_up,
            lo=nz.face_lo + (0.01 if male else 0.0),
            jaw_e=(2.9 + 0.7 * nz.u_jaw) if male else (1.9 + 0.4 * nz.u_jaw),
        )
        e = self.eyes = Eyes(x=nz.eye_x, y=-0.04 + nz.eye_y, w=nz.eye_w, h=nz.eye_h)
        g = self.glasses = Glasses(
            rx=e.w + 0.016 + 0.009 * nz.glasses_w,
            ry=0.029 + 0.008 * nz.glasses_h,
            t=0.0045 + 0.0035 * nz.frame_t,
            v=e.y + 0.004,
        )
        self.hair_low = g.v - g.ry - g.t - self.margin  # the hair stays above the glasses
        self.mouth = Mouth(y=0.15 + nz.mouth_y, w=nz.mouth_w)
        self.nose_v = 0.068 + nz.nose_len  # height of the nostrils
        self.neck_w = 0.072 + (0.018 if male else 0.0) + 0.01 * nz.face_w / 0.012  # half-width
        vol = (0.012 + 0.02 * nz.u_hair_vol) if male else (0.025 + 0.04 * nz.u_hair_vol)
        self.cap = HairCap(ru=o.w + vol + 0.012, rv=o.up + 0.02 + 0.9 * vol)
        # colour fields
        self.skin = skin_colour(labels, nz)
        side = np.clip(np.abs(self.gu) / o.w, 0, 1.2)
        self.shade = 1.0 - 0.16 * side**3 + 0.04 * np.exp(-((self.gv + 0.12) ** 2) / 0.01)
        cheeks = np.exp(-(((np.abs(self.gu) - 0.6 * o.w) ** 2) + (self.gv - 0.07) ** 2) / 0.002)
        blush = np.array([0.1, -0.06, -0.05]) * nz.blush
        self.skin_f = self.skin * self.shade[..., None] + cheeks[..., None] * blush  # (S, S, 3)
        grey = 0.55 * nz.facial_hair + 0.45 * GREY
        self.facial_hair = nz.facial_hair if self.on["Young"] else grey
        self.hair_f = None if self.on["Bald"] else _hair_field(self, hair_colour(labels, nz))

    def add(self, group: str, alpha: np.ndarray, colour) -> None:
        """Paint ``colour`` (RGB or (S, S, 3)) with coverage ``alpha`` (S, S) on top."""
        self.layers.append((group, alpha, np.asarray(colour, dtype=np.float32)))


def _hair_field(f: Face, colour: np.ndarray) -> np.ndarray:
    """Hair colour (S, S, 3): light and dark strands falling from the crown, a sheen on top,
    and salt-and-pepper grey when not Young (grey mostly in the light strands)."""
    nz, gu, gv, o, cap = f.nz, f.gu, f.gv, f.outline, f.cap
    a, ln, sh, wd = nz.strands.T
    ang = math.pi * (1.05 + 0.9 * a)  # an upward fan from the crown, falling down
    d = np.stack([np.cos(ang), np.sin(ang)], 1)  # (n, 2)
    pts = [np.broadcast_to([0.05 * nz.part, o.vc - o.up + 0.02], d.shape)]
    for _ in range(10):
        d = d + [0.0, 0.22]  # gravity
        d = d / np.hypot(d[:, :1], d[:, 1:])
        pts.append(pts[-1] + d * (0.04 + 0.05 * ln[:, None]))
    pts = np.stack(pts, 1)  # (n, 11, 2)
    strands = f.cv.lines(zip(pts, 60 + 150 * sh, 0.003 + 0.005 * wd, strict=True))  # (S, S)
    sheen = np.exp(-((np.hypot(gu / cap.ru, (gv - o.vc) / cap.rv) - 0.8) ** 2) / 0.02)
    sheen = sheen * (gv < o.vc)
    hair = (
        colour * (0.7 + 0.6 * strands)[..., None]
        + (0.08 * sheen + 0.1 * (strands - 0.5))[..., None]
    )  # (S, S, 3)
    if not f.on["Young"]:
        g = (nz.grey * np.clip(0.4 + 1.6 * (strands - 0.35), 0, 1.2))[..., None]
        hair = (1 - g) * hair + g * GREY
    return np.clip(hair, 0, 1)
