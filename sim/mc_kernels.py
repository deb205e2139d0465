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

from seats.jit import JIT, PARALLEL
from seats.kernels import _deferred_acceptance, _immediate_acceptance

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
    flow[:] = 0
    load[:] = 0
    excess = demand.copy()
    seen_z = np.zeros(n_z, dtype=np.bool_)
    seen_s = np.zeros(n_s, dtype=np.bool_)
    parent_z = np.empty(n_z, dtype=np.int64)
    parent_s = np.empty(n_s, dtype=np.int64)
    queue = np.empty(n_z + n_s, dtype=np.int64)
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
    n = values.shape[0]
    total = 0.0
    floors = 0
    for z in range(n):
        out[z] = np.int64(math.floor(values[z]))
        floors += out[z]
        total += values[z]
    left = np.int64(math.floor(total + 0.5)) - floors
    taken = np.zeros(n, dtype=np.bool_)
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
    out_sector, out_group_seated, out_group_unmet,
):  # fmt: skip
    """Replications first .. first + n of the district, n = out_births.shape[0].

    Births: district births of future year base_year + h are exp(anchor + slope_r * (damping +
    ... + damping^h) + residual) * scenario multiplier, split over zones by `zone_share`; recorded
    births (the first `n_known` birth years) are kept. Factor of level l in year y (children on
    roll per child of the level's ages): fixed + var * exp(sigma * W_h), W_h a random walk over
    the years after base_year. Level arrays are padded along a leading level axis."""
    n_reps = out_births.shape[0]
    n_birth_years, n_z = out_births.shape[1], out_births.shape[2]
    n_levels, n_years = out_factor.shape[1], out_factor.shape[2]
    n_res = residuals.shape[0]
    n_scen = scenario_cum.shape[0]
    for i in numba.prange(n_reps):
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
        children = np.empty(n_z, dtype=np.float64)
        demand = np.empty(n_z, dtype=np.int64)
        short = np.empty(n_z, dtype=np.int64)
        marked = np.zeros(n_z, dtype=np.bool_)
        for lv in range(n_levels):
            walk = 0.0
            walked = 0  # years of the walk drawn so far (it starts after base_year)
            n_edges = edge_zone.shape[1]
            flow = np.empty(n_edges, dtype=np.int64)
            load = np.empty(cap.shape[2], dtype=np.int64)
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
                round_total(children, demand)
                staged_max_flow(
                    demand, cap[lv, yi], stage[lv, yi], zone_ptr[lv], edge_school[lv],
                    active[lv, yi], school_ptr[lv], school_edge[lv], edge_zone[lv], flow, load,
                    short,
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
def _one_lottery(
    key, pool_count, resample, zone_ptr, zone_apps, app_ptr, app_school, app_tier, seats,
    mechanism, multiple, out_apps, out_admit,
):  # fmt: skip
    """One synthetic pool and one draw; tallies applications and admissions per
    (school, tier, choice position) into this replication's rows."""
    n_z = pool_count.shape[0]
    n = 0
    n_entries = 0
    for z in range(n_z):
        n += pool_count[z]
    pool = np.empty(n, dtype=np.int64)
    counter = 0
    a = 0
    for z in range(n_z):
        size = zone_ptr[z + 1] - zone_ptr[z]
        for k in range(pool_count[z]):
            if resample:
                pick = min(int(uniform(key, counter) * size), size - 1)
                counter += 1
            else:
                pick = k
            pool[a] = zone_apps[zone_ptr[z] + pick]
            n_entries += app_ptr[pool[a] + 1] - app_ptr[pool[a]]
            a += 1
    choice_ptr = np.empty(n + 1, dtype=np.int64)
    choice_school = np.empty(n_entries, dtype=np.int32)
    tier = np.empty(n_entries, dtype=np.int64)
    choice_ptr[0] = 0
    for a in range(n):
        lo = app_ptr[pool[a]]
        hi = app_ptr[pool[a] + 1]
        start = choice_ptr[a]
        for j in range(hi - lo):
            choice_school[start + j] = app_school[lo + j]
            tier[start + j] = app_tier[lo + j]
        choice_ptr[a + 1] = start + hi - lo

    # Fresh lottery numbers: a uniformly random ranking of the applicants (single tie-break)
    # or of the entries (multiple), by Fisher-Yates.
    n_numbers = n_entries if multiple else n
    rank = np.arange(n_numbers, dtype=np.int64)
    for m in range(n_numbers - 1, 0, -1):
        j = min(int(uniform(key, counter) * (m + 1)), m)
        counter += 1
        rank[m], rank[j] = rank[j], rank[m]
    key_of = np.empty(n_entries, dtype=np.int64)
    for a in range(n):
        for e in range(choice_ptr[a], choice_ptr[a + 1]):
            number = rank[e] if multiple else rank[a]
            key_of[e] = tier[e] * max(n_numbers, 1) + number
    out_school = np.empty(n, dtype=np.int32)
    out_rank = np.empty(n, dtype=np.int32)
    if mechanism == IMMEDIATE:
        _immediate_acceptance(choice_ptr, choice_school, key_of, seats, out_school, out_rank)
    else:
        _deferred_acceptance(choice_ptr, choice_school, key_of, seats, out_school, out_rank)
    for a in range(n):
        for e in range(choice_ptr[a], choice_ptr[a + 1]):
            j = e - choice_ptr[a]
            s = choice_school[e]
            out_apps[s, tier[e], j] += 1
            if out_rank[a] == j:
                out_admit[s, tier[e], j] += 1


@numba.njit(**PARALLEL)
def chances_kernel(
    root, first, pool_count, resample, zone_ptr, zone_apps, app_ptr, app_school, app_tier,
    seats, mechanism, multiple, out_apps, out_admit,
):  # fmt: skip
    """Replications first .. first + n of the lottery, n = pool_count.shape[0]: pool_count[i, z]
    applicants of zone z (drawn with replacement from the file's applicants of that zone when
    `resample`, else the file's applicants themselves), fresh random priorities, the policy's
    mechanism, and counts per (school, tier, choice position) in out_apps / out_admit[i]."""
    for i in numba.prange(pool_count.shape[0]):
        out_apps[i] = 0
        out_admit[i] = 0
        _one_lottery(
            stream_key(root, first + i, STREAM_LOTTERY), pool_count[i], resample, zone_ptr,
            zone_apps, app_ptr, app_school, app_tier, seats, mechanism, multiple, out_apps[i],
            out_admit[i],
        )  # fmt: skip
