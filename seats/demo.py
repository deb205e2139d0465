"""`seats demo`: the year's work on the embedded Xinghualing district, end to end.

The 2021 kindergarten lottery (志愿优先, by the kindergarten policy) and the 2021 primary lottery
(deferred acceptance, then every child still unplaced seated at the nearest primary school with
seats left), each into its own audited run folder under the demo folder; then, as a supervisor
would, the public list and the report of each draw; the balanced grade-1 classes of every primary
school and their teacher teams; and a verification that re-runs every draw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from seats.classes import form_classes
from seats.classes.teachers import assign_teachers
from seats.io.model import embedded_dataset
from seats.lottery.run import RunOptions, RunSummary, run_lottery
from seats.supervision.publish import publish_results
from seats.supervision.report import write_report
from seats.supervision.verify import verify_run
from sim.forecast import run_forecast
from sim.gap import run_gap

DEMO_SEED = "Xinghualing 2021 demo seed"
FORECAST_RUNS = 1_000


@dataclass(frozen=True)
class DemoLottery:
    name: str
    level: str
    applicants: str
    policy: str
    fallback: str | None


DEMO_LOTTERIES = (
    DemoLottery(
        "kindergarten_2021",
        "kindergarten",
        "applicants_kindergarten_2021.csv",
        "policy_kindergarten.toml",
        None,
    ),
    DemoLottery(
        "primary_2021", "primary", "applicants_primary_2021.csv", "policy_primary.toml", "nearest"
    ),
)


def run_demo(
    out_dir: Path,
    *,
    seed: str = DEMO_SEED,
    force: bool = False,
    echo: Callable[[str], None] = print,
) -> dict[str, RunSummary]:
    data = embedded_dataset()
    out_dir.mkdir(parents=True, exist_ok=True)
    summaries = {}
    for job in DEMO_LOTTERIES:
        echo(f"== {job.name} lottery ({job.level}) ==")
        summary = run_lottery(
            data / "schools.csv",
            data / job.applicants,
            out_dir / job.name,
            RunOptions(seed=seed, level=job.level, fallback=job.fallback),
            policy_path=data / job.policy,
            zones_path=data / "zones.csv" if job.fallback else None,
            force=force,
            command=["seats", "demo"],
        )
        echo(summary.render())
        summaries[job.name] = summary
    echo("== 2021 grade-1 classes (均衡编班) of every primary school ==")
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
    for level in ("kindergarten", "primary"):
        echo(f"== where {level} seats are missing (2021 applicants, building plan) ==")
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
    echo("== supervision: public lists (公示名单) and supervisor's reports ==")
    for name in summaries:
        echo(publish_results(out_dir / name, out_dir / f"{name}_public", force=force).render())
        echo(write_report(out_dir / name, out_dir / f"{name}_report.pdf").render())
    echo("== supervision: re-running every draw from its folder ==")
    for name in [*summaries, "classes_2021", "teachers_2021"]:
        report = verify_run(out_dir / name)
        if not report.verified:
            raise RuntimeError(f"{name}: the audit does not verify: {report.problems}")
        echo(f"{out_dir / name}: verified ({'; '.join(report.notes[1:])})")
    echo(f"== forecast 2021-2030, {FORECAST_RUNS:,} Monte Carlo runs ==")
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
