"""Teacher teams: every class staffed, loads and homeroom rules, spread, errors, determinism."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seats.classes import form_classes
from seats.classes import kernels as bk
from seats.classes.teachers import (
    CLASS_TEACHERS,
    REQUIRED,
    TEACHER_BALANCE,
    assign_teachers,
    replay_teachers,
)
from seats.io.errors import InputError
from seats.io.model import embedded_dataset
from tests.naive_balance import naive_team_objective
from tests.test_classes import PUPIL_HEADER, random_pupils, read_rows, write_rows

DATA = embedded_dataset()
GROUP_G1 = ("P01", "P34", "P39")  # 新道街小学教育集团: lead and two branches


@pytest.fixture(scope="module")
def classes_dir(tmp_path_factory) -> Path:
    """Classes for a few embedded primary schools, including all of education group G1."""
    tmp = tmp_path_factory.mktemp("classes")
    rng = np.random.default_rng(11)
    rows = []
    for school, n in (("P01", 180), ("P34", 120), ("P39", 95), ("P12", 130), ("P48", 17)):
        rows += random_pupils(rng, n, school, prefix=f"{school}-")
    pupils = write_rows(tmp / "pupils.csv", PUPIL_HEADER, rows)
    form_classes(pupils, DATA / "schools.csv", seed="c", out_dir=tmp / "classes")
    return tmp / "classes"


@pytest.fixture(scope="module")
def assigned(classes_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("teachers") / "run"
    summary = assign_teachers(classes_dir, DATA / "teachers.csv", seed="t", out_dir=out)
    return out, summary


def test_every_class_gets_its_team_and_a_homeroom_teacher(classes_dir, assigned):
    out, _ = assigned
    classes = {(r["school_id"], r["class_no"]) for r in read_rows(classes_dir / "classes.csv")}
    roles = defaultdict(list)
    for row in read_rows(out / CLASS_TEACHERS):
        roles[(row["school_id"], row["class_no"])].append((row["role"], row["teacher_id"]))
    assert set(roles) == classes
    teachers = {r["teacher_id"]: r for r in read_rows(DATA / "teachers.csv")}
    required = Counter(dict(REQUIRED["primary"]))
    for key, team in roles.items():
        subjects = Counter(role for role, _ in team if role != "homeroom")
        assert subjects == required, key
        (head,) = [t for role, t in team if role == "homeroom"]
        assert teachers[head]["homeroom"] == "1"
        assert head in [t for role, t in team if role == "chinese"]
        for role, t in team:
            if role != "homeroom":
                assert teachers[t]["subject"] == role


def test_loads_homeroom_and_campus_rules(assigned):
    out, _ = assigned
    teachers = {r["teacher_id"]: r for r in read_rows(DATA / "teachers.csv")}
    rows = read_rows(out / CLASS_TEACHERS)
    load = Counter(r["teacher_id"] for r in rows if r["role"] != "homeroom")
    heads = Counter(r["teacher_id"] for r in rows if r["role"] == "homeroom")
    assert all(load[t] <= int(teachers[t]["max_classes"]) for t in load)
    assert max(heads.values()) == 1
    for r in rows:
        home = teachers[r["teacher_id"]]["school_id"]
        if home != r["school_id"]:  # only rotating teachers cross campuses, within the group
            assert teachers[r["teacher_id"]]["rotating"] == "1"
            assert home in GROUP_G1 and r["school_id"] in GROUP_G1


def test_spread_after_is_not_above_before(assigned):
    out, summary = assigned
    for result in summary.results:
        assert result.spread_after <= result.spread_before + 1e-9
        assert result.objective_after <= result.objective_before
    pools = [tuple(summary.school_ids[s] for s in r.pool.schools) for r in summary.results]
    assert GROUP_G1 in pools  # the group's campuses are balanced as one pool
    rows = read_rows(out / TEACHER_BALANCE)
    assert {"team_score", "team_score_serpentine", "homeroom_teacher_id"} <= set(rows[0])


def test_teacher_outputs_are_deterministic_and_replayable(classes_dir, assigned, tmp_path):
    out, _ = assigned
    assign_teachers(classes_dir, DATA / "teachers.csv", seed="t", out_dir=tmp_path / "again")
    replay_teachers(out, tmp_path / "replayed")
    for name in (CLASS_TEACHERS, TEACHER_BALANCE):
        assert (out / name).read_bytes() == (tmp_path / "again" / name).read_bytes()
        assert (out / name).read_bytes() == (tmp_path / "replayed" / name).read_bytes()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 2000), min_size=1, max_size=12))
def test_team_objective_equals_naive(team):
    assert bk.team_objective(np.array(team, dtype=np.int64)) == naive_team_objective(team)


def _teacher_file(tmp_path: Path, edit=None) -> Path:
    with open(DATA / "teachers.csv", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if edit:
        edit(rows)
    path = tmp_path / "teachers.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    return path


def test_bad_teacher_cells_name_file_line_column(classes_dir, tmp_path):
    def edit(rows):
        rows[1][3] = "professor"  # title
        rows[2][5] = "120"  # rating
        rows[3][6] = "-1"  # max_classes
        rows[4][1] = "P99"  # school

    path = _teacher_file(tmp_path, edit)
    with pytest.raises(InputError) as err:
        assign_teachers(classes_dir, path, seed="t", out_dir=tmp_path / "out")
    text = str(err.value)
    for expected in (
        f"{path}:2: title: 'professor' is not one of",
        f"{path}:3: rating: 120 is above 100",
        f"{path}:4: max_classes: -1 is below the minimum of 0",
        f"{path}:5: school_id: unknown school 'P99'",
    ):
        assert expected in text, (expected, text)
    assert not (tmp_path / "out").exists()


def test_too_few_teachers_is_an_input_error(classes_dir, tmp_path):
    def edit(rows):
        rows[1:] = [r for r in rows[1:] if not (r[1] == "P12" and r[2] == "english")]

    path = _teacher_file(tmp_path, edit)
    with pytest.raises(InputError, match=r"P12 class .*: no english teacher"):
        assign_teachers(classes_dir, path, seed="t", out_dir=tmp_path / "out")
