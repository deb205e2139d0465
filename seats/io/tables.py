"""Read CSV and XLSX tables into text columns, with typed accessors that report bad cells.

Every accessor appends a :class:`~seats.io.errors.Problem` naming file, line and column for each bad
cell and returns a usable placeholder, so one pass reports every problem in a file.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import difflib
import io
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from seats.io.errors import Problems

TABLE_SUFFIXES = (".csv", ".xlsx")
MAX_WHOLE_NUMBER = 10**15  # seats, pupils, births: far above any real count, far below int64

# Excel exports in mainland China are GBK/GB18030; GB18030 is a superset of GBK, so read it as that.
ENCODING_ALIASES = {"gbk": "gb18030", "gb2312": "gb18030", "cp936": "gb18030"}


class Table:
    """A rectangular table of trimmed text cells with the source line of every row."""

    def __init__(
        self,
        name: str,
        header: list[str],
        rows: list[list[str]],
        lines: list[int],
        problems: Problems,
    ):
        self.name = name
        self.header = header
        self.rows = rows
        self.lines = lines
        self.problems = problems
        self.column_index = {c: i for i, c in enumerate(header)}
        self._reported_missing: set[str] = set()

    def __len__(self) -> int:
        return len(self.rows)

    def has(self, column: str) -> bool:
        return column in self.column_index

    def require(self, columns: Iterable[str]) -> bool:
        """Report each missing column (with a "did you mean" for near misses); True if all exist."""
        ok = True
        for column in columns:
            if column not in self.column_index:
                ok = False
                if column in self._reported_missing or not self.header:
                    continue  # said once; an unreadable file has already been reported
                self._reported_missing.add(column)
                hint = difflib.get_close_matches(column, self.header, n=1)
                extra = f" (did you mean '{hint[0]}'?)" if hint else ""
                self.problems.add(self.name, 1, column, f"required column is missing{extra}")
        return ok

    def text(self, column: str, *, required: bool = True) -> list[str]:
        """The column as trimmed text; empty cells are reported when `required`."""
        if column not in self.column_index:
            return [""] * len(self.rows)
        j = self.column_index[column]
        values = [row[j] for row in self.rows]
        if required:
            for value, line in zip(values, self.lines, strict=True):
                if value == "":
                    self.problems.add(self.name, line, column, "is empty")
        return values

    def ints(self, column: str, *, minimum: int | None = None, required: bool = True) -> np.ndarray:
        out = np.zeros(len(self.rows), dtype=np.int64)
        for i, value in enumerate(self.text(column, required=required)):
            if value == "":
                continue
            try:
                number = int(value)
            except ValueError:
                number = _integral_float(value)
                if number is None:
                    self.problems.add(
                        self.name, self.lines[i], column, f"'{value}' is not a whole number"
                    )
                    continue
            if minimum is not None and number < minimum:
                self.problems.add(
                    self.name, self.lines[i], column, f"{number} is below the minimum of {minimum}"
                )
            elif abs(number) > MAX_WHOLE_NUMBER:
                self.problems.add(self.name, self.lines[i], column, f"{value} is too large")
                continue
            out[i] = number
        return out

    def floats(self, column: str, *, minimum: float | None = None) -> np.ndarray:
        out = np.zeros(len(self.rows), dtype=np.float64)
        for i, value in enumerate(self.text(column)):
            if value == "":
                continue
            try:
                number = float(value)
            except ValueError:
                self.problems.add(self.name, self.lines[i], column, f"'{value}' is not a number")
                continue
            if not np.isfinite(number):
                self.problems.add(self.name, self.lines[i], column, f"'{value}' is not finite")
            elif minimum is not None and number < minimum:
                self.problems.add(
                    self.name,
                    self.lines[i],
                    column,
                    f"{number:g} is below the minimum of {minimum:g}",
                )
            out[i] = number
        return out

    def choice(self, column: str, allowed: Iterable[str], *, required: bool = True) -> list[str]:
        allowed = list(allowed)
        values = self.text(column, required=required)
        for value, line in zip(values, self.lines, strict=True):
            if value and value not in allowed:
                hint = difflib.get_close_matches(value, allowed, n=1)
                extra = f"; did you mean '{hint[0]}'?" if hint else ""
                self.problems.add(
                    self.name, line, column, f"'{value}' is not one of {', '.join(allowed)}{extra}"
                )
        return values

    def unique_ids(self, column: str) -> dict[str, int]:
        """Map id -> row index; a duplicate names both lines."""
        values = self.text(column)
        index = dict(zip(values, range(len(values)), strict=True))
        if len(index) == len(values) and "" not in index:
            return index  # every id present and distinct: no Python step per row
        index = {}
        for i, value in enumerate(values):
            if value == "":
                continue
            if value in index:
                first = self.lines[index[value]]
                self.problems.add(
                    self.name,
                    self.lines[i],
                    column,
                    f"duplicate id '{value}' (first on line {first})",
                )
            else:
                index[value] = i
        return index

    def references(
        self, column: str, known: dict[str, int], what: str, *, required: bool = True
    ) -> np.ndarray:
        """Indices of the referenced ids (-1 where empty or unknown); unknown ids are named."""
        out = np.full(len(self.rows), -1, dtype=np.int64)
        for i, value in enumerate(self.text(column, required=required)):
            if value == "":
                continue
            if value in known:
                out[i] = known[value]
            else:
                self.problems.add(self.name, self.lines[i], column, f"unknown {what} '{value}'")
        return out


def _integral_float(value: str) -> int | None:
    """Accept '12.0' (Excel likes to write whole numbers that way) but not '12.5'."""
    try:
        number = float(value)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None  # inf and nan are not integers


def find_table(folder: Path, stem: str) -> Path | None:
    """The CSV or XLSX file named `stem` in `folder`, if there is one."""
    for suffix in TABLE_SUFFIXES:
        path = folder / f"{stem}{suffix}"
        if path.exists():
            return path
    return None


def read_table(
    path: Path | str,
    problems: Problems | None = None,
    *,
    encoding: str | None = None,
    name: str | None = None,
) -> Table:
    """Read a .csv or .xlsx file. Problems are appended to `problems` (or raised at once when the
    file cannot be read at all and no collector is given)."""
    path = Path(path)
    name = name or str(path)
    collector = problems if problems is not None else Problems()
    if path.suffix.lower() == ".xlsx":
        header, rows, lines = _read_xlsx(path, name, collector)
    else:
        header, rows, lines = _read_csv(path, name, collector, encoding)
    table = Table(name, header, rows, lines, collector)
    if problems is None:
        collector.raise_if_any()
    return table


def _decode(raw: bytes, name: str, problems: Problems, encoding: str | None) -> str | None:
    if raw.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        problems.add(
            name,
            None,
            None,
            "this is an Excel workbook, not CSV text: save it as .xlsx "
            "(or as 'CSV UTF-8') and give that file",
        )
        return None
    if encoding:
        codec = ENCODING_ALIASES.get(encoding.lower(), encoding)
        if codecs_lookup(codec) is None:
            problems.add(name, None, None, f"unknown encoding '{encoding}'")
            return None
        if codecs_lookup(codec) != codecs_lookup("utf-8") and not raw.isascii() and _is_utf8(raw):
            # A UTF-8 file read as GBK turns every Chinese id into different, garbled text.
            problems.add(
                name, None, None, f"the file is UTF-8, not {encoding}: read it without --encoding"
            )
            return None
        try:
            return raw.decode(codec).removeprefix("\ufeff")
        except UnicodeDecodeError as err:
            line, column = _position(raw, err.start)
            problems.add(
                name,
                line,
                None,
                f"byte 0x{raw[err.start]:02x} at character {column} is not valid "
                f"{encoding}; check the file's encoding",
            )
            return None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        problems.add(
            name,
            1,
            None,
            "file is UTF-16 (Excel 'Unicode text'); save it as 'CSV UTF-8' or as .xlsx",
        )
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line, column = _position(raw, err.start)
        problems.add(
            name,
            line,
            None,
            f"byte 0x{raw[err.start]:02x} at character {column} is not UTF-8; if the file "
            "is an Excel export in GBK/GB18030, read it with --encoding gbk",
        )
        return None


def codecs_lookup(codec: str) -> str | None:
    """The canonical name of a codec, or None when Python does not know it."""
    try:
        return codecs.lookup(codec).name
    except LookupError:
        return None


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _position(raw: bytes, offset: int) -> tuple[int, int]:
    line_start = raw.rfind(b"\n", 0, offset) + 1
    return raw.count(b"\n", 0, offset) + 1, offset - line_start + 1


def _read_csv(path: Path, name: str, problems: Problems, encoding: str | None):
    try:
        raw = path.read_bytes()
    except OSError as err:
        problems.add(name, None, None, f"cannot read file: {err.strerror or err}")
        return [], [], []
    text = _decode(raw, name, problems, encoding)
    if text is None:
        return [], [], []
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    reader = None
    records = _plain_records(text)
    if records is None:
        reader = csv.reader(io.StringIO(text, newline=""))
        records = _numbered(reader)
    try:
        for line, record in records:
            cells = [cell.strip() for cell in record]
            if not any(cells):
                continue  # blank lines carry no applicant and no school
            if header is None:
                header = cells
                _check_header(header, name, line, problems)
                continue
            if len(cells) != len(header):
                problems.add(
                    name, line, None, f"has {len(cells)} fields but the header has {len(header)}"
                )
                cells = (cells + [""] * len(header))[: len(header)]
            rows.append(cells)
            lines.append(line)
    except csv.Error as err:
        problems.add(name, reader.line_num, None, f"malformed CSV: {err}")
    if header is None:
        problems.add(name, None, None, "file is empty: expected a header line naming the columns")
        return [], [], []
    return header, rows, lines


def _plain_records(text: str):
    """(line, record) pairs split directly when csv.reader would only split: no quotes, carriage
    returns or NULs, and no line over the field size limit (several times faster on the
    national-scale files). None otherwise."""
    if '"' in text or "\r" in text or "\0" in text:
        return None
    physical_lines = text.split("\n")
    if max(map(len, physical_lines)) > csv.field_size_limit():
        return None
    return enumerate((line.split(",") for line in physical_lines), start=1)


def _numbered(reader):
    """(line, record) pairs of a csv.reader: the line on which each record starts."""
    next_line = 1
    for record in reader:
        yield next_line, record
        next_line = reader.line_num + 1


def _check_header(header: list[str], name: str, line: int, problems: Problems) -> None:
    seen: dict[str, int] = {}
    for position, column in enumerate(header, start=1):
        if column == "":
            problems.add(name, line, None, f"column {position} of the header has no name")
        elif column in seen:
            problems.add(
                name,
                line,
                column,
                f"column name appears twice (positions {seen[column]} and {position})",
            )
        else:
            seen[column] = position


def _xlsx_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _read_xlsx(path: Path, name: str, problems: Problems):
    import openpyxl  # imported here: only workbooks need it, and it is slow to import

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many kinds for a damaged workbook
        problems.add(name, None, None, f"cannot read workbook: {err}")
        return [], [], []
    try:
        sheet = workbook.worksheets[0]
        header: list[str] | None = None
        rows: list[list[str]] = []
        lines: list[int] = []
        for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_xlsx_cell(v) for v in values]
            if not any(cells):
                continue
            if header is None:
                while cells and cells[-1] == "":
                    cells.pop()  # Excel pads rows to the widest one
                header = cells
                _check_header(header, name, line, problems)
                continue
            extra = [c for c in cells[len(header) :] if c]
            if extra:
                problems.add(name, line, None, f"has values beyond the {len(header)} named columns")
            rows.append((cells + [""] * len(header))[: len(header)])
            lines.append(line)
    finally:
        workbook.close()
    if header is None:
        problems.add(name, None, None, "workbook's first sheet is empty: expected a header row")
        return [], [], []
    return header, rows, lines
