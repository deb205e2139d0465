"""What a draw yields per school: waitlists (候补) and the per-school figures with cutoffs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seats.lottery.allocation import ASSIGNED, Allocation
from seats.lottery.problem import Lottery


def waitlists(lottery: Lottery, allocation: Allocation) -> tuple[np.ndarray, np.ndarray]:
    """(school, applicant) pairs of every waitlist, ordered by school then priority.

    A school's waitlist holds the applicants who ranked it above their placement by choice
    (or ranked it and were not placed by choice)."""
    entry_app = lottery.entry_applicant
    position = lottery.entry_position
    placed_rank = allocation.rank[entry_app]
    waiting = (placed_rank < 0) | (position < placed_rank)
    school = lottery.applicants.choice_school[waiting].astype(np.int64)
    key = allocation.priorities.key[waiting]
    # Order by (school, key) as one integer: keys at a school are distinct and below key_span.
    key_span = int(key.max()) + 1 if len(key) else 1
    order = np.argsort(school * key_span + key)
    return school[order], entry_app[waiting][order]


@dataclass
class SchoolResult:
    school_id: str
    seats: int
    applicants: int
    first_choices: int
    by_tier: list[int]
    placed: int
    assigned: int
    seats_left: int
    cutoff_tier: str
    cutoff_number: str
    waitlist: int


def school_results(
    lottery: Lottery, allocation: Allocation, waitlist_school: np.ndarray
) -> list[SchoolResult]:
    schools, apps, prio = lottery.schools, lottery.applicants, allocation.priorities
    n_schools, n_tiers = len(schools), len(lottery.policy.tiers) + 1
    entry_school = apps.choice_school.astype(np.int64)
    by_tier = np.zeros((n_schools, n_tiers), dtype=np.int64)
    np.add.at(by_tier, (entry_school, prio.tier), 1)
    first = apps.choice_ptr[:-1][np.diff(apps.choice_ptr) > 0]
    first_choices = np.bincount(entry_school[first], minlength=n_schools)
    by_choice = allocation.rank >= 0
    placed = np.bincount(allocation.school[by_choice], minlength=n_schools)
    assigned = np.bincount(allocation.school[allocation.status == ASSIGNED], minlength=n_schools)
    waitlist = np.bincount(waitlist_school, minlength=n_schools)

    # The cutoff is the admitted-by-choice entry with the largest key at each school (keys at
    # a school are distinct, so exactly one entry per school with admissions matches).
    placed_apps = np.flatnonzero(by_choice)
    placed_entries = apps.choice_ptr[placed_apps] + allocation.rank[placed_apps]
    placed_school = entry_school[placed_entries]
    placed_key = prio.key[placed_entries]
    largest_key = np.full(n_schools, -1, dtype=np.int64)
    np.maximum.at(largest_key, placed_school, placed_key)
    last = placed_key == largest_key[placed_school]
    cutoff_entry = np.full(n_schools, -1, dtype=np.int64)
    cutoff_app = np.full(n_schools, -1, dtype=np.int64)
    cutoff_entry[placed_school[last]] = placed_entries[last]
    cutoff_app[placed_school[last]] = placed_apps[last]
    names = lottery.policy.tier_names
    results = []
    for s in range(n_schools):
        e, a = int(cutoff_entry[s]), int(cutoff_app[s])
        results.append(
            SchoolResult(
                school_id=schools.ids[s],
                seats=int(schools.seats[s]),
                applicants=int(by_tier[s].sum()),
                first_choices=int(first_choices[s]),
                by_tier=by_tier[s].tolist(),
                placed=int(placed[s]),
                assigned=int(assigned[s]),
                seats_left=int(schools.seats[s] - placed[s] - assigned[s]),
                cutoff_tier=names[prio.tier[e]] if e >= 0 else "",
                cutoff_number=prio.entry_number(e, a) if e >= 0 else "",
                waitlist=int(waitlist[s]),
            )
        )
    return results
