"""Procedural faces with exact counterfactuals: the label model, the nuisance and the renderer.

The synthetic dataset (:mod:`stgan.data.synthetic`) stands in for CelebA (reference §5) when
no real data is at hand, and adds what CelebA lacks: for every image and every attribute
vector, the *ground-truth* edited image. A face is a function of two independent random
draws, both derived from ``(seed, index)`` only:

- the **labels**, 13 bits in :data:`~stgan.attributes.DEFAULT_ATTRS` order, drawn from a
  maximum-entropy (pairwise log-linear) model whose marginals and pairwise co-occurrences
  match CelebA's, with the hard rules Bald ⇒ Male, Mustache ⇒ Male, no Bald with Bangs and
  at most one hair colour (:func:`label_table`);
- the **nuisance** (:class:`Nuisance`): pose, scale, background, lighting, skin tone,
  eye/nose/mouth shapes, hair length and shape, glasses style, ...

:func:`render_face` draws a face from any 13-bit vector and a nuisance, so the counterfactual
of a sample is ``render_face(other_labels, same_nuisance)``. The face is composited from
layers (back to front: background, clothes, hair behind the head, neck, ears, face skin,
wrinkles, nose, beard, lips and mouth, mustache, eyes, eyebrows, glasses, hair in front).
Each attribute changes the shape or colour of its own layers only, and the geometry keeps
a gap of at least two pixels between layers that must not touch (glasses vs. hair), so
edits are local: e.g. Eyeglasses changes no hair pixel, a hair colour changes no eye or
glasses pixel, Pale_Skin changes skin-coloured pixels only. Shapes are polygons drawn with
PIL at several times the output size and box-filtered down (anti-aliasing with a compact
support: a pixel no shape reaches is exactly unchanged).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from stgan.attributes import DEFAULT_ATTRS
from stgan.errors import UserError

ATTRS: tuple[str, ...] = DEFAULT_ATTRS
_I = {name: k for k, name in enumerate(ATTRS)}
MIN_SIZE, MAX_SIZE = 16, 1024

# Random streams of one sample: numpy Generators seeded with (seed, index, stream).
_LABEL_STREAM, _NUISANCE_STREAM = 0, 1

# ---------------------------------------------------------------------------------------------
# Labels: CelebA statistics (images 000001-020000, /work/shared/docs/celeba-attribute-stats.md)
# ---------------------------------------------------------------------------------------------

#: Marginal rate of +1 per attribute, in :data:`ATTRS` order.
CELEBA_MARGINALS = np.array(
    [0.023, 0.151, 0.243, 0.149, 0.203, 0.144, 0.065, 0.422, 0.479, 0.039, 0.832, 0.043, 0.780]
)
#: ``CELEBA_CONDITIONALS[i, j]`` = P(attribute j = 1 | attribute i = 1).
CELEBA_CONDITIONALS = np.array([
    [1.00, 0.00, 0.01, 0.00, 0.00, 0.09, 0.23, 1.00, 0.47, 0.12, 0.53, 0.02, 0.25],
    [0.00, 1.00, 0.22, 0.23, 0.27, 0.09, 0.03, 0.23, 0.49, 0.01, 0.95, 0.07, 0.81],
    [0.00, 0.13, 1.00, 0.00, 0.03, 0.30, 0.06, 0.52, 0.45, 0.06, 0.77, 0.03, 0.87],
    [0.00, 0.23, 0.00, 1.00, 0.04, 0.02, 0.02, 0.06, 0.57, 0.00, 0.99, 0.07, 0.82],
    [0.00, 0.20, 0.03, 0.03, 1.00, 0.10, 0.03, 0.32, 0.48, 0.02, 0.88, 0.04, 0.87],
    [0.01, 0.09, 0.51, 0.02, 0.14, 1.00, 0.02, 0.71, 0.44, 0.09, 0.65, 0.04, 0.87],
    [0.08, 0.07, 0.22, 0.05, 0.08, 0.04, 1.00, 0.78, 0.47, 0.10, 0.69, 0.02, 0.44],
    [0.05, 0.08, 0.30, 0.02, 0.15, 0.24, 0.12, 1.00, 0.42, 0.09, 0.60, 0.03, 0.64],
    [0.02, 0.16, 0.23, 0.18, 0.20, 0.13, 0.06, 0.37, 1.00, 0.03, 0.86, 0.03, 0.77],
    [0.07, 0.03, 0.36, 0.00, 0.09, 0.31, 0.16, 1.00, 0.35, 1.00, 0.03, 0.01, 0.49],
    [0.01, 0.17, 0.23, 0.18, 0.22, 0.11, 0.05, 0.31, 0.50, 0.00, 1.00, 0.05, 0.80],
    [0.01, 0.23, 0.16, 0.24, 0.17, 0.13, 0.03, 0.27, 0.35, 0.01, 0.94, 1.00, 0.86],
    [0.01, 0.16, 0.27, 0.16, 0.23, 0.16, 0.04, 0.35, 0.48, 0.02, 0.86, 0.05, 1.00],
])  # fmt: skip

_HAIR_COLOURS = ("Black_Hair", "Blond_Hair", "Brown_Hair")
# Pairs fixed by the hard rules: their co-occurrence is not a free parameter of the model.
_FIXED_PAIRS = {
    frozenset(p)
    for p in [("Bald", "Bangs"), ("Bald", "Male"), ("Mustache", "Male"),
              ("Black_Hair", "Blond_Hair"), ("Black_Hair", "Brown_Hair"),
              ("Blond_Hair", "Brown_Hair")]
}  # fmt: skip


def allowed(states: np.ndarray) -> np.ndarray:
    """Which rows of ``states`` (N, 13) 0/1 obey the hard rules of the synthetic labels."""
    s = np.asarray(states).astype(bool)
    bald, male, mus, bangs = (s[:, _I[a]] for a in ("Bald", "Male", "Mustache", "Bangs"))
    n_col = s[:, [_I[a] for a in _HAIR_COLOURS]].sum(1)
    return ~(bald & ~male) & ~(mus & ~male) & ~(bald & bangs) & (n_col <= 1)


def _target_joints() -> tuple[list[tuple[int, int]], np.ndarray]:
    """Free pairs and their target P(i = 1, j = 1), read from the row of the rarer attribute
    (its 2-decimal conditional is the more precise one); a printed 0.00 counts as 0.002."""
    pairs, joints = [], []
    n = len(ATTRS)
    for a in range(n):
        for b in range(a + 1, n):
            if frozenset((ATTRS[a], ATTRS[b])) in _FIXED_PAIRS:
                continue
            r, c = (a, b) if CELEBA_MARGINALS[a] <= CELEBA_MARGINALS[b] else (b, a)
            pairs.append((a, b))
            joints.append(max(CELEBA_CONDITIONALS[r, c], 0.002) * CELEBA_MARGINALS[r])
    return pairs, np.array(joints)


def _features() -> tuple[np.ndarray, np.ndarray]:
    """Every allowed 13-bit state (K, 13) ``uint8`` and its model features (K, F): the 13
    bits, then the product of each free pair's bits (pairs in :func:`_target_joints` order)."""
    n = len(ATTRS)
    every = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(np.uint8)  # (8192, 13)
    states = every[allowed(every)]
    x = states.astype(np.float64)
    pairs, _ = _target_joints()
    feats = np.concatenate([x] + [x[:, [a]] * x[:, [b]] for a, b in pairs], axis=1)  # (K, F)
    return states, feats


def fit_label_weights(ridge: float = 1e-4) -> np.ndarray:
    """Fit the label model: the maximum-entropy distribution over the allowed states whose
    marginals and free pairwise co-occurrences equal CelebA's.

    A log-linear model, one weight per attribute and per free pair, fitted by Newton's method
    with a backtracking line search on the concave dual (with a small ridge); ~10 iterations.
    The result is stored in :data:`LABEL_WEIGHTS`, so no process needs to refit (the matrix
    products are slow on a busy machine with a multithreaded BLAS).

    Returns:
        ``(F,)`` ``float64`` weights.
    """
    _, feats = _features()
    pairs, joints = _target_joints()
    target = np.concatenate([CELEBA_MARGINALS, joints])

    def dual(theta: np.ndarray) -> float:
        s = feats @ theta
        top = s.max()
        return target @ theta - top - math.log(np.exp(s - top).sum()) - 0.5 * ridge * theta @ theta

    theta = np.zeros(feats.shape[1])
    for _ in range(100):
        s = feats @ theta
        p = np.exp(s - s.max())
        p /= p.sum()
        mean = p @ feats
        grad = target - mean - ridge * theta
        if np.abs(grad).max() < 1e-11:
            break
        hess = (feats * p[:, None]).T @ feats - np.outer(mean, mean) + ridge * np.eye(len(theta))
        step_dir = np.linalg.solve(hess, grad)
        step, f0 = 1.0, dual(theta)
        while dual(theta + step * step_dir) < f0 + 1e-4 * step * (grad @ step_dir) and step > 1e-8:
            step /= 2
        theta = theta + step * step_dir
    return theta


#: :func:`fit_label_weights` () rounded to 10 decimals: 13 attribute weights, then the pairs.
LABEL_WEIGHTS = np.array([
    -1.3857285349, -2.1992196723, -1.4099574466, -1.2901158767, -1.0148726270, -3.0228776134,
    -2.2966879558, 6.1427589805, 0.1816207300, -0.6519103944, 6.2485097695, -3.3552512437,
    1.9801227478, -2.8385391918, -1.5122488042, -2.7549893946, -0.4922357248, 0.1362121733,
    0.1047010038, -0.1969031450, -0.3854920168, -0.2016114334, -1.2692005452, 0.3298049350,
    0.5039615252, 0.5594908401, -0.3224767886, -0.4994846184, -0.5554906593, -0.0563413483,
    -0.5361251222, 0.7539645385, 0.3955370501, -0.2670203702, 1.0528634032, -0.0784141335,
    -0.0156555210, -0.0180491465, 0.2392986173, -0.0999786473, -0.6408713577, 1.0321557860,
    -1.3007569401, -0.7691954810, -2.3386072490, 0.2888439540, -0.9710858801, 0.8224095992,
    0.1407840515, 0.0025646146, -0.1279932384, -0.9345794377, -0.5172536987, 0.0248281718,
    -0.4136624942, -0.0716385367, -0.4950210608, 0.8281086292, -1.7069092147, 1.2385178723,
    0.0480224419, 0.2483239192, -0.4499919944, 0.2480136465, 0.9189224007, 1.2220207523,
    0.0484534598, 0.1853115001, -0.0235152756, -0.4543311382, -1.0383586607, -0.3764568957,
    -5.4575748793, -0.3747042508, -1.4776151941, -0.3206704139, 0.1051068313, -0.6516840481,
    -0.2615415459, -3.8174725860, -0.5366222020, -0.9334795834, 0.5863621450, -0.1263333416,
    0.3254278266,
])  # fmt: skip


@lru_cache(maxsize=1)
def label_table() -> tuple[np.ndarray, np.ndarray]:
    """The label distribution: every allowed 13-bit state and its cumulative probability.

    Returns:
        ``(states, cdf)``: ``(K, 13)`` ``uint8`` and ``(K,)`` ``float64`` (last entry 1).
    """
    states, feats = _features()
    s = feats @ LABEL_WEIGHTS
    p = np.exp(s - s.max())
    cdf = np.cumsum(p / p.sum())
    cdf[-1] = 1.0
    return states, cdf


def rng_for(seed: int, index: int, stream: int, *extra: int) -> np.random.Generator:
    """The numpy Generator of one random stream of sample ``index`` (all arguments ≥ 0)."""
    if seed < 0 or index < 0:
        raise UserError(f"synthetic seed and index must be ≥ 0, got seed={seed}, index={index}")
    return np.random.default_rng([int(seed), int(index), stream, *extra])


def sample_labels(seed: int, index: int) -> np.ndarray:
    """The labels of sample ``index``: ``(13,)`` ``uint8`` 0/1 in :data:`ATTRS` order."""
    states, cdf = label_table()
    u = rng_for(seed, index, _LABEL_STREAM).random()
    return states[min(int(np.searchsorted(cdf, u, side="right")), len(cdf) - 1)].copy()


# ---------------------------------------------------------------------------------------------
# Nuisance
# ---------------------------------------------------------------------------------------------

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
    r = rng_for(seed, index, _NUISANCE_STREAM)
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


# ---------------------------------------------------------------------------------------------
# Geometry helpers (face frame, units of image width)
# ---------------------------------------------------------------------------------------------


_SPLINE_T = {n: np.linspace(0, 1, n, endpoint=False)[:, None] for n in range(2, 9)}


def _spline(points, n: int = 6, closed: bool = False) -> np.ndarray:
    """A Catmull-Rom curve through ``points`` with ``n`` samples per segment."""
    p = np.asarray(points, dtype=np.float64)
    p = np.vstack([p[-1], p, p[0], p[1]]) if closed else np.vstack([p[0], p, p[-1]])
    t = _SPLINE_T[n]  # (n, 1)
    p0, p1, p2, p3 = (p[k : len(p) - 3 + k, None] for k in range(4))  # (segments, 1, 2)
    c = 2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
    c = 0.5 * (c + (3 * p1 - p0 - 3 * p2 + p3) * t**3)  # (segments, n, 2)
    c = c.reshape(-1, 2)
    return c if closed else np.vstack([c, p[-2]])


@lru_cache(maxsize=64)
def _arc(n: int, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
    """Cosines and sines of ``n`` angles from ``t0`` to ``t1`` (a full turn: no repeat)."""
    t = np.linspace(t0, t1, n, endpoint=not math.isclose(t1 - t0, 2 * math.pi))
    return np.cos(t), np.sin(t)


def _ellipse(cu, cv, ru, rv, exponent: float = 2.0, n: int = 48, t0=0.0, t1=2 * math.pi):
    """Points of a superellipse ``|x/ru|^e + |y/rv|^e = 1`` (e = 2: an ellipse)."""
    c, s = _arc(n, t0, t1)
    k = 2.0 / exponent
    return np.stack(
        [cu + ru * np.sign(c) * np.abs(c) ** k, cv + rv * np.sign(s) * np.abs(s) ** k], 1
    )


def _stroke(points, half_widths) -> np.ndarray:
    """Polygon of a curve drawn with a varying half-width (a tapered brush stroke)."""
    p = np.asarray(points, dtype=np.float64)
    d = np.empty_like(p)  # tangents: central differences, one-sided at the ends
    d[1:-1] = (p[2:] - p[:-2]) / 2
    d[0], d[-1] = p[1] - p[0], p[-1] - p[-2]
    nrm = np.stack([-d[:, 1], d[:, 0]], 1) / (np.sqrt((d * d).sum(1, keepdims=True)) + 1e-12)
    w = np.broadcast_to(np.asarray(half_widths, dtype=np.float64), (len(p),))[:, None]
    return np.vstack([p + nrm * w, (p - nrm * w)[::-1]])


def _taper(n: int, w: float, lo: float = 0.3) -> np.ndarray:
    """Half-widths along a stroke: ``w`` in the middle, ``lo * w`` at both ends."""
    return w * (lo + (1 - lo) * _arc(n, 0.0, math.pi)[1])


# The face frame's place in the image: CelebA's crop has the eyes ~0.23 image widths apart at
# half height and the mouth at ~3/4 height (reference §5 crop of the aligned images).
_BASE_SCALE = 1.25
_BASE_OFFSET = np.array([0.0, 0.06])


class _Canvas:
    """Draws polygon masks in the face frame, supersampled ``ss`` times and box-filtered.

    A mask is only drawn over the bounding box of its polygons, so small features are cheap.
    """

    def __init__(self, size: int, nz: Nuisance):
        self.size = size
        self.ss = 8 if size <= 32 else 4 if size <= 96 else 3  # supersampling factor
        c, s = math.cos(nz.rot), math.sin(nz.rot)
        k = _BASE_SCALE * nz.scale * size
        self.lin = np.array([[c, -s], [s, c]]) * k  # face frame -> output pixels
        self.off = (0.5 + _BASE_OFFSET + np.asarray(nz.shift)) * size
        self.px = 1.0 / k  # one output pixel, in face units

    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """Face-frame coordinates ``(u, v)`` of the output pixel centres, each (S, S)."""
        j = np.arange(self.size) + 0.5
        x, y = np.meshgrid(j, j)
        inv = np.linalg.inv(self.lin)
        dx, dy = x - self.off[0], y - self.off[1]
        u = (inv[0, 0] * dx + inv[0, 1] * dy).astype(np.float32)
        v = (inv[1, 0] * dx + inv[1, 1] * dy).astype(np.float32)
        return u, v

    def mask(self, *polys, cut=()) -> np.ndarray:
        """Coverage (S, S) float32 in [0, 1] of the union of ``polys`` minus ``cut``."""
        ss, size = self.ss, self.size
        pts = [(np.asarray(p) @ self.lin.T + self.off) * ss for p in polys]
        holes = [(np.asarray(p) @ self.lin.T + self.off) * ss for p in cut]
        out = np.zeros((size, size), np.float32)
        allp = np.vstack(pts)
        x0, y0 = np.floor(allp.min(0) / ss).astype(int) - 1
        x1, y1 = np.ceil(allp.max(0) / ss).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, size), min(y1, size)
        if x1 <= x0 or y1 <= y0:
            return out
        img = Image.new("L", ((x1 - x0) * ss, (y1 - y0) * ss), 0)
        draw = ImageDraw.Draw(img)
        shift = np.array([x0, y0]) * ss
        for p in pts:
            draw.polygon((p - shift).ravel().tolist(), fill=255)
        for p in holes:
            draw.polygon((p - shift).ravel().tolist(), fill=0)
        small = img.reduce(ss) if ss > 1 else img
        out[y0:y1, x0:x1] = np.asarray(small, dtype=np.float32) * (1.0 / 255.0)
        return out

    def lines(self, strokes, base: int = 128) -> np.ndarray:
        """A shading field (S, S) in [0, 1]: ``strokes`` = [(points, value, width)], drawn
        over a uniform ``base`` grey at full canvas size."""
        ss, size = min(self.ss, 3), self.size
        img = Image.new("L", (size * ss, size * ss), base)
        draw = ImageDraw.Draw(img)
        for pts, value, width in strokes:
            p = (np.asarray(pts) @ self.lin.T + self.off) * ss
            draw.line(
                p.ravel().tolist(), fill=int(value), width=max(1, round(width / self.px * ss))
            )
        return np.asarray(img.reduce(ss), dtype=np.float32) * (1.0 / 255.0)


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------

_BLACK = np.array([0.07, 0.06, 0.06])
_BLOND_LIGHT, _BLOND_DARK = np.array([0.92, 0.78, 0.47]), np.array([0.80, 0.60, 0.28])
_BROWN_LIGHT, _BROWN_DARK = np.array([0.47, 0.32, 0.19]), np.array([0.30, 0.19, 0.11])
_GREY = np.array([0.74, 0.74, 0.74])
_PALE = np.array([1.0, 0.95, 0.93])
_PALE_MIX = 0.7  # how far Pale_Skin moves the skin colour towards _PALE

# Layer groups of render_face(regions=True).
GROUPS: tuple[str, ...] = (
    "background", "clothes", "hair", "skin", "wrinkles", "nose", "beard", "lips", "mouth",
    "mustache", "eyes", "brows", "lenses", "frames", "bangs",
)  # fmt: skip


def _fur(nz: Nuisance, size: int) -> np.ndarray:
    """Texture (S, S) around 1 of beards and mustaches: smoothed noise."""
    n = np.random.default_rng([nz.tex_seed, size]).random((size + 1, size + 1), np.float32)
    n = 0.25 * (n[:-1, :-1] + n[1:, :-1] + n[:-1, 1:] + n[1:, 1:])  # (S, S)
    return 0.75 + 0.5 * n


def hair_colour(labels: np.ndarray, nz: Nuisance) -> np.ndarray:
    """Hair colour: the mean of the hair-colour attributes that are on, else the nuisance
    colour (auburn, ginger, grey, silver). Greying (not Young) is added per strand."""
    t = nz.u_hair_tone
    options = {
        "Black_Hair": _BLACK + 0.05 * t[0],
        "Blond_Hair": (1 - t[1]) * _BLOND_LIGHT + t[1] * _BLOND_DARK,
        "Brown_Hair": (1 - t[2]) * _BROWN_LIGHT + t[2] * _BROWN_DARK,
    }
    on = [options[a] for a in _HAIR_COLOURS if labels[_I[a]]]
    col = np.mean(on, axis=0) if on else np.clip(nz.hair_other, 0, 1)
    return col


def skin_colour(labels: np.ndarray, nz: Nuisance) -> np.ndarray:
    """Skin colour: the nuisance tone, moved towards a pale tone by Pale_Skin."""
    if labels[_I["Pale_Skin"]]:
        return (1 - _PALE_MIX) * nz.skin + _PALE_MIX * _PALE
    return nz.skin


class _Face:
    """What the layer painters share: the labels, the nuisance, the canvas and the geometry
    (face frame units), plus the list of layers painted so far."""

    def __init__(self, labels: np.ndarray, nz: Nuisance, size: int):
        self.on = {a: bool(labels[_I[a]]) for a in ATTRS}
        self.nz, self.size = nz, size
        self.cv = _Canvas(size, nz)
        self.gu, self.gv = self.cv.grid()  # (S, S) face-frame coordinates of the pixels
        self.margin = max(0.03, 2.5 * self.cv.px)  # gap between layers that must never touch
        self.layers: list[tuple[str, np.ndarray, np.ndarray]] = []  # (group, alpha, colour)
        male = self.male = self.on["Male"]
        # face outline: an ellipse above the widest line vc, a superellipse (the jaw) below
        self.fw = 0.205 + nz.face_w + (0.03 if male else 0.0)  # half-width
        self.vc = -0.02
        self.b_up, self.b_lo = nz.face_up, nz.face_lo + (0.01 if male else 0.0)
        self.jaw_e = (2.9 + 0.7 * nz.u_jaw) if male else (1.9 + 0.4 * nz.u_jaw)  # squareness
        self.ey = -0.04 + nz.eye_y  # eye line
        self.ex, self.ew, self.eh = nz.eye_x, nz.eye_w, nz.eye_h
        # glasses geometry (also bounds the hair, so it is computed whether worn or not)
        self.g_rx = self.ew + 0.016 + 0.009 * nz.glasses_w
        self.g_ry = 0.029 + 0.008 * nz.glasses_h
        self.g_t = 0.0045 + 0.0035 * nz.frame_t  # half thickness of the frame
        self.g_cv = self.ey + 0.004
        self.hair_low = self.g_cv - self.g_ry - self.g_t - self.margin  # hair stays above
        self.my, self.mw = 0.15 + nz.mouth_y, nz.mouth_w  # mouth height, half-width
        self.nose_v = 0.068 + nz.nose_len
        self.nw = 0.072 + (0.018 if male else 0.0) + 0.01 * nz.face_w / 0.012  # neck
        vol = (0.012 + 0.02 * nz.u_hair_vol) if male else (0.025 + 0.04 * nz.u_hair_vol)
        self.vol = vol
        self.cap_ru, self.cap_rv = self.fw + vol + 0.012, self.b_up + 0.02 + 0.9 * vol
        # colour fields
        self.skin = skin_colour(labels, nz)
        side = np.clip(np.abs(self.gu) / self.fw, 0, 1.2)
        self.shade = 1.0 - 0.16 * side**3 + 0.04 * np.exp(-((self.gv + 0.12) ** 2) / 0.01)
        cheeks = np.exp(-(((np.abs(self.gu) - 0.6 * self.fw) ** 2) + (self.gv - 0.07) ** 2) / 0.002)
        blush = np.array([0.1, -0.06, -0.05]) * nz.blush
        self.skin_f = self.skin * self.shade[..., None] + cheeks[..., None] * blush  # (S, S, 3)
        grey = 0.55 * nz.facial_hair + 0.45 * _GREY
        self.facial_hair = nz.facial_hair if self.on["Young"] else grey
        self.hair_f = None if self.on["Bald"] else _hair_field(self, hair_colour(labels, nz))

    def add(self, group: str, alpha: np.ndarray, colour) -> None:
        """Paint ``colour`` (RGB or (S, S, 3)) with coverage ``alpha`` (S, S) on top."""
        self.layers.append((group, alpha, np.asarray(colour, dtype=np.float32)))

    def half_width(self, v: float) -> float:
        """Half-width of the face outline at height ``v``."""
        fw, vc = self.fw, self.vc
        if v < vc:
            return fw * math.sqrt(max(0.0, 1 - ((v - vc) / self.b_up) ** 2))
        e = self.jaw_e
        return fw * max(0.0, 1 - ((v - vc) / self.b_lo) ** e) ** (1 / e)


def _hair_field(f: _Face, colour: np.ndarray) -> np.ndarray:
    """Hair colour (S, S, 3): light and dark strands falling from the crown, a sheen on top,
    and salt-and-pepper grey when not Young (grey mostly in the light strands)."""
    nz, gu, gv = f.nz, f.gu, f.gv
    a, ln, sh, wd = nz.strands.T
    ang = math.pi * (1.05 + 0.9 * a)  # an upward fan from the crown, falling down
    d = np.stack([np.cos(ang), np.sin(ang)], 1)  # (n, 2)
    pts = [np.broadcast_to([0.05 * nz.part, f.vc - f.b_up + 0.02], d.shape)]
    for _ in range(10):
        d = d + [0.0, 0.22]  # gravity
        d = d / np.hypot(d[:, :1], d[:, 1:])
        pts.append(pts[-1] + d * (0.04 + 0.05 * ln[:, None]))
    pts = np.stack(pts, 1)  # (n, 11, 2)
    strands = f.cv.lines(zip(pts, 60 + 150 * sh, 0.003 + 0.005 * wd, strict=True))  # (S, S)
    sheen = np.exp(-((np.hypot(gu / f.cap_ru, (gv - f.vc) / f.cap_rv) - 0.8) ** 2) / 0.02)
    sheen = sheen * (gv < f.vc)
    hair = (
        colour * (0.7 + 0.6 * strands)[..., None]
        + (0.08 * sheen + 0.1 * (strands - 0.5))[..., None]
    )  # (S, S, 3)
    if not f.on["Young"]:
        g = (nz.grey * np.clip(0.4 + 1.6 * (strands - 0.35), 0, 1.2))[..., None]
        hair = (1 - g) * hair + g * _GREY
    return np.clip(hair, 0, 1)


def _background(f: _Face) -> np.ndarray:
    """A two-colour linear gradient (S, S, 3)."""
    nz = f.nz
    t = 0.5 + (f.gu * math.cos(nz.bg_angle) + f.gv * math.sin(nz.bg_angle)) * 1.2
    t = np.clip(t, 0, 1)[..., None]
    return ((1 - t) * nz.bg[0] + t * nz.bg[1]).astype(np.float32)


def _clothes(f: _Face) -> None:
    nw = f.nw
    shoulders = _ellipse(0, 0.78, 0.46, 0.36, 2.4, 48)
    neckline = np.array([[-nw - 0.03, 0.38], [nw + 0.03, 0.38], [0, 0.47 + 0.05 * f.nz.lip]])
    f.add("clothes", f.cv.mask(shoulders, cut=[neckline]), f.nz.clothes)


def _hair_back(f: _Face) -> None:
    """Hair behind the head: down to the shoulders (women) or the ears (men)."""
    nz, vc = f.nz, f.vc
    if f.male:
        length, flare = vc + 0.01 + 0.05 * nz.u_hair_len, 0.05
    else:
        length, flare = 0.06 + 0.4 * nz.u_hair_len, 0.12 + 0.1 * nz.u_hair_vol
    top = _ellipse(0, vc, f.cap_ru, f.cap_rv, 2.0, 40, math.pi, 2 * math.pi)
    vs = vc + (length - vc) * np.linspace(0, 1, 8)
    right = np.stack([f.cap_ru + flare * (vs - vc), vs], 1)
    left = right[::-1] * [-1, 1]
    jag = (nz.bangs_jag[:5] - 0.5) * 0.02
    bottom = np.stack([np.linspace(right[-1, 0], -right[-1, 0], 7)[1:-1], length + jag], 1)
    f.add("hair", f.cv.mask(np.vstack([top, right, bottom, left])), f.hair_f)


def _head(f: _Face) -> None:
    """Neck (shadowed under the jaw), ears and the face."""
    nw, cv = f.nw, f.cv
    neck = np.array([[-nw, 0.1], [nw, 0.1], [nw + 0.015, 0.6], [-nw - 0.015, 0.6]])
    neck_shade = 0.72 + 0.18 * np.clip((f.gv - 0.26) / 0.15, 0, 1)
    f.add("skin", cv.mask(neck), f.skin_f * neck_shade[..., None])
    ear_u = f.half_width(0.0) - 0.004
    ears = [_ellipse(s * ear_u, 0.0, 0.026, 0.05, 2.0, 24) for s in (-1, 1)]
    f.add("skin", cv.mask(*ears), f.skin_f * 0.9)
    face = np.vstack([
        _ellipse(0, f.vc, f.fw, f.b_lo, f.jaw_e, 40, 0, math.pi),
        _ellipse(0, f.vc, f.fw, f.b_up, 2.0, 40, math.pi, 2 * math.pi),
    ])  # fmt: skip
    f.add("skin", cv.mask(face), f.skin_f)


def _wrinkles(f: _Face) -> None:
    """Forehead lines, crow's feet, nasolabial folds and bags under the eyes."""
    nz, ey, ex, ew, my, mw = f.nz, f.ey, f.ex, f.ew, f.my, f.mw
    w = 0.0028 + 0.0015 * nz.wrinkle
    strokes = []
    for k in range(3):  # forehead lines
        v0 = ey - 0.105 - 0.022 * k
        c = _spline([[-0.09, v0 + 0.006], [0, v0], [0.09, v0 + 0.006]], 5)
        strokes.append(_stroke(c, _taper(len(c), w)))
    for s in (-1, 1):
        c0 = np.array([s * (ex + ew + 0.006), ey])
        for a in (-0.5, 0.0, 0.5):  # crow's feet
            d = np.array([s * math.cos(a), math.sin(a)])
            c = np.array([c0, c0 + 0.012 * d, c0 + 0.024 * d])
            strokes.append(_stroke(c, _taper(3, w * 0.8)))
        c = _spline([[s * (nz.nose_w + 0.02), f.nose_v - 0.01],
                     [s * (mw + 0.008), my - 0.02],
                     [s * (mw + 0.014), my + 0.03]], 5)  # fmt: skip
        strokes.append(_stroke(c, _taper(len(c), w * 1.3)))
        c = _spline([[s * (ex - ew * 0.7), ey + 0.028], [s * ex, ey + 0.036],
                     [s * (ex + ew * 0.7), ey + 0.028]], 4)  # fmt: skip
        strokes.append(_stroke(c, _taper(len(c), w * 0.8)))
    f.add("wrinkles", f.cv.mask(*strokes) * (0.55 + 0.35 * nz.wrinkle), f.skin_f * 0.55)


def _nose(f: _Face) -> None:
    """Shadows along the bridge and the wings, and the nostrils (darker skin)."""
    nw, nv = f.nz.nose_w, f.nose_v
    nostrils = [_ellipse(s * nw, nv, 0.009, 0.0045, 2.0, 16) for s in (-1, 1)]
    wings = []
    for s in (-1, 1):
        c = _spline([[s * (nw - 0.004), nv - 0.022], [s * (nw + 0.012), nv - 0.004],
                     [s * (nw + 0.004), nv + 0.008]], 4)  # fmt: skip
        wings.append(_stroke(c, _taper(len(c), 0.003)))
    bridge = _stroke(
        _spline([[-0.016, f.ey + 0.01], [-0.018, nv - 0.035], [-0.022, nv - 0.02]], 4),
        _taper(9, 0.004),
    )
    f.add("nose", f.cv.mask(bridge, *wings) * 0.5, f.skin_f * 0.7)
    f.add("nose", f.cv.mask(*nostrils), f.skin_f * 0.4)


def _beard(f: _Face) -> None:
    """Jaw, chin and lower cheeks, leaving the mouth and the upper lip free."""
    nz, fw, my, mw = f.nz, f.fw, f.my, f.mw
    v_top = f.vc + 0.01 + 0.06 * nz.beard_top
    grow = 1.04 + 0.03 * nz.beard_len
    outer = _ellipse(0, f.vc, fw * grow, f.b_lo * grow + 0.01 * nz.beard_len, f.jaw_e, 40, 0,
                     math.pi)  # fmt: skip
    outer = outer[outer[:, 1] >= v_top]
    inner_r = [[fw * 0.86, v_top], [mw + 0.035, my - 0.03], [mw + 0.012, my + 0.012],
               [0.0, my + 0.03 + 0.006 * nz.lip]]  # fmt: skip
    inner = _spline(inner_r + [[-p[0], p[1]] for p in inner_r[-2::-1]], 5)[::-1]
    colour = np.clip(f.facial_hair * _fur(nz, f.size)[..., None], 0, 1)
    f.add("beard", f.cv.mask(np.vstack([outer, inner])) * 0.97, colour)


def _mouth(f: _Face) -> tuple[float, float]:
    """Lips, and the dark inside with upper teeth when open; returns (upper lip height,
    mouth opening)."""
    nz, my, mw, cv = f.nz, f.my, f.mw, f.cv
    lip_c = f.skin + (0.2 if f.male else 0.45) * (np.array([0.72, 0.28, 0.30]) - f.skin)
    fuller = 0.75 if f.male else 1.0
    upper_h, lower_h = 0.012 * nz.lip * fuller, 0.016 * nz.lip * fuller
    is_open = f.on["Mouth_Slightly_Open"]
    if is_open:
        gap = 0.026 + 0.014 * nz.mouth_open
        top_line = _spline([[-mw, my], [-0.4 * mw, my - gap * 0.45], [0, my - gap * 0.5],
                            [0.4 * mw, my - gap * 0.45], [mw, my]], 4)  # fmt: skip
        bot_line = _spline([[mw, my], [0.4 * mw, my + gap * 0.5], [0, my + gap * 0.55],
                            [-0.4 * mw, my + gap * 0.5], [-mw, my]], 4)  # fmt: skip
    else:
        gap = 0.0
        top_line = _spline([[-mw, my], [0, my + 0.002], [mw, my]], 6)
        bot_line = top_line[::-1]
    bow = _spline([[-mw, my], [-0.45 * mw, my - upper_h * 0.9], [-0.12 * mw, my - upper_h],
                   [0, my - upper_h * 0.75], [0.12 * mw, my - upper_h],
                   [0.45 * mw, my - upper_h * 0.9], [mw, my]], 3)  # fmt: skip
    low = my + gap * 0.55  # the lower lip moves down when the mouth opens
    chin_lip = _spline([[mw, my], [0.5 * mw, low + lower_h * 0.85], [0, low + lower_h],
                        [-0.5 * mw, low + lower_h * 0.85], [-mw, my]], 4)  # fmt: skip
    f.add("lips", cv.mask(np.vstack([bow, chin_lip])), lip_c * f.shade[..., None])
    if is_open:
        inside = np.vstack([top_line, bot_line])
        f.add("mouth", cv.mask(inside), np.array([0.22, 0.06, 0.07]))
        teeth = np.vstack([top_line, top_line[::-1] + [0, gap * 0.4]])
        teeth[:, 0] *= 0.8
        f.add("mouth", cv.mask(teeth) * cv.mask(inside), np.array([0.93, 0.90, 0.84]))
    else:
        f.add("mouth", cv.mask(_stroke(top_line, _taper(len(top_line), 0.0028))),
              np.array([0.28, 0.08, 0.08]))  # fmt: skip
    return upper_h, gap


def _mustache(f: _Face, upper_h: float) -> None:
    """From under the nose down over the upper lip, drooping past the mouth corners."""
    my, mw = f.my, f.mw
    lo = my - upper_h * 0.4  # lower edge, on the upper lip
    top = max(lo - 0.026 - 0.014 * f.nz.mus_thick, f.nose_v + 0.013)  # up to under the nose
    half = [
        [0.0, top],
        [0.5 * mw, top + 0.002],
        [mw + 0.006, lo - 0.008],
        [mw + 0.016, my + 0.022],
        [mw + 0.006, my + 0.02],
        [mw - 0.006, lo + 0.003],
        [0.5 * mw, lo],
        [0.0, lo + 0.001],
    ]  # right half, clockwise from the top
    pts = half + [[-p[0], p[1]] for p in half[-2:0:-1]]
    colour = np.clip(f.facial_hair * 0.9 * _fur(f.nz, f.size)[..., None], 0, 1)
    f.add("mustache", f.cv.mask(_spline(pts, 4, closed=True)), colour)


def _eyes(f: _Face) -> None:
    """Almond-shaped whites, iris, pupil, and a lash line (heavier on women: make-up)."""
    nz, ex, ey, ew, eh, male = f.nz, f.ex, f.ey, f.ew, f.eh, f.male
    whites, lids, irises, pupils = [], [], [], []
    xs = np.linspace(-1, 1, 17)
    for s in (-1, 1):
        tilt = 0.006 * s * xs  # outer corners slightly higher
        up = np.stack([s * ex + xs * ew, ey - eh * (1 - xs**2) ** 0.75 - tilt], 1)
        lo = np.stack([s * ex + xs * ew, ey + 0.65 * eh * (1 - xs**2) ** 0.9 - tilt], 1)
        whites.append(np.vstack([up, lo[::-1]]))
        lids.append(_stroke(up, _taper(17, 0.0035 if male else 0.0048, 0.5)))
        if not male:  # a flick of lashes at the outer corner
            o = up[-1] if s > 0 else up[0]
            lids.append(_stroke(np.array([o - [s * 0.012, -0.002], o, o + [s * 0.008, -0.006]]),
                                np.array([0.003, 0.003, 0.001])))  # fmt: skip
        ic = (s * ex + nz.gaze, ey - 0.1 * eh)
        irises.append(_ellipse(*ic, 0.85 * eh, 0.85 * eh, 2.0, 24))
        pupils.append(_ellipse(*ic, 0.35 * eh, 0.35 * eh, 2.0, 16))
    white = f.cv.mask(*whites)
    f.add("eyes", white, np.array([0.93, 0.92, 0.90]))
    f.add("eyes", f.cv.mask(*irises) * white, nz.iris)
    f.add("eyes", f.cv.mask(*pupils) * white, np.array([0.03, 0.03, 0.03]))
    f.add("eyes", f.cv.mask(*lids), np.array([0.12, 0.08, 0.07]))


def _brows(f: _Face) -> None:
    """Thin arched brows, or thick dark ones (Bushy_Eyebrows); lower and straighter on men."""
    ex, ew, male, bushy = f.ex, f.ew, f.male, f.on["Bushy_Eyebrows"]
    brows = []
    for s in (-1, 1):
        by = f.ey - 0.052 + f.nz.brow_y + (0.005 if male else 0.0)
        inner = ex - ew - (0.014 if bushy else 0.006)
        arch = f.nz.brow_arch * (0.5 if male else 1.0)
        c = _spline([[s * inner, by + 0.004], [s * (ex - 0.004), by - 0.008 - arch],
                     [s * (ex + ew + 0.014), by + 0.002]], 6)  # fmt: skip
        n = len(c)
        hw = np.linspace(0.013, 0.009, n) if bushy else np.linspace(0.0048, 0.0022, n)
        hw = hw * (1.2 if male and not bushy else 1.0)
        hw = hw * np.minimum(1.0, np.sin(np.linspace(0.35, math.pi - 0.2, n)) * 1.6)
        brows.append(_stroke(c, hw))
    colour = f.facial_hair * (0.7 if bushy else 1.0)
    f.add("brows", f.cv.mask(*brows) * (1.0 if bushy else 0.85), colour)


def _glasses(f: _Face) -> None:
    """Frames (round to rectangular), a bridge, temple arms that stop short of the face edge
    (so they never touch hair), and an optional lens tint."""
    nz, ex, g_rx, g_ry, g_t, g_cv = f.nz, f.ex, f.g_rx, f.g_ry, f.g_t, f.g_cv
    rings, lenses = [], []
    for s in (-1, 1):
        lenses.append(_ellipse(s * ex, g_cv, g_rx - g_t, g_ry - g_t, nz.glasses_shape, 40))
        rings.append(_ellipse(s * ex, g_cv, g_rx + g_t, g_ry + g_t, nz.glasses_shape, 40))
    if nz.tint > 0:
        f.add("lenses", f.cv.mask(*lenses) * nz.tint, np.array([0.25, 0.28, 0.32]))
    bar_v = g_cv - 0.25 * g_ry
    inner_u = ex - g_rx
    bridge = _stroke(_spline([[-inner_u, bar_v], [0, bar_v - 0.006], [inner_u, bar_v]], 4),
                     g_t * 0.9)  # fmt: skip
    parts = [bridge]
    edge = f.half_width(bar_v) - f.margin
    if edge > ex + g_rx + 0.005:
        for s in (-1, 1):
            arm = np.array([[s * (ex + g_rx - 0.002), bar_v], [s * edge, bar_v - 0.002]])
            parts.append(_stroke(arm, g_t * 0.9))
    f.add("frames", f.cv.mask(*rings, *parts, cut=lenses), nz.frame)


def _hair_front(f: _Face) -> None:
    """The hair above the hairline, and the fringe (Bangs); both end above the glasses."""
    nz, fw, vc = f.nz, f.fw, f.vc
    hl = vc - 0.2 + nz.hairline  # hairline height at the centre
    temple_v = min(-0.125, f.hair_low)
    cap_outer = _ellipse(0, vc, f.cap_ru, f.cap_rv, 2.0, 40, math.pi, 2 * math.pi)
    tu = f.half_width(temple_v) + 0.01
    pu = 0.25 * fw * nz.part  # the parting dips the hairline a little
    hairline = _spline([[tu, temple_v], [0.8 * fw, temple_v - 0.03], [0.45 * fw, hl + 0.015],
                        [pu, hl], [-0.45 * fw, hl + 0.015], [-0.8 * fw, temple_v - 0.03],
                        [-tu, temple_v]], 5)  # fmt: skip
    f.add("hair", f.cv.mask(np.vstack([cap_outer, hairline])), f.hair_f)
    if f.on["Bangs"]:
        low = min(f.ey - 0.075 - 0.02 * nz.bangs_len, f.hair_low)
        k = np.linspace(-1, 1, 9)
        jag = (nz.bangs_jag - 0.5) * 0.014 * (k % 2 == 0)  # uneven strand tips
        edge_v = low + 0.012 * nz.bangs_slant * k - np.abs(k) ** 3 * 0.01 + jag
        edge = np.stack([k * 0.98 * fw, np.minimum(edge_v, f.hair_low)], 1)
        top = _spline([[fw * 0.98, temple_v - 0.02], [0.5 * fw, hl - 0.02], [0, hl - 0.03],
                       [-0.5 * fw, hl - 0.02], [-fw * 0.98, temple_v - 0.02]], 4)  # fmt: skip
        f.add("bangs", f.cv.mask(np.vstack([edge, top])), f.hair_f)


def render_face(
    labels: np.ndarray, nz: Nuisance, size: int, regions: bool = False
) -> np.ndarray | tuple[np.ndarray, dict[str, np.ndarray]]:
    """Draw a face with attribute vector ``labels`` (13 0/1) and nuisance ``nz``.

    Any vector is drawn, also one the label model never samples: several hair colours are
    averaged; Bald removes all hair, the fringe included (so Bangs shows only without
    Bald); Mustache and beards are drawn on any face.

    Args:
        labels: (13,) 0/1 in :data:`ATTRS` order.
        nz: the nuisance of the sample.
        size: output side in pixels.
        regions: also return, per layer group of :data:`GROUPS`, the (S, S) weight with which
            that group shows in each pixel (the weights of a pixel sum to 1).

    Returns:
        ``(S, S, 3)`` ``uint8`` RGB, or ``(image, {group: weight})`` when ``regions``.
    """
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise UserError(
            f"synthetic image size {size} is out of range; use {MIN_SIZE}..{MAX_SIZE} pixels"
        )
    lab = np.asarray(labels).astype(bool)
    if lab.shape != (len(ATTRS),):
        raise ValueError(f"labels must have shape ({len(ATTRS)},), got {lab.shape}")
    f = _Face(lab, nz, size)
    on = f.on
    # back to front; each attribute only changes the layers it names
    _clothes(f)
    if not on["Bald"]:
        _hair_back(f)
    _head(f)
    if not on["Young"]:
        _wrinkles(f)
    _nose(f)
    if not on["No_Beard"]:
        _beard(f)
    upper_lip, _ = _mouth(f)
    if on["Mustache"]:
        _mustache(f, upper_lip)
    _eyes(f)
    _brows(f)
    if on["Eyeglasses"]:
        _glasses(f)
    if not on["Bald"]:
        _hair_front(f)

    out = _background(f)  # (S, S, 3)
    tmp = np.empty_like(out)
    for _, a, c in f.layers:  # out += a * (c - out), in place
        np.subtract(c, out, out=tmp)
        tmp *= a[..., None]
        out += tmp
    light = 1.0 + nz.light * np.clip(
        (f.gu * math.cos(nz.light_angle) + f.gv * math.sin(nz.light_angle)) / 0.35, -1, 1
    )
    img = np.clip(out * light[..., None] * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if not regions:
        return img
    weights = {g: np.zeros((size, size), np.float32) for g in GROUPS}
    cover = np.ones((size, size), np.float32)
    for g, a, _ in reversed(f.layers):
        weights[g] += a * cover
        cover = cover * (1 - a)
    weights["background"] += cover
    return img, weights


class SyntheticFaces:
    """Synthetic faces indexed by integers: labels, images and exact counterfactuals.

    Sample ``index`` of seed ``seed`` is fully determined by the pair; labels and nuisance
    come from independent random streams, so ``render(i, s, other_labels)`` is the same face
    (pose, shapes, colours, lighting) with other attributes: an edit's ground truth.
    """

    ATTRS = DEFAULT_ATTRS

    def __init__(self, seed: int = 0):
        if seed < 0:
            raise UserError(f"synthetic seed must be ≥ 0, got {seed}; use data.synthetic_seed ≥ 0")
        self.seed = int(seed)

    def labels(self, index: int) -> np.ndarray:
        """``(13,)`` ``uint8`` 0/1 labels of sample ``index`` in :data:`DEFAULT_ATTRS` order."""
        return sample_labels(self.seed, index)

    def nuisance(self, index: int) -> Nuisance:
        """The nuisance (everything but the attributes) of sample ``index``."""
        return sample_nuisance(self.seed, index)

    def render(self, index: int, size: int, labels: np.ndarray | None = None) -> np.ndarray:
        """Image ``(size, size, 3)`` ``uint8`` of sample ``index``.

        Args:
            index: sample number (≥ 0).
            size: side in pixels.
            labels: None for the sample's own labels, else a (13,) 0/1 vector: the
                counterfactual with the same nuisance.
        """
        lab = self.labels(index) if labels is None else np.asarray(labels)
        return render_face(lab, self.nuisance(index), size)

    def render_regions(
        self, index: int, size: int, labels: np.ndarray | None = None
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Like :meth:`render`, plus the (S, S) weight of each layer group of :data:`GROUPS`
        in every pixel: ground-truth region masks (hair, eyes, glasses frames, ...)."""
        lab = self.labels(index) if labels is None else np.asarray(labels)
        return render_face(lab, self.nuisance(index), size, regions=True)
