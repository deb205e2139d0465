"""Kernels against the naive references, plus the invariants of each mechanism."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from naive import (
    is_non_wasteful,
    is_stable,
    naive_deferred_acceptance,
    naive_immediate_acceptance,
)

from seats.lottery.kernels import deferred_acceptance, immediate_acceptance

MECHANISMS = [
    (deferred_acceptance, naive_deferred_acceptance),
    (immediate_acceptance, naive_immediate_acceptance),
]
MECHANISM_IDS = ["deferred", "immediate"]
PROPERTY = settings(max_examples=300, deadline=None)


@st.composite
def instances(draw):
    """Small instances with unique keys per school: (choices, keys, seats).

    Keys follow the upstream form tier * n_numbers + number: single tie-break uses one
    number per applicant, multiple tie-break one number per entry.
    """
    n_schools = draw(st.integers(1, 6))
    n_applicants = draw(st.integers(0, 12))
    seats = draw(st.lists(st.integers(0, 4), min_size=n_schools, max_size=n_schools))
    choices = []
    for _ in range(n_applicants):
        order = draw(st.permutations(range(n_schools)))
        length = draw(st.integers(0, n_schools))
        choices.append(list(order[:length]))
    tiers = [draw(st.lists(st.integers(0, 2), min_size=len(c), max_size=len(c))) for c in choices]
    n_entries = sum(len(c) for c in choices)
    if draw(st.sampled_from(["single", "multiple"])) == "single":
        number = draw(st.permutations(range(n_applicants)))
        keys = [[t * n_applicants + number[a] for t in tiers[a]] for a in range(n_applicants)]
    else:
        number = iter(draw(st.permutations(range(n_entries))))
        keys = [[t * n_entries + next(number) for t in tiers[a]] for a in range(n_applicants)]
    return choices, keys, seats


def to_arrays(choices, keys, seats):
    ptr = np.zeros(len(choices) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(c) for c in choices])
    school = np.array([s for c in choices for s in c], dtype=np.int32)
    key = np.array([k for ks in keys for k in ks], dtype=np.int64)
    return ptr, school, key, np.array(seats, dtype=np.int64)


def as_pairs(out_school, out_rank):
    return [(int(s), int(r)) for s, r in zip(out_school, out_rank, strict=True)]


def check_feasible(choices, seats, out_school, out_rank):
    """Capacity respected; each placement is at a listed school, at the stated rank."""
    assert out_school.dtype == np.int32 and out_rank.dtype == np.int32
    assert len(out_school) == len(out_rank) == len(choices)
    counts = np.bincount(out_school[out_school >= 0], minlength=len(seats))
    assert np.all(counts <= np.array(seats))
    for a, (s, r) in enumerate(zip(out_school, out_rank, strict=True)):
        if s < 0:
            assert r == -1
        else:
            assert 0 <= r < len(choices[a])
            assert choices[a][r] == s


@PROPERTY
@given(instances())
def test_deferred_acceptance_matches_naive(inst):
    choices, keys, seats = inst
    out_school, out_rank = deferred_acceptance(*to_arrays(*inst))
    check_feasible(choices, seats, out_school, out_rank)
    result = as_pairs(out_school, out_rank)
    assert result == naive_deferred_acceptance(choices, keys, seats)
    assert is_stable(choices, keys, seats, result)
    assert is_non_wasteful(choices, keys, seats, result)


@PROPERTY
@given(instances())
def test_immediate_acceptance_matches_naive(inst):
    choices, keys, seats = inst
    out_school, out_rank = immediate_acceptance(*to_arrays(*inst))
    check_feasible(choices, seats, out_school, out_rank)
    assert as_pairs(out_school, out_rank) == naive_immediate_acceptance(choices, keys, seats)


@PROPERTY
@given(instances())
def test_immediate_acceptance_rejected_above_placement(inst):
    """Placed at rank r (or unplaced) means rejected at every earlier choice q: the
    school's seats all went to applicants admitted in earlier rounds or, in round q,
    with a better key."""
    choices, keys, seats = inst
    out_school, out_rank = immediate_acceptance(*to_arrays(*inst))
    key_at = [dict(zip(choices[a], keys[a], strict=True)) for a in range(len(choices))]
    for a in range(len(choices)):
        last = out_rank[a] if out_school[a] >= 0 else len(choices[a])
        for q in range(last):
            s = choices[a][q]
            ahead = sum(
                1
                for b in range(len(choices))
                if out_school[b] == s
                and (out_rank[b] < q or (out_rank[b] == q and key_at[b][s] < keys[a][q]))
            )
            assert ahead == seats[s]


@PROPERTY
@given(instances(), st.data())
@pytest.mark.parametrize("kernel, naive", MECHANISMS, ids=MECHANISM_IDS)
def test_equal_keys_at_a_school_raise(kernel, naive, inst, data):
    choices, keys, seats = inst
    entries = [(a, j) for a in range(len(choices)) for j in range(len(choices[a]))]
    pairs = [
        (x, y)
        for x in entries
        for y in entries
        if x[0] < y[0] and choices[x[0]][x[1]] == choices[y[0]][y[1]]
    ]
    assume(pairs)
    (a, i), (b, j) = data.draw(st.sampled_from(pairs))
    keys[b][j] = keys[a][i]
    with pytest.raises(ValueError, match="equal priority keys at a school"):
        kernel(*to_arrays(choices, keys, seats))
    with pytest.raises(ValueError):
        naive(choices, keys, seats)


@settings(max_examples=50, deadline=None)
@given(instances())
@pytest.mark.parametrize("kernel", [m[0] for m in MECHANISMS], ids=MECHANISM_IDS)
def test_deterministic_repeat(kernel, inst):
    arrays = to_arrays(*inst)
    first = kernel(*arrays)
    for _ in range(3):
        again = kernel(*[a.copy() for a in arrays])
        assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])


# Hand-worked example where the mechanisms differ. Schools X=0, Y=1, Z=2, one seat each.
#   a0: X, Y     a1: Y, X     a2: X, Z
#   priority at X: a1 < a2 < a0; at Y: a0 < a1; at Z: a2.
HAND = (
    [[0, 1], [1, 0], [0, 2]],
    [[2, 0], [1, 0], [1, 0]],
    [1, 1, 1],
)


def test_hand_example_deferred_acceptance():
    # a0 and a2 propose to X, a1 to Y; X holds a2, a0 goes to Y and displaces a1,
    # a1 goes to X and displaces a2, a2 goes to Z. Everyone ends at their 2nd choice.
    out_school, out_rank = deferred_acceptance(*to_arrays(*HAND))
    assert out_school.tolist() == [1, 0, 2]
    assert out_rank.tolist() == [1, 1, 1]


def test_hand_example_immediate_acceptance():
    # Round 0: X takes a2 over a0, Y takes a1. Round 1: a0 applies to Y, already full.
    out_school, out_rank = immediate_acceptance(*to_arrays(*HAND))
    assert out_school.tolist() == [-1, 1, 0]
    assert out_rank.tolist() == [-1, 0, 0]


@pytest.mark.parametrize("kernel", [m[0] for m in MECHANISMS], ids=MECHANISM_IDS)
def test_edge_cases(kernel):
    # No applicants.
    out_school, out_rank = kernel([0], [], [], [3])
    assert out_school.shape == out_rank.shape == (0,)
    # Empty lists and a zero-seat school.
    out_school, out_rank = kernel([0, 0, 1, 3], [0, 0, 1], [5, 1, 2], [0, 1])
    assert out_school.tolist() == [-1, -1, 1]
    assert out_rank.tolist() == [-1, -1, 1]


@pytest.mark.parametrize("kernel", [m[0] for m in MECHANISMS], ids=MECHANISM_IDS)
@pytest.mark.parametrize(
    "args, error",
    [
        (([1, 1], [0], [0], [1]), "start with 0"),
        (([0, 2, 1], [0, 1], [0, 1], [1, 1]), "non-decreasing"),
        (([0, 2], [0], [0], [1]), "must agree"),
        (([0, 1], [2], [0], [1, 1]), "choice_school"),
        (([0, 1], [-1], [0], [1]), "choice_school"),
        (([0, 1], [0], [0], [-1]), "seats"),
        (([[0, 1]], [0], [0], [1]), "one-dimensional"),
    ],
)
def test_wrapper_rejects_bad_input(kernel, args, error):
    with pytest.raises(ValueError, match=error):
        kernel(*args)


@pytest.mark.parametrize("kernel", [m[0] for m in MECHANISMS], ids=MECHANISM_IDS)
def test_wrapper_rejects_float_arrays(kernel):
    with pytest.raises(TypeError):
        kernel([0, 1], [0.0], [0], [1])


def test_deferred_acceptance_with_widely_spread_keys():
    """Keys far apart (beyond the stamp table's range) take the sorting path of the equal-key
    check; the result must still match the naive reference."""
    rng = np.random.default_rng(7)
    for _ in range(50):
        n, m = 30, 5
        choices = [rng.permutation(m)[: rng.integers(0, m + 1)].tolist() for _ in range(n)]
        keys = [[int(k) for k in rng.choice(10**15, size=len(c), replace=False)] for c in choices]
        # Unique per school by construction: one random number per (applicant, school) entry.
        seats = rng.integers(0, 4, size=m).tolist()
        ptr = np.cumsum([0] + [len(c) for c in choices])
        school = np.array([s for c in choices for s in c], dtype=np.int32)
        key = np.array([k for ks in keys for k in ks], dtype=np.int64)
        got = deferred_acceptance(ptr, school, key, seats)
        expected = naive_deferred_acceptance(choices, keys, seats)
        assert list(zip(got[0].tolist(), got[1].tolist(), strict=True)) == expected


def test_huge_seat_counts_do_not_allocate_per_seat():
    got = deferred_acceptance([0, 1, 2], [0, 0], [1, 2], [2**62])
    assert got[0].tolist() == [0, 0]
