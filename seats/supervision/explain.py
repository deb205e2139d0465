"""`seats explain RUN_DIR APPLICANT_ID`: why this applicant got this result, in plain words.

Chinese first (English beside), with school names and the policy's tier and reserve labels.
For every school the applicant ranked above their placement (all of them when not placed by
choice): its seats, the applicant's tier there, what beat them, the reserves and why they did
or did not help, the waitlist position. Also, where they apply: the birth-date bound that
made a child ineligible, the family unit and its shared number, the ``order_by`` value that
decided inside a tier, the expansion of a ``P01|P02`` position with its ``sha256sum`` lines,
the 统筹 school and distance, and the command that recomputes the applicant's own number.

What a parent learns about other children is the cutoff tier and their own place inside it,
never another child's lottery number (a number and the public seed identify a child).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seats.io.audit import RecordedRun
from seats.io.errors import InputError, Problem
from seats.lottery.numbers import lottery_number
from seats.lottery.priorities import priorities
from seats.lottery.results import tier_names_at
from seats.lottery.run import ASSIGNMENTS, LOTTERY_TOOL, SCHOOL_RESULTS, WAITLISTS, load_from
from seats.supervision.labels import public_cutoff, reason_zh


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _row_of(path: Path, applicant_id: str) -> dict | None:
    """The row of one applicant, read by streaming the file: a question about one child must
    not hold a national run's millions of rows in memory."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return next((r for r in csv.DictReader(handle) if r["applicant_id"] == applicant_id), None)


def _waitlist_of(path: Path, applicant_id: str) -> dict[str, int]:
    """school_id -> this applicant's waitlist position, streamed likewise."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return {
            r["school_id"]: int(r["position"])
            for r in csv.DictReader(handle)
            if r["applicant_id"] == applicant_id
        }


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def recompute_command(seed: str, applicant_id: str, school_id: str | None = None) -> str:
    """The shell line that prints the lottery number (sha256sum prints it followed by ' -')."""
    if school_id is None:
        return f"printf '%s\\n%s' {_shell_quote(seed)} {_shell_quote(applicant_id)} | sha256sum"
    return (
        f"printf '%s\\n%s\\n%s' {_shell_quote(seed)} {_shell_quote(school_id)} "
        f"{_shell_quote(applicant_id)} | sha256sum"
    )


@dataclass
class SchoolLine:
    school_id: str
    school: str  # name (id) as people read it
    choice_rank: int
    seats: int
    tier: str  # the unit's tier there, as labelled
    tier_name: str  # the same, as the policy names it
    waitlist_position: int | None
    reason_zh: str
    reason_en: str
    notes: list[tuple[str, str]] = field(default_factory=list)  # (zh, en)


@dataclass
class Explanation:
    applicant_id: str
    status: str
    school_id: str
    choice_rank: str
    tier: str
    lottery_number: str
    mechanism: str
    command: str
    above: list[SchoolLine] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    head_zh: str = ""
    head_en: str = ""
    notes: list[tuple[str, str]] = field(default_factory=list)  # (zh, en) before the schools

    def render(self) -> str:
        lines = [*self.warnings, self.head_zh, self.head_en, ""]
        for zh, en in self.notes:
            lines += [zh, f"  {en}"]
        if self.notes:
            lines.append("")
        for s in self.above:
            wait = (
                f"候补第{s.waitlist_position}位 / waitlist position {s.waitlist_position}"
                if s.waitlist_position
                else "不在候补名单 / not on the waitlist"
            )
            lines += [
                f"第{s.choice_rank}志愿 {s.school}（{s.seats}个学位）：{s.reason_zh}",
                f"  choice {s.choice_rank} {s.school_id} ({s.seats} seats): {s.reason_en}",
                f"  您在该校的类别 / your tier there: {s.tier}; {wait}",
            ]
            for zh, en in s.notes:
                lines += [f"  {zh}", f"    {en}"]
        if self.above:
            lines.append("")
        if self.command:
            lines += ["核对您的派位号 / recompute your lottery number:", f"  {self.command}"]
        return "\n".join(lines)


class RunView:
    """A run folder loaded once (inputs re-validated, result files read) to explain many
    applicants."""

    def __init__(self, run_dir: Path | str):
        recorded = RecordedRun.load_verified(run_dir)
        self.run_dir, self.chain_problems = recorded.run_dir, recorded.chain_problems
        if recorded.tool != LOTTERY_TOOL:
            raise InputError(
                Problem(
                    str(self.run_dir),
                    None,
                    None,
                    f"not a lottery run folder (it is a run of '{recorded.tool}')",
                )
            )
        self.seed, self.inputs = recorded.seed, recorded.inputs
        self.fallback = recorded.options.get("fallback")
        self.lottery = load_from(self.inputs, self.seed, recorded.options)
        self.priorities = priorities(self.lottery)
        self.position = {aid: a for a, aid in enumerate(self.lottery.applicants.ids)}
        self.results = {r["school_id"]: r for r in _rows(self.run_dir / SCHOOL_RESULTS)}
        schools = self.lottery.schools
        names = schools.table.text("name", required=False)
        self.school_name = {
            sid: f"{name}（{sid}）" if name else sid
            for sid, name in zip(schools.ids, names, strict=True)
        }
        self.labels = self.lottery.policy.labels
        self.tier_lists = tier_names_at(self.lottery)
        self.school_list = (
            self.lottery.tier_list
            if self.lottery.tier_list is not None
            else np.zeros(len(schools), dtype=np.int64)
        )

    # --- words ---------------------------------------------------------------------------

    def label(self, name: str) -> str:
        if name == "open":
            return "其他申请人（open）"
        label = self.labels.get(name)
        return f"{label}（{name}）" if label else name

    def tier_at(self, school: int, tier: int) -> str:
        return self.tier_lists[int(self.school_list[school])][tier]

    # --- one applicant -------------------------------------------------------------------

    def explain(self, applicant_id: str) -> Explanation:
        a = self.position.get(applicant_id)
        if a is None:
            raise InputError(
                Problem(
                    str(self.inputs["applicants"]),
                    None,
                    "applicant_id",
                    f"no applicant '{applicant_id}' in this run",
                )
            )
        row = _row_of(self.run_dir / ASSIGNMENTS, applicant_id)
        waitlist = _waitlist_of(self.run_dir / WAITLISTS, applicant_id)
        lottery = self.lottery
        x = Explanation(
            applicant_id,
            row["status"],
            row["school_id"],
            row["choice_rank"],
            row["tier"],
            row["lottery_number"],
            lottery.policy.mechanism,
            recompute_command(self.seed, applicant_id),
        )
        if self.chain_problems:
            x.warnings.append(
                f"注意：审计日志未通过校验 / warning: the audit log does not verify: "
                f"{self.chain_problems[0]}"
            )
        school = self.school_name.get(row["school_id"], row["school_id"])
        if row["status"] == "ineligible":
            bound = row["reason"]
            zh = reason_zh(bound)
            x.head_zh = f"{applicant_id} 不符合本次招生的年龄条件（{zh}），不参加派位。"
            x.head_en = f"{applicant_id} is not eligible this year ({bound}) and took no part."
            x.command = ""
            return x
        if row["status"] == "placed":
            reserve = row.get("reserve", "")
            under = f"，占用“{self.label(reserve)}”预留学位" if reserve else ""
            x.head_zh = (
                f"{applicant_id} 被第{row['choice_rank']}志愿 {school} 录取"
                f"（{self.label(row['tier'])}{under}）。"
            )
            x.head_en = (
                f"{applicant_id} was admitted to {row['school_id']}, choice "
                f"{row['choice_rank']}, in tier '{row['tier']}'"
                + (f", under the reserve '{reserve}'." if reserve else ".")
            )
        elif row["status"] == "assigned":
            x.head_zh = (
                f"{applicant_id} 所填志愿均未录取，统筹安排至有空余学位的最近学校 {school}"
                f"（距离 {row.get('distance_km', '')} 公里）。"
            )
            x.head_en = (
                f"{applicant_id} was not admitted to any school ranked and was assigned "
                f"(统筹) to {row['school_id']}, the nearest school with a seat left, "
                f"{row.get('distance_km', '')} km away."
            )
        elif self.fallback:
            x.head_zh = (
                f"{applicant_id} 所填志愿均未录取；统筹阶段也没有找到尚有空余学位的学校"
                "（请联系区教育局）。"
            )
            x.head_en = (
                f"{applicant_id} was not placed: no school ranked admitted them, and the 统筹 "
                "stage found no school with a seat left (ask the district bureau)."
            )
        else:
            x.head_zh = f"{applicant_id} 所填志愿均未录取。"
            x.head_en = f"{applicant_id} was not placed."
        x.notes += self._family_notes(a)
        x.notes += self._group_notes(a)
        x.above = self._schools_above(a, row, waitlist)
        if lottery.policy.tie_break == "multiple":
            ranked = [lottery.schools.ids[s] for s in lottery.applicants.choices_of(a).tolist()]
            at = row["school_id"] if row["status"] == "placed" else next(iter(ranked), None)
            if at is not None:
                x.command = (
                    recompute_command(self.seed, applicant_id, at)
                    + f"   # 在 {at} 的派位号；换成其他学校代码即得该校的号 / at {at}"
                )
        return x

    def _family_notes(self, a: int) -> list[tuple[str, str]]:
        units = self.priorities.units
        members = units.members(int(units.of[a]))
        if len(members) < 2:
            return []
        ids = [self.lottery.applicants.ids[m] for m in members]
        return [
            (
                f"多胞胎/同胞同时报名：{'、'.join(ids)} 作为一个整体参加派位，共用成员中最小的"
                "派位号和最优的类别；一人录取，同胞随同录取。",
                f"family unit {', '.join(ids)}: they apply as one, with the smallest of their "
                "numbers and the best of their tiers at each school, and are admitted together.",
            )
        ]

    def _group_notes(self, a: int) -> list[tuple[str, str]]:
        """Each ``P01|P02`` position: its schools in expansion order with their numbers."""
        apps, schools = self.lottery.applicants, self.lottery.schools
        if not apps.has_groups:
            return []
        lo, hi = int(apps.choice_ptr[a]), int(apps.choice_ptr[a + 1])
        positions = apps.positions[lo:hi].tolist()
        notes = []
        units = self.priorities.units
        members = units.members(int(units.of[a]))
        for p in sorted(set(positions)):
            entries = [lo + i for i, q in enumerate(positions) if q == p]
            if len(entries) < 2:
                continue
            parts, commands = [], []
            for e in entries:
                sid = schools.ids[int(apps.choice_school[e])]
                number = min(lottery_number(self.seed, apps.ids[m], sid) for m in members)
                parts.append(f"{sid} {number[:16]}…")
                commands.append(recompute_command(self.seed, apps.ids[a], sid))
            order = " < ".join(parts)
            notes.append(
                (
                    f"第{p + 1}个志愿位置填报了多所学校（多校划片，任一均可）：按您在各校的派位号"
                    f"从小到大展开为 {order}",
                    f"position {p + 1} named several schools (any of them): expanded in "
                    f"ascending order of the multiple-form numbers: {order}; recompute each with:\n"
                    + "\n".join(f"      {c}" for c in commands),
                )
            )
        return notes

    def _schools_above(self, a: int, row: dict, waitlist: dict[str, int]) -> list[SchoolLine]:
        lottery, prio = self.lottery, self.priorities
        apps, schools = lottery.applicants, lottery.schools
        placed_rank = int(row["choice_rank"]) if row["status"] == "placed" else None
        lines = []
        for k, s in enumerate(apps.choices_of(a).tolist(), start=1):
            if placed_rank is not None and k >= placed_rank:
                break
            entry = int(apps.choice_ptr[a]) + k - 1
            school_id = schools.ids[s]
            result = self.results[school_id]
            seats = int(result["seats"])
            tier_name = self.tier_at(s, int(prio.unit_tier[entry]))
            line = SchoolLine(
                school_id,
                self.school_name[school_id],
                k,
                seats,
                self.label(tier_name),
                tier_name,
                waitlist.get(school_id),
                "",
                "",
            )
            if seats == 0:
                line.reason_zh, line.reason_en = (
                    "该校今年无招生学位。",
                    "it has no seats this year.",
                )
            elif not result["cutoff_tier"]:
                line.reason_zh, line.reason_en = (
                    "该校无人按志愿录取。",
                    "nobody was admitted by choice.",
                )
            else:
                line.reason_zh, line.reason_en = self._beaten(entry, s, k, result)
            line.notes += self._cutoff_note(result)
            line.notes += self._order_note(entry, s, tier_name)
            line.notes += self._reserve_notes(entry, s, result)
            lines.append(line)
        return lines

    def _beaten(self, entry: int, s: int, k: int, result: dict) -> tuple[str, str]:
        """Why the applicant's unit did not get a seat at school s (choice k): the cutoff tier
        and the unit's place among the applicants of its tier there (no other child's number)."""
        prio, lottery = self.priorities, self.lottery
        cutoff = result["cutoff_tier"]
        mine = self.tier_at(s, int(prio.unit_tier[entry]))
        taking_part = prio.units.eligible[prio.units.of[lottery.entry_applicant]]
        at = (lottery.applicants.choice_school == s) & taking_part
        same_tier = at & (prio.unit_tier == prio.unit_tier[entry])
        ahead = int(np.unique(prio.key[same_tier & (prio.key < prio.key[entry])]).size)
        if lottery.policy.mechanism == "immediate_acceptance":
            return (
                f"志愿优先：学位按志愿轮次录取，您在第{k}轮申请时该校剩余学位已由本轮或更早轮次中"
                f"顺位更优者录满（最后录取者类别：{self.label(cutoff)}）。",
                f"immediate acceptance: by round {k} the school's seats had gone to applicants of "
                f"that or earlier rounds with better priority (last admitted: tier '{cutoff}').",
            )
        if mine != cutoff:
            return (
                f"全部学位已由类别更优先的申请人录满，最后录取者的类别为“{self.label(cutoff)}”，"
                f"您的类别“{self.label(mine)}”排在其后。",
                f"every seat went to applicants of a higher tier: the last admitted was in tier "
                f"'{cutoff}', yours ('{mine}') comes after it.",
            )
        return (
            f"同一类别“{self.label(mine)}”内按派位号排序：本类别在该校有{ahead}人的派位号排在"
            "您之前，学位在轮到您之前已录满。",
            f"inside your tier '{mine}' the lottery number decides: {ahead} applicants of that "
            "tier came before you there, and the seats ran out before your turn.",
        )

    def _cutoff_note(self, result: dict) -> list[tuple[str, str]]:
        """The school's cutoff as the public list gives it: the last admitted's tier and the
        first digits of the number only (never another child's number)."""
        full = int(result.get("seats_left") or 0) <= 0
        tier = result.get("cutoff_tier", "")
        zh, en = public_cutoff(
            self.label(tier) if tier else "",
            result.get("cutoff_lottery_number", "") if full else "",
            len(self.lottery.applicants),
        )
        return [(f"该校录取分界：{zh}", f"the school's cutoff: {en}")]

    def _order_note(self, entry: int, s: int, tier_name: str) -> list[tuple[str, str]]:
        lists = self.lottery.policy.tier_lists[int(self.school_list[s])]
        tier = next((t for t in lists if t.name == tier_name), None)
        if tier is None or not tier.order_by:
            return []
        units = self.priorities.units
        a = int(self.lottery.entry_applicant[entry])
        column = self.lottery.applicants.table.text(tier.order_by, required=False)
        values = [column[m] or "（空）" for m in units.members(int(units.of[a]))]
        value = max(values, key=lambda v: (v != "（空）", float(v) if v != "（空）" else 0))
        return [
            (
                f"该类别内先按 {tier.order_by} 从大到小排序，您的值为 {value}；相同者再按派位号。",
                f"inside this tier larger {tier.order_by} comes first: yours is {value}; equal "
                "values go by lottery number.",
            )
        ]

    def _reserve_notes(self, entry: int, s: int, result: dict) -> list[tuple[str, str]]:
        lottery, prio = self.lottery, self.priorities
        notes = []
        if lottery.reserve_seats is None:
            return notes
        for r, reserve in enumerate(lottery.policy.reserves):
            seats = int(lottery.reserve_seats[s, r])
            if seats == 0:
                continue
            filled = int(result.get(f"reserve_{reserve.name}", 0) or 0)
            name = self.label(reserve.name)
            if prio.reserve_mask is not None and (int(prio.reserve_mask[entry]) >> r) & 1:
                notes.append(
                    (
                        f"您符合“{name}”预留学位（{seats}个）的条件，但这些学位已由符合条件且顺位"
                        f"更优者录满（已用 {filled} 个）。",
                        f"you met the conditions of the reserve '{reserve.name}' ({seats} seats), "
                        f"but applicants meeting them with better priority filled it ({filled}).",
                    )
                )
            else:
                notes.append(
                    (
                        f"该校“{name}”预留学位（{seats}个，已用{filled}个）：您不符合其条件。",
                        f"the reserve '{reserve.name}' ({seats} seats, {filled} filled) did not "
                        "apply: you do not meet its conditions.",
                    )
                )
        return notes


def explain_applicant(run_dir: Path | str, applicant_id: str) -> Explanation:
    return RunView(run_dir).explain(applicant_id)
