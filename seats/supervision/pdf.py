"""PDF building blocks shared by the report and the public list: the CJK font, page sizes,
the text flow (lines laid out down A4 pages) and table columns, and chart pages (matplotlib
drawers); :mod:`seats.supervision.pdf_document` writes them with reportlab."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import textwrap
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from seats.io.fonts import find_cjk_font

# --- fonts ----------------------------------------------------------------------------------

# The CJK font is found by seats.io.fonts (the gap map's zone names use it too).
INSTALL_HINT = (
    "install a TrueType CJK font to print Chinese names, e.g. `apt-get install "
    "fonts-wqy-microhei` (not fonts-noto-cjk: matplotlib cannot embed its CFF outlines in PDF)"
)
# Said on the first page of a PDF made without a CJK font (in English: Chinese would not print).
NO_FONT_NOTE = (
    "Note: the computer that made this PDF has no CJK font, so the Chinese text, school names "
    "and tier labels are left out and schools are shown by their ids. To print them, "
    + INSTALL_HINT
    + ", then run the command again."
)


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


# --- pages ------------------------------------------------------------------------------


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


def _columns(char: str) -> int:
    """Display columns of a character: CJK (East Asian wide) ones take two."""
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def _wrap(text: str, width: int, hang: str) -> list[str]:
    """textwrap.wrap by display columns, so that Chinese lines (two columns a character, no
    spaces between words) stay inside the page too."""
    if all(_columns(c) == 1 for c in text):
        return textwrap.wrap(text, width, subsequent_indent=hang, break_on_hyphens=False)
    lines, line, used = [], "", 0
    for word in re.findall(r"\S+\s*|\s+", text):
        size = sum(map(_columns, word))
        if used + size > width and line.strip():
            lines.append(line.rstrip())
            line, used = hang, len(hang)
        if size > width - used:  # a run of Chinese longer than a line: break anywhere
            for char in word:
                if used + _columns(char) > width and line.strip():
                    lines.append(line.rstrip())
                    line, used = hang, len(hang)
                line += char
                used += _columns(char)
        else:
            line += word
            used += size
    if line.strip():
        lines.append(line.rstrip())
    return lines


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
        lines = _wrap(text, width - indent, hang) or [""]
        for i, line in enumerate(lines):
            step = size * 1.35 + (space if i == 0 else 0)
            if not self.pages or self.y - step < MARGIN + 20:
                self._new_page()
            self.y -= step
            self.pages[-1].append((self.y, kind, " " * indent + line))


@dataclass
class Column:
    header: str
    width: float  # points
    align: str = "left"  # or "right"


# --- the supervisor's report ----------------------------------------------------------------
