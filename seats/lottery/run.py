"""`seats lottery run`: validated inputs -> allocation -> result files + audit log, all or nothing.

A run folder holds everything needed to check it: ``inputs/`` (byte copies of the input files),
``assignments.csv``, ``waitlists.csv``, ``schools.csv`` and the hash-chained ``audit.jsonl``.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seats.io.audit import AUDIT_FILE, AuditLog, RecordedRun, library_versions
from seats.io.output import check_output_folder, copy_input, sha256_file, staged_output, write_csv
from seats.lottery.allocation import ASSIGNED, PLACED, Allocation, allocate
from seats.lottery.commitment import check_against_commitment, load_commitment
from seats.lottery.fallback import fallback_nearest
from seats.lottery.numbers import lottery_message
from seats.lottery.priorities import unknown_categories
from seats.lottery.problem import Lottery, load_lottery
from seats.lottery.results import SchoolResult, school_results, waitlists
from seats.lottery.seed import canonical_seed

INPUTS = "inputs"
ASSIGNMENTS, WAITLISTS, SCHOOL_RESULTS = "assignments.csv", "waitlists.csv", "schools.csv"
OUTPUT_FILES = (ASSIGNMENTS, WAITLISTS, SCHOOL_RESULTS)
COMMITMENT_FILE = "commitment.json"
LOTTERY_TOOL = "seats lottery run"


@dataclass
class RunOptions:
    """What the draw depends on besides the input files; recorded so that it can be re-run."""

    seed: str = ""
    seed_parts: list[str] | None = None  # public parts joined into the seed (seats.lottery.seed)
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


def write_results(out: Path, result: Draw) -> dict[str, int]:
    """Write the three result files into `out`; returns row counts by file name."""
    lottery, wait_school, wait_app = result.lottery, result.wait_school, result.wait_app
    apps, schools = lottery.applicants, lottery.schools
    names = lottery.policy.tier_names

    counts = {
        ASSIGNMENTS: _write_columns(
            out / ASSIGNMENTS,
            ["applicant_id", "status", "school_id", "choice_rank", "tier", "lottery_number"],
            [apps.ids, *_assignment_columns(result)],
        )
    }

    school_ids = np.array([*schools.ids, ""], dtype=object)
    position = np.arange(len(wait_school)) - np.searchsorted(wait_school, wait_school)
    counts[WAITLISTS] = _write_columns(
        out / WAITLISTS,
        ["school_id", "position", "applicant_id"],
        [
            school_ids[wait_school].tolist(),
            (position + 1).astype(str).tolist(),
            np.array(apps.ids, dtype=object)[wait_app].tolist(),
        ],
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


def _write_columns(path: Path, header: list[str], columns: list[list[str]]) -> int:
    """:func:`write_csv` of rows given as columns of text (two or more), byte for byte;
    returns the row count.

    When no cell holds a character that makes the csv module quote it (the usual ids, numbers
    and names), the rows are joined directly, several times faster for the millions of rows
    of a national lottery. Otherwise write_csv formats them.
    """
    if any(_csv_special().search("".join(column)) for column in columns):
        return write_csv(path, header, zip(*columns, strict=True))
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(_csv_line(header))
        handle.writelines(",".join(row) + "\n" for row in zip(*columns, strict=True))
    return len(columns[0])


def _csv_line(cells: list[str]) -> str:
    """One CSV row as write_csv writes it."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


@functools.cache
def _csv_special() -> re.Pattern:
    """The ASCII characters that write_csv does not write as they are (it quotes the cell, or
    refuses it), found by asking the csv module; other characters are never special to it."""
    special = []
    for char in map(chr, range(128)):
        try:
            if _csv_line([char, char]) != f"{char},{char}\n":
                special.append(char)
        except csv.Error:
            special.append(char)
    return re.compile(f"[{re.escape(''.join(special))}]")


def _assignment_columns(result: Draw) -> list[list[str]]:
    """Columns status, school_id, choice_rank, tier, lottery_number of assignments.csv.

    Placed: the school, 1-based choice rank, tier and lottery number at that school.
    Assigned by the fallback: the school and the applicant's own lottery number.
    Unplaced: all empty. Built column-wise: no Python step per applicant and cell.
    """
    lottery, allocation = result.lottery, result.allocation
    apps, prio = lottery.applicants, allocation.priorities
    n = len(apps)
    placed = allocation.status == PLACED
    own_number = allocation.status == ASSIGNED
    entry = (apps.choice_ptr[:-1] + allocation.rank)[placed]

    school = np.array([*lottery.schools.ids, ""], dtype=object)[allocation.school]  # -1 -> ""
    rank = np.full(n, "", dtype=object)
    rank[placed] = (allocation.rank[placed] + 1).astype(str)
    tier = np.full(n, "", dtype=object)
    tier[placed] = np.array(lottery.policy.tier_names, dtype=object)[prio.tier[entry]]
    number = np.full(n, "", dtype=object)
    if prio.entry_digest is None:
        own_number |= placed  # single tie-break: the number at every school is the applicant's
    else:
        entry_hex = prio.entry_digest.hex()
        number[placed] = [entry_hex[64 * e : 64 * e + 64] for e in entry.tolist()]
    applicant_hex = prio.applicant_digest.hex()
    number[own_number] = [
        applicant_hex[64 * a : 64 * a + 64] for a in np.flatnonzero(own_number).tolist()
    ]
    return [column.tolist() for column in (allocation.status, school, rank, tier, number)]


@dataclass
class Draw:
    """Everything one draw produces, before it is written."""

    lottery: Lottery
    allocation: Allocation
    assigned: int
    wait_school: np.ndarray
    wait_app: np.ndarray
    results: list[SchoolResult]
    fallback: str | None


def draw(lottery: Lottery, fallback: str | None) -> Draw:
    allocation = allocate(lottery)
    assigned = fallback_nearest(lottery, allocation) if fallback == "nearest" else 0
    wait_school, wait_app = waitlists(lottery, allocation)
    results = school_results(lottery, allocation, wait_school)
    return Draw(lottery, allocation, assigned, wait_school, wait_app, results, fallback)


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
        committed = {
            "level": options.level,
            "fallback": options.fallback,
            "encoding": options.encoding,
        }
        check_against_commitment(commitment, paths, committed, str(commitment_path))
    protect = [Path(p) for p in (*paths.values(), commitment_path) if p is not None]
    check_output_folder(Path(out_dir), force, protect)
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

    with staged_output(out_dir, force, protect) as out:
        inputs = out / INPUTS
        inputs.mkdir()
        copies = {
            role: copy_input(Path(path), inputs, role, out)
            for role, path in paths.items()
            if path is not None
        }
        counts = write_results(out, result)
        log = AuditLog(out / AUDIT_FILE)
        log.append(
            "run",
            {
                "tool": LOTTERY_TOOL,
                "versions": library_versions(),
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
                "joined": "RFC 3797 style: see seats.lottery.seed" if options.seed_parts else None,
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


def replay_lottery(recorded: RecordedRun, inputs: dict[str, Path], out: Path) -> None:
    """Re-run a recorded draw from its inputs into `out` (for `seats audit verify`)."""
    options = recorded.options
    lottery = load_lottery(
        inputs["schools"],
        inputs["applicants"],
        recorded.seed,
        inputs.get("policy"),
        zones_path=inputs.get("zones"),
        level=options["level"],
        encoding=options["encoding"],
    )
    if lottery.policy.to_dict() != recorded.run["policy"]:
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
    if result.fallback == "nearest" and unplaced:
        summary.messages.append(
            f"  warning: {unplaced:,} applicants could not be seated: every school is full"
        )
    for tier, category in unknown_categories(lottery):
        summary.messages.append(
            f"  warning: tier '{tier}' names category '{category}', which no applicant has "
            "(a typo in the policy?)"
        )
    return summary
