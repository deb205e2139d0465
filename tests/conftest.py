from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from seats.cli import cli
from seats.io.model import embedded_dataset

DATASET = embedded_dataset()


@pytest.fixture
def district_copy(tmp_path: Path) -> Path:
    """A writable copy of the embedded district, to break on purpose."""
    target = tmp_path / "district"
    shutil.copytree(DATASET, target)
    return target


def run_cli(*args: str):
    """Invoke the CLI in-process; returns click's Result (exit_code, output)."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
