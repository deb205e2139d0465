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
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from seats.classes import form_classes
from seats.classes.teachers import assign_teachers
from seats.io.model import embedded_dataset
from seats.lottery.run import RunOptions, RunSummary, run_lottery
from seats.supervision.codes import write_codes
from seats.supervision.publish import publish_results
from seats.supervision.report import write_report
from seats.supervision.verify import verify_run
from sim.forecast import run_forecast
from sim.gap import run_gap

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
    """COMPILING when numba has no cache yet for `kernel` of `module` (a cold run)."""
    import os

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


def _note_compiling(echo, module, what: str, seconds: int, kernel: str = "*") -> None:
    note = compiling_note(module, what, seconds, kernel)
    if note:
        echo(note)


def run_demo(
    out_dir: Path,
    *,
    seed: str = DEMO_SEED,
    force: bool = False,
    echo: Callable[[str], None] = print,
) -> dict[str, RunSummary]:
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
    force = True  # the demo's own folder: every part of it is replaced
    out_dir.mkdir(parents=True, exist_ok=True)
    mark.write_text("made by `seats demo`; a new demo replaces this folder\n", encoding="utf-8")
    secret = out_dir / DEMO_SECRET
    secret.write_text(
        hashlib.sha256(f"seats demo district secret\n{seed}".encode()).hexdigest() + "\n",
        encoding="utf-8",
    )
    summaries = {}
    for job in DEMO_LOTTERIES:
        echo(f"== {job.name} lottery ({job.level}) ==")
        summary = run_lottery(
            data / "schools.csv",
            data / job.applicants,
            out_dir / job.name,
            RunOptions(seed=seed, level=job.level, sector=job.sector, fallback=job.fallback),
            policy_path=data / job.policy,
            force=force,
            command=["seats", "demo"],
        )
        echo(summary.render())
        summaries[job.name] = summary
    echo("== 2021 grade-1 classes (均衡编班) of every primary school ==")
    from seats.classes import kernels as class_kernels

    _note_compiling(echo, class_kernels, "class kernels", 30, "improve_classes")
    classes = form_classes(
        out_dir / "primary_2021",
        data / "schools.csv",
        seed=seed,
        out_dir=out_dir / "classes_2021",
        requests_path=data / "class_requests_primary_2021.csv",
        force=force,
        command=["seats", "demo"],
    )
    echo(classes.render())
    echo("== their teacher teams (均衡配班) ==")
    teams = assign_teachers(
        out_dir / "classes_2021",
        data / "teachers.csv",
        seed=seed,
        out_dir=out_dir / "teachers_2021",
        force=force,
        command=["seats", "demo"],
    )
    echo(teams.render())
    from sim import cohort_kernels

    for level in ("kindergarten", "primary"):
        echo(f"== where {level} seats are missing (2021 applicants, building plan) ==")
        _note_compiling(echo, cohort_kernels, "planning kernels", 15, "cohort_kernel")
        gap = run_gap(
            data,
            level=level,
            year=2021,
            demand_path=data / f"applicants_{level}_2021.csv",
            plan_path=data / "plan_2021_2025.csv" if level == "kindergarten" else None,
            site_new=3,
            out_dir=out_dir / f"gap_{level}",
            force=force,
        )
        echo(gap.render())
    echo("== 监督：公示名单与监督报告 supervision: public lists and supervisor's reports ==")
    for name, job in zip(summaries, DEMO_LOTTERIES, strict=True):
        codes = write_codes(data / job.applicants, secret, out_dir / f"{name}_codes.csv")
        echo(codes.render())
        published = publish_results(
            out_dir / name, out_dir / f"{name}_public", secret_path=secret, force=force
        )
        echo(published.render())
        echo(write_report(out_dir / name, out_dir / f"{name}_report.pdf", force=force).render())
    echo("== supervision: re-running every draw from its folder ==")
    for name in [*summaries, "classes_2021", "teachers_2021"]:
        report = verify_run(out_dir / name)
        if not report.verified:
            raise RuntimeError(f"{name}: the audit does not verify: {report.problems}")
        echo(f"{out_dir / name}: verified ({'; '.join(report.notes[1:])})")
    echo(f"== forecast 2021-2030, {FORECAST_RUNS:,} Monte Carlo runs ==")
    from sim import mc_kernels

    _note_compiling(echo, mc_kernels, "forecast kernels", 20, "chances_kernel")
    echo(
        run_forecast(
            data,
            years=(2021, 2030),
            runs=FORECAST_RUNS,
            seed=seed,
            out_dir=out_dir / "forecast",
            force=force,
        ).render()
    )
    return summaries
