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
constrained pupils placed first), then the kernel :func:`seats.classes.kernels.improve_classes`
(swaps and moves to a local optimum, threshold accepting, descent again; on small cohorts also
exchanges of two pupils (units) for two between any two classes, until none improves). Those
cohorts get several such runs from the same start with different proposals, the best kept (ties:
the earlier run), and then :func:`seats.classes.kernels.exact_exchanges` polishes it: for k = 1,
2, ... up to a size-dependent k, and every pair of classes, the best exchange of k single pupils
for k that puts every feature's two class totals on one of the two lattice steps nearest the
pair's best (found exactly by a meet-in-the-middle lookup over every k-subset of each class),
descent and two-for-two exchanges after each improvement, k back to 1; it stops early when the
objective reaches :func:`lower_bound` (then nothing can improve). :func:`search_effort` sets
steps, runs, exchanges and the largest k from the cohort's size only. The visit order and every
run's proposals come, in that order, from one NumPy PCG64 stream seeded with the first 8 bytes
(big-endian) of SHA-256(``seed + "\nclasses\n" + school_id``); the polish draws nothing.

Class numbers by lottery
------------------------
The balanced groups are labelled by their smallest pupil_id (Unicode order). A group holding
``fixed_class`` pupils takes that number; the others are ordered by the lowercase hex SHA-256 of
``seed + "\n" + school_id + "\n" + label`` and take the free numbers in ascending order. The
audit log records every label, lottery number and class number.

Education groups (``--group``)
------------------------------
The pupils listed under the group id or under any of its campuses are pooled and shared among the
campuses in proportion to their seats (largest remainder), with the same objective and hard
sizes (a ``fixed_class`` pupil stays at the campus listed). Campuses of equal share then trade
their parts by lottery (label = smallest pupil_id, SHA-256 of ``seed + "\n" + group_id + "\n" +
label``, ascending lottery number to ascending school_id), so the search does not decide which
children go to which campus. Then each campus forms its classes.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from seats.classes.cohort import (
    LOTTERY_RUN,
    Cohort,
    _read_class_counts,
    _read_schools,
    is_lottery_run,
    load_cohort,
    read_group_campuses,
)
from seats.classes.numbering import _draw_numbers, number_classes
from seats.classes.search import Solved, solve_plan
from seats.classes.units import Plan
from seats.classes.writers import (
    OUTPUT_FILES,
    ClassSummary,
    SchoolOutcome,
    _write_outputs,
    class_figures,
    spreads,
)
from seats.io.audit import AUDIT_FILE, AuditLog, RecordedRun, library_versions
from seats.io.errors import InputError, Problem, Problems
from seats.io.output import check_output_folder, copy_input, sha256_file, staged_output
from seats.io.tables import find_table
from seats.lottery.numbers import check_seed
from seats.lottery.run import INPUTS

TOOL = "seats classes form"


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
                    *cohort.where(p),
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
    protect = [pupils_path, schools_path, class_counts_path, requests_path]
    check_output_folder(out_dir, force, protect)  # before any work, so a refusal is immediate
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

    with staged_output(out_dir, force, protect) as out:
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
                    *cohort.where(p),
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
