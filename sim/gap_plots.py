"""The gap analysis as pictures: a map of zones and schools, and bars of unmet demand.

Zones are labelled by name (鼓楼街道) where a CJK font is installed, else by id (Z01).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window; safe on servers without a display

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors
from matplotlib.lines import Line2D

from seats.io.fonts import find_cjk_font
from sim.network import campuses_of, nodes_of_kind

SECTOR_MARKERS = {"public": "o", "inclusive_private": "s", "private": "^"}


def plot_map(summary, path: Path) -> None:
    """One panel per scenario: zone centres sized by demand and coloured by the share unmet,
    schools at their positions (hollow when they have room, filled when full, red in a
    bottleneck), and lines from each group's lead to its campuses."""
    scenarios = summary.scenarios
    fig, axes = plt.subplots(1, len(scenarios), figsize=(6.5 * len(scenarios), 7), squeeze=False)
    worst = max(
        (sc.result.unmet_zone(sc.problem) / np.maximum(sc.problem.demand, 1)).max()
        for sc in scenarios
    )
    norm = colors.Normalize(0.0, max(float(worst), 0.05))
    family = find_cjk_font()
    cmap = plt.get_cmap("Reds")
    for ax, sc in zip(axes[0], scenarios, strict=True):
        graph, p, r = sc.graph, sc.problem, sc.result
        xy = {n: (graph.nodes[n]["x_km"], graph.nodes[n]["y_km"]) for n in graph if n[0] != "group"}
        school_at = {n: i for i, n in enumerate(sc.schools)}
        # schools this scenario adds (the building plan's, then the proposed sites)
        before = scenarios[scenarios.index(sc) - 1].schools if scenarios.index(sc) else sc.schools
        added = [s for s, node in enumerate(sc.schools) if node not in set(before)]
        for group in nodes_of_kind(graph, "group"):
            campuses = [s for s in campuses_of(graph, group) if s in school_at]
            lead = ("school", graph.nodes[group]["lead"])
            if len(campuses) < 2 or lead not in school_at:
                continue
            for campus in campuses:
                if campus != lead:
                    (x0, y0), (x1, y1) = xy[lead], xy[campus]
                    ax.plot([x0, x1], [y0, y1], color="tab:blue", lw=0.8, alpha=0.6, zorder=1)
        if added:
            ax.scatter(
                [xy[sc.schools[s]][0] for s in added],
                [xy[sc.schools[s]][1] for s in added],
                s=150,
                marker="*",
                color="gold",
                edgecolors="k",
                linewidths=0.8,
                zorder=6,  # above the zone labels
                label="new in this scenario (plan or proposed site)",
            )
        full_everywhere = r.full_school
        for sector, marker in SECTOR_MARKERS.items():
            for full in (False, True):
                pick = [
                    s
                    for s, node in enumerate(sc.schools)
                    if graph.nodes[node]["sector"] == sector and bool(full_everywhere[s]) == full
                ]
                if not pick:
                    continue
                edge = ["tab:red" if r.cut_school[s] else "0.3" for s in pick]
                ax.scatter(
                    [xy[sc.schools[s]][0] for s in pick],
                    [xy[sc.schools[s]][1] for s in pick],
                    s=18,
                    marker=marker,
                    facecolors=edge if full else "none",
                    edgecolors=edge,
                    linewidths=0.8,
                    zorder=3,
                    label=f"{sector} {'full' if full else 'with room'}",
                )
        share = r.unmet_zone(p) / np.maximum(p.demand, 1)
        zx = [xy[z][0] for z in sc.zones]
        zy = [xy[z][1] for z in sc.zones]
        size = 60 + 900 * p.demand / max(int(p.demand.max()), 1)
        ax.scatter(zx, zy, s=size, c=cmap(norm(share)), alpha=0.55, edgecolors="k", zorder=2)
        names = dict(zip(sc.district.zones.ids, sc.district.zones.name, strict=True))
        for z, node in enumerate(sc.zones):
            unmet = int(p.demand[z] - r.seated_zone[z])
            name = f"{names.get(node[1], '')} {node[1]}".strip() if family else node[1]
            label = name if unmet == 0 else f"{name}\n-{unmet:,}"
            ax.annotate(
                label,
                (zx[z], zy[z]),
                xytext=(0, -14),  # below the centre, so the schools there stay visible
                textcoords="offset points",
                ha="center",
                va="top",
                fontsize=7,
                zorder=4,
                family=family or "sans-serif",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.6},
            )
        ax.set_title(f"{summary.level} {summary.year}, {sc.name}: unmet {sc.unmet:,}")
        ax.set_xlabel("x (km east)")
        ax.set_ylabel("y (km north)")
        ax.set_aspect("equal", adjustable="datalim")
    handles, labels = axes[0][-1].get_legend_handles_labels()
    handles.append(Line2D([], [], color="tab:blue", lw=0.8, alpha=0.6))
    labels.append("education group: lead to campus")
    axes[0][-1].legend(
        handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=2, fontsize=7
    )
    fig.colorbar(
        plt.cm.ScalarMappable(norm=norm, cmap=cmap),
        ax=axes[0].tolist(),
        shrink=0.6,
        label="share of the zone's demand unmet",
    )
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_bars(summary, path: Path) -> None:
    """Unmet demand by zone, and in reach of each group, one bar per scenario."""
    from sim.gap import group_rows, zone_rows  # the rows the CSV files hold

    scenarios = summary.scenarios
    zone_ids = [row[1] for row in zone_rows(scenarios[0])]
    group_ids = [row[1] for row in group_rows(scenarios[0])]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(8, 0.45 * len(group_ids) + 3), 8))
    width = 0.8 / len(scenarios)
    for k, sc in enumerate(scenarios):
        by_zone = {row[1]: row[6] for row in zone_rows(sc)}
        by_group = {row[1]: row[10] for row in group_rows(sc)}
        offset = (k - (len(scenarios) - 1) / 2) * width
        zone_values = [by_zone.get(z, 0) for z in zone_ids]
        group_values = [by_group.get(g, 0) for g in group_ids]
        # the total in the legend: a scenario that leaves nobody unmet has no visible bars
        top.bar(
            np.arange(len(zone_ids)) + offset,
            zone_values,
            width,
            label=f"{sc.name}: {sum(zone_values):,} unmet",
        )
        bottom.bar(
            np.arange(len(group_ids)) + offset,
            group_values,
            width,
            label=f"{sc.name}: {sum(group_values):,}",
        )
    top.set_xticks(np.arange(len(zone_ids)), zone_ids, rotation=90, fontsize=7)
    top.set_ylabel("children unmet")
    top.set_title(f"Unmet {summary.level} demand by zone, {summary.year}")
    bottom.set_xticks(np.arange(len(group_ids)), group_ids, rotation=90, fontsize=7)
    bottom.set_ylabel("unmet in the zones it serves")
    bottom.set_title("Unmet demand within reach of each group")
    for ax in (top, bottom):
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
