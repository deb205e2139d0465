"""The supervisor's report (监督报告): one multi-page PDF that a supervisor signs.

Pages: the run summary with every digest from the audit log (so that the signed paper matches the
files), the per-school results, charts (demand against seats, placements by choice rank, tier mix
of admitted pupils) and how to verify the run without trusting the operator.

Chinese school names need a CJK font (:func:`find_cjk_font`); without one the report uses school
ids instead and says so in its warnings. The PDF helpers here (A4 pages, text flow, tables, fixed
metadata) are shared with :mod:`seats.supervision.publish`.
"""

from __future__ import annotations

import json
import shlex
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

from seats.io.audit import AUDIT_FILE
from seats.io.output import check_output_file, sha256_file, starts_with
from seats.supervision import pdf
from seats.supervision.labels import cutoff_digits, tier_labels
from seats.supervision.pdf import (
    A4_LANDSCAPE,
    INSTALL_HINT,
    NO_FONT_NOTE,
    Column,
    Fonts,
    Page,
    TextFlow,
    fonts_for,
    replacing,
)
from seats.supervision.pdf_document import TableSpec, render_document
from seats.supervision.run_record import RunRecord, read_rows, read_run, school_names

TOP_SCHOOLS = 25  # schools shown in the per-school charts


@dataclass
class ReportSummary:
    out_pdf: Path
    pages: int
    schools: int
    sha256: str
    warnings: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [
            f"监督报告 -> {self.out_pdf}（{self.pages} 页，{self.schools} 所学校）",
            f"supervisor's report ({self.pages} pages, {self.schools} schools)",
        ]
        lines.append(f"  sha256 {self.sha256}")
        lines += [f"注意 warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def bilingual(fonts: Fonts):
    """Chinese first with English beside it; English alone where Chinese cannot be printed."""

    def bi(chinese: str, english: str) -> str:
        return f"{chinese} {english}" if fonts.chinese else english

    return bi


def _conditions(where: dict, bi) -> list[str]:
    """A tier's or reserve's conditions in words (Chinese first)."""
    out = []
    if where.get("in_catchment"):
        out.append(bi("住在该校划片（学区）内", "lives in the school's catchment"))
    if where.get("same_zone"):
        out.append(bi("住在该校所在街道/乡", "lives in the school's zone"))
    if where.get("sibling"):
        out.append(bi("兄姐在该校就读", "a sibling attends the school"))
    if where.get("staff"):
        out.append(bi("父母在该校任教", "a parent works at the school"))
    if where.get("category"):
        out.append(bi("类别", "category") + f" ∈ {{{', '.join(where['category'])}}}")
    for column, values in (where.get("attributes") or {}).items():
        out.append(f"{column} ∈ {{{', '.join(values)}}}")
    return out


def _tier_lines(tiers: list[dict], labels: dict, bi, fonts: Fonts) -> list[str]:
    lines = []
    for position, tier in enumerate(tiers, start=1):
        name = tier.get("name", "")
        shown = f"{labels.get(name, name)} ({name})" if fonts.chinese else name
        words = _conditions(tier, bi)
        if tier.get("order_by"):
            words.append(
                bi(
                    f"类内按 {tier['order_by']} 从大到小",
                    f"inside: larger {tier['order_by']} first",
                )
            )
        lines.append(f"{bi(f'第{position}类', f'tier {position}')} {shown}: " + "; ".join(words))
    last = len(tiers) + 1
    lines.append(
        f"{bi(f'第{last}类', f'tier {last}')} {bi(labels['open'] + ' (open)', 'open')}: "
        + bi("其余申请人", "everyone else")
    )
    return lines


def policy_lines(policy: dict, fonts: Fonts) -> list[str]:
    """The policy as recorded in the audit log, every key in words: what the notary signs
    must show every rule that decided a seat."""
    bi = bilingual(fonts)
    labels = tier_labels(policy)
    lines = [f"mechanism = {policy.get('mechanism')}, tie_break = {policy.get('tie_break')}"]
    if policy.get("born_from") or policy.get("born_to"):
        window = f"{policy.get('born_from', '…')} .. {policy.get('born_to', '…')}"
        lines.append(bi(f"出生日期须在 {window}（含）", f"born {window} (inclusive)"))
    if policy.get("max_choices"):
        lines.append(
            bi(
                f"最多填报 {policy['max_choices']} 个志愿",
                f"at most {policy['max_choices']} choices",
            )
        )
    lines += _tier_lines(policy.get("tiers", []), labels, bi, fonts)
    for rule in policy.get("school_rules", []):
        match = "; ".join(f"{c} ∈ {{{', '.join(v)}}}" for c, v in rule.get("match", {}).items())
        lines.append(bi(f"在 {match} 的学校改用：", f"at schools with {match}:"))
        if rule.get("tiers"):
            lines += ["    " + line for line in _tier_lines(rule["tiers"], labels, bi, fonts)]
        else:
            lines.append("    " + bi("只按派位号录取（公民同招）", "by lottery number alone"))
    for reserve in policy.get("reserves", []):
        name = reserve.get("name", "")
        shown = f"{labels.get(name, name)} ({name})" if fonts.chinese else name
        size = (
            bi(f"{reserve['seats']} 个学位", f"{reserve['seats']} seats")
            if "seats" in reserve
            else bi(f"学位数 × {reserve.get('share')}（向下取整）", f"share {reserve.get('share')}")
        )
        where = "; ".join(f"{c} ∈ {{{', '.join(v)}}}" for c, v in reserve.get("match", {}).items())
        lines.append(
            f"{bi('预留学位', 'reserve')} {shown}: {size}"
            + (f" ({where})" if where else "")
            + ": "
            + "; ".join(_conditions(reserve, bi))
            + bi("；未用完的学位向所有人开放", "; seats left unused go to everyone")
        )
    sectors = policy.get("fallback_sectors", ["public"])
    lines.append(
        bi(
            f"统筹只安排到 {', '.join(sectors)} 学校",
            f"统筹 only into {', '.join(sectors)} schools",
        )
    )
    lines.append(
        bi("各校先按类别、再按派位号从小到大录取。", "")
        + "A school admits by tier first, then by lower lottery number."
    )
    return lines


def _summary_pages(run: RunRecord, fonts: Fonts) -> TextFlow:
    flow = TextFlow(fonts)
    bi = bilingual(fonts)
    info = run.run
    flow.add("title", bi("电脑派位监督报告", "Supervisor's report"))
    if not fonts.chinese:
        flow.add("body", NO_FONT_NOTE)
    flow.add(
        "body",
        f"{bi('派位批次', 'Run folder')}: {run.run_dir.name}    "
        f"{bi('记录时间', 'recorded')} {run.time} (UTC)",
    )

    flow.add("heading", bi("本次派位", "The run"))
    flow.add("body", f"Tool: {info.get('tool', '?')}")
    versions = ", ".join(f"{k} {v}" for k, v in sorted(info.get("versions", {}).items()))
    flow.add("body", f"Versions: {versions}")
    flow.add("body", "Command: " + (shlex.join(info.get("command") or []) or "(not recorded)"))
    options = {k: v for k, v in info.get("options", {}).items() if v is not None}
    flow.add("body", "Options: " + (", ".join(f"{k}={v}" for k, v in options.items()) or "none"))

    policy = info.get("policy", {})
    flow.add("heading", bi("派位规则（全文）", "Policy (in full)"))
    for line in policy_lines(policy, fonts):
        flow.add("body", line)

    seed = run.payload("seed") or {}
    flow.add("heading", bi("种子与派位号", "Seed and lottery numbers"))
    flow.add("mono", f"seed: {run.seed}")
    if seed.get("parts"):
        flow.add("body", "Joined from the public parts " + " | ".join(seed["parts"]))
        flow.add("body", f"Join rule: {seed.get('joined')}")
    flow.add("body", f"Tie-break: {run.tie_break}. Lottery number = {seed.get('lottery_number')}.")

    commitment = run.payload("commitment")
    if commitment:
        flow.add(
            "heading",
            bi("派位前的承诺", "Commitment made before the seed was known"),
        )
        flow.add("mono", f"{commitment.get('file')}  sha256 {commitment.get('sha256')}")
        flow.add("body", f"Seed source announced: {commitment.get('seed_source') or '(none)'}")
        used = {p.get("role"): p.get("sha256") for p in run.payloads("input")}
        for role, entry in sorted((commitment.get("inputs") or {}).items()):
            digest = entry.get("sha256") if isinstance(entry, dict) else entry
            same = "= the input used" if used.get(role) == digest else "DIFFERS from the input used"
            flow.add("mono", f"  {role:<11} {digest}  {same}")

    flow.add("heading", bi("全部文件的摘要", "Digests (SHA-256) of every file"))
    for kind, name, rows, digest in run.file_digests():
        count = f"{rows:,} rows" if isinstance(rows, int) else ""
        flow.add("mono", f"{kind:<10} {name:<26} {count:>12}")
        flow.add("mono", f"           {digest}")
    flow.add("mono", f"{'audit log':<10} {AUDIT_FILE:<26} {len(run.records):>7} records")
    flow.add("mono", f"           {run.audit_sha256}   (file)")
    head = run.records[-1]["hash"]
    flow.add("mono", f"           {head}   (head: hash of the last record, publish it)")
    if run.missing:
        flow.add("body", "Not in this folder (kept elsewhere): " + ", ".join(run.missing))

    end = run.payload("end") or {}
    flow.add("heading", bi("结果", "Result"))
    flow.add(
        "body",
        ", ".join(f"{k}: {v:,}" for k, v in end.items() if isinstance(v, int)) or "(no end record)",
    )
    flow.add("heading", bi("签字", "Signatures"))
    roles = (
        ("经办人", "Operator"),
        ("监督人", "Supervisor"),
        ("公证员", "Notary"),
        ("家长代表", "Parent representative"),
    )
    for chinese, english in roles:
        flow.add(
            "body",
            f"{bi(chinese, english)}: ______________________________   "
            f"{bi('日期', 'date')}: ____________",
        )
    return flow


def _prefix(number: str, digits: int) -> str:
    return number[:digits] + "…" if number and digits else ""


def _applicants(run: RunRecord) -> int:
    return sum(1 for _ in read_rows(run.run_dir / "assignments.csv"))


def _school_pages(run: RunRecord, results: list[dict], names: dict, fonts: Fonts) -> TableSpec:
    tiers = [h[len("applicants_") :] for h in results[0] if h.startswith("applicants_")]
    code = {name: f"T{i}" for i, name in enumerate(tiers, start=1)}
    labels = tier_labels(run.run.get("policy", {}))
    bi = bilingual(fonts)
    show_names = bool(names) and fonts.chinese
    zh = fonts.chinese
    columns = [Column("学校" if zh else "school", 38)]
    if show_names:
        columns.append(Column("校名", 118))
    columns += [Column("学位" if zh else "seats", 26, "right")]
    columns += [Column("报名" if zh else "applicants", 44, "right")]
    columns += [Column("第一志愿" if zh else "1st", 26, "right")]
    columns += [Column(code[t], 26, "right") for t in tiers]
    columns += [
        Column("录取" if zh else "placed", 30, "right"),
        Column("统筹" if zh else "assigned", 38, "right"),
        Column("末位类别" if zh else "cut tier", 34),
        Column("末位号段" if zh else "cut digits", 58),
        Column("候补" if zh else "waitlist", 38, "right"),
    ]
    # Never another child's number (a number and the public seed identify a child): the
    # cutoff as the public list gives it, its first digits only.
    digits = cutoff_digits(_applicants(run))
    rows = []
    for r in results:
        row = [r["school_id"]]
        if show_names:
            row.append(names.get(r["school_id"], "")[:14])
        row += [r["seats"], r["applicants"], r["first_choices"]]
        row += [r[f"applicants_{t}"] for t in tiers]
        row += [
            r["placed"],
            r["assigned"],
            code.get(r["cutoff_tier"], r["cutoff_tier"]),
            (r["cutoff_lottery_number"][:digits] + "…")
            if r["cutoff_lottery_number"] and digits
            else "",
            r["waitlist"],
        ]
        rows.append(row)
    legend = "   ".join(f"{code[t]} = {labels.get(t, t) if fonts.chinese else t}" for t in tiers)
    notes = [
        bi(
            "按类别报名人数 T1..Tn；第一志愿 = 第一志愿人数；录取 = 按志愿录取；统筹 = 统筹安排；",
            "applicants by tier: T1..Tn; 1st = first choices; placed = admitted by choice;",
        ),
        bi(
            f"末位类别 / 号段 = 最后一名按志愿录取者的类别及派位号前{digits}位（不印完整号码）；",
            f"assigned = 统筹; cut tier / digits = tier and first {digits} hex digits of the last",
        ),
        bi("候补 = 候补名单人数。", "admitted number (never a whole number); waitlist = length."),
        legend,
    ]

    def heading(k: int, n: int) -> list[str]:
        return [
            f"{bi('各校派位结果', 'Results by school')} ({k}/{n})",
            f"{run.run_dir.name}: seed {run.seed}",
        ]

    return TableSpec(columns, rows, heading, 40, fontsize=7, notes=notes, size=A4_LANDSCAPE)


def _label(school_id: str, names: dict, fonts: Fonts) -> str:
    name = names.get(school_id) if fonts.chinese else None
    return f"{school_id} {name}" if name else school_id


def _chart_pages(
    run: RunRecord, results: list[dict], assignments: list[dict], names: dict, fonts: Fonts
) -> list[Page]:
    bi = bilingual(fonts)
    tier_text = tier_labels(run.run.get("policy", {}))

    def demand(fig: Figure) -> None:
        ranked = sorted(
            (r for r in results if int(r["seats"]) > 0),
            key=lambda r: (-int(r["applicants"]) / int(r["seats"]), r["school_id"]),
        )[:TOP_SCHOOLS][::-1]
        ax = fig.add_axes((0.32, 0.08, 0.62, 0.84))
        positions = range(len(ranked))
        bars = (("seats", "seats", "0.25"), ("first_choices", "first choices", "tab:blue"))
        bars += (("applicants", "all applicants", "tab:orange"),)
        for offset, (column, label, color) in zip((-0.27, 0, 0.27), bars, strict=True):
            values = [int(r[column]) for r in ranked]
            ax.barh([p + offset for p in positions], values, 0.26, label=label, color=color)
        ax.set_yticks(list(positions), [_label(r["school_id"], names, fonts) for r in ranked])
        ax.tick_params(labelsize=7)
        for label in ax.get_yticklabels():
            label.set_fontfamily(fonts.sans)
        ax.set_xlabel("pupils")
        ax.legend(loc="lower right", fontsize=8)
        top = f"top {len(ranked)} of {len(results)}" if len(results) > len(ranked) else "all"
        ax.set_title(
            bi("报名与学位", "Demand against seats") + f"\n({top} schools, by applicants per seat)",
            fontsize=11,
        )

    def placements(fig: Figure) -> None:
        counts = Counter()
        for a in assignments:
            if a["status"] == "placed":
                counts[f"choice {a['choice_rank']}"] += 1
            else:
                counts[a["status"]] += 1
        ranks = sorted((k for k in counts if k.startswith("choice ")), key=lambda k: int(k[7:]))
        labels = ranks + [k for k in ("assigned", "unplaced") if k in counts]
        ax = fig.add_axes((0.12, 0.58, 0.8, 0.34))
        values = [counts[k] for k in labels]
        ax.bar(labels, values, color="tab:blue")
        for x, v in enumerate(values):
            ax.annotate(
                f"{v:,}\n{v / max(len(assignments), 1):.1%}",
                (x, v),
                ha="center",
                va="bottom",
                fontsize=7,
            )
        ax.set_ylim(0, max([*values, 1]) * 1.2)
        ax.set_ylabel("applicants")
        ax.set_title(
            bi("按志愿录取情况", "Placements by choice rank") + f" ({len(assignments):,})",
            fontsize=11,
        )

        tiers = [h[len("applicants_") :] for h in results[0] if h.startswith("applicants_")]
        admitted: dict[str, Counter] = {}
        for a in assignments:
            if a["status"] == "placed":
                admitted.setdefault(a["school_id"], Counter())[a["tier"]] += 1
        ranked = sorted(
            (r for r in results if int(r["seats"]) > 0 and r["school_id"] in admitted),
            key=lambda r: (-int(r["applicants"]) / int(r["seats"]), r["school_id"]),
        )[: TOP_SCHOOLS - 5][::-1]
        ax = fig.add_axes((0.22, 0.14, 0.7, 0.33))
        left = [0] * len(ranked)
        total = Counter()
        for counter in admitted.values():
            total.update(counter)
        colors = matplotlib.colormaps["tab10"]
        for i, tier in enumerate(tiers):
            values = [admitted[r["school_id"]][tier] for r in ranked]
            shown = tier_text.get(tier, tier) if fonts.chinese else tier
            label = f"{shown} ({total[tier]:,} in all)"
            ax.barh(range(len(ranked)), values, left=left, color=colors(i % 10), label=label)
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.set_yticks(range(len(ranked)), [_label(r["school_id"], names, fonts) for r in ranked])
        ax.tick_params(labelsize=7)
        for label in ax.get_yticklabels():
            label.set_fontfamily(fonts.sans)
        ax.set_xlabel("pupils admitted by choice")
        ax.legend(
            fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=2, frameon=False
        )
        ax.set_title(
            bi("录取学生的类别构成", "Tier mix of admitted pupils") + " (most oversubscribed)",
            fontsize=11,
        )

    return [Page(demand), Page(placements)]


def _example(assignments: list[dict]) -> dict | None:
    """The worked example of the verify page: the first applicant placed by choice (whose number
    is the one at that school under either tie-break)."""
    return next((a for a in assignments if a["status"] == "placed"), None)


def number_command(
    tie_break: str, school: str = '"$SCHOOL_ID"', applicant: str = '"$APPLICANT_ID"'
) -> str:
    """The shell line that recomputes a lottery number (DESIGN.md: the lottery contract)."""
    if tie_break == "multiple":
        return f"printf '%s\\n%s\\n%s' \"$SEED\" {school} {applicant} | sha256sum"
    return f"printf '%s\\n%s' \"$SEED\" {applicant} | sha256sum"


def _verify_pages(run: RunRecord, example: dict | None, fonts: Fonts) -> TextFlow:
    flow = TextFlow(fonts)
    bi = bilingual(fonts)
    flow.add("title", bi("如何核验", "How to verify this run"))
    flow.add(
        "body",
        "Nobody needs to trust the operator: with the run folder alone, anyone can check that "
        "the files are the ones on this paper and that the draw gives the same result again.",
    )
    flow.add(
        "heading",
        "1. " + bi("整体核验", "Check the whole run (chain, digests, re-run of the draw)"),
    )
    flow.add("mono", f"seats audit verify {shlex.quote(run.run_dir.name)}")
    flow.add("body", "It prints `verified` and exits 0, or names what does not match and exits 1.")

    flow.add("heading", "2. " + bi("用 sha256sum 重算派位号", "Recompute a lottery number"))
    if run.tie_break == "multiple":
        flow.add("body", "Multiple tie-break: one number per applicant and school.")
    else:
        flow.add("body", "Single tie-break: one number per applicant, used at every school.")
    flow.add("mono", f"SEED={shlex.quote(run.seed)}")
    flow.add("mono", number_command(run.tie_break))
    if example is not None:
        flow.add(
            "body", "For example, for the first applicant of assignments.csv placed by choice:"
        )
        quoted = shlex.quote(example["school_id"]), shlex.quote(example["applicant_id"])
        flow.add("mono", number_command(run.tie_break, *quoted))
        flow.add("mono", f"{example['lottery_number']}  -")
    flow.add("body", "A school admits by tier, then by the lower number (as hexadecimal text).")

    flow.add("heading", "3. " + bi("重算文件摘要", "Recompute the file digests with sha256sum"))
    flow.add("body", "In the run folder, this prints OK for each file printed on page 1:")
    flow.add("mono", f"cd {shlex.quote(run.run_dir.name)} && sha256sum -c <<'EOF'")
    for _kind, name, _rows, digest in run.file_digests():
        if name not in run.missing:
            flow.add("mono", f"{digest}  {name}")
    flow.add("mono", f"{run.audit_sha256}  {AUDIT_FILE}")
    flow.add("mono", "EOF")
    flow.add(
        "body",
        "The audit log binds each record to the one before (prev = SHA-256 of the previous "
        "line), so its digest above fixes every record, including the seed and the digests.",
    )
    return flow


def write_report(run_dir: Path, out_pdf: Path, *, force: bool = False) -> ReportSummary:
    """Write the supervisor's report of a run folder to `out_pdf` (replaced whole or untouched;
    an existing file only with `force` and only if it is a PDF; never inside the run folder)."""
    check_output_file(Path(out_pdf), force, [Path(run_dir)], starts_with(b"%PDF-"))
    run = read_run(run_dir)
    results = read_rows(run.run_dir / "schools.csv")
    assignments = read_rows(run.run_dir / "assignments.csv")
    names = school_names(run)
    example = _example(assignments)
    cjk = pdf.find_cjk_font()  # looked up here so that tests can take the font away
    # With a CJK font: embedded TrueType for the Chinese names and titles. Without: the faster
    # core fonts, unless some recorded text (seed, ids, tier names) needs more than cp1252.
    recorded = [json.dumps(r["payload"], ensure_ascii=False) for r in run.records]
    example_id = [example["applicant_id"]] if example else []
    core = fonts_for([run.run_dir.name, *recorded, *example_id]).core
    fonts = Fonts(cjk) if cjk else Fonts(None, core=core)
    warnings_: list[str] = []
    if fonts.cjk is None:
        warnings_.append(
            f"no CJK font found: the report shows school ids, not names; {INSTALL_HINT}"
        )

    parts = [_summary_pages(run, fonts)]
    if results:
        parts.append(_school_pages(run, results, names, fonts))
        parts += _chart_pages(run, results, assignments, names, fonts)
    parts.append(_verify_pages(run, example, fonts))

    footer = f"seats report: {run.run_dir.name}, audit.jsonl sha256 {run.audit_sha256[:16]}"
    with replacing(Path(out_pdf)) as temporary:
        count = render_document(
            temporary,
            parts,
            title=f"电脑派位监督报告 Supervisor's report: {run.run_dir.name}",
            footer=footer,
            fonts=fonts,
        )
    return ReportSummary(Path(out_pdf), count, len(results), sha256_file(out_pdf), warnings_)
