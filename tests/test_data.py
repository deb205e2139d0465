"""The foundation: the embedded district's calibration, its generator, and `seats data check`."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import DATASET, run_cli

from seats.io.model import load_district
from seats.io.summary import kindergarten_indicators

GENERATOR = Path(__file__).resolve().parents[1] / "data" / "make_xinghualing.py"


@pytest.fixture(scope="module")
def district():
    return load_district(DATASET)


# --- every calibrated figure of the plan holds exactly in the files ---------------------------


def test_kindergartens_match_the_plan(district):
    s = district.schools
    kg = s.level == "kindergarten"
    assert kg.sum() == 100  # 在册幼儿园100所
    assert s.enrolled[kg].sum() == 16_760  # 在园幼儿16760人
    assert s.teachers[kg].sum() == 1_696  # 专任教师1696人
    inclusive = kg & np.isin(s.sector, ["public", "inclusive_private"])
    assert inclusive.sum() == 92  # 普惠性幼儿园占全区幼儿园92.1%
    assert s.enrolled[kg & (s.sector == "public")].sum() == 7_995  # 公办园在园幼儿占比47.7%
    assert s.enrolled[inclusive].sum() >= 0.9 * 16_760  # 在园幼儿占比达90%以上


def test_plan_indicators_from_births(district):
    ind = kindergarten_indicators(district, 2020)
    assert ind.population_3_to_5 == 16_945
    assert round(ind.gross_enrolment * 100, 2) == 98.91  # 专栏一: 学前教育毛入园率 98.91
    assert round(ind.public_share * 100, 1) == 47.7
    assert ind.inclusive_share >= 0.90


def test_schools_match_the_plan(district):
    s, zone_kind = district.schools, district.zones.kind
    township = zone_kind[s.zone] == "township"
    primary = s.level == "primary"
    assert primary.sum() == 51 and s.enrolled[primary].sum() == 48_550
    assert (primary & (s.sector == "public")).sum() == 49
    assert (primary & (s.sector == "private")).sum() == 2
    assert (primary & (s.sector == "public") & ~township).sum() == 38
    assert (primary & (s.sector == "public") & township).sum() == 11
    assert len(np.unique(s.zone[primary & township])) == 3
    junior = s.level == "junior"
    assert junior.sum() == 13 and s.enrolled[junior].sum() == 3_853
    assert (junior & ~township).sum() == 10 and (junior & township).sum() == 3
    special = s.level == "special"
    assert special.sum() == 1 and s.enrolled[special].sum() == 230
    assert s.teachers[primary | junior | special].sum() == 2_991
    # Every pupil fits in the classes recorded for the school.
    assert (s.enrolled <= s.classes * s.class_size_cap).all()


def test_groups_match_the_plan(district):
    g, m, s = district.groups, district.members, district.schools
    education = np.flatnonzero(g.kind == "education_group")
    assert len(education) == 6
    branches = np.isin(m.group, education) & (m.role == "branch")
    assert branches.sum() == 9  # 6个教育集团(设9所分校、校区)
    assert (g.kind == "school_community").sum() == 10
    assert (g.kind == "kindergarten_community").sum() == 21
    name_of = dict(zip(s.ids, s.name, strict=True))
    lead_names = {name_of[s.ids[lead]]: k for lead, k in zip(g.lead, g.kind, strict=True)}
    assert lead_names["新道街小学"] == "education_group"
    assert lead_names["杏花岭区一中"] == "school_community"
    assert lead_names["西羊市幼儿园"] == "kindergarten_community"
    xdj_group = g.lead.tolist().index(
        s.index[next(i for i, n in name_of.items() if n == "新道街小学")]
    )
    branch_names = {s.name[k] for k in m.school[(m.group == xdj_group) & (m.role == "branch")]}
    assert {"新道街小学中车分校", "新道街小学富力分校"} <= branch_names


def test_applicant_files_cover_both_intakes(district):
    kg = district.applicant_files["applicants_kindergarten_2021"]
    primary = district.applicant_files["applicants_primary_2021"]
    assert 5_000 <= len(kg) <= 6_500 and 7_500 <= len(primary) <= 9_000
    level = district.schools.level
    assert (level[kg.choice_school] == "kindergarten").all()
    assert (level[primary.choice_school] == "primary").all()
    primary_seats = district.schools.seats[level == "primary"].sum()
    assert primary_seats >= len(primary)  # every child can be seated


# --- the generator ----------------------------------------------------------------------------


def test_generator_is_byte_identical(tmp_path):
    subprocess.run([sys.executable, str(GENERATOR), str(tmp_path)], check=True, capture_output=True)
    generated = sorted(p.name for p in tmp_path.iterdir())
    assert {"schools.csv", "policy_primary.toml"} <= set(generated)
    for name in generated:
        assert (tmp_path / name).read_bytes() == (DATASET / name).read_bytes(), name


# --- seats data check ---------------------------------------------------------------------------


def test_check_embedded_dataset_is_clean():
    result = run_cli("data", "check", DATASET)
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_default_folder_is_the_embedded_dataset():
    assert run_cli("data", "check").exit_code == 0
    result = run_cli("data", "summary")
    assert result.exit_code == 0
    assert "98.91%" in result.output and "47.70%" in result.output
    assert "16,760" in result.output


def _rewrite(path: Path, edit) -> None:
    rows = list(csv.reader(path.open(encoding="utf-8-sig", newline="")))
    edit(rows)
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def _check(folder: Path, *extra: str):
    result = run_cli("data", "check", folder, *extra)
    return result.exit_code, result.output


def test_every_problem_is_reported_with_file_line_and_column(district_copy):
    schools = district_copy / "schools.csv"

    def break_schools(rows):
        header = rows[0]
        rows[3][header.index("seats")] = "-5"  # line 4
        rows[4][header.index("enrolled")] = "many"  # line 5
        rows[5][header.index("zone_id")] = "Z99"  # line 6
        rows[6][header.index("school_id")] = rows[2][header.index("school_id")]  # line 7 = line 3

    _rewrite(schools, break_schools)
    code, out = _check(district_copy)
    assert code == 2
    assert f"{schools}:4: seats: -5 is below the minimum of 0" in out
    assert f"{schools}:5: enrolled: 'many' is not a whole number" in out
    assert f"{schools}:6: zone_id: unknown zone 'Z99'" in out
    assert "schools.csv:7: school_id: duplicate id 'K002' (first on line 3)" in out


def test_missing_column_is_named(district_copy):
    _rewrite(district_copy / "zones.csv", lambda rows: [r.pop(5) for r in rows])
    code, out = _check(district_copy)
    assert code == 2
    assert "zones.csv:1: population: required column is missing" in out


def test_unknown_references_in_groups_and_applicants(district_copy):
    _rewrite(district_copy / "group_members.csv", lambda rows: rows[1].__setitem__(1, "P999"))

    def bad_choice(rows):
        rows[1][2] = "K001;K001"
        rows[2][2] = "K001;NOPE"

    _rewrite(district_copy / "applicants_kindergarten_2021.csv", bad_choice)
    code, out = _check(district_copy)
    assert code == 2
    assert "group_members.csv:2: school_id: unknown school 'P999'" in out
    assert "applicants_kindergarten_2021.csv:2: choices: school 'K001' is listed twice" in out
    assert "applicants_kindergarten_2021.csv:3: choices: unknown school 'NOPE'" in out


def test_bom_is_accepted(district_copy):
    path = district_copy / "zones.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert _check(district_copy)[0] == 0


def test_gbk_is_detected_per_file(district_copy):
    """UTF-8 (with or without BOM) else GB18030, file by file; --encoding still overrides."""
    path = district_copy / "schools.csv"
    path.write_bytes(path.read_text(encoding="utf-8-sig").encode("gbk"))
    assert _check(district_copy)[0] == 0  # schools in GBK beside the other files in UTF-8
    # The other files are plain ASCII/UTF-8 Chinese; convert them all to read with --encoding gbk.
    for other in district_copy.glob("*.csv"):
        if other != path:
            other.write_bytes(other.read_text(encoding="utf-8-sig").encode("gbk"))
    assert _check(district_copy, "--encoding", "gbk")[0] == 0


def test_neither_utf8_nor_gb18030_is_refused_with_its_line(district_copy):
    path = district_copy / "zones.csv"
    path.write_bytes(path.read_bytes() + b"Z99,\xff\xfe\x80,street,1,1,1\n")
    code, out = _check(district_copy)
    assert code == 2
    assert "zones.csv:15: byte 0xff" in out and "--encoding" in out


def test_empty_file(district_copy):
    (district_copy / "births.csv").write_bytes(b"")
    code, out = _check(district_copy)
    assert code == 2
    assert "births.csv: file is empty" in out


def test_wrong_field_count(district_copy):
    path = district_copy / "zones.csv"
    path.write_text(path.read_text(encoding="utf-8-sig") + "Z14,extra\n", encoding="utf-8")
    code, out = _check(district_copy)
    assert code == 2
    assert "zones.csv:15: has 2 fields but the header has 6" in out


def test_xlsx_is_accepted_and_checked(district_copy):
    openpyxl = pytest.importorskip("openpyxl")
    source = district_copy / "schools.csv"
    rows = list(csv.reader(source.open(encoding="utf-8-sig", newline="")))
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        # Excel stores numbers as numbers: write them that way.
        sheet.append(
            [
                float(c)
                if c.replace(".", "", 1).isdigit() and "." in c
                else int(c)
                if c.isdigit()
                else c
                for c in row
            ]
        )
    source.unlink()
    workbook.save(district_copy / "schools.xlsx")
    assert _check(district_copy)[0] == 0
    sheet.cell(row=10, column=rows[0].index("seats") + 1, value="lots")
    workbook.save(district_copy / "schools.xlsx")
    code, out = _check(district_copy)
    assert code == 2
    assert "schools.xlsx:10: seats: 'lots' is not a whole number" in out


def test_bad_policy_in_folder(district_copy):
    path = district_copy / "policy_primary.toml"
    path.write_text(
        path.read_text(encoding="utf-8-sig").replace("deferred_acceptance", "deffered_acceptance"),
        encoding="utf-8",
    )
    code, out = _check(district_copy)
    assert code == 2
    assert "did you mean 'deferred_acceptance'" in out


# --- regressions from the review of 2026-11-28 -------------------------------------------------


def test_utf8_file_read_as_gbk_is_refused(district_copy):
    code, out = _check(district_copy, "--encoding", "gbk")
    assert code == 2
    assert "schools.csv: the file is UTF-8, not gbk: read it without --encoding" in out


def test_bom_with_explicit_utf8(district_copy):
    path = district_copy / "zones.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert _check(district_copy, "--encoding", "utf-8")[0] == 0


def test_workbook_saved_as_csv(district_copy):
    (district_copy / "births.csv").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    code, out = _check(district_copy)
    assert code == 2 and "births.csv: this is an Excel workbook" in out


def test_absurd_numbers_are_reported_not_crashed_on(district_copy):
    def huge(rows):
        rows[1][rows[0].index("seats")] = "1e30"
        rows[2][rows[0].index("seats")] = "9223372036854775807"

    _rewrite(district_copy / "schools.csv", huge)
    code, out = _check(district_copy)
    assert code == 2
    assert "schools.csv:2: seats: '1e30' is not a whole number (digits 0-9 only)" in out
    assert "schools.csv:3: seats: 9223372036854775807 is too large" in out


def test_unknown_references_in_communities_and_catchments(district_copy):
    _rewrite(district_copy / "communities.csv", lambda rows: rows[2].__setitem__(1, "Z77"))
    _rewrite(district_copy / "catchments.csv", lambda rows: rows[1].__setitem__(1, "C999"))
    _rewrite(district_copy / "catchments.csv", lambda rows: rows[2].__setitem__(0, "P999"))
    code, out = _check(district_copy)
    assert code == 2
    assert "communities.csv:3: zone_id: unknown zone 'Z77'" in out
    assert "catchments.csv:2: community_id: unknown community 'C999'" in out
    assert "catchments.csv:3: school_id: unknown school 'P999'" in out
