"""Monte Carlo forecast speed: the district model, the lottery replications, Dask overhead.

    python benchmarks/bench_forecast.py [--runs 10000] [--lottery-runs 1000] [--repeat 3]
                                        [--no-dask]

1. 10,000 replications x 10 years (2021-2030) of the embedded district (the cohort kernel,
   sim.cohort_kernels: 3 levels, 164 schools, 13 zones; no lottery): wall time with 1 and 2
   numba threads; parallel efficiency = t1 / (2 t2).
2. 1,000 replications of the 2021 kindergarten lottery (5,600 applicants, 100 kindergartens):
   wall time per replication (pool drawn, fresh numbers, mechanism, tallies) against one warm
   call of the mechanism kernel on the file (seats.lottery.kernels, keys precomputed), 1 and 2
   threads.
3. The whole simulation (forecast + lottery) at 10,000 replications on a Dask LocalCluster of
   2 single-threaded workers against in-process with 2 threads, the two alternated; cluster
   start-up and the workers' first (JIT-loading) run are excluded and reported apart.

Beside table 1, a control: a trivially parallel numba loop (no memory traffic) timed the same
way, whose efficiency is what the machine gives at that moment (other work on the cores lowers
both alike).

Every figure is the median of --repeat runs, with min-max as the noise (on a shared machine the
min is the figure to compare); the load average is printed beside each table. Prints markdown
tables.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numba
import numpy as np

from seats.io.model import embedded_dataset, load_district
from seats.lottery import Lottery, kernels, priorities
from seats.lottery.policy import load_policy
from sim.cohort import build_cohort_model, load_enrolment
from sim.forecast import chance_model, root_key, run_chances, simulate
from sim.plan import read_plan


@numba.njit(parallel=True, cache=True)
def _control(n, out):
    """Two independent sums of square roots: perfectly parallel, no memory traffic."""
    for p in numba.prange(out.shape[0]):
        acc = 0.0
        for i in range(n):
            acc += np.sqrt(i * 1.0 + p)
        out[p] = acc


def control_efficiency(repeat: int) -> tuple[float, float]:
    """(1-thread, 2-thread) best wall times of the control, same total work."""
    out = np.zeros(2)
    _control(10, out)
    best = {}
    for threads in (1, 2):
        numba.set_num_threads(threads)
        best[threads] = min(timed(lambda: _control(100_000_000, out), repeat))
    return best[1], best[2]


def timed(func, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        out.append(time.perf_counter() - start)
    return out


def fmt(times: list[float], scale: float = 1.0, unit: str = "s") -> str:
    t = [x * scale for x in times]
    return f"{statistics.median(t):.3g} {unit} ({min(t):.3g}-{max(t):.3g})"


def load() -> str:
    """The 1-minute load average against the cores: above the cores, timings are noise."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--lottery-runs", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-dask", action="store_true")
    args = parser.parse_args()

    folder = embedded_dataset()
    district = load_district(folder)
    plan = read_plan(folder / "plan_2021_2025.csv", district)
    model = build_cohort_model(district, load_enrolment(district), years=(2021, 2030), plan=plan)
    chance = chance_model(district, model)
    cores = numba.config.NUMBA_NUM_THREADS
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
        f"(numba threads {cores}), Python {platform.python_version()}, numba {numba.__version__}"
        f", numpy {np.__version__}; repeat {args.repeat}, median (min-max)\n"
    )

    # 1. The district forecast.
    simulate(model, 100, seed=0)  # JIT load
    times = {}
    for threads in (1, 2):
        numba.set_num_threads(threads)
        times[threads] = timed(lambda: simulate(model, args.runs, seed=1), args.repeat)
    numba.set_num_threads(cores)
    t1, t2 = statistics.median(times[1]), statistics.median(times[2])
    print(f"### Forecast: {args.runs:,} replications x 10 years (3 levels, 13 zones)\n")
    print("| threads | wall time | per replication |")
    print("|---:|---:|---:|")
    for threads in (1, 2):
        per = [t / args.runs for t in times[threads]]
        print(f"| {threads} | {fmt(times[threads])} | {fmt(per, 1e6, 'µs')} |")
    best = min(times[1]) / (2 * min(times[2]))
    c1, c2 = control_efficiency(args.repeat)
    numba.set_num_threads(cores)
    print(
        f"\nParallel efficiency on 2 cores: t1 / (2 t2) = {t1 / (2 * t2):.0%} (medians), "
        f"{best:.0%} (best runs); control loop {c1 / (2 * c2):.0%} (best runs: {c1:.3f} s, "
        f"{c2:.3f} s); {load()}\n"
    )

    # 2. The kindergarten lottery.
    apps = district.applicant_files["applicants_kindergarten_2021"]
    policy = load_policy(folder / "policy_kindergarten.toml")
    lottery = Lottery(district.schools, apps, policy, seed="bench")
    key = priorities(lottery).key
    # Families share their unit's number (rules v2), so keys can tie; the general kernel wants a
    # strict order: the same order with ties broken by entry position.
    order = np.lexsort((np.arange(len(key)), key))
    key = np.empty(len(key), dtype=np.int64)
    key[order] = np.arange(len(key))
    mechanism = kernels.immediate_acceptance

    def one_call():
        mechanism(apps.choice_ptr, apps.choice_school, key, chance.seats)

    one_call()
    single = [min(timed(one_call, 20)) for _ in range(args.repeat)]
    counts = np.tile(chance.base_count, (args.lottery_runs, 1))
    root = root_key("bench")
    run_chances(chance, root, 0, counts[:10])  # JIT load
    kindergartens = int((district.schools.level == "kindergarten").sum())
    print(
        f"### Kindergarten lottery: {args.lottery_runs:,} replications, {len(apps):,} applicants,"
        f" {kindergartens} kindergartens\n"
    )
    print("| what | threads | per replication | vs one kernel call |")
    print("|---|---:|---:|---:|")
    print(f"| one warm kernel call (keys given) | 1 | {fmt(single, 1e6, 'µs')} | 1.00x |")
    for threads in (1, 2):
        numba.set_num_threads(threads)
        lot = timed(lambda: run_chances(chance, root, 0, counts), args.repeat)
        per = [t / args.lottery_runs for t in lot]
        ratio = statistics.median(per) / statistics.median(single)
        what = "replication (pool, numbers, kernel, tally)"
        print(f"| {what} | {threads} | {fmt(per, 1e6, 'µs')} | {ratio:.2f}x |")
    numba.set_num_threads(cores)
    print(f"\n{load()}")

    if args.no_dask:
        return
    # 3. Dask against in-process.
    from distributed import Client, LocalCluster

    numba.set_num_threads(min(2, cores))
    simulate(model, 1_000, seed=2, chance=chance)
    start = time.perf_counter()
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = Client(cluster)
    started = time.perf_counter() - start
    address = cluster.scheduler_address
    first = timed(lambda: simulate(model, 1_000, seed=2, chance=chance, dask=address), 1)
    local, remote = [], []
    for _ in range(args.repeat):  # alternated, so that a change of load hits both alike
        local += timed(lambda: simulate(model, args.runs, seed=2, chance=chance), 1)
        remote += timed(
            lambda: simulate(
                model, args.runs, seed=2, chance=chance, dask=address, worker_threads=1
            ),
            1,
        )
    client.close()
    cluster.close()
    overhead = statistics.median(remote) / statistics.median(local) - 1
    print(f"\n### Dask: {args.runs:,} replications (forecast + lottery), 2 workers vs 2 threads\n")
    print("| engine | wall time |")
    print("|---|---:|")
    print(f"| in-process, 2 numba threads | {fmt(local)} |")
    print(f"| Dask LocalCluster, 2 workers x 1 thread | {fmt(remote)} |")
    best = min(remote) / min(local) - 1
    print(
        f"\nDask overhead: {overhead:+.0%} (medians), {best:+.0%} (best runs); {load()}; "
        f"excluded: cluster start-up {started:.1f} s and a first 1,000-replication run "
        f"{first[0]:.1f} s (workers load the JIT cache)"
    )


if __name__ == "__main__":
    main()
