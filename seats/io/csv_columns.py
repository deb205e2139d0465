"""Millions of CSV rows from coded columns, in compiled code, byte for byte as write_csv.

A column is codes into a vocabulary of texts (-1: an empty cell): the applicant ids are a
vocabulary of their own with codes 0..n-1, a school column codes into the school ids, a rank
column into "1", "2", ... So every text is encoded to UTF-8 once, the checks (would the csv
module quote a cell, would a spreadsheet read it as a formula) look at each vocabulary instead
of at every cell, and the kernel only copies bytes: no Python string per cell or row. Where a
vocabulary has a text that needs quoting or neutralising, the rows go through write_csv, which
formats them; the result is the same file either way.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from seats.io.jit import JIT
from seats.io.output import BOM, CSV_ENCODING, neutralise, write_csv
from seats.io.tables import FORMULA_START, codes


@dataclass(frozen=True)
class Vocabulary:
    """Texts as one UTF-8 buffer: text k is data[ptr[k]:ptr[k + 1]]."""

    data: np.ndarray  # uint8
    ptr: np.ndarray  # int64, len(texts) + 1

    @classmethod
    def of(cls, texts: list[str]) -> Vocabulary:
        joined = "".join(texts)
        if joined.isascii():  # one byte per character: lengths without encoding each text
            lengths = np.fromiter(map(len, texts), np.int64, count=len(texts))
            data = joined.encode()
        else:
            encoded = [t.encode() for t in texts]
            lengths = np.fromiter(map(len, encoded), np.int64, count=len(texts))
            data = b"".join(encoded)
        ptr = np.zeros(len(texts) + 1, np.int64)
        np.cumsum(lengths, out=ptr[1:])
        return cls(np.frombuffer(data, np.uint8), ptr)

    @classmethod
    def fixed(cls, rows: np.ndarray) -> Vocabulary:
        """Texts of equal byte width, one per row of a uint8 matrix (hex numbers, say)."""
        n, width = rows.shape
        return cls(np.ascontiguousarray(rows).reshape(-1), np.arange(n + 1, dtype=np.int64) * width)

    def texts(self) -> list[str]:
        data = self.data.tobytes()
        return [
            data[a:b].decode()
            for a, b in zip(self.ptr[:-1].tolist(), self.ptr[1:].tolist(), strict=True)
        ]

    def plain(self) -> bool:
        """True if write_csv writes every text as it is: no byte the csv module quotes or
        refuses, and no text starting like a formula (which write_csv may neutralise)."""
        data = self.data.tobytes()
        if len(data.translate(None, _special_bytes())) != len(data):  # deletes the specials
            return False
        starts = self.ptr[:-1][np.diff(self.ptr) > 0]
        return not np.isin(self.data[starts], _FORMULA_BYTES).any()


@dataclass(frozen=True)
class Column:
    codes: np.ndarray  # int64 per row: text in the vocabulary, -1 for an empty cell
    vocabulary: Vocabulary

    @classmethod
    def of(cls, texts: list[str]) -> Column:
        """A column that is its own vocabulary (ids: every text distinct, or nearly)."""
        return cls(np.arange(len(texts), dtype=np.int64), Vocabulary.of(texts))

    @classmethod
    def coded(cls, texts: list[str]) -> Column:
        """A column of few distinct texts (statuses, reasons): coded by first appearance."""
        vocabulary: dict[str, int] = {}
        coded = codes(texts, vocabulary)
        return cls(coded, Vocabulary.of(list(vocabulary)))


def numbers_vocabulary(largest: int) -> Vocabulary:
    """The texts "0", "1", ... str(largest): code k is the number k."""
    return Vocabulary.of([str(k) for k in range(largest + 1)])


ROWS_PER_WRITE = 1 << 17
_FORMULA_BYTES = np.frombuffer("".join(FORMULA_START).encode(), np.uint8)


@functools.cache
def _special_bytes() -> bytes:
    """The ASCII characters that write_csv does not write as they are (it quotes the cell, or
    refuses it), found by asking the csv module; bytes of non-ASCII characters are never
    special to it."""
    special = bytearray()
    for code in range(128):
        char = chr(code)
        try:
            if _csv_line([char, char]) != f"{char},{char}\n":
                special.append(code)
        except csv.Error:
            special.append(code)
    return bytes(special)


def _csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


@numba.njit(**JIT)
def _csv_bytes(codes, data, ptr):
    """The rows: text codes[i, j] of the joint vocabulary (data, ptr) in cell (i, j), or
    nothing where the code is -1; cells joined by commas, rows ended by line breaks."""
    n_rows, n_columns = codes.shape
    size = n_rows * n_columns  # n - 1 commas and the line end per row
    for i in range(n_rows):
        for j in range(n_columns):
            k = codes[i, j]
            if k >= 0:
                size += ptr[k + 1] - ptr[k]
    out = np.empty(size, np.uint8)
    at = 0
    for i in range(n_rows):
        for j in range(n_columns):
            if j:
                out[at] = 44  # ','
                at += 1
            k = codes[i, j]
            if k >= 0:
                for b in range(ptr[k], ptr[k + 1]):
                    out[at] = data[b]
                    at += 1
        out[at] = 10  # '\n'
        at += 1
    return out


def write_columns(path: Path, header: list[str], columns: list[Column]) -> int:
    """Write the rows of `columns` under `header` as write_csv would; returns the row count."""
    n_rows = len(columns[0].codes)
    # (one column: the csv module writes an empty cell as "", to tell it from a blank line)
    if len(columns) < 2 or not all(c.vocabulary.plain() for c in columns):
        texts = [[*c.vocabulary.texts(), ""] for c in columns]  # -1 -> ""
        cells = [[t[k] for k in c.codes.tolist()] for t, c in zip(texts, columns, strict=True)]
        return write_csv(path, header, zip(*cells, strict=True))
    # One joint vocabulary: column j's codes shifted past the texts of the columns before it.
    bases = np.cumsum([0] + [len(c.vocabulary.ptr) - 1 for c in columns[:-1]]).tolist()
    data = np.concatenate([c.vocabulary.data for c in columns])
    starts = np.cumsum([0] + [len(c.vocabulary.data) for c in columns[:-1]]).tolist()
    ptr = np.concatenate(
        [c.vocabulary.ptr[:-1] + start for c, start in zip(columns, starts, strict=True)]
        + [np.array([len(data)], np.int64)]
    )
    with open(path, "w", encoding=CSV_ENCODING, newline="") as handle:
        handle.write(BOM + _csv_line([neutralise(cell) for cell in header]))  # as write_csv
        handle.flush()
        for lo in range(0, n_rows, ROWS_PER_WRITE):  # in blocks: memory stays small
            hi = min(lo + ROWS_PER_WRITE, n_rows)
            codes = np.empty((hi - lo, len(columns)), np.int64)
            for j, (column, base) in enumerate(zip(columns, bases, strict=True)):
                part = column.codes[lo:hi]
                codes[:, j] = np.where(part >= 0, part + base, -1)
            handle.buffer.write(_csv_bytes(codes, data, ptr).data)
    return n_rows
