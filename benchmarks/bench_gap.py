"""Time the capacity-gap analysis: the embedded district and synthetic cities of growing size.

    python benchmarks/bench_gap.py                  # the default sizes, best of 5 warm runs
    python benchmarks/bench_gap.py --repeat 3 --sizes 150:1500,300:3000

For each case: the network build (sim.network), one balanced maximum flow with its minimum cut
(sim.flow), and the whole analysis without files (sim.gap.gap_analysis: network, flow, fair
split, group reach, and for kindergartens the three flows of the plan's indicators). Reading the
CSV files and drawing the PNGs are not timed. Warm: one untimed run first, then the best of
--repeat. A synthetic city puts all its schools at the level analysed (the worst case);
kindergartens have communities only, primary schools education groups of 4 campuses, whose
大学区制 edges make the network denser. A last table compares networkx's flow algorithms on the
largest city's flow network (value only; dinitz is left out: 44 s on the 3,000-school city).
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import networkx as nx
import numpy as np
from networkx.algorithms import flow as nx_flow

from seats.io.model import embedded_dataset, load_district
from sim.flow import max_flow
from sim.gap import cohort_basis, cohort_demand, flow_problem, gap_analysis
from sim.network import build_network
from sim.synthetic import write_synthetic_city

DEFAULT_SIZES = ((15, 150), (50, 500), (150, 1500), (300, 3000))


def best_of(repeat: int, work) -> tuple[float, object]:
    result = work()  # warm: imports, caches, first allocations
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def time_case(name: str, district, level: str, repeat: int) -> tuple[list, object]:
    build, graph = best_of(repeat, lambda: build_network(district, year=2020))
    basis = cohort_basis(level)
    problem, _, _ = flow_problem(graph, basis, cohort_demand(graph, basis))
    flow, _ = best_of(repeat, lambda: max_flow(problem))
    whole, summary = best_of(repeat, lambda: gap_analysis(district, level=level, year=2020))
    now = summary.scenarios[0]
    row = [
        name,
        level,
        problem.n_zones,
        problem.n_schools,
        len(problem.edge_zone),
        f"{now.unmet:,} / {now.demand:,}",
        f"{build * 1000:.0f}",
        f"{flow * 1000:.0f}",
        f"{whole * 1000:.0f}",
    ]
    return row, problem


def algorithm_rows(problem, repeat: int) -> list[list]:
    graph = nx.DiGraph()
    for z, d in enumerate(problem.demand.tolist()):
        graph.add_edge("s", ("z", z), capacity=d)
    for s, c in enumerate(problem.capacity.tolist()):
        graph.add_edge(("w", s), "t", capacity=c)
    for z, s in zip(problem.edge_zone.tolist(), problem.edge_school.tolist(), strict=True):
        graph.add_edge(("z", z), ("w", s), capacity=int(problem.demand[z]))
    rows = []
    for func in (
        nx_flow.preflow_push,
        nx_flow.shortest_augmenting_path,
        nx_flow.boykov_kolmogorov,
        nx_flow.edmonds_karp,
    ):
        seconds, value = best_of(
            repeat, lambda f=func: nx.maximum_flow_value(graph, "s", "t", flow_func=f)
        )
        rows.append([func.__name__, f"{value:,}", f"{seconds * 1000:.0f}"])
    return rows


def markdown(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--sizes",
        default=",".join(f"{z}:{s}" for z, s in DEFAULT_SIZES),
        help="zones:schools pairs, comma separated",
    )
    args = parser.parse_args()
    sizes = [tuple(int(n) for n in pair.split(":")) for pair in args.sizes.split(",")]

    print(
        f"{platform.platform()}, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, networkx {nx.__version__}, numpy {np.__version__}\n"
    )
    rows = []
    district = load_district(embedded_dataset())
    for level in ("kindergarten", "primary"):
        row, _ = time_case("Xinghualing", district, level, args.repeat)
        rows.append(row)
    largest = None
    with tempfile.TemporaryDirectory() as tmp:
        for zones, schools in sizes:
            for level in ("kindergarten", "primary"):
                folder = Path(tmp) / f"{level}_{zones}_{schools}"
                write_synthetic_city(folder, zones=zones, schools=schools, levels=(level,))
                row, problem = time_case("synthetic", load_district(folder), level, args.repeat)
                rows.append(row)
                if level == "primary":
                    largest = problem
    header = [
        "case",
        "level",
        "zones",
        "schools",
        "serves edges",
        "unmet / demand",
        "network ms",
        "flow ms",
        "whole analysis ms",
    ]
    print(markdown(header, rows))
    if largest is not None:
        print(
            f"\nnetworkx flow algorithms, synthetic primary city of {largest.n_schools} schools "
            f"({len(largest.edge_zone)} edges), value only, best of {args.repeat}:\n"
        )
        print(markdown(["algorithm", "max flow", "ms"], algorithm_rows(largest, args.repeat)))


if __name__ == "__main__":
    main()
