"""`seats demo`: the year's work on the embedded Xinghualing district, end to end.

The 2021 kindergarten lottery (志愿优先, by the kindergarten policy) and the 2021 primary lottery
(deferred acceptance, then every child still unplaced seated at the nearest primary school with
seats left), each into its own audited run folder under the demo folder; then, as a supervisor
would, the public list and the report of each draw; the balanced grade-1 classes of every primary
school and their teacher teams; and a verification that re-runs every draw.

A second `seats demo` replaces the demo's own folder (marked by DEMO_MARK); a folder that is
not a demo's is refused unless forced. The demo's district secret (for the registration codes
of the public lists) is derived from the seed, so that the demo is reproducible: a real
district draws its secret at random and keeps it private.

The stages that do not read each other's folders run side by side in two worker processes (the
lotteries and the gaps first, then the classes, the supervision of each draw, the verifications
and the forecast); each returns its console text, printed in the order of the stages, so that
the console and every file are the same whatever the number of workers (`workers=1` runs them
one after another in this process).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from seats.io.model import embedded_dataset

# The stages import the libraries they need themselves (numba, matplotlib, reportlab), so that
# the demo's own process, which only schedules them, starts at once.

DEMO_SEED = "Xinghualing 2021 demo seed"
FORECAST_RUNS = 1_000
DEMO_MARK = ".seats-demo"
DEMO_SECRET = "district_secret.key"


@dataclass(frozen=True)
class DemoLottery:
    name: str
    level: str
    sector: str | None
    applicants: str
    policy: str
    fallback: str | None


DEMO_LOTTERIES = (
    # 公办幼儿园电脑派位: the public kindergartens only; the others admit directly
    DemoLottery(
        "kindergarten_2021",
        "kindergarten",
        "public",
        "applicants_kindergarten_2021.csv",
        "policy_kindergarten.toml",
        None,
    ),
    # 小学: the draw, then 统筹 into public schools with seats left
    DemoLottery(
        "primary_2021",
        "primary",
        None,
        "applicants_primary_2021.csv",
        "policy_primary.toml",
        "nearest",
    ),
)


COMPILING = (
    "  （首次运行需编译 numba 内核，约 {seconds} 秒，之后使用缓存）"
    "first run: numba compiles the {what} (about {seconds} s; cached afterwards) ..."
)


def compiling_note(module, what: str, seconds: int, kernel: str = "*") -> str | None:
    """COMPILING when numba has no cache yet for `kernel` of `module` (a cold run); `module`
    is a module or the dotted name of one (found without importing it)."""
    if isinstance(module, str):
        import importlib.util

        # from the top package's folder: finding seats.classes.kernels itself would import
        # seats.classes, and with it numba, in the demo's scheduling process
        top, *inner = module.split(".")
        path = Path(importlib.util.find_spec(top).origin).parent.joinpath(*inner).with_suffix(".py")
    else:
        path = Path(module.__file__)
    # numba caches beside the module, or only in NUMBA_CACHE_DIR when that is set (in a
    # folder named after the module's folder: seats/classes and seats/lottery both hold a
    # kernels.py)
    if os.environ.get("NUMBA_CACHE_DIR"):
        places = Path(os.environ["NUMBA_CACHE_DIR"]).glob(f"{path.parent.name}_*")
    else:
        places = [path.parent / "__pycache__"]
    pattern = f"{path.stem}.{kernel}-*.nbi"
    cached = any(any(place.glob(pattern)) for place in places if place.is_dir())
    return None if cached else COMPILING.format(what=what, seconds=seconds)


# --- the stages -------------------------------------------------------------------------------
# Each stage takes paths and text only and returns its console text (and what a later stage
# needs), so that it can run in a worker process; the demo prints the texts in this order.


def _lotteries(data: Path, out_dir: Path, seed: str):
    from seats.lottery.run import RunOptions, run_lottery

    lines, summaries = [], {}
    for job in DEMO_LOTTERIES:
        lines.append(f"== {job.name} lottery ({job.level}) ==")
        summary = run_lottery(
            data / "schools.csv",
            data / job.applicants,
            out_dir / job.name,
            RunOptions(seed=seed, level=job.level, sector=job.sector, fallback=job.fallback),
            policy_path=data / job.policy,
            force=True,
            command=["seats", "demo"],
        )
        lines.append(summary.render())
        summaries[job.name] = summary
    return lines, summaries


def _classes(data: Path, out_dir: Path, seed: str, note: str | None):
    from seats.classes import form_classes
    from seats.classes.teachers import assign_teachers

    lines = ["== 2021 grade-1 classes (均衡编班) of every primary school =="]
    lines += [note] if note else []
    classes = form_classes(
        out_dir / "primary_2021",
        data / "schools.csv",
        seed=seed,
        out_dir=out_dir / "classes_2021",
        requests_path=data / "class_requests_primary_2021.csv",
        force=True,
        command=["seats", "demo"],
    )
    lines.append(classes.render())
    lines.append("== their teacher teams (均衡配班) ==")
    teams = assign_teachers(
        out_dir / "classes_2021",
        data / "teachers.csv",
        seed=seed,
        out_dir=out_dir / "teachers_2021",
        force=True,
        command=["seats", "demo"],
    )
    lines.append(teams.render())
    return lines


def _gaps(data: Path, out_dir: Path, note: str | None):
    from sim.gap import run_gap

    lines = []
    for level in ("kindergarten", "primary"):
        lines.append(f"== where {level} seats are missing (2021 applicants, building plan) ==")
        lines += [note] if note and level == "kindergarten" else []
        gap = run_gap(
            data,
            level=level,
            year=2021,
            demand_path=data / f"applicants_{level}_2021.csv",
            plan_path=data / "plan_2021_2025.csv" if level == "kindergarten" else None,
            site_new=3,
            out_dir=out_dir / f"gap_{level}",
            force=True,
        )
        lines.append(gap.render())
    return lines


def _supervise(data: Path, out_dir: Path, job: DemoLottery):
    """The registration codes, the public list and the supervisor's report of one draw."""
    from seats.supervision.codes import write_codes
    from seats.supervision.publish import publish_results
    from seats.supervision.report import write_report

    name, secret = job.name, out_dir / DEMO_SECRET
    codes = write_codes(data / job.applicants, secret, out_dir / f"{name}_codes.csv")
    published = publish_results(
        out_dir / name, out_dir / f"{name}_public", secret_path=secret, force=True
    )
    report = write_report(out_dir / name, out_dir / f"{name}_report.pdf", force=True)
    return [codes.render(), published.render(), report.render()]


def _verify(out_dir: Path, names: list[str]):
    from seats.supervision.verify import verify_run

    lines = []
    for name in names:
        report = verify_run(out_dir / name)
        if not report.verified:
            raise RuntimeError(f"{name}: the audit does not verify: {report.problems}")
        lines.append(f"{out_dir / name}: verified ({'; '.join(report.notes[1:])})")
    return lines


def _forecast(data: Path, out_dir: Path, seed: str, note: str | None):
    from sim.forecast import run_forecast

    lines = [f"== forecast 2021-2030, {FORECAST_RUNS:,} Monte Carlo runs =="]
    lines += [note] if note else []
    forecast = run_forecast(
        data,
        years=(2021, 2030),
        runs=FORECAST_RUNS,
        seed=seed,
        out_dir=out_dir / "forecast",
        force=True,
    )
    lines.append(forecast.render())
    return lines


@dataclass(frozen=True)
class Stage:
    name: str
    after: tuple[str, ...]  # the stages whose folders it reads (or whose kernels it reuses)
    work: Callable
    args: tuple
    heading: str | None = None  # printed before the stage's text


def _stages(data: Path, out_dir: Path, seed: str) -> list[Stage]:
    """The demo's stages in the order of their console text. The notes are decided here, before
    any stage runs, from numba's cache as a sequential run would find it: no stage compiles a
    kernel another stage's note is keyed to."""
    kindergarten, primary = DEMO_LOTTERIES
    notes = (
        compiling_note("seats.classes.kernels", "class kernels", 20, "improve_classes"),
        compiling_note("sim.cohort_kernels", "planning kernels", 10, "cohort_kernel"),
        compiling_note("sim.mc_kernels", "forecast kernels", 10, "chances_kernel"),
    )
    supervision = (
        "== 监督：公示名单与监督报告 supervision: public lists and supervisor's reports =="
    )
    verifying = "== supervision: re-running every draw from its folder =="
    return [
        Stage("lotteries", (), _lotteries, (data, out_dir, seed)),
        Stage("classes", ("lotteries",), _classes, (data, out_dir, seed, notes[0])),
        Stage("gaps", (), _gaps, (data, out_dir, notes[1])),
        Stage(
            "supervise_kindergarten",
            ("lotteries",),
            _supervise,
            (data, out_dir, kindergarten),
            heading=supervision,
        ),
        Stage("supervise_primary", ("lotteries",), _supervise, (data, out_dir, primary)),
        Stage(
            "verify_lotteries",
            ("lotteries",),
            _verify,
            (out_dir, [job.name for job in DEMO_LOTTERIES]),
            heading=verifying,
        ),
        Stage(
            "verify_classes", ("classes",), _verify, (out_dir, ["classes_2021", "teachers_2021"])
        ),
        # after the gaps, which compile the cohort kernel the forecast uses too
        Stage("forecast", ("gaps",), _forecast, (data, out_dir, seed, notes[2])),
    ]


# Which ready stage a free worker takes first: the longest chains first (a cold run compiles
# the classes' and the forecast's kernels for about 20 s each).
PRIORITY = ("lotteries", "gaps", "forecast", "classes", "supervise_primary")


def _run_stages(stages: list[Stage], workers: int, echo: Callable[[str], None]) -> dict:
    """Run the stages, `workers` at a time in worker processes (in this process if 1), and
    echo each stage's text once it and every stage before it are done; returns their results."""
    results: dict[str, object] = {}
    printed = 0

    def flush():
        nonlocal printed
        while printed < len(stages) and stages[printed].name in results:
            stage = stages[printed]
            result = results[stage.name]
            for line in [stage.heading] if stage.heading else []:
                echo(line)
            for line in result[0] if isinstance(result, tuple) else result:
                echo(line)
            printed += 1

    if workers <= 1:
        for stage in stages:
            results[stage.name] = stage.work(*stage.args)
            flush()
        return results
    rank = {name: k for k, name in enumerate(PRIORITY)}
    waiting = sorted(stages, key=lambda s: rank.get(s.name, len(rank)))
    # spawn: the workers share nothing with this process but the files the stages write
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        running = {}
        while waiting or running:
            # a free worker takes the first ready stage (a worker busy with a stage would
            # hold a stage submitted behind it although another worker is free)
            for stage in [s for s in waiting if all(a in results for a in s.after)]:
                if len(running) >= workers:
                    break
                waiting.remove(stage)
                running[pool.submit(stage.work, *stage.args)] = stage.name
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                results[running.pop(future)] = future.result()
            flush()
    flush()
    return results


def run_demo(
    out_dir: Path,
    *,
    seed: str = DEMO_SEED,
    force: bool = False,
    echo: Callable[[str], None] = print,
    workers: int = 2,
) -> dict:
    """The demo into `out_dir`; its stages run in `workers` processes (1: in this one), the
    console text and every file the same whatever their number. Returns the lotteries'
    summaries by name."""
    data = embedded_dataset()
    out_dir = Path(out_dir)
    mark = out_dir / DEMO_MARK
    if out_dir.is_dir() and any(out_dir.iterdir()) and not mark.exists() and not force:
        raise FileExistsError(
            f"{out_dir} is not empty and not a demo folder; choose another --out (or --force)"
        )
    if mark.exists():
        echo(f"替换上次的演示结果 replacing the earlier demo in {out_dir}")
        # Everything in a folder carrying the demo's mark is the demo's: start it afresh, so
        # no file of an earlier demo (or of an older seats) stays behind.
        for child in out_dir.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    # the demo's own folder: every part of it is replaced (the stages pass force=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    mark.write_text("made by `seats demo`; a new demo replaces this folder\n", encoding="utf-8")
    secret = out_dir / DEMO_SECRET
    secret.write_text(
        hashlib.sha256(f"seats demo district secret\n{seed}".encode()).hexdigest() + "\n",
        encoding="utf-8",
    )
    results = _run_stages(_stages(data, out_dir, seed), workers, echo)
    return results["lotteries"][1]
