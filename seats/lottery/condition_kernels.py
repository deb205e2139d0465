"""Compiled tests of tier and reserve conditions over the choice entries (CSR by applicant).

A national draw has millions of entries and half a million applicants: a condition is a fact
of the applicant (a sibling's school, a zone, an attribute) compared with a fact of the
entry's school. These loops walk each applicant's entries with the applicant's value in hand,
instead of gathering an entry-sized copy of it for a whole-array comparison (on a virtual
machine, where fresh memory is slow to fault in, those copies cost more than the comparing).
They narrow ``holds`` in place: an entry already failing is not looked at again.
"""

from __future__ import annotations

import numba

from seats.io.jit import JIT


@numba.njit(**JIT)
def and_equal(ptr, applicant_value, entry_school, school_value, holds):
    """holds[e] &= applicant_value[a] == school_value[entry_school[e]], for a's entries e."""
    for a in range(len(ptr) - 1):
        mine = applicant_value[a]
        for e in range(ptr[a], ptr[a + 1]):
            if holds[e] and school_value[entry_school[e]] != mine:
                holds[e] = False


@numba.njit(**JIT)
def and_flag(ptr, applicant_flag, holds):
    """holds[e] &= applicant_flag[a], for a's entries e."""
    for a in range(len(ptr) - 1):
        if not applicant_flag[a]:
            holds[ptr[a] : ptr[a + 1]] = False
