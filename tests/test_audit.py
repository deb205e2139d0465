"""Auditable draws: the hash chain, verify and tampering, commitments, seed parts, explain."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import DATASET, run_cli

from seats.io.audit import read_chain
from seats.io.errors import InputError
from seats.lottery import load_lottery, priorities
from seats.lottery.seed import canonical_seed
from seats.supervision.explain import RunView, explain_applicant, recompute_command
from seats.supervision.verify import verify_run

SCHOOLS = DATASET / "schools.csv"
ZONES = DATASET / "zones.csv"
KINDERGARTEN = DATASET / "applicants_kindergarten_2021.csv"
KG_POLICY = DATASET / "policy_kindergarten.toml"
PRIMARY = DATASET / "applicants_primary_2021.csv"
PRIMARY_POLICY = DATASET / "policy_primary.toml"


def lottery_args(applicants=PRIMARY, policy=PRIMARY_POLICY, level="primary"):
    return ["--schools", SCHOOLS, "--applicants", applicants, "--policy", policy, "--level", level]


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("audit") / "run"
    result = run_cli(
        "lottery",
        "run",
        *lottery_args(),
        "--fallback",
        "nearest",
        "--zones",
        ZONES,
        "--seed",
        "audit seed",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def run_copy(clean_run, tmp_path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(clean_run, target)
    return target


def verify(folder: Path, *extra):
    return run_cli("audit", "verify", folder, *extra)


def test_clean_run_verifies_in_another_folder(run_copy):
    result = verify(run_copy)
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("verified")


def test_chain_records_cover_the_run(clean_run):
    records, problems = read_chain(clean_run / "audit.jsonl")
    assert problems == []
    kinds = [r["kind"] for r in records]
    assert kinds[0] == "run" and kinds[-1] == "end"
    assert kinds.count("input") == 6 and kinds.count("output") == 3 and "seed" in kinds
    assert kinds.count("school") == 51
    assert [r["seq"] for r in records] == list(range(len(records)))
    for r in records:
        for path in (r["payload"].get("file"),):
            assert path is None or not Path(path).is_absolute()


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def _write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def test_one_byte_changed_in_a_record(run_copy):
    log = run_copy / "audit.jsonl"
    lines = _lines(log)
    lines[5] = (
        lines[5].replace(b'"seats":', b'"seats": ', 1)
        if b'"seats":' in lines[5]
        else lines[5].replace(b"a", b"b", 1)
    )
    _write_lines(log, lines)
    result = verify(run_copy)
    assert result.exit_code == 1
    assert "audit.jsonl:6:" in result.output


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda ls: ls[:10] + ls[11:],
            "audit.jsonl:11: holds record 11 where record 10 belongs: record 10 is missing",
        ),
        (
            lambda ls: [*ls[:10], ls[11], ls[10], *ls[12:]],
            "audit.jsonl:11: holds record 11 where record 10 belongs: lines were reordered "
            "(record 10 stands on line 12)",
        ),
        (
            lambda ls: [*ls[:10], ls[3], *ls[10:]],
            "audit.jsonl:11: holds record 3 where record 10 "
            "belongs: a copy of record 3 was inserted",
        ),
        (lambda ls: ls[:-1], "lines are missing at the end"),
    ],
)
def test_deleted_swapped_inserted_lines(run_copy, edit, expected):
    log = run_copy / "audit.jsonl"
    _write_lines(log, edit(_lines(log)))
    result = verify(run_copy)
    assert result.exit_code == 1
    assert expected in result.output


def test_forged_record_with_valid_hash_breaks_the_prev_link(run_copy):
    from seats.io.audit import canonical_json

    log = run_copy / "audit.jsonl"
    lines = _lines(log)
    record = json.loads(lines[20])
    record["payload"]["placed"] = 0
    del record["hash"]
    record["hash"] = hashlib.sha256(canonical_json(record)).hexdigest()
    lines[20] = canonical_json(record)
    _write_lines(log, lines)
    result = verify(run_copy)
    assert result.exit_code == 1
    assert "audit.jsonl:22: does not follow line 21" in result.output


def test_changed_input_is_named(run_copy):
    path = run_copy / "inputs" / "applicants.csv"
    data = bytearray(path.read_bytes())
    data[200] = ord("9") if data[200] != ord("9") else ord("8")
    path.write_bytes(bytes(data))
    result = verify(run_copy)
    assert result.exit_code == 1
    assert (
        "inputs/applicants.csv: SHA-256" in result.output and "input was changed" in result.output
    )


def test_changed_output_is_named(run_copy):
    path = run_copy / "waitlists.csv"
    path.write_bytes(path.read_bytes().replace(b"P01,1,", b"P01,0,", 1))
    result = verify(run_copy)
    assert result.exit_code == 1
    assert "waitlists.csv: SHA-256 differs" in result.output


def test_consistent_forgery_is_caught_by_the_rerun(run_copy):
    """Rewrite an output AND its digest in the log, re-chaining every line after it: the chain
    and the digests then agree, and only re-running the draw can catch it."""
    from seats.io.audit import GENESIS, canonical_json

    assignments = run_copy / "assignments.csv"
    rows = assignments.read_text(encoding="utf-8-sig").splitlines()
    first, second = rows[1].split(","), rows[2].split(",")
    first[2], second[2] = second[2], first[2]  # swap two children's schools
    rows[1], rows[2] = ",".join(first), ",".join(second)
    assignments.write_text("\n".join(rows) + "\n", encoding="utf-8-sig")
    log = run_copy / "audit.jsonl"
    records = [json.loads(line) for line in _lines(log)]
    prev, lines = GENESIS, []
    for record in records:
        if record["kind"] == "output" and record["payload"]["file"] == "assignments.csv":
            record["payload"]["sha256"] = hashlib.sha256(assignments.read_bytes()).hexdigest()
        record["prev"] = prev
        body = {k: v for k, v in record.items() if k != "hash"}
        record["hash"] = hashlib.sha256(canonical_json(body)).hexdigest()
        line = canonical_json(record)
        prev = hashlib.sha256(line).hexdigest()
        lines.append(line)
    _write_lines(log, lines)
    report = verify_run(run_copy)
    assert report.problems == [
        "assignments.csv: re-running the draw gives different content (first difference at line 2)"
    ]


def test_inputs_found_by_digest(run_copy, tmp_path):
    stash = tmp_path / "stash"
    shutil.move(run_copy / "inputs", stash)
    assert verify(run_copy).exit_code == 1
    result = verify(run_copy, "--inputs", stash)
    assert result.exit_code == 0, result.output


# --- commitment and seed parts --------------------------------------------------------------


def test_commitment_refuses_changed_inputs(tmp_path):
    commitment = tmp_path / "commitment.json"
    result = run_cli(
        "lottery",
        "commit",
        *lottery_args(),
        "--seed-source",
        "five numbers read out by the notary",
        "--out",
        commitment,
    )
    assert result.exit_code == 0, result.output
    changed = tmp_path / "applicants.csv"
    changed.write_bytes(PRIMARY.read_bytes().replace(b"PA21-00001,Z10", b"PA21-00001,Z01"))
    args = [
        "lottery",
        "run",
        "--schools",
        SCHOOLS,
        "--applicants",
        changed,
        "--policy",
        PRIMARY_POLICY,
        "--level",
        "primary",
        "--commitment",
        commitment,
        "--seed-part",
        "3 41 17 8 29",
        "--out",
        tmp_path / "refused",
    ]
    result = run_cli(*args)
    assert result.exit_code == 2
    assert "applicants" in result.output and "differs from the committed file" in result.output
    assert not (tmp_path / "refused").exists()

    out = tmp_path / "run"
    result = run_cli(
        "lottery",
        "run",
        *lottery_args(),
        "--commitment",
        commitment,
        "--seed-part",
        "3 41 17 8 29",
        "--seed-part",
        "drand round 4200000",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    records, _ = read_chain(out / "audit.jsonl")
    seed = next(r for r in records if r["kind"] == "seed")["payload"]
    assert seed["seed"] == "3.8.17.29.41./drand round 4200000./"
    commit = next(r for r in records if r["kind"] == "commitment")["payload"]
    assert commit["seed_source"] == "five numbers read out by the notary"
    assert verify(out).exit_code == 0


@pytest.mark.parametrize(
    ("parts", "seed"),
    [
        (["47 2 12"], "2.12.47./"),
        (["9319", "2 5 12 18 23 47"], "9319./2.5.12.18.23.47./"),  # the RFC 3797 example's form
        (["07, 3,11"], "3.7.11./"),
        ([" drand  round\t4200000 "], "drand round 4200000./"),
        (["6d2a", "1 2"], "6d2a./1.2./"),
    ],
)
def test_seed_parts_canonical_form(parts, seed):
    assert canonical_seed(parts) == seed


@pytest.mark.parametrize("parts", [[], ["a/b"], ["   "]])
def test_bad_seed_parts(parts):
    with pytest.raises(InputError):
        canonical_seed(parts)


# --- explain ---------------------------------------------------------------------------------


def test_recompute_command_gives_the_lottery_number():
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum is not installed")
    command = recompute_command("it's a seed", "张三-01")
    out = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True)
    expected = hashlib.sha256("it's a seed\n张三-01".encode()).hexdigest()
    assert out.stdout.split()[0] == expected


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("mechanism", ["deferred", "immediate"])
def test_explain_agrees_with_waitlists_and_cutoffs(tmp_path, mechanism):
    """Every applicant of a mid-size run: each school ranked above the placement is full, the
    applicant's priority there comes after its cutoff (deferred acceptance), and the waitlist
    position is the one in waitlists.csv."""
    # 1,500 applicants for a quarter of the seats: many schools are oversubscribed.
    applicants = tmp_path / "applicants.csv"
    lines = KINDERGARTEN.read_text(encoding="utf-8-sig").splitlines()[:1501]
    applicants.write_text("\n".join(lines) + "\n", encoding="utf-8")
    schools = tmp_path / "schools.csv"
    with SCHOOLS.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    seats = rows[0].index("seats")
    for row in rows[1:]:
        row[seats] = str(int(row[seats]) // 4)
    with schools.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    policy = KG_POLICY
    if mechanism == "deferred":
        policy = tmp_path / "policy.toml"
        text = KG_POLICY.read_text(encoding="utf-8")
        policy.write_text(text.replace('"immediate_acceptance"', '"deferred_acceptance"'))
    out = tmp_path / "run"
    result = run_cli(
        "lottery",
        "run",
        "--catchments",
        DATASET / "catchments.csv",
        "--communities",
        DATASET / "communities.csv",
        "--schools",
        schools,
        "--applicants",
        applicants,
        "--policy",
        policy,
        "--level",
        "kindergarten",
        "--seed",
        "explain",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output

    waitlist = {
        (r["school_id"], r["applicant_id"]): int(r["position"])
        for r in _rows(out / "waitlists.csv")
    }
    results = {r["school_id"]: r for r in _rows(out / "schools.csv")}
    lottery = load_lottery(
        schools,
        applicants,
        "explain",
        policy,
        catchments_path=DATASET / "catchments.csv",
        communities_path=DATASET / "communities.csv",
        level="kindergarten",
    )
    names = lottery.policy.tier_names
    prio = priorities(lottery)
    explained = 0
    admitted_key: dict[str, int] = {}
    ptr = lottery.applicants.choice_ptr
    for b, placed in enumerate(_rows(out / "assignments.csv")):
        if placed["status"] == "placed":
            key = int(prio.key[int(ptr[b]) + int(placed["choice_rank"]) - 1])
            sid = placed["school_id"]
            admitted_key[sid] = max(admitted_key.get(sid, key), key)
    view = RunView(out)
    for a, row in enumerate(_rows(out / "assignments.csv")):
        explanation = view.explain(row["applicant_id"])
        assert explanation.status == row["status"]
        ranked = lottery.applicants.choices_of(a)
        expected_above = int(row["choice_rank"]) - 1 if row["status"] == "placed" else len(ranked)
        if row["status"] == "ineligible":
            expected_above = 0  # never drawn: the explanation names the birth-date bound
            assert "born" in explanation.head_en and "出生日期" in explanation.head_zh
        assert len(explanation.above) == expected_above
        for line in explanation.above:
            school = results[line.school_id]
            assert int(school["seats_left"]) == 0
            assert line.waitlist_position == waitlist[(line.school_id, row["applicant_id"])]
            entry = int(lottery.applicants.choice_ptr[a]) + line.choice_rank - 1
            assert line.tier_name == names[prio.tier[entry]]
            if mechanism == "deferred" and int(school["seats"]) > 0:
                # after everyone admitted there (tier, order_by value, number)
                assert prio.key[entry] > admitted_key[line.school_id]
            explained += 1
    assert explained > 100


def test_explain_cli_in_both_languages(clean_run):
    rows = _rows(clean_run / "assignments.csv")
    someone = next(r for r in rows if r["status"] == "assigned")
    result = run_cli("explain", clean_run, someone["applicant_id"])
    assert result.exit_code == 0, result.output
    assert "nearest school with a seat left" in result.output and "统筹安排" in result.output
    assert "sha256sum" in result.output
    missing = run_cli("explain", clean_run, "nobody")
    assert missing.exit_code == 2 and "no applicant 'nobody'" in missing.output


# --- regressions from the review of 2026-11-28 -------------------------------------------------


def test_last_line_edited_in_place_is_caught(run_copy):
    """The last line has no successor whose prev binds its bytes: it must be canonical."""
    log = run_copy / "audit.jsonl"
    lines = _lines(log)
    lines[-1] = lines[-1] + b"   "
    _write_lines(log, lines)
    result = verify(run_copy)
    assert result.exit_code == 1
    assert f"audit.jsonl:{len(lines)}: the line was edited" in result.output


def test_crlf_line_ends_are_named(run_copy):
    log = run_copy / "audit.jsonl"
    log.write_bytes(log.read_bytes().replace(b"\n", b"\r\n"))
    result = verify(run_copy)
    assert result.exit_code == 1
    assert "audit.jsonl:1: the line was edited" in result.output and "CRLF" in result.output


def test_commitment_fixes_the_options(tmp_path):
    commitment = tmp_path / "commitment.json"
    assert (
        run_cli(
            "lottery", "commit", *lottery_args(), "--seed-source", "notary", "--out", commitment
        ).exit_code
        == 0
    )
    for extra, option in (
        (["--encoding", "gbk"], "encoding"),
        (["--fallback", "nearest", "--zones", ZONES], "fallback"),
    ):
        result = run_cli(
            "lottery",
            "run",
            *lottery_args(),
            "--commitment",
            commitment,
            "--seed",
            "s",
            "--out",
            tmp_path / option,
            *extra,
        )
        assert result.exit_code == 2, result.output
        assert f"{option}: the commitment fixes --{option}" in result.output
        assert not (tmp_path / option).exists()


def test_explain_multiple_tie_break_command_gives_the_placed_number(tmp_path):
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum is not installed")
    policy = tmp_path / "p.toml"
    policy.write_text(
        PRIMARY_POLICY.read_text(encoding="utf-8-sig").replace(
            'tie_break = "single"', 'tie_break = "multiple"'
        ),
        encoding="utf-8",
    )
    out = tmp_path / "run"
    assert (
        run_cli(
            "lottery", "run", *lottery_args(policy=policy), "--seed", "m", "--out", out
        ).exit_code
        == 0
    )
    row = next(r for r in _rows(out / "assignments.csv") if r["choice_rank"] == "1")
    command = explain_applicant(out, row["applicant_id"]).command.split("#")[0]
    printed = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True)
    assert printed.stdout.split()[0] == row["lottery_number"]


def test_explain_refuses_other_run_folders(tmp_path):
    (tmp_path / "audit.jsonl").write_bytes(b"")
    result = run_cli("explain", tmp_path, "x")
    assert result.exit_code == 2


def test_commitment_is_not_silently_replaced(tmp_path):
    commitment = tmp_path / "commitment.json"
    args = ["lottery", "commit", *lottery_args(), "--seed-source", "notary", "--out", commitment]
    assert run_cli(*args).exit_code == 0
    first = commitment.read_bytes()
    result = run_cli(*args)
    assert result.exit_code == 2 and "published once" in result.output
    assert commitment.read_bytes() == first
    assert run_cli(*args, "--force").exit_code == 0
