"""The school network (sim.network): its documented shape, on the embedded district and on small
districts written by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import DATASET

from seats.io.model import SCHOOL_COLUMNS, load_district
from seats.io.output import write_csv
from sim.network import (
    build_network,
    campuses_of,
    check_network,
    children_aged,
    group_node,
    nodes_of_kind,
    school_node,
    zone_node,
)


def write_district(
    folder: Path,
    zones: list[tuple[str, float, float, int]],
    schools: list[tuple[str, str, str, str, int, float, float]],
    groups: list[tuple[str, str, str]] = (),
    members: list[tuple[str, str, str]] = (),
    years: range = range(2010, 2021),
) -> Path:
    """A district folder: zones (id, x, y, births every year), schools (id, level, sector, zone,
    seats, x, y), groups (id, kind, lead) and members (group, school, role)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(
        folder / "zones.csv",
        ["zone_id", "name", "kind", "x_km", "y_km", "population"],
        [[z, f"zone {z}", "street", x, y, 1000] for z, x, y, _ in zones],
    )
    write_csv(
        folder / "births.csv",
        ["zone_id", "year", "births"],
        [[z, year, births] for z, _, _, births in zones for year in years],
    )
    write_csv(
        folder / "schools.csv",
        SCHOOL_COLUMNS,
        [
            [s, f"school {s}", level, sector, z, seats, 0, 1, 30, x, y]
            for s, level, sector, z, seats, x, y in schools
        ],
    )
    write_csv(
        folder / "groups.csv",
        ["group_id", "name", "kind", "lead_school_id"],
        [[g, f"group {g}", kind, lead] for g, kind, lead in groups],
    )
    write_csv(folder / "group_members.csv", ["group_id", "school_id", "role"], list(members))
    return folder


@pytest.fixture(scope="module")
def embedded():
    return build_network(load_district(DATASET), year=2020)


# --- the embedded district ---------------------------------------------------------------------


def test_embedded_network_has_the_documented_shape(embedded):
    assert check_network(embedded) == []
    assert len(nodes_of_kind(embedded, "zone")) == 13
    assert len(nodes_of_kind(embedded, "school")) == 165
    assert len(nodes_of_kind(embedded, "group")) == 37
    members = [e for e in embedded.edges(data="kind") if e[2] == "member"]
    assert len(members) == 154
    assert embedded.graph["year"] == 2020 and embedded.graph["walk_km"] == 1.5


def test_children_by_age_come_from_births(embedded):
    zones = nodes_of_kind(embedded, "zone")
    kindergarten = sum(embedded.nodes[z]["children"]["kindergarten"] for z in zones)
    assert kindergarten == 16_945  # births 2015-2017: the plan's 毛入园率 denominator
    district = load_district(DATASET)
    born_2014 = district.births.births[district.births.year == 2014].sum()
    assert sum(embedded.nodes[z]["entrants"]["primary"] for z in zones) == born_2014
    # A junior cohort in 2020 was born 2006-2008, before births.csv starts: said, and estimated.
    assert embedded.graph["estimated_birth_years"]["children"]["junior"] == [2006, 2007, 2008]
    assert embedded.graph["estimated_birth_years"]["children"]["kindergarten"] == []
    born_2010 = district.births.births[district.births.year == 2010].sum()
    assert sum(embedded.nodes[z]["children"]["junior"] for z in zones) == 3 * born_2010


def test_every_school_serves_its_own_zone(embedded):
    for school in nodes_of_kind(embedded, "school"):
        zone = zone_node(embedded.nodes[school]["zone_id"])
        assert "same_zone" in embedded.edges[zone, school]["reasons"]


def test_walk_edges_respect_the_distance(embedded):
    for u, v, data in embedded.edges(data=True):
        if data["kind"] != "serves":
            continue
        near = data["distance_km"] <= embedded.graph["walk_km"]
        assert ("walk" in data["reasons"]) == near
        assert ("same_zone" in data["reasons"]) == (embedded.nodes[v]["zone_id"] == u[1])


def test_education_group_campuses_serve_each_others_zones(embedded):
    # 新道街小学教育集团 (G1): P01 in 鼓楼 and its branches far off in 杨家峪 and 涧河 (大学区制).
    campuses = set(campuses_of(embedded, group_node("G1")))
    assert campuses == {school_node("P01"), school_node("P34"), school_node("P39")}
    for zone in nodes_of_kind(embedded, "zone"):
        served = {s for s in campuses if embedded.has_edge(zone, s)}
        direct = {s for s in served if set(embedded.edges[zone, s]["reasons"]) - {"group"}}
        assert served == (campuses if direct else set())


def test_capacity_is_seats_times_years(embedded):
    k001 = embedded.nodes[school_node("K001")]
    assert k001["capacity"] == 3 * k001["seats"]
    p01 = embedded.nodes[school_node("P01")]
    assert p01["capacity"] == 6 * p01["seats"]


# --- small districts ------------------------------------------------------------------------------


def test_group_reason_does_not_chain_or_cross_levels(tmp_path):
    folder = write_district(
        tmp_path / "d",
        zones=[("A", 0, 0, 10), ("B", 10, 0, 10), ("C", 20, 0, 10)],
        schools=[
            ("P1", "primary", "public", "A", 10, 0, 0),
            ("P2", "primary", "public", "B", 10, 10, 0),
            ("P3", "primary", "public", "C", 10, 20, 0),
            ("J2", "junior", "public", "B", 10, 10, 0),
        ],
        groups=[("G1", "education_group", "P1"), ("G2", "education_group", "P2")],
        members=[
            ("G1", "P1", "lead"),
            ("G1", "P2", "branch"),
            ("G1", "J2", "branch"),
            ("G2", "P2", "lead"),
            ("G2", "P3", "branch"),
        ],
    )
    graph = build_network(load_district(folder))
    assert check_network(graph) == []
    served_by_a = {v[1]: d["reasons"] for _, v, d in graph.out_edges(zone_node("A"), data=True)}
    # A reaches P2 through G1, but not P3 (that would need G1 -> P2 -> G2), nor junior J2.
    assert served_by_a == {"P1": ("same_zone", "walk"), "P2": ("group",)}
    served_by_b = {v[1] for v in graph.successors(zone_node("B"))}
    assert served_by_b == {"P1", "P2", "P3", "J2"}


def test_walk_distance_links_neighbouring_zones(tmp_path):
    folder = write_district(
        tmp_path / "d",
        zones=[("A", 0, 0, 10), ("B", 3, 0, 10)],
        schools=[("K1", "kindergarten", "public", "B", 10, 1.4, 0)],
    )
    district = load_district(folder)
    assert build_network(district, walk_km=1.5).has_edge(zone_node("A"), school_node("K1"))
    assert not build_network(district, walk_km=1.0).has_edge(zone_node("A"), school_node("K1"))


def test_missing_birth_years_take_the_nearest_recorded_year(tmp_path):
    folder = write_district(
        tmp_path / "d",
        zones=[("A", 0, 0, 7)],
        schools=[("K1", "kindergarten", "public", "A", 10, 0, 0)],
        years=range(2015, 2018),
    )
    district = load_district(folder)
    children, estimated = children_aged(district, 3, 5, 2022)  # born 2017-2019
    assert children.tolist() == [21] and estimated == [2018, 2019]
    children, estimated = children_aged(district, 3, 5, 2020)
    assert children.tolist() == [21] and estimated == []


def test_check_network_names_what_is_wrong(embedded):
    broken = embedded.copy()
    broken.add_edge(zone_node("Z01"), group_node("G1"), kind="serves", reasons=("walk",))
    del broken.nodes[school_node("K001")]["seats"]
    wrong = check_network(broken)
    assert any("K001" in w and "seats" in w for w in wrong)
    assert any("G1" in w and "serves" in w for w in wrong)
    assert np.all([isinstance(w, str) for w in wrong])
