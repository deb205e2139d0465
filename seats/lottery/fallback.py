"""The 统筹 stage (``--fallback nearest``): every eligible child still unplaced after the draw,
in ascending order of their single-form lottery number, gets the nearest school of the
lottery's level in ``fallback_sectors`` (default public: 统筹安排到有空余学位的公办学校) with a
seat left. Distance from the child's community point where ``communities.csv`` and
``community_id`` give one, else from the zone centre; ties by school_id. A family goes
together: its smallest member number orders it, its point is that member's, and the school
needs one seat left (DESIGN.md, rules v2)."""

from __future__ import annotations

import math

import numpy as np

from seats.io.errors import InputError, Problem
from seats.lottery.allocation import ASSIGNED, UNPLACED, Allocation
from seats.lottery.problem import Lottery


def fallback_schools(lottery: Lottery) -> np.ndarray:
    """Indices of the schools the 统筹 stage may seat children in (by sector)."""
    table = lottery.schools.table
    if not table.has("sector"):
        return np.arange(len(lottery.schools))  # a v1 schools file: no sectors to keep to
    sectors = np.array(table.text("sector"), dtype=object)
    return np.flatnonzero(np.isin(sectors, list(lottery.policy.fallback_sectors)))


def _point(lottery: Lottery, a: int) -> tuple[float, float]:
    apps, communities, zones = lottery.applicants, lottery.communities, lottery.zones
    community = apps.community_ids[a] if apps.community_ids else ""
    if communities is not None and community in communities.index:
        c = communities.index[community]
        return float(communities.x_km[c]), float(communities.y_km[c])
    if zones is None or apps.zone_ids[a] not in zones.index:
        raise InputError(
            Problem(
                apps.table.name,
                apps.table.lines[a],
                "zone_id",
                f"the 统筹 stage needs a point for {apps.ids[a]}: give the zones file "
                "(--zones) or communities.csv with its community_id",
            )
        )
    z = zones.index[apps.zone_ids[a]]
    return float(zones.x_km[z]), float(zones.y_km[z])


def fallback_nearest(lottery: Lottery, allocation: Allocation) -> int:
    """Seat the unplaced (see the module's docstring); returns how many were assigned. Any
    left over means the level has too few seats in those sectors."""
    schools = lottery.schools
    table = schools.table
    if not table.require(("x_km", "y_km")):
        table.problems.raise_if_any()
    x, y = table.floats("x_km").tolist(), table.floats("y_km").tolist()
    table.problems.raise_if_any()
    candidates = fallback_schools(lottery)
    taken = np.bincount(allocation.school[allocation.school >= 0], minlength=len(schools))
    seats_left = (schools.seats - taken).astype(np.int64)
    units = allocation.priorities.units
    digests = allocation.priorities.applicant_digest
    waiting = allocation.status == UNPLACED
    # each unit once, led by its member with the smallest single-form number
    lead: dict[int, int] = {}
    for a in sorted(np.flatnonzero(waiting).tolist(), key=lambda a: digests[32 * a : 32 * a + 32]):
        lead.setdefault(int(units.of[a]), a)
    nearest: dict[tuple[float, float], list[tuple[float, str, int]]] = {}
    cursor: dict[tuple[float, float], int] = {}
    assigned = 0
    for unit, a in lead.items():
        point = _point(lottery, a)
        if point not in nearest:
            nearest[point] = sorted(
                (math.hypot(x[s] - point[0], y[s] - point[1]), schools.ids[s], s)
                for s in candidates.tolist()
            )
            cursor[point] = 0
        listed, i = nearest[point], cursor[point]
        while i < len(listed) and seats_left[listed[i][2]] <= 0:
            i += 1  # seats only ever run out, so a full school is skipped for good
        cursor[point] = i
        if i == len(listed):
            continue
        distance, _, s = listed[i]
        members = [a] if units.size[unit] == 1 else units.members(unit)
        for m in members:
            allocation.school[m] = s
            allocation.status[m] = ASSIGNED
            allocation.distance[m] = distance
        seats_left[s] -= len(members)
        assigned += len(members)
    return assigned
