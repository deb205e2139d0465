"""`seats lottery run`: validated inputs -> allocation -> result files + audit log, all or nothing.

A run folder holds everything needed to check it: ``inputs/`` (byte copies of the input files),
``assignments.csv``, ``waitlists.csv``, ``schools.csv`` and the hash-chained ``audit.jsonl``.
"""

from __future__ import annotations

import contextlib
import gc
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seats.io.audit import AUDIT_FILE, AuditLog, RecordedRun, library_versions
from seats.io.csv_columns import Column, Vocabulary, numbers_vocabulary, write_columns
from seats.io.errors import InputError, Problem
from seats.io.output import (
    check_output_folder,
    copy_input,
    sha256_file,
    staged_output,
    write_csv,
)
from seats.lottery.allocation import ASSIGNED, INELIGIBLE, PLACED, Allocation, allocate
from seats.lottery.commitment import check_against_commitment, load_commitment
from seats.lottery.fallback import fallback_nearest
from seats.lottery.numbers import lottery_message
from seats.lottery.priorities import unknown_categories
from seats.lottery.problem import Lottery, input_paths, load_lottery
from seats.lottery.results import SchoolResult, school_results, tier_names_at, waitlists
from seats.lottery.seed import canonical_seed

INPUTS = "inputs"
ASSIGNMENTS, WAITLISTS, SCHOOL_RESULTS = "assignments.csv", "waitlists.csv", "schools.csv"
ASSIGNMENT_COLUMNS = [
    "applicant_id",
    "status",
    "school_id",
    "school_name",
    "choice_rank",
    "tier",
    "lottery_number",
    "reserve",
    "distance_km",
    "reason",
]
OUTPUT_FILES = (ASSIGNMENTS, WAITLISTS, SCHOOL_RESULTS)
COMMITMENT_FILE = "commitment.json"
LOTTERY_TOOL = "seats lottery run"


@dataclass
class RunOptions:
    """What the draw depends on besides the input files; recorded so that it can be re-run."""

    seed: str = ""
    seed_parts: list[str] | None = None  # public parts joined into the seed (seats.lottery.seed)
    level: str | None = None
    sector: str | None = None  # e.g. public: the public kindergartens' lottery
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
    ineligible: int = 0
    fallback_km: list[float] = field(default_factory=list)  # 统筹 distances, per child
    head: str = ""  # hash of the audit log's last record: publish it after the draw

    def render(self) -> str:
        placed = sum(self.by_choice_rank.values())
        lines = [
            f"{self.applicants:,} applicants -> {self.out_dir}",
            f"  placed by choice: {placed:,}",
        ]
        for rank, count in sorted(self.by_choice_rank.items()):
            lines.append(f"    choice {rank}: {count:,} ({count / max(self.applicants, 1):.1%})")
        if self.assigned:
            lines.append(f"  assigned to the nearest school with seats (统筹): {self.assigned:,}")
            if self.fallback_km:
                km = np.array(self.fallback_km)
                lines.append(
                    f"    distance: median {np.median(km):.2f} km, "
                    f"90th percentile {np.percentile(km, 90):.2f} km, farthest {km.max():.2f} km"
                )
        if self.ineligible:
            lines.append(
                f"  ineligible (birth date outside the policy's window): {self.ineligible:,}"
            )
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
    apps = result.lottery.applicants
    ids = Vocabulary.of(apps.ids)
    # assignments.csv on a thread of its own while the other two are made (the compiled
    # writer and the file writes let go of the GIL; a vocabulary needing write_csv gains
    # nothing, and loses nothing)
    with ThreadPoolExecutor(1) as writer:
        assignments = writer.submit(
            write_columns,
            out / ASSIGNMENTS,
            ASSIGNMENT_COLUMNS,
            [Column(np.arange(len(apps), dtype=np.int64), ids), *_assignment_columns(result)],
        )
        counts = _write_waitlists_and_schools(out, result, ids)
        counts[ASSIGNMENTS] = assignments.result()
    return counts


def _write_waitlists_and_schools(out: Path, result: Draw, ids: Vocabulary) -> dict[str, int]:
    lottery, wait_school, wait_app = result.lottery, result.wait_school, result.wait_app
    schools, names = lottery.schools, lottery.policy.tier_names
    counts = {}
    position = np.arange(len(wait_school)) - np.searchsorted(wait_school, wait_school)
    counts[WAITLISTS] = write_columns(
        out / WAITLISTS,
        ["school_id", "position", "applicant_id"],
        [
            Column(wait_school.astype(np.int64), Vocabulary.of(schools.ids)),
            Column(position + 1, numbers_vocabulary(int(position.max(initial=0)) + 1)),
            Column(wait_app.astype(np.int64), ids),
        ],
    )

    school_names = schools.table.text("name", required=False)
    counts[SCHOOL_RESULTS] = write_csv(
        out / SCHOOL_RESULTS,
        [
            "school_id",
            "name",
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
            *[f"reserve_{r.name}" for r in lottery.policy.reserves],
            "excess",
        ],
        (
            [
                r.school_id,
                school_names[k],
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
                *r.reserve_filled,
                r.excess,
            ]
            for k, r in enumerate(result.results)
        ),
    )
    return counts


def _assignment_columns(result: Draw) -> list[Column]:
    """Columns status .. reason of assignments.csv (ASSIGNMENT_COLUMNS after applicant_id);
    school_name from the schools file's ``name`` column where it has one.

    Placed: the school, 1-based rank in the expanded choice list, the unit's tier and reserve
    there, and the applicant's own lottery number at that school (tie-break form). Everyone
    else eligible: the single-form number (统筹-assigned ones also their school and distance).
    Ineligible: the reason, nothing else. Built as codes into small vocabularies (school ids,
    tier names, ...): no Python step per cell.
    """
    lottery, allocation = result.lottery, result.allocation
    apps, prio = lottery.applicants, allocation.priorities
    n = len(apps)
    placed = allocation.status == PLACED
    ineligible = allocation.status == INELIGIBLE
    entry = (apps.choice_ptr[:-1] + allocation.rank)[placed]
    school = allocation.school.astype(np.int64)  # -1: none

    rank = np.where(placed, allocation.rank.astype(np.int64) + 1, -1)
    lists = tier_names_at(lottery)
    tier = np.full(n, -1, dtype=np.int64)
    first_of_list = np.cumsum([0] + [len(names) for names in lists[:-1]])
    school_list = (
        lottery.tier_list[apps.choice_school[entry]]
        if len(lists) > 1
        else np.zeros(len(entry), int)
    )
    tier[placed] = first_of_list[school_list] + prio.unit_tier[entry]
    # The lottery number, as hex of its digest: at the placed school (tie-break form) for the
    # placed, the single form for everyone else eligible, none for the ineligible.
    digests = prio.applicant_digest
    if prio.entry_digest is not None and placed.any():
        rows = np.frombuffer(digests, np.uint8).reshape(-1, 32).copy()
        rows[placed] = np.frombuffer(prio.entry_digest, np.uint8).reshape(-1, 32)[entry]
        digests = rows.tobytes()
    hexed = np.frombuffer(digests.hex().encode(), np.uint8).reshape(-1, 64)
    number = np.where(ineligible, -1, np.arange(n, dtype=np.int64))
    reserve = np.full(n, -1, dtype=np.int64)
    if lottery.policy.reserves:
        under = placed & (allocation.reserve >= 0)
        reserve[under] = allocation.reserve[under]
    assigned = allocation.status == ASSIGNED
    distance = np.full(n, -1, dtype=np.int64)
    distance[assigned] = np.arange(int(assigned.sum()))
    reason = lottery.reason if lottery.reason is not None else [""] * n
    school_ids = Vocabulary.of(lottery.schools.ids)
    names = Vocabulary.of(lottery.schools.table.text("name", required=False))
    return [
        Column.coded(allocation.status.tolist()),
        Column(school, school_ids),
        Column(school, names),
        Column(rank, numbers_vocabulary(int(rank.max(initial=0)))),
        Column(tier, Vocabulary.of([name for names in lists for name in names])),
        Column(number, Vocabulary.fixed(hexed)),
        Column(reserve, Vocabulary.of([r.name for r in lottery.policy.reserves])),
        Column(
            distance,
            Vocabulary.of([f"{d:.3f}" for d in allocation.distance[assigned].tolist()]),
        ),
        Column.coded(reason),
    ]


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


def _copy_and_hash(source: Path, folder: Path, role: str, out: Path) -> tuple[str, str]:
    """The input's copy in the run folder: (its path there, its SHA-256)."""
    relative = copy_input(source, folder, role, out)
    return relative, sha256_file(out / relative)


@contextlib.contextmanager
def _frozen_once_made():
    """Python's cyclic collector off while the block makes long-lived objects; when it ends
    without an error they are frozen (gc.freeze: left out of every later collection's walk)
    before the collector is on again. The caller unfreezes them (gc.unfreeze)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        if enabled:
            gc.enable()


def run_lottery(
    schools_path: Path,
    applicants_path: Path,
    out_dir: Path,
    options: RunOptions,
    *,
    policy_path: Path | None = None,
    zones_path: Path | None = None,
    catchments_path: Path | None = None,
    communities_path: Path | None = None,
    commitment_path: Path | None = None,
    force: bool = False,
    command: list[str] | None = None,
) -> RunSummary:
    """Validate, draw and write a lottery run folder (all or nothing)."""
    paths = input_paths(
        schools_path, applicants_path, policy_path, zones_path, catchments_path, communities_path
    )
    if options.fallback == "nearest" and "zones" not in paths and "communities" not in paths:
        raise InputError(
            Problem(
                "--fallback",
                None,
                None,
                "the 统筹 stage needs where children live: give --zones (zone centres) or "
                "--communities (community points)",
            )
        )
    commitment = None
    if commitment_path is not None:
        commitment = load_commitment(commitment_path)
        committed = {
            "level": options.level,
            "sector": options.sector,
            "fallback": options.fallback,
            "encoding": options.encoding,
        }
        check_against_commitment(commitment, paths, committed, str(commitment_path))
    protect = [Path(p) for p in (*paths.values(), commitment_path) if p is not None]
    check_output_folder(Path(out_dir), force, protect)
    # A national file's columns are lists of millions of strings, alive to the end of the run.
    # While they are made, every collection that reading and checking trigger walks them again
    # (0.27 s in all), so the collector is off; then they are frozen out of its walks, and what
    # the draw and the writers leave (numba's compiler too, on a cold cache) is collected as
    # usual.
    with _frozen_once_made():
        lottery = load_from(paths, seed_of(options), options)
    try:
        return _draw_and_write(
            lottery, paths, options, out_dir, force, protect, commitment, commitment_path,
            command,
        )  # fmt: skip
    finally:
        gc.unfreeze()


def _draw_and_write(
    lottery: Lottery,
    paths: dict[str, Path],
    options: RunOptions,
    out_dir: Path,
    force: bool,
    protect: list[Path],
    commitment: dict | None,
    commitment_path: Path | None,
    command: list[str] | None,
) -> RunSummary:
    result = draw(lottery, options.fallback)

    # (the hashing threads end before the staging folder is kept or removed)
    with staged_output(out_dir, force, protect) as out, ThreadPoolExecutor(2) as hashing:
        inputs = out / INPUTS
        inputs.mkdir()
        # The inputs copied and hashed, then the outputs hashed, on the second core while
        # this thread writes the results and builds the records (copying and hashlib let go
        # of the GIL): the national draw's 130 MB of inputs and outputs.
        copies = {
            role: hashing.submit(_copy_and_hash, Path(path), inputs, role, out)
            for role, path in paths.items()
            if path is not None
        }
        counts = write_results(out, result)
        digest = {name: hashing.submit(sha256_file, out / name) for name in OUTPUT_FILES}
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
                    **({"sector": options.sector} if options.sector else {}),
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
            "catchments": len(lottery.catchments) if lottery.catchments is not None else None,
            "communities": len(lottery.communities.ids) if lottery.communities else None,
        }
        for role, copied in copies.items():
            relative, sha256 = copied.result()
            log.append(
                "input",
                {
                    "role": role,
                    "file": relative,
                    "sha256": sha256,
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
        log.extend(
            "school",
            (
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
                }
                for r in result.results
            ),
        )
        for name in OUTPUT_FILES:
            log.append(
                "output", {"file": name, "sha256": digest[name].result(), "rows": counts[name]}
            )
        allocation = result.allocation
        log.append(
            "end",
            {
                "applicants": len(lottery.applicants),
                "placed": int((allocation.status == PLACED).sum()),
                "assigned": result.assigned,
                "unplaced": int((allocation.status == "unplaced").sum()),
                **(
                    {"ineligible": ineligible}
                    if (ineligible := int((allocation.status == INELIGIBLE).sum()))
                    else {}
                ),
            },
        )

    summary = _summarise(out_dir, result, len(log.records))
    summary.head = log.records[-1]["hash"]
    return summary


def load_from(paths: dict[str, Path], seed: str, options: RunOptions | dict) -> Lottery:
    """load_lottery on the files of a draw by role (see problem.input_paths)."""
    get = options.get if isinstance(options, dict) else lambda key: getattr(options, key)
    return load_lottery(
        paths["schools"],
        paths["applicants"],
        seed,
        paths.get("policy"),
        zones_path=paths.get("zones"),
        catchments_path=paths.get("catchments"),
        communities_path=paths.get("communities"),
        level=get("level"),
        sector=get("sector"),
        encoding=get("encoding"),
        fallback=get("fallback"),
    )


def replay_lottery(recorded: RecordedRun, inputs: dict[str, Path], out: Path) -> None:
    """Re-run a recorded draw from its inputs into `out` (for `seats audit verify`)."""
    options = recorded.options
    lottery = load_from(inputs, recorded.seed, options)
    if lottery.policy.to_dict() != recorded.run["policy"]:
        raise ValueError("the policy file does not give the policy recorded in the audit log")
    write_results(out, draw(lottery, options["fallback"]))


def _summarise(out_dir: Path, result: Draw, audit_records: int) -> RunSummary:
    lottery, allocation, results = result.lottery, result.allocation, result.results
    ranks, placed_at = np.unique(allocation.rank[allocation.rank >= 0] + 1, return_counts=True)
    by_rank = dict(zip(ranks.tolist(), placed_at.tolist(), strict=True))
    oversubscribed = sorted(
        (
            (r.school_id, r.seats, r.applicants, r.waitlist)
            for r in results
            if r.seats_left == 0 and r.waitlist > 0
        ),
        key=lambda t: (-(t[2] / max(t[1], 1)), t[0]),
    )
    unplaced = int((allocation.status == "unplaced").sum())
    summary = RunSummary(
        out_dir,
        len(lottery.applicants),
        dict(sorted(by_rank.items())),
        int((allocation.status == ASSIGNED).sum()),
        unplaced,
        oversubscribed,
        audit_records,
        ineligible=int((allocation.status == INELIGIBLE).sum()),
        fallback_km=allocation.distance[allocation.status == ASSIGNED].tolist(),
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
