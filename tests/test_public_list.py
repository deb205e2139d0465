"""The public results list (公示名单): no ids or numbers, rows by 公示号, checks for parents."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from conftest import run_cli
from test_public_report import SEED, make_inputs, make_run

from seats.io.errors import InputError
from seats.lottery.commitment import make_commitment, write_commitment
from seats.lottery.run import RunOptions, run_lottery
from seats.supervision.codes import applicant_code, id_check, normalise_code, row_check, row_key
from seats.supervision.labels import cutoff_digits, public_cutoff
from seats.supervision.publish import PUBLIC_COLUMNS, publish_results
from seats.supervision.webpage import PUBLIC_PAGE

SECRET = b"0123456789abcdef0123456789abcdef-test-district-secret"


def read_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("secret") / "district.key"
    path.write_bytes(SECRET + b"\n")
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("runs"), "primary_test")


@pytest.fixture(scope="module")
def published(run_dir, secret_file, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("public") / "list"
    publish_results(run_dir, out, secret_path=secret_file)
    return out


def test_codes_are_stable_and_typed_loosely():
    code = applicant_code(SECRET, "PA21-00042")
    assert len(code) == 19 and code.count("-") == 3
    assert code == applicant_code(SECRET, "PA21-00042") != applicant_code(SECRET, "PA21-00043")
    assert row_key(code.lower().replace("-", " ")) == row_key(code)
    assert normalise_code("o1l-i") == "0111"


def test_no_id_no_number_no_tier_is_published(run_dir, published):
    applicants = read_rows(run_dir / "inputs" / "applicants.csv")
    assignments = read_rows(run_dir / "assignments.csv")
    numbers = {a["lottery_number"] for a in assignments if a["lottery_number"]}
    numbers |= {
        hashlib.sha256(f"{SEED}\n{a['applicant_id']}".encode()).hexdigest() for a in applicants
    }
    for name in ("public_list.csv", "public_cutoffs.csv", "public_list.pdf", PUBLIC_PAGE):
        text = (published / name).read_bytes().decode("utf-8", "replace")
        for person in applicants:
            if len(person["applicant_id"]) > 2:
                assert person["applicant_id"] not in text, name
            assert person["birth_date"] not in text
        # not a number, nor the first 12 digits of one (the old report printed those)
        assert not any(n[:12] in text for n in numbers), name
        if name == "public_list.csv":  # tiers appear only as cutoffs, never beside a row
            assert "catchment" not in text and "sibling" not in text, name
    header = (published / "public_list.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert header.split(",") == PUBLIC_COLUMNS


def test_every_parent_finds_and_checks_their_own_row(run_dir, published):
    rows = {r["公示号 row_key"]: r for r in read_rows(published / "public_list.csv")}
    assignments = read_rows(run_dir / "assignments.csv")
    assert len(rows) == len(assignments)
    waiting: dict[str, list[str]] = {}
    for w in read_rows(run_dir / "waitlists.csv"):
        waiting.setdefault(w["applicant_id"], []).append(f"{w['school_id']}:{w['position']}")
    for a in assignments:
        code = applicant_code(SECRET, a["applicant_id"])
        row = rows[row_key(code)]
        number = hashlib.sha256(f"{SEED}\n{a['applicant_id']}".encode()).hexdigest()
        assert row["校验值 check"] == row_check(code, number)
        assert row["学校编号 school_id"] == a["school_id"]
        shown = [p.split("（")[-1].replace("）", "") for p in row["候补位次 waitlist"].split(";")]
        assert sorted(s for s in shown if s) == sorted(waiting.get(a["applicant_id"], []))
        if a["status"] == "placed":
            assert row["结果 result"] == f"第{a['choice_rank']}志愿录取"
    page = (published / PUBLIC_PAGE).read_text(encoding="utf-8")
    data = json.loads(page.split('type="application/json">')[1].split("</script>")[0])
    first = assignments[0]
    code = applicant_code(SECRET, first["applicant_id"])
    (entry,) = data["rows"][row_key(code)]
    assert entry[6] == id_check(code, first["applicant_id"])


def test_school_names_in_chinese(published):
    rows = read_rows(published / "public_list.csv")
    assert {"新道街小学", "东华门小学", "鼓楼小学"} & {r["学校 school"] for r in rows}
    cutoffs = read_rows(published / "public_cutoffs.csv")
    assert all(c["录取分界 cutoff"] for c in cutoffs)


def test_cutoffs_never_give_a_number():
    assert cutoff_digits(100) == 0 and cutoff_digits(8100) == 2
    number = "3a" + "7" * 62
    zh, _en = public_cutoff("片区内居住证", number, 8100)
    assert "3a" in zh and number[:3] not in zh and "片区内居住证" in zh
    assert public_cutoff("x", "", 8100)[0].startswith("未录满")


def test_publish_is_byte_reproducible(run_dir, published, secret_file, tmp_path):
    publish_results(run_dir, tmp_path / "again", secret_path=secret_file)
    for path in published.iterdir():
        assert (tmp_path / "again" / path.name).read_bytes() == path.read_bytes(), path.name


def test_publish_refuses_a_changed_run_or_a_weak_secret(run_dir, secret_file, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    with (copy / "assignments.csv").open("a", encoding="utf-8") as handle:
        handle.write("X,placed,S1,1,open,00\n")
    with pytest.raises(InputError, match=r"assignments\.csv does not match"):
        publish_results(copy, tmp_path / "public", secret_path=secret_file)
    assert not (tmp_path / "public").exists()
    weak = tmp_path / "weak.key"
    weak.write_text("1234\n")
    with pytest.raises(InputError, match="at least 32"):
        publish_results(run_dir, tmp_path / "public", secret_path=weak)
    with pytest.raises(InputError, match="would replace the run folder"):
        publish_results(run_dir, run_dir, secret_path=secret_file, force=True)


def test_the_committed_secret_is_checked(tmp_path, secret_file):
    schools, people, policy = make_inputs(tmp_path / "in", 30, "single", [])
    inputs = {"schools": schools, "applicants": people, "policy": policy, "zones": None}
    commitment = tmp_path / "commitment.json"
    write_commitment(make_commitment(inputs, "notary", {}, secret_path=secret_file), commitment)
    assert "district_secret_sha256" in json.loads(commitment.read_text())
    assert SECRET.decode() not in commitment.read_text()
    run = tmp_path / "run"
    run_lottery(
        schools, people, run, RunOptions(seed=SEED), policy_path=policy, commitment_path=commitment
    )
    summary = publish_results(run, tmp_path / "ok", secret_path=secret_file)
    assert not any("not fixed in a commitment" in w for w in summary.warnings)
    other = tmp_path / "other.key"
    other.write_bytes(b"x" * 40)
    with pytest.raises(InputError, match="not the district secret"):
        publish_results(run, tmp_path / "bad", secret_path=other)


def test_publish_and_codes_commands(run_dir, secret_file, tmp_path):
    result = run_cli(
        "lottery", "publish", run_dir, "--secret", secret_file, "--out", tmp_path / "pub"
    )
    assert result.exit_code == 0, result.output
    assert "公示名单" in result.output and "public_page.html" in result.output
    codes = tmp_path / "codes.csv"
    result = run_cli(
        "lottery",
        "codes",
        "--applicants",
        run_dir / "inputs" / "applicants.csv",
        "--secret",
        secret_file,
        "--out",
        codes,
    )
    assert result.exit_code == 0, result.output
    rows = read_rows(codes)
    assert rows[0]["查询码 code"] == applicant_code(SECRET, rows[0]["applicant_id"])
    assert rows[0]["公示号 row_key"] == row_key(rows[0]["查询码 code"])
