"""Balanced class formation: kernel vs naive objective, hard constraints, errors, determinism."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seats.classes import form_classes, replay_classes
from seats.classes import kernels as bk
from seats.classes.writers import BALANCE, CHART, CLASSES
from seats.io.errors import InputError
from seats.lottery.run import RunOptions, run_lottery
from tests.naive_balance import brute_force_best, naive_class_objective

PUPIL_HEADER = [
    "pupil_id",
    "school_id",
    "gender",
    "birth_date",
    "special_needs",
    "migrant",
    "score",
    "together_with",
    "apart_from",
    "fixed_class",
]


def write_rows(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def make_schools(folder: Path, caps: dict[str, int], seats: dict[str, int] | None = None) -> Path:
    seats = seats or {}
    return write_rows(
        folder / "schools.csv",
        ["school_id", "class_size_cap", "seats"],
        [[s, cap, seats.get(s, 100)] for s, cap in caps.items()],
    )


def random_pupils(rng: np.random.Generator, n: int, school: str, prefix: str = "p") -> list[list]:
    rows = []
    for i in range(n):
        month, day = int(rng.integers(1, 13)), int(rng.integers(1, 29))
        rows.append(
            [
                f"{prefix}{i:04d}",
                school,
                "F" if rng.random() < 0.48 else "M",
                f"2015-{month:02d}-{day:02d}",
                int(rng.random() < 0.05),
                int(rng.random() < 0.2),
                f"{min(100.0, max(0.0, rng.normal(75, 12))):.1f}" if rng.random() < 0.9 else "",
                "",
                "",
                "",
            ]
        )
    return rows


# --- kernel against the naive reference -------------------------------------------------------


@st.composite
def unit_instances(draw):
    n_classes = draw(st.integers(1, 4))
    n_units = draw(st.integers(n_classes, 9))
    sizes = draw(st.lists(st.integers(1, 2), min_size=n_units, max_size=n_units))
    values = [draw(st.lists(st.integers(-40, 40), min_size=3, max_size=3)) for _ in range(n_units)]
    assignment = draw(st.lists(st.integers(0, n_classes - 1), min_size=n_units, max_size=n_units))
    weights = draw(st.lists(st.integers(0, 16), min_size=3, max_size=3))
    return n_classes, sizes, values, assignment, weights


@settings(max_examples=300, deadline=None)
@given(unit_instances())
def test_kernel_objective_equals_naive(instance):
    n_classes, sizes, values, assignment, weights = instance
    kernel = bk.class_objective(
        np.array(assignment, dtype=np.int64),
        np.array(values, dtype=np.int64),
        np.array(sizes, dtype=np.int64),
        n_classes,
        np.array(weights, dtype=np.int64),
    )
    assert kernel == naive_class_objective(assignment, values, sizes, n_classes, weights)


def _improve(
    start, values, sizes, lo, hi, weights, pinned=None, apart=(), steps=200, seed=0, exchange=True
):
    n_units = len(sizes)
    rng = np.random.default_rng(seed)
    neighbours = [[] for _ in range(n_units)]
    for a, b in apart:
        neighbours[a].append(b)
        neighbours[b].append(a)
    ptr = np.zeros(n_units + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(x) for x in neighbours])
    proposals = np.stack(
        [
            rng.integers(0, n_units, steps),
            rng.integers(0, n_units, steps),
            rng.integers(0, 2, steps),
        ],
        axis=1,
    ).astype(np.int64)
    out = np.empty(n_units, dtype=np.int64)
    objective = bk.improve_classes(
        np.array(start, dtype=np.int64),
        bk.ClassProblem(
            np.array(values, dtype=np.int64),
            np.array(sizes, dtype=np.int64),
            np.zeros(n_units, dtype=bool) if pinned is None else np.array(pinned),
            ptr,
            np.array([v for x in neighbours for v in x], dtype=np.int64),
            np.array(lo, dtype=np.int64),
            np.array(hi, dtype=np.int64),
            np.array(weights, dtype=np.int64),
            rng.permutation(n_units).astype(np.int64),
        ),
        proposals,
        exchange,
        out,
    )
    return out, objective


@settings(max_examples=200, deadline=None)
@given(unit_instances(), st.integers(0, 2**32))
def test_improve_keeps_sizes_and_reports_its_objective(instance, seed):
    n_classes, _, values, _, weights = instance
    sizes = [1] * len(values)  # singles: a dealt start is always feasible
    n = len(sizes)
    lo = [n // n_classes] * n_classes
    hi = [x + (1 if n % n_classes else 0) for x in lo]
    start = [u % n_classes for u in range(n)]
    out, objective = _improve(start, values, sizes, lo, hi, weights, seed=seed)
    counts = Counter(out.tolist())
    assert all(lo[c] <= counts[c] <= hi[c] for c in range(n_classes))
    assert objective == naive_class_objective(out.tolist(), values, sizes, n_classes, weights)
    assert objective <= naive_class_objective(start, values, sizes, n_classes, weights)


def test_improve_finds_the_optimum_of_tiny_instances():
    rng = np.random.default_rng(7)
    for _ in range(20):
        n, n_classes = 8, 2
        values = rng.integers(-20, 21, size=(n, 3)).tolist()
        weights = [4, 2, 1]
        _, objective = _improve(
            [u % 2 for u in range(n)], values, [1] * n, [4, 4], [4, 4], weights, steps=2000
        )
        assert objective == brute_force_best(values, [1] * n, n_classes, [4, 4], [4, 4], weights)


def test_exchange_leaves_no_improving_swap_or_two_for_two():
    """With exchanges on, the result is a local optimum for one-for-one and two-for-two trades
    (checked with the naive objective over every trade)."""
    from itertools import combinations

    rng = np.random.default_rng(11)
    weights = [16, 2, 8]
    for _ in range(10):
        n, n_classes = 12, 3
        values = rng.integers(-30, 31, size=(n, 3)).tolist()
        start = [u % n_classes for u in range(n)]
        out, objective = _improve(start, values, [1] * n, [4] * 3, [4] * 3, weights, steps=50)
        out = out.tolist()
        assert objective == naive_class_objective(out, values, [1] * n, n_classes, weights)
        for a, b in combinations(range(n_classes), 2):
            in_a = [u for u in range(n) if out[u] == a]
            in_b = [u for u in range(n) if out[u] == b]
            for k in (1, 2):
                for give in combinations(in_a, k):
                    for take in combinations(in_b, k):
                        trial = list(out)
                        for u in give:
                            trial[u] = b
                        for u in take:
                            trial[u] = a
                        cost = naive_class_objective(trial, values, [1] * n, n_classes, weights)
                        assert cost >= objective


def test_improve_respects_pinned_and_apart():
    values = [[i % 3, i % 2, i] for i in range(12)]
    start = [u % 3 for u in range(12)]
    pinned = [u < 2 for u in range(12)]
    apart = [(2, 3), (4, 5), (2, 4)]  # the start (u % 3) honours them, as the kernel requires
    for exchange in (False, True):
        out, _ = _improve(
            start, values, [1] * 12, [4] * 3, [4] * 3, [3, 2, 1], pinned, apart, 500, 0, exchange
        )
        assert out[0] == 0 and out[1] == 1
        assert all(out[a] != out[b] for a, b in apart)


def _polish(cls, values, sizes, lo, hi, weights, k_max, pinned=None, apart=(), target=-1):
    n_units = len(sizes)
    neighbours = [[] for _ in range(n_units)]
    for a, b in apart:
        neighbours[a].append(b)
        neighbours[b].append(a)
    ptr = np.zeros(n_units + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(x) for x in neighbours])
    out = np.array(cls, dtype=np.int64)
    objective = bk.exact_exchanges(
        out,
        bk.ClassProblem(
            np.array(values, dtype=np.int64),
            np.array(sizes, dtype=np.int64),
            np.zeros(n_units, dtype=bool) if pinned is None else np.array(pinned),
            ptr,
            np.array([v for x in neighbours for v in x], dtype=np.int64),
            np.array(lo, dtype=np.int64),
            np.array(hi, dtype=np.int64),
            np.array(weights, dtype=np.int64),
            np.arange(n_units, dtype=np.int64),
        ),
        k_max,
        True,
        target,
    )
    return out, int(objective)


@settings(max_examples=150, deadline=None)
@given(unit_instances(), st.integers(1, 3))
def test_exact_exchanges_keep_constraints_and_report_their_objective(instance, k_max):
    n_classes, sizes, values, _, weights = instance
    n = len(sizes)
    start = [u % n_classes for u in range(n)]
    counts = Counter()
    for u, c in enumerate(start):
        counts[c] += sizes[u]
    lo = [counts[c] for c in range(n_classes)]
    hi = list(lo)
    pinned = [u == 0 for u in range(n)]
    apart = [(u, u + 1) for u in range(n - 1) if start[u] != start[u + 1]][:2]
    out, objective = _polish(start, values, sizes, lo, hi, weights, k_max, pinned, apart)
    after = Counter()
    for u, c in enumerate(out.tolist()):
        after[c] += sizes[u]
    assert after == counts
    assert out[0] == start[0]
    assert all(out[a] != out[b] for a, b in apart)
    assert objective == naive_class_objective(out.tolist(), values, sizes, n_classes, weights)
    assert objective <= naive_class_objective(start, values, sizes, n_classes, weights)


def test_lower_bound_holds_and_the_polish_reaches_the_small_optima(tmp_path):
    """The lattice bound is at most the brute-force optimum of tiny cohorts, and the whole
    search reaches the proven optima of the benchmark's 60/2 and 90/2 cohorts (they equal the
    bound)."""
    from types import SimpleNamespace

    from seats.classes.objective import lower_bound
    from seats.classes.search import solve_plan
    from seats.io.errors import Problems

    rng = np.random.default_rng(5)
    for _ in range(10):
        n, n_classes = 9, 3
        values = rng.integers(-20, 21, size=(n, 3)) * np.array([8, 1, 3])
        plan = SimpleNamespace(size_lo=np.full(3, 3), size_hi=np.full(3, 3))
        weights = [16, 2, 8]
        bound = lower_bound(values, np.ones(n, dtype=np.int64), plan, np.array(weights))
        best = brute_force_best(values.tolist(), [1] * n, n_classes, [3] * 3, [3] * 3, weights)
        assert 0 <= bound <= best
    import sys

    sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
    import bench_classes as bench

    for n, n_classes, seed, optimum in ((60, 2, 1, 117_973_800), (90, 2, 3, 52_650)):
        pupils, _ = bench.write_cohort(tmp_path, n, seed)
        cohort, plan, _, _, _ = bench.prepare(pupils, n_classes)
        solved = solve_plan(cohort, plan, "bench", Problems())
        assert solved.objective == optimum


# --- the whole job: constraints over random cohorts -------------------------------------------


@st.composite
def cohorts(draw):
    n = draw(st.integers(2, 70))
    cap = draw(st.integers(3, 20))
    seed = draw(st.integers(0, 2**32))
    return n, cap, seed


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cohorts())
def test_constraints_hold_over_random_cohorts(tmp_path_factory, cohort):
    n, cap, seed = cohort
    tmp = tmp_path_factory.mktemp("cohort")
    rng = np.random.default_rng(seed)
    rows = random_pupils(rng, n, "S1")
    n_classes = -(-n // cap)
    smallest = n // n_classes
    # requests that are always satisfiable: pairs together (if a class holds 3: with 4 pupils in
    # 2 classes of 2, the pair fills one class and pupil 2, apart from the fixed pupil 3, has no
    # room; hypothesis found it), pairs apart (if there are 2 classes), one pupil fixed to the
    # last class
    together = apart = []
    if smallest >= 3 and n >= 4:
        rows[0][7] = rows[1][0]
        together = [(0, 1)]
    if n_classes >= 2 and n >= 4:
        rows[2][8] = rows[3][0]
        apart = [(2, 3)]
        rows[3][9] = n_classes
    pupils = write_rows(tmp / "pupils.csv", PUPIL_HEADER, rows)
    schools = make_schools(tmp, {"S1": cap})
    form_classes(pupils, schools, seed=f"seed {seed}", out_dir=tmp / "out")
    result = {r["pupil_id"]: int(r["class_no"]) for r in read_rows(tmp / "out" / CLASSES)}
    assert len(result) == n
    sizes = Counter(result.values())
    assert sorted(sizes) == list(range(1, n_classes + 1))
    assert max(sizes.values()) - min(sizes.values()) <= 1
    assert max(sizes.values()) <= cap
    ids = [r[0] for r in rows]
    for a, b in together:
        assert result[ids[a]] == result[ids[b]]
    for a, b in apart:
        assert result[ids[a]] != result[ids[b]]
    if n_classes >= 2 and n >= 4:
        assert result[ids[3]] == n_classes


def test_600_pupils_in_14_classes_are_balanced(tmp_path):
    rng = np.random.default_rng(2021)
    pupils = write_rows(tmp_path / "pupils.csv", PUPIL_HEADER, random_pupils(rng, 600, "S1"))
    schools = make_schools(tmp_path, {"S1": 45})
    summary = form_classes(pupils, schools, seed="bench", out_dir=tmp_path / "out")
    (outcome,) = summary.outcomes
    assert len(outcome.figures) == 14
    spread = {k: v for k, v in outcome_spreads(outcome).items()}
    for key in ("size", "girls", "boys", "special_needs", "migrant"):
        assert spread[key] <= 1, (key, spread)
    assert spread["mean_score"] <= 0.5
    assert outcome.objective <= outcome.objective_start


def outcome_spreads(outcome):
    from seats.classes.writers import spreads

    return spreads(outcome.figures)


# --- infeasible requests name the pupils ---------------------------------------------------------


def _cohort_with(tmp_path, n, cap, edits):
    rows = random_pupils(np.random.default_rng(1), n, "S1")
    for (i, column), value in edits.items():
        rows[i][PUPIL_HEADER.index(column)] = value
    pupils = write_rows(tmp_path / "pupils.csv", PUPIL_HEADER, rows)
    return pupils, make_schools(tmp_path, {"S1": cap}), [r[0] for r in rows]


def test_together_chain_larger_than_a_class(tmp_path):
    # 10 pupils, cap 4 -> 3 classes of 3-4; a chain of 5 cannot fit
    edits = {(i, "together_with"): f"p{i + 1:04d}" for i in range(4)}
    pupils, schools, ids = _cohort_with(tmp_path, 10, 4, edits)
    with pytest.raises(InputError) as err:
        form_classes(pupils, schools, seed="s", out_dir=tmp_path / "out")
    message = str(err.value)
    assert "together_with" in message and all(f"'{ids[i]}'" in message for i in range(5))
    assert not (tmp_path / "out").exists()


def test_together_and_apart_conflict(tmp_path):
    edits = {
        (0, "together_with"): "p0001",
        (1, "together_with"): "p0002",
        (2, "apart_from"): "p0000",
    }
    pupils, schools, _ = _cohort_with(tmp_path, 20, 10, edits)
    with pytest.raises(InputError) as err:
        form_classes(pupils, schools, seed="s", out_dir=tmp_path / "out")
    message = str(err.value)
    assert "'p0002'" in message and "'p0000'" in message and "apart_from" in message


def test_fixed_class_beyond_the_class_count(tmp_path):
    pupils, schools, _ = _cohort_with(tmp_path, 20, 10, {(5, "fixed_class"): "3"})
    with pytest.raises(InputError) as err:
        form_classes(pupils, schools, seed="s", out_dir=tmp_path / "out")
    assert (
        "pupils.csv:7: fixed_class: pupil 'p0005' is fixed to class 3 but S1 has 2 classes"
        in str(err.value)
    )


def test_apart_pupils_fixed_to_the_same_class(tmp_path):
    edits = {(0, "apart_from"): "p0001", (0, "fixed_class"): "1", (1, "fixed_class"): "1"}
    pupils, schools, _ = _cohort_with(tmp_path, 20, 10, edits)
    with pytest.raises(InputError, match=r"'p0000'.*'p0001'.*both fixed to class 1"):
        form_classes(pupils, schools, seed="s", out_dir=tmp_path / "out")


def test_too_many_fixed_to_one_class(tmp_path):
    edits = {(i, "fixed_class"): "1" for i in range(6)}
    pupils, schools, _ = _cohort_with(tmp_path, 10, 5, edits)
    with pytest.raises(InputError, match="6 pupils are fixed to class 1"):
        form_classes(pupils, schools, seed="s", out_dir=tmp_path / "out")


def test_apart_that_no_class_can_honour(tmp_path):
    # 3 pupils pairwise apart, but only 2 classes
    edits = {(0, "apart_from"): "p0001;p0002", (1, "apart_from"): "p0002"}
    pupils, schools, _ = _cohort_with(tmp_path, 8, 4, edits)
    with pytest.raises(InputError, match="no class at S1 can take pupils"):
        form_classes(pupils, schools, seed="s", out_dir=tmp_path / "out")


# --- bad input: file:line: column -----------------------------------------------------------------


def test_bad_cells_are_reported_with_file_line_and_column(tmp_path):
    edits = {
        (0, "gender"): "X",
        (1, "birth_date"): "2015-13-01",
        (2, "special_needs"): "yes",
        (3, "score"): "high",
        (4, "school_id"): "NOPE",
        (5, "together_with"): "ghost",
        (6, "fixed_class"): "0",
    }
    pupils, schools, _ = _cohort_with(tmp_path, 10, 5, edits)
    with pytest.raises(InputError) as err:
        form_classes(pupils, schools, seed="s", out_dir=tmp_path / "out")
    text = str(err.value)
    name = str(pupils)
    for expected in (
        f"{name}:2: gender: 'X' is not one of F, M",
        f"{name}:3: birth_date: '2015-13-01' is not a date",
        f"{name}:4: special_needs: 'yes' is not one of 0, 1",
        f"{name}:5: score: 'high' is not a number",
        f"{name}:7: together_with: unknown pupil 'ghost'",
        f"{name}:8: fixed_class: 0 is below the minimum of 1",
    ):
        assert expected in text, (expected, text)
    with pytest.raises(InputError, match=r"pupils.csv:6: school_id: unknown school 'NOPE'"):
        fixed = {k: v for k, v in edits.items() if k[1] == "school_id"}
        pupils, schools, _ = _cohort_with(tmp_path, 10, 5, fixed)
        form_classes(pupils, schools, seed="s", out_dir=tmp_path / "out")


def test_missing_column_and_bad_seed(tmp_path):
    path = write_rows(
        tmp_path / "pupils.csv", ["pupil_id", "school_id", "gender"], [["a", "S1", "F"]]
    )
    schools = make_schools(tmp_path, {"S1": 5})
    with pytest.raises(InputError, match=r"pupils\.csv:1: birth_date: required column is missing"):
        form_classes(path, schools, seed="s", out_dir=tmp_path / "out")
    with pytest.raises(InputError, match="the seed is empty"):
        form_classes(path, schools, seed=" ", out_dir=tmp_path / "out")


# --- determinism, lottery, replay -------------------------------------------------------------


def _cohort_files(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(3)
    rows = random_pupils(rng, 130, "S1") + random_pupils(rng, 50, "S2", prefix="q")
    rows[0][7] = rows[1][0]
    rows[4][8] = rows[5][0]
    return (
        write_rows(tmp_path / "pupils.csv", PUPIL_HEADER, rows),
        make_schools(tmp_path, {"S1": 45, "S2": 45}),
    )


def test_outputs_are_byte_identical_and_replayable(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1625097600")
    pupils, schools = _cohort_files(tmp_path)
    form_classes(pupils, schools, seed="2021 public seed", out_dir=tmp_path / "a")
    form_classes(pupils, schools, seed="2021 public seed", out_dir=tmp_path / "b")
    replay_classes(tmp_path / "a", tmp_path / "replayed")
    for name in (CLASSES, BALANCE, CHART):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "replayed" / name).read_bytes()
    assert (tmp_path / "a" / "audit.jsonl").read_bytes() == (
        tmp_path / "b" / "audit.jsonl"
    ).read_bytes()
    form_classes(pupils, schools, seed="another seed", out_dir=tmp_path / "c")
    assert (tmp_path / "a" / CLASSES).read_bytes() != (tmp_path / "c" / CLASSES).read_bytes()


def test_class_numbers_follow_the_published_lottery(tmp_path):
    pupils, schools = _cohort_files(tmp_path)
    seed = "2021 public seed"
    form_classes(pupils, schools, seed=seed, out_dir=tmp_path / "out")
    records = [json.loads(x) for x in (tmp_path / "out" / "audit.jsonl").read_text().splitlines()]
    assert [r["kind"] for r in records][:1] == ["run"] and records[-1]["kind"] == "end"
    assert records[0]["payload"]["tool"] == "seats classes form"
    members = defaultdict(list)
    for row in read_rows(tmp_path / "out" / CLASSES):
        members[(row["school_id"], int(row["class_no"]))].append(row["pupil_id"])
    for record in (r for r in records if r["kind"] == "school"):
        school = record["payload"]["school_id"]
        draws = record["payload"]["class_lottery"]
        numbers = [
            hashlib.sha256(f"{seed}\n{school}\n{d['label']}".encode()).hexdigest() for d in draws
        ]
        assert numbers == [d["lottery_number"] for d in draws]
        assert numbers == sorted(numbers)  # no fixed classes here: class k = k-th smallest
        for d in draws:
            assert d["label"] == min(members[(school, d["class_no"])])


def test_a_lottery_run_folder_is_a_pupils_input(tmp_path):
    rng = np.random.default_rng(5)
    schools = write_rows(
        tmp_path / "schools.csv",
        ["school_id", "zone_id", "seats", "class_size_cap"],
        [["A", "Z1", 50, 20], ["B", "Z1", 30, 20]],
    )
    applicants = write_rows(
        tmp_path / "applicants.csv",
        ["applicant_id", "zone_id", "choices", "gender", "birth_date", "special_needs", "migrant"],
        [
            [
                f"a{i:03d}",
                "Z1",
                "A;B" if i % 3 else "B",
                "F" if i % 2 else "M",
                "2015-03-01",
                0,
                i % 5 == 0,
            ]
            for i in range(90)
        ],
    )
    # migrant must be 0/1: bools above would be written as True/False
    text = applicants.read_text().replace("True", "1").replace("False", "0")
    applicants.write_text(text)
    run_lottery(schools, applicants, tmp_path / "lottery", RunOptions(seed="x"))
    summary = form_classes(tmp_path / "lottery", schools, seed="y", out_dir=tmp_path / "classes")
    placed = [
        r for r in read_rows(tmp_path / "lottery" / "assignments.csv") if r["status"] == "placed"
    ]
    result = read_rows(tmp_path / "classes" / CLASSES)
    assert {r["pupil_id"] for r in result} == {r["applicant_id"] for r in placed}
    assert summary.pupils == 80 and rng is not None
    replay_classes(tmp_path / "classes", tmp_path / "replayed")
    assert (tmp_path / "classes" / CLASSES).read_bytes() == (
        tmp_path / "replayed" / CLASSES
    ).read_bytes()


def test_group_pupils_are_shared_by_seats(tmp_path):
    schools = make_schools(
        tmp_path, {"L": 45, "B1": 45, "B2": 45}, {"L": 200, "B1": 100, "B2": 100}
    )
    write_rows(tmp_path / "groups.csv", ["group_id", "kind"], [["G1", "education_group"]])
    write_rows(
        tmp_path / "group_members.csv",
        ["group_id", "school_id", "role"],
        [["G1", "L", "lead"], ["G1", "B1", "branch"], ["G1", "B2", "branch"]],
    )
    rows = random_pupils(np.random.default_rng(9), 202, "G1")
    rows[0][1], rows[0][9] = "B2", "1"  # fixed to class 1 at campus B2: stays there
    pupils = write_rows(tmp_path / "pupils.csv", PUPIL_HEADER, rows)
    summary = form_classes(pupils, schools, seed="g", group="G1", out_dir=tmp_path / "out")
    result = read_rows(tmp_path / "out" / CLASSES)
    per_campus = Counter(r["school_id"] for r in result)
    assert per_campus == {"L": 101, "B1": 51, "B2": 50} or per_campus == {
        "L": 101,
        "B1": 50,
        "B2": 51,
    }
    assert {r["school_id"]: r["class_no"] for r in result if r["pupil_id"] == rows[0][0]} == {
        "B2": "1"
    }
    (share,) = summary.campus_shares
    assert share["group_id"] == "G1" and share["pupils"] == 202
    replay_classes(tmp_path / "out", tmp_path / "replayed")
    assert (tmp_path / "out" / CLASSES).read_bytes() == (
        tmp_path / "replayed" / CLASSES
    ).read_bytes()


def test_embedded_requests_apply_to_the_demo_intake(tmp_path):
    """The embedded class requests name applicants that every primary draw places."""
    from seats.io.model import embedded_dataset

    data = embedded_dataset()
    requests = read_rows(data / "class_requests_primary_2021.csv")
    assert len(requests) == 10
    applicants = {r["applicant_id"]: r for r in read_rows(data / "applicants_primary_2021.csv")}
    for r in requests:
        assert r["pupil_id"] in applicants
        other = r["together_with"] or r["apart_from"]
        if other:
            first = applicants[r["pupil_id"]]["choices"].split(";")[0]
            assert applicants[other]["choices"].split(";")[0] == first
