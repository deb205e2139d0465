"""Building plans (new schools, expansions, closures, sector conversions) and greedy siting.

A plan file (CSV or XLSX) has one action per row, applied in file order:

- ``new``: opens a school. Needs school_id (not yet used), name, level, sector, zone_id, seats
  (entry-year places); optional x_km and y_km (both or neither; default: the zone centre) and
  group_id (joins as a branch of an education group, or a member of a community).
- ``expand``: adds ``seats`` entry-year places to school_id.
- ``close``: removes school_id and its group memberships.
- ``convert``: sets the sector of school_id, e.g. private -> inclusive_private (转普惠).

`year` (optional) records when the step is due; every row is applied. Other columns are ignored.
Every problem is reported as ``file:line: column: message``, all of them before anything runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from seats.io.errors import Problems
from seats.io.model import LEVELS, SECTORS, District, Memberships, Schools
from seats.io.tables import read_table
from sim.flow import FlowProblem, max_flow
from sim.network import LEVEL_YEARS, serving_pairs

ACTIONS = ("new", "expand", "close", "convert")
PLAN_COLUMNS = (
    "action",
    "school_id",
    "name",
    "level",
    "sector",
    "zone_id",
    "seats",
    "x_km",
    "y_km",
    "year",
    "group_id",
)
# 班额 caps of the design notes, used to count the classes of a new or expanded school.
CLASS_SIZE_CAP = {"kindergarten": 30, "primary": 45, "junior": 50, "special": 12}


@dataclass(frozen=True)
class PlanStep:
    line: int
    action: str
    school_id: str
    name: str = ""
    level: str = ""
    sector: str = ""
    zone_id: str = ""
    seats: int = 0
    x_km: float | None = None
    y_km: float | None = None
    year: int | None = None
    group_id: str = ""


@dataclass(frozen=True)
class Plan:
    name: str
    steps: list[PlanStep]

    def counts(self) -> dict[str, int]:
        return {a: sum(s.action == a for s in self.steps) for a in ACTIONS}


def read_plan(path, district: District, *, encoding: str | None = None) -> Plan:
    """Read and validate a plan against `district`; raises InputError listing every problem."""
    problems = Problems()
    table = read_table(path, problems, encoding=encoding)
    table.require(("action", "school_id"))
    name = table.name
    actions = table.choice("action", ACTIONS)
    school_ids = table.text("school_id")
    names = table.text("name", required=False)
    levels = table.choice("level", LEVELS, required=False)
    sectors = table.choice("sector", SECTORS, required=False)
    zone_ids = table.text("zone_id", required=False)
    seats = table.ints("seats", minimum=1, required=False)
    seats_text = table.text("seats", required=False)
    years = table.ints("year", minimum=1900, maximum=2200, required=False)
    group_ids = table.text("group_id", required=False)
    xs = _optional_floats(table, "x_km")
    ys = _optional_floats(table, "y_km")

    known = dict.fromkeys(district.schools.ids, 0)  # school id -> line it was opened on (0: data)
    closed: dict[str, int] = {}
    steps = []
    for i, line in enumerate(table.lines):
        action, school_id = actions[i], school_ids[i]
        if action not in ACTIONS or not school_id:
            continue  # already reported
        start = len(problems)
        if school_id in closed:
            problems.add(
                name,
                line,
                "school_id",
                f"school '{school_id}' is closed on line {closed[school_id]}",
            )
        elif action == "new":
            if school_id in known:
                where = "the district" if known[school_id] == 0 else f"line {known[school_id]}"
                problems.add(
                    name, line, "school_id", f"school '{school_id}' already exists ({where})"
                )
            for column, value in (
                ("name", names[i]),
                ("level", levels[i]),
                ("sector", sectors[i]),
                ("zone_id", zone_ids[i]),
                ("seats", seats_text[i]),
            ):
                _need(problems, name, line, action, column, value)
            if zone_ids[i] and zone_ids[i] not in district.zones.index:
                problems.add(name, line, "zone_id", f"unknown zone '{zone_ids[i]}'")
            if (xs[i] is None) != (ys[i] is None):
                problems.add(name, line, "x_km", "give both x_km and y_km, or neither")
            if group_ids[i] and group_ids[i] not in district.groups.index:
                problems.add(name, line, "group_id", f"unknown group '{group_ids[i]}'")
            known.setdefault(school_id, line)
        elif school_id not in known:
            problems.add(name, line, "school_id", f"unknown school '{school_id}'")
        elif action == "expand":
            _need(problems, name, line, action, "seats", seats_text[i])
        elif action == "convert":
            _need(problems, name, line, action, "sector", sectors[i])
        if action == "close" and school_id in known:
            closed.setdefault(school_id, line)
        if len(problems) == start:
            steps.append(
                PlanStep(
                    line=line,
                    action=action,
                    school_id=school_id,
                    name=names[i],
                    level=levels[i],
                    sector=sectors[i],
                    zone_id=zone_ids[i],
                    seats=int(seats[i]),
                    x_km=xs[i],
                    y_km=ys[i],
                    year=int(years[i]) if years[i] else None,
                    group_id=group_ids[i],
                )
            )
    if not table.rows and table.header:
        problems.add(name, None, None, "the plan has no rows")
    problems.raise_if_any()
    return Plan(name, steps)


def _need(problems: Problems, name: str, line: int, action: str, column: str, value: str) -> None:
    if value == "":
        problems.add(name, line, column, f"is needed for action '{action}'")


def _optional_floats(table, column: str) -> list[float | None]:
    out: list[float | None] = []
    for value, line in zip(table.text(column, required=False), table.lines, strict=True):
        if value == "":
            out.append(None)
            continue
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            table.problems.add(table.name, line, column, f"'{value}' is not a number")
            out.append(None)
        else:
            out.append(number)
    return out


def apply_plan(district: District, plan: Plan) -> District:
    """A new District with the plan's steps applied in order (the input is left unchanged)."""
    s = district.schools
    rows = {
        "ids": list(s.ids),
        "zone_ids": list(s.zone_ids),
        "name": list(s.name),
        "zone": s.zone.tolist(),
        "seats": s.seats.tolist(),
        "level": s.level.tolist(),
        "sector": s.sector.tolist(),
        "enrolled": s.enrolled.tolist(),
        "classes": s.classes.tolist(),
        "class_size_cap": s.class_size_cap.tolist(),
        "teachers": s.teachers.tolist() if s.teachers is not None else [0] * len(s),
        "x_km": s.x_km.tolist(),
        "y_km": s.y_km.tolist(),
    }
    member_rows = [
        (district.groups.ids[g], s.ids[k], r)
        for g, k, r in zip(
            district.members.group.tolist(),
            district.members.school.tolist(),
            district.members.role.tolist(),
            strict=True,
        )
    ]
    where = {school_id: k for k, school_id in enumerate(rows["ids"])}
    closed: set[str] = set()
    for step in plan.steps:
        if step.action == "new":
            z = district.zones.index[step.zone_id]
            cap = CLASS_SIZE_CAP[step.level]
            values = {
                "ids": step.school_id,
                "zone_ids": step.zone_id,
                "name": step.name,
                "zone": z,
                "seats": step.seats,
                "level": step.level,
                "sector": step.sector,
                "enrolled": 0,
                "classes": math.ceil(step.seats * LEVEL_YEARS[step.level] / cap),
                "class_size_cap": cap,
                "teachers": 0,
                "x_km": step.x_km if step.x_km is not None else float(district.zones.x_km[z]),
                "y_km": step.y_km if step.y_km is not None else float(district.zones.y_km[z]),
            }
            for key, value in values.items():
                rows[key].append(value)
            where[step.school_id] = len(rows["ids"]) - 1
            if step.group_id:
                kind = district.groups.kind[district.groups.index[step.group_id]]
                role = "branch" if kind == "education_group" else "member"
                member_rows.append((step.group_id, step.school_id, role))
        elif step.action == "expand":
            k = where[step.school_id]
            rows["seats"][k] += step.seats
            years = LEVEL_YEARS[rows["level"][k]]
            rows["classes"][k] += math.ceil(step.seats * years / rows["class_size_cap"][k])
        elif step.action == "convert":
            rows["sector"][where[step.school_id]] = step.sector
        elif step.action == "close":
            closed.add(step.school_id)

    keep = [k for k, school_id in enumerate(rows["ids"]) if school_id not in closed]
    pick = {key: [values[k] for k in keep] for key, values in rows.items()}
    ids = pick["ids"]
    index = {school_id: k for k, school_id in enumerate(ids)}
    schools = Schools(
        ids=ids,
        index=index,
        zone_ids=pick["zone_ids"],
        seats=np.array(pick["seats"], dtype=np.int64),
        table=s.table,  # the source table; planned schools have no row in it
        zone=np.array(pick["zone"], dtype=np.int64),
        name=pick["name"],
        level=np.array(pick["level"]),
        sector=np.array(pick["sector"]),
        enrolled=np.array(pick["enrolled"], dtype=np.int64),
        classes=np.array(pick["classes"], dtype=np.int64),
        class_size_cap=np.array(pick["class_size_cap"], dtype=np.int64),
        teachers=np.array(pick["teachers"], dtype=np.int64) if s.teachers is not None else None,
        x_km=np.array(pick["x_km"], dtype=np.float64),
        y_km=np.array(pick["y_km"], dtype=np.float64),
    )
    member_rows = [m for m in member_rows if m[1] not in closed]
    members = Memberships(
        group=np.array([district.groups.index[g] for g, _, _ in member_rows], dtype=np.int64),
        school=np.array([index[k] for _, k, _ in member_rows], dtype=np.int64),
        role=np.array([r for _, _, r in member_rows]),
    )
    old_ids = district.schools.ids
    groups = replace(
        district.groups,
        lead=np.array(
            [index.get(old_ids[lead], -1) if lead >= 0 else -1 for lead in district.groups.lead],
            dtype=np.int64,
        ),
    )
    return replace(district, schools=schools, members=members, groups=groups)


# --- greedy siting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteStep:
    step: int
    zone_id: str
    zone_name: str
    serves: list[str]  # zone ids the new school serves
    gain: int  # children seated that were not before
    unmet_after: int
    candidates: int  # sites whose flow was computed (the others cannot help, see site_new_schools)


def site_new_schools(
    district: District,
    problem: FlowProblem,
    count: int,
    capacity: int,
    walk_km: float,
    allowed: np.ndarray | None = None,
) -> list[SiteStep]:
    """Greedily place `count` schools of `capacity` at zone centres, each where it seats most.

    `problem` is the level's flow problem with zones in district order. A school at a zone centre
    serves that zone and the zones whose centre is within walk_km (the network's rules). It can
    only seat more children if it serves a zone on the source side of the current minimum cut
    (a zone still reachable from the source), so other candidates are skipped without a flow.
    Ties go to the zone listed first. Stops early when no site seats anyone more. `allowed`
    (bool[zones]) leaves out the sites marked False (sim.gap.site_allowed)."""
    zones = district.zones
    centres = np.column_stack([zones.x_km, zones.y_km])
    zone_of_site = np.arange(len(zones.ids))
    served_zone, site, _, _ = serving_pairs(centres, zone_of_site, centres, walk_km)
    serves = [np.sort(served_zone[site == c]) for c in range(len(zones.ids))]

    steps: list[SiteStep] = []
    current = max_flow(problem, balanced=False)  # only totals and the cut matter here
    for step in range(1, count + 1):
        best, best_gain, best_result, tried = -1, 0, None, 0
        for c in range(len(zones.ids)):
            if not current.cut_zone[serves[c]].any():
                continue
            if allowed is not None and not allowed[c]:
                continue
            tried += 1
            result = max_flow(problem.with_school(capacity, serves[c]), balanced=False)
            gain = result.seated - current.seated
            if gain > best_gain:
                best, best_gain, best_result = c, gain, result
        if best < 0:
            break
        problem = problem.with_school(capacity, serves[best])
        current = best_result
        steps.append(
            SiteStep(
                step=step,
                zone_id=zones.ids[best],
                zone_name=zones.name[best],
                serves=[zones.ids[z] for z in serves[best]],
                gain=best_gain,
                unmet_after=int(problem.demand.sum()) - current.seated,
                candidates=tried,
            )
        )
    return steps


def plan_from_sites(
    district: District, steps: list[SiteStep], level: str, seats: int, name: str
) -> Plan:
    """The chosen sites as plan rows (public schools at zone centres), to apply or to save."""
    taken = set(district.schools.ids)
    rows = []
    for site in steps:
        number = site.step
        while f"NEW{number:02d}" in taken:
            number += 100
        school_id = f"NEW{number:02d}"
        taken.add(school_id)
        rows.append(
            PlanStep(
                line=site.step,
                action="new",
                school_id=school_id,
                name=f"new {level} site {site.step} ({site.zone_id} {site.zone_name})",
                level=level,
                sector="public",
                zone_id=site.zone_id,
                seats=seats,
            )
        )
    return Plan(name, rows)


def plan_rows(plan: Plan) -> list[list]:
    """Rows in the plan file format (PLAN_COLUMNS), so that sites can be saved and reused."""
    return [
        [
            s.action,
            s.school_id,
            s.name,
            s.level,
            s.sector,
            s.zone_id,
            s.seats or "",
            "" if s.x_km is None else f"{s.x_km:.3f}",
            "" if s.y_km is None else f"{s.y_km:.3f}",
            s.year or "",
            s.group_id,
        ]
        for s in plan.steps
    ]
