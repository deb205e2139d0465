"""The search: the serpentine (S型) start, then the kernels' local search and exact exchanges,
with effort set by the cohort's size only."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from seats.classes import kernels as bk
from seats.classes.cohort import Cohort
from seats.classes.objective import WEIGHTS, feature_scale, lower_bound, pupil_features
from seats.classes.units import Plan, Units, build_units
from seats.io.errors import Problems

SEARCH_STEPS_PER_UNIT = 400


SEARCH_STEPS_MAX = 300_000


SEARCH_RESTARTS_MAX = 16


EXCHANGE_WORK_MAX = 2_000_000  # two-for-two candidates per sweep, above which none are tried


EXCHANGE_WORK_TOTAL = 2_000_000  # candidates per sweep times restarts, with exchanges


EXACT_WORK_MAX = 150_000  # pairs of classes times k-subsets of a class, for k-for-k exchanges


def serpentine_order(cohort: Cohort, pupils: Sequence[int]) -> list[int]:
    """Girls by score (best first; unknown last), then boys, ties by birth date and pupil_id:
    the order in which the S型 method deals pupils."""
    return sorted(
        pupils,
        key=lambda p: (
            -int(cohort.female[p]),
            0 if cohort.has_score[p] else 1,
            -float(cohort.score[p]),
            int(cohort.birth_day[p]),
            cohort.ids[p],
        ),
    )


def serpentine_start(cohort: Cohort, plan: Plan, units: Units, problems: Problems) -> np.ndarray:
    """A feasible start: pinned units, then constrained units (largest first) into the class with
    most room, then single pupils dealt 1..C, C..1, ... skipping full classes."""
    n_bins = len(plan.size_lo)
    lo, hi = plan.size_lo, plan.size_hi
    budget = int(len(plan.pupils) - lo.sum())  # pupils above the lower bounds, in all
    unit_bin = np.full(len(units.size), -1, dtype=np.int64)
    size = np.zeros(n_bins, dtype=np.int64)

    def room(c: int) -> int:
        extra_used = int(np.maximum(size - lo, 0).sum())
        limit = min(int(hi[c]), int(lo[c]) + max(int(size[c] - lo[c]), 0) + budget - extra_used)
        return limit - int(size[c])

    def allowed(u: int, c: int) -> bool:
        neighbours = units.apart_unit[units.apart_ptr[u] : units.apart_ptr[u + 1]]
        return room(c) >= units.size[u] and not (unit_bin[neighbours] == c).any()

    def put(u: int, c: int) -> None:
        unit_bin[u] = c
        size[c] += units.size[u]

    for u in np.flatnonzero(units.pinned_bin >= 0).tolist():
        put(u, int(units.pinned_bin[u]))
    degree = np.diff(units.apart_ptr)
    constrained = [
        u
        for u in range(len(units.size))
        if unit_bin[u] < 0 and (units.size[u] > 1 or degree[u] > 0)
    ]
    constrained.sort(key=lambda u: (-int(units.size[u]), -int(degree[u]), u))
    for u in constrained:
        options = [c for c in range(n_bins) if allowed(u, c)]
        if not options:
            pupils = [cohort.who(int(plan.pupils[k])) for k in units.members[u]]
            partners = [
                cohort.who(int(plan.pupils[k]))
                for v in units.apart_unit[units.apart_ptr[u] : units.apart_ptr[u + 1]].tolist()
                for k in units.members[v]
            ]
            problems.add(
                *cohort.where(int(plan.pupils[units.members[u][0]])),
                "apart_from",
                f"no class at {plan.key} can take pupils {', '.join(pupils)}: apart_from "
                f"{', '.join(partners) or 'nobody'} and the class sizes leave no room",
            )
            return unit_bin
        put(u, max(options, key=lambda c: (room(c), -c)))
    singles = [
        int(plan.pupils[k])
        for u in range(len(units.size))
        if unit_bin[u] < 0
        for k in units.members[u]
    ]
    position = {int(p): k for k, p in enumerate(plan.pupils)}
    sequence = list(range(n_bins)) + list(reversed(range(n_bins)))
    turn = 0
    for p in serpentine_order(cohort, singles):
        u = int(units.of[position[p]])
        while room(sequence[turn % len(sequence)]) < 1:
            turn += 1
        put(u, sequence[turn % len(sequence)])
        turn += 1
    return unit_bin


def _stream(seed: str, key: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}\nclasses\n{key}".encode()).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(digest[:8], "big")))


@dataclass
class Solved:
    plan: Plan
    pupil_bin: np.ndarray  # per plan pupil
    start_bin: np.ndarray
    objective_start: int
    objective: int


def search_effort(n_units: int, n_bins: int) -> tuple[int, int, bool, int]:
    """(steps per restart, restarts, two-for-two exchanges on, largest k for the exact k-for-k
    exchanges: 0 = none) for a plan of this size."""
    if n_bins < 2:
        return 0, 1, False, 0
    steps = min(SEARCH_STEPS_PER_UNIT * n_units, SEARCH_STEPS_MAX)
    per_class = -(-n_units // n_bins)
    pairs = n_bins * (n_bins - 1) // 2
    work = pairs * (per_class * (per_class - 1) // 2) ** 2
    exchange = work <= EXCHANGE_WORK_MAX
    restarts = EXCHANGE_WORK_TOTAL // max(work, 1) if exchange else 1
    k_max = 0
    while (
        exchange
        and k_max < per_class
        and pairs * math.comb(per_class, k_max + 1) <= (EXACT_WORK_MAX)
    ):
        k_max += 1
    return steps, max(1, min(SEARCH_RESTARTS_MAX, restarts)), exchange, k_max


def solve_plan(cohort: Cohort, plan: Plan, seed: str, problems: Problems) -> Solved | None:
    units = build_units(cohort, plan, problems)
    if problems:
        return None
    start = serpentine_start(cohort, plan, units, problems)
    if problems:
        return None
    n_bins = len(plan.size_lo)
    scale = feature_scale(len(plan.pupils), n_bins, int(plan.size_hi.max()))
    values = pupil_features(cohort, plan.pupils, scale)
    unit_values = np.zeros((len(units.size), values.shape[1]), dtype=np.int64)
    np.add.at(unit_values, units.of, values)
    rng = _stream(seed, plan.key)
    n_units = len(units.size)
    order = rng.permutation(n_units).astype(np.int64)
    steps, restarts, exchange, k_max = search_effort(n_units, n_bins)
    problem = bk.ClassProblem(
        unit_values,
        units.size,
        units.pinned_bin >= 0,
        units.apart_ptr,
        units.apart_unit,
        plan.size_lo,
        plan.size_hi,
        WEIGHTS,
        order,
    )
    best, out = None, np.empty(n_units, dtype=np.int64)
    for _ in range(restarts):
        proposals = np.empty((steps, 3), dtype=np.int64)
        proposals[:, 0] = rng.integers(0, n_units, steps)
        proposals[:, 1] = rng.integers(0, n_units, steps)
        proposals[:, 2] = rng.integers(0, 4, steps) == 0  # one move in four, the rest swaps
        found = np.empty(n_units, dtype=np.int64)
        objective = int(bk.improve_classes(start, problem, proposals, exchange, found))
        if best is None or objective < best:  # ties: the earlier restart
            best, out = objective, found
    if k_max:
        best = int(
            bk.exact_exchanges(
                out, problem, k_max, exchange, lower_bound(unit_values, units.size, plan)
            )
        )
    objective_start = bk.class_objective(start, unit_values, units.size, n_bins, WEIGHTS)
    return Solved(plan, out[units.of], start[units.of], int(objective_start), best)
