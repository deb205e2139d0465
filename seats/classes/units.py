"""The class plan of one school (pupils, class count, sizes) and its hard units: together_with
chains made one unit, apart_from and fixed_class checked before any search."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seats.classes.cohort import Cohort
from seats.io.errors import Problems


@dataclass
class Plan:
    """One balancing problem: pupils (cohort indices) into bins with size bounds."""

    key: str  # school_id, or the group_id for the campus share
    pupils: np.ndarray
    size_lo: np.ndarray
    size_hi: np.ndarray
    pinned_bin: np.ndarray  # per pupil: bin index or -1
    use_apart: bool = True


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
                    *cohort.where(p),
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
                *cohort.where(first[u]),
                "fixed_class",
                f"pupils {names(u)} must share a class (together_with) but are fixed to "
                "different classes",
            )
        elif bins:
            pinned[u] = bins.pop()
        if size[u] > plan.size_hi.max():
            problems.add(
                *cohort.where(first[u]),
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
                        *cohort.where(p),
                        "apart_from",
                        f"pupils {cohort.who(p)} and {cohort.who(q)} must be apart (apart_from) "
                        f"but must also share a class: together_with joins {names(a)}",
                    )
                elif pinned[a] >= 0 and pinned[a] == pinned[b]:
                    problems.add(
                        *cohort.where(p),
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
