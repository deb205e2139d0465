"""Numba kernels for the admission mechanisms: arrays in, arrays out.

Input layout shared by every mechanism (CSR over applicants):

- ``choice_ptr``   int64[n_applicants + 1]: applicant ``a`` ranks the entries
  ``choice_ptr[a] .. choice_ptr[a + 1] - 1``, best first (possibly none).
- ``choice_school`` int32[n_entries]: school index of each entry.
- ``choice_key``    int64[n_entries]: the applicant's priority key at that school;
  lower wins (upstream: ``tier_index * n_numbers + lottery_rank``).
- ``seats``         int64[n_schools] >= 0.

Outputs: ``out_school`` int32[n_applicants] (school index, -1 if unplaced) and
``out_rank`` int32[n_applicants] (0-based position of the placement in the
applicant's list, -1 if unplaced).

Private kernels (``_name``) do no validation and return a status code; the public
wrappers validate, allocate, call the kernel and raise on a bad status.
"""

import numba
import numpy as np

from seats.io.jit import JIT

OK = 0
EQUAL_KEYS = 1


RADIX_BITS = 8
RADIX_MASK = (1 << RADIX_BITS) - 1


@numba.njit(**JIT)
def _radix_sort_slice(rel, idx, rel_tmp, idx_tmp, count, lo, hi, span):
    """Stable LSD radix sort of ``rel[lo:hi]`` (uint64) carrying ``idx[lo:hi]`` along.

    One pass per RADIX_BITS of ``span`` (the largest value); the slice of one school
    stays in cache, which is why this beats a global sort. Scratch arrays are shared.
    """
    n = hi - lo
    mask = np.uint64(RADIX_MASK)
    shift = np.uint64(0)
    while shift < np.uint64(64) and (span >> shift) > np.uint64(0):
        count[:] = 0
        for i in range(lo, hi):
            count[np.int64((rel[i] >> shift) & mask) + 1] += 1
        for d in range(RADIX_MASK + 1):
            count[d + 1] += count[d]
        for i in range(lo, hi):
            d = np.int64((rel[i] >> shift) & mask)
            j = count[d]
            count[d] = j + 1
            rel_tmp[j] = rel[i]
            idx_tmp[j] = idx[i]
        for j in range(n):
            rel[lo + j] = rel_tmp[j]
            idx[lo + j] = idx_tmp[j]
        shift += np.uint64(RADIX_BITS)


@numba.njit(**JIT)
def _school_offsets(choice_school, n_schools):
    """CSR offsets of the entries grouped by school: school ``s`` owns
    ``school_ptr[s]:school_ptr[s + 1]`` of a counting sort by school."""
    school_ptr = np.zeros(n_schools + 1, dtype=np.int64)
    for e in range(choice_school.shape[0]):
        school_ptr[choice_school[e] + 1] += 1
    for s in range(n_schools):
        school_ptr[s + 1] += school_ptr[s]
    return school_ptr


@numba.njit(**JIT)
def _order_by_school_key(choice_school, choice_key, n_schools):
    """Entries sorted by (school, key), plus the school offsets and a status.

    Returns ``(school_ptr, order, status)``: school ``s`` owns
    ``order[school_ptr[s]:school_ptr[s + 1]]``, keys ascending. ``status`` is
    EQUAL_KEYS if two entries naming the same school carry the same key. This is
    checked over all entries (not only applications actually made) so that the
    contract is the same for every mechanism and does not depend on the draw.
    """
    n_entries = choice_school.shape[0]
    # Counting sort by school, gathering keys alongside so later passes read sequentially.
    school_ptr = _school_offsets(choice_school, n_schools)
    fill = school_ptr[:-1].copy()
    order = np.empty(n_entries, dtype=np.int64)
    keys = np.empty(n_entries, dtype=np.int64)
    for e in range(n_entries):
        s = choice_school[e]
        order[fill[s]] = e
        keys[fill[s]] = choice_key[e]
        fill[s] += 1
    largest = 0
    for s in range(n_schools):
        largest = max(largest, school_ptr[s + 1] - school_ptr[s])

    # Sort each school's keys as uint64 offsets from the school's minimum: exact even
    # when max - min overflows int64, and as few passes as the school's key range needs.
    rel = np.empty(n_entries, dtype=np.uint64)
    rel_tmp = np.empty(largest, dtype=np.uint64)
    idx_tmp = np.empty(largest, dtype=np.int64)
    count = np.empty(RADIX_MASK + 2, dtype=np.int64)
    for s in range(n_schools):
        lo = school_ptr[s]
        hi = school_ptr[s + 1]
        if hi - lo < 2:
            continue
        kmin = keys[lo]
        kmax = keys[lo]
        for i in range(lo + 1, hi):
            kmin = min(kmin, keys[i])
            kmax = max(kmax, keys[i])
        for i in range(lo, hi):
            rel[i] = np.uint64(keys[i]) - np.uint64(kmin)
        _radix_sort_slice(
            rel, order, rel_tmp, idx_tmp, count, lo, hi, np.uint64(kmax) - np.uint64(kmin)
        )
        for i in range(lo + 1, hi):
            if rel[i] == rel[i - 1]:
                return school_ptr, order, EQUAL_KEYS
    return school_ptr, order, OK


# Keys spanning at most this many values per entry are checked with a stamp table.
STAMP_SPAN_PER_ENTRY = 4


@numba.njit(**JIT)
def _check_keys(choice_school, choice_key, n_schools):
    """EQUAL_KEYS if two entries naming the same school carry the same key, else OK.

    The same contract as :func:`_order_by_school_key` (all entries, not only the
    applications made), for mechanisms that need no order by key. When the keys span
    few values per entry, as the lottery's ``tier * n_numbers + rank`` do, each school's
    keys are stamped into a table indexed by key, with no sort; otherwise the keys are
    sorted.
    """
    n_entries = choice_school.shape[0]
    if n_entries < 2:
        return OK
    kmin = choice_key.min()
    span = np.uint64(choice_key.max()) - np.uint64(kmin)
    if span >= np.uint64(STAMP_SPAN_PER_ENTRY * n_entries):
        return _order_by_school_key(choice_school, choice_key, n_schools)[2]
    # Keys grouped by school (a counting sort), then stamped with the last school seen.
    school_ptr = _school_offsets(choice_school, n_schools)
    fill = school_ptr[:-1].copy()
    keys = np.empty(n_entries, dtype=np.int64)
    for e in range(n_entries):
        s = choice_school[e]
        keys[fill[s]] = choice_key[e]
        fill[s] += 1
    stamp = np.full(np.int64(span) + 1, -1, dtype=np.int32)  # choice_school is int32
    for s in range(n_schools):
        for i in range(school_ptr[s], school_ptr[s + 1]):
            k = keys[i] - kmin
            if stamp[k] == s:
                return EQUAL_KEYS
            stamp[k] = s
    return OK


@numba.njit(**JIT)
def _sift_down(heap_key, heap_app, base, size, pos, key, app):
    """Place (key, app) at ``pos`` of the max-heap ``[base, base + size)`` and sift it down."""
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        right = child + 1
        if right < size and heap_key[base + right] > heap_key[base + child]:
            child = right
        if heap_key[base + child] <= key:
            break
        heap_key[base + pos] = heap_key[base + child]
        heap_app[base + pos] = heap_app[base + child]
        pos = child
    heap_key[base + pos] = key
    heap_app[base + pos] = app


@numba.njit(**JIT)
def _sift_up(heap_key, heap_app, base, pos, key, app):
    """Place (key, app) at ``pos`` of the max-heap starting at ``base`` and sift it up."""
    while pos > 0:
        parent = (pos - 1) >> 1
        if heap_key[base + parent] >= key:
            break
        heap_key[base + pos] = heap_key[base + parent]
        heap_app[base + pos] = heap_app[base + parent]
        pos = parent
    heap_key[base + pos] = key
    heap_app[base + pos] = app


@numba.njit(**JIT)
def _deferred_acceptance(
    choice_ptr, choice_school, choice_key, seats, out_school, out_rank, check_keys=True
):
    """Applicant-proposing deferred acceptance (Gale-Shapley with school capacities).

    Each school holds its tentatively admitted applicants in a max-heap on key, all
    heaps living in one flat buffer (offsets = cumulative seats), so a proposal costs
    O(log seats). Free applicants wait on a stack, initialised so that applicant 0
    proposes first; the applicant-optimal stable matching is unique, so the order only
    fixes the run time, never the result.
    """
    n_applicants = choice_ptr.shape[0] - 1
    n_schools = seats.shape[0]
    out_school[:] = -1
    out_rank[:] = -1
    if check_keys and _check_keys(choice_school, choice_key, n_schools) != OK:
        return EQUAL_KEYS

    heap_ptr = np.zeros(n_schools + 1, dtype=np.int64)
    for s in range(n_schools):
        heap_ptr[s + 1] = heap_ptr[s] + seats[s]
    heap_key = np.empty(heap_ptr[n_schools], dtype=np.int64)
    heap_app = np.empty(heap_ptr[n_schools], dtype=np.int32)
    heap_size = np.zeros(n_schools, dtype=np.int64)

    # next_entry[a]: the entry applicant a proposes to next; after the run, the entry
    # they are held at is next_entry[a] - 1.
    next_entry = choice_ptr[:-1].copy()
    stack = np.empty(n_applicants, dtype=np.int32)
    top = 0
    for a in range(n_applicants - 1, -1, -1):
        stack[top] = a
        top += 1

    while top > 0:
        top -= 1
        a = stack[top]
        end = choice_ptr[a + 1]
        while next_entry[a] < end:
            e = next_entry[a]
            next_entry[a] = e + 1
            s = choice_school[e]
            cap = seats[s]
            if cap == 0:
                continue
            key = choice_key[e]
            base = heap_ptr[s]
            size = heap_size[s]
            if size < cap:
                _sift_up(heap_key, heap_app, base, size, key, a)
                heap_size[s] = size + 1
                break
            if key < heap_key[base]:
                # Evict the held applicant with the worst key; they propose next.
                evicted = heap_app[base]
                _sift_down(heap_key, heap_app, base, size, 0, key, a)
                stack[top] = evicted
                top += 1
                break
            # Rejected: try the next choice.

    for s in range(n_schools):
        base = heap_ptr[s]
        for i in range(heap_size[s]):
            a = heap_app[base + i]
            out_school[a] = s
            out_rank[a] = next_entry[a] - 1 - choice_ptr[a]
    return OK


@numba.njit(**JIT)
def _immediate_acceptance(choice_ptr, choice_school, choice_key, seats, out_school, out_rank):
    """Immediate acceptance, the classic Boston mechanism (志愿优先, first choice first).

    In round r every still-unplaced applicant with more than r choices applies to their
    r-th choice, even if it is already full; each school accepts the round's applicants
    in key order up to its remaining seats; acceptances are final.

    Entries are bucketed by (round, school) with keys ascending inside a bucket, so every
    entry is visited at most once over all rounds.
    """
    n_applicants = choice_ptr.shape[0] - 1
    n_schools = seats.shape[0]
    n_entries = choice_school.shape[0]
    out_school[:] = -1
    out_rank[:] = -1

    # 1. Entries sorted by (school, key); equal keys at a school break the contract.
    school_ptr, by_school, status = _order_by_school_key(choice_school, choice_key, n_schools)
    if status != OK:
        return status

    # 2. Applicant and list position (= round) of every entry, in one sequential pass.
    entry_app = np.empty(n_entries, dtype=np.int32)
    entry_rank = np.empty(n_entries, dtype=np.int32)
    max_len = 0
    for a in range(n_applicants):
        lo = choice_ptr[a]
        hi = choice_ptr[a + 1]
        max_len = max(max_len, hi - lo)
        for e in range(lo, hi):
            entry_app[e] = a
            entry_rank[e] = e - lo

    # 3. Stable counting sort into buckets (rank, school): key order survives.
    if max_len * n_schools > 4 * n_entries + 4096:  # long lists, many schools: table too big
        args = (by_school, entry_app, entry_rank, choice_school, max_len, seats)
        _immediate_by_round(*args, out_school, out_rank)
        return OK
    n_buckets = max_len * n_schools
    bucket_ptr = np.zeros(n_buckets + 1, dtype=np.int64)
    for e in range(n_entries):
        bucket_ptr[entry_rank[e] * n_schools + choice_school[e] + 1] += 1
    for b in range(n_buckets):
        bucket_ptr[b + 1] += bucket_ptr[b]
    fill = bucket_ptr[:-1].copy()
    bucket_app = np.empty(n_entries, dtype=np.int32)
    for s in range(n_schools):
        for i in range(school_ptr[s], school_ptr[s + 1]):
            e = by_school[i]
            b = entry_rank[e] * n_schools + s
            bucket_app[fill[b]] = entry_app[e]
            fill[b] += 1

    # 4. Rounds.
    _immediate_rounds(  # (int64, not the literal 1: one compiled version, not one per literal)
        bucket_ptr, bucket_app, n_schools, np.int64(1), max_len, seats.copy(), out_school, out_rank
    )
    return OK


@numba.njit(**JIT)
def _immediate_by_round(
    by_school, entry_app, entry_rank, choice_school, max_len, seats, out_school, out_rank
):
    """The rounds of :func:`_immediate_acceptance` in memory proportional to the entries (not
    rounds x schools): entries bucketed by round only, each round's in (school, key) order."""
    n_entries = entry_app.shape[0]
    round_ptr = np.zeros(max_len + 1, dtype=np.int64)
    for e in range(n_entries):
        round_ptr[entry_rank[e] + 1] += 1
    for r in range(max_len):
        round_ptr[r + 1] += round_ptr[r]
    fill = round_ptr[:-1].copy()
    in_round = np.empty(n_entries, dtype=np.int64)
    for i in range(n_entries):  # by_school is school-major, key-ascending: order survives
        e = by_school[i]
        in_round[fill[entry_rank[e]]] = e
        fill[entry_rank[e]] += 1
    seats_left = seats.copy()
    for r in range(max_len):
        for i in range(round_ptr[r], round_ptr[r + 1]):
            e = in_round[i]
            s = choice_school[e]
            a = entry_app[e]
            if seats_left[s] == 0 or out_school[a] >= 0:
                continue
            out_school[a] = s
            out_rank[a] = r
            seats_left[s] -= 1


@numba.njit(**JIT)
def _immediate_rounds(
    bucket_ptr, bucket_app, stride, step, max_len, seats_left, out_school, out_rank
):
    """The rounds of immediate acceptance over applications already bucketed by (round, school)
    in key order: round r's applicants to school s are ``bucket_app[bucket_ptr[r * stride + s *
    step]:bucket_ptr[r * stride + (s + 1) * step]]`` (``step`` > 1 when each school's bucket is
    split further by key range, e.g. by tier). ``seats_left`` (a scratch copy of the seats) is
    used up; ``out_school``/``out_rank`` must hold -1 on entry. Shared by
    :func:`_immediate_acceptance` and the Monte Carlo lottery (sim.mc_kernels)."""
    n_schools = seats_left.shape[0]
    for r in range(max_len):
        for s in range(n_schools):
            if seats_left[s] == 0:
                continue
            for i in range(
                bucket_ptr[r * stride + s * step], bucket_ptr[r * stride + (s + 1) * step]
            ):
                a = bucket_app[i]
                # Placed in an earlier round: not applying any more.
                if out_school[a] >= 0:
                    continue
                out_school[a] = s
                out_rank[a] = r
                seats_left[s] -= 1
                if seats_left[s] == 0:
                    break


def _coerce(choice_ptr, choice_school, choice_key, seats):
    """Check shapes and ranges, return contiguous arrays of the kernel dtypes."""
    arrays = {
        "choice_ptr": np.asarray(choice_ptr),
        "choice_school": np.asarray(choice_school),
        "choice_key": np.asarray(choice_key),
        "seats": np.asarray(seats),
    }
    for name, arr in arrays.items():
        if arr.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
        # Empty arrays built from [] are float64; they hold no values to misread.
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    ptr = arrays["choice_ptr"]
    school = arrays["choice_school"]
    key = arrays["choice_key"]
    cap = arrays["seats"]
    if ptr.size == 0 or ptr[0] != 0:
        raise ValueError("choice_ptr must start with 0")
    if np.any(np.diff(ptr) < 0):
        raise ValueError("choice_ptr must be non-decreasing")
    if ptr[-1] != school.size or school.size != key.size:
        raise ValueError(
            f"choice_ptr[-1] ({ptr[-1]}), len(choice_school) ({school.size}) and "
            f"len(choice_key) ({key.size}) must agree"
        )
    if ptr.size - 1 > np.iinfo(np.int32).max:
        raise ValueError("too many applicants for int32 outputs")
    if school.size and (school.min() < 0 or school.max() >= cap.size):
        raise ValueError(f"choice_school must lie in [0, {cap.size})")
    if cap.size and cap.min() < 0:
        raise ValueError("seats must be >= 0")
    # A school never admits more than the applicants who listed it; capping there changes no
    # result and bounds the kernels' per-seat buffers by the input size, not by `seats`.
    listed = np.bincount(school, minlength=cap.size) if school.size else np.zeros_like(cap)
    return (
        np.ascontiguousarray(ptr, dtype=np.int64),
        np.ascontiguousarray(school, dtype=np.int32),
        np.ascontiguousarray(key, dtype=np.int64),
        np.ascontiguousarray(np.minimum(cap, listed), dtype=np.int64),
    )


def _run(kernel, name, choice_ptr, choice_school, choice_key, seats, *extra):
    ptr, school, key, cap = _coerce(choice_ptr, choice_school, choice_key, seats)
    n_applicants = ptr.shape[0] - 1
    out_school = np.empty(n_applicants, dtype=np.int32)
    out_rank = np.empty(n_applicants, dtype=np.int32)
    status = kernel(ptr, school, key, cap, out_school, out_rank, *extra)
    if status == EQUAL_KEYS:
        raise ValueError(
            f"equal priority keys at a school: {name} needs a strict priority order "
            "at every school (check tie-break numbers)"
        )
    if status != OK:
        raise RuntimeError(f"{name} kernel returned unknown status {status}")
    return out_school, out_rank


def deferred_acceptance(choice_ptr, choice_school, choice_key, seats, *, check_keys=True):
    """Applicant-proposing deferred acceptance; returns ``(out_school, out_rank)``.

    The result is the applicant-optimal stable matching. Raises ``ValueError`` on bad
    shapes or ranges, or when two entries at the same school have equal keys. A caller whose
    keys are distinct at every school by construction (seats.lottery: tier x numbers + a
    number rank, duplicate choices refused) may skip that check (a third of the kernel's
    time at national scale) with ``check_keys=False``.
    """
    return _run(
        _deferred_acceptance,
        "deferred acceptance",
        choice_ptr,
        choice_school,
        choice_key,
        seats,
        bool(check_keys),
    )


def immediate_acceptance(choice_ptr, choice_school, choice_key, seats):
    """Immediate acceptance (Boston, 志愿优先); returns ``(out_school, out_rank)``.

    Raises ``ValueError`` on bad shapes or ranges, or when two entries at the same
    school have equal keys.
    """
    return _run(
        _immediate_acceptance, "immediate acceptance", choice_ptr, choice_school, choice_key, seats
    )


# --- rules v2: units (families), reserves ---------------------------------------------------
#
# A unit is one applicant or a family applying together (twins, 多胞胎): it holds
# ``unit_size`` seats or none. ``choice_mask`` has bit r set where the unit meets reserve r's
# conditions at that entry's school; a school's reserves are ``res_bit[res_ptr[s]:res_ptr[s +
# 1]]`` with ``res_seats`` seats each, in the policy's order. Keys are distinct at a school by
# construction (the unit's number is its smallest member's, and numbers are distinct).


@numba.njit(**JIT)
def _choose(
    cand,
    cand_size,
    n_cand,
    choice_mask,
    school_free,
    res_lo,
    res_hi,
    res_bit,
    reserve_free,
    chosen,
    chosen_res,
):
    """The choice rule of a school (DESIGN.md, rules v2) on ``cand[:n_cand]`` (entries in key
    order, of units of ``cand_size`` members): each reserve in order takes, while it and the
    school have a free seat, the best candidates meeting its conditions; then the school's
    free seats take the best of the rest. A unit enters when one seat is free and brings all
    its members. ``reserve_free`` (one per reserve of the school) is used up; returns the
    school's free seats afterwards."""
    for i in range(n_cand):
        chosen[i] = False
        chosen_res[i] = -1
    for j in range(res_lo, res_hi):
        k = j - res_lo
        bit = res_bit[j]
        for i in range(n_cand):
            if school_free <= 0 or reserve_free[k] <= 0:
                break
            if chosen[i]:
                continue
            if (choice_mask[cand[i]] >> bit) & 1:
                chosen[i] = True
                chosen_res[i] = bit
                reserve_free[k] -= cand_size[i]
                school_free -= cand_size[i]
    for i in range(n_cand):
        if school_free <= 0:
            break
        if not chosen[i]:
            chosen[i] = True
            school_free -= cand_size[i]
    return school_free


@numba.njit(**JIT)
def unit_lists(choice_ptr, first, choice_school, choice_key, choice_mask):
    """The units' lists as a CSR of their own: each unit's first member's entries (school,
    key, reserve mask), for units whose first members are ``first``. One pass, no
    entry-sized index array (members of a family have identical lists)."""
    n_units = first.shape[0]
    unit_ptr = np.zeros(n_units + 1, dtype=np.int64)
    for u in range(n_units):
        unit_ptr[u + 1] = unit_ptr[u] + choice_ptr[first[u] + 1] - choice_ptr[first[u]]
    total = unit_ptr[n_units]
    school = np.empty(total, dtype=np.int32)
    key = np.empty(total, dtype=np.int64)
    mask = np.empty(total, dtype=choice_mask.dtype)
    for u in range(n_units):
        shift = choice_ptr[first[u]] - unit_ptr[u]
        for e in range(unit_ptr[u], unit_ptr[u + 1]):
            school[e] = choice_school[e + shift]
            key[e] = choice_key[e + shift]
            mask[e] = choice_mask[e + shift]
    return unit_ptr, school, key, mask


@numba.njit(**JIT)
def _entry_units(choice_ptr):
    n_units = choice_ptr.shape[0] - 1
    entry_unit = np.empty(choice_ptr[n_units], dtype=np.int32)  # (units < 2**31)
    for u in range(n_units):
        for e in range(choice_ptr[u], choice_ptr[u + 1]):
            entry_unit[e] = u
    return entry_unit


@numba.njit(**JIT)
def _deferred_acceptance_units(
    choice_ptr,
    choice_school,
    choice_key,
    choice_mask,
    unit_size,
    seats,
    res_ptr,
    res_bit,
    res_seats,
    out_school,
    out_rank,
    out_reserve,
):
    """Deferred acceptance in rounds (DESIGN.md: with families the choice rule is not
    substitutable, so proposals go in rounds, not one at a time): every unit not held proposes
    to its next school at once, then each school that received proposals applies the choice
    rule to its held + new proposers; the rejected propose again next round.

    A proposal's key, unit and size travel with it (``by_*``, ``cand_*``, ``held_*``): read
    from the entry-sized arrays once, not again in every later round's merge and choice,
    where those scattered reads were most of the time of a national draw."""
    n_units = choice_ptr.shape[0] - 1
    n_schools = seats.shape[0]
    n_entries = choice_school.shape[0]
    out_school[:] = -1
    out_rank[:] = -1
    out_reserve[:] = -1
    listing = np.zeros(n_schools, dtype=np.int64)
    for e in range(n_entries):
        listing[choice_school[e]] += 1
    # A school holds at most min(seats, units listing it) units: each takes a seat or more.
    held_ptr = np.zeros(n_schools + 1, dtype=np.int64)
    widest = 1
    for s in range(n_schools):
        held_ptr[s + 1] = held_ptr[s] + min(seats[s], listing[s])
        widest = max(widest, min(seats[s], listing[s]) + listing[s])
    n_held_max = held_ptr[n_schools]
    held_entry = np.empty(n_held_max, dtype=np.int64)
    held_key = np.empty(n_held_max, dtype=np.int64)
    held_unit = np.empty(n_held_max, dtype=np.int64)
    held_size = np.empty(n_held_max, dtype=np.int64)
    held_res = np.empty(n_held_max, dtype=np.int64)
    held_count = np.zeros(n_schools, dtype=np.int64)
    cand = np.empty(widest, dtype=np.int64)
    cand_key = np.empty(widest, dtype=np.int64)
    cand_unit = np.empty(widest, dtype=np.int64)
    ordered = np.empty(widest, dtype=np.int64)
    ordered_key = np.empty(widest, dtype=np.int64)
    ordered_unit = np.empty(widest, dtype=np.int64)
    ordered_size = np.empty(widest, dtype=np.int64)
    chosen = np.empty(widest, dtype=np.bool_)
    chosen_res = np.empty(widest, dtype=np.int64)
    reserve_free = np.empty(max(1, res_seats.shape[0]), dtype=np.int64)

    free = np.arange(n_units)
    n_free = n_units
    next_entry = choice_ptr[:-1].copy()
    proposal = np.empty(n_units, dtype=np.int64)
    proposal_unit = np.empty(n_units, dtype=np.int64)
    proposal_school = np.empty(n_units, dtype=np.int64)
    new_ptr = np.zeros(n_schools + 1, dtype=np.int64)
    new_fill = np.zeros(n_schools, dtype=np.int64)
    by_school = np.empty(n_units, dtype=np.int64)
    by_key = np.empty(n_units, dtype=np.int64)
    by_unit = np.empty(n_units, dtype=np.int64)
    touched = np.empty(n_schools, dtype=np.int64)
    school_left = seats.copy()  # free seats after the school's last choice
    while n_free > 0:
        n_prop = 0
        for i in range(n_free):
            u = free[i]
            e = next_entry[u]
            if e < choice_ptr[u + 1]:
                proposal[n_prop] = e
                proposal_unit[n_prop] = u
                next_entry[u] = e + 1
                n_prop += 1
        if n_prop == 0:
            break
        # this round's proposals grouped by school
        new_ptr[:] = 0
        for i in range(n_prop):
            s = choice_school[proposal[i]]
            proposal_school[i] = s
            new_ptr[s + 1] += 1
        n_touched = 0
        for s in range(n_schools):
            if new_ptr[s + 1] > 0:
                touched[n_touched] = s
                n_touched += 1
            new_ptr[s + 1] += new_ptr[s]
        new_fill[:] = new_ptr[:-1]
        for i in range(n_prop):
            s = proposal_school[i]
            j = new_fill[s]
            by_school[j] = proposal[i]
            by_key[j] = choice_key[proposal[i]]
            by_unit[j] = proposal_unit[i]
            new_fill[s] = j + 1
        n_free = 0
        for t in range(n_touched):
            s = touched[t]
            base = held_ptr[s]
            # The held are in key order already: sort the new proposers alone (insertion
            # sort, usually a few; a sort of the slice in the first round), then merge.
            lo_new, hi_new = new_ptr[s], new_ptr[s + 1]
            n_held = held_count[s]
            if res_ptr[s] == res_ptr[s + 1] and school_left[s] <= 0 and n_held > 0:
                # Full, no reserves: the choice takes a prefix in key order, which the held
                # fill already, so a proposer ranked after every held unit is refused as the
                # whole rule would refuse it (most proposals of the later rounds).
                worst = held_key[base + n_held - 1]
                kept = lo_new
                for i in range(lo_new, hi_new):
                    if by_key[i] > worst:
                        free[n_free] = by_unit[i]
                        n_free += 1
                    else:
                        by_school[kept] = by_school[i]
                        by_key[kept] = by_key[i]
                        by_unit[kept] = by_unit[i]
                        kept += 1
                hi_new = kept
                if hi_new == lo_new:
                    continue
            k = hi_new - lo_new
            if k > 16:
                order = np.argsort(by_key[lo_new:hi_new])
                for i in range(k):
                    j = lo_new + order[i]
                    cand[i] = by_school[j]
                    cand_key[i] = by_key[j]
                    cand_unit[i] = by_unit[j]
            else:
                for i in range(k):
                    key = by_key[lo_new + i]
                    j = i
                    while j > 0 and cand_key[j - 1] > key:
                        cand[j] = cand[j - 1]
                        cand_key[j] = cand_key[j - 1]
                        cand_unit[j] = cand_unit[j - 1]
                        j -= 1
                    cand[j] = by_school[lo_new + i]
                    cand_key[j] = key
                    cand_unit[j] = by_unit[lo_new + i]
            h, i, m = 0, 0, 0
            while h < n_held or i < k:
                if i == k or (h < n_held and held_key[base + h] < cand_key[i]):
                    ordered[m] = held_entry[base + h]
                    ordered_key[m] = held_key[base + h]
                    ordered_unit[m] = held_unit[base + h]
                    ordered_size[m] = held_size[base + h]
                    h += 1
                else:
                    ordered[m] = cand[i]
                    ordered_key[m] = cand_key[i]
                    ordered_unit[m] = cand_unit[i]
                    ordered_size[m] = unit_size[cand_unit[i]]
                    i += 1
                m += 1
            lo, hi = res_ptr[s], res_ptr[s + 1]
            for j in range(lo, hi):
                reserve_free[j - lo] = res_seats[j]
            school_left[s] = _choose(
                ordered,
                ordered_size,
                m,
                choice_mask,
                seats[s],
                lo,
                hi,
                res_bit,
                reserve_free,
                chosen,
                chosen_res,
            )
            held_count[s] = 0
            for i in range(m):
                if chosen[i]:
                    j = base + held_count[s]
                    held_entry[j] = ordered[i]
                    held_key[j] = ordered_key[i]
                    held_unit[j] = ordered_unit[i]
                    held_size[j] = ordered_size[i]
                    held_res[j] = chosen_res[i]
                    held_count[s] += 1
                else:
                    free[n_free] = ordered_unit[i]
                    n_free += 1

    for s in range(n_schools):
        base = held_ptr[s]
        for i in range(held_count[s]):
            u = held_unit[base + i]
            out_school[u] = s
            out_rank[u] = held_entry[base + i] - choice_ptr[u]
            out_reserve[u] = held_res[base + i]
    return OK


@numba.njit(**JIT)
def _immediate_acceptance_units(
    choice_ptr,
    choice_school,
    choice_mask,
    unit_size,
    seats,
    res_ptr,
    res_bit,
    res_seats,
    by_round,
    out_school,
    out_rank,
    out_reserve,
):
    """Immediate acceptance (志愿优先) with units and reserves: round r, every unit still
    unplaced applies to its r-th school; each school applies the choice rule to the round's
    applicants with the seats and reserve seats still free; acceptances are final.
    ``by_round`` lists every entry in (position, school, key) order."""
    out_school[:] = -1
    out_rank[:] = -1
    out_reserve[:] = -1
    entry_unit = _entry_units(choice_ptr)
    school_free = seats.copy()
    reserve_free = res_seats.copy()
    n = by_round.shape[0]
    cand = np.empty(max(1, n), dtype=np.int64)
    cand_size = np.empty(max(1, n), dtype=np.int64)
    chosen = np.empty(max(1, n), dtype=np.bool_)
    chosen_res = np.empty(max(1, n), dtype=np.int64)
    i = 0
    while i < n:
        e0 = by_round[i]
        s = choice_school[e0]
        r = e0 - choice_ptr[entry_unit[e0]]
        m = 0
        j = i
        while j < n:
            e = by_round[j]
            if choice_school[e] != s or e - choice_ptr[entry_unit[e]] != r:
                break
            if out_school[entry_unit[e]] < 0 and school_free[s] > 0:
                cand[m] = e
                cand_size[m] = unit_size[entry_unit[e]]
                m += 1
            j += 1
        i = j
        if m == 0:
            continue
        lo, hi = res_ptr[s], res_ptr[s + 1]
        school_free[s] = _choose(
            cand,
            cand_size,
            m,
            choice_mask,
            school_free[s],
            lo,
            hi,
            res_bit,
            reserve_free[lo:hi],
            chosen,
            chosen_res,
        )
        for k in range(m):
            if chosen[k]:
                u = entry_unit[cand[k]]
                out_school[u] = s
                out_rank[u] = r
                out_reserve[u] = chosen_res[k]
    return OK


@numba.njit(**JIT)
def waiting_entries(choice_ptr, rank, taking_part):
    """(entries, applicants) of the waitlists: every entry of an applicant taking part that
    lies above the applicant's placement by choice (``rank``), or all its entries when it
    has none (rank -1); in entry order."""
    n = choice_ptr.shape[0] - 1
    count = 0
    for a in range(n):
        if taking_part[a]:
            length = choice_ptr[a + 1] - choice_ptr[a]
            count += length if rank[a] < 0 else min(rank[a], length)
    entries = np.empty(count, dtype=np.int64)
    apps = np.empty(count, dtype=np.int64)
    k = 0
    for a in range(n):
        if taking_part[a]:
            length = choice_ptr[a + 1] - choice_ptr[a]
            stop = choice_ptr[a] + (length if rank[a] < 0 else min(rank[a], length))
            for e in range(choice_ptr[a], stop):
                entries[k] = e
                apps[k] = a
                k += 1
    return entries, apps


@numba.njit(**JIT)
def count_by_tier(choice_ptr, taking_part, choice_school, tier, school_list, to_global, n_tiers):
    """Applicants listing each school, by their own tier there: (schools x n_tiers) counts
    over the entries of applicants taking part. ``tier`` indexes the school's own list
    (``school_list``); ``to_global`` maps (list, tier) to the policy's tier names."""
    counts = np.zeros((school_list.shape[0], n_tiers), dtype=np.int64)
    for a in range(choice_ptr.shape[0] - 1):
        if taking_part[a]:
            for e in range(choice_ptr[a], choice_ptr[a + 1]):
                s = choice_school[e]
                counts[s, to_global[school_list[s], tier[e]]] += 1
    return counts


# --- choice lists ---------------------------------------------------------------------------


@numba.njit(**JIT)
def _position_end(position, e, stop):
    """The end of the run of entries from `e` (before `stop`) that share e's position."""
    f = e + 1
    while f < stop and position[f] == position[e]:
        f += 1
    return f


@numba.njit(**JIT)
def grouped_entries(choice_ptr, position):
    """(entries, group, applicant) of every entry in a position that lists two or more
    schools (``P01|P02``): the entries in order, a number per position (ascending) and the
    applicant of each. Counted first, then filled: no entry-sized scratch."""
    n_applicants = choice_ptr.shape[0] - 1
    count = 0
    for a in range(n_applicants):
        e, stop = choice_ptr[a], choice_ptr[a + 1]
        while e < stop:
            f = _position_end(position, e, stop)
            if f - e > 1:
                count += f - e
            e = f
    entries = np.empty(count, dtype=np.int64)
    group = np.empty(count, dtype=np.int64)
    applicant = np.empty(count, dtype=np.int64)
    k, g = 0, 0
    for a in range(n_applicants):
        e, stop = choice_ptr[a], choice_ptr[a + 1]
        while e < stop:
            f = _position_end(position, e, stop)
            if f - e > 1:
                for i in range(e, f):
                    entries[k] = i
                    group[k] = g
                    applicant[k] = a
                    k += 1
                g += 1
            e = f
    return entries, group, applicant


@numba.njit(**JIT)
def order_within_groups(group, number):
    """The order that sorts `number` within each run of equal `group` values and keeps the
    runs where they are (np.lexsort((number, group)) for ascending groups; runs are short)."""
    n = group.shape[0]
    order = np.arange(n)
    start = 0
    while start < n:
        stop = start + 1
        while stop < n and group[stop] == group[start]:
            stop += 1
        for i in range(start + 1, stop):  # insertion sort: stable, and a run is a few entries
            moving = order[i]
            j = i
            while j > start and number[order[j - 1]] > number[moving]:
                order[j] = order[j - 1]
                j -= 1
            order[j] = moving
        start = stop
    return order
