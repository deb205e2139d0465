"""PDF building blocks shared by the report and the public list: CJK fonts, A4 pages, text
flow, tables, fixed metadata (so that the same run gives the same bytes)."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import os
import textwrap
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from matplotlib import font_manager
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

import seats

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
