"""The mechanisms on the validated arrays: deferred or immediate acceptance (numba kernels)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seats.lottery import kernels
from seats.lottery.priorities import Priorities, priorities
from seats.lottery.problem import Lottery

PLACED, UNPLACED, ASSIGNED = "placed", "unplaced", "assigned"


@dataclass
class Allocation:
    school: np.ndarray  # int32 per applicant: school index or -1
    rank: np.ndarray  # int32 per applicant: 0-based choice position, -1 when not by choice
    status: np.ndarray  # object array of PLACED / UNPLACED / ASSIGNED
    priorities: Priorities


def allocate(lottery: Lottery) -> Allocation:
    """Run the policy's mechanism on the validated arrays."""
    prio = priorities(lottery)
    mechanism = {
        "deferred_acceptance": kernels.deferred_acceptance,
        "immediate_acceptance": kernels.immediate_acceptance,
    }[lottery.policy.mechanism]
    school, rank = mechanism(
        lottery.applicants.choice_ptr,
        lottery.applicants.choice_school,
        prio.key,
        lottery.schools.seats,
    )
    status = np.where(school >= 0, PLACED, UNPLACED).astype(object)
    return Allocation(school, rank, status, prio)
