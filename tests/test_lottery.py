"""The admission lottery end to end: contract, determinism, fairness, outputs and bad input."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest
from conftest import DATASET, run_cli
from naive import is_non_wasteful, is_stable

from seats.lottery import (
    ASSIGNED,
    PLACED,
    allocate,
    fallback_nearest,
    load_lottery,
    lottery_number,
    priorities,
)
from seats.lottery.policy import parse_policy

SCHOOLS = DATASET / "schools.csv"
ZONES = DATASET / "zones.csv"
PRIMARY = DATASET / "applicants_primary_2021.csv"
KINDERGARTEN = DATASET / "applicants_kindergarten_2021.csv"
PRIMARY_POLICY = DATASET / "policy_primary.toml"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def read_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def run(out: Path, *extra, schools=SCHOOLS, applicants=PRIMARY, seed="s", level="primary"):
    args = [
        "lottery",
        "run",
        "--schools",
        schools,
        "--applicants",
        applicants,
        "--seed",
        seed,
        "--out",
        out,
    ]
    if level:
        args += ["--level", level]
    return run_cli(*args, *extra)


# --- the contract -------------------------------------------------------------------------------


def test_lottery_number_is_sha256_of_the_documented_text():
    expected = hashlib.sha256(b"2021 seed\nPA21-00001").hexdigest()
    assert lottery_number("2021 seed", "PA21-00001") == expected
    multiple = hashlib.sha256(b"2021 seed\nP01\nPA21-00001").hexdigest()
    assert lottery_number("2021 seed", "PA21-00001", "P01") == multiple
    assert lottery_number("种子", "张三") == hashlib.sha256("种子\n张三".encode()).hexdigest()


@pytest.fixture(scope="module")
def primary_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "primary"
    result = run(out, "--policy", PRIMARY_POLICY, seed="2021 public seed")
    assert result.exit_code == 0, result.output
    return out


def test_assignments_one_row_per_applicant_in_input_order(primary_run):
    rows = read_rows(primary_run / "assignments.csv")
    applicants = read_rows(PRIMARY)
    assert [r["applicant_id"] for r in rows] == [a["applicant_id"] for a in applicants]
    for row, applicant in zip(rows, applicants, strict=True):
        positions = applicant["choices"].split(";") if applicant["choices"] else []
        expanded = [s for p in positions for s in p.split("|")]  # P01|P02: any of them
        if row["status"] == PLACED:
            rank = int(row["choice_rank"])
            assert row["school_id"] in expanded and 1 <= rank <= len(expanded)
            if "|" not in applicant["choices"]:
                assert expanded[rank - 1] == row["school_id"]
            assert row["lottery_number"] == lottery_number("2021 public seed", row["applicant_id"])
        else:
            assert row["status"] in ("unplaced", "ineligible")
            assert row["school_id"] == row["choice_rank"] == row["tier"] == ""
            assert (row["status"] == "ineligible") == row["reason"].startswith("born")


def test_capacity_waitlists_and_cutoffs(primary_run):
    assignments = {r["applicant_id"]: r for r in read_rows(primary_run / "assignments.csv")}
    applicants = {a["applicant_id"]: a for a in read_rows(PRIMARY)}
    results = {r["school_id"]: r for r in read_rows(primary_run / "schools.csv")}
    placed_at: dict[str, int] = {}
    for row in assignments.values():
        if row["school_id"]:
            placed_at[row["school_id"]] = placed_at.get(row["school_id"], 0) + 1
    for school_id, result in results.items():
        assert placed_at.get(school_id, 0) == int(result["placed"]) <= int(result["seats"])
        assert int(result["seats_left"]) == int(result["seats"]) - int(result["placed"])

    waitlists: dict[str, list[dict]] = {}
    for row in read_rows(primary_run / "waitlists.csv"):
        waitlists.setdefault(row["school_id"], []).append(row)
    for school_id, rows in waitlists.items():
        assert [int(r["position"]) for r in rows] == list(range(1, len(rows) + 1))
        assert int(results[school_id]["waitlist"]) == len(rows)
        for row in rows:
            choices = applicants[row["applicant_id"]]["choices"].split(";")
            placement = assignments[row["applicant_id"]]
            rank = choices.index(school_id) + 1
            assert placement["status"] != PLACED or rank < int(placement["choice_rank"])
    # Deferred acceptance fills a school before anyone waits for it.
    for school_id in waitlists:
        assert int(results[school_id]["seats_left"]) == 0


def test_same_seed_same_bytes_other_seed_other_result(primary_run, tmp_path):
    again = tmp_path / "again"
    assert run(again, "--policy", PRIMARY_POLICY, seed="2021 public seed").exit_code == 0
    for name in ("assignments.csv", "waitlists.csv", "schools.csv"):
        assert (again / name).read_bytes() == (primary_run / name).read_bytes()
    other = tmp_path / "other"
    assert run(other, "--policy", PRIMARY_POLICY, seed="another seed").exit_code == 0
    assert (other / "assignments.csv").read_bytes() != (
        primary_run / "assignments.csv"
    ).read_bytes()


def test_inputs_are_copied_and_audited(primary_run):
    inputs = primary_run / "inputs"
    assert (inputs / "applicants.csv").read_bytes() == PRIMARY.read_bytes()
    assert (inputs / "policy.toml").read_bytes() == PRIMARY_POLICY.read_bytes()
    lines = (primary_run / "audit.jsonl").read_text(encoding="utf-8-sig").splitlines()
    assert '"kind":"run"' in lines[0] and '"kind":"end"' in lines[-1]


# --- the mechanisms on the real data --------------------------------------------------------------


def _as_lists(lottery, key):
    apps = lottery.applicants
    choices = [apps.choices_of(a).tolist() for a in range(len(apps))]
    keys = [key[apps.choice_ptr[a] : apps.choice_ptr[a + 1]].tolist() for a in range(len(apps))]
    return choices, keys


@pytest.mark.parametrize("tie_break", ["single", "multiple"])
def test_deferred_acceptance_on_the_district_is_stable(tmp_path, tie_break):
    # v1's stability (every school's priority a strict order): no reserves, no families
    text = PRIMARY_POLICY.read_text(encoding="utf-8")
    text = text[: text.index("[[reserves]]")].replace(
        'tie_break = "single"', f'tie_break = "{tie_break}"'
    )
    text = "\n".join(line for line in text.splitlines() if not line.startswith("born_"))
    policy = write(tmp_path / "p.toml", text)
    rows = read_rows(PRIMARY)
    with open(tmp_path / "a.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(dict(r, family_id="") for r in rows)
    lottery = load_lottery(SCHOOLS, tmp_path / "a.csv", "seed", policy, level="primary")
    allocation = allocate(lottery)
    choices, keys = _as_lists(lottery, allocation.priorities.key)
    result = list(zip(allocation.school.tolist(), allocation.rank.tolist(), strict=True))
    seats = lottery.schools.seats.tolist()
    assert is_stable(choices, keys, seats, result)
    assert is_non_wasteful(choices, keys, seats, result)


def test_immediate_acceptance_favours_first_choices(tmp_path):
    kindergarten = load_lottery(
        SCHOOLS, KINDERGARTEN, "seed", DATASET / "policy_kindergarten.toml", level="kindergarten"
    )
    boston = allocate(kindergarten)
    policy = write(
        tmp_path / "p.toml",
        (DATASET / "policy_kindergarten.toml")
        .read_text(encoding="utf-8")
        .replace('"immediate_acceptance"', '"deferred_acceptance"')
        .replace("max_choices = 1", ""),
    )
    deferred = allocate(load_lottery(SCHOOLS, KINDERGARTEN, "seed", policy, level="kindergarten"))
    assert (boston.rank == 0).sum() >= (deferred.rank == 0).sum()
    assert (
        np.bincount(boston.school[boston.school >= 0], minlength=100).max()
        <= kindergarten.schools.seats.max()
    )


def test_tiers_follow_the_policy(tmp_path):
    schools = write(tmp_path / "s.csv", "school_id,zone_id,seats\nA,Z1,1\nB,Z2,1\n")
    applicants = write(
        tmp_path / "a.csv",
        "applicant_id,zone_id,choices,category,sibling_school_id\n"
        "x,Z1,A;B,A,\n"  # A: catchment_a (same zone, category A); B: open
        "y,Z2,A;B,B,A\n"  # A: sibling; B: same_zone
        "z,Z2,A,A,\n",
    )  # A: open (category A but other zone)
    policy = write(
        tmp_path / "p.toml",
        """
mechanism = "deferred_acceptance"
tie_break = "single"
[[tiers]]
name = "sibling"
sibling = true
[[tiers]]
name = "catchment_a"
same_zone = true
category = ["A"]
[[tiers]]
name = "same_zone"
same_zone = true
""",
    )
    lottery = load_lottery(schools, applicants, "seed", policy)
    names = lottery.policy.tier_names
    assert [names[t] for t in priorities(lottery).tier] == [
        "catchment_a",
        "open",
        "sibling",
        "same_zone",
        "open",
    ]
    allocation = allocate(lottery)
    # y has the sibling priority at A, so x (catchment) falls to B where y no longer competes.
    assert allocation.school.tolist() == [1, 0, -1]


def test_fairness_equal_tier_equal_chance(tmp_path):
    """20 applicants of one tier for 5 seats: over 400 fixed seeds, each is admitted about
    100 times. Chi-square test of equal rates at significance 0.001 (df 19: critical 43.82)."""
    schools = write(tmp_path / "s.csv", "school_id,zone_id,seats\nA,Z1,5\n")
    applicants = write(
        tmp_path / "a.csv",
        "applicant_id,zone_id,choices\n" + "".join(f"child{i:02d},Z1,A\n" for i in range(20)),
    )
    lottery = load_lottery(schools, applicants, "seed 0")
    admitted = np.zeros(20)
    seeds = 400
    for k in range(seeds):
        lottery.seed = f"fairness seed {k}"
        admitted += allocate(lottery).school >= 0
    p = 5 / 20
    expected = seeds * p
    statistic = (((admitted - expected) ** 2) / (expected * (1 - p))).sum()
    assert admitted.sum() == 5 * seeds
    assert statistic < 43.82


# --- fallback -------------------------------------------------------------------------------------


def test_fallback_seats_every_child_at_the_nearest_school(tmp_path):
    out = tmp_path / "run"
    result = run(out, "--policy", PRIMARY_POLICY, "--fallback", "nearest", "--zones", ZONES)
    assert result.exit_code == 0, result.output
    rows = read_rows(out / "assignments.csv")
    assert all(r["status"] in (PLACED, ASSIGNED, "ineligible") for r in rows)
    assigned = [r for r in rows if r["status"] == ASSIGNED]
    assert assigned and all(r["choice_rank"] == "" and r["school_id"] for r in assigned)
    results = read_rows(out / "schools.csv")
    assert all(int(r["seats_left"]) >= 0 for r in results)


def test_fallback_takes_nearest_then_school_id(tmp_path):
    schools = write(
        tmp_path / "s.csv",
        "school_id,zone_id,seats,x_km,y_km\nfar,Z1,5,10,0\nnear2,Z1,1,1,0\nnear1,Z1,1,0,1\n",
    )
    zones = write(
        tmp_path / "z.csv", "zone_id,name,kind,x_km,y_km,population\nZ1,one,street,0,0,100\n"
    )
    applicants = write(tmp_path / "a.csv", "applicant_id,zone_id,choices\na,Z1,\nb,Z1,\nc,Z1,\n")
    lottery = load_lottery(schools, applicants, "seed", zones_path=zones)
    allocation = allocate(lottery)
    assert fallback_nearest(lottery, allocation) == 3
    order = sorted(range(3), key=lambda a: lottery_number("seed", "abc"[a]))
    got = [lottery.schools.ids[allocation.school[a]] for a in order]
    assert got == ["near1", "near2", "far"]  # equal distance: near1 before near2 by id


# --- output folder --------------------------------------------------------------------------------


def test_existing_folder_needs_force(primary_run, tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    result = run(out)
    assert result.exit_code == 2 and "--force" in result.output
    assert (out / "keep.txt").exists()
    # --force replaces only a folder that seats wrote (it left a marker there).
    refused = run(out, "--force")
    assert refused.exit_code == 2 and "not written by seats" in refused.output
    assert (out / "keep.txt").exists()
    ours = tmp_path / "ours"
    assert run(ours).exit_code == 0
    (ours / "extra.txt").write_text("x")
    assert run(ours, "--force").exit_code == 0
    assert not (ours / "extra.txt").exists() and (ours / "assignments.csv").exists()


# --- bad input: file, line, column, exit 2, nothing written ---------------------------------------


BAD_APPLICANTS = [
    ("a1,Z01,P01;NOPE\n", "a.csv:2: choices: unknown school 'NOPE' (choice 2)"),
    ("a1,Z01,P01;P01\n", "a.csv:2: choices: school 'P01' is listed twice (choices 1 and 2)"),
    ("a1,Z01,P01\na1,Z01,P02\n", "a.csv:3: applicant_id: duplicate id 'a1' (first on line 2)"),
    (
        "a1,Z01,K001\n",
        "a.csv:2: choices: school 'K001' (choice 1) is a kindergarten school, not one of this",
    ),  # not primary
]


@pytest.mark.parametrize(("rows", "message"), BAD_APPLICANTS)
def test_bad_applicants(tmp_path, rows, message):
    applicants = write(tmp_path / "a.csv", "applicant_id,zone_id,choices\n" + rows)
    out = tmp_path / "out"
    result = run(out, applicants=applicants)
    assert result.exit_code == 2
    assert message in result.output
    assert not out.exists()


def test_negative_seats(tmp_path):
    schools = write(tmp_path / "s.csv", "school_id,zone_id,seats\nA,Z1,3\nB,Z1,-1\n")
    applicants = write(tmp_path / "a.csv", "applicant_id,zone_id,choices\nx,Z1,A\n")
    result = run(tmp_path / "out", schools=schools, applicants=applicants, level=None)
    assert result.exit_code == 2
    assert "s.csv:3: seats: -1 is below the minimum of 0" in result.output


def test_empty_seed(tmp_path):
    result = run(tmp_path / "out", seed="  ")
    assert result.exit_code == 2 and "seed is empty" in result.output


POLICY_ERRORS = [
    (
        'mechanism = "deffered_acceptance"\n',
        "p.toml:1: mechanism (column 1): unknown mechanism 'deffered_acceptance'",
    ),
    ('mechanism = "deffered_acceptance"\n', "did you mean 'deferred_acceptance'?"),
    (
        'tie_brake = "single"\n',
        "p.toml:1: tie_brake (column 1): unknown policy key 'tie_brake'; did you mean 'tie_break'?",
    ),
    (
        'tie_break = "single"\n\n[[tiers]]\nname = "nothing"\n',
        "p.toml:4: name (column 1): tier 'nothing' has no conditions",
    ),
    (
        '[[tiers]]\nname = "x"\nsame_zone = true\nsiblings = true\n',
        "p.toml:4: siblings (column 1): unknown tier key 'siblings'; did you mean 'sibling'?",
    ),
    ("mechanism = \n", "p.toml:1: column"),
]


@pytest.mark.parametrize(("text", "message"), POLICY_ERRORS)
def test_bad_policy(tmp_path, text, message):
    policy = write(tmp_path / "p.toml", text)
    result = run(tmp_path / "out", "--policy", policy)
    assert result.exit_code == 2
    assert message in result.output


def test_default_policy_round_trips():
    from seats.lottery.policy import DEFAULT_POLICY

    assert parse_policy(DEFAULT_POLICY.to_toml()) == DEFAULT_POLICY


def test_demo_runs_both_lotteries(tmp_path):
    result = run_cli("demo", "--out", tmp_path / "demo")
    assert result.exit_code == 0, result.output
    for name in ("kindergarten_2021", "primary_2021"):
        assert (tmp_path / "demo" / name / "assignments.csv").exists()
    primary = read_rows(tmp_path / "demo" / "primary_2021" / "assignments.csv")
    assert all(r["status"] != "unplaced" for r in primary)  # primary schools seat every child


def test_every_command_has_help():
    from seats.cli import cli

    def walk(group, path):
        for name, command in group.commands.items():
            yield [*path, name]
            if hasattr(command, "commands"):
                yield from walk(command, [*path, name])

    for path in walk(cli, []):
        result = run_cli(*path, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output, path


def test_force_never_replaces_the_working_folder_or_an_input(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    applicants = data / "a.csv"
    applicants.write_bytes(PRIMARY.read_bytes())
    monkeypatch.chdir(data)
    result = run(".", "--force", applicants=applicants)
    assert result.exit_code == 2 and "current folder" in result.output
    monkeypatch.chdir(tmp_path)
    result = run(data, "--force", applicants=applicants)
    assert result.exit_code == 2 and "holds the input" in result.output
    assert applicants.exists()


def test_policy_without_tiers_keeps_the_default_tiers():
    from seats.lottery.policy import DEFAULT_POLICY

    assert parse_policy('mechanism = "immediate_acceptance"\n').tiers == DEFAULT_POLICY.tiers
    assert parse_policy("tiers = []\n").tiers == ()


def test_a_category_nobody_has_is_flagged(tmp_path):
    policy = write(tmp_path / "p.toml", '[[tiers]]\nname = "hukou"\ncategory = ["AA"]\n')
    result = run(tmp_path / "out", "--policy", policy)
    assert result.exit_code == 0
    assert "tier 'hukou' names category 'AA', which no applicant has" in result.output
