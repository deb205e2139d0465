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
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from seats.io.output import sha256_file

GENESIS = "0" * 64
AUDIT_FILE = "audit.jsonl"
MARKER = ".seats-output"  # seats.io.output.MARKER: left in every folder seats writes
FILE_KINDS = ("input", "commitment", "output")  # the records that name a file of the folder
_SHA256 = re.compile(r"[0-9a-f]{64}")
# The inputs a run of each tool cannot be without (by the `tool` of its run record).
REQUIRED_ROLES = {
    "seats lottery run": ("schools", "applicants"),
    "seats classes form": ("schools",),
    "seats teachers assign": ("classes", "schools", "teachers"),
}


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value) -> bytes:
    return _CANONICAL.encode(value).encode()


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
        return self.extend(kind, [payload])[0]

    def extend(self, kind: str, payloads: Iterable[dict]) -> list[dict]:
        """Append one record of this kind per payload (one file write for all of them: a
        national draw logs one record per school)."""
        lines, records = [], []
        now = utc_now()  # one moment for the records written together
        for payload in payloads:
            record = {
                "seq": len(self.records),
                "time": now,
                "kind": kind,
                "payload": payload,
                "prev": self.prev,
            }
            body = canonical_json(record)
            record["hash"] = hashlib.sha256(body).hexdigest()
            # The canonical JSON with the hash: "hash" sorts before every other key.
            line = b'{"hash":"' + record["hash"].encode() + b'",' + body[1:]
            lines.append(line + b"\n")
            self.prev = hashlib.sha256(line).hexdigest()
            self.records.append(record)
            records.append(record)
        with open(self.path, "ab") as handle:
            handle.write(b"".join(lines))
        return records


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

    @classmethod
    def load_verified(cls, run_dir: Path | str) -> RecordedRun:
        """Like `load`, but refuse a folder whose chain, records or file digests do not verify
        (what explain prints must come from the files the log fixes)."""
        from seats.io.errors import InputError, Problem

        recorded = cls.load(run_dir)
        problems = recorded.chain_problems or structure_problems(recorded.records, recorded.run_dir)
        problems = problems or digest_problems(recorded.records, recorded.run_dir)
        if problems:
            raise InputError(
                [
                    Problem(str(recorded.run_dir), None, None, f"{p}; run `seats audit verify`")
                    for p in problems
                ]
            )
        return recorded

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


def head_of(records: list[dict]) -> str:
    """The chain's head: the hash of its last record, which fixes every record before it.
    Published after the draw, it anchors the log outside the folder (`verify --head`)."""
    return records[-1]["hash"] if records else GENESIS


def recorded_files(records: list[dict]) -> list[tuple[int, dict]]:
    """(line, payload) of every record that names a file of the run folder."""
    return [(r["seq"] + 1, r["payload"]) for r in records if r.get("kind") in FILE_KINDS]


def structure_problems(records: list[dict], run_dir: Path) -> list[str]:
    """What is wrong with the records a run of any kind writes, before any file is opened:
    one run record first and one end record last, exactly one seed, at most one commitment,
    and every file named once, as a relative path inside the run folder (never '..', an
    absolute path or a link leading out of it) with a SHA-256."""
    problems: list[str] = []
    kinds = [r.get("kind") for r in records]
    if not records:
        return ["the audit log holds no records"]
    if kinds[0] != "run" or kinds.count("run") != 1:
        problems.append(f"{AUDIT_FILE}: a run writes exactly one run record, first")
    if kinds[-1] != "end" or kinds.count("end") != 1:
        problems.append(f"{AUDIT_FILE}: a run writes exactly one end record, last")
    if kinds.count("seed") != 1:
        problems.append(
            f"{AUDIT_FILE}: a run writes exactly one seed record, this log has "
            f"{kinds.count('seed')}"
        )
    if kinds.count("commitment") > 1:
        problems.append(f"{AUDIT_FILE}: a run records at most one commitment")
    if any(not isinstance(r.get("payload"), dict) for r in records):
        problems.append(f"{AUDIT_FILE}: every record has a payload object")
        return problems
    problems += _shape_problems(records)
    root = Path(run_dir).resolve()
    seen: dict[str, int] = {}
    for line, payload in recorded_files(records):
        name = payload.get("file")
        where = f"{AUDIT_FILE}:{line}"
        if not isinstance(name, str) or not _SHA256.fullmatch(str(payload.get("sha256"))):
            problems.append(f"{where}: a file record needs a file name and a SHA-256")
            continue
        problem = _path_problem(name, root)
        if problem:
            problems.append(f"{where}: file {name!r} {problem}")
            continue
        if name in seen:
            problems.append(f"{where}: file {name!r} is recorded twice (also line {seen[name]})")
        seen.setdefault(name, line)
    return problems


def _shape_problems(records: list[dict]) -> list[str]:
    """Payload fields of the wrong type (what every reader of a record relies on)."""
    problems = []
    for record in records:
        payload, where = record["payload"], f"{AUDIT_FILE}:{record['seq'] + 1}"
        kind = record.get("kind")
        if kind == "run" and (
            not isinstance(payload.get("tool"), str)
            or not isinstance(payload.get("options", {}), dict)
            or not isinstance(payload.get("command", []), list)
            or not all(isinstance(c, str) for c in payload.get("command") or [])
        ):
            problems.append(f"{where}: the run record needs a tool, options and a command")
        elif kind == "seed" and (
            not isinstance(payload.get("seed"), str)
            or not (
                payload.get("parts") is None
                or (
                    isinstance(payload["parts"], list)
                    and all(isinstance(p, str) for p in payload["parts"])
                )
            )
        ):
            problems.append(f"{where}: the seed record needs the seed as text (and its parts)")
        elif kind == "input" and not isinstance(payload.get("role"), str):
            problems.append(f"{where}: an input record needs its role")
    roles = [r["payload"].get("role") for r in records if r.get("kind") == "input"]
    tool = records[0]["payload"].get("tool") if records[0].get("kind") == "run" else None
    for role in REQUIRED_ROLES.get(tool, ()):
        if roles.count(role) != 1:
            problems.append(f"{AUDIT_FILE}: a run of {tool!r} records one {role} input")
    return problems


def _path_problem(name: str, root: Path) -> str | None:
    """Why `name` is not a file inside the run folder `root`, or None."""
    pure = PurePosixPath(name)
    if (
        not name
        or "\\" in name
        or "\0" in name
        or pure.is_absolute()
        or re.match(r"^[A-Za-z]:", name)
        or any(part in ("", ".", "..") for part in name.split("/"))
    ):
        return "is not a relative path inside the run folder"
    if name in (AUDIT_FILE, MARKER):
        return "is not a file a run records"
    path = root / pure
    for step in [*reversed(path.relative_to(root).parents[:-1]), path.relative_to(root)]:
        if (root / step).is_symlink():
            return "is reached through a symbolic link (it may lead out of the run folder)"
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return "leads out of the run folder"
    return None


def unrecorded_files(records: list[dict], run_dir: Path) -> list[str]:
    """Files of the run folder that no record names (besides the log and the marker)."""
    run_dir = Path(run_dir)
    named = {payload.get("file") for _line, payload in recorded_files(records)}
    found = []
    for path in sorted(run_dir.rglob("*")):
        if path.is_dir() and not path.is_symlink():
            continue
        relative = path.relative_to(run_dir).as_posix()
        if relative not in named and relative not in (AUDIT_FILE, MARKER):
            found.append(relative)
    return found


def digest_problems(
    records: list[dict], run_dir: Path, *, inputs_elsewhere: bool = False
) -> list[str]:
    """Every recorded file that is missing or whose SHA-256 differs from its record (inputs may
    be absent when `inputs_elsewhere`). Call after structure_problems found nothing."""
    run_dir = Path(run_dir)
    problems = []
    for record in records:
        if record.get("kind") not in FILE_KINDS:
            continue
        payload, line = record["payload"], record["seq"] + 1
        path = run_dir / payload["file"]
        if not path.is_file():
            if not (inputs_elsewhere and record["kind"] == "input"):
                problems.append(f"{payload['file']}: missing (recorded on line {line})")
            continue
        if sha256_file(path) != payload["sha256"]:
            problems.append(
                f"{payload['file']}: SHA-256 differs from the audit log (line {line}): the "
                f"{record['kind']} was changed"
            )
    return problems
