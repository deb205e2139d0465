"""What a draw yields per school: waitlists (候补) and the per-school figures with cutoffs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seats.lottery import kernels
from seats.lottery.allocation import ASSIGNED, INELIGIBLE, Allocation
from seats.lottery.problem import Lottery


def waitlists(lottery: Lottery, allocation: Allocation) -> tuple[np.ndarray, np.ndarray]:
    """(school, applicant) pairs of every waitlist, ordered by school then priority.

    A school's waitlist holds the eligible applicants who ranked it above their placement by
    choice (or ranked it and were not placed by choice). Units stand by the unit's priority;
    members of a unit together, by their own number there (DESIGN.md, rules v2)."""
    prio = allocation.priorities
    waiting, app = kernels.waiting_entries(
        lottery.applicants.choice_ptr, allocation.rank, allocation.status != INELIGIBLE
    )
    school = lottery.applicants.choice_school[waiting].astype(np.int64)
    key = prio.key[waiting]
    own = prio.number_rank[waiting]
    return school[(order := _order_by(school, key, own))], app[order]


def _order_by(*columns: np.ndarray) -> np.ndarray:
    """The order of np.lexsort(columns[::-1]) (first column first) for non-negative integer
    columns; packed into one int64 and sorted once where that fits (a national draw's
    million waitlist entries: one sort instead of three)."""
    lows = [int(c.min(initial=0)) for c in columns]
    spans = [int(c.max(initial=0)) - low + 1 for c, low in zip(columns, lows, strict=True)]
    if np.prod([float(s) for s in spans]) >= 2.0**62:
        return np.lexsort(columns[::-1])
    packed = np.zeros(len(columns[0]), dtype=np.int64)
    for column, low, span in zip(columns, lows, spans, strict=True):
        packed = packed * span + (column.astype(np.int64) - low)
    return np.argsort(packed, kind="stable")


@dataclass
class SchoolResult:
    school_id: str
    seats: int
    applicants: int
    first_choices: int
    by_tier: list[int]  # applicants listing the school, by their own tier (policy.tier_names)
    placed: int
    assigned: int
    seats_left: int
    cutoff_tier: str
    cutoff_number: str
    waitlist: int
    reserve_filled: list[int] = field(default_factory=list)  # placed under each reserve
    excess: int = 0  # admitted beyond the seats: families enter whole (多胞胎随同录取)


def tier_names_at(lottery: Lottery) -> list[list[str]]:
    """Per tier list (policy's, then each school rule's): its names, ``open`` last."""
    return [[t.name for t in tiers] + ["open"] for tiers in lottery.policy.tier_lists]


def school_results(
    lottery: Lottery, allocation: Allocation, waitlist_school: np.ndarray
) -> list[SchoolResult]:
    schools, apps, prio = lottery.schools, lottery.applicants, allocation.priorities
    names = lottery.policy.tier_names
    n_schools, n_tiers = len(schools), len(names)
    entry_school = apps.choice_school  # (int32: entry-sized arrays are kept narrow here)
    lists = tier_names_at(lottery)
    school_list = (
        lottery.tier_list if lottery.tier_list is not None else np.zeros(n_schools, np.int64)
    ).astype(np.int32)
    # tier index in the school's own list -> index in policy.tier_names
    to_global = np.full((len(lists), max(len(x) for x in lists)), -1, dtype=np.int32)
    for k, listed in enumerate(lists):
        to_global[k, : len(listed)] = [names.index(name) for name in listed]
    # applicants who take part: the ineligible (born outside the window) are not counted
    by_tier = kernels.count_by_tier(
        apps.choice_ptr,
        allocation.status != INELIGIBLE,
        entry_school,
        prio.tier,
        school_list,
        to_global,
        n_tiers,
    )
    first = apps.choice_ptr[:-1][(np.diff(apps.choice_ptr) > 0) & (allocation.status != INELIGIBLE)]
    first_choices = np.bincount(entry_school[first], minlength=n_schools)
    by_choice = allocation.rank >= 0
    placed = np.bincount(allocation.school[by_choice], minlength=n_schools)
    assigned = np.bincount(allocation.school[allocation.status == ASSIGNED], minlength=n_schools)
    waitlist = np.bincount(waitlist_school, minlength=n_schools)
    n_reserves = len(lottery.policy.reserves)
    reserve_filled = np.zeros((n_schools, n_reserves), dtype=np.int64)
    if n_reserves:
        under = by_choice & (allocation.reserve >= 0)
        np.add.at(reserve_filled, (allocation.school[under], allocation.reserve[under]), 1)

    # The cutoff is the admitted-by-choice entry with the largest key at each school (one
    # unit: keys at a school are distinct between units, shared by a family's members), on
    # the general seats: a child admitted on a reserve seat may come after children turned
    # away, so reserve seats set the cutoff only where no general seat was taken.
    general = by_choice
    if allocation.reserve is not None:
        general = by_choice & (allocation.reserve < 0)
    has_general = np.bincount(allocation.school[general], minlength=n_schools) > 0
    deciding = general | (by_choice & ~has_general[np.maximum(allocation.school, 0)])
    placed_apps = np.flatnonzero(deciding)
    placed_entries = apps.choice_ptr[placed_apps] + allocation.rank[placed_apps]
    placed_school = entry_school[placed_entries]
    placed_key = prio.key[placed_entries]
    largest_key = np.full(n_schools, -1, dtype=np.int64)
    np.maximum.at(largest_key, placed_school, placed_key)
    last = placed_key == largest_key[placed_school]
    cutoff_entry = np.full(n_schools, -1, dtype=np.int64)
    cutoff_entry[placed_school[last]] = placed_entries[last]
    results = []
    for s in range(n_schools):
        e = int(cutoff_entry[s])
        admitted = int(placed[s] + assigned[s])
        results.append(
            SchoolResult(
                school_id=schools.ids[s],
                seats=int(schools.seats[s]),
                applicants=int(by_tier[s].sum()),
                first_choices=int(first_choices[s]),
                by_tier=by_tier[s].tolist(),
                placed=int(placed[s]),
                assigned=int(assigned[s]),
                seats_left=max(0, int(schools.seats[s]) - admitted),
                cutoff_tier=lists[school_list[s]][prio.unit_tier[e]] if e >= 0 else "",
                cutoff_number=prio.number_hex(int(prio.unit_number_rank[e])) if e >= 0 else "",
                waitlist=int(waitlist[s]),
                reserve_filled=reserve_filled[s].tolist(),
                excess=max(0, admitted - int(schools.seats[s])),
            )
        )
    return results
