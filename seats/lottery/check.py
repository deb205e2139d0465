"""`seats data check`: a district folder's tables, its communities and catchments, and its
policy files, every problem listed.

Here rather than in :mod:`seats.io.model` because policies belong to the lottery."""

from __future__ import annotations

from pathlib import Path

from seats.io.errors import InputError, Problems
from seats.io.model import read_catchments, read_communities, read_district
from seats.io.tables import find_table, read_table
from seats.lottery.policy import load_policy


def check_folder(folder: Path | str, *, encoding: str | None = None) -> Problems:
    """Every problem in a district folder: its tables, applicant files, communities and
    catchments (rules v2) and policy files."""
    folder = Path(folder)
    problems = Problems()
    district = read_district(folder, problems, encoding=encoding)
    communities = None
    path = find_table(folder, "communities")
    if path is not None:
        communities = read_communities(
            read_table(path, problems, encoding=encoding), district.zones
        )
    path = find_table(folder, "catchments")
    if path is not None:
        read_catchments(
            read_table(path, problems, encoding=encoding), district.schools, communities
        )
    for path in sorted(folder.glob("policy*.toml")):
        try:
            load_policy(path)
        except InputError as err:
            problems.extend(err.problems)
    return problems
