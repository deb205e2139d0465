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
import itertools
import re
import unicodedata
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from seats.io.choice_kernels import rectangular
from seats.io.errors import Problems

TABLE_SUFFIXES = (".csv", ".xlsx")
MAX_WHOLE_NUMBER = 10**15  # seats, pupils, births: far above any real count, far below int64
MAX_ID_LENGTH = 100  # characters of an id: room for any real id, none for a pasted document
MAX_COLUMNS = 1000  # of a table; a workbook cell far beyond them is refused, not padded to
MAX_WORKBOOK_BYTES = 1 << 30  # uncompressed size of a workbook's parts (a zip bomb stops here)

# Whole numbers are written in ASCII digits: int() also takes '１２', '٣٠٠' and '1_000', and float()
# takes '1e3', none of which an official means as a count of seats. Excel's '12.0' is accepted.
_WHOLE = re.compile(r"[+-]?[0-9]+(?:\.0*)?")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# A cell that Excel and other spreadsheets take for a formula when it starts with one of these.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Unicode categories never part of an id: control (Cc), format (Cf: zero-width and bidi marks),
# surrogates, private use and unassigned code points, line and paragraph separators.
_HIDDEN_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# Excel exports in mainland China are GBK/GB18030; GB18030 is a superset of GBK, so read it as that.
ENCODING_ALIASES = {"gbk": "gb18030", "gb2312": "gb18030", "cp936": "gb18030"}


class Table:
    """A rectangular table of trimmed text cells with the source line of every row.

    Held as rows or as columns, whichever the reader produced (a national applicants file is
    split straight into columns); the other form is built on first use."""

    def __init__(
        self,
        name: str,
        header: list[str],
        rows: list[list[str]] | None,
        lines: list[int],
        problems: Problems,
        *,
        columns: list[list[str]] | None = None,
    ):
        self.name = name
        self.header = header
        self._rows = rows
        self._columns = columns
        self.lines = lines
        self.problems = problems
        self.column_index = {c: i for i, c in enumerate(header)}
        self._reported_missing: set[str] = set()

    @property
    def rows(self) -> list[list[str]]:
        if self._rows is None:
            self._rows = [list(row) for row in zip(*self._columns, strict=True)]
        return self._rows

    def _column(self, j: int) -> list[str]:
        if self._columns is None:
            self._columns = [[row[k] for row in self._rows] for k in range(len(self.header))]
        return self._columns[j]

    def subset(self, keep: list[int]) -> Table:
        """The rows at the indices `keep`, in that order, with their lines."""
        return Table(
            self.name,
            self.header,
            None,
            [self.lines[i] for i in keep],
            self.problems,
            columns=[[self._column(j)[i] for i in keep] for j in range(len(self.header))],
        )

    def __len__(self) -> int:
        return len(self.lines)

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
            return [""] * len(self)
        values = list(self._column(self.column_index[column]))  # the caller's own copy
        if required and "" in values:
            for value, line in zip(values, self.lines, strict=True):
                if value == "":
                    self.problems.add(self.name, line, column, "is empty")
        return values

    def ints(
        self,
        column: str,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        required: bool = True,
    ) -> np.ndarray:
        out = np.zeros(len(self), dtype=np.int64)
        for i, value in enumerate(self.text(column, required=required)):
            if value == "":
                continue
            number = whole_number(value)
            if number is None:
                self.problems.add(
                    self.name,
                    self.lines[i],
                    column,
                    f"{_shown(value)} is not a whole number (digits 0-9 only)",
                )
                continue
            if minimum is not None and number < minimum:
                self.problems.add(
                    self.name, self.lines[i], column, f"{number} is below the minimum of {minimum}"
                )
            elif maximum is not None and number > maximum:
                self.problems.add(
                    self.name, self.lines[i], column, f"{number} is above the maximum of {maximum}"
                )
                continue
            elif abs(number) > MAX_WHOLE_NUMBER:
                self.problems.add(self.name, self.lines[i], column, f"{value} is too large")
                continue
            out[i] = number
        return out

    def floats(self, column: str, *, minimum: float | None = None) -> np.ndarray:
        out = np.zeros(len(self), dtype=np.float64)
        for i, value in enumerate(self.text(column)):
            if value == "":
                continue
            number = float(value) if _DECIMAL.fullmatch(value) else None
            if number is None:
                self.problems.add(
                    self.name,
                    self.lines[i],
                    column,
                    f"{_shown(value)} is not a number (digits 0-9 and '.' only)",
                )
                continue
            if not np.isfinite(number):
                self.problems.add(self.name, self.lines[i], column, f"{_shown(value)} is too large")
                continue  # never handed on: inf breaks every sum and rounding after it
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
        if set(values) <= {"", *allowed}:  # the distinct values first: rows only when needed
            return values
        for value, line in zip(values, self.lines, strict=True):
            if value and value not in allowed:
                hint = difflib.get_close_matches(value, allowed, n=1)
                extra = f"; did you mean '{hint[0]}'?" if hint else ""
                self.problems.add(
                    self.name, line, column, f"'{value}' is not one of {', '.join(allowed)}{extra}"
                )
        return values

    def unique_ids(self, column: str) -> dict[str, int]:
        """Map id -> row index. A duplicate names both lines; ids that differ only in case or in
        full-width / compatibility forms (equal under NFKC and case folding) are duplicates too,
        and an id holding an invisible character is refused (see :func:`id_problem`)."""
        values = self.text(column)
        if _plain_distinct(values):
            return dict(zip(values, range(len(values)), strict=True))  # no step per row
        return self._checked_ids(column, values)

    def check_ids(self, column: str) -> None:
        """The checks of :meth:`unique_ids` alone, for ids that nothing looks up by (a set is
        cheaper than an index for half a million applicants)."""
        values = self.text(column)
        if not _plain_distinct(values):
            self._checked_ids(column, values)

    def _checked_ids(self, column: str, values: list[str]) -> dict[str, int]:
        index: dict[str, int] = {}
        first_of_key: dict[str, int] = {}
        for i, value in enumerate(values):
            if value == "":
                continue
            problem = id_problem(value)
            if problem:
                self.problems.add(self.name, self.lines[i], column, problem)
                continue
            key = id_key(value)
            if key in first_of_key:
                j = first_of_key[key]
                same = (
                    f"duplicate id '{value}'"
                    if values[j] == value
                    else f"id '{value}' is the same as '{values[j]}' (ids equal up to case and "
                    "full-width forms are one id)"
                )
                self.problems.add(
                    self.name, self.lines[i], column, f"{same} (first on line {self.lines[j]})"
                )
            else:
                first_of_key[key] = i
                index[value] = i
        return index

    def references(
        self, column: str, known: dict[str, int], what: str, *, required: bool = True
    ) -> np.ndarray:
        """Indices of the referenced ids (-1 where empty or unknown); unknown ids are named."""
        values = self.text(column, required=required)
        out = lookup(known, values)
        for i in np.flatnonzero(out < 0).tolist():  # empty or unknown: only these need a look
            if values[i] != "":
                self.problems.add(self.name, self.lines[i], column, f"unknown {what} '{values[i]}'")
        return out


def lookup(index: dict[str, int], values: list[str]) -> np.ndarray:
    """index[value] for each value, -1 where it has none (one C-level pass, no Python step)."""
    return np.fromiter(
        map(index.get, values, itertools.repeat(-1)), dtype=np.int64, count=len(values)
    )


def codes(values: list[str], vocabulary: dict[str, int]) -> np.ndarray:
    """Code of each value in `vocabulary`, adding new values in the order first seen."""
    for value in dict.fromkeys(values):  # the distinct values, first seen first
        vocabulary.setdefault(value, len(vocabulary))
    return lookup(vocabulary, values)


def whole_number(value: str) -> int | None:
    """The whole number written in ASCII digits, optionally signed, '12.0' accepted (Excel likes
    to write whole numbers that way); None for anything else ('12.5', '1e3', '１２', '1_000')."""
    value = value.strip()
    if len(value) > 40 or not _WHOLE.fullmatch(value):
        return None
    return int(value.split(".")[0])


def _shown(value: str) -> str:
    """A cell quoted in a message, cut short when long (a message never repeats a document)."""
    return repr(value if len(value) <= 60 else value[:57] + "...")


def id_key(value: str) -> str:
    """What makes two ids the same id: equal after NFKC normalisation and case folding."""
    return unicodedata.normalize("NFKC", value).casefold()


def hidden_character(text: str) -> tuple[int, str] | None:
    """(position from 1, description) of the first control, zero-width, bidi or otherwise
    invisible character in `text`, or None."""
    for position, char in enumerate(text, start=1):
        if unicodedata.category(char) in _HIDDEN_CATEGORIES:
            name = unicodedata.name(char, "unnamed character")
            return position, f"U+{ord(char):04X} {name}"
    return None


def id_problem(value: str) -> str | None:
    """Why `value` cannot be an id, or None: too long, an invisible character (it would make two
    ids that look the same), or a start that spreadsheets read as a formula."""
    if len(value) > MAX_ID_LENGTH:
        return f"id of {len(value):,} characters is longer than {MAX_ID_LENGTH}"
    hidden = hidden_character(value)
    if hidden:
        return (
            f"id {_shown(value)} holds the invisible character {hidden[1]} at character "
            f"{hidden[0]}; retype the id"
        )
    if value.startswith(FORMULA_START):
        return (
            f"id {_shown(value)} starts with '{value[0]}', which spreadsheets read as a "
            "formula; ids start with a letter or digit"
        )
    return None


_FORMULA_AT_LINE_START = re.compile("^[" + re.escape("".join(FORMULA_START)) + "]", re.MULTILINE)


def _plain_distinct(values: list[str]) -> bool:
    """True if the ids are ASCII without control characters, distinct even up to case, none
    empty, too long or formula-like: nothing for the careful row-by-row pass to find."""
    joined = "".join(values)
    if not joined.isascii() or _ASCII_CONTROL.search(joined):
        return False
    distinct = set(values)
    if len(distinct) != len(values) or "" in distinct:
        return False
    # NFKC + casefold of ASCII text is lower(); ids all in one case are their own key
    one_case = joined in (joined.upper(), joined.lower())
    if not one_case and len(set(map(str.lower, values))) != len(values):
        return False
    return not _risky(values)


def _risky(values: list[str]) -> bool:
    """True if some ASCII id is too long or starts like a formula (the fast path's check;
    whole-column scans, so a cell holding a line break may only make it say True wrongly)."""
    return max(map(len, values), default=0) > MAX_ID_LENGTH or bool(
        _FORMULA_AT_LINE_START.search("\n".join(values))
    )


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
    columns = None
    if path.suffix.lower() == ".xlsx":
        header, rows, lines = _read_xlsx(path, name, collector)
    else:
        header, rows, lines, columns = _read_csv(path, name, collector, encoding)
    table = Table(name, header, rows, lines, collector, columns=columns)
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
        utf8_error = err
    # Not UTF-8: an Excel export in mainland China is GBK/GB18030 (each file is detected on its
    # own, so one UTF-8 and one GBK file can be read together without --encoding).
    try:
        return raw.decode("gb18030").removeprefix("\ufeff")
    except UnicodeDecodeError:
        line, column = _position(raw, utf8_error.start)
        problems.add(
            name,
            line,
            None,
            f"byte 0x{raw[utf8_error.start]:02x} at character {column} is not UTF-8, and the "
            "file is not GBK/GB18030 either; save it as 'CSV UTF-8' (or name its encoding "
            "with --encoding)",
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
    """(header, rows, lines, columns) of a CSV file: rows, or columns for a plain file."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        problems.add(name, None, None, f"cannot read file: {err.strerror or err}")
        return [], [], [], None
    text = _decode(raw, name, problems, encoding)
    if text is None:
        return [], [], [], None
    # Cells are trimmed; a plain file with no white space at any cell's edge (the usual
    # export) needs no Python step per cell for it.
    padded = _may_have_padding(text) and _PADDED_CELL.search(text) is not None
    plain = not padded and _plain_columns(text, _same_bytes(raw, text, encoding))
    if plain:
        header, lines, columns = plain
        if not _check_header(header, name, 1, problems):
            return header, [], [], None
        return header, None, lines, columns
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    reader = None
    records = _plain_records(text)
    if records is None:
        padded = True  # quoted cells are trimmed inside their quotes too
        reader = csv.reader(io.StringIO(text, newline=""))
        records = _numbered(reader)
    try:
        for line, record in records:
            cells = [cell.strip() for cell in record] if padded else record
            if not any(cells):
                continue  # blank lines carry no applicant and no school
            if header is None:
                header = cells
                if not _check_header(header, name, line, problems):
                    return header, [], [], None  # rows under a broken header would each be wrong
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
        return [], [], [], None
    return header, rows, lines, None


# The ASCII characters that str.strip() removes, but the line break.
_ASCII_BLANKS = (" ", "\t", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")


def _same_bytes(raw: bytes, text: str, encoding: str | None) -> memoryview | None:
    """The file's bytes after a BOM when they are exactly the UTF-8 of its decoded text: ASCII
    text read as UTF-8 or GB18030 (the codecs tried without --encoding; or GBK named with it),
    where each byte is its own character. None otherwise (the caller encodes the text)."""
    body = memoryview(raw)[3:] if raw.startswith(codecs.BOM_UTF8) else memoryview(raw)
    codec = (
        "utf-8"
        if encoding is None
        else codecs_lookup(ENCODING_ALIASES.get(encoding.lower(), encoding))
    )
    if codec in ("utf-8", "gb18030", "gbk") and text.isascii() and len(body) == len(text):
        return body
    return None


def _may_have_padding(text: str) -> bool:
    """False when no cell can have white space at its edge: ASCII text without any blank but
    the line break (one scan per character kind, instead of a regex over every position)."""
    return not text.isascii() or any(blank in text for blank in _ASCII_BLANKS)


def _plain_columns(
    text: str, utf8: bytes | memoryview | None = None
) -> tuple[list[str], list[int], list[list[str]]] | None:
    """(header, lines, columns) of a file that needs nothing but splitting (see
    :func:`_plain_records`) and whose header is on line 1, every other line holding exactly
    the header's number of fields and none blank: the usual export, split into columns by a
    few whole-text operations instead of a step per row. None otherwise (the row reader then
    reports or skips what is unusual). `utf8`: the text's UTF-8 bytes, when the caller has
    them (the file itself, most often), else they are made here."""
    if _needs_csv_module(text):
        return None
    # (whole-text operations: no copy of the body, which is most of a national file)
    end = len(text) - 1 if text.endswith("\n") else len(text)
    first_break = text.find("\n", 0, end)
    head = text[: max(first_break, 0)]
    header = head.split(",")
    if not any(header) or first_break < 0 or first_break + 1 >= end:
        return None
    if len(head) > csv.field_size_limit():
        return None
    if utf8 is None:
        utf8 = text.encode()
    start = len(head.encode()) + 1  # the body's first byte
    stop = len(utf8) - (len(text) - end)
    if not rectangular(utf8, start, stop, len(header), csv.field_size_limit()):
        return None
    cells = text.replace("\n", ",").split(",")  # the header's cells first
    if end < len(text):
        cells.pop()  # after the final line break
    width = len(header)
    columns = [cells[width + j :: width] for j in range(width)]
    return header, list(range(2, len(columns[0]) + 2)), columns


# White space (but the line break) at the start or end of a cell: a cell that .strip() changes.
_PADDED_CELL = re.compile(r"(?:^|,)[^\S\n]|[^\S\n](?:,|$)", re.MULTILINE)


def _needs_csv_module(text: str) -> bool:
    """Quotes, carriage returns or NULs: text that splitting at commas would misread."""
    return '"' in text or "\r" in text or "\0" in text


def _plain_records(text: str):
    """(line, record) pairs split directly when csv.reader would only split: no quotes, carriage
    returns or NULs, and no line over the field size limit (several times faster on the
    national-scale files). None otherwise."""
    if _needs_csv_module(text):
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


def _check_header(header: list[str], name: str, line: int, problems: Problems) -> bool:
    """Report unnamed and repeated column names; True if the header is sound."""
    before = len(problems)
    if len(header) > MAX_COLUMNS:
        problems.add(
            name, line, None, f"the header has {len(header):,} columns (at most {MAX_COLUMNS})"
        )
        return False
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
    return len(problems) == before


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
    """The first sheet of a workbook, bounded: its parts may not unpack beyond
    MAX_WORKBOOK_BYTES, and a cell beyond MAX_COLUMNS is refused (never padded to), so the work
    stays proportional to the file whatever its declared dimensions; any damage is a problem
    of the file, never a crash."""
    import openpyxl  # imported here: only workbooks need it, and it is slow to import

    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (OSError, zipfile.BadZipFile, ValueError) as err:
        problems.add(name, None, None, f"cannot read workbook: not a valid .xlsx file ({err})")
        return [], [], []
    if unpacked > MAX_WORKBOOK_BYTES:
        problems.add(
            name,
            None,
            None,
            f"cannot read workbook: it unpacks to {unpacked:,} bytes (at most "
            f"{MAX_WORKBOOK_BYTES:,})",
        )
        return [], [], []
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many kinds for a damaged workbook
        problems.add(name, None, None, f"cannot read workbook: {_brief(err)}")
        return [], [], []
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    line = 0
    try:
        if not workbook.worksheets:
            problems.add(name, None, None, "the workbook has no sheet")
            return [], [], []
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # rows as wide as their own cells, not the declared dimension
        for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if len(values) > MAX_COLUMNS:
                problems.add(
                    name,
                    line,
                    None,
                    f"has a value in column {len(values):,}, beyond the {MAX_COLUMNS} columns a "
                    "table may have (delete the stray cell)",
                )
                return [], [], []
            cells = [_xlsx_cell(v) for v in values]
            if not any(cells):
                continue
            if header is None:
                while cells and cells[-1] == "":
                    cells.pop()  # Excel pads rows to the widest one
                header = cells
                if not _check_header(header, name, line, problems):
                    return header, [], []
                continue
            extra = [c for c in cells[len(header) :] if c]
            if extra:
                problems.add(name, line, None, f"has values beyond the {len(header)} named columns")
            rows.append((cells + [""] * len(header))[: len(header)])
            lines.append(line)
    except Exception as err:  # a damaged sheet fails while it is read, not when it is opened
        problems.add(name, line + 1 if line else None, None, f"cannot read workbook: {_brief(err)}")
        return [], [], []
    finally:
        workbook.close()
    if header is None:
        problems.add(name, None, None, "workbook's first sheet is empty: expected a header row")
        return [], [], []
    return header, rows, lines


def _brief(err: Exception) -> str:
    text = str(err) or type(err).__name__
    return text if len(text) <= 200 else text[:197] + "..."
