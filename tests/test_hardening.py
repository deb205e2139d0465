"""Regression tests of issue 13: a careless operator and a hostile file fail safely, with exit 2
and file:line, never a traceback (run_cli raises on one), and bounded work. Each test is named
after what it guards."""

from __future__ import annotations

import csv
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import DATASET, run_cli

from seats.io import output
from seats.lottery.seed import canonical_seed

SCHOOLS = "school_id,zone_id,seats\nS1,Z1,2\nS2,Z2,2\n"


def _lottery(tmp_path: Path, applicants: str, *extra, schools: str = SCHOOLS, out="run"):
    (tmp_path / "s.csv").write_text(schools, encoding="utf-8")
    path = tmp_path / "a.csv"
    if isinstance(applicants, bytes):
        path.write_bytes(applicants)
    else:
        path.write_text(applicants, encoding="utf-8")
    args = ["--schools", tmp_path / "s.csv", "--applicants", path, "--out", tmp_path / out]
    if "--seed" not in extra and "--seed-part" not in extra:
        args += ["--seed", "seed 2021"]
    return run_cli("lottery", "run", *args, *extra)


def _secret(folder: Path) -> Path:
    """A district secret for the public list's registration codes."""
    path = folder / "district.key"
    path.write_text("7" * 64 + "\n", encoding="utf-8")
    return path


def _refused(result, *expected: str) -> str:
    assert result.exit_code == 2, result.output
    for part in expected:
        assert part in result.output, result.output
    return result.output


# --- look-alike seeds, children and numbers ----------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "named"),
    [
        ("seed 2021 ", "space at its end"),
        ("seed  2021", "two spaces at character 5"),
        ("seed ２０２１", "U+FF12 FULLWIDTH DIGIT TWO"),
        ("cafe\u0301 2021", "U+0301 COMBINING ACUTE ACCENT"),
        ("seed\u200b2021", "U+200B ZERO WIDTH SPACE"),
        ("seed\u30002021", "U+3000 IDEOGRAPHIC SPACE"),
        ("seed\t2021", "U+0009"),
    ],
)
def test_lookalike_seeds_are_refused_naming_the_character(tmp_path, seed, named):
    result = _lottery(tmp_path, "applicant_id,zone_id,choices\nA1,Z1,S1\n", "--seed", seed)
    _refused(result, "--seed:", named)
    assert not (tmp_path / "run").exists()


def test_seed_parts_take_ascii_digits_only():
    assert canonical_seed(["3 41 17"]) == "3.17.41./"
    # Full-width digits are not numbers to sort: the part is text, and the seed check names it.
    assert canonical_seed(["３ ４１"]) == "３ ４１./"


def test_lookalike_applicant_ids_are_one_child(tmp_path):
    rows = [
        "applicant_id,zone_id,choices",
        "pa21-01113,Z1,S1",
        "PA21-01113,Z1,S1",
        "ＰＡ２１-０１１１３,Z1,S1",
    ]
    out = _refused(_lottery(tmp_path, "\n".join(rows) + "\n"))
    assert "a.csv:3: applicant_id: id 'PA21-01113' is the same as 'pa21-01113'" in out
    assert "(first on line 2)" in out and "a.csv:4: applicant_id:" in out


@pytest.mark.parametrize(
    ("applicant_id", "named"),
    [
        ("PA21-0\u200b1113", "U+200B ZERO WIDTH SPACE"),
        ("PA21\u202e31110", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("PA21\x0701113", "U+0007"),
        ("PA21\ufeff01113", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    ],
)
def test_invisible_characters_in_ids_are_refused(tmp_path, applicant_id, named):
    text = f"applicant_id,zone_id,choices\nA1,Z1,S1\n{applicant_id},Z1,S1\n"
    _refused(_lottery(tmp_path, text), "a.csv:3: applicant_id:", named)


@pytest.mark.parametrize("bad", ["=cmd|' /C calc'!A0", "+1", "@SUM(A1)", "-2+3"])
def test_formula_like_ids_are_refused(tmp_path, bad):
    text = f'applicant_id,zone_id,choices\nA1,Z1,S1\n"{bad}",Z1,S1\n'
    _refused(_lottery(tmp_path, text), "a.csv:3: applicant_id:", "formula")


def test_very_long_ids_are_refused(tmp_path):
    text = f"applicant_id,zone_id,choices\n{'A' * 5000},Z1,S1\n"
    _refused(_lottery(tmp_path, text), "a.csv:2: applicant_id: id of 5,000 characters")


@pytest.mark.parametrize("seats", ["1e3", "１２", "1_000", "٣٠٠", "0x10", " 12 5"])
def test_seats_take_ascii_digits_only(tmp_path, seats):
    schools = f'school_id,zone_id,seats\nS1,Z1,"{seats}"\n'
    result = _lottery(tmp_path, "applicant_id,zone_id,choices\nA1,Z1,S1\n", schools=schools)
    _refused(result, "s.csv:2: seats:", "is not a whole number (digits 0-9 only)")


def test_excel_whole_numbers_are_still_accepted(tmp_path):
    schools = "school_id,zone_id,seats\nS1,Z1,2.0\n"
    result = _lottery(tmp_path, "applicant_id,zone_id,choices\nA1,Z1,S1\n", schools=schools)
    assert result.exit_code == 0, result.output


# --- encodings -------------------------------------------------------------------------------


def test_gbk_applicants_are_read_without_encoding_option(tmp_path):
    text = "applicant_id,zone_id,choices\n张小明,Z1,S1\n李小红,Z2,S2\n"
    result = _lottery(tmp_path, text.encode("gbk"))
    assert result.exit_code == 0, result.output
    assert run_cli("audit", "verify", tmp_path / "run").exit_code == 0
    assert "张小明" in (tmp_path / "run" / "assignments.csv").read_text(encoding="utf-8-sig")


def test_utf8_read_as_gbk_is_refused(tmp_path):
    text = "applicant_id,zone_id,choices\n张小明,Z1,S1\n"
    _refused(_lottery(tmp_path, text, "--encoding", "gbk"), "the file is UTF-8")


# --- the policy ------------------------------------------------------------------------------


def _policy_run(tmp_path, policy: bytes | str):
    path = tmp_path / "p.toml"
    path.write_bytes(policy if isinstance(policy, bytes) else policy.encode())
    return _lottery(tmp_path, "applicant_id,zone_id,choices\nA1,Z1,S1\n", "--policy", path)


def test_deeply_nested_policy_is_refused_with_its_line(tmp_path):
    policy = 'mechanism = "deferred_acceptance"\nx = ' + "[" * 500 + "]" * 500 + "\n"
    _refused(_policy_run(tmp_path, policy), "p.toml:2: not valid TOML: nested too deeply")


def test_deeply_nested_policy_in_data_check(district_copy):
    (district_copy / "policy_primary.toml").write_text("x = " + "{a = " * 500 + "1" + "}" * 500)
    out = _refused(run_cli("data", "check", district_copy), "policy_primary.toml:")
    assert "Traceback" not in out


def test_non_utf8_policy_names_its_line(tmp_path):
    policy = b'mechanism = "deferred_acceptance"\n\n# \xff\xfe\n'
    _refused(_policy_run(tmp_path, policy), "p.toml:3: policy file is not UTF-8")


def test_huge_tier_name_is_refused(tmp_path):
    policy = f'[[tiers]]\nname = "{"x" * 131072}"\nsame_zone = true\n'
    out = _refused(_policy_run(tmp_path, policy), "p.toml:2: name", "characters (at most 64)")
    assert len(out) < 2000


# --- other readers ---------------------------------------------------------------------------


@pytest.mark.parametrize("rating", ["nan", "1e300", "1e309", "inf", "-inf", "８０"])
def test_bad_teacher_ratings_exit_2_with_their_line(tmp_path, rating):
    classes = _classes_run(tmp_path)
    rows = (DATASET / "teachers.csv").read_text(encoding="utf-8").splitlines()
    header = rows[0].split(",")
    cells = rows[1].split(",")
    cells[header.index("rating")] = rating
    rows[1] = ",".join(cells)
    teachers = tmp_path / "teachers.csv"
    teachers.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = run_cli(
        "teachers", "assign", "--classes", classes, "--teachers", teachers,
        "--seed", "t", "--out", tmp_path / "teachers",
    )  # fmt: skip
    _refused(result, "teachers.csv:2: rating:")


def _pupils(tmp_path: Path, n: int = 60) -> Path:
    rows = list(csv.DictReader((DATASET / "applicants_primary_2021.csv").open(encoding="utf-8")))
    path = tmp_path / "pupils.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["pupil_id", "school_id", "gender", "birth_date"])
        for row in rows[:n]:
            writer.writerow([row["applicant_id"], "P01", row["gender"], row["birth_date"]])
    return path


def _classes_run(tmp_path: Path) -> Path:
    out = tmp_path / "classes"
    result = run_cli(
        "classes", "form", "--pupils", _pupils(tmp_path), "--schools", DATASET / "schools.csv",
        "--seed", "c", "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def _form(tmp_path: Path, requests: str):
    path = tmp_path / "requests.csv"
    path.write_text(requests, encoding="utf-8")
    pupils = _pupils(tmp_path)
    return run_cli(
        "classes", "form", "--pupils", pupils, "--schools", DATASET / "schools.csv",
        "--seed", "c", "--requests", path, "--out", tmp_path / "classes",
    )  # fmt: skip


def test_mistyped_pupil_in_requests_is_an_error(tmp_path):
    first = next(csv.DictReader(_pupils(tmp_path).open(encoding="utf-8")))["pupil_id"]
    requests = f"pupil_id,together_with,apart_from,fixed_class\n{first},,,1\nPA21-O0001,,,2\n"
    _refused(_form(tmp_path, requests), "requests.csv:3: pupil_id: unknown pupil 'PA21-O0001'")


def test_request_errors_name_the_requests_file(tmp_path):
    first = next(csv.DictReader(_pupils(tmp_path).open(encoding="utf-8")))["pupil_id"]
    requests = f"pupil_id,together_with,apart_from,fixed_class\n{first},,,9\n"
    out = _refused(_form(tmp_path, requests), "requests.csv:2: fixed_class:")
    assert "pupils.csv:" not in out


def test_duplicate_header_does_not_flood(tmp_path):
    rows = ["applicant_id,zone_id,choices,zone_id"] + [f"A{n},Z1,S1,Z1" for n in range(5000)]
    out = _refused(_lottery(tmp_path, "\n".join(rows) + "\n"), "a.csv:1: zone_id: column name")
    assert len(out.splitlines()) < 10


def test_many_problems_are_summarised(tmp_path):
    rows = ["applicant_id,zone_id,choices"] + [f"A{n},Z1,NOPE" for n in range(1000)]
    out = _refused(_lottery(tmp_path, "\n".join(rows) + "\n"), "and 800 more problems")
    assert len(out.splitlines()) < 210


def test_plan_year_is_bounded(tmp_path):
    plan = tmp_path / "plan.csv"
    lines = (DATASET / "plan_2021_2025.csv").read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace(",2021,", ",1000000000000,")
    plan.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_cli("gap", "--level", "kindergarten", "--plan", plan, "--out", tmp_path / "g")
    _refused(result, "plan.csv:2: year: 1000000000000 is above the maximum of 2200")


# --- workbooks -------------------------------------------------------------------------------


def _workbook(path: Path, rows) -> Path:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def test_damaged_workbooks_exit_2(tmp_path):
    good = _workbook(
        tmp_path / "good.xlsx", [["applicant_id", "zone_id", "choices"], ["A1", "Z1", "S1"]]
    )
    raw = good.read_bytes()
    damaged = {
        "truncated": raw[: len(raw) // 2],
        "not_a_zip": b"PK\x03\x04" + b"\x00" * 200,
        "noise": bytes(range(256)) * 20,
    }
    with zipfile.ZipFile(good) as archive:  # a sheet whose XML is cut short
        parts = {name: archive.read(name) for name in archive.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = parts[sheet][: len(parts[sheet]) // 2]
    broken = tmp_path / "broken_sheet.xlsx"
    with zipfile.ZipFile(broken, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    damaged["broken_sheet"] = broken.read_bytes()
    for name, data in damaged.items():
        (tmp_path / f"{name}.xlsx").write_bytes(data)
        (tmp_path / "s.csv").write_text(SCHOOLS, encoding="utf-8")
        result = run_cli(
            "lottery", "run", "--schools", tmp_path / "s.csv",
            "--applicants", tmp_path / f"{name}.xlsx", "--seed", "s", "--out", tmp_path / name,
        )  # fmt: skip
        _refused(result, f"{name}.xlsx", "cannot read workbook")


def test_workbook_cell_at_the_far_corner_is_refused_not_padded(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["applicant_id", "zone_id", "choices"])
    sheet.append(["A1", "Z1", "S1"])
    sheet["XFD1048576"] = "x"
    path = tmp_path / "a.xlsx"
    book.save(path)
    assert path.stat().st_size < 20_000
    (tmp_path / "s.csv").write_text(SCHOOLS, encoding="utf-8")
    result = run_cli(
        "lottery", "run", "--schools", tmp_path / "s.csv", "--applicants", path,
        "--seed", "s", "--out", tmp_path / "run",
    )  # fmt: skip
    _refused(result, "a.xlsx:1048576: has a value in column 16,384")


# --- outputs: formulas and byte-order marks -------------------------------------------------


def test_formula_like_cells_are_neutralised_in_every_csv(tmp_path):
    policy = tmp_path / "p.toml"
    policy.write_text('[[tiers]]\nname = "=HYPERLINK(1)"\nsame_zone = true\n', encoding="utf-8")
    text = "applicant_id,zone_id,choices\nA1,Z1,S1\nA2,Z1,S1;S2\nA3,Z2,S1\n"
    assert _lottery(tmp_path, text, "--policy", policy).exit_code == 0
    run = tmp_path / "run"
    result = run_cli(
        "lottery", "publish", run, "--out", tmp_path / "public", "--secret", _secret(tmp_path)
    )
    assert result.exit_code == 0, result.output
    written = [*run.glob("*.csv"), tmp_path / "public" / "public_list.csv"]
    seen = 0
    for path in written:
        assert path.read_bytes().startswith(b"\xef\xbb\xbf"), path  # UTF-8 with BOM for Excel
        for row in csv.reader(path.open(encoding="utf-8-sig")):
            for cell in row:
                seen += "HYPERLINK" in cell
                assert not cell.startswith(("=", "+", "@")), (path, cell)
    assert seen
    assert run_cli("audit", "verify", run).exit_code == 0


def test_neutralise_keeps_numbers():
    assert output.neutralise("-1.5") == "-1.5" and output.neutralise("+3") == "+3"
    assert output.neutralise("=1+1") == "'=1+1" and output.neutralise("@SUM") == "'@SUM"
    assert output.neutralise("-cmd") == "'-cmd" and output.neutralise(7) == 7


# --- folders that --force and --out must never touch -----------------------------------------


@pytest.fixture
def lottery_run(tmp_path) -> Path:
    text = "applicant_id,zone_id,choices\nA1,Z1,S1\nA2,Z2,S2;S1\nA3,Z1,S1\n"
    assert _lottery(tmp_path, text, out="lottery").exit_code == 0
    return tmp_path / "lottery"


def test_gap_never_replaces_the_district_it_reads(district_copy):
    before = sorted(p.name for p in district_copy.iterdir())
    result = run_cli("gap", district_copy, "--level", "primary", "--out", district_copy, "--force")
    _refused(result, "holds the input")
    assert sorted(p.name for p in district_copy.iterdir()) == before


def test_forecast_never_replaces_the_district_it_reads(district_copy):
    result = run_cli(
        "forecast", district_copy, "--runs", "2", "--seed", "s", "--out", district_copy, "--force"
    )
    _refused(result, "holds the input")
    assert (district_copy / "schools.csv").exists()


def test_classes_never_replace_the_run_they_read(lottery_run):
    result = run_cli(
        "classes", "form", "--pupils", lottery_run, "--schools", lottery_run.parent / "s.csv",
        "--seed", "c", "--out", lottery_run, "--force",
    )  # fmt: skip
    _refused(result, "holds the input")
    assert run_cli("audit", "verify", lottery_run).exit_code == 0


def test_publish_never_writes_into_the_run(lottery_run):
    result = run_cli(
        "lottery", "publish", lottery_run, "--out", lottery_run / "inputs", "--force",
        "--secret", _secret(lottery_run.parent),
    )  # fmt: skip
    _refused(result, "inside the input folder")
    assert run_cli("audit", "verify", lottery_run).exit_code == 0


def test_report_never_overwrites_the_log(lottery_run):
    log = lottery_run / "audit.jsonl"
    before = log.read_bytes()
    _refused(run_cli("report", lottery_run, "--out", log), "inside the input")
    _refused(run_cli("report", lottery_run, "--out", log, "--force"), "inside the input")
    assert log.read_bytes() == before


def test_report_replaces_only_its_own_pdf(lottery_run, tmp_path):
    pdf, notes = tmp_path / "report.pdf", tmp_path / "notes.txt"
    assert run_cli("report", lottery_run, "--out", pdf).exit_code == 0
    _refused(run_cli("report", lottery_run, "--out", pdf), "--force")
    assert run_cli("report", lottery_run, "--out", pdf, "--force").exit_code == 0
    notes.write_text("mine", encoding="utf-8")
    _refused(run_cli("report", lottery_run, "--out", notes, "--force"), "not written by seats")
    assert notes.read_text(encoding="utf-8") == "mine"


def test_force_never_deletes_a_folder_seats_did_not_write(tmp_path):
    home = tmp_path / "folder"
    (home / "Documents").mkdir(parents=True)
    (home / "Documents" / "thesis.txt").write_text("years of work", encoding="utf-8")
    text = "applicant_id,zone_id,choices\nA1,Z1,S1\n"
    _refused(_lottery(tmp_path, text, "--force", out="folder"), "not written by seats")
    assert (home / "Documents" / "thesis.txt").read_text(encoding="utf-8") == "years of work"


def test_force_replaces_a_folder_seats_wrote_in_one_rename(tmp_path):
    text = "applicant_id,zone_id,choices\nA1,Z1,S1\n"
    assert _lottery(tmp_path, text).exit_code == 0
    run = tmp_path / "run"
    inode = (run / "assignments.csv").stat().st_ino
    assert _lottery(tmp_path, text, "--force").exit_code == 0
    assert (run / "assignments.csv").stat().st_ino != inode
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".run.")]
    assert leftovers == []


def test_stale_staging_folders_are_cleaned(tmp_path):
    stale = tmp_path / ".run.seats-stage-dead"
    stale.mkdir()
    (stale / "assignments.csv").write_text("half", encoding="utf-8")
    assert _lottery(tmp_path, "applicant_id,zone_id,choices\nA1,Z1,S1\n").exit_code == 0
    assert not stale.exists()


def test_two_runs_into_one_out_cannot_both_succeed(tmp_path):
    text = "applicant_id,zone_id,choices\nA1,Z1,S1\n"
    with output._locked(tmp_path / "run"):  # another command is writing it right now
        _refused(_lottery(tmp_path, text), "another seats command is writing")
    assert not (tmp_path / "run").exists()
    assert _lottery(tmp_path, text).exit_code == 0
    _refused(_lottery(tmp_path, text), "not empty")


def test_replacement_never_leaves_neither_folder(tmp_path, monkeypatch):
    """The old folder is swapped out in one step (renameat2 exchange); it is removed only once
    the new folder stands in its place, so a kill at any moment leaves one of the two."""
    text = "applicant_id,zone_id,choices\nA1,Z1,S1\n"
    assert _lottery(tmp_path, text).exit_code == 0
    real_rmtree = shutil.rmtree
    seen = []

    def rmtree(path, *args, **kwargs):
        seen.append((tmp_path / "run" / "assignments.csv").is_file())  # new one in place?
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(output.shutil, "rmtree", rmtree)
    assert _lottery(tmp_path, text, "--force").exit_code == 0
    assert seen and all(seen)
    assert run_cli("audit", "verify", tmp_path / "run").exit_code == 0


def test_commit_never_overwrites_an_input(tmp_path):
    (tmp_path / "s.csv").write_text(SCHOOLS, encoding="utf-8")
    (tmp_path / "a.csv").write_text("applicant_id,zone_id,choices\nA1,Z1,S1\n", encoding="utf-8")
    result = run_cli(
        "lottery", "commit", "--schools", tmp_path / "s.csv", "--applicants", tmp_path / "a.csv",
        "--seed-source", "x", "--out", tmp_path / "a.csv", "--force",
    )  # fmt: skip
    _refused(result, "is the input")
    assert (tmp_path / "a.csv").read_text(encoding="utf-8").startswith("applicant_id")


def test_demo_folder_can_be_rerun_with_force(tmp_path):
    """The demo's own folders carry the marker, so `demo --force` still replaces them."""
    run = tmp_path / "lottery"
    text = "applicant_id,zone_id,choices\nA1,Z1,S1\n"
    assert _lottery(tmp_path, text, out="lottery").exit_code == 0
    assert (run / output.MARKER).is_file()
    shutil.rmtree(run)


# --- bounded work ----------------------------------------------------------------------------


def test_immediate_acceptance_with_long_lists_stays_small():
    """2 applicants ranking 20,000 schools once took a rounds x schools table (6.4 GB); now the
    work is proportional to the entries, and the result is the naive reference's."""
    import numpy as np
    from naive import naive_immediate_acceptance

    from seats.lottery.kernels import immediate_acceptance

    n_schools = 20_000
    rng = np.random.default_rng(7)
    choices = [rng.permutation(n_schools).tolist() for _ in range(2)] + [[5, 3], [3]]
    assert naive_immediate_acceptance([[1, 0], [1]], [[1, 2], [3]], [1, 1]) == [(1, 0), (-1, -1)]
    keys = [list(rng.permutation(10**6)[: len(c)] + 10**6 * a) for a, c in enumerate(choices)]
    seats = [1] * n_schools
    ptr = np.cumsum([0] + [len(c) for c in choices])
    out_school, out_rank = immediate_acceptance(
        ptr, np.concatenate(choices), np.concatenate(keys), np.array(seats)
    )
    expected = _sparse_naive_immediate(choices, keys, seats)
    assert list(zip(out_school.tolist(), out_rank.tolist(), strict=True)) == expected


def _sparse_naive_immediate(choices, keys, seats):
    """tests/naive.py's literal rounds, with each round's applications in a dict (the naive
    reference allocates one list per school and round, too slow for 20,000 schools)."""
    result = [(-1, -1)] * len(choices)
    seats_left = list(seats)
    for r in range(max((len(c) for c in choices), default=0)):
        applying: dict[int, list] = {}
        for a, row in enumerate(choices):
            if result[a] == (-1, -1) and r < len(row):
                applying.setdefault(row[r], []).append((keys[a][r], a))
        for s in sorted(applying):
            for _, a in sorted(applying[s]):
                if seats_left[s] == 0:
                    break
                result[a] = (s, r)
                seats_left[s] -= 1
    return result


@pytest.mark.parametrize("seed", range(30))
def test_immediate_acceptance_by_round_matches_naive(seed):
    """The entries-proportional rounds agree with the naive reference on small random cases
    (forced by many schools and long lists)."""
    import numpy as np
    from naive import naive_immediate_acceptance

    from seats.lottery.kernels import immediate_acceptance

    rng = np.random.default_rng(seed)
    n_schools = 300
    choices = [
        rng.choice(n_schools, size=rng.integers(0, 6), replace=False).tolist() for _ in range(40)
    ]
    choices[0] = rng.choice(n_schools, size=n_schools, replace=False).tolist()  # forces the path
    keys = [rng.permutation(10**6)[: len(c)].tolist() for c in choices]
    for a, row in enumerate(keys):  # distinct keys at every school
        keys[a] = [k * 64 + a for k in row]
    seats = rng.integers(0, 3, size=n_schools).tolist()
    ptr = np.cumsum([0] + [len(c) for c in choices])
    flat = np.array([s for c in choices for s in c], dtype=np.int64)
    out_school, out_rank = immediate_acceptance(
        ptr, flat, np.array([k for row in keys for k in row], dtype=np.int64), np.array(seats)
    )
    expected = _sparse_naive_immediate(choices, keys, seats)
    small, small_keys = [c[:5] for c in choices], [k[:5] for k in keys]  # the sparse
    assert _sparse_naive_immediate(small, small_keys, seats) == naive_immediate_acceptance(
        small, small_keys, seats
    )  # reference is the naive one
    assert list(zip(out_school.tolist(), out_rank.tolist(), strict=True)) == expected


def test_publish_writes_no_pdf_above_its_row_limit(lottery_run, tmp_path, monkeypatch):
    from seats.supervision import publish

    monkeypatch.setattr(publish, "PDF_MAX_ROWS", 2)
    result = run_cli(
        "lottery", "publish", lottery_run, "--out", tmp_path / "public",
        "--secret", _secret(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0 and "publish public_list.csv" in result.output, result.output
    assert not (tmp_path / "public" / "public_list.pdf").exists()
    assert len((tmp_path / "public" / "public_list.csv").read_text().splitlines()) == 4


def test_codes_never_overwrite_the_applicants_or_the_secret(tmp_path):
    applicants = tmp_path / "a.csv"
    applicants.write_text("applicant_id,zone_id,choices\nA1,Z1,S1\n", encoding="utf-8")
    secret = _secret(tmp_path)
    for target in (applicants, secret):
        before = target.read_bytes()
        result = run_cli(
            "lottery", "codes", "--applicants", applicants, "--secret", secret, "--out", target
        )
        _refused(result, "is the input")
        assert target.read_bytes() == before
    codes = tmp_path / "codes.csv"
    args = ["lottery", "codes", "--applicants", applicants, "--secret", secret, "--out", codes]
    assert run_cli(*args).exit_code == 0 and run_cli(*args).exit_code == 0  # its own: replaced
    notes = tmp_path / "notes.csv"
    notes.write_text("mine\n", encoding="utf-8")
    _refused(run_cli(*args[:-1], notes), "not written by seats")
