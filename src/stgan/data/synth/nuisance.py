"""The nuisance of a synthetic face: everything that is not an attribute.

Pose, background, lighting, skin tone, the shapes of eyes, nose and mouth, hair length and
shape, glasses style, ...: drawn from the sample's own random stream, independent of its
labels, so re-rendering with other labels keeps them all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from stgan.data.synth.streams import NUISANCE_STREAM, rng_for

_OTHER_HAIR = np.array(
    [  # hair colours when no hair-colour attribute is on
        [0.60, 0.14, 0.05],  # auburn
        [0.82, 0.40, 0.15],  # ginger
        [0.58, 0.58, 0.58],  # grey
        [0.82, 0.81, 0.78],  # silver
    ]
)
_OTHER_HAIR_P = np.array([0.35, 0.25, 0.25, 0.15])
_IRIS = np.array([[0.33, 0.19, 0.09], [0.14, 0.09, 0.06], [0.30, 0.46, 0.62],
                  [0.33, 0.45, 0.28], [0.45, 0.33, 0.15]])  # fmt: skip
_FRAMES = np.array([[0.04, 0.04, 0.05], [0.27, 0.15, 0.08], [0.55, 0.55, 0.58],
                    [0.08, 0.10, 0.32], [0.50, 0.07, 0.08]])  # fmt: skip


@dataclass(frozen=True)
class Nuisance:
    """Everything about a face that is not an attribute; drawn from its own random stream.

    Lengths are in image widths, in the face frame (origin at the image centre before the
    pose; u to the right, v down). ``u_*`` fields are uniforms in [0, 1) mapped to a range
    where they are used; colours are RGB in [0, 1].
    """

    shift: tuple[float, float]  # pose: translation of the face
    rot: float  # pose: rotation, radians
    scale: float  # pose: zoom
    bg: tuple[np.ndarray, np.ndarray]  # background gradient end colours
    bg_angle: float  # direction of the background gradient
    light_angle: float  # direction the light comes from
    light: float  # strength of the lighting gradient
    skin: np.ndarray  # base skin colour (before Pale_Skin)
    blush: float  # cheek redness
    face_w: float  # face half-width jitter
    face_up: float  # height of the skull above the widest line
    face_lo: float  # height of the chin below the widest line
    u_jaw: float  # jaw squareness jitter
    eye_x: float  # half distance between the eyes
    eye_y: float  # eye height jitter
    eye_w: float  # eye half-width
    eye_h: float  # eye opening
    iris: np.ndarray  # iris colour
    gaze: float  # horizontal iris offset
    brow_y: float  # eyebrow height jitter
    brow_arch: float  # eyebrow arch
    nose_w: float  # nostril half-distance
    nose_len: float  # nose length jitter
    mouth_w: float  # mouth half-width
    mouth_y: float  # mouth height jitter
    lip: float  # lip fullness
    mouth_open: float  # opening of an open mouth
    u_hair_len: float  # hair length (mapped by Male)
    u_hair_vol: float  # hair volume
    hairline: float  # hairline height jitter
    part: float  # parting side and offset (-1..1)
    hair_other: np.ndarray  # hair colour when no hair-colour attribute is on
    u_hair_tone: np.ndarray  # (3,) uniforms: shade of black / blond / brown hair
    grey: float  # how grey the hair of an old face is
    strands: np.ndarray  # (n, 4) strand seeds: angle, length, shade, width
    bangs_len: float  # how low the fringe comes
    bangs_slant: float  # side sweep of the fringe
    bangs_jag: np.ndarray  # (9,) jitter of the fringe's lower edge
    facial_hair: np.ndarray  # colour of eyebrows, beard and mustache
    beard_top: float  # how high the beard reaches on the cheeks
    beard_len: float  # how far the beard extends below the chin
    mus_thick: float  # mustache thickness
    glasses_shape: float  # superellipse exponent of the frames (2 round .. 5 rectangular)
    glasses_w: float  # lens half-width extra
    glasses_h: float  # lens half-height
    frame: np.ndarray  # frame colour
    frame_t: float  # frame thickness
    tint: float  # lens tint strength
    clothes: np.ndarray  # clothes colour
    wrinkle: float  # wrinkle depth
    tex_seed: int  # seed of the beard and mustache texture noise


def sample_nuisance(seed: int, index: int) -> Nuisance:
    """The nuisance of sample ``index`` (independent of its labels)."""
    r = rng_for(seed, index, NUISANCE_STREAM)
    u = r.random

    def colour(lo: float, hi: float) -> np.ndarray:
        return lo + (hi - lo) * u(3)

    skin_t = r.beta(1.5, 3.5)  # 0 light .. 1 dark; mostly light, as in CelebA
    light_skin, dark_skin = np.array([0.94, 0.78, 0.66]), np.array([0.42, 0.27, 0.18])
    skin = (1 - skin_t) * light_skin + skin_t * dark_skin + (u(3) - 0.5) * 0.05
    bg1, bg2 = colour(0.1, 0.95), colour(0.1, 0.95)
    grey_bg = u() < 0.35
    if grey_bg:
        bg1, bg2 = np.full(3, bg1.mean()), np.full(3, bg2.mean())
    n_strands = 48
    return Nuisance(
        shift=(0.05 * (u() - 0.5), 0.05 * (u() - 0.5)),
        rot=math.radians(float(np.clip(r.normal(0, 4.0), -9, 9))),
        scale=0.93 + 0.13 * u(),
        bg=(bg1, bg2),
        bg_angle=2 * math.pi * u(),
        light_angle=2 * math.pi * u(),
        light=0.2 * u(),
        skin=np.clip(skin, 0, 1),
        blush=0.25 * u(),
        face_w=0.024 * (u() - 0.5),
        face_up=0.30 + 0.02 * (u() - 0.5),
        face_lo=0.29 + 0.03 * (u() - 0.5),
        u_jaw=u(),
        eye_x=0.094 + 0.012 * (u() - 0.5),
        eye_y=0.016 * (u() - 0.5),
        eye_w=0.046 + 0.008 * (u() - 0.5),
        eye_h=0.018 + 0.006 * (u() - 0.5),
        iris=_IRIS[r.integers(len(_IRIS))],
        gaze=0.006 * (u() - 0.5),
        brow_y=0.012 * (u() - 0.5),
        brow_arch=0.006 + 0.01 * u(),
        nose_w=0.016 + 0.008 * u(),
        nose_len=0.012 * (u() - 0.5),
        mouth_w=0.052 + 0.016 * u(),
        mouth_y=0.016 * (u() - 0.5),
        lip=0.8 + 0.5 * u(),
        mouth_open=u(),
        u_hair_len=u(),
        u_hair_vol=u(),
        hairline=0.04 * (u() - 0.5),
        part=2 * u() - 1,
        hair_other=_OTHER_HAIR[r.choice(len(_OTHER_HAIR), p=_OTHER_HAIR_P)] + (u(3) - 0.5) * 0.06,
        u_hair_tone=u(3),
        grey=0.3 + 0.25 * u(),
        strands=u((n_strands, 4)),
        bangs_len=u(),
        bangs_slant=2 * u() - 1,
        bangs_jag=u(9),
        facial_hair=np.array([0.10, 0.08, 0.06]) + u() * np.array([0.28, 0.18, 0.10]),
        beard_top=u(),
        beard_len=u(),
        mus_thick=u(),
        glasses_shape=2.0 + 3.0 * u(),
        glasses_w=u(),
        glasses_h=u(),
        frame=_FRAMES[r.integers(len(_FRAMES))],
        frame_t=u(),
        tint=0.25 * u() if u() < 0.5 else 0.0,
        clothes=colour(0.05, 0.9),
        wrinkle=u(),
        tex_seed=int(r.integers(2**31)),
    )
