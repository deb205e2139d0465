"""The district data model: a folder of tables -> validated arrays with id <-> index maps.

Files (CSV or XLSX, see README "Data contract"): schools, zones, groups, group_members, births,
and applicant files ``applicants*.csv``. Extra columns are kept in each table and ignored here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seats.io.choice_kernels import parse_choices
from seats.io.errors import Problems
from seats.io.tables import Table, find_table, lookup, read_table

LEVELS = ("kindergarten", "primary", "junior", "special")
SECTORS = ("public", "inclusive_private", "private")
INCLUSIVE_SECTORS = ("public", "inclusive_private")  # 普惠性: public plus subsidised private
ZONE_KINDS = ("street", "township")
GROUP_KINDS = ("education_group", "school_community", "kindergarten_community")
ROLES = ("lead", "branch", "member")
GENDERS = ("F", "M")
FLAGS = ("0", "1")

SCHOOL_COLUMNS = (
    "school_id",
    "name",
    "level",
    "sector",
    "zone_id",
    "seats",
    "enrolled",
    "classes",
    "class_size_cap",
    "x_km",
    "y_km",
)  # required; `teachers` optional
DISTRICT_FILES = ("zones", "schools", "groups", "group_members", "births")
APPLICANT_COLUMNS = ("applicant_id", "zone_id", "choices")
CHOICE_SEPARATOR = ";"
GROUP_SEPARATOR = "|"  # P01|P02: any of these, equally (多校划片)


def embedded_dataset() -> Path:
    """The embedded Xinghualing district, from an installed wheel or from a source checkout."""
    package = Path(__file__).resolve().parents[1]  # seats/
    for candidate in (package / "_data" / "xinghualing", package.parent / "data" / "xinghualing"):
        if (candidate / "schools.csv").exists():
            return candidate
    raise FileNotFoundError("the embedded dataset data/xinghualing is missing from this install")


@dataclass
class Zones:
    ids: list[str]
    index: dict[str, int]
    name: list[str]
    kind: np.ndarray
    x_km: np.ndarray
    y_km: np.ndarray
    population: np.ndarray


@dataclass
class Schools:
    ids: list[str]
    index: dict[str, int]
    zone_ids: list[str]
    seats: np.ndarray
    table: Table
    # The district columns; absent when only a lottery's minimal schools file was read.
    zone: np.ndarray | None = None
    name: list[str] = field(default_factory=list)
    level: np.ndarray | None = None
    sector: np.ndarray | None = None
    enrolled: np.ndarray | None = None
    classes: np.ndarray | None = None
    class_size_cap: np.ndarray | None = None
    teachers: np.ndarray | None = None
    x_km: np.ndarray | None = None
    y_km: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Groups:
    ids: list[str]
    index: dict[str, int]
    name: list[str]
    kind: np.ndarray
    lead: np.ndarray  # school index of the lead school


@dataclass
class Memberships:
    group: np.ndarray  # group index
    school: np.ndarray  # school index
    role: np.ndarray


@dataclass
class Births:
    zone: np.ndarray
    year: np.ndarray
    births: np.ndarray

    def by_zone(self, n_zones: int, years: range) -> np.ndarray:
        """A zones x years matrix of births (0 where a year is not recorded)."""
        out = np.zeros((n_zones, len(years)), dtype=np.int64)
        inside = (self.year >= years.start) & (self.year < years.stop)
        np.add.at(out, (self.zone[inside], self.year[inside] - years.start), self.births[inside])
        return out


@dataclass
class Applicants:
    ids: list[str]
    zone_ids: list[str]
    choice_ptr: np.ndarray  # CSR offsets into choice_school, int64[n + 1]
    choice_school: np.ndarray  # school indices, best first, int32
    category: list[str]
    sibling_school: np.ndarray  # school index or -1 (none, or a school outside the lottery)
    table: Table
    # Rules v2 (DESIGN.md): the position of each entry in its list; entries of one position
    # form a group "P01|P02" (any of these, equally), expanded by lottery numbers later.
    choice_position: np.ndarray | None = None  # int32 per entry; None: one school per position
    staff_school: np.ndarray | None = None  # school index or -1
    community_ids: list[str] = field(default_factory=list)
    family_ids: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def choices_of(self, a: int) -> np.ndarray:
        return self.choice_school[self.choice_ptr[a] : self.choice_ptr[a + 1]]

    @property
    def positions(self) -> np.ndarray:
        """0-based position of every entry in its applicant's list (a group shares one)."""
        if self.choice_position is not None:
            return self.choice_position
        ptr = self.choice_ptr
        return np.arange(ptr[-1], dtype=np.int32) - np.repeat(ptr[:-1], np.diff(ptr)).astype(
            np.int32
        )

    @property
    def has_groups(self) -> bool:
        return self.choice_position is not None


@dataclass
class District:
    folder: Path
    zones: Zones
    schools: Schools
    groups: Groups
    members: Memberships
    births: Births
    applicant_files: dict[str, Applicants]

    def population_aged(self, youngest: int, oldest: int, year: int) -> np.ndarray:
        """Children per zone aged youngest..oldest in `year`: born in year-oldest..year-youngest.

        The model counts a cohort by its births in the zone (no migration or mortality here;
        the forecasts add both)."""
        born = range(year - oldest, year - youngest + 1)
        return self.births.by_zone(len(self.zones.ids), born).sum(axis=1)


# --- readers --------------------------------------------------------------------------------


def read_zones(table: Table) -> Zones:
    table.require(("zone_id", "name", "kind", "x_km", "y_km", "population"))
    index = table.unique_ids("zone_id")
    return Zones(
        ids=table.text("zone_id"),
        index=index,
        name=table.text("name"),
        kind=np.array(table.choice("kind", ZONE_KINDS)),
        x_km=table.floats("x_km"),
        y_km=table.floats("y_km"),
        population=table.ints("population", minimum=0),
    )


@dataclass
class Communities:
    """communities.csv: where children live (小区/村), with a point for distances."""

    ids: list[str]
    index: dict[str, int]
    zone_ids: list[str]
    name: list[str]
    x_km: np.ndarray
    y_km: np.ndarray


def read_communities(table: Table, zones: Zones | None = None) -> Communities:
    table.require(("community_id", "zone_id", "name", "x_km", "y_km"))
    index = table.unique_ids("community_id")
    if zones is not None:
        table.references("zone_id", zones.index, "zone")
    return Communities(
        ids=table.text("community_id"),
        index=index,
        zone_ids=table.text("zone_id"),
        name=table.text("name"),
        x_km=table.floats("x_km"),
        y_km=table.floats("y_km"),
    )


def read_catchments(
    table: Table,
    schools: Schools,
    communities: Communities | None,
    all_school_ids: set[str] | None = None,
) -> set[tuple[int, str]]:
    """catchments.csv (划片): (school index, community_id) pairs of the lottery's schools. A
    community may lie in several schools' catchments (多校划片); rows of schools at another
    level of the district are skipped, an unknown school or community is an error."""
    table.require(("school_id", "community_id"))
    pairs: set[tuple[int, str]] = set()
    for school_id, community_id, line in zip(
        table.text("school_id"), table.text("community_id"), table.lines, strict=True
    ):
        if not school_id or not community_id:
            continue
        if communities is not None and community_id not in communities.index:
            table.problems.add(
                table.name, line, "community_id", f"unknown community '{community_id}'"
            )
        s = schools.index.get(school_id)
        if s is None:
            if all_school_ids is None or school_id not in all_school_ids:
                table.problems.add(table.name, line, "school_id", f"unknown school '{school_id}'")
            continue
        pairs.add((s, community_id))
    return pairs


def read_lottery_schools(table: Table) -> Schools:
    """The columns the lottery needs: school_id, zone_id, seats."""
    table.require(("school_id", "zone_id", "seats"))
    index = table.unique_ids("school_id")
    return Schools(
        ids=table.text("school_id"),
        index=index,
        zone_ids=table.text("zone_id"),
        seats=table.ints("seats", minimum=0),
        table=table,
    )


def read_schools(table: Table, zones: Zones) -> Schools:
    """A full district schools table."""
    table.require(SCHOOL_COLUMNS)
    schools = read_lottery_schools(table)
    schools.zone = table.references("zone_id", zones.index, "zone")
    schools.name = table.text("name")
    schools.level = np.array(table.choice("level", LEVELS))
    schools.sector = np.array(table.choice("sector", SECTORS))
    schools.enrolled = table.ints("enrolled", minimum=0)
    schools.classes = table.ints("classes", minimum=0)
    schools.class_size_cap = table.ints("class_size_cap", minimum=1)
    if table.has("teachers"):
        schools.teachers = table.ints("teachers", minimum=0)
    schools.x_km = table.floats("x_km")
    schools.y_km = table.floats("y_km")
    return schools


def read_groups(table: Table, schools: Schools) -> Groups:
    table.require(("group_id", "name", "kind", "lead_school_id"))
    index = table.unique_ids("group_id")
    return Groups(
        ids=table.text("group_id"),
        index=index,
        name=table.text("name"),
        kind=np.array(table.choice("kind", GROUP_KINDS)),
        lead=table.references("lead_school_id", schools.index, "school"),
    )


def read_memberships(table: Table, groups: Groups, schools: Schools) -> Memberships:
    table.require(("group_id", "school_id", "role"))
    members = Memberships(
        group=table.references("group_id", groups.index, "group"),
        school=table.references("school_id", schools.index, "school"),
        role=np.array(table.choice("role", ROLES)),
    )
    seen: dict[tuple[int, int], int] = {}
    for i, pair in enumerate(zip(members.group.tolist(), members.school.tolist(), strict=True)):
        if -1 in pair:
            continue
        if pair in seen:
            table.problems.add(
                table.name,
                table.lines[i],
                "school_id",
                f"school '{schools.ids[pair[1]]}' is listed twice in group "
                f"'{groups.ids[pair[0]]}' (first on line {table.lines[seen[pair]]})",
            )
        else:
            seen[pair] = i
    # The lead named in groups.csv must be the member with role "lead".
    leads = {(g, s) for (g, s), i in seen.items() if members.role[i] == "lead"}
    for g, lead in enumerate(groups.lead.tolist()):
        if lead >= 0 and (g, lead) not in leads:
            table.problems.add(
                table.name,
                None,
                "role",
                f"group '{groups.ids[g]}' has lead school '{schools.ids[lead]}' in "
                "groups.csv but no member row with role 'lead' for it",
            )
    return members


def read_births(table: Table, zones: Zones) -> Births:
    table.require(("zone_id", "year", "births"))
    births = Births(
        zone=table.references("zone_id", zones.index, "zone"),
        year=table.ints("year", minimum=1900, maximum=2200),
        births=table.ints("births", minimum=0),
    )
    seen: dict[tuple[int, int], int] = {}
    for i, key in enumerate(zip(births.zone.tolist(), births.year.tolist(), strict=True)):
        if key[0] < 0:
            continue
        if key in seen:
            table.problems.add(
                table.name,
                table.lines[i],
                "year",
                f"zone '{zones.ids[key[0]]}' has year {key[1]} twice "
                f"(first on line {table.lines[seen[key]]})",
            )
        else:
            seen[key] = i
    return births


def read_applicants(
    table: Table,
    schools: Schools,
    zones: Zones | None = None,
    *,
    other_levels: dict[str, str] | None = None,
) -> Applicants:
    """The lottery contract's applicants file. Choices become a CSR list of school indices;
    ``P01|P02`` in one position (rules v2) keeps each entry's position in ``choice_position``.

    ``other_levels`` (school_id -> level of the district's schools outside this lottery) lets a
    choice of a school at another level say so instead of "unknown school". A sibling or staff
    school outside the lottery is no error: the condition simply does not hold there."""
    table.require(APPLICANT_COLUMNS)
    table.check_ids("applicant_id")
    ids = table.text("applicant_id")
    if zones is not None:
        table.references("zone_id", zones.index, "zone")
    zone_ids = table.text("zone_id")
    cells = table.text("choices", required=False)
    choices = _well_formed_choices(cells, schools.index)
    if choices is None:
        choices = _checked_choices(table, cells, schools.index, other_levels or {})
    ptr, choice_school, position = choices
    _check_attributes(table)
    return Applicants(
        ids=ids,
        zone_ids=zone_ids,
        choice_ptr=ptr,
        choice_school=choice_school,
        category=table.text("category", required=False),
        sibling_school=_school_or_none(table, "sibling_school_id", schools.index),
        table=table,
        choice_position=position,
        staff_school=_school_or_none(table, "staff_school_id", schools.index),
        community_ids=table.text("community_id", required=False),
        family_ids=table.text("family_id", required=False),
    )


def _school_or_none(table: Table, column: str, index: dict[str, int]) -> np.ndarray:
    """School index per row, -1 where empty or not a school of this lottery."""
    return lookup(index, table.text(column, required=False))


def _well_formed_choices(
    cells: list[str], index: dict[str, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """CSR choices (ptr, school indices, positions or None) when every cell lists known,
    distinct school ids with no stray separators or spaces; None otherwise, and the careful
    pass names each problem. The fast path of read_applicants, in compiled code
    (:mod:`seats.io.choice_kernels`): no Python step per entry."""
    return parse_choices(cells, index, CHOICE_SEPARATOR, GROUP_SEPARATOR)


def _checked_choices(
    table: Table, cells: list[str], index: dict[str, int], other_levels: dict[str, str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """CSR choices cell by cell, reporting every bad entry with its line and choice position."""
    ptr = np.zeros(len(cells) + 1, dtype=np.int64)
    flat: list[int] = []
    positions: list[int] = []
    for i, cell in enumerate(cells):
        listed: dict[str, int] = {}
        for position, group in enumerate(cell.split(CHOICE_SEPARATOR) if cell else (), 1):
            for school_id in group.split(GROUP_SEPARATOR):
                school_id = school_id.strip()
                where = f"choice {position}"
                if school_id == "":
                    stray = GROUP_SEPARATOR if GROUP_SEPARATOR in group else CHOICE_SEPARATOR
                    table.problems.add(
                        table.name,
                        table.lines[i],
                        "choices",
                        f"{where} is empty (stray '{stray}')",
                    )
                elif school_id not in index:
                    level = other_levels.get(school_id)
                    message = (
                        f"school '{school_id}' ({where}) is a {level} school, not one of this "
                        "lottery's schools (--level, --sector)"
                        if level
                        else f"unknown school '{school_id}' ({where})"
                    )
                    table.problems.add(table.name, table.lines[i], "choices", message)
                elif school_id in listed:
                    table.problems.add(
                        table.name,
                        table.lines[i],
                        "choices",
                        f"school '{school_id}' is listed twice "
                        f"(choices {listed[school_id]} and {position})",
                    )
                else:
                    listed[school_id] = position
                    flat.append(index[school_id])
                    positions.append(position - 1)
        ptr[i + 1] = len(flat)
    grouped = any(GROUP_SEPARATOR in cell for cell in cells)
    position_array = np.array(positions, dtype=np.int32) if grouped else None
    return ptr, np.array(flat, dtype=np.int32), position_array


def _check_attributes(table: Table) -> None:
    """Attribute columns are optional for the lottery, but when present they must make sense."""
    if table.has("gender"):
        table.choice("gender", GENDERS, required=False)
    for flag in ("special_needs", "migrant"):
        if table.has(flag):
            table.choice(flag, FLAGS, required=False)
    if table.has("birth_date"):
        for value, line in zip(table.text("birth_date", required=False), table.lines, strict=True):
            if value:
                try:
                    dt.date.fromisoformat(value)
                except ValueError:
                    table.problems.add(
                        table.name, line, "birth_date", f"'{value}' is not a date like 2017-09-01"
                    )


# --- the district ---------------------------------------------------------------------------


def _table(folder: Path, stem: str, problems: Problems, encoding: str | None) -> Table:
    path = find_table(folder, stem)
    if path is None:
        problems.add(str(folder / f"{stem}.csv"), None, None, "file is missing")
        return Table(str(folder / f"{stem}.csv"), [], [], [], problems)
    return read_table(path, problems, encoding=encoding)


def applicant_paths(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.name.startswith("applicants") and p.suffix.lower() in (".csv", ".xlsx")
    )


def read_district(
    folder: Path | str, problems: Problems, *, encoding: str | None = None
) -> District:
    """Read every table of a district folder, appending every problem found to `problems`."""
    folder = Path(folder)
    zones = read_zones(_table(folder, "zones", problems, encoding))
    schools = read_schools(_table(folder, "schools", problems, encoding), zones)
    groups = read_groups(_table(folder, "groups", problems, encoding), schools)
    members = read_memberships(_table(folder, "group_members", problems, encoding), groups, schools)
    births = read_births(_table(folder, "births", problems, encoding), zones)
    applicants = {
        path.stem: read_applicants(read_table(path, problems, encoding=encoding), schools, zones)
        for path in applicant_paths(folder)
    }
    return District(folder, zones, schools, groups, members, births, applicants)


def load_district(folder: Path | str, *, encoding: str | None = None) -> District:
    """Read and validate a district folder; raises InputError listing every problem."""
    if not Path(folder).is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    problems = Problems()
    district = read_district(folder, problems, encoding=encoding)
    problems.raise_if_any()
    return district
