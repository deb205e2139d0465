"""Numba kernel of the cohort-component forecast (sim.cohort): arrays in, arrays out.

One replication, year by year: grades progress by the progression ratios of a history
transition drawn each year; entrants per zone are the entry ratios of a history year drawn once
per replication x the cohort's births (junior: x
the zone's grade 6 of the year before); each school takes its share of its zone's entrants up
to its entry seats; the rest go to schools of the zone with spare seats, then to the nearest
zones' (统筹), in proportion to the spare seats; what is left is unmet. Random numbers come from
sim.mc_kernels' counter-based streams, so a replication depends only on (root, index): not on
threads or chunks. Each replication writes only its own rows.
"""

import math

import numba
import numpy as np

from seats.io.jit import JIT, PARALLEL
from sim.mc_kernels import normal, stream_key, uniform

# Stream numbers (and below, index 0) as int64, not Python ints: numba compiles a kernel once
# more for each literal constant a caller passes it.
STREAM_BIRTHS = np.int64(11)
STREAM_RATIOS = np.int64(12)
N_LEVELS = 3
KINDERGARTEN, PRIMARY, JUNIOR = 0, 1, 2


@numba.njit(**JIT)
def _seat_spare(amount, lv, z, lz_ptr, lz_school, n_z, public, spare, roll):
    """Seat up to `amount` children of level lv in the schools of zone z with spare entry seats
    (compulsory levels: public schools only), in proportion to the spare seats; returns the
    number seated. lz_ptr / lz_school: the schools of each (level, zone), CSR."""
    if amount <= 0:
        return 0.0
    lo, hi = lz_ptr[lv * n_z + z], lz_ptr[lv * n_z + z + 1]
    total = 0.0
    for j in range(lo, hi):
        s = lz_school[j]
        if spare[s] > 0 and (lv == 0 or public[s]):
            total += spare[s]
    if total <= 0:
        return 0.0
    take = min(amount, total)
    for j in range(lo, hi):
        s = lz_school[j]
        if spare[s] > 0 and (lv == 0 or public[s]):
            x = take * spare[s] / total
            spare[s] -= x
            roll[s, 0] += x
    return take


@numba.njit(**JIT)
def one_replication(
    root, r, row, part, resample, births_known, first_birth_year, birth_base, zone_share,
    scenario_cum,
    scenario_drift, mid, birth_sigma, years, n_grades, entry_age, level, zone, lz_ptr,
    lz_school, p0, er_hist, er_mean, pr_hist, pr_mean, weight, seats, public, sector, caps,
    zone_order, zone_dist,
    reach, g7_before, births, pupils, classes, red_count, entry_tenths, zone_entrants, unmet,
    outside, dist_sum, sector_pupils, retention, grades_out, scratch,
):  # fmt: skip
    """Replication r into row `row` of each output; red_count and entry_tenths ([parts, years,
    schools], row `part`) gain 1 where the school is red (pupils above
    places, or entrants asking above entry seats) and the entrants asking in tenths (rounded),
    integer sums that no split into parts changes. `scratch` holds the part's work arrays
    (make_scratch), fully reset here, so results do not depend on it."""
    n_s = len(level)
    n_z = births_known.shape[1]
    n_y = len(years)
    n_known = births_known.shape[0]
    last_known = first_birth_year + n_known - 1
    kb = stream_key(root, r, STREAM_BIRTHS)
    kr = stream_key(root, r, STREAM_RATIOS)
    scenario = mid
    if resample:
        u = uniform(kb, np.int64(0))
        scenario = 0
        while scenario < len(scenario_cum) - 1 and u >= scenario_cum[scenario]:
            scenario += 1
    walk = 0.0
    for b in range(births.shape[1]):
        if b < n_known:
            for z in range(n_z):
                births[row, b, z] = births_known[b, z]
        else:
            h = first_birth_year + b - last_known
            if resample:
                walk += birth_sigma * normal(kb, 1 + h)
            level_b = birth_base * math.exp(scenario_drift[scenario] * h + walk)
            for z in range(n_z):
                births[row, b, z] = level_b * zone_share[z]

    roll, prev, spare, g6, wsum, entrants, over, g7, want, caps_f = scratch
    for s in range(n_s):
        for g in range(6):
            caps_f[s, g] = caps[s, g]
    for s in range(n_s):
        for g in range(6):
            prev[s, g] = p0[s, g]
    g7[0] = g7_before[0]
    g7[1] = g7_before[1]
    n_er, n_pr = er_hist.shape[0], pr_hist.shape[0]
    ke = -1  # the replication's history year of entry ratios (kept: a level, not noise)
    if resample:
        ke = min(int(uniform(kr, np.int64(0)) * n_er), n_er - 1)
    for y in range(n_y):
        kp = -1  # the year's history transition of progression ratios
        if resample:
            kp = min(int(uniform(kr, 1 + y) * n_pr), n_pr - 1)
        # 1. progression (closed schools pass their pupils to their zone's open schools)
        g6[:] = 0.0
        for s in range(n_s):
            if level[s] == PRIMARY:
                g6[zone[s]] += prev[s, 5]
            for g in range(6):
                roll[s, g] = 0.0
            for g in range(1, n_grades[level[s]]):
                ratio = pr_mean[s, g - 1] if kp < 0 else pr_hist[kp, s, g - 1]
                roll[s, g] = prev[s, g - 1] * ratio
        wsum[:, :] = 0.0
        for s in range(n_s):
            wsum[level[s], zone[s]] += weight[y, s]
        for s in range(n_s):
            if seats[y, s] > 0:
                continue
            for g in range(1, 6):
                x = roll[s, g]
                if x <= 0:
                    continue
                roll[s, g] = 0.0
                for j in range(n_z):  # the nearest zone with an open school of the level
                    z2 = zone_order[zone[s], j]
                    if wsum[level[s], z2] > 0:
                        base_lz = level[s] * n_z + z2
                        for j2 in range(lz_ptr[base_lz], lz_ptr[base_lz + 1]):
                            s2 = lz_school[j2]
                            roll[s2, g] += x * weight[y, s2] / wsum[level[s], z2]
                        break
        # 2. entrants per level and zone
        year = years[y]
        for lv in range(N_LEVELS):
            for z in range(n_z):
                ratio = er_mean[lv, z] if ke < 0 else er_hist[ke, lv, z]
                if entry_age[lv] >= 0:
                    base = births[row, year - entry_age[lv] - first_birth_year, z]
                else:
                    base = g6[z]
                entrants[lv, z] = ratio * base
                zone_entrants[row, lv, y, z] = entrants[lv, z]
                over[lv, z] = 0.0
        # 3. each school its share, up to its entry seats
        for s in range(n_s):
            spare[s] = seats[y, s]
            want[s] = 0.0
        for lv in range(N_LEVELS):
            for z in range(n_z):
                if wsum[lv, z] <= 0:
                    over[lv, z] = entrants[lv, z]
        for s in range(n_s):
            lv, z = level[s], zone[s]
            if wsum[lv, z] <= 0 or weight[y, s] <= 0:
                continue
            want[s] = entrants[lv, z] * weight[y, s] / wsum[lv, z]
            take = min(want[s], spare[s])
            roll[s, 0] += take
            spare[s] -= take
            over[lv, z] += want[s] - take
        # 4. the zone's other schools with spare seats, then 统筹 in the nearest zones
        for lv in range(N_LEVELS):
            for z in range(n_z):
                if over[lv, z] > 0:
                    over[lv, z] -= _seat_spare(
                        over[lv, z], lv, z, lz_ptr, lz_school, n_z, public[y], spare, roll
                    )
        for lv in range(N_LEVELS):
            for z in range(n_z):
                outside[row, lv, y, z] = 0.0
                dist_sum[row, lv, y, z] = 0.0
                for j in range(1, n_z):
                    if over[lv, z] <= 1e-9:
                        break
                    z2 = zone_order[z, j]
                    d = zone_dist[z, z2]
                    if d > reach[lv]:
                        break
                    got = _seat_spare(
                        over[lv, z], lv, z2, lz_ptr, lz_school, n_z, public[y], spare, roll
                    )
                    over[lv, z] -= got
                    outside[row, lv, y, z] += got
                    dist_sum[row, lv, y, z] += got * d
                unmet[row, lv, y, z] = max(over[lv, z], 0.0)
        # 5. the year's outputs
        for lv in range(N_LEVELS):
            for k in range(3):
                sector_pupils[row, lv, y, k] = 0.0
        g7[y + 2] = 0.0
        for s in range(n_s):
            total = 0.0
            n_classes = 0
            for g in range(n_grades[level[s]]):
                total += roll[s, g]
                # classes = ceil(round(pupils) / cap); float division is exact enough: a
                # multiple of the cap divides to an exact integer (both are small integers)
                n_classes += math.ceil(math.floor(roll[s, g] + 0.5) / caps_f[s, g])
                if grades_out.shape[0] > 0:
                    grades_out[row, y, s, g] = roll[s, g]
            pupils[row, y, s] = total
            classes[row, y, s] = n_classes
            places = seats[y, s] * n_grades[level[s]]
            if total > places + 0.5 or want[s] > seats[y, s] + 0.5:
                red_count[part, y, s] += 1
            entry_tenths[part, y, s] += math.floor(want[s] * 10.0 + 0.5)
            sector_pupils[row, level[s], y, sector[y, s]] += total
            if level[s] == JUNIOR:
                g7[y + 2] += roll[s, 0]
        grade9 = 0.0
        for s in range(n_s):
            if level[s] == JUNIOR:
                grade9 += roll[s, 2]
        retention[row, y] = grade9 / g7[y] if g7[y] > 0 else 0.0
        roll, prev = prev, roll  # this year's roll is next year's start


@numba.njit(**PARALLEL)
def cohort_kernel(
    root, start, resample, births_known, first_birth_year, birth_base, zone_share, scenario_cum,
    scenario_drift, mid, birth_sigma, years, n_grades, entry_age, level, zone, lz_ptr,
    lz_school, p0, er_hist, er_mean, pr_hist, pr_mean, weight, seats, public, sector, caps,
    zone_order, zone_dist,
    reach, g7_before, births, pupils, classes, red_count, entry_tenths, zone_entrants, unmet,
    outside, dist_sum, sector_pupils, retention, grades_out,
):  # fmt: skip
    """Replications start .. start + len(births) - 1, one row each. prange over n_parts
    = len(red_count) contiguous blocks, each with its own scratch arrays (no allocation per
    replication) and its own rows of red_count / entry_tenths; a replication depends only on its
    index, so neither the parts nor the threads change results."""
    n = births.shape[0]
    n_parts = red_count.shape[0]  # the caller's parts: max(1, min(threads, n))
    for p in numba.prange(n_parts):
        # the part as an int64: numba types a prange index as int64 before the loop is
        # parallelised and as uint64 after, and would compile one_replication for both
        part = np.int64(p)
        scratch = make_scratch(len(level), births_known.shape[1], len(years))
        lo, hi = part * n // n_parts, (part + 1) * n // n_parts
        for i in range(lo, hi):
            # whole arrays and row numbers, no slices: a slice would count references on the
            # shared arrays atomically, and the threads would fight over those counters
            one_replication(
                root, start + i, i, part, resample, births_known, first_birth_year, birth_base,
                zone_share, scenario_cum, scenario_drift, mid, birth_sigma, years, n_grades,
                entry_age, level, zone, lz_ptr, lz_school, p0, er_hist, er_mean, pr_hist,
                pr_mean, weight, seats, public, sector, caps, zone_order, zone_dist, reach,
                g7_before, births, pupils, classes, red_count, entry_tenths, zone_entrants,
                unmet, outside, dist_sum, sector_pupils, retention, grades_out, scratch,
            )  # fmt: skip


@numba.njit(**JIT)
def make_scratch(n_s, n_z, n_y):
    """One part's work arrays: roll, prev, spare, grade 6, weight sums, entrants, overflow,
    grade 7 by year, entrants asking per school, class caps as floats."""
    return (
        np.zeros((n_s, 6)), np.zeros((n_s, 6)), np.zeros(n_s), np.zeros(n_z),
        np.zeros((N_LEVELS, n_z)), np.zeros((N_LEVELS, n_z)), np.zeros((N_LEVELS, n_z)),
        np.zeros(n_y + 2), np.zeros(n_s), np.zeros((n_s, 6)),
    )  # fmt: skip
