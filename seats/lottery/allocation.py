"""The mechanisms on the validated arrays: deferred or immediate acceptance (numba kernels).

Without families, reserves or ineligible applicants, v1's kernels run on the applicants (the
choice rule is then responsive and both give the same result); otherwise the unit kernels of
rules v2 run on the units, and every member of a unit gets the unit's result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seats.lottery import kernels
from seats.lottery.priorities import Priorities, priorities
from seats.lottery.problem import Lottery

PLACED, UNPLACED, ASSIGNED, INELIGIBLE = "placed", "unplaced", "assigned", "ineligible"


@dataclass
class Allocation:
    school: np.ndarray  # int32 per applicant: school index or -1
    rank: np.ndarray  # int32 per applicant: 0-based choice position, -1 when not by choice
    status: np.ndarray  # object array of PLACED / UNPLACED / ASSIGNED / INELIGIBLE
    priorities: Priorities
    reserve: np.ndarray | None = None  # int64 per applicant: reserve index, -1 general seats
    distance: np.ndarray | None = None  # float per applicant: 统筹 distance (km), nan if none


def reserve_layout(lottery: Lottery) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The reserves of each school in the policy's order, as CSR (ptr, reserve index, seats)."""
    seats = lottery.reserve_seats
    n_schools = len(lottery.schools)
    if seats is None or not seats.shape[1]:
        return np.zeros(n_schools + 1, dtype=np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    school, reserve = np.nonzero(seats > 0)  # row-major: by school, then policy order
    ptr = np.zeros(n_schools + 1, dtype=np.int64)
    np.cumsum(np.bincount(school, minlength=n_schools), out=ptr[1:])
    return ptr, reserve.astype(np.int64), seats[school, reserve].astype(np.int64)


def allocate(lottery: Lottery) -> Allocation:
    """Run the policy's mechanism on the validated arrays."""
    prio = priorities(lottery)
    apps = lottery.applicants
    n = len(apps)
    reserve = np.full(n, -1, dtype=np.int64)
    if not lottery.needs_unit_kernels:
        arrays = (apps.choice_ptr, apps.choice_school, prio.key, lottery.schools.seats)
        if lottery.policy.mechanism == "deferred_acceptance":
            # keys are distinct at every school by construction: no need to check them
            school, rank = kernels.deferred_acceptance(*arrays, check_keys=False)
        else:
            school, rank = kernels.immediate_acceptance(*arrays)
        status = np.where(school >= 0, PLACED, UNPLACED).astype(object)
        return Allocation(school, rank, status, prio, reserve, np.full(n, np.nan))

    units = prio.units
    taking_part = np.flatnonzero(units.eligible)
    # every eligible unit applies with its first member's list
    unit_ptr, unit_school, unit_key, mask = kernels.unit_lists(
        apps.choice_ptr,
        units.first[taking_part],
        apps.choice_school,
        prio.key,
        prio.reserve_mask
        if prio.reserve_mask is not None
        else np.zeros(len(apps.choice_school), np.int8),
    )
    res_ptr, res_bit, res_seats = reserve_layout(lottery)
    size = units.size[taking_part].astype(np.int64)
    seats = lottery.schools.seats.astype(np.int64)
    out_school = np.empty(len(taking_part), dtype=np.int32)
    out_rank = np.empty(len(taking_part), dtype=np.int32)
    out_reserve = np.empty(len(taking_part), dtype=np.int64)
    if lottery.policy.mechanism == "deferred_acceptance":
        kernels._deferred_acceptance_units(
            unit_ptr, unit_school, unit_key, mask, size, seats, res_ptr, res_bit, res_seats,
            out_school, out_rank, out_reserve,
        )  # fmt: skip
    else:
        rank_of_entry = np.arange(unit_ptr[-1]) - np.repeat(unit_ptr[:-1], np.diff(unit_ptr))
        by_round = np.lexsort((unit_key, unit_school, rank_of_entry)).astype(np.int64)
        kernels._immediate_acceptance_units(
            unit_ptr, unit_school, mask, size, seats, res_ptr, res_bit, res_seats, by_round,
            out_school, out_rank, out_reserve,
        )  # fmt: skip
    # every member gets its unit's result
    where = np.full(len(units.size), -1, dtype=np.int64)
    where[taking_part] = np.arange(len(taking_part))
    k = where[units.of]
    joined = k >= 0
    school = np.full(n, -1, dtype=np.int32)
    rank = np.full(n, -1, dtype=np.int32)
    school[joined] = out_school[k[joined]]
    rank[joined] = out_rank[k[joined]]
    reserve[joined] = out_reserve[k[joined]]
    status = np.where(school >= 0, PLACED, UNPLACED).astype(object)
    status[~joined] = INELIGIBLE
    return Allocation(school, rank, status, prio, reserve, np.full(n, np.nan))
