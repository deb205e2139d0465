"""Registration codes (查询码) and the keys of the public list (公示号).

Why: the seed is public after the draw and a lottery number is SHA-256 of seed and applicant id,
so a list that shows numbers beside masked ids can be unmasked by anyone who enumerates the ids
(registration numbers, national id numbers: see benchmarks/RESULTS.md). The public list therefore
shows no id and no lottery number. Each row is keyed by a value that only the child's family can
link to the child:

- the district keeps a secret (at least 32 random bytes, never published; its SHA-256 may be
  fixed in the commitment before the draw, :func:`seats.lottery.commitment.read_secret`);
- each applicant's 查询码 (registration code) is HMAC-SHA256(secret, "seats code\\n" + id), its
  first 80 bits in Crockford base32 (16 characters, shown XXXX-XXXX-XXXX-XXXX), printed on the
  parent's registration receipt (`seats lottery codes`);
- the row's 公示号 (public key) is the first 10 hex digits of SHA-256("seats row\\n" + code): the
  parent finds their row with it, an outsider cannot compute it for anyone;
- the row's 校验值 (check) is the first 16 hex digits of SHA-256("seats check\\n" + code + "\\n" +
  lottery number): with the code and their own recomputed number, the parent confirms that the
  draw used their true number (一致) or not (不一致); without the code it says nothing;
- the row's id check is the first 8 hex digits of SHA-256("seats id\\n" + code + "\\n" +
  applicant_id): it tells a mistyped id (or code) from a wrong number.

Brute force needs the 80-bit code of a row: about 2^80 SHA-256 per row, whatever the id format.
The same functions are written in JavaScript in the public web page (:mod:`webpage`).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from seats.io.output import check_output_file, starts_with, write_csv
from seats.io.tables import read_table
from seats.lottery.commitment import read_secret

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_BITS = 80  # 16 base32 characters
ROW_KEY_DIGITS = 10  # hex digits of the public key: 40 bits, collisions rare below a million rows
CHECK_DIGITS = 16
ID_CHECK_DIGITS = 8
CODES_COLUMNS = ["applicant_id", "查询码 code", "公示号 row_key"]


def applicant_code(secret: bytes, applicant_id: str) -> str:
    """The 查询码 of an applicant: 16 Crockford base32 characters in four groups."""
    digest = hmac.new(secret, f"seats code\n{applicant_id}".encode(), hashlib.sha256).digest()
    value = int.from_bytes(digest[: CODE_BITS // 8], "big")
    chars = [CROCKFORD[(value >> (5 * k)) & 31] for k in reversed(range(CODE_BITS // 5))]
    text = "".join(chars)
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def normalise_code(code: str) -> str:
    """As a parent may type it: case, spaces and dashes do not matter; O is 0, I and L are 1."""
    table = str.maketrans({"O": "0", "I": "1", "L": "1"})
    return "".join(ch for ch in code.upper().translate(table) if ch.isalnum())


def _hex(text: str, digits: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:digits]


def row_key(code: str) -> str:
    return _hex(f"seats row\n{normalise_code(code)}", ROW_KEY_DIGITS)


def row_check(code: str, number: str) -> str:
    return _hex(f"seats check\n{normalise_code(code)}\n{number}", CHECK_DIGITS)


def id_check(code: str, applicant_id: str) -> str:
    return _hex(f"seats id\n{normalise_code(code)}\n{applicant_id}", ID_CHECK_DIGITS)


@dataclass
class CodesSummary:
    out: Path
    rows: int

    def render(self) -> str:
        return (
            f"查询码 {self.rows:,} 个 -> {self.out}（印在报名回执上，不公开）\n"
            f"registration codes of {self.rows:,} applicants -> {self.out} "
            "(for the receipts; keep this file private)"
        )


def write_codes(
    applicants_path: Path, secret_path: Path, out: Path, *, encoding: str | None = None
) -> CodesSummary:
    """codes.csv: applicant_id, 查询码, 公示号 for every applicant (for the receipts). Never
    written over an input or a file that is not an earlier codes file."""
    ours = starts_with(("\ufeff" + ",".join(CODES_COLUMNS)).encode())
    check_output_file(Path(out), True, [Path(applicants_path), Path(secret_path)], ours)
    secret = read_secret(secret_path)
    table = read_table(applicants_path, encoding=encoding)
    ids = table.text("applicant_id")
    table.problems.raise_if_any()
    rows = []
    for applicant in ids:
        code = applicant_code(secret, applicant)
        rows.append([applicant, code, row_key(code)])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = out.with_name(f".{out.name}.partial")
    count = write_csv(staged, CODES_COLUMNS, rows)
    staged.replace(out)
    return CodesSummary(out, count)
