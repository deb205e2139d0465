"""The validated problem of one lottery: files -> :class:`Lottery` (arrays, policy, seed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seats.io.errors import Problems
from seats.io.model import (
    Applicants,
    Schools,
    Zones,
    read_applicants,
    read_lottery_schools,
    read_zones,
)
from seats.io.tables import Table, read_table
from seats.lottery.numbers import check_seed
from seats.lottery.policy import DEFAULT_POLICY, Policy, load_policy


@dataclass
class Lottery:
    """Validated arrays of one lottery: schools, applicants (CSR choices), policy and seed."""

    schools: Schools
    applicants: Applicants
    policy: Policy
    seed: str
    zones: Zones | None = None

    @property
    def entry_applicant(self) -> np.ndarray:
        """Applicant index of every choice entry."""
        ptr = self.applicants.choice_ptr
        return np.repeat(np.arange(len(ptr) - 1, dtype=np.int64), np.diff(ptr))

    @property
    def entry_position(self) -> np.ndarray:
        """0-based position of every entry in its applicant's list."""
        ptr = self.applicants.choice_ptr
        return np.arange(ptr[-1], dtype=np.int64) - np.repeat(ptr[:-1], np.diff(ptr))


def select_level(table: Table, level: str) -> Table:
    """The rows of a full district schools table at one level (e.g. primary)."""
    if not table.require(("level",)):
        table.problems.raise_if_any()
    keep = [i for i, v in enumerate(table.text("level")) if v == level]
    if not keep:
        table.problems.add(table.name, None, "level", f"no school has level '{level}'")
        table.problems.raise_if_any()
    return Table(
        table.name,
        table.header,
        [table.rows[i] for i in keep],
        [table.lines[i] for i in keep],
        table.problems,
    )


def load_lottery(
    schools_path: Path | str,
    applicants_path: Path | str,
    seed: str,
    policy_path: Path | str | None = None,
    *,
    zones_path: Path | str | None = None,
    level: str | None = None,
    encoding: str | None = None,
) -> Lottery:
    """Read and validate the lottery's files; raises InputError listing every problem."""
    check_seed(seed)
    policy = load_policy(policy_path) if policy_path is not None else DEFAULT_POLICY
    problems = Problems()
    school_table = read_table(schools_path, problems, encoding=encoding)
    if level is not None and school_table.header:
        school_table = select_level(school_table, level)
    schools = read_lottery_schools(school_table)
    zones = None
    if zones_path is not None:
        zone_table = read_table(zones_path, problems, encoding=encoding)
        zones = read_zones(zone_table)
        if zone_table.header:
            school_table.references("zone_id", zones.index, "zone")
    if not school_table.header or (zones_path is not None and not zone_table.header):
        # Without the schools (or zones), every reference to them would be reported again.
        problems.raise_if_any()
    applicant_table = read_table(applicants_path, problems, encoding=encoding)
    applicants = read_applicants(applicant_table, schools, zones)
    problems.raise_if_any()
    return Lottery(schools, applicants, policy, seed, zones)
