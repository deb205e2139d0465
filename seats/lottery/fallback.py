"""The 统筹 stage: children still unplaced get the nearest school with a seat left."""

from __future__ import annotations

import numpy as np

from seats.lottery.allocation import ASSIGNED, Allocation
from seats.lottery.problem import Lottery


def fallback_nearest(lottery: Lottery, allocation: Allocation) -> int:
    """Second stage for compulsory education: each applicant still unplaced, in lottery-number
    order, gets the nearest school with seats left (from the zone centre; ties by school_id).
    Returns how many were assigned; any left over means the level has too few seats."""
    if lottery.zones is None:
        raise ValueError("the nearest-school fallback needs the zones file")
    schools, zones, apps = lottery.schools, lottery.zones, lottery.applicants
    table = schools.table
    if not table.require(("x_km", "y_km")):
        table.problems.raise_if_any()
    x, y = table.floats("x_km"), table.floats("y_km")
    table.problems.raise_if_any()
    seats_left = schools.seats - np.bincount(
        allocation.school[allocation.school >= 0], minlength=len(schools)
    )
    unplaced = np.flatnonzero(allocation.school < 0)
    digests = allocation.priorities.applicant_digest
    order = sorted(unplaced.tolist(), key=lambda a: digests[32 * a : 32 * a + 32])
    by_id = np.argsort(np.array(schools.ids, dtype=object), kind="stable")
    id_rank = np.empty(len(schools), dtype=np.int64)
    id_rank[by_id] = np.arange(len(schools))
    nearest: dict[int, list[int]] = {}  # zone -> schools by (distance, school_id)
    cursor: dict[int, int] = {}
    assigned = 0
    for a in order:
        zone = zones.index[apps.zone_ids[a]]
        if zone not in nearest:
            distance = np.hypot(x - zones.x_km[zone], y - zones.y_km[zone])
            nearest[zone] = np.lexsort((id_rank, distance)).tolist()
            cursor[zone] = 0
        candidates, i = nearest[zone], cursor[zone]
        while i < len(candidates) and seats_left[candidates[i]] <= 0:
            i += 1  # seats only ever run out, so a full school is skipped for good
        cursor[zone] = i
        if i == len(candidates):
            continue
        s = candidates[i]
        seats_left[s] -= 1
        allocation.school[a] = s
        allocation.status[a] = ASSIGNED
        assigned += 1
    return assigned
