"""Class numbers by lottery: balanced groups labelled by their smallest pupil_id take numbers
in ascending SHA-256 order (fixed classes keep theirs)."""

from __future__ import annotations

import hashlib

import numpy as np

from seats.classes.cohort import Cohort
from seats.classes.search import Solved


def _draw_numbers(seed: str, key: str, labels: list[str]) -> list[tuple[str, str]]:
    """(label, lottery number) in ascending lottery-number order."""
    numbers = [hashlib.sha256(f"{seed}\n{key}\n{label}".encode()).hexdigest() for label in labels]
    return sorted(zip(labels, numbers, strict=True), key=lambda pair: pair[1])


def number_classes(cohort: Cohort, solved: Solved, seed: str) -> tuple[np.ndarray, list[dict]]:
    """Class number (1-based) of every plan pupil, and the lottery's audit rows."""
    plan = solved.plan
    n_bins = len(plan.size_lo)
    bins: list[list[int]] = [[] for _ in range(n_bins)]
    for k, b in enumerate(solved.pupil_bin.tolist()):
        bins[b].append(int(plan.pupils[k]))
    label = [min(cohort.ids[p] for p in members) for members in bins]
    number = np.zeros(n_bins, dtype=np.int64)
    fixed_of = {}
    for b, members in enumerate(bins):
        fixed = {int(cohort.fixed[p]) for p in members if cohort.fixed[p]}
        if fixed:
            fixed_of[b] = fixed.pop()
            number[b] = fixed_of[b]
    free_numbers = sorted(set(range(1, n_bins + 1)) - set(fixed_of.values()))
    free = [b for b in range(n_bins) if b not in fixed_of]
    by_label = {label[b]: b for b in free}
    rows = []
    for (lab, lottery_no), class_no in zip(
        _draw_numbers(seed, plan.key, [label[b] for b in free]), free_numbers, strict=True
    ):
        number[by_label[lab]] = class_no
        rows.append({"label": lab, "lottery_number": lottery_no, "class_no": class_no})
    for b, class_no in sorted(fixed_of.items(), key=lambda x: x[1]):
        rows.append({"label": label[b], "lottery_number": "", "class_no": class_no, "fixed": True})
    rows.sort(key=lambda r: r["class_no"])
    return number[solved.pupil_bin], rows
