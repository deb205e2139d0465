"""The supervisor's report (监督报告): one multi-page PDF that a supervisor signs.

Pages: the run summary with every digest from the audit log (so that the signed paper matches the
files), the per-school results, charts (demand against seats, placements by choice rank, tier mix
of admitted pupils) and how to verify the run without trusting the operator.

Chinese school names need a CJK font (:func:`find_cjk_font`); without one the report uses school
ids instead and says so in its warnings. The PDF helpers here (A4 pages, text flow, tables, fixed
metadata) are shared with :mod:`seats.publish`.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import functools
import json
import logging
import os
import shlex
import textwrap
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
from matplotlib import font_manager
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

import seats
from seats.audit import AUDIT_FILE, read_chain
from seats.errors import InputError, Problem
from seats.output import sha256_file
from seats.tables import read_table

# --- fonts ----------------------------------------------------------------------------------

# Families that cover simplified Chinese, best first (Linux, Windows, macOS names). Only fonts
# with TrueType outlines qualify: matplotlib's PDF backend cannot embed CFF-flavoured OpenType,
# which is how Noto Sans CJK / Source Han Sans usually ship (matplotlib issues #2869, #20870).
CJK_FAMILIES = (
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans SC",
    "SimHei",
    "Microsoft YaHei",
    "AR PL UMing CN",
    "AR PL UKai CN",
    "Droid Sans Fallback",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "PingFang SC",
    "Heiti SC",
)
# File name fragments of the same fonts, for fonts installed after matplotlib built its cache.
CJK_FILE_HINTS = (
    "wqy",
    "notosanssc",
    "simhei",
    "msyh",
    "uming",
    "ukai",
    "droidsansfallback",
    "notosanscjk",
    "sourcehansans",
    "pingfang",
)
CJK_SAMPLE = "杏花岭区"
INSTALL_HINT = (
    "install a TrueType CJK font to print Chinese names, e.g. `apt-get install "
    "fonts-wqy-microhei` (not fonts-noto-cjk: matplotlib cannot embed its CFF outlines in PDF)"
)


def _usable_cjk(path: str) -> bool:
    """The font has TrueType outlines (embeddable in PDF) and glyphs for Chinese."""
    from fontTools.ttLib import TTFont
    from matplotlib.ft2font import FT2Font

    try:
        with TTFont(path, fontNumber=0, lazy=True) as outlines:
            if "glyf" not in outlines:
                return False
        font = FT2Font(path)
    except Exception:  # any unreadable font file just does not qualify
        return False
    return all(font.get_char_index(ord(c)) for c in CJK_SAMPLE)


@functools.cache
def find_cjk_font() -> str | None:
    """The family name of an installed font that renders Chinese, or None when there is none."""
    known = {entry.name: entry.fname for entry in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in known and _usable_cjk(known[family]):
            return family
    # matplotlib caches its font list once; a font installed later is only on disk.
    for path in sorted(font_manager.findSystemFonts()):
        squashed = Path(path).name.lower().replace("-", "").replace("_", "")
        if any(hint in squashed for hint in CJK_FILE_HINTS) and _usable_cjk(path):
            with contextlib.suppress(OSError, RuntimeError, ValueError):
                font_manager.fontManager.addfont(path)
                return font_manager.FontProperties(fname=path).get_name()
    return None


@dataclass(frozen=True)
class Fonts:
    """Font families for PDF text.

    TrueType: DejaVu for Latin with the CJK font (if any) as glyph fallback, embedded. Core: the
    PDF viewer's own Helvetica and Courier, not embedded; over ten times faster to write and
    smaller, but only for text in the WinAnsi (cp1252) character set."""

    cjk: str | None
    core: bool = False

    @property
    def chinese(self) -> bool:
        """Whether Chinese text (titles, names) can be printed."""
        return self.cjk is not None and not self.core

    @property
    def sans(self) -> list[str]:
        return ["Helvetica"] if self.core else ["DejaVu Sans", *([self.cjk] if self.cjk else [])]

    @property
    def mono(self) -> list[str]:
        return ["Courier"] if self.core else ["DejaVu Sans Mono", *([self.cjk] if self.cjk else [])]

    @property
    def rc(self) -> dict:
        if self.core:
            # The core fonts' regular weight is called "medium"; asking for "normal" logs a warning.
            return {"pdf.use14corefonts": True, "font.weight": "medium", "font.family": self.sans}
        return {"pdf.fonttype": 42, "font.family": self.sans}


def fonts_for(texts: Iterable[str]) -> Fonts:
    """Core fonts when every text given fits cp1252, else TrueType with the CJK font, if any."""
    try:
        for text in texts:
            text.encode("cp1252")
    except UnicodeEncodeError:
        return Fonts(find_cjk_font())
    return Fonts(find_cjk_font(), core=True)


# --- reading a run folder -------------------------------------------------------------------


@dataclass
class RunRecord:
    """A run folder as its audit log describes it; file digests already checked."""

    run_dir: Path
    records: list[dict]
    audit_sha256: str
    missing: list[str] = field(default_factory=list)  # recorded files absent from the folder

    def payloads(self, kind: str) -> list[dict]:
        return [r["payload"] for r in self.records if r["kind"] == kind]

    def payload(self, kind: str) -> dict | None:
        found = self.payloads(kind)
        return found[0] if found else None

    @property
    def run(self) -> dict:
        return self.payload("run") or {}

    @property
    def seed(self) -> str:
        return (self.payload("seed") or {}).get("seed", "")

    @property
    def tie_break(self) -> str:
        return (self.payload("seed") or {}).get("tie_break", "single")

    @property
    def time(self) -> str:
        return self.records[0].get("time", "")

    @property
    def created(self) -> dt.datetime | None:
        """The run's recorded time: fixes the PDF CreationDate so that output is reproducible."""
        try:
            return dt.datetime.strptime(self.time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            return None

    def file_digests(self) -> list[tuple[str, str, int | None, str]]:
        """(kind, file, rows, sha256) of every file the log names, in log order."""
        return [
            (r["kind"], r["payload"]["file"], r["payload"].get("rows"), r["payload"]["sha256"])
            for r in self.records
            if r["kind"] in ("input", "commitment", "output") and "sha256" in r["payload"]
        ]

    def input_path(self, role: str) -> Path | None:
        for payload in self.payloads("input"):
            if payload.get("role") == role and (self.run_dir / payload["file"]).exists():
                return self.run_dir / payload["file"]
        return None


def read_run(run_dir: Path) -> RunRecord:
    """Read and check a run folder: the audit chain must hold and every recorded file that is
    present must have its recorded SHA-256, else InputError (what we print must match the files).
    Inputs may be absent (a run verified with `--inputs DIR` keeps them elsewhere)."""
    run_dir = Path(run_dir)
    audit = run_dir / AUDIT_FILE
    if not audit.is_file():
        raise FileNotFoundError(f"{audit} is missing: is {run_dir} a run folder?")
    records, broken = read_chain(audit)
    if broken:
        raise InputError(
            [Problem(str(run_dir), None, None, f"{b}; run `seats audit verify`") for b in broken]
        )
    run = RunRecord(run_dir, records, sha256_file(audit))
    problems = []
    for kind, name, _rows, digest in run.file_digests():
        path = run_dir / name
        if not path.is_file():
            if kind == "output":
                problems.append(Problem(str(run_dir), None, None, f"{name} is missing"))
            else:
                run.missing.append(name)
        elif sha256_file(path) != digest:
            problems.append(
                Problem(
                    str(run_dir),
                    None,
                    None,
                    f"{name} does not match its SHA-256 in {AUDIT_FILE}; run `seats audit verify`",
                )
            )
    if problems:
        raise InputError(problems)
    return run


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def school_names(run: RunRecord) -> dict[str, str]:
    """school_id -> name from the run's copy of the schools file ({} without a name column)."""
    path = run.input_path("schools")
    if path is None:
        return {}
    encoding = run.run.get("options", {}).get("encoding")
    table = read_table(path, encoding=encoding, name=path.name)
    if not table.has("name"):
        return {}
    return dict(zip(table.text("school_id"), table.text("name", required=False), strict=True))


# --- PDF pages ------------------------------------------------------------------------------

A4 = (8.27, 11.69)  # inches
A4_LANDSCAPE = (11.69, 8.27)
MARGIN = 40.0  # points
Drawer = Callable[[Figure], None]


@dataclass
class Page:
    draw: Drawer
    size: tuple[float, float] = A4


def put(fig: Figure, x: float, y: float, text: str, **style) -> None:
    """Text at (x, y) in points from the bottom left; '$' is literal (no mathtext)."""
    width, height = fig.get_size_inches() * 72
    fig.text(x / width, y / height, text, parse_math=False, **style)


def render_pdf(
    path: Path,
    pages: list[Page],
    *,
    title: str,
    created: dt.datetime | None,
    footer: str,
    fonts: Fonts,
) -> int:
    """Write pages to a PDF with "page k of n" footers; returns the page count.

    CreationDate comes from the run (or is left out), so the same run gives the same bytes."""
    metadata = {"Title": title, "Creator": f"seats {seats.__version__}", "CreationDate": created}
    with (
        matplotlib.rc_context({"axes.unicode_minus": False, **fonts.rc}),
        quiet_font_warnings(),
        PdfPages(path, metadata=metadata) as pdf,
    ):
        for number, page in enumerate(pages, start=1):
            fig = Figure(figsize=page.size)
            page.draw(fig)
            width = page.size[0] * 72
            put(fig, MARGIN, 20, footer, fontsize=6.5, color="0.35", family=fonts.sans)
            put(
                fig,
                width - MARGIN,
                20,
                f"page {number} of {len(pages)}",
                fontsize=7,
                ha="right",
                family=fonts.sans,
            )
            pdf.savefig(fig)
    return len(pages)


@contextlib.contextmanager
def quiet_font_warnings() -> Iterator[None]:
    """Missing glyphs are reported once, in the caller's warnings, not per character; and CJK
    fonts without a bold face fall back to regular, which is fine for a heading."""
    font_log = logging.getLogger("matplotlib.font_manager")
    level = font_log.level
    font_log.setLevel(max(level, logging.ERROR))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
            yield
    finally:
        font_log.setLevel(level)


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`, moved over it only when the block succeeds (a plain
    file name rather than mkstemp, so the report gets the usual permissions)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


# Text styles: font size, family kind, weight, space above in points, wrap width in characters.
STYLES = {
    "title": (15, "sans", "bold", 0, 70),
    "heading": (11, "sans", "bold", 14, 90),
    "body": (8.5, "sans", "normal", 3, 118),
    "mono": (7, "mono", "normal", 2, 118),
}


class TextFlow:
    """Lays out lines of text from the top of A4 pages down, starting a new page when full."""

    def __init__(self, fonts: Fonts, header: str = ""):
        self.fonts, self.header = fonts, header
        self.pages: list[list[tuple[float, str, str]]] = []
        self.y = 0.0

    def _new_page(self) -> None:
        self.pages.append([])
        self.y = A4[1] * 72 - MARGIN

    def add(self, kind: str, text: str = "", indent: int = 0) -> None:
        size, _family, _weight, space, width = STYLES[kind]
        # Wrapped command lines are indented so that a reader sees they continue.
        hang = "    " if kind == "mono" else ""
        lines = textwrap.wrap(
            text, width - indent, subsequent_indent=hang, break_on_hyphens=False
        ) or [""]
        for i, line in enumerate(lines):
            step = size * 1.35 + (space if i == 0 else 0)
            if not self.pages or self.y - step < MARGIN + 20:
                self._new_page()
            self.y -= step
            self.pages[-1].append((self.y, kind, " " * indent + line))

    def page_list(self) -> list[Page]:
        def drawer(items):
            def draw(fig: Figure) -> None:
                for y, kind, line in items:
                    size, family, weight, _space, _width = STYLES[kind]
                    fonts = self.fonts.mono if family == "mono" else self.fonts.sans
                    put(fig, MARGIN, y, line, fontsize=size, family=fonts, weight=weight)

            return draw

        return [Page(drawer(items)) for items in self.pages]


@dataclass
class Column:
    header: str
    width: float  # points
    align: str = "left"  # or "right"


COURIER_ADVANCE = 0.6  # every WinAnsi glyph of Courier is 600/1000 em wide


def table_pages(
    columns: list[Column],
    rows: list[list[str]],
    *,
    heading: Callable[[int, int], list[str]],
    rows_per_page: int,
    fonts: Fonts,
    size: tuple[float, float] = A4,
    fontsize: float = 7,
    notes: Iterable[str] = (),
) -> list[Page]:
    """Pages of a monospaced table: `heading(k, n)` lines on top of each, then header and rows.

    With the core Courier font every glyph has the same width, so a row is one padded line of
    text (fast enough for lists of thousands of pupils). Otherwise every cell is placed alone on
    its row's baseline, so rows stay level even where CJK glyphs (wider and taller) appear."""
    chunks = [rows[i : i + rows_per_page] for i in range(0, len(rows), rows_per_page)] or [[]]
    line = fontsize * 1.45
    page_width, page_height = size[0] * 72, size[1] * 72
    family = fonts.mono
    advance = COURIER_ADVANCE * fontsize
    widths = [max(1, round(column.width / advance)) for column in columns]
    gap = 8.0

    def padded(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(width) if column.align == "right" else cell.ljust(width)
            for column, width, cell in zip(columns, widths, cells, strict=True)
        ).rstrip()

    def drawer(k: int, chunk: list[list[str]]) -> Drawer:
        def draw(fig: Figure) -> None:
            y = page_height - MARGIN
            for i, text in enumerate(heading(k, len(chunks))):
                y -= 13 if i == 0 else 10
                style = {"fontsize": 11, "weight": "bold"} if i == 0 else {"fontsize": 7}
                put(fig, MARGIN, y, text, family=family, **style)
            y -= 18
            style = {"fontsize": fontsize, "family": family}
            if fonts.core:
                put(fig, MARGIN, y, padded([c.header for c in columns]), weight="bold", **style)
                for r, row in enumerate(chunk, start=1):
                    put(fig, MARGIN, y - line * (r + 0.3), padded([str(v) for v in row]), **style)
                right = MARGIN + (sum(widths) + 2 * (len(widths) - 1)) * advance
            else:
                x = MARGIN
                for c, column in enumerate(columns):
                    at = x + column.width if column.align == "right" else x
                    put(fig, at, y, column.header, weight="bold", ha=column.align, **style)
                    for r, row in enumerate(chunk, start=1):
                        put(fig, at, y - line * (r + 0.3), str(row[c]), ha=column.align, **style)
                    x += column.width + gap
                right = x - gap
            rule = y - line * 0.45
            fig.add_artist(
                Line2D(
                    [MARGIN / page_width, right / page_width],
                    [rule / page_height] * 2,
                    linewidth=0.5,
                    color="0.3",
                )
            )
            bottom = y - line * (len(chunk) + 1.5)
            for note in notes:
                put(fig, MARGIN, bottom, note, fontsize=6.5, family=family)
                bottom -= 9

        return draw

    return [Page(drawer(k, chunk), size) for k, chunk in enumerate(chunks, start=1)]


# --- the supervisor's report ----------------------------------------------------------------

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
