"""Balanced classes and teacher teams: quality against the serpentine method and an exact
solver, and speed.

    python benchmarks/bench_classes.py [--cpsat-seconds 60] [--small-seconds 60]
        [--proof-seconds 60] [--repeat 5]

Prints markdown tables. Instances are synthetic cohorts (48 % girls, 5 % special needs, 20 %
migrant, birth dates over one school year, scores N(75, 12) clipped to 0-100, 10 % unknown),
drawn from fixed seeds. OR-Tools CP-SAT (optional: ``pip install ortools``) solves the same
integer objective as the kernel (see seats.classes) on the same features.
"""

from __future__ import annotations

import argparse
import csv
import math
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from seats.classes import kernels as bk
from seats.classes.cohort import load_cohort
from seats.classes.form import _class_plan, form_classes
from seats.classes.objective import WEIGHTS, feature_scale, pupil_features
from seats.classes.search import serpentine_start, solve_plan
from seats.classes.units import build_units
from seats.classes.writers import class_figures, spreads
from seats.io.errors import Problems

CAP = 45


def write_cohort(folder: Path, n: int, seed: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        month, day = int(rng.integers(1, 13)), int(rng.integers(1, 29))
        score = min(100.0, max(0.0, rng.normal(75, 12)))
        rows.append(
            [
                f"p{i:04d}",
                "S1",
                "F" if rng.random() < 0.48 else "M",
                f"{2014 + (month < 9)}-{month:02d}-{day:02d}",
                int(rng.random() < 0.05),
                int(rng.random() < 0.2),
                f"{score:.1f}" if rng.random() < 0.9 else "",
            ]
        )
    pupils = folder / f"pupils_{n}_{seed}.csv"
    with open(pupils, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(
            ["pupil_id", "school_id", "gender", "birth_date", "special_needs", "migrant", "score"]
        )
        writer.writerows(rows)
    schools = folder / "schools.csv"
    schools.write_text(f"school_id,class_size_cap\nS1,{CAP}\n", encoding="utf-8")
    return pupils, schools


def prepare(pupils: Path, n_classes: int):
    """(cohort, plan, units, start, unit values) exactly as form_classes builds them."""
    problems = Problems()
    cohort = load_cohort(pupils, problems)
    plan = _class_plan(cohort, "S1", list(range(len(cohort))), n_classes, problems)
    units = build_units(cohort, plan, problems)
    start = serpentine_start(cohort, plan, units, problems)
    problems.raise_if_any()
    scale = feature_scale(len(plan.pupils), n_classes, int(plan.size_hi.max()))
    values = pupil_features(cohort, plan.pupils, scale)
    return cohort, plan, units, start, values


def figures_of(cohort, plan, pupil_bin) -> dict:
    n_bins = len(plan.size_lo)
    figures = [
        class_figures(cohort, "S1", c + 1, plan.pupils[pupil_bin == c].tolist())
        for c in range(n_bins)
    ]
    return spreads(figures)


def objective_of(plan, units, values, unit_bin) -> int:
    unit_values = unit_features(units, values)
    return int(bk.class_objective(unit_bin, unit_values, units.size, len(plan.size_lo), WEIGHTS))


def unit_features(units, values) -> np.ndarray:
    unit_values = np.zeros((len(units.size), values.shape[1]), dtype=np.int64)
    np.add.at(unit_values, units.of, values)
    return unit_values


def lattice_bound(plan, units, values) -> tuple[int, list[int]]:
    """A lower bound on the objective, per feature and in all.

    Class totals of feature f are multiples of g_f (the gcd of its values) and sum to T_f;
    class sizes are fixed up to order (every class has the same bounds). Dropping every other
    link between the classes, min over integers s_c with sum s_c = T_f / g_f of
    sum_c (N g_f s_c - n_c T_f) ** 2 is separable and convex, so a greedy allocation of one
    unit at a time to the class of least marginal cost reaches it exactly."""
    unit_values = unit_features(units, values)
    n_total, n_bins = int(units.size.sum()), len(plan.size_lo)
    lo = int(plan.size_lo[0])
    n = [lo + 1] * (n_total - n_bins * lo) + [lo] * (n_bins - (n_total - n_bins * lo))
    per_feature = []
    for f in range(unit_values.shape[1]):
        g = math.gcd(*(int(v) for v in unit_values[:, f])) or 1
        t = int(unit_values[:, f].sum()) // g

        def cost(c: int, s: int, t: int = t) -> int:
            return (n_total * s - n[c] * t) ** 2

        share = [n[c] * t // n_total for c in range(n_bins)]
        for _ in range(t - sum(share)):
            c = min(range(n_bins), key=lambda c: cost(c, share[c] + 1) - cost(c, share[c]))
            share[c] += 1
        per_feature.append(int(WEIGHTS[f]) * g * g * sum(cost(c, share[c]) for c in range(n_bins)))
    return sum(per_feature), per_feature


def cpsat(plan, units, values, seconds: float, incumbent=None, workers: int = 8):
    """The kernel's objective and constraints in CP-SAT; returns (objective, best bound, proved
    optimal, assignment).

    Per class and feature, the deviation N * S_cf - n_c * T_f is linear in the assignment; it is
    divided by the gcd of its coefficients (exact) and squared. Classes with equal bounds are
    interchangeable, so class c's first unit must come after class c-1's first unit. With an
    ``incumbent`` (a unit -> class assignment, e.g. the kernel's), it is the solver's hint and
    its objective U bounds every deviation: weight * gcd ** 2 * d ** 2 <= U - (the lattice
    bounds of the other features), which keeps any assignment at least as good as U."""
    from ortools.sat.python import cp_model

    unit_values = unit_features(units, values)
    n_units, n_bins = len(units.size), len(plan.size_lo)
    n_total = int(units.size.sum())
    total = unit_values.sum(axis=0)
    lower, per_feature = lattice_bound(plan, units, values)
    upper = None
    if incumbent is not None:
        upper = int(bk.class_objective(incumbent, unit_values, units.size, n_bins, WEIGHTS))
    model = cp_model.CpModel()
    x = [[model.NewBoolVar(f"x{u}_{c}") for c in range(n_bins)] for u in range(n_units)]
    for u in range(n_units):
        model.AddExactlyOne(x[u])
    for c in range(n_bins):
        size = sum(int(units.size[u]) * x[u][c] for u in range(n_units))
        model.Add(size >= int(plan.size_lo[c]))
        model.Add(size <= int(plan.size_hi[c]))
    if (plan.size_lo == plan.size_lo[0]).all() and (plan.size_hi == plan.size_hi[0]).all():
        for c in range(1, n_bins):
            model.Add(x[0][c] == 0)
            for u in range(1, n_units):
                model.Add(x[u][c] <= sum(x[v][c - 1] for v in range(u)))
    terms = []
    for f in range(unit_values.shape[1]):
        weight = int(WEIGHTS[f])
        coef = [
            n_total * int(unit_values[u, f]) - int(units.size[u]) * int(total[f])
            for u in range(n_units)
        ]
        if weight == 0 or not any(coef):
            continue
        g = math.gcd(*coef)
        coef = [k // g for k in coef]
        bound = sum(abs(k) for k in coef)
        if upper is not None:
            room = upper - (lower - per_feature[f])
            bound = min(bound, math.isqrt(max(room, 0) // (weight * g * g)))
        for c in range(n_bins):
            dev = model.NewIntVar(-bound, bound, f"d{c}_{f}")
            model.Add(dev == sum(coef[u] * x[u][c] for u in range(n_units)))
            square = model.NewIntVar(0, bound * bound, f"q{c}_{f}")
            model.AddMultiplicationEquality(square, [dev, dev])
            terms.append(weight * g * g * square)
    model.Minimize(sum(terms))
    if incumbent is not None:
        # relabel the classes in order of their first unit, as the symmetry breaking requires
        first = {}
        for c in incumbent.tolist():
            first.setdefault(c, len(first))
        incumbent = np.array([first[c] for c in incumbent.tolist()])
        for u in range(n_units):
            for c in range(n_bins):
                model.AddHint(x[u][c], int(incumbent[u] == c))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = workers
    status = solver.Solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, int(solver.BestObjectiveBound()), False, None
    assignment = np.array(
        [next(c for c in range(n_bins) if solver.Value(x[u][c])) for u in range(n_units)]
    )
    return (
        int(solver.ObjectiveValue()),
        int(solver.BestObjectiveBound()),
        status == cp_model.OPTIMAL,
        assignment,
    )


def balanced(cohort, plan, seed="bench"):
    problems = Problems()
    start = time.perf_counter()
    solved = solve_plan(cohort, plan, seed, problems)
    return solved, time.perf_counter() - start


SMALL = ((60, 2, 1), (60, 3, 2), (90, 2, 3), (120, 3, 4), (200, 5, 5))


def small_table(folder: Path, seconds: float, proof_seconds: float, repeat: int) -> str:
    """Serpentine, kernel, CP-SAT alone and the proven optimum on small cohorts.

    The optimum is proven when an assignment reaches the lattice lower bound (see
    :func:`lattice_bound`) or CP-SAT reports OPTIMAL. CP-SAT runs twice: alone for ``seconds``,
    then for ``proof_seconds`` from the kernel's assignment (hint and bound, see :func:`cpsat`).
    """
    lines = [
        "| pupils | classes | serpentine | kernel | kernel time (best / worst of "
        f"{repeat}) | CP-SAT {seconds:.0f} s | lower bound | best known | proven optimum | "
        "kernel above optimum |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, k, seed in SMALL:
        pupils, _ = write_cohort(folder, n, seed)
        cohort, plan, units, start, values = prepare(pupils, k)
        balanced(cohort, plan)
        runs = [balanced(cohort, plan) for _ in range(repeat)]
        solved = runs[0][0]
        times = [t for _, t in runs]
        assert all(r.objective == solved.objective for r, _ in runs)  # deterministic
        lower, _ = lattice_bound(plan, units, values)
        alone, _, alone_optimal, _ = cpsat(plan, units, values, seconds)
        incumbent = np.zeros(len(units.size), dtype=np.int64)
        incumbent[units.of] = solved.pupil_bin
        hinted, _, hinted_optimal, _ = cpsat(plan, units, values, proof_seconds, incumbent)
        known = [v for v in (solved.objective, alone, hinted) if v is not None]
        best = min(known)
        proven = (
            best == lower
            or (alone_optimal and alone == best)
            or (hinted_optimal and hinted == best)
        )
        gap = f"{(solved.objective - best) / best:.2%}" if proven else "?"
        lines.append(
            f"| {n} | {k} | {objective_of(plan, units, values, start):,} | "
            f"{solved.objective:,} | {min(times) * 1000:.0f} / {max(times) * 1000:.0f} ms | "
            f"{'-' if alone is None else f'{alone:,}'}{' (optimal)' if alone_optimal else ''} | "
            f"{lower:,} | {best:,} | {f'{best:,}' if proven else 'not proven'} | {gap} |"
        )
    return "\n".join(lines) + "\n"


def fmt(spread: dict) -> str:
    keys = ("size", "girls", "boys", "special_needs", "migrant", "mean_score")
    return " | ".join(str(spread[k]) for k in keys)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cpsat-seconds", type=float, default=60.0)
    parser.add_argument("--small-seconds", type=float, default=60.0)
    parser.add_argument("--proof-seconds", type=float, default=60.0)
    parser.add_argument("--repeat", type=int, default=5, help="timings: best of this many runs")
    args = parser.parse_args()
    try:
        import ortools

        have_cpsat = True
        cpsat_version = ortools.__version__
    except ImportError:
        have_cpsat, cpsat_version = False, None

    print(f"python {platform.python_version()}, ortools {cpsat_version or 'not installed'}\n")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        # 1. 600 pupils in 14 classes: cold and warm time, spreads
        pupils, schools = write_cohort(folder, 600, 2021)
        cohort, plan, units, start, values = prepare(pupils, 14)
        solved, cold = balanced(cohort, plan)
        warm_times = [balanced(cohort, plan)[1] for _ in range(args.repeat)]
        warm = min(warm_times)
        t0 = time.perf_counter()
        form_classes(pupils, schools, seed="bench", out_dir=folder / "run600", force=True)
        whole = time.perf_counter() - t0
        print("## 600 pupils in 14 classes (cap 45)\n")
        print(
            "| method | objective | size | girls | boys | special needs | migrant | "
            "score mean spread | time |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        serp = figures_of(cohort, plan, start[units.of])
        print(
            f"| serpentine (S型) | {objective_of(plan, units, values, start):,} | {fmt(serp)} | - |"
        )
        bal = figures_of(cohort, plan, solved.pupil_bin)
        print(
            f"| seats kernel | {solved.objective:,} | {fmt(bal)} | "
            f"{warm * 1000:.0f} ms warm (best of {args.repeat}, worst "
            f"{max(warm_times) * 1000:.0f}), {cold * 1000:.0f} ms first call |"
        )
        if have_cpsat:
            objective, _, optimal, assignment = cpsat(plan, units, values, args.cpsat_seconds)
            if objective is None:
                print(f"| CP-SAT {args.cpsat_seconds:.0f} s | no solution | | | | | | | |")
            else:
                spread = figures_of(cohort, plan, assignment[units.of])
                print(
                    f"| CP-SAT {args.cpsat_seconds:.0f} s | {objective:,}"
                    f"{' (optimal)' if optimal else ''} | {fmt(spread)} | "
                    f"{args.cpsat_seconds:.0f} s limit |"
                )
        print(
            f"\nwhole `form_classes` (read, balance, lottery, write CSV + PNG + audit): "
            f"{whole * 1000:.0f} ms\n"
        )

        # 2. small instances: the exact optimum, where it can be proven
        if have_cpsat:
            print(small_table(folder, args.small_seconds, args.proof_seconds, args.repeat))
        # 3. the district: 2021 primary lottery -> classes -> teachers
        from seats.classes.teachers import assign_teachers
        from seats.io.model import embedded_dataset
        from seats.lottery.run import RunOptions, run_lottery

        data = embedded_dataset()
        run_lottery(
            data / "schools.csv",
            data / "applicants_primary_2021.csv",
            folder / "lottery",
            RunOptions(seed="bench", level="primary", fallback="nearest"),
            policy_path=data / "policy_primary.toml",
            zones_path=data / "zones.csv",
        )
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            summary = form_classes(
                folder / "lottery",
                data / "schools.csv",
                seed="bench",
                out_dir=folder / "classes",
                force=True,
                requests_path=data / "class_requests_primary_2021.csv",
            )
            times.append(time.perf_counter() - t0)
        teacher_times = []
        for _ in range(3):
            t0 = time.perf_counter()
            teachers = assign_teachers(
                folder / "classes",
                data / "teachers.csv",
                seed="bench",
                out_dir=folder / "teachers",
                force=True,
            )
            teacher_times.append(time.perf_counter() - t0)
        print("## The district's 2021 grade-1 intake (embedded data)\n")
        print("| step | size | first call | warm (best of 2) |")
        print("|---|---|---:|---:|")
        print(
            f"| classes (51 schools) | {summary.pupils:,} pupils, "
            f"{sum(len(o.figures) for o in summary.outcomes)} classes | "
            f"{times[0]:.2f} s | {min(times[1:]):.2f} s |"
        )
        print(
            f"| teachers (all pools) | {teachers.classes} classes, {len(teachers.results)} "
            f"pools | {teacher_times[0]:.2f} s | {min(teacher_times[1:]):.2f} s |"
        )
        print()
        print(summary.render())
        print(teachers.render())


if __name__ == "__main__":
    main()
