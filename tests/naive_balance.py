"""Slow, obviously correct references for seats.classes.kernels (plain Python integers)."""


def naive_class_objective(unit_class, unit_values, unit_size, n_classes, weights):
    """sum over classes c and features f of w_f * (N * S_cf - n_c * T_f) ** 2."""
    n_total = sum(unit_size)
    n_features = len(weights)
    total = [sum(row[f] for row in unit_values) for f in range(n_features)]
    cost = 0
    for c in range(n_classes):
        members = [u for u in range(len(unit_class)) if unit_class[u] == c]
        size = sum(unit_size[u] for u in members)
        for f in range(n_features):
            class_sum = sum(unit_values[u][f] for u in members)
            cost += weights[f] * (n_total * class_sum - size * total[f]) ** 2
    return cost


def naive_team_objective(team):
    """C * sum(team ** 2) - sum(team) ** 2 (C ** 2 times the variance)."""
    return len(team) * sum(t * t for t in team) - sum(team) ** 2


def brute_force_best(unit_values, unit_size, n_classes, size_lo, size_hi, weights):
    """The optimum over every assignment of the units (tiny instances only)."""
    import itertools

    best = None
    for assignment in itertools.product(range(n_classes), repeat=len(unit_size)):
        sizes = [0] * n_classes
        for u, c in enumerate(assignment):
            sizes[c] += unit_size[u]
        if any(not size_lo[c] <= sizes[c] <= size_hi[c] for c in range(n_classes)):
            continue
        cost = naive_class_objective(assignment, unit_values, unit_size, n_classes, weights)
        best = cost if best is None else min(best, cost)
    return best
