"""Capacity-gap analysis: where seats are missing, for whom, and what a building plan changes.

Demand and capacity (one definition per basis, used everywhere in this module):

- cohort basis, kindergarten: children aged 3-5 in the year (the 毛入园率 denominator) against
  places on roll = 3 x entry seats;
- cohort basis, primary and junior: children of the entry age (6, 12) in the year against entry
  seats;
- applicants basis (``demand_path``), any level: applicants in the file by zone_id against entry
  seats.

Kindergarten places on roll are 3 x seats rather than classes x class_size_cap so that a planned
kindergarten, which a plan gives in entry seats, counts the same way as an existing one (the 班额
ceiling, classes x cap, is about 8% higher on the embedded data).

A maximum flow (sim.flow) from zones through the schools that serve them (the network's "serves"
edges) seats as many children as the seats allow. Reported per scenario (now, after the plan,
after the proposed sites): seated and unmet per zone (one optimal split), the groups' load, the
schools that are full in every optimal flow, the bottleneck regions of the minimum cut (unique),
the plan's indicators for kindergartens, and the reach of the education groups (教育集团).

统筹 (compulsory levels, primary and junior): children the eligibility flow cannot seat are then
seated in public schools of their level with seats left anywhere in the district, by a
minimum-cost flow whose cost is the distance from the zone centre to the school (eligibility
becomes a cost instead of the walking cut-off). Reported: how many are seated outside their
zone (by the eligibility flow's walking and group edges, and by 统筹) and how far, and the unmet
demand after 统筹, which is what siting answers. Siting proposes nothing at a site where the
cohort projection (sim.cohort, enrolment.csv) puts the use of the places it would join below
``SITE_MIN_USE`` (80%) in any of the next ``SITE_YEARS`` (5) years.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np

from seats.io.errors import InputError, Problems
from seats.io.model import INCLUSIVE_SECTORS, District, load_district
from seats.io.output import check_output_folder, staged_output, write_csv
from seats.io.summary import PLAN_TARGETS_2025, format_table, kindergarten_indicators
from seats.io.tables import read_table
from sim.flow import FlowProblem, FlowResult, bottleneck_regions, max_flow
from sim.network import (
    GAP_LEVELS,
    LEVEL_AGES,
    LEVEL_YEARS,
    REACH_GROUP_KIND,
    WALK_KM,
    build_network,
    campuses_of,
    children_aged,
    nodes_of_kind,
    schools_at_level,
    serves_edges,
    serving_pairs,
)
from sim.plan import (
    PLAN_COLUMNS,
    Plan,
    SiteStep,
    apply_plan,
    plan_from_sites,
    plan_rows,
    read_plan,
    site_new_schools,
)

PLAN_QUALITY_SEATS = 28_251  # the plan's count of quality seats (优质学位) in education groups
ON_ROLL_LEVELS = ("kindergarten",)  # levels whose cohort basis counts all year-groups


@dataclass(frozen=True)
class Basis:
    """What counts as demand and as capacity (see the module docstring)."""

    level: str
    source: str  # "cohort" or the applicants file name
    on_roll: bool

    def describe(self, year: int) -> str:
        if self.source != "cohort":
            return f"applicants in {self.source} vs entry seats"
        if self.on_roll:
            young, old = LEVEL_AGES[self.level]
            return f"children aged {young}-{old} in {year} vs places on roll (3 x entry seats)"
        return f"children aged {LEVEL_AGES[self.level][0]} in {year} vs entry seats"

    def capacity_of(self, seats: int) -> int:
        return seats * LEVEL_YEARS[self.level] if self.on_roll else seats


def cohort_basis(level: str) -> Basis:
    return Basis(level, "cohort", level in ON_ROLL_LEVELS)


def cohort_demand(graph: nx.DiGraph, basis: Basis) -> np.ndarray:
    key = "children" if basis.on_roll else "entrants"
    return np.array(
        [graph.nodes[z][key][basis.level] for z in nodes_of_kind(graph, "zone")], dtype=np.int64
    )


def read_zone_counts(path, district: District, *, encoding: str | None = None) -> np.ndarray:
    """Applicants per zone from a file with a zone_id column (the lottery's applicants file)."""
    problems = Problems()
    table = read_table(path, problems, encoding=encoding)
    table.require(("zone_id",))
    zone = table.references("zone_id", district.zones.index, "zone")
    if not table.rows and table.header:
        problems.add(table.name, None, None, "has no applicants")
    problems.raise_if_any()
    return np.bincount(zone, minlength=len(district.zones.ids)).astype(np.int64)


def flow_problem(
    graph: nx.DiGraph, basis: Basis, demand: np.ndarray
) -> tuple[FlowProblem, list, list]:
    """The level's flow problem read from the network, with its zone and school nodes."""
    zones = nodes_of_kind(graph, "zone")
    schools = schools_at_level(graph, basis.level)
    zone_at = {n: i for i, n in enumerate(zones)}
    school_at = {n: i for i, n in enumerate(schools)}
    pairs = [(zone_at[u], school_at[v]) for u, v in serves_edges(graph) if v in school_at]
    edges = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    capacity = np.array(
        [basis.capacity_of(graph.nodes[s]["seats"]) for s in schools], dtype=np.int64
    )
    return FlowProblem(demand, capacity, edges[:, 0], edges[:, 1]), zones, schools


# --- one scenario -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attainable:
    """The plan's kindergarten indicators that the places allow, filling public places first,
    then inclusive private, then private. One flow reaches all three maxima at once: augmenting
    a maximum flow into public schools towards one into all schools never lowers any school's
    intake, since an augmenting path meets the sink only at its end."""

    population: int
    seated: int
    seated_inclusive: int
    seated_public: int

    @property
    def gross_enrolment(self) -> float:
        return self.seated / self.population if self.population else 0.0

    @property
    def inclusive_share(self) -> float:
        return self.seated_inclusive / self.seated if self.seated else 0.0

    @property
    def public_share(self) -> float:
        return self.seated_public / self.seated if self.seated else 0.0


@dataclass
class Scenario:
    name: str
    district: District
    graph: nx.DiGraph
    basis: Basis
    problem: FlowProblem
    zones: list
    schools: list
    result: FlowResult
    regions: list[tuple[list, list]]
    reach: FlowResult  # the flow into education-group campuses only
    is_group_campus: np.ndarray  # bool[schools]
    attainable: Attainable | None = None
    tongchou: Tongchou | None = None

    @property
    def demand(self) -> int:
        return int(self.problem.demand.sum())

    @property
    def capacity(self) -> int:
        return int(self.problem.capacity.sum())

    @property
    def unmet(self) -> int:
        return self.demand - self.result.seated


def analyse(
    name: str,
    district: District,
    basis: Basis,
    *,
    year: int,
    walk_km: float,
    demand: np.ndarray | None = None,
) -> Scenario:
    """Build the network of `district` and solve the level's flow (demand: cohort unless given)."""
    graph = build_network(district, year=year, walk_km=walk_km)
    if demand is None:
        demand = cohort_demand(graph, basis)
    problem, zones, schools = flow_problem(graph, basis, demand)
    result = max_flow(problem)
    campus = np.array(
        [
            any(graph.nodes[g]["group_kind"] == REACH_GROUP_KIND for g in graph.successors(s))
            for s in schools
        ],
        dtype=bool,
    )
    scenario = Scenario(
        name=name,
        district=district,
        graph=graph,
        basis=basis,
        problem=problem,
        zones=zones,
        schools=schools,
        result=result,
        regions=bottleneck_regions(problem, result),
        reach=max_flow(problem.only_schools(campus)),
        is_group_campus=campus,
    )
    if basis.level == "kindergarten":
        scenario.attainable = attainable_indicators(graph, year)
    if basis.level in COMPULSORY:
        scenario.tongchou = tongchou(scenario)
    return scenario


def attainable_indicators(graph: nx.DiGraph, year: int) -> Attainable:
    basis = cohort_basis("kindergarten")
    problem, _, schools = flow_problem(graph, basis, cohort_demand(graph, basis))
    sector = np.array([graph.nodes[s]["sector"] for s in schools])
    public = max_flow(problem.only_schools(sector == "public"), balanced=False).seated
    inclusive = max_flow(
        problem.only_schools(np.isin(sector, INCLUSIVE_SECTORS)), balanced=False
    ).seated
    seated = max_flow(problem, balanced=False).seated
    return Attainable(int(problem.demand.sum()), seated, inclusive, public)


COMPULSORY = ("primary", "junior")
SITE_MIN_USE = 0.80  # no new school where the places would be used less than this ...
SITE_YEARS = 5  # ... in any of the next five years


@dataclass
class Tongchou:
    """统筹: the children the eligibility flow leaves unseated, seated at public schools of the
    level with seats left, minimum total distance (metres between zone centre and school)."""

    seated_zone: np.ndarray  # int64[zones] seated by 统筹
    km_sum_zone: np.ndarray  # float64[zones] their distances, summed
    km_max_zone: np.ndarray  # float64[zones]
    unmet_zone: np.ndarray  # int64[zones] after 统筹
    outside_zone: np.ndarray  # int64[zones] seated by the eligibility flow in another zone
    outside_km_sum: np.ndarray  # float64[zones] their distances, summed
    assignments: list[tuple[int, int, int, float]]  # (zone, school, children, km)

    @property
    def seated(self) -> int:
        return int(self.seated_zone.sum())

    @property
    def unmet(self) -> int:
        return int(self.unmet_zone.sum())

    @property
    def outside(self) -> int:
        """Children seated outside their zone, by either stage."""
        return int(self.outside_zone.sum() + self.seated_zone.sum())

    def mean_km(self) -> float:
        n = self.outside
        return float((self.outside_km_sum.sum() + self.km_sum_zone.sum()) / n) if n else 0.0


def _km(graph: nx.DiGraph, zone, school) -> float:
    z, s = graph.nodes[zone], graph.nodes[school]
    return float(np.hypot(z["x_km"] - s["x_km"], z["y_km"] - s["y_km"]))


def tongchou(sc: Scenario) -> Tongchou:
    """The 统筹 stage after the scenario's eligibility flow (module docstring)."""
    p, r, graph = sc.problem, sc.result, sc.graph
    n_z = p.n_zones
    left = r.unmet_zone(p)
    spare = p.capacity - r.seated_school
    # the eligibility flow's children seated in another zone, and how far
    outside = np.zeros(n_z, dtype=np.int64)
    outside_km = np.zeros(n_z)
    school_zone = [graph.nodes[s]["zone_id"] for s in sc.schools]
    for e in range(len(p.edge_zone)):
        z, s, f = int(p.edge_zone[e]), int(p.edge_school[e]), int(r.edge_flow[e])
        if f and school_zone[s] != sc.zones[z][1]:
            outside[z] += f
            outside_km[z] += f * _km(graph, sc.zones[z], sc.schools[s])
    seated = np.zeros(n_z, dtype=np.int64)
    km_sum, km_max = np.zeros(n_z), np.zeros(n_z)
    assignments: list[tuple[int, int, int, float]] = []
    public = [s for s, node in enumerate(sc.schools) if graph.nodes[node]["sector"] == "public"]
    if sc.basis.level in COMPULSORY and left.sum() > 0 and spare[public].sum() > 0:
        g = nx.DiGraph()
        for z in np.flatnonzero(left > 0):
            g.add_edge("source", ("z", int(z)), capacity=int(left[z]), weight=0)
            for s in public:
                if spare[s] > 0:
                    metres = round(1000 * _km(graph, sc.zones[z], sc.schools[s]))
                    g.add_edge(("z", int(z)), ("s", s), capacity=int(left[z]), weight=metres)
        for s in public:
            if spare[s] > 0:
                g.add_edge(("s", s), "sink", capacity=int(spare[s]), weight=0)
        flow = nx.max_flow_min_cost(g, "source", "sink")
        for z in np.flatnonzero(left > 0):
            for (_, s), f in sorted(flow[("z", int(z))].items()):
                if f > 0:
                    km = _km(graph, sc.zones[z], sc.schools[s])
                    assignments.append((int(z), int(s), int(f), km))
                    seated[z] += f
                    km_sum[z] += f * km
                    km_max[z] = max(km_max[z], km)
    return Tongchou(seated, km_sum, km_max, left - seated, outside, outside_km, assignments)


TONGCHOU_HEADER = ["scenario", "zone_id", "zone_name", "school_id", "school_name", "children", "km"]


def tongchou_rows(sc: Scenario) -> list[list]:
    if sc.tongchou is None:
        return []
    rows = []
    for z, s, n, km in sc.tongchou.assignments:
        zone, school = sc.zones[z], sc.schools[s]
        rows.append(
            [sc.name, zone[1], sc.graph.nodes[zone]["name"], school[1],
             sc.graph.nodes[school]["name"], n, f"{km:.3f}"]
        )  # fmt: skip
    return rows


def site_allowed(
    district: District, plan: Plan | None, level: str, year: int, capacity: int, walk_km: float
) -> tuple[np.ndarray | None, str]:
    """bool[zones]: may a new school of `capacity` places at this zone centre be proposed? Not
    where the places of the zones it would serve (theirs plus its own) would be used less than
    SITE_MIN_USE in any of the next SITE_YEARS years of the cohort projection; None (no check)
    without enrolment.csv or outside its years, with the reason."""
    from sim.cohort import LEVELS, build_cohort_model, load_enrolment
    from sim.forecast import central_projection

    try:
        enrolment = load_enrolment(district)
    except InputError as err:  # no enrolment history: no projection to check
        return None, f"no utilisation check of the sites ({err})"
    first = int(enrolment.years[0])
    base = min(year, int(enrolment.years[-1]))  # the projection starts from this year's roll
    if base <= first:
        return None, f"no utilisation check of the sites: enrolment.csv has no history to {year}"
    model = build_cohort_model(
        district, enrolment, years=(base + 1, year + SITE_YEARS), plan=plan,
        fit=(first, base), resample=False,
    )  # fmt: skip
    central = central_projection(model)
    lv = LEVELS.index(level)
    mask = model.school_level == lv
    n_z = len(model.zone_ids)
    ahead = range(len(model.years) - SITE_YEARS, len(model.years))  # year + 1 .. year + 5
    pupils = np.stack(
        [np.bincount(model.school_zone[mask], central.batch.pupils[0, y, mask], n_z)
         + central.batch.unmet[0, lv, y] for y in ahead]
    )  # fmt: skip
    places = np.stack(
        [np.bincount(model.school_zone[mask], model.places[y, mask], n_z) for y in ahead]
    )
    zones = district.zones
    centres = np.column_stack([zones.x_km, zones.y_km])
    served_zone, site, _, _ = serving_pairs(centres, np.arange(n_z), centres, walk_km)
    allowed = np.zeros(n_z, dtype=bool)
    for c in range(n_z):
        served = served_zone[site == c]
        use = pupils[:, served].sum(1) / (places[:, served].sum(1) + capacity)
        allowed[c] = bool((use >= SITE_MIN_USE).all())
    return allowed, ""


# --- rows for the output files ------------------------------------------------------------------


def _ids(nodes) -> str:
    return ";".join(n[1] for n in nodes)


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.4f}" if whole else ""


ZONE_HEADER = [
    "scenario",
    "zone_id",
    "name",
    "kind",
    "demand",
    "seated",
    "unmet",
    "unmet_share",
    "schools_in_reach",
    "capacity_in_reach",
    "bottleneck",
    "group_campuses_in_reach",
    "group_seated",
    "group_share",
    "seated_outside_zone",
    "tongchou_seated",
    "tongchou_mean_km",
    "tongchou_max_km",
    "unmet_after_tongchou",
]


def zone_rows(sc: Scenario) -> list[list]:
    p, r = sc.problem, sc.result
    unmet = r.unmet_zone(p)
    reach_count = np.bincount(p.edge_zone, minlength=p.n_zones)
    reach_capacity = np.bincount(p.edge_zone, p.capacity[p.edge_school], minlength=p.n_zones)
    campus_count = np.bincount(
        p.edge_zone, sc.is_group_campus[p.edge_school].astype(np.int64), minlength=p.n_zones
    )
    region_of = {z: k for k, (zones, _) in enumerate(sc.regions, 1) for z in zones}
    rows = []
    for z, node in enumerate(sc.zones):
        data = sc.graph.nodes[node]
        rows.append(
            [
                sc.name,
                node[1],
                data["name"],
                data["zone_kind"],
                int(p.demand[z]),
                int(r.seated_zone[z]),
                int(unmet[z]),
                _share(int(unmet[z]), int(p.demand[z])),
                int(reach_count[z]),
                int(reach_capacity[z]),
                f"R{region_of[z]}" if z in region_of else "",
                int(campus_count[z]),
                int(sc.reach.seated_zone[z]),
                _share(int(sc.reach.seated_zone[z]), int(p.demand[z])),
                *_tongchou_cells(sc.tongchou, z),
            ]
        )
    return rows


def _tongchou_cells(t: Tongchou | None, z: int) -> list:
    if t is None:
        return ["", "", "", "", ""]
    n = int(t.seated_zone[z])
    return [
        int(t.outside_zone[z] + n),
        n,
        f"{t.km_sum_zone[z] / n:.3f}" if n else "",
        f"{t.km_max_zone[z]:.3f}" if n else "",
        int(t.unmet_zone[z]),
    ]


SCHOOL_HEADER = [
    "scenario",
    "school_id",
    "name",
    "sector",
    "zone_id",
    "capacity",
    "seated",
    "full",
    "zones_served",
    "bottleneck",
]


def school_rows(sc: Scenario) -> list[list]:
    p, r = sc.problem, sc.result
    served = np.bincount(p.edge_school, minlength=p.n_schools)
    region_of = {s: k for k, (_, schools) in enumerate(sc.regions, 1) for s in schools}
    rows = []
    for s, node in enumerate(sc.schools):
        data = sc.graph.nodes[node]
        rows.append(
            [
                sc.name,
                node[1],
                data["name"],
                data["sector"],
                data["zone_id"],
                int(p.capacity[s]),
                int(r.seated_school[s]),
                int(r.full_school[s]),
                int(served[s]),
                f"R{region_of[s]}" if s in region_of else "",
            ]
        )
    return rows


GROUP_HEADER = [
    "scenario",
    "group_id",
    "name",
    "kind",
    "campuses",
    "capacity",
    "seated",
    "full_campuses",
    "zones_in_reach",
    "demand_in_reach",
    "unmet_in_reach",
]


def group_rows(sc: Scenario) -> list[list]:
    """Groups with a campus at the level. A group's unmet demand is the unmet demand of the zones
    its campuses serve: children near the group whom no school could seat."""
    p, r = sc.problem, sc.result
    school_at = {n: i for i, n in enumerate(sc.schools)}
    unmet = r.unmet_zone(p)
    rows = []
    for group in nodes_of_kind(sc.graph, "group"):
        campuses = [school_at[s] for s in campuses_of(sc.graph, group) if s in school_at]
        if not campuses:
            continue
        in_reach = np.unique(p.edge_zone[np.isin(p.edge_school, campuses)])
        data = sc.graph.nodes[group]
        rows.append(
            [
                sc.name,
                group[1],
                data["name"],
                data["group_kind"],
                len(campuses),
                int(p.capacity[campuses].sum()),
                int(r.seated_school[campuses].sum()),
                int(r.full_school[campuses].sum()),
                len(in_reach),
                int(p.demand[in_reach].sum()),
                int(unmet[in_reach].sum()),
            ]
        )
    return rows


BOTTLENECK_HEADER = ["scenario", "region", "zones", "schools", "demand", "capacity", "unmet"]


def bottleneck_rows(sc: Scenario) -> list[list]:
    """One row per region of the minimum cut: its zones' demand exceeds its schools' capacity by
    exactly its unmet demand, whatever the flow."""
    rows = []
    for k, (zones, schools) in enumerate(sc.regions, 1):
        demand = int(sc.problem.demand[zones].sum())
        capacity = int(sc.problem.capacity[schools].sum())
        rows.append(
            [
                sc.name,
                f"R{k}",
                _ids(sc.zones[z] for z in zones),
                _ids(sc.schools[s] for s in schools),
                demand,
                capacity,
                demand - capacity,
            ]
        )
    return rows


# --- the run --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QualitySeats:
    """Education-group campuses of every level in the data (the plan's 优质学位)."""

    campuses: int
    enrolled: int
    places: int  # classes x class_size_cap


def quality_seats(district: District) -> QualitySeats:
    m, s = district.members, district.schools
    in_group = np.isin(m.group, np.flatnonzero(district.groups.kind == REACH_GROUP_KIND))
    campuses = np.unique(m.school[in_group])
    return QualitySeats(
        campuses=len(campuses),
        enrolled=int(s.enrolled[campuses].sum()),
        places=int((s.classes * s.class_size_cap)[campuses].sum()),
    )


@dataclass
class GapSummary:
    out_dir: Path
    level: str
    year: int
    walk_km: float
    scenarios: list[Scenario]
    sites: list[SiteStep] = field(default_factory=list)
    sites_plan: Plan | None = None  # the sites as plan rows, applied after the plan
    site_size: int = 0
    plan: Plan | None = None
    quality: QualitySeats | None = None
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def scenario(self, name: str) -> Scenario:
        return next(sc for sc in self.scenarios if sc.name == name)

    def render(self) -> str:
        first = self.scenarios[0]
        lines = [
            f"Capacity gap, {self.level}, {self.year} -> {self.out_dir}",
            f"  demand: {first.basis.describe(self.year)}; schools serve their zone, zones whose "
            f"centre is within {self.walk_km:g} km, and their education group's zones (大学区制)",
        ]
        lines += [f"  note: {n}" for n in self.notes]
        header = ["scenario", "demand", "capacity", "seated", "unmet", "full schools", "regions"]
        rows = [
            [
                sc.name,
                sc.demand,
                sc.capacity,
                sc.result.seated,
                sc.unmet,
                int(sc.result.full_school.sum()),
                len(sc.regions),
            ]
            for sc in self.scenarios
        ]
        parts = ["\n".join(lines), format_table(header, rows, "Seats against demand")]
        if any(sc.tongchou is not None for sc in self.scenarios):
            parts.append(
                format_table(
                    ["scenario", "unmet before", "seated by 统筹", "unmet after",
                     "outside own zone", "mean km outside", "max km"],
                    [
                        [sc.name, sc.unmet, sc.tongchou.seated, sc.tongchou.unmet,
                         sc.tongchou.outside, f"{sc.tongchou.mean_km():.2f}",
                         f"{sc.tongchou.km_max_zone.max(initial=0.0):.2f}"]
                        for sc in self.scenarios
                        if sc.tongchou is not None
                    ],
                    "统筹: children the eligibility flow leaves unseated go to public schools "
                    "with seats left, least total distance",
                )
            )  # fmt: skip
        short = self._zones_short()
        if short:
            parts.append(short)
        for sc in self.scenarios:
            regions = bottleneck_rows(sc)[:5]
            if regions:
                parts.append(
                    format_table(
                        ["region", "zones", "schools", "demand", "capacity", "unmet"],
                        [[r[1], r[2], _shorten(r[3]), *r[4:]] for r in regions],
                        f"Bottleneck ({sc.name}): one more seat in any school listed seats one "
                        "more child",
                    )
                )
        if self.plan is not None:
            counts = ", ".join(f"{n} {a}" for a, n in self.plan.counts().items() if n)
            parts.append(f"Plan {self.plan.name}: {counts}")
        if self.sites:
            rows = [
                [
                    s.step,
                    f"{s.zone_id} {s.zone_name}",
                    ";".join(s.serves),
                    s.gain,
                    s.unmet_after,
                    s.candidates,
                ]
                for s in self.sites
            ]
            parts.append(
                format_table(
                    ["step", "zone", "serves", "gain", "unmet after", "sites tried"],
                    rows,
                    f"Proposed sites: public {self.level} schools of {self.site_size} entry seats "
                    "at zone centres, greedy on the children seated",
                )
            )
        if first.attainable is not None:
            parts.append(self._indicators())
        parts.append(self._reach())
        if self.files:
            parts.append("Written: " + ", ".join(self.files))
        return "\n\n".join(parts)

    def _zones_short(self) -> str:
        """Zones with unmet demand in any scenario, with their unmet in each."""
        unmet = [sc.result.unmet_zone(sc.problem) for sc in self.scenarios]
        first = self.scenarios[0]
        rows = [
            [node[1], first.graph.nodes[node]["name"], int(first.problem.demand[z])]
            + [int(u[z]) for u in unmet]
            for z, node in enumerate(first.zones)
            if any(u[z] > 0 for u in unmet)
        ]
        if not rows:
            return ""
        header = ["zone", "name", "demand", *(f"unmet {sc.name}" for sc in self.scenarios)]
        return format_table(header, rows, "Zones short of seats (the fair split of each region)")

    def _indicators(self) -> str:
        recorded = recorded_indicators(self.scenarios[0].district, self.year)
        names = [
            ("gross_enrolment", "gross_kindergarten_enrolment", "gross enrolment 毛入园率"),
            ("inclusive_share", "inclusive_share", "inclusive share 普惠率"),
            ("public_share", "public_share", "public share 公办占比"),
        ]
        rows = []
        for attribute, target, label in names:
            row = [label, f"{getattr(recorded, attribute):.2%}"]
            row += [f"{getattr(sc.attainable, attribute):.2%}" for sc in self.scenarios]
            row.append(f"{PLAN_TARGETS_2025[target]:.0%}")
            rows.append(row)
        header = [
            "indicator",
            "recorded",
            *(f"attainable {sc.name}" for sc in self.scenarios),
            "2025 target",
        ]
        return format_table(
            header,
            rows,
            f"Plan indicators, {self.year}: recorded = pupils on roll / children aged 3-5; "
            "attainable = the most the places seat, public first",
        )

    def _reach(self) -> str:
        lines = [f"Group reach (教育集团 campuses at {self.level} level)"]
        if not any(sc.is_group_campus.any() for sc in self.scenarios):
            lines.append(f"  no education group has a {self.level} campus")
        for sc in self.scenarios:
            if not sc.is_group_campus.any():
                continue
            p = sc.problem
            campuses = int(sc.is_group_campus.sum())
            near = np.zeros(p.n_zones, dtype=bool)
            near[p.edge_zone[sc.is_group_campus[p.edge_school]]] = True
            lines.append(
                f"  {sc.name}: {campuses} campuses, {int(p.capacity[sc.is_group_campus].sum()):,} "
                f"places; {_pct(int(p.demand[near].sum()), sc.demand)} of the children live in "
                f"a zone that one serves, {_pct(sc.reach.seated, sc.demand)} could be seated in one"
            )
        if self.quality is not None:
            q = self.quality
            lines.append(
                f"  quality seats (all levels): {q.campuses} campuses, {q.places:,} places "
                f"(classes x cap), {q.enrolled:,} pupils on roll; the plan counts "
                f"{PLAN_QUALITY_SEATS:,}"
            )
        return "\n".join(lines)


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def _shorten(text: str, most: int = 40) -> str:
    return text if len(text) <= most else text[: most - 3] + "..."


def recorded_indicators(district: District, year: int):
    """Indicators of seats.io.summary; births of unrecorded years estimated as the network does."""
    recorded = kindergarten_indicators(district, year)
    population, _ = children_aged(district, *LEVEL_AGES["kindergarten"], year)
    return dataclasses.replace(recorded, population_3_to_5=int(population.sum()))


def default_site_size(district: District, level: str) -> int:
    """The median entry seats of the level's public schools: a typical new public school."""
    s = district.schools
    seats = s.seats[(s.level == level) & (s.sector == "public")]
    return int(np.median(seats)) if len(seats) else 0


def gap_analysis(
    district: District,
    *,
    level: str,
    year: int = 2020,
    demand: np.ndarray | None = None,
    demand_name: str = "",
    plan: Plan | None = None,
    site_new: int = 0,
    site_size: int | None = None,
    walk_km: float = WALK_KM,
) -> GapSummary:
    """Every scenario's analysis, without files: now, after the plan, after the proposed sites."""
    if level not in GAP_LEVELS:
        raise ValueError(f"level must be one of {', '.join(GAP_LEVELS)}, not {level!r}")
    basis = cohort_basis(level) if demand is None else Basis(level, demand_name, on_roll=False)
    summary = GapSummary(Path(), level, year, walk_km, [], plan=plan)
    original = district
    summary.quality = quality_seats(district)
    summary.scenarios.append(
        analyse("now", district, basis, year=year, walk_km=walk_km, demand=demand)
    )
    count = "children" if basis.on_roll else "entrants"
    estimated = summary.scenarios[0].graph.graph["estimated_birth_years"][count][level]
    if estimated and basis.source == "cohort":
        summary.notes.append(
            f"births.csv has no births for {', '.join(map(str, estimated))}; those cohorts take "
            "each zone's births of the nearest recorded year"
        )
    if plan is not None:
        district = apply_plan(district, plan)
        summary.scenarios.append(
            analyse("plan", district, basis, year=year, walk_km=walk_km, demand=demand)
        )
    if site_new > 0:
        size = site_size if site_size else default_site_size(district, level)
        summary.site_size = size
        last = summary.scenarios[-1]
        allowed, why = site_allowed(
            original, plan, level, year, basis.capacity_of(size) if basis.on_roll
            else size * LEVEL_YEARS[level], walk_km,
        )  # fmt: skip
        if why:
            summary.notes.append(why)
        elif not allowed.all():
            summary.notes.append(
                f"no site at {', '.join(np.array(district.zones.ids)[~allowed])}: the places "
                f"there would be used less than {SITE_MIN_USE:.0%} within {SITE_YEARS} years"
            )
        if last.tongchou is not None and last.tongchou.unmet == 0:
            summary.sites = []
            summary.notes.append(
                "统筹 seats every child in the district's public places: no new school proposed"
            )
        else:
            summary.sites = site_new_schools(
                district, last.problem, site_new, basis.capacity_of(size), walk_km, allowed
            )
        if last.tongchou is not None and last.tongchou.unmet == 0:
            pass
        elif len(summary.sites) < site_new:
            found = f"only {len(summary.sites)} of {site_new}" if summary.sites else "none of the"
            summary.notes.append(
                f"{found} sites seat more children: no other site relieves the unmet demand"
            )
        if summary.sites:
            summary.sites_plan = plan_from_sites(district, summary.sites, level, size, "sites")
            sited = apply_plan(district, summary.sites_plan)
            summary.scenarios.append(
                analyse("sites", sited, basis, year=year, walk_km=walk_km, demand=demand)
            )
    return summary


def run_gap(
    folder,
    *,
    level: str,
    year: int = 2020,
    demand_path=None,
    plan_path=None,
    site_new: int = 0,
    site_size: int | None = None,
    walk_km: float = WALK_KM,
    out_dir,
    force: bool = False,
    encoding: str | None = None,
) -> GapSummary:
    """`seats gap`: read the district (and the demand and plan files), analyse, write the outputs
    into `out_dir` all or nothing, and return the summary to print."""
    from sim.gap_plots import plot_bars, plot_map  # matplotlib is slow to import

    out_dir = Path(out_dir)
    protect = [Path(folder), demand_path, plan_path]  # never an input's folder
    check_output_folder(out_dir, force, protect)  # before any work, so a refusal is immediate
    district = load_district(folder, encoding=encoding)
    demand = None
    demand_name = ""
    if demand_path is not None:
        demand = read_zone_counts(demand_path, district, encoding=encoding)
        demand_name = Path(demand_path).name
    plan = read_plan(plan_path, district, encoding=encoding) if plan_path is not None else None
    summary = gap_analysis(
        district,
        level=level,
        year=year,
        demand=demand,
        demand_name=demand_name,
        plan=plan,
        site_new=site_new,
        site_size=site_size,
        walk_km=walk_km,
    )
    summary.out_dir = out_dir
    with staged_output(out_dir, force, protect) as stage:
        tables = [
            ("gap_zones.csv", ZONE_HEADER, zone_rows),
            ("gap_schools.csv", SCHOOL_HEADER, school_rows),
            ("gap_groups.csv", GROUP_HEADER, group_rows),
            ("bottleneck.csv", BOTTLENECK_HEADER, bottleneck_rows),
        ]
        for file_name, header, rows_of in tables:
            rows = [row for sc in summary.scenarios for row in rows_of(sc)]
            write_csv(stage / file_name, header, rows)
            summary.files.append(file_name)
        if any(sc.tongchou is not None for sc in summary.scenarios):
            rows = [row for sc in summary.scenarios for row in tongchou_rows(sc)]
            write_csv(stage / "tongchou.csv", TONGCHOU_HEADER, rows)
            summary.files.append("tongchou.csv")
        if summary.sites_plan is not None:
            write_csv(stage / "sites.csv", list(PLAN_COLUMNS), plan_rows(summary.sites_plan))
            summary.files.append("sites.csv")
        plot_map(summary, stage / "gap_map.png")
        plot_bars(summary, stage / "gap_bars.png")
        summary.files += ["gap_map.png", "gap_bars.png"]
    return summary
