"""Admission lottery (电脑派位): verifiable lottery numbers, priority tiers, mechanisms, waitlists.

Data flow: files -> :func:`load_lottery` (validated arrays) -> :func:`allocate` (numba kernel)
-> :func:`waitlists` / :func:`school_results` -> writers in :mod:`seats.run`.

The contract (DESIGN.md): the lottery number is the lowercase hex SHA-256 of the UTF-8 text
``seed + "\\n" + applicant_id`` (single tie-break) or ``seed + "\\n" + school_id + "\\n" +
applicant_id`` (multiple); priority at a school is (tier index, lottery number), lower first.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seats import kernels
from seats.errors import InputError, Problem, Problems
from seats.model import (
    Applicants,
    Schools,
    Zones,
    read_applicants,
    read_lottery_schools,
    read_zones,
)
from seats.policy import DEFAULT_POLICY, Policy, load_policy
from seats.tables import Table, read_table

PLACED, UNPLACED, ASSIGNED = "placed", "unplaced", "assigned"


# --- lottery numbers ------------------------------------------------------------------------


def lottery_message(seed: str, applicant_id: str, school_id: str | None = None) -> str:
    """The text whose SHA-256 is the lottery number (what a parent feeds to sha256sum)."""
    if school_id is None:
        return f"{seed}\n{applicant_id}"
    return f"{seed}\n{school_id}\n{applicant_id}"


def lottery_number(seed: str, applicant_id: str, school_id: str | None = None) -> str:
    return hashlib.sha256(lottery_message(seed, applicant_id, school_id).encode()).hexdigest()


def _digests(messages) -> bytes:
    return b"".join(hashlib.sha256(m.encode()).digest() for m in messages)


def _rank_digests(digests: bytes) -> np.ndarray:
    """Rank of each 32-byte digest in ascending (= hex string) order; ties are impossible for
    distinct messages, but are still refused so that the order is always total."""
    words = np.frombuffer(digests, dtype=">u8").reshape(-1, 4)
    # The leading 64 bits order distinct digests except with odds of about n^2 / 2^65; only
    # then are all four words needed.
    order = np.argsort(words[:, 0])
    ordered = words[order]
    if (ordered[1:, 0] == ordered[:-1, 0]).any():
        order = np.lexsort(words.T[::-1])
        ordered = words[order]
        if (ordered[1:] == ordered[:-1]).all(axis=1).any():
            raise ValueError("two lottery numbers are equal: are two applicant ids the same?")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    return rank


def check_seed(seed: str) -> None:
    if not seed or not seed.strip():
        raise InputError(Problem("--seed", None, None, "the seed is empty"))
    if "\n" in seed or "\r" in seed:
        raise InputError(
            Problem(
                "--seed",
                None,
                None,
                "the seed must be one line (a newline would make lottery numbers ambiguous)",
            )
        )
    if not seed.isprintable():
        raise InputError(
            Problem(
                "--seed",
                None,
                None,
                f"the seed {seed!r} holds a control or undecodable character: write it in "
                "plain text",
            )
        )


# --- the validated problem ------------------------------------------------------------------


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


# --- priorities -----------------------------------------------------------------------------


def _codes(values: list[str], vocabulary: dict[str, int]) -> np.ndarray:
    return np.array([vocabulary.setdefault(v, len(vocabulary)) for v in values], dtype=np.int64)


def unknown_categories(lottery: Lottery) -> list[tuple[str, str]]:
    """(tier, category) pairs of the policy that no applicant has: most likely a typo, which
    would silently drop everyone from that tier."""
    present = set(lottery.applicants.category)
    return [
        (tier.name, c)
        for tier in lottery.policy.tiers
        for c in tier.category or ()
        if c not in present
    ]


def entry_tiers(lottery: Lottery) -> np.ndarray:
    """Tier index of every choice entry: the first tier whose conditions all hold at that school,
    else len(tiers) (the implicit tier "open")."""
    apps, schools = lottery.applicants, lottery.schools
    entry_app = lottery.entry_applicant
    entry_school = apps.choice_school.astype(np.int64)
    zone_vocabulary: dict[str, int] = {}
    school_zone = _codes(schools.zone_ids, zone_vocabulary)[entry_school]
    applicant_zone = _codes(apps.zone_ids, zone_vocabulary)[entry_app]
    category_vocabulary: dict[str, int] = {}
    category = _codes(apps.category, category_vocabulary)[entry_app]
    sibling = apps.sibling_school[entry_app]

    tiers = np.full(len(entry_school), len(lottery.policy.tiers), dtype=np.int64)
    for t in reversed(range(len(lottery.policy.tiers))):  # the first matching tier wins
        tier = lottery.policy.tiers[t]
        holds = np.ones(len(entry_school), dtype=bool)
        if tier.sibling:
            holds &= sibling == entry_school
        if tier.same_zone:
            holds &= applicant_zone == school_zone
        if tier.category is not None:
            wanted = [category_vocabulary[c] for c in tier.category if c in category_vocabulary]
            holds &= np.isin(category, wanted)
        tiers[holds] = t
    return tiers


@dataclass
class Priorities:
    tier: np.ndarray  # per entry
    key: np.ndarray  # per entry: tier * n_numbers + lottery rank (lower wins)
    applicant_digest: bytes  # single-form digest per applicant (32 bytes each)
    entry_digest: bytes | None  # multiple tie-break: one digest per entry

    def entry_number(self, entry: int, applicant: int) -> str:
        if self.entry_digest is not None:
            return self.entry_digest[32 * entry : 32 * entry + 32].hex()
        return self.applicant_digest[32 * applicant : 32 * applicant + 32].hex()

    def applicant_number(self, applicant: int) -> str:
        return self.applicant_digest[32 * applicant : 32 * applicant + 32].hex()


def priorities(lottery: Lottery) -> Priorities:
    apps, seed = lottery.applicants, lottery.seed
    tier = entry_tiers(lottery)
    applicant_digest = _digests(lottery_message(seed, a) for a in apps.ids)
    if lottery.policy.tie_break == "single":
        rank = (
            _rank_digests(applicant_digest)[lottery.entry_applicant]
            if len(apps)
            else np.zeros(0, dtype=np.int64)
        )
        n_numbers = len(apps)
        entry_digest = None
    else:
        school_ids = lottery.schools.ids
        entry_digest = _digests(
            lottery_message(seed, apps.ids[a], school_ids[s])
            for a, s in zip(
                lottery.entry_applicant.tolist(), apps.choice_school.tolist(), strict=True
            )
        )
        rank = _rank_digests(entry_digest) if entry_digest else np.zeros(0, dtype=np.int64)
        n_numbers = len(rank)
    key = tier * max(n_numbers, 1) + rank
    return Priorities(tier, key, applicant_digest, entry_digest)


# --- allocation -----------------------------------------------------------------------------


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


def fallback_nearest(lottery: Lottery, allocation: Allocation) -> int:
    """Second stage for compulsory education: each applicant still unplaced, in lottery-number
    order, gets the nearest school with seats left (from the zone centre; ties by school_id).
    Returns how many were assigned; any left over means the level has too few seats."""
    if lottery.zones is None:
        raise ValueError("the nearest-school fallback needs the zones file")
    schools, zones, apps = lottery.schools, lottery.zones, lottery.applicants
    table = schools.table
    if not table.require(("x_km", "y_km")):
        table.problems.raise_if_any()
    x, y = table.floats("x_km"), table.floats("y_km")
    table.problems.raise_if_any()
    seats_left = schools.seats - np.bincount(
        allocation.school[allocation.school >= 0], minlength=len(schools)
    )
    unplaced = np.flatnonzero(allocation.school < 0)
    digests = allocation.priorities.applicant_digest
    order = sorted(unplaced.tolist(), key=lambda a: digests[32 * a : 32 * a + 32])
    by_id = np.argsort(np.array(schools.ids, dtype=object), kind="stable")
    id_rank = np.empty(len(schools), dtype=np.int64)
    id_rank[by_id] = np.arange(len(schools))
    nearest: dict[int, list[int]] = {}  # zone -> schools by (distance, school_id)
    cursor: dict[int, int] = {}
    assigned = 0
    for a in order:
        zone = zones.index[apps.zone_ids[a]]
        if zone not in nearest:
            distance = np.hypot(x - zones.x_km[zone], y - zones.y_km[zone])
            nearest[zone] = np.lexsort((id_rank, distance)).tolist()
            cursor[zone] = 0
        candidates, i = nearest[zone], cursor[zone]
        while i < len(candidates) and seats_left[candidates[i]] <= 0:
            i += 1  # seats only ever run out, so a full school is skipped for good
        cursor[zone] = i
        if i == len(candidates):
            continue
        s = candidates[i]
        seats_left[s] -= 1
        allocation.school[a] = s
        allocation.status[a] = ASSIGNED
        assigned += 1
    return assigned


# --- results --------------------------------------------------------------------------------


def waitlists(lottery: Lottery, allocation: Allocation) -> tuple[np.ndarray, np.ndarray]:
    """(school, applicant) pairs of every waitlist, ordered by school then priority.

    A school's waitlist holds the applicants who ranked it above their placement by choice
    (or ranked it and were not placed by choice)."""
    entry_app = lottery.entry_applicant
    position = lottery.entry_position
    placed_rank = allocation.rank[entry_app]
    waiting = (placed_rank < 0) | (position < placed_rank)
    school = lottery.applicants.choice_school[waiting].astype(np.int64)
    key = allocation.priorities.key[waiting]
    # Order by (school, key) as one integer: keys at a school are distinct and below key_span.
    key_span = int(key.max()) + 1 if len(key) else 1
    order = np.argsort(school * key_span + key)
    return school[order], entry_app[waiting][order]


@dataclass
class SchoolResult:
    school_id: str
    seats: int
    applicants: int
    first_choices: int
    by_tier: list[int]
    placed: int
    assigned: int
    seats_left: int
    cutoff_tier: str
    cutoff_number: str
    waitlist: int


def school_results(
    lottery: Lottery, allocation: Allocation, waitlist_school: np.ndarray
) -> list[SchoolResult]:
    schools, apps, prio = lottery.schools, lottery.applicants, allocation.priorities
    n_schools, n_tiers = len(schools), len(lottery.policy.tiers) + 1
    entry_school = apps.choice_school.astype(np.int64)
    by_tier = np.zeros((n_schools, n_tiers), dtype=np.int64)
    np.add.at(by_tier, (entry_school, prio.tier), 1)
    first = apps.choice_ptr[:-1][np.diff(apps.choice_ptr) > 0]
    first_choices = np.bincount(entry_school[first], minlength=n_schools)
    by_choice = allocation.rank >= 0
    placed = np.bincount(allocation.school[by_choice], minlength=n_schools)
    assigned = np.bincount(allocation.school[allocation.status == ASSIGNED], minlength=n_schools)
    waitlist = np.bincount(waitlist_school, minlength=n_schools)

    # The cutoff is the admitted-by-choice entry with the largest key at each school (keys at
    # a school are distinct, so exactly one entry per school with admissions matches).
    placed_apps = np.flatnonzero(by_choice)
    placed_entries = apps.choice_ptr[placed_apps] + allocation.rank[placed_apps]
    placed_school = entry_school[placed_entries]
    placed_key = prio.key[placed_entries]
    largest_key = np.full(n_schools, -1, dtype=np.int64)
    np.maximum.at(largest_key, placed_school, placed_key)
    last = placed_key == largest_key[placed_school]
    cutoff_entry = np.full(n_schools, -1, dtype=np.int64)
    cutoff_app = np.full(n_schools, -1, dtype=np.int64)
    cutoff_entry[placed_school[last]] = placed_entries[last]
    cutoff_app[placed_school[last]] = placed_apps[last]
    names = lottery.policy.tier_names
    results = []
    for s in range(n_schools):
        e, a = int(cutoff_entry[s]), int(cutoff_app[s])
        results.append(
            SchoolResult(
                school_id=schools.ids[s],
                seats=int(schools.seats[s]),
                applicants=int(by_tier[s].sum()),
                first_choices=int(first_choices[s]),
                by_tier=by_tier[s].tolist(),
                placed=int(placed[s]),
                assigned=int(assigned[s]),
                seats_left=int(schools.seats[s] - placed[s] - assigned[s]),
                cutoff_tier=names[prio.tier[e]] if e >= 0 else "",
                cutoff_number=prio.entry_number(e, a) if e >= 0 else "",
                waitlist=int(waitlist[s]),
            )
        )
    return results
