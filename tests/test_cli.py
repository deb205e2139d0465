"""The CLI surface of the planning and class commands (the lottery's is in test_lottery.py)."""

from __future__ import annotations

import csv

from conftest import DATASET, run_cli


def test_gap_command_writes_its_tables(tmp_path):
    out = tmp_path / "gap"
    result = run_cli(
        "gap",
        "--level",
        "primary",
        "--year",
        "2021",
        "--demand",
        DATASET / "applicants_primary_2021.csv",
        "--site-new",
        "1",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    assert "Bottleneck" in result.output
    # 统筹 seats the applicants the eligibility flow leaves unseated: no site is proposed
    assert "统筹 seats every child" in result.output
    for name in (
        "gap_zones.csv",
        "gap_groups.csv",
        "bottleneck.csv",
        "tongchou.csv",
        "gap_map.png",
        "gap_bars.png",
    ):
        assert (out / name).exists(), name
    assert not (out / "sites.csv").exists()


def test_gap_bad_plan_exits_2_and_writes_nothing(tmp_path):
    plan = tmp_path / "plan.csv"
    plan.write_text(
        "action,school_id,name,level,sector,zone_id,seats,x_km,y_km,year\n"
        "new,K999,新园,kindergarten,public,Z99,90,1,1,2022\n",
        encoding="utf-8",
    )
    out = tmp_path / "gap"
    result = run_cli("gap", "--level", "kindergarten", "--plan", plan, "--out", out)
    assert result.exit_code == 2
    assert f"{plan}:2: zone_id: unknown zone 'Z99'" in result.output
    assert not out.exists()


def test_classes_and_teachers_commands(tmp_path):
    pupils = tmp_path / "pupils.csv"
    rows = list(csv.DictReader((DATASET / "applicants_primary_2021.csv").open(encoding="utf-8")))
    with pupils.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(
            ["pupil_id", "school_id", "gender", "birth_date", "special_needs", "migrant"]
        )
        for row in rows[:300]:
            writer.writerow(
                [
                    row["applicant_id"],
                    "P01",
                    row["gender"],
                    row["birth_date"],
                    row["special_needs"],
                    row["migrant"],
                ]
            )
    classes = tmp_path / "classes"
    result = run_cli(
        "classes",
        "form",
        "--pupils",
        pupils,
        "--schools",
        DATASET / "schools.csv",
        "--seed",
        "classes",
        "--out",
        classes,
    )
    assert result.exit_code == 0, result.output
    assert run_cli("audit", "verify", classes).exit_code == 0
    teachers = tmp_path / "teachers"
    result = run_cli(
        "teachers",
        "assign",
        "--classes",
        classes,
        "--teachers",
        DATASET / "teachers.csv",
        "--seed",
        "teachers",
        "--out",
        teachers,
    )
    assert result.exit_code == 0, result.output
    assert run_cli("audit", "verify", teachers).exit_code == 0
