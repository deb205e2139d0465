"""Monte Carlo capacity forecasts: demand, shortfall risk, the plan's targets, admission chances.

`seats forecast [DIR] --years 2021-2030 --runs 10000 --seed S [--plan plan.csv]
[--dask ADDRESS|local:N] --out DIR [--force]` calls :func:`run_forecast`.

Model: sim.projection (births trend with resampled residuals and low / mid / high scenarios,
calibrated take-up and migrant inflow with random walks, capacity by year under the building
plan). Each replication and year: demand per zone and level, children seated by an exact
maximum flow through the network's eligibility (sim.mc_kernels; public schools first), the
shortfall per zone and per group, and the plan's kindergarten indicators (毛入园率, 普惠率,
公办占比) against the 2025 targets.

Admission chances: the year's kindergarten lottery (电脑派位) re-run on synthetic applicant pools.
Each replication takes, per zone, round(A_z x E_z / E0_z) applicants drawn with replacement from
the applicants file's applicants of that zone (A_z of them), E_z being the replication's entrants
(children aged 3 x take-up) of the zone in the chances year and E0_z the deterministic entrants of
the file's year; each keeps their choices, category and sibling, so their tiers (policy file).
Fresh random lottery numbers, the policy's mechanism (seats.lottery.kernels), and counts per school,
tier and choice position. A probability is admitted / applications pooled over replications,
with the standard error of that ratio estimator across replications. Planned schools take no
applications (the file's choices do not name them); expansions add seats.

Engine: replications in chunks of CHUNK, each chunk a numba prange over its replications (own
rows), reduced serially in replication order; each replication's random numbers depend only on
(seed, replication), so the thread count, the chunking and Dask (``--dask ADDRESS`` of a running
scheduler, or ``local:N`` for a LocalCluster of N single-threaded workers) change nothing.

Outputs (all or nothing, byte-identical for the same inputs and seed): forecast.csv,
shortfall_risk.csv, targets.csv, chances.csv, forecast_fan.png, shortfall_risk.png.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np

from seats.io.errors import Problems
from seats.io.model import INCLUSIVE_SECTORS, District, load_district, read_catchments
from seats.io.output import check_output_folder, staged_output, write_csv
from seats.io.summary import PLAN_TARGETS_2025, format_table
from seats.io.tables import find_table, read_table
from seats.lottery import Lottery, entry_tiers
from seats.lottery.policy import DEFAULT_POLICY, load_policy
from sim import mc_kernels
from sim.plan import read_plan
from sim.projection import (
    SECTOR_NAMES,
    ForecastModel,
    KernelInputs,
    Uncertainty,
    build_model,
    pack,
)

QUANTILES = (0.05, 0.25, 0.50, 0.75, 0.95)
QUANTILE_NAMES = ("q05", "q25", "q50", "q75", "q95")
CHUNK = 500  # replications per kernel call / Dask task; results do not depend on it
TARGET_YEAR = 2025
N_SECTORS = len(SECTOR_NAMES)


def root_key(seed) -> np.uint64:
    """The stream root of a text seed: SeedSequence over the SHA-256 of its UTF-8 text."""
    entropy = int.from_bytes(hashlib.sha256(str(seed).encode()).digest(), "big")
    return np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0]


# --- admission chances: the inputs ---------------------------------------------------------------


@dataclass(frozen=True)
class ChanceModel:
    """The applicants file as arrays for chances_kernel."""

    file: str
    year: int  # the chances year (a forecast year)
    file_year: int
    school_ids: list[str]
    school_names: list[str]
    school_sector: list[str]
    seats: np.ndarray  # int64[schools] in the chances year
    tier_names: list[str]
    mechanism: int
    multiple: bool
    zone_ptr: np.ndarray  # applicants grouped by zone
    zone_apps: np.ndarray
    app_ptr: np.ndarray
    app_school: np.ndarray  # int32
    app_tier: np.ndarray  # int64
    base_count: np.ndarray  # int64[zones] applicants of the file per zone
    reference: np.ndarray  # float64[zones] deterministic entrants of the file year
    resample: bool = True

    @property
    def max_choices(self) -> int:
        return int(np.diff(self.app_ptr).max(initial=0))


def chance_model(
    district: District, model: ForecastModel, *, year: int | None = None
) -> ChanceModel | None:
    """The first kindergarten applicants file of the district, with its policy file, or None."""
    files = [n for n in sorted(district.applicant_files) if "kindergarten" in n]
    if not files:
        return None
    name = files[0]
    apps = district.applicant_files[name]
    policy_path = district.folder / "policy_kindergarten.toml"
    policy = load_policy(policy_path) if policy_path.exists() else DEFAULT_POLICY
    year = int(model.years[0]) if year is None else year
    match = re.search(r"(19|20)\d\d", name)
    file_year = int(match.group(0)) if match else year
    kindergarten = model.levels[0]
    at = {sid: k for k, sid in enumerate(kindergarten.school_ids)}
    y = int(np.searchsorted(model.years, year))
    seats = np.array(
        [kindergarten.seats[y, at[sid]] if sid in at else 0 for sid in district.schools.ids],
        dtype=np.int64,
    )
    catchments = None
    catchments_path = find_table(district.folder, "catchments")
    if catchments_path is not None:  # 划片: the in_catchment tiers need it
        problems = Problems()
        catchments = read_catchments(read_table(catchments_path, problems), district.schools, None)
        problems.raise_if_any()
    lottery = Lottery(district.schools, apps, policy, seed="chances", catchments=catchments)
    return lottery_chance_model(
        lottery,
        model.zone_ids,
        seats=seats,
        file=name,
        year=year,
        file_year=file_year,
        reference=_deterministic_entrants(model, file_year),
    )


def lottery_chance_model(
    lottery: Lottery,
    zone_ids: list[str],
    *,
    seats: np.ndarray | None = None,
    file: str = "",
    year: int = 0,
    file_year: int = 0,
    reference: np.ndarray | None = None,
) -> ChanceModel:
    """A validated lottery as a ChanceModel; without `reference` the pool is the file itself."""
    apps, schools, policy = lottery.applicants, lottery.schools, lottery.policy
    zone_at = {z: i for i, z in enumerate(zone_ids)}
    zone = np.array([zone_at[z] for z in apps.zone_ids], dtype=np.int64)
    n_z = len(zone_ids)
    count = np.bincount(zone, minlength=n_z).astype(np.int64)
    table = schools.table
    names = table.text("name", required=False) if table is not None else [""] * len(schools)
    sectors = table.text("sector", required=False) if table is not None else [""] * len(schools)
    return ChanceModel(
        file=file,
        year=year,
        file_year=file_year,
        school_ids=list(schools.ids),
        school_names=list(schools.name) if schools.name else list(names),
        school_sector=[str(x) for x in schools.sector]
        if schools.sector is not None
        else list(sectors),
        seats=np.asarray(schools.seats if seats is None else seats, dtype=np.int64),
        tier_names=policy.tier_names,
        mechanism=mc_kernels.IMMEDIATE
        if policy.mechanism == "immediate_acceptance"
        else mc_kernels.DEFERRED,
        multiple=policy.tie_break == "multiple",
        zone_ptr=np.concatenate([[0], np.cumsum(count)]).astype(np.int64),
        zone_apps=np.argsort(zone, kind="stable").astype(np.int64),
        app_ptr=apps.choice_ptr.astype(np.int64),
        app_school=apps.choice_school.astype(np.int32),
        app_tier=entry_tiers(lottery).astype(np.int64),
        base_count=count,
        reference=np.ones(n_z) if reference is None else reference,
        resample=reference is not None,
    )


def _deterministic_entrants(model: ForecastModel, year: int) -> np.ndarray:
    """Children aged 3 x take-up per zone in `year` under the deterministic projection."""
    kindergarten = model.levels[0]
    t = year - kindergarten.young - model.first_birth_year
    if t < len(model.births_known):
        births = model.births_known[t]
    else:
        tr = model.trend
        h = t - len(model.births_known) + 1
        drift = tr.slope * sum(tr.damping**k for k in range(1, h + 1))
        births = np.exp(tr.anchor + drift) * tr.zone_share
    return births * (kindergarten.factor_fixed + kindergarten.factor_var)


# --- the engine ----------------------------------------------------------------------------------


@dataclass
class Batch:
    """Replications start..stop: per-replication arrays and the chances' integer sums."""

    start: int
    births: np.ndarray  # float64[r, birth years, zones]
    factor: np.ndarray  # float64[r, levels, years]
    population: np.ndarray  # float64[r, levels, years]
    demand: np.ndarray  # int64[r, levels, years, zones]
    seated: np.ndarray
    short: np.ndarray  # int8: zone in a shortage region
    sector: np.ndarray  # int64[r, levels, years, sectors]
    group_seated: np.ndarray  # int64[r, levels, years, groups]
    group_unmet: np.ndarray
    chance_sums: np.ndarray | None = None  # int64[5, schools, tiers, choices]


def empty_batch(inputs: KernelInputs, start: int, n: int) -> Batch:
    """Uninitialised arrays for n replications from `start`."""
    n_l, n_y = inputs.cap.shape[0], inputs.cap.shape[1]
    n_z = inputs.zone_share.shape[0]
    n_g = inputs.group_ptr.shape[1] - 1
    return Batch(
        start=start,
        births=np.empty((n, inputs.n_birth_years, n_z)),
        factor=np.empty((n, n_l, n_y)),
        population=np.empty((n, n_l, n_y)),
        demand=np.empty((n, n_l, n_y, n_z), dtype=np.int64),
        seated=np.empty((n, n_l, n_y, n_z), dtype=np.int64),
        short=np.empty((n, n_l, n_y, n_z), dtype=np.int8),
        sector=np.empty((n, n_l, n_y, N_SECTORS), dtype=np.int64),
        group_seated=np.empty((n, n_l, n_y, n_g), dtype=np.int64),
        group_unmet=np.empty((n, n_l, n_y, n_g), dtype=np.int64),
    )


def _rows(batch: Batch, lo: int, hi: int) -> Batch:
    """Rows lo..hi-1 of every array of `batch`, as views (replications batch.start + lo..)."""
    arrays = {name: getattr(batch, name)[lo:hi] for name in BATCH_ARRAYS}
    return Batch(start=batch.start + lo, **arrays)


BATCH_ARRAYS = (
    "births", "factor", "population", "demand", "seated", "short", "sector", "group_seated",
    "group_unmet",
)  # fmt: skip


def simulate_batch(
    inputs: KernelInputs,
    chance: ChanceModel | None,
    root: np.uint64,
    start: int,
    stop: int,
    threads: int | None = None,
    out: Batch | None = None,
) -> Batch:
    """Replications start..stop-1 (a Dask task, or one chunk in-process), into `out` (arrays
    of stop - start rows, e.g. views of the whole run's arrays) or new arrays."""
    if threads is not None:
        numba.set_num_threads(threads)
    b = empty_batch(inputs, start, stop - start) if out is None else out
    i = inputs
    mc_kernels.forecast_kernel(
        root, start, i.births_known, len(i.births_known), i.anchor, i.slope, i.slope_se,
        i.damping, i.residuals, i.scenario_cum, i.scenario_mult, i.zone_share, i.years,
        i.base_year, i.first_birth_year, i.level_young, i.level_old, i.factor_fixed,
        i.factor_var, i.factor_sigma, i.cap, i.stage, i.active, i.zone_ptr, i.edge_school,
        i.school_ptr, i.school_edge, i.edge_zone, i.group_ptr, i.group_school,
        b.births, b.factor, b.population, b.demand, b.seated, b.short, b.sector,
        b.group_seated, b.group_unmet, numba.get_num_threads(),
    )  # fmt: skip
    if chance is not None:
        b.chance_sums = run_chances(chance, root, start, pool_counts(inputs, chance, b))
    return b


def pool_counts(inputs: KernelInputs, chance: ChanceModel, batch: Batch) -> np.ndarray:
    """Applicants per replication and zone: the file's, scaled by the entrants (module doc)."""
    if not chance.resample:
        return np.tile(chance.base_count, (len(batch.births), 1))
    y = int(np.searchsorted(inputs.years, chance.year))
    born = batch.births[:, chance.year - int(inputs.level_young[0]) - inputs.first_birth_year]
    entrants = born * batch.factor[:, 0, y, None]
    ratio = np.divide(
        entrants, chance.reference, out=np.zeros_like(entrants), where=chance.reference > 0
    )
    return np.floor(chance.base_count * ratio + 0.5).astype(np.int64)


def run_chances(chance: ChanceModel, root, start: int, counts: np.ndarray) -> np.ndarray:
    """Lottery replications start.. with `counts` applicants per zone; returns the integer sums
    over them of applications n, admissions a, n^2, a^2 and n*a per (school, tier, choice)."""
    counts = np.ascontiguousarray(counts, dtype=np.int64)
    zone_rows, tier_bits = _padded_choices(chance)
    n_schools, n_tiers = len(chance.school_ids), len(chance.tier_names)
    width = zone_rows.shape[1] - 1
    parts = max(1, min(numba.get_num_threads(), len(counts)))
    sums = np.empty((parts, 5, (n_schools << tier_bits) * width), dtype=np.int64)
    mc_kernels.chances_kernel(
        root, start, counts, chance.resample, chance.zone_ptr, zone_rows, tier_bits,
        chance.seats, chance.mechanism, chance.multiple, int(counts.sum(1).max(initial=0)), sums,
    )  # fmt: skip
    padded = sums.sum(0).reshape(5, n_schools, 1 << tier_bits, width)
    return np.ascontiguousarray(padded[:, :, :n_tiers, : chance.max_choices])


def _padded_choices(chance: ChanceModel) -> tuple[np.ndarray, int]:
    """The file's applicants in zone order, one int32 row each: the number of choices, then
    each choice as ``school << tier_bits | tier``, padded with zeros (chances_kernel)."""
    app_len = np.diff(chance.app_ptr)
    tier_bits = max(1, (len(chance.tier_names) - 1).bit_length())
    if (len(chance.school_ids) << tier_bits) >= 2**31:
        raise ValueError("too many schools and tiers for the chances kernel")
    width = max(chance.max_choices, 1)
    app_slot = np.zeros((len(app_len), width + 1), dtype=np.int32)
    app_slot[:, 0] = app_len
    row = np.repeat(np.arange(len(app_len)), app_len)
    position = np.arange(len(chance.app_school)) - np.repeat(chance.app_ptr[:-1], app_len)
    app_slot[row, position + 1] = (
        chance.app_school.astype(np.int64) << tier_bits
    ) | chance.app_tier
    return np.ascontiguousarray(app_slot[chance.zone_apps]), tier_bits


@dataclass
class Results:
    model: ForecastModel
    runs: int
    seed: str
    batch: Batch  # every replication, in order
    chance: ChanceModel | None
    chance_sums: np.ndarray | None


def _sum_chances(batches: list[Batch]) -> np.ndarray | None:
    if batches[0].chance_sums is None:
        return None
    sums = batches[0].chance_sums.copy()
    for b in batches[1:]:
        sums += b.chance_sums
    return sums


def simulate(
    model: ForecastModel,
    runs: int,
    seed,
    *,
    chance: ChanceModel | None = None,
    dask: str | None = None,
    progress: Callable[[int], None] | None = None,
    chunk: int = CHUNK,
    worker_threads: int | None = None,
) -> Results:
    """`runs` replications in chunks, in-process or on Dask; identical results either way.
    `worker_threads` sets numba's threads in each Dask task (default: the worker's, or 1 for a
    ``local:N`` cluster of single-threaded workers)."""
    if runs < 1:
        raise ValueError("runs must be at least 1")
    inputs = pack(model)
    root = root_key(seed)
    spans = [(s, min(s + chunk, runs)) for s in range(0, runs, chunk)]
    # Every chunk writes straight into its rows of the run's arrays: no copy at the end.
    batch = empty_batch(inputs, 0, runs)
    if dask:
        batch.chance_sums = _simulate_dask(
            dask, inputs, chance, root, spans, progress, worker_threads, batch
        )
    else:
        batches = []
        for start, stop in spans:
            rows = _rows(batch, start, stop)
            batches.append(simulate_batch(inputs, chance, root, start, stop, out=rows))
            if progress is not None:
                progress(stop - start)
        batch.chance_sums = _sum_chances(batches)
    return Results(model, runs, str(seed), batch, chance, batch.chance_sums)


def _narrow(values: np.ndarray) -> np.ndarray:
    """An integer array in the smallest signed type holding its values (exact), else as is."""
    if values.dtype.kind != "i" or values.size == 0:
        return values
    low, high = int(values.min()), int(values.max())
    for kind in (np.int8, np.int16, np.int32):
        info = np.iinfo(kind)
        if info.min <= low and high <= info.max:
            return values if values.dtype == kind else values.astype(kind)
    return values


def _dask_batch(inputs, chance, root, start, stop, threads) -> Batch:
    """simulate_batch on a worker, its integer arrays narrowed for the trip (_narrow): the
    counts fit in 16 bits, so the result is about a third of the bytes to send and receive."""
    b = simulate_batch(inputs, chance, root, start, stop, threads)
    for name in BATCH_ARRAYS:
        setattr(b, name, _narrow(getattr(b, name)))
    return b


def _simulate_dask(address, inputs, chance, root, spans, progress, threads, out: Batch):
    """The spans as Dask tasks, each result copied into its rows of `out` (widened back to
    out's types, exactly) as it arrives and then released; returns the summed chance sums."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as err:
        raise RuntimeError(
            'Dask is an optional extra: pip install "seats[dask]" (or "dask[distributed]")'
        ) from err
    cluster = None
    if address.startswith("local:"):
        workers = int(address.split(":", 1)[1])
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        if threads is None:
            threads = 1  # one core per worker process: no oversubscription
        client = Client(cluster)
    else:
        client = Client(address)
    try:
        shared = client.scatter([inputs, chance], broadcast=True)
        futures = [
            client.submit(_dask_batch, shared[0], shared[1], root, start, stop, threads, pure=False)
            for start, stop in spans
        ]
        sums = []
        for future in as_completed(futures):
            part = future.result()
            future.release()  # the worker frees its copy now, not at the end of the run
            rows = _rows(out, part.start, part.start + len(part.births))
            for name in BATCH_ARRAYS:
                np.copyto(getattr(rows, name), getattr(part, name))
            sums.append(Batch(part.start, *[None] * len(BATCH_ARRAYS), part.chance_sums))
            if progress is not None:
                progress(len(part.births))
        return _sum_chances(sorted(sums, key=lambda b: b.start))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# --- reductions ----------------------------------------------------------------------------------


def quantiles(values: np.ndarray) -> np.ndarray:
    """The QUANTILES over the first axis (replications), linear interpolation."""
    return np.quantile(values, QUANTILES, axis=0)


def indicators(results: Results, level: int = 0) -> dict[str, np.ndarray]:
    """The plan's kindergarten indicators per replication and year (seated / population etc.)."""
    b = results.batch
    seated = b.sector[:, level].sum(axis=-1).astype(np.float64)
    public = b.sector[:, level, :, SECTOR_NAMES.index("public")].astype(np.float64)
    inclusive = sum(b.sector[:, level, :, SECTOR_NAMES.index(s)] for s in INCLUSIVE_SECTORS).astype(
        np.float64
    )
    safe = np.where(seated > 0, seated, 1.0)
    return {
        "gross_kindergarten_enrolment": seated / b.population[:, level],
        "inclusive_share": np.where(seated > 0, inclusive / safe, 0.0),
        "public_share": np.where(seated > 0, public / safe, 0.0),
    }


def _num(x: float, digits: int) -> str:
    return f"{x:.{digits}f}"


FORECAST_HEADER = ["level", "year", "scope", "id", "name", "measure", "mean", *QUANTILE_NAMES]


def forecast_rows(results: Results) -> list[list]:
    model, b = results.model, results.batch
    rows = []

    def add(level, year, scope, ident, name, measure, values, digits):
        q = quantiles(values)
        rows.append(
            [level, year, scope, ident, name, measure, _num(values.mean(), digits)]
            + [_num(v, digits) for v in q]
        )

    for k, lv in enumerate(model.levels):
        share = indicators(results, k) if lv.name == "kindergarten" else {}
        for y, year in enumerate(model.years.tolist()):
            demand = b.demand[:, k, y]
            seated = b.seated[:, k, y]
            capacity = np.full(len(demand), lv.cap[y].sum(), dtype=np.int64)
            district = [
                ("population", b.population[:, k, y], 1),
                ("demand", demand.sum(1), 1),
                ("capacity", capacity, 1),
                ("seated", seated.sum(1), 1),
                ("shortfall", (demand - seated).sum(1), 1),
            ]
            district += [
                (f"seated_{name}", b.sector[:, k, y, s], 1) for s, name in enumerate(SECTOR_NAMES)
            ]
            district += [(name, v[:, y], 4) for name, v in share.items()]
            for measure, values, digits in district:
                add(lv.name, year, "district", "", "", measure, values, digits)
            for z, zone in enumerate(model.zone_ids):
                name = model.zone_names[z]
                add(lv.name, year, "zone", zone, name, "demand", demand[:, z], 1)
                add(lv.name, year, "zone", zone, name, "seated", seated[:, z], 1)
                add(lv.name, year, "zone", zone, name, "shortfall", demand[:, z] - seated[:, z], 1)
            for g, group in enumerate(lv.group_ids):
                name = lv.group_names[g]
                add(lv.name, year, "group", group, name, "seated", b.group_seated[:, k, y, g], 1)
                add(lv.name, year, "group", group, name, "shortfall_in_reach",
                    b.group_unmet[:, k, y, g], 1)  # fmt: skip
    return rows


RISK_HEADER = ["level", "year", "zone_id", "name", "p_shortfall", "mean_shortfall", "q95_shortfall"]


def risk_rows(results: Results) -> list[list]:
    """P(the zone is in a shortage region: some children of it or of zones competing for the same
    full schools cannot be seated), and its shortfall in the flow."""
    model, b = results.model, results.batch
    rows = []
    for k, lv in enumerate(model.levels):
        for y, year in enumerate(model.years.tolist()):
            for z, zone in enumerate(model.zone_ids):
                short = b.demand[:, k, y, z] - b.seated[:, k, y, z]
                rows.append(
                    [
                        lv.name,
                        year,
                        zone,
                        model.zone_names[z],
                        _num(b.short[:, k, y, z].mean(), 4),
                        _num(short.mean(), 1),
                        _num(np.quantile(short, 0.95), 1),
                    ]
                )
    return rows


def shortfall_probability(results: Results) -> np.ndarray:
    """float[levels, years, zones]."""
    return results.batch.short.mean(axis=0)


TARGETS_HEADER = ["indicator", "target", "year", "p_meet", "mean", *QUANTILE_NAMES]


def target_year(model: ForecastModel) -> int:
    years = model.years.tolist()
    return TARGET_YEAR if TARGET_YEAR in years else years[-1]


def target_rows(results: Results) -> list[list]:
    model = results.model
    year = target_year(model)
    y = model.years.tolist().index(year)
    rows = []
    for name, values in indicators(results, 0).items():
        v = values[:, y]
        target = PLAN_TARGETS_2025[name]
        rows.append(
            [name, _num(target, 2), year, _num((v >= target).mean(), 4), _num(v.mean(), 4)]
            + [_num(q, 4) for q in quantiles(v)]
        )
    return rows


CHANCES_HEADER = [
    "school_id", "name", "sector", "seats", "tier", "choice", "applications_per_run",
    "admitted_per_run", "probability", "se",
]  # fmt: skip


def chance_rows(results: Results) -> list[list]:
    """Per school, tier and choice position (1, 2, ... and "any"): P(admitted there | applied)."""
    chance, sums = results.chance, results.chance_sums
    if chance is None or sums is None:
        return []
    runs = results.runs
    rows = []
    for s, school in enumerate(chance.school_ids):
        if sums[0, s].sum() == 0:
            continue
        for t, tier in enumerate(chance.tier_names):
            cells = [(str(j + 1), sums[:, s, t, j]) for j in range(chance.max_choices)]
            cells.append(("any", sums[:, s, t].sum(axis=-1)))
            for label, (n, a, nn, aa, na) in cells:
                if n == 0:
                    continue
                p = a / n
                # Ratio estimator across replications: var = sum (a_r - p n_r)^2 / (R ).
                spread = max(aa - 2 * p * na + p * p * nn, 0.0)
                se = np.sqrt(spread / (runs * (runs - 1))) / (n / runs) if runs > 1 else 0.0
                rows.append(
                    [
                        school,
                        chance.school_names[s],
                        chance.school_sector[s],
                        int(chance.seats[s]),
                        tier,
                        label,
                        _num(n / runs, 2),
                        _num(a / runs, 2),
                        _num(p, 4),
                        _num(se, 4),
                    ]
                )
    return rows


# --- the run -------------------------------------------------------------------------------------


@dataclass
class ForecastSummary:
    out_dir: Path
    results: Results
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        r = self.results
        m = r.model
        tr = m.trend
        first, last = int(m.years[0]), int(m.years[-1])
        head = [
            f"Forecast {first}-{last}, {r.runs:,} runs, seed {r.seed} -> {self.out_dir}",
            f"  births: damped log-linear trend of {tr.years[0]}-{tr.years[-1]}, "
            f"{np.expm1(tr.slope):+.1%} a year (se {tr.slope_se:.3f}), damping {tr.damping:g}; "
            "scenarios "
            + ", ".join(f"{n} x{mult:g} (p {p:g})" for n, p, mult in m.uncertainty.scenarios),
        ]
        for lv in m.levels:
            what = "take-up" if lv.name == "kindergarten" else "1 + migrant inflow"
            head.append(
                f"  {lv.name}: {lv.enrolled:,} on roll / {lv.children:,} children aged "
                f"{lv.young}-{lv.old} in {m.base_year} = {lv.factor:.3f} ({what})"
            )
        head.append(f"  plan: {m.plan_name or 'none'}")
        head += [f"  note: {n}" for n in m.notes + self.notes]
        parts = ["\n".join(head)]

        b = r.batch
        rows = []
        for k, lv in enumerate(m.levels):
            for y, year in enumerate(m.years.tolist()):
                demand = b.demand[:, k, y].sum(1)
                short = demand - b.seated[:, k, y].sum(1)
                rows.append(
                    [
                        lv.name,
                        str(year),
                        _band(demand),
                        int(lv.cap[y].sum()),
                        _band(short),
                        f"{(b.short[:, k, y].any(axis=1)).mean():.0%}",
                    ]
                )
        parts.append(
            format_table(
                ["level", "year", "demand", "places", "shortfall", "P(some zone short)"],
                rows,
                "District, median [5%-95%]",
            )
        )
        year = target_year(m)
        parts.append(
            format_table(
                ["indicator", "target", "P(meet)", "median [5%-95%]"],
                [
                    [
                        row[0],
                        f"{float(row[1]):.0%}",
                        f"{float(row[3]):.1%}",
                        f"{float(row[7]):.2%} [{float(row[5]):.2%}-{float(row[9]):.2%}]",
                    ]
                    for row in target_rows(r)
                ],
                f"Plan targets, {year}",
            )
        )
        if r.chance is not None and r.chance_sums is not None:
            parts.append(self._chances())
        if self.files:
            parts.append("Written: " + ", ".join(self.files))
        return "\n\n".join(parts)

    def _chances(self) -> str:
        c, sums = self.results.chance, self.results.chance_sums
        first = sums[:, :, :, 0].sum(axis=2)  # over tiers, first choices
        ratio = first[0] / self.results.runs / np.maximum(c.seats, 1)
        worst = [s for s in np.argsort(-ratio, kind="stable")[:5] if first[0, s] > 0]
        rows = []
        for s in worst:
            row = [f"{c.school_ids[s]} {c.school_names[s]}", f"{ratio[s]:.2f}"]
            for t in range(len(c.tier_names)):
                n, a = sums[0, s, t, 0], sums[1, s, t, 0]
                row.append(f"{a / n:.0%}" if n else "-")
            rows.append(row)
        return format_table(
            ["school", "1st choices/seats", *c.tier_names],
            rows,
            f"Admission chances {c.year} as first choice, by tier ({c.file}; chances.csv has all)",
        )


def _band(values: np.ndarray) -> str:
    q = np.quantile(values, [0.05, 0.5, 0.95])
    return f"{q[1]:,.0f} [{q[0]:,.0f}-{q[2]:,.0f}]"


def forecast(
    district: District,
    *,
    years: tuple[int, int] = (2021, 2030),
    runs: int = 10_000,
    seed,
    plan=None,
    uncertainty: Uncertainty | None = None,
    dask: str | None = None,
    progress: Callable[[int], None] | None = None,
    chances: bool = True,
) -> Results:
    """The forecast without files."""
    model = build_model(district, years=years, plan=plan, uncertainty=uncertainty)
    chance = chance_model(district, model) if chances else None
    return simulate(model, runs, seed, chance=chance, dask=dask, progress=progress)


def write_outputs(results: Results, folder: Path) -> list[str]:
    from sim.forecast_plots import plot_fans, plot_risk  # matplotlib is slow to import

    written = []
    tables = [
        ("forecast.csv", FORECAST_HEADER, forecast_rows),
        ("shortfall_risk.csv", RISK_HEADER, risk_rows),
        ("targets.csv", TARGETS_HEADER, target_rows),
        ("chances.csv", CHANCES_HEADER, chance_rows),
    ]
    for name, header, rows_of in tables:
        write_csv(folder / name, header, rows_of(results))
        written.append(name)
    plot_fans(results, folder / "forecast_fan.png")
    plot_risk(results, folder / "shortfall_risk.png")
    return [*written, "forecast_fan.png", "shortfall_risk.png"]


def run_forecast(
    folder,
    *,
    years: tuple[int, int] = (2021, 2030),
    runs: int = 10_000,
    seed,
    plan_path=None,
    out_dir,
    force: bool = False,
    dask: str | None = None,
    progress: Callable[[int], None] | None = None,
    encoding: str | None = None,
) -> ForecastSummary:
    """`seats forecast`: read the district (and plan), simulate, write the outputs into
    `out_dir` all or nothing. Without a plan file, the district folder's plan_*.csv (the
    plan's three public kindergartens a year) is used when there is one.
    `progress(n)` is called after every n replications done (of `runs`)."""
    out_dir = Path(out_dir)
    protect = [Path(folder), plan_path]  # never an input's folder
    check_output_folder(out_dir, force, protect)
    district = load_district(folder, encoding=encoding)
    notes = []
    if plan_path is None:
        found = sorted(Path(district.folder).glob("plan_*.csv"))
        if found:
            plan_path = found[0]
            notes.append(f"building plan {found[0].name} from the district folder (default)")
    plan = read_plan(plan_path, district, encoding=encoding) if plan_path is not None else None
    results = forecast(
        district, years=years, runs=runs, seed=seed, plan=plan, dask=dask, progress=progress
    )
    summary = ForecastSummary(out_dir, results, notes=notes)
    with staged_output(out_dir, force, protect) as stage:
        summary.files = write_outputs(results, stage)
    return summary
