"""The school network of a district: one networkx graph for gap analysis, plots and forecasts.

``build_network(district, year=2020, walk_km=1.5)`` returns an ``nx.DiGraph`` of this shape.

Nodes (ids are readable tuples; every node has ``kind``):

- ``("zone", zone_id)``: ``kind="zone"``, ``name``, ``zone_kind`` (street 街道 / township 乡),
  ``x_km``, ``y_km``, ``population``, and two dicts keyed by level (kindergarten, primary,
  junior): ``children`` = children of the level's ages in ``year`` (3-5, 6-11, 12-14) and
  ``entrants`` = children of the entry age (3 小班, 6 grade 1, 12 grade 7).
- ``("school", school_id)``: ``kind="school"``, ``name``, ``level``, ``sector``, ``zone_id``,
  ``x_km``, ``y_km``, ``seats`` (entry-year places), ``enrolled`` (pupils on roll), ``classes``,
  ``class_size_cap``, ``capacity`` (places on roll = seats x years of the level: kindergarten 3,
  primary 6, junior 3, special 9).
- ``("group", group_id)``: ``kind="group"``, ``name``, ``group_kind`` (education_group 教育集团,
  school_community 学校发展共同体, kindergarten_community 幼教发展共同体), ``lead`` (school id).

Edges (every edge has ``kind``):

- school -> group, ``kind="member"``, ``role`` (lead / branch / member).
- zone -> school, ``kind="serves"``: children of the zone may attend the school. ``reasons`` is
  a tuple of ``"same_zone"`` (the school is in the zone), ``"walk"`` (the school is within
  ``walk_km`` of the zone centre) and ``"group"`` (大学区制: the school is a campus of an
  education group that has another campus of the same level serving the zone for one of the
  first two reasons); ``distance_km`` from the zone centre.

Graph attributes: ``year``, ``walk_km``, ``folder``, ``estimated_birth_years`` ("children" or
"entrants" -> level -> the birth years that count needed and births.csv does not record).

Cohorts come from births: a child aged a in year Y was born in Y - a, in the zone (no migration or
mortality; the forecasts add both). births.csv of the embedded district covers 2010-2020 only, so
a junior cohort in 2020 (born 2006-2008) or a kindergarten cohort in 2025 (born 2020-2022) is
partly unrecorded. A missing year takes the zone's births of the nearest recorded year (flat
extrapolation), and the graph lists which years were estimated so that reports can say so.
"""

from __future__ import annotations

from collections import defaultdict

import networkx as nx
import numpy as np

from seats.io.model import District

WALK_KM = 1.5  # about 20 minutes on foot from the zone centre, which stands for the average home
LEVEL_AGES = {"kindergarten": (3, 5), "primary": (6, 11), "junior": (12, 14)}
LEVEL_YEARS = {"kindergarten": 3, "primary": 6, "junior": 3, "special": 9}
GAP_LEVELS = tuple(LEVEL_AGES)
SERVE_REASONS = ("same_zone", "walk", "group")
REACH_GROUP_KIND = "education_group"  # the groups whose campuses share admissions (大学区制)


def zone_node(zone_id: str) -> tuple[str, str]:
    return ("zone", zone_id)


def school_node(school_id: str) -> tuple[str, str]:
    return ("school", school_id)


def group_node(group_id: str) -> tuple[str, str]:
    return ("group", group_id)


def births_by_year(district: District, years: range) -> tuple[np.ndarray, list[int]]:
    """Zones x years births; a year a zone does not record takes its nearest recorded year.

    Returns the matrix and the sorted years that had to be estimated for some zone."""
    n_zones = len(district.zones.ids)
    recorded = district.births
    out = np.zeros((n_zones, len(years)), dtype=np.int64)
    estimated: set[int] = set()
    by_zone: dict[int, dict[int, int]] = defaultdict(dict)
    for z, y, b in zip(
        recorded.zone.tolist(), recorded.year.tolist(), recorded.births.tolist(), strict=True
    ):
        by_zone[z][y] = b
    for z in range(n_zones):
        known = by_zone.get(z)
        if not known:
            continue  # a zone without births has no children: nothing to extrapolate from
        known_years = np.array(sorted(known))
        for j, year in enumerate(years):
            if year in known:
                out[z, j] = known[year]
            else:
                nearest = int(known_years[np.argmin(np.abs(known_years - year))])
                out[z, j] = known[nearest]
                estimated.add(year)
    return out, sorted(estimated)


def children_aged(district: District, youngest: int, oldest: int, year: int):
    """Children per zone aged youngest..oldest in `year`, and the birth years estimated."""
    born, estimated = births_by_year(district, range(year - oldest, year - youngest + 1))
    return born.sum(axis=1), estimated


def serving_pairs(
    zone_xy: np.ndarray,
    school_zone: np.ndarray,
    school_xy: np.ndarray,
    walk_km: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(zone, school) index pairs where the school is in the zone or within walk_km of its centre,
    with the distance and a same-zone flag."""
    distance = np.hypot(
        zone_xy[:, None, 0] - school_xy[None, :, 0], zone_xy[:, None, 1] - school_xy[None, :, 1]
    )
    same = school_zone[None, :] == np.arange(len(zone_xy))[:, None]
    zone, school = np.nonzero(same | (distance <= walk_km))
    return zone, school, distance[zone, school], same[zone, school]


def build_network(district: District, *, year: int = 2020, walk_km: float = WALK_KM) -> nx.DiGraph:
    """The district as one graph (shape in the module docstring)."""
    zones, schools, groups, members = (
        district.zones,
        district.schools,
        district.groups,
        district.members,
    )
    graph = nx.DiGraph(year=year, walk_km=walk_km, folder=str(district.folder))

    children: dict[str, np.ndarray] = {}
    entrants: dict[str, np.ndarray] = {}
    estimated: dict[str, dict[str, list[int]]] = {"children": {}, "entrants": {}}
    for level, (youngest, oldest) in LEVEL_AGES.items():
        children[level], estimated["children"][level] = children_aged(
            district, youngest, oldest, year
        )
        entrants[level], estimated["entrants"][level] = children_aged(
            district, youngest, youngest, year
        )
    graph.graph["estimated_birth_years"] = estimated

    for z, zone_id in enumerate(zones.ids):
        graph.add_node(
            zone_node(zone_id),
            kind="zone",
            name=zones.name[z],
            zone_kind=str(zones.kind[z]),
            x_km=float(zones.x_km[z]),
            y_km=float(zones.y_km[z]),
            population=int(zones.population[z]),
            children={level: int(children[level][z]) for level in LEVEL_AGES},
            entrants={level: int(entrants[level][z]) for level in LEVEL_AGES},
        )
    for s, school_id in enumerate(schools.ids):
        level = str(schools.level[s])
        graph.add_node(
            school_node(school_id),
            kind="school",
            name=schools.name[s],
            level=level,
            sector=str(schools.sector[s]),
            zone_id=schools.zone_ids[s],
            x_km=float(schools.x_km[s]),
            y_km=float(schools.y_km[s]),
            seats=int(schools.seats[s]),
            enrolled=int(schools.enrolled[s]),
            classes=int(schools.classes[s]),
            class_size_cap=int(schools.class_size_cap[s]),
            capacity=int(schools.seats[s]) * LEVEL_YEARS[level],
        )
    for g, group_id in enumerate(groups.ids):
        lead = int(groups.lead[g])
        graph.add_node(
            group_node(group_id),
            kind="group",
            name=groups.name[g],
            group_kind=str(groups.kind[g]),
            lead=schools.ids[lead] if lead >= 0 else "",
        )
    for g, s, role in zip(
        members.group.tolist(), members.school.tolist(), members.role.tolist(), strict=True
    ):
        graph.add_edge(
            school_node(schools.ids[s]), group_node(groups.ids[g]), kind="member", role=role
        )

    _add_serves_edges(graph, district, walk_km)
    return graph


def _add_serves_edges(graph: nx.DiGraph, district: District, walk_km: float) -> None:
    zones, schools, groups, members = (
        district.zones,
        district.schools,
        district.groups,
        district.members,
    )
    zone_xy = np.column_stack([zones.x_km, zones.y_km])
    school_xy = np.column_stack([schools.x_km, schools.y_km])
    zone, school, distance, same = serving_pairs(zone_xy, schools.zone, school_xy, walk_km)
    reasons: dict[tuple[int, int], set[str]] = defaultdict(set)
    for z, s, near, inside in zip(
        zone.tolist(), school.tolist(), (distance <= walk_km).tolist(), same.tolist(), strict=True
    ):
        if inside:
            reasons[z, s].add("same_zone")
        if near:
            reasons[z, s].add("walk")

    # 大学区制: a zone served directly by one campus of an education group may use every campus of
    # that group at the same level. Only direct reasons spread, so groups do not chain.
    campuses: dict[int, list[int]] = defaultdict(list)
    for g, s in zip(members.group.tolist(), members.school.tolist(), strict=True):
        if groups.kind[g] == REACH_GROUP_KIND:
            campuses[g].append(s)
    groups_of: dict[int, list[int]] = defaultdict(list)
    for g, listed in campuses.items():
        for s in listed:
            groups_of[s].append(g)
    for z, s in list(reasons):
        for g in groups_of.get(s, ()):
            for other in campuses[g]:
                if other != s and schools.level[other] == schools.level[s]:
                    reasons[z, other].add("group")

    for (z, s), why in sorted(reasons.items()):
        graph.add_edge(
            zone_node(zones.ids[z]),
            school_node(schools.ids[s]),
            kind="serves",
            reasons=tuple(r for r in SERVE_REASONS if r in why),
            distance_km=float(
                np.hypot(zones.x_km[z] - schools.x_km[s], zones.y_km[z] - schools.y_km[s])
            ),
        )


# --- reading the graph ------------------------------------------------------------------------


def nodes_of_kind(graph: nx.DiGraph, kind: str) -> list:
    """Node ids of one kind, in insertion order (the data files' order)."""
    return [n for n, k in graph.nodes(data="kind") if k == kind]


def schools_at_level(graph: nx.DiGraph, level: str) -> list:
    return [n for n, d in graph.nodes(data=True) if d["kind"] == "school" and d["level"] == level]


def serves_edges(graph: nx.DiGraph) -> list[tuple]:
    return [(u, v) for u, v, k in graph.edges(data="kind") if k == "serves"]


def groups_of_school(graph: nx.DiGraph, school) -> list:
    return [g for _, g, k in graph.out_edges(school, data="kind") if k == "member"]


def campuses_of(graph: nx.DiGraph, group) -> list:
    return [s for s, _, k in graph.in_edges(group, data="kind") if k == "member"]


def check_network(graph: nx.DiGraph) -> list[str]:
    """Everything that breaks the documented shape; empty when the graph is well formed."""
    wrong: list[str] = []
    required = {
        "zone": ("name", "zone_kind", "x_km", "y_km", "population", "children", "entrants"),
        "school": ("name", "level", "sector", "zone_id", "x_km", "y_km", "seats", "capacity"),
        "group": ("name", "group_kind", "lead"),
    }
    for node, data in graph.nodes(data=True):
        kind = data.get("kind")
        if kind not in required or node[0] != kind:
            wrong.append(f"node {node}: kind {kind!r} does not match its id")
            continue
        missing = [a for a in required[kind] if a not in data]
        if missing:
            wrong.append(f"node {node}: missing {', '.join(missing)}")
    for u, v, data in graph.edges(data=True):
        kind = data.get("kind")
        if kind == "member":
            ok = (
                u[0] == "school"
                and v[0] == "group"
                and data.get("role")
                in (
                    "lead",
                    "branch",
                    "member",
                )
            )
        elif kind == "serves":
            ok = (
                u[0] == "zone"
                and v[0] == "school"
                and bool(data.get("reasons"))
                and set(data["reasons"]) <= set(SERVE_REASONS)
            )
        else:
            ok = False
        if not ok:
            wrong.append(f"edge {u} -> {v}: not a valid {kind!r} edge")
    return wrong
