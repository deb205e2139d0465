"""Admission rules v2 (DESIGN.md): the engine against the independent pure-Python reference
(tests/naive_rules.py) on many random instances, for both mechanisms and both tie-breaks, and
the properties the rules promise."""

from __future__ import annotations

import csv
import random
import tempfile
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seats.io.errors import InputError
from seats.lottery import allocate, load_lottery
from seats.lottery.run import RunOptions, draw, load_from, write_results
from tests.naive_rules import allocate_v2

SCHOOL_HEADER = ["school_id", "zone_id", "seats", "sector", "x_km", "y_km"]
APPLICANT_HEADER = [
    "applicant_id",
    "zone_id",
    "choices",
    "category",
    "sibling_school_id",
    "staff_school_id",
    "community_id",
    "family_id",
    "birth_date",
    "special_needs",
    "residence_years",
]
ZONES = ["Z1", "Z2", "Z3"]
COMMUNITIES = ["C1", "C2", "C3", "C4"]

TIER_OPTIONS = [
    "sibling = true",
    "same_zone = true",
    'category = ["A"]',
    "in_catchment = true",
    'in_catchment = true\ncategory = ["A", "B"]',
    'in_catchment = true\ncategory = ["C"]\norder_by = "residence_years"',
    "staff = true",
    'attributes = { special_needs = ["1"] }',
    'category = ["C"]\norder_by = "residence_years"',
]
RESERVE_OPTIONS = [
    'attributes = { special_needs = ["1"] }',
    "staff = true",
    'in_catchment = true\ncategory = ["C"]',
    'category = ["B"]',
]


def write_csv(path: Path, header: list[str], rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def random_instance(rng: random.Random) -> dict:
    n_schools = rng.randint(1, 5)
    schools = [
        {
            "school_id": f"S{i}",
            "zone_id": rng.choice(ZONES),
            "seats": str(rng.randint(0, 4)),
            "sector": rng.choice(["public", "public", "private"]),
            "x_km": str(rng.randint(0, 6) / 2),
            "y_km": str(rng.randint(0, 6) / 2),
        }
        for i in range(n_schools)
    ]
    ids = [s["school_id"] for s in schools]
    applicants = []
    n_units = rng.randint(0, 10)
    for u in range(n_units):
        picked = rng.sample(ids, rng.randint(0, n_schools))
        positions, i = [], 0
        while i < len(picked):
            width = rng.choice([1, 1, 1, 2, 3])
            positions.append("|".join(picked[i : i + width]))
            i += width
        size = rng.choice([1, 1, 1, 1, 2, 3])
        for m in range(size):
            applicants.append(
                {
                    "applicant_id": f"a{u}-{m}",
                    "zone_id": rng.choice(ZONES),
                    "choices": ";".join(positions),
                    "category": rng.choice(["A", "B", "C", ""]),
                    "sibling_school_id": rng.choice([*ids, "", "", "X9"]),
                    "staff_school_id": rng.choice([*ids, "", "", ""]),
                    "community_id": rng.choice([*COMMUNITIES, ""]),
                    "family_id": f"F{u}" if size > 1 else "",
                    "birth_date": rng.choice(
                        ["2015-01-10", "2015-06-30", "2015-09-01", "2014-08-31"]
                    ),
                    "special_needs": rng.choice(["0", "0", "1"]),
                    "residence_years": rng.choice(["", "1", "2", "2.5", "10"]),
                }
            )
    lines = [
        f'mechanism = "{rng.choice(["deferred_acceptance", "immediate_acceptance"])}"',
        f'tie_break = "{rng.choice(["single", "multiple"])}"',
    ]
    if rng.random() < 0.5:
        lines.append('born_from = "2014-09-01"')
    if rng.random() < 0.5:
        lines.append('born_to = "2015-08-31"')
    tier_block = []
    if rng.random() < 0.2:
        lines.append("tiers = []")
    else:
        for t, option in enumerate(rng.sample(TIER_OPTIONS, rng.randint(1, 4))):
            tier_block += ["[[tiers]]", f'name = "t{t}"', option]
    rules = []
    if rng.random() < 0.4:
        rules += ["[[school_rules]]", 'match = { sector = ["private"] }', "tiers = []"]
    reserves = []
    for r in range(rng.choice([0, 0, 1, 2])):
        size = rng.choice(["seats = 1", "seats = 2", "share = 0.5", "share = 0.34"])
        match = rng.choice(["", 'match = { sector = ["public"] }'])
        reserves += ["[[reserves]]", f'name = "r{r}"', size, match, rng.choice(RESERVE_OPTIONS)]
    policy = "\n".join([*lines, *tier_block, *rules, *reserves]) + "\n"
    catchments = [
        {"school_id": s, "community_id": c} for s in ids for c in COMMUNITIES if rng.random() < 0.4
    ]
    communities = [
        {
            "community_id": c,
            "zone_id": rng.choice(ZONES),
            "name": c,
            "x_km": str(rng.randint(0, 6) / 2),
            "y_km": str(rng.randint(0, 6) / 2),
        }
        for c in COMMUNITIES
    ]
    zones = [
        {
            "zone_id": z,
            "name": z,
            "kind": "street",
            "x_km": str(rng.randint(0, 6) / 2),
            "y_km": "0",
            "population": "1",
        }
        for z in ZONES
    ]
    return {
        "schools": schools,
        "applicants": applicants,
        "policy": policy,
        "catchments": catchments,
        "communities": communities,
        "zones": zones,
        "fallback": rng.random() < 0.5,
    }


def write_instance(folder: Path, case: dict) -> dict[str, Path]:
    paths = {
        "schools": write_csv(folder / "schools.csv", SCHOOL_HEADER, case["schools"]),
        "applicants": write_csv(folder / "applicants.csv", APPLICANT_HEADER, case["applicants"]),
        "catchments": write_csv(
            folder / "catchments.csv", ["school_id", "community_id"], case["catchments"]
        ),
        "communities": write_csv(
            folder / "communities.csv",
            ["community_id", "zone_id", "name", "x_km", "y_km"],
            case["communities"],
        ),
        "zones": write_csv(
            folder / "zones.csv",
            ["zone_id", "name", "kind", "x_km", "y_km", "population"],
            case["zones"],
        ),
        "policy": folder / "policy.toml",
    }
    paths["policy"].write_text(case["policy"], encoding="utf-8")
    return paths


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def engine(case: dict, seed: str, folder: Path) -> dict:
    """The engine end to end through the run folder's writers, read back as the reference's
    result shape; None where the input is refused."""
    paths = write_instance(folder, case)
    fallback = "nearest" if case["fallback"] else None
    try:
        lottery = load_from(paths, seed, RunOptions(seed=seed, fallback=fallback))
    except InputError:
        return None
    result = draw(lottery, fallback)
    out = folder / "out"
    out.mkdir()
    write_results(out, result)
    assignments = {row["applicant_id"]: row for row in read_rows(out / "assignments.csv")}
    waitlists: dict[str, list[str]] = {s["school_id"]: [] for s in case["schools"]}
    for row in read_rows(out / "waitlists.csv"):
        waitlists[row["school_id"]].append(row["applicant_id"])
    schools = {row["school_id"]: row for row in read_rows(out / "schools.csv")}
    return {"assignments": assignments, "waitlists": waitlists, "schools": schools}


def reference(case: dict, seed: str):
    try:
        return allocate_v2(
            case["schools"],
            case["applicants"],
            tomllib.loads(case["policy"]),
            seed,
            case["catchments"],
            case["communities"],
            case["zones"],
            fallback=case["fallback"],
        )
    except ValueError:
        return None


def compare(case: dict, seed: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ours = engine(case, seed, Path(tmp))
    theirs = reference(case, seed)
    context = (
        f"\npolicy:\n{case['policy']}\nschools {case['schools']}\napplicants {case['applicants']}"
    )
    assert (ours is None) == (theirs is None), "refused by one only" + context
    if ours is None:
        return
    for aid, mine in theirs["assignments"].items():
        row = ours["assignments"][aid]
        expected = {
            "status": mine["status"],
            "school_id": mine["school_id"],
            "choice_rank": "" if mine["choice_rank"] is None else str(mine["choice_rank"]),
            "tier": mine["tier"],
            "reserve": mine["reserve"],
            "lottery_number": mine["lottery_number"],
            "distance_km": mine["distance_km"],
            "reason": mine["reason"],
        }
        got = {key: row[key] for key in expected}
        assert got == expected, f"{aid}{context}"
    assert ours["waitlists"] == theirs["waitlists"], context
    for sid, figures in theirs["schools"].items():
        row = ours["schools"][sid]
        assert int(row["placed"]) == figures["placed"], context
        assert int(row["assigned"]) == figures["assigned"], context
        assert int(row["excess"]) == figures["excess"], context
        for name, filled in figures["reserve_filled"].items():
            assert int(row[f"reserve_{name}"]) == filled, context


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_engine_matches_the_reference(seed_value):
    rng = random.Random(seed_value)
    compare(random_instance(rng), f"seed {seed_value}")


# --- properties --------------------------------------------------------------------------------


def loaded(case: dict, seed: str, folder: Path):
    paths = write_instance(folder, case)
    return load_from(paths, seed, RunOptions(seed=seed))


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_families_share_a_school_and_excess_is_bounded(seed_value):
    rng = random.Random(seed_value)
    case = random_instance(rng)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            lottery = loaded(case, "s", Path(tmp))
        except InputError:
            return
        result = draw(lottery, None)
    allocation, units = result.allocation, result.allocation.priorities.units
    for u in range(len(units.size)):
        members = units.members(u)
        assert len({int(allocation.school[m]) for m in members}) == 1
    # no ineligible applicant is placed; one row per applicant
    assert not (allocation.school[allocation.status == "ineligible"] >= 0).any()
    assert len(allocation.status) == len(case["applicants"])
    for s, r in enumerate(result.results):
        admitted = [units.of[a] for a in np.flatnonzero(allocation.school == s)]
        largest = max((int(units.size[u]) for u in admitted), default=1)
        assert r.excess <= largest - 1


def _no_families(case: dict) -> dict:
    singles = {}
    for row in case["applicants"]:
        singles.setdefault(row["family_id"] or row["applicant_id"], dict(row, family_id=""))
    return dict(case, applicants=list(singles.values()))


def _chooses(lottery, prio, s: int, candidates: list[int]) -> set[int]:
    """The choice rule of school s applied to a set of applicants (their entries there)."""
    apps = lottery.applicants
    entries = []
    for a in candidates:
        lo, hi = apps.choice_ptr[a], apps.choice_ptr[a + 1]
        entries += [e for e in range(lo, hi) if apps.choice_school[e] == s]
    entries.sort(key=lambda e: prio.key[e])
    free = int(lottery.schools.seats[s])
    chosen: set[int] = set()
    for r in range(len(lottery.policy.reserves)):
        left = int(lottery.reserve_seats[s, r])
        for e in entries:
            a = int(lottery.entry_applicant[e])
            if free <= 0 or left <= 0:
                break
            if a not in chosen and (prio.reserve_mask[e] >> r) & 1:
                chosen.add(a)
                left -= 1
                free -= 1
    for e in entries:
        a = int(lottery.entry_applicant[e])
        if free <= 0:
            break
        if a not in chosen:
            chosen.add(a)
            free -= 1
    return chosen


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_deferred_acceptance_with_reserves_is_stable(seed_value):
    """No applicant and school block the result: if a prefers s to their placement, the choice
    rule of s applied to its admitted + a does not take a."""
    rng = random.Random(seed_value)
    case = _no_families(random_instance(rng))
    case["policy"] = case["policy"].replace('"immediate_acceptance"', '"deferred_acceptance"')
    with tempfile.TemporaryDirectory() as tmp:
        try:
            lottery = loaded(case, "stable", Path(tmp))
        except InputError:
            return
    allocation = allocate(lottery)
    prio, apps = allocation.priorities, lottery.applicants
    for a in np.flatnonzero(allocation.status != "ineligible").tolist():
        lo, hi = apps.choice_ptr[a], apps.choice_ptr[a + 1]
        better = hi if allocation.rank[a] < 0 else lo + allocation.rank[a]
        for e in range(lo, better):
            s = int(apps.choice_school[e])
            admitted = np.flatnonzero((allocation.school == s) & (allocation.rank >= 0)).tolist()
            assert a not in _chooses(lottery, prio, s, [*admitted, a]), (a, s)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_deferred_acceptance_with_reserves_is_strategy_proof(seed_value):
    """On small instances no applicant gets a school they prefer by reporting another list
    (any order of any subset of their schools)."""
    rng = random.Random(seed_value)
    case = _no_families(random_instance(rng))
    case["policy"] = case["policy"].replace('"immediate_acceptance"', '"deferred_acceptance"')
    case["applicants"] = [
        dict(row, choices=row["choices"].replace("|", ";")) for row in case["applicants"]
    ]
    if not case["applicants"]:
        return
    with tempfile.TemporaryDirectory() as tmp:
        try:
            truth = allocate(loaded(case, "sp", Path(tmp)))
        except InputError:
            return
    liar = rng.randrange(len(case["applicants"]))
    true_list = [c for c in case["applicants"][liar]["choices"].split(";") if c]
    got = int(truth.school[liar])
    ids = [s["school_id"] for s in case["schools"]]
    true_rank = true_list.index(ids[got]) if got >= 0 and truth.rank[liar] >= 0 else len(true_list)
    for _ in range(6):
        lie = rng.sample(ids, rng.randint(0, len(ids)))
        lying = dict(case, applicants=[dict(r) for r in case["applicants"]])
        lying["applicants"][liar]["choices"] = ";".join(lie)
        with tempfile.TemporaryDirectory() as tmp:
            result = allocate(loaded(lying, "sp", Path(tmp)))
        s = int(result.school[liar])
        if s >= 0 and ids[s] in true_list:
            assert true_list.index(ids[s]) >= true_rank, (lie, true_list)


# --- input errors -------------------------------------------------------------------------------


def _refused(tmp_path, case: dict, fragment: str) -> None:
    paths = write_instance(tmp_path, case)
    with pytest.raises(InputError) as caught:
        load_from(paths, "x", RunOptions(seed="x"))
    assert fragment in str(caught.value), str(caught.value)


def _base_case() -> dict:
    return random_instance(random.Random(7)) | {
        "schools": [
            {
                "school_id": "S0",
                "zone_id": "Z1",
                "seats": "2",
                "sector": "public",
                "x_km": "0",
                "y_km": "0",
            },
            {
                "school_id": "S1",
                "zone_id": "Z2",
                "seats": "1",
                "sector": "private",
                "x_km": "1",
                "y_km": "0",
            },
        ],
        "applicants": [
            {"applicant_id": "a", "zone_id": "Z1", "choices": "S0;S1", "birth_date": "2015-01-01"},
            {"applicant_id": "b", "zone_id": "Z1", "choices": "S1", "birth_date": "2015-02-01"},
        ],
        "policy": 'tie_break = "single"\n[[tiers]]\nname = "t"\nsame_zone = true\n',
        "catchments": [{"school_id": "S0", "community_id": "C1"}],
    }


def test_policy_naming_an_absent_column_is_refused(tmp_path):
    case = _base_case()
    case["policy"] += 'order_by = "years_of_insurance"\n'
    _refused(tmp_path, case, "names the column 'years_of_insurance'")


def test_family_members_with_different_choices_are_refused(tmp_path):
    case = _base_case()
    case["applicants"][0]["family_id"] = "F"
    case["applicants"][1]["family_id"] = "F"
    _refused(tmp_path, case, "family 'F' applies together")


def test_a_group_naming_a_school_twice_or_an_unknown_school_is_refused(tmp_path):
    case = _base_case()
    case["applicants"][0]["choices"] = "S0|S0"
    _refused(tmp_path, case, "listed twice")
    case["applicants"][0]["choices"] = "S0|S7"
    _refused(tmp_path, case, "unknown school 'S7'")


def test_reserves_larger_than_seats_are_refused(tmp_path):
    case = _base_case()
    case["policy"] += '[[reserves]]\nname = "r"\nseats = 2\nstaff = true\n'
    _refused(tmp_path, case, "the reserves at 'S1' take 2 seats, more than its 1")


def test_a_birth_date_that_is_not_a_date_is_refused_where_a_window_is_set(tmp_path):
    case = _base_case()
    case["policy"] = 'born_to = "2015-08-31"\n' + case["policy"]
    case["applicants"][1]["birth_date"] = "2015-02-30"
    _refused(tmp_path, case, "'2015-02-30' is not a date")


def test_more_positions_than_max_choices_are_refused(tmp_path):
    case = _base_case()
    case["policy"] = "max_choices = 1\n" + case["policy"]
    _refused(tmp_path, case, "2 choices, more than max_choices = 1")
    case["applicants"][0]["choices"] = "S0|S1"  # one position: allowed
    write_instance(tmp_path, case)
    load_from(write_instance(tmp_path, case), "x", RunOptions(seed="x"))


def test_in_catchment_without_catchments_is_refused(tmp_path):
    case = _base_case()
    case["policy"] = '[[tiers]]\nname = "c"\nin_catchment = true\n'
    paths = write_instance(tmp_path, case)
    paths.pop("catchments").unlink()  # none beside the schools file either
    with pytest.raises(InputError, match="no catchments file"):
        load_from(paths, "x", RunOptions(seed="x"))


def test_a_sibling_at_another_level_just_does_not_hold(tmp_path):
    schools = tmp_path / "schools.csv"
    schools.write_text(
        "school_id,zone_id,seats,level\nP1,Z1,1,primary\nJ1,Z1,1,junior\n", encoding="utf-8"
    )
    applicants = tmp_path / "a.csv"
    applicants.write_text(
        "applicant_id,zone_id,choices,sibling_school_id\na,Z1,P1,J1\n", encoding="utf-8"
    )
    lottery = load_lottery(schools, applicants, "x", level="primary")
    assert allocate(lottery).school.tolist() == [0]
