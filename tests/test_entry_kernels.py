"""The compiled passes over the choice entries against naive references written from their
docstrings: condition tests, the units' lists, waitlist entries, applicants by tier, group
positions and their order. Random CSR lists, empty lists and empty inputs included."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from seats.lottery import kernels
from seats.lottery.condition_kernels import and_equal, and_flag

EXAMPLES = settings(max_examples=200, deadline=None, derandomize=True)


@st.composite
def lists(draw, max_applicants=12, n_schools=6):
    """CSR choice lists: (ptr, school per entry, position per entry), positions ascending
    within a list with some positions holding several schools."""
    lengths = draw(st.lists(st.integers(0, 5), max_size=max_applicants))
    ptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=ptr[1:])
    total = int(ptr[-1])
    school = np.array(
        draw(st.lists(st.integers(0, n_schools - 1), min_size=total, max_size=total)),
        dtype=np.int32,
    )
    steps = draw(st.lists(st.booleans(), min_size=total, max_size=total))
    position = np.zeros(total, dtype=np.int32)
    for a in range(len(lengths)):
        p = 0
        for e in range(ptr[a], ptr[a + 1]):
            if e > ptr[a] and steps[e]:
                p += 1
            position[e] = p
    return ptr, school, position


def applicant_of(ptr):
    return np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))


@EXAMPLES
@given(lists(), st.data())
def test_condition_tests_narrow_as_the_whole_array_formulas(csr, data):
    ptr, school, _ = csr
    n, n_entries = len(ptr) - 1, len(school)
    values = np.array(data.draw(st.lists(st.integers(-1, 3), min_size=n, max_size=n)), np.int64)
    school_value = np.array(
        data.draw(st.lists(st.integers(0, 3), min_size=6, max_size=6)), np.int64
    )
    flag = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool)
    start = np.array(
        data.draw(st.lists(st.booleans(), min_size=n_entries, max_size=n_entries)), bool
    )
    app = applicant_of(ptr)

    holds = start.copy()
    and_equal(ptr, values, school, school_value, holds)
    assert (holds == (start & (values[app] == school_value[school]))).all()
    holds = start.copy()
    and_flag(ptr, flag, holds)
    assert (holds == (start & flag[app])).all()


@EXAMPLES
@given(lists(), st.data())
def test_unit_lists_are_the_first_members_lists(csr, data):
    ptr, school, _ = csr
    n = len(ptr) - 1
    first = np.array(
        data.draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=n if n else 0)), np.int64
    )
    key = np.arange(len(school), dtype=np.int64) * 7 - 3
    mask = (np.arange(len(school)) % 5).astype(np.int8)
    unit_ptr, unit_school, unit_key, unit_mask = kernels.unit_lists(ptr, first, school, key, mask)
    entries = [e for f in first.tolist() for e in range(ptr[f], ptr[f + 1])]
    assert np.diff(unit_ptr).tolist() == [int(ptr[f + 1] - ptr[f]) for f in first.tolist()]
    assert unit_school.tolist() == school[entries].tolist()
    assert unit_key.tolist() == key[entries].tolist()
    assert unit_mask.tolist() == mask[entries].tolist() and unit_mask.dtype == np.int8


@EXAMPLES
@given(lists(), st.data())
def test_waiting_entries_lie_above_the_placement(csr, data):
    ptr, _, _ = csr
    n = len(ptr) - 1
    lengths = np.diff(ptr)
    rank = np.array(
        [data.draw(st.integers(-1, max(int(length) - 1, -1))) for length in lengths], np.int32
    )
    taking_part = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool)
    entries, apps = kernels.waiting_entries(ptr, rank, taking_part)
    expected = [
        (e, a)
        for a in range(n)
        if taking_part[a]
        for e in range(ptr[a], ptr[a + 1])
        if rank[a] < 0 or e - ptr[a] < rank[a]
    ]
    assert list(zip(entries.tolist(), apps.tolist(), strict=True)) == expected


@EXAMPLES
@given(lists(), st.data())
def test_count_by_tier_counts_each_listing_once(csr, data):
    ptr, school, _ = csr
    n, n_entries = len(ptr) - 1, len(school)
    taking_part = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool)
    tier = np.array(
        data.draw(st.lists(st.integers(0, 2), min_size=n_entries, max_size=n_entries)), np.int8
    )
    school_list = np.array(data.draw(st.lists(st.integers(0, 1), min_size=6, max_size=6)), np.int32)
    to_global = np.array([[0, 1, 3], [2, 1, 3]], dtype=np.int32)
    counts = kernels.count_by_tier(ptr, taking_part, school, tier, school_list, to_global, 4)
    expected = np.zeros((6, 4), dtype=np.int64)
    for a in range(n):
        for e in range(ptr[a], ptr[a + 1]):
            if taking_part[a]:
                expected[school[e], to_global[school_list[school[e]], tier[e]]] += 1
    assert (counts == expected).all()


@EXAMPLES
@given(lists())
def test_grouped_entries_and_their_order(csr):
    ptr, _, position = csr
    entries, group, applicant = kernels.grouped_entries(ptr, position)
    expected = []  # (entry, applicant) of positions holding two or more entries
    for a in range(len(ptr) - 1):
        by_position: dict[int, list[int]] = {}
        for e in range(ptr[a], ptr[a + 1]):
            by_position.setdefault(int(position[e]), []).append(e)
        expected += [(e, a) for es in by_position.values() if len(es) > 1 for e in es]
    assert list(zip(entries.tolist(), applicant.tolist(), strict=True)) == expected
    # one number per position, ascending
    starts = [
        i
        for i in range(len(entries))
        if i == 0
        or (applicant[i], position[entries[i]]) != (applicant[i - 1], position[entries[i - 1]])
    ]
    assert np.diff(group).min(initial=1) >= 0
    assert sorted(set(group.tolist())) == group[starts].tolist()
    number = np.random.default_rng(len(entries)).permutation(len(entries))
    order = kernels.order_within_groups(group, number)
    assert (order == np.lexsort((number, group))).all()
