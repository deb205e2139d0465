"""The README's supervisor's workflow runs verbatim on the embedded files."""

from __future__ import annotations

import csv
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def workflow_script() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The supervisor's workflow", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "the workflow section has no sh block"
    return match.group(1)


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("sha256sum") is None, reason="sh")
def test_the_supervisors_workflow_runs_as_written(tmp_path):
    (tmp_path / "data").symlink_to(ROOT / "data", target_is_directory=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "seats"  # `seats` as the installed console script would be
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m seats "$@"\n', encoding="utf-8")
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    script = workflow_script()
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    seed = re.search(r"^SEED='([^']*)'", script, re.M).group(1)
    assert f"种子 seed: {seed}" in out  # $SEED is the seed that the draw printed
    assert "the inputs match the commitment" in out and "verified" in out
    with (tmp_path / "run" / "assignments.csv").open(encoding="utf-8-sig") as handle:
        rows = {r["applicant_id"]: r for r in csv.DictReader(handle)}
    assert not [r for r in rows.values() if r["status"] == "unplaced"]  # with the 统筹 stage
    last_line = out.strip().splitlines()[-1]
    number = rows["PA21-00042"]["lottery_number"] or last_line.split()[0]
    assert last_line == f"{number}  -"
    for name in ("public_list.pdf", "public_list.csv", "public_page.html"):
        assert (tmp_path / "public" / name).is_file()
    assert (tmp_path / "report.pdf").is_file()


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Set up and run", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    test_line = next(line for line in block.splitlines() if line.endswith("# the tests"))
    command = test_line.split("  #", 1)[0].strip()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert command in ci.splitlines()
    assert "apt-get install" in ci and "chromium-driver" in ci and "SEATS_BROWSER_TESTS=1" in ci
