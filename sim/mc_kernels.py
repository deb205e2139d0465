"""Numba kernels of the Monte Carlo forecast: arrays in, arrays out, randomness from keys.

Random numbers come from a counter-based stream: the number with index ``i`` of stream ``s`` of
replication ``r`` is a SplitMix64 hash of (root key, r, s, i), where the root key comes from
``numpy.random.SeedSequence(seed)``. A replication's numbers therefore depend on nothing but its
index: not on the thread that runs it, the number of threads, nor how replications are batched
(in-process chunks or Dask tasks). Kernels write each replication's results into its own rows.

Seating is an exact maximum flow on the bipartite network zone -> school (the network's "serves"
edges): a greedy fill (each zone, in order, fills the schools that serve it, in order) followed by
shortest augmenting paths (breadth first search over zones with unseated children, through full
schools back to the zones seated in them). It runs in stages by sector, public schools first,
then inclusive private, then private: augmenting paths never take a child out of a school, so
one flow reaches the most children in public schools, then in inclusive ones, then in all (the
same rule as sim.gap's attainable indicators). The zones reached by the last, failed search are
the source side of the minimal minimum cut: the zones that share a shortage (unique, whatever
the flow).
"""

import math

import numba
import numpy as np

from seats.io.jit import JIT, PARALLEL
from seats.lottery.kernels import _deferred_acceptance, _immediate_acceptance, _immediate_rounds

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
STREAM_BIRTHS = 1
STREAM_FACTORS = 2
STREAM_LOTTERY = 3
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


# --- maximum flow ------------------------------------------------------------------------------


@numba.njit(**JIT)
def _augmenting_path(
    excess, load, cap, stage, top, zone_ptr, edge_school, active, school_ptr, school_edge,
    edge_zone, flow, seen_z, seen_s, parent_z, parent_s, queue,
):  # fmt: skip
    """Breadth first search from every zone with unseated children to a school with room.

    Returns the school at the end of the path (parents filled in), or -1; then ``seen_z`` marks
    the zones reachable in the residual network."""
    n_z = excess.shape[0]
    n_s = cap.shape[0]
    seen_z[:] = False
    seen_s[:] = False
    head = 0
    tail = 0
    for z in range(n_z):
        if excess[z] > 0:
            seen_z[z] = True
            parent_z[z] = -1
            queue[tail] = z
            tail += 1
    while head < tail:
        node = queue[head]
        head += 1
        if node < n_z:
            for e in range(zone_ptr[node], zone_ptr[node + 1]):
                s = edge_school[e]
                if not active[e] or seen_s[s] or stage[s] > top or cap[s] == 0:
                    continue
                seen_s[s] = True
                parent_s[s] = e
                if load[s] < cap[s]:
                    return s
                queue[tail] = n_z + s
                tail += 1
        else:
            s = node - n_z
            for k in range(school_ptr[s], school_ptr[s + 1]):
                e = school_edge[k]
                z = edge_zone[e]
                if active[e] and flow[e] > 0 and not seen_z[z]:
                    seen_z[z] = True
                    parent_z[z] = e
                    queue[tail] = z
                    tail += 1
    _ = n_s
    return -1


@numba.njit(**JIT)
def staged_max_flow(
    demand, cap, stage, zone_ptr, edge_school, active, school_ptr, school_edge, edge_zone,
    flow, load, short_zone,
):  # fmt: skip
    """Seat `demand` (per zone) in schools of capacity `cap` along active edges, stage by stage.

    ``stage[s]`` is the sector rank of school s (0 public, 1 inclusive private, 2 private).
    Writes the flow per edge, the load per school and ``short_zone`` (1 for the zones on the
    source side of the minimal minimum cut); returns the children seated."""
    n_z = demand.shape[0]
    n_s = cap.shape[0]
    return _staged_max_flow(
        demand, cap, stage, zone_ptr, edge_school, active, school_ptr, school_edge, edge_zone,
        flow, load, short_zone, np.empty(n_z, dtype=np.int64), np.empty(n_z, dtype=np.bool_),
        np.empty(n_s, dtype=np.bool_), np.empty(n_z, dtype=np.int64),
        np.empty(n_s, dtype=np.int64), np.empty(n_z + n_s, dtype=np.int64),
    )  # fmt: skip


@numba.njit(**JIT)
def _staged_max_flow(
    demand, cap, stage, zone_ptr, edge_school, active, school_ptr, school_edge, edge_zone,
    flow, load, short_zone, excess, seen_z, seen_s, parent_z, parent_s, queue,
):  # fmt: skip
    """staged_max_flow with the caller's scratch arrays: excess, parent_z (int64[zones]),
    seen_z (bool[zones]), seen_s (bool[schools]), parent_s (int64[schools]) and queue
    (int64[zones + schools]); their contents on entry do not matter."""
    n_z = demand.shape[0]
    n_s = cap.shape[0]
    flow[:] = 0
    load[:] = 0
    excess[:] = demand
    seen_z[:] = False
    seen_s[:] = False
    last = 0
    for s in range(n_s):
        last = max(last, stage[s])
    for top in range(last + 1):
        # Greedy fill first: it seats most children at the cost of one pass.
        for z in range(n_z):
            for e in range(zone_ptr[z], zone_ptr[z + 1]):
                if excess[z] == 0:
                    break
                s = edge_school[e]
                if not active[e] or stage[s] > top:
                    continue
                push = min(excess[z], cap[s] - load[s])
                if push > 0:
                    flow[e] += push
                    load[s] += push
                    excess[z] -= push
        while True:
            end = _augmenting_path(
                excess, load, cap, stage, top, zone_ptr, edge_school, active, school_ptr,
                school_edge, edge_zone, flow, seen_z, seen_s, parent_z, parent_s, queue,
            )  # fmt: skip
            if end < 0:
                break
            # Bottleneck: room at the end, flow on the reverse edges, unseated at the start.
            amount = cap[end] - load[end]
            s = end
            while True:
                z = edge_zone[parent_s[s]]
                back = parent_z[z]
                if back < 0:
                    amount = min(amount, excess[z])
                    break
                amount = min(amount, flow[back])
                s = edge_school[back]
            load[end] += amount
            s = end
            while True:
                e = parent_s[s]
                flow[e] += amount
                z = edge_zone[e]
                back = parent_z[z]
                if back < 0:
                    excess[z] -= amount
                    break
                flow[back] -= amount
                s = edge_school[back]
    seated = 0
    for z in range(n_z):
        short_zone[z] = 1 if seen_z[z] else 0
        seated += demand[z] - excess[z]
    return seated


@numba.njit(**JIT)
def round_total(values, out):
    """Largest-remainder rounding: integers summing to the rounded total (ties: lower index)."""
    _round_total(values, out, np.empty(values.shape[0], dtype=np.bool_))


@numba.njit(**JIT)
def _round_total(values, out, taken):
    """round_total with the caller's scratch array `taken` (bool[n])."""
    n = values.shape[0]
    total = 0.0
    floors = 0
    for z in range(n):
        out[z] = np.int64(math.floor(values[z]))
        floors += out[z]
        total += values[z]
        taken[z] = False
    left = np.int64(math.floor(total + 0.5)) - floors
    for _ in range(left):
        best = -1
        best_rest = -1.0
        for z in range(n):
            rest = values[z] - math.floor(values[z])
            if not taken[z] and rest > best_rest:
                best = z
                best_rest = rest
        taken[best] = True
        out[best] += 1


# --- the forecast ------------------------------------------------------------------------------


@numba.njit(**PARALLEL)
def forecast_kernel(
    root, first, births_known, n_known, anchor, slope, slope_se, damping, residuals,
    scenario_cum, scenario_mult, zone_share, years, base_year, first_birth_year,
    level_young, level_old, factor_fixed, factor_var, factor_sigma,
    cap, stage, active, zone_ptr, edge_school, school_ptr, school_edge, edge_zone,
    group_ptr, group_school,
    out_births, out_factor, out_population, out_demand, out_seated, out_short,
    out_sector, out_group_seated, out_group_unmet, n_parts=1,
):  # fmt: skip
    """Replications first .. first + n of the district, n = out_births.shape[0].

    Births: district births of future year base_year + h are exp(anchor + slope_r * (damping +
    ... + damping^h) + residual) * scenario multiplier, split over zones by `zone_share`; recorded
    births (the first `n_known` birth years) are kept. Factor of level l in year y (children on
    roll per child of the level's ages): fixed + var * exp(sigma * W_h), W_h a random walk over
    the years after base_year. Level arrays are padded along a leading level axis.

    The replications are split into `n_parts` contiguous parts, one prange iteration each with
    its own scratch arrays (nothing is allocated per replication); each replication writes its
    own rows only, so the split changes nothing."""
    n_reps = out_births.shape[0]
    n_parts = max(1, min(n_parts, n_reps))
    for p in numba.prange(n_parts):
        n_z = out_births.shape[2]
        n_s = cap.shape[2]
        children = np.empty(n_z, dtype=np.float64)
        demand = np.empty(n_z, dtype=np.int64)
        short = np.empty(n_z, dtype=np.int64)
        marked = np.zeros(n_z, dtype=np.bool_)
        taken = np.empty(n_z, dtype=np.bool_)
        flow = np.empty(edge_zone.shape[1], dtype=np.int64)
        load = np.empty(n_s, dtype=np.int64)
        excess = np.empty(n_z, dtype=np.int64)
        seen_z = np.empty(n_z, dtype=np.bool_)
        seen_s = np.empty(n_s, dtype=np.bool_)
        parent_z = np.empty(n_z, dtype=np.int64)
        parent_s = np.empty(n_s, dtype=np.int64)
        queue = np.empty(n_z + n_s, dtype=np.int64)
        for i in range(p * n_reps // n_parts, (p + 1) * n_reps // n_parts):
            _one_forecast(
                i, root, first, births_known, n_known, anchor, slope, slope_se, damping,
                residuals, scenario_cum, scenario_mult, zone_share, years, base_year,
                first_birth_year, level_young, level_old, factor_fixed, factor_var,
                factor_sigma, cap, stage, active, zone_ptr, edge_school, school_ptr,
                school_edge, edge_zone, group_ptr, group_school, out_births, out_factor,
                out_population, out_demand, out_seated, out_short, out_sector,
                out_group_seated, out_group_unmet, children, demand, short, marked, taken,
                flow, load, excess, seen_z, seen_s, parent_z, parent_s, queue,
            )  # fmt: skip


@numba.njit(**JIT)
def _one_forecast(
    i, root, first, births_known, n_known, anchor, slope, slope_se, damping, residuals,
    scenario_cum, scenario_mult, zone_share, years, base_year, first_birth_year,
    level_young, level_old, factor_fixed, factor_var, factor_sigma,
    cap, stage, active, zone_ptr, edge_school, school_ptr, school_edge, edge_zone,
    group_ptr, group_school,
    out_births, out_factor, out_population, out_demand, out_seated, out_short,
    out_sector, out_group_seated, out_group_unmet,
    children, demand, short, marked, taken, flow, load, excess, seen_z, seen_s, parent_z,
    parent_s, queue,
):  # fmt: skip
    """Replication first + i of forecast_kernel into rows i, with the part's scratch arrays."""
    n_birth_years, n_z = out_births.shape[1], out_births.shape[2]
    n_levels, n_years = out_factor.shape[1], out_factor.shape[2]
    n_res = residuals.shape[0]
    n_scen = scenario_cum.shape[0]
    r = first + i
    key = stream_key(root, r, STREAM_BIRTHS)
    u = uniform(key, 0)
    mult = scenario_mult[n_scen - 1]
    for k in range(n_scen):
        if u < scenario_cum[k]:
            mult = scenario_mult[k]
            break
    slope_r = slope + slope_se * normal(key, 1)
    drift = 0.0
    damp = 1.0
    for t in range(n_birth_years):
        if t < n_known:
            for z in range(n_z):
                out_births[i, t, z] = births_known[t, z]
            continue
        damp *= damping
        drift += slope_r * damp
        resid = 0.0
        if n_res > 0:
            resid = residuals[min(int(uniform(key, 8 + t) * n_res), n_res - 1)]
        district = math.exp(anchor + drift + resid) * mult
        for z in range(n_z):
            out_births[i, t, z] = district * zone_share[z]

    fkey = stream_key(root, r, STREAM_FACTORS)
    for lv in range(n_levels):
        walk = 0.0
        walked = 0  # years of the walk drawn so far (it starts after base_year)
        for yi in range(n_years):
            h = years[yi] - base_year
            while walked < h:
                walked += 1
                walk += normal(fkey, lv * 1000 + walked)
            factor = factor_fixed[lv] + factor_var[lv] * math.exp(factor_sigma[lv] * walk)
            out_factor[i, lv, yi] = factor
            population = 0.0
            for z in range(n_z):
                c = 0.0
                for age in range(level_young[lv], level_old[lv] + 1):
                    c += out_births[i, years[yi] - age - first_birth_year, z]
                children[z] = c * factor
                population += c
            out_population[i, lv, yi] = population
            _round_total(children, demand, taken)
            _staged_max_flow(
                demand, cap[lv, yi], stage[lv, yi], zone_ptr[lv], edge_school[lv],
                active[lv, yi], school_ptr[lv], school_edge[lv], edge_zone[lv], flow, load,
                short, excess, seen_z, seen_s, parent_z, parent_s, queue,
            )  # fmt: skip
            for z in range(n_z):
                out_demand[i, lv, yi, z] = demand[z]
                out_short[i, lv, yi, z] = short[z]
            for z in range(n_z):
                seated_z = 0
                for e in range(zone_ptr[lv, z], zone_ptr[lv, z + 1]):
                    seated_z += flow[e]
                out_seated[i, lv, yi, z] = seated_z
            for k in range(out_sector.shape[3]):
                out_sector[i, lv, yi, k] = 0
            for s in range(load.shape[0]):
                if cap[lv, yi, s] > 0:
                    out_sector[i, lv, yi, stage[lv, yi, s]] += load[s]
            for g in range(group_ptr.shape[1] - 1):
                seated_g = 0
                for k in range(group_ptr[lv, g], group_ptr[lv, g + 1]):
                    s = group_school[lv, k]
                    seated_g += load[s]
                    for m in range(school_ptr[lv, s], school_ptr[lv, s + 1]):
                        e = school_edge[lv, m]
                        if active[lv, yi, e]:
                            marked[edge_zone[lv, e]] = True
                unmet_g = 0
                for z in range(n_z):
                    if marked[z]:
                        unmet_g += demand[z] - out_seated[i, lv, yi, z]
                        marked[z] = False
                out_group_seated[i, lv, yi, g] = seated_g
                out_group_unmet[i, lv, yi, g] = unmet_g


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
    n = 0
    for z in range(n_z):
        n += pool_count[z]
    counter = n if resample else 0  # the numbers after the picks
    if not multiple:
        # Single tie-break: one number per applicant, known before the pool is drawn.
        _shuffled_numbers(key, counter, rank, n)
    # The pool (file rows) and the applications per cell (padding adds 0).
    a = 0
    n_entries = 0
    choice_ptr[0] = 0
    pick_counter = 0
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
