"""The cohort to form into classes: pupils (a table or a lottery run folder), requests
(together / apart / fixed), schools and class counts, read and checked with file:line."""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seats.io.errors import Problems
from seats.io.model import FLAGS, GENDERS
from seats.io.tables import Table, find_table, read_table
from seats.lottery.run import INPUTS

LOTTERY_RUN = "lottery_run"


LIST_SEPARATOR = ";"


ADMITTED = ("placed", "assigned")


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
    # pupil -> (file, line) of the request row that set its together/apart/fixed request, when
    # the requests came from a --requests file (errors about a request name that file).
    request_at: dict[int, tuple[str, int]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def where(self, i: int) -> tuple[str, int]:
        """(file, line) of pupil i's request: the requests file's row, else the pupil's row."""
        return self.request_at.get(i, (self.file, self.lines[i]))

    def who(self, i: int) -> str:
        return f"'{self.ids[i]}' (line {self.lines[i]})"


def _id_list(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(LIST_SEPARATOR) if part.strip()] if cell else []


def _read_requests(
    table: Table, index: dict[str, int], together, apart, fixed, request_at=None
) -> None:
    """Merge request columns of `table` (rows keyed by `index`) into the lists, in place;
    `request_at` (if given) records the row of each pupil's request."""
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
            if request_at is not None and cell:
                request_at.setdefault(me, (table.name, table.lines[i]))
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
            if request_at is not None:
                request_at.setdefault(me, (table.name, table.lines[i]))
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


def _lottery_pupils(
    run_dir: Path, problems: Problems, encoding: str | None
) -> tuple[Table, set[str]]:
    """The admitted rows of a lottery run, as a table of applicant rows plus ``school_id``, and
    the ids of every applicant (admitted or not)."""
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
    return Table(applicants.name, header, rows, lines, problems), set(row_of)


def load_cohort(
    pupils_path: Path,
    problems: Problems,
    *,
    requests_path: Path | None = None,
    encoding: str | None = None,
) -> Cohort:
    pupils_path = Path(pupils_path)
    if is_lottery_run(pupils_path):
        (table, known), id_column = _lottery_pupils(pupils_path, problems, encoding), "applicant_id"
    elif pupils_path.is_dir():
        raise FileNotFoundError(f"{pupils_path}: a folder without assignments.csv")
    else:
        table, id_column = read_table(pupils_path, problems, encoding=encoding), "pupil_id"
        known = None
    cohort = _read_cohort(table, id_column)
    if known is None:
        known = set(cohort.ids)
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
        # A request about a pupil not formed here (an applicant not admitted) is moot; an id
        # that is no pupil or applicant at all is a typo, and an error.
        for i, pid in enumerate(named):
            for column, other in [("pupil_id", pid)] + [
                ("together_with/apart_from", o) for o in lists[i]
            ]:
                if other and other not in known:
                    hint = difflib.get_close_matches(other, cohort.ids, n=1)
                    extra = f"; did you mean '{hint[0]}'?" if hint else ""
                    problems.add(
                        requests.name,
                        requests.lines[i],
                        column,
                        f"unknown pupil '{other}' (not in {table.name}){extra}",
                    )
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
        _read_requests(
            subset, index, cohort.together, cohort.apart, cohort.fixed, cohort.request_at
        )
    return cohort


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
