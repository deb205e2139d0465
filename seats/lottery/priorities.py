"""Priority of every choice entry: (tier index, lottery number), lower first, as one key."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seats.lottery.numbers import _digests, _rank_digests, lottery_message
from seats.lottery.problem import Lottery


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
