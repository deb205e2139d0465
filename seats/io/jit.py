"""The one place for numba JIT flags.

Kernels use ``@numba.njit(**JIT)`` (nopython is implied by ``njit``; passing it again
only triggers a numba warning). ``fastmath`` stays off: the kernels do integer work and
must give byte-identical results on every machine.
"""

JIT = dict(cache=True, nogil=True, fastmath=False)

# For kernels whose prange loops write disjoint slices only (results independent of
# the thread count).
PARALLEL = dict(JIT, parallel=True)
