"""Maximum flow from zones through the schools that serve them, and the minimum cut behind it.

Arrays in, arrays out: no district, no files. The flow network is bipartite,
``source -> zone (demand) -> school (unbounded) -> sink (capacity)``, solved with networkx's
shortest augmenting path on integer node ids (tuples and attribute lookups cost more than the
algorithm). benchmarks/bench_gap.py compares it with networkx's other flow algorithms.

The total seated is unique; how the unmet demand splits between zones that compete for the same
full schools is not. ``max_flow`` picks the fair split (max-min fair on the share of each zone's
demand seated), so that zones sharing a shortage share it and before/after comparisons do not
move children between zones for no reason. The bottleneck regions are
unique: the source side of the minimal minimum cut, i.e. the zones and schools reachable from the
source in the residual network. Every school in it is full, every child of its zones who is
seated sits in one of its schools, and one more seat in any of its schools seats one more child.
Zones outside it are fully seated in every maximum flow. Which schools are full is unique too: a
school is full in every maximum flow exactly when it cannot reach the sink in the residual network
(otherwise a residual cycle through the sink would move children elsewhere).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction

import networkx as nx
import numpy as np
from networkx.algorithms.flow import shortest_augmenting_path

SOURCE, SINK = 0, 1


@dataclass(frozen=True)
class FlowProblem:
    demand: np.ndarray  # int64[zones]: children to seat
    capacity: np.ndarray  # int64[schools]: places
    edge_zone: np.ndarray  # int64[edges]: zone index of each "may attend" pair
    edge_school: np.ndarray  # int64[edges]: school index

    @property
    def n_zones(self) -> int:
        return len(self.demand)

    @property
    def n_schools(self) -> int:
        return len(self.capacity)

    def with_school(self, capacity: int, zones: np.ndarray) -> FlowProblem:
        """The problem with one more school of `capacity` serving `zones`."""
        s = self.n_schools
        return FlowProblem(
            self.demand,
            np.append(self.capacity, capacity),
            np.concatenate([self.edge_zone, zones]),
            np.concatenate([self.edge_school, np.full(len(zones), s, dtype=np.int64)]),
        )

    def restricted(self, zones: list[int], schools: list[int]) -> FlowProblem:
        """The problem on these zones and schools only, renumbered in the order given."""
        zone_at = np.full(self.n_zones, -1, dtype=np.int64)
        zone_at[zones] = np.arange(len(zones))
        school_at = np.full(self.n_schools, -1, dtype=np.int64)
        school_at[schools] = np.arange(len(schools))
        keep = (zone_at[self.edge_zone] >= 0) & (school_at[self.edge_school] >= 0)
        return FlowProblem(
            self.demand[zones],
            self.capacity[schools],
            zone_at[self.edge_zone[keep]],
            school_at[self.edge_school[keep]],
        )

    def only_schools(self, keep: np.ndarray) -> FlowProblem:
        """The problem with the capacity of every school outside `keep` (bool mask) set to 0."""
        return FlowProblem(
            self.demand, np.where(keep, self.capacity, 0), self.edge_zone, self.edge_school
        )


@dataclass(frozen=True)
class FlowResult:
    seated_zone: np.ndarray  # int64[zones]
    seated_school: np.ndarray  # int64[schools]
    edge_flow: np.ndarray  # int64[edges]
    cut_zone: np.ndarray  # bool[zones]: on the source side of the minimal minimum cut
    cut_school: np.ndarray  # bool[schools]
    full_school: np.ndarray  # bool[schools]: full in every maximum flow

    @property
    def seated(self) -> int:
        return int(self.seated_zone.sum())

    def unmet_zone(self, problem: FlowProblem) -> np.ndarray:
        return problem.demand - self.seated_zone


def max_flow(problem: FlowProblem, *, balanced: bool = True) -> FlowResult:
    """A maximum flow and the bottleneck (minimal minimum cut) of `problem`; `balanced` spreads
    the unmet demand fairly (see fair_shares), otherwise the split is the solver's."""
    result = _max_flow(problem)
    if not balanced or not result.cut_zone.any():
        return result
    shares = fair_shares(problem, result)
    # Room for the fair split, rounded up: its total is already the maximum, so this loses nothing.
    room = [math.ceil(share * d) for share, d in zip(shares, problem.demand.tolist(), strict=True)]
    fair = _max_flow(replace(problem, demand=np.array(room, dtype=np.int64)))
    return replace(
        result,
        seated_zone=fair.seated_zone,
        seated_school=fair.seated_school,
        edge_flow=fair.edge_flow,
    )


def fair_shares(problem: FlowProblem, result: FlowResult) -> list[Fraction]:
    """The max-min fair share of each zone's demand that can be seated.

    Zones outside the bottleneck get 1. Inside it, the decomposition algorithm for a
    lexicographically optimal base (Fujishige): take t = min(1, capacity / demand) of a set of
    zones and solve the flow with source edges t x demand. If it seats all of them, each gets t.
    Otherwise the zones on the source side of the minimal minimum cut are exactly those whose fair
    share is below t, and they alone use the schools on that side: split there and solve both
    parts on their own. Regions are independent, so each starts as its own small problem."""
    shares = [Fraction(1)] * problem.n_zones
    for zones, schools in bottleneck_regions(problem, result):
        within = _fair_shares_within(problem.restricted(zones, schools))
        for z, share in zip(zones, within, strict=True):
            shares[z] = share
    return shares


def _fair_shares_within(problem: FlowProblem) -> list[Fraction]:
    shares = [Fraction(1)] * problem.n_zones
    parts = [(np.flatnonzero(problem.demand > 0), np.arange(problem.n_schools))]
    while parts:
        zones, schools = parts.pop()
        if len(zones) == 0:
            continue
        part = problem.restricted(zones, schools)
        near = np.zeros(part.n_schools, dtype=bool)
        near[part.edge_school] = True
        share = min(Fraction(1), Fraction(int(part.capacity[near].sum()), int(part.demand.sum())))
        # Scaled to integers: demand x numerator against capacity x denominator.
        scaled = FlowProblem(
            part.demand * share.numerator,
            part.capacity * share.denominator,
            part.edge_zone,
            part.edge_school,
        )
        cut = _max_flow(scaled)
        if cut.seated == int(scaled.demand.sum()):
            for z in zones:
                shares[z] = share
            continue
        parts.append((zones[cut.cut_zone], schools[cut.cut_school]))
        parts.append((zones[~cut.cut_zone], schools[~cut.cut_school]))
    return shares


def _max_flow(problem: FlowProblem) -> FlowResult:
    n_z = problem.n_zones
    zone_node = 2 + np.arange(n_z)
    school_node = 2 + n_z + np.arange(problem.n_schools)
    graph = nx.DiGraph()
    graph.add_nodes_from(range(2 + n_z + problem.n_schools))
    demand = problem.demand.tolist()
    capacity = problem.capacity.tolist()
    graph.add_edges_from(
        (SOURCE, int(zone_node[z]), {"capacity": demand[z]}) for z in range(n_z) if demand[z] > 0
    )
    graph.add_edges_from(
        (int(school_node[s]), SINK, {"capacity": capacity[s]})
        for s in range(problem.n_schools)
        if capacity[s] > 0
    )
    # A zone never sends more than its demand, so that is a safe finite bound for its edges.
    used = [
        (z, s)
        for z, s in zip(problem.edge_zone.tolist(), problem.edge_school.tolist(), strict=True)
        if demand[z] > 0 and capacity[s] > 0
    ]
    graph.add_edges_from(
        (int(zone_node[z]), int(school_node[s]), {"capacity": demand[z]}) for z, s in used
    )
    residual = shortest_augmenting_path(graph, SOURCE, SINK)

    seated_zone = np.zeros(n_z, dtype=np.int64)
    for z in range(n_z):
        if demand[z] > 0:
            seated_zone[z] = residual[SOURCE][int(zone_node[z])]["flow"]
    seated_school = np.zeros(problem.n_schools, dtype=np.int64)
    for s in range(problem.n_schools):
        if capacity[s] > 0:
            seated_school[s] = residual[int(school_node[s])][SINK]["flow"]
    edge_flow = np.zeros(len(problem.edge_zone), dtype=np.int64)
    for e, (z, s) in enumerate(
        zip(problem.edge_zone.tolist(), problem.edge_school.tolist(), strict=True)
    ):
        if demand[z] > 0 and capacity[s] > 0:
            edge_flow[e] = residual[int(zone_node[z])][int(school_node[s])]["flow"]

    n_nodes = 2 + n_z + problem.n_schools
    from_source = _residual_search(residual.succ, SOURCE, n_nodes, forward=True)
    to_sink = _residual_search(residual.pred, SINK, n_nodes, forward=False)
    return FlowResult(
        seated_zone=seated_zone,
        seated_school=seated_school,
        edge_flow=edge_flow,
        cut_zone=from_source[zone_node],
        cut_school=from_source[school_node],
        full_school=(problem.capacity > 0) & ~to_sink[school_node],
    )


def _residual_search(adjacency, start: int, n_nodes: int, *, forward: bool) -> np.ndarray:
    """Nodes reachable from `start` along residual edges (forward), or that reach it (backward)."""
    seen = np.zeros(n_nodes, dtype=bool)
    seen[start] = True
    stack = [start]
    while stack:
        u = stack.pop()
        for v, attr in adjacency[u].items():
            # residual.pred[u][v] is the attribute dict of the edge v -> u
            if not seen[v] and attr["capacity"] - attr["flow"] > 0:
                seen[v] = True
                stack.append(v)
    return seen


def bottleneck_regions(problem: FlowProblem, result: FlowResult) -> list[tuple[list, list]]:
    """The connected parts of the cut's source side: [(zone indices, school indices)], each with
    unmet demand, largest unmet first. Zones there that are fully seated still compete for the
    same full schools, so they belong to the region."""
    graph = nx.Graph()
    zones = np.flatnonzero(result.cut_zone)
    schools = np.flatnonzero(result.cut_school)
    graph.add_nodes_from(("z", int(z)) for z in zones)
    graph.add_nodes_from(("s", int(s)) for s in schools)
    inside = result.cut_zone[problem.edge_zone] & result.cut_school[problem.edge_school]
    graph.add_edges_from(
        (("z", int(z)), ("s", int(s)))
        for z, s in zip(problem.edge_zone[inside], problem.edge_school[inside], strict=True)
    )
    unmet = result.unmet_zone(problem)
    regions = []
    for part in nx.connected_components(graph):
        region_zones = sorted(i for k, i in part if k == "z")
        region_schools = sorted(i for k, i in part if k == "s")
        if unmet[region_zones].sum() > 0:
            regions.append((region_zones, region_schools))
    regions.sort(key=lambda r: (-int(unmet[r[0]].sum()), r[0]))
    return regions


def check_flow(problem: FlowProblem, result: FlowResult) -> list[str]:
    """Invariants of a feasible flow; empty when all hold (tests call this on every result)."""
    wrong = []
    if (result.edge_flow < 0).any():
        wrong.append("negative flow on an edge")
    by_zone = np.bincount(problem.edge_zone, result.edge_flow, minlength=problem.n_zones)
    by_school = np.bincount(problem.edge_school, result.edge_flow, minlength=problem.n_schools)
    if not np.array_equal(by_zone.astype(np.int64), result.seated_zone):
        wrong.append("seated per zone differs from the flow on its edges")
    if not np.array_equal(by_school.astype(np.int64), result.seated_school):
        wrong.append("seated per school differs from the flow on its edges")
    if (result.seated_zone > problem.demand).any():
        wrong.append("a zone seats more children than it has")
    if (result.full_school & (result.seated_school < problem.capacity)).any():
        wrong.append("a school said to be full in every flow has room in this one")
    if (result.cut_school & ~result.full_school).any():
        wrong.append("a bottleneck school is not full")
    if (result.seated_school > problem.capacity).any():
        wrong.append("a school seats more than its capacity")
    if result.seated_zone.sum() != result.seated_school.sum():
        wrong.append("seated children differ between zones and schools")
    # Optimality: no usable edge leaves the cut, and the cut's capacity (demand outside it plus
    # capacity inside it) equals the flow.
    usable = (problem.demand[problem.edge_zone] > 0) & (problem.capacity[problem.edge_school] > 0)
    leaving = result.cut_zone[problem.edge_zone] & ~result.cut_school[problem.edge_school]
    if (usable & leaving).any():
        wrong.append("an edge leaves the minimum cut")
    cut = problem.demand[~result.cut_zone].sum() + problem.capacity[result.cut_school].sum()
    if cut != result.seated:
        wrong.append(f"flow {result.seated} differs from the minimum cut {cut}")
    return wrong
