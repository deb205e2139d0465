"""Fuzz every reader: damaged and hostile inputs must end in exit 0 or 2 (for verify: 0 or 1),
never a traceback (run_cli lets exceptions through, so a crash fails the test). Bounded: a
fixed number of examples per reader, no deadline, the whole module well under a minute."""

from __future__ import annotations

import functools
import io
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import DATASET, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,  # the same examples in CI every time
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SPECIALS = [
    b'"', b",", b"\n", b"\r\n", b"\x00", b";", b" ", b"\t", b"\xff", b"\xef\xbb\xbf",
    "１２".encode(), "\u200b".encode(), "\u202e".encode(), "é".encode(), "张".encode("gbk"),
    b"=cmd|' /C calc'!A0", b"+1", b"@SUM", b"1e309", b"nan", b"-1", b"99999999999999999999",
    b"[[", b"]]", b"{", b"}", b"=", b"[[tiers]]", b'name = "', b"true", b"S1", b"Z1", b"A1",
]  # fmt: skip
SCHOOLS = b"school_id,zone_id,seats\nS1,Z1,2\nS2,Z2,1\nS3,Z1,3\n"
APPLICANTS = (
    b"applicant_id,zone_id,choices,sibling_school_id,category\n"
    b"A1,Z1,S1;S2,,A\nA2,Z2,S2;S1,S2,B\nA3,Z1,S1,,A\nA4,Z1,S3;S1,,\nA5,Z2,,,B\n"
)
POLICY = (
    b'mechanism = "immediate_acceptance"\ntie_break = "multiple"\n'
    b'[[tiers]]\nname = "sibling"\nsibling = true\n'
    b'[[tiers]]\nname = "zone_a"\nsame_zone = true\ncategory = ["A"]\n'
)


@st.composite
def mutated(draw, base: bytes):
    """`base` with a few bytes inserted, deleted or replaced (random or hostile snippets)."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        piece = draw(st.sampled_from(SPECIALS) | st.binary(min_size=1, max_size=6))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        if action == "insert":
            data[at:at] = piece
        elif action == "delete":
            del data[at : at + len(piece)]
        else:
            data[at : at + len(piece)] = piece
    return bytes(data)


def _assert_clean(result, allowed=(0, 2)) -> None:
    assert result.exit_code in allowed, result.output
    assert "Traceback" not in result.output


def _lottery(folder: Path, schools=SCHOOLS, applicants=APPLICANTS, policy=POLICY, name="a.csv"):
    (folder / "s.csv").write_bytes(schools)
    (folder / name).write_bytes(applicants)
    (folder / "p.toml").write_bytes(policy)
    return run_cli(
        "lottery", "run", "--schools", folder / "s.csv", "--applicants", folder / name,
        "--policy", folder / "p.toml", "--seed", "fuzz seed", "--out", folder / "run",
    )  # fmt: skip


def _fresh() -> Path:
    return Path(tempfile.mkdtemp(prefix="seats-fuzz-"))


@FUZZ
@given(mutated(APPLICANTS))
def test_fuzz_applicants_csv(data):
    folder = _fresh()
    try:
        _assert_clean(_lottery(folder, applicants=data))
    finally:
        shutil.rmtree(folder)


@FUZZ
@given(mutated(SCHOOLS))
def test_fuzz_schools_csv(data):
    folder = _fresh()
    try:
        _assert_clean(_lottery(folder, schools=data))
    finally:
        shutil.rmtree(folder)


@FUZZ
@given(mutated(POLICY))
def test_fuzz_policy_toml(data):
    folder = _fresh()
    try:
        _assert_clean(_lottery(folder, policy=data))
    finally:
        shutil.rmtree(folder)


@functools.cache
def _xlsx() -> bytes:
    """A valid workbook of APPLICANTS (made once: its parts hold the time it was made)."""
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    for line in APPLICANTS.decode().splitlines():
        book.active.append(line.split(","))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@st.composite
def damaged_xlsx(draw):
    """A workbook with its zip damaged, or one part of it damaged and re-zipped."""
    import zipfile

    raw = _xlsx()
    if draw(st.booleans()):
        return draw(mutated(raw))
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    name = draw(st.sampled_from(sorted(parts)))
    parts[name] = draw(mutated(parts[name]))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part, data in parts.items():
            archive.writestr(part, data)
    return buffer.getvalue()


@FUZZ
@given(damaged_xlsx())
def test_fuzz_applicants_xlsx(data):
    folder = _fresh()
    try:
        _assert_clean(_lottery(folder, applicants=data, name="a.xlsx"))
    finally:
        shutil.rmtree(folder)


@pytest.fixture(scope="module")
def honest_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz_run")
    assert _lottery(folder).exit_code == 0
    commit = run_cli(
        "lottery", "commit", "--schools", folder / "s.csv", "--applicants", folder / "a.csv",
        "--policy", folder / "p.toml", "--seed-source", "fuzz", "--out", folder / "c.json",
    )  # fmt: skip
    assert commit.exit_code == 0
    return folder


@FUZZ
@given(data=st.data())
def test_fuzz_commitment_json(honest_run, data):
    raw = data.draw(mutated((honest_run / "c.json").read_bytes()))
    folder = _fresh()
    try:
        for name in ("s.csv", "a.csv", "p.toml"):
            shutil.copy(honest_run / name, folder / name)
        (folder / "c.json").write_bytes(raw)
        result = run_cli(
            "lottery", "run", "--schools", folder / "s.csv", "--applicants", folder / "a.csv",
            "--policy", folder / "p.toml", "--commitment", folder / "c.json",
            "--seed", "fuzz seed", "--out", folder / "run",
        )  # fmt: skip
        _assert_clean(result)
    finally:
        shutil.rmtree(folder)


@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_fuzz_audit_log_and_run_folder_readers(honest_run, data):
    folder = _fresh()
    try:
        run = folder / "run"
        shutil.copytree(honest_run / "run", run)
        target = data.draw(st.sampled_from(["audit.jsonl", "assignments.csv", "schools.csv"]))
        (run / target).write_bytes(data.draw(mutated((run / target).read_bytes())))
        _assert_clean(run_cli("audit", "verify", run), allowed=(0, 1, 2))
        _assert_clean(run_cli("explain", run, "A1"))
        _assert_clean(run_cli("report", run, "--out", folder / "r.pdf"))
    finally:
        shutil.rmtree(folder)


@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_fuzz_forged_audit_records(honest_run, data):
    """Records with hostile payloads but a consistent chain: verify says no, never crashes."""
    from test_forgery import _rechain

    folder = _fresh()
    try:
        run = folder / "run"
        shutil.copytree(honest_run / "run", run)
        records = [json.loads(line) for line in (run / "audit.jsonl").read_bytes().splitlines()]
        k = data.draw(st.integers(0, len(records) - 1))
        value = data.draw(
            st.sampled_from([None, 1, "x", [], {}, "/etc/hostname", "../x", True, 1e309])
        )
        key = data.draw(st.sampled_from(["file", "sha256", "seed", "parts", "role", "options"]))
        payload = records[k]["payload"]
        if data.draw(st.booleans()):
            records[k]["payload"] = value
        else:
            payload[key] = value
        _rechain(run, records)
        _assert_clean(run_cli("audit", "verify", run), allowed=(0, 1, 2))
        _assert_clean(run_cli("explain", run, "A1"))
        secret = folder / "district.key"
        secret.write_text("7" * 64 + "\n", encoding="utf-8")
        publish = ["lottery", "publish", run, "--out", folder / "public", "--secret", secret]
        _assert_clean(run_cli(*publish))
    finally:
        shutil.rmtree(folder)


@pytest.fixture(scope="module")
def class_inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz_classes")
    rows = ["pupil_id,school_id,gender,birth_date,special_needs,migrant"]
    rows += [
        f"P{n:02d},P01,{'FM'[n % 2]},2014-{n % 12 + 1:02d}-01,0,{n % 3 // 2}" for n in range(30)
    ]
    (folder / "pupils.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "requests.csv").write_text(
        "pupil_id,together_with,apart_from,fixed_class\nP01,P02,,\nP03,,P04,1\n", encoding="utf-8"
    )
    result = run_cli(
        "classes", "form", "--pupils", folder / "pupils.csv", "--schools",
        DATASET / "schools.csv", "--seed", "c", "--out", folder / "classes",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    teachers = (DATASET / "teachers.csv").read_text(encoding="utf-8").splitlines()
    keep = [teachers[0]] + [line for line in teachers[1:] if ",P01," in line]
    (folder / "teachers.csv").write_text("\n".join(keep) + "\n", encoding="utf-8")
    return folder


@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_fuzz_pupils_and_requests(class_inputs, data):
    which = data.draw(st.sampled_from(["pupils.csv", "requests.csv"]))
    folder = _fresh()
    try:
        for name in ("pupils.csv", "requests.csv"):
            shutil.copy(class_inputs / name, folder / name)
        (folder / which).write_bytes(data.draw(mutated((folder / which).read_bytes())))
        result = run_cli(
            "classes", "form", "--pupils", folder / "pupils.csv", "--schools",
            DATASET / "schools.csv", "--seed", "c", "--requests", folder / "requests.csv",
            "--out", folder / "out",
        )  # fmt: skip
        _assert_clean(result)
    finally:
        shutil.rmtree(folder)


@settings(FUZZ, max_examples=30)
@given(data=st.data())
def test_fuzz_teachers_csv(class_inputs, data):
    folder = _fresh()
    try:
        raw = (class_inputs / "teachers.csv").read_bytes()
        (folder / "t.csv").write_bytes(data.draw(mutated(raw[:3000])))
        result = run_cli(
            "teachers", "assign", "--classes", class_inputs / "classes", "--teachers",
            folder / "t.csv", "--seed", "t", "--out", folder / "out",
        )  # fmt: skip
        _assert_clean(result)
    finally:
        shutil.rmtree(folder)


@settings(FUZZ, max_examples=10)
@given(data=st.data())
def test_fuzz_district_folder(data):
    folder = _fresh()
    try:
        district = folder / "district"
        shutil.copytree(DATASET, district)
        name = data.draw(
            st.sampled_from(["zones.csv", "groups.csv", "group_members.csv", "births.csv"])
        )
        path = district / name
        path.write_bytes(data.draw(mutated(path.read_bytes())))
        _assert_clean(run_cli("data", "check", district))
    finally:
        shutil.rmtree(folder)
