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
    with open(path, encoding="utf-8-sig") as handle:
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
    _refused(tmp_path, case, "policy.toml:5: column 13: tier 't' names the column")  # where


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
    _refused(tmp_path, case, "policy.toml:5: column 3: the reserves take more seats than 1")
    _refused(tmp_path, case, "school(s) have: 'S1' (2 > 1")


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


# --- the district: mistakes found by a new user, and explain's new reasons ------------------------

DATASET = Path(__file__).resolve().parents[1] / "data" / "xinghualing"


def _district_run(tmp_path: Path, *extra: str, level: str = "primary") -> Path:
    from click.testing import CliRunner

    from seats.cli import cli

    out = tmp_path / f"run_{level}"
    args = [
        "lottery",
        "run",
        "--schools",
        str(DATASET / "schools.csv"),
        "--applicants",
        str(DATASET / f"applicants_{level}_2021.csv"),
        "--policy",
        str(DATASET / f"policy_{level}.toml"),
        "--seed",
        "rules v2",
        "--out",
        str(out),
        *extra,
    ]
    result = CliRunner().invoke(cli, args)
    return out, result


def test_fallback_without_level_on_several_levels_is_refused(tmp_path):
    _, result = _district_run(tmp_path, "--fallback", "nearest")
    assert result.exit_code == 2
    assert "several levels" in result.output and "--level" in result.output


def test_fallback_seats_children_only_in_public_schools_of_their_level(tmp_path):
    out, result = _district_run(tmp_path, "--level", "primary", "--fallback", "nearest")
    assert result.exit_code == 0, result.output
    schools = {r["school_id"]: r for r in read_rows(DATASET / "schools.csv")}
    rows = read_rows(out / "assignments.csv")
    assigned = [r for r in rows if r["status"] == "assigned"]
    assert len(assigned) > 100
    for r in assigned:
        assert schools[r["school_id"]]["level"] == "primary"
        assert schools[r["school_id"]]["sector"] == "public"
        assert float(r["distance_km"]) >= 0
    assert all(r["status"] != "unplaced" for r in rows)  # every eligible child is seated
    families: dict[str, set[str]] = {}
    applicants = {r["applicant_id"]: r for r in read_rows(DATASET / "applicants_primary_2021.csv")}
    for r in rows:
        family = applicants[r["applicant_id"]]["family_id"]
        if family and r["status"] != "ineligible":
            families.setdefault(family, set()).add(r["school_id"])
    assert families and all(len(s) == 1 for s in families.values())


def test_a_zone_typo_is_refused_without_zones_option(tmp_path):
    rows = read_rows(DATASET / "applicants_primary_2021.csv")
    rows[3]["zone_id"] = "Z99"
    folder = tmp_path / "d"
    folder.mkdir()
    for name in ("schools.csv", "zones.csv", "catchments.csv", "communities.csv"):
        (folder / name).write_bytes((DATASET / name).read_bytes())
    write_csv(folder / "a.csv", list(rows[0]), rows)
    with pytest.raises(InputError, match=r"a\.csv:5: zone_id: unknown zone 'Z99'"):
        load_lottery(
            folder / "schools.csv",
            folder / "a.csv",
            "x",
            DATASET / "policy_primary.toml",
            level="primary",
        )
    (folder / "zones.csv").unlink()  # no zones file at all: the schools' zones are the check
    with pytest.raises(InputError, match="Z99"):
        load_lottery(
            folder / "schools.csv",
            folder / "a.csv",
            "x",
            DATASET / "policy_primary.toml",
            level="primary",
        )


def test_explain_names_every_new_reason(tmp_path):
    from seats.supervision.explain import RunView

    out, result = _district_run(tmp_path, "--level", "primary", "--fallback", "nearest")
    assert result.exit_code == 0, result.output
    rows = read_rows(out / "assignments.csv")
    applicants = {r["applicant_id"]: r for r in read_rows(DATASET / "applicants_primary_2021.csv")}
    view = RunView(out)

    def first(condition):
        return next(r["applicant_id"] for r in rows if condition(r, applicants[r["applicant_id"]]))

    ineligible = view.explain(first(lambda r, a: r["status"] == "ineligible")).render()
    assert "出生日期" in ineligible and ("born after" in ineligible or "born before" in ineligible)
    twin = view.explain(first(lambda r, a: a["family_id"] and r["status"] != "ineligible")).render()
    assert "同胞随同录取" in twin and "family unit" in twin
    grouped = view.explain(first(lambda r, a: "|" in a["choices"] and r["status"] != "ineligible"))
    text = grouped.render()
    assert "多校划片" in text and text.count("sha256sum") >= 3  # one line per school, and own
    assigned = view.explain(first(lambda r, a: r["status"] == "assigned")).render()
    assert "统筹" in assigned and "km" in assigned
    reserve_rows = [r for r in rows if r["reserve"]]
    assert reserve_rows, "the district's special-needs reserve takes some seats"
    under = view.explain(reserve_rows[0]["applicant_id"]).render()
    assert "随班就读" in under and "under the reserve 'special_needs'" in under
    # the kindergartens' lottery: 随迁子女 of the 服务片区 ordered by residence years
    kg_out, result = _district_run(
        tmp_path, "--level", "kindergarten", "--sector", "public", level="kindergarten"
    )
    assert result.exit_code == 0, result.output
    kg_view = RunView(kg_out)
    kg_rows = read_rows(kg_out / "assignments.csv")
    kg_applicants = read_rows(DATASET / "applicants_kindergarten_2021.csv")
    migrants = [
        r["applicant_id"]
        for r, a in zip(kg_rows, kg_applicants, strict=True)
        if r["status"] == "unplaced" and a["category"] == "C"
    ]
    decided = (kg_view.explain(aid).render() for aid in migrants)
    waiting = next(text for text in decided if "residence_years" in text)  # order_by decided
    assert "按 residence_years 从大到小" in waiting
    # a reserve that did not help is named
    losing = (
        view.explain(r["applicant_id"]).render()
        for r in rows
        if r["status"] == "assigned" and applicants[r["applicant_id"]]["choices"]
    )
    assert any("预留学位" in text and "do not meet its conditions" in text for text in losing)
    # a parent learns cutoffs, never another child's lottery number
    numbers = {r["lottery_number"] for r in rows if r["lottery_number"]}
    own = {r["lottery_number"] for r in rows}
    for text in (twin, assigned, waiting):
        for number in numbers - own:
            assert number[:12] not in text


V1_POLICY = """\
mechanism = "deferred_acceptance"
tie_break = "multiple"
[[tiers]]
name = "sibling"
sibling = true
[[tiers]]
name = "catchment_hukou_property"
same_zone = true
category = ["A"]
[[tiers]]
name = "catchment"
same_zone = true
category = ["B", "C"]
"""


@pytest.mark.parametrize("mechanism", ["deferred_acceptance", "immediate_acceptance"])
def test_v1_rules_give_the_same_draw_through_the_unit_kernels(tmp_path, monkeypatch, mechanism):
    """On the district's files with a v1 policy (no families: family_id dropped), the v1
    kernels and the rules v2 unit kernels give the same placements, waitlists and cutoffs."""
    from seats.lottery.problem import Lottery

    rows = read_rows(DATASET / "applicants_primary_2021.csv")
    applicants = write_csv(tmp_path / "a.csv", list(rows[0]), [dict(r, family_id="") for r in rows])
    policy = tmp_path / "p.toml"
    policy.write_text(V1_POLICY.replace("deferred_acceptance", mechanism), encoding="utf-8")
    lottery = load_lottery(DATASET / "schools.csv", applicants, "v1", policy, level="primary")
    assert not lottery.needs_unit_kernels
    v1 = draw(lottery, None)
    monkeypatch.setattr(Lottery, "needs_unit_kernels", property(lambda self: True))
    v2 = draw(
        load_lottery(DATASET / "schools.csv", applicants, "v1", policy, level="primary"), None
    )
    assert v1.allocation.school.tolist() == v2.allocation.school.tolist()
    assert v1.allocation.rank.tolist() == v2.allocation.rank.tolist()
    assert v1.wait_school.tolist() == v2.wait_school.tolist()
    assert v1.wait_app.tolist() == v2.wait_app.tolist()
    cutoffs = [(r.cutoff_tier, r.cutoff_number) for r in v1.results]
    assert cutoffs == [(r.cutoff_tier, r.cutoff_number) for r in v2.results]
    assert sum(r.seats_left == 0 for r in v1.results) > 5  # oversubscribed schools decide


def test_the_report_states_every_rule_of_the_policy(tmp_path):
    """The page the notary signs shows the rules v2 that decided seats, not only v1's tiers."""
    from pypdf import PdfReader

    from seats.supervision.report import write_report

    out, result = _district_run(tmp_path, "--level", "primary", "--fallback", "nearest")
    assert result.exit_code == 0, result.output
    report = write_report(out, tmp_path / "report.pdf")
    first = PdfReader(report.out_pdf).pages[0].extract_text()
    for words in (
        "2014-09-01 .. 2015-08-31",  # the eligibility window
        "at most 3 choices",
        "catchment",  # in_catchment tiers
        "larger residence_years first",  # order_by
        "by lottery number alone",  # 公民同招 at private schools
        "reserve",  # the 随班就读 reserve
        "only into public schools",  # fallback_sectors
    ):
        assert words in " ".join(first.split()), words
