"""The district's key figures and the plan's indicators, computed from the data."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

from seats.io.model import GROUP_KINDS, INCLUSIVE_SECTORS, LEVELS, SECTORS, District

# 2025 targets of the plan (专栏一): 毛入园率 99%, 普惠率 95%, 公办园在园幼儿占比 50%.
PLAN_TARGETS_2025 = {
    "gross_kindergarten_enrolment": 0.99,
    "inclusive_share": 0.95,
    "public_share": 0.50,
}


@dataclass(frozen=True)
class KindergartenIndicators:
    year: int
    children_enrolled: int
    population_3_to_5: int
    children_inclusive: int
    children_public: int

    @property
    def gross_enrolment(self) -> float:
        """毛入园率: children enrolled / population aged 3-5."""
        return self.children_enrolled / self.population_3_to_5 if self.population_3_to_5 else 0.0

    @property
    def inclusive_share(self) -> float:
        """普惠性幼儿园在园幼儿占比."""
        return self.children_inclusive / self.children_enrolled if self.children_enrolled else 0.0

    @property
    def public_share(self) -> float:
        """公办园在园幼儿占比."""
        return self.children_public / self.children_enrolled if self.children_enrolled else 0.0


def kindergarten_indicators(district: District, year: int = 2020) -> KindergartenIndicators:
    schools = district.schools
    kindergarten = schools.level == "kindergarten"
    enrolled = schools.enrolled
    return KindergartenIndicators(
        year=year,
        children_enrolled=int(enrolled[kindergarten].sum()),
        population_3_to_5=int(district.population_aged(3, 5, year).sum()),
        children_inclusive=int(
            enrolled[kindergarten & np.isin(schools.sector, INCLUSIVE_SECTORS)].sum()
        ),
        children_public=int(enrolled[kindergarten & (schools.sector == "public")].sum()),
    )


def schools_by_level_and_sector(district: District) -> list[list]:
    """Rows: level, sector, schools, entry seats, pupils on roll, classes, teachers."""
    s = district.schools
    teachers = s.teachers if s.teachers is not None else np.zeros(len(s), dtype=np.int64)
    rows = []
    for level in LEVELS:
        for sector in (*SECTORS, "all"):
            mask = s.level == level
            if sector != "all":
                mask &= s.sector == sector
            if not mask.any():
                continue
            rows.append(
                [
                    level,
                    sector,
                    int(mask.sum()),
                    int(s.seats[mask].sum()),
                    int(s.enrolled[mask].sum()),
                    int(s.classes[mask].sum()),
                    int(teachers[mask].sum()),
                ]
            )
    rows.append(
        [
            "all",
            "all",
            len(s),
            int(s.seats.sum()),
            int(s.enrolled.sum()),
            int(s.classes.sum()),
            int(teachers.sum()),
        ]
    )
    return rows


def groups_by_kind(district: District) -> list[list]:
    """Rows: kind, groups, member schools by role (lead/branch/member), pupils in members."""
    g, m, s = district.groups, district.members, district.schools
    rows = []
    for kind in GROUP_KINDS:
        in_kind = np.isin(m.group, np.flatnonzero(g.kind == kind))
        pupils = int(s.enrolled[np.unique(m.school[in_kind])].sum())
        rows.append(
            [
                kind,
                int((g.kind == kind).sum()),
                int((in_kind & (m.role == "lead")).sum()),
                int((in_kind & (m.role == "branch")).sum()),
                int((in_kind & (m.role == "member")).sum()),
                pupils,
            ]
        )
    return rows


def format_table(header: list[str], rows: list[list], title: str = "") -> str:
    """Plain-text table that lines up Chinese (double-width) text too."""

    def width(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)

    def cell(value) -> str:
        return f"{value:,}" if isinstance(value, int) else str(value)

    body = [[cell(v) for v in row] for row in rows]
    widths = [max(width(r[j]) for r in [header, *body]) for j in range(len(header))]

    def line(cells: list[str]) -> str:
        parts = []
        for j, text in enumerate(cells):
            pad = " " * (widths[j] - width(text))
            numeric = j > 0 and text.replace(",", "").replace(".", "").replace("%", "").isdigit()
            parts.append(pad + text if numeric else text + pad)
        return "  ".join(parts).rstrip()

    out = [title] if title else []
    out += [line(header), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in body]
    return "\n".join(out)


def render_summary(district: District, year: int = 2020) -> str:
    ind = kindergarten_indicators(district, year)
    school_table = format_table(
        ["level", "sector", "schools", "entry seats", "pupils", "classes", "teachers"],
        schools_by_level_and_sector(district),
        "Schools, seats and pupils",
    )
    group_table = format_table(
        ["kind", "groups", "leads", "branches", "members", "pupils"],
        groups_by_kind(district),
        "Groups (教育集团 / 学校发展共同体 / 幼教发展共同体)",
    )
    targets = PLAN_TARGETS_2025
    indicator_rows = [
        [
            "gross kindergarten enrolment 毛入园率",
            f"{ind.children_enrolled:,} / {ind.population_3_to_5:,}",
            f"{ind.gross_enrolment:.2%}",
            f"{targets['gross_kindergarten_enrolment']:.0%}",
        ],
        [
            "children in inclusive kindergartens 普惠率",
            f"{ind.children_inclusive:,} / {ind.children_enrolled:,}",
            f"{ind.inclusive_share:.2%}",
            f"{targets['inclusive_share']:.0%}",
        ],
        [
            "children in public kindergartens 公办占比",
            f"{ind.children_public:,} / {ind.children_enrolled:,}",
            f"{ind.public_share:.2%}",
            f"{targets['public_share']:.0%}",
        ],
    ]
    indicator_table = format_table(
        ["indicator", "children", str(year), "2025 target"],
        indicator_rows,
        f"Plan indicators, {year} (population aged 3-5 = births {year - 5}-{year - 3})",
    )
    zones = district.zones
    head = (
        f"District: {district.folder}\n{len(zones.ids)} zones "
        f"({int((zones.kind == 'street').sum())} streets, "
        f"{int((zones.kind == 'township').sum())} townships), population "
        f"{int(zones.population.sum()):,}"
    )
    applicants = [f"{name}: {len(a):,} applicants" for name, a in district.applicant_files.items()]
    parts = [head, school_table, group_table, indicator_table]
    if applicants:
        parts.append("Applicant files\n" + "\n".join(applicants))
    return "\n\n".join(parts)
