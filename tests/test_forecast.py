"""Monte Carlo forecasts (sim.forecast): the flow kernel against networkx, calibration, the
deterministic limit, thread / batch / Dask invariance, outputs, and admission chances against
direct re-runs of the lottery."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numba
import numpy as np
import pytest

from seats.io.model import embedded_dataset, load_district
from seats.lottery import allocate, load_lottery
from sim import mc_kernels
from sim.flow import FlowProblem, max_flow
from sim.forecast import (
    QUANTILE_NAMES,
    _padded_choices,
    chance_model,
    forecast_rows,
    lottery_chance_model,
    pool_counts,
    root_key,
    run_chances,
    run_forecast,
    simulate,
)
from sim.plan import read_plan
from sim.projection import Uncertainty, build_model, pack

DATASET = embedded_dataset()


@pytest.fixture(scope="module")
def district():
    return load_district(DATASET)


@pytest.fixture(scope="module")
def model(district):
    plan = read_plan(DATASET / "plan_2021_2025.csv", district)
    return build_model(district, years=(2020, 2026), plan=plan)


# --- the flow kernel ---------------------------------------------------------------------------


def _kernel_flow(problem: FlowProblem, stage: np.ndarray):
    order = np.lexsort((problem.edge_school, problem.edge_zone))
    edge_zone, edge_school = problem.edge_zone[order], problem.edge_school[order]
    zone_ptr = np.concatenate([[0], np.cumsum(np.bincount(edge_zone, minlength=problem.n_zones))])
    school_ptr = np.concatenate(
        [[0], np.cumsum(np.bincount(edge_school, minlength=problem.n_schools))]
    )
    school_edge = np.argsort(edge_school, kind="stable")
    flow = np.zeros(len(edge_zone), dtype=np.int64)
    load = np.zeros(problem.n_schools, dtype=np.int64)
    short = np.zeros(problem.n_zones, dtype=np.int64)
    seated = mc_kernels.staged_max_flow(
        problem.demand, problem.capacity, stage, zone_ptr, edge_school,
        np.ones(len(edge_zone), dtype=np.bool_), school_ptr, school_edge, edge_zone, flow, load,
        short,
    )  # fmt: skip
    return seated, flow, load, short, edge_zone, edge_school


def _random_problem(rng) -> FlowProblem:
    n_z, n_s = rng.integers(1, 7), rng.integers(1, 9)
    pairs = rng.random((n_z, n_s)) < rng.uniform(0.2, 0.8)
    z, s = np.nonzero(pairs)
    return FlowProblem(
        rng.integers(0, 40, n_z).astype(np.int64),
        rng.integers(0, 30, n_s).astype(np.int64),
        z.astype(np.int64),
        s.astype(np.int64),
    )


def test_staged_flow_equals_networkx_max_flow_on_random_problems():
    rng = np.random.default_rng(7)
    for _ in range(150):
        p = _random_problem(rng)
        stage = rng.integers(0, 3, p.n_schools).astype(np.int64)
        seated, flow, load, short, edge_zone, _ = _kernel_flow(p, stage)
        reference = max_flow(p, balanced=False)
        assert seated == reference.seated
        # A feasible flow: per edge >= 0, per school <= capacity, per zone <= demand.
        assert (flow >= 0).all() and (load <= p.capacity).all()
        assert (np.bincount(edge_zone, flow, minlength=p.n_zones) <= p.demand).all()
        # The zones sharing a shortage are the source side of the minimal minimum cut.
        assert np.array_equal(short.astype(bool), reference.cut_zone)
        # Public first, then inclusive: each stage seats the most its sectors allow.
        for top in (0, 1):
            only = max_flow(p.only_schools(stage <= top), balanced=False).seated
            assert load[stage <= top].sum() == only


def test_round_total_keeps_the_rounded_total():
    rng = np.random.default_rng(3)
    for _ in range(100):
        values = rng.uniform(0, 50, rng.integers(1, 14))
        out = np.empty(len(values), dtype=np.int64)
        mc_kernels.round_total(values, out)
        assert out.sum() == math.floor(values.sum() + 0.5)
        assert (np.abs(out - values) < 1).all()


# --- the model ---------------------------------------------------------------------------------


def test_projection_reproduces_the_2020_figures(model):
    none = model.with_uncertainty(Uncertainty.none())
    b = simulate(none, 1, seed=1).batch
    kindergarten, primary = none.levels
    assert (kindergarten.enrolled, kindergarten.children) == (16_760, 16_945)
    assert primary.enrolled == 48_550
    assert kindergarten.factor == pytest.approx(16_760 / 16_945)
    # Primary cohorts exceed local births: the factor is 1 + the migrant inflow.
    assert primary.factor == pytest.approx(48_550 / primary.children) and primary.factor > 1.5
    y = 0  # 2020, the calibration year
    assert b.population[0, 0, y] == 16_945
    assert b.demand[0, 0, y].sum() == 16_760
    assert b.demand[0, 1, y].sum() == 48_550
    # The network's eligibility (own zone, 1.5 km, education group) leaves a few township
    # children without a reachable place in 2020 (the 2021 plan builds there); 98.7% are seated.
    assert 0.98 * 16_760 <= b.seated[0, 0, y].sum() <= 16_760


def _reference_projection(model, level, year):
    """Naive deterministic projection: births formula, rounding, networkx max flow."""
    tr, lv = model.trend, model.levels[level]
    births = {}
    for t, row in enumerate(model.births_known):
        births[model.first_birth_year + t] = row
    drift = 0.0
    for h, born in enumerate(range(model.base_year + 1, int(model.years[-1]) + 1), 1):
        drift += tr.slope * tr.damping**h
        births[born] = math.exp(tr.anchor + drift) * tr.zone_share
    children = sum(births[year - age] for age in range(lv.young, lv.old + 1))
    wanted = children * (lv.factor_fixed + lv.factor_var)
    demand = np.floor(wanted).astype(np.int64)
    left = math.floor(wanted.sum() + 0.5) - demand.sum()
    rest = wanted - np.floor(wanted)
    for z in sorted(range(len(rest)), key=lambda z: (-rest[z], z))[:left]:
        demand[z] += 1
    y = model.years.tolist().index(year)
    on = lv.active[y]
    problem = FlowProblem(demand, lv.cap[y], lv.edge_zone[on], lv.edge_school[on])
    return demand, max_flow(problem, balanced=False)


def test_zero_variance_collapses_to_the_deterministic_projection(model):
    none = model.with_uncertainty(Uncertainty.none())
    b = simulate(none, 4, seed="x", chunk=3).batch
    for name in ("births", "demand", "seated", "short", "sector", "group_unmet"):
        values = getattr(b, name)
        assert (values == values[:1]).all(), name
    for level in (0, 1):
        for year in (2020, 2023, 2026):
            y = none.years.tolist().index(year)
            demand, reference = _reference_projection(none, level, year)
            assert np.array_equal(b.demand[0, level, y], demand)
            assert b.seated[0, level, y].sum() == reference.seated
            assert np.array_equal(b.short[0, level, y].astype(bool), reference.cut_zone)


def test_calibration_year_has_no_spread_but_later_years_do(model):
    b = simulate(model, 200, seed=5).batch
    assert (b.demand[:, :, 0] == b.demand[:1, :, 0]).all()  # 2020 is data, not drawn
    assert b.demand[:, 0, -1].sum(1).std() > 100


# --- the engine --------------------------------------------------------------------------------


def test_results_do_not_depend_on_threads_or_chunks(model, district):
    chance = chance_model(district, model)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate(model, 60, seed=11, chance=chance, chunk=60)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = simulate(model, 60, seed=11, chance=chance, chunk=25)
    finally:
        numba.set_num_threads(before)
    for name in ("births", "factor", "demand", "seated", "short", "sector", "group_seated"):
        assert np.array_equal(getattr(one.batch, name), getattr(two.batch, name)), name
    assert np.array_equal(one.chance_sums, two.chance_sums)
    assert not np.array_equal(one.batch.births, simulate(model, 60, seed=12).batch.births)


def test_dask_gives_the_in_process_results(model, district):
    pytest.importorskip("distributed")
    chance = chance_model(district, model)
    local = simulate(model, 24, seed=3, chance=chance, chunk=8)
    remote = simulate(model, 24, seed=3, chance=chance, chunk=8, dask="local:2")
    for name in ("births", "demand", "seated", "short", "sector", "group_unmet"):
        assert np.array_equal(getattr(local.batch, name), getattr(remote.batch, name)), name
    assert np.array_equal(local.chance_sums, remote.chance_sums)


def test_quantiles_are_monotone(model):
    rows = forecast_rows(simulate(model, 40, seed=2))
    q = len(QUANTILE_NAMES)
    for row in rows:
        values = [float(v) for v in row[-q:]]
        assert values == sorted(values), row


def test_outputs_are_byte_identical(tmp_path: Path):
    seen = []
    for name in ("a", "b"):
        calls = []
        summary = run_forecast(
            DATASET, years=(2021, 2025), runs=30, seed="s", out_dir=tmp_path / name,
            progress=calls.append,
        )  # fmt: skip
        assert sum(calls) == 30
        seen.append({f: (tmp_path / name / f).read_bytes() for f in summary.files})
    assert seen[0] == seen[1]
    assert set(seen[0]) >= {"forecast.csv", "shortfall_risk.csv", "targets.csv", "chances.csv"}
    text = summary.render()
    assert "Plan targets, 2025" in text and "Admission chances" in text
    with pytest.raises(FileExistsError):
        run_forecast(DATASET, runs=1, seed="s", out_dir=tmp_path / "a")


# --- admission chances -------------------------------------------------------------------------


def test_pool_matches_the_file_when_nothing_varies(district):
    # The chances year is the file's year (2021): the pool has the file's size per zone.
    none = build_model(district, years=(2021, 2022), uncertainty=Uncertainty.none())
    chance = chance_model(district, none)
    batch = simulate(none, 2, seed=1).batch
    counts = pool_counts(pack(none), chance, batch)
    assert np.array_equal(counts[0], chance.base_count) and counts[0].sum() == 5_600


SMALL_SCHOOLS = """school_id,zone_id,seats
S1,Z1,3
S2,Z1,4
S3,Z2,5
"""
SMALL_POLICY = """mechanism = "immediate_acceptance"
tie_break = "single"
[[tiers]]
name = "catchment"
same_zone = true
"""


def _small_applicants(rng) -> str:
    lines = ["applicant_id,zone_id,choices"]
    for a in range(24):
        k = rng.integers(1, 4)
        choices = ";".join(rng.permutation(["S1", "S2", "S3"])[:k])
        lines.append(f"A{a:02d},Z{rng.integers(1, 3)},{choices}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("mechanism", ["immediate_acceptance", "deferred_acceptance"])
def test_chances_agree_with_direct_reruns_of_the_lottery(tmp_path: Path, mechanism):
    """Tolerance: 4.5 standard errors of the difference of two independent frequencies."""
    rng = np.random.default_rng(1)
    (tmp_path / "schools.csv").write_text(SMALL_SCHOOLS)
    (tmp_path / "applicants.csv").write_text(_small_applicants(rng))
    (tmp_path / "policy.toml").write_text(SMALL_POLICY.replace("immediate_acceptance", mechanism))
    lottery = load_lottery(
        tmp_path / "schools.csv", tmp_path / "applicants.csv", "seed", tmp_path / "policy.toml"
    )
    chance = lottery_chance_model(lottery, ["Z1", "Z2"])
    n_direct = 400
    direct = np.zeros((2, *chance.app_tier.shape), dtype=np.int64)
    entry_app = lottery.entry_applicant
    position = lottery.entry_position
    for k in range(n_direct):
        lottery.seed = f"public seed {k}"
        result = allocate(lottery)
        direct[0] += 1
        direct[1] += result.rank[entry_app] == position
    runs = 4000
    counts = np.tile(chance.base_count, (runs, 1))
    sums = run_chances(chance, root_key("chances"), 0, counts)
    school = chance.app_school
    for e in range(len(school)):
        s, t, j = school[e], chance.app_tier[e], position[e]
        # Entries sharing (school, tier, choice) have the same chance by symmetry only in
        # aggregate; compare the aggregate of the cell.
        cell = (school == s) & (chance.app_tier == t) & (position == j)
        p_direct = direct[1, cell].sum() / direct[0, cell].sum()
        p_kernel = sums[1, s, t, j] / sums[0, s, t, j]
        n_d, n_k = direct[0, cell].sum(), sums[0, s, t, j]
        se = math.sqrt(max(p_direct * (1 - p_direct), 0.01) * (1 / n_d + 1 / n_k))
        assert abs(p_direct - p_kernel) <= 4.5 * se, (s, t, j, p_direct, p_kernel)


@pytest.mark.parametrize("multiple", [False, True])
@pytest.mark.parametrize("mechanism", [mc_kernels.IMMEDIATE, mc_kernels.DEFERRED])
def test_chance_sums_do_not_depend_on_the_split_into_parts(district, model, multiple, mechanism):
    """chances_kernel splits the replications into parts with their own buffers (one per
    thread); integer sums over any split are the same, for both tie-breaks and mechanisms."""
    chance = dataclasses.replace(
        chance_model(district, model), multiple=multiple, mechanism=mechanism
    )
    rows, tier_bits = _padded_choices(chance)
    rng = np.random.default_rng(4)
    counts = (chance.base_count * rng.uniform(0.05, 0.12, (9, 1)) + 0.5).astype(np.int64)
    n_cells = (len(chance.school_ids) << tier_bits) * (rows.shape[1] - 1)
    totals = []
    for parts in (1, 4):
        sums = np.empty((parts, 5, n_cells), dtype=np.int64)
        mc_kernels.chances_kernel(
            root_key("split"), 3, counts, True, chance.zone_ptr, rows, tier_bits, chance.seats,
            chance.mechanism, chance.multiple, int(counts.sum(1).max()), sums,
        )  # fmt: skip
        totals.append(sums.sum(0))
    assert np.array_equal(totals[0], totals[1])
    assert totals[0][0].sum() > 0 and totals[0][1].sum() > 0
    assert np.array_equal(
        run_chances(chance, root_key("split"), 3, counts)[0].sum(), totals[0][0].sum()
    )
