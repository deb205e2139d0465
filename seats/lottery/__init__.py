"""Admission lottery (电脑派位): policy, lottery numbers and priorities, mechanisms (numba
kernels), the 统筹 stage, waitlists, the run folder, seed parts and commitments.

Imports only from :mod:`seats.io`. Data flow: files -> :func:`load_lottery` (validated arrays)
-> :func:`allocate` (kernel) -> :func:`waitlists` / :func:`school_results` -> the writers of
:mod:`seats.lottery.run`.
"""

from seats.lottery.allocation import ASSIGNED, PLACED, UNPLACED, Allocation, allocate
from seats.lottery.fallback import fallback_nearest
from seats.lottery.numbers import check_seed, lottery_message, lottery_number
from seats.lottery.priorities import Priorities, entry_tiers, priorities, unknown_categories
from seats.lottery.problem import Lottery, load_lottery, select_level
from seats.lottery.results import SchoolResult, school_results, waitlists

__all__ = [
    "ASSIGNED",
    "PLACED",
    "UNPLACED",
    "Allocation",
    "Lottery",
    "Priorities",
    "SchoolResult",
    "allocate",
    "check_seed",
    "entry_tiers",
    "fallback_nearest",
    "load_lottery",
    "lottery_message",
    "lottery_number",
    "priorities",
    "school_results",
    "select_level",
    "unknown_categories",
    "waitlists",
]
