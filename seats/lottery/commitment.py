"""Commit before the seed: fix the lottery's inputs by their digests before anyone knows the seed.

`seats lottery commit` writes commitment.json (published before the ceremony); `seats lottery run
--commitment commitment.json` refuses to draw when any input differs from it, and the audit log
records it, so nobody can adjust the applicant list after seeing the seed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from seats.io.audit import utc_now
from seats.io.errors import InputError, Problem
from seats.io.output import sha256_file

COMMITMENT_KIND = "seats lottery commitment"


# The run options that change who gets a seat: a commitment fixes them with the files.
COMMITTED_OPTIONS = ("level", "fallback", "encoding")


def make_commitment(
    inputs: dict[str, Path | None], seed_source: str, options: dict[str, str | None]
) -> dict:
    """The commitment to these input files (role -> path), to the options of the draw
    (COMMITTED_OPTIONS) and to where the seed will come from."""
    if not seed_source.strip():
        raise InputError(
            Problem(
                "--seed-source",
                None,
                None,
                "say where the seed will come from (e.g. 'drand round 4200000' "
                "or 'five numbers read out by the notary')",
            )
        )
    return {
        "kind": COMMITMENT_KIND,
        "version": 1,
        "created": utc_now(),
        "seed_source": seed_source.strip(),
        "options": {key: options.get(key) for key in COMMITTED_OPTIONS},
        "inputs": {
            role: {"file": Path(path).name, "sha256": sha256_file(Path(path))}
            for role, path in inputs.items()
            if path is not None
        },
    }


def write_commitment(commitment: dict, out: Path, *, force: bool = False) -> None:
    """Write the commitment whole (temporary file, then rename); never replace a published
    one unless forced."""
    out = Path(out)
    if out.exists() and not force:
        raise FileExistsError(f"{out} exists; a commitment is published once (use --force)")
    staged = out.with_name(f".{out.name}.tmp")
    staged.write_text(
        json.dumps(commitment, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
        encoding="utf-8",
    )
    os.replace(staged, out)


def load_commitment(path: Path) -> dict:
    name = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise InputError(Problem(name, None, None, f"cannot read file: {err.strerror}")) from err
    except json.JSONDecodeError as err:
        raise InputError(
            Problem(name, err.lineno, f"column {err.colno}", f"not valid JSON: {err.msg}")
        ) from err
    if (
        not isinstance(data, dict)
        or data.get("kind") != COMMITMENT_KIND
        or not isinstance(data.get("inputs"), dict)
    ):
        raise InputError(Problem(name, None, None, "not a seats lottery commitment"))
    return data


def check_against_commitment(
    commitment: dict,
    inputs: dict[str, Path | None],
    options: dict[str, str | None],
    name: str = "commitment.json",
) -> None:
    """Refuse inputs or options that differ from the commitment; every difference is named."""
    problems = []
    committed_options = commitment.get("options", {})
    for key in COMMITTED_OPTIONS:
        if committed_options.get(key) != options.get(key):
            problems.append(
                Problem(
                    name,
                    None,
                    key,
                    f"the commitment fixes --{key} "
                    f"{committed_options.get(key)!r}, not {options.get(key)!r}",
                )
            )
    committed = commitment["inputs"]
    for role in sorted(set(committed) | {r for r, p in inputs.items() if p is not None}):
        path = inputs.get(role)
        if role not in committed:
            problems.append(Problem(name, None, role, f"the {role} file {path} was not committed"))
        elif path is None:
            problems.append(
                Problem(
                    name,
                    None,
                    role,
                    f"the commitment fixes a {role} file "
                    f"({committed[role]['file']}) but none was given",
                )
            )
        else:
            digest = sha256_file(Path(path))
            if digest != committed[role]["sha256"]:
                problems.append(
                    Problem(
                        name,
                        None,
                        role,
                        f"{path} differs from the committed file: SHA-256 {digest} "
                        f"is not the committed {committed[role]['sha256']}",
                    )
                )
    if problems:
        raise InputError(problems)
