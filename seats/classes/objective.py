"""What "balanced" means: seven features per pupil in integer units, their weights, and a
lower bound on the objective (see :mod:`seats.classes.form` for the definition)."""

from __future__ import annotations

import math

import numpy as np

from seats.classes.cohort import Cohort
from seats.classes.units import Plan

FEATURES = ("girls", "special_needs", "migrant", "age", "age_spread", "score", "score_spread")


WEIGHTS = np.array([16, 16, 16, 2, 1, 8, 2], dtype=np.int64)


Z_CLIP = 4.0


MAX_SCALE = 64


INT_BUDGET = 2**61  # the objective (and every delta) stays far below int64's 2**63


def _z(values: list[float]) -> list[float]:
    """z-scores with exactly rounded sums (math.fsum), so every machine gets the same numbers."""
    if not values:
        return []
    mean = math.fsum(values) / len(values)
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))
    if sd == 0.0:
        return [0.0] * len(values)
    return [max(-Z_CLIP, min(Z_CLIP, (v - mean) / sd)) for v in values]


def feature_scale(n_pupils: int, n_bins: int, largest_bin: int) -> int:
    """The largest scale Q <= MAX_SCALE for which no objective value can overflow int64."""
    vmax = Z_CLIP  # per unit of Q, the largest absolute feature value
    room = INT_BUDGET / (n_bins * int(WEIGHTS.sum()))
    scale = int(math.sqrt(room) / (2 * n_pupils * largest_bin * vmax))
    if scale < 1:
        raise ValueError(f"{n_pupils} pupils are too many to balance in one school or group")
    return min(scale, MAX_SCALE)


def pupil_features(cohort: Cohort, pupils: np.ndarray, scale: int) -> np.ndarray:
    """int64[len(pupils), 7] in units of 1/scale (see the module docstring)."""
    idx = pupils.tolist()
    age = _z([float(cohort.birth_day[p]) for p in idx])
    known = [p for p in idx if cohort.has_score[p]]
    z_known = dict(zip(known, _z([float(cohort.score[p]) for p in known]), strict=True))
    spread_if_unknown = math.fsum(abs(v) for v in z_known.values()) / max(len(z_known), 1)
    out = np.zeros((len(idx), len(FEATURES)), dtype=np.int64)
    for k, p in enumerate(idx):
        z = z_known.get(p)
        out[k] = [
            scale * int(cohort.female[p]),
            scale * int(cohort.special[p]),
            scale * int(cohort.migrant[p]),
            round(scale * age[k]),
            round(scale * abs(age[k])),
            round(scale * z) if z is not None else 0,
            round(scale * (abs(z) if z is not None else spread_if_unknown)),
        ]
    return out


def lower_bound(
    unit_values: np.ndarray, unit_size: np.ndarray, plan: Plan, weights: np.ndarray = WEIGHTS
) -> int:
    """A lower bound on the objective (-1 if the classes' size bounds differ): class totals of
    feature f are multiples of g_f (the gcd of its values) and sum to T_f, and the class sizes
    are known up to order; dropping every other link between the classes, each feature's
    minimum is separable and convex, reached by handing out steps of g_f one at a time to the
    class of least marginal cost."""
    lo, hi = int(plan.size_lo.min()), int(plan.size_hi.max())
    n_total, n_bins = int(unit_size.sum()), len(plan.size_lo)
    if int(plan.size_lo.max()) != lo or int(plan.size_hi.min()) != hi or hi - lo > 1:
        return -1
    big = n_total - n_bins * lo
    if not 0 <= big <= n_bins or (big and hi == lo):
        return -1
    sizes = [lo + 1] * big + [lo] * (n_bins - big)
    bound = 0
    for f in range(unit_values.shape[1]):
        g = math.gcd(*(int(v) for v in unit_values[:, f])) or 1
        t = int(unit_values[:, f].sum()) // g
        share = [sizes[c] * t // n_total for c in range(n_bins)]  # floors: fewer than n_bins short
        for _ in range(t - sum(share)):
            c = min(
                range(n_bins),
                key=lambda c, t=t, share=share: (
                    (n_total * (share[c] + 1) - sizes[c] * t) ** 2
                    - (n_total * share[c] - sizes[c] * t) ** 2
                ),
            )
            share[c] += 1
        bound += (
            int(weights[f])
            * g
            * g
            * sum((n_total * share[c] - sizes[c] * t) ** 2 for c in range(n_bins))
        )
    return bound
