"""A textbook deferred-acceptance kernel in numba: the reference the engine's kernel is timed
against (issue 15). No validation, no key check: free applicants on a stack propose down
their lists; each school keeps its held applicants in a binary max-heap on the priority key
(the worst held at the top), so an offer costs O(log seats). The same matching as
``seats.lottery.kernels.deferred_acceptance`` on every instance (the bench asserts it)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def reference_deferred_acceptance(choice_ptr, choice_school, choice_key, seats):
    n = choice_ptr.shape[0] - 1
    n_schools = seats.shape[0]
    base = np.zeros(n_schools + 1, dtype=np.int64)
    for s in range(n_schools):
        base[s + 1] = base[s] + seats[s]
    heap_key = np.empty(base[n_schools], dtype=np.int64)
    heap_app = np.empty(base[n_schools], dtype=np.int64)
    size = np.zeros(n_schools, dtype=np.int64)
    nxt = choice_ptr[:-1].copy()
    stack = np.arange(n - 1, -1, -1, dtype=np.int64)
    top = n
    while top > 0:
        top -= 1
        a = stack[top]
        while nxt[a] < choice_ptr[a + 1]:
            e = nxt[a]
            nxt[a] += 1
            s = choice_school[e]
            cap, key, b = seats[s], choice_key[e], base[s]
            if cap == 0:
                continue
            if size[s] < cap:  # sift up from the end
                i = size[s]
                size[s] += 1
                while i > 0 and heap_key[b + (i - 1) // 2] < key:
                    heap_key[b + i] = heap_key[b + (i - 1) // 2]
                    heap_app[b + i] = heap_app[b + (i - 1) // 2]
                    i = (i - 1) // 2
                heap_key[b + i] = key
                heap_app[b + i] = a
                break
            if key < heap_key[b]:  # replace the worst held, sift down
                stack[top] = heap_app[b]
                top += 1
                i = 0
                while True:
                    c = 2 * i + 1
                    if c >= cap:
                        break
                    if c + 1 < cap and heap_key[b + c + 1] > heap_key[b + c]:
                        c += 1
                    if heap_key[b + c] <= key:
                        break
                    heap_key[b + i] = heap_key[b + c]
                    heap_app[b + i] = heap_app[b + c]
                    i = c
                heap_key[b + i] = key
                heap_app[b + i] = a
                break
    school = np.full(n, -1, dtype=np.int64)
    for s in range(n_schools):
        for i in range(size[s]):
            school[heap_app[base[s] + i]] = s
    return school
