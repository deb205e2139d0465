"""A slow, plain-Python replication of the cohort forecast (sim.cohort's docstring), for
comparison with sim.cohort_kernels. Dictionaries and loops; the same counter-based random
numbers (sim.mc_kernels.uniform / normal) so a resampled replication can be compared too."""

from __future__ import annotations

import math

import numpy as np

from sim.cohort import LEVELS
from sim.cohort_kernels import STREAM_BIRTHS, STREAM_RATIOS
from sim.mc_kernels import normal, stream_key, uniform


def replicate(model, root, r: int) -> dict:
    m = model
    n_z, n_s = len(m.zone_ids), len(m.school_ids)
    kb = np.uint64(stream_key(root, r, STREAM_BIRTHS))
    kr = np.uint64(stream_key(root, r, STREAM_RATIOS))
    # births
    scenario = m.scenario_names.index("mid")
    if m.resample:
        u = uniform(kb, 0)
        scenario = next((k for k, c in enumerate(m.scenario_cum) if u < c), len(m.scenario_cum) - 1)
    births = {}
    walk = 0.0
    last_known = m.first_birth_year + len(m.births_known) - 1
    for year in range(m.first_birth_year, m.first_birth_year + m.n_birth_years):
        if year <= last_known:
            for z in range(n_z):
                births[year, z] = m.births_known[year - m.first_birth_year, z]
        else:
            h = year - last_known
            if m.resample:
                walk += m.birth_sigma * normal(kb, 1 + h)
            level = m.birth_base * math.exp(m.scenario_drift[scenario] * h + walk)
            for z in range(n_z):
                births[year, z] = level * m.zone_share[z]
    ke = min(int(uniform(kr, 0) * len(m.er_hist)), len(m.er_hist) - 1) if m.resample else None
    n_grades = [int(x) for x in m.n_grades]
    prev = {(s, g): float(m.p0[s, g]) for s in range(n_s) for g in range(6)}
    out = {"pupils": {}, "classes": {}, "unmet": {}, "outside": {}, "entrants": {}}
    for y, year in enumerate(m.years.tolist()):
        kp = None
        if m.resample:
            kp = min(int(uniform(kr, 1 + y) * len(m.pr_hist)), len(m.pr_hist) - 1)
        roll = {(s, g): 0.0 for s in range(n_s) for g in range(6)}
        grade6 = [0.0] * n_z
        for s in range(n_s):
            lv = m.school_level[s]
            if LEVELS[lv] == "primary":
                grade6[m.school_zone[s]] += prev[s, 5]
            for g in range(1, n_grades[lv]):
                ratio = m.pr_mean[s, g - 1] if kp is None else m.pr_hist[kp, s, g - 1]
                roll[s, g] = prev[s, g - 1] * ratio

        def schools(lv, z):
            return [s for s in range(n_s) if m.school_level[s] == lv and m.school_zone[s] == z]

        for s in range(n_s):  # a closed school's pupils go to the nearest zone's open schools
            if m.seats[y, s] > 0:
                continue
            lv = m.school_level[s]
            for g in range(1, 6):
                x, roll[s, g] = roll[s, g], 0.0
                if x <= 0:
                    continue
                for z2 in m.zone_order[m.school_zone[s]]:
                    w = sum(m.weight[y, t] for t in schools(lv, z2))
                    if w > 0:
                        for t in schools(lv, z2):
                            roll[t, g] += x * m.weight[y, t] / w
                        break
        spare = {s: float(m.seats[y, s]) for s in range(n_s)}
        over = {}
        for lv in range(len(LEVELS)):
            for z in range(n_z):
                ratio = m.er_mean[lv, z] if ke is None else m.er_hist[ke, lv, z]
                age = m.entry_age[lv]
                base = births[year - age, z] if age >= 0 else grade6[z]
                entrants = ratio * base
                out["entrants"][lv, y, z] = entrants
                members = schools(lv, z)
                w = sum(m.weight[y, s] for s in members)
                if w <= 0:
                    over[lv, z] = entrants
                    continue
                over[lv, z] = 0.0
                for s in members:
                    want = entrants * m.weight[y, s] / w
                    take = min(want, spare[s])
                    roll[s, 0] += take
                    spare[s] -= take
                    over[lv, z] += want - take

        def seat(amount, lv, z, spare=spare, roll=roll, y=y):
            free = [s for s in schools(lv, z) if spare[s] > 0 and (lv == 0 or m.public[y, s])]
            total = sum(spare[s] for s in free)
            if amount <= 0 or total <= 0:
                return 0.0
            take = min(amount, total)
            for s in free:
                x = take * spare[s] / total
                spare[s] -= x
                roll[s, 0] += x
            return take

        for lv in range(len(LEVELS)):
            for z in range(n_z):
                over[lv, z] -= seat(over[lv, z], lv, z)
        for lv in range(len(LEVELS)):
            for z in range(n_z):
                outside = 0.0
                for z2 in m.zone_order[z][1:]:
                    if over[lv, z] <= 1e-9 or m.zone_dist[z, z2] > m.reach[lv]:
                        break
                    got = seat(over[lv, z], lv, z2)
                    over[lv, z] -= got
                    outside += got
                out["outside"][lv, y, z] = outside
                out["unmet"][lv, y, z] = max(over[lv, z], 0.0)
        for s in range(n_s):
            lv = m.school_level[s]
            grades = [roll[s, g] for g in range(n_grades[lv])]
            out["pupils"][y, s] = sum(grades)
            out["classes"][y, s] = sum(
                math.ceil(math.floor(x + 0.5) / m.caps[s, g]) for g, x in enumerate(grades)
            )
        prev = roll
    return out
