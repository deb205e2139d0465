"""Commit before the seed: fix the lottery's inputs by their digests before anyone knows the seed.

`seats lottery commit` writes commitment.json (published before the ceremony); `seats lottery run
--commitment commitment.json` refuses to draw when any input differs from it, and the audit log
records it, so nobody can adjust the applicant list after seeing the seed.

A commitment is only worth publishing if the committed files can be drawn: :func:`commit_lottery`
runs every check that `seats lottery run` runs (the same loader, :func:`seats.lottery.load_lottery`,
and a trial draw with a placeholder seed), and refuses what the draw would only warn about, such
as a policy category that no applicant has. It may also fix the district secret of the public
list's codes (:mod:`seats.supervision.codes`) by its SHA-256, never the secret itself.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from seats.io.audit import utc_now
from seats.io.errors import InputError, Problem
from seats.io.output import check_output_file, sha256_file
from seats.lottery import unknown_categories

COMMITMENT_KIND = "seats lottery commitment"


# The run options that change who gets a seat: a commitment fixes them with the files.
COMMITTED_OPTIONS = ("level", "sector", "fallback", "encoding")


# The district secret keys the registration codes (HMAC-SHA256); shorter ones can be guessed.
SECRET_MIN_BYTES = 32


def read_secret(path: Path) -> bytes:
    """The district secret: the file's bytes without trailing white space, at least
    SECRET_MIN_BYTES long (e.g. 64 hex digits from `python3 -c "import secrets;
    print(secrets.token_hex(32))"`)."""
    name = str(path)
    try:
        secret = Path(path).read_bytes().rstrip()
    except OSError as err:
        raise InputError(Problem(name, None, None, f"cannot read file: {err.strerror}")) from err
    if len(secret) < SECRET_MIN_BYTES:
        raise InputError(
            Problem(
                name,
                None,
                None,
                f"the district secret has {len(secret)} bytes; it needs at least "
                f'{SECRET_MIN_BYTES} random ones (python3 -c "import secrets; '
                f'print(secrets.token_hex(32))")',
            )
        )
    return secret


# A seed that no real draw uses: the trial draw at commit time only has to run the checks.
TRIAL_SEED = "commitment trial draw (not the seed)"


def check_committable(inputs: dict[str, Path | None], options: dict[str, str | None]) -> None:
    """Every check of `seats lottery run` on these inputs and options, plus the policy's
    categories: raises InputError naming every problem (file, line, column)."""
    from seats.lottery.run import draw, load_from  # run imports this module

    problems = [
        Problem(str(path), None, None, f"no such file ({role})")
        for role, path in inputs.items()
        if path is not None and not Path(path).is_file()
    ]
    if options.get("fallback") == "nearest" and not (
        inputs.get("zones") or inputs.get("communities")
    ):
        problems.append(
            Problem("--fallback", None, None, "--fallback nearest needs --zones or --communities")
        )
    if problems:
        raise InputError(problems)
    lottery = load_from(
        {r: Path(p) for r, p in inputs.items() if p is not None}, TRIAL_SEED, options
    )
    policy_name = str(inputs.get("policy") or "the default policy")
    unknown = [
        Problem(
            policy_name,
            None,
            f"tier {tier}",
            f"category '{category}' is held by no applicant in {inputs['applicants']}: "
            "a typo in the policy or the applicants file? (nobody could enter this tier)",
        )
        for tier, category in unknown_categories(lottery)
    ]
    if unknown:
        raise InputError(unknown)
    draw(lottery, options.get("fallback"))


def commit_lottery(
    inputs: dict[str, Path | None],
    seed_source: str,
    options: dict[str, str | None],
    *,
    secret_path: Path | None = None,
) -> dict:
    """Check the inputs as `seats lottery run` would (:func:`check_committable`), then make
    the commitment to them."""
    check_committable(inputs, options)
    return make_commitment(inputs, seed_source, options, secret_path=secret_path)


def make_commitment(
    inputs: dict[str, Path | None],
    seed_source: str,
    options: dict[str, str | None],
    *,
    secret_path: Path | None = None,
) -> dict:
    """The commitment to these input files (role -> path), to the options of the draw
    (COMMITTED_OPTIONS) and to where the seed will come from; with `secret_path`, to the
    SHA-256 of the district secret of the public list's codes (the secret stays private)."""
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
    commitment = {
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
    if secret_path is not None:
        secret = read_secret(secret_path)
        commitment["district_secret_sha256"] = hashlib.sha256(secret).hexdigest()
    return commitment


def write_commitment(
    commitment: dict, out: Path, *, force: bool = False, protect: Iterable[Path] = ()
) -> str:
    """Write the commitment whole (temporary file, then rename); never replace a published
    one unless forced, nor any file but a commitment, nor an input (`protect`). Returns its
    SHA-256, the digest to publish with it."""
    out = Path(out)
    if out.exists() and not force:
        raise FileExistsError(f"{out} exists; a commitment is published once (use --force)")
    check_output_file(out, force, protect, _is_commitment)
    staged = out.with_name(f".{out.name}.tmp")
    staged.write_text(
        json.dumps(commitment, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
        encoding="utf-8",
    )
    os.replace(staged, out)
    return sha256_file(out)


def _is_commitment(path: Path) -> bool:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8")).get("kind") == COMMITMENT_KIND
    except (OSError, ValueError, AttributeError):
        return False


def load_commitment(path: Path) -> dict:
    name = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise InputError(Problem(name, None, None, f"cannot read file: {err.strerror}")) from err
    except UnicodeDecodeError as err:
        line = err.object[: err.start].count(b"\n") + 1
        raise InputError(Problem(name, line, None, "not UTF-8 text")) from err
    except json.JSONDecodeError as err:
        raise InputError(
            Problem(name, err.lineno, f"column {err.colno}", f"not valid JSON: {err.msg}")
        ) from err
    except RecursionError as err:
        raise InputError(Problem(name, None, None, "not valid JSON: nested too deeply")) from err
    if (
        not isinstance(data, dict)
        or data.get("kind") != COMMITMENT_KIND
        or not isinstance(data.get("inputs"), dict)
        or not all(
            isinstance(entry, dict)
            and isinstance(entry.get("sha256"), str)
            and isinstance(entry.get("file"), str)
            for entry in data["inputs"].values()
        )
        or not isinstance(data.get("options", {}), dict)
        or not isinstance(data.get("seed_source", ""), str)
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
