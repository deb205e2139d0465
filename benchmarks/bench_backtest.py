"""Backtest of the cohort forecast: fit on 2016-2018, forecast 2019-2020, against two baselines.

    python benchmarks/bench_backtest.py [--fit 2016-2018]

The model (sim.cohort, central projection with the recorded births) is fitted on the enrolment of
the fit years and forecasts the pupils on roll of the remaining years of enrolment.csv, by level
and by the zone of the school; the baselines are the last fitted year's value and the linear
trend of the fitted years (sim.backtest). Prints markdown tables: mean absolute percentage error
per level (over zones and years) and per level and zone.
"""

from __future__ import annotations

import argparse
import platform

import numpy as np

from seats.io.model import embedded_dataset, load_district
from sim.backtest import run_backtest
from sim.cohort import load_enrolment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", default="2016-2018")
    args = parser.parse_args()
    first, last = (int(x) for x in args.fit.split("-"))
    district = load_district(embedded_dataset())
    enrolment = load_enrolment(district)
    bt = run_backtest(district, enrolment, fit=(first, last))
    print(
        f"Machine: {platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}, numpy {np.__version__}\n"
    )
    print(f"### Fit {first}-{last}, forecast {bt.years[0]}-{bt.years[-1]}: error per level\n")
    print(bt.markdown())
    print(f"\n### Per level and zone (mean over {', '.join(map(str, bt.years))})\n")
    print(bt.zone_markdown())


if __name__ == "__main__":
    main()
