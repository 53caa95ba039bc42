"""The label model of the synthetic faces: 13 bits at CelebA's rates and co-occurrences.

A maximum-entropy (pairwise log-linear) distribution over the 13 attributes of
:data:`~stgan.attributes.DEFAULT_ATTRS` whose marginals and pairwise co-occurrences match
CelebA's (reference §5 dataset), restricted to the states that obey the hard rules
Bald ⇒ Male, Mustache ⇒ Male, no Bald with Bangs and at most one hair colour.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from stgan.attributes import DEFAULT_ATTRS
from stgan.data.synth.streams import LABEL_STREAM, rng_for

ATTRS: tuple[str, ...] = DEFAULT_ATTRS
INDEX = {name: k for k, name in enumerate(ATTRS)}

# CelebA statistics, from its list_attr_celeba.txt (images 000001-020000).
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

HAIR_COLOURS = ("Black_Hair", "Blond_Hair", "Brown_Hair")
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
    bald, male, mus, bangs = (s[:, INDEX[a]] for a in ("Bald", "Male", "Mustache", "Bangs"))
    n_col = s[:, [INDEX[a] for a in HAIR_COLOURS]].sum(1)
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


def sample_labels(seed: int, index: int) -> np.ndarray:
    """The labels of sample ``index``: ``(13,)`` ``uint8`` 0/1 in :data:`ATTRS` order."""
    states, cdf = label_table()
    u = rng_for(seed, index, LABEL_STREAM).random()
    return states[min(int(np.searchsorted(cdf, u, side="right")), len(cdf) - 1)].copy()
