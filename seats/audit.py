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
from pathlib import Path

GENESIS = "0" * 64
AUDIT_FILE = "audit.jsonl"


def canonical_json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def utc_now() -> str:
    """UTC time of the event; SOURCE_DATE_EPOCH fixes it for byte-reproducible logs."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
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
