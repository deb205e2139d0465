"""Checks of the reference tests/naive_rules.py itself: small cases computed by hand, then the
reference against the v1 public API on small random v1 instances.

Lottery numbers are hashes, so hand cases either do not depend on them or pick a seed (the
first "seed k" that works) for which the numbers come in a stated order; the expected answer
then follows from that order by hand.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import random
import tomllib
from pathlib import Path

import pytest
from naive_rules import allocate_v2


def single(seed: str, aid: str) -> str:
    return hashlib.sha256(f"{seed}\n{aid}".encode()).hexdigest()


def multiple(seed: str, sid: str, aid: str) -> str:
    return hashlib.sha256(f"{seed}\n{sid}\n{aid}".encode()).hexdigest()


def seed_where(predicate) -> str:
    """The first seed "seed k" for which predicate(seed) holds."""
    for k in range(100_000):
        seed = f"seed {k}"
        if predicate(seed):
            return seed
    raise AssertionError("no seed found")


def ordered(*numbers: str) -> bool:
    return all(a < b for a, b in itertools.pairwise(numbers))


def school(sid, seats, zone="Z1", **extra):
    return {"school_id": sid, "zone_id": zone, "seats": str(seats), **extra}


def app(aid, choices, zone="Z1", **extra):
    return {"applicant_id": aid, "zone_id": zone, "choices": choices, **extra}


def where(result, aid):
    a = result["assignments"][aid]
    return a["status"], a["school_id"]


# --- the v1 contract -----------------------------------------------------------------------------


def test_lottery_numbers_are_the_documented_sha256():
    seed = "2021 seed"
    r = allocate_v2([school("P01", 1)], [app("a", "P01"), app("b", "")], {}, seed)
    # a is placed at P01, single form: sha256("2021 seed\na"); b is unplaced: single form.
    assert r["assignments"]["a"]["lottery_number"] == hashlib.sha256(b"2021 seed\na").hexdigest()
    assert r["assignments"]["b"]["lottery_number"] == hashlib.sha256(b"2021 seed\nb").hexdigest()
    r = allocate_v2([school("P01", 1)], [app("a", "P01")], {"tie_break": "multiple"}, seed)
    # multiple form at the placed school: sha256("2021 seed\nP01\na").
    assert r["assignments"]["a"]["lottery_number"] == (
        hashlib.sha256(b"2021 seed\nP01\na").hexdigest()
    )


def test_v1_tiers_example_from_test_lottery():
    # Same case as test_lottery.test_tiers_follow_the_policy: y has the sibling tier at A and
    # takes A's only seat whatever the numbers; x (catchment_a at A) goes to B, where nobody
    # else applies; z (open at A, A only) is left out. Tiers at A: x catchment_a, y sibling,
    # z open; at B: x open (Z1 vs Z2), y same_zone.
    policy = tomllib.loads(
        """
[[tiers]]
name = "sibling"
sibling = true
[[tiers]]
name = "catchment_a"
same_zone = true
category = ["A"]
[[tiers]]
name = "same_zone"
same_zone = true
"""
    )
    schools = [school("A", 1, "Z1"), school("B", 1, "Z2")]
    applicants = [
        app("x", "A;B", "Z1", category="A", sibling_school_id=""),
        app("y", "A;B", "Z2", category="B", sibling_school_id="A"),
        app("z", "A", "Z2", category="A", sibling_school_id=""),
    ]
    for mechanism in ("deferred_acceptance", "immediate_acceptance"):
        r = allocate_v2(schools, applicants, {**policy, "mechanism": mechanism}, "s")
        a = r["assignments"]
        assert (a["x"]["school_id"], a["x"]["choice_rank"], a["x"]["tier"]) == ("B", 2, "open")
        assert (a["y"]["school_id"], a["y"]["choice_rank"], a["y"]["tier"]) == ("A", 1, "sibling")
        assert a["z"]["status"] == "unplaced" and a["z"]["tier"] == ""
        # A's waitlist: x (ranked A above B, catchment_a) before z (open, not placed).
        assert r["waitlists"] == {"A": ["x", "z"], "B": []}


def test_default_tiers_sibling_then_same_zone():
    # No "tiers" key: sibling, then same_zone. s has the sibling tier, z same_zone, o open:
    # one seat goes to s, then z is first on the waitlist, then o; numbers play no part.
    r = allocate_v2(
        [school("A", 1, "Z1")],
        [
            app("o", "A", "Z2"),
            app("z", "A", "Z1"),
            app("s", "A", "Z2", sibling_school_id="A"),
        ],
        {},
        "s",
    )
    assert r["assignments"]["s"]["tier"] == "sibling"
    assert r["waitlists"]["A"] == ["z", "o"]
    # tiers = [] is the lottery alone: the smallest single number wins.
    r = allocate_v2(
        [school("A", 1)],
        [app("o", "A", "Z2"), app("s", "A", sibling_school_id="A")],
        {"tiers": []},
        "s",
    )
    winner = min(["o", "s"], key=lambda a: single("s", a))
    assert r["assignments"][winner]["status"] == "placed"
    assert r["assignments"][winner]["tier"] == "open"


def test_deferred_versus_immediate_acceptance():
    # Default tiers (sibling, same_zone); A and B in Z1, 1 seat each; seed with a < b.
    # At A: a open (Z3), b open (Z2; its sibling is at B), c same_zone. At B: a open, b sibling.
    # DA: round 1 a->B (held), b and c->A: c wins by tier, b rejected. Round 2 b->B: sibling
    # beats a. Round 3 a->A: c wins by tier. Result a unplaced, b@B (rank 2), c@A.
    # IA: round 1 a->B admitted, c admitted at A (b loses); round 2 b->B: full -> unplaced.
    seed = seed_where(lambda s: ordered(single(s, "a"), single(s, "b")))
    schools = [school("A", 1, "Z1"), school("B", 1, "Z1")]
    applicants = [
        app("a", "B;A", "Z3"),
        app("b", "A;B", "Z2", sibling_school_id="B"),
        app("c", "A", "Z1"),
    ]
    da = allocate_v2(schools, applicants, {}, seed)
    assert [where(da, x) for x in "abc"] == [("unplaced", ""), ("placed", "B"), ("placed", "A")]
    assert da["assignments"]["b"]["choice_rank"] == 2
    # Waitlists: A: a (not placed) and b (A above B); b is open at A like a, a < b by number.
    assert da["waitlists"] == {"A": ["a", "b"], "B": ["a"]}
    ia = allocate_v2(schools, applicants, {"mechanism": "immediate_acceptance"}, seed)
    assert [where(ia, x) for x in "abc"] == [("placed", "B"), ("unplaced", ""), ("placed", "A")]
    # IA waitlist of B: b ranked it and was not placed (sibling tier).
    assert ia["waitlists"] == {"A": ["b"], "B": ["b"]}


def test_multiple_tie_break_uses_the_number_at_each_school():
    # Seed with a < b at A but b < a at B in the multiple form; A and B 1 seat, both apply
    # A;B (tiers [] so only numbers count). DA round 1: A takes a (a < b at A), b rejected;
    # round 2: b alone at B. The waitlist of A holds b (ranked A above B).
    seed = seed_where(
        lambda s: (
            ordered(multiple(s, "A", "a"), multiple(s, "A", "b"))
            and ordered(multiple(s, "B", "b"), multiple(s, "B", "a"))
        )
    )
    r = allocate_v2(
        [school("A", 1), school("B", 1)],
        [app("b", "A;B"), app("a", "A;B")],
        {"tiers": [], "tie_break": "multiple"},
        seed,
    )
    assert where(r, "a") == ("placed", "A") and where(r, "b") == ("placed", "B")
    assert r["assignments"]["b"]["lottery_number"] == multiple(seed, "B", "b")
    assert r["waitlists"] == {"A": ["b"], "B": []}


# --- v2: order_by, school rules, conditions -----------------------------------------------------


def test_order_by_larger_first_empty_last():
    # One tier (same_zone) ordered by residence_years; 2 seats; values 5, 3, "" and an open
    # applicant with 9 (order_by only applies inside its tier, and open comes last anyway).
    # Admitted: 5 and 3 whatever the numbers; waitlist: the empty value, then the open one.
    policy = {"tiers": [{"name": "zone", "same_zone": True, "order_by": "residence_years"}]}
    r = allocate_v2(
        [school("A", 2)],
        [
            app("e", "A", residence_years=""),
            app("t", "A", residence_years="3"),
            app("o", "A", "Z2", residence_years="9"),
            app("f", "A", residence_years="5"),
        ],
        policy,
        "s",
    )
    assert where(r, "f") == where(r, "t") == ("placed", "A")
    assert r["waitlists"]["A"] == ["e", "o"]
    # Numeric, not text order: "10" > "9".
    r = allocate_v2(
        [school("A", 1)],
        [app("x", "A", residence_years="9"), app("y", "A", residence_years="10")],
        policy,
        "s",
    )
    assert where(r, "y") == ("placed", "A")


def test_school_rule_replaces_tiers():
    # Seed with o < s (single). s has the sibling tier at both schools under the global tiers.
    # Private school Q: rule tiers = [] -> lottery alone -> o wins Q. Public P: s wins P.
    seed = seed_where(lambda x: ordered(single(x, "o"), single(x, "s")))
    policy = {
        "tiers": [{"name": "sibling", "sibling": True}],
        "school_rules": [{"match": {"sector": ["private"]}, "tiers": []}],
    }
    schools = [school("P", 1, sector="public"), school("Q", 1, sector="private")]
    for sid in ("P", "Q"):
        r = allocate_v2(
            schools, [app("o", sid), app("s", sid, sibling_school_id=sid)], policy, seed
        )
        winner = "s" if sid == "P" else "o"
        assert where(r, winner) == ("placed", sid)
        assert r["assignments"][winner]["tier"] == ("sibling" if sid == "P" else "open")
    with pytest.raises(ValueError):  # a rule without tiers
        allocate_v2(schools, [], {"school_rules": [{"match": {"sector": ["private"]}}]}, "s")


def test_catchment_staff_attributes_and_false_conditions():
    # Tiers in order: in_catchment (C1 is in A's catchment), staff, attributes special_needs=1
    # with same_zone = false (imposes nothing). One applicant per tier, plus one with an empty
    # community_id (in_catchment does not hold) and a staff parent at another school.
    policy = {
        "tiers": [
            {"name": "catchment", "in_catchment": True},
            {"name": "staff", "staff": True},
            {"name": "needs", "attributes": {"special_needs": ["1"]}, "same_zone": False},
        ]
    }
    applicants = [
        app("n", "A", "Z9", special_needs=" 1 "),
        app("c", "A", "Z9", community_id="C1"),
        app("e", "A", "Z9", community_id=""),
        app("t", "A", "Z9", staff_school_id="A"),
        app("u", "A", "Z9", staff_school_id="OUTSIDE"),
    ]
    catchments = [{"school_id": "A", "community_id": "C1"}, {"school_id": "B", "community_id": ""}]
    r = allocate_v2([school("A", 1)], applicants, policy, "s", catchments=catchments)
    assert r["assignments"]["c"]["tier"] == "catchment"
    # Waitlist: staff t, needs n (" 1 " trims to "1"), then e and u in the open tier by number.
    open_order = sorted(["e", "u"], key=lambda a: single("s", a))
    assert r["waitlists"]["A"] == ["t", "n", *open_order]


# --- v2: reserves -----------------------------------------------------------------------------


SN_RESERVE = {"name": "special_needs", "seats": 1, "attributes": {"special_needs": ["1"]}}


def test_reserve_takes_its_candidate_before_better_tiers():
    # A: 2 seats, 1 reserved for special needs; tier same_zone. Three in-zone children and
    # one special-needs child from another zone (open tier). Reserve: the only candidate
    # meeting it, the SN child. General (1 seat left): the in-zone child with the smallest
    # number. Waitlist: the other two in-zone children by number.
    policy = {"tiers": [{"name": "zone", "same_zone": True}], "reserves": [SN_RESERVE]}
    applicants = [app(x, "A", special_needs="0") for x in ("a", "b", "c")]
    applicants.append(app("n", "A", "Z2", special_needs="1"))
    r = allocate_v2([school("A", 2)], applicants, policy, "s")
    assert where(r, "n") == ("placed", "A")
    assert r["assignments"]["n"]["reserve"] == "special_needs"
    assert r["assignments"]["n"]["tier"] == "open"
    by_number = sorted("abc", key=lambda a: single("s", a))
    assert where(r, by_number[0]) == ("placed", "A")
    assert r["assignments"][by_number[0]]["reserve"] == ""
    assert r["waitlists"]["A"] == by_number[1:]
    assert r["schools"]["A"] == {
        "placed": 2,
        "assigned": 0,
        "reserve_filled": {"special_needs": 1},
        "excess": 0,
    }


def test_unfilled_reserve_seats_go_to_all():
    # A: 2 seats, 1 reserved; nobody qualifies -> both seats go to the two best by number.
    policy = {"tiers": [], "reserves": [SN_RESERVE]}
    r = allocate_v2([school("A", 2)], [app(x, "A") for x in "abc"], policy, "s")
    by_number = sorted("abc", key=lambda a: single("s", a))
    assert [r["assignments"][x]["status"] for x in by_number] == ["placed", "placed", "unplaced"]
    assert r["schools"]["A"]["reserve_filled"] == {"special_needs": 0}


def test_reserve_under_immediate_and_deferred_acceptance():
    # A: 2 seats, 1 reserved for special needs. X: 0 seats. a, b: "A"; n (special needs):
    # "X;A". IA round 1: a and b apply to A; no SN among them, the unfilled reserve seat is
    # open to all in the same round -> a, b placed; round 2: n finds A full -> unplaced.
    # DA round 1: a, b held at A, n rejected by X; round 2: n proposes to A: pool a, b, n:
    # the reserve takes n, the one general seat the better of a, b.
    # (The reserve matches A only: a 1-seat reserve at the 0-seat X would be an error.)
    policy = {"tiers": [], "reserves": [{**SN_RESERVE, "match": {"school_id": ["A"]}}]}
    schools = [school("A", 2), school("X", 0)]
    applicants = [app("a", "A"), app("b", "A"), app("n", "X;A", special_needs="1")]
    ia = allocate_v2(schools, applicants, {**policy, "mechanism": "immediate_acceptance"}, "s")
    assert [where(ia, x)[0] for x in "abn"] == ["placed", "placed", "unplaced"]
    assert ia["schools"]["A"]["reserve_filled"] == {"special_needs": 0}
    da = allocate_v2(schools, applicants, policy, "s")
    best = min("ab", key=lambda a: single("s", a))
    assert (
        where(da, "n") == ("placed", "A") and da["assignments"]["n"]["reserve"] == "special_needs"
    )
    assert da["assignments"]["n"]["choice_rank"] == 2
    assert where(da, best) == ("placed", "A")
    assert da["waitlists"] == {"A": [({"a", "b"} - {best}).pop()], "X": ["n"]}


def test_share_floors_and_too_many_reserved_seats():
    # share 0.5 of 3 seats = floor(1.5) = 1 seat; the second SN child (worse number) goes to
    # the general seats only if their number beats the others'. With tiers [] and seed where
    # n1 < n2 < a < b: the reserve takes n1, general (2 seats) takes n2 and a.
    seed = seed_where(lambda s: ordered(*(single(s, x) for x in ("n1", "n2", "a", "b"))))
    reserve = {**SN_RESERVE, "share": 0.5}
    del reserve["seats"]
    applicants = [app("a", "A"), app("b", "A")]
    applicants += [app(x, "A", special_needs="1") for x in ("n1", "n2")]
    r = allocate_v2([school("A", 3)], applicants, {"tiers": [], "reserves": [reserve]}, seed)
    assert [r["assignments"][x]["reserve"] for x in ("n1", "n2", "a")] == ["special_needs", "", ""]
    assert where(r, "b") == ("unplaced", "")
    assert r["schools"]["A"]["reserve_filled"] == {"special_needs": 1}
    # 2 seats, reserves of 2 + 1 seats: larger than the seats.
    two = [SN_RESERVE, {**SN_RESERVE, "name": "other", "seats": 2}]
    with pytest.raises(ValueError):
        allocate_v2([school("A", 2)], [], {"reserves": two}, "s")


def test_reserve_only_at_matching_schools():
    # The reserve matches sector public only: at the private school the SN child has no
    # reserve; tiers [] and seed a < n: private Q gives its seat to a; public P to n.
    seed = seed_where(lambda s: ordered(single(s, "a"), single(s, "n")))
    policy = {"tiers": [], "reserves": [{**SN_RESERVE, "match": {"sector": ["public"]}}]}
    for sid, sector, winner in (("P", "public", "n"), ("Q", "private", "a")):
        r = allocate_v2(
            [school(sid, 1, sector=sector)],
            [app("a", sid), app("n", sid, special_needs="1")],
            policy,
            seed,
        )
        assert where(r, winner) == ("placed", sid)
        expected = {"special_needs": 1} if sid == "P" else {}
        assert r["schools"][sid]["reserve_filled"] == expected


# --- v2: families -----------------------------------------------------------------------------


def test_twins_enter_together_and_exceed():
    # A: 1 seat, tiers []. Twins t1, t2 (family F) and c. Seed with t2 < c < t1: the unit's
    # number is t2's, smaller than c's: the unit enters (1 seat free) and both twins are
    # admitted: 2 placed, excess 1; c waits. Each twin shows their own number.
    seed = seed_where(lambda s: ordered(single(s, "t2"), single(s, "c"), single(s, "t1")))
    applicants = [app("t1", "A", family_id="F"), app("c", "A"), app("t2", "A", family_id="F")]
    r = allocate_v2([school("A", 1)], applicants, {"tiers": []}, seed)
    assert where(r, "t1") == where(r, "t2") == ("placed", "A")
    assert r["assignments"]["t1"]["lottery_number"] == single(seed, "t1")
    assert r["waitlists"]["A"] == ["c"]
    assert r["schools"]["A"]["excess"] == 1 and r["schools"]["A"]["placed"] == 2
    # Seed with c < t2 < t1: c takes the seat; the twins wait together, t2 first (own number).
    seed = seed_where(lambda s: ordered(single(s, "c"), single(s, "t2"), single(s, "t1")))
    r = allocate_v2([school("A", 1)], applicants, {"tiers": []}, seed)
    assert where(r, "c") == ("placed", "A")
    assert r["waitlists"]["A"] == ["t2", "t1"]


def test_family_tier_is_the_best_member_tier_and_reserve_needs_every_member():
    # Tier sibling: only t1 has a sibling at A, so the unit (t1, t2) has the sibling tier and
    # beats c whatever the numbers; t2's tier output is the unit's.
    applicants = [
        app("t1", "A", family_id="F", sibling_school_id="A", special_needs="1"),
        app("t2", "A", family_id="F", special_needs="0"),
        app("c", "A", special_needs="1"),
    ]
    policy = {"tiers": [{"name": "sibling", "sibling": True}]}
    r = allocate_v2([school("A", 2)], applicants, policy, "s")
    assert r["assignments"]["t2"]["tier"] == "sibling" and where(r, "t2") == ("placed", "A")
    assert where(r, "c") == ("unplaced", "")
    # A reserve of 1 for special needs: the unit does not meet it (t2 does not), c does: the
    # reserve takes c; then the general seat (1 left) goes to the unit (sibling tier): 3
    # placed, excess 1.
    r = allocate_v2([school("A", 2)], applicants, {**policy, "reserves": [SN_RESERVE]}, "s")
    assert r["assignments"]["c"]["reserve"] == "special_needs"
    assert r["assignments"]["t1"]["reserve"] == r["assignments"]["t2"]["reserve"] == ""
    assert r["schools"]["A"] == {
        "placed": 3,
        "assigned": 0,
        "reserve_filled": {"special_needs": 1},
        "excess": 1,
    }


def test_family_with_different_choices_is_an_error():
    with pytest.raises(ValueError):
        allocate_v2(
            [school("A", 1), school("B", 1)],
            [app("t1", "A;B", family_id="F"), app("t2", "B;A", family_id="F")],
            {},
            "s",
        )


def test_family_order_by_takes_the_largest_member_value():
    # Tier zone ordered by score; twins with 1 and 8, c with 5; 1 seat: unit value 8 > 5.
    policy = {"tiers": [{"name": "zone", "same_zone": True, "order_by": "score"}]}
    applicants = [
        app("t1", "A", family_id="F", score="1"),
        app("t2", "A", family_id="F", score="8"),
        app("c", "A", score="5"),
    ]
    r = allocate_v2([school("A", 1)], applicants, policy, "s")
    assert where(r, "t1") == ("placed", "A") and where(r, "c") == ("unplaced", "")


# --- v2: P|P groups, max_choices -----------------------------------------------------------------


def test_group_expands_by_multiple_numbers_whatever_tie_break():
    # Seed where a's multiple numbers order B < C < A: "A|B|C;D" expands to B, C, A, D.
    # B has 0 seats and C 1 seat: a is placed at C, choice_rank 2 in the expanded list, and
    # waits at B (ranked above). Under IA: round 1 B (full), round 2 C.
    seed = seed_where(
        lambda s: ordered(multiple(s, "B", "a"), multiple(s, "C", "a"), multiple(s, "A", "a"))
    )
    schools = [school("A", 1), school("B", 0), school("C", 1), school("D", 1)]
    for mechanism in ("deferred_acceptance", "immediate_acceptance"):
        policy = {"mechanism": mechanism, "tie_break": "single", "max_choices": 2}
        r = allocate_v2(schools, [app("a", "A|B|C;D")], policy, seed)
        a = r["assignments"]["a"]
        assert a["expanded_choices"] == ["B", "C", "A", "D"]
        assert (a["school_id"], a["choice_rank"]) == ("C", 2)
        assert r["waitlists"]["B"] == ["a"] and r["waitlists"]["A"] == []


def test_family_group_expands_by_the_unit_numbers():
    # Twins t1, t2 with "A|B". Seed where t1@A < t2@B < t2@A < t1@B: the unit's numbers are
    # A: t1@A, B: t2@B, and t1@A < t2@B, so A comes first for both twins.
    seed = seed_where(
        lambda s: ordered(
            multiple(s, "A", "t1"),
            multiple(s, "B", "t2"),
            multiple(s, "A", "t2"),
            multiple(s, "B", "t1"),
        )
    )
    r = allocate_v2(
        [school("A", 2), school("B", 2)],
        [app("t1", "A|B", family_id="F"), app("t2", "A|B", family_id="F")],
        {},
        seed,
    )
    assert r["assignments"]["t1"]["expanded_choices"] == ["A", "B"]
    assert r["assignments"]["t2"]["expanded_choices"] == ["A", "B"]


@pytest.mark.parametrize(
    ("choices", "policy"),
    [
        ("A;B;C", {"max_choices": 2}),  # three positions, two allowed
        ("A|A", {}),  # a group naming a school twice
        ("A|NOPE", {}),  # unknown school
        ("A;B|A", {}),  # A listed twice across positions
    ],
)
def test_bad_choices(choices, policy):
    schools = [school("A", 1), school("B", 1), school("C", 1)]
    with pytest.raises(ValueError):
        allocate_v2(schools, [app("a", choices)], policy, "s")


def test_max_choices_counts_a_group_once():
    # "A|B|C;A" would be a repeat; "A|B;C" is two positions: allowed with max_choices 2.
    schools = [school("A", 1), school("B", 1), school("C", 1)]
    r = allocate_v2(schools, [app("a", "A|B;C")], {"max_choices": 2}, "s")
    assert r["assignments"]["a"]["status"] == "placed"


# --- v2: eligibility -----------------------------------------------------------------------------


def test_birth_window_inclusive_with_reasons():
    policy = {"born_from": "2014-09-01", "born_to": "2015-08-31"}
    applicants = [
        app("first", "A", birth_date="2014-09-01"),  # on the lower bound: eligible
        app("last", "A", birth_date="2015-08-31"),  # on the upper bound: eligible
        app("early", "A", birth_date="2014-08-31"),  # a day before
        app("late", "A", birth_date="2015-09-01"),  # a day after
    ]
    r = allocate_v2([school("A", 5)], applicants, policy, "s")
    a = r["assignments"]
    assert a["first"]["status"] == a["last"]["status"] == "placed"
    assert (a["early"]["status"], a["early"]["reason"]) == ("ineligible", "born before 2014-09-01")
    assert (a["late"]["status"], a["late"]["reason"]) == ("ineligible", "born after 2015-08-31")
    assert a["early"]["lottery_number"] == "" and a["early"]["school_id"] == ""
    assert r["schools"]["A"]["placed"] == 2
    # A TOML date works like the text.
    dated = tomllib.loads("born_from = 2014-09-01")
    r = allocate_v2([school("A", 5)], applicants, dated, "s")
    assert r["assignments"]["early"]["reason"] == "born before 2014-09-01"


def test_ineligible_are_on_no_waitlist_and_leave_their_family():
    # A: 1 seat, tiers []. Twins t1 (ineligible), t2 and c. Seed with t1 < c < t2: t1's
    # number would have made the unit win, but t1 is removed from the unit, so c (< t2) wins;
    # t2 waits; t1 is on no waitlist.
    seed = seed_where(lambda s: ordered(single(s, "t1"), single(s, "c"), single(s, "t2")))
    applicants = [
        app("t1", "A", family_id="F", birth_date="2013-01-01"),
        app("t2", "A", family_id="F", birth_date="2015-01-01"),
        app("c", "A", birth_date="2015-01-01"),
    ]
    r = allocate_v2([school("A", 1)], applicants, {"tiers": [], "born_from": "2014-09-01"}, seed)
    assert where(r, "c") == ("placed", "A")
    assert r["waitlists"]["A"] == ["t2"]
    assert r["assignments"]["t1"]["status"] == "ineligible"


@pytest.mark.parametrize("bad", ["2015-02-30", "2015/01/01", "", "15-01-01"])
def test_bad_birth_date_with_a_window_is_an_error(bad):
    with pytest.raises(ValueError):
        allocate_v2(
            [school("A", 1)], [app("a", "A", birth_date=bad)], {"born_to": "2015-08-31"}, "s"
        )
    # Without a window, birth_date is not looked at.
    allocate_v2([school("A", 1)], [app("a", "A", birth_date=bad)], {}, "s")


# --- v2: the 统筹 stage --------------------------------------------------------------------------


def test_fallback_nearest_public_school_from_the_community_point():
    # Nobody chooses. Schools: private R at (0, 0), public P1 at (3, 4) 1 seat, public P2 at
    # (0, 6) 1 seat, public P3 at (6, 0) 1 seat. Community C1 at (0, 0), zone Z1 centre at
    # (0, 6). Seed with a < b < c (single).
    # a (community C1, point (0,0)): R is private (excluded); P1 at 5, P2 and P3 at 6: P1.
    # b (no community -> zone centre (0,6)): P2 at 0: P2, distance 0.000.
    # c (community C1): P1 full, P2 full, P3 at 6.000.
    # then d (unknown community "CX" -> zone centre) finds no seat: stays unplaced.
    seed = seed_where(lambda s: ordered(*(single(s, x) for x in "abcd")))
    schools = [
        school("R", 5, sector="private", x_km="0", y_km="0", level="primary"),
        school("P1", 1, sector="public", x_km="3", y_km="4", level="primary"),
        school("P2", 1, sector="public", x_km="0", y_km="6", level="primary"),
        school("P3", 1, sector="public", x_km="6", y_km="0", level="primary"),
    ]
    applicants = [
        app("d", "", community_id="CX"),
        app("c", "", community_id="C1"),
        app("b", ""),
        app("a", "", community_id="C1"),
    ]
    communities = [{"community_id": "C1", "zone_id": "Z1", "name": "one", "x_km": "0", "y_km": "0"}]
    zones = [{"zone_id": "Z1", "x_km": "0", "y_km": "6"}]
    r = allocate_v2(
        schools, applicants, {}, seed, communities=communities, zones=zones, fallback=True
    )
    got = {x: (v["status"], v["school_id"], v["distance_km"]) for x, v in r["assignments"].items()}
    assert got == {
        "a": ("assigned", "P1", "5.000"),
        "b": ("assigned", "P2", "0.000"),
        "c": ("assigned", "P3", "6.000"),
        "d": ("unplaced", "", ""),
    }
    assert r["assignments"]["a"]["lottery_number"] == single(seed, "a")
    assert r["schools"]["P1"]["assigned"] == 1 and r["schools"]["R"]["assigned"] == 0
    # fallback_sectors = ["private"]: everyone goes to R (5 seats), distance from each point.
    r = allocate_v2(
        schools,
        applicants,
        {"fallback_sectors": ["private"]},
        seed,
        communities=communities,
        zones=zones,
        fallback=True,
    )
    assert [r["assignments"][x]["distance_km"] for x in "abcd"] == [
        "0.000",
        "6.000",
        "0.000",
        "6.000",
    ]


def test_fallback_ties_by_school_id_families_together_and_levels():
    # Point (0,0); B2 at (1,0) and B1 at (0,1), 1 seat each: equal distance, B1 first.
    # Twins t1, t2 go together to B1 (one seat left is enough): excess 1; then x gets B2.
    # Twins' unit number: min(t1, t2); seed with t1 < x and t2 < x so they go first.
    seed = seed_where(lambda s: max(single(s, "t1"), single(s, "t2")) < single(s, "x"))
    schools = [
        school("B2", 1, sector="public", x_km="1", y_km="0"),
        school("B1", 1, sector="public", x_km="0", y_km="1"),
    ]
    applicants = [app("x", ""), app("t1", "", family_id="F"), app("t2", "", family_id="F")]
    zones = [{"zone_id": "Z1", "x_km": "0", "y_km": "0"}]
    r = allocate_v2(schools, applicants, {}, seed, zones=zones, fallback=True)
    assert [where(r, a) for a in ("t1", "t2", "x")] == [("assigned", "B1")] * 2 + [
        ("assigned", "B2")
    ]
    assert r["schools"]["B1"] == {"placed": 0, "assigned": 2, "reserve_filled": {}, "excess": 1}
    # Two levels in the schools: ValueError (--level needed).
    mixed = [{**schools[0], "level": "primary"}, {**schools[1], "level": "kindergarten"}]
    with pytest.raises(ValueError):
        allocate_v2(mixed, applicants, {}, seed, zones=zones, fallback=True)


def test_assigned_stay_on_waitlists():
    # A: 1 seat; a and b choose A; B (public, 1 seat) takes the loser in the 统筹 stage, who
    # stays on A's waitlist.
    schools = [school("A", 1, sector="public", x_km="0", y_km="0")]
    schools.append(school("B", 1, sector="public", x_km="1", y_km="0"))
    zones = [{"zone_id": "Z1", "x_km": "0", "y_km": "0"}]
    r = allocate_v2(
        schools, [app("a", "A"), app("b", "A")], {"tiers": []}, "s", zones=zones, fallback=True
    )
    loser = max("ab", key=lambda x: single("s", x))
    assert where(r, loser) == ("assigned", "B") and r["waitlists"]["A"] == [loser]


# --- against the v1 public API on small random v1 instances ------------------------------------


def _write_csv(path: Path, header: list[str], rows: list[dict]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _random_v1_instance(rng: random.Random):
    n_schools = rng.randint(1, 4)
    zone_ids = ["Z1", "Z2", "Z3"]
    schools = [
        {
            "school_id": f"S{i}",
            "zone_id": rng.choice(zone_ids),
            "seats": str(rng.randint(0, 3)),
            "x_km": str(rng.randint(0, 4) / 2),
            "y_km": str(rng.randint(0, 4) / 2),
        }
        for i in range(n_schools)
    ]
    ids = [s["school_id"] for s in schools]
    applicants = []
    for i in range(rng.randint(0, 10)):
        k = rng.randint(0, n_schools)
        applicants.append(
            {
                "applicant_id": f"a{i}",
                "zone_id": rng.choice(zone_ids),
                "choices": ";".join(rng.sample(ids, k)),
                "category": rng.choice(["A", "B", ""]),
                "sibling_school_id": rng.choice([*ids, "", ""]),
            }
        )
    lines = [f'mechanism = "{rng.choice(["deferred_acceptance", "immediate_acceptance"])}"']
    lines.append(f'tie_break = "{rng.choice(["single", "multiple"])}"')
    tier_kind = rng.randint(0, 2)
    if tier_kind == 1:
        lines.append("tiers = []")
    elif tier_kind == 2:
        options = [
            "sibling = true",
            "same_zone = true",
            'category = ["A"]',
            'same_zone = true\ncategory = ["A", "B"]',
        ]
        for t in range(rng.randint(1, 3)):
            lines += ["[[tiers]]", f'name = "t{t}"', rng.choice(options)]
    zones = [{"zone_id": z, "x_km": str(rng.randint(0, 4) / 2), "y_km": "0"} for z in zone_ids]
    return schools, applicants, "\n".join(lines) + "\n", zones


def test_matches_v1_on_random_instances(tmp_path):
    lottery = pytest.importorskip("seats.lottery")
    rng = random.Random(20240601)
    for case in range(150):
        schools, applicants, policy_text, zones = _random_v1_instance(rng)
        seed = f"v1 seed {case}"
        folder = tmp_path / f"case{case}"
        folder.mkdir()
        s_path = _write_csv(
            folder / "s.csv", ["school_id", "zone_id", "seats", "x_km", "y_km"], schools
        )
        a_header = ["applicant_id", "zone_id", "choices", "category", "sibling_school_id"]
        a_path = _write_csv(folder / "a.csv", a_header, applicants)
        zone_rows = [
            {**z, "name": z["zone_id"], "kind": "street", "population": "1"} for z in zones
        ]
        z_header = ["zone_id", "name", "kind", "x_km", "y_km", "population"]
        z_path = _write_csv(folder / "z.csv", z_header, zone_rows)
        p_path = folder / "p.toml"
        p_path.write_text(policy_text, encoding="utf-8")
        loaded = lottery.load_lottery(s_path, a_path, seed, p_path, zones_path=z_path)
        allocation = lottery.allocate(loaded)
        wait_school, wait_app = lottery.waitlists(loaded, allocation)
        prio = allocation.priorities
        names = loaded.policy.tier_names
        ours = allocate_v2(schools, applicants, tomllib.loads(policy_text), seed)
        school_ids, app_ids = loaded.schools.ids, loaded.applicants.ids
        context = f"case {case}: {policy_text!r} {schools} {applicants}"
        for a, aid in enumerate(app_ids):
            mine = ours["assignments"][aid]
            s, rank = int(allocation.school[a]), int(allocation.rank[a])
            if s >= 0:
                entry = int(loaded.applicants.choice_ptr[a]) + rank
                expected = ("placed", school_ids[s], rank + 1, names[prio.tier[entry]])
                number = prio.entry_number(entry, a)
            else:
                expected = ("unplaced", "", None, "")
                number = prio.applicant_number(a)
            got = (mine["status"], mine["school_id"], mine["choice_rank"], mine["tier"])
            assert got == expected, context
            assert mine["lottery_number"] == number, context
        v1_waitlists = {sid: [] for sid in school_ids}
        for s, a in zip(wait_school.tolist(), wait_app.tolist(), strict=True):
            v1_waitlists[school_ids[s]].append(app_ids[a])
        assert ours["waitlists"] == v1_waitlists, context
        # The 统筹 stage (v1: every school, from the zone centre).
        lottery.fallback_nearest(loaded, allocation)
        ours = allocate_v2(
            schools, applicants, tomllib.loads(policy_text), seed, zones=zones, fallback=True
        )
        for a, aid in enumerate(app_ids):
            s = int(allocation.school[a])
            expected = (allocation.status[a], school_ids[s] if s >= 0 else "")
            assert where(ours, aid) == expected, context
