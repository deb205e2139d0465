"""`seats lottery run`: validated inputs -> allocation -> result files + audit log, all or nothing.

A run folder holds everything needed to check it: ``inputs/`` (byte copies of the input files),
``assignments.csv``, ``waitlists.csv``, ``schools.csv`` and the hash-chained ``audit.jsonl``.
"""

from __future__ import annotations

import platform
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import seats
from seats.audit import AUDIT_FILE, AuditLog
from seats.commitment import check_against_commitment, load_commitment
from seats.lottery import (
    ASSIGNED,
    PLACED,
    Allocation,
    Lottery,
    SchoolResult,
    allocate,
    fallback_nearest,
    load_lottery,
    lottery_message,
    school_results,
    waitlists,
)
from seats.output import check_output_folder, sha256_file, staged_output, write_csv
from seats.seed import canonical_seed

INPUTS = "inputs"
ASSIGNMENTS, WAITLISTS, SCHOOL_RESULTS = "assignments.csv", "waitlists.csv", "schools.csv"
OUTPUT_FILES = (ASSIGNMENTS, WAITLISTS, SCHOOL_RESULTS)
COMMITMENT_FILE = "commitment.json"
LOTTERY_TOOL = "seats lottery run"


@dataclass
class RunOptions:
    """What the draw depends on besides the input files; recorded so that it can be re-run."""

    seed: str = ""
    seed_parts: list[str] | None = None  # public parts joined into the seed (seats.seed)
    level: str | None = None
    fallback: str | None = None  # None or "nearest"
    encoding: str | None = None


@dataclass
class RunSummary:
    out_dir: Path
    applicants: int
    by_choice_rank: dict[int, int]
    assigned: int
    unplaced: int
    oversubscribed: list[tuple[str, int, int, int]]  # school_id, seats, applicants, waitlist
    audit_records: int = 0
    messages: list[str] = field(default_factory=list)

    def render(self) -> str:
        placed = sum(self.by_choice_rank.values())
        lines = [
            f"{self.applicants:,} applicants -> {self.out_dir}",
            f"  placed by choice: {placed:,}",
        ]
        for rank, count in sorted(self.by_choice_rank.items()):
            lines.append(f"    choice {rank}: {count:,} ({count / max(self.applicants, 1):.1%})")
        if self.assigned:
            lines.append(f"  assigned to the nearest school with seats: {self.assigned:,}")
        lines.append(f"  unplaced: {self.unplaced:,}")
        lines.append(f"  oversubscribed schools: {len(self.oversubscribed)}")
        for school_id, seats_, applicants, waiting in self.oversubscribed[:10]:
            lines.append(
                f"    {school_id}: {applicants:,} applicants for {seats_:,} seats, "
                f"{waiting:,} on the waitlist"
            )
        if len(self.oversubscribed) > 10:
            lines.append(f"    ... and {len(self.oversubscribed) - 10} more (see schools.csv)")
        lines += self.messages
        return "\n".join(lines)


def _copy_input(source: Path, inputs: Path, stem: str) -> str:
    """Copy an input byte for byte under a fixed name; returns the path relative to the run."""
    target = inputs / f"{stem}{source.suffix.lower()}"
    shutil.copyfile(source, target)
    return f"{INPUTS}/{target.name}"


def _library_versions() -> dict[str, str]:
    import numba

    return {
        "seats": seats.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
    }


def write_results(out: Path, result: Draw) -> dict[str, int]:
    """Write the three result files into `out`; returns row counts by file name."""
    lottery, allocation = result.lottery, result.allocation
    wait_school, wait_app = result.wait_school, result.wait_app
    apps, schools, prio = lottery.applicants, lottery.schools, allocation.priorities
    names = lottery.policy.tier_names

    def assignment_rows():
        for a, applicant_id in enumerate(apps.ids):
            s, rank, status = (
                int(allocation.school[a]),
                int(allocation.rank[a]),
                allocation.status[a],
            )
            if status == PLACED:
                entry = int(apps.choice_ptr[a]) + rank
                yield [
                    applicant_id,
                    status,
                    schools.ids[s],
                    rank + 1,
                    names[prio.tier[entry]],
                    prio.entry_number(entry, a),
                ]
            elif status == ASSIGNED:
                yield [applicant_id, status, schools.ids[s], "", "", prio.applicant_number(a)]
            else:
                yield [applicant_id, status, "", "", "", ""]

    counts = {
        ASSIGNMENTS: write_csv(
            out / ASSIGNMENTS,
            ["applicant_id", "status", "school_id", "choice_rank", "tier", "lottery_number"],
            assignment_rows(),
        )
    }

    position = np.arange(len(wait_school)) - np.searchsorted(wait_school, wait_school)
    counts[WAITLISTS] = write_csv(
        out / WAITLISTS,
        ["school_id", "position", "applicant_id"],
        (
            [schools.ids[s], p + 1, apps.ids[a]]
            for s, p, a in zip(
                wait_school.tolist(), position.tolist(), wait_app.tolist(), strict=True
            )
        ),
    )

    counts[SCHOOL_RESULTS] = write_csv(
        out / SCHOOL_RESULTS,
        [
            "school_id",
            "seats",
            "applicants",
            "first_choices",
            *[f"applicants_{n}" for n in names],
            "placed",
            "assigned",
            "seats_left",
            "cutoff_tier",
            "cutoff_lottery_number",
            "waitlist",
        ],
        (
            [
                r.school_id,
                r.seats,
                r.applicants,
                r.first_choices,
                *r.by_tier,
                r.placed,
                r.assigned,
                r.seats_left,
                r.cutoff_tier,
                r.cutoff_number,
                r.waitlist,
            ]
            for r in result.results
        ),
    )
    return counts


@dataclass
class Draw:
    """Everything one draw produces, before it is written."""

    lottery: Lottery
    allocation: Allocation
    assigned: int
    wait_school: np.ndarray
    wait_app: np.ndarray
    results: list[SchoolResult]


def draw(lottery: Lottery, fallback: str | None) -> Draw:
    allocation = allocate(lottery)
    assigned = fallback_nearest(lottery, allocation) if fallback == "nearest" else 0
    wait_school, wait_app = waitlists(lottery, allocation)
    results = school_results(lottery, allocation, wait_school)
    return Draw(lottery, allocation, assigned, wait_school, wait_app, results)


def seed_of(options: RunOptions) -> str:
    return canonical_seed(options.seed_parts) if options.seed_parts else options.seed


def run_lottery(
    schools_path: Path,
    applicants_path: Path,
    out_dir: Path,
    options: RunOptions,
    *,
    policy_path: Path | None = None,
    zones_path: Path | None = None,
    commitment_path: Path | None = None,
    force: bool = False,
    command: list[str] | None = None,
) -> RunSummary:
    """Validate, draw and write a lottery run folder (all or nothing)."""
    if options.fallback == "nearest" and zones_path is None:
        raise ValueError("--fallback nearest needs --zones")
    paths = {
        "schools": schools_path,
        "applicants": applicants_path,
        "policy": policy_path,
        "zones": zones_path,
    }
    commitment = None
    if commitment_path is not None:
        commitment = load_commitment(commitment_path)
        check_against_commitment(commitment, paths, str(commitment_path), options.level)
    check_output_folder(Path(out_dir), force)
    lottery = load_lottery(
        schools_path,
        applicants_path,
        seed_of(options),
        policy_path,
        zones_path=zones_path,
        level=options.level,
        encoding=options.encoding,
    )
    result = draw(lottery, options.fallback)

    with staged_output(out_dir, force) as out:
        inputs = out / INPUTS
        inputs.mkdir()
        copies = {
            role: _copy_input(Path(path), inputs, role)
            for role, path in paths.items()
            if path is not None
        }
        counts = write_results(out, result)
        log = AuditLog(out / AUDIT_FILE)
        log.append(
            "run",
            {
                "tool": LOTTERY_TOOL,
                "versions": _library_versions(),
                "command": command or [],
                "policy": lottery.policy.to_dict(),
                "options": {
                    "level": options.level,
                    "fallback": options.fallback,
                    "encoding": options.encoding,
                },
            },
        )
        rows = {
            "schools": len(lottery.schools),
            "applicants": len(lottery.applicants),
            "policy": None,
            "zones": len(lottery.zones.ids) if lottery.zones else None,
        }
        for role, relative in copies.items():
            log.append(
                "input",
                {
                    "role": role,
                    "file": relative,
                    "sha256": sha256_file(out / relative),
                    "rows": rows[role],
                },
            )
        if commitment is not None:
            shutil.copyfile(commitment_path, inputs / COMMITMENT_FILE)
            log.append(
                "commitment",
                {
                    "file": f"{INPUTS}/{COMMITMENT_FILE}",
                    "sha256": sha256_file(inputs / COMMITMENT_FILE),
                    "seed_source": commitment.get("seed_source", ""),
                    "inputs": commitment["inputs"],
                },
            )
        example = lottery_message(
            "<seed>",
            "<applicant_id>",
            "<school_id>" if lottery.policy.tie_break == "multiple" else None,
        )
        log.append(
            "seed",
            {
                "seed": lottery.seed,
                "parts": options.seed_parts,
                "joined": "RFC 3797 style: see seats.seed" if options.seed_parts else None,
                "tie_break": lottery.policy.tie_break,
                "lottery_number": f"lowercase hex SHA-256 of the UTF-8 text {example!r}",
            },
        )
        for r in result.results:
            log.append(
                "school",
                {
                    "school_id": r.school_id,
                    "seats": r.seats,
                    "applicants_by_tier": dict(
                        zip(lottery.policy.tier_names, r.by_tier, strict=True)
                    ),
                    "placed": r.placed,
                    "assigned": r.assigned,
                    "cutoff_tier": r.cutoff_tier,
                    "cutoff_lottery_number": r.cutoff_number,
                },
            )
        for name in OUTPUT_FILES:
            log.append(
                "output", {"file": name, "sha256": sha256_file(out / name), "rows": counts[name]}
            )
        allocation = result.allocation
        log.append(
            "end",
            {
                "applicants": len(lottery.applicants),
                "placed": int((allocation.status == PLACED).sum()),
                "assigned": result.assigned,
                "unplaced": int((allocation.school < 0).sum()),
            },
        )

    return _summarise(out_dir, result, len(log.records))


def replay_lottery(records: list[dict], inputs: dict[str, Path], out: Path) -> None:
    """Re-run a recorded draw from its inputs into `out` (for `seats audit verify`)."""
    run = next(r["payload"] for r in records if r["kind"] == "run")
    seed = next(r["payload"] for r in records if r["kind"] == "seed")
    options = run["options"]
    lottery = load_lottery(
        inputs["schools"],
        inputs["applicants"],
        seed["seed"],
        inputs.get("policy"),
        zones_path=inputs.get("zones"),
        level=options["level"],
        encoding=options["encoding"],
    )
    if lottery.policy.to_dict() != run["policy"]:
        raise ValueError("the policy file does not give the policy recorded in the audit log")
    write_results(out, draw(lottery, options["fallback"]))


def _summarise(out_dir: Path, result: Draw, audit_records: int) -> RunSummary:
    lottery, allocation, results = result.lottery, result.allocation, result.results
    by_rank = Counter((allocation.rank[allocation.rank >= 0] + 1).tolist())
    oversubscribed = sorted(
        (
            (r.school_id, r.seats, r.applicants, r.waitlist)
            for r in results
            if r.seats_left == 0 and r.waitlist > 0
        ),
        key=lambda t: (-(t[2] / max(t[1], 1)), t[0]),
    )
    unplaced = int((allocation.school < 0).sum())
    summary = RunSummary(
        out_dir,
        len(lottery.applicants),
        dict(sorted(by_rank.items())),
        int((allocation.status == ASSIGNED).sum()),
        unplaced,
        oversubscribed,
        audit_records,
    )
    if lottery.zones is not None and unplaced:
        summary.messages.append(
            f"  warning: {unplaced:,} applicants could not be seated: every school is full"
        )
    return summary
