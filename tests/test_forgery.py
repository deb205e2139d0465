"""The forgery suite: a dishonest operator edits a run folder and rebuilds a consistent hash
chain; `seats audit verify` must still refuse it, and explain / publish / report must refuse a
folder whose digests do not verify. Each test is named after the forgery it guards against."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from conftest import run_cli

from seats.io.audit import GENESIS, canonical_json
from seats.lottery.commitment import make_commitment, write_commitment
from seats.lottery.run import RunOptions, run_lottery
from seats.supervision.verify import verify_run

SEED_SOURCE = "five numbers read out by the notary"


def _inputs(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True)
    schools = folder / "schools.csv"
    schools.write_text("school_id,zone_id,seats\nS1,Z1,3\nS2,Z2,2\nS3,Z1,4\n", encoding="utf-8")
    rows = ["applicant_id,zone_id,choices,sibling_school_id"]
    for n in range(24):
        choices = ["S1;S2;S3", "S2;S1", "S1", "S3;S1", ""][n % 5]
        rows.append(f"A{n:03d},Z{n % 2 + 1},{choices},{'S2' if n % 7 == 0 else ''}")
    applicants = folder / "applicants.csv"
    applicants.write_text("\n".join(rows) + "\n", encoding="utf-8")
    policy = folder / "policy.toml"
    policy.write_text(
        'mechanism = "deferred_acceptance"\n[[tiers]]\nname = "sibling"\nsibling = true\n',
        encoding="utf-8",
    )
    return {"schools": schools, "applicants": applicants, "policy": policy}


@pytest.fixture(scope="module")
def honest(tmp_path_factory) -> tuple[Path, Path]:
    """An honest run drawn against a published commitment, and that commitment."""
    root = tmp_path_factory.mktemp("forgery")
    paths = _inputs(root / "in")
    published = root / "commitment.json"
    write_commitment(make_commitment(paths, SEED_SOURCE, {}), published)
    run = root / "run"
    run_lottery(
        paths["schools"],
        paths["applicants"],
        run,
        RunOptions(seed_parts=["3 41 17 8 29"]),
        policy_path=paths["policy"],
        commitment_path=published,
    )
    assert verify_run(run).verified, verify_run(run).problems
    return run, published


@pytest.fixture
def run_copy(honest, tmp_path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(honest[0], target)
    return target


def _records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "audit.jsonl").read_bytes().splitlines()]


def _rechain(run: Path, records: list[dict]) -> None:
    """Write `records` as a consistent chain (seq, prev and hash recomputed): what a forger with
    the tool's source can always do."""
    prev, lines = GENESIS, []
    for seq, record in enumerate(records):
        record["seq"], record["prev"] = seq, prev
        body = {k: v for k, v in record.items() if k != "hash"}
        record["hash"] = hashlib.sha256(canonical_json(body)).hexdigest()
        line = canonical_json(record)
        prev = hashlib.sha256(line).hexdigest()
        lines.append(line)
    (run / "audit.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))


def _secret(folder: Path) -> Path:
    """A district secret for the public list's registration codes."""
    path = folder / "district.key"
    path.write_text("7" * 64 + "\n", encoding="utf-8")
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _refused(run: Path, *expected: str, **anchors) -> None:
    report = verify_run(run, **anchors)
    assert not report.verified, report.notes
    text = "\n".join(report.problems)
    for part in expected:
        assert part in text, text


def test_forged_end_counts_fail_verify(run_copy):
    records = _records(run_copy)
    records[-1]["payload"].update(placed=1, unplaced=0)
    _rechain(run_copy, records)
    _refused(run_copy, "the end record states", "placed = 1")
    result = run_cli("audit", "verify", run_copy)
    assert result.exit_code == 1 and "NOT VERIFIED" in result.output


def test_forged_school_cutoffs_fail_verify(run_copy):
    records = _records(run_copy)
    school = next(r for r in records if r["kind"] == "school" and r["payload"]["cutoff_tier"])
    school["payload"]["cutoff_lottery_number"] = "0" * 64
    _rechain(run_copy, records)
    _refused(run_copy, "the school record states cutoff_lottery_number")


def test_forged_input_rows_fail_verify(run_copy):
    records = _records(run_copy)
    next(r for r in records if r["kind"] == "input")["payload"]["rows"] = 1
    _rechain(run_copy, records)
    _refused(run_copy, "the input record states rows = 1")


def test_edited_commitment_file_with_its_digest_updated_fails_verify(run_copy):
    path = run_copy / "inputs" / "commitment.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    for entry in data["inputs"].values():
        entry["sha256"] = "0" * 64
    path.write_text(json.dumps(data), encoding="utf-8")
    records = _records(run_copy)
    next(r for r in records if r["kind"] == "commitment")["payload"]["sha256"] = _sha(path)
    _rechain(run_copy, records)
    _refused(run_copy, "fixes other inputs than its record", "is not the committed one")


def test_commitment_record_and_file_both_edited_fail_verify(run_copy):
    path = run_copy / "inputs" / "commitment.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    for entry in data["inputs"].values():
        entry["sha256"] = "0" * 64
    path.write_text(json.dumps(data), encoding="utf-8")
    records = _records(run_copy)
    record = next(r for r in records if r["kind"] == "commitment")
    record["payload"]["sha256"], record["payload"]["inputs"] = _sha(path), data["inputs"]
    _rechain(run_copy, records)
    _refused(run_copy, "is not the committed one")


def test_dropped_commitment_record_fails_verify(run_copy):
    records = [r for r in _records(run_copy) if r["kind"] != "commitment"]
    _rechain(run_copy, records)
    _refused(run_copy, "inputs/commitment.json: in the run folder but not recorded")


def test_dropped_commitment_record_and_file_fail_against_the_published_one(honest, run_copy):
    records = [r for r in _records(run_copy) if r["kind"] != "commitment"]
    _rechain(run_copy, records)
    (run_copy / "inputs" / "commitment.json").unlink()
    _refused(run_copy, "the run records no commitment", commitment=honest[1])
    _refused(run_copy, "the run records no commitment", seed_source=SEED_SOURCE)


def test_removed_waitlists_record_and_file_fail_verify(run_copy):
    records = [
        r
        for r in _records(run_copy)
        if not (r["kind"] == "output" and r["payload"]["file"] == "waitlists.csv")
    ]
    (run_copy / "waitlists.csv").unlink()
    _rechain(run_copy, records)
    _refused(run_copy, "waitlists.csv: re-running writes it")


def test_second_seed_record_fails_verify(run_copy):
    records = _records(run_copy)
    seed = next(r for r in records if r["kind"] == "seed")
    forged = json.loads(json.dumps(seed))
    forged["payload"]["seed"] = "another seed"
    records.insert(records.index(seed) + 1, forged)
    _rechain(run_copy, records)
    _refused(run_copy, "exactly one seed record")


def test_forged_seed_parts_fail_verify(run_copy):
    records = _records(run_copy)
    next(r for r in records if r["kind"] == "seed")["payload"]["parts"] = ["1 2 3"]
    _rechain(run_copy, records)
    _refused(run_copy)


@pytest.mark.parametrize("outside", ["/etc/hostname", "../outside.csv", "inputs/../../x.csv"])
def test_output_path_outside_the_folder_fails_verify(run_copy, outside):
    target = (run_copy / outside) if not outside.startswith("/") else Path(outside)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("x\n", encoding="utf-8")
    records = _records(run_copy)
    output = next(r for r in records if r["kind"] == "output")
    output["payload"]["file"], output["payload"]["sha256"] = outside, _sha(target)
    _rechain(run_copy, records)
    _refused(run_copy, "is not a relative path inside the run folder")
    assert run_cli("report", run_copy, "--out", run_copy.parent / "r.pdf").exit_code == 2


def test_output_reached_through_a_link_fails_verify(run_copy, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.move(run_copy / "schools.csv", outside / "schools.csv")
    (run_copy / "linked").symlink_to(outside)
    records = _records(run_copy)
    output = next(r for r in records if r["payload"].get("file") == "schools.csv")
    output["payload"]["file"] = "linked/schools.csv"
    _rechain(run_copy, records)
    _refused(run_copy, "symbolic link")


def test_unrecorded_file_in_the_run_folder_fails_verify(run_copy):
    (run_copy / "extra.csv").write_text("a\n", encoding="utf-8")
    _refused(run_copy, "extra.csv: in the run folder but not recorded")


def test_head_anchors_the_chain(honest, run_copy):
    head = _records(honest[0])[-1]["hash"]
    assert verify_run(honest[0], head=head).verified
    records = _records(run_copy)
    records[-1]["payload"]["placed"] += 0  # rebuilt but unchanged: same head
    _rechain(run_copy, records)
    assert verify_run(run_copy, head=head).verified
    _refused(run_copy, "is not the published", head="f" * 64)


def test_published_commitment_and_seed_source_anchor_the_run(honest, tmp_path):
    run, published = honest
    assert verify_run(run, commitment=published, seed_source=SEED_SOURCE).verified
    assert verify_run(run, commitment=_sha(published)).verified
    other = tmp_path / "other.json"
    other.write_text(published.read_text(encoding="utf-8").replace("notary", "mayor"))
    _refused(run, "is not the one published", commitment=other)
    _refused(run, "not the published", seed_source="drand round 1")
    result = run_cli(
        "audit", "verify", run, "--commitment", published, "--seed-source", SEED_SOURCE
    )
    assert result.exit_code == 0 and "verified" in result.output


def test_run_prints_its_head_and_commit_its_digest(tmp_path):
    paths = _inputs(tmp_path / "in")
    args = ["--schools", paths["schools"], "--applicants", paths["applicants"]]
    commit = run_cli("lottery", "commit", *args, "--seed-source", "x", "--out", tmp_path / "c.json")
    assert commit.exit_code == 0 and _sha(tmp_path / "c.json") in commit.output.splitlines()[-1]
    result = run_cli("lottery", "run", *args, "--seed", "s", "--out", tmp_path / "run")
    head = _records(tmp_path / "run")[-1]["hash"]
    assert head in result.output.splitlines()[-1]
    assert run_cli("audit", "verify", tmp_path / "run", "--head", head).exit_code == 0


@pytest.mark.parametrize("command", ["explain", "publish", "report"])
def test_readers_refuse_a_folder_whose_digests_do_not_verify(run_copy, tmp_path, command):
    path = run_copy / "schools.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",3,", ",30,"), encoding="utf-8")
    args = {
        "explain": ["explain", run_copy, "A001"],
        "publish": [
            "lottery",
            "publish",
            run_copy,
            "--out",
            tmp_path / "public",
            "--secret",
            _secret(tmp_path),
        ],
        "report": ["report", run_copy, "--out", tmp_path / "report.pdf"],
    }[command]
    result = run_cli(*args)
    assert result.exit_code == 2 and "schools.csv" in result.output
    assert "Traceback" not in result.output
