"""The random streams of one synthetic sample: independent numpy Generators per concern.

Labels and nuisance come from separate streams seeded with ``(seed, index, stream)``, so a
sample's nuisance does not depend on its labels (the counterfactuals of
:mod:`stgan.data.synth` keep everything but the attributes).
"""

from __future__ import annotations

import numpy as np

from stgan.errors import UserError

LABEL_STREAM, NUISANCE_STREAM = 0, 1


def rng_for(seed: int, index: int, stream: int, *extra: int) -> np.random.Generator:
    """The numpy Generator of one random stream of sample ``index`` (all arguments ≥ 0)."""
    if seed < 0 or index < 0:
        raise UserError(f"synthetic seed and index must be ≥ 0, got seed={seed}, index={index}")
    return np.random.default_rng([int(seed), int(index), stream, *extra])
