"""Hash-chained audit log (audit.jsonl): one JSON record per line, each bound to the one before.

Record: ``{"seq", "time", "kind", "payload", "prev", "hash"}`` where ``prev`` is the SHA-256 of the
previous line's bytes (64 zeros for the first line) and ``hash`` the SHA-256 of the record's
canonical JSON without ``hash`` (keys sorted, no spaces, UTF-8). Editing, removing, reordering or
inserting any line breaks the chain at that line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

GENESIS = "0" * 64
AUDIT_FILE = "audit.jsonl"


def canonical_json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def utc_now() -> str:
    """UTC time of the event; SOURCE_DATE_EPOCH fixes it for byte-reproducible logs."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and not epoch.isdigit():
        from seats.io.errors import InputError, Problem

        raise InputError(
            Problem("SOURCE_DATE_EPOCH", None, None, f"{epoch!r} is not a whole number of seconds")
        )
    moment = dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch else dt.datetime.now(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class AuditLog:
    """Appends chained records to a log file; `records` keeps what was written."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.prev = GENESIS
        self.records: list[dict] = []
        self.path.write_bytes(b"")

    def append(self, kind: str, payload: dict) -> dict:
        record = {
            "seq": len(self.records),
            "time": utc_now(),
            "kind": kind,
            "payload": payload,
            "prev": self.prev,
        }
        record["hash"] = hashlib.sha256(canonical_json(record)).hexdigest()
        line = canonical_json(record)
        with open(self.path, "ab") as handle:
            handle.write(line + b"\n")
        self.prev = hashlib.sha256(line).hexdigest()
        self.records.append(record)
        return record


def read_chain(path: Path) -> tuple[list[dict], list[str]]:
    """The records of an audit log and the first break in its chain, in plain words.

    Checks, line by line: valid JSON; the hash matches the content (else: edited); the line is
    byte for byte the canonical JSON of its record (else: edited, e.g. spaces, duplicate keys
    or CRLF line ends); seq counts up from 0 (else: missing, reordered or inserted lines); prev
    is the SHA-256 of the previous line (else: a line was inserted, removed or replaced before
    it); the last record is "end".
    """
    name = Path(path).name
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        return [], [f"cannot read the audit log: {err.strerror or err}"]
    if not raw.endswith(b"\n"):
        return [], [f"{name}: the last line is incomplete (the log was cut or edited)"]
    lines = raw[:-1].split(b"\n")
    parsed: list[dict | None] = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        parsed.append(record if isinstance(record, dict) else None)
    seqs = [r.get("seq") for r in parsed if r is not None]
    line_of_seq = {r.get("seq"): n for n, r in enumerate(parsed, start=1) if r is not None}

    records: list[dict] = []
    prev = GENESIS
    for number, (line, record) in enumerate(zip(lines, parsed, strict=True), start=1):
        where = f"{name}:{number}"
        if record is None:
            return records, [f"{where}: not a JSON record (the line was edited)"]
        body = {k: v for k, v in record.items() if k != "hash"}
        if hashlib.sha256(canonical_json(body)).hexdigest() != record.get("hash"):
            return records, [f"{where}: the line was edited (its content does not match its hash)"]
        if canonical_json(record) != line:
            return records, [
                f"{where}: the line was edited (it is not byte for byte the record's "
                "canonical JSON: extra spaces, duplicate keys or CRLF line ends)"
            ]
        expected, seq = number - 1, record.get("seq")
        if seq != expected:
            if seqs.count(seq) > 1:
                what = f"a copy of record {seq} was inserted"
            elif line_of_seq.get(expected, 0) > number:
                what = (
                    f"lines were reordered (record {expected} stands on line "
                    f"{line_of_seq[expected]})"
                )
            elif isinstance(seq, int) and seq > expected:
                what = (
                    f"record {expected} is missing"
                    if seq == expected + 1
                    else f"records {expected} to {seq - 1} are missing"
                )
            else:
                what = "a line was inserted (or copied from elsewhere)"
            return records, [f"{where}: holds record {seq} where record {expected} belongs: {what}"]
        if record.get("prev") != prev:
            return records, [
                f"{where}: does not follow line {number - 1} (prev hash differs): a "
                "line was inserted, removed or replaced before it"
            ]
        prev = hashlib.sha256(line).hexdigest()
        records.append(record)
    if not records or records[-1].get("kind") != "end":
        return records, [
            f"{name}:{len(records)}: the log stops without its end record: "
            "lines are missing at the end"
        ]
    return records, []


def library_versions() -> dict[str, str]:
    """The versions a run record states, so that a re-run can be matched to its tools."""
    import platform

    import numba
    import numpy

    from seats import __version__

    return {
        "seats": __version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
    }


@dataclass
class RecordedRun:
    """What a run folder's audit log says: the tool, its options, the seed and the inputs."""

    run_dir: Path
    records: list[dict]
    chain_problems: list[str]

    @classmethod
    def load(cls, run_dir: Path | str) -> RecordedRun:
        run_dir = Path(run_dir)
        records, problems = read_chain(run_dir / AUDIT_FILE)
        if not records or records[0].get("kind") != "run":
            from seats.io.errors import InputError, Problem

            message = problems[0] if problems else "it holds no run record"
            raise InputError(Problem(str(run_dir / AUDIT_FILE), None, None, message))
        return cls(run_dir, records, problems)

    @property
    def run(self) -> dict:
        return self.records[0]["payload"]

    @property
    def tool(self) -> str | None:
        return self.run.get("tool")

    @property
    def options(self) -> dict:
        return self.run.get("options", {})

    @property
    def seed(self) -> str:
        return next(r["payload"]["seed"] for r in self.records if r["kind"] == "seed")

    @property
    def inputs(self) -> dict[str, Path]:
        """Input role -> its copy in the run folder (paths in the log are relative)."""
        return {
            r["payload"]["role"]: self.run_dir / r["payload"]["file"]
            for r in self.records
            if r["kind"] == "input"
        }
