"""`seats explain RUN_DIR APPLICANT_ID`: why this applicant got this result, in plain words.

For every school the applicant ranked above their placement (all of them when not placed by
choice): its seats, the applicant's tier and lottery number there, what beat them (the cutoff:
the last admitted, or under immediate acceptance the round in which the school filled), the
waitlist position, and the one-line shell command that recomputes the lottery number.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from seats.io.audit import RecordedRun
from seats.io.errors import InputError, Problem
from seats.lottery import load_lottery, priorities
from seats.lottery.run import ASSIGNMENTS, LOTTERY_TOOL, SCHOOL_RESULTS, WAITLISTS


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


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
    choice_rank: int
    seats: int
    tier: str
    lottery_number: str
    cutoff_tier: str
    cutoff_number: str
    waitlist_position: int | None
    reason_en: str
    reason_zh: str


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

    def render(self) -> str:
        if self.status == "placed":
            head_en = (
                f"{self.applicant_id} was admitted to {self.school_id}, choice "
                f"{self.choice_rank}, in tier '{self.tier}'."
            )
            head_zh = (
                f"{self.applicant_id} 被第{self.choice_rank}志愿 {self.school_id} 录取"
                f"（{self.tier}）。"
            )
        elif self.status == "assigned":
            head_en = (
                f"{self.applicant_id} was not admitted to any school ranked, and was "
                f"assigned to {self.school_id}, the nearest school with seats left."
            )
            head_zh = (
                f"{self.applicant_id} 所填志愿均未录取，统筹安排至就近有空余学位的 "
                f"{self.school_id}。"
            )
        else:
            head_en = f"{self.applicant_id} was not placed."
            head_zh = f"{self.applicant_id} 未被录取。"
        lines = [*self.warnings, head_zh, head_en, ""]
        for s in self.above:
            wait = (
                f"waitlist position {s.waitlist_position}"
                if s.waitlist_position
                else "not on the waitlist"
            )
            lines += [
                f"志愿{s.choice_rank} {s.school_id}: {s.reason_zh}",
                f"choice {s.choice_rank} {s.school_id} ({s.seats} seats): {s.reason_en}",
                f"  your tier there: {s.tier}; your lottery number there: {s.lottery_number}",
                f"  cutoff (last admitted): tier {s.cutoff_tier or '-'}, number "
                f"{s.cutoff_number or '-'}; {wait}",
            ]
        if self.above:
            lines.append("")
        lines += ["Recompute your lottery number (核对您的派位号):", f"  {self.command}"]
        return "\n".join(lines)


class RunView:
    """A run folder loaded once (inputs re-validated, result files read) to explain many
    applicants."""

    def __init__(self, run_dir: Path | str):
        recorded = RecordedRun.load(run_dir)
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
        options, self.seed, self.inputs = recorded.options, recorded.seed, recorded.inputs
        self.lottery = load_lottery(
            self.inputs["schools"],
            self.inputs["applicants"],
            self.seed,
            self.inputs.get("policy"),
            zones_path=self.inputs.get("zones"),
            level=options["level"],
            encoding=options["encoding"],
        )
        self.priorities = priorities(self.lottery)
        self.position = {aid: a for a, aid in enumerate(self.lottery.applicants.ids)}
        self.assignments = _rows(self.run_dir / ASSIGNMENTS)
        self.results = {r["school_id"]: r for r in _rows(self.run_dir / SCHOOL_RESULTS)}
        self.waitlist = {
            (r["school_id"], r["applicant_id"]): int(r["position"])
            for r in _rows(self.run_dir / WAITLISTS)
        }
        self.rounds = (
            self._rounds() if self.lottery.policy.mechanism == "immediate_acceptance" else {}
        )

    def _rounds(self) -> dict[str, dict[int, tuple[int, str]]]:
        """Under immediate acceptance seats go round by round: per school and round, the
        priority (tier, number) of the last applicant admitted in that round."""
        rounds: dict[str, dict[int, tuple[int, str]]] = {}
        ptr = self.lottery.applicants.choice_ptr
        for b, row in enumerate(self.assignments):
            if row["status"] == "placed":
                rank = int(row["choice_rank"])
                key = (int(self.priorities.tier[int(ptr[b]) + rank - 1]), row["lottery_number"])
                by_round = rounds.setdefault(row["school_id"], {})
                by_round[rank] = max(by_round.get(rank, key), key)
        return rounds

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
        row = self.assignments[a]
        explanation = Explanation(
            applicant_id,
            row["status"],
            row["school_id"],
            row["choice_rank"],
            row["tier"],
            row["lottery_number"],
            self.lottery.policy.mechanism,
            recompute_command(self.seed, applicant_id),
        )
        if self.chain_problems:
            explanation.warnings.append(
                f"warning: the audit log does not verify: {self.chain_problems[0]}"
            )
        explanation.above = self._schools_above(a, row)
        if self.lottery.policy.tie_break == "multiple":
            # One number per school: show the one at the placement, else at the first choice.
            ranked = [
                self.lottery.schools.ids[s] for s in self.lottery.applicants.choices_of(a).tolist()
            ]
            school = row["school_id"] if row["status"] == "placed" else next(iter(ranked), None)
            if school is not None:
                explanation.command = (
                    recompute_command(self.seed, applicant_id, school)
                    + f"   # at {school}; put another school id for its number there"
                )
        return explanation

    def _schools_above(self, a: int, row: dict) -> list[SchoolLine]:
        apps, schools, policy = self.lottery.applicants, self.lottery.schools, self.lottery.policy
        names = policy.tier_names
        placed_rank = int(row["choice_rank"]) if row["status"] == "placed" else None
        lines = []
        for k, s in enumerate(apps.choices_of(a).tolist(), start=1):
            if placed_rank is not None and k >= placed_rank:
                break
            entry = int(apps.choice_ptr[a]) + k - 1
            school_id = schools.ids[s]
            result = self.results[school_id]
            tier, number = int(self.priorities.tier[entry]), self.priorities.entry_number(entry, a)
            cutoff_tier, cutoff_number = result["cutoff_tier"], result["cutoff_lottery_number"]
            seats = int(result["seats"])
            if seats == 0:
                en, zh = "it has no seats this year.", "该校今年无招生学位。"
            elif policy.mechanism == "immediate_acceptance":
                en, zh = _boston_reason(self.rounds.get(school_id, {}), k, tier, number, names)
            elif cutoff_tier:
                en = (
                    f"all {seats} seats went to applicants with higher priority; your "
                    f"(tier {names[tier]}, number {number[:12]}…) comes after the last "
                    f"admitted (tier {cutoff_tier}, number {cutoff_number[:12]}…)."
                )
                zh = (
                    f"{seats}个学位已由优先级更高的申请人录满：您的顺位（{names[tier]}，"
                    f"{number[:12]}…）排在最后录取者（{cutoff_tier}，{cutoff_number[:12]}…）"
                    "之后。"
                )
            else:
                en, zh = "nobody was admitted by choice.", "该校无人按志愿录取。"
            lines.append(
                SchoolLine(
                    school_id,
                    k,
                    seats,
                    names[tier],
                    number,
                    cutoff_tier,
                    cutoff_number,
                    self.waitlist.get((school_id, apps.ids[a])),
                    en,
                    zh,
                )
            )
        return lines


def explain_applicant(run_dir: Path | str, applicant_id: str) -> Explanation:
    return RunView(run_dir).explain(applicant_id)


def _boston_reason(
    by_round: dict[int, tuple[int, str]], k: int, tier: int, number: str, names: list[str]
) -> tuple[str, str]:
    """Immediate acceptance (志愿优先): applicants who ranked a school higher come first."""
    filled = max(by_round, default=0)
    if k > filled:
        return (
            f"it was full after round {filled}: applicants who ranked it higher took every "
            f"seat before your application in round {k} (immediate acceptance).",
            f"该校在第{filled}轮已录满：志愿优先，您在第{k}轮（第{k}志愿）申请时已无学位。",
        )
    last_tier, last_number = by_round[k]
    return (
        f"in round {k} its remaining seats went to applicants with higher priority; your "
        f"(tier {names[tier]}, number {number[:12]}…) comes after the last admitted in that "
        f"round (tier {names[last_tier]}, number {last_number[:12]}…).",
        f"第{k}轮剩余学位由优先级更高者录取：您的顺位（{names[tier]}，{number[:12]}…）"
        f"排在该轮最后录取者（{names[last_tier]}，{last_number[:12]}…）之后。",
    )
