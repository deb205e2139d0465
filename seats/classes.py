"""`seats classes form`: balanced class formation (均衡编班), audited and reproducible.

Input
-----
* Pupils: a table with ``pupil_id``, ``school_id`` (a school, or with ``--group`` the group's
  id), ``gender`` (F, M), ``birth_date`` (YYYY-MM-DD), optional ``special_needs``, ``migrant``
  (0, 1), ``score`` (0-100, may be empty: unknown), ``together_with`` and ``apart_from`` (pupil
  ids separated by ``;``), ``fixed_class`` (class number >= 1). A lottery run folder works too:
  the rows of its ``assignments.csv`` with status placed or assigned, joined to
  ``inputs/applicants.*`` (``pupil_id`` = ``applicant_id``).
* Requests (optional, ``--requests``): ``pupil_id`` plus any of ``together_with``,
  ``apart_from``, ``fixed_class``, merged into the pupils' own columns. A request row whose pupil,
  or a pupil it names, is not among the pupils formed (e.g. not admitted) is skipped and counted.
* Schools: ``school_id``, ``class_size_cap`` (班额), and ``seats`` with ``--group``. With
  ``--group``, ``groups.csv`` and ``group_members.csv`` are read from the schools file's folder.
* Class counts (optional, ``--class-counts``): ``school_id``, ``classes``. The district's
  ``schools.csv`` column ``classes`` counts every grade, so it is not used. Default:
  ``ceil(pupils / class_size_cap)``.

Classes
-------
A school with N pupils in C classes gets classes of ``N // C`` or ``N // C + 1`` pupils (never
above the cap). Hard constraints: ``together_with`` pupils share a class (the relation is made
transitive: a chain is one unit), ``apart_from`` pupils do not, a ``fixed_class`` pupil is in that
class. A request that cannot hold raises InputError naming the pupils.

Objective (what "balanced" means)
---------------------------------
Seven features per pupil, computed per school cohort, in units of 1/Q (Q <= 64, chosen so the
integer objective cannot overflow):

==========================  =====================================  ======
feature                     value per pupil                        weight
==========================  =====================================  ======
girls                       1 if F                                 16
special needs               special_needs                          16
migrant (随迁子女)          migrant                                16
age (birth month)           z of birth date, clipped to +-4        2
age spread                  abs(z) of birth date                   1
score mean                  z of score (0 if unknown)              8
score spread                abs(z) of score (mean if unknown)      2
==========================  =====================================  ======

z = (x - cohort mean) / cohort SD (population SD; 0 if the SD is 0). The objective is
``sum_c sum_f weight_f * (N * S_cf - n_c * T_f) ** 2`` where ``S_cf`` is class c's total of
feature f, ``n_c`` its size and ``T_f`` the cohort total: every class's totals as close as
possible to its proportional share. Boys need no term of their own (boys = size - girls).
Sizes are a hard constraint, not a term.

Search: a serpentine (S型) start (girls by score, then boys by score, dealt 1..C, C..1, ...,
constrained pupils placed first), then the kernel :func:`seats.balance_kernels.improve_classes`
(swaps and moves to a local optimum, threshold accepting, descent again; on small cohorts also
exchanges of two pupils (units) for two between any two classes, until none improves). Those
cohorts get several such runs from the same start with different proposals, the best kept (ties:
the earlier run), and then :func:`seats.balance_kernels.exact_exchanges` polishes it: for k = 1,
2, ... up to a size-dependent k, and every pair of classes, the best exchange of k single pupils
for k that puts every feature's two class totals on one of the two lattice steps nearest the
pair's best (found exactly by a meet-in-the-middle lookup over every k-subset of each class),
descent and two-for-two exchanges after each improvement, k back to 1; it stops early when the
objective reaches :func:`lower_bound` (then nothing can improve). :func:`search_effort` sets
steps, runs, exchanges and the largest k from the cohort's size only. The visit order and every
run's proposals come, in that order, from one NumPy PCG64 stream seeded with the first 8 bytes
(big-endian) of SHA-256(``seed + "\\nclasses\\n" + school_id``); the polish draws nothing.

Class numbers by lottery
------------------------
The balanced groups are labelled by their smallest pupil_id (Unicode order). A group holding
``fixed_class`` pupils takes that number; the others are ordered by the lowercase hex SHA-256 of
``seed + "\\n" + school_id + "\\n" + label`` and take the free numbers in ascending order. The
audit log records every label, lottery number and class number.

Education groups (``--group``)
------------------------------
The pupils listed under the group id or under any of its campuses are pooled and shared among the
campuses in proportion to their seats (largest remainder), with the same objective and hard
sizes (a ``fixed_class`` pupil stays at the campus listed). Campuses of equal share then trade
their parts by lottery (label = smallest pupil_id, SHA-256 of ``seed + "\\n" + group_id + "\\n" +
label``, ascending lottery number to ascending school_id), so the search does not decide which
children go to which campus. Then each campus forms its classes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seats import balance_kernels as bk
from seats.audit import AUDIT_FILE, AuditLog, RecordedRun, library_versions
from seats.errors import InputError, Problem, Problems
from seats.lottery import check_seed
from seats.model import FLAGS, GENDERS
from seats.output import copy_input, sha256_file, staged_output, write_csv
from seats.run import INPUTS
from seats.tables import Table, find_table, read_table

TOOL = "seats classes form"
CLASSES, BALANCE, CHART = "classes.csv", "balance.csv", "classes.png"
OUTPUT_FILES = (CLASSES, BALANCE, CHART)
LOTTERY_RUN = "lottery_run"
LIST_SEPARATOR = ";"
ADMITTED = ("placed", "assigned")

FEATURES = ("girls", "special_needs", "migrant", "age", "age_spread", "score", "score_spread")
WEIGHTS = np.array([16, 16, 16, 2, 1, 8, 2], dtype=np.int64)
Z_CLIP = 4.0
MAX_SCALE = 64
INT_BUDGET = 2**61  # the objective (and every delta) stays far below int64's 2**63
SEARCH_STEPS_PER_UNIT = 400
SEARCH_STEPS_MAX = 300_000
SEARCH_RESTARTS_MAX = 16
EXCHANGE_WORK_MAX = 2_000_000  # two-for-two candidates per sweep, above which none are tried
EXCHANGE_WORK_TOTAL = 2_000_000  # candidates per sweep times restarts, with exchanges
EXACT_WORK_MAX = 150_000  # pairs of classes times k-subsets of a class, for k-for-k exchanges


# --- the cohort -------------------------------------------------------------------------------


@dataclass
class Cohort:
    """Validated pupils; requests as index lists."""

    ids: list[str]
    school: list[str]
    female: np.ndarray
    birth_day: np.ndarray  # days since 1970-01-01
    special: np.ndarray
    migrant: np.ndarray
    score: np.ndarray
    has_score: np.ndarray
    together: list[list[int]]
    apart: list[list[int]]
    fixed: np.ndarray  # class number, 0 = none
    file: str
    lines: list[int]
    skipped_requests: int = 0

    def __len__(self) -> int:
        return len(self.ids)

    def who(self, i: int) -> str:
        return f"'{self.ids[i]}' (line {self.lines[i]})"


def _id_list(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(LIST_SEPARATOR) if part.strip()] if cell else []


def _read_requests(table: Table, index: dict[str, int], together, apart, fixed) -> None:
    """Merge request columns of `table` (rows keyed by `index`) into the lists, in place."""
    problems = table.problems
    id_column = table.header[0] if table.header else "pupil_id"
    for column in ("pupil_id", "applicant_id"):
        if table.has(column):
            id_column = column
    ids = table.text(id_column)
    fixed_cells = table.ints("fixed_class", minimum=1, required=False)
    has_fixed = [v != "" for v in table.text("fixed_class", required=False)]
    for column, target in (("together_with", together), ("apart_from", apart)):
        for i, cell in enumerate(table.text(column, required=False)):
            if ids[i] not in index:
                continue
            me = index[ids[i]]
            for other in _id_list(cell):
                if other == ids[i]:
                    problems.add(table.name, table.lines[i], column, "names the pupil itself")
                elif other not in index:
                    problems.add(table.name, table.lines[i], column, f"unknown pupil '{other}'")
                else:
                    target[me].append(index[other])
    for i, present in enumerate(has_fixed):
        if present and ids[i] in index:
            me = index[ids[i]]
            number = int(fixed_cells[i])
            if fixed[me] and fixed[me] != number:
                problems.add(
                    table.name,
                    table.lines[i],
                    "fixed_class",
                    f"pupil '{ids[i]}' is fixed to class {fixed[me]} elsewhere",
                )
            fixed[me] = number


def _read_cohort(table: Table, id_column: str) -> Cohort:
    table.require((id_column, "school_id", "gender", "birth_date"))
    index = table.unique_ids(id_column)
    ids = table.text(id_column)
    gender = table.choice("gender", GENDERS)
    birth_day = np.zeros(len(table), dtype=np.int64)
    epoch = dt.date(1970, 1, 1)
    for i, value in enumerate(table.text("birth_date")):
        if value:
            try:
                birth_day[i] = (dt.date.fromisoformat(value) - epoch).days
            except ValueError:
                table.problems.add(
                    table.name,
                    table.lines[i],
                    "birth_date",
                    f"'{value}' is not a date like 2015-03-01",
                )
    flags = {}
    for column in ("special_needs", "migrant"):
        values = table.choice(column, FLAGS, required=False)
        flags[column] = np.array([v == "1" for v in values], dtype=np.int64)
    score = np.zeros(len(table))
    has_score = np.zeros(len(table), dtype=bool)
    for i, value in enumerate(table.text("score", required=False)):
        if value == "":
            continue
        try:
            number = float(value)
        except ValueError:
            table.problems.add(table.name, table.lines[i], "score", f"'{value}' is not a number")
            continue
        if not 0.0 <= number <= 100.0:
            table.problems.add(table.name, table.lines[i], "score", f"{value} is not in 0-100")
            continue
        score[i], has_score[i] = number, True
    together: list[list[int]] = [[] for _ in ids]
    apart: list[list[int]] = [[] for _ in ids]
    fixed = np.zeros(len(ids), dtype=np.int64)
    _read_requests(table, {k: v for k, v in index.items()}, together, apart, fixed)
    return Cohort(
        ids=ids,
        school=table.text("school_id"),
        female=np.array([g == "F" for g in gender], dtype=np.int64),
        birth_day=birth_day,
        special=flags["special_needs"],
        migrant=flags["migrant"],
        score=score,
        has_score=has_score,
        together=together,
        apart=apart,
        fixed=fixed,
        file=table.name,
        lines=table.lines,
    )


def is_lottery_run(path: Path) -> bool:
    return path.is_dir() and (path / "assignments.csv").exists()


def _lottery_pupils(run_dir: Path, problems: Problems, encoding: str | None) -> Table:
    """The admitted rows of a lottery run, as a table of applicant rows plus ``school_id``."""
    assignments = read_table(run_dir / "assignments.csv", problems)  # we wrote it: UTF-8
    applicants_path = find_table(run_dir / INPUTS, "applicants")
    if applicants_path is None:
        problems.add(str(run_dir / INPUTS / "applicants.csv"), None, None, "file is missing")
        problems.raise_if_any()
    applicants = read_table(applicants_path, problems, encoding=encoding)
    problems.raise_if_any()
    assignments.require(("applicant_id", "status", "school_id"))
    applicants.require(("applicant_id",))
    problems.raise_if_any()
    row_of = applicants.unique_ids("applicant_id")
    rows, lines = [], []
    status = assignments.text("status")
    school = assignments.text("school_id", required=False)
    for i, applicant_id in enumerate(assignments.text("applicant_id")):
        if status[i] not in ADMITTED:
            continue
        if applicant_id not in row_of:
            problems.add(
                assignments.name,
                assignments.lines[i],
                "applicant_id",
                f"'{applicant_id}' is not in {applicants.name}",
            )
            continue
        j = row_of[applicant_id]
        rows.append([*applicants.rows[j], school[i]])
        lines.append(applicants.lines[j])
    header = [*applicants.header, "school_id"]
    if "school_id" in applicants.header:  # an applicant column of that name would be ambiguous
        problems.add(applicants.name, 1, "school_id", "applicants must not have a school_id column")
    return Table(applicants.name, header, rows, lines, problems)


def load_cohort(
    pupils_path: Path,
    problems: Problems,
    *,
    requests_path: Path | None = None,
    encoding: str | None = None,
) -> Cohort:
    pupils_path = Path(pupils_path)
    if is_lottery_run(pupils_path):
        table, id_column = _lottery_pupils(pupils_path, problems, encoding), "applicant_id"
    elif pupils_path.is_dir():
        raise FileNotFoundError(f"{pupils_path}: a folder without assignments.csv")
    else:
        table, id_column = read_table(pupils_path, problems, encoding=encoding), "pupil_id"
    cohort = _read_cohort(table, id_column)
    if requests_path is not None:
        requests = read_table(requests_path, problems, encoding=encoding)
        requests.require(("pupil_id",))
        index = {pid: i for i, pid in enumerate(cohort.ids)}
        named = requests.text("pupil_id")
        lists = [
            _id_list(t) + _id_list(a)
            for t, a in zip(
                requests.text("together_with", required=False),
                requests.text("apart_from", required=False),
                strict=True,
            )
        ]
        # A request about a pupil not formed here (not admitted, or another intake) is moot.
        keep = [
            i
            for i, pid in enumerate(named)
            if pid in index and all(other in index for other in lists[i])
        ]
        cohort.skipped_requests = len(named) - len(keep)
        subset = Table(
            requests.name,
            requests.header,
            [requests.rows[i] for i in keep],
            [requests.lines[i] for i in keep],
            problems,
        )
        _read_requests(subset, index, cohort.together, cohort.apart, cohort.fixed)
    return cohort


# --- schools, groups and the jobs to solve ----------------------------------------------------


@dataclass
class SchoolInfo:
    ids: list[str]
    index: dict[str, int]
    cap: np.ndarray
    seats: np.ndarray | None
    table: Table


def _read_schools(path: Path, problems: Problems, encoding: str | None, need_seats: bool):
    table = read_table(path, problems, encoding=encoding)
    table.require(("school_id", "class_size_cap", *(("seats",) if need_seats else ())))
    index = table.unique_ids("school_id")
    return SchoolInfo(
        ids=table.text("school_id"),
        index=index,
        cap=table.ints("class_size_cap", minimum=1),
        seats=table.ints("seats", minimum=0) if need_seats else None,
        table=table,
    )


def read_group_campuses(
    folder: Path, group_id: str, schools: SchoolInfo, problems: Problems, encoding: str | None
) -> list[int]:
    """School indices of a group's campuses (its member schools), in group_members order."""
    groups_path, members_path = find_table(folder, "groups"), find_table(folder, "group_members")
    for stem, path in (("groups", groups_path), ("group_members", members_path)):
        if path is None:
            problems.add(
                str(folder / f"{stem}.csv"), None, None, "file is missing (needed by --group)"
            )
    problems.raise_if_any()
    groups = read_table(groups_path, problems, encoding=encoding)
    groups.require(("group_id",))
    if group_id not in groups.text("group_id"):
        problems.add(groups.name, None, "group_id", f"no group '{group_id}' (from --group)")
    members = read_table(members_path, problems, encoding=encoding)
    members.require(("group_id", "school_id"))
    campuses = []
    for i, (g, s) in enumerate(
        zip(members.text("group_id"), members.text("school_id"), strict=True)
    ):
        if g != group_id:
            continue
        if s not in schools.index:
            problems.add(members.name, members.lines[i], "school_id", f"unknown school '{s}'")
        elif schools.index[s] not in campuses:
            campuses.append(schools.index[s])
    if not campuses and not problems:
        problems.add(members.name, None, "group_id", f"group '{group_id}' has no member schools")
    return campuses


def _read_class_counts(path: Path, schools: SchoolInfo, problems: Problems, encoding):
    table = read_table(path, problems, encoding=encoding)
    table.require(("school_id", "classes"))
    table.unique_ids("school_id")
    school = table.references("school_id", schools.index, "school")
    classes = table.ints("classes", minimum=1)
    return {
        int(s): (int(c), table.lines[i])
        for i, (s, c) in enumerate(zip(school, classes, strict=True))
        if s >= 0
    }, table.name


@dataclass
class Plan:
    """One balancing problem: pupils (cohort indices) into bins with size bounds."""

    key: str  # school_id, or the group_id for the campus share
    pupils: np.ndarray
    size_lo: np.ndarray
    size_hi: np.ndarray
    pinned_bin: np.ndarray  # per pupil: bin index or -1
    use_apart: bool = True


# --- units and feasibility ---------------------------------------------------------------------


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@dataclass
class Units:
    of: np.ndarray  # unit index of each pupil of the plan (plan order)
    members: list[list[int]]  # plan positions, ascending
    size: np.ndarray
    pinned_bin: np.ndarray  # unit -> bin or -1
    apart_ptr: np.ndarray
    apart_unit: np.ndarray


def build_units(cohort: Cohort, plan: Plan, problems: Problems) -> Units:
    """Join together-chains into units and check every request against the plan's bins."""
    position = {int(p): k for k, p in enumerate(plan.pupils)}
    n = len(plan.pupils)
    parent = list(range(n))
    for k, p in enumerate(plan.pupils):
        for q in cohort.together[p]:
            if q not in position:
                problems.add(
                    cohort.file,
                    cohort.lines[p],
                    "together_with",
                    f"pupils {cohort.who(p)} and {cohort.who(q)} must share a class but are at "
                    f"different schools ({cohort.school[p]}, {cohort.school[q]})",
                )
                continue
            a, b = _find(parent, k), _find(parent, position[q])
            if a != b:
                parent[max(a, b)] = min(a, b)
    roots = sorted({_find(parent, k) for k in range(n)})
    unit_of_root = {r: u for u, r in enumerate(roots)}
    of = np.array([unit_of_root[_find(parent, k)] for k in range(n)], dtype=np.int64)
    members: list[list[int]] = [[] for _ in roots]
    for k in range(n):
        members[of[k]].append(k)
    size = np.array([len(m) for m in members], dtype=np.int64)

    def names(u: int) -> str:
        return ", ".join(cohort.who(int(plan.pupils[k])) for k in members[u])

    first = [int(plan.pupils[m[0]]) for m in members]
    pinned = np.full(len(members), -1, dtype=np.int64)
    for u, ks in enumerate(members):
        bins = {int(plan.pinned_bin[k]) for k in ks if plan.pinned_bin[k] >= 0}
        if len(bins) > 1:
            problems.add(
                cohort.file,
                cohort.lines[first[u]],
                "fixed_class",
                f"pupils {names(u)} must share a class (together_with) but are fixed to "
                "different classes",
            )
        elif bins:
            pinned[u] = bins.pop()
        if size[u] > plan.size_hi.max():
            problems.add(
                cohort.file,
                cohort.lines[first[u]],
                "together_with",
                f"pupils {names(u)} must share a class (together_with), but {size[u]} pupils "
                f"do not fit in a class of at most {int(plan.size_hi.max())} at {plan.key}",
            )
    edges: set[tuple[int, int]] = set()
    if plan.use_apart:
        for k, p in enumerate(plan.pupils):
            for q in cohort.apart[p]:
                if q not in position:
                    continue  # at another school: apart already
                a, b = int(of[k]), int(of[position[q]])
                if a == b:
                    problems.add(
                        cohort.file,
                        cohort.lines[p],
                        "apart_from",
                        f"pupils {cohort.who(p)} and {cohort.who(q)} must be apart (apart_from) "
                        f"but must also share a class: together_with joins {names(a)}",
                    )
                elif pinned[a] >= 0 and pinned[a] == pinned[b]:
                    problems.add(
                        cohort.file,
                        cohort.lines[p],
                        "apart_from",
                        f"pupils {cohort.who(p)} and {cohort.who(q)} must be apart (apart_from) "
                        f"but are both fixed to class {pinned[a] + 1}",
                    )
                else:
                    edges.add((min(a, b), max(a, b)))
    load = np.zeros(len(plan.size_hi), dtype=np.int64)
    np.add.at(load, pinned[pinned >= 0], size[pinned >= 0])
    for c in np.flatnonzero(load > plan.size_hi).tolist():
        fixed = [names(u) for u in range(len(members)) if pinned[u] == c]
        problems.add(
            cohort.file,
            None,
            "fixed_class",
            f"{int(load[c])} pupils are fixed to class {c + 1} at {plan.key}, more than its "
            f"size of at most {int(plan.size_hi[c])}: {'; '.join(fixed)}",
        )
    neighbours: list[list[int]] = [[] for _ in members]
    for a, b in sorted(edges):
        neighbours[a].append(b)
        neighbours[b].append(a)
    ptr = np.zeros(len(members) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(x) for x in neighbours])
    flat = np.array([v for x in neighbours for v in x], dtype=np.int64)
    return Units(of, members, size, pinned, ptr, flat)


# --- features ----------------------------------------------------------------------------------


def _z(values: list[float]) -> list[float]:
    """z-scores with exactly rounded sums (math.fsum), so every machine gets the same numbers."""
    if not values:
        return []
    mean = math.fsum(values) / len(values)
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))
    if sd == 0.0:
        return [0.0] * len(values)
    return [max(-Z_CLIP, min(Z_CLIP, (v - mean) / sd)) for v in values]


def feature_scale(n_pupils: int, n_bins: int, largest_bin: int) -> int:
    """The largest scale Q <= MAX_SCALE for which no objective value can overflow int64."""
    vmax = Z_CLIP  # per unit of Q, the largest absolute feature value
    room = INT_BUDGET / (n_bins * int(WEIGHTS.sum()))
    scale = int(math.sqrt(room) / (2 * n_pupils * largest_bin * vmax))
    if scale < 1:
        raise ValueError(f"{n_pupils} pupils are too many to balance in one school or group")
    return min(scale, MAX_SCALE)


def pupil_features(cohort: Cohort, pupils: np.ndarray, scale: int) -> np.ndarray:
    """int64[len(pupils), 7] in units of 1/scale (see the module docstring)."""
    idx = pupils.tolist()
    age = _z([float(cohort.birth_day[p]) for p in idx])
    known = [p for p in idx if cohort.has_score[p]]
    z_known = dict(zip(known, _z([float(cohort.score[p]) for p in known]), strict=True))
    spread_if_unknown = math.fsum(abs(v) for v in z_known.values()) / max(len(z_known), 1)
    out = np.zeros((len(idx), len(FEATURES)), dtype=np.int64)
    for k, p in enumerate(idx):
        z = z_known.get(p)
        out[k] = [
            scale * int(cohort.female[p]),
            scale * int(cohort.special[p]),
            scale * int(cohort.migrant[p]),
            round(scale * age[k]),
            round(scale * abs(age[k])),
            round(scale * z) if z is not None else 0,
            round(scale * (abs(z) if z is not None else spread_if_unknown)),
        ]
    return out


# --- the serpentine start ------------------------------------------------------------------------


def serpentine_order(cohort: Cohort, pupils: Sequence[int]) -> list[int]:
    """Girls by score (best first; unknown last), then boys, ties by birth date and pupil_id:
    the order in which the S型 method deals pupils."""
    return sorted(
        pupils,
        key=lambda p: (
            -int(cohort.female[p]),
            0 if cohort.has_score[p] else 1,
            -float(cohort.score[p]),
            int(cohort.birth_day[p]),
            cohort.ids[p],
        ),
    )


def serpentine_start(cohort: Cohort, plan: Plan, units: Units, problems: Problems) -> np.ndarray:
    """A feasible start: pinned units, then constrained units (largest first) into the class with
    most room, then single pupils dealt 1..C, C..1, ... skipping full classes."""
    n_bins = len(plan.size_lo)
    lo, hi = plan.size_lo, plan.size_hi
    budget = int(len(plan.pupils) - lo.sum())  # pupils above the lower bounds, in all
    unit_bin = np.full(len(units.size), -1, dtype=np.int64)
    size = np.zeros(n_bins, dtype=np.int64)

    def room(c: int) -> int:
        extra_used = int(np.maximum(size - lo, 0).sum())
        limit = min(int(hi[c]), int(lo[c]) + max(int(size[c] - lo[c]), 0) + budget - extra_used)
        return limit - int(size[c])

    def allowed(u: int, c: int) -> bool:
        neighbours = units.apart_unit[units.apart_ptr[u] : units.apart_ptr[u + 1]]
        return room(c) >= units.size[u] and not (unit_bin[neighbours] == c).any()

    def put(u: int, c: int) -> None:
        unit_bin[u] = c
        size[c] += units.size[u]

    for u in np.flatnonzero(units.pinned_bin >= 0).tolist():
        put(u, int(units.pinned_bin[u]))
    degree = np.diff(units.apart_ptr)
    constrained = [
        u
        for u in range(len(units.size))
        if unit_bin[u] < 0 and (units.size[u] > 1 or degree[u] > 0)
    ]
    constrained.sort(key=lambda u: (-int(units.size[u]), -int(degree[u]), u))
    for u in constrained:
        options = [c for c in range(n_bins) if allowed(u, c)]
        if not options:
            pupils = [cohort.who(int(plan.pupils[k])) for k in units.members[u]]
            partners = [
                cohort.who(int(plan.pupils[k]))
                for v in units.apart_unit[units.apart_ptr[u] : units.apart_ptr[u + 1]].tolist()
                for k in units.members[v]
            ]
            problems.add(
                cohort.file,
                cohort.lines[int(plan.pupils[units.members[u][0]])],
                "apart_from",
                f"no class at {plan.key} can take pupils {', '.join(pupils)}: apart_from "
                f"{', '.join(partners) or 'nobody'} and the class sizes leave no room",
            )
            return unit_bin
        put(u, max(options, key=lambda c: (room(c), -c)))
    singles = [
        int(plan.pupils[k])
        for u in range(len(units.size))
        if unit_bin[u] < 0
        for k in units.members[u]
    ]
    position = {int(p): k for k, p in enumerate(plan.pupils)}
    sequence = list(range(n_bins)) + list(reversed(range(n_bins)))
    turn = 0
    for p in serpentine_order(cohort, singles):
        u = int(units.of[position[p]])
        while room(sequence[turn % len(sequence)]) < 1:
            turn += 1
        put(u, sequence[turn % len(sequence)])
        turn += 1
    return unit_bin


# --- solving one plan -----------------------------------------------------------------------------


def _stream(seed: str, key: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}\nclasses\n{key}".encode()).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(digest[:8], "big")))


@dataclass
class Solved:
    plan: Plan
    pupil_bin: np.ndarray  # per plan pupil
    start_bin: np.ndarray
    objective_start: int
    objective: int


def search_effort(n_units: int, n_bins: int) -> tuple[int, int, bool, int]:
    """(steps per restart, restarts, two-for-two exchanges on, largest k for the exact k-for-k
    exchanges: 0 = none) for a plan of this size."""
    if n_bins < 2:
        return 0, 1, False, 0
    steps = min(SEARCH_STEPS_PER_UNIT * n_units, SEARCH_STEPS_MAX)
    per_class = -(-n_units // n_bins)
    pairs = n_bins * (n_bins - 1) // 2
    work = pairs * (per_class * (per_class - 1) // 2) ** 2
    exchange = work <= EXCHANGE_WORK_MAX
    restarts = EXCHANGE_WORK_TOTAL // max(work, 1) if exchange else 1
    k_max = 0
    while (
        exchange
        and k_max < per_class
        and pairs * math.comb(per_class, k_max + 1) <= (EXACT_WORK_MAX)
    ):
        k_max += 1
    return steps, max(1, min(SEARCH_RESTARTS_MAX, restarts)), exchange, k_max


def lower_bound(
    unit_values: np.ndarray, unit_size: np.ndarray, plan: Plan, weights: np.ndarray = WEIGHTS
) -> int:
    """A lower bound on the objective (-1 if the classes' size bounds differ): class totals of
    feature f are multiples of g_f (the gcd of its values) and sum to T_f, and the class sizes
    are known up to order; dropping every other link between the classes, each feature's
    minimum is separable and convex, reached by handing out steps of g_f one at a time to the
    class of least marginal cost."""
    lo, hi = int(plan.size_lo.min()), int(plan.size_hi.max())
    n_total, n_bins = int(unit_size.sum()), len(plan.size_lo)
    if int(plan.size_lo.max()) != lo or int(plan.size_hi.min()) != hi or hi - lo > 1:
        return -1
    big = n_total - n_bins * lo
    if not 0 <= big <= n_bins or (big and hi == lo):
        return -1
    sizes = [lo + 1] * big + [lo] * (n_bins - big)
    bound = 0
    for f in range(unit_values.shape[1]):
        g = math.gcd(*(int(v) for v in unit_values[:, f])) or 1
        t = int(unit_values[:, f].sum()) // g
        share = [sizes[c] * t // n_total for c in range(n_bins)]  # floors: fewer than n_bins short
        for _ in range(t - sum(share)):
            c = min(
                range(n_bins),
                key=lambda c, t=t, share=share: (
                    (n_total * (share[c] + 1) - sizes[c] * t) ** 2
                    - (n_total * share[c] - sizes[c] * t) ** 2
                ),
            )
            share[c] += 1
        bound += (
            int(weights[f])
            * g
            * g
            * sum((n_total * share[c] - sizes[c] * t) ** 2 for c in range(n_bins))
        )
    return bound


def solve_plan(cohort: Cohort, plan: Plan, seed: str, problems: Problems) -> Solved | None:
    units = build_units(cohort, plan, problems)
    if problems:
        return None
    start = serpentine_start(cohort, plan, units, problems)
    if problems:
        return None
    n_bins = len(plan.size_lo)
    scale = feature_scale(len(plan.pupils), n_bins, int(plan.size_hi.max()))
    values = pupil_features(cohort, plan.pupils, scale)
    unit_values = np.zeros((len(units.size), values.shape[1]), dtype=np.int64)
    np.add.at(unit_values, units.of, values)
    rng = _stream(seed, plan.key)
    n_units = len(units.size)
    order = rng.permutation(n_units).astype(np.int64)
    steps, restarts, exchange, k_max = search_effort(n_units, n_bins)
    best, out = None, np.empty(n_units, dtype=np.int64)
    for _ in range(restarts):
        proposals = np.empty((steps, 3), dtype=np.int64)
        proposals[:, 0] = rng.integers(0, n_units, steps)
        proposals[:, 1] = rng.integers(0, n_units, steps)
        proposals[:, 2] = rng.integers(0, 4, steps) == 0  # one move in four, the rest swaps
        found = np.empty(n_units, dtype=np.int64)
        objective = int(
            bk.improve_classes(
                start,
                unit_values,
                units.size,
                units.pinned_bin >= 0,
                units.apart_ptr,
                units.apart_unit,
                plan.size_lo,
                plan.size_hi,
                WEIGHTS,
                order,
                proposals,
                exchange,
                found,
            )
        )
        if best is None or objective < best:  # ties: the earlier restart
            best, out = objective, found
    if k_max:
        best = int(
            bk.exact_exchanges(
                out,
                unit_values,
                units.size,
                units.pinned_bin >= 0,
                units.apart_ptr,
                units.apart_unit,
                plan.size_lo,
                plan.size_hi,
                WEIGHTS,
                order,
                k_max,
                exchange,
                lower_bound(unit_values, units.size, plan),
            )
        )
    objective_start = bk.class_objective(start, unit_values, units.size, n_bins, WEIGHTS)
    return Solved(plan, out[units.of], start[units.of], int(objective_start), best)


def _draw_numbers(seed: str, key: str, labels: list[str]) -> list[tuple[str, str]]:
    """(label, lottery number) in ascending lottery-number order."""
    numbers = [hashlib.sha256(f"{seed}\n{key}\n{label}".encode()).hexdigest() for label in labels]
    return sorted(zip(labels, numbers, strict=True), key=lambda pair: pair[1])


def number_classes(cohort: Cohort, solved: Solved, seed: str) -> tuple[np.ndarray, list[dict]]:
    """Class number (1-based) of every plan pupil, and the lottery's audit rows."""
    plan = solved.plan
    n_bins = len(plan.size_lo)
    bins: list[list[int]] = [[] for _ in range(n_bins)]
    for k, b in enumerate(solved.pupil_bin.tolist()):
        bins[b].append(int(plan.pupils[k]))
    label = [min(cohort.ids[p] for p in members) for members in bins]
    number = np.zeros(n_bins, dtype=np.int64)
    fixed_of = {}
    for b, members in enumerate(bins):
        fixed = {int(cohort.fixed[p]) for p in members if cohort.fixed[p]}
        if fixed:
            fixed_of[b] = fixed.pop()
            number[b] = fixed_of[b]
    free_numbers = sorted(set(range(1, n_bins + 1)) - set(fixed_of.values()))
    free = [b for b in range(n_bins) if b not in fixed_of]
    by_label = {label[b]: b for b in free}
    rows = []
    for (lab, lottery_no), class_no in zip(
        _draw_numbers(seed, plan.key, [label[b] for b in free]), free_numbers, strict=True
    ):
        number[by_label[lab]] = class_no
        rows.append({"label": lab, "lottery_number": lottery_no, "class_no": class_no})
    for b, class_no in sorted(fixed_of.items(), key=lambda x: x[1]):
        rows.append({"label": label[b], "lottery_number": "", "class_no": class_no, "fixed": True})
    rows.sort(key=lambda r: r["class_no"])
    return number[solved.pupil_bin], rows


# --- balance figures -----------------------------------------------------------------------------


@dataclass
class ClassFigures:
    school_id: str
    class_no: int
    size: int
    girls: int
    boys: int
    special_needs: int
    migrant: int
    mean_score: float | None
    sd_score: float | None
    mean_birth_day: float
    birth_sd_days: float


def class_figures(cohort: Cohort, school_id: str, class_no: int, pupils: list[int]) -> ClassFigures:
    scores = [float(cohort.score[p]) for p in pupils if cohort.has_score[p]]
    births = [float(cohort.birth_day[p]) for p in pupils]
    mean_birth = math.fsum(births) / len(births)
    mean_score = math.fsum(scores) / len(scores) if scores else None
    return ClassFigures(
        school_id=school_id,
        class_no=class_no,
        size=len(pupils),
        girls=int(sum(cohort.female[p] for p in pupils)),
        boys=int(len(pupils) - sum(cohort.female[p] for p in pupils)),
        special_needs=int(sum(cohort.special[p] for p in pupils)),
        migrant=int(sum(cohort.migrant[p] for p in pupils)),
        mean_score=mean_score,
        sd_score=(
            math.sqrt(math.fsum((s - mean_score) ** 2 for s in scores) / len(scores))
            if scores
            else None
        ),
        mean_birth_day=mean_birth,
        birth_sd_days=math.sqrt(math.fsum((b - mean_birth) ** 2 for b in births) / len(births)),
    )


def spreads(figures: list[ClassFigures]) -> dict[str, float | int | None]:
    """max - min over the classes of one school, per figure."""

    def spread(values):
        values = [v for v in values if v is not None]
        return max(values) - min(values) if values else None

    score = spread(f.mean_score for f in figures)
    return {
        "size": spread(f.size for f in figures),
        "girls": spread(f.girls for f in figures),
        "boys": spread(f.boys for f in figures),
        "special_needs": spread(f.special_needs for f in figures),
        "migrant": spread(f.migrant for f in figures),
        "mean_score": None if score is None else round(score, 2),
        "mean_birth_days": round(spread(f.mean_birth_day for f in figures), 1),
    }


def _iso(day: float) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=round(day))).isoformat()


# --- the whole job ---------------------------------------------------------------------------


@dataclass
class SchoolOutcome:
    school_id: str
    pupils: np.ndarray  # cohort indices
    class_no: np.ndarray  # per pupil
    figures: list[ClassFigures]
    serpentine: list[ClassFigures]
    objective_start: int
    objective: int
    lottery: list[dict]


@dataclass
class ClassSummary:
    out_dir: Path
    pupils: int
    outcomes: list[SchoolOutcome]
    campus_shares: list[dict] = field(default_factory=list)
    skipped_requests: int = 0
    audit_records: int = 0

    def worst(self, which: str) -> dict[str, float]:
        out = {}
        for key in ("size", "girls", "special_needs", "migrant", "mean_score"):
            values = [
                spreads(o.figures if which == "after" else o.serpentine)[key]
                for o in self.outcomes
                if len(o.figures) > 1
            ]
            values = [v for v in values if v is not None]
            out[key] = max(values) if values else None
        return out

    def render(self) -> str:
        classes = sum(len(o.figures) for o in self.outcomes)
        lines = [
            f"{self.pupils:,} pupils in {classes:,} classes at {len(self.outcomes)} schools "
            f"-> {self.out_dir}"
        ]
        for share in self.campus_shares:
            lines.append(
                f"  {share['group_id']}: {share['pupils']:,} pupils shared by seats: "
                + ", ".join(f"{c['school_id']} {c['pupils']}" for c in share["campuses"])
            )
        before, after = self.worst("before"), self.worst("after")
        lines.append("  largest spread between classes of one school (max - min):")
        lines.append(f"    {'':<16}{'serpentine':>12}{'balanced':>12}")
        for key, label in (
            ("size", "class size"),
            ("girls", "girls"),
            ("special_needs", "special needs"),
            ("migrant", "migrant"),
            ("mean_score", "mean score"),
        ):
            if after[key] is None:
                continue
            lines.append(f"    {label:<16}{before[key]:>12}{after[key]:>12}")
        if self.skipped_requests:
            lines.append(
                f"  {self.skipped_requests} request rows skipped: their pupils are not formed here"
            )
        return "\n".join(lines)


def _problem(file: str, message: str, column: str | None = None) -> InputError:
    return InputError(Problem(file, None, column, message))


def _check_counts(plan_key, n_pupils, n_classes, cap, where) -> str | None:
    if n_classes > n_pupils:
        return f"{plan_key}: {n_classes} classes for {n_pupils} pupils would leave a class empty"
    if n_classes * cap < n_pupils:
        return f"{plan_key}: {n_pupils} pupils do not fit in {n_classes} classes of at most {cap}"
    return None


def _class_plan(cohort: Cohort, key: str, pupils: list[int], n_classes: int, problems) -> Plan:
    pupils_arr = np.array(sorted(pupils, key=lambda p: cohort.ids[p]), dtype=np.int64)
    n = len(pupils_arr)
    lo = np.full(n_classes, n // n_classes, dtype=np.int64)
    hi = lo + (1 if n % n_classes else 0)
    pinned = np.full(n, -1, dtype=np.int64)
    for k, p in enumerate(pupils_arr.tolist()):
        if cohort.fixed[p]:
            if cohort.fixed[p] > n_classes:
                problems.add(
                    cohort.file,
                    cohort.lines[p],
                    "fixed_class",
                    f"pupil '{cohort.ids[p]}' is fixed to class {cohort.fixed[p]} but {key} "
                    f"has {n_classes} classes",
                )
            else:
                pinned[k] = cohort.fixed[p] - 1
    return Plan(key, pupils_arr, lo, hi, pinned)


def apportion(total: int, weights: list[int]) -> list[int]:
    """Integers proportional to weights summing to total (largest remainder, ties by position)."""
    weight_sum = sum(weights)
    base = [total * w // weight_sum for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % weight_sum), i))
    for i in remainders[: total - sum(base)]:
        base[i] += 1
    return base


def form_classes(
    pupils_path: Path | str,
    schools_path: Path | str,
    *,
    seed: str,
    out_dir: Path | str,
    group: str | None = None,
    class_counts_path: Path | str | None = None,
    requests_path: Path | str | None = None,
    force: bool = False,
    encoding: str | None = None,
    command: list[str] | None = None,
) -> ClassSummary:
    """Validate, balance, number by lottery and write a class run folder (all or nothing)."""
    check_seed(seed)
    pupils_path, schools_path, out_dir = Path(pupils_path), Path(schools_path), Path(out_dir)
    problems = Problems()
    schools = _read_schools(schools_path, problems, encoding, need_seats=group is not None)
    campuses: list[int] = []
    if group is not None:
        campuses = read_group_campuses(schools_path.parent, group, schools, problems, encoding)
    counts, counts_name = {}, None
    if class_counts_path is not None:
        counts, counts_name = _read_class_counts(
            Path(class_counts_path), schools, problems, encoding
        )
    cohort = load_cohort(
        pupils_path,
        problems,
        requests_path=Path(requests_path) if requests_path else None,
        encoding=encoding,
    )
    problems.raise_if_any()

    # Which school (or the group's pool) each pupil belongs to.
    pool_keys = {group} | {schools.ids[c] for c in campuses} if group else set()
    by_school: dict[int, list[int]] = {}
    pool: list[int] = []
    for p, school_id in enumerate(cohort.school):
        if school_id in pool_keys:
            pool.append(p)
        elif school_id in schools.index:
            by_school.setdefault(schools.index[school_id], []).append(p)
        else:
            problems.add(
                cohort.file,
                cohort.lines[p],
                "school_id",
                f"unknown school '{school_id}'"
                + (" (a group id needs --group)" if group is None else ""),
            )
    problems.raise_if_any()

    campus_shares = []
    if group is not None and pool:
        share = _share_campuses(cohort, group, pool, campuses, schools, seed, problems)
        problems.raise_if_any()
        for c, members in share["members"].items():
            by_school.setdefault(c, []).extend(members)
        campus_shares.append(share["audit"])

    outcomes = []
    for s in sorted(by_school, key=lambda s: schools.ids[s]):
        pupils = by_school[s]
        cap = int(schools.cap[s])
        n_classes, line = counts.get(s, (math.ceil(len(pupils) / cap), None))
        message = _check_counts(schools.ids[s], len(pupils), n_classes, cap, line)
        if message:
            problems.add(counts_name or schools.table.name, line, "classes", message)
            continue
        plan = _class_plan(cohort, schools.ids[s], pupils, n_classes, problems)
        if problems:
            continue
        solved = solve_plan(cohort, plan, seed, problems)
        if solved is None:
            continue
        class_no, lottery = number_classes(cohort, solved, seed)
        outcomes.append(_outcome(cohort, schools.ids[s], solved, class_no, lottery))
    problems.raise_if_any()

    with staged_output(out_dir, force) as out:
        copies = _copy_inputs(
            out, pupils_path, schools_path, group, class_counts_path, requests_path
        )
        counts_written = _write_outputs(out, cohort, outcomes)
        log = AuditLog(out / AUDIT_FILE)
        log.append(
            "run",
            {
                "tool": TOOL,
                "versions": library_versions(),
                "command": command or [],
                "options": {
                    "group": group,
                    "encoding": encoding,
                    "pupils_source": LOTTERY_RUN if is_lottery_run(pupils_path) else "file",
                },
            },
        )
        for role, relative in copies.items():
            log.append(
                "input", {"role": role, "file": relative, "sha256": sha256_file(out / relative)}
            )
        log.append(
            "seed",
            {
                "seed": seed,
                "class_lottery_number": "lowercase hex SHA-256 of UTF-8 '<seed>\\n<school_id>\\n"
                "<smallest pupil_id of the class>'",
                "search_stream": "PCG64 seeded with the first 8 bytes (big-endian) of SHA-256 "
                "of UTF-8 '<seed>\\nclasses\\n<school_id or group_id>'",
            },
        )
        for share in campus_shares:
            log.append("campus_share", share)
        for o in outcomes:
            log.append(
                "school",
                {
                    "school_id": o.school_id,
                    "pupils": len(o.pupils),
                    "classes": len(o.figures),
                    "objective_serpentine": o.objective_start,
                    "objective": o.objective,
                    "spread_serpentine": spreads(o.serpentine),
                    "spread": spreads(o.figures),
                    "class_lottery": o.lottery,
                },
            )
        for name in OUTPUT_FILES:
            payload = {"file": name, "sha256": sha256_file(out / name)}
            if name in counts_written:
                payload["rows"] = counts_written[name]
            log.append("output", payload)
        log.append(
            "end",
            {
                "pupils": len(cohort),
                "schools": len(outcomes),
                "classes": sum(len(o.figures) for o in outcomes),
                "skipped_requests": cohort.skipped_requests,
            },
        )
    return ClassSummary(
        out_dir, len(cohort), outcomes, campus_shares, cohort.skipped_requests, len(log.records)
    )


def _outcome(cohort, school_id, solved: Solved, class_no, lottery) -> SchoolOutcome:
    plan = solved.plan
    pupils = plan.pupils
    n_bins = len(plan.size_lo)
    figures = [
        class_figures(cohort, school_id, c + 1, pupils[class_no == c + 1].tolist())
        for c in range(n_bins)
    ]
    serpentine = [
        class_figures(cohort, school_id, c + 1, pupils[solved.start_bin == c].tolist())
        for c in range(n_bins)
    ]
    return SchoolOutcome(
        school_id,
        pupils,
        class_no,
        figures,
        serpentine,
        solved.objective_start,
        solved.objective,
        lottery,
    )


def _share_campuses(cohort, group, pool, campuses, schools, seed, problems) -> dict:
    """Share the group's pooled pupils among its campuses (see the module docstring)."""
    seats = [int(schools.seats[c]) for c in campuses]
    if sum(seats) == 0:
        problems.add(schools.table.name, None, "seats", f"the campuses of {group} have no seats")
        return {}
    target = apportion(len(pool), seats)
    pupils = np.array(sorted(pool, key=lambda p: cohort.ids[p]), dtype=np.int64)
    pinned = np.full(len(pupils), -1, dtype=np.int64)
    campus_bin = {schools.ids[c]: b for b, c in enumerate(campuses)}
    for k, p in enumerate(pupils.tolist()):
        if cohort.fixed[p]:
            if cohort.school[p] not in campus_bin:
                problems.add(
                    cohort.file,
                    cohort.lines[p],
                    "fixed_class",
                    f"pupil '{cohort.ids[p]}' has a fixed class but school_id {cohort.school[p]} "
                    f"is the group, not one of its campuses",
                )
            else:
                pinned[k] = campus_bin[cohort.school[p]]
    size = np.array(target, dtype=np.int64)
    plan = Plan(group, pupils, size, size.copy(), pinned, use_apart=False)
    solved = solve_plan(cohort, plan, seed, problems)
    if solved is None:
        return {}
    # Campuses of equal share trade parts by lottery; parts with pinned pupils stay.
    part_of = solved.pupil_bin.copy()
    lottery_rows = []
    for share_size in sorted(set(target)):
        same = [b for b in range(len(campuses)) if target[b] == share_size]
        movable = [b for b in same if not (pinned[solved.pupil_bin == b] >= 0).any()]
        if len(movable) < 2:
            continue
        label = {b: min(cohort.ids[p] for p in pupils[solved.pupil_bin == b]) for b in movable}
        by_label = {label[b]: b for b in movable}
        receivers = sorted(movable, key=lambda b: schools.ids[campuses[b]])
        for (lab, number), receiver in zip(
            _draw_numbers(seed, group, [label[b] for b in movable]), receivers, strict=True
        ):
            part_of[solved.pupil_bin == by_label[lab]] = receiver
            lottery_rows.append(
                {
                    "label": lab,
                    "lottery_number": number,
                    "school_id": schools.ids[campuses[receiver]],
                }
            )
    members = {c: pupils[part_of == b].tolist() for b, c in enumerate(campuses)}
    return {
        "members": members,
        "audit": {
            "group_id": group,
            "pupils": len(pool),
            "campuses": [
                {"school_id": schools.ids[c], "seats": seats[b], "pupils": target[b]}
                for b, c in enumerate(campuses)
            ],
            "objective_serpentine": solved.objective_start,
            "objective": solved.objective,
            "campus_lottery": lottery_rows,
        },
    }


def _copy_inputs(out, pupils_path, schools_path, group, class_counts_path, requests_path):
    inputs = out / INPUTS
    inputs.mkdir()
    copies = {}
    if is_lottery_run(pupils_path):
        # Keep the run folder's layout, so that the copy is itself a valid pupils input.
        run_copy = inputs / LOTTERY_RUN
        (run_copy / INPUTS).mkdir(parents=True)
        copies["assignments"] = copy_input(
            pupils_path / "assignments.csv", run_copy, "assignments", out
        )
        applicants = find_table(pupils_path / INPUTS, "applicants")
        copies["applicants"] = copy_input(applicants, run_copy / INPUTS, "applicants", out)
    else:
        copies["pupils"] = copy_input(pupils_path, inputs, "pupils", out)
    copies["schools"] = copy_input(schools_path, inputs, "schools", out)
    if group is not None:
        for stem in ("groups", "group_members"):
            copies[stem] = copy_input(find_table(schools_path.parent, stem), inputs, stem, out)
    if class_counts_path is not None:
        copies["class_counts"] = copy_input(Path(class_counts_path), inputs, "class_counts", out)
    if requests_path is not None:
        copies["requests"] = copy_input(Path(requests_path), inputs, "requests", out)
    return copies


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _write_outputs(out: Path, cohort: Cohort, outcomes: list[SchoolOutcome]) -> dict[str, int]:
    rows = []
    for o in outcomes:
        order = sorted(
            range(len(o.pupils)), key=lambda k: (int(o.class_no[k]), cohort.ids[o.pupils[k]])
        )
        rows += [[cohort.ids[o.pupils[k]], o.school_id, int(o.class_no[k])] for k in order]
    counts = {CLASSES: write_csv(out / CLASSES, ["pupil_id", "school_id", "class_no"], rows)}
    counts[BALANCE] = write_csv(
        out / BALANCE,
        [
            "school_id",
            "class_no",
            "size",
            "girls",
            "boys",
            "special_needs",
            "migrant",
            "mean_score",
            "sd_score",
            "mean_birth_date",
            "birth_sd_days",
        ],
        (
            [
                f.school_id,
                f.class_no,
                f.size,
                f.girls,
                f.boys,
                f.special_needs,
                f.migrant,
                _fmt(f.mean_score),
                _fmt(f.sd_score),
                _iso(f.mean_birth_day),
                f"{f.birth_sd_days:.1f}",
            ]
            for o in outcomes
            for f in o.figures
        ),
    )
    plot_composition(out / CHART, [f for o in outcomes for f in o.figures])
    return counts


def plot_composition(path: Path, figures: list[ClassFigures]) -> None:
    """Per class: girls and boys stacked, special-needs and migrant pupils below; schools are
    separated by a gap and labelled once. Line collections keep a district-wide chart fast."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, ticks, tick_labels = [], [], []
    position = 0.0
    for k, f in enumerate(figures):
        if k and f.school_id != figures[k - 1].school_id:
            position += 1.0  # a gap between schools
        x.append(position)
        if k == 0 or f.school_id != figures[k - 1].school_id:
            ticks.append(position)
            tick_labels.append(f.school_id)
        position += 1.0
    x = np.array(x)
    girls = np.array([f.girls for f in figures])
    size = np.array([f.size for f in figures])
    width = min(max(6.0, 0.06 * len(figures) + 3.0), 40.0)
    bar = max(0.6, 300.0 / max(len(figures), 1))  # points, so bars stay visible when many
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(width, 6.0), sharex=True)
    top.vlines(x, 0, girls, colors="#d95f02", linewidth=bar, label="girls")
    top.vlines(x, girls, size, colors="#1b9e77", linewidth=bar, label="boys")
    top.set_ylabel("pupils")
    top.set_title("Class composition: girls and boys per class")
    top.legend(loc="lower right", fontsize=8)
    bottom.vlines(
        x - 0.2,
        0,
        [f.special_needs for f in figures],
        colors="#7570b3",
        linewidth=bar / 2,
        label="special needs",
    )
    bottom.vlines(
        x + 0.2,
        0,
        [f.migrant for f in figures],
        colors="#e7298a",
        linewidth=bar / 2,
        label="migrant",
    )
    bottom.set_ylabel("pupils")
    bottom.legend(loc="upper right", fontsize=8)
    bottom.set_xticks(ticks)
    bottom.set_xticklabels(tick_labels, rotation=90, fontsize=7)
    bottom.set_xlim(-1.0, position)
    fig.subplots_adjust(left=0.06, right=0.99, top=0.94, bottom=0.14, hspace=0.08)
    fig.savefig(path, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)


# --- replay --------------------------------------------------------------------------------


def replay_classes(run_dir: Path | str, out: Path | str) -> None:
    """Re-run a class formation from its run folder's inputs/ and audit records into `out`."""
    recorded = RecordedRun.load(run_dir)
    run_dir, run, seed, files = recorded.run_dir, recorded.run, recorded.seed, recorded.inputs
    if recorded.tool != TOOL:
        raise ValueError(f"{run_dir} is not a '{TOOL}' run folder")
    options = recorded.options
    pupils = (
        run_dir / INPUTS / LOTTERY_RUN
        if options["pupils_source"] == LOTTERY_RUN
        else files["pupils"]
    )
    form_classes(
        pupils,
        files["schools"],
        seed=seed,
        out_dir=out,
        group=options["group"],
        class_counts_path=files.get("class_counts"),
        requests_path=files.get("requests"),
        force=True,
        encoding=options["encoding"],
        command=run.get("command"),
    )
