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
    """Births by year, then per level: children on roll demanded and seated against places."""
    model, b = results.model, results.batch
    fig, axes = plt.subplots(1, 1 + len(model.levels), figsize=(5.2 * (1 + len(model.levels)), 4.4))
    births = b.births.sum(axis=2)
    birth_years = model.birth_years
    recorded = birth_years <= model.base_year
    ax = axes[0]
    _fan(ax, birth_years, births, "tab:purple", "births")
    ax.plot(birth_years[recorded], births[0, recorded], "k.", ms=4, label="recorded")
    ax.set_title("Births in the district")
    ax.set_xlabel("year of birth")
    ax.legend(fontsize=7, loc="lower left")
    years = model.years
    for k, lv in enumerate(model.levels):
        ax = axes[1 + k]
        _fan(ax, years, b.demand[:, k].sum(axis=2), "tab:blue", "demand")
        _fan(ax, years, b.seated[:, k].sum(axis=2), "tab:green", "seated")
        ax.step(years, lv.cap.sum(axis=1), where="mid", color="tab:red", lw=1.5, label="places")
        ax.set_title(f"{lv.name}: children on roll (ages {lv.young}-{lv.old})")
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


def plot_risk(results, path: Path) -> None:
    """P(shortfall) per zone and year, one panel per level."""
    model = results.model
    risk = results.batch.short.mean(axis=0)
    fig, axes = plt.subplots(1, len(model.levels), figsize=(5.5 * len(model.levels), 4.8))
    axes = np.atleast_1d(axes)
    image = None
    for k, lv in enumerate(model.levels):
        ax = axes[k]
        image = ax.imshow(risk[k].T, vmin=0.0, vmax=1.0, cmap="Reds", aspect="auto")
        ax.set_xticks(range(len(model.years)), [str(y) for y in model.years], rotation=60)
        ax.set_yticks(range(len(model.zone_ids)), model.zone_ids)
        ax.set_title(f"{lv.name}: P(zone short of places)")
        for (y, z), p in np.ndenumerate(risk[k]):
            if p >= 0.005:
                colour = "white" if p > 0.6 else "black"
                ax.text(y, z, f"{p:.0%}", ha="center", va="center", fontsize=6, color=colour)
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="probability")
    fig.savefig(path, dpi=110, metadata=PNG_METADATA)
    plt.close(fig)
