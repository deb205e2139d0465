"""Monte Carlo planning forecast: pupils by school and grade, classes, utilisation and 学位预警,
teachers (编制), the plan's indicators, and admission chances.

`seats forecast [DIR] --years 2021-2030 --runs 10000 --seed S [--plan plan.csv]
[--dask ADDRESS|local:N] [--ratio KEY=VALUE ...] --out DIR [--force]` calls :func:`run_forecast`.

Model: sim.cohort (a cohort-component projection per zone and school, estimated from
enrolment.csv: entry ratios by zone, progression ratios by school, school shares of their
zone's entrants limited by entry seats, 统筹 of the rest to the nearest zones' spare seats;
resampled ratios and birth scenarios). Teachers and the trained share: sim.staffing.

Admission chances: the year's kindergarten lottery (电脑派位) re-run on synthetic applicant pools.
Each replication takes, per zone, round(A_z x E_z / E0_z) applicants drawn with replacement from
the applicants file's applicants of that zone (A_z of them), E_z being the replication's
kindergarten entrants (K1) of the zone in the chances year and E0_z the central projection's
entrants of the file's year; each keeps their choices, category and sibling, so their tiers
(policy file). Fresh random lottery numbers, the policy's mechanism (seats.lottery.kernels),
and counts per school, tier and choice position. A probability is admitted / applications
pooled over replications, with the standard error of that ratio estimator across replications.
Planned schools take no applications (the file's choices do not name them); expansions add
seats.

Engine: replications in chunks of CHUNK, each chunk a numba prange over its replications (own
rows); each replication's random numbers depend only on (seed, replication), so the thread
count, the chunking and Dask (``--dask ADDRESS`` of a running scheduler, or ``local:N`` for a
LocalCluster of N single-threaded workers) change nothing.

Outputs (all or nothing, byte-identical for the same inputs and seed; CSV in UTF-8 with a BOM
so that Excel opens the Chinese names): forecast.csv (district, zone and group), schools.csv
(per school and year: pupils, classes, utilisation, 学位预警, surplus, consolidation
candidates, teachers), grades.csv (pupils by school, year and grade), teacher_posts.csv (the
编制 cycle), indicators.csv (the plan's table), shortfall_risk.csv, migration.csv (history),
chances.csv; forecast_fan.png, utilisation.png, shortfall_risk.png.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np

from seats.io.errors import Problems
from seats.io.model import District, load_district, read_catchments
from seats.io.output import check_output_folder, staged_output
from seats.io.summary import format_table
from seats.io.tables import find_table, read_table
from seats.lottery import Lottery, entry_tiers
from seats.lottery.policy import DEFAULT_POLICY, load_policy
from sim import mc_kernels
from sim.cohort import (
    GRADES,
    LEVELS,
    MIGRATION_HEADER,
    SECTORS,
    CohortModel,
    Enrolment,
    build_cohort_model,
    load_enrolment,
    migration_rows,
)
from sim.cohort_kernels import cohort_kernel
from sim.plan import read_plan
from sim.staffing import CYCLE_YEARS, SOURCES, StaffRatios, trained_share

QUANTILES = (0.05, 0.25, 0.50, 0.75, 0.95)
QUANTILE_NAMES = ("q05", "q25", "q50", "q75", "q95")
CHUNK = 500  # replications per kernel call / Dask task; results do not depend on it
TARGET_YEAR = 2025
AMBER = 0.90  # 学位预警 amber: pupils above 90 % of places (or entry demand above 90 % of seats)
CONSOLIDATE_BELOW = 0.60  # consolidation candidate: median utilisation below this ...
CONSOLIDATE_FROM = 2025  # ... in every year from this one to the end of the forecast
INCLUSIVE = ("public", "inclusive_private")


def root_key(seed) -> np.uint64:
    """The stream root of a text seed: SeedSequence over the SHA-256 of its UTF-8 text."""
    entropy = int.from_bytes(hashlib.sha256(str(seed).encode()).digest(), "big")
    return np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0]


def write_csv_bom(path: Path, header: list[str], rows) -> int:
    """UTF-8 with a BOM (Excel in Chinese Windows reads it right) and '\\n' line ends."""
    count = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


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
    district: District, model: CohortModel, *, year: int | None = None
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
    at = {sid: k for k, sid in enumerate(model.school_ids)}
    y = int(np.searchsorted(model.years, year))
    seats = np.array(
        [model.seats[y, at[sid]] if sid in at else 0 for sid in district.schools.ids],
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
        reference=_central_entrants(model, file_year),
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


def _central_entrants(model: CohortModel, year: int) -> np.ndarray:
    """Kindergarten entrants (K1) per zone in `year` of the central projection (no resampling,
    the mid birth scenario)."""
    if year < int(model.years[0]):
        raise ValueError(f"the applicants file's year {year} is before the forecast")
    central = central_projection(model)
    y = min(int(np.searchsorted(model.years, year)), len(model.years) - 1)
    return central.zone_entrants[0, 0, y].astype(np.float64)


# --- the engine ----------------------------------------------------------------------------------


@dataclass
class Batch:
    """Replications start..stop: per-replication arrays and the chances' integer sums."""

    start: int
    births: np.ndarray  # float64[r, birth years, zones]
    pupils: np.ndarray  # float32[r, years, schools] on roll
    classes: np.ndarray  # int16[r, years, schools] needed under the 班额 caps
    zone_entrants: np.ndarray  # float32[r, levels, years, zones]
    unmet: np.ndarray  # float32[r, levels, years, zones] entrants seated nowhere
    outside: np.ndarray  # float32[r, levels, years, zones] entrants seated in another zone
    dist_sum: np.ndarray  # float32[r, levels, years, zones] their km, summed
    sector_pupils: np.ndarray  # float64[r, levels, years, sectors]
    retention: np.ndarray  # float32[r, years] junior cohort retention
    red_count: np.ndarray | None = None  # int64[years, schools] runs with the school red
    entry_tenths: np.ndarray | None = None  # int64[years, schools] entrants asking, x10, summed
    chance_sums: np.ndarray | None = None  # int64[5, schools, tiers, choices]


BATCH_ARRAYS = (
    "births", "pupils", "classes", "zone_entrants", "unmet", "outside", "dist_sum",
    "sector_pupils", "retention",
)  # fmt: skip


def empty_batch(model: CohortModel, start: int, n: int) -> Batch:
    n_y, n_s, n_z = len(model.years), len(model.school_ids), len(model.zone_ids)
    n_l = len(LEVELS)
    f32 = np.float32
    return Batch(
        start=start,
        births=np.empty((n, model.n_birth_years, n_z)),
        pupils=np.empty((n, n_y, n_s), dtype=f32),
        classes=np.empty((n, n_y, n_s), dtype=np.int16),
        zone_entrants=np.empty((n, n_l, n_y, n_z), dtype=f32),
        unmet=np.empty((n, n_l, n_y, n_z), dtype=f32),
        outside=np.empty((n, n_l, n_y, n_z), dtype=f32),
        dist_sum=np.empty((n, n_l, n_y, n_z), dtype=f32),
        sector_pupils=np.empty((n, n_l, n_y, len(SECTORS))),
        retention=np.empty((n, n_y), dtype=f32),
        red_count=np.zeros((n_y, n_s), dtype=np.int64),
        entry_tenths=np.zeros((n_y, n_s), dtype=np.int64),
    )


def _rows(batch: Batch, lo: int, hi: int) -> Batch:
    """Rows lo..hi-1 of every array of `batch`, as views (replications batch.start + lo..)."""
    arrays = {name: getattr(batch, name)[lo:hi] for name in BATCH_ARRAYS}
    return Batch(start=batch.start + lo, **arrays)


def run_kernel(model: CohortModel, root, start: int, b: Batch, grades: np.ndarray | None = None):
    """cohort_kernel on the rows of `b` (replications start..); `grades` float64[r, years,
    schools, 6] takes the pupils by grade when given."""
    m = model
    mid = m.scenario_names.index("mid")
    g_out = np.zeros((0, 1, 1, 1)) if grades is None else grades
    n_parts = max(1, min(numba.get_num_threads(), len(b.births)))
    red = np.zeros((n_parts, len(m.years), len(m.school_ids)), dtype=np.int64)
    tenths = np.zeros_like(red)
    cohort_kernel(
        root, start, m.resample, m.births_known, m.first_birth_year, m.birth_base,
        m.zone_share, m.scenario_cum, m.scenario_drift, mid, m.birth_sigma, m.years,
        m.n_grades, m.entry_age, m.school_level, m.school_zone, m.lz_ptr, m.lz_school, m.p0,
        m.er_hist, m.er_mean,
        m.pr_hist, m.pr_mean, m.weight, m.seats, m.public, m.sector, m.caps, m.zone_order,
        m.zone_dist, m.reach, m.g7_before, b.births, b.pupils, b.classes, red, tenths,
        b.zone_entrants, b.unmet, b.outside, b.dist_sum, b.sector_pupils, b.retention, g_out,
    )  # fmt: skip
    b.red_count, b.entry_tenths = red.sum(axis=0), tenths.sum(axis=0)


def simulate_batch(
    model: CohortModel,
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
    b = empty_batch(model, start, stop - start) if out is None else out
    run_kernel(model, root, start, b)
    if chance is not None:
        b.chance_sums = run_chances(chance, root, start, pool_counts(model, chance, b))
    return b


@dataclass
class Central:
    """The central projection: ratios at their means, the mid birth scenario, no noise."""

    batch: Batch
    grades: np.ndarray  # float64[years, schools, 6]

    @property
    def zone_entrants(self) -> np.ndarray:
        return self.batch.zone_entrants


def central_projection(model: CohortModel) -> Central:
    """One replication with the ratios at their means and the mid birth scenario (cheap: a
    single kernel call, so it is not cached)."""
    import dataclasses

    fixed = dataclasses.replace(model, resample=False)
    b = empty_batch(fixed, 0, 1)
    grades = np.zeros((1, len(model.years), len(model.school_ids), 6))
    run_kernel(fixed, np.uint64(0), 0, b, grades)
    return Central(b, grades[0])


def pool_counts(model: CohortModel, chance: ChanceModel, batch: Batch) -> np.ndarray:
    """Applicants per replication and zone: the file's, scaled by the entrants (module doc)."""
    if not chance.resample:
        return np.tile(chance.base_count, (len(batch.births), 1))
    y = int(np.searchsorted(model.years, chance.year))
    entrants = batch.zone_entrants[:, 0, y].astype(np.float64)
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
    model: CohortModel
    runs: int
    seed: str
    batch: Batch  # every replication, in order
    chance: ChanceModel | None
    chance_sums: np.ndarray | None
    ratios: StaffRatios = field(default_factory=StaffRatios)
    district: District | None = None
    enrolment: Enrolment | None = None
    tables: dict | None = None  # school_tables, computed once
    encoding: str | None = None  # of the district's files (teachers.csv is read for indicators)


def _add_sums(total: Batch, part: Batch) -> None:
    """Add a part's integer per-school sums (red runs, entrants asking) to the run's."""
    total.red_count += part.red_count
    total.entry_tenths += part.entry_tenths


def _sum_chances(batches: list[Batch]) -> np.ndarray | None:
    if batches[0].chance_sums is None:
        return None
    sums = batches[0].chance_sums.copy()
    for b in batches[1:]:
        sums += b.chance_sums
    return sums


def simulate(
    model: CohortModel,
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
    root = root_key(seed)
    spans = [(s, min(s + chunk, runs)) for s in range(0, runs, chunk)]
    # Every chunk writes straight into its rows of the run's arrays: no copy at the end.
    batch = empty_batch(model, 0, runs)
    if dask:
        batch.chance_sums = _simulate_dask(
            dask, model, chance, root, spans, progress, worker_threads, batch
        )
    else:
        batches = []
        for start, stop in spans:
            rows = _rows(batch, start, stop)
            batches.append(simulate_batch(model, chance, root, start, stop, out=rows))
            _add_sums(batch, rows)
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


SPARSE_ARRAYS = ("unmet", "outside", "dist_sum")  # mostly zeros: sent as (positions, values)


@dataclass(frozen=True)
class Sparse:
    shape: tuple[int, ...]
    dtype: str
    at: np.ndarray  # flat positions of the non-zeros
    values: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray) -> Sparse:
        flat = values.ravel()
        at = np.flatnonzero(flat)
        return cls(values.shape, values.dtype.str, _narrow(at.astype(np.int64)), flat[at])

    def dense(self) -> np.ndarray:
        out = np.zeros(int(np.prod(self.shape)), dtype=np.dtype(self.dtype))
        out[self.at] = self.values
        return out.reshape(self.shape)


def _dask_batch(model, chance, root, start, stop, threads) -> Batch:
    """simulate_batch on a worker, made small for the trip, exactly: integer arrays narrowed
    (_narrow), the mostly-zero arrays as Sparse, and births without the recorded years (the
    same in every replication; _widen puts them back)."""
    b = simulate_batch(model, chance, root, start, stop, threads)
    for name in BATCH_ARRAYS:
        setattr(b, name, _narrow(getattr(b, name)))
    for name in SPARSE_ARRAYS:
        setattr(b, name, Sparse.of(getattr(b, name)))
    known = min(len(model.births_known), b.births.shape[1])
    b.births = np.ascontiguousarray(b.births[:, known:])
    return b


def _widen(model: CohortModel, part: Batch, rows: Batch) -> None:
    """Copy a Dask part into its rows of the run's arrays (the inverse of _dask_batch)."""
    for name in BATCH_ARRAYS:
        value = getattr(part, name)
        target = getattr(rows, name)
        if name == "births":
            known = min(len(model.births_known), target.shape[1])
            target[:, :known] = model.births_known[None, :known, :]
            np.copyto(target[:, known:], value)
        elif isinstance(value, Sparse):
            np.copyto(target, value.dense())
        else:
            np.copyto(target, value)


SHARED_MEMORY = Path("/dev/shm")  # a RAM file system that every process of this machine sees


def _layout(out: Batch) -> dict[str, tuple[tuple[int, ...], str]]:
    return {name: (getattr(out, name).shape, getattr(out, name).dtype.str) for name in BATCH_ARRAYS}


def _mapped(folder: str, layout: dict, mode: str) -> dict[str, np.ndarray]:
    """The run's arrays as plain arrays on the files of `folder` (unmapped when released)."""
    return {
        name: np.memmap(Path(folder) / name, np.dtype(dtype), mode, shape=shape).view(np.ndarray)
        for name, (shape, dtype) in layout.items()
    }


def _dask_rows(model, chance, root, start, stop, threads, folder, layout) -> Batch:
    """simulate_batch on a worker of this machine, straight into its rows of the run's arrays
    in `folder` (files in shared memory, laid out as `layout`): only the per-school sums and
    the chance sums travel back. A worker that does not see the folder (one that joined the
    cluster later, elsewhere) sends its whole result instead, as _dask_batch."""
    if not Path(folder).is_dir():
        return _dask_batch(model, chance, root, start, stop, threads)
    arrays = _mapped(folder, layout, "r+")
    rows = Batch(start=start, **{name: a[start:stop] for name, a in arrays.items()})
    b = simulate_batch(model, chance, root, start, stop, threads, out=rows)
    del arrays, rows  # unmapped: the writes are in the files
    return Batch(
        start, *[None] * len(BATCH_ARRAYS), b.red_count, b.entry_tenths, b.chance_sums
    ), stop - start


def _shared_folder(client, out: Batch) -> Path | None:
    """A folder in shared memory holding room for `out`'s arrays, if every worker sees it
    (they run on this machine) and the room can be reserved; else None (results then travel
    through Dask)."""
    import os
    import shutil
    import tempfile

    if not SHARED_MEMORY.is_dir() or not hasattr(os, "posix_fallocate"):
        return None
    folder = Path(tempfile.mkdtemp(prefix="seats-forecast-", dir=SHARED_MEMORY))
    try:
        for name, (shape, dtype) in _layout(out).items():
            with open(folder / name, "wb") as f:
                # reserved now: a full RAM file system fails here, not in a worker's write
                os.posix_fallocate(
                    f.fileno(), 0, max(1, math.prod(shape) * np.dtype(dtype).itemsize)
                )
        seen = client.run(os.path.isdir, str(folder))
        if seen and all(seen.values()):
            return folder
    except OSError:
        pass
    shutil.rmtree(folder, ignore_errors=True)
    return None


def _simulate_dask(address, inputs, chance, root, spans, progress, threads, out: Batch):
    """The spans as Dask tasks; returns the summed chance sums. Workers on this machine write
    their rows into files in shared memory that `out`'s arrays map; other workers send
    each result back, copied into its rows of `out` (widened back to out's types, exactly) as
    it arrives and then released."""
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
    folder = None
    try:
        shared = client.scatter([inputs, chance], broadcast=True)
        folder = _shared_folder(client, out)
        if folder is not None:
            layout = _layout(out)
            task, extra = _dask_rows, (str(folder), layout)
            # out's arrays become the files' mappings, which outlive the files (no copy)
            for name, values in _mapped(str(folder), layout, "r+").items():
                setattr(out, name, values)
        else:
            task, extra = _dask_batch, ()
        futures = [
            client.submit(task, *shared, root, start, stop, threads, *extra, pure=False)
            for start, stop in spans
        ]
        sums = []
        for future in as_completed(futures):
            part = future.result()
            future.release()  # the worker frees its copy now, not at the end of the run
            if isinstance(part, tuple):  # its rows are in shared memory
                part, n = part
            else:
                n = len(part.births)
                _widen(inputs, part, _rows(out, part.start, part.start + n))
            _add_sums(out, part)
            sums.append(
                Batch(part.start, *[None] * len(BATCH_ARRAYS), chance_sums=part.chance_sums)
            )
            if progress is not None:
                progress(n)
        return _sum_chances(sorted(sums, key=lambda b: b.start))
    finally:
        if folder is not None:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
        client.close()
        if cluster is not None:
            cluster.close()


# --- reductions ----------------------------------------------------------------------------------


def quantiles(values: np.ndarray) -> np.ndarray:
    """The QUANTILES over the first axis (replications), linear interpolation."""
    return np.quantile(np.asarray(values, dtype=np.float64), QUANTILES, axis=0)


def _num(x: float, digits: int) -> str:
    return f"{x:.{digits}f}"


def _onehot(index: np.ndarray, n: int, mask: np.ndarray | None = None) -> np.ndarray:
    out = np.zeros((len(index), n))
    rows = np.arange(len(index)) if mask is None else np.flatnonzero(mask)
    out[rows, index[rows]] = 1.0
    return out


def level_totals(results: Results, what: str = "pupils") -> np.ndarray:
    """float64[r, levels, years]: pupils (or classes) summed over each level's schools."""
    m, b = results.model, results.batch
    values = getattr(b, what).astype(np.float64)
    return np.einsum("rys,sl->rly", values, _onehot(m.school_level, len(LEVELS)))


def zone_totals(results: Results, level: int, what: str = "pupils") -> np.ndarray:
    """float64[r, years, zones] over the level's schools in each zone."""
    m, b = results.model, results.batch
    mask = m.school_level == level
    return np.einsum(
        "rys,sz->ryz", getattr(b, what)[:, :, mask].astype(np.float64),
        _onehot(m.school_zone[mask], len(m.zone_ids)),
    )  # fmt: skip


def population_3_to_5(results: Results) -> np.ndarray:
    """float64[r, years]: the resident population aged 3-5, births of Y-5..Y-3 (毛入园率)."""
    m, births = results.model, results.batch.births.sum(axis=2)
    idx = np.array([[y - a - m.first_birth_year for a in (3, 4, 5)] for y in m.years.tolist()])
    out = np.zeros((births.shape[0], len(m.years)))
    for k in range(3):
        ok = idx[:, k] >= 0
        out[:, ok] += births[:, idx[ok, k]]
    return out


def kindergarten_staff(results: Results) -> np.ndarray:
    """float64[r, years]: 专任教师 needed by the kindergartens' classes (per-class ratio)."""
    return level_totals(results, "classes")[:, 0] * results.ratios.kindergarten_per_class


INDICATORS = (
    # key, Chinese name, definition, 2020 in the plan's table, 2025 target, binding
    ("gross_kindergarten_enrolment", "学前教育毛入园率",
     "children in kindergartens / resident population aged 3-5 (births of Y-5..Y-3)",
     0.9891, 0.99, False),
    ("inclusive_share_children", "学前教育普惠率 (按幼儿)",
     "children in inclusive kindergartens (public + inclusive private) / all children in "
     "kindergartens; the plan's 2025 target counts children", None, 0.95, False),
    ("inclusive_share_kindergartens", "普惠性幼儿园占比 (按园所)",
     "inclusive kindergartens / all kindergartens open; the plan's 2020 figure 92.1 counts "
     "kindergartens", 0.921, None, False),
    ("public_share", "公办园在园幼儿占比",
     "children in public kindergartens / all children in kindergartens", 0.477, 0.50, False),
    ("consolidation_rate", "九年义务教育巩固率",
     "cohort retention: grade 9 in Y / the same cohort's grade 7 in Y-2, district junior "
     "schools (the data follow no cohort through primary into other districts' schools)",
     0.9964, 1.00, False),
    ("trained_teachers_share", "学前教育专任教师接受专业教育的比例",
     "kindergarten full-time teachers with preschool training / all (sim.staffing: attrition "
     "and trained hires)", 0.65, 0.80, True),
)  # fmt: skip


def indicator_values(results: Results) -> dict[str, np.ndarray]:
    """float64[r, years] per indicator key (INDICATORS)."""
    m, b = results.model, results.batch
    kg = b.sector_pupils[:, 0]  # [r, y, sector]
    total = kg.sum(axis=-1)
    safe = np.where(total > 0, total, 1.0)
    inclusive = kg[..., 0] + kg[..., 1]
    open_kg = (m.seats > 0) & (m.school_level == 0)[None, :]
    inclusive_kg = open_kg & (m.sector <= 1)
    by_kg = inclusive_kg.sum(axis=1) / np.maximum(open_kg.sum(axis=1), 1)
    d = results.district
    teachers_2020, trained_2020 = (
        _kindergarten_teachers(d, results.encoding) if d is not None else (0, 0)
    )
    classes_2020 = _classes_2020(m)
    trained = trained_share(
        level_totals(results, "classes")[:, 0], teachers_2020, trained_2020, classes_2020,
        results.ratios,
    ) if teachers_2020 else np.zeros_like(total)  # fmt: skip
    return {
        "gross_kindergarten_enrolment": total / np.maximum(population_3_to_5(results), 1.0),
        "inclusive_share_children": inclusive / safe,
        "inclusive_share_kindergartens": np.tile(by_kg, (total.shape[0], 1)),
        "public_share": kg[..., 0] / safe,
        "consolidation_rate": b.retention.astype(np.float64),
        "trained_teachers_share": trained,
    }


def _classes_2020(m: CohortModel) -> float:
    """Kindergarten classes of the base year's roll under the caps."""
    kg = m.school_level == 0
    n = np.floor(m.p0[kg, :3] + 0.5)
    return float(np.ceil(n / m.caps[kg, :3]).sum())


def _kindergarten_teachers(district: District, encoding: str | None = None) -> tuple[int, int]:
    """Kindergarten teachers and those with preschool_trained = 1 in teachers.csv, or (0, 0)."""
    path = find_table(district.folder, "teachers")
    if path is None:
        return 0, 0
    problems = Problems()
    table = read_table(path, problems, encoding=encoding)
    problems.raise_if_any()
    if not table.has("preschool_trained"):
        return 0, 0
    level = {sid: str(district.schools.level[k]) for k, sid in enumerate(district.schools.ids)}
    schools = table.text("school_id")
    marks = table.text("preschool_trained", required=False)
    kg = []
    for sid, mark, line in zip(schools, marks, table.lines, strict=True):
        if level.get(sid) != "kindergarten":
            continue
        if mark not in ("0", "1"):
            problems.add(table.name, line, "preschool_trained", f"'{mark}' is not 0 or 1")
        kg.append(mark)
    problems.raise_if_any()
    return len(kg), kg.count("1")


def baseline_values(results: Results) -> dict[str, float | None]:
    """The 2020 (base year) value of each indicator from the data."""
    m, d, e = results.model, results.district, results.enrolment
    if d is None or e is None:
        return {}
    t = int(np.searchsorted(e.years, m.base_year))
    s = d.schools
    kg = np.array([str(x) == "kindergarten" for x in s.level])
    sector = np.array([str(x) for x in s.sector])
    pupils = e.pupils[:, t].sum(axis=1)
    total = pupils[kg].sum()
    b = m.births_known
    born = [m.base_year - a - m.first_birth_year for a in (3, 4, 5)]
    population = sum(b[i].sum() for i in born if 0 <= i < len(b))
    junior = np.array([str(x) == "junior" for x in s.level])
    g9 = e.pupils[junior, t, 2].sum()
    g7 = e.pupils[junior, t - 2, 0].sum() if t >= 2 else 0
    teachers, trained = _kindergarten_teachers(d, results.encoding)
    return {
        "gross_kindergarten_enrolment": total / population if population else None,
        "inclusive_share_children": pupils[kg & np.isin(sector, INCLUSIVE)].sum() / total,
        "inclusive_share_kindergartens": (kg & np.isin(sector, INCLUSIVE)).sum() / kg.sum(),
        "public_share": pupils[kg & (sector == "public")].sum() / total,
        "consolidation_rate": g9 / g7 if g7 else None,
        "trained_teachers_share": trained / teachers if teachers else None,
    }


def target_year(model: CohortModel) -> int:
    years = model.years.tolist()
    return TARGET_YEAR if TARGET_YEAR in years else years[-1]


INDICATORS_HEADER = [
    "indicator", "name_zh", "definition", "binding", "baseline_data", "baseline_plan",
    "target", "year", "p_meet", "mean", *QUANTILE_NAMES,
]  # fmt: skip


def indicator_rows(results: Results) -> list[list]:
    m = results.model
    year = target_year(m)
    y = m.years.tolist().index(year)
    values, base = indicator_values(results), baseline_values(results)
    rows = []
    for key, zh, definition, plan_2020, target, binding in INDICATORS:
        v = values[key][:, y]
        b = base.get(key)
        rows.append(
            [
                key, zh, definition, "约束性 binding" if binding else "预期性 expected",
                "" if b is None else _num(b, 4), "" if plan_2020 is None else _num(plan_2020, 4),
                "" if target is None else _num(target, 2), year,
                "" if target is None else _num((v >= target - 1e-12).mean(), 4),
                _num(v.mean(), 4), *[_num(q, 4) for q in quantiles(v)],
            ]
        )  # fmt: skip
    return rows


FORECAST_HEADER = ["level", "year", "scope", "id", "name", "measure", "mean", *QUANTILE_NAMES]


def forecast_rows(results: Results) -> list[list]:
    """District, zone and group figures per level and year, with quantiles over the runs."""
    m, b = results.model, results.batch
    rows = []

    def add(level, year, scope, ident, name, measure, values, digits=1):
        q = quantiles(values)
        rows.append(
            [level, year, scope, ident, name, measure, _num(np.mean(values), digits)]
            + [_num(v, digits) for v in q]
        )

    pupils_l = level_totals(results)
    classes_l = level_totals(results, "classes")
    places = m.places
    groups = _groups(results)
    for lv, level in enumerate(LEVELS):
        mask = m.school_level == lv
        zp = zone_totals(results, lv)
        entrants = b.zone_entrants[:, lv].astype(np.float64)
        unmet = b.unmet[:, lv].astype(np.float64)
        outside = b.outside[:, lv].astype(np.float64)
        dist = b.dist_sum[:, lv].astype(np.float64)
        for y, year in enumerate(m.years.tolist()):
            n = len(b.births)
            total_out = outside[:, y].sum(1)
            km = np.divide(dist[:, y].sum(1), total_out, out=np.zeros(n), where=total_out > 0)
            district = [
                ("entrants", entrants[:, y].sum(1), 1),
                ("pupils", pupils_l[:, lv, y], 1),
                ("places", np.full(n, places[y, mask].sum()), 0),
                ("entry_seats", np.full(n, m.seats[y, mask].sum()), 0),
                ("unmet", unmet[:, y].sum(1), 1),
                ("seated_outside_zone", total_out, 1),
                ("mean_distance_outside_km", km, 2),
                ("classes", classes_l[:, lv, y], 1),
            ]
            district += [
                (f"pupils_{name}", b.sector_pupils[:, lv, y, k], 1)
                for k, name in enumerate(SECTORS)
                if (m.sector[y, mask] == k).any()
            ]
            for measure, values, digits in district:
                add(level, year, "district", "", "", measure, values, digits)
            for z, zone in enumerate(m.zone_ids):
                name = m.zone_names[z]
                zm = mask & (m.school_zone == z)
                o = outside[:, y, z]
                zkm = np.divide(dist[:, y, z], o, out=np.zeros(n), where=o > 0)
                for measure, values, digits in (
                    ("entrants", entrants[:, y, z], 1),
                    ("pupils", zp[:, y, z], 1),
                    ("places", np.full(n, places[y, zm].sum()), 0),
                    ("unmet", unmet[:, y, z], 1),
                    ("seated_outside_zone", o, 1),
                    ("mean_distance_outside_km", zkm, 2),
                ):
                    add(level, year, "zone", zone, name, measure, values, digits)
            for gid, gname, members in groups:
                sel = members[m.school_level[members] == lv]
                if len(sel) == 0:
                    continue
                add(level, year, "group", gid, gname, "pupils",
                    b.pupils[:, y, sel].astype(np.float64).sum(1))  # fmt: skip
                add(level, year, "group", gid, gname, "places",
                    np.full(n, places[y, sel].sum()), 0)  # fmt: skip
    return rows


def _groups(results: Results) -> list[tuple[str, str, np.ndarray]]:
    d = results.district
    if d is None:
        return []
    at = {sid: i for i, sid in enumerate(results.model.school_ids)}
    out = []
    for g, gid in enumerate(d.groups.ids):
        members = sorted(
            at[d.schools.ids[k]]
            for gi, k in zip(d.members.group.tolist(), d.members.school.tolist(), strict=True)
            if gi == g and d.schools.ids[k] in at
        )
        if members:
            out.append((gid, d.groups.name[g], np.array(members, dtype=np.int64)))
    return out


SCHOOLS_HEADER = [
    "school_id", "name", "level", "sector", "zone_id", "year", "entry_seats", "places",
    "pupils_mean", "pupils_q05", "pupils_q50", "pupils_q95",
    "classes_q50", "classes_q95", "utilisation_q50", "entry_demand_mean", "p_red", "status",
    "surplus_seats_q50", "teachers_needed_q50", "teacher_ratio", "consolidation_candidate",
]  # fmt: skip


def school_tables(results: Results) -> dict[str, np.ndarray]:
    """Per school and year: the quantities schools.csv reports (float arrays [years, schools])."""
    if results.tables is None:
        results.tables = _school_tables(results)
    return results.tables


def _school_tables(results: Results) -> dict[str, np.ndarray]:
    m, b = results.model, results.batch
    places = m.places
    pupils = b.pupils.astype(np.float64)
    q = quantiles(pupils)  # [5, y, s]
    cq = np.quantile(b.classes, (0.5, 0.95), axis=0)
    runs = len(b.pupils)
    eq = b.entry_tenths / (10.0 * runs)  # mean entrants asking for the school
    util = np.divide(q[2], places, out=np.zeros_like(places), where=places > 0)
    p_red = b.red_count / runs
    status = np.where(
        m.seats <= 0,
        "closed",
        np.where(
            p_red >= 0.5,
            "red",
            np.where((util > AMBER) | (eq > AMBER * m.seats), "amber", "green"),
        ),
    )
    ratios = results.ratios
    per = np.array(
        [[ratios.primary, ratios.junior][lv - 1] if lv else 0.0 for lv in m.school_level]
    )
    teachers = np.where(
        m.school_level[None, :] == 0,
        cq[0] * ratios.kindergarten_per_class,
        np.ceil(np.divide(q[2], np.where(per > 0, per, 1.0)[None, :])),
    )
    years = m.years.tolist()
    late = [y for y, year in enumerate(years) if year >= CONSOLIDATE_FROM]
    candidate = np.zeros(len(m.school_ids), dtype=bool)
    if late:
        open_late = (m.seats[late] > 0).all(axis=0)
        candidate = open_late & (util[late] < CONSOLIDATE_BELOW).all(axis=0)
    return dict(
        q=q, classes=cq, entry=eq, util=util, p_red=p_red, status=status, teachers=teachers,
        per=per, candidate=candidate, surplus=np.maximum(places - q[2], 0.0),
    )  # fmt: skip


def school_rows(results: Results) -> list[list]:
    m = results.model
    t = school_tables(results)
    rows = []
    for s, sid in enumerate(m.school_ids):
        lv = int(m.school_level[s])
        ratio = (
            f"{results.ratios.kindergarten_per_class:g} per class"
            if lv == 0
            else f"1:{t['per'][s]:g}"
        )
        for y, year in enumerate(m.years.tolist()):
            rows.append(
                [
                    sid, m.school_names[s], LEVELS[lv], m.school_sector[y][s],
                    m.zone_ids[m.school_zone[s]], year, f"{m.seats[y, s]:.0f}",
                    f"{m.places[y, s]:.0f}", _num(results.batch.pupils[:, y, s].mean(), 1),
                    _num(t["q"][0, y, s], 1), _num(t["q"][2, y, s], 1), _num(t["q"][4, y, s], 1),
                    _num(t["classes"][0, y, s], 0), _num(t["classes"][1, y, s], 0),
                    _num(t["util"][y, s], 4), _num(t["entry"][y, s], 1),
                    _num(t["p_red"][y, s], 4), t["status"][y, s], _num(t["surplus"][y, s], 0),
                    _num(t["teachers"][y, s], 0), ratio,
                    "yes" if t["candidate"][s] else "",
                ]
            )  # fmt: skip
    return rows


GRADES_HEADER = ["school_id", "name", "level", "year", "grade", "pupils_central", "class_cap",
                 "classes_central"]  # fmt: skip


def grade_rows(results: Results) -> list[list]:
    """Pupils by school, year and grade (K1-K3, 1-6, 7-9) in the central projection (ratios at
    their means, mid births), with the grade's 班额 cap and the classes it needs."""
    m = results.model
    grades = central_projection(m).grades
    rows = []
    for s, sid in enumerate(m.school_ids):
        names = GRADES[LEVELS[int(m.school_level[s])]]
        for y, year in enumerate(m.years.tolist()):
            for k, grade in enumerate(names):
                n = math.floor(grades[y, s, k] + 0.5)
                cap = int(m.caps[s, k])
                rows.append(
                    [sid, m.school_names[s], LEVELS[int(m.school_level[s])], year, grade,
                     _num(grades[y, s, k], 1), cap, -(-n // cap)]
                )  # fmt: skip
    return rows


POSTS_HEADER = ["level", "year", "measure", "ratio", "source", "mean", *QUANTILE_NAMES]


def post_rows(results: Results) -> list[list]:
    """Teachers needed in the plan's 编制 cycle years (2021, 2024, 2027, 2030) in the forecast."""
    m, r = results.model, results.ratios
    pupils = level_totals(results)
    classes = level_totals(results, "classes")
    rows = []
    for year in [y for y in CYCLE_YEARS if y in m.years.tolist()]:
        y = m.years.tolist().index(year)
        measures = [
            ("kindergarten", "full_time_teachers 专任教师",
             classes[:, 0, y] * r.kindergarten_per_class,
             f"{r.kindergarten_per_class:g} per class", SOURCES["kindergarten_per_class"]),
            ("kindergarten", "staff 教职工", np.ceil(pupils[:, 0, y] / r.kindergarten_staff),
             f"1:{r.kindergarten_staff:g}", SOURCES["kindergarten_staff"]),
            ("primary", "posts 教职工编制", np.ceil(pupils[:, 1, y] / r.primary),
             f"1:{r.primary:g}", SOURCES["primary"]),
            ("junior", "posts 教职工编制", np.ceil(pupils[:, 2, y] / r.junior),
             f"1:{r.junior:g}", SOURCES["junior"]),
        ]  # fmt: skip
        for level, measure, values, ratio, source in measures:
            rows.append(
                [level, year, measure, ratio, source, _num(values.mean(), 1)]
                + [_num(v, 0) for v in quantiles(values)]
            )
    return rows


RISK_HEADER = [
    "level", "year", "zone_id", "name", "p_unmet", "mean_unmet", "q95_unmet",
    "mean_seated_outside_zone", "mean_distance_outside_km",
]  # fmt: skip


def risk_rows(results: Results) -> list[list]:
    """P(some entrants of the zone are seated nowhere) and how many are seated in other zones."""
    m, b = results.model, results.batch
    rows = []
    for lv, level in enumerate(LEVELS):
        for y, year in enumerate(m.years.tolist()):
            for z, zone in enumerate(m.zone_ids):
                unmet = b.unmet[:, lv, y, z].astype(np.float64)
                out = b.outside[:, lv, y, z].astype(np.float64)
                km = b.dist_sum[:, lv, y, z].astype(np.float64).sum() / max(out.sum(), 1e-9)
                rows.append(
                    [
                        level, year, zone, m.zone_names[z], _num((unmet >= 0.5).mean(), 4),
                        _num(unmet.mean(), 1), _num(np.quantile(unmet, 0.95), 1),
                        _num(out.mean(), 1), _num(km if out.sum() > 0 else 0.0, 2),
                    ]
                )  # fmt: skip
    return rows


def unmet_probability(results: Results) -> np.ndarray:
    """float[levels, years, zones]: P(unmet >= 0.5 child)."""
    return (results.batch.unmet >= 0.5).mean(axis=0)


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
        first, last = int(m.years[0]), int(m.years[-1])
        fit = f"{m.fit_years[0]}-{m.fit_years[-1]}"
        head = [
            f"Forecast {first}-{last}, {r.runs:,} runs, seed {r.seed} -> {self.out_dir}",
            f"  model: cohort-component by zone and school, ratios from enrolment {fit}, "
            f"roll of {m.base_year} as the start",
            f"  births recorded to {m.last_birth_year}; after: trend {np.expm1(m.trend):+.1%} a "
            "year of the last 5 recorded, scenarios "
            + ", ".join(
                f"{n} {np.expm1(d):+.1%}/yr"
                for n, d in zip(m.scenario_names, m.scenario_drift, strict=False)
            )
            + f", noise {m.birth_sigma:g}/yr",
        ]
        for lv, level in enumerate(LEVELS):
            ratio = m.er_mean[lv]
            what = {0: "K1 / births 3 years before", 1: "grade 1 / births 6 years before",
                    2: "grade 7 / the zone's grade 6 a year before"}[lv]  # fmt: skip
            used = ratio[ratio > 0]
            if len(used):
                head.append(
                    f"  {level}: entry ratio ({what}) {used.min():.2f}-{used.max():.2f} by zone"
                )
        head.append(f"  plan: {m.plan_name or 'none'}")
        head += [f"  note: {n}" for n in m.notes + self.notes]
        parts = ["\n".join(head)]

        b = r.batch
        pupils = level_totals(r)
        rows = []
        for lv, level in enumerate(LEVELS):
            mask = m.school_level == lv
            for y, year in enumerate(m.years.tolist()):
                unmet = b.unmet[:, lv, y].astype(np.float64).sum(1)
                out = b.outside[:, lv, y].astype(np.float64).sum(1)
                places = m.places[y, mask].sum()
                rows.append(
                    [
                        level, str(year), _band(pupils[:, lv, y]), f"{places:,.0f}",
                        f"{np.median(pupils[:, lv, y]) / places:.0%}" if places else "-",
                        _band(unmet), _band(out), f"{(unmet >= 0.5).mean():.0%}",
                    ]
                )  # fmt: skip
        parts.append(
            format_table(
                [
                    "level",
                    "year",
                    "pupils",
                    "places",
                    "use",
                    "unmet",
                    "outside own zone",
                    "P(unmet)",
                ],
                rows,
                "District, median [5%-95%]; 统筹 seats children in other zones' spare places",
            )
        )
        parts.append(
            format_table(
                ["indicator", "definition", "2020 data", "target", "P(meet)", "median [5%-95%]"],
                [
                    [
                        f"{row[1]}{' (约束性)' if row[3].startswith('约束') else ''}",
                        row[2][:60] + ("…" if len(row[2]) > 60 else ""),
                        f"{float(row[4]):.2%}" if row[4] else "-",
                        f"{float(row[6]):.0%}" if row[6] else "-",
                        f"{float(row[8]):.0%}" if row[8] else "-",
                        f"{float(row[12]):.2%} [{float(row[10]):.2%}-{float(row[14]):.2%}]",
                    ]
                    for row in indicator_rows(r)
                ],
                f"Plan indicators, {target_year(m)}",
            )
        )
        parts.append(
            format_table(
                ["level", "year", "measure", "ratio", "median [5%-95%]"],
                [
                    [
                        row[0],
                        str(row[1]),
                        row[2],
                        row[3],
                        f"{float(row[8]):,.0f} [{float(row[6]):,.0f}-{float(row[10]):,.0f}]",
                    ]
                    for row in post_rows(r)
                ],
                "Teachers needed, the plan's three-year 编制 cycle (sources in teacher_posts.csv)",
            )
        )
        parts.append(self._schools())
        if r.chance is not None and r.chance_sums is not None:
            parts.append(self._chances())
        if self.files:
            parts.append("Written: " + ", ".join(self.files))
        return "\n\n".join(parts)

    def _schools(self) -> str:
        r = self.results
        m = r.model
        t = school_tables(r)
        rows = []
        for lv, level in enumerate(LEVELS):
            mask = m.school_level == lv
            for y, year in enumerate(m.years.tolist()):
                if year not in (int(m.years[0]), TARGET_YEAR, int(m.years[-1])):
                    continue
                st = t["status"][y, mask]
                rows.append(
                    [
                        level, str(year), str((st == "red").sum()), str((st == "amber").sum()),
                        str((st == "green").sum()), f"{t['surplus'][y, mask].sum():,.0f}",
                        str((t["candidate"] & mask).sum()),
                    ]
                )  # fmt: skip
        parts = [
            format_table(
                ["level", "year", "red", "amber", "green", "surplus places", "consolidation"],
                rows,
                f"Schools: 学位预警 (red: demand above places; amber: above {AMBER:.0%}); "
                f"consolidation candidates: median use below {CONSOLIDATE_BELOW:.0%} every year "
                f"from {CONSOLIDATE_FROM}; schools.csv has every school",
            )
        ]
        last = len(m.years) - 1
        picks = []
        for lv, level in enumerate(LEVELS):
            chosen = np.flatnonzero(t["candidate"] & (m.school_level == lv))
            chosen = chosen[np.argsort(t["util"][last, chosen], kind="stable")][:3]
            picks += [
                [level, f"{m.school_ids[s]} {m.school_names[s]}", m.zone_ids[m.school_zone[s]],
                 f"{m.places[last, s]:,.0f}", f"{t['util'][last, s]:.0%}",
                 f"{t['surplus'][last, s]:,.0f}"]
                for s in chosen
            ]  # fmt: skip
        if picks:
            parts.append(
                format_table(
                    ["level", "school", "zone", "places", f"use {m.years[-1]}", "surplus"],
                    picks,
                    "Lowest-used consolidation candidates (up to 3 a level)",
                )
            )
        notes = []
        for lv, level in enumerate(LEVELS[1:], start=1):
            short = [
                int(year)
                for y, year in enumerate(m.years)
                if np.median(r.batch.unmet[:, lv, y].astype(np.float64).sum(-1)) >= 0.5
            ]
            if short:
                mask = m.school_level == lv
                use = np.median(level_totals(r)[:, lv], axis=0) / m.places[:, mask].sum(axis=1)
                ys = [m.years.tolist().index(year) for year in short]
                notes.append(
                    f"  {level} {short[0]}-{short[-1]}: entrants beyond the entry seats of every "
                    f"public school (统筹 has nowhere left to seat them) while places on roll are "
                    f"{use[ys].min():.0%}-{use[ys].max():.0%} used"
                )
        if notes:
            parts.append("Unmet compulsory-age entrants (median):\n" + "\n".join(notes))
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
    dask: str | None = None,
    progress: Callable[[int], None] | None = None,
    chances: bool = True,
    ratios: StaffRatios | None = None,
    enrolment: Enrolment | None = None,
    resample: bool = True,
    encoding: str | None = None,
) -> Results:
    """The forecast without files."""
    enrolment = enrolment if enrolment is not None else load_enrolment(district)
    model = build_cohort_model(district, enrolment, years=years, plan=plan, resample=resample)
    chance = chance_model(district, model) if chances else None
    results = simulate(model, runs, seed, chance=chance, dask=dask, progress=progress)
    results.ratios = ratios or StaffRatios()
    results.district = district
    results.enrolment = enrolment
    results.encoding = encoding
    return results


def write_outputs(results: Results, folder: Path) -> list[str]:
    from sim.forecast_plots import plot_fans, plot_risk, plot_utilisation  # slow import

    written = []
    tables = [
        ("forecast.csv", FORECAST_HEADER, forecast_rows),
        ("schools.csv", SCHOOLS_HEADER, school_rows),
        ("grades.csv", GRADES_HEADER, grade_rows),
        ("teacher_posts.csv", POSTS_HEADER, post_rows),
        ("indicators.csv", INDICATORS_HEADER, indicator_rows),
        ("shortfall_risk.csv", RISK_HEADER, risk_rows),
        ("chances.csv", CHANCES_HEADER, chance_rows),
    ]
    for name, header, rows_of in tables:
        write_csv_bom(folder / name, header, rows_of(results))
        written.append(name)
    if results.enrolment is not None and results.district is not None:
        write_csv_bom(
            folder / "migration.csv",
            MIGRATION_HEADER,
            migration_rows(results.model, results.enrolment, results.district),
        )
        written.append("migration.csv")
    plot_fans(results, folder / "forecast_fan.png")
    plot_utilisation(results, folder / "utilisation.png")
    plot_risk(results, folder / "shortfall_risk.png")
    return [*written, "forecast_fan.png", "utilisation.png", "shortfall_risk.png"]


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
    ratios: list[str] | StaffRatios | None = None,
) -> ForecastSummary:
    """`seats forecast`: read the district (and plan), simulate, write the outputs into
    `out_dir` all or nothing. Without a plan file, the district folder's plan_*.csv (the
    plan's three public kindergartens a year) is used when there is one.
    `progress(n)` is called after every n replications done (of `runs`)."""
    out_dir = Path(out_dir)
    protect = [Path(folder), plan_path]  # never an input's folder
    check_output_folder(out_dir, force, protect)
    if not isinstance(ratios, StaffRatios):
        ratios = StaffRatios().with_overrides(list(ratios or []))
    district = load_district(folder, encoding=encoding)
    enrolment = load_enrolment(district, encoding=encoding)
    _kindergarten_teachers(district, encoding)  # bad preschool_trained: fail before the work
    notes = []
    if plan_path is None:
        found = sorted(Path(district.folder).glob("plan_*.csv"))
        if found:
            plan_path = found[0]
            notes.append(f"building plan {found[0].name} from the district folder (default)")
    plan = read_plan(plan_path, district, encoding=encoding) if plan_path is not None else None
    results = forecast(
        district, years=years, runs=runs, seed=seed, plan=plan, dask=dask, progress=progress,
        ratios=ratios, enrolment=enrolment, encoding=encoding,
    )  # fmt: skip
    summary = ForecastSummary(out_dir, results, notes=notes)
    with staged_output(out_dir, force, protect) as stage:
        summary.files = write_outputs(results, stage)
    return summary
