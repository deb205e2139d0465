"""Numba kernels for balanced classes (均衡编班) and teacher teams (均衡配班).

Everything here is integer arithmetic, so a result is the same on every machine. Randomness
enters only as arrays drawn by the caller from the seed (visit orders, proposals); the kernels
themselves are deterministic. No I/O and no validation: the wrappers in :mod:`seats.classes` and
:mod:`seats.classes.teachers` check their inputs and that the objective cannot overflow int64.

Class formation
---------------
Pupils are grouped into *units* (a pupil, or pupils who must share a class). Unit ``u`` has
``unit_size[u]`` pupils and feature sums ``unit_values[u, f]`` (integers, see
:mod:`seats.classes` for the features). With ``N`` pupils, ``T_f`` the cohort total of feature
``f`` and, for class ``c``, ``n_c`` pupils and ``S_cf`` the class total, the objective is

    sum over c, f of  weights[f] * (N * S_cf - n_c * T_f) ** 2

i.e. the weighted squared distance of every class total from its proportional share
``n_c * T_f / N``, scaled by ``N`` so that it stays an integer. Hard constraints kept by every
step: ``size_lo[c] <= n_c <= size_hi[c]``, pinned units never move, and units joined by an
``apart`` edge never share a class.

Teacher teams
-------------
Slots are (class, subject) places to fill. Slot ``s`` has class ``slot_class[s]``, subject
``slot_subject[s]`` and ``slot_homeroom[s]`` (the slot whose teacher is also the class's homeroom
teacher). Team score of class ``c`` = sum of ``quality[t]`` over its slots; objective =
``C * sum(team_c ** 2) - (sum team_c) ** 2`` = ``C**2 * variance`` of the team scores.
"""

from collections import namedtuple

import numba
import numpy as np

from seats.io.jit import JIT

# What the class kernels need to know of one school's class plan, bundled (numba takes a
# namedtuple of arrays as one argument): unit feature values (units x features) and sizes,
# pinned units, the apart_from graph (CSR), class size bounds, feature weights, visit order.
ClassProblem = namedtuple(
    "ClassProblem",
    "unit_values unit_size pinned apart_ptr apart_unit size_lo size_hi weights order",
)

# --- class formation --------------------------------------------------------------------------


@numba.njit(**JIT)
def _none():
    """-1 (no unit, no class) as an int64, not a literal: numba compiles a function once more
    for each literal constant a caller passes it, so every index argument is an int64."""
    return np.int64(-1)


@numba.njit(**JIT)
def _class_cost(sums, size, c, total, n_total, weights):
    cost = 0
    for f in range(sums.shape[1]):
        dev = n_total * sums[c, f] - size[c] * total[f]
        cost += weights[f] * dev * dev
    return cost


@numba.njit(**JIT)
def _cost_after(
    sums, size, c, unit_values, leaving, entering, size_change, total, n_total, weights
):
    """Cost of class ``c`` after unit ``leaving`` leaves it and ``entering`` joins (-1: none)."""
    cost = 0
    new_size = size[c] + size_change
    for f in range(sums.shape[1]):
        s = sums[c, f]
        if leaving >= 0:
            s -= unit_values[leaving, f]
        if entering >= 0:
            s += unit_values[entering, f]
        dev = n_total * s - new_size * total[f]
        cost += weights[f] * dev * dev
    return cost


@numba.njit(**JIT)
def class_totals(unit_class, unit_values, unit_size, n_classes):
    """Per-class feature sums and sizes of an assignment."""
    sums = np.zeros((n_classes, unit_values.shape[1]), dtype=np.int64)
    size = np.zeros(n_classes, dtype=np.int64)
    for u in range(unit_class.shape[0]):
        c = unit_class[u]
        size[c] += unit_size[u]
        for f in range(unit_values.shape[1]):
            sums[c, f] += unit_values[u, f]
    return sums, size


@numba.njit(**JIT)
def class_objective(unit_class, unit_values, unit_size, n_classes, weights):
    """The objective of an assignment (see the module docstring)."""
    sums, size = class_totals(unit_class, unit_values, unit_size, n_classes)
    total = sums.sum(axis=0)
    n_total = size.sum()
    cost = 0
    for c in range(n_classes):
        cost += _class_cost(sums, size, c, total, n_total, weights)
    return cost


@numba.njit(**JIT)
def _apart_ok(u, target, skip, unit_class, apart_ptr, apart_unit):
    """True if no apart-neighbour of ``u`` other than ``skip`` is in class ``target``."""
    for k in range(apart_ptr[u], apart_ptr[u + 1]):
        w = apart_unit[k]
        if w != skip and unit_class[w] == target:
            return False
    return True


@numba.njit(**JIT)
def _try_pair(u, v, b, cls, sums, size, cost, unit_values, unit_size, ctx):
    """Change in objective of swapping units u and v (v in class b), or with ``v < 0`` of moving
    u into class b; returns (feasible, delta)."""
    total, n_total, weights, size_lo, size_hi, apart_ptr, apart_unit = ctx
    a = cls[u]
    if a == b:
        return False, 0
    change = unit_size[u] - (unit_size[v] if v >= 0 else 0)
    if size[a] - change < size_lo[a] or size[b] + change > size_hi[b]:
        return False, 0
    if size[a] - change > size_hi[a] or size[b] + change < size_lo[b]:
        return False, 0
    if not _apart_ok(u, b, v, cls, apart_ptr, apart_unit):
        return False, 0
    if v >= 0 and not _apart_ok(v, a, u, cls, apart_ptr, apart_unit):
        return False, 0
    new_a = _cost_after(sums, size, a, unit_values, u, v, -change, total, n_total, weights)
    new_b = _cost_after(sums, size, b, unit_values, v, u, change, total, n_total, weights)
    return True, new_a + new_b - cost[a] - cost[b]


@numba.njit(**JIT)
def _apply_pair(u, v, b, cls, sums, size, cost, unit_values, unit_size, ctx):
    total, n_total, weights = ctx[0], ctx[1], ctx[2]
    a = cls[u]
    for f in range(sums.shape[1]):
        sums[a, f] -= unit_values[u, f]
        sums[b, f] += unit_values[u, f]
        if v >= 0:
            sums[a, f] += unit_values[v, f]
            sums[b, f] -= unit_values[v, f]
    change = unit_size[u] - (unit_size[v] if v >= 0 else 0)
    size[a] -= change
    size[b] += change
    cls[u] = b
    if v >= 0:
        cls[v] = a
    cost[a] = _class_cost(sums, size, a, total, n_total, weights)
    cost[b] = _class_cost(sums, size, b, total, n_total, weights)


@numba.njit(**JIT)
def _descend(order, pinned, cls, sums, size, cost, unit_values, unit_size, ctx):
    """Steepest improvement per unit (best move to another class or swap with a unit there),
    sweeping in ``order`` until a whole sweep improves nothing: a local optimum for swaps and
    moves."""
    n_units = cls.shape[0]
    n_classes = size.shape[0]
    improved = True
    while improved:
        improved = False
        for u in order:
            if pinned[u]:
                continue
            best, best_v, best_b = 0, _none(), _none()
            for b in range(n_classes):
                ok, delta = _try_pair(
                    u, _none(), b, cls, sums, size, cost, unit_values, unit_size, ctx
                )
                if ok and delta < best:
                    best, best_v, best_b = delta, _none(), b
            for v in range(n_units):
                if pinned[v]:
                    continue
                b = cls[v]
                ok, delta = _try_pair(u, v, b, cls, sums, size, cost, unit_values, unit_size, ctx)
                if ok and delta < best:
                    best, best_v, best_b = delta, v, b
            if best_b >= 0:
                _apply_pair(u, best_v, best_b, cls, sums, size, cost, unit_values, unit_size, ctx)
                improved = True


@numba.njit(**JIT)
def _apart_ok2(u, target, skip1, skip2, unit_class, apart_ptr, apart_unit):
    """True if no apart-neighbour of ``u`` other than ``skip1``, ``skip2`` is in ``target``."""
    for k in range(apart_ptr[u], apart_ptr[u + 1]):
        w = apart_unit[k]
        if w != skip1 and w != skip2 and unit_class[w] == target:
            return False
    return True


@numba.njit(**JIT)
def _class_pairs(pinned, cls, c, unit_values, unit_size):
    """Every pair of movable units of class ``c``: (units ``[k, 0:2]``, their joint size and
    feature sums)."""
    members = np.flatnonzero((cls == c) & ~pinned)
    m = members.shape[0]
    n_pairs = m * (m - 1) // 2
    units = np.empty((n_pairs, 2), dtype=np.int64)
    pair_size = np.empty(n_pairs, dtype=np.int64)
    pair_sum = np.empty((n_pairs, unit_values.shape[1]), dtype=np.int64)
    k = 0
    for x in range(m):
        for y in range(x + 1, m):
            i, j = members[x], members[y]
            units[k, 0], units[k, 1] = i, j
            pair_size[k] = unit_size[i] + unit_size[j]
            for f in range(unit_values.shape[1]):
                pair_sum[k, f] = unit_values[i, f] + unit_values[j, f]
            k += 1
    return units, pair_size, pair_sum


@numba.njit(**JIT)
def _exchange_pairs(pinned, cls, sums, size, cost, unit_values, unit_size, ctx):
    """The best exchange of two units of one class for two units of another, over every pair of
    classes; applies it if it improves the objective and returns whether it did."""
    total, n_total, weights, size_lo, size_hi, apart_ptr, apart_unit = ctx
    n_classes, n_features = sums.shape
    best, best_a, best_b, best_p, best_q = 0, _none(), _none(), _none(), _none()
    best_units_a = np.empty((0, 2), dtype=np.int64)
    best_units_b = np.empty((0, 2), dtype=np.int64)
    for a in range(n_classes):
        units_a, size_a, sum_a = _class_pairs(pinned, cls, a, unit_values, unit_size)
        for b in range(a + 1, n_classes):
            units_b, size_b, sum_b = _class_pairs(pinned, cls, b, unit_values, unit_size)
            base = cost[a] + cost[b]
            for p in range(units_a.shape[0]):
                for q in range(units_b.shape[0]):
                    change = size_a[p] - size_b[q]  # pupils a loses and b gains
                    if change != 0 and (
                        size[a] - change < size_lo[a]
                        or size[a] - change > size_hi[a]
                        or size[b] + change < size_lo[b]
                        or size[b] + change > size_hi[b]
                    ):
                        continue
                    new_a = 0
                    for f in range(n_features):
                        dev = (
                            n_total * (sums[a, f] - sum_a[p, f] + sum_b[q, f])
                            - (size[a] - change) * total[f]
                        )
                        new_a += weights[f] * dev * dev
                    if new_a - base >= best:
                        continue
                    new_b = new_a
                    for f in range(n_features):
                        dev = (
                            n_total * (sums[b, f] + sum_a[p, f] - sum_b[q, f])
                            - (size[b] + change) * total[f]
                        )
                        new_b += weights[f] * dev * dev
                    if new_b - base >= best:
                        continue
                    i, j = units_a[p, 0], units_a[p, 1]
                    k, m = units_b[q, 0], units_b[q, 1]
                    if not (
                        _apart_ok2(i, b, k, m, cls, apart_ptr, apart_unit)
                        and _apart_ok2(j, b, k, m, cls, apart_ptr, apart_unit)
                        and _apart_ok2(k, a, i, j, cls, apart_ptr, apart_unit)
                        and _apart_ok2(m, a, i, j, cls, apart_ptr, apart_unit)
                    ):
                        continue
                    best, best_a, best_b, best_p, best_q = new_b - base, a, b, p, q
                    best_units_a, best_units_b = units_a, units_b
    if best_a < 0:
        return False
    for x in range(2):
        i, k = best_units_a[best_p, x], best_units_b[best_q, x]
        cls[i], cls[k] = best_b, best_a
        change = unit_size[i] - unit_size[k]
        size[best_a] -= change
        size[best_b] += change
        for f in range(n_features):
            moved = unit_values[i, f] - unit_values[k, f]
            sums[best_a, f] -= moved
            sums[best_b, f] += moved
    cost[best_a] = _class_cost(sums, size, best_a, total, n_total, weights)
    cost[best_b] = _class_cost(sums, size, best_b, total, n_total, weights)
    return True


@numba.njit(**JIT)
def _walk(
    proposals,
    first,
    last,
    top,
    pinned,
    cls,
    sums,
    size,
    cost,
    unit_values,
    unit_size,
    ctx,
    best_cls,
):
    """Threshold accepting over ``proposals[first:last]`` (rows ``u, v, kind``: kind 0 swaps u
    and v, kind 1 moves u into v's class): a step is taken if it worsens the objective by at
    most a threshold falling linearly from ``top`` to zero. The best assignment seen is copied
    into ``best_cls``; returns its objective."""
    current = cost.sum()
    best = current
    best_cls[:] = cls
    steps = last - first
    for k in range(first, last):
        u, v, move = proposals[k, 0], proposals[k, 1], proposals[k, 2] == 1
        if pinned[u] or (not move and pinned[v]):
            continue
        w = _none() if move else v
        ok, delta = _try_pair(u, w, cls[v], cls, sums, size, cost, unit_values, unit_size, ctx)
        if not ok or delta > top * (last - k) // steps:
            continue
        _apply_pair(u, w, cls[v], cls, sums, size, cost, unit_values, unit_size, ctx)
        current += delta
        if current < best:
            best = current
            best_cls[:] = cls
    return best


@numba.njit(**JIT)
def improve_classes(start, problem, proposals, exchange, out_class):
    """Improve a feasible start; writes the best assignment found into ``out_class`` and
    returns its objective.

    1. the first half of ``proposals`` as a random descent (threshold zero): cheap big gains;
    2. the second half as threshold accepting in four rounds, each restarted from the best
       assignment so far, its threshold starting at the mean worsening of a sample of steps;
    3. exhaustive descent (swaps and moves) from the best assignment seen: a local optimum;
    4. with ``exchange``, alternately the best exchange of two units for two (any two classes)
       and step 3, until neither improves: a local optimum for those exchanges too.
    """
    unit_values, unit_size, pinned, apart_ptr, apart_unit, size_lo, size_hi, weights, order = (
        problem
    )
    n_classes = size_lo.shape[0]
    cls = start.copy()
    sums, size = class_totals(cls, unit_values, unit_size, n_classes)
    total = sums.sum(axis=0)
    n_total = size.sum()
    ctx = (total, n_total, weights, size_lo, size_hi, apart_ptr, apart_unit)
    cost = np.zeros(n_classes, dtype=np.int64)
    for c in range(n_classes):
        cost[c] = _class_cost(sums, size, c, total, n_total, weights)
    steps = proposals.shape[0]
    half = steps // 2
    zero = np.int64(0)  # not literal zeros: _walk compiles once, for int64
    _walk(
        proposals, zero, half, zero, pinned, cls, sums, size, cost, unit_values, unit_size, ctx,
        out_class,
    )  # fmt: skip
    best = cost.sum()
    best_cls = out_class.copy()
    # threshold accepting in rounds, each re-heated from the best assignment so far
    rounds = 4
    for r in range(rounds):
        first = half + (steps - half) * r // rounds
        last = half + (steps - half) * (r + 1) // rounds
        cls[:] = best_cls
        sums, size = class_totals(cls, unit_values, unit_size, n_classes)
        for c in range(n_classes):
            cost[c] = _class_cost(sums, size, c, total, n_total, weights)
        # start the threshold at the mean worsening of a sample of steps
        top, worse = 0, 0
        for k in range(first, min(first + 256, last)):
            u, v = proposals[k, 0], proposals[k, 1]
            w = _none() if proposals[k, 2] == 1 else v
            if pinned[u] or (w >= 0 and pinned[w]):
                continue
            ok, delta = _try_pair(u, w, cls[v], cls, sums, size, cost, unit_values, unit_size, ctx)
            if ok and delta > 0:
                top += delta // 256
                worse += 1
        top = top * 256 // max(worse, 1)
        found = _walk(
            proposals,
            first,
            last,
            top,
            pinned,
            cls,
            sums,
            size,
            cost,
            unit_values,
            unit_size,
            ctx,
            out_class,
        )
        if found < best:
            best = found
            best_cls[:] = out_class
    out_class[:] = best_cls
    cls[:] = out_class
    sums, size = class_totals(cls, unit_values, unit_size, n_classes)
    for c in range(n_classes):
        cost[c] = _class_cost(sums, size, c, total, n_total, weights)
    _descend(order, pinned, cls, sums, size, cost, unit_values, unit_size, ctx)
    while exchange and _exchange_pairs(pinned, cls, sums, size, cost, unit_values, unit_size, ctx):
        _descend(order, pinned, cls, sums, size, cost, unit_values, unit_size, ctx)
    out_class[:] = cls
    return cost.sum()


@numba.njit(**JIT)
def _subsets(members, k, unit_values, mult):
    """Every k-subset of ``members``: (units ``[s, 0:k]``, feature sums, hash of the sums)."""
    m = members.shape[0]
    count = 1
    for i in range(k):
        count = count * (m - i) // (i + 1)
    n_features = unit_values.shape[1]
    units = np.empty((count, k), dtype=np.int64)
    sums = np.zeros((count, n_features), dtype=np.int64)
    keys = np.zeros(count, dtype=np.int64)
    idx = np.arange(k)
    for s in range(count):
        for i in range(k):
            u = members[idx[i]]
            units[s, i] = u
            for f in range(n_features):
                sums[s, f] += unit_values[u, f]
        for f in range(n_features):
            keys[s] = keys[s] * mult + sums[s, f]  # wraps: only a hash, checked in full
        # the next combination in lexicographic order
        i = k - 1
        while i >= 0 and idx[i] == m - k + i:
            i -= 1
        if i < 0:
            break
        idx[i] += 1
        for j in range(i + 1, k):
            idx[j] = idx[j - 1] + 1
    return units, sums, keys


@numba.njit(**JIT)
def _exact_exchange(a, b, k, pinned, cls, sums, size, cost, unit_values, unit_size, ctx):
    """The best exchange of k single pupils of class ``a`` for k of class ``b`` that moves every
    feature's class totals to one of the two integer steps nearest its best for the pair (a
    meet-in-the-middle lookup, exact); applies it if it improves and returns whether it did."""
    total, n_total, weights = ctx[0], ctx[1], ctx[2]
    apart_ptr, apart_unit = ctx[5], ctx[6]
    n_features = sums.shape[1]
    mult = 1000003
    free_a = np.flatnonzero((cls == a) & ~pinned & (unit_size == 1))
    free_b = np.flatnonzero((cls == b) & ~pinned & (unit_size == 1))
    if free_a.shape[0] < k or free_b.shape[0] < k:
        return False
    g_of = np.ones(n_features, dtype=np.int64)  # the gcd of each feature's values
    for f in range(n_features):
        g = 0
        for u in range(unit_values.shape[0]):
            x, y = abs(unit_values[u, f]), g
            while y:
                x, y = y, x % y
            g = x
        g_of[f] = max(g, 1)
    # per feature, the steps d (S_a -= d, S_b += d) on either side of the pair's best
    lo = np.empty(n_features, dtype=np.int64)
    n_free = 0
    free_f = np.empty(n_features, dtype=np.int64)
    for f in range(n_features):
        g = g_of[f]
        dev_a = n_total * sums[a, f] - size[a] * total[f]
        dev_b = n_total * sums[b, f] - size[b] * total[f]
        num, den = dev_a - dev_b, 2 * n_total * g
        lo[f] = (num // den) * g
        if num % den != 0:  # else the best is a single step
            free_f[n_free] = f
            n_free += 1
    units_b, sums_b, keys_b = _subsets(free_b, k, unit_values, mult)
    sort = np.argsort(keys_b)
    keys_sorted = keys_b[sort]
    units_a, sums_a, _ = _subsets(free_a, k, unit_values, mult)
    base = cost[a] + cost[b]
    best, best_p, best_q = 0, _none(), _none()
    want = np.empty(n_features, dtype=np.int64)
    for p in range(units_a.shape[0]):
        for combo in range(1 << n_free):
            for f in range(n_features):
                want[f] = sums_a[p, f] - lo[f]
            for j in range(n_free):
                if combo >> j & 1:
                    want[free_f[j]] -= g_of[free_f[j]]
            key = 0
            for f in range(n_features):
                key = key * mult + want[f]
            at = np.searchsorted(keys_sorted, key)
            while at < keys_sorted.shape[0] and keys_sorted[at] == key:
                q = sort[at]
                at += 1
                same = True
                for f in range(n_features):
                    if sums_b[q, f] != want[f]:
                        same = False
                        break
                if not same:
                    continue
                new = 0
                for f in range(n_features):
                    d = sums_a[p, f] - sums_b[q, f]
                    dev = n_total * (sums[a, f] - d) - size[a] * total[f]
                    new += weights[f] * dev * dev
                    dev = n_total * (sums[b, f] + d) - size[b] * total[f]
                    new += weights[f] * dev * dev
                if new - base >= best:
                    continue
                ok = True
                for i in range(k):
                    ok = ok and _apart_ok_set(
                        units_a[p, i], b, units_b[q], cls, apart_ptr, apart_unit
                    )
                    ok = ok and _apart_ok_set(
                        units_b[q, i], a, units_a[p], cls, apart_ptr, apart_unit
                    )
                if ok:
                    best, best_p, best_q = new - base, p, q
    if best_p < 0:
        return False
    for i in range(k):
        u, v = units_a[best_p, i], units_b[best_q, i]
        cls[u], cls[v] = b, a
        for f in range(n_features):
            moved = unit_values[u, f] - unit_values[v, f]
            sums[a, f] -= moved
            sums[b, f] += moved
    cost[a] = _class_cost(sums, size, a, total, n_total, weights)
    cost[b] = _class_cost(sums, size, b, total, n_total, weights)
    return True


@numba.njit(**JIT)
def _apart_ok_set(u, target, leaving, unit_class, apart_ptr, apart_unit):
    """True if no apart-neighbour of ``u`` outside ``leaving`` is in class ``target``."""
    for k in range(apart_ptr[u], apart_ptr[u + 1]):
        w = apart_unit[k]
        if unit_class[w] != target:
            continue
        gone = False
        for x in leaving:
            if x == w:
                gone = True
        if not gone:
            return False
    return True


@numba.njit(**JIT)
def exact_exchanges(cls, problem, k_max, exchange, target):
    """Polish a local optimum ``cls`` (in place): for k = 1 .. ``k_max`` and every pair of
    classes, :func:`_exact_exchange`; after each improvement descent (and two-for-two
    exchanges) again and k from 1. Stops once the objective reaches ``target`` (a lower bound:
    nothing can improve). Returns the objective."""
    unit_values, unit_size, pinned, apart_ptr, apart_unit, size_lo, size_hi, weights, order = (
        problem
    )
    n_classes = size_lo.shape[0]
    sums, size = class_totals(cls, unit_values, unit_size, n_classes)
    total = sums.sum(axis=0)
    n_total = size.sum()
    ctx = (total, n_total, weights, size_lo, size_hi, apart_ptr, apart_unit)
    cost = np.zeros(n_classes, dtype=np.int64)
    for c in range(n_classes):
        cost[c] = _class_cost(sums, size, c, total, n_total, weights)
    k = np.int64(1)  # not a literal 1: _exact_exchange compiles once, for int64
    while k <= k_max and cost.sum() > target:
        improved = False
        for a in range(n_classes):
            for b in range(a + 1, n_classes):
                if cost.sum() <= target:
                    break
                if _exact_exchange(
                    a, b, k, pinned, cls, sums, size, cost, unit_values, unit_size, ctx
                ):
                    improved = True
        if improved:
            _descend(order, pinned, cls, sums, size, cost, unit_values, unit_size, ctx)
            while exchange and _exchange_pairs(
                pinned, cls, sums, size, cost, unit_values, unit_size, ctx
            ):
                _descend(order, pinned, cls, sums, size, cost, unit_values, unit_size, ctx)
            k = np.int64(1)
        else:
            k += 1
    return cost.sum()


# --- teacher teams ----------------------------------------------------------------------------


@numba.njit(**JIT)
def team_objective(team):
    n = team.shape[0]
    total = 0
    squares = 0
    for c in range(n):
        total += team[c]
        squares += team[c] * team[c]
    return n * squares - total * total


@numba.njit(**JIT)
def _eligible(t, s, teachers, slots):
    subject, school, rotating, homeroom, _, _ = teachers
    slot_class, slot_subject, slot_homeroom, class_school, school_group = slots
    if subject[t] != slot_subject[s]:
        return False
    if slot_homeroom[s] and not homeroom[t]:
        return False
    here = class_school[slot_class[s]]
    if school[t] == here:
        return True
    return rotating[t] and school_group[here] >= 0 and school_group[school[t]] == school_group[here]


@numba.njit(**JIT)
def _teaches_class(t, c, skip, slot_teacher, class_ptr, class_slot):
    """True if teacher t holds a slot of class c other than slot ``skip``."""
    for k in range(class_ptr[c], class_ptr[c + 1]):
        s = class_slot[k]
        if s != skip and slot_teacher[s] == t:
            return True
    return False


@numba.njit(**JIT)
def improve_teams(start, teachers, slots, class_ptr, class_slot, order, out_teacher):
    """Improve a feasible assignment of teachers to slots by swaps (two slots of one subject
    exchange teachers) and replacements (a slot goes to an at least as strong teacher with spare
    load, so the pool's total quality never falls), steepest
    per slot, sweeping in ``order`` until nothing improves. Writes ``out_teacher`` and returns
    the objective. A teacher never holds two slots of one class, never exceeds ``max_classes``
    slots, and is homeroom teacher of at most one class."""
    subject, _, _, _, quality, max_classes = teachers
    slot_class, _, slot_homeroom, _, _ = slots
    n_slots = start.shape[0]
    n_classes = class_ptr.shape[0] - 1
    slot_teacher = start.copy()
    load = np.zeros(quality.shape[0], dtype=np.int64)
    head = np.zeros(quality.shape[0], dtype=np.int64)  # homeroom classes held
    team = np.zeros(n_classes, dtype=np.int64)
    for s in range(n_slots):
        t = slot_teacher[s]
        load[t] += 1
        if slot_homeroom[s]:
            head[t] += 1
        team[slot_class[s]] += quality[t]
    current = team_objective(team)
    improved = True
    while improved:
        improved = False
        for s in order:
            t, c = slot_teacher[s], slot_class[s]
            best, best_kind, best_other = 0, -1, -1
            # swaps with another slot of the same subject in another class
            for s2 in range(n_slots):
                t2, c2 = slot_teacher[s2], slot_class[s2]
                if c2 == c or t2 == t or subject[t2] != subject[t]:
                    continue
                if not (_eligible(t, s2, teachers, slots) and _eligible(t2, s, teachers, slots)):
                    continue
                if _teaches_class(t, c2, s2, slot_teacher, class_ptr, class_slot):
                    continue
                if _teaches_class(t2, c, s, slot_teacher, class_ptr, class_slot):
                    continue
                if slot_homeroom[s] != slot_homeroom[s2]:
                    # the homeroom role changes hands: the one who gains it must be free
                    gainer = t2 if slot_homeroom[s] else t
                    if head[gainer] >= 1:
                        continue
                diff = quality[t2] - quality[t]
                team[c] += diff
                team[c2] -= diff
                delta = team_objective(team) - current
                team[c] -= diff
                team[c2] += diff
                if delta < best:
                    best, best_kind, best_other = delta, 0, s2
            # replacements by a teacher with spare load
            for t2 in range(quality.shape[0]):
                if t2 == t or load[t2] >= max_classes[t2] or not _eligible(t2, s, teachers, slots):
                    continue
                if quality[t2] < quality[t]:
                    continue  # balance by levelling up or by swaps, never by levelling down
                if slot_homeroom[s] and head[t2] >= 1:
                    continue
                if _teaches_class(t2, c, s, slot_teacher, class_ptr, class_slot):
                    continue
                diff = quality[t2] - quality[t]
                team[c] += diff
                delta = team_objective(team) - current
                team[c] -= diff
                if delta < best:
                    best, best_kind, best_other = delta, 1, t2
            if best_kind == 0:
                s2 = best_other
                t2, c2 = slot_teacher[s2], slot_class[s2]
                if slot_homeroom[s] != slot_homeroom[s2]:
                    if slot_homeroom[s]:
                        head[t] -= 1
                        head[t2] += 1
                    else:
                        head[t2] -= 1
                        head[t] += 1
                slot_teacher[s], slot_teacher[s2] = t2, t
                diff = quality[t2] - quality[t]
                team[c] += diff
                team[c2] -= diff
            elif best_kind == 1:
                t2 = best_other
                slot_teacher[s] = t2
                load[t] -= 1
                load[t2] += 1
                if slot_homeroom[s]:
                    head[t] -= 1
                    head[t2] += 1
                team[c] += quality[t2] - quality[t]
            if best_kind >= 0:
                current += best
                improved = True
    out_teacher[:] = slot_teacher
    return current
