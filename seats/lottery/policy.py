"""Admission policy files (policy.toml): mechanism, tie-breaking, ordered priority tiers, and the
rules v2 of DESIGN.md: eligibility by birth date, ``max_choices``, per-school rules
(``[[school_rules]]``), soft reserves (``[[reserves]]``) and the 统筹 stage's sectors.

An applicant's tier at a school is the first tier of that school's list whose conditions all
hold, else the implicit last tier ``open``. Priority at a school is (tier index, the tier's
``order_by`` value, larger first, lottery number), lower first.

The rules follow Taiyuan's published practice (sources in data/xinghualing/README.md): public
schools admit 户籍+房产 in the catchment first, then 人户分离, then 随迁子女 ordered by years of
residence; oversubscribed private schools admit by lottery alone (公民同招, ``tiers = []``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from seats.io.errors import InputError, Problem

MECHANISMS = ("deferred_acceptance", "immediate_acceptance")
TIE_BREAKS = ("single", "multiple")
POLICY_KEYS = (
    "mechanism",
    "tie_break",
    "tiers",
    "born_from",
    "born_to",
    "max_choices",
    "fallback_sectors",
    "school_rules",
    "reserves",
)
FLAG_CONDITIONS = ("sibling", "same_zone", "in_catchment", "staff")
CONDITION_KEYS = (*FLAG_CONDITIONS, "category", "attributes")
TIER_KEYS = ("name", "label", *CONDITION_KEYS, "order_by")
RULE_KEYS = ("match", "tiers")
RESERVE_KEYS = ("name", "label", "match", "seats", "share", *CONDITION_KEYS)
OPEN_TIER = "open"
MAX_NAME_LENGTH = 64  # of a tier, reserve or value name: printed in every explanation and list
DEFAULT_FALLBACK_SECTORS = ("public",)


@dataclass(frozen=True)
class Conditions:
    """What an applicant must meet at a school; every condition set must hold."""

    sibling: bool = False  # applicant.sibling_school_id == this school
    same_zone: bool = False  # applicant.zone_id == school.zone_id
    in_catchment: bool = False  # applicant.community_id is in this school's catchment (划片)
    staff: bool = False  # applicant.staff_school_id == this school (教职工子女)
    category: tuple[str, ...] | None = None  # applicant.category in this list
    attributes: tuple[tuple[str, tuple[str, ...]], ...] = ()  # column -> allowed values

    @property
    def imposes_anything(self) -> bool:
        flags = self.sibling or self.same_zone or self.in_catchment or self.staff
        return flags or self.category is not None or bool(self.attributes)

    def conditions_dict(self) -> dict:
        out: dict = {key: True for key in FLAG_CONDITIONS if getattr(self, key)}
        if self.category is not None:
            out["category"] = list(self.category)
        if self.attributes:
            out["attributes"] = {column: list(values) for column, values in self.attributes}
        return out


@dataclass(frozen=True, kw_only=True)
class Tier(Conditions):
    name: str
    label: str = ""  # how parents and officials read it, e.g. 片区内户籍+房产一致
    order_by: str | None = None  # inside the tier, larger values of this column come first

    def to_dict(self) -> dict:
        out: dict = {"name": self.name, **self.conditions_dict()}
        if self.label:
            out["label"] = self.label
        if self.order_by:
            out["order_by"] = self.order_by
        return out


@dataclass(frozen=True)
class SchoolRule:
    """``[[school_rules]]``: at schools whose columns match, these tiers replace the policy's."""

    match: tuple[tuple[str, tuple[str, ...]], ...]
    tiers: tuple[Tier, ...]

    def to_dict(self) -> dict:
        return {
            "match": {column: list(values) for column, values in self.match},
            "tiers": [t.to_dict() for t in self.tiers],
        }


@dataclass(frozen=True)
class Reserve:
    """``[[reserves]]``: seats set aside at matching schools for applicants meeting the
    conditions; soft: seats a reserve leaves unfilled go to everyone."""

    name: str
    conditions: Conditions
    match: tuple[tuple[str, tuple[str, ...]], ...] = ()
    seats: int | None = None
    share: decimal.Decimal | None = None  # floor(share x seats), exactly on the decimal text
    label: str = ""

    def seats_at(self, school_seats: int) -> int:
        if self.seats is not None:
            return self.seats
        return int((self.share * school_seats).to_integral_value(rounding=decimal.ROUND_FLOOR))

    def to_dict(self) -> dict:
        out: dict = {"name": self.name}
        if self.label:
            out["label"] = self.label
        if self.match:
            out["match"] = {column: list(values) for column, values in self.match}
        if self.seats is not None:
            out["seats"] = self.seats
        else:
            out["share"] = str(self.share)
        out.update(self.conditions.conditions_dict())
        return out


@dataclass(frozen=True)
class Policy:
    mechanism: str = "deferred_acceptance"
    tie_break: str = "single"
    tiers: tuple[Tier, ...] = (
        Tier(name="sibling", sibling=True),
        Tier(name="same_zone", same_zone=True),
    )
    born_from: dt.date | None = None
    born_to: dt.date | None = None
    max_choices: int | None = None
    fallback_sectors: tuple[str, ...] = DEFAULT_FALLBACK_SECTORS
    school_rules: tuple[SchoolRule, ...] = ()
    reserves: tuple[Reserve, ...] = field(default=())

    @property
    def tier_lists(self) -> list[tuple[Tier, ...]]:
        """The policy's tiers, then each school rule's: a school uses one of them."""
        return [self.tiers, *(rule.tiers for rule in self.school_rules)]

    @property
    def tier_names(self) -> list[str]:
        """Every tier name in priority order (the policy's, then the rules' new ones), the
        implicit ``open`` tier last."""
        names: list[str] = []
        for tiers in self.tier_lists:
            names += [t.name for t in tiers if t.name not in names]
        return [*names, OPEN_TIER]

    @property
    def labels(self) -> dict[str, str]:
        """Tier and reserve name -> label, where the policy gives one."""
        out = {t.name: t.label for tiers in self.tier_lists for t in tiers if t.label}
        out.update({r.name: r.label for r in self.reserves if r.label})
        return out

    @property
    def columns_named(self) -> list[tuple[str, str]]:
        """(column, where) of every applicant column the policy's conditions name."""
        named = []
        for k, tiers in enumerate(self.tier_lists):
            for t in tiers:
                where = f"tier '{t.name}'" + (f" of school rule {k}" if k else "")
                named += [(column, where) for column, _ in t.attributes]
                if t.order_by:
                    named.append((t.order_by, where))
        for r in self.reserves:
            named += [(column, f"reserve '{r.name}'") for column, _ in r.conditions.attributes]
        return named

    @property
    def needs_catchments(self) -> bool:
        conditions = [t for tiers in self.tier_lists for t in tiers]
        return any(c.in_catchment for c in [*conditions, *(r.conditions for r in self.reserves)])

    def to_dict(self) -> dict:
        """The policy as recorded in the audit log; keys at their defaults are left out, so a
        v1 policy records exactly what it recorded before rules v2."""
        out: dict = {
            "mechanism": self.mechanism,
            "tie_break": self.tie_break,
            "tiers": [t.to_dict() for t in self.tiers],
        }
        if self.born_from:
            out["born_from"] = self.born_from.isoformat()
        if self.born_to:
            out["born_to"] = self.born_to.isoformat()
        if self.max_choices is not None:
            out["max_choices"] = self.max_choices
        if self.fallback_sectors != DEFAULT_FALLBACK_SECTORS:
            out["fallback_sectors"] = list(self.fallback_sectors)
        if self.school_rules:
            out["school_rules"] = [r.to_dict() for r in self.school_rules]
        if self.reserves:
            out["reserves"] = [r.to_dict() for r in self.reserves]
        return out

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
    """Finds the line and column of a key in the policy text (tomllib gives no positions):
    in the top part, or in the k-th table of an array of tables such as ``[[tiers]]``,
    ``[[reserves]]`` or ``[[school_rules.tiers]]``."""

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.headers = [
            (i, re.sub(r"\s", "", m.group(1)))
            for i, line in enumerate(self.lines)
            if (m := re.match(r"\s*\[\[?\s*([A-Za-z_.\s]+?)\s*\]\]?", line))
        ]

    def _section(self, array: str | None, k: int | None) -> tuple[int, int] | None:
        starts = [i for i, name in self.headers if name == array] if array else []
        if array is None:
            return 0, self.headers[0][0] if self.headers else len(self.lines)
        if k is None or k >= len(starts):
            return None
        start = starts[k]
        stop = next((i for i, _ in self.headers if i > start), len(self.lines))
        return start, stop

    def find(
        self, key: str, array: str | None = None, k: int | None = None
    ) -> tuple[int | None, int | None]:
        section = self._section(array, k)
        if section is None:
            return None, None
        start, stop = section
        pattern = re.compile(rf"(\s*)({re.escape(key)}|\"{re.escape(key)}\")\s*=")
        for i in range(start, stop):
            match = pattern.match(self.lines[i])
            if match:
                return i + 1, len(match.group(1)) + 1
        return (start + 1 if array is not None else None), None


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
        line = err.object[: err.start].count(b"\n") + 1
        raise InputError(Problem(name, line, None, "policy file is not UTF-8")) from err
    return parse_policy(text, name)


class _Parser:
    """One pass over the parsed TOML, collecting every problem with its line and column."""

    def __init__(self, text: str, name: str):
        self.name = name
        self.where = _Locator(text)
        self.problems: list[Problem] = []

    def problem(self, key: str, message: str, array: str | None = None, k: int | None = None):
        line, column = self.where.find(key, array, k)
        col = f"{key} (column {column})" if column else key
        self.problems.append(Problem(self.name, line, col, message))

    def unknown_keys(self, raw: dict, allowed: tuple[str, ...], what: str, array, k) -> None:
        for key in raw:
            if key not in allowed:
                self.problem(
                    key, f"unknown {what} key '{key}'{_did_you_mean(key, allowed)}", array, k
                )

    def texts(self, value, key: str, array, k) -> tuple[str, ...] | None:
        """A list of trimmed non-empty texts (a single text is a list of one)."""
        if isinstance(value, str):
            value = [value]
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in value)
            or not all(str(v).strip() for v in value)
            or max(len(str(v)) for v in value) > MAX_NAME_LENGTH
        ):
            self.problem(
                key,
                f"{key} must be a non-empty list of values (each at most {MAX_NAME_LENGTH} "
                'characters), like ["A", "B"]',
                array,
                k,
            )
            return None
        return tuple(str(v).strip() for v in value)

    def table_of_lists(self, value, key: str, array, k) -> tuple[tuple[str, tuple[str, ...]], ...]:
        if not isinstance(value, dict):
            self.problem(key, f'{key} must be a table, like {{ sector = ["public"] }}', array, k)
            return ()
        out = []
        for column, values in value.items():
            listed = self.texts(values, key, array, k)
            if listed is not None:
                out.append((str(column).strip(), listed))
        return tuple(out)

    def conditions(self, raw: dict, array: str, k: int) -> dict:
        flags = {}
        for key in FLAG_CONDITIONS:
            value = raw.get(key, False)
            if not isinstance(value, bool):
                self.problem(key, f"{key} must be true or false, not {value!r}", array, k)
                value = False
            flags[key] = value
        category = raw.get("category")
        if category is not None:
            category = self.texts(category, "category", array, k)
        attributes = ()
        if "attributes" in raw:
            attributes = self.table_of_lists(raw["attributes"], "attributes", array, k)
        return {**flags, "category": category, "attributes": attributes}

    def label(self, raw: dict, array: str, k: int) -> str:
        value = raw.get("label", "")
        if not isinstance(value, str):
            self.problem("label", "label must be text", array, k)
            return ""
        return value.strip()

    def tiers(self, raw_tiers, array: str) -> tuple[Tier, ...]:
        if not isinstance(raw_tiers, list) or not all(isinstance(t, dict) for t in raw_tiers):
            self.problem("tiers", f"tiers must be written as [[{array}]] tables")
            return ()
        tiers: list[Tier] = []
        names: dict[str, int] = {}
        for k, raw in enumerate(raw_tiers):
            self.unknown_keys(raw, TIER_KEYS, "tier", array, k)
            tier_name = raw.get("name")
            if not isinstance(tier_name, str) or not tier_name.strip():
                self.problem("name", f"tier {k + 1} needs a name", array, k)
                tier_name = f"tier{k + 1}"
            tier_name = tier_name.strip()
            if len(tier_name) > MAX_NAME_LENGTH:
                too_long = f"tier name of {len(tier_name):,} characters (at most {MAX_NAME_LENGTH})"
                self.problem("name", too_long, array, k)
                tier_name = f"tier{k + 1}"
            if tier_name == OPEN_TIER:
                self.problem(
                    "name",
                    f"'{OPEN_TIER}' is the implicit last tier; choose another name",
                    array,
                    k,
                )
            elif tier_name in names:
                self.problem(
                    "name",
                    f"tier name '{tier_name}' is used twice (tiers {names[tier_name]} and {k + 1})",
                    array,
                    k,
                )
            names.setdefault(tier_name, k + 1)
            conditions = self.conditions(raw, array, k)
            order_by = raw.get("order_by")
            if order_by is not None and (not isinstance(order_by, str) or not order_by.strip()):
                self.problem("order_by", "order_by must name an applicants column", array, k)
                order_by = None
            tier = Tier(
                name=tier_name,
                label=self.label(raw, array, k),
                order_by=order_by.strip() if order_by else None,
                **conditions,
            )
            if not tier.imposes_anything:
                self.problem(
                    "name",
                    f"tier '{tier_name}' has no conditions (give sibling, same_zone, "
                    "in_catchment or staff = true, category = [...] or attributes = {...})",
                    array,
                    k,
                )
            tiers.append(tier)
        return tuple(tiers)

    def date(self, data: dict, key: str) -> dt.date | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.problem(key, f"{key} must be a date like 2015-08-31, not {value!r}")
        return None

    def school_rules(self, raw_rules) -> tuple[SchoolRule, ...]:
        if not isinstance(raw_rules, list) or not all(isinstance(r, dict) for r in raw_rules):
            self.problem("school_rules", "school_rules must be written as [[school_rules]] tables")
            return ()
        rules = []
        for k, raw in enumerate(raw_rules):
            self.unknown_keys(raw, RULE_KEYS, "school rule", "school_rules", k)
            match = self.table_of_lists(raw.get("match", {}), "match", "school_rules", k)
            if "tiers" not in raw:
                self.problem(
                    "match",
                    f"school rule {k + 1} has no tiers (write tiers = [] for the lottery "
                    "number alone, as for 公民同招 private schools)",
                    "school_rules",
                    k,
                )
                continue
            rules.append(SchoolRule(match, self.tiers(raw["tiers"], "school_rules.tiers")))
        return tuple(rules)

    def reserves(self, raw_reserves) -> tuple[Reserve, ...]:
        if not isinstance(raw_reserves, list) or not all(isinstance(r, dict) for r in raw_reserves):
            self.problem("reserves", "reserves must be written as [[reserves]] tables")
            return ()
        reserves: list[Reserve] = []
        names: set[str] = set()
        for k, raw in enumerate(raw_reserves):
            self.unknown_keys(raw, RESERVE_KEYS, "reserve", "reserves", k)
            name = raw.get("name")
            if not isinstance(name, str) or not name.strip():
                self.problem("name", f"reserve {k + 1} needs a name", "reserves", k)
                name = f"reserve{k + 1}"
            name = name.strip()
            if len(name) > MAX_NAME_LENGTH:
                too_long = f"reserve name of {len(name):,} characters (at most {MAX_NAME_LENGTH})"
                self.problem("name", too_long, "reserves", k)
                name = f"reserve{k + 1}"
            if name in names:
                self.problem("name", f"reserve name '{name}' is used twice", "reserves", k)
            names.add(name)
            seats, share = raw.get("seats"), raw.get("share")
            if (seats is None) == (share is None):
                self.problem(
                    "seats", "a reserve needs either seats = N or share = 0.05", "reserves", k
                )
            elif seats is not None and (
                not isinstance(seats, int) or isinstance(seats, bool) or seats < 0
            ):
                self.problem(
                    "seats", f"seats must be a whole number >= 0, not {seats!r}", "reserves", k
                )
                seats = None
            elif share is not None:
                if isinstance(share, bool) or not isinstance(share, decimal.Decimal | int):
                    self.problem("share", f"share must be a number, not {share!r}", "reserves", k)
                    share = None
                else:
                    share = decimal.Decimal(share)
                    if not share.is_finite() or not 0 <= share <= 1:
                        self.problem("share", "share must lie between 0 and 1", "reserves", k)
                        share = None
            conditions = Conditions(**self.conditions(raw, "reserves", k))
            if not conditions.imposes_anything:
                self.problem(
                    "name",
                    f"reserve '{name}' has no conditions: who may take its seats?",
                    "reserves",
                    k,
                )
            match = self.table_of_lists(raw.get("match", {}), "match", "reserves", k)
            if seats is None and share is None:
                seats = 0
            reserves.append(
                Reserve(name, conditions, match, seats, share, self.label(raw, "reserves", k))
            )
        return tuple(reserves)


def parse_policy(text: str, name: str = "policy.toml") -> Policy:
    try:
        # Decimal keeps `share = 0.05` exact: its seats are floor(share x seats) on that text.
        data = tomllib.loads(text, parse_float=decimal.Decimal)
    except tomllib.TOMLDecodeError as err:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(err))
        line = int(match.group(1)) if match else None
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(err))
        column = f"column {match.group(2)}" if match else None
        raise InputError(Problem(name, line, column, f"not valid TOML: {message}")) from err
    except RecursionError as err:  # tomllib recurses once per nested [ or {
        depth, line = 0, 1
        for line, content in enumerate(text.splitlines(), start=1):  # noqa: B007 (used below)
            depth += sum(map(content.count, "[{")) - sum(map(content.count, "]}"))
            if depth > 100:
                break
        raise InputError(Problem(name, line, None, "not valid TOML: nested too deeply")) from err

    parser = _Parser(text, name)
    parser.unknown_keys(data, POLICY_KEYS, "policy", None, None)

    mechanism = data.get("mechanism", DEFAULT_POLICY.mechanism)
    if mechanism not in MECHANISMS:
        parser.problem(
            "mechanism",
            f"unknown mechanism '{mechanism}' (expected one of "
            f"{', '.join(MECHANISMS)}){_did_you_mean(str(mechanism), MECHANISMS)}",
        )
    tie_break = data.get("tie_break", DEFAULT_POLICY.tie_break)
    if tie_break not in TIE_BREAKS:
        parser.problem(
            "tie_break",
            f"unknown tie_break '{tie_break}' (expected one of "
            f"{', '.join(TIE_BREAKS)}){_did_you_mean(str(tie_break), TIE_BREAKS)}",
        )
    # Like mechanism and tie_break, absent tiers keep their default.
    tiers = parser.tiers(data["tiers"], "tiers") if "tiers" in data else DEFAULT_POLICY.tiers
    born_from, born_to = parser.date(data, "born_from"), parser.date(data, "born_to")
    if born_from and born_to and born_from > born_to:
        parser.problem("born_to", f"born_to ({born_to}) lies before born_from ({born_from})")
    max_choices = data.get("max_choices")
    if max_choices is not None and (
        not isinstance(max_choices, int) or isinstance(max_choices, bool) or max_choices < 1
    ):
        parser.problem(
            "max_choices", f"max_choices must be a whole number >= 1, not {max_choices!r}"
        )
        max_choices = None
    sectors = DEFAULT_FALLBACK_SECTORS
    if "fallback_sectors" in data:
        sectors = parser.texts(data["fallback_sectors"], "fallback_sectors", None, None) or ()
    rules = parser.school_rules(data.get("school_rules", []))
    reserves = parser.reserves(data.get("reserves", []))
    if parser.problems:
        raise InputError(parser.problems)
    return Policy(
        mechanism,
        tie_break,
        tuple(tiers),
        born_from,
        born_to,
        max_choices,
        tuple(sectors),
        rules,
        reserves,
    )
