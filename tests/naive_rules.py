"""Slow, obviously correct pure-Python reference for the admission lottery with rules v2.

Written from DESIGN.md ("The lottery contract" and "Admission rules v2", including "Precise
points") alone, to be compared with the fast implementation. Standard library only. Every
step is a literal loop over plain dicts and lists; nothing is clever on purpose.

Entry point: :func:`allocate_v2` (see its docstring for the input and output shapes).

Readings
========
Places where DESIGN.md admits more than one reading, and what this reference does. The fast
implementation should either agree or say why not.

R1  Soft reserves, general part. "then the remaining seats take the best of the rest" is read
    as: after the reserve phase, every seat of the school not yet taken (the general seats AND
    the reserve seats the reserves left unfilled) is open to the rest, a unit entering while
    the school has at least one free seat. So unfilled reserve seats go to all inside the very
    application of the choice rule, under both mechanisms (for immediate acceptance this is
    the Precise point "unfilled reserve seats are open to all in the same round"). The other
    reading (general capacity fixed at seats - reserve seats while choosing, reserve seats
    released only at the end / in a later pass) is NOT implemented.
R2  Deferred acceptance: the choice rule is applied from scratch (no seat taken, no reserve
    filled) to held + new proposers, only at schools that received new proposers this round
    (the rule is idempotent on its own choice, so re-applying it at other schools changes
    nothing). A held unit may move between a reserve and the general seats from one round to
    the next; its final reserve is the one of the last application.
R3  Immediate acceptance: the state of a school carried between rounds is (seats taken,
    applicants taken under each reserve). In round r the reserve phase runs while
    reserve_taken < reserve_seats AND seats_taken < seats; reserve seats given to all in an
    earlier round are gone (they were taken), even though the reserve itself still shows
    seats - taken > 0.
R4  A reserve overfilled by a family (size 2 entering with 1 reserve seat free) counts all its
    members as filled under the reserve; the school's seats taken grow by the unit's size too,
    so the general part shrinks accordingly. Excess = placed + assigned - seats when positive
    (统筹 families may also exceed).
R5  "reserves larger than seats": the sum of the seats of all reserves matching a school
    (seats, or floor(share x seats)) exceeding that school's seats is an error.
R6  Family with ineligible members: each ineligible member is removed from the unit; the unit
    is the eligible members (none -> no unit). The ineligible member is still checked for
    identical choices (input errors are about the file). An ineligible applicant's
    expanded_choices use their own multiple-form numbers.
R7  Family members' "identical choices": the parsed positions must be equal as ordered lists
    of ordered groups of trimmed ids ("P01|P02" differs from "P02|P01").
R8  A unit's order_by value: the largest member value (numeric, compared exactly as Decimal of
    the trimmed text) of the column named by the order_by of the UNIT's tier, over all
    (eligible) members, whatever their own tier. An empty or missing value is smaller than
    every number (so it comes last inside the tier); a non-numeric or non-finite value is an
    input error (ValueError), raised when the value is needed.
R9  Priority at a school, lower first: (tier index, -order_by value if the tier has one, unit
    number in tie_break form at that school, smallest member applicant_id).
R10 Waitlist: units ordered by unit priority at the school; members of a unit by their own
    number at that school in the tie_break form, then applicant_id. Every school appears in
    "waitlists", possibly with an empty list. 统筹-assigned applicants are "not placed" for
    waitlists (they stay on the waitlists of all schools they ranked).
R11 Eligibility: when born_from or born_to is set, every applicant needs a birth_date of the
    form YYYY-MM-DD (strictly four-two-two digits, a real date); empty or missing is an error.
    Bounds may be "YYYY-MM-DD" strings or TOML dates. Outside: reason "born before <born_from>"
    or "born after <born_to>".
R12 统筹 schools: the given schools whose sector (trimmed) is in fallback_sectors; if the schools
    have no sector column at all, every school (v1's behaviour, v1 files have no sector). A
    level column with more than one distinct value raises ValueError only when fallback is
    asked for (the sentence sits in the 统筹 paragraph; v1 allocates mixed files).
R13 统筹 distance: math.hypot(float(school.x) - float(point.x), float(school.y) - float(point.y))
    on float64 parsed from the text; math.hypot is correctly rounded, C's hypot (np.hypot) is
    not always (1 ulp), which matters only for ties of mathematically equal distances. Ties
    of the float distances by school_id as text (Python str order = code points). The unit's
    point: the community point of the member with the smallest single number if communities
    are given and that member's community_id is listed there, else that member's zone centre
    (missing zone centre -> ValueError). Written "%.3f" for every member.
R14 Tiers: a tier (global or of a school rule) with no condition that imposes anything
    (sibling/same_zone/in_catchment/staff all false or absent, no category, no attributes) is
    an input error, as in v1. category = [] and attributes = {col = []} hold for nobody.
    attributes = {} imposes nothing. A condition on a column the applicants lack compares ""
    with the listed values.
R15 in_catchment when no catchments are given: holds for nobody (no error). match values and
    condition values that are not text (ints) are compared as str(value).strip(); a single
    text instead of a list is taken as a one-element list.
R16 share: floor(Decimal(text) x seats) where text is repr(float) for a TOML float (the
    shortest repr, i.e. the decimal text written in the file for usual values), the value
    itself for a Decimal or str. A reserve needs exactly one of seats / share.
R17 schools[...]["reserve_filled"] lists every reserve matching the school (0 when unused);
    two reserves with the same name add up.
R18 Unknown keys in the policy, a tier, a rule or a reserve raise ValueError.
R19 Choices: every id is trimmed; an empty position or an empty id inside a group (stray ";"
    or "|") is an error, as is a school listed twice anywhere in the list (also across
    positions, as in v1) or a school not among the given schools. Ineligible applicants'
    choices are checked too (max_choices included).
R20 Cells are compared as trimmed text everywhere (ids, zone, category, attribute columns);
    sibling_school_id / staff_school_id naming a school not in the lottery hold for nobody
    (no error). Family members' choices are compared for all members, eligible or not.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import re
from decimal import Decimal, InvalidOperation

OPEN_TIER = "open"
MECHANISMS = ("deferred_acceptance", "immediate_acceptance")
TIE_BREAKS = ("single", "multiple")
DEFAULT_TIERS = [{"name": "sibling", "sibling": True}, {"name": "same_zone", "same_zone": True}]
POLICY_KEYS = (
    "mechanism",
    "tie_break",
    "tiers",
    "born_from",
    "born_to",
    "max_choices",
    "fallback_sectors",
    "school_rules",
    "reserves",
)
BOOL_CONDITIONS = ("sibling", "same_zone", "in_catchment", "staff")
CONDITION_KEYS = (*BOOL_CONDITIONS, "category", "attributes")
TIER_KEYS = ("name", *CONDITION_KEYS, "order_by")
RULE_KEYS = ("match", "tiers")
RESERVE_KEYS = ("name", "match", "seats", "share", *CONDITION_KEYS)
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# --- small helpers -----------------------------------------------------------------------------


def single_number(seed: str, applicant_id: str) -> str:
    return hashlib.sha256(f"{seed}\n{applicant_id}".encode()).hexdigest()


def multiple_number(seed: str, school_id: str, applicant_id: str) -> str:
    return hashlib.sha256(f"{seed}\n{school_id}\n{applicant_id}".encode()).hexdigest()


def text(row: dict, key: str) -> str:
    """A cell as trimmed text; a missing column or None is the empty text."""
    value = row.get(key)
    return "" if value is None else str(value).strip()


def text_list(value, what: str) -> list[str]:
    """A policy list of values as trimmed texts (R15)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ValueError(f"{what}: expected a list, got {value!r}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, str | int):
            raise ValueError(f"{what}: value {v!r} is not text")
        out.append(str(v).strip())
    return out


def parse_date(value, what: str) -> datetime.date:
    if isinstance(value, datetime.datetime):
        raise ValueError(f"{what}: {value!r} is not a date")
    if isinstance(value, datetime.date):
        return value
    if not isinstance(value, str) or not DATE_RE.match(value.strip()):
        raise ValueError(f"{what}: {value!r} is not a date YYYY-MM-DD")
    try:
        return datetime.date.fromisoformat(value.strip())
    except ValueError as err:
        raise ValueError(f"{what}: {value!r} is not a real date") from err


def parse_float(value: str, what: str) -> float:
    try:
        number = float(value)
    except ValueError as err:
        raise ValueError(f"{what}: {value!r} is not a number") from err
    if not math.isfinite(number):
        raise ValueError(f"{what}: {value!r} is not a finite number")
    return number


def school_matches(match, school: dict) -> bool:
    """Every key of match names a schools column whose trimmed value is in the list."""
    if match is None:
        return True
    if not isinstance(match, dict):
        raise ValueError(f"match: expected a table, got {match!r}")
    return all(text(school, column) in text_list(v, "match") for column, v in match.items())


# --- the policy ----------------------------------------------------------------------------------


def check_conditions(where: dict, what: str) -> bool:
    """Validate the condition keys of a tier or reserve; True if one imposes something."""
    imposes = False
    for key in BOOL_CONDITIONS:
        if key in where:
            if not isinstance(where[key], bool):
                raise ValueError(f"{what}: {key} must be true or false")
            imposes = imposes or where[key]
    if "category" in where:
        text_list(where["category"], f"{what}: category")
        imposes = True
    if "attributes" in where:
        attributes = where["attributes"]
        if not isinstance(attributes, dict):
            raise ValueError(f"{what}: attributes must be a table")
        for column, values in attributes.items():
            text_list(values, f"{what}: attributes.{column}")
            imposes = True
    return imposes


def normal_tiers(tiers, what: str) -> list[dict]:
    if not isinstance(tiers, list):
        raise ValueError(f"{what}: tiers must be a list")
    out = []
    for i, tier in enumerate(tiers):
        where = f"{what} tier {i + 1}"
        if not isinstance(tier, dict):
            raise ValueError(f"{where}: expected a table")
        for key in tier:
            if key not in TIER_KEYS:
                raise ValueError(f"{where}: unknown tier key {key!r}")
        name = tier.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{where}: a tier needs a name")
        if not check_conditions(tier, where):
            raise ValueError(f"{where}: tier {name!r} has no conditions (R14)")
        order_by = tier.get("order_by")
        if order_by is not None and (not isinstance(order_by, str) or not order_by.strip()):
            raise ValueError(f"{where}: order_by must name a column")
        out.append(
            {
                "name": name.strip(),
                "conditions": tier,
                "order_by": order_by.strip() if order_by else None,
            }
        )
    return out


def normal_policy(policy: dict | None) -> dict:
    policy = dict(policy or {})
    for key in policy:
        if key not in POLICY_KEYS:
            raise ValueError(f"unknown policy key {key!r}")
    mechanism = policy.get("mechanism", "deferred_acceptance")
    if mechanism not in MECHANISMS:
        raise ValueError(f"unknown mechanism {mechanism!r}")
    tie_break = policy.get("tie_break", "single")
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"unknown tie_break {tie_break!r}")
    tiers = normal_tiers(policy.get("tiers", DEFAULT_TIERS), "policy")

    rules = []
    for i, rule in enumerate(policy.get("school_rules", [])):
        where = f"school_rules {i + 1}"
        if not isinstance(rule, dict):
            raise ValueError(f"{where}: expected a table")
        for key in rule:
            if key not in RULE_KEYS:
                raise ValueError(f"{where}: unknown key {key!r}")
        if "tiers" not in rule:
            raise ValueError(f"{where}: a rule without tiers")
        rules.append({"match": rule.get("match"), "tiers": normal_tiers(rule["tiers"], where)})

    reserves = []
    for i, reserve in enumerate(policy.get("reserves", [])):
        where = f"reserves {i + 1}"
        if not isinstance(reserve, dict):
            raise ValueError(f"{where}: expected a table")
        for key in reserve:
            if key not in RESERVE_KEYS:
                raise ValueError(f"{where}: unknown key {key!r}")
        name = reserve.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{where}: a reserve needs a name")
        check_conditions(reserve, where)
        if ("seats" in reserve) == ("share" in reserve):
            raise ValueError(f"{where}: give exactly one of seats and share")
        seats = share = None
        if "seats" in reserve:
            seats = reserve["seats"]
            if isinstance(seats, bool) or not isinstance(seats, int) or seats < 0:
                raise ValueError(f"{where}: seats must be a whole number >= 0")
        else:
            raw = reserve["share"]
            if isinstance(raw, bool):
                raise ValueError(f"{where}: share must be a number")
            try:
                share = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(str(raw))
            except InvalidOperation as err:
                raise ValueError(f"{where}: share must be a number") from err
            if not share.is_finite() or not 0 <= share <= 1:
                raise ValueError(f"{where}: share must be between 0 and 1")
        reserves.append(
            {
                "name": name.strip(),
                "match": reserve.get("match"),
                "seats": seats,
                "share": share,
                "conditions": reserve,
            }
        )

    born_from = policy.get("born_from")
    born_to = policy.get("born_to")
    born_from = parse_date(born_from, "born_from") if born_from is not None else None
    born_to = parse_date(born_to, "born_to") if born_to is not None else None
    max_choices = policy.get("max_choices")
    if max_choices is not None and (
        isinstance(max_choices, bool) or not isinstance(max_choices, int) or max_choices < 0
    ):
        raise ValueError("max_choices must be a whole number >= 0")
    sectors = text_list(policy.get("fallback_sectors", ["public"]), "fallback_sectors")
    return {
        "mechanism": mechanism,
        "tie_break": tie_break,
        "tiers": tiers,
        "school_rules": rules,
        "reserves": reserves,
        "born_from": born_from,
        "born_to": born_to,
        "max_choices": max_choices,
        "fallback_sectors": sectors,
    }


# --- conditions ----------------------------------------------------------------------------------


def condition_holds(conditions: dict, applicant: dict, school: dict, catchment: set) -> bool:
    """Every condition that is set holds for this applicant at this school."""
    school_id = text(school, "school_id")
    if conditions.get("sibling") and text(applicant, "sibling_school_id") != school_id:
        return False
    if conditions.get("same_zone") and text(applicant, "zone_id") != text(school, "zone_id"):
        return False
    if conditions.get("in_catchment"):
        community = text(applicant, "community_id")
        if community == "" or (school_id, community) not in catchment:
            return False
    if conditions.get("staff") and text(applicant, "staff_school_id") != school_id:
        return False
    if "category" in conditions and text(applicant, "category") not in text_list(
        conditions["category"], "category"
    ):
        return False
    for column, values in conditions.get("attributes", {}).items():
        if text(applicant, column) not in text_list(values, column):
            return False
    return True


def order_value(applicant: dict, column: str) -> Decimal | None:
    """R8: the numeric value of an order_by column; None (smaller than all) when empty."""
    value = text(applicant, column)
    if value == "":
        return None
    try:
        number = Decimal(value)
    except InvalidOperation as err:
        raise ValueError(f"{column}: {value!r} is not a number") from err
    if not number.is_finite():
        raise ValueError(f"{column}: {value!r} is not a finite number")
    return number


# --- the allocation ------------------------------------------------------------------------------


def allocate_v2(
    schools: list[dict[str, str]],
    applicants: list[dict[str, str]],
    policy: dict,
    seed: str,
    catchments: list[dict[str, str]] | None = None,
    communities: list[dict[str, str]] | None = None,
    zones: list[dict[str, str]] | None = None,
    fallback: bool = False,
) -> dict:
    """The lottery of DESIGN.md with admission rules v2, by the most literal loops.

    Inputs are CSV rows as text dicts and the policy as tomllib gives it. Returns
    ``{"assignments": {applicant_id: {...}}, "waitlists": {school_id: [applicant_id, ...]},
    "schools": {school_id: {"placed", "assigned", "reserve_filled", "excess"}}}``.
    Input errors raise ValueError.
    """
    pol = normal_policy(policy)
    tie_break = pol["tie_break"]

    # --- schools
    school_ids: list[str] = []
    school_of: dict[str, dict] = {}
    seats: dict[str, int] = {}
    for row in schools:
        sid = text(row, "school_id")
        if sid == "":
            raise ValueError("schools: empty school_id")
        if sid in school_of:
            raise ValueError(f"schools: duplicate school_id {sid!r}")
        raw = text(row, "seats")
        if not raw.isdigit() or not raw.isascii():
            raise ValueError(f"schools: seats {raw!r} of {sid!r} is not a whole number >= 0")
        school_ids.append(sid)
        school_of[sid] = row
        seats[sid] = int(raw)

    # Tier list of each school: the first matching rule's tiers, else the global tiers.
    tiers_at: dict[str, list[dict]] = {}
    for sid in school_ids:
        tiers_at[sid] = pol["tiers"]
        for rule in pol["school_rules"]:
            if school_matches(rule["match"], school_of[sid]):
                tiers_at[sid] = rule["tiers"]
                break

    # Reserves of each school, in the order listed: (index, name, seats, conditions).
    reserves_at: dict[str, list[tuple[int, str, int, dict]]] = {}
    for sid in school_ids:
        reserves_at[sid] = []
        for i, reserve in enumerate(pol["reserves"]):
            if not school_matches(reserve["match"], school_of[sid]):
                continue
            if reserve["seats"] is not None:
                k = reserve["seats"]
            else:
                k = math.floor(reserve["share"] * seats[sid])
            reserves_at[sid].append((i, reserve["name"], k, reserve["conditions"]))
        if sum(k for _, _, k, _ in reserves_at[sid]) > seats[sid]:
            raise ValueError(f"reserves at {sid!r} are larger than its {seats[sid]} seats (R5)")

    catchment = set()
    for row in catchments or []:
        catchment.add((text(row, "school_id"), text(row, "community_id")))

    # --- applicants: choices
    applicant_ids: list[str] = []
    app_of: dict[str, dict] = {}
    positions_of: dict[str, list[list[str]]] = {}
    for row in applicants:
        aid = text(row, "applicant_id")
        if aid == "":
            raise ValueError("applicants: empty applicant_id")
        if aid in app_of:
            raise ValueError(f"applicants: duplicate applicant_id {aid!r}")
        cell = text(row, "choices")
        positions: list[list[str]] = []
        listed: set[str] = set()
        for position in cell.split(";") if cell else []:
            group = []
            for sid in position.split("|"):
                sid = sid.strip()
                if sid == "":
                    raise ValueError(f"applicant {aid!r}: an empty choice")
                if sid not in school_of:
                    raise ValueError(f"applicant {aid!r}: unknown school {sid!r}")
                if sid in listed:
                    raise ValueError(f"applicant {aid!r}: school {sid!r} is listed twice")
                listed.add(sid)
                group.append(sid)
            positions.append(group)
        if pol["max_choices"] is not None and len(positions) > pol["max_choices"]:
            raise ValueError(
                f"applicant {aid!r}: {len(positions)} choices, more than {pol['max_choices']}"
            )
        applicant_ids.append(aid)
        app_of[aid] = row
        positions_of[aid] = positions

    # --- eligibility
    reason: dict[str, str] = {aid: "" for aid in applicant_ids}
    if pol["born_from"] is not None or pol["born_to"] is not None:
        for aid in applicant_ids:
            born = parse_date(text(app_of[aid], "birth_date"), f"applicant {aid!r}: birth_date")
            if pol["born_from"] is not None and born < pol["born_from"]:
                reason[aid] = f"born before {pol['born_from'].isoformat()}"
            elif pol["born_to"] is not None and born > pol["born_to"]:
                reason[aid] = f"born after {pol['born_to'].isoformat()}"
    eligible = {aid: reason[aid] == "" for aid in applicant_ids}

    # --- families and units (R6, R7)
    family_members: dict[str, list[str]] = {}
    for aid in applicant_ids:
        family = text(app_of[aid], "family_id")
        if family:
            family_members.setdefault(family, []).append(aid)
    for family, members in family_members.items():
        for other in members[1:]:
            if positions_of[other] != positions_of[members[0]]:
                raise ValueError(
                    f"family {family!r}: {members[0]!r} and {other!r} have different choices"
                )
    units: list[list[str]] = []  # each unit: its eligible members in input order
    seen_family: set[str] = set()
    for aid in applicant_ids:
        family = text(app_of[aid], "family_id")
        if family:
            if family in seen_family:
                continue
            seen_family.add(family)
            members = [m for m in family_members[family] if eligible[m]]
        else:
            members = [aid] if eligible[aid] else []
        if members:
            units.append(members)
    unit_of: dict[str, int] = {}
    for u, members in enumerate(units):
        for m in members:
            unit_of[m] = u

    single = {aid: single_number(seed, aid) for aid in applicant_ids}

    def multiple(sid: str, aid: str) -> str:
        return multiple_number(seed, sid, aid)

    def expand(positions: list[list[str]], members: list[str]) -> list[str]:
        """P|P groups in ascending order of the members' smallest multiple-form number."""
        expanded = []
        for group in positions:
            expanded += sorted(group, key=lambda s: (min(multiple(s, m) for m in members), s))
        return expanded

    expanded_of_unit = [expand(positions_of[members[0]], members) for members in units]
    expanded_of: dict[str, list[str]] = {}
    for aid in applicant_ids:
        if eligible[aid]:
            expanded_of[aid] = expanded_of_unit[unit_of[aid]]
        else:
            expanded_of[aid] = expand(positions_of[aid], [aid])

    # --- priorities
    def own_number(aid: str, sid: str) -> str:
        return single[aid] if tie_break == "single" else multiple(sid, aid)

    def member_tier(aid: str, sid: str) -> int:
        tiers = tiers_at[sid]
        for t, tier in enumerate(tiers):
            if condition_holds(tier["conditions"], app_of[aid], school_of[sid], catchment):
                return t
        return len(tiers)  # the implicit tier "open"

    priority_cache: dict[tuple[int, str], tuple] = {}

    def priority(u: int, sid: str) -> tuple:
        """R9: (tier, order_by part, unit number, smallest id); lower wins."""
        if (u, sid) not in priority_cache:
            members = units[u]
            tier = min(member_tier(m, sid) for m in members)
            order_part: tuple = ()
            tiers = tiers_at[sid]
            if tier < len(tiers) and tiers[tier]["order_by"] is not None:
                column = tiers[tier]["order_by"]
                values = [order_value(app_of[m], column) for m in members]
                present = [v for v in values if v is not None]
                # larger first: present values by -value, then the empty ones
                order_part = (0, -max(present)) if present else (1, Decimal(0))
            number = min(own_number(m, sid) for m in members)
            priority_cache[(u, sid)] = (tier, order_part, number, min(members))
        return priority_cache[(u, sid)]

    def tier_name(u: int, sid: str) -> str:
        t = priority(u, sid)[0]
        tiers = tiers_at[sid]
        return tiers[t]["name"] if t < len(tiers) else OPEN_TIER

    def meets_reserve(u: int, conditions: dict, sid: str) -> bool:
        return all(
            condition_holds(conditions, app_of[m], school_of[sid], catchment) for m in units[u]
        )

    # --- the choice rule
    def choose(sid: str, candidates: list[int], taken: int, filled: dict[int, int]):
        """Apply the choice rule at school sid to candidate units, given the seats already
        taken and the applicants already taken under each reserve (by reserve index).

        Returns (admitted [(unit, reserve name or "")], seats taken, filled) after the rule."""
        filled = dict(filled)
        rest = sorted(candidates, key=lambda u: priority(u, sid))
        admitted: list[tuple[int, str]] = []
        for index, name, k, conditions in reserves_at[sid]:
            keep = []
            for u in rest:
                if (
                    filled.get(index, 0) < k
                    and taken < seats[sid]
                    and meets_reserve(u, conditions, sid)
                ):
                    admitted.append((u, name))
                    filled[index] = filled.get(index, 0) + len(units[u])
                    taken += len(units[u])
                else:
                    keep.append(u)
            rest = keep
        for u in rest:  # R1: every seat not taken is open to the rest
            if taken < seats[sid]:
                admitted.append((u, ""))
                taken += len(units[u])
        return admitted, taken, filled

    # --- the mechanisms: placement[u] = (school, 0-based rank, reserve) or None
    placement: list[tuple[str, int, str] | None] = [None] * len(units)
    if pol["mechanism"] == "deferred_acceptance":
        next_choice = [0] * len(units)
        held: dict[str, list[int]] = {sid: [] for sid in school_ids}
        is_held = [False] * len(units)
        while True:
            proposals: dict[str, list[int]] = {sid: [] for sid in school_ids}
            anyone = False
            for u in range(len(units)):
                if not is_held[u] and next_choice[u] < len(expanded_of_unit[u]):
                    sid = expanded_of_unit[u][next_choice[u]]
                    next_choice[u] += 1
                    proposals[sid].append(u)
                    anyone = True
            if not anyone:
                break
            for sid in school_ids:
                if not proposals[sid]:
                    continue
                pool = held[sid] + proposals[sid]
                admitted, _, _ = choose(sid, pool, 0, {})
                chosen = {u: name for u, name in admitted}
                held[sid] = [u for u in pool if u in chosen]
                for u in pool:
                    if u in chosen:
                        is_held[u] = True
                        rank = expanded_of_unit[u].index(sid)
                        placement[u] = (sid, rank, chosen[u])
                    else:
                        is_held[u] = False
                        placement[u] = None
    else:
        taken = {sid: 0 for sid in school_ids}
        filled: dict[str, dict[int, int]] = {sid: {} for sid in school_ids}
        rounds = max((len(e) for e in expanded_of_unit), default=0)
        for r in range(rounds):
            proposals = {sid: [] for sid in school_ids}
            for u in range(len(units)):
                if placement[u] is None and r < len(expanded_of_unit[u]):
                    proposals[expanded_of_unit[u][r]].append(u)
            for sid in school_ids:
                if not proposals[sid]:
                    continue
                admitted, taken[sid], filled[sid] = choose(
                    sid, proposals[sid], taken[sid], filled[sid]
                )
                for u, name in admitted:
                    placement[u] = (sid, r, name)

    placed_count = {sid: 0 for sid in school_ids}
    for u, where in enumerate(placement):
        if where is not None:
            placed_count[where[0]] += len(units[u])

    # --- waitlists (R10)
    waitlists: dict[str, list[str]] = {}
    for sid in school_ids:
        waiting = []
        for u in range(len(units)):
            if sid not in expanded_of_unit[u]:
                continue
            where = placement[u]
            if where is None or expanded_of_unit[u].index(sid) < where[1]:
                waiting.append(u)
        waiting.sort(key=lambda u: priority(u, sid))
        waitlists[sid] = [
            m for u in waiting for m in sorted(units[u], key=lambda m: (own_number(m, sid), m))
        ]

    # --- the 统筹 stage
    assigned_to: list[tuple[str, float] | None] = [None] * len(units)
    assigned_count = {sid: 0 for sid in school_ids}
    if fallback:
        levels = {text(row, "level") for row in schools if "level" in row}
        if len(levels) > 1:
            raise ValueError(f"schools of several levels {sorted(levels)}: give --level")
        has_sector = any("sector" in row for row in schools)
        pool = [
            sid
            for sid in school_ids
            if not has_sector or text(school_of[sid], "sector") in pol["fallback_sectors"]
        ]
        xy = {
            sid: (
                parse_float(text(school_of[sid], "x_km"), f"school {sid!r}: x_km"),
                parse_float(text(school_of[sid], "y_km"), f"school {sid!r}: y_km"),
            )
            for sid in pool
        }
        community_xy = {}
        for row in communities or []:
            cid = text(row, "community_id")
            community_xy[cid] = (
                parse_float(text(row, "x_km"), f"community {cid!r}: x_km"),
                parse_float(text(row, "y_km"), f"community {cid!r}: y_km"),
            )
        zone_xy = {}
        for row in zones or []:
            zid = text(row, "zone_id")
            zone_xy[zid] = (
                parse_float(text(row, "x_km"), f"zone {zid!r}: x_km"),
                parse_float(text(row, "y_km"), f"zone {zid!r}: y_km"),
            )
        left = {sid: seats[sid] - placed_count[sid] for sid in pool}
        waiting_units = [u for u in range(len(units)) if placement[u] is None]
        waiting_units.sort(key=lambda u: (min(single[m] for m in units[u]), min(units[u])))
        for u in waiting_units:
            first = min(units[u], key=lambda m: (single[m], m))
            community = text(app_of[first], "community_id")
            if community and community in community_xy:
                px, py = community_xy[community]
            else:
                zone = text(app_of[first], "zone_id")
                if zone not in zone_xy:
                    raise ValueError(f"applicant {first!r}: no point for zone {zone!r}")
                px, py = zone_xy[zone]
            best = None
            for sid in pool:
                if left[sid] >= 1:
                    d = math.hypot(xy[sid][0] - px, xy[sid][1] - py)
                    if best is None or (d, sid) < best:
                        best = (d, sid)
            if best is None:
                continue
            d, sid = best
            assigned_to[u] = (sid, d)
            left[sid] -= len(units[u])
            assigned_count[sid] += len(units[u])

    # --- results
    assignments: dict[str, dict] = {}
    for aid in applicant_ids:
        row = {
            "status": "unplaced",
            "school_id": "",
            "choice_rank": None,
            "tier": "",
            "reserve": "",
            "lottery_number": "",
            "distance_km": "",
            "reason": reason[aid],
            "expanded_choices": list(expanded_of[aid]),
        }
        if not eligible[aid]:
            row["status"] = "ineligible"
        else:
            u = unit_of[aid]
            row["lottery_number"] = single[aid]
            if placement[u] is not None:
                sid, rank, reserve = placement[u]
                row.update(
                    status="placed",
                    school_id=sid,
                    choice_rank=rank + 1,
                    tier=tier_name(u, sid),
                    reserve=reserve,
                    lottery_number=own_number(aid, sid),
                )
            elif assigned_to[u] is not None:
                sid, d = assigned_to[u]
                row.update(status="assigned", school_id=sid, distance_km=f"{d:.3f}")
        assignments[aid] = row

    school_results = {}
    for sid in school_ids:
        reserve_filled: dict[str, int] = {}
        for _, name, _, _ in reserves_at[sid]:
            reserve_filled[name] = 0
        for u, where in enumerate(placement):
            if where is not None and where[0] == sid and where[2]:
                reserve_filled[where[2]] += len(units[u])
        admitted = placed_count[sid] + assigned_count[sid]
        school_results[sid] = {
            "placed": placed_count[sid],
            "assigned": assigned_count[sid],
            "reserve_filled": reserve_filled,
            "excess": max(0, admitted - seats[sid]),
        }
    return {"assignments": assignments, "waitlists": waitlists, "schools": school_results}
