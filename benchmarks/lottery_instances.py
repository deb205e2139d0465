"""Synthetic lottery instances for the benchmarks: one instance, three forms.

An instance is drawn from a seeded ``numpy.random.Generator`` (same size and seed -> same
instance on every machine) and can be written as the CSV files of the lottery contract
(``schools.csv``, ``applicants.csv``; no policy file, so the default policy applies:
deferred acceptance, single tie-break, tiers ``sibling`` then ``same_zone``).

Shape of the instance, chosen to look like a district's admission rather than uniform noise:

- schools sit in zones of about ten schools; seats per school vary (0.5x to 1.5x of the mean)
  and add up to about 95% of the applicants, so some applicants stay unplaced;
- every applicant lives in a zone and ranks ``n_choices`` distinct schools: each choice is,
  with even odds, a school of their own zone or a school drawn by popularity (lognormal
  weights), so popular schools are oversubscribed and catchment tiers matter;
- 5% of applicants have a sibling at their first choice.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SCHOOLS_PER_ZONE = 10
SEAT_RATIO = 0.95
SIBLING_SHARE = 0.05


@dataclass
class Instance:
    n_applicants: int
    n_schools: int
    n_choices: int
    school_zone: np.ndarray  # int64[n_schools]
    seats: np.ndarray  # int64[n_schools]
    applicant_zone: np.ndarray  # int64[n_applicants]
    choices: np.ndarray  # int64[n_applicants, n_choices]: school indices, best first
    sibling: np.ndarray  # int64[n_applicants]: school index or -1

    @property
    def label(self) -> str:
        return f"{self.n_applicants:,} x {self.n_schools:,} x {self.n_choices}"

    def school_id(self, s: int) -> str:
        return f"S{s:05d}"

    def applicant_id(self, a: int) -> str:
        return f"A{a:07d}"

    def zone_id(self, z: int) -> str:
        return f"Z{z:04d}"


def generate(n_applicants: int, n_schools: int, n_choices: int, seed: int = 2021) -> Instance:
    if n_choices > n_schools:
        raise ValueError("an applicant cannot rank more schools than there are")
    rng = np.random.default_rng(seed)
    n_zones = max(1, n_schools // SCHOOLS_PER_ZONE)
    school_zone = np.arange(n_schools) % n_zones
    size = rng.uniform(0.5, 1.5, n_schools)
    seats = np.maximum(1, np.round(size / size.sum() * SEAT_RATIO * n_applicants)).astype(np.int64)
    popularity = rng.lognormal(0.0, 1.0, n_schools)
    popularity /= popularity.sum()
    applicant_zone = rng.integers(0, n_zones, n_applicants)
    zone_ptr = np.searchsorted(np.sort(school_zone), np.arange(n_zones + 1))
    by_zone = np.argsort(school_zone, kind="stable")

    choices = np.full((n_applicants, n_choices), -1, dtype=np.int64)
    todo = np.arange(n_applicants)
    while todo.size:
        # Draw twice as many candidates as needed, keep the first n_choices distinct ones.
        width = 2 * n_choices
        local = rng.random((todo.size, width)) < 0.5
        zone = applicant_zone[todo][:, None]
        zone_size = zone_ptr[zone + 1] - zone_ptr[zone]
        local_pick = by_zone[
            zone_ptr[zone] + (rng.random((todo.size, width)) * zone_size).astype(int)
        ]
        global_pick = rng.choice(n_schools, size=(todo.size, width), p=popularity)
        candidates = np.where(local, local_pick, global_pick)
        order = np.argsort(candidates, axis=1, kind="stable")
        ranked = np.take_along_axis(candidates, order, axis=1)
        repeat = np.zeros_like(ranked, dtype=bool)
        repeat[:, 1:] = ranked[:, 1:] == ranked[:, :-1]
        first = np.empty_like(repeat)
        np.put_along_axis(first, order, ~repeat, axis=1)
        enough = first.sum(axis=1) >= n_choices
        rows = todo[enough]
        kept = candidates[enough][first[enough]].reshape(-1)
        # Keep the first n_choices distinct schools of each row, in draw order.
        counts = first[enough].sum(axis=1)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        take = starts[:, None] + np.arange(n_choices)
        choices[rows] = kept[take]
        todo = todo[~enough]

    sibling = np.where(rng.random(n_applicants) < SIBLING_SHARE, choices[:, 0], -1)
    return Instance(
        n_applicants,
        n_schools,
        n_choices,
        school_zone,
        seats,
        applicant_zone,
        choices,
        sibling,
    )


def priority_keys(instance: Instance, lottery_rank: np.ndarray) -> np.ndarray:
    """Keys per (applicant, choice) under the default policy: tier * n + lottery rank, with
    tier 0 sibling, 1 same zone, 2 open (as seats.lottery computes them)."""
    n = instance.n_applicants
    same_zone = instance.school_zone[instance.choices] == instance.applicant_zone[:, None]
    tier = np.where(same_zone, 1, 2)
    tier = np.where(instance.choices == instance.sibling[:, None], 0, tier)
    return tier * max(n, 1) + lottery_rank[:, None]


def kernel_arrays(instance: Instance, lottery_rank: np.ndarray):
    """The validated arrays the kernels take: (choice_ptr, choice_school, choice_key, seats)."""
    n, k = instance.n_applicants, instance.n_choices
    ptr = np.arange(n + 1, dtype=np.int64) * k
    school = instance.choices.reshape(-1).astype(np.int32)
    key = priority_keys(instance, lottery_rank).reshape(-1).astype(np.int64)
    return ptr, school, key, instance.seats.copy()


def write_csv(instance: Instance, folder: Path) -> tuple[Path, Path]:
    """Write schools.csv and applicants.csv of the lottery contract; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    schools_path, applicants_path = folder / "schools.csv", folder / "applicants.csv"
    school_ids = [instance.school_id(s) for s in range(instance.n_schools)]
    with open(schools_path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["school_id", "zone_id", "seats"])
        for s in range(instance.n_schools):
            writer.writerow(
                [school_ids[s], instance.zone_id(instance.school_zone[s]), instance.seats[s]]
            )
    with open(applicants_path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["applicant_id", "zone_id", "choices", "sibling_school_id"])
        for a, (zone, row, sib) in enumerate(
            zip(
                instance.applicant_zone.tolist(),
                instance.choices.tolist(),
                instance.sibling.tolist(),
                strict=True,
            )
        ):
            writer.writerow(
                [
                    instance.applicant_id(a),
                    instance.zone_id(zone),
                    ";".join(school_ids[s] for s in row),
                    school_ids[sib] if sib >= 0 else "",
                ]
            )
    return schools_path, applicants_path


# --- rules v2 (DESIGN.md): reserves, families, P|P groups --------------------------------------

RESERVE_SCHOOL_SHARE = 0.05  # schools holding a reserve
RESERVE_SEATS = 2
FAMILY_SHARE = 0.02  # applicants in families of 2-3 (twins, triplets)
GROUP_SHARE = 0.30  # applicants whose first two choices are one position "S1|S2"
SPECIAL_NEEDS_SHARE = 0.02

POLICY_V2 = f"""\
mechanism = "deferred_acceptance"
tie_break = "single"

[[tiers]]
name = "sibling"
sibling = true

[[tiers]]
name = "same_zone"
same_zone = true

[[reserves]]
name = "special_needs"
match = {{ has_reserve = ["1"] }}
seats = {RESERVE_SEATS}
attributes = {{ special_needs = ["1"] }}
"""


def write_csv_v2(instance: Instance, folder: Path, seed: int = 2021) -> tuple[Path, Path, Path]:
    """The instance with the rules v2 of the national benchmark: 5% of schools hold a reserve
    of 2 seats for special needs, 2% of applicants are in families of 2-3 (the members copy
    the first one's zone and choices), 30% name their first two choices as one position
    ``S1|S2``. Writes schools.csv, applicants.csv and policy.toml; returns their paths."""
    rng = np.random.default_rng(seed + 1)
    folder.mkdir(parents=True, exist_ok=True)
    n, n_schools = instance.n_applicants, instance.n_schools
    school_ids = np.array([instance.school_id(s) for s in range(n_schools)], dtype=object)
    has_reserve = rng.random(n_schools) < RESERVE_SCHOOL_SHARE
    seats = np.maximum(instance.seats, np.where(has_reserve, RESERVE_SEATS, 0))
    schools_path = folder / "schools.csv"
    with open(schools_path, "w", encoding="utf-8", newline="") as handle:
        handle.write("school_id,zone_id,seats,has_reserve\n")
        handle.writelines(
            f"{school_ids[s]},{instance.zone_id(instance.school_zone[s])},{seats[s]},"
            f"{int(has_reserve[s])}\n"
            for s in range(n_schools)
        )
    # families: runs of 2-3 consecutive applicants copying the first one's zone and choices
    zone = instance.applicant_zone.copy()
    choices = instance.choices.copy()
    sibling = instance.sibling.copy()
    family = np.full(n, -1, dtype=np.int64)
    starts = np.flatnonzero(rng.random(n) < FAMILY_SHARE / 2.4)
    taken = np.zeros(n, dtype=bool)
    for a in starts.tolist():
        size = 2 if rng.random() < 0.8 else 3
        if a + size > n or taken[a : a + size].any():
            continue
        taken[a : a + size] = True
        family[a : a + size] = a
        zone[a : a + size] = zone[a]
        choices[a : a + size] = choices[a]
        sibling[a : a + size] = sibling[a]
    grouped = rng.random(n) < GROUP_SHARE
    grouped[family >= 0] = grouped[np.maximum(family, 0)][family >= 0]  # a family groups alike
    special = rng.random(n) < SPECIAL_NEEDS_SHARE
    applicants_path = folder / "applicants.csv"
    names = school_ids[choices]
    with open(applicants_path, "w", encoding="utf-8", newline="") as handle:
        handle.write("applicant_id,zone_id,choices,sibling_school_id,family_id,special_needs\n")
        for a in range(n):
            row = names[a].tolist()
            listed = (
                f"{row[0]}|{row[1]};" + ";".join(row[2:])
                if grouped[a] and len(row) > 1
                else ";".join(row)
            ).rstrip(";")
            handle.write(
                f"{instance.applicant_id(a)},{instance.zone_id(zone[a])},{listed},"
                f"{school_ids[sibling[a]] if sibling[a] >= 0 else ''},"
                f"{'F' + str(family[a]) if family[a] >= 0 else ''},{int(special[a])}\n"
            )
    policy_path = folder / "policy.toml"
    policy_path.write_text(POLICY_V2, encoding="utf-8")
    return schools_path, applicants_path, policy_path
