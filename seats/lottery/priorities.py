"""Priority of every choice entry, for applicants and for the units they apply as.

An applicant's tier at a school is the first tier of that school's list (the policy's, or the
first matching ``[[school_rules]]``'s) whose conditions all hold, else ``open``. A unit is an
eligible applicant alone or a family applying together (twins, 多胞胎); its tier at a school is
the best of its members' tiers, its ``order_by`` value the largest, its number the smallest of
its members' numbers there (DESIGN.md, rules v2). Priority at a school, lower first, is one
int64 key per entry: (tier, order_by value descending, number) packed, so that a v1 policy
gives v1's keys exactly (tier x numbers + number rank).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seats.io.tables import codes
from seats.lottery.condition_kernels import and_equal, and_flag
from seats.lottery.numbers import _rank_digests, multiple_digests, single_digests
from seats.lottery.policy import Conditions
from seats.lottery.problem import Lottery, Units, family_entries, units_of


def unknown_categories(lottery: Lottery) -> list[tuple[str, str]]:
    """(tier, category) pairs of the policy that no applicant has: most likely a typo, which
    would silently drop everyone from that tier."""
    present = set(lottery.applicants.category)
    return [
        (tier.name, c)
        for tiers in lottery.policy.tier_lists
        for tier in tiers
        for c in tier.category or ()
        if c not in present
    ]


# --- conditions ----------------------------------------------------------------------------


class _EntryFacts:
    """Per choice entry, what tier and reserve conditions look at: codes per applicant and per
    school, tested over the entries in compiled loops (no Python step per applicant, and no
    entry-sized copy of an applicant's facts)."""

    def __init__(self, lottery: Lottery):
        apps, schools = lottery.applicants, lottery.schools
        self.lottery = lottery
        self.ptr = apps.choice_ptr
        self.school = apps.choice_school  # int32 per entry
        self.school_index = np.arange(len(schools), dtype=np.int64)
        zones: dict[str, int] = {}
        self.school_zone = codes(schools.zone_ids, zones)
        self.applicant_zone = codes(apps.zone_ids, zones)
        self._app: np.ndarray | None = None
        self._vocabulary: dict[str, dict[str, int]] = {}
        self._columns: dict[str, np.ndarray] = {}
        self._catchment: np.ndarray | None = None

    @property
    def app(self) -> np.ndarray:
        """Applicant index of every entry (made when a condition needs it)."""
        if self._app is None:
            self._app = self.lottery.entry_applicant
        return self._app

    def per_entry(self, values: np.ndarray) -> np.ndarray:
        """An applicant's value at each of its entries."""
        return np.repeat(values, np.diff(self.ptr))

    def column(self, name: str) -> tuple[np.ndarray, dict[str, int]]:
        """Codes of an applicant column, one per applicant (not per entry), and its vocabulary."""
        if name not in self._columns:
            vocabulary: dict[str, int] = {}
            if name == "category":
                values = self.lottery.applicants.category
            else:
                values = self.lottery.applicants.table.text(name, required=False)
            self._columns[name] = codes(values, vocabulary)
            self._vocabulary[name] = vocabulary
        return self._columns[name], self._vocabulary[name]

    def in_catchment(self) -> np.ndarray:
        if self._catchment is None:
            pairs = self.lottery.catchments or set()
            communities: dict[str, int] = {}
            community = codes(self.lottery.applicants.community_ids, communities)[self.app]
            empty = communities.get("", -1)
            width = len(communities) + 1
            wanted = np.array(
                [s * width + communities[c] for s, c in pairs if c in communities], dtype=np.int64
            )
            self._catchment = np.isin(self.school * np.int64(width) + community, wanted) & (
                community != empty
            )
        return self._catchment

    def holds(self, conditions: Conditions, where: np.ndarray | None = None) -> np.ndarray:
        """Whether each entry meets the conditions at its school."""
        apps = self.lottery.applicants
        holds = np.ones(len(self.school), dtype=bool) if where is None else where.copy()
        if conditions.sibling:
            and_equal(self.ptr, apps.sibling_school, self.school, self.school_index, holds)
        if conditions.same_zone:
            and_equal(self.ptr, self.applicant_zone, self.school, self.school_zone, holds)
        if conditions.staff:
            and_equal(self.ptr, apps.staff_school, self.school, self.school_index, holds)
        if conditions.in_catchment:
            holds &= self.in_catchment()
        listed = [("category", conditions.category)] if conditions.category is not None else []
        for column, wanted in [*listed, *conditions.attributes]:
            coded, vocabulary = self.column(column)
            # per applicant, then over its entries: a tenth of the work of testing each entry
            and_flag(
                self.ptr, np.isin(coded, [vocabulary[v] for v in wanted if v in vocabulary]), holds
            )
        return holds


def entry_tiers(lottery: Lottery, facts: _EntryFacts | None = None) -> np.ndarray:
    """Tier index of every choice entry in its school's tier list: the first tier whose
    conditions all hold at that school, else len(list) (the implicit tier "open")."""
    facts = facts or _EntryFacts(lottery)
    lists = lottery.policy.tier_lists
    school_list = None  # which list applies at each entry's school; None: the policy's, all
    if lottery.tier_list is not None and len(lists) > 1:
        school_list = lottery.tier_list.astype(np.int16 if len(lists) < 2**15 else np.int64)[
            facts.school
        ]
    # one byte per entry where the lists allow (they do in practice: a few tiers each)
    small = max((len(tier_list) for tier_list in lists), default=0) < 127
    tiers = np.zeros(len(facts.school), dtype=np.int8 if small else np.int64)
    for k, tier_list in enumerate(lists):
        at = school_list == k if school_list is not None else None
        if at is not None and not at.any():
            continue
        tiers[at if at is not None else slice(None)] = len(tier_list)
        for t in reversed(range(len(tier_list))):  # the first matching tier wins
            tiers[facts.holds(tier_list[t], at)] = t
    return tiers


# --- priorities ----------------------------------------------------------------------------


@dataclass
class Priorities:
    tier: np.ndarray  # per entry: the applicant's own tier index in the school's list (int8)
    key: np.ndarray  # per entry: the unit's priority key at that school (lower wins)
    applicant_digest: bytes  # single-form digest per applicant (32 bytes each)
    entry_digest: bytes | None  # multiple tie-break: one digest per entry
    units: Units | None = None
    number_rank: np.ndarray | None = None  # per entry: rank of the applicant's own number
    unit_tier: np.ndarray | None = None  # per entry: the unit's tier index at that school
    unit_number_rank: np.ndarray | None = None  # per entry: the unit's (smallest) number rank
    unit_order: np.ndarray | None = None  # per entry: the unit's order_by rank used, -1 none
    # (None when the policy has no order_by)
    reserve_mask: np.ndarray | None = None  # per entry: bit r = the unit meets reserve r there
    number_of_rank: np.ndarray | None = None  # rank -> applicant (single) or entry (multiple)

    def entry_number(self, entry: int, applicant: int) -> str:
        if self.entry_digest is not None:
            return self.entry_digest[32 * entry : 32 * entry + 32].hex()
        return self.applicant_digest[32 * applicant : 32 * applicant + 32].hex()

    def applicant_number(self, applicant: int) -> str:
        return self.applicant_digest[32 * applicant : 32 * applicant + 32].hex()

    def number_hex(self, rank: int) -> str:
        """The number with this rank, in the tie-break form (a unit's number)."""
        i = int(self.number_of_rank[rank])
        digests = self.entry_digest if self.entry_digest is not None else self.applicant_digest
        return digests[32 * i : 32 * i + 32].hex()


def _rank_type(n_numbers: int) -> type:
    return np.int32 if n_numbers < 2**31 else np.int64


def priorities(lottery: Lottery) -> Priorities:
    apps, seed, policy = lottery.applicants, lottery.seed, lottery.policy
    facts = _EntryFacts(lottery)
    tier = entry_tiers(lottery, facts)
    applicant_digest = single_digests(seed, apps.ids)
    if policy.tie_break == "single":
        applicant_rank = (
            _rank_digests(applicant_digest) if len(apps) else np.zeros(0, dtype=np.int64)
        )
        # ranks below 2**31 in four bytes: two entry-sized arrays (own and unit) halved
        number_rank = facts.per_entry(applicant_rank.astype(_rank_type(len(apps))))
        n_numbers = len(apps)
        entry_digest = None
    else:
        entry_digest = multiple_digests(
            seed, lottery.schools.ids, apps.choice_school, apps.ids, facts.app
        )
        number_rank = _rank_digests(entry_digest) if entry_digest else np.zeros(0, dtype=np.int64)
        n_numbers = len(number_rank)
        number_rank = number_rank.astype(_rank_type(n_numbers))
    number_of_rank = np.empty(n_numbers, dtype=np.int64)
    number_of_rank[number_rank if entry_digest is not None else applicant_rank] = np.arange(
        n_numbers
    )
    units = lottery.units if lottery.units is not None else units_of(lottery)
    # family members' entries and the first member's entry they join (singles: none)
    family, lead = family_entries(lottery, units)

    def per_unit(values: np.ndarray, reduce) -> np.ndarray:
        """The unit's value at each entry: reduced over its members' entries there."""
        if not len(family):
            return values
        out = values.copy()
        reduce.at(out, lead, values[family])
        out[family] = out[lead]
        return out

    # The unit's tier (best), number (smallest) and order_by value (largest) at each school.
    unit_tier = per_unit(tier, np.minimum)
    unit_number = per_unit(number_rank, np.minimum)
    unit_order = None  # without order_by, nothing to hold (an entry-sized array saved)
    order_span = 1
    if lottery.order_values:
        unit_order = np.full(len(tier), -1, dtype=np.int64)
        school_list = lottery.tier_list[facts.school]
        for k, tier_list in enumerate(policy.tier_lists):
            for t, one in enumerate(tier_list):
                if not one.order_by:
                    continue
                at = (school_list == k) & (unit_tier == t)
                unit_order[at] = lottery.order_values[one.order_by][facts.app[at]]
        unit_order = per_unit(unit_order, np.maximum)
        order_span = int(max(v.max(initial=-1) for v in lottery.order_values.values())) + 2
    # larger order values first: component order_span - 1 - (rank + 1), the empty value last
    order_part = (
        np.where(unit_order >= 0, order_span - 2 - unit_order, order_span - 1)
        if unit_order is not None
        else 0
    )
    n = max(n_numbers, 1)
    keys_below = int(tier.max(initial=0) + 1) * order_span * n  # every packed key is less
    if keys_below < 2**62:
        # in place: one entry-sized array made, not one per operation; int32 where the keys
        # fit and the unit kernels run (they copy the keys into their own lists; v1's kernels
        # take int64)
        narrow = keys_below < 2**31 and lottery.needs_unit_kernels
        key = unit_tier.astype(np.int32 if narrow else np.int64)
        if unit_order is not None:
            key *= order_span
            key += order_part
        key *= n
        key += unit_number
    else:  # too wide to pack: the rank of (tier, order, number) does as well
        key = np.empty(len(tier), dtype=np.int64)
        columns = (
            (unit_number, unit_tier) if unit_order is None else (unit_number, order_part, unit_tier)
        )
        key[np.lexsort(columns)] = np.arange(len(tier))

    reserve_mask = None
    if lottery.reserve_seats is not None and lottery.reserve_seats.shape[1]:
        # one byte per entry for up to 7 reserves (the kernels take any integer width)
        width = np.int8 if len(policy.reserves) < 8 else np.int64
        member_mask = np.zeros(len(tier), dtype=width)
        for r, reserve in enumerate(policy.reserves):
            at_school = (lottery.reserve_seats[:, r] > 0)[facts.school]
            meets = facts.holds(reserve.conditions, at_school)
            np.bitwise_or(member_mask, width(1 << r), out=member_mask, where=meets)
        # a unit meets a reserve's conditions only if every member does
        reserve_mask = per_unit(member_mask, np.bitwise_and)
    return Priorities(
        tier,
        key,
        applicant_digest,
        entry_digest,
        units,
        number_rank,
        unit_tier,
        unit_number,
        unit_order,
        reserve_mask,
        number_of_rank,
    )
