"""Backtest of the cohort model: fit on some history years, forecast the next ones, compare.

The model (sim.cohort, central projection: mean ratios, no resampling) is fitted on the
enrolment of `fit` (default 2016-2018) and forecasts the pupils on roll of the following years
(default 2019-2020) with the recorded births. Pupils are summed by level and by the zone of the
school, and compared with what enrolment.csv records, beside two naive baselines per level and
zone: the last fitted year's value, and the least-squares linear trend of the fitted years.
The error of a level is the mean absolute percentage error over its zones and forecast years
(zones with no pupils left out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seats.io.model import District
from sim.cohort import LEVELS, Enrolment, build_cohort_model


@dataclass
class Backtest:
    fit: tuple[int, int]
    years: list[int]
    zone_ids: list[str]
    actual: np.ndarray  # float64[levels, years, zones]
    model: np.ndarray
    last_value: np.ndarray
    linear: np.ndarray

    def mape(self, which: str, level: int) -> float:
        pred, act = getattr(self, which)[level], self.actual[level]
        ok = act > 0
        return float(np.mean(np.abs(pred[ok] - act[ok]) / act[ok]))

    def district_error(self, which: str, level: int) -> float:
        """Mean absolute percentage error of the level's district total over the years."""
        pred, act = getattr(self, which)[level].sum(-1), self.actual[level].sum(-1)
        return float(np.mean(np.abs(pred - act) / act))

    def markdown(self) -> str:
        out = [
            "| level | model MAPE | last value | linear trend | district total: model | "
            "last value | linear trend |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for lv, level in enumerate(LEVELS):
            out.append(
                f"| {level} | "
                + " | ".join(f"{100 * self.mape(w, lv):.2f}%" for w in WHICH)
                + " | "
                + " | ".join(f"{100 * self.district_error(w, lv):.2f}%" for w in WHICH)
                + " |"
            )
        return "\n".join(out)

    def zone_markdown(self) -> str:
        """Absolute percentage error per level and zone, over the forecast years."""
        out = ["| level | zone | pupils (actual) | model | last value | linear trend |"]
        out.append("|---|---|---:|---:|---:|---:|")
        for lv, level in enumerate(LEVELS):
            for z, zone in enumerate(self.zone_ids):
                act = self.actual[lv, :, z]
                if act.sum() <= 0:
                    continue
                errs = [np.mean(np.abs(getattr(self, w)[lv, :, z] - act) / act) for w in WHICH]
                actual = " / ".join(f"{a:,.0f}" for a in act)
                out.append(
                    f"| {level} | {zone} | {actual} | "
                    + " | ".join(f"{100 * e:.2f}%" for e in errs)
                    + " |"
                )
        return "\n".join(out)


WHICH = ("model", "last_value", "linear")


def _zone_totals(district: District, enrolment: Enrolment, years: list[int]) -> np.ndarray:
    s = district.schools
    n_z = len(district.zones.ids)
    out = np.zeros((len(LEVELS), len(years), n_z))
    level = np.array([str(x) for x in s.level])
    for lv, name in enumerate(LEVELS):
        mask = level == name
        for t, year in enumerate(years):
            col = year - int(enrolment.years[0])
            pupils = enrolment.pupils[mask, col].sum(axis=1)
            out[lv, t] = np.bincount(s.zone[mask], weights=pupils, minlength=n_z)
    return out


def run_backtest(
    district: District,
    enrolment: Enrolment,
    *,
    fit: tuple[int, int] = (2016, 2018),
    until: int | None = None,
) -> Backtest:
    """Fit on `fit`, forecast fit[1] + 1 .. `until` (default: the last enrolment year)."""
    from sim.forecast import central_projection  # the engine lives there

    until = int(enrolment.years[-1]) if until is None else until
    years = list(range(fit[1] + 1, until + 1))
    if not years:
        raise ValueError(f"nothing to forecast after {fit[1]} (the history ends in {until})")
    model = build_cohort_model(
        district, enrolment, years=(years[0], years[-1]), fit=fit, resample=False
    )
    central = central_projection(model)
    n_z = len(model.zone_ids)
    pred = np.zeros((len(LEVELS), len(years), n_z))
    pupils = central.batch.pupils[0].astype(np.float64)  # [years, schools]
    for lv in range(len(LEVELS)):
        mask = model.school_level == lv
        for t in range(len(years)):
            pred[lv, t] = np.bincount(
                model.school_zone[mask], weights=pupils[t, mask], minlength=n_z
            )
    fitted_years = list(range(fit[0], fit[1] + 1))
    history = _zone_totals(district, enrolment, fitted_years)
    actual = _zone_totals(district, enrolment, years)
    last = np.repeat(history[:, -1:, :], len(years), axis=1)
    t = np.array(fitted_years, dtype=np.float64)
    tc = t - t.mean()
    slope = np.einsum("t,ltz->lz", tc, history - history.mean(axis=1, keepdims=True)) / (tc @ tc)
    ahead = np.array(years, dtype=np.float64) - t.mean()
    linear = history.mean(axis=1)[:, None, :] + slope[:, None, :] * ahead[None, :, None]
    return Backtest(fit, years, list(model.zone_ids), actual, pred, last, linear)
