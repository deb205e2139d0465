"""Slow, obviously correct references for the kernels in seats.lottery.kernels.

Instances are plain lists: ``choices[a]`` is applicant a's ranked list of school
indices, ``keys[a][j]`` their priority key at ``choices[a][j]`` (lower wins) and
``seats[s]`` the capacity of school s. Results are lists of ``(school, rank)``,
``(-1, -1)`` for an unplaced applicant.
"""

UNPLACED = (-1, -1)


def has_equal_keys(choices, keys):
    """True if two entries naming the same school carry the same key."""
    seen = set()
    for a in range(len(choices)):
        for s, k in zip(choices[a], keys[a], strict=True):
            if (s, k) in seen:
                return True
            seen.add((s, k))
    return False


def naive_deferred_acceptance(choices, keys, seats):
    """Applicant-proposing deferred acceptance, textbook rounds.

    Each round every unplaced applicant with choices left proposes to their next
    school; each school keeps the best ``seats`` (by key) of held + new proposers and
    rejects the rest.
    """
    if has_equal_keys(choices, keys):
        raise ValueError("equal priority keys at a school")
    n = len(choices)
    next_choice = [0] * n
    held = [[] for _ in seats]  # per school: list of (key, applicant, rank)
    placed = [False] * n
    while True:
        proposals = [[] for _ in seats]
        for a in range(n):
            if not placed[a] and next_choice[a] < len(choices[a]):
                j = next_choice[a]
                next_choice[a] += 1
                proposals[choices[a][j]].append((keys[a][j], a, j))
        if not any(proposals):
            break
        for s in range(len(seats)):
            if not proposals[s]:
                continue
            pool = sorted(held[s] + proposals[s])
            held[s] = pool[: seats[s]]
            for _, a, _ in held[s]:
                placed[a] = True
            for _, a, _ in pool[seats[s] :]:
                placed[a] = False
    result = [UNPLACED] * n
    for s in range(len(seats)):
        for _, a, j in held[s]:
            result[a] = (s, j)
    return result


def naive_immediate_acceptance(choices, keys, seats):
    """Immediate acceptance (Boston, 志愿优先), literal rounds.

    Round r: every unplaced applicant with more than r choices applies to choice r;
    each school accepts applicants in key order up to its remaining seats, for good.
    """
    if has_equal_keys(choices, keys):
        raise ValueError("equal priority keys at a school")
    n = len(choices)
    result = [UNPLACED] * n
    seats_left = list(seats)
    max_len = max((len(c) for c in choices), default=0)
    for r in range(max_len):
        applying = [[] for _ in seats]
        for a in range(n):
            if result[a] == UNPLACED and r < len(choices[a]):
                applying[choices[a][r]].append((keys[a][r], a))
        for s in range(len(seats)):
            for _, a in sorted(applying[s]):
                if seats_left[s] == 0:
                    break
                result[a] = (s, r)
                seats_left[s] -= 1
    return result


def _admitted(result, n_schools):
    admitted = [[] for _ in range(n_schools)]
    for a, (s, _) in enumerate(result):
        if s >= 0:
            admitted[s].append(a)
    return admitted


def _preferred(choices, result, a):
    """Positions in a's list ranked strictly above a's placement."""
    s, j = result[a]
    return range(j if s >= 0 else len(choices[a]))


def is_non_wasteful(choices, keys, seats, result):
    """No applicant prefers a school that still has a free seat."""
    admitted = _admitted(result, len(seats))
    for a in range(len(choices)):
        for j in _preferred(choices, result, a):
            if len(admitted[choices[a][j]]) < seats[choices[a][j]]:
                return False
    return True


def is_stable(choices, keys, seats, result):
    """No blocking pair: no applicant a and school s such that a prefers s to their
    placement and s has a free seat or admitted someone with a larger key at s."""
    key_at = [dict(zip(choices[a], keys[a], strict=True)) for a in range(len(choices))]
    admitted = _admitted(result, len(seats))
    for a in range(len(choices)):
        for j in _preferred(choices, result, a):
            s = choices[a][j]
            if len(admitted[s]) < seats[s]:
                return False
            if any(key_at[b][s] > keys[a][j] for b in admitted[s]):
                return False
    return True
