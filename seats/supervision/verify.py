"""`seats audit verify RUN_DIR`: check a run folder without trusting whoever made it.

1. the audit log's hash chain (first edited, missing, reordered or inserted line), and that it
   holds exactly the records a run writes: one run record first, one seed, at most one
   commitment, every file once, inside the folder (never a path leading out of it), one end
   record last; and that the folder holds no file the log does not name;
2. the SHA-256 of every input, output and commitment file against the log (inputs from the run
   folder's copies, or found by digest in `--inputs DIR`);
3. the commitment file itself: it must fix the inputs and options drawn and the seed source
   recorded; and, against what was published outside the folder, `--commitment PUBLISHED.json`
   (or its SHA-256), `--seed-source TEXT` and `--head HASH` (the hash of the log's last record);
4. the run is re-run from the recorded inputs, options and seed into a scratch folder, as a
   whole: every record must come out the same (every figure a record states: counts, cutoffs,
   rows, digests) and every file byte-identical.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from seats.io.audit import (
    AUDIT_FILE,
    MARKER,
    RecordedRun,
    head_of,
    read_chain,
    structure_problems,
    unrecorded_files,
)
from seats.io.errors import InputError
from seats.io.output import sha256_file

Replay = Callable[[RecordedRun, dict[str, Path], Path], None]

# Charts are checked by digest, but not re-rendered for comparison: their pixels may differ
# between matplotlib and font versions while the data they draw cannot.
RENDERINGS = (".png", ".pdf")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def _replay_lottery_run(recorded: RecordedRun, inputs: dict[str, Path], out: Path) -> None:
    """Re-run a lottery as a whole (result files, input copies and audit log) into `out`."""
    from seats.lottery.run import RunOptions, run_lottery

    seed = next(r["payload"] for r in recorded.records if r["kind"] == "seed")
    parts = seed.get("parts")
    options = RunOptions(
        seed="" if parts else seed.get("seed", ""), seed_parts=parts, **recorded.options
    )
    commitment = [r["payload"] for r in recorded.records if r["kind"] == "commitment"]
    run_lottery(
        out_dir=out,
        options=options,
        commitment_path=recorded.run_dir / commitment[0]["file"] if commitment else None,
        command=recorded.run.get("command"),
        **{f"{role}_path": path for role, path in inputs.items()},
    )


def _replays() -> dict[str, Replay]:
    """Tools whose runs can be re-run as a whole, by the `tool` of their run record."""
    from seats import classes
    from seats.classes import teachers
    from seats.lottery.run import LOTTERY_TOOL

    return {
        LOTTERY_TOOL: _replay_lottery_run,
        # These two re-run from the run folder's own inputs/ copies.
        classes.TOOL: lambda recorded, inputs, out: classes.replay_classes(recorded.run_dir, out),
        teachers.TOOL: lambda recorded, inputs, out: teachers.replay_teachers(
            recorded.run_dir, out
        ),
    }


@dataclass
class VerifyReport:
    run_dir: Path
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return not self.problems


def _find_by_digest(folder: Path, digest: str) -> Path | None:
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if sha256_file(path) == digest:
            return path
    return None


def _first_difference(a: bytes, b: bytes) -> int:
    """1-based line number of the first line where two files differ."""
    for number, (x, y) in enumerate(zip(a.split(b"\n"), b.split(b"\n"), strict=False), start=1):
        if x != y:
            return number
    return min(a.count(b"\n"), b.count(b"\n")) + 1


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def verify_run(
    run_dir: Path | str,
    *,
    inputs_dir: Path | None = None,
    commitment: Path | str | None = None,
    seed_source: str | None = None,
    head: str | None = None,
) -> VerifyReport:
    """Verify a run folder; `commitment` (the published commitment file, or its SHA-256),
    `seed_source` and `head` check it against what was published outside the folder."""
    run_dir = Path(run_dir)
    report = VerifyReport(run_dir)
    records, chain_problems = read_chain(run_dir / AUDIT_FILE)
    if chain_problems:
        report.problems += chain_problems
        return report
    report.notes.append(f"{AUDIT_FILE}: chain of {len(records)} records intact")
    report.problems += structure_problems(records, run_dir)
    if report.problems:
        return report
    line_of = {id(r): r["seq"] + 1 for r in records}
    if head is not None:
        if head.strip().lower() != head_of(records):
            report.problems.append(
                f"{AUDIT_FILE}: its head (hash of the last record) {head_of(records)} is not "
                f"the published {head.strip()}"
            )
        else:
            report.notes.append(f"head: {head_of(records)} is the published one")

    # Inputs: the run folder's copy, else a file with the recorded digest in --inputs.
    inputs: dict[str, Path] = {}
    for record in (r for r in records if r["kind"] == "input"):
        entry = record["payload"]
        path = run_dir / entry["file"]
        if not path.is_file() and inputs_dir is not None:
            path = _find_by_digest(inputs_dir, entry["sha256"]) or path
        if not path.is_file():
            hint = (
                f"and no file in {inputs_dir} has its SHA-256"
                if inputs_dir is not None
                else "(give the inputs with --inputs DIR)"
            )
            report.problems.append(f"{entry['file']}: missing {hint}")
            continue
        digest = sha256_file(path)
        if digest != entry["sha256"]:
            report.problems.append(
                f"{entry['file']}: SHA-256 {digest} differs from the audit log's "
                f"{entry['sha256']} (line {line_of[id(record)]}): the input was changed"
            )
        inputs[entry.get("role")] = path

    _check_commitment(records, run_dir, report, line_of)
    _check_published(records, run_dir, report, commitment, seed_source)

    for record in (r for r in records if r["kind"] == "seed"):
        parts = record["payload"].get("parts")
        report.notes.append(
            f"seed: {record['payload'].get('seed')!r}"
            + (f" (joined from the parts {parts})" if parts else "")
        )

    outputs = [r for r in records if r["kind"] == "output"]
    for record in outputs:
        entry = record["payload"]
        path = run_dir / entry["file"]
        if not path.is_file():
            report.problems.append(f"{entry['file']}: missing")
        elif sha256_file(path) != entry["sha256"]:
            report.problems.append(
                f"{entry['file']}: SHA-256 differs from the audit log "
                f"(line {line_of[id(record)]}): the output was changed"
            )
    for name in unrecorded_files(records, run_dir):
        report.problems.append(f"{name}: in the run folder but not recorded in {AUDIT_FILE}")
    if report.problems:
        return report
    report.notes.append(f"digests: {len(inputs)} inputs and {len(outputs)} outputs match the log")

    tool = records[0]["payload"].get("tool")
    replay = _replays().get(tool)
    if replay is None:
        report.problems.append(f"cannot re-run a run of {tool!r}")
        return report
    scratch = Path(tempfile.mkdtemp(prefix="seats-verify-"))
    again_dir = scratch / "run"
    try:
        try:
            replay(RecordedRun(run_dir, records, []), inputs, again_dir)
        except (InputError, ValueError, TypeError, KeyError, FileExistsError) as err:
            report.problems.append(f"re-running the draw failed: {err}")
            return report
        compared = _compare_files(run_dir, again_dir, inputs_dir is not None, report.problems)
        if not report.problems:  # the files agree: then every figure the records state must too
            again, _ = read_chain(again_dir / AUDIT_FILE)
            report.problems += _compare_records(records, again, report.notes)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if not report.problems:
        report.notes.append(
            f"re-run: every record the same, {compared} outputs byte-identical "
            f"(head {head_of(records)})"
        )
    return report


def _check_commitment(records, run_dir: Path, report: VerifyReport, line_of) -> None:
    """The commitment file itself (not only its record): it must fix the inputs drawn, the
    options of the draw and the seed source the record states."""
    from seats.lottery.commitment import COMMITTED_OPTIONS, load_commitment

    recorded_inputs = {
        r["payload"].get("role"): r["payload"]["sha256"] for r in records if r["kind"] == "input"
    }
    options = records[0]["payload"].get("options") or {}
    for record in (r for r in records if r["kind"] == "commitment"):
        before = len(report.problems)
        payload, line = record["payload"], line_of[id(record)]
        path = run_dir / payload["file"]
        if not path.is_file():
            report.problems.append(f"{payload['file']}: missing")
            continue
        if sha256_file(path) != payload["sha256"]:
            report.problems.append(f"{payload['file']}: differs from the audit log")
            continue
        try:
            committed = load_commitment(path)
        except InputError as err:
            report.problems.append(f"{payload['file']}: {err}")
            continue
        if committed.get("inputs") != payload.get("inputs"):
            report.problems.append(
                f"{payload['file']}: fixes other inputs than its record (line {line}) states"
            )
        if committed.get("seed_source") != payload.get("seed_source"):
            report.problems.append(
                f"{payload['file']}: announces the seed source "
                f"{_short(committed.get('seed_source'))}, its record (line {line}) "
                f"{_short(payload.get('seed_source'))}"
            )
        entries = committed.get("inputs") or {}
        for role in sorted(set(entries) | set(recorded_inputs), key=str):
            entry = entries.get(role)
            digest = entry.get("sha256") if isinstance(entry, dict) else None
            if role not in recorded_inputs:
                report.problems.append(f"commitment: the committed {role} file was not drawn")
            elif digest != recorded_inputs[role]:
                report.problems.append(
                    f"commitment (line {line}): the {role} file drawn is not the committed one"
                )
        fixed = committed.get("options") or {}
        for key in COMMITTED_OPTIONS:
            if fixed.get(key) != options.get(key):
                report.problems.append(
                    f"commitment: fixes --{key} {fixed.get(key)!r}, the run used "
                    f"{options.get(key)!r}"
                )
        if len(report.problems) == before:
            report.notes.append(
                f"commitment: inputs match the commitment "
                f"(seed source: {committed.get('seed_source')})"
            )


def _check_published(
    records, run_dir: Path, report: VerifyReport, published, seed_source: str | None
) -> None:
    """The run against what was published before the draw: the commitment (file or SHA-256)
    and the seed source it announced."""
    if published is None and seed_source is None:
        return
    found = [r["payload"] for r in records if r["kind"] == "commitment"]
    if not found:
        report.problems.append(
            "commitment: the run records no commitment, but one was published "
            "(it was drawn without --commitment, or the record was removed)"
        )
        return
    payload = found[0]
    if published is not None:
        text = str(published).strip()
        if _SHA256.fullmatch(text) and not Path(text).is_file():
            digest, what = text.lower(), "the published SHA-256"
        else:
            digest, what = sha256_file(Path(published)), f"the published {published}"
        if digest != payload["sha256"]:
            report.problems.append(
                f"{payload['file']}: SHA-256 {payload['sha256']} is not {what} ({digest}): the "
                "run's commitment is not the one published"
            )
        else:
            report.notes.append(f"commitment: the published one ({digest})")
    if seed_source is not None:
        stated = " ".join(str(payload.get("seed_source", "")).split())
        if stated != " ".join(seed_source.split()):
            report.problems.append(
                f"commitment: announces the seed source {_short(stated)}, not the published "
                f"{_short(seed_source)}"
            )


def _compare_records(records: list[dict], again: list[dict], notes: list[str]) -> list[str]:
    """Every record the same as the re-run writes it (time aside; tool versions noted)."""
    for n, (ours, theirs) in enumerate(zip(records, again, strict=False), start=1):
        where = f"{AUDIT_FILE}:{n}"
        if ours.get("kind") != theirs.get("kind"):
            return [
                f"{where}: the log has a {ours.get('kind')!r} record where re-running writes "
                f"{theirs.get('kind')!r}: records were added, removed or changed"
            ]
        mine, real = dict(ours["payload"]), dict(theirs["payload"])
        if ours["kind"] == "run" and mine.pop("versions", None) != real.pop("versions", None):
            notes.append("note: re-run with other library versions than the run's")
        if mine != real:
            keys = sorted({*mine, *real}, key=str)
            diffs = [
                f"{key} = {_short(mine.get(key))}, re-running gives {_short(real.get(key))}"
                for key in keys
                if mine.get(key) != real.get(key)
            ]
            return [f"{where}: the {ours['kind']} record states {'; '.join(diffs[:3])}"]
    if len(records) != len(again):
        return [
            f"{AUDIT_FILE}: the log has {len(records)} records, re-running writes {len(again)}: "
            "records were added or removed"
        ]
    return []


def _files(folder: Path) -> set[str]:
    return {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name not in (AUDIT_FILE, MARKER)
    }


def _compare_files(run_dir: Path, again_dir: Path, inputs_elsewhere: bool, problems) -> int:
    """Every file of the re-run byte-identical in the run folder (renderings by digest only);
    returns how many outputs were compared."""
    here, there = _files(run_dir), _files(again_dir)
    if inputs_elsewhere:
        there = {name for name in there if name in here or not name.startswith("inputs/")}
    for name in sorted(there - here):
        problems.append(f"{name}: re-running writes it, the run folder lacks it")
    compared = 0
    for name in sorted(here & there):
        if name.endswith(RENDERINGS):
            continue
        again, original = (again_dir / name).read_bytes(), (run_dir / name).read_bytes()
        if again != original:
            problems.append(
                f"{name}: re-running the draw gives different content (first difference "
                f"at line {_first_difference(again, original)})"
            )
        elif not name.startswith("inputs/"):
            compared += 1
    return compared
