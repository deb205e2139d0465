"""The installed font that draws Chinese: for the PDFs (seats.supervision) and the charts'
names (sim), found once per process."""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

from matplotlib import font_manager

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
