"""Balanced classes and teacher teams: quality against the serpentine method and an exact
solver, and speed.

    python benchmarks/bench_classes.py [--cpsat-seconds 60] [--small-seconds 30]

Prints markdown tables. Instances are synthetic cohorts (48 % girls, 5 % special needs, 20 %
migrant, birth dates over one school year, scores N(75, 12) clipped to 0-100, 10 % unknown),
drawn from fixed seeds. OR-Tools CP-SAT (optional: ``pip install ortools``) solves the same
integer objective as the kernel (see seats.classes) on the same features.
"""

from __future__ import annotations

import argparse
import csv
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from seats import classes as cl
from seats.errors import Problems

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
    cohort = cl.load_cohort(pupils, problems)
    plan = cl._class_plan(cohort, "S1", list(range(len(cohort))), n_classes, problems)
    units = cl.build_units(cohort, plan, problems)
    start = cl.serpentine_start(cohort, plan, units, problems)
    problems.raise_if_any()
    scale = cl.feature_scale(len(plan.pupils), n_classes, int(plan.size_hi.max()))
    values = cl.pupil_features(cohort, plan.pupils, scale)
    return cohort, plan, units, start, values


def figures_of(cohort, plan, pupil_bin) -> dict:
    n_bins = len(plan.size_lo)
    figures = [
        cl.class_figures(cohort, "S1", c + 1, plan.pupils[pupil_bin == c].tolist())
        for c in range(n_bins)
    ]
    return cl.spreads(figures)


def objective_of(plan, units, values, unit_bin) -> int:
    from seats import balance_kernels as bk

    unit_values = np.zeros((len(units.size), values.shape[1]), dtype=np.int64)
    np.add.at(unit_values, units.of, values)
    return int(bk.class_objective(unit_bin, unit_values, units.size, len(plan.size_lo), cl.WEIGHTS))


def cpsat(plan, units, values, seconds: float):
    """Same objective and constraints in CP-SAT; returns (objective, proved optimal, assignment)."""
    from ortools.sat.python import cp_model

    n_units, n_bins = len(units.size), len(plan.size_lo)
    unit_values = np.zeros((n_units, values.shape[1]), dtype=np.int64)
    np.add.at(unit_values, units.of, values)
    n_total = int(units.size.sum())
    total = unit_values.sum(axis=0)
    model = cp_model.CpModel()
    x = [[model.NewBoolVar(f"x{u}_{c}") for c in range(n_bins)] for u in range(n_units)]
    for u in range(n_units):
        model.AddExactlyOne(x[u])
    model.Add(x[0][0] == 1)  # classes are interchangeable: break the symmetry
    terms = []
    for c in range(n_bins):
        size = sum(int(units.size[u]) * x[u][c] for u in range(n_units))
        model.Add(size >= int(plan.size_lo[c]))
        model.Add(size <= int(plan.size_hi[c]))
        for f in range(values.shape[1]):
            if cl.WEIGHTS[f] == 0 or not unit_values[:, f].any():
                continue
            bound = int(2 * n_total * plan.size_hi.max() * np.abs(unit_values[:, f]).max()) + 1
            dev = model.NewIntVar(-bound, bound, f"d{c}_{f}")
            model.Add(
                dev
                == sum(
                    (n_total * int(unit_values[u, f]) - int(units.size[u]) * int(total[f]))
                    * x[u][c]
                    for u in range(n_units)
                )
            )
            square = model.NewIntVar(0, bound * bound, f"q{c}_{f}")
            model.AddMultiplicationEquality(square, [dev, dev])
            terms.append(int(cl.WEIGHTS[f]) * square)
    model.Minimize(sum(terms))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = 8
    status = solver.Solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, False, None
    assignment = np.array(
        [next(c for c in range(n_bins) if solver.Value(x[u][c])) for u in range(n_units)]
    )
    return int(solver.ObjectiveValue()), status == cp_model.OPTIMAL, assignment


def balanced(cohort, plan, seed="bench"):
    problems = Problems()
    start = time.perf_counter()
    solved = cl.solve_plan(cohort, plan, seed, problems)
    return solved, time.perf_counter() - start


def fmt(spread: dict) -> str:
    keys = ("size", "girls", "boys", "special_needs", "migrant", "mean_score")
    return " | ".join(str(spread[k]) for k in keys)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cpsat-seconds", type=float, default=60.0)
    parser.add_argument("--small-seconds", type=float, default=30.0)
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
        warm = min(balanced(cohort, plan)[1] for _ in range(5))
        t0 = time.perf_counter()
        cl.form_classes(pupils, schools, seed="bench", out_dir=folder / "run600", force=True)
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
            f"{warm * 1000:.0f} ms warm, {cold * 1000:.0f} ms first call |"
        )
        if have_cpsat:
            objective, optimal, assignment = cpsat(plan, units, values, args.cpsat_seconds)
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

        # 2. small instances: exact optimum known?
        if have_cpsat:
            print("## Small instances against CP-SAT\n")
            print(
                "| pupils | classes | kernel objective | kernel time | CP-SAT objective | "
                "CP-SAT proved optimal | CP-SAT time |"
            )
            print("|---:|---:|---:|---:|---:|---|---:|")
            for n, k, seed in ((60, 2, 1), (60, 3, 2), (90, 2, 3), (120, 3, 4), (200, 5, 5)):
                pupils, _ = write_cohort(folder, n, seed)
                cohort, plan, units, start, values = prepare(pupils, k)
                balanced(cohort, plan)
                solved, seconds = balanced(cohort, plan)
                t0 = time.perf_counter()
                objective, optimal, _ = cpsat(plan, units, values, args.small_seconds)
                cp_seconds = time.perf_counter() - t0
                print(
                    f"| {n} | {k} | {solved.objective:,} | {seconds * 1000:.0f} ms | "
                    f"{objective if objective is None else f'{objective:,}'} | "
                    f"{'yes' if optimal else 'no'} | {cp_seconds:.1f} s |"
                )
            print()

        # 3. the district: 2021 primary lottery -> classes -> teachers
        from seats.model import embedded_dataset
        from seats.run import RunOptions, run_lottery
        from seats.teachers import assign_teachers

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
            summary = cl.form_classes(
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
