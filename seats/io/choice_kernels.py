"""Compiled scans of a national applicants file: is the text a plain rectangle of cells
(:func:`rectangular`), and its choices column into CSR school indices (:func:`parse_choices`).

Millions of entries like ``S07941;S03141|S03706`` are split and looked up here without a Python
string per entry: the column's cells, joined by line breaks and encoded once, are scanned byte
by byte; each id is found in an open-addressing table of the school ids' UTF-8 bytes (FNV-1a
hash, compared byte for byte, so a hit is exactly ``dict`` equality of the texts). Anything
unusual (an unknown or empty id, a school listed twice, a line break inside a cell) makes the
kernel give up, and the caller's careful pass names each problem with its line.
"""

from __future__ import annotations

import numba
import numpy as np

from seats.io.jit import JIT

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


@numba.njit(**JIT)
def _hash(buf, start, stop):
    h = _FNV_OFFSET
    for k in range(start, stop):
        h = (h ^ np.uint64(buf[k])) * _FNV_PRIME
    return h


@numba.njit(**JIT)
def _same(buf, start, stop, ids, id_start, id_stop):
    if stop - start != id_stop - id_start:
        return False
    for k in range(stop - start):  # noqa: SIM110 (a loop numba compiles to a plain one)
        if buf[start + k] != ids[id_start + k]:
            return False
    return True


@numba.njit(**JIT)
def _table(ids, id_ptr, size):
    """Slots of an open-addressing table (size a power of two): id number, or -1."""
    slots = np.full(size, -1, np.int64)
    mask = np.uint64(size - 1)
    for i in range(len(id_ptr) - 1):
        slot = _hash(ids, id_ptr[i], id_ptr[i + 1]) & mask
        while slots[slot] >= 0:
            slot = (slot + np.uint64(1)) & mask
        slots[slot] = i
    return slots


@numba.njit(**JIT)
def _parse(buf, n_rows, ids, id_ptr, id_value, slots, n_schools, choice_sep, group_sep):
    """(ok, grouped, ptr, school, position) of the joined cells; ok False at the first
    problem, grouped True if some cell groups schools in one position."""
    capacity = n_rows
    grouped = False
    for byte in buf:
        if byte == choice_sep:
            capacity += 1
        elif byte == group_sep:
            capacity += 1
            grouped = True
    ptr = np.zeros(n_rows + 1, np.int64)
    school = np.empty(capacity, np.int32)
    position = np.empty(capacity, np.int32)
    seen = np.full(n_schools, -1, np.int64)  # the last row that listed each school
    mask = np.uint64(len(slots) - 1)
    row, count, pos, start = 0, 0, 0, 0
    n = len(buf)
    for k in range(n + 1):
        end_of_row = k == n or buf[k] == 10
        if not (end_of_row or buf[k] == choice_sep or buf[k] == group_sep):
            continue
        if row >= n_rows:
            return False, grouped, ptr, school, position  # a line break inside a cell
        if end_of_row and k == start and (count == ptr[row]):
            pass  # an empty cell: no choices
        else:
            if k == start:
                return False, grouped, ptr, school, position  # an empty id ('a;;b', 'a;')
            slot = _hash(buf, start, k) & mask
            found = -1
            while slots[slot] >= 0:
                i = slots[slot]
                if _same(buf, start, k, ids, id_ptr[i], id_ptr[i + 1]):
                    found = id_value[i]
                    break
                slot = (slot + np.uint64(1)) & mask
            if found < 0 or seen[found] == row:
                return False, grouped, ptr, school, position  # unknown, padded or listed twice
            seen[found] = row
            school[count] = found
            position[count] = pos
            count += 1
        if end_of_row:
            row += 1
            ptr[row] = count
            pos = 0
        elif buf[k] == choice_sep:
            pos += 1
        start = k + 1
    if row != n_rows:
        return False, grouped, ptr, school, position
    return True, grouped, ptr, school[:count].copy(), position[:count].copy()


def parse_choices(
    cells: list[str], index: dict[str, int], choice_sep: str, group_sep: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """(ptr, school, position within the row's choices or None when no cell groups schools)
    of well-formed cells; None otherwise (a line break inside a cell counts as unusual)."""
    if not cells:
        return np.zeros(1, np.int64), np.zeros(0, np.int32), None
    keys = list(index)
    encoded = [key.encode() for key in keys]
    id_ptr = np.zeros(len(keys) + 1, np.int64)
    np.cumsum([len(e) for e in encoded], out=id_ptr[1:])
    ids = np.frombuffer(b"".join(encoded), np.uint8) if encoded else np.zeros(0, np.uint8)
    id_value = np.fromiter(index.values(), np.int64, count=len(keys))
    size = 1 << max(4, (2 * len(keys)).bit_length())  # at most half full
    slots = _table(ids, id_ptr, size)
    buf = np.frombuffer("\n".join(cells).encode(), np.uint8)
    ok, grouped, ptr, school, position = _parse(
        buf,
        len(cells),
        ids,
        id_ptr,
        id_value,
        slots,
        int(id_value.max(initial=-1)) + 1,
        ord(choice_sep),
        ord(group_sep),
    )
    if not ok:
        return None
    return ptr, school, position if grouped else None


@numba.njit(**JIT)
def _rectangular(buf, start, stop, commas_per_line, longest):
    commas = 0
    for k in range(start, stop + 1):
        if k == stop or buf[k] == 10:
            # a line with another number of fields, only separators (blank) or too long
            if commas != commas_per_line or k - start == commas or k - start > longest:
                return False
            start, commas = k + 1, 0
        elif buf[k] == 44:
            commas += 1
    return True


def rectangular(utf8: bytes, start: int, stop: int, width: int, longest: int) -> bool:
    """Whether every line of ``utf8[start:stop]`` (UTF-8 text, lines joined by line breaks, no
    final one) has `width` comma-separated fields, is not blank (only separators) and has at
    most `longest` bytes (at least as many as characters, so a line refused here for its
    length is still read, by the row reader)."""
    return bool(_rectangular(np.frombuffer(utf8, np.uint8), start, stop, width - 1, longest))
