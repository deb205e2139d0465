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
from seats.io.output import sha256_file
from seats.supervision.pdf import (
    A4_LANDSCAPE,
    INSTALL_HINT,
    Column,
    Fonts,
    Page,
    TextFlow,
    find_cjk_font,
    fonts_for,
    render_pdf,
    replacing,
    table_pages,
)
from seats.supervision.run_record import RunRecord, read_rows, read_run, school_names

TOP_SCHOOLS = 25  # schools shown in the per-school charts
CUTOFF_DIGITS = 12  # of the cutoff lottery number in the school table; enough to tell them apart


@dataclass
class ReportSummary:
    out_pdf: Path
    pages: int
    schools: int
    sha256: str
    warnings: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [
            f"supervisor's report -> {self.out_pdf} ({self.pages} pages, {self.schools} schools)"
        ]
        lines.append(f"  sha256 {self.sha256}")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _summary_pages(run: RunRecord, fonts: Fonts) -> list[Page]:
    flow = TextFlow(fonts)
    info = run.run
    title = "Supervisor's report" + (" 电脑派位监督报告" if fonts.chinese else "")
    flow.add("title", title)
    flow.add("body", f"Run folder: {run.run_dir.name}    recorded {run.time} (UTC)")

    flow.add("heading", "The run")
    flow.add("body", f"Tool: {info.get('tool', '?')}")
    versions = ", ".join(f"{k} {v}" for k, v in sorted(info.get("versions", {}).items()))
    flow.add("body", f"Versions: {versions}")
    flow.add("body", "Command: " + (shlex.join(info.get("command") or []) or "(not recorded)"))
    options = {k: v for k, v in info.get("options", {}).items() if v is not None}
    flow.add("body", "Options: " + (", ".join(f"{k}={v}" for k, v in options.items()) or "none"))

    policy = info.get("policy", {})
    flow.add("heading", "Policy (in full)")
    flow.add(
        "body", f"mechanism = {policy.get('mechanism')}, tie_break = {policy.get('tie_break')}"
    )
    for position, tier in enumerate(policy.get("tiers", []), start=1):
        conditions = [
            "applicant has a sibling at the school" if tier.get("sibling") else "",
            "applicant lives in the school's zone" if tier.get("same_zone") else "",
            f"category in {', '.join(tier['category'])}" if tier.get("category") else "",
        ]
        flow.add(
            "body", f"tier {position} {tier.get('name')}: " + "; ".join(c for c in conditions if c)
        )
    flow.add("body", f"tier {len(policy.get('tiers', [])) + 1} open: everyone else")
    flow.add("body", "A school admits by tier first, then by lower lottery number.")

    seed = run.payload("seed") or {}
    flow.add("heading", "Seed and lottery numbers")
    flow.add("mono", f"seed: {run.seed}")
    if seed.get("parts"):
        flow.add("body", "Joined from the public parts " + " | ".join(seed["parts"]))
        flow.add("body", f"Join rule: {seed.get('joined')}")
    flow.add("body", f"Tie-break: {run.tie_break}. Lottery number = {seed.get('lottery_number')}.")

    commitment = run.payload("commitment")
    if commitment:
        flow.add("heading", "Commitment made before the seed was known")
        flow.add("mono", f"{commitment.get('file')}  sha256 {commitment.get('sha256')}")
        flow.add("body", f"Seed source announced: {commitment.get('seed_source') or '(none)'}")
        used = {p.get("role"): p.get("sha256") for p in run.payloads("input")}
        for role, entry in sorted((commitment.get("inputs") or {}).items()):
            digest = entry.get("sha256") if isinstance(entry, dict) else entry
            same = "= the input used" if used.get(role) == digest else "DIFFERS from the input used"
            flow.add("mono", f"  {role:<11} {digest}  {same}")

    flow.add("heading", "Digests (SHA-256) of every file")
    for kind, name, rows, digest in run.file_digests():
        count = f"{rows:,} rows" if isinstance(rows, int) else ""
        flow.add("mono", f"{kind:<10} {name:<26} {count:>12}")
        flow.add("mono", f"           {digest}")
    flow.add("mono", f"{'audit log':<10} {AUDIT_FILE:<26} {len(run.records):>7} records")
    flow.add("mono", f"           {run.audit_sha256}   (file)")
    flow.add("mono", f"           {run.records[-1]['hash']}   (hash of the last record)")
    if run.missing:
        flow.add("body", "Not in this folder (kept elsewhere): " + ", ".join(run.missing))

    end = run.payload("end") or {}
    flow.add("heading", "Result")
    flow.add(
        "body",
        ", ".join(f"{k}: {v:,}" for k, v in end.items() if isinstance(v, int)) or "(no end record)",
    )
    flow.add("heading", "Signatures")
    for role in ("Operator", "Supervisor / notary", "Parent representative"):
        flow.add("body", f"{role}: ______________________________   date: ____________")
    return flow.page_list()


def _school_pages(run: RunRecord, results: list[dict], names: dict, fonts: Fonts) -> list[Page]:
    tiers = [h[len("applicants_") :] for h in results[0] if h.startswith("applicants_")]
    code = {name: f"T{i}" for i, name in enumerate(tiers, start=1)}
    show_names = bool(names) and fonts.chinese
    columns = [Column("school", 38)]
    if show_names:
        columns.append(Column("name", 118))
    columns += [Column("seats", 26, "right"), Column("applicants", 44, "right")]
    columns += [Column("1st", 26, "right")]
    columns += [Column(code[t], 26, "right") for t in tiers]
    columns += [
        Column("placed", 30, "right"),
        Column("assigned", 38, "right"),
        Column("cut tier", 34),
        Column("cut number", 58),
        Column("waitlist", 38, "right"),
    ]
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
            r["cutoff_lottery_number"][:CUTOFF_DIGITS],
            r["waitlist"],
        ]
        rows.append(row)
    legend = "   ".join(f"{code[t]} = {t}" for t in tiers)
    notes = [
        "applicants by tier: T1..Tn; 1st = first choices; placed = admitted by choice;",
        "assigned = seated by the nearest-school stage; cut tier / cut number = tier and lottery",
        "number (first 12 hex digits) of the last pupil admitted by choice; waitlist = length.",
        legend,
    ]

    def heading(k: int, n: int) -> list[str]:
        return [
            f"Results by school{' 各校派位结果' if fonts.chinese else ''} ({k}/{n})",
            f"{run.run_dir.name}: seed {run.seed}",
        ]

    return table_pages(
        columns,
        rows,
        heading=heading,
        rows_per_page=40,
        size=A4_LANDSCAPE,
        fonts=fonts,
        notes=notes,
    )


def _label(school_id: str, names: dict, fonts: Fonts) -> str:
    name = names.get(school_id) if fonts.chinese else None
    return f"{school_id} {name}" if name else school_id


def _chart_pages(
    run: RunRecord, results: list[dict], assignments: list[dict], names: dict, fonts: Fonts
) -> list[Page]:
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
        shown = f"top {len(ranked)} of {len(results)}" if len(results) > len(ranked) else "all"
        ax.set_title(f"Demand against seats ({shown} schools, by applicants per seat)", fontsize=11)

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
        ax.set_title(f"Placements by choice rank ({len(assignments):,} applicants)", fontsize=11)

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
            label = f"{tier} ({total[tier]:,} in all)"
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
        ax.set_title("Tier mix of admitted pupils (most oversubscribed schools)", fontsize=11)

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


def _verify_pages(run: RunRecord, example: dict | None, fonts: Fonts) -> list[Page]:
    flow = TextFlow(fonts)
    flow.add("title", "How to verify this run" + (" 如何核验" if fonts.chinese else ""))
    flow.add(
        "body",
        "Nobody needs to trust the operator: with the run folder alone, anyone can check that "
        "the files are the ones on this paper and that the draw gives the same result again.",
    )
    flow.add("heading", "1. Check the whole run (chain, digests, re-run of the draw)")
    flow.add("mono", f"seats audit verify {shlex.quote(run.run_dir.name)}")
    flow.add("body", "It prints `verified` and exits 0, or names what does not match and exits 1.")

    flow.add("heading", "2. Recompute a lottery number with sha256sum")
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

    flow.add("heading", "3. Recompute the file digests with sha256sum")
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
    return flow.page_list()


def write_report(run_dir: Path, out_pdf: Path) -> ReportSummary:
    """Write the supervisor's report of a run folder to `out_pdf` (replaced whole or untouched)."""
    run = read_run(run_dir)
    results = read_rows(run.run_dir / "schools.csv")
    assignments = read_rows(run.run_dir / "assignments.csv")
    names = school_names(run)
    example = _example(assignments)
    cjk = find_cjk_font()
    # With a CJK font: embedded TrueType for the Chinese names and titles. Without: the faster
    # core fonts, unless some recorded text (seed, ids, tier names) needs more than cp1252.
    recorded = [json.dumps(r["payload"], ensure_ascii=False) for r in run.records]
    example_id = [example["applicant_id"]] if example else []
    fonts = Fonts(cjk) if cjk else fonts_for([run.run_dir.name, *recorded, *example_id])
    warnings_: list[str] = []
    if fonts.cjk is None:
        warnings_.append(
            f"no CJK font found: the report shows school ids, not names; {INSTALL_HINT}"
        )

    pages = _summary_pages(run, fonts)
    if results:
        pages += _school_pages(run, results, names, fonts)
        pages += _chart_pages(run, results, assignments, names, fonts)
    pages += _verify_pages(run, example, fonts)

    footer = f"seats report: {run.run_dir.name}, audit.jsonl sha256 {run.audit_sha256[:16]}"
    with replacing(Path(out_pdf)) as temporary:
        count = render_pdf(
            temporary,
            pages,
            title=f"Supervisor's report: {run.run_dir.name}",
            created=run.created,
            footer=footer,
            fonts=fonts,
        )
    return ReportSummary(Path(out_pdf), count, len(results), sha256_file(out_pdf), warnings_)
