"""What a class formation writes: per-class figures and spreads, classes.csv, balance.csv and
the composition chart."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seats.classes.cohort import Cohort
from seats.io.output import write_csv

CLASSES, BALANCE, CHART = "classes.csv", "balance.csv", "classes.png"


OUTPUT_FILES = (CLASSES, BALANCE, CHART)


@dataclass
class ClassFigures:
    school_id: str
    class_no: int
    size: int
    girls: int
    boys: int
    special_needs: int
    migrant: int
    mean_score: float | None
    sd_score: float | None
    mean_birth_day: float
    birth_sd_days: float


def class_figures(cohort: Cohort, school_id: str, class_no: int, pupils: list[int]) -> ClassFigures:
    scores = [float(cohort.score[p]) for p in pupils if cohort.has_score[p]]
    births = [float(cohort.birth_day[p]) for p in pupils]
    mean_birth = math.fsum(births) / len(births)
    mean_score = math.fsum(scores) / len(scores) if scores else None
    return ClassFigures(
        school_id=school_id,
        class_no=class_no,
        size=len(pupils),
        girls=int(sum(cohort.female[p] for p in pupils)),
        boys=int(len(pupils) - sum(cohort.female[p] for p in pupils)),
        special_needs=int(sum(cohort.special[p] for p in pupils)),
        migrant=int(sum(cohort.migrant[p] for p in pupils)),
        mean_score=mean_score,
        sd_score=(
            math.sqrt(math.fsum((s - mean_score) ** 2 for s in scores) / len(scores))
            if scores
            else None
        ),
        mean_birth_day=mean_birth,
        birth_sd_days=math.sqrt(math.fsum((b - mean_birth) ** 2 for b in births) / len(births)),
    )


def spreads(figures: list[ClassFigures]) -> dict[str, float | int | None]:
    """max - min over the classes of one school, per figure."""

    def spread(values):
        values = [v for v in values if v is not None]
        return max(values) - min(values) if values else None

    score = spread(f.mean_score for f in figures)
    return {
        "size": spread(f.size for f in figures),
        "girls": spread(f.girls for f in figures),
        "boys": spread(f.boys for f in figures),
        "special_needs": spread(f.special_needs for f in figures),
        "migrant": spread(f.migrant for f in figures),
        "mean_score": None if score is None else round(score, 2),
        "mean_birth_days": round(spread(f.mean_birth_day for f in figures), 1),
    }


def _iso(day: float) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=round(day))).isoformat()


@dataclass
class SchoolOutcome:
    school_id: str
    pupils: np.ndarray  # cohort indices
    class_no: np.ndarray  # per pupil
    figures: list[ClassFigures]
    serpentine: list[ClassFigures]
    objective_start: int
    objective: int
    lottery: list[dict]


@dataclass
class ClassSummary:
    out_dir: Path
    pupils: int
    outcomes: list[SchoolOutcome]
    campus_shares: list[dict] = field(default_factory=list)
    skipped_requests: int = 0
    audit_records: int = 0

    def worst(self, which: str) -> dict[str, float]:
        out = {}
        for key in ("size", "girls", "special_needs", "migrant", "mean_score"):
            values = [
                spreads(o.figures if which == "after" else o.serpentine)[key]
                for o in self.outcomes
                if len(o.figures) > 1
            ]
            values = [v for v in values if v is not None]
            out[key] = max(values) if values else None
        return out

    def render(self) -> str:
        classes = sum(len(o.figures) for o in self.outcomes)
        lines = [
            f"{self.pupils:,} pupils in {classes:,} classes at {len(self.outcomes)} schools "
            f"-> {self.out_dir}"
        ]
        for share in self.campus_shares:
            lines.append(
                f"  {share['group_id']}: {share['pupils']:,} pupils shared by seats: "
                + ", ".join(f"{c['school_id']} {c['pupils']}" for c in share["campuses"])
            )
        before, after = self.worst("before"), self.worst("after")
        lines.append("  largest spread between classes of one school (max - min):")
        lines.append(f"    {'':<16}{'serpentine':>12}{'balanced':>12}")
        for key, label in (
            ("size", "class size"),
            ("girls", "girls"),
            ("special_needs", "special needs"),
            ("migrant", "migrant"),
            ("mean_score", "mean score"),
        ):
            if after[key] is None:
                continue
            lines.append(f"    {label:<16}{before[key]:>12}{after[key]:>12}")
        if self.skipped_requests:
            lines.append(
                f"  {self.skipped_requests} request rows skipped: their pupils are not formed here"
            )
        return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _write_outputs(out: Path, cohort: Cohort, outcomes: list[SchoolOutcome]) -> dict[str, int]:
    rows = []
    for o in outcomes:
        order = sorted(
            range(len(o.pupils)), key=lambda k: (int(o.class_no[k]), cohort.ids[o.pupils[k]])
        )
        rows += [[cohort.ids[o.pupils[k]], o.school_id, int(o.class_no[k])] for k in order]
    counts = {CLASSES: write_csv(out / CLASSES, ["pupil_id", "school_id", "class_no"], rows)}
    counts[BALANCE] = write_csv(
        out / BALANCE,
        [
            "school_id",
            "class_no",
            "size",
            "girls",
            "boys",
            "special_needs",
            "migrant",
            "mean_score",
            "sd_score",
            "mean_birth_date",
            "birth_sd_days",
        ],
        (
            [
                f.school_id,
                f.class_no,
                f.size,
                f.girls,
                f.boys,
                f.special_needs,
                f.migrant,
                _fmt(f.mean_score),
                _fmt(f.sd_score),
                _iso(f.mean_birth_day),
                f"{f.birth_sd_days:.1f}",
            ]
            for o in outcomes
            for f in o.figures
        ),
    )
    plot_composition(out / CHART, [f for o in outcomes for f in o.figures])
    return counts


def plot_composition(path: Path, figures: list[ClassFigures]) -> None:
    """Per class: girls and boys stacked, special-needs and migrant pupils below; schools are
    separated by a gap and labelled once. Bars are a class wide whatever the number of
    classes, pupil counts are whole numbers on the axes, and the four colours are far apart."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    x, ticks, tick_labels = [], [], []
    position = 0.0
    for k, f in enumerate(figures):
        if k and f.school_id != figures[k - 1].school_id:
            position += 1.0  # a gap between schools
        x.append(position)
        if k == 0 or f.school_id != figures[k - 1].school_id:
            ticks.append(position)
            tick_labels.append(f.school_id)
        position += 1.0
    x = np.array(x)
    girls = np.array([f.girls for f in figures])
    size = np.array([f.size for f in figures])
    width = min(max(6.0, 0.06 * len(figures) + 3.0), 40.0)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(width, 6.0), sharex=True)
    top.bar(x, girls, width=0.85, color="#d95f02", label="girls", linewidth=0)
    top.bar(x, size - girls, bottom=girls, width=0.85, color="#1b9e77", label="boys", linewidth=0)
    top.set_ylabel("pupils")
    top.set_title(f"Class composition: girls and boys in each of the {len(figures)} classes")
    top.legend(loc="lower right", fontsize=8)
    special = [f.special_needs for f in figures]
    migrant = [f.migrant for f in figures]
    bottom.bar(x - 0.21, special, width=0.42, color="#7570b3", label="special needs", linewidth=0)
    bottom.bar(x + 0.21, migrant, width=0.42, color="#e6ab02", label="migrant", linewidth=0)
    bottom.set_ylabel("pupils")
    bottom.legend(loc="upper right", fontsize=8)
    for axis in (top, bottom):
        axis.yaxis.set_major_locator(MaxNLocator(integer=True))  # no half pupils
    bottom.set_xticks(ticks)
    bottom.set_xticklabels(tick_labels, rotation=90, fontsize=7)
    bottom.set_xlim(-1.0, position)
    fig.subplots_adjust(left=0.06, right=0.99, top=0.94, bottom=0.14, hspace=0.08)
    fig.savefig(path, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
