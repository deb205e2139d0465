"""Long lists as PDF with reportlab, a library made for documents: the public list's thousands
of rows take about a second, where matplotlib (one laid-out text object per row, glyph by
glyph through its font fallback) took close to a minute for the district's 8,100 children.

Text pages come from :class:`seats.supervision.pdf.TextFlow` (its layout, drawn here); table
pages are drawn line by line, each cell at its column. The CJK font (:func:`find_cjk_font`) is
embedded as a subset; without one, Helvetica and Courier print the English text. Output is
byte-reproducible: reportlab's invariant mode fixes the document id and date.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib import font_manager

import seats
from seats.supervision.pdf import (
    A4,
    MARGIN,
    STYLES,
    Column,
    Fonts,
    Page,
    TextFlow,
    quiet_font_warnings,
)

CJK = "SeatsCJK"
CHART_DPI = 150  # charts are drawn as images at this resolution


@dataclass
class TableSpec:
    columns: list[Column]
    rows: list[list[str]]
    heading: Callable[[int, int], list[str]]
    rows_per_page: int
    fontsize: float = 6.5
    notes: Iterable[str] = field(default_factory=tuple)
    size: tuple[float, float] = A4


def _font_names(fonts: Fonts) -> tuple[str, str, str]:
    """(sans, bold, mono) font names registered with reportlab for these fonts."""
    if not fonts.chinese:
        return "Helvetica", "Helvetica-Bold", "Courier"
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if CJK not in pdfmetrics.getRegisteredFontNames():
        path = font_manager.findfont(
            font_manager.FontProperties(family=fonts.cjk), fallback_to_default=False
        )
        pdfmetrics.registerFont(TTFont(CJK, path, subfontIndex=0))
    return CJK, CJK, CJK


def _chart_png(page: Page, fonts: Fonts) -> bytes:
    """A matplotlib page (a chart) as a PNG at CHART_DPI: drawn by Agg, which needs no font
    embedding; the same inputs give the same bytes."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=page.size)
    FigureCanvasAgg(fig)
    with matplotlib.rc_context({"axes.unicode_minus": False, **fonts.rc}), quiet_font_warnings():
        page.draw(fig)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=CHART_DPI, metadata={"Software": None})
    return buffer.getvalue()


Part = TextFlow | TableSpec | Page


def _page_count(part: Part) -> int:
    if isinstance(part, TextFlow):
        return len(part.pages)
    if isinstance(part, TableSpec):
        return max(1, -(-len(part.rows) // part.rows_per_page))
    return 1


def render_document(
    path: Path,
    parts: list[Part],
    *,
    title: str,
    footer: str,
    fonts: Fonts,
) -> int:
    """Write the parts in order (text flows, tables, matplotlib charts as images) with
    "page k of n" footers; returns the page count."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

    sans, bold, mono = _font_names(fonts)
    total = sum(map(_page_count, parts))
    canvas = Canvas(str(path), pagesize=(A4[0] * 72, A4[1] * 72), invariant=1, pageCompression=1)
    canvas.setTitle(title)
    canvas.setCreator(f"seats {seats.__version__}")
    number = 0

    def start(size: tuple[float, float]) -> tuple[float, float]:
        canvas.setPageSize((size[0] * 72, size[1] * 72))
        return size[0] * 72, size[1] * 72

    def finish(width: float) -> None:
        nonlocal number
        number += 1
        canvas.setFont(sans, 6.5)
        canvas.setFillGray(0.35)
        canvas.drawString(MARGIN, 20, footer)
        canvas.setFillGray(0)
        canvas.setFont(sans, 7)
        label = f"page {number} of {total}"
        if fonts.chinese:
            label = f"第 {number} 页 / 共 {total} 页  {label}"
        canvas.drawRightString(width - MARGIN, 20, label)
        canvas.showPage()

    for part in parts:
        if isinstance(part, TextFlow):
            for items in part.pages:
                width, _ = start(A4)
                for y, kind, line in items:
                    size, family, weight, _space, _width = STYLES[kind]
                    name = mono if family == "mono" else (bold if weight == "bold" else sans)
                    canvas.setFont(name, size)
                    canvas.drawString(MARGIN, y, line)
                finish(width)
        elif isinstance(part, TableSpec):
            _table(canvas, part, start, finish, (sans, bold, mono))
        else:
            width, height = start(part.size)
            image = ImageReader(io.BytesIO(_chart_png(part, fonts)))
            canvas.drawImage(image, 0, 0, width, height)
            finish(width)
    canvas.save()
    return number


def _table(canvas, table: TableSpec, start, finish, names: tuple[str, str, str]) -> None:
    _sans, bold, mono = names
    step = table.rows_per_page
    chunks = [table.rows[i : i + step] for i in range(0, len(table.rows), step)] or [[]]
    line = table.fontsize * 1.45
    gap = 8.0
    starts, x = [], MARGIN
    for column in table.columns:
        starts.append(x)
        x += column.width + gap
    right = x - gap
    for k, chunk in enumerate(chunks, start=1):
        width, height = start(table.size)
        y = height - MARGIN
        for i, text in enumerate(table.heading(k, len(chunks))):
            y -= 13 if i == 0 else 10
            canvas.setFont(bold if i == 0 else mono, 11 if i == 0 else 7)
            canvas.drawString(MARGIN, y, text)
        y -= 18
        cells = [[c.header for c in table.columns], *([str(v) for v in r] for r in chunk)]
        for r, row in enumerate(cells):
            at = y - line * (r + 0.3 if r else 0)
            canvas.setFont(bold if r == 0 else mono, table.fontsize)
            for cell, column, begin in zip(row, table.columns, starts, strict=True):
                if column.align == "right":
                    canvas.drawRightString(begin + column.width, at, cell)
                else:
                    canvas.drawString(begin, at, cell)
        rule = y - line * 0.45
        canvas.setLineWidth(0.5)
        canvas.setStrokeGray(0.3)
        canvas.line(MARGIN, rule, right, rule)
        bottom = y - line * (len(chunk) + 1.5)
        canvas.setFont(mono, 6.5)
        for note in table.notes:
            canvas.drawString(MARGIN, bottom, note)
            bottom -= 9
        finish(width)
