"""Numba kernels of the Monte Carlo engine: counter-based random numbers and the admission
chances (the kindergarten lottery re-run on synthetic pools). The cohort forecast's kernel is
sim.cohort_kernels.

Random numbers come from a counter-based stream: the number with index ``i`` of stream ``s`` of
replication ``r`` is a SplitMix64 hash of (root key, r, s, i), where the root key comes from
``numpy.random.SeedSequence(seed)``. A replication's numbers therefore depend on nothing but its
index: not on the thread that runs it, the number of threads, nor how replications are batched
(in-process chunks or Dask tasks). Kernels write each replication's results into its own rows.
"""

import math

import numba
import numpy as np

from seats.io.jit import JIT, PARALLEL
from seats.lottery.kernels import _deferred_acceptance, _immediate_acceptance, _immediate_rounds

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
STREAM_LOTTERY = np.int64(3)  # an int64, not a literal: stream_key compiles once
IMMEDIATE, DEFERRED = 0, 1  # mechanism codes of the chances kernel


# --- counter-based random numbers --------------------------------------------------------------


@numba.njit(**JIT)
def _mix(z):
    """The SplitMix64 finaliser: a bijective hash of a uint64."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@numba.njit(**JIT)
def stream_key(root, replication, stream):
    """The key of one stream of one replication."""
    z = _mix(root ^ _mix(np.uint64(replication) * GOLDEN + np.uint64(1)))
    return _mix(z + np.uint64(stream) * GOLDEN)


@numba.njit(**JIT)
def uniform(key, i):
    """Number i of the stream, uniform on [0, 1) with 53 random bits."""
    bits = _mix(key + np.uint64(i + 1) * GOLDEN) >> np.uint64(11)
    return bits * (1.0 / 9007199254740992.0)


@numba.njit(**JIT)
def normal(key, i):
    """A standard normal from numbers 2i and 2i + 1 of the stream (Box-Muller)."""
    u1 = 1.0 - uniform(key, 2 * i)  # in (0, 1]: log is finite
    u2 = uniform(key, 2 * i + 1)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


# --- admission chances -------------------------------------------------------------------------


@numba.njit(**JIT)
def _shuffled_numbers(key, counter, rank, n_numbers):
    """rank[:n_numbers] = a uniformly random permutation of 0 .. n_numbers - 1 (Fisher-Yates
    from the last position down, number `counter` of the stream onwards)."""
    for m in range(n_numbers):
        rank[m] = m
    for m in range(n_numbers - 1, 0, -1):
        j = min(int(uniform(key, counter) * (m + 1)), m)
        counter += 1
        rank[m], rank[j] = rank[j], rank[m]


@numba.njit(**JIT)
def _repeats_in_rows(zone_rows, tier_bits):
    """True if some row of `zone_rows` lists a school twice: with a single tie-break the
    mechanism kernels then see equal keys at that school and place no one."""
    for f in range(zone_rows.shape[0]):
        length = zone_rows[f, 0]
        for j in range(1, length):
            for k in range(j):
                if zone_rows[f, 1 + j] >> tier_bits == zone_rows[f, 1 + k] >> tier_bits:
                    return True
    return False


@numba.njit(**JIT)
def _one_lottery(
    key, pool_count, resample, zone_ptr, zone_rows, tier_bits, seats, mechanism, multiple,
    bucketed, picks, choice_ptr, choice_school, key_of, rank, inv, ent_bucket, ent_app,
    bucket_ptr, fill, bucket_app, seats_left, out_school, out_rank, apps_row, admit_row, sums,
):  # fmt: skip
    """One synthetic pool and one draw, in the caller's buffers (no allocation here but the
    mechanism's own on the copied path). Adds this replication's applications n and admissions
    a per cell, and n^2, a^2, n*a, into ``sums[5, cells]`` (cells: see chances_kernel).

    The pool is the file's rows `picks` (nothing copied). With `bucketed` (immediate
    acceptance; with a single tie-break, no school listed twice in a row) the applications are
    counting-sorted straight into buckets (choice position, school, tier), walking the lottery
    numbers in order: the key tier * numbers + number then ascends inside each (position,
    school) bucket, the order seats.lottery.kernels._immediate_acceptance would sort them into,
    and its rounds (_immediate_rounds) run on them. Otherwise the choices are copied into CSR with
    their keys for the mechanism kernel.

    Random numbers: pick k of the pool is number k of the stream (when `resample`), then the
    Fisher-Yates swaps of the lottery numbers take the next ones."""
    n_z = pool_count.shape[0]
    width = zone_rows.shape[1] - 1  # choices per applicant, padded
    n_slots = seats.shape[0] << tier_bits
    tier_mask = (1 << tier_bits) - 1
    n = np.int64(0)  # int64 from the start, never literal: _shuffled_numbers compiles once
    for z in range(n_z):
        n += pool_count[z]
    counter = n if resample else np.int64(0)  # the numbers after the picks
    if not multiple:
        # Single tie-break: one number per applicant, known before the pool is drawn.
        _shuffled_numbers(key, counter, rank, n)
    # The pool (file rows) and the applications per cell (padding adds 0).
    a = 0
    n_entries = np.int64(0)
    choice_ptr[0] = 0
    pick_counter = np.int64(0)
    for z in range(n_z):
        base = zone_ptr[z]
        size = zone_ptr[z + 1] - base
        for k in range(pool_count[z]):
            if resample:
                pick = min(int(uniform(key, pick_counter) * size), size - 1)
                pick_counter += 1
            else:
                pick = k
            row = base + pick
            picks[a] = row
            length = zone_rows[row, 0]
            for j in range(width):
                apps_row[zone_rows[row, j + 1] * width + j] += 1 if j < length else 0
            if multiple and bucketed:
                for j in range(length):
                    ent_bucket[n_entries + j] = j * n_slots + zone_rows[row, j + 1]
                    ent_app[n_entries + j] = a
            n_entries += length
            a += 1
            choice_ptr[a] = n_entries
    if multiple:
        # Multiple tie-break: one number per entry.
        _shuffled_numbers(key, counter, rank, n_entries)
    out_school[:n] = -1
    out_rank[:n] = -1
    if bucketed:
        # Bucket offsets (position-major) from the applications per cell (slot-major).
        pos = 0
        for j in range(width):
            for slot in range(n_slots):
                b = j * n_slots + slot
                bucket_ptr[b] = pos
                fill[b] = pos
                pos += apps_row[slot * width + j]
        bucket_ptr[width * n_slots] = pos
        if multiple:
            for e in range(n_entries):
                inv[rank[e]] = e
            for m in range(n_entries):
                e = inv[m]
                b = ent_bucket[e]
                bucket_app[fill[b]] = ent_app[e]
                fill[b] += 1
        else:
            for i in range(n):
                inv[rank[i]] = i
            for m in range(n):
                i = inv[m]
                row = picks[i]
                for j in range(zone_rows[row, 0]):
                    b = j * n_slots + zone_rows[row, j + 1]
                    bucket_app[fill[b]] = i
                    fill[b] += 1
        seats_left[:] = seats
        _immediate_rounds(
            bucket_ptr, bucket_app, n_slots, 1 << tier_bits, width, seats_left, out_school,
            out_rank,
        )  # fmt: skip
    else:
        # The choices copied whole (padding included: no data-dependent branch), with their
        # keys tier * numbers + number.
        numbers = max(n_entries if multiple else n, 1)
        for i in range(n):
            row = picks[i]
            e0 = choice_ptr[i]
            for j in range(width):
                slot = zone_rows[row, j + 1]
                number = rank[e0 + j] if multiple else rank[i]  # padding: overwritten
                choice_school[e0 + j] = slot >> tier_bits
                key_of[e0 + j] = (slot & tier_mask) * numbers + number
        if mechanism == IMMEDIATE:
            _immediate_acceptance(
                choice_ptr[: n + 1], choice_school[:n_entries], key_of[:n_entries], seats,
                out_school[:n], out_rank[:n],
            )  # fmt: skip
        else:
            _deferred_acceptance(
                choice_ptr[: n + 1], choice_school[:n_entries], key_of[:n_entries], seats,
                out_school[:n], out_rank[:n],
            )  # fmt: skip
    for i in range(n):
        j = out_rank[i]
        if j >= 0:
            admit_row[zone_rows[picks[i], j + 1] * width + j] += 1
    for c in range(apps_row.shape[0]):
        applied = apps_row[c]
        if applied == 0:
            continue
        admitted = admit_row[c]
        sums[0, c] += applied
        sums[1, c] += admitted
        sums[2, c] += applied * applied
        sums[3, c] += admitted * admitted
        sums[4, c] += applied * admitted
        apps_row[c] = 0
        admit_row[c] = 0


@numba.njit(**PARALLEL)
def chances_kernel(
    root, first, pool_count, resample, zone_ptr, zone_rows, tier_bits, seats, mechanism,
    multiple, max_pool, out_sums,
):  # fmt: skip
    """Replications first .. first + n of the lottery, n = pool_count.shape[0]: pool_count[i, z]
    applicants of zone z (drawn with replacement from the file's applicants of that zone when
    `resample`, else the file's first ones of the zone), fresh random priorities, the policy's
    mechanism (IMMEDIATE or DEFERRED).

    Row f of `zone_rows` is the file's applicant f of the zone order (zone z owns rows
    zone_ptr[z] .. zone_ptr[z + 1] - 1): ``zone_rows[f, 0]`` choices, choice j being
    ``zone_rows[f, 1 + j] = school << tier_bits | tier`` (padded with zeros to the longest
    list). A cell is ``slot * width + j`` (width = zone_rows.shape[1] - 1): school, tier and
    choice position.
    ``out_sums[p, k, cell]`` receives part p's sums over its replications of applications n,
    admissions a, n^2, a^2 and n*a (k = 0..4). The replications are split into
    out_sums.shape[0] contiguous parts, one prange iteration each with its own buffers (pools
    of at most `max_pool` applicants); integer sums make the result independent of the split."""
    n_reps = pool_count.shape[0]
    n_parts = out_sums.shape[0]
    n_cells = out_sums.shape[2]
    width = zone_rows.shape[1] - 1
    room = max_pool * width + width  # entries, plus the padding of the last member
    bucketed = mechanism == IMMEDIATE and (multiple or not _repeats_in_rows(zone_rows, tier_bits))
    copied = 1 if bucketed else room  # buffers of the copied path only
    for p in numba.prange(n_parts):
        sums = out_sums[p]
        sums[:] = 0
        picks = np.empty(max_pool, dtype=np.int64)
        choice_ptr = np.empty(max_pool + 1, dtype=np.int64)
        choice_school = np.empty(copied, dtype=np.int32)
        key_of = np.empty(copied, dtype=np.int64)
        rank = np.empty(room if multiple else max_pool, dtype=np.int64)
        inv = np.empty(room if multiple else max_pool, dtype=np.int64)
        ent_bucket = np.empty(room if multiple and bucketed else 1, dtype=np.int64)
        ent_app = np.empty(room if multiple and bucketed else 1, dtype=np.int32)
        bucket_ptr = np.empty(n_cells + 1, dtype=np.int64)
        fill = np.empty(n_cells, dtype=np.int64)
        bucket_app = np.empty(room, dtype=np.int32)
        seats_left = np.empty(seats.shape[0], dtype=np.int64)
        out_school = np.empty(max_pool, dtype=np.int32)
        out_rank = np.empty(max_pool, dtype=np.int32)
        apps_row = np.zeros(n_cells, dtype=np.int64)
        admit_row = np.zeros(n_cells, dtype=np.int64)
        for i in range(p * n_reps // n_parts, (p + 1) * n_reps // n_parts):
            _one_lottery(
                stream_key(root, first + i, STREAM_LOTTERY), pool_count[i], resample, zone_ptr,
                zone_rows, tier_bits, seats, mechanism, multiple, bucketed, picks, choice_ptr,
                choice_school, key_of, rank, inv, ent_bucket, ent_app, bucket_ptr, fill,
                bucket_app, seats_left, out_school, out_rank, apps_row, admit_row, sums,
            )  # fmt: skip
