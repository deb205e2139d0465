"""The supervisor's report (监督报告): digests, policy, charts, how to verify, fonts."""

from __future__ import annotations

import csv
import random
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from seats.io.output import sha256_file
from seats.lottery import lottery_number
from seats.lottery.commitment import make_commitment, write_commitment
from seats.lottery.run import RunOptions, run_lottery
from seats.supervision import pdf
from seats.supervision.pdf import find_cjk_font
from seats.supervision.report import number_command, write_report

SEED = "test seed 2021"
SCHOOLS = {
    "S1": ("新道街小学", "ZN-A", 6),
    "S2": ("东华门小学", "ZN-B", 4),
    "S3": ("鼓楼小学", "ZN-A", 40),
}
POLICY = """
mechanism = "deferred_acceptance"
tie_break = "{tie_break}"
[[tiers]]
name = "sibling"
sibling = true
[[tiers]]
name = "catchment"
same_zone = true
"""


def make_inputs(
    folder: Path, applicants: int, tie_break: str, first_ids: list[str]
) -> tuple[Path, Path, Path]:
    """Schools with Chinese names, and applicants with personal columns that must stay private;
    `first_ids` lead the applicants (short or Chinese ids that masking treats specially)."""
    folder.mkdir(parents=True)
    rng = random.Random(7)
    schools = folder / "schools.csv"
    with schools.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["school_id", "name", "zone_id", "seats"])
        out.writerows([sid, name, zone, seats] for sid, (name, zone, seats) in SCHOOLS.items())
    ids = first_ids + [f"TY21-{n:05d}" for n in range(1, applicants + 1 - len(first_ids))]
    people = folder / "applicants.csv"
    with people.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(
            ["applicant_id", "zone_id", "choices", "category", "sibling_school_id", "birth_date"]
        )
        for n, applicant in enumerate(ids):
            choices = rng.sample(["S1", "S2", "S3"], k=rng.randint(0 if n == 5 else 1, 3))
            out.writerow(
                [
                    applicant,
                    rng.choice(["ZN-A", "ZN-B"]),
                    ";".join(choices),
                    rng.choice(["A", "B"]),
                    "S1" if n % 9 == 0 else "",
                    f"2014-{n % 12 + 1:02d}-{n % 28 + 1:02d}",
                ]
            )
    policy = folder / "policy.toml"
    policy.write_text(POLICY.format(tie_break=tie_break), encoding="utf-8")
    return schools, people, policy


def make_run(
    root: Path, name: str, applicants: int = 100, tie_break: str = "single", first_ids=("7", "AB")
) -> Path:
    schools, people, policy = make_inputs(root / f"{name}_in", applicants, tie_break, [*first_ids])
    out = root / name
    run_lottery(schools, people, out, RunOptions(seed=SEED), policy_path=policy)
    return out


def read_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def pdf_text(path: Path) -> list[str]:
    return [page.extract_text() for page in PdfReader(path).pages]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("runs"), "primary_test")


# --- the supervisor's report ----------------------------------------------------------------


@pytest.fixture(scope="module")
def no_font_report(run_dir, tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setattr(pdf, "find_cjk_font", lambda: None)
    try:
        out = tmp_path_factory.mktemp("report") / "report.pdf"
        return out, write_report(run_dir, out)
    finally:
        patch.undo()


def test_report_pages_and_digests(run_dir, no_font_report):
    out, summary = no_font_report
    pages = pdf_text(out)
    # summary, one page of schools, two of charts, how to verify
    assert summary.pages == len(pages) == 5
    assert summary.sha256 == sha256_file(out)
    first = pages[0]
    assert SEED in first
    for name in ("assignments.csv", "waitlists.csv", "schools.csv", "inputs/applicants.csv"):
        path = run_dir / name
        assert name in first and sha256_file(path) in first
    assert sha256_file(run_dir / "audit.jsonl") in first
    assert "deferred_acceptance" in first and "catchment" in first  # the policy in full
    assert "Results by school" in pages[1] and "S1" in pages[1]
    verify = pages[-1]
    assert "seats audit verify primary_test" in verify
    assert 'printf \'%s\\n%s\' "$SEED" "$APPLICANT_ID" | sha256sum' in verify
    assert "sha256sum -c" in verify and sha256_file(run_dir / "assignments.csv") in verify
    example = next(a for a in read_rows(run_dir / "assignments.csv") if a["status"] == "placed")
    assert example["lottery_number"] in verify


@pytest.mark.skipif(not shutil.which("sha256sum"), reason="needs bash and sha256sum")
@pytest.mark.parametrize("tie_break", ["single", "multiple"])
def test_the_printed_shell_line_recomputes_lottery_numbers(tie_break):
    seed, school, applicant = "公证处 seed 'quoted'", "P01", "张小明"
    line = number_command(tie_break, shlex.quote(school), shlex.quote(applicant))
    script = f"SEED={shlex.quote(seed)}; {line}"
    out = subprocess.run(["bash", "-c", script], capture_output=True, check=True, text=True)
    expected = lottery_number(seed, applicant, school if tie_break == "multiple" else None)
    assert out.stdout.split()[0] == expected


def test_report_without_cjk_font_uses_ids_and_warns(no_font_report):
    out, summary = no_font_report
    assert any("no CJK font" in w and "fonts-wqy-microhei" in w for w in summary.warnings)
    pages = pdf_text(out)
    assert "has no CJK font" in pages[0]  # said on the first page, not only on the console
    text = "".join(pages)
    assert "S2" in text
    assert not any(name in text for name, _zone, _seats in SCHOOLS.values())


def test_report_shows_commitment_and_seed_parts(tmp_path, monkeypatch):
    monkeypatch.setattr(pdf, "find_cjk_font", lambda: None)
    schools, people, policy = make_inputs(tmp_path / "in", 20, "single", [])
    inputs = {"schools": schools, "applicants": people, "policy": policy, "zones": None}
    commitment = tmp_path / "commitment.json"
    write_commitment(make_commitment(inputs, "drand round 4200000", {}), commitment)
    options = RunOptions(seed_parts=["47 2 12", "drand round 4200000"])
    run = tmp_path / "run"
    run_lottery(schools, people, run, options, policy_path=policy, commitment_path=commitment)
    first = pdf_text(write_report(run, tmp_path / "r.pdf").out_pdf)[0]
    assert "Commitment made before the seed was known" in first
    assert "drand round 4200000" in first
    assert f"applicants  {sha256_file(people)}  = the input used" in first
    assert sha256_file(run / "inputs" / "commitment.json") in first
    assert "2.12.47./drand round 4200000./" in first  # the joined seed


@pytest.mark.skipif(find_cjk_font() is None, reason="no CJK font installed")
def test_report_with_cjk_font_prints_school_names(run_dir, tmp_path):
    summary = write_report(run_dir, tmp_path / "report.pdf")
    assert summary.warnings == []
    first = pdf_text(tmp_path / "report.pdf")[0]
    assert "电脑派位监督报告" in first and "经办人" in first and "公证员" in first
    schools_page = pdf_text(tmp_path / "report.pdf")[1]
    assert all(name in schools_page for name, _zone, _seats in SCHOOLS.values())


def test_report_is_byte_reproducible(run_dir, no_font_report, tmp_path, monkeypatch):
    monkeypatch.setattr(pdf, "find_cjk_font", lambda: None)
    again = write_report(run_dir, tmp_path / "again.pdf")
    assert again.sha256 == no_font_report[1].sha256
