"""Cohort-component projection by zone, school and grade, estimated from the enrolment history.

Data: ``enrolment.csv`` (pupils on roll by ``school_id``, ``year``, ``grade``: K1-K3 for the
kindergarten years 小班/中班/大班, 1-6 primary, 7-9 junior) and ``births.csv`` (births by zone
and year, recorded through the latest year available).

Estimated from the history years (all of them, or a fit window for the backtest):

- **entry ratios by zone**: kindergarten K1 pupils in year Y / births of Y - 3 (take-up at age 3),
  primary grade-1 pupils / births of Y - 6 (one child born here is one entrant, so the excess
  is net migration at entry, 随迁), both over the zone's schools; junior grade-7 pupils / the
  zone's primary grade-6 pupils of the year before (the share of leavers who stay in the
  district's junior schools);
- **grade-progression ratios by school**: pupils of grade g + 1 in Y + 1 / pupils of grade g in
  Y. Take-up at ages 4 and 5 and all net migration after entry are inside them: net migration is
  the residual of the cohort (``migration_rows``);
- **school shares** of their zone's entrants (mean over the history): the families' choice of a
  school and so of a sector, calibrated on the data. A school in the building plan takes the
  mean share per entry seat of its zone's schools of its level and sector (else the district's).

Projection, year by year from the last history year: grades progress by the ratios; entrants of
a zone are ratio x births (or x grade 6); each school is asked for its share and takes at most
its entry seats (capacity limits the choice; no sector fills first); children it cannot take go
to schools of the zone with spare entry seats (compulsory levels: public ones), then (统筹) to
the schools with spare seats of the nearest zones in distance order, kindergartens within
``KINDERGARTEN_REACH_KM``, compulsory levels anywhere in the district; only what is left is unmet.

Uncertainty (each replication, sim.cohort_kernels): the replication takes the entry ratios of one
history year (a level that persists), and every forecast year the progression ratios of one
history transition, drawn with replacement (all zones and schools together, so their
correlation is kept); births after the last recorded
year follow a scenario drawn per replication — ``low``: the decline of the log-linear trend of
the last five recorded years speeds up by half; ``mid``: the trend goes on; ``high``: births stay
at the last recorded level (probabilities 1/4, 1/2, 1/4; a rising trend is taken as flat) —
times a log random walk with ``BIRTH_SIGMA`` (0.04) a year. The
recorded decline of 2021-2025 (0.88 ... 0.66 of 2020) lies inside the fan fitted on 2016-2020
(tests/test_forecast.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from seats.io.errors import Problems
from seats.io.model import District
from seats.io.tables import find_table, read_table
from sim.plan import Plan, apply_plan

LEVELS = ("kindergarten", "primary", "junior")
GRADES = {
    "kindergarten": ("K1", "K2", "K3"),
    "primary": ("1", "2", "3", "4", "5", "6"),
    "junior": ("7", "8", "9"),
}
MAX_GRADES = 6
ENTRY_AGE = {"kindergarten": 3, "primary": 6, "junior": -1}  # junior enters from grade 6
# 班额 caps by grade: kindergarten 25/30/35 by age year (小班/中班/大班), primary 45, junior 50
CLASS_CAPS = {"kindergarten": (25, 30, 35), "primary": (45,) * 6, "junior": (50,) * 3}
KINDERGARTEN_REACH_KM = 3.0  # how far a kindergarten child is seated from the zone centre at most
SECTORS = ("public", "inclusive_private", "private")
BIRTH_SIGMA = 0.04  # per year, log random walk of births after the last recorded year
BIRTH_SCENARIOS = (("low", 0.25, 1.5), ("mid", 0.50, 1.0), ("high", 0.25, 0.0))
# (name, probability, share of the recorded trend that goes on)
TREND_YEARS = 5


@dataclass
class Enrolment:
    """pupils[school, year, grade] over the history years (0 where not recorded)."""

    years: np.ndarray
    pupils: np.ndarray  # int64[schools of the district, years, MAX_GRADES]
    recorded: np.ndarray  # bool[schools] the school has rows
    file: str


def read_enrolment(district: District, problems: Problems, *, encoding=None) -> Enrolment | None:
    """enrolment.csv of the district folder (None without one); problems name file:line:column."""
    path = find_table(district.folder, "enrolment")
    if path is None:
        return None
    table = read_table(path, problems, encoding=encoding)
    if not table.require(("school_id", "year", "grade", "pupils")):
        return None
    schools = district.schools
    ids = table.text("school_id")
    years = table.ints("year", minimum=1900)
    grades = table.text("grade")
    pupils = table.ints("pupils", minimum=0)
    rows = []
    seen = {}
    for i, (sid, year, grade, n) in enumerate(zip(ids, years, grades, pupils, strict=True)):
        line = table.lines[i]
        k = schools.index.get(sid)
        if k is None:
            problems.add(table.name, line, "school_id", f"'{sid}' is not in schools.csv")
            continue
        level = str(schools.level[k])
        if level not in GRADES:
            problems.add(table.name, line, "school_id", f"'{sid}' is a {level} school")
            continue
        if grade not in GRADES[level]:
            allowed = ", ".join(GRADES[level])
            problems.add(table.name, line, "grade", f"'{grade}' is not a {level} grade ({allowed})")
            continue
        key = (k, int(year), grade)
        if key in seen:
            problems.add(
                table.name, line, "grade", f"{sid} {year} {grade} repeats line {seen[key]}"
            )
            continue
        seen[key] = line
        rows.append((k, int(year), GRADES[level].index(grade), int(n)))
    if not rows and not problems:
        problems.add(table.name, None, None, "has no rows: pupils on roll by school and grade")
    if rows and len({r[1] for r in rows}) < 2:
        problems.add(table.name, None, "year", "needs at least two years to estimate the ratios")
    if problems:
        return None
    span = np.arange(min(r[1] for r in rows), max(r[1] for r in rows) + 1)
    out = np.zeros((len(schools), len(span), MAX_GRADES), dtype=np.int64)
    recorded = np.zeros(len(schools), dtype=bool)
    for k, year, g, n in rows:
        out[k, year - span[0], g] = n
        recorded[k] = True
    return Enrolment(span, out, recorded, table.name)


def load_enrolment(district: District, *, encoding=None) -> Enrolment:
    """enrolment.csv, or InputError with every problem (file:line: column: what)."""
    problems = Problems()
    enrolment = read_enrolment(district, problems, encoding=encoding)
    if enrolment is None and not problems:
        problems.add(
            str(district.folder / "enrolment.csv"),
            None,
            None,
            "file is missing: the cohort forecast needs pupils on roll by school, year and grade",
        )
    problems.raise_if_any()
    assert enrolment is not None
    return enrolment


# --- the model ---------------------------------------------------------------------------------


@dataclass
class CohortModel:
    zone_ids: list[str]
    zone_names: list[str]
    years: np.ndarray  # forecast years
    base_year: int  # last history year used (the projection's starting roll)
    fit_years: np.ndarray  # history years the ratios come from
    first_birth_year: int
    last_birth_year: int  # last recorded births year
    births_known: np.ndarray  # float64[first..last recorded, zones]
    birth_base: float  # district births in the last recorded year
    zone_share: np.ndarray  # of the district's births (mean of the last 3 recorded years)
    trend: float  # log-linear slope of district births over the last TREND_YEARS recorded
    scenario_names: tuple[str, ...]
    scenario_cum: np.ndarray
    scenario_drift: np.ndarray  # per year
    birth_sigma: float
    school_ids: list[str]
    school_names: list[str]
    school_level: np.ndarray  # int64 index into LEVELS
    school_zone: np.ndarray
    school_sector: list[list[str]]  # [year][school]
    p0: np.ndarray  # float64[schools, MAX_GRADES] roll in base_year
    er_hist: np.ndarray  # float64[fit entry years, levels, zones]
    er_mean: np.ndarray
    pr_hist: np.ndarray  # float64[fit transitions, schools, MAX_GRADES]
    pr_mean: np.ndarray
    weight: np.ndarray  # float64[years, schools]
    seats: np.ndarray  # float64[years, schools] entry seats (0 closed)
    public: np.ndarray  # int8[years, schools]
    sector: np.ndarray  # int64[years, schools]
    caps: np.ndarray  # int64[schools, MAX_GRADES]
    zone_order: np.ndarray  # int64[zones, zones] nearest first (itself first)
    zone_dist: np.ndarray  # float64[zones, zones] km between centres
    reach: np.ndarray  # float64[levels]
    g7_before: np.ndarray  # float64[2] junior grade 7 in base_year - 1, base_year
    resample: bool = True
    plan_name: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def lz_ptr(self) -> np.ndarray:
        """CSR offsets of the schools of each (level, zone): key level * zones + zone."""
        key = self.school_level * len(self.zone_ids) + self.school_zone
        counts = np.bincount(key, minlength=len(LEVELS) * len(self.zone_ids))
        return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    @property
    def lz_school(self) -> np.ndarray:
        key = self.school_level * len(self.zone_ids) + self.school_zone
        return np.argsort(key, kind="stable").astype(np.int64)

    @property
    def n_grades(self) -> np.ndarray:
        return np.array([len(GRADES[lv]) for lv in LEVELS], dtype=np.int64)

    @property
    def entry_age(self) -> np.ndarray:
        return np.array([ENTRY_AGE[lv] for lv in LEVELS], dtype=np.int64)

    @property
    def places(self) -> np.ndarray:
        """float64[years, schools] places on roll = entry seats x years of the level."""
        return self.seats * self.n_grades[self.school_level][None, :]

    @property
    def n_birth_years(self) -> int:
        return int(self.years[-1]) - 3 - self.first_birth_year + 1

    def level_schools(self, level: str) -> np.ndarray:
        return np.flatnonzero(self.school_level == LEVELS.index(level))


def _plan_districts(district: District, plan: Plan | None, years: np.ndarray) -> list[District]:
    if plan is None:
        return [district] * len(years)
    out, cache = [], {}
    for y in years.tolist():
        steps = [s for s in plan.steps if s.year is None or s.year <= y]
        key = tuple(s.line for s in steps)
        if key not in cache:
            cache[key] = apply_plan(district, Plan(plan.name, steps))
        out.append(cache[key])
    return out


def _births_matrix(district: District, first: int, last: int) -> np.ndarray:
    """float64[years first..last, zones]; a year before the first record takes the first."""
    b = district.births
    recorded = np.unique(b.year)
    n_z = len(district.zones.ids)
    out = np.zeros((last - first + 1, n_z))
    for t, year in enumerate(range(first, last + 1)):
        use = year if year in recorded else int(recorded[np.argmin(np.abs(recorded - year))])
        mask = b.year == use
        np.add.at(out[t], b.zone[mask], b.births[mask])
    return out


def build_cohort_model(
    district: District,
    enrolment: Enrolment,
    *,
    years: tuple[int, int] = (2021, 2030),
    plan: Plan | None = None,
    fit: tuple[int, int] | None = None,
    births_until: int | None = None,
    resample: bool = True,
) -> CohortModel:
    """The projection of `district` for years[0]..years[1] from the enrolment history.

    `fit` (first, last) restricts the history to those years (the backtest); the roll of `last`
    starts the projection. `births_until` ignores recorded births after that year (to test the
    birth scenarios against what was recorded)."""
    h_first, h_last = int(enrolment.years[0]), int(enrolment.years[-1])
    f_first, f_last = fit if fit is not None else (h_first, h_last)
    if not (h_first <= f_first < f_last <= h_last):
        raise ValueError(f"fit years {f_first}-{f_last} are not inside {h_first}-{h_last}")
    first, last = years
    if first != f_last + 1 or last < first:
        raise ValueError(f"the forecast must start the year after {f_last} (got {first}-{last})")
    zones = district.zones
    n_z = len(zones.ids)
    recorded_years = np.unique(district.births.year)
    last_birth = int(recorded_years[-1]) if births_until is None else int(births_until)
    first_birth = f_first - 6
    births_known = _births_matrix(district, first_birth, last_birth)
    fit_years = np.arange(f_first, f_last + 1)
    cols = fit_years - h_first
    hist = enrolment.pupils[:, cols, :].astype(np.float64)  # [s, t, g]

    forecast_years = np.arange(first, last + 1, dtype=np.int64)
    by_year = _plan_districts(district, plan, forecast_years)
    base = district.schools
    ids = [sid for k, sid in enumerate(base.ids) if str(base.level[k]) in LEVELS]
    info = {}
    for d in [district, *by_year]:
        s = d.schools
        for k, sid in enumerate(s.ids):
            if str(s.level[k]) in LEVELS and sid not in info:
                info[sid] = (s.name[k], LEVELS.index(str(s.level[k])), int(s.zone[k]))
                if sid not in ids:
                    ids.append(sid)
    n_s = len(ids)
    level = np.array([info[sid][1] for sid in ids], dtype=np.int64)
    zone = np.array([info[sid][2] for sid in ids], dtype=np.int64)
    base_at = [base.index.get(sid, -1) for sid in ids]
    in_hist = np.array([k >= 0 and enrolment.recorded[k] for k in base_at], dtype=bool)
    pupils = np.zeros((n_s, len(fit_years), MAX_GRADES))
    for i, k in enumerate(base_at):
        if k >= 0:
            pupils[i] = hist[k]

    # entry ratios by zone and history year
    n_t = len(fit_years)
    er_hist = np.zeros((n_t, len(LEVELS), n_z))
    for t, year in enumerate(fit_years.tolist()):
        for lv, name in enumerate(LEVELS):
            mask = level == lv
            entrants = np.bincount(zone[mask], weights=pupils[mask, t, 0], minlength=n_z)
            if name == "junior":
                if t == 0:
                    continue
                pm = level == LEVELS.index("primary")
                denom = np.bincount(zone[pm], weights=pupils[pm, t - 1, 5], minlength=n_z)
            else:
                denom = births_known[year - ENTRY_AGE[name] - first_birth]
            er_hist[t, lv] = np.divide(entrants, denom, out=np.zeros(n_z), where=denom > 0)
    er_junior = er_hist[1:, LEVELS.index("junior")]
    er_hist[0, LEVELS.index("junior")] = er_junior.mean(axis=0)  # no year before the first
    er_mean = er_hist.mean(axis=0)

    # progression ratios by school and transition
    pr_hist = np.ones((max(n_t - 1, 1), n_s, MAX_GRADES))
    for t in range(n_t - 1):
        now, later = pupils[:, t, :-1], pupils[:, t + 1, 1:]
        ratio = np.divide(later, now, out=np.ones_like(now), where=now > 0)
        pr_hist[t, :, : MAX_GRADES - 1] = ratio
    # a grade with no pupils takes its level's district ratio
    for lv in range(len(LEVELS)):
        mask = level == lv
        for t in range(n_t - 1):
            now = pupils[mask, t, :-1].sum(axis=0)
            later = pupils[mask, t + 1, 1:].sum(axis=0)
            district_ratio = np.divide(later, now, out=np.ones_like(now), where=now > 0)
            empty = pupils[:, t, :-1] <= 0
            rows = np.flatnonzero(mask)
            for g in range(MAX_GRADES - 1):
                pick = rows[empty[rows, g]]
                pr_hist[t, pick, g] = district_ratio[g]
    pr_mean = pr_hist.mean(axis=0)
    for i in np.flatnonzero(~in_hist):
        for lv in range(len(LEVELS)):
            if level[i] == lv:
                others = (level == lv) & in_hist
                pr_hist[:, i] = np.average(
                    pr_hist[:, others], axis=1, weights=pupils[others, -1].sum(1) + 1e-9
                )
                pr_mean[i] = pr_hist[:, i].mean(axis=0)

    # school shares of the zone's entrants
    share = np.zeros(n_s)
    for t in range(n_t):
        entrants = pupils[:, t, 0]
        tot = np.bincount(zone * len(LEVELS) + level, weights=entrants, minlength=n_z * 3)
        denom = tot[zone * len(LEVELS) + level]
        share += np.divide(entrants, denom, out=np.zeros(n_s), where=denom > 0) / n_t

    n_y = len(forecast_years)
    seats = np.zeros((n_y, n_s))
    public = np.zeros((n_y, n_s), dtype=np.int8)
    sector = np.zeros((n_y, n_s), dtype=np.int64)
    sector_names = []
    for y, d in enumerate(by_year):
        s = d.schools
        names = [""] * n_s
        at = {sid: i for i, sid in enumerate(ids)}
        for k, sid in enumerate(s.ids):
            if sid in at:
                i = at[sid]
                seats[y, i] = s.seats[k]
                names[i] = str(s.sector[k])
                sector[y, i] = SECTORS.index(names[i])
                public[y, i] = names[i] == "public"
        sector_names.append(names)
    base_seats = np.array([base.seats[k] if k >= 0 else 0 for k in base_at], dtype=np.float64)
    weight = np.zeros((n_y, n_s))
    for y in range(n_y):
        for i in range(n_s):
            if seats[y, i] <= 0:
                continue
            if in_hist[i] and base_seats[i] > 0:
                weight[y, i] = share[i] * seats[y, i] / base_seats[i]
            else:
                weight[y, i] = seats[y, i] * _share_per_seat(
                    i, y, share, base_seats, in_hist, level, zone, sector
                )

    caps = np.ones((n_s, MAX_GRADES), dtype=np.int64)
    for i in range(n_s):
        c = CLASS_CAPS[LEVELS[level[i]]]
        caps[i, : len(c)] = c
    xy = np.stack([zones.x_km, zones.y_km], axis=1)
    dist = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    order = np.array(
        [sorted(range(n_z), key=lambda j, z=z: (dist[z, j], j != z, j)) for z in range(n_z)],
        dtype=np.int64,
    )
    jm = level == LEVELS.index("junior")
    g7 = pupils[jm][:, :, 0].sum(axis=0)
    g7_before = np.array([g7[-2] if n_t >= 2 else g7[-1], g7[-1]])

    recorded_b = births_known[: last_birth - first_birth + 1].sum(axis=1)
    window = recorded_b[-TREND_YEARS:]
    tt = np.arange(len(window), dtype=np.float64)
    trend = float(np.polyfit(tt, np.log(window), 1)[0]) if len(window) >= 2 else 0.0
    shares = births_known[-3:] / births_known[-3:].sum(axis=1, keepdims=True)
    probs = np.array([p for _, p, _ in BIRTH_SCENARIOS])
    model = CohortModel(
        zone_ids=list(zones.ids),
        zone_names=list(zones.name),
        years=forecast_years,
        base_year=f_last,
        fit_years=fit_years,
        first_birth_year=first_birth,
        last_birth_year=last_birth,
        births_known=births_known,
        birth_base=float(recorded_b[-1]),
        zone_share=shares.mean(axis=0),
        trend=trend,
        scenario_names=tuple(n for n, _, _ in BIRTH_SCENARIOS),
        scenario_cum=np.cumsum(probs) / probs.sum(),
        scenario_drift=np.array([min(trend, 0.0) * k for _, _, k in BIRTH_SCENARIOS]),
        birth_sigma=BIRTH_SIGMA,
        school_ids=ids,
        school_names=[info[sid][0] for sid in ids],
        school_level=level,
        school_zone=zone,
        school_sector=sector_names,
        p0=pupils[:, -1, :].copy(),
        er_hist=er_hist,
        er_mean=er_mean,
        pr_hist=pr_hist,
        pr_mean=pr_mean,
        weight=weight,
        seats=seats,
        public=public,
        sector=sector,
        caps=caps,
        zone_order=order,
        zone_dist=dist,
        reach=np.array([KINDERGARTEN_REACH_KM, math.inf, math.inf]),
        g7_before=g7_before,
        resample=resample,
        plan_name=plan.name if plan is not None else "",
    )
    if trend > 0:
        model.notes.append(
            f"recorded births rose {trend:+.3f} a year: the scenarios keep them at most flat"
        )
    return model


def _share_per_seat(i, y, share, base_seats, in_hist, level, zone, sector) -> float:
    """A new school's share per entry seat: its zone's schools of its level and sector, else
    the district's schools of its level and sector, else of its level."""
    for mask in (
        (level == level[i]) & (zone == zone[i]) & (sector[y] == sector[y, i]),
        (level == level[i]) & (sector[y] == sector[y, i]),
        level == level[i],
    ):
        mask = mask & in_hist & (base_seats > 0)
        if mask.any():
            # share per seat relative to the zone's total: new seats join the zone's demand
            return float(share[mask].sum() / base_seats[mask].sum())
    return 0.0


# --- history: migration as the residual ---------------------------------------------------------

MIGRATION_HEADER = [
    "level", "zone_id", "name", "year", "entrants", "cohort_births", "entry_ratio",
    "net_migration_at_entry", "net_migration_later_grades",
]  # fmt: skip


def migration_rows(model: CohortModel, enrolment: Enrolment, district: District) -> list[list]:
    """Per level, zone and history year: entrants against the cohort's births, and the net
    migration the data imply — at entry (primary: entrants - births 6 years before; take-up is
    1 in compulsory education) and in the later grades (pupils of grades 2.. in Y - the same
    cohorts a grade lower in Y - 1, i.e. the residual of the progression)."""
    rows = []
    n_z = len(model.zone_ids)
    h = enrolment.pupils
    level = np.array([str(x) for x in district.schools.level])
    zone = district.schools.zone
    for _lv, name in enumerate(LEVELS):
        mask = level == name
        for t, year in enumerate(enrolment.years.tolist()):
            entrants = np.bincount(zone[mask], weights=h[mask, t, 0], minlength=n_z)
            later = np.zeros(n_z)
            if t > 0:
                ng = len(GRADES[name])
                moved = h[mask, t, 1:ng].sum(1) - h[mask, t - 1, : ng - 1].sum(1)
                later = np.bincount(zone[mask], weights=moved, minlength=n_z)
            for z in range(n_z):
                if name == "junior":
                    born, ratio, at_entry = "", "", ""
                else:
                    b = year - ENTRY_AGE[name] - model.first_birth_year
                    births = model.births_known[b, z] if 0 <= b < len(model.births_known) else 0
                    born = f"{births:.0f}"
                    ratio = f"{entrants[z] / births:.4f}" if births else ""
                    at_entry = f"{entrants[z] - births:.0f}" if name == "primary" else ""
                rows.append(
                    [
                        name,
                        model.zone_ids[z],
                        model.zone_names[z],
                        year,
                        f"{entrants[z]:.0f}",
                        born,
                        ratio,
                        at_entry,
                        f"{later[z]:.0f}" if t > 0 else "",
                    ]
                )
    return rows
