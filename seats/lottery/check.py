"""`seats data check`: a district folder's tables and its policy files, every problem listed.

Here rather than in :mod:`seats.io.model` because policies belong to the lottery."""

from __future__ import annotations

from pathlib import Path

from seats.io.errors import InputError, Problems
from seats.io.model import read_district
from seats.lottery.policy import load_policy


def check_folder(folder: Path | str, *, encoding: str | None = None) -> Problems:
    """Every problem in a district folder: its tables, applicant files and policy files."""
    folder = Path(folder)
    problems = Problems()
    read_district(folder, problems, encoding=encoding)
    for path in sorted(folder.glob("policy*.toml")):
        try:
            load_policy(path)
        except InputError as err:
            problems.extend(err.problems)
    return problems
