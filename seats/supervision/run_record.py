"""A run folder as the report and the public list read it: its audit records, the files the
log names and whether their digests still match, and its CSV rows."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from seats.io.audit import AUDIT_FILE, read_chain, structure_problems
from seats.io.errors import InputError, Problem
from seats.io.output import sha256_file
from seats.io.tables import read_table


@dataclass
class RunRecord:
    """A run folder as its audit log describes it; file digests already checked."""

    run_dir: Path
    records: list[dict]
    audit_sha256: str
    missing: list[str] = field(default_factory=list)  # recorded files absent from the folder

    def payloads(self, kind: str) -> list[dict]:
        return [r["payload"] for r in self.records if r["kind"] == kind]

    def payload(self, kind: str) -> dict | None:
        found = self.payloads(kind)
        return found[0] if found else None

    @property
    def run(self) -> dict:
        return self.payload("run") or {}

    @property
    def seed(self) -> str:
        return (self.payload("seed") or {}).get("seed", "")

    @property
    def tie_break(self) -> str:
        return (self.payload("seed") or {}).get("tie_break", "single")

    @property
    def time(self) -> str:
        return self.records[0].get("time", "")

    @property
    def created(self) -> dt.datetime | None:
        """The run's recorded time: fixes the PDF CreationDate so that output is reproducible."""
        try:
            return dt.datetime.strptime(self.time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            return None

    def file_digests(self) -> list[tuple[str, str, int | None, str]]:
        """(kind, file, rows, sha256) of every file the log names, in log order."""
        return [
            (r["kind"], r["payload"]["file"], r["payload"].get("rows"), r["payload"]["sha256"])
            for r in self.records
            if r["kind"] in ("input", "commitment", "output") and "sha256" in r["payload"]
        ]

    def input_path(self, role: str) -> Path | None:
        for payload in self.payloads("input"):
            if payload.get("role") == role and (self.run_dir / payload["file"]).exists():
                return self.run_dir / payload["file"]
        return None


def read_run(run_dir: Path) -> RunRecord:
    """Read and check a run folder: the audit chain must hold and every recorded file that is
    present must have its recorded SHA-256, else InputError (what we print must match the files).
    Inputs may be absent (a run verified with `--inputs DIR` keeps them elsewhere)."""
    run_dir = Path(run_dir)
    audit = run_dir / AUDIT_FILE
    if not audit.is_file():
        raise FileNotFoundError(f"{audit} is missing: is {run_dir} a run folder?")
    records, broken = read_chain(audit)
    if broken:
        raise InputError(
            [Problem(str(run_dir), None, None, f"{b}; run `seats audit verify`") for b in broken]
        )
    structure = structure_problems(records, run_dir)  # e.g. a file recorded outside the folder
    if structure:
        raise InputError([Problem(str(run_dir), None, None, p) for p in structure])
    run = RunRecord(run_dir, records, sha256_file(audit))
    problems = []
    for kind, name, _rows, digest in run.file_digests():
        path = run_dir / name
        if not path.is_file():
            if kind == "output":
                problems.append(Problem(str(run_dir), None, None, f"{name} is missing"))
            else:
                run.missing.append(name)
        elif sha256_file(path) != digest:
            problems.append(
                Problem(
                    str(run_dir),
                    None,
                    None,
                    f"{name} does not match its SHA-256 in {AUDIT_FILE}; run `seats audit verify`",
                )
            )
    if problems:
        raise InputError(problems)
    return run


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def school_names(run: RunRecord) -> dict[str, str]:
    """school_id -> name from the run's copy of the schools file ({} without a name column)."""
    path = run.input_path("schools")
    if path is None:
        return {}
    encoding = run.run.get("options", {}).get("encoding")
    table = read_table(path, encoding=encoding, name=path.name)
    if not table.has("name"):
        return {}
    return dict(zip(table.text("school_id"), table.text("name", required=False), strict=True))


# --- PDF pages ------------------------------------------------------------------------------
