"""The forecast as pictures: fan charts of demand against places, and a shortfall-risk heat map.

Labels use ids and English, so the PNGs need no CJK font. Agg backend: files only.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

# PNG metadata names the matplotlib version only; no dates, so files are byte-identical.
PNG_METADATA = {"Software": None}


def _fan(ax, x, values, color, label):
    q = np.quantile(values, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
    ax.fill_between(x, q[0], q[4], color=color, alpha=0.18, lw=0, label=f"{label} 5-95%")
    ax.fill_between(x, q[1], q[3], color=color, alpha=0.35, lw=0, label=f"{label} 25-75%")
    ax.plot(x, q[2], color=color, lw=1.8, label=f"{label} median")


def plot_fans(results, path: Path) -> None:
    """Births by year, then per level: pupils on roll against places (and unmet entrants)."""
    from sim.cohort import LEVELS
    from sim.forecast import level_totals

    model, b = results.model, results.batch
    fig, axes = plt.subplots(1, 1 + len(LEVELS), figsize=(5.2 * (1 + len(LEVELS)), 4.4))
    births = b.births.sum(axis=2)
    birth_years = np.arange(model.first_birth_year, model.first_birth_year + births.shape[1])
    recorded = birth_years <= model.last_birth_year
    ax = axes[0]
    _fan(ax, birth_years, births, "tab:purple", "births")
    ax.plot(birth_years[recorded], births[0, recorded], "k.", ms=4, label="recorded")
    ax.set_title("Births in the district")
    ax.set_xlabel("year of birth")
    ax.legend(fontsize=7, loc="lower left")
    years = model.years
    pupils = level_totals(results)
    for k, level in enumerate(LEVELS):
        ax = axes[1 + k]
        mask = model.school_level == k
        _fan(ax, years, pupils[:, k], "tab:blue", "pupils")
        unmet = b.unmet[:, k].astype(np.float64).sum(axis=2)
        if unmet.max() > 0.5:
            _fan(ax, years, unmet, "tab:orange", "unmet entrants")
        ax.step(years, model.places[:, mask].sum(axis=1), where="mid", color="tab:red", lw=1.5,
                label="places")  # fmt: skip
        ax.set_title(f"{level}: pupils on roll")
        ax.set_xlabel("year")
        ax.legend(fontsize=7, loc="best")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    fig.suptitle(f"Forecast, {results.runs:,} runs (seed {results.seed})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata=PNG_METADATA)
    plt.close(fig)


def plot_utilisation(results, path: Path) -> None:
    """Median utilisation (pupils / places) per school and year, one panel per level; schools
    sorted by their last-year utilisation; 90 % and 60 % marked in the colour bar."""
    from sim.cohort import LEVELS
    from sim.forecast import school_tables

    model = results.model
    t = school_tables(results)
    util = np.where(model.seats > 0, t["util"], np.nan)
    fig, axes = plt.subplots(1, len(LEVELS), figsize=(5.0 * len(LEVELS), 9.0))
    image = None
    for k, level in enumerate(LEVELS):
        ax = axes[k]
        idx = np.flatnonzero(model.school_level == k)
        last = np.nan_to_num(util[-1, idx], nan=-1.0)
        idx = idx[np.argsort(-last, kind="stable")]
        image = ax.imshow(util[:, idx].T, vmin=0.0, vmax=1.2, cmap="RdYlGn_r", aspect="auto",
                          interpolation="nearest")  # fmt: skip
        ax.set_xticks(range(len(model.years)), [str(y) for y in model.years], rotation=60)
        step = max(1, len(idx) // 40)
        ax.set_yticks(range(0, len(idx), step), [model.school_ids[i] for i in idx[::step]],
                      fontsize=6)  # fmt: skip
        ax.set_title(f"{level}: median use of places")
    cbar = fig.colorbar(image, ax=list(axes), shrink=0.6, label="pupils / places")
    for v in (0.6, 0.9, 1.0):
        cbar.ax.axhline(v, color="black", lw=0.8)
    fig.savefig(path, dpi=100, metadata=PNG_METADATA)
    plt.close(fig)


def plot_risk(results, path: Path) -> None:
    """P(some entrants of the zone are seated nowhere) per zone and year, one panel per level."""
    from sim.cohort import LEVELS
    from sim.forecast import unmet_probability

    model = results.model
    risk = unmet_probability(results)
    fig, axes = plt.subplots(1, len(LEVELS), figsize=(5.5 * len(LEVELS), 4.8))
    axes = np.atleast_1d(axes)
    image = None
    for k, level in enumerate(LEVELS):
        ax = axes[k]
        image = ax.imshow(risk[k].T, vmin=0.0, vmax=1.0, cmap="Reds", aspect="auto")
        ax.set_xticks(range(len(model.years)), [str(y) for y in model.years], rotation=60)
        ax.set_yticks(range(len(model.zone_ids)), model.zone_ids)
        ax.set_title(f"{level}: P(entrants seated nowhere)")
        for (y, z), p in np.ndenumerate(risk[k]):
            if p >= 0.005:
                colour = "white" if p > 0.6 else "black"
                ax.text(y, z, f"{p:.0%}", ha="center", va="center", fontsize=6, color=colour)
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="probability")
    fig.savefig(path, dpi=110, metadata=PNG_METADATA)
    plt.close(fig)
