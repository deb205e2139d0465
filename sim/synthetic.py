"""A synthetic city in the district data contract, of any size, for benchmarks and tests.

Zones sit on a grid 2 km apart; each zone gets its share of the schools, placed uniformly in a
disc of 1.2 km around its centre (as in the embedded district). Entry seats are drawn so that the
city as a whole has about 10% more places than children but single zones run short or long,
which gives the flow real work. Every 4 schools of a level form a group: an education group for
primary and junior schools (campuses in neighbouring zones), a community for kindergartens.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from seats.io.model import SCHOOL_COLUMNS
from seats.io.output import write_csv
from sim.network import LEVEL_YEARS

GROUP_SIZE = 4  # campuses of a group, as in Xinghualing's (2-5)
BIRTH_YEARS = range(2010, 2021)


def write_synthetic_city(
    folder: Path | str,
    *,
    zones: int,
    schools: int,
    levels: tuple[str, ...] = ("kindergarten",),
    seed: int = 0,
) -> Path:
    """Write zones, schools, groups, group_members and births CSVs of a synthetic city; `schools`
    are split evenly across `levels`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    side = math.ceil(math.sqrt(zones))
    zone_ids = [f"Z{z:04d}" for z in range(zones)]
    zx = 2.0 * (np.arange(zones) % side)
    zy = 2.0 * (np.arange(zones) // side)
    # A zone's births per year; its schools' seats follow the city-wide mean, so zones differ.
    births = rng.integers(40, 160, size=zones)
    write_csv(
        folder / "zones.csv",
        ["zone_id", "name", "kind", "x_km", "y_km", "population"],
        (
            [zone_ids[z], f"zone {z}", "street", f"{zx[z]:.3f}", f"{zy[z]:.3f}", births[z] * 115]
            for z in range(zones)
        ),
    )
    write_csv(
        folder / "births.csv",
        ["zone_id", "year", "births"],
        ([zone_ids[z], y, int(births[z])] for z in range(zones) for y in BIRTH_YEARS),
    )

    school_rows, group_rows, member_rows = [], [], []
    per_level = [schools // len(levels) + (k < schools % len(levels)) for k in range(len(levels))]
    for level, count in zip(levels, per_level, strict=True):
        zone_of = np.sort(rng.integers(0, zones, size=count))  # sorted: groups stay local
        # Entry seats: the zone's mean per school, city-wide 1.1 x one year of births.
        mean_seats = 1.1 * births.sum() / max(count, 1)
        seats = np.maximum(1, rng.normal(mean_seats, 0.3 * mean_seats, size=count)).astype(int)
        radius = 1.2 * np.sqrt(rng.random(count))
        angle = 2 * np.pi * rng.random(count)
        prefix = level[0].upper()
        ids = [f"{prefix}{k:05d}" for k in range(count)]
        cap = {"kindergarten": 30, "primary": 45, "junior": 50}[level]
        for k in range(count):
            z = zone_of[k]
            on_roll = int(seats[k]) * LEVEL_YEARS[level]
            school_rows.append(
                [
                    ids[k],
                    f"{level} {k}",
                    level,
                    "public" if k % 2 == 0 else "inclusive_private",
                    zone_ids[z],
                    int(seats[k]),
                    int(on_roll * 0.9),
                    math.ceil(on_roll / cap),
                    cap,
                    f"{zx[z] + radius[k] * np.cos(angle[k]):.3f}",
                    f"{zy[z] + radius[k] * np.sin(angle[k]):.3f}",
                ]
            )
        kind = "kindergarten_community" if level == "kindergarten" else "education_group"
        for g, start in enumerate(range(0, count - 1, GROUP_SIZE)):
            group_id = f"{prefix}G{g:04d}"
            members = ids[start : start + GROUP_SIZE]
            group_rows.append([group_id, f"{level} group {g}", kind, members[0]])
            role = "member" if kind != "education_group" else "branch"
            member_rows += [
                [group_id, m, "lead" if i == 0 else role] for i, m in enumerate(members)
            ]
    write_csv(folder / "schools.csv", list(SCHOOL_COLUMNS), school_rows)
    write_csv(folder / "groups.csv", ["group_id", "name", "kind", "lead_school_id"], group_rows)
    write_csv(folder / "group_members.csv", ["group_id", "school_id", "role"], member_rows)
    return folder
