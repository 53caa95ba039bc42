"""The layer painters: one function per part of the face, each adding its own layers.

Back to front (:func:`paint`): background, clothes, hair behind the head, neck, ears, face
skin, wrinkles, nose, beard, lips and mouth, mustache, eyes, eyebrows, glasses, hair in
front. Each attribute decides whether, or how, the painters of its own layers draw, and the
geometry of :class:`~stgan.data.synth.face.Face` keeps a gap of at least two pixels between
layers that must not touch (glasses vs. hair), so an edit changes its own layers only.
"""

from __future__ import annotations

import math

import numpy as np

from stgan.data.synth.face import Face
from stgan.data.synth.nuisance import Nuisance
from stgan.data.synth.shapes import ellipse, spline, stroke, taper

# Layer groups, the keys of render_face(regions=True); "background" is not a painted layer.
GROUPS: tuple[str, ...] = (
    "background", "clothes", "hair", "skin", "wrinkles", "nose", "beard", "lips", "mouth",
    "mustache", "eyes", "brows", "lenses", "frames", "bangs",
)  # fmt: skip


def fur(nz: Nuisance, size: int) -> np.ndarray:
    """Texture (S, S) around 1 of beards and mustaches: smoothed noise."""
    n = np.random.default_rng([nz.tex_seed, size]).random((size + 1, size + 1), np.float32)
    n = 0.25 * (n[:-1, :-1] + n[1:, :-1] + n[:-1, 1:] + n[1:, 1:])  # (S, S)
    return 0.75 + 0.5 * n


def background(f: Face) -> np.ndarray:
    """A two-colour linear gradient (S, S, 3)."""
    nz = f.nz
    t = 0.5 + (f.gu * math.cos(nz.bg_angle) + f.gv * math.sin(nz.bg_angle)) * 1.2
    t = np.clip(t, 0, 1)[..., None]
    return ((1 - t) * nz.bg[0] + t * nz.bg[1]).astype(np.float32)


def clothes(f: Face) -> None:
    """Shoulders in the clothes colour, with a V neckline."""
    nw = f.neck_w
    shoulders = ellipse(0, 0.78, 0.46, 0.36, 2.4, 48)
    neckline = np.array([[-nw - 0.03, 0.38], [nw + 0.03, 0.38], [0, 0.47 + 0.05 * f.nz.lip]])
    f.add("clothes", f.cv.mask(shoulders, cut=[neckline]), f.nz.clothes)


def hair_back(f: Face) -> None:
    """Hair behind the head: down to the shoulders (women) or the ears (men)."""
    nz, vc, cap = f.nz, f.outline.vc, f.cap
    if f.male:
        length, flare = vc + 0.01 + 0.05 * nz.u_hair_len, 0.05
    else:
        length, flare = 0.06 + 0.4 * nz.u_hair_len, 0.12 + 0.1 * nz.u_hair_vol
    top = ellipse(0, vc, cap.ru, cap.rv, 2.0, 40, math.pi, 2 * math.pi)
    vs = vc + (length - vc) * np.linspace(0, 1, 8)
    right = np.stack([cap.ru + flare * (vs - vc), vs], 1)
    left = right[::-1] * [-1, 1]
    jag = (nz.bangs_jag[:5] - 0.5) * 0.02
    bottom = np.stack([np.linspace(right[-1, 0], -right[-1, 0], 7)[1:-1], length + jag], 1)
    f.add("hair", f.cv.mask(np.vstack([top, right, bottom, left])), f.hair_f)


def head(f: Face) -> None:
    """Neck (shadowed under the jaw), ears and the face."""
    nw, cv, o = f.neck_w, f.cv, f.outline
    neck = np.array([[-nw, 0.1], [nw, 0.1], [nw + 0.015, 0.6], [-nw - 0.015, 0.6]])
    neck_shade = 0.72 + 0.18 * np.clip((f.gv - 0.26) / 0.15, 0, 1)
    f.add("skin", cv.mask(neck), f.skin_f * neck_shade[..., None])
    ear_u = o.half_width(0.0) - 0.004
    ears = [ellipse(s * ear_u, 0.0, 0.026, 0.05, 2.0, 24) for s in (-1, 1)]
    f.add("skin", cv.mask(*ears), f.skin_f * 0.9)
    face = np.vstack([
        ellipse(0, o.vc, o.w, o.lo, o.jaw_e, 40, 0, math.pi),
        ellipse(0, o.vc, o.w, o.up, 2.0, 40, math.pi, 2 * math.pi),
    ])  # fmt: skip
    f.add("skin", cv.mask(face), f.skin_f)


def wrinkles(f: Face) -> None:
    """Forehead lines, crow's feet, nasolabial folds and bags under the eyes."""
    nz, e, m = f.nz, f.eyes, f.mouth
    w = 0.0028 + 0.0015 * nz.wrinkle
    strokes = []
    for k in range(3):  # forehead lines
        v0 = e.y - 0.105 - 0.022 * k
        c = spline([[-0.09, v0 + 0.006], [0, v0], [0.09, v0 + 0.006]], 5)
        strokes.append(stroke(c, taper(len(c), w)))
    for s in (-1, 1):
        c0 = np.array([s * (e.x + e.w + 0.006), e.y])
        for a in (-0.5, 0.0, 0.5):  # crow's feet
            d = np.array([s * math.cos(a), math.sin(a)])
            c = np.array([c0, c0 + 0.012 * d, c0 + 0.024 * d])
            strokes.append(stroke(c, taper(3, w * 0.8)))
        c = spline([[s * (nz.nose_w + 0.02), f.nose_v - 0.01],
                    [s * (m.w + 0.008), m.y - 0.02],
                    [s * (m.w + 0.014), m.y + 0.03]], 5)  # fmt: skip
        strokes.append(stroke(c, taper(len(c), w * 1.3)))
        c = spline([[s * (e.x - e.w * 0.7), e.y + 0.028], [s * e.x, e.y + 0.036],
                    [s * (e.x + e.w * 0.7), e.y + 0.028]], 4)  # fmt: skip
        strokes.append(stroke(c, taper(len(c), w * 0.8)))
    f.add("wrinkles", f.cv.mask(*strokes) * (0.55 + 0.35 * nz.wrinkle), f.skin_f * 0.55)


def nose(f: Face) -> None:
    """Shadows along the bridge and the wings, and the nostrils (darker skin)."""
    nw, nv = f.nz.nose_w, f.nose_v
    nostrils = [ellipse(s * nw, nv, 0.009, 0.0045, 2.0, 16) for s in (-1, 1)]
    wings = []
    for s in (-1, 1):
        c = spline([[s * (nw - 0.004), nv - 0.022], [s * (nw + 0.012), nv - 0.004],
                    [s * (nw + 0.004), nv + 0.008]], 4)  # fmt: skip
        wings.append(stroke(c, taper(len(c), 0.003)))
    bridge = stroke(
        spline([[-0.016, f.eyes.y + 0.01], [-0.018, nv - 0.035], [-0.022, nv - 0.02]], 4),
        taper(9, 0.004),
    )
    f.add("nose", f.cv.mask(bridge, *wings) * 0.5, f.skin_f * 0.7)
    f.add("nose", f.cv.mask(*nostrils), f.skin_f * 0.4)


def beard(f: Face) -> None:
    """Jaw, chin and lower cheeks, leaving the mouth and the upper lip free."""
    nz, o, m = f.nz, f.outline, f.mouth
    v_top = o.vc + 0.01 + 0.06 * nz.beard_top
    grow = 1.04 + 0.03 * nz.beard_len
    outer = ellipse(0, o.vc, o.w * grow, o.lo * grow + 0.01 * nz.beard_len, o.jaw_e, 40, 0,
                    math.pi)  # fmt: skip
    outer = outer[outer[:, 1] >= v_top]
    inner_r = [[o.w * 0.86, v_top], [m.w + 0.035, m.y - 0.03], [m.w + 0.012, m.y + 0.012],
               [0.0, m.y + 0.03 + 0.006 * nz.lip]]  # fmt: skip
    inner = spline(inner_r + [[-p[0], p[1]] for p in inner_r[-2::-1]], 5)[::-1]
    colour = np.clip(f.facial_hair * fur(nz, f.size)[..., None], 0, 1)
    f.add("beard", f.cv.mask(np.vstack([outer, inner])) * 0.97, colour)


def mouth(f: Face) -> tuple[float, float]:
    """Lips, and the dark inside with upper teeth when open; returns (upper lip height,
    mouth opening)."""
    nz, my, mw, cv = f.nz, f.mouth.y, f.mouth.w, f.cv
    lip_c = f.skin + (0.2 if f.male else 0.45) * (np.array([0.72, 0.28, 0.30]) - f.skin)
    fuller = 0.75 if f.male else 1.0
    upper_h, lower_h = 0.012 * nz.lip * fuller, 0.016 * nz.lip * fuller
    is_open = f.on["Mouth_Slightly_Open"]
    if is_open:
        gap = 0.026 + 0.014 * nz.mouth_open
        top_line = spline([[-mw, my], [-0.4 * mw, my - gap * 0.45], [0, my - gap * 0.5],
                           [0.4 * mw, my - gap * 0.45], [mw, my]], 4)  # fmt: skip
        bot_line = spline([[mw, my], [0.4 * mw, my + gap * 0.5], [0, my + gap * 0.55],
                           [-0.4 * mw, my + gap * 0.5], [-mw, my]], 4)  # fmt: skip
    else:
        gap = 0.0
        top_line = spline([[-mw, my], [0, my + 0.002], [mw, my]], 6)
        bot_line = top_line[::-1]
    bow = spline([[-mw, my], [-0.45 * mw, my - upper_h * 0.9], [-0.12 * mw, my - upper_h],
                  [0, my - upper_h * 0.75], [0.12 * mw, my - upper_h],
                  [0.45 * mw, my - upper_h * 0.9], [mw, my]], 3)  # fmt: skip
    low = my + gap * 0.55  # the lower lip moves down when the mouth opens
    chin_lip = spline([[mw, my], [0.5 * mw, low + lower_h * 0.85], [0, low + lower_h],
                       [-0.5 * mw, low + lower_h * 0.85], [-mw, my]], 4)  # fmt: skip
    f.add("lips", cv.mask(np.vstack([bow, chin_lip])), lip_c * f.shade[..., None])
    if is_open:
        inside = np.vstack([top_line, bot_line])
        f.add("mouth", cv.mask(inside), np.array([0.22, 0.06, 0.07]))
        teeth = np.vstack([top_line, top_line[::-1] + [0, gap * 0.4]])
        teeth[:, 0] *= 0.8
        f.add("mouth", cv.mask(teeth) * cv.mask(inside), np.array([0.93, 0.90, 0.84]))
    else:
        f.add("mouth", cv.mask(stroke(top_line, taper(len(top_line), 0.0028))),
              np.array([0.28, 0.08, 0.08]))  # fmt: skip
    return upper_h, gap


def mustache(f: Face, upper_h: float) -> None:
    """From under the nose down over the upper lip, drooping past the mouth corners."""
    my, mw = f.mouth.y, f.mouth.w
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
    colour = np.clip(f.facial_hair * 0.9 * fur(f.nz, f.size)[..., None], 0, 1)
    f.add("mustache", f.cv.mask(spline(pts, 4, closed=True)), colour)


def eyes(f: Face) -> None:
    """Almond-shaped whites, iris, pupil, and a lash line (heavier on women: make-up)."""
    nz, e, male = f.nz, f.eyes, f.male
    whites, lids, irises, pupils = [], [], [], []
    xs = np.linspace(-1, 1, 17)
    for s in (-1, 1):
        tilt = 0.006 * s * xs  # outer corners slightly higher
        up = np.stack([s * e.x + xs * e.w, e.y - e.h * (1 - xs**2) ** 0.75 - tilt], 1)
        lo = np.stack([s * e.x + xs * e.w, e.y + 0.65 * e.h * (1 - xs**2) ** 0.9 - tilt], 1)
        whites.append(np.vstack([up, lo[::-1]]))
        lids.append(stroke(up, taper(17, 0.0035 if male else 0.0048, 0.5)))
        if not male:  # a flick of lashes at the outer corner
            o = up[-1] if s > 0 else up[0]
            lids.append(stroke(np.array([o - [s * 0.012, -0.002], o, o + [s * 0.008, -0.006]]),
                               np.array([0.003, 0.003, 0.001])))  # fmt: skip
        ic = (s * e.x + nz.gaze, e.y - 0.1 * e.h)
        irises.append(ellipse(*ic, 0.85 * e.h, 0.85 * e.h, 2.0, 24))
        pupils.append(ellipse(*ic, 0.35 * e.h, 0.35 * e.h, 2.0, 16))
    white = f.cv.mask(*whites)
    f.add("eyes", white, np.array([0.93, 0.92, 0.90]))
    f.add("eyes", f.cv.mask(*irises) * white, nz.iris)
    f.add("eyes", f.cv.mask(*pupils) * white, np.array([0.03, 0.03, 0.03]))
    f.add("eyes", f.cv.mask(*lids), np.array([0.12, 0.08, 0.07]))


def brows(f: Face) -> None:
    """Thin arched brows, or thick dark ones (Bushy_Eyebrows); lower and straighter on men."""
    e, male, bushy = f.eyes, f.male, f.on["Bushy_Eyebrows"]
    strokes = []
    for s in (-1, 1):
        by = e.y - 0.052 + f.nz.brow_y + (0.005 if male else 0.0)
        inner = e.x - e.w - (0.014 if bushy else 0.006)
        arch = f.nz.brow_arch * (0.5 if male else 1.0)
        c = spline([[s * inner, by + 0.004], [s * (e.x - 0.004), by - 0.008 - arch],
                    [s * (e.x + e.w + 0.014), by + 0.002]], 6)  # fmt: skip
        n = len(c)
        hw = np.linspace(0.013, 0.009, n) if bushy else np.linspace(0.0048, 0.0022, n)
        hw = hw * (1.2 if male and not bushy else 1.0)
        hw = hw * np.minimum(1.0, np.sin(np.linspace(0.35, math.pi - 0.2, n)) * 1.6)
        strokes.append(stroke(c, hw))
    colour = f.facial_hair * (0.7 if bushy else 1.0)
    f.add("brows", f.cv.mask(*strokes) * (1.0 if bushy else 0.85), colour)


def glasses(f: Face) -> None:
    """Frames (round to rectangular), a bridge, temple arms that stop short of the face edge
    (so they never touch hair), and an optional lens tint."""
    nz, ex, g = f.nz, f.eyes.x, f.glasses
    rings, lenses = [], []
    for s in (-1, 1):
        lenses.append(ellipse(s * ex, g.v, g.rx - g.t, g.ry - g.t, nz.glasses_shape, 40))
        rings.append(ellipse(s * ex, g.v, g.rx + g.t, g.ry + g.t, nz.glasses_shape, 40))
    if nz.tint > 0:
        f.add("lenses", f.cv.mask(*lenses) * nz.tint, np.array([0.25, 0.28, 0.32]))
    bar_v = g.v - 0.25 * g.ry
    inner_u = ex - g.rx
    bridge = stroke(spline([[-inner_u, bar_v], [0, bar_v - 0.006], [inner_u, bar_v]], 4),
                    g.t * 0.9)  # fmt: skip
    parts = [bridge]
    edge = f.outline.half_width(bar_v) - f.margin
    if edge > ex + g.rx + 0.005:
        for s in (-1, 1):
            arm = np.array([[s * (ex + g.rx - 0.002), bar_v], [s * edge, bar_v - 0.002]])
            parts.append(stroke(arm, g.t * 0.9))
    f.add("frames", f.cv.mask(*rings, *parts, cut=lenses), nz.frame)


def hair_front(f: Face) -> None:
    """The hair above the hairline, and the fringe (Bangs); both end above the glasses."""
    nz, o, cap = f.nz, f.outline, f.cap
    fw, vc = o.w, o.vc
    hl = vc - 0.2 + nz.hairline  # hairline height at the centre
    temple_v = min(-0.125, f.hair_low)
    cap_outer = ellipse(0, vc, cap.ru, cap.rv, 2.0, 40, math.pi, 2 * math.pi)
    tu = o.half_width(temple_v) + 0.01
    pu = 0.25 * fw * nz.part  # the parting dips the hairline a little
    hairline = spline([[tu, temple_v], [0.8 * fw, temple_v - 0.03], [0.45 * fw, hl + 0.015],
                       [pu, hl], [-0.45 * fw, hl + 0.015], [-0.8 * fw, temple_v - 0.03],
                       [-tu, temple_v]], 5)  # fmt: skip
    f.add("hair", f.cv.mask(np.vstack([cap_outer, hairline])), f.hair_f)
    if f.on["Bangs"]:
        low = min(f.eyes.y - 0.075 - 0.02 * nz.bangs_len, f.hair_low)
        k = np.linspace(-1, 1, 9)
        jag = (nz.bangs_jag - 0.5) * 0.014 * (k % 2 == 0)  # uneven strand tips
        edge_v = low + 0.012 * nz.bangs_slant * k - np.abs(k) ** 3 * 0.01 + jag
        edge = np.stack([k * 0.98 * fw, np.minimum(edge_v, f.hair_low)], 1)
        top = spline([[fw * 0.98, temple_v - 0.02], [0.5 * fw, hl - 0.02], [0, hl - 0.03],
                      [-0.5 * fw, hl - 0.02], [-fw * 0.98, temple_v - 0.02]], 4)  # fmt: skip
        f.add("bangs", f.cv.mask(np.vstack([edge, top])), f.hair_f)


def paint(f: Face) -> None:
    """Paint every layer of the face, back to front; each attribute only changes the layers
    it names (Bald removes all hair, the fringe included, so Bangs shows only without Bald)."""
    on = f.on
    clothes(f)
    if not on["Bald"]:
        hair_back(f)
    head(f)
    if not on["Young"]:
        wrinkles(f)
    nose(f)
    if not on["No_Beard"]:
        beard(f)
    upper_lip, _ = mouth(f)
    if on["Mustache"]:
        mustache(f, upper_lip)
    eyes(f)
    brows(f)
    if on["Eyeglasses"]:
        glasses(f)
    if not on["Bald"]:
        hair_front(f)
