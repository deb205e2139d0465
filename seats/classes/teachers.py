"""`seats teachers assign`: balanced teacher teams for the new classes (均衡配班 / 教师电脑配班).

Input
-----
* A class run folder from :func:`seats.classes.form_classes`: its ``classes.csv`` gives the
  classes (school_id, class_no) and ``inputs/schools.*`` the schools' ``level`` (``primary`` if
  the column is absent).
* Teachers: ``teacher_id``, ``school_id``, ``subject``, ``title``, ``years`` (>= 0), ``rating``
  (0-100), ``max_classes`` (>= 0: how many of the new classes the teacher may take); optional
  ``rotating`` (交流轮岗, 0/1: may teach at any campus of the same education group) and
  ``homeroom`` (可任班主任, 0/1). Education groups come from ``groups.csv`` and
  ``group_members.csv`` beside the teachers file (else beside the class run's schools copy);
  only groups of kind ``education_group`` share teachers.

Required teams (:data:`REQUIRED`): primary and junior classes need one teacher of each of
chinese, math and english (junior also politics, history, geography, biology); kindergarten
classes two ``preschool`` teachers (两教); special-school classes two ``special_education``
teachers. The homeroom teacher (班主任) of a class is its teacher of :data:`HOMEROOM_SUBJECT`
(chinese; the first preschool / special_education teacher), who must have ``homeroom = 1`` and
is homeroom teacher of one class at most. A teacher takes at most ``max_classes`` slots and never
two slots of one class.

Team score
----------
Teacher quality = ``rating + title points + experience points`` where title points are 0
(三级, 二级 = junior), 5 (一级 = intermediate), 10 (高级 = senior) or 15 (正高级 = special_grade)
and experience points ``min(years, 20) / 2``; the kernel uses tenths of a point, as integers. A
class's team score is the mean quality of its teachers. The classes of a school, or of all
campuses of an education group (one pool), should have comparable teams: the kernel
:func:`seats.classes.kernels.improve_teams` minimises ``C * sum(team**2) - sum(team)**2``
(C² x the variance of the team scores of the pool's C classes) by swaps and by replacements
with at least as strong teachers (balance never comes from levelling down).
The spread reported is max - min of the team scores of a pool.

Before and after: the start is a serpentine deal, subject by subject (classes 1..C for the
first subject, C..1 for the next, ...; homeroom slots first), each slot taking the strongest
eligible teacher left (own campus before rotating teachers). The kernel only accepts
improvements; if its result had a larger max - min spread than the start, the start is kept.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seats.classes import kernels as bk
from seats.classes.writers import CLASSES
from seats.io.audit import AUDIT_FILE, AuditLog, RecordedRun, library_versions
from seats.io.errors import InputError, Problem, Problems
from seats.io.model import FLAGS, LEVELS
from seats.io.output import (
    check_output_folder,
    copy_input,
    sha256_file,
    staged_output,
    write_csv,
)
from seats.io.tables import find_table, read_table
from seats.lottery.numbers import check_seed
from seats.lottery.run import INPUTS

TOOL = "seats teachers assign"
CLASS_TEACHERS, TEACHER_BALANCE = "class_teachers.csv", "teacher_balance.csv"
OUTPUT_FILES = (CLASS_TEACHERS, TEACHER_BALANCE)
CLASSES_RUN = "classes_run"

REQUIRED = {
    "kindergarten": (("preschool", 2),),
    "primary": (("chinese", 1), ("math", 1), ("english", 1)),
    "junior": (
        ("chinese", 1),
        ("math", 1),
        ("english", 1),
        ("politics", 1),
        ("history", 1),
        ("geography", 1),
        ("biology", 1),
    ),
    "special": (("special_education", 2),),
}
HOMEROOM_SUBJECT = {
    "kindergarten": "preschool",
    "primary": "chinese",
    "junior": "chinese",
    "special": "special_education",
}
TITLE_POINTS = {
    "三级": 0,
    "三级教师": 0,
    "二级": 0,
    "二级教师": 0,
    "junior": 0,
    "一级": 5,
    "一级教师": 5,
    "intermediate": 5,
    "高级": 10,
    "高级教师": 10,
    "senior": 10,
    "正高级": 15,
    "正高级教师": 15,
    "special_grade": 15,
}
SENIOR_POINTS = 10  # titles counted as senior in the balance table: 高级 and 正高级
EXPERIENCE_CAP_YEARS = 20


def quality_tenths(rating: float, title_points: int, years: int) -> int:
    """Teacher quality in tenths of a point (see the module docstring)."""
    return round(10 * rating) + 10 * title_points + 5 * min(years, EXPERIENCE_CAP_YEARS)


@dataclass
class Teachers:
    ids: list[str]
    school: np.ndarray  # school index
    subject: list[str]
    title_points: np.ndarray
    years: np.ndarray
    rating: np.ndarray
    max_classes: np.ndarray
    rotating: np.ndarray
    homeroom: np.ndarray
    quality: np.ndarray
    file: str


def read_teachers(path: Path, school_index: dict[str, int], problems: Problems, encoding):
    table = read_table(path, problems, encoding=encoding)
    table.require(("teacher_id", "school_id", "subject", "title", "years", "rating", "max_classes"))
    table.unique_ids("teacher_id")
    school = table.references("school_id", school_index, "school")
    titles = table.choice("title", list(TITLE_POINTS))
    years = table.ints("years", minimum=0)
    rating = table.floats("rating", minimum=0.0)
    for i, value in enumerate(rating.tolist()):
        if value > 100.0:
            problems.add(table.name, table.lines[i], "rating", f"{value:g} is above 100")
    rating[(rating > 100.0) | (rating < 0.0)] = 0.0  # reported; never into the integer quality
    flags = {}
    for column in ("rotating", "homeroom"):
        values = table.choice(column, FLAGS, required=False)
        flags[column] = np.array([v == "1" for v in values], dtype=bool)
    title_points = np.array([TITLE_POINTS.get(t, 0) for t in titles], dtype=np.int64)
    return Teachers(
        ids=table.text("teacher_id"),
        school=school,
        subject=table.text("subject"),
        title_points=title_points,
        years=years,
        rating=rating,
        max_classes=table.ints("max_classes", minimum=0),
        rotating=flags["rotating"],
        homeroom=flags["homeroom"],
        quality=np.array(
            [
                quality_tenths(r, int(p), int(y))
                for r, p, y in zip(rating.tolist(), title_points, years.tolist(), strict=True)
            ],
            dtype=np.int64,
        ),
        file=table.name,
    )


def _education_groups(folders: list[Path], school_index, problems, encoding) -> dict[int, int]:
    """School index -> education-group index, from the first folder holding both group files."""
    for folder in folders:
        groups_path = find_table(folder, "groups")
        members_path = find_table(folder, "group_members")
        if groups_path is None or members_path is None:
            continue
        groups = read_table(groups_path, problems, encoding=encoding)
        groups.require(("group_id", "kind"))
        kind = dict(zip(groups.text("group_id"), groups.text("kind"), strict=True))
        members = read_table(members_path, problems, encoding=encoding)
        members.require(("group_id", "school_id"))
        ids = sorted(g for g, k in kind.items() if k == "education_group")
        number = {g: n for n, g in enumerate(ids)}
        out = {}
        for g, s in zip(members.text("group_id"), members.text("school_id"), strict=True):
            if g in number and s in school_index:
                out[school_index[s]] = number[g]
        return out
    return {}


@dataclass
class Pool:
    """Classes that share teachers: one school, or all campuses of an education group."""

    schools: list[int]
    classes: list[tuple[int, int]]  # (school index, class_no)
    slot_class: np.ndarray
    slot_subject: list[str]
    slot_homeroom: np.ndarray
    teachers: np.ndarray  # teacher indices of the pool


@dataclass
class PoolResult:
    pool: Pool
    before: np.ndarray  # slot -> teacher index
    after: np.ndarray
    spread_before: float
    spread_after: float
    objective_before: int
    objective_after: int


@dataclass
class TeacherSummary:
    out_dir: Path
    classes: int
    teachers_used: int
    results: list[PoolResult]
    school_ids: list[str]
    audit_records: int = 0

    def render(self) -> str:
        before = max((r.spread_before for r in self.results), default=0.0)
        after = max((r.spread_after for r in self.results), default=0.0)
        mean_before = sum(r.spread_before for r in self.results) / max(len(self.results), 1)
        mean_after = sum(r.spread_after for r in self.results) / max(len(self.results), 1)
        lines = [
            f"{self.classes:,} classes in {len(self.results)} pools, "
            f"{self.teachers_used:,} teachers -> {self.out_dir}",
            "  spread of team scores within a school or group (max - min, points):",
            f"    {'':<10}{'serpentine':>12}{'balanced':>12}",
            f"    {'largest':<10}{before:>12.2f}{after:>12.2f}",
            f"    {'mean':<10}{mean_before:>12.2f}{mean_after:>12.2f}",
        ]
        return "\n".join(lines)


def _team_scores(pool: Pool, slot_teacher: np.ndarray, quality: np.ndarray) -> np.ndarray:
    team = np.zeros(len(pool.classes), dtype=np.int64)
    np.add.at(team, pool.slot_class, quality[slot_teacher])
    return team


def _spread(pool: Pool, slot_teacher: np.ndarray, quality: np.ndarray) -> float:
    per_class = len(pool.slot_class) // len(pool.classes)
    team = _team_scores(pool, slot_teacher, quality) / (10.0 * per_class)
    return float(team.max() - team.min())


def serpentine_start(pool: Pool, teachers: Teachers, groups: dict[int, int], problems, school_ids):
    """The "before" assignment (see the module docstring); None if a slot cannot be filled."""
    load = {int(t): 0 for t in pool.teachers}
    head = {int(t): 0 for t in pool.teachers}
    slot_teacher = np.full(len(pool.slot_class), -1, dtype=np.int64)
    members: dict[int, set[int]] = {c: set() for c in range(len(pool.classes))}
    subjects = list(dict.fromkeys(pool.slot_subject))
    order = []
    for homeroom_pass in (True, False):
        for k, subject in enumerate(subjects):
            slots = [
                s
                for s in range(len(pool.slot_class))
                if pool.slot_subject[s] == subject and bool(pool.slot_homeroom[s]) == homeroom_pass
            ]
            slots.sort(key=lambda s: int(pool.slot_class[s]), reverse=k % 2 == 1)
            order += slots
    for s in order:
        c = int(pool.slot_class[s])
        school = pool.classes[c][0]
        candidates = [
            t
            for t in load
            if teachers.subject[t] == pool.slot_subject[s]
            and load[t] < teachers.max_classes[t]
            and t not in members[c]
            and (not pool.slot_homeroom[s] or (teachers.homeroom[t] and head[t] == 0))
            and (
                teachers.school[t] == school
                or (
                    teachers.rotating[t]
                    and groups.get(int(teachers.school[t]), -1) == groups.get(school, -2)
                )
            )
        ]
        if not candidates:
            role = "homeroom " if pool.slot_homeroom[s] else ""
            problems.add(
                teachers.file,
                None,
                "subject",
                f"{school_ids[school]} class {pool.classes[c][1]}: no {role}"
                f"{pool.slot_subject[s]} teacher with a free class left "
                f"(check max_classes, homeroom and the number of teachers)",
            )
            return None
        t = min(
            candidates,
            key=lambda t: (teachers.school[t] != school, -teachers.quality[t], teachers.ids[t]),
        )
        slot_teacher[s] = t
        load[t] += 1
        members[c].add(t)
        if pool.slot_homeroom[s]:
            head[t] += 1
    return slot_teacher


def _stream(seed: str, key: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}\nteachers\n{key}".encode()).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(digest[:8], "big")))


def solve_pool(pool, teachers, groups, seed, key, problems, school_ids) -> PoolResult | None:
    start = serpentine_start(pool, teachers, groups, problems, school_ids)
    if start is None:
        return None
    n_schools = len(school_ids)
    subject_code = {s: k for k, s in enumerate(sorted(set(teachers.subject)))}
    local = pool.teachers  # the kernel sees the pool's teachers only: local index -> global
    local_of = np.full(len(teachers.ids), -1, dtype=np.int64)
    local_of[local] = np.arange(len(local))
    teacher_arrays = (
        np.array([subject_code[teachers.subject[t]] for t in local], dtype=np.int64),
        teachers.school[local].astype(np.int64),
        teachers.rotating[local],
        teachers.homeroom[local],
        teachers.quality[local],
        teachers.max_classes[local],
    )
    school_group = np.array([groups.get(s, -1) for s in range(n_schools)], dtype=np.int64)
    slot_arrays = (
        pool.slot_class,
        np.array([subject_code.get(s, -1) for s in pool.slot_subject], dtype=np.int64),
        pool.slot_homeroom,
        np.array([school for school, _ in pool.classes], dtype=np.int64),
        school_group,
    )
    order_of_class = np.argsort(pool.slot_class, kind="stable")
    class_ptr = np.zeros(len(pool.classes) + 1, dtype=np.int64)
    class_ptr[1:] = np.cumsum(np.bincount(pool.slot_class, minlength=len(pool.classes)))
    order = _stream(seed, key).permutation(len(pool.slot_class)).astype(np.int64)
    after = np.empty_like(start)
    objective = bk.improve_teams(
        local_of[start], teacher_arrays, slot_arrays, class_ptr, order_of_class, order, after
    )
    after = local[after]
    objective_before = int(bk.team_objective(_team_scores(pool, start, teachers.quality)))
    spread_before = _spread(pool, start, teachers.quality)
    spread_after = _spread(pool, after, teachers.quality)
    if spread_after > spread_before:  # the kernel cut the variance but widened max - min
        after, objective, spread_after = start.copy(), objective_before, spread_before
    return PoolResult(
        pool, start, after, spread_before, spread_after, objective_before, int(objective)
    )


def _read_classes(classes_dir: Path, problems: Problems, encoding):
    """(school ids, school index, levels, sorted classes) of a class run folder."""
    schools_path = find_table(classes_dir / INPUTS, "schools")
    if not (classes_dir / CLASSES).exists() or schools_path is None:
        raise FileNotFoundError(
            f"{classes_dir}: not a class run folder (needs {CLASSES} and {INPUTS}/schools.csv)"
        )
    schools = read_table(schools_path, problems, encoding=encoding)
    schools.require(("school_id",))
    school_ids = schools.text("school_id")
    index = schools.unique_ids("school_id")
    levels = (
        schools.choice("level", LEVELS) if schools.has("level") else ["primary"] * len(school_ids)
    )
    table = read_table(classes_dir / CLASSES, problems)
    table.require(("school_id", "class_no"))
    school = table.references("school_id", index, "school")
    class_no = table.ints("class_no", minimum=1)
    classes = sorted(
        {(int(s), int(c)) for s, c in zip(school, class_no, strict=True) if s >= 0},
        key=lambda sc: (school_ids[sc[0]], sc[1]),
    )
    return school_ids, index, levels, classes, schools_path


def _pools(classes, teachers: Teachers, groups: dict[int, int], levels) -> list[Pool]:
    by_key: dict[tuple, list[tuple[int, int]]] = {}
    for school, class_no in classes:
        key = ("group", groups[school]) if school in groups else ("school", school)
        by_key.setdefault(key, []).append((school, class_no))
    pools = []
    for members in by_key.values():
        schools = sorted({s for s, _ in members})
        slot_class, slot_subject, slot_homeroom = [], [], []
        for c, (school, _) in enumerate(members):
            level = levels[school] or "primary"
            homeroom_done = False
            for subject, count in REQUIRED[level]:
                for _ in range(count):
                    slot_class.append(c)
                    slot_subject.append(subject)
                    is_head = subject == HOMEROOM_SUBJECT[level] and not homeroom_done
                    homeroom_done |= is_head
                    slot_homeroom.append(is_head)
        # a group's teachers: own campus, or any campus if rotating (checked per slot)
        pool_teachers = np.flatnonzero(np.isin(teachers.school, schools))
        pools.append(
            Pool(
                schools,
                members,
                np.array(slot_class, dtype=np.int64),
                slot_subject,
                np.array(slot_homeroom, dtype=bool),
                pool_teachers,
            )
        )
    return pools


def _pool_key(pool: Pool, school_ids: list[str]) -> str:
    return "+".join(school_ids[s] for s in pool.schools)


def assign_teachers(
    classes_dir: Path | str,
    teachers_path: Path | str,
    *,
    seed: str,
    out_dir: Path | str,
    force: bool = False,
    encoding: str | None = None,
    command: list[str] | None = None,
) -> TeacherSummary:
    """Validate, assign and balance teacher teams; write the run folder (all or nothing)."""
    check_seed(seed)
    classes_dir, teachers_path, out_dir = Path(classes_dir), Path(teachers_path), Path(out_dir)
    protect = [classes_dir, teachers_path]
    check_output_folder(out_dir, force, protect)  # before any work, so a refusal is immediate
    problems = Problems()
    school_ids, index, levels, classes, schools_path = _read_classes(
        classes_dir, problems, encoding
    )
    teachers = read_teachers(teachers_path, index, problems, encoding)
    group_folders = [teachers_path.parent, classes_dir / INPUTS]
    groups = _education_groups(group_folders, index, problems, encoding)
    problems.raise_if_any()
    if not classes:
        raise InputError(Problem(str(classes_dir / CLASSES), None, None, "has no classes"))

    results = []
    for pool in _pools(classes, teachers, groups, levels):
        result = solve_pool(
            pool, teachers, groups, seed, _pool_key(pool, school_ids), problems, school_ids
        )
        if result is not None:
            results.append(result)
    problems.raise_if_any()

    with staged_output(out_dir, force, protect) as out:
        inputs = out / INPUTS
        run_copy = inputs / CLASSES_RUN
        (run_copy / INPUTS).mkdir(parents=True)
        copies = {
            "classes": copy_input(classes_dir / CLASSES, run_copy, "classes", out),
            "schools": copy_input(schools_path, run_copy / INPUTS, "schools", out),
            "teachers": copy_input(teachers_path, inputs, "teachers", out),
        }
        for folder in group_folders:
            found = [find_table(folder, stem) for stem in ("groups", "group_members")]
            if all(found):
                for stem, path in zip(("groups", "group_members"), found, strict=True):
                    copies[stem] = copy_input(path, inputs, stem, out)
                break
        rows = _write_outputs(out, results, teachers, school_ids)
        log = AuditLog(out / AUDIT_FILE)
        log.append(
            "run",
            {
                "tool": TOOL,
                "versions": library_versions(),
                "command": command or [],
                "options": {"encoding": encoding},
                "required": {
                    level: [list(x) for x in subjects] for level, subjects in REQUIRED.items()
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
                "search_stream": "PCG64 seeded with the first 8 bytes (big-endian) of SHA-256 of "
                "UTF-8 '<seed>\\nteachers\\n<school_ids of the pool joined by +>'",
            },
        )
        for r in results:
            log.append(
                "pool",
                {
                    "schools": [school_ids[s] for s in r.pool.schools],
                    "classes": len(r.pool.classes),
                    "spread_before": round(r.spread_before, 2),
                    "spread_after": round(r.spread_after, 2),
                    "objective_before": r.objective_before,
                    "objective_after": r.objective_after,
                },
            )
        for name in OUTPUT_FILES:
            log.append(
                "output", {"file": name, "sha256": sha256_file(out / name), "rows": rows[name]}
            )
        used = {int(t) for r in results for t in r.after}
        log.append(
            "end", {"classes": len(classes), "pools": len(results), "teachers_used": len(used)}
        )
    return TeacherSummary(out_dir, len(classes), len(used), results, school_ids, len(log.records))


def _write_outputs(out: Path, results: list[PoolResult], teachers: Teachers, school_ids):
    assignment_rows, balance_rows = [], []
    for r in results:
        pool = r.pool
        per_class = len(pool.slot_class) // len(pool.classes)
        team_before = _team_scores(pool, r.before, teachers.quality)
        team_after = _team_scores(pool, r.after, teachers.quality)
        for c, (school, class_no) in enumerate(pool.classes):
            slots = np.flatnonzero(pool.slot_class == c).tolist()
            team = [int(r.after[s]) for s in slots]
            head = next(int(r.after[s]) for s in slots if pool.slot_homeroom[s])
            for s in slots:
                t = int(r.after[s])
                assignment_rows.append(
                    [
                        school_ids[school],
                        class_no,
                        pool.slot_subject[s],
                        teachers.ids[t],
                        school_ids[teachers.school[t]],
                    ]
                )
            assignment_rows.append(
                [
                    school_ids[school],
                    class_no,
                    "homeroom",
                    teachers.ids[head],
                    school_ids[teachers.school[head]],
                ]
            )
            balance_rows.append(
                [
                    school_ids[school],
                    class_no,
                    f"{team_after[c] / (10 * per_class):.2f}",
                    f"{team_before[c] / (10 * per_class):.2f}",
                    f"{sum(teachers.rating[t] for t in team) / len(team):.2f}",
                    sum(int(teachers.title_points[t] >= SENIOR_POINTS) for t in team),
                    f"{sum(int(teachers.years[t]) for t in team) / len(team):.1f}",
                    teachers.ids[head],
                ]
            )
    rows = {
        CLASS_TEACHERS: write_csv(
            out / CLASS_TEACHERS,
            ["school_id", "class_no", "role", "teacher_id", "teacher_school_id"],
            assignment_rows,
        ),
        TEACHER_BALANCE: write_csv(
            out / TEACHER_BALANCE,
            [
                "school_id",
                "class_no",
                "team_score",
                "team_score_serpentine",
                "mean_rating",
                "senior_titles",
                "mean_years",
                "homeroom_teacher_id",
            ],
            balance_rows,
        ),
    }
    return rows


def replay_teachers(run_dir: Path | str, out: Path | str) -> None:
    """Re-run a teacher assignment from its run folder's inputs/ and audit records into `out`."""
    recorded = RecordedRun.load(run_dir)
    run_dir, run, seed, files = recorded.run_dir, recorded.run, recorded.seed, recorded.inputs
    if recorded.tool != TOOL:
        raise ValueError(f"{run_dir} is not a '{TOOL}' run folder")
    assign_teachers(
        run_dir / INPUTS / CLASSES_RUN,
        files["teachers"],
        seed=seed,
        out_dir=out,
        force=True,
        encoding=run["options"]["encoding"],
        command=run.get("command"),
    )
