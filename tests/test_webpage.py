"""The public web page in a real headless browser: a parent types their id and code, reads 一致.

Runs Debian's chromium through chromedriver (selenium). Skipped only where neither the browser
nor CI is there: .ci/run installs them and sets SEATS_BROWSER_TESTS=1, which turns a missing
browser into a failure.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from test_public_list import SECRET
from test_public_report import SEED, make_run

from seats.supervision.codes import applicant_code
from seats.supervision.publish import publish_results
from seats.supervision.webpage import PUBLIC_PAGE

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
REQUIRED = bool(os.environ.get("SEATS_BROWSER_TESTS") or os.environ.get("CI"))


def _browser_paths() -> tuple[str | None, str | None]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return browser, driver


@pytest.fixture(scope="module")
def browser():
    browser, driver = _browser_paths()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None
    if webdriver is None or browser is None or driver is None:
        message = "needs chromium, chromium-driver (apt) and selenium (pip)"
        if REQUIRED:
            pytest.fail(f"CI must run the browser test: {message}")
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    session = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    try:
        yield session
    finally:
        session.quit()


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("web")
    run = make_run(root, "primary_web", applicants=60)
    key = root / "district.key"
    key.write_bytes(SECRET)
    publish_results(run, root / "public", secret_path=key)
    return run, root / "public" / PUBLIC_PAGE


def _rows(path: Path) -> list[dict]:
    import csv

    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _ask(browser, page_path: Path, applicant: str, code: str) -> tuple[str, str]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(page_path.as_uri())
    browser.find_element(By.ID, "applicant").send_keys(applicant)
    browser.find_element(By.ID, "code").send_keys(code)
    browser.find_element(By.ID, "check").click()
    WebDriverWait(browser, 20).until(lambda b: b.find_element(By.ID, "verdict").text.strip())
    return (
        browser.find_element(By.ID, "verdict").text,
        browser.find_element(By.ID, "result").text,
    )


def test_page_is_self_contained(page):
    text = page[1].read_text(encoding="utf-8")
    for needle in ("http://", "https://", "<link", " src="):
        assert needle not in text.replace("http-equiv", ""), needle


def test_a_parent_reads_their_result_and_matches(browser, page):
    run, page_path = page
    rows = _rows(run / "assignments.csv")
    waiting = {w["applicant_id"] for w in _rows(run / "waitlists.csv")}
    placed = next(r for r in rows if r["status"] == "placed" and r["applicant_id"] in waiting)
    code = applicant_code(SECRET, placed["applicant_id"]).lower()  # typed as a parent may
    verdict, result = _ask(browser, page_path, placed["applicant_id"], code)
    assert verdict.startswith("一致"), (verdict, result)
    assert f"第{placed['choice_rank']}志愿录取" in result
    assert placed["lottery_number"] in result  # recomputed in the browser from the seed
    assert "候补位次" in result and "录取分界" in result


def test_wrong_id_or_code_is_said_plainly(browser, page):
    run, page_path = page
    first, second = _rows(run / "assignments.csv")[:2]
    verdict, _ = _ask(
        browser, page_path, second["applicant_id"], applicant_code(SECRET, first["applicant_id"])
    )
    assert verdict.startswith("申请编号与查询码不符")
    verdict, _ = _ask(browser, page_path, first["applicant_id"], "0000-0000-0000-0000")
    assert verdict.startswith("未找到")


def test_a_tampered_row_does_not_match(browser, page, tmp_path):
    run, page_path = page
    applicant = _rows(run / "assignments.csv")[0]["applicant_id"]
    code = applicant_code(SECRET, applicant)
    text = page_path.read_text(encoding="utf-8")
    # The operator publishes a page drawn with another seed: the numbers no longer match.
    forged = tmp_path / PUBLIC_PAGE
    forged.write_text(text.replace(json.dumps(SEED)[1:-1], "another seed"), encoding="utf-8")
    verdict, _ = _ask(browser, forged, applicant, code)
    assert verdict.startswith("不一致")
