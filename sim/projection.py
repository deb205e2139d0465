"""The forecast model of a district as arrays: births trend, calibrated factors, capacity by year.

Births (births.csv). Recorded years are kept (a year before the first record takes each zone's
nearest recorded year, as the network does). Later years follow a damped log-linear trend of the
district's births, fitted by least squares over the last ``fit_years`` recorded years:
``log B(T + h) = a_T + b_r * (phi + phi^2 + ... + phi^h) + e_rh``, where ``a_T`` is the fitted
level in the last recorded year T, ``b_r ~ N(b, se_b)`` the slope of the replication, ``phi`` the
damping (a decline that slows down, as cohort declines do), and ``e_rh`` a residual of the fit
drawn with replacement. Each replication also draws a low / mid / high scenario that multiplies
all its future births (0.9 / 1.0 / 1.1 with probabilities 1/4, 1/2, 1/4 by default). Zones take
their mean share of the district's births over the fit window.

Children of a level (kindergarten 3-5, primary 6-11) in year Y are the births of the matching
years, in the zone (no mortality). Children on roll per child of the level's ages is a factor
calibrated on the calibration year T (the last year of births.csv; the school data are "as at the
end of 2020"): ``f = pupils on roll / children`` over the district. Kindergarten: 16,760 / 16,945
= 0.989, read as take-up (毛入园率; in-migrants are inside it, the data cannot separate them).
Primary: 48,550 / 29,960 = 1.62: education is compulsory, so take-up is 1 and the excess is the
inflow of migrant children (随迁子女), 62% of the locally born cohort. Both move after T as a
log random walk: kindergarten ``f * exp(s_u * W)``, primary ``1 + (f - 1) * exp(s_m * W)``, with
W a sum of one standard normal per year after T (``takeup_sigma`` 0.01, ``inflow_sigma`` 0.05
per year by default). Demand per zone is children x factor, rounded by largest remainder so that
the district total is the rounded total.

Capacity: places on roll = entry seats x years of the level (kindergarten 3, primary 6) for the
schools open in the year, after the building plan's steps due by then (a step without a year is
due from the start; a new school has all its places from its opening year). Which zones a school
serves is read from the network (sim.network) of each year's district.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from seats.io.model import District
from sim.network import LEVEL_AGES, LEVEL_YEARS, births_by_year, build_network, serves_edges
from sim.plan import Plan, apply_plan

FORECAST_LEVELS = ("kindergarten", "primary")
SECTOR_STAGE = {"public": 0, "inclusive_private": 1, "private": 2}
SECTOR_NAMES = tuple(SECTOR_STAGE)


@dataclass(frozen=True)
class Uncertainty:
    """What varies between replications (see the module docstring)."""

    residuals: bool = True  # resample the trend's residuals
    slope: bool = True  # draw the slope from its standard error
    scenarios: tuple[tuple[str, float, float], ...] = (
        ("low", 0.25, 0.9),
        ("mid", 0.50, 1.0),
        ("high", 0.25, 1.1),
    )  # (name, probability, multiplier of future births)
    inflow_sigma: float = 0.05  # per year, log random walk of the migrant inflow (随迁)
    takeup_sigma: float = 0.01  # per year, log random walk of kindergarten take-up

    @classmethod
    def none(cls) -> Uncertainty:
        """Every replication is the deterministic projection."""
        return cls(False, False, (("mid", 1.0, 1.0),), 0.0, 0.0)


@dataclass(frozen=True)
class BirthsTrend:
    years: np.ndarray  # the fit window
    log_births: np.ndarray  # district, over the window
    anchor: float  # fitted log births in the last recorded year
    slope: float
    slope_se: float
    residuals: np.ndarray
    damping: float
    zone_share: np.ndarray


def fit_births(recorded: np.ndarray, years: np.ndarray, fit_years: int, damping: float):
    """Least-squares fit of log district births over the last `fit_years` recorded years."""
    window = slice(max(len(years) - fit_years, 0), len(years))
    t = years[window].astype(np.float64)
    district = recorded[:, window].sum(axis=0).astype(np.float64)
    y = np.log(district)
    tc = t - t.mean()
    slope = float((tc * (y - y.mean())).sum() / (tc * tc).sum())
    fitted = y.mean() + slope * tc
    residuals = y - fitted
    dof = max(len(t) - 2, 1)
    slope_se = float(np.sqrt((residuals**2).sum() / dof / (tc * tc).sum()))
    share = (recorded[:, window] / district).mean(axis=1)
    return BirthsTrend(
        years=years[window],
        log_births=y,
        anchor=float(fitted[-1]),
        slope=slope,
        slope_se=slope_se,
        residuals=residuals,
        damping=damping,
        zone_share=share / share.sum(),
    )


@dataclass
class LevelModel:
    """One level's schools, capacity by year and eligibility (edges zone -> school)."""

    name: str
    young: int
    old: int
    factor: float  # calibrated children on roll per child in the calibration year
    factor_fixed: float
    factor_var: float
    factor_sigma: float
    school_ids: list[str]
    school_names: list[str]
    cap: np.ndarray  # int64[years, schools] places on roll, 0 when not open
    stage: np.ndarray  # int64[years, schools] sector rank
    seats: np.ndarray  # int64[years, schools] entry seats
    edge_zone: np.ndarray  # int64[edges]
    edge_school: np.ndarray  # int64[edges], sorted by zone then school
    active: np.ndarray  # bool[years, edges]
    group_ids: list[str]
    group_names: list[str]
    group_schools: list[np.ndarray]
    enrolled: int  # pupils on roll in the calibration year
    children: int  # children of the level's ages in the calibration year


@dataclass
class ForecastModel:
    zone_ids: list[str]
    zone_names: list[str]
    years: np.ndarray
    base_year: int  # last recorded births year = calibration year
    first_birth_year: int
    births_known: np.ndarray  # float64[known birth years, zones]
    trend: BirthsTrend
    uncertainty: Uncertainty
    levels: list[LevelModel]
    plan_name: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def birth_years(self) -> np.ndarray:
        last = int(self.years[-1]) - min(lv.young for lv in self.levels)
        return np.arange(self.first_birth_year, last + 1)

    def with_uncertainty(self, uncertainty: Uncertainty) -> ForecastModel:
        return dataclasses.replace(self, uncertainty=uncertainty)


def _plan_states(plan: Plan | None, years: np.ndarray) -> list[Plan | None]:
    """The plan as applied by each forecast year (steps due by then)."""
    if plan is None:
        return [None] * len(years)
    return [
        Plan(plan.name, [s for s in plan.steps if s.year is None or s.year <= y]) for y in years
    ]


def build_model(
    district: District,
    *,
    years: tuple[int, int] = (2021, 2030),
    plan: Plan | None = None,
    uncertainty: Uncertainty | None = None,
    fit_years: int = 5,
    damping: float = 0.8,
) -> ForecastModel:
    """The forecast model of `district` for years[0]..years[1] (see the module docstring)."""
    first, last = years
    if last < first:
        raise ValueError(f"the last year {last} is before the first {first}")
    recorded_years = np.unique(district.births.year)
    if len(recorded_years) < 3:
        raise ValueError("births.csv needs at least 3 recorded years to fit a trend")
    base_year = int(recorded_years[-1])
    if first < base_year:
        raise ValueError(f"the forecast starts in {first}, before the calibration year {base_year}")
    forecast_years = np.arange(first, last + 1, dtype=np.int64)
    oldest = max(LEVEL_AGES[lv][1] for lv in FORECAST_LEVELS)
    first_birth_year = min(first, base_year) - oldest
    known, estimated = births_by_year(district, range(first_birth_year, base_year + 1))
    span = np.arange(int(recorded_years[0]), base_year + 1)
    recorded, _ = births_by_year(district, range(int(span[0]), base_year + 1))
    trend = fit_births(recorded, span, fit_years, damping)
    model = ForecastModel(
        zone_ids=list(district.zones.ids),
        zone_names=list(district.zones.name),
        years=forecast_years,
        base_year=base_year,
        first_birth_year=first_birth_year,
        births_known=known.T.astype(np.float64),
        trend=trend,
        uncertainty=uncertainty or Uncertainty(),
        levels=[],
        plan_name=plan.name if plan is not None else "",
    )
    early = [y for y in estimated if y < recorded_years[0]]
    if early:
        model.notes.append(
            f"births before {recorded_years[0]} ({', '.join(map(str, early))}) take each zone's "
            "first recorded year"
        )
    states = _plan_states(plan, forecast_years)
    districts = {}
    for state in states:
        name = "" if state is None else ";".join(str(s.line) for s in state.steps)
        if name not in districts:
            districts[name] = district if state is None else apply_plan(district, state)
    by_year = [
        districts["" if s is None else ";".join(str(x.line) for x in s.steps)] for s in states
    ]
    graphs = {id(d): build_network(d, year=base_year) for d in districts.values()}
    for level in FORECAST_LEVELS:
        model.levels.append(_level_model(district, level, by_year, graphs, base_year))
    return model


def _level_model(
    district: District, level: str, by_year: list[District], graphs: dict, base_year: int
) -> LevelModel:
    young, old = LEVEL_AGES[level]
    base = district.schools
    ids: list[str] = [sid for k, sid in enumerate(base.ids) if base.level[k] == level]
    names: dict[str, str] = {
        sid: base.name[k] for k, sid in enumerate(base.ids) if base.level[k] == level
    }
    for d in by_year:
        for k, sid in enumerate(d.schools.ids):
            if d.schools.level[k] == level and sid not in names:
                ids.append(sid)
                names[sid] = d.schools.name[k]
    at = {sid: k for k, sid in enumerate(ids)}
    n_years, n_s = len(by_year), len(ids)
    cap = np.zeros((n_years, n_s), dtype=np.int64)
    seats = np.zeros((n_years, n_s), dtype=np.int64)
    stage = np.zeros((n_years, n_s), dtype=np.int64)
    pairs_by_year = []
    zone_at = {z: i for i, z in enumerate(district.zones.ids)}
    for y, d in enumerate(by_year):
        s = d.schools
        for k, sid in enumerate(s.ids):
            if s.level[k] != level:
                continue
            seats[y, at[sid]] = s.seats[k]
            cap[y, at[sid]] = s.seats[k] * LEVEL_YEARS[level]
            stage[y, at[sid]] = SECTOR_STAGE[str(s.sector[k])]
        pairs_by_year.append(
            {
                (zone_at[u[1]], at[v[1]])
                for u, v in serves_edges(graphs[id(d)])
                if v[1] in at and graphs[id(d)].nodes[v]["level"] == level
            }
        )
    union = sorted(set().union(*pairs_by_year))
    edges = np.array(union, dtype=np.int64).reshape(-1, 2)
    active = np.array([[p in pairs for p in union] for pairs in pairs_by_year], dtype=bool)
    active = active.reshape(n_years, len(union))

    groups: dict[str, set[int]] = {}
    for d in by_year:
        for g, k in zip(d.members.group.tolist(), d.members.school.tolist(), strict=True):
            sid = d.schools.ids[k]
            if sid in at:
                groups.setdefault(d.groups.ids[g], set()).add(at[sid])
    group_ids = [g for g in district.groups.ids if g in groups]
    enrolled = int(base.enrolled[base.level == level].sum())
    known, _ = births_by_year(district, range(base_year - old, base_year - young + 1))
    children = int(known.sum())
    factor = enrolled / children if children else 0.0
    return LevelModel(
        name=level,
        young=young,
        old=old,
        factor=factor,
        factor_fixed=0.0 if level == "kindergarten" else 1.0,
        factor_var=factor if level == "kindergarten" else factor - 1.0,
        factor_sigma=0.0,  # set from the uncertainty when the kernel runs
        school_ids=ids,
        school_names=[names[sid] for sid in ids],
        cap=cap,
        stage=stage,
        seats=seats,
        edge_zone=edges[:, 0].copy(),
        edge_school=edges[:, 1].copy(),
        active=active,
        group_ids=group_ids,
        group_names=[district.groups.name[district.groups.index[g]] for g in group_ids],
        group_schools=[np.array(sorted(groups[g]), dtype=np.int64) for g in group_ids],
        enrolled=enrolled,
        children=children,
    )


def level_sigma(level: LevelModel, uncertainty: Uncertainty) -> float:
    return uncertainty.takeup_sigma if level.name == "kindergarten" else uncertainty.inflow_sigma


@dataclass(frozen=True)
class KernelInputs:
    """The model packed for forecast_kernel (level arrays padded along a leading axis)."""

    births_known: np.ndarray
    anchor: float
    slope: float
    slope_se: float
    damping: float
    residuals: np.ndarray
    scenario_cum: np.ndarray
    scenario_mult: np.ndarray
    zone_share: np.ndarray
    years: np.ndarray
    base_year: int
    first_birth_year: int
    n_birth_years: int
    level_young: np.ndarray
    level_old: np.ndarray
    factor_fixed: np.ndarray
    factor_var: np.ndarray
    factor_sigma: np.ndarray
    cap: np.ndarray
    stage: np.ndarray
    active: np.ndarray
    zone_ptr: np.ndarray
    edge_school: np.ndarray
    school_ptr: np.ndarray
    school_edge: np.ndarray
    edge_zone: np.ndarray
    group_ptr: np.ndarray
    group_school: np.ndarray


def _csr(keys: np.ndarray, n: int) -> np.ndarray:
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=ptr[1:])
    return ptr


def pack(model: ForecastModel) -> KernelInputs:
    u, tr, levels = model.uncertainty, model.trend, model.levels
    n_z, n_y, n_l = len(model.zone_ids), len(model.years), len(levels)
    n_s = max(len(lv.school_ids) for lv in levels)
    n_e = max(len(lv.edge_zone) for lv in levels)
    n_g = max(len(lv.group_ids) for lv in levels)
    n_gs = max((sum(len(s) for s in lv.group_schools) for lv in levels), default=0)
    cap = np.zeros((n_l, n_y, n_s), dtype=np.int64)
    stage = np.zeros((n_l, n_y, n_s), dtype=np.int64)
    active = np.zeros((n_l, n_y, n_e), dtype=np.bool_)
    zone_ptr = np.zeros((n_l, n_z + 1), dtype=np.int64)
    school_ptr = np.zeros((n_l, n_s + 1), dtype=np.int64)
    edge_school = np.zeros((n_l, n_e), dtype=np.int64)
    edge_zone = np.zeros((n_l, n_e), dtype=np.int64)
    school_edge = np.zeros((n_l, n_e), dtype=np.int64)
    group_ptr = np.zeros((n_l, n_g + 1), dtype=np.int64)
    group_school = np.zeros((n_l, max(n_gs, 1)), dtype=np.int64)
    for k, lv in enumerate(levels):
        s, e = len(lv.school_ids), len(lv.edge_zone)
        cap[k, :, :s] = lv.cap
        stage[k, :, :s] = lv.stage
        active[k, :, :e] = lv.active
        zone_ptr[k] = _csr(lv.edge_zone, n_z)
        ptr = _csr(lv.edge_school, s)
        school_ptr[k, : s + 1] = ptr
        school_ptr[k, s + 1 :] = ptr[-1]
        edge_school[k, :e] = lv.edge_school
        edge_zone[k, :e] = lv.edge_zone
        school_edge[k, :e] = np.argsort(lv.edge_school, kind="stable")
        sizes = [len(x) for x in lv.group_schools] + [0] * (n_g - len(lv.group_schools))
        group_ptr[k, 1:] = np.cumsum(sizes)
        if lv.group_schools:
            flat = np.concatenate(lv.group_schools)
            group_school[k, : len(flat)] = flat
    probs = np.array([p for _, p, _ in u.scenarios], dtype=np.float64)
    return KernelInputs(
        births_known=model.births_known,
        anchor=tr.anchor,
        slope=tr.slope,
        slope_se=tr.slope_se if u.slope else 0.0,
        damping=tr.damping,
        residuals=tr.residuals if u.residuals else np.zeros(0),
        scenario_cum=np.cumsum(probs) / probs.sum(),
        scenario_mult=np.array([m for _, _, m in u.scenarios], dtype=np.float64),
        zone_share=tr.zone_share,
        years=model.years,
        base_year=model.base_year,
        first_birth_year=model.first_birth_year,
        n_birth_years=len(model.birth_years),
        level_young=np.array([lv.young for lv in levels], dtype=np.int64),
        level_old=np.array([lv.old for lv in levels], dtype=np.int64),
        factor_fixed=np.array([lv.factor_fixed for lv in levels]),
        factor_var=np.array([lv.factor_var for lv in levels]),
        factor_sigma=np.array([level_sigma(lv, u) for lv in levels]),
        cap=cap,
        stage=stage,
        active=active,
        zone_ptr=zone_ptr,
        edge_school=edge_school,
        school_ptr=school_ptr,
        school_edge=school_edge,
        edge_zone=edge_zone,
        group_ptr=group_ptr,
        group_school=group_school,
    )
