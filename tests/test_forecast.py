"""The cohort forecast (sim.cohort, sim.cohort_kernels, sim.forecast): the kernel against a
naive reference, the data it is calibrated on, totals that sum, thread / chunk / Dask
invariance, byte-identical outputs, the birth scenarios against recorded births, the backtest,
bad input, and admission chances against direct re-runs of the lottery."""

from __future__ import annotations

import dataclasses
import math
import tempfile
from pathlib import Path

import numba
import numpy as np
import pytest
from naive_cohort import replicate

from seats.io.model import embedded_dataset, load_district
from seats.lottery import allocate, load_lottery
from sim import mc_kernels
from sim.backtest import run_backtest
from sim.cohort import LEVELS, build_cohort_model, load_enrolment
from sim.forecast import (
    BATCH_ARRAYS,
    QUANTILE_NAMES,
    _padded_choices,
    central_projection,
    chance_model,
    forecast,
    forecast_rows,
    indicator_values,
    level_totals,
    lottery_chance_model,
    pool_counts,
    root_key,
    run_chances,
    run_forecast,
    school_tables,
    simulate,
)
from sim.plan import read_plan
from sim.staffing import StaffRatios, trained_share

DATASET = embedded_dataset()


@pytest.fixture(scope="module")
def district():
    return load_district(DATASET)


@pytest.fixture(scope="module")
def enrolment(district):
    return load_enrolment(district)


@pytest.fixture(scope="module")
def model(district, enrolment):
    plan = read_plan(DATASET / "plan_2021_2025.csv", district)
    return build_cohort_model(district, enrolment, years=(2021, 2027), plan=plan)


# --- the data ----------------------------------------------------------------------------------


def test_enrolment_sums_to_the_plan_and_to_schools_csv(district, enrolment):
    t = list(enrolment.years).index(2020)
    level = np.array([str(x) for x in district.schools.level])
    on_roll = enrolment.pupils[:, t].sum(axis=1)
    assert on_roll[level == "kindergarten"].sum() == 16_760
    assert on_roll[level == "primary"].sum() == 48_550
    assert on_roll[level == "junior"].sum() == 3_853
    kept = level != "special"
    assert np.array_equal(on_roll[kept], district.schools.enrolled[kept])
    assert list(enrolment.years) == [2016, 2017, 2018, 2019, 2020]


def test_births_follow_the_national_ratios_to_2025(district):
    b = district.births
    total = {y: b.births[b.year == y].sum() for y in range(2020, 2026)}
    national = {2021: 1062, 2022: 956, 2023: 902, 2024: 954, 2025: 792}
    for year, n in national.items():
        assert abs(total[year] / total[2020] - n / 1202) < 0.02, year


def test_kindergarten_teachers_trained_share_is_65_percent(district):
    from sim.forecast import _kindergarten_teachers

    teachers, trained = _kindergarten_teachers(district)
    assert teachers == 1_696 and round(100 * trained / teachers) == 65


# --- the kernel against the naive reference ----------------------------------------------------


@pytest.mark.parametrize("resample", [False, True])
def test_kernel_matches_the_naive_reference(model, resample):
    m = dataclasses.replace(model, resample=resample)
    root = root_key("naive")
    results = simulate(m, 3, seed="naive")
    b = results.batch
    for r in range(3):
        ref = replicate(m, root, r)
        for (y, s), v in ref["pupils"].items():
            assert b.pupils[r, y, s] == pytest.approx(v, rel=1e-5, abs=1e-3), (r, y, s)
        for (y, s), v in ref["classes"].items():
            assert b.classes[r, y, s] == v, (r, y, s)
        for (lv, y, z), v in ref["unmet"].items():
            assert b.unmet[r, lv, y, z] == pytest.approx(v, rel=1e-5, abs=1e-3)
            assert b.outside[r, lv, y, z] == pytest.approx(ref["outside"][lv, y, z], abs=1e-3)
            assert b.zone_entrants[r, lv, y, z] == pytest.approx(
                ref["entrants"][lv, y, z], rel=1e-5
            )


def test_naive_reference_on_a_small_district_with_closures(tmp_path, district, enrolment):
    """A plan that closes a school and opens another: pupils move, totals are kept."""
    plan_file = tmp_path / "plan.csv"
    plan_file.write_text(
        "action,school_id,name,level,sector,zone_id,seats,x_km,y_km,year,group_id\n"
        "close,P30,,,,,,,,2022,\n"
        "new,P99,新小学,primary,public,Z01,200,,,2023,\n"
    )
    plan = read_plan(plan_file, district)
    m = build_cohort_model(district, enrolment, years=(2021, 2025), plan=plan)
    b = simulate(m, 2, seed="closure").batch
    for r in range(2):
        ref = replicate(m, root_key("closure"), r)
        for (y, s), v in ref["pupils"].items():
            assert b.pupils[r, y, s] == pytest.approx(v, rel=1e-5, abs=1e-3)
    closed = m.school_ids.index("P30")
    assert (b.pupils[:, 1:, closed] == 0).all()
    assert (b.pupils[:, 2:, m.school_ids.index("P99")] > 0).all()


# --- properties ---------------------------------------------------------------------------------


def test_totals_sum_and_capacity_holds(model):
    results = simulate(model, 40, seed=5)
    b, m = results.batch, model
    assert np.allclose(b.sector_pupils.sum(-1), level_totals(results), rtol=1e-5)
    central = central_projection(dataclasses.replace(m, resample=False))
    g = central.grades
    assert np.allclose(g.sum(-1), central.batch.pupils[0], rtol=1e-5)
    for lv in range(len(LEVELS)):
        mask = m.school_level == lv
        # entrants: seated in grade 1 (own zone or elsewhere) + unmet = asked for
        seated = g[:, mask, 0].sum(-1)
        asked = central.batch.zone_entrants[0, lv].sum(-1)
        unmet = central.batch.unmet[0, lv].sum(-1)
        assert np.allclose(seated + unmet, asked, rtol=1e-4)
        # nobody enters beyond a school's entry seats
        assert (g[:, mask, 0] <= m.seats[:, mask] + 1e-6).all()
    assert (b.outside >= 0).all() and (b.unmet >= 0).all()


def test_classes_follow_the_caps(model):
    central = central_projection(dataclasses.replace(model, resample=False))
    grades = central.grades
    for s in range(len(model.school_ids)):
        n = np.floor(grades[:, s] + 0.5)
        need = np.ceil(n / model.caps[s]).sum(axis=1)
        assert np.array_equal(central.batch.classes[0, :, s], need), s
    kg = model.school_level == 0
    assert (model.caps[kg, :3] == [25, 30, 35]).all()
    assert (model.caps[model.school_level == 1, :6] == 45).all()
    assert (model.caps[model.school_level == 2, :3] == 50).all()


def test_2021_primary_has_no_shortfall_the_district_can_absorb(district, enrolment):
    """Unmet compulsory-age entrants only when every public school of the level is full."""
    results = forecast(district, years=(2021, 2030), runs=200, seed="absorb", chances=False)
    m, b = results.model, results.batch
    primary = LEVELS.index("primary")
    assert (b.unmet[:, primary, 0].sum(-1) < 0.5).all()  # 2021
    public = (m.school_level == primary)[None, :] & (m.public == 1)
    for lv in (1, 2):
        mask = (m.school_level == lv)[None, :] & (m.public == 1)
        for y in range(len(m.years)):
            short = b.unmet[:, lv, y].sum(-1) > 0.5
            if short.any():
                entrants = central_projection(m).grades[y, :, 0]
                full = np.isclose(entrants[mask[y]], m.seats[y, mask[y]], rtol=1e-4)
                assert full.all(), (lv, y)
    assert public.any()


def test_zero_variance_replications_are_identical(model):
    none = dataclasses.replace(model, resample=False)
    b = simulate(none, 4, seed=9).batch
    for name in BATCH_ARRAYS:
        values = getattr(b, name)
        assert (values == values[:1]).all(), name
    spread = simulate(model, 50, seed=9).batch.pupils.std(axis=0)
    assert spread[-1].sum() > 0


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
    for name in (*BATCH_ARRAYS, "red_count", "entry_tenths"):
        assert np.array_equal(getattr(one.batch, name), getattr(two.batch, name)), name
    assert one.batch.entry_tenths.sum() > 0
    assert np.array_equal(one.chance_sums, two.chance_sums)
    assert not np.array_equal(one.batch.pupils, simulate(model, 60, seed=12).batch.pupils)


@pytest.mark.parametrize("shared_memory", [True, False])
def test_dask_gives_the_in_process_results(model, district, shared_memory, monkeypatch, tmp_path):
    """Workers of this machine write into shared memory; others (here: no shared memory)
    send their results back; either way the in-process results."""
    pytest.importorskip("distributed")
    import sim.forecast

    if not shared_memory:
        monkeypatch.setattr(sim.forecast, "SHARED_MEMORY", tmp_path / "none")
    elif not sim.forecast.SHARED_MEMORY.is_dir():
        pytest.skip("no /dev/shm on this machine")
    else:  # a folder of this test's own there, to see that the run leaves nothing behind
        shm = Path(tempfile.mkdtemp(dir=sim.forecast.SHARED_MEMORY))
        monkeypatch.setattr(sim.forecast, "SHARED_MEMORY", shm)
    chance = chance_model(district, model)
    local = simulate(model, 24, seed=3, chance=chance, chunk=8)
    remote = simulate(model, 24, seed=3, chance=chance, chunk=8, dask="local:2")
    for name in (*BATCH_ARRAYS, "red_count", "entry_tenths"):
        assert np.array_equal(getattr(local.batch, name), getattr(remote.batch, name)), name
        assert getattr(local.batch, name).dtype == getattr(remote.batch, name).dtype, name
    assert np.array_equal(local.chance_sums, remote.chance_sums)
    if shared_memory:  # the run's files are gone (its arrays keep their mappings)
        assert not any(shm.iterdir())
        shm.rmdir()


def test_dask_tasks_write_their_rows_into_the_shared_files(model, district, tmp_path):
    """The worker side of the shared-memory path, without Dask: each task fills its rows of
    the files; a worker that does not see the folder sends its whole result instead."""
    import sim.forecast as f

    chance = chance_model(district, model)
    local = simulate(model, 16, seed=5, chance=chance, chunk=8)
    root = root_key(5)
    out = f.empty_batch(model, 0, 16)
    layout = f._layout(out)
    for name, (shape, dtype) in layout.items():
        (tmp_path / name).write_bytes(bytes(math.prod(shape) * np.dtype(dtype).itemsize))
    sums = []
    for start in (8, 0):
        part, n = f._dask_rows(model, chance, root, start, start + 8, None, str(tmp_path), layout)
        assert n == 8 and part.pupils is None
        sums.append(part.chance_sums)
    arrays = f._mapped(str(tmp_path), layout, "r")
    for name in BATCH_ARRAYS:
        assert np.array_equal(arrays[name], getattr(local.batch, name)), name
    assert np.array_equal(sums[0] + sums[1], local.chance_sums)
    elsewhere = f._dask_rows(model, chance, root, 0, 8, None, str(tmp_path / "gone"), layout)
    rows = f._rows(f.empty_batch(model, 0, 8), 0, 8)
    f._widen(model, elsewhere, rows)
    for name in BATCH_ARRAYS:
        assert np.array_equal(getattr(rows, name), getattr(local.batch, name)[:8]), name


def test_quantiles_are_monotone(district, enrolment):
    results = forecast(district, years=(2021, 2024), runs=40, seed=2, chances=False)
    q = len(QUANTILE_NAMES)
    for row in forecast_rows(results):
        values = [float(v) for v in row[-q:]]
        assert values == sorted(values), row


# --- births: the scenarios hold the recorded decline ---------------------------------------------


def test_birth_scenarios_fitted_on_2020_hold_the_recorded_2021_2025_births(district, enrolment):
    m = build_cohort_model(district, enrolment, years=(2021, 2030), births_until=2020)
    b = simulate(m, 4000, seed="births").batch.births.sum(axis=2)
    recorded = {
        y: district.births.births[district.births.year == y].sum() for y in range(2020, 2026)
    }
    for year in range(2021, 2026):
        t = year - m.first_birth_year
        q05, q95 = np.quantile(b[:, t], [0.05, 0.95])
        assert q05 <= recorded[year] <= q95, (year, q05, recorded[year], q95)


# --- indicators and teachers ----------------------------------------------------------------------


def test_indicators_are_bounded_and_use_their_definitions(district, enrolment):
    results = forecast(district, years=(2021, 2025), runs=30, seed="ind", chances=False)
    values = indicator_values(results)
    m, b = results.model, results.batch
    kg = b.sector_pupils[:, 0]
    assert np.allclose(values["public_share"], kg[..., 0] / kg.sum(-1))
    assert np.allclose(values["inclusive_share_children"], (kg[..., 0] + kg[..., 1]) / kg.sum(-1))
    by_kg = values["inclusive_share_kindergartens"][0]
    open_kg = (m.seats > 0) & (m.school_level == 0)
    assert np.allclose(by_kg, (open_kg & (m.sector <= 1)).sum(1) / open_kg.sum(1))
    for key in ("public_share", "inclusive_share_children", "trained_teachers_share"):
        assert ((values[key] >= 0) & (values[key] <= 1)).all(), key


def test_trained_share_by_hand():
    r = StaffRatios(attrition=0.1, hires_trained=1.0)
    # 100 teachers, 60 trained, 50 classes (2 per class); classes grow to 55: need 110
    share = trained_share(np.array([[55.0]]), 100, 60, 50.0, r)
    # stay 90 (54 trained), hire 20 trained: 74 / 110
    assert share[0, 0] == pytest.approx(74 / 110)
    falling = trained_share(np.array([[30.0]]), 100, 60, 50.0, r)
    assert falling[0, 0] == pytest.approx(0.6)  # no hires, the same share leaves


def test_ratio_overrides_are_checked():
    r = StaffRatios().with_overrides(["primary=20", "attrition=0.07"])
    assert r.primary == 20 and r.attrition == 0.07
    for bad in (["primary"], ["nope=1"], ["junior=x"], ["junior=-1"]):
        with pytest.raises(ValueError):
            StaffRatios().with_overrides(bad)


# --- outputs -------------------------------------------------------------------------------------


def test_outputs_are_byte_identical_with_bom_and_names(tmp_path: Path):
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
    want = {
        "forecast.csv", "schools.csv", "teacher_posts.csv", "indicators.csv",
        "shortfall_risk.csv", "chances.csv", "migration.csv", "utilisation.png",
    }  # fmt: skip
    assert set(seen[0]) >= want
    schools = seen[0]["schools.csv"]
    assert schools.startswith(b"\xef\xbb\xbf") and "新道街小学".encode() in schools
    text = summary.render()
    assert "Plan indicators, 2025" in text and "学位预警" in text and "编制" in text
    assert "专任教师接受专业教育的比例" in seen[0]["indicators.csv"].decode("utf-8-sig")
    posts = seen[0]["teacher_posts.csv"].decode("utf-8-sig")
    assert "2021" in posts and "2024" in posts and "中央编办发〔2014〕72号" in posts
    with pytest.raises(FileExistsError):
        run_forecast(DATASET, runs=1, seed="s", out_dir=tmp_path / "a")


def test_school_status_and_consolidation(district, enrolment):
    results = forecast(district, years=(2021, 2030), runs=50, seed="st", chances=False)
    t = school_tables(results)
    m = results.model
    assert set(np.unique(t["status"])) <= {"red", "amber", "green", "closed"}
    util = t["util"]
    green = t["status"] == "green"
    assert (util[green] <= 0.9 + 1e-9).all()
    kg = m.school_level == 0
    assert t["candidate"][kg].sum() > 0  # falling births leave kindergarten places empty
    assert (util[-1, t["candidate"]] < 0.6).all()


def test_bad_enrolment_names_file_line_and_column(district_copy):
    from conftest import run_cli

    path = district_copy / "enrolment.csv"
    lines = path.read_text().splitlines()
    lines[3] = "K001,2016,K7,12"
    lines[5] = "NOPE,2016,K1,3"
    lines[7] = "K001,2017,K2,-4"
    path.write_text("\n".join(lines) + "\n")
    result = run_cli("forecast", district_copy, "--runs", "2", "--seed", "x", "--out",
                     district_copy.parent / "out")  # fmt: skip
    assert result.exit_code == 2
    assert "enrolment.csv:4: grade: 'K7' is not a kindergarten grade" in result.output
    assert "enrolment.csv:6: school_id: 'NOPE' is not in schools.csv" in result.output
    assert "enrolment.csv:8: pupils: -4 is below the minimum of 0" in result.output
    assert not (district_copy.parent / "out").exists()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", "enrolment.csv: has no rows"),
        ("K001,2020,K1,12\n", "enrolment.csv: year: needs at least two years"),
    ],
)
def test_enrolment_without_history_exits_2(district_copy, body, expected):
    from conftest import run_cli

    (district_copy / "enrolment.csv").write_text("school_id,year,grade,pupils\n" + body)
    result = run_cli("forecast", district_copy, "--runs", "2", "--seed", "x", "--out",
                     district_copy.parent / "out")  # fmt: skip
    assert result.exit_code == 2 and expected in result.output


def test_years_the_history_cannot_start_exit_2(tmp_path):
    from conftest import run_cli

    result = run_cli("forecast", "--years", "2022-2030", "--runs", "2", "--seed", "x", "--out",
                     tmp_path / "o")  # fmt: skip
    assert result.exit_code == 2 and "the year after 2020" in result.output


def test_bad_ratio_exits_2(tmp_path):
    from conftest import run_cli

    result = run_cli("forecast", "--runs", "2", "--seed", "x", "--ratio", "primary=zero",
                     "--out", tmp_path / "o")  # fmt: skip
    assert result.exit_code == 2 and "--ratio" in result.output


# --- the backtest ------------------------------------------------------------------------------


def test_backtest_beats_both_naive_baselines(district, enrolment):
    bt = run_backtest(district, enrolment, fit=(2016, 2018))
    assert bt.years == [2019, 2020]
    for lv in range(len(LEVELS)):
        model = bt.mape("model", lv)
        assert model < bt.mape("last_value", lv) and model < bt.mape("linear", lv), LEVELS[lv]


# --- admission chances -------------------------------------------------------------------------


def test_pool_matches_the_file_when_nothing_varies(district, enrolment):
    # The chances year is the file's year (2021): the pool has the file's size per zone.
    none = build_cohort_model(district, enrolment, years=(2021, 2022), resample=False)
    chance = chance_model(district, none)
    batch = simulate(none, 2, seed=1).batch
    counts = pool_counts(none, chance, batch)
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


def test_bad_preschool_trained_names_file_line_and_column(district_copy):
    from conftest import run_cli

    path = district_copy / "teachers.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0] + ",yes"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_cli("forecast", district_copy, "--runs", "2", "--seed", "x", "--out",
                     district_copy.parent / "out")  # fmt: skip
    assert result.exit_code == 2
    assert "teachers.csv:3: preschool_trained: 'yes' is not 0 or 1" in result.output
