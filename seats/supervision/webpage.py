"""The public web page (公示查询页): one self-contained HTML file, no network, no CDN.

A parent opens it (on a phone too), types the applicant id and the 查询码 of the registration
receipt, and sees the result, the waitlist positions and the cutoffs of the schools concerned;
the page recomputes the lottery number from the published seed with Web Crypto SHA-256 (a small
JavaScript SHA-256 takes over where Web Crypto is not offered, e.g. a page served over plain
http) and answers 一致 (matches) or 不一致 (does not match) against the row's check value. The
data are the public list's rows (:mod:`seats.supervision.publish`): no id, no lottery number.
"""

from __future__ import annotations

import json
from importlib import resources

from seats.supervision.labels import STATUS_EN, STATUS_ZH

PUBLIC_PAGE = "public_page.html"
TEMPLATE = "webpage_template.html"
DATA_MARK = "/*SEATS_DATA*/"


def render_page(
    *,
    run_name: str,
    seed: str,
    tie_break: str,
    drawn: str,
    assignments_sha256: str,
    names: dict[str, str],
    cutoffs: list[dict],
    rows: list,
    reserves: dict[str, str],
) -> str:
    """The page's HTML text: the template with the data as one JSON object."""
    grouped: dict[str, list] = {}
    for r in rows:
        grouped.setdefault(r.key, []).append(
            [
                r.status,
                r.school_id,
                r.choice_rank,
                ";".join(f"{s}:{p}" for s, p in r.waitlist),
                r.number_school,
                r.check,
                r.id_check,
                reserves.get(r.reserve, r.reserve),
                r.reason,
            ]
        )
    data = {
        "run": run_name,
        "seed": seed,
        "tie_break": tie_break,
        "drawn": drawn,
        "assignments_sha256": assignments_sha256,
        "status_zh": STATUS_ZH,
        "status_en": STATUS_EN,
        "schools": names,
        "cutoffs": {c["school_id"]: [c["cutoff_zh"], c["cutoff_en"], c["seats"]] for c in cutoffs},
        "rows": grouped,
    }
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    # Inside <script>, "</" could end the element and "<!--" open a comment: escape both.
    text = text.replace("</", "<\\/").replace("<!--", "<\\!--")
    template = resources.files("seats.supervision").joinpath(TEMPLATE).read_text(encoding="utf-8")
    title = f"电脑派位结果查询 {run_name}".replace("&", "&amp;").replace("<", "&lt;")
    return template.replace("<!--SEATS_TITLE-->", title).replace(DATA_MARK, text)
