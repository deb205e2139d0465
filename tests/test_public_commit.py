"""`seats lottery commit` runs every check of `lottery run` before anything is published."""

from __future__ import annotations

from conftest import DATASET, run_cli

SCHOOLS = DATASET / "schools.csv"
PRIMARY = DATASET / "applicants_primary_2021.csv"
POLICY = DATASET / "policy_primary.toml"
ZONES = DATASET / "zones.csv"


def commit(tmp_path, *, applicants=PRIMARY, policy=POLICY, extra=(), schools=SCHOOLS):
    out = tmp_path / "commitment.json"
    result = run_cli(
        "lottery",
        "commit",
        "--schools",
        schools,
        "--applicants",
        applicants,
        "--policy",
        policy,
        "--level",
        "primary",
        "--seed-source",
        "notary",
        "--out",
        out,
        *extra,
    )
    return result, out


def test_a_valid_commitment_is_written(tmp_path):
    result, out = commit(tmp_path, extra=["--fallback", "nearest", "--zones", ZONES])
    assert result.exit_code == 0, result.output
    assert out.is_file() and "承诺文件" in result.output


def test_an_unknown_school_is_refused_at_commit_time(tmp_path):
    bad = tmp_path / "applicants.csv"
    bad.write_bytes(PRIMARY.read_bytes().replace(b"PA21-00001,Z10,P23", b"PA21-00001,Z10,P99"))
    result, out = commit(tmp_path, applicants=bad)
    assert result.exit_code == 2 and "P99" in result.output
    assert not out.exists()


def test_a_misspelt_column_or_policy_key_is_refused(tmp_path):
    bad = tmp_path / "applicants.csv"
    bad.write_bytes(PRIMARY.read_bytes().replace(b"applicant_id,zone_id", b"applicant_id,zone", 1))
    result, out = commit(tmp_path, applicants=bad)
    assert result.exit_code == 2 and not out.exists()
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY.read_text(encoding="utf-8").replace("in_catchment", "in_catchmnt", 1))
    result, out = commit(tmp_path, policy=policy)
    assert result.exit_code == 2 and "in_catchmnt" in result.output and not out.exists()


def test_a_category_no_applicant_has_is_an_error(tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY.read_text(encoding="utf-8").replace('["C"]', '["X"]'))
    result, out = commit(tmp_path, policy=policy)
    assert result.exit_code == 2
    assert "category 'X'" in result.output and not out.exists()


def test_fallback_needs_zones_at_commit_time(tmp_path):
    # a schools file with no zones or communities beside it (the district folder has them)
    schools = tmp_path / "schools.csv"
    schools.write_bytes(SCHOOLS.read_bytes())
    catchments = ["--catchments", DATASET / "catchments.csv"]
    result, out = commit(tmp_path, schools=schools, extra=["--fallback", "nearest", *catchments])
    assert result.exit_code == 2 and "--zones" in result.output and not out.exists()
