"""`seats audit verify RUN_DIR`: check a run folder without trusting whoever made it.

1. the audit log's hash chain (first edited, missing, reordered or inserted line);
2. the SHA-256 of every input and output file against the log (inputs from the run folder's
   copies, or found by digest in `--inputs DIR`);
3. a commitment, if recorded, fixes the same inputs;
4. the draw is re-run from the recorded inputs, policy and seed, and every output must come out
   byte-identical.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from seats.io.audit import AUDIT_FILE, RecordedRun, read_chain
from seats.io.errors import InputError
from seats.io.output import sha256_file

Replay = Callable[[RecordedRun, dict[str, Path], Path], None]

# Charts are checked by digest, but not re-rendered for comparison: their pixels may differ
# between matplotlib and font versions while the data they draw cannot.
RENDERINGS = (".png", ".pdf")


def _replays() -> dict[str, Replay]:
    """Tools whose runs can be re-run, by the `tool` of their run record."""
    from seats import classes
    from seats.classes import teachers
    from seats.lottery.run import LOTTERY_TOOL, replay_lottery

    return {
        LOTTERY_TOOL: replay_lottery,
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


def verify_run(run_dir: Path | str, *, inputs_dir: Path | None = None) -> VerifyReport:
    run_dir = Path(run_dir)
    report = VerifyReport(run_dir)
    records, chain_problems = read_chain(run_dir / AUDIT_FILE)
    if chain_problems:
        report.problems += chain_problems
        return report
    report.notes.append(f"{AUDIT_FILE}: chain of {len(records)} records intact")
    line_of = {id(r): r["seq"] + 1 for r in records}

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
        inputs[entry["role"]] = path

    recorded_inputs = {
        r["payload"]["role"]: r["payload"]["sha256"] for r in records if r["kind"] == "input"
    }
    for record in (r for r in records if r["kind"] == "commitment"):
        before = len(report.problems)
        for role, entry in record["payload"]["inputs"].items():
            if recorded_inputs.get(role) != entry["sha256"]:
                report.problems.append(
                    f"commitment (line {line_of[id(record)]}): the {role} "
                    "file drawn is not the committed one"
                )
        path = run_dir / record["payload"]["file"]
        if not path.is_file():
            report.problems.append(f"{record['payload']['file']}: missing")
        elif sha256_file(path) != record["payload"]["sha256"]:
            report.problems.append(f"{record['payload']['file']}: differs from the audit log")
        if len(report.problems) == before:
            report.notes.append(
                f"commitment: inputs match the commitment "
                f"(seed source: {record['payload']['seed_source']})"
            )

    for record in (r for r in records if r["kind"] == "seed"):
        parts = record["payload"].get("parts")
        report.notes.append(
            f"seed: {record['payload']['seed']!r}"
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
    if report.problems:
        return report
    report.notes.append(f"digests: {len(inputs)} inputs and {len(outputs)} outputs match the log")

    tool = records[0]["payload"].get("tool")
    replay = _replays().get(tool)
    if replay is None:
        report.problems.append(f"cannot re-run a run of '{tool}'")
        return report
    scratch = Path(tempfile.mkdtemp(prefix="seats-verify-"))
    try:
        try:
            replay(RecordedRun(run_dir, records, []), inputs, scratch)
        except (InputError, ValueError) as err:
            report.problems.append(f"re-running the draw failed: {err}")
            return report
        compared = [r for r in outputs if not r["payload"]["file"].endswith(RENDERINGS)]
        for record in compared:
            name = record["payload"]["file"]
            again, original = (scratch / name).read_bytes(), (run_dir / name).read_bytes()
            if again != original:
                report.problems.append(
                    f"{name}: re-running the draw gives different content (first difference "
                    f"at line {_first_difference(again, original)})"
                )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if not report.problems:
        report.notes.append(f"re-run: {len(compared)} outputs byte-identical")
    return report
