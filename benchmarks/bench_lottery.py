"""Benchmarks of the admission lottery engine (issue 3): against `matching`, and at scale.

    python benchmarks/bench_lottery.py                  # both parts, full sizes (about 15 min)
    python benchmarks/bench_lottery.py --quick          # small smoke run (under a minute)
    python benchmarks/bench_lottery.py --only matching  # or: --only scale

Part 1 (matching): the same synthetic instance (benchmarks/lottery_instances.py) solved by
``matching``'s HospitalResident (resident-optimal) and by seats: the kernel on validated arrays,
``seats.lottery.allocate`` (hashing, tiers and kernel), and ``seats lottery run`` end to end as a
subprocess. Both sides get the same preferences: residents rank hospitals in choice order,
hospitals rank residents by seats' priority key (tier, lottery number). The bench asserts that
the two matchings are equal (applicant-proposing deferred acceptance = resident-optimal HR).

Part 2 (scale): ``seats lottery run`` end to end on 100,000 x 2,000 x 5 and 563,000 x 8,000 x 10:
wall time and peak memory (max RSS of the child process), cold (numba cache of seats.lottery.kernels
cleared) and warm, and the kernel's nanoseconds per proposal and per choice entry.

A proposal is one application of an applicant to a school in the mechanism: in deferred
acceptance every applicant applies down their list until held for good, so the count is
sum(choice rank + 1 of the placed) + sum(list length of the unplaced), read off the result at
no cost to the kernel.

Prints markdown tables with the machine and the exact command. Timings are the best of
``--repeat`` runs; the spread (worst / best) is shown, since shared machines are noisy.
"""

from __future__ import annotations

import argparse
import functools
import os
import pickle
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lottery_instances as instances  # benchmarks/ is not a package: found via sys.path
from reference_kernel import reference_deferred_acceptance

import seats
from seats.lottery import allocate, kernels, load_lottery, priorities

SEED = "bench 2021"
MATCHING_SIZES = [(5_600, 100, 3), (20_000, 400, 5)]
SCALE_SIZES = [(100_000, 2_000, 5), (563_000, 8_000, 10)]
# National, then 3.55 times as many applicants and schools (the same 70 applicants a school).
LINEAR_SIZES = [(563_000, 8_000, 10), (2_000_000, 28_400, 10)]
QUICK_MATCHING_SIZES = [(1_000, 20, 3)]
QUICK_SCALE_SIZES = [(20_000, 400, 5)]
KERNEL_CACHE = Path(kernels.__file__).parent / "__pycache__"


# --- measuring --------------------------------------------------------------------------------


def best_of(repeat: int, func) -> tuple[float, float]:
    """(best, worst) wall seconds of `repeat` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times), max(times)


def run_child(args: list[str], timeout: float | None = None) -> tuple[float, int, float]:
    """Run a command; returns (wall seconds, peak RSS in bytes, CPU seconds) of that child."""
    with tempfile.TemporaryFile() as errors:  # not a pipe: a chatty child would block on it
        return _wait_child(args, errors, timeout)


def _wait_child(args: list[str], errors, timeout: float | None) -> tuple[float, int, float]:
    start = time.perf_counter()
    # cwd: `python -m seats` must find seats where this process did, not in the caller's folder.
    process = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=errors, cwd=Path(__file__).resolve().parent
    )
    deadline = None if timeout is None else start + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if deadline is not None and time.perf_counter() > deadline:
            process.kill()
            os.wait4(process.pid, 0)
            raise TimeoutError
        time.sleep(0.005)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        errors.seek(0)
        raise RuntimeError(f"{' '.join(args)} failed:\n{errors.read().decode()[-4000:]}")
    return wall, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime  # maxrss: KiB


def clear_kernel_cache() -> int:
    """Delete numba's cache of seats.lottery.kernels (only that module); returns files removed."""
    removed = 0
    for path in KERNEL_CACHE.glob("kernels.*.nb[ic]"):
        path.unlink()
        removed += 1
    return removed


def cli_args(folder: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "seats",
        "lottery",
        "run",
        "--schools",
        str(folder / "schools.csv"),
        "--applicants",
        str(folder / "applicants.csv"),
        "--seed",
        SEED,
        "--out",
        str(out),
        "--force",
    ]


def proposals(choice_ptr: np.ndarray, out_school: np.ndarray, out_rank: np.ndarray) -> int:
    lengths = np.diff(choice_ptr)
    return int(np.where(out_school >= 0, out_rank.astype(np.int64) + 1, lengths).sum())


# --- the instance in both forms ---------------------------------------------------------------


def prepare(size: tuple[int, int, int], workdir: Path):
    """Write the instance as CSV and read it back through seats: (folder, lottery, arrays)."""
    inst = instances.generate(*size)
    folder = workdir / f"{size[0]}x{size[1]}x{size[2]}"
    instances.write_csv(inst, folder)
    lottery = load_lottery(folder / "schools.csv", folder / "applicants.csv", SEED)
    prio = priorities(lottery)
    arrays = (
        lottery.applicants.choice_ptr,
        lottery.applicants.choice_school,
        prio.key,
        lottery.schools.seats,
    )
    return inst, folder, lottery, arrays


def matching_dictionaries(arrays):
    """matching's form of the same instance: residents rank hospitals in choice order,
    hospitals rank residents by seats' priority key."""
    ptr, school, key, seats_ = arrays
    n_schools = len(seats_)
    resident_prefs = {a: school[ptr[a] : ptr[a + 1]].tolist() for a in range(len(ptr) - 1)}
    entry_app = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
    order = np.lexsort((key, school))
    hospital_prefs = {s: [] for s in range(n_schools)}
    for e in order.tolist():
        hospital_prefs[int(school[e])].append(int(entry_app[e]))
    capacities = {s: int(seats_[s]) for s in range(n_schools)}
    return resident_prefs, hospital_prefs, capacities


def matching_worker(job: Path) -> None:
    """Child process: solve the pickled dictionaries with matching; pickle times and result.

    matching deep-copies its graph of players, which recurses past Python's default limits
    from a few thousand players on (RecursionError), so this runs in a thread with a large
    stack and a raised recursion limit.
    """
    sys.setrecursionlimit(10_000_000)
    threading.stack_size(2**30)
    worker = threading.Thread(target=_solve_with_matching, args=(job,))
    worker.start()
    worker.join()


def _solve_with_matching(job: Path) -> None:
    from matching.games import HospitalResident

    resident_prefs, hospital_prefs, capacities, n_applicants = pickle.loads(job.read_bytes())
    start = time.perf_counter()
    game = HospitalResident.create_from_dictionaries(resident_prefs, hospital_prefs, capacities)
    built = time.perf_counter()
    solution = game.solve(optimal="resident")
    solved = time.perf_counter()
    out_school = np.full(n_applicants, -1, dtype=np.int64)
    for hospital, residents in solution.items():
        for resident in residents:
            out_school[resident.name] = hospital.name
    job.with_suffix(".out").write_bytes(pickle.dumps((built - start, solved - built, out_school)))


def run_matching(dictionaries, n_applicants: int, workdir: Path, timeout: float):
    """(create seconds, solve seconds, out_school) or None when it ran past `timeout`."""
    job = workdir / "matching_job.pkl"
    job.write_bytes(pickle.dumps((*dictionaries, n_applicants)))
    try:
        run_child([sys.executable, __file__, "--matching-worker", str(job)], timeout=timeout)
    except TimeoutError:
        return None
    return pickle.loads(job.with_suffix(".out").read_bytes())


# --- the two parts ----------------------------------------------------------------------------


def bench_matching(sizes, workdir: Path, repeat: int, timeout: float) -> list[str]:
    rows = [
        "| instance | matching: create + solve | matching: solve | seats kernel "
        "(`kernels.deferred_acceptance`) | ratio solve / kernel (create + solve / kernel) | "
        "`lottery.allocate` (hash, tiers, kernel) | ratio solve / allocate | "
        "`seats lottery run` CLI, end to end | ratio solve / CLI | same matching |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size in sizes:
        inst, folder, lottery, arrays = prepare(size, workdir)
        kernels.deferred_acceptance(*arrays)  # load the compiled kernel before timing
        out_school, _ = kernels.deferred_acceptance(*arrays)
        kernel = best_of(repeat, lambda arrays=arrays: kernels.deferred_acceptance(*arrays))
        library = best_of(repeat, lambda lottery=lottery: allocate(lottery))
        out = workdir / "out_matching"
        cli = min(run_child(cli_args(folder, out))[0] for _ in range(repeat))
        cli_school = read_cli_schools(out / "assignments.csv", lottery)
        assert np.array_equal(cli_school, out_school), "the CLI and the kernel disagree"

        result = run_matching(
            matching_dictionaries(arrays), len(lottery.applicants), workdir, timeout
        )
        if result is None:
            create = solve = None
            same = "not checked (timeout)"
        else:
            create, solve, theirs = result
            assert np.array_equal(theirs, out_school), "matching and seats give different matchings"
            same = "yes (asserted)"
        solve_text = f"{solve:.2f} s" if solve is not None else f">= {timeout:.0f} s"
        both_text = f"{create + solve:.2f} s" if solve is not None else f">= {timeout:.0f} s"
        reference = solve if solve is not None else timeout
        whole = create + solve if solve is not None else timeout
        prefix = "" if solve is not None else ">= "
        rows.append(
            f"| {inst.label} | {both_text} | {solve_text} | {fmt_time(kernel)} | "
            f"{prefix}{reference / kernel[0]:,.0f}x ({prefix}{whole / kernel[0]:,.0f}x) | "
            f"{fmt_time(library)} | "
            f"{prefix}{reference / library[0]:,.0f}x | {cli:.2f} s | "
            f"{prefix}{reference / cli:,.1f}x | {same} |"
        )
        print(rows[-1], flush=True)
    return rows


def read_cli_schools(path: Path, lottery) -> np.ndarray:
    import csv

    index = lottery.schools.index
    with open(path, encoding="utf-8", newline="") as handle:
        return np.array([index.get(row["school_id"], -1) for row in csv.DictReader(handle)])


def bench_scale(sizes, workdir: Path, repeat: int) -> list[str]:
    rows = [
        "| instance | entries | proposals | CLI cold (JIT compile): wall, CPU, RSS | "
        "CLI warm: wall best (worst) | CLI warm: CPU user+sys best | peak RSS warm | "
        "kernel best (worst) | ns / proposal | ns / entry |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size in sizes:
        inst, folder, _, arrays = prepare(size, workdir)
        out = workdir / "out_scale"
        clear_kernel_cache()
        cold, cold_rss, cold_cpu = run_child(cli_args(folder, out))
        warm = [run_child(cli_args(folder, out)) for _ in range(repeat)]
        warm_wall = [wall for wall, _, _ in warm]
        peak = max(rss for _, rss, _ in warm)
        warm_cpu = min(cpu for _, _, cpu in warm)

        out_school, out_rank = kernels.deferred_acceptance(*arrays)
        kernel = best_of(repeat, lambda arrays=arrays: kernels.deferred_acceptance(*arrays))
        n_entries = len(arrays[1])
        n_proposals = proposals(arrays[0], out_school, out_rank)
        rows.append(
            f"| {inst.label} | {n_entries:,} | {n_proposals:,} | {cold:.1f} s, {cold_cpu:.1f} s, "
            f"{cold_rss / 2**30:.2f} GiB | {min(warm_wall):.1f} s ({max(warm_wall):.1f} s) | "
            f"{warm_cpu:.1f} s | {peak / 2**30:.2f} GiB | {fmt_time(kernel)} | "
            f"{kernel[0] / n_proposals * 1e9:.0f} | {kernel[0] / n_entries * 1e9:.0f} |"
        )
        print(rows[-1], flush=True)
    return rows


def bench_kernel(sizes, workdir: Path, repeat: int) -> list[str]:
    """The engine's deferred-acceptance kernel against a textbook reference kernel on the same
    validated arrays, alternated, asserting the same matching: the kernel alone (as
    seats.lottery calls it, keys distinct by construction: no key check), then the public
    `kernels.deferred_acceptance` (which first validates and coerces its arguments) without
    and with the key check."""
    rows = [
        "| instance | reference kernel best (worst) | seats kernel | ratio | public call, "
        "no key check (validation included) | ratio | public call with the key check | ratio "
        "| same matching | ns per proposal: reference, seats kernel |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size in sizes:
        _, _, _, arrays = prepare(size, workdir)
        ptr, school, key, cap = kernels._coerce(*arrays)
        reference = reference_deferred_acceptance(ptr, school, key, cap)
        ours, our_rank = kernels.deferred_acceptance(*arrays, check_keys=False)
        n_proposals = proposals(ptr, ours, our_rank)
        same = np.array_equal(reference, ours)
        assert same, "the reference kernel and seats disagree"
        out_school = np.empty(len(ptr) - 1, np.int32)
        out_rank = np.empty(len(ptr) - 1, np.int32)
        kernel = functools.partial(
            kernels._deferred_acceptance, ptr, school, key, cap, out_school, out_rank, False
        )
        kernel()
        assert np.array_equal(out_school, reference)
        timings: dict[str, list[float]] = {"reference": [], "kernel": [], "fast": [], "checked": []}
        calls = {
            "reference": functools.partial(reference_deferred_acceptance, ptr, school, key, cap),
            "kernel": kernel,
            "fast": functools.partial(kernels.deferred_acceptance, *arrays, check_keys=False),
            "checked": functools.partial(kernels.deferred_acceptance, *arrays),
        }
        for _ in range(repeat):  # alternated
            for name, call in calls.items():
                start = time.perf_counter()
                call()
                timings[name].append(time.perf_counter() - start)
        best = {name: min(v) for name, v in timings.items()}
        shown = {name: fmt_time((best[name], max(v))) for name, v in timings.items()}
        label = " x ".join(f"{n:,}" for n in size)
        ratio = {name: best[name] / best["reference"] for name in best}
        rows.append(
            f"| {label} | {shown['reference']} | {shown['kernel']} | {ratio['kernel']:.2f} | "
            f"{shown['fast']} | {ratio['fast']:.2f} | {shown['checked']} | "
            f"{ratio['checked']:.2f} | {'yes' if same else 'no'} | "
            f"{best['reference'] / n_proposals * 1e9:.0f}, "
            f"{best['kernel'] / n_proposals * 1e9:.0f} |"
        )
        print(rows[-1], flush=True)
    return rows


def bench_rules_v2(sizes, workdir: Path, repeat: int) -> list[str]:
    """`seats lottery run` end to end on the same instances with the rules v2 of the national
    benchmark (lottery_instances.write_csv_v2), beside the v1 files; alternated runs."""
    rows = [
        "| instance | rules | CLI cold: wall, RSS | CLI warm: wall best (worst) | "
        "CPU user+sys best | peak RSS warm |",
        "|---|---|---|---|---|---|",
    ]
    for size in sizes:
        inst = instances.generate(*size)
        v1 = workdir / f"v1-{size[0]}x{size[1]}x{size[2]}"
        v2 = workdir / f"v2-{size[0]}x{size[1]}x{size[2]}"
        instances.write_csv(inst, v1)
        instances.write_csv_v2(inst, v2)
        runs = {"v1": cli_args(v1, workdir / "out_v1")}
        runs["v2"] = [*cli_args(v2, workdir / "out_v2"), "--policy", str(v2 / "policy.toml")]
        clear_kernel_cache()
        cold = {name: run_child(args) for name, args in runs.items()}
        warm: dict[str, list] = {name: [] for name in runs}
        for _ in range(repeat):  # alternated, so that a noisy moment hits both
            for name, args in runs.items():
                warm[name].append(run_child(args))
        for name in runs:
            walls = [wall for wall, _, _ in warm[name]]
            rows.append(
                f"| {inst.label} | {name} | {cold[name][0]:.1f} s, "
                f"{cold[name][1] / 2**30:.2f} GiB | {min(walls):.1f} s ({max(walls):.1f} s) | "
                f"{min(cpu for _, _, cpu in warm[name]):.1f} s | "
                f"{max(rss for _, rss, _ in warm[name]) / 2**30:.2f} GiB |"
            )
            print(rows[-1], flush=True)
    return rows


def bench_linearity(sizes, workdir: Path, repeat: int) -> list[str]:
    """`seats lottery run` with the rules v2 (write_csv_v2) at growing size: warm wall time
    per choice entry, against the first size's."""
    rows = [
        "| instance | entries | CLI warm: wall best (worst) | CPU user+sys best | peak RSS | "
        "us per entry | per entry vs the first |",
        "|---|---|---|---|---|---|---|",
    ]
    first = None
    for size in sizes:
        folder = workdir / f"v2-{size[0]}x{size[1]}x{size[2]}"
        if not (folder / "applicants.csv").exists():
            instances.write_csv_v2(instances.generate(*size), folder)
        args = [*cli_args(folder, workdir / "out_linear"), "--policy", str(folder / "policy.toml")]
        run_child(args)  # compiles, if the cache is cold
        warm = [run_child(args) for _ in range(repeat)]
        walls = [wall for wall, _, _ in warm]
        entries = size[0] * size[2]
        per_entry = min(walls) / entries * 1e6
        first = first or per_entry
        rows.append(
            f"| {size[0]:,} x {size[1]:,} x {size[2]} | {entries:,} | {min(walls):.1f} s "
            f"({max(walls):.1f} s) | {min(cpu for _, _, cpu in warm):.1f} s | "
            f"{max(rss for _, rss, _ in warm) / 2**30:.2f} GiB | {per_entry:.2f} | "
            f"{per_entry / first:.2f}x |"
        )
        print(rows[-1], flush=True)
    return rows


def fmt_time(best_worst: tuple[float, float]) -> str:
    best, worst = best_worst
    unit, scale = ("ms", 1e3) if best < 1 else ("s", 1.0)
    return f"{best * scale:.2f} {unit} ({worst * scale:.2f})"


# --- report -----------------------------------------------------------------------------------


def machine() -> list[str]:
    import numba

    model = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        from importlib.metadata import version

        matching_version = version("matching")
    except Exception:
        matching_version = "not installed"
    return [
        "| machine | |",
        "|---|---|",
        f"| CPUs (nproc) | {len(os.sched_getaffinity(0))} |",
        f"| CPU model | {model} |",
        f"| load average at start | {' '.join(f'{x:.2f}' for x in os.getloadavg())} |",
        f"| python | {platform.python_version()} |",
        f"| numpy / numba | {np.__version__} / {numba.__version__} |",
        f"| matching | {matching_version} |",
        f"| seats | {seats.__version__} |",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--only",
        choices=("matching", "scale", "rules", "kernel", "linearity"),
        help="run one part only (linearity: only when named)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (best is shown)")
    parser.add_argument(
        "--matching-timeout", type=float, default=600.0, help="seconds before matching is cut"
    )
    parser.add_argument("--workdir", type=Path, help="where instances and runs go (default: tmp)")
    parser.add_argument("--matching-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.matching_worker:
        matching_worker(args.matching_worker)
        return

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="seats-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/bench_lottery.py " + " ".join(argv or sys.argv[1:])
    print(f"command: `{command.strip()}`\n")
    print("\n".join(machine()) + "\n", flush=True)
    try:
        if args.only in (None, "matching"):
            sizes = QUICK_MATCHING_SIZES if args.quick else MATCHING_SIZES
            print("## seats vs matching (HospitalResident, resident-optimal)\n", flush=True)
            table = bench_matching(sizes, workdir, args.repeat, args.matching_timeout)
            print("\n" + "\n".join(table) + "\n", flush=True)
        if args.only in (None, "scale"):
            sizes = QUICK_SCALE_SIZES if args.quick else SCALE_SIZES
            print("## scale: `seats lottery run` end to end\n", flush=True)
            table = bench_scale(sizes, workdir, args.repeat)
            print("\n" + "\n".join(table) + "\n", flush=True)
        if args.only in (None, "kernel"):
            sizes = QUICK_SCALE_SIZES if args.quick else SCALE_SIZES
            print("## the kernel against a textbook reference kernel\n", flush=True)
            table = bench_kernel(sizes, workdir, max(args.repeat, 5))
            print("\n" + "\n".join(table) + "\n", flush=True)
        if args.only in (None, "rules"):
            sizes = QUICK_SCALE_SIZES if args.quick else SCALE_SIZES[-1:]
            print("## rules v2 (reserves, families, P|P groups) beside v1, end to end\n")
            table = bench_rules_v2(sizes, workdir, args.repeat)
            print("\n" + "\n".join(table) + "\n", flush=True)
        if args.only == "linearity":  # minutes of instance writing: only when asked
            print("## rules v2 at growing size: cost per choice entry\n")
            table = bench_linearity(LINEAR_SIZES, workdir, args.repeat)
            print("\n" + "\n".join(table) + "\n", flush=True)
            print("## the v1 kernel and the reference kernel at the same sizes\n", flush=True)
            table = bench_kernel(LINEAR_SIZES, workdir, max(args.repeat, 5))
            print("\n" + "\n".join(table) + "\n", flush=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
