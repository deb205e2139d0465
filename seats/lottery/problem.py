"""The validated problem of one lottery: files -> :class:`Lottery` (arrays, policy, seed).

Every check that the draw depends on runs here, so that ``lottery commit`` (which calls
:func:`load_lottery` too) never fixes inputs that ``lottery run`` would refuse.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seats.io.errors import Problem, Problems
from seats.io.model import (
    Applicants,
    Communities,
    Schools,
    Zones,
    read_applicants,
    read_catchments,
    read_communities,
    read_lottery_schools,
    read_zones,
)
from seats.io.tables import Table, find_table, read_table
from seats.lottery import kernels
from seats.lottery.numbers import _rank_digests, check_seed, multiple_digests
from seats.lottery.policy import DEFAULT_POLICY, Policy, load_policy

INPUT_ROLES = ("schools", "applicants", "policy", "zones", "catchments", "communities")


@dataclass
class Lottery:
    """Validated arrays of one lottery: schools, applicants (CSR choices), policy and seed."""

    schools: Schools
    applicants: Applicants
    policy: Policy
    seed: str
    zones: Zones | None = None
    communities: Communities | None = None
    catchments: set[tuple[int, str]] | None = None  # (school index, community_id)
    # Rules v2, per applicant: eligible by birth date; else why not ("born after 2015-08-31")
    eligible: np.ndarray | None = None
    reason: list[str] | None = None
    # Per school: which tier list applies (0: the policy's, k: school rule k) and the seats
    # of each reserve (schools x reserves).
    tier_list: np.ndarray | None = None
    reserve_seats: np.ndarray | None = None
    # per applicant: the order_by columns as exact ranks (column -> int64 array; -1 = empty)
    order_values: dict[str, np.ndarray] | None = None
    units: Units | None = None  # the units applicants apply as (after eligibility)

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

    @property
    def needs_unit_kernels(self) -> bool:
        """Families, reserves or ineligible applicants: the allocation runs on units with the
        choice rule of rules v2; otherwise v1's kernels give the same result faster."""
        apps = self.applicants
        return bool(
            any(apps.family_ids)
            or (self.reserve_seats is not None and self.reserve_seats.size)
            or (self.eligible is not None and not self.eligible.all())
        )


@dataclass
class Units:
    """The units applicants apply as: an eligible applicant alone or a family together.
    Every ineligible applicant is a unit of its own that takes part in nothing."""

    of: np.ndarray  # per applicant: unit index
    size: np.ndarray  # per unit
    eligible: np.ndarray  # per unit
    first: np.ndarray  # per unit: its first member (applicant index)

    def members(self, unit: int) -> list[int]:
        return np.flatnonzero(self.of == unit).tolist()


def units_of(lottery: Lottery) -> Units:
    """Eligible applicants sharing a family_id form one unit; everyone else is a unit alone.
    Units are numbered in the order of their first member (whole-array operations)."""
    apps = lottery.applicants
    n = len(apps)
    eligible = lottery.eligible if lottery.eligible is not None else np.ones(n, dtype=bool)
    leader = np.arange(n, dtype=np.int64)  # a unit's first member, for every member
    if any(apps.family_ids):
        family = np.array(apps.family_ids, dtype=object)
        joined = np.flatnonzero((family != "") & eligible)
        _, code = np.unique(family[joined], return_inverse=True)
        first = np.full(int(code.max(initial=-1)) + 1, n, dtype=np.int64)
        np.minimum.at(first, code, joined)
        leader[joined] = first[code]
    leaders, of = np.unique(leader, return_inverse=True)
    size = np.bincount(of, minlength=len(leaders)).astype(np.int64)
    return Units(of.astype(np.int64), size, eligible[leaders], leaders.astype(np.int64))


def family_entries(lottery: Lottery, units: Units) -> tuple[np.ndarray, np.ndarray]:
    """(entries, leads): every entry of an applicant in a family of two or more, and the
    matching entry (same offset) of its unit's first member. Members of a family have
    identical lists, so that is where their entries meet; singles need nothing."""
    apps = lottery.applicants
    in_family = np.flatnonzero(units.size[units.of] > 1)
    if not len(in_family):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    ptr = apps.choice_ptr
    lengths = ptr[in_family + 1] - ptr[in_family]
    starts = np.repeat(ptr[in_family], lengths)
    offset = np.arange(lengths.sum(), dtype=np.int64) - np.repeat(
        np.cumsum(lengths) - lengths, lengths
    )
    first = np.repeat(ptr[units.first[units.of[in_family]]], lengths)
    return starts + offset, first + offset


def expand_groups(lottery: Lottery) -> None:
    """Replace each position ``P01|P02`` by its schools in ascending order of the unit's
    multiple-form numbers SHA-256(seed + "\\n" + school_id + "\\n" + applicant_id) (a family's:
    the smallest of its members' at each school), whatever the tie-break: the expanded list
    is the choice list from here on (choice_rank, rounds, waitlists)."""
    apps = lottery.applicants
    if not apps.has_groups or not len(apps.choice_school):
        return
    n_entries = len(apps.choice_school)
    # the entries of positions with two or more schools, which position, whose
    grouped, group, app = kernels.grouped_entries(apps.choice_ptr, apps.choice_position)
    digests = multiple_digests(
        lottery.seed, lottery.schools.ids, apps.choice_school[grouped], apps.ids, app
    )
    number = np.zeros(n_entries, dtype=np.int32 if len(grouped) < 2**31 - 1 else np.int64)
    number[grouped] = _rank_digests(digests) + 1
    entries, leads = family_entries(lottery, lottery.units or units_of(lottery))
    if len(entries):  # a family expands by the smallest of its members' numbers
        # in place: the leads are members too, and number[entries] is read before any change
        np.minimum.at(number, leads, number[entries])
        number[entries] = number[leads]
    # Only the grouped entries move, inside their own position: sort that subset alone.
    order = kernels.order_within_groups(group, number[grouped])
    apps.choice_school[grouped] = apps.choice_school[grouped][order]


def select_level(table: Table, level: str, column: str = "level") -> Table:
    """The rows of a full district schools table at one level (e.g. primary), or with
    ``column="sector"`` of one sector."""
    if not table.require((column,)):
        table.problems.raise_if_any()
    keep = [i for i, v in enumerate(table.text(column)) if v == level]
    if not keep:
        table.problems.add(table.name, None, column, f"no school has {column} '{level}'")
        table.problems.raise_if_any()
    return table.subset(keep)


def input_paths(
    schools: Path | str,
    applicants: Path | str,
    policy: Path | str | None = None,
    zones: Path | str | None = None,
    catchments: Path | str | None = None,
    communities: Path | str | None = None,
) -> dict[str, Path]:
    """The files a draw reads, by role. Without ``--zones``, ``--catchments`` or
    ``--communities``, the zones, catchments and communities files beside the schools file
    are used when there are some (a district folder), so that zones are always checked."""
    folder = Path(schools).parent
    if zones is None:
        zones = find_table(folder, "zones")
    if catchments is None:
        catchments = find_table(folder, "catchments")
    if communities is None:
        communities = find_table(folder, "communities")
    given = {
        "schools": schools,
        "applicants": applicants,
        "policy": policy,
        "zones": zones,
        "catchments": catchments,
        "communities": communities,
    }
    return {role: Path(path) for role, path in given.items() if path is not None}


def load_lottery(
    schools_path: Path | str,
    applicants_path: Path | str,
    seed: str,
    policy_path: Path | str | None = None,
    *,
    zones_path: Path | str | None = None,
    catchments_path: Path | str | None = None,
    communities_path: Path | str | None = None,
    level: str | None = None,
    sector: str | None = None,
    encoding: str | None = None,
    fallback: str | None = None,
) -> Lottery:
    """Read and validate the lottery's files; raises InputError listing every problem.

    Zones, catchments and communities not given are looked for beside the schools file
    (:func:`input_paths`), as a run does."""
    found = input_paths(
        schools_path, applicants_path, policy_path, zones_path, catchments_path, communities_path
    )
    zones_path, catchments_path = found.get("zones"), found.get("catchments")
    communities_path = found.get("communities")
    check_seed(seed)
    policy = load_policy(policy_path) if policy_path is not None else DEFAULT_POLICY
    problems = Problems()
    full_table = read_table(schools_path, problems, encoding=encoding)
    school_table = full_table
    if level is not None and full_table.header:
        school_table = select_level(full_table, level)
    if sector is not None and full_table.header:
        school_table = select_level(school_table, sector, "sector")
    if level is None and fallback and full_table.header and full_table.has("level"):
        levels = sorted(set(full_table.text("level")))
        if len(levels) > 1:
            problems.add(
                full_table.name,
                None,
                "level",
                f"the schools file holds several levels ({', '.join(levels)}): give --level, "
                "so that the 统筹 stage seats children only in schools of their own level",
            )
    schools = read_lottery_schools(school_table)
    other_levels = {}
    if full_table.header and full_table.has("level"):
        kinds = full_table.text("level")
        if full_table.has("sector") and sector is not None:
            kinds = [f"{s} {k}" for s, k in zip(full_table.text("sector"), kinds, strict=True)]
        other_levels = dict(zip(full_table.text("school_id"), kinds, strict=True))
        for school_id in schools.ids:
            other_levels.pop(school_id, None)
    zones = None
    zone_table = None
    if zones_path is not None:
        zone_table = read_table(zones_path, problems, encoding=encoding)
        zones = read_zones(zone_table)
        if zone_table.header:
            school_table.references("zone_id", zones.index, "zone")
    if not school_table.header or (zone_table is not None and not zone_table.header):
        # Without the schools (or zones), every reference to them would be reported again.
        problems.raise_if_any()
    communities = None
    if communities_path is not None:
        communities = read_communities(
            read_table(communities_path, problems, encoding=encoding), zones
        )
    catchments = None
    if catchments_path is not None:
        catchments = read_catchments(
            read_table(catchments_path, problems, encoding=encoding),
            schools,
            communities,
            set(full_table.text("school_id")) if full_table.header else None,
        )
    applicant_table = read_table(applicants_path, problems, encoding=encoding)
    applicants = read_applicants(applicant_table, schools, zones, other_levels=other_levels)
    if zones is None and applicant_table.header:
        # No zones file anywhere: a zone that no school of the district has is a typo.
        known = {z: 0 for z in (full_table.text("zone_id") if full_table.header else [])}
        applicant_table.references("zone_id", known, "zone (no school lies in it)")
    lottery = Lottery(schools, applicants, policy, seed, zones, communities, catchments)
    if applicant_table.header and school_table.header:
        _check_rules(lottery, school_table, applicant_table, policy_path, problems)
    problems.raise_if_any()
    lottery.units = units_of(lottery)
    expand_groups(lottery)
    return lottery


def _policy_problem(policy_path, message: str, needle: str) -> Problem:
    """A problem of the policy file, at the first line where `needle` (a column name or a key)
    is written, so that it reads file:line: column N."""
    name = str(policy_path or "policy")
    if policy_path is not None:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = Path(policy_path).read_bytes().decode("utf-8-sig")
            pattern = re.compile(rf"(?<![\w-]){re.escape(needle)}(?![\w-])")
            for number, line in enumerate(text.splitlines(), start=1):
                found = pattern.search(line.split("#")[0])
                if found:
                    return Problem(name, number, f"column {found.start() + 1}", message)
    return Problem(name, None, None, message)


def _check_rules(lottery: Lottery, school_table: Table, table: Table, policy_path, problems):
    """The rules v2 checks that need the files: columns the policy names, eligibility,
    max_choices, families, order_by values, the school rules and reserves."""
    policy, apps, schools = lottery.policy, lottery.applicants, lottery.schools
    for column, where in policy.columns_named:
        if not table.has(column):
            problems.append(
                _policy_problem(
                    policy_path,
                    f"{where} names the column '{column}', which {table.name} does not have",
                    column,
                )
            )
    if policy.needs_catchments and lottery.catchments is None:
        problems.append(
            _policy_problem(
                policy_path,
                "the policy uses in_catchment but no catchments file is given (--catchments)",
                "in_catchment",
            )
        )
    for column in {c for r in policy.school_rules for c, _ in r.match} | {
        c for r in policy.reserves for c, _ in r.match
    }:
        if not school_table.has(column):
            problems.append(
                _policy_problem(
                    policy_path,
                    f"a match names the column '{column}', which {school_table.name} does not have",
                    column,
                )
            )
    if problems:
        return
    lottery.eligible, lottery.reason = _eligibility(policy, table, problems)
    if policy.max_choices is not None:
        counts = _positions_per_applicant(apps)
        for a in np.flatnonzero(counts > policy.max_choices).tolist():
            problems.add(
                table.name,
                table.lines[a],
                "choices",
                f"{counts[a]} choices, more than max_choices = {policy.max_choices}",
            )
    _check_families(apps, table, problems)
    lottery.order_values = {
        column: _order_ranks(table, column, problems)
        for column in sorted({t.order_by for ts in policy.tier_lists for t in ts if t.order_by})
    }
    lottery.tier_list = _school_tier_lists(policy, school_table)
    lottery.reserve_seats = _reserve_seats(policy, school_table, schools, problems, policy_path)


def _eligibility(policy: Policy, table: Table, problems: Problems):
    n = len(table)
    eligible = np.ones(n, dtype=bool)
    reason = [""] * n
    if policy.born_from is None and policy.born_to is None:
        return eligible, reason
    if not table.require(("birth_date",)):
        return eligible, reason
    for i, (value, line) in enumerate(zip(table.text("birth_date"), table.lines, strict=True)):
        try:
            born = dt.date.fromisoformat(value) if len(value) == 10 else None
        except ValueError:
            born = None
        if born is None:
            if value:  # an empty cell is reported by text() already
                problems.add(
                    table.name, line, "birth_date", f"'{value}' is not a date like 2015-08-31"
                )
            continue
        if policy.born_from is not None and born < policy.born_from:
            eligible[i], reason[i] = False, f"born before {policy.born_from.isoformat()}"
        elif policy.born_to is not None and born > policy.born_to:
            eligible[i], reason[i] = False, f"born after {policy.born_to.isoformat()}"
    return eligible, reason


def _positions_per_applicant(apps: Applicants) -> np.ndarray:
    ptr = apps.choice_ptr
    counts = np.zeros(len(apps), dtype=np.int64)
    has = np.diff(ptr) > 0
    counts[has] = apps.positions[ptr[1:][has] - 1].astype(np.int64) + 1
    return counts


def _check_families(apps: Applicants, table: Table, problems: Problems) -> None:
    """Members of one family (twins, 多胞胎) apply together: identical choice lists."""
    if not any(apps.family_ids):
        return
    first: dict[str, int] = {}
    has_family = np.fromiter(map(bool, apps.family_ids), bool, count=len(apps.family_ids))
    members = [
        (a, first.setdefault(apps.family_ids[a], a)) for a in np.flatnonzero(has_family).tolist()
    ]
    later = np.array([(a, b) for a, b in members if a != b], dtype=np.int64).reshape(-1, 2)
    member, lead = later[:, 0], later[:, 1]
    ptr, positions = apps.choice_ptr, apps.positions
    lengths = ptr[member + 1] - ptr[member]
    same = lengths == ptr[lead + 1] - ptr[lead]
    # entry by entry, where the lengths agree: the schools and their positions
    k = np.flatnonzero(same)
    offset = np.arange(int(lengths[k].sum())) - np.repeat(
        np.cumsum(lengths[k]) - lengths[k], lengths[k]
    )
    mine = np.repeat(ptr[member[k]], lengths[k]) + offset
    theirs = np.repeat(ptr[lead[k]], lengths[k]) + offset
    differs = (apps.choice_school[mine] != apps.choice_school[theirs]) | (
        positions[mine] != positions[theirs]
    )
    same[k[np.repeat(np.arange(len(k)), lengths[k])[differs]]] = False
    for a, b in zip(member[~same].tolist(), lead[~same].tolist(), strict=True):
        problems.add(
            table.name,
            table.lines[a],
            "choices",
            f"family '{apps.family_ids[a]}' applies together, but {apps.ids[a]}'s choices "
            f"differ from {apps.ids[b]}'s (line {table.lines[b]})",
        )


def _order_ranks(table: Table, column: str, problems: Problems) -> np.ndarray:
    """The order_by column as exact ranks of its decimal values (-1 for empty cells), so that
    "larger first" compares the written numbers, not their float approximations."""
    values = table.text(column, required=False)
    distinct: dict[str, decimal.Decimal] = {}
    for value, line in zip(values, table.lines, strict=True):
        if not value or value in distinct:
            continue
        try:
            number = decimal.Decimal(value)
        except decimal.InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            problems.add(table.name, line, column, f"'{value}' is not a number (order_by)")
            number = decimal.Decimal(0)
        distinct[value] = number
    ordered = sorted(set(distinct.values()))
    rank_of = {number: r for r, number in enumerate(ordered)}
    text_rank = {value: rank_of[number] for value, number in distinct.items()}
    return np.array([text_rank.get(v, -1) for v in values], dtype=np.int64)


def _matches(match, table: Table) -> np.ndarray:
    holds = np.ones(len(table), dtype=bool)
    for column, values in match:
        holds &= np.isin(np.array(table.text(column, required=False), dtype=object), values)
    return holds


def _school_tier_lists(policy: Policy, table: Table) -> np.ndarray:
    """Per school: 0 for the policy's tiers, k for the first school rule k that matches."""
    which = np.zeros(len(table), dtype=np.int64)
    unset = np.ones(len(table), dtype=bool)
    for k, rule in enumerate(policy.school_rules, 1):
        hit = unset & _matches(rule.match, table)
        which[hit] = k
        unset &= ~hit
    return which


def _reserve_seats(policy: Policy, table: Table, schools: Schools, problems: Problems, policy_path):
    seats = np.zeros((len(schools), len(policy.reserves)), dtype=np.int64)
    for r, reserve in enumerate(policy.reserves):
        hit = _matches(reserve.match, table)
        seats[hit, r] = [reserve.seats_at(int(s)) for s in schools.seats[hit].tolist()]
    over = np.flatnonzero(seats.sum(axis=1) > schools.seats).tolist()
    if over:  # one mistake in the policy: said once, where it is written, with examples
        shown = ", ".join(
            f"'{schools.ids[s]}' ({int(seats[s].sum())} > {int(schools.seats[s])}, "
            f"{table.name}:{table.lines[s]})"
            for s in over[:3]
        )
        more = f" and {len(over) - 3} more" if len(over) > 3 else ""
        problems.append(
            _policy_problem(
                policy_path,
                f"the reserves take more seats than {len(over)} school(s) have: {shown}{more}",
                "reserves",
            )
        )
    return seats
