"""Capacity-gap analysis (sim.flow, sim.gap, sim.plan): hand-worked districts, brute force on
random small networks, the plan's indicators on the embedded data, plan files, outputs."""

from __future__ import annotations

import csv
import itertools
import math
from fractions import Fraction

import networkx as nx
import numpy as np
import pytest
from conftest import DATASET
from hypothesis import given, settings
from hypothesis import strategies as st
from test_network import write_district

from seats.io.errors import InputError
from seats.io.model import load_district
from sim.flow import FlowProblem, bottleneck_regions, check_flow, fair_shares, max_flow
from sim.gap import gap_analysis, recorded_indicators, run_gap
from sim.plan import apply_plan, read_plan
from sim.synthetic import write_synthetic_city

PLAN = DATASET / "plan_2021_2025.csv"


def problem(demand, capacity, edges) -> FlowProblem:
    edges = np.array(edges, dtype=np.int64).reshape(-1, 2)
    return FlowProblem(
        np.array(demand, dtype=np.int64),
        np.array(capacity, dtype=np.int64),
        edges[:, 0],
        edges[:, 1],
    )


# --- naive references -----------------------------------------------------------------------------


def brute_force_seated(p: FlowProblem) -> int:
    """Try every integer assignment of children to schools: the most that can be seated."""
    by_zone = [p.edge_school[p.edge_zone == z].tolist() for z in range(p.n_zones)]

    def best(z: int, room: tuple[int, ...]) -> int:
        if z == p.n_zones:
            return 0
        top = 0
        for split in itertools.product(*(range(room[s] + 1) for s in by_zone[z])):
            if sum(split) <= p.demand[z]:
                left = list(room)
                for s, n in zip(by_zone[z], split, strict=True):
                    left[s] -= n
                top = max(top, sum(split) + best(z + 1, tuple(left)))
        return top

    return best(0, tuple(p.capacity.tolist()))


def least_capacity_per_child(p: FlowProblem) -> Fraction:
    """min over sets of zones Z of cap(N(Z)) / demand(Z), capped at 1: the fair floor."""
    least = Fraction(1)
    zones = [z for z in range(p.n_zones) if p.demand[z] > 0]
    for k in range(1, len(zones) + 1):
        for subset in itertools.combinations(zones, k):
            near = set(p.edge_school[np.isin(p.edge_zone, subset)].tolist())
            ratio = Fraction(int(p.capacity[list(near)].sum()), int(p.demand[list(subset)].sum()))
            least = min(least, ratio)
    return least


@st.composite
def small_problems(draw, most_zones=3, most_schools=3, most=4):
    n_z = draw(st.integers(1, most_zones))
    n_s = draw(st.integers(1, most_schools))
    demand = draw(st.lists(st.integers(0, most), min_size=n_z, max_size=n_z))
    capacity = draw(st.lists(st.integers(0, most), min_size=n_s, max_size=n_s))
    pairs = list(itertools.product(range(n_z), range(n_s)))
    edges = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs)))
    return problem(demand, capacity, sorted(edges))


# --- the flow on hand-worked networks -------------------------------------------------------------


def test_shared_school_splits_the_shortage_fairly():
    # A (100) uses a1 (60) and b1 (75); B (50) only b1. 135 seats for 150: both lose 10%.
    p = problem([100, 50], [60, 75], [(0, 0), (0, 1), (1, 1)])
    r = max_flow(p)
    assert r.seated == 135
    assert r.seated_zone.tolist() == [90, 45]
    assert r.unmet_zone(p).tolist() == [10, 5]
    assert r.cut_zone.tolist() == [True, True] and r.cut_school.tolist() == [True, True]
    assert check_flow(p, r) == []


def test_fair_shares_in_two_tiers():
    # A (100) has only a1 (50); B and C (100 each) share b1 (180). A keeps half, B and C 90%.
    p = problem([100, 100, 100], [50, 180], [(0, 0), (1, 1), (2, 1)])
    r = max_flow(p)
    assert fair_shares(p, r) == [Fraction(1, 2), Fraction(9, 10), Fraction(9, 10)]
    assert r.seated_zone.tolist() == [50, 90, 90]
    regions = bottleneck_regions(p, r)
    assert regions == [([0], [0]), ([1, 2], [1])]  # largest unmet first


def test_full_in_every_flow_versus_bottleneck():
    # Z (5) has only w (5): w is full in every flow but more seats there seat no one.
    # Y (10) has only v (5): v is the bottleneck. X (3) has u (9): u has room.
    p = problem([5, 10, 3], [5, 5, 9], [(0, 0), (1, 1), (2, 2)])
    r = max_flow(p)
    assert r.full_school.tolist() == [True, True, False]
    assert r.cut_school.tolist() == [False, True, False]
    assert r.cut_zone.tolist() == [False, True, False]
    assert r.unmet_zone(p).tolist() == [0, 5, 0]


def test_zone_without_schools_and_school_without_zones():
    p = problem([7, 0], [0, 4], [])
    r = max_flow(p)
    assert r.seated == 0 and r.unmet_zone(p).tolist() == [7, 0]
    assert bottleneck_regions(p, r) == [([0], [])]
    assert check_flow(p, r) == []


# --- against brute force --------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(small_problems())
def test_max_flow_matches_brute_force(p):
    for balanced in (False, True):
        r = max_flow(p, balanced=balanced)
        assert r.seated == brute_force_seated(p)
        assert check_flow(p, r) == []
        assert np.array_equal(r.seated_zone + r.unmet_zone(p), p.demand)  # conservation


@settings(max_examples=150, deadline=None)
@given(small_problems(most_zones=4, most_schools=4, most=9))
def test_fair_floor_matches_brute_force(p):
    r = max_flow(p)
    shares = fair_shares(p, r)
    with_demand = [shares[z] for z in range(p.n_zones) if p.demand[z] > 0]
    assert min(with_demand, default=Fraction(1)) == least_capacity_per_child(p)
    # Rounding the fair split up never costs a child, and no zone gets more than its share.
    ceiling = [math.ceil(s * d) for s, d in zip(shares, p.demand.tolist(), strict=True)]
    assert (r.seated_zone <= np.array(ceiling)).all()
    assert r.seated == max_flow(p, balanced=False).seated


@settings(max_examples=40, deadline=None)
@given(small_problems(most_zones=8, most_schools=12, most=50))
def test_max_flow_matches_networkx_on_larger_graphs(p):
    graph = nx.DiGraph()
    for z in range(p.n_zones):
        graph.add_edge("s", ("z", z), capacity=int(p.demand[z]))
    for s in range(p.n_schools):
        graph.add_edge(("w", s), "t", capacity=int(p.capacity[s]))
    for z, s in zip(p.edge_zone.tolist(), p.edge_school.tolist(), strict=True):
        graph.add_edge(("z", z), ("w", s))
    r = max_flow(p)
    assert r.seated == nx.maximum_flow_value(graph, "s", "t")
    assert check_flow(p, r) == []


# --- hand-worked districts, end to end ------------------------------------------------------------


@pytest.fixture
def two_towns(tmp_path):
    """A (40 a year) has a 25-seat school; B (10 a year), 5 km away, a 30-seat one."""
    return write_district(
        tmp_path / "towns",
        zones=[("A", 0, 0, 40), ("B", 5, 0, 10)],
        schools=[
            ("PA", "primary", "public", "A", 25, 0.2, 0),
            ("PB", "primary", "public", "B", 30, 5.2, 0),
            ("KA", "kindergarten", "public", "A", 30, 0, 0.3),
            ("KB", "kindergarten", "private", "B", 20, 5, 0.3),
        ],
    )


def test_hand_worked_primary_gap(two_towns):
    summary = gap_analysis(load_district(two_towns), level="primary", year=2020)
    now = summary.scenario("now")
    assert (now.demand, now.capacity, now.result.seated, now.unmet) == (50, 55, 35, 15)
    assert now.result.seated_zone.tolist() == [25, 10]
    assert [
        ([now.zones[z][1] for z in zs], [now.schools[s][1] for s in ss]) for zs, ss in now.regions
    ] == [(["A"], ["PA"])]


def test_hand_worked_kindergarten_counts_three_year_groups(two_towns):
    # Children aged 3-5 = 3 x births; places on roll = 3 x seats.
    now = gap_analysis(load_district(two_towns), level="kindergarten", year=2020).scenarios[0]
    assert (now.demand, now.capacity, now.unmet) == (150, 150, 30)
    assert now.attainable.seated == 120 and now.attainable.seated_public == 90


def test_group_campus_relieves_a_zone(two_towns, tmp_path):
    # Make PB a branch of PA's education group: A's children may now use PB (大学区制).
    (two_towns / "groups.csv").write_text(
        "group_id,name,kind,lead_school_id\nG1,group,education_group,PA\n", encoding="utf-8"
    )
    (two_towns / "group_members.csv").write_text(
        "group_id,school_id,role\nG1,PA,lead\nG1,PB,branch\n", encoding="utf-8"
    )
    now = gap_analysis(load_district(two_towns), level="primary", year=2020).scenarios[0]
    assert now.unmet == 0 and now.reach.seated == 50


@pytest.fixture
def two_towns_tight(tmp_path):
    """two_towns with 12 seats in B: 统筹 seats only 2 of A's 15 unseated children there."""
    return write_district(
        tmp_path / "tight",
        zones=[("A", 0, 0, 40), ("B", 5, 0, 10)],
        schools=[
            ("PA", "primary", "public", "A", 25, 0.2, 0),
            ("PB", "primary", "public", "B", 12, 5.2, 0),
            ("KA", "kindergarten", "public", "A", 30, 0, 0.3),
            ("KB", "kindergarten", "private", "B", 20, 5, 0.3),
        ],
    )


def test_tongchou_seats_the_unseated_in_other_zones_by_distance(two_towns):
    """A's 15 unseated children go to PB, 5.2 km from A's centre; nothing is left to site."""
    summary = gap_analysis(
        load_district(two_towns), level="primary", year=2020, site_new=2, site_size=10
    )
    now = summary.scenario("now")
    t = now.tongchou
    assert (now.unmet, t.seated, t.unmet, t.outside) == (15, 15, 0, 15)
    assert t.mean_km() == pytest.approx(5.2)
    assert [(now.zones[z][1], now.schools[s][1], n) for z, s, n, _ in t.assignments] == [
        ("A", "PB", 15)
    ]
    assert summary.sites == [] and "统筹 seats every child" in summary.render()


def test_tongchou_uses_public_schools_only_and_nearest_first(tmp_path):
    district = write_district(
        tmp_path / "three",
        zones=[("A", 0, 0, 40), ("B", 3, 0, 0), ("C", 8, 0, 0)],
        schools=[
            ("PA", "primary", "public", "A", 25, 0, 0),
            ("PB", "primary", "private", "B", 30, 3, 0),
            ("PC", "primary", "public", "C", 8, 8, 0),
            ("PD", "primary", "public", "C", 30, 9, 0),
        ],
    )
    t = gap_analysis(load_district(district), level="primary", year=2020).scenarios[0].tongchou
    got = sorted((s, n) for _, s, n, _ in t.assignments)
    assert got == [(2, 8), (3, 7)]  # PC (8 km) fills before PD (9 km); private PB takes none
    assert t.unmet == 0


def test_site_new_places_schools_where_they_seat_most(two_towns_tight):
    summary = gap_analysis(
        load_district(two_towns_tight), level="primary", year=2020, site_new=2, site_size=10
    )
    assert summary.scenario("now").tongchou.unmet == 13
    assert [(s.zone_id, s.gain, s.unmet_after) for s in summary.sites] == [
        ("A", 10, 5),
        ("A", 5, 0),
    ]
    assert summary.scenario("sites").unmet == 0


def test_site_new_stops_when_nothing_helps(two_towns_tight):
    summary = gap_analysis(
        load_district(two_towns_tight), level="primary", year=2020, site_new=5, site_size=100
    )
    assert len(summary.sites) == 1
    assert "only 1 of 5 sites" in summary.render()


# --- the embedded district ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def district():
    return load_district(DATASET)


def test_recorded_indicators_match_the_plan_2020(district):
    ind = recorded_indicators(district, 2020)
    assert round(ind.gross_enrolment * 100, 2) == 98.91
    assert round(ind.public_share * 100, 1) == 47.7
    assert ind.inclusive_share >= 0.90


def test_embedded_kindergarten_and_primary_gaps_are_consistent(district):
    for level in ("kindergarten", "primary", "junior"):
        summary = gap_analysis(district, level=level, year=2020)
        for sc in summary.scenarios:
            assert check_flow(sc.problem, sc.result) == []
            assert check_flow(sc.problem.only_schools(sc.is_group_campus), sc.reach) == []
            unmet = sc.result.unmet_zone(sc.problem)
            assert (unmet >= 0).all() and unmet.sum() == sc.unmet
            in_regions = sum(int(unmet[zones].sum()) for zones, _ in sc.regions)
            assert in_regions == sc.unmet  # every unmet child is in a bottleneck region


def test_embedded_plan_closes_the_kindergarten_gap(district):
    plan = read_plan(PLAN, district)
    assert plan.counts() == {"new": 15, "expand": 1, "close": 0, "convert": 3}
    summary = gap_analysis(district, level="kindergarten", year=2020, plan=plan)
    now, after = summary.scenarios
    assert after.capacity - now.capacity == 3 * (15 * 90 + 30)
    assert now.unmet > 0 and after.unmet == 0
    assert after.attainable.public_share > now.attainable.public_share


def test_plan_close_and_convert(district):
    planned = apply_plan(district, read_plan(PLAN, district))
    s = planned.schools
    assert s.sector[s.index["K073"]] == "inclusive_private"
    assert s.seats[s.index["K093"]] == district.schools.seats[district.schools.index["K093"]] + 30
    assert len(s) == len(district.schools) + 15
    assert planned.groups.lead[planned.groups.index["KC12"]] == s.index["K093"]


def test_closing_a_lead_school_drops_it_everywhere(district, tmp_path):
    path = tmp_path / "plan.csv"
    path.write_text("action,school_id\nclose,P01\n", encoding="utf-8")
    planned = apply_plan(district, read_plan(path, district))
    assert "P01" not in planned.schools.index
    assert planned.groups.lead[planned.groups.index["G1"]] == -1
    summary = gap_analysis(district, level="primary", plan=read_plan(path, district))
    assert summary.scenario("plan").capacity == summary.scenario("now").capacity - 333


# --- bad plan files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("build,K200,x,kindergarten,public,Z01,90", ":2: action: 'build' is not one of new"),
        ("new,K001,x,kindergarten,public,Z01,90", ":2: school_id: school 'K001' already exists"),
        ("new,K200,x,kindergarten,public,Z99,90", ":2: zone_id: unknown zone 'Z99'"),
        ("new,K200,x,kindergarten,public,Z01,", ":2: seats: is needed for action 'new'"),
        ("new,K200,x,kindergarten,public,Z01,0", ":2: seats: 0 is below the minimum of 1"),
        ("new,K200,x,kindergarten,publik,Z01,90", ":2: sector: 'publik' is not one of"),
        ("new,K200,x,kindergarten,public,Z01,90,1.0,", ":2: x_km: give both x_km and y_km"),
        ("new,K200,x,kindergarten,public,Z01,90,a,b", ":2: x_km: 'a' is not a number"),
        ("expand,K999,,,,,10", ":2: school_id: unknown school 'K999'"),
        ("expand,K001,,,,,", ":2: seats: is needed for action 'expand'"),
        ("convert,K001,,,,,", ":2: sector: is needed for action 'convert'"),
    ],
)
def test_bad_plan_rows_name_file_line_and_column(district, tmp_path, row, expected):
    path = tmp_path / "plan.csv"
    path.write_text(
        "action,school_id,name,level,sector,zone_id,seats,x_km,y_km\n" + row + "\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as err:
        read_plan(path, district)
    assert f"{path}{expected}" in str(err.value)


def test_every_plan_problem_is_reported_at_once(district, tmp_path):
    path = tmp_path / "plan.csv"
    path.write_text(
        "action,school_id,seats\nclose,K001,\nexpand,K001,5\nnew,K300,\nexpand,K002,x\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as err:
        read_plan(path, district)
    text = str(err.value)
    assert f"{path}:3: school_id: school 'K001' is closed on line 2" in text
    assert f"{path}:4: name: is needed for action 'new'" in text
    assert f"{path}:5: seats: 'x' is not a whole number" in text


def test_plan_without_required_columns(district, tmp_path):
    path = tmp_path / "plan.csv"
    path.write_text("what,school\nnew,K1\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_plan(path, district)
    assert f"{path}:1: action: required column is missing" in str(err.value)


# --- run_gap: outputs -----------------------------------------------------------------------------


def read_rows(path):
    with open(path, encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def test_run_gap_writes_every_output(tmp_path):
    out = tmp_path / "gap"
    summary = run_gap(
        DATASET, level="kindergarten", year=2020, plan_path=PLAN, site_new=2, out_dir=out
    )
    names = {p.name for p in out.iterdir() if p.name != ".seats-output"}
    assert names == {
        "gap_zones.csv",
        "gap_schools.csv",
        "gap_groups.csv",
        "bottleneck.csv",
        "gap_map.png",
        "gap_bars.png",
    }  # the plan already seats everyone, so no site helps and none is written
    zones = read_rows(out / "gap_zones.csv")
    assert {r["scenario"] for r in zones} == {"now", "plan"}
    for r in zones:
        assert int(r["seated"]) + int(r["unmet"]) == int(r["demand"])
    now_unmet = sum(int(r["unmet"]) for r in zones if r["scenario"] == "now")
    bottleneck = read_rows(out / "bottleneck.csv")
    assert sum(int(r["unmet"]) for r in bottleneck) == now_unmet == summary.scenarios[0].unmet
    assert (out / "gap_map.png").read_bytes()[:4] == b"\x89PNG"
    text = summary.render()
    assert "98.91%" in text and "47.70%" in text and "28,251" in text


def test_sites_file_is_a_plan(tmp_path, two_towns_tight):
    out = tmp_path / "gap"
    summary = run_gap(two_towns_tight, level="primary", year=2020, site_new=1, out_dir=out)
    assert summary.scenario("sites").unmet < summary.scenario("now").unmet
    district = load_district(two_towns_tight)
    again = gap_analysis(
        district, level="primary", year=2020, plan=read_plan(out / "sites.csv", district)
    )
    assert again.scenario("plan").unmet == summary.scenario("sites").unmet
    assert "tongchou.csv" in summary.files


def test_embedded_district_needs_no_new_primary_school_after_tongchou(tmp_path):
    summary = run_gap(DATASET, level="primary", year=2021, site_new=3, out_dir=tmp_path / "g")
    now = summary.scenario("now")
    assert now.unmet > 0 and now.tongchou.unmet == 0 and summary.sites == []
    rows = read_rows(tmp_path / "g" / "tongchou.csv")
    assert sum(int(r["children"]) for r in rows) == now.unmet
    assert all(float(r["km"]) > 0 for r in rows)


def test_no_kindergarten_site_where_use_falls_below_80_percent(district):
    """Births fall: every zone's kindergarten places would be used less than 80% within five
    years (cohort projection from enrolment.csv), so no site is proposed anywhere."""
    from sim.gap import site_allowed

    allowed, why = site_allowed(district, None, "kindergarten", 2020, 300, 1.5)
    assert why == "" and not allowed.any()
    summary = gap_analysis(district, level="kindergarten", year=2020, site_new=2)
    assert summary.sites == [] and "used less than 80%" in summary.render()


def test_demand_from_an_applicants_file(tmp_path):
    applicants = DATASET / "applicants_primary_2021.csv"
    summary = run_gap(
        DATASET, level="primary", year=2021, demand_path=applicants, out_dir=tmp_path / "g"
    )
    assert summary.scenarios[0].demand == 8_100
    assert summary.scenarios[0].capacity == 8_672  # entry seats
    bad = tmp_path / "applicants.csv"
    bad.write_text("applicant_id,zone_id\nA1,Z01\nA2,Z77\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        run_gap(DATASET, level="primary", demand_path=bad, out_dir=tmp_path / "h")
    assert f"{bad}:3: zone_id: unknown zone 'Z77'" in str(err.value)
    assert not (tmp_path / "h").exists()


def test_run_gap_is_all_or_nothing(tmp_path):
    out = tmp_path / "gap"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError):
        run_gap(DATASET, level="primary", out_dir=out)
    (out / ".seats-output").write_text("")  # as if seats wrote it: --force may replace it
    bad = tmp_path / "plan.csv"
    bad.write_text("action,school_id\nclose,NOPE\n", encoding="utf-8")
    with pytest.raises(InputError):
        run_gap(DATASET, level="primary", plan_path=bad, out_dir=out, force=True)
    assert sorted(p.name for p in out.iterdir()) == [".seats-output", "keep.txt"]


def test_synthetic_city_flows_are_valid(tmp_path):
    folder = write_synthetic_city(tmp_path / "city", zones=20, schools=200, levels=("primary",))
    summary = gap_analysis(load_district(folder), level="primary", site_new=1)
    for sc in summary.scenarios:
        assert check_flow(sc.problem, sc.result) == []
