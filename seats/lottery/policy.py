"""Admission policy files (policy.toml): mechanism, tie-breaking and ordered priority tiers.

An applicant's tier at a school is the first tier whose conditions all hold, else the implicit
last tier ``open``. Priority at a school is (tier index, lottery number), lower first.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from seats.io.errors import InputError, Problem

MECHANISMS = ("deferred_acceptance", "immediate_acceptance")
TIE_BREAKS = ("single", "multiple")
POLICY_KEYS = ("mechanism", "tie_break", "tiers")
TIER_KEYS = ("name", "sibling", "same_zone", "category")
OPEN_TIER = "open"


@dataclass(frozen=True)
class Tier:
    name: str
    sibling: bool = False  # applicant.sibling_school_id == this school
    same_zone: bool = False  # applicant.zone_id == school.zone_id
    category: tuple[str, ...] | None = None  # applicant.category in this list

    def to_dict(self) -> dict:
        out: dict = {"name": self.name}
        if self.sibling:
            out["sibling"] = True
        if self.same_zone:
            out["same_zone"] = True
        if self.category is not None:
            out["category"] = list(self.category)
        return out


@dataclass(frozen=True)
class Policy:
    mechanism: str = "deferred_acceptance"
    tie_break: str = "single"
    tiers: tuple[Tier, ...] = (Tier("sibling", sibling=True), Tier("same_zone", same_zone=True))

    @property
    def tier_names(self) -> list[str]:
        """Names of the tiers in priority order, the implicit ``open`` tier last."""
        return [t.name for t in self.tiers] + [OPEN_TIER]

    def to_dict(self) -> dict:
        return {
            "mechanism": self.mechanism,
            "tie_break": self.tie_break,
            "tiers": [t.to_dict() for t in self.tiers],
        }

    def to_toml(self) -> str:
        lines = [f'mechanism = "{self.mechanism}"', f'tie_break = "{self.tie_break}"']
        for tier in self.tiers:
            lines += ["", "[[tiers]]", f"name = {_toml_string(tier.name)}"]
            if tier.sibling:
                lines.append("sibling = true")
            if tier.same_zone:
                lines.append("same_zone = true")
            if tier.category is not None:
                lines.append(f"category = [{', '.join(_toml_string(c) for c in tier.category)}]")
        return "\n".join(lines) + "\n"


DEFAULT_POLICY = Policy()


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Locator:
    """Finds the line and column of a key in the policy text (tomllib gives no positions)."""

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.tier_starts = [
            i for i, line in enumerate(self.lines) if re.match(r"\s*\[\[\s*tiers\s*\]\]", line)
        ]

    def find(self, key: str, tier: int | None = None) -> tuple[int | None, int | None]:
        if tier is None:
            start, stop = 0, self.tier_starts[0] if self.tier_starts else len(self.lines)
        elif tier < len(self.tier_starts):
            start = self.tier_starts[tier]
            stop = (
                self.tier_starts[tier + 1] if tier + 1 < len(self.tier_starts) else len(self.lines)
            )
        else:
            return None, None
        pattern = re.compile(rf"(\s*)({re.escape(key)}|\"{re.escape(key)}\")\s*=")
        for i in range(start, stop):
            match = pattern.match(self.lines[i])
            if match:
                return i + 1, len(match.group(1)) + 1
        return (start + 1 if tier is not None else None), None


def _did_you_mean(value: str, allowed: tuple[str, ...]) -> str:
    hint = difflib.get_close_matches(value, allowed, n=1, cutoff=0.6)
    return f"; did you mean '{hint[0]}'?" if hint else ""


def load_policy(path: Path | str) -> Policy:
    """Read and validate a policy file; every problem names its line and column."""
    path = Path(path)
    name = str(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as err:
        raise InputError(Problem(name, None, None, f"cannot read file: {err.strerror}")) from err
    except UnicodeDecodeError as err:
        raise InputError(Problem(name, None, None, "policy file is not UTF-8")) from err
    return parse_policy(text, name)


def parse_policy(text: str, name: str = "policy.toml") -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(err))
        line = int(match.group(1)) if match else None
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(err))
        column = f"column {match.group(2)}" if match else None
        raise InputError(Problem(name, line, column, f"not valid TOML: {message}")) from err

    where = _Locator(text)
    problems: list[Problem] = []

    def problem(key: str, message: str, tier: int | None = None) -> None:
        line, column = where.find(key, tier)
        col = f"{key} (column {column})" if column else key
        problems.append(Problem(name, line, col, message))

    for key in data:
        if key not in POLICY_KEYS:
            problem(key, f"unknown policy key '{key}'{_did_you_mean(key, POLICY_KEYS)}")

    mechanism = data.get("mechanism", DEFAULT_POLICY.mechanism)
    if mechanism not in MECHANISMS:
        problem(
            "mechanism",
            f"unknown mechanism '{mechanism}' (expected one of "
            f"{', '.join(MECHANISMS)}){_did_you_mean(str(mechanism), MECHANISMS)}",
        )
    tie_break = data.get("tie_break", DEFAULT_POLICY.tie_break)
    if tie_break not in TIE_BREAKS:
        problem(
            "tie_break",
            f"unknown tie_break '{tie_break}' (expected one of "
            f"{', '.join(TIE_BREAKS)}){_did_you_mean(str(tie_break), TIE_BREAKS)}",
        )

    raw_tiers = data.get("tiers", [])
    if not isinstance(raw_tiers, list) or not all(isinstance(t, dict) for t in raw_tiers):
        problem("tiers", "tiers must be written as [[tiers]] tables")
        raw_tiers = []
    tiers: list[Tier] = []
    names: dict[str, int] = {}
    for k, raw in enumerate(raw_tiers):
        for key in raw:
            if key not in TIER_KEYS:
                problem(key, f"unknown tier key '{key}'{_did_you_mean(key, TIER_KEYS)}", k)
        tier_name = raw.get("name")
        if not isinstance(tier_name, str) or not tier_name.strip():
            problem("name", f"tier {k + 1} needs a name", k)
            tier_name = f"tier{k + 1}"
        tier_name = tier_name.strip()
        if tier_name == OPEN_TIER:
            problem("name", f"'{OPEN_TIER}' is the implicit last tier; choose another name", k)
        elif tier_name in names:
            problem(
                "name",
                f"tier name '{tier_name}' is used twice (tiers {names[tier_name]} and {k + 1})",
                k,
            )
        names.setdefault(tier_name, k + 1)
        flags = {}
        for key in ("sibling", "same_zone"):
            value = raw.get(key, False)
            if not isinstance(value, bool):
                problem(key, f"{key} must be true or false, not {value!r}", k)
                value = False
            flags[key] = value
        category = raw.get("category")
        if category is not None:
            if (
                not isinstance(category, list)
                or not category
                or not all(isinstance(c, str) and c.strip() for c in category)
            ):
                problem(
                    "category", 'category must be a non-empty list of names, like ["A", "B"]', k
                )
                category = None
            else:
                category = tuple(c.strip() for c in category)
        if not flags["sibling"] and not flags["same_zone"] and category is None:
            problem(
                "name",
                f"tier '{tier_name}' has no conditions (give sibling = true, "
                "same_zone = true or category = [...])",
                k,
            )
        tiers.append(Tier(tier_name, flags["sibling"], flags["same_zone"], category))
    if problems:
        raise InputError(problems)
    if "tiers" not in data:  # like mechanism and tie_break, absent tiers keep their default
        return Policy(mechanism, tie_break, DEFAULT_POLICY.tiers)
    return Policy(mechanism, tie_break, tuple(tiers))
