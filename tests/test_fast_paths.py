"""The fast paths of the readers and the writer against their careful twins: the plain CSV
split into columns gives the table the row reader gives; the compiled choices parser gives the
careful pass's CSR arrays whenever it accepts the cells, and declines only cells the careful
pass finds a problem in or must trim; coded columns written by the compiled writer give
write_csv's bytes. So the fast paths never change a result or a message."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seats.io import model, tables
from seats.io.choice_kernels import parse_choices
from seats.io.csv_columns import Column, Vocabulary, write_columns
from seats.io.errors import Problems
from seats.io.output import write_csv
from seats.io.tables import Table, read_table

EXAMPLES = settings(max_examples=300, deadline=None, derandomize=True)
CELL = st.text(alphabet="ab1;|, \t\n张", max_size=6)


def _row_read(text: str):
    """The row reader (what _read_csv does when the plain split declines)."""
    problems = Problems()
    rows, lines, header = [], [], None
    for line, record in enumerate((line.split(",") for line in text.split("\n")), start=1):
        cells = [c.strip() for c in record]
        if not any(cells):
            continue
        if header is None:
            header = cells
            continue
        if len(cells) != len(header):
            problems.add("t", line, None, "width")
            cells = (cells + [""] * len(header))[: len(header)]
        rows.append(cells)
        lines.append(line)
    return header, rows, lines, problems


@pytest.mark.parametrize(
    ("text", "codec", "bom", "encoding"),
    [
        ("id,zone\na1,Z01\n", "utf-8", False, None),
        ("id,zone\na1,Z01\n", "utf-8", True, None),
        ("id,zone\na1,Z01", "gbk", False, "gbk"),
        ("id,zone\n张三,Z01\n", "utf-8", True, None),
        ("id,zone\n张三,Z01\n", "gb18030", False, None),
        ("id,zone\na1,Z01\n", "cp500", False, "cp500"),
    ],
)
def test_file_bytes_stand_for_the_text_only_when_they_are_its_utf8(text, codec, bom, encoding):
    raw = (b"\xef\xbb\xbf" if bom else b"") + text.encode(codec)
    same = tables._same_bytes(raw, text, encoding)
    if same is not None:
        assert bytes(same) == text.encode()
    # where they are taken, the split is the one of the encoded text
    assert tables._plain_columns(text, same) == tables._plain_columns(text)
    assert (same is not None) == (text.isascii() and codec != "cp500")


@EXAMPLES
@given(st.lists(st.lists(CELL, min_size=1, max_size=4), min_size=1, max_size=8), st.booleans())
def test_plain_columns_match_the_row_reader(records, final_newline):
    text = "\n".join(",".join(r) for r in records) + ("\n" if final_newline else "")
    plain = None if tables._may_have_padding(text) else tables._plain_columns(text)
    if plain is None:
        return  # the row reader reads it
    header, lines, columns = plain
    expected_header, rows, expected_lines, problems = _row_read(text)
    assert not problems  # the plain split only takes rectangular files
    assert header == expected_header
    assert lines == expected_lines
    table = Table("t", header, None, lines, Problems(), columns=columns)
    assert table.rows == rows
    assert len(table) == len(rows)


def test_plain_file_reads_as_columns(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("id,zone\nA1,Z1\nA2,Z2\n")
    table = read_table(path)
    assert table._rows is None  # the fast path split it into columns
    assert table.text("zone") == ["Z1", "Z2"]
    assert table.lines == [2, 3]
    assert table.subset([1]).rows == [["A2", "Z2"]]
    padded = tmp_path / "b.csv"
    padded.write_text("id,zone\nA1, Z1\n\nA2,Z2\n")
    table = read_table(padded)
    assert table.text("zone") == ["Z1", "Z2"]
    assert table.lines == [2, 4]


SCHOOLS = {"S1": 0, "S2": 1, "S10": 2, "张1": 3}
CHOICE = st.lists(
    st.sampled_from(["S1", "S2", "S10", "张1", "S3", "", " S1", "S1 ", "s1"]), max_size=4
)


@st.composite
def choice_cell(draw):
    ids = draw(CHOICE)
    seps = [draw(st.sampled_from([";", ";", "|", "\n"])) for _ in ids]
    return "".join(s + i for s, i in zip(seps, ids, strict=True))[1:] if ids else ""


@EXAMPLES
@given(st.lists(choice_cell(), max_size=6))
def test_compiled_choices_match_the_careful_pass(cells):
    problems = Problems()
    table = Table(
        "applicants.csv",
        ["choices"],
        [[c] for c in cells],
        list(range(2, 2 + len(cells))),
        problems,
    )
    careful = model._checked_choices(table, cells, SCHOOLS, {})
    fast = parse_choices(cells, SCHOOLS, ";", "|")
    if fast is None:  # declined: the careful pass found a problem, or trims a padded id
        assert problems or any(c != c.replace(" ", "").replace("\n", "") for c in cells)
        return
    assert not problems
    np.testing.assert_array_equal(fast[0], careful[0])
    np.testing.assert_array_equal(fast[1], careful[1])
    assert fast[1].dtype == np.int32
    if careful[2] is None:
        assert fast[2] is None
    else:
        np.testing.assert_array_equal(fast[2], careful[2])


def test_compiled_choices_at_scale_against_a_dict():
    rng = np.random.default_rng(7)
    ids = [f"S{k:05d}" for k in range(3000)]
    index = {s: k for k, s in enumerate(ids)}
    rows = [rng.choice(3000, size=rng.integers(0, 11), replace=False) for _ in range(5000)]
    cells = [";".join(ids[k] for k in row) for row in rows]
    ptr, school, position = parse_choices(cells, index, ";", "|")
    assert position is None
    np.testing.assert_array_equal(np.diff(ptr), [len(r) for r in rows])
    np.testing.assert_array_equal(school, np.concatenate(rows))


TEXT = st.text(alphabet=st.sampled_from([*'ab1,"=+-@ \t\r\n张;é', "\x00"]), max_size=5)


@EXAMPLES
@given(
    st.lists(st.lists(TEXT, min_size=1, max_size=4), min_size=1, max_size=3),
    st.integers(0, 6),
    st.randoms(use_true_random=False),
)
def test_coded_columns_write_what_write_csv_writes(tmp_path_factory, vocabularies, n_rows, rnd):
    folder = tmp_path_factory.mktemp("csv")
    columns, cells = [], []
    for texts in vocabularies:
        codes = np.array([rnd.randrange(-1, len(texts)) for _ in range(n_rows)], dtype=np.int64)
        columns.append(Column(codes, Vocabulary.of(texts)))
        cells.append([texts[k] if k >= 0 else "" for k in codes.tolist()])
    header = [f"c{j}" for j in range(len(columns))]
    try:
        write_csv(folder / "expected.csv", header, zip(*cells, strict=True))
    except csv.Error:  # a text the csv module refuses (NUL): both refuse it
        with pytest.raises(csv.Error):
            write_columns(folder / "fast.csv", header, columns)
        return
    assert write_columns(folder / "fast.csv", header, columns) == n_rows
    assert (folder / "fast.csv").read_bytes() == (folder / "expected.csv").read_bytes()


def test_fixed_width_vocabulary_of_hex_numbers(tmp_path):
    rows = np.frombuffer(b"ab12cd34", np.uint8).reshape(2, 4)
    column = Column(np.array([1, -1, 0]), Vocabulary.fixed(rows))
    write_columns(tmp_path / "n.csv", ["number", "id"], [column, Column.of(["A", "B", "C"])])
    assert (tmp_path / "n.csv").read_bytes() == "\ufeffnumber,id\ncd34,A\n,B\nab12,C\n".encode()


@EXAMPLES
@given(
    st.lists(st.tuples(st.integers(0, 50), st.integers(0, 2**40), st.integers(0, 9)), max_size=40),
    st.booleans(),
)
def test_packed_order_is_the_lexsort_order(rows, wide):
    from seats.lottery.results import _order_by

    columns = [np.array([r[k] for r in rows], dtype=np.int64) for k in range(3)]
    if wide:  # too wide to pack: the lexsort itself
        columns[1] = columns[1] * 2**21
    np.testing.assert_array_equal(_order_by(*columns), np.lexsort(columns[::-1]))


def test_coded_columns_neutralise_the_header_as_write_csv(tmp_path):
    header = ["=x", "y"]
    columns = [Column.of(["a", "b"]), Column.of(["c", "d"])]
    write_columns(tmp_path / "fast.csv", header, columns)
    write_csv(tmp_path / "slow.csv", header, [["a", "c"], ["b", "d"]])
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "slow.csv").read_bytes()
