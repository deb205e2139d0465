"""The public results list (公示名单) of a lottery run: CSV, printable PDF and a web page.

What is published, and why (threat model in README.md, "Privacy of the public list"):

- no applicant id, masked or not, no lottery number and no tier of any child: the seed is public
  after the draw, so a number beside a guessable id would tell who that child is (enumerating the
  ids takes well under a second, benchmarks/RESULTS.md), and the order of a waitlist with numbers
  would tell each child's tier (e.g. migrant status);
- one row per applicant keyed by its 公示号 (:mod:`seats.supervision.codes`), which only the
  family can link to the child, with the result, the school (name and id), the choice rank, the
  waitlist positions, and a check value that confirms the child's own lottery number to whoever
  holds the child's 查询码;
- per school the cutoff (录取分界): the tier of the last child admitted by choice and only the
  first digits of the lottery numbers at the boundary, so few that at least
  :data:`CUTOFF_ANONYMITY` applicants share them (never a child's number).

Rows are in 公示号 order, which is unrelated to registration order.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from seats.io.errors import InputError, Problem
from seats.io.output import sha256_file, staged_output, write_csv
from seats.io.tables import read_table
from seats.lottery.commitment import read_secret
from seats.supervision.codes import applicant_code, id_check, row_check, row_key
from seats.supervision.labels import (
    STATUS_EN,
    public_cutoff,
    reason_zh,
    reserve_labels,
    school_text,
    status_text,
    tier_labels,
)
from seats.supervision.pdf import (
    INSTALL_HINT,
    NO_FONT_NOTE,
    Column,
    Fonts,
    TextFlow,
    fonts_for,
)
from seats.supervision.pdf_document import TableSpec, render_document
from seats.supervision.run_record import RunRecord, read_rows, read_run, school_names
from seats.supervision.webpage import PUBLIC_PAGE, render_page

PUBLIC_CSV, PUBLIC_PDF, CUTOFFS_CSV = "public_list.csv", "public_list.pdf", "public_cutoffs.csv"
PUBLIC_COLUMNS = [
    "公示号 row_key",
    "结果 result",
    "学校编号 school_id",
    "学校 school",
    "志愿 choice",
    "候补位次 waitlist",
    "说明 note",
    "校验值 check",
]
CUTOFF_COLUMNS = [
    "学校编号 school_id",
    "学校 school",
    "学位 seats",
    "报名 applicants",
    "志愿录取 admitted",
    "统筹 assigned",
    "候补 waitlist",
    "录取分界 cutoff",
]
ROWS_PER_PAGE = 50
PDF_MAX_ROWS = 20_000  # about 400 pages; above it the list is published as CSV and web page


@dataclass
class PublishSummary:
    out_dir: Path
    rows: int
    pages: int
    digests: dict[str, str]
    warnings: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [
            f"公示名单 {self.rows:,} 行 -> {self.out_dir}",
            f"public list of {self.rows:,} applicants (no ids, no lottery numbers)",
        ]
        for name, digest in self.digests.items():
            extra = f" （{self.pages} 页 pages）" if name == PUBLIC_PDF else ""
            lines.append(f"  {name}  sha256 {digest}{extra}")
        lines.append(f"  家长用查询码在 {PUBLIC_PAGE} 中核对本人结果与派位号")
        lines += [f"注意 warning: {w}" for w in self.warnings]
        return "\n".join(lines)


@dataclass
class PublicRow:
    key: str
    status: str
    school_id: str
    choice_rank: str
    waitlist: list[tuple[str, str]]  # (school_id, position) in choice order
    number_school: str  # the school of the number's multiple form; "" for the single form
    check: str
    id_check: str
    reserve: str = ""
    reason: str = ""


def _choice_order(run: RunRecord) -> dict[str, list[str]]:
    """applicant_id -> ranked school ids, from the run's copy of the applicants file."""
    path = run.input_path("applicants")
    if path is None:
        raise InputError(
            Problem(str(run.run_dir), None, None, "the applicants file is not in the run folder")
        )
    encoding = run.run.get("options", {}).get("encoding")
    table = read_table(path, encoding=encoding, name=path.name)
    return {
        applicant: [c.strip() for part in choices.split(";") for c in part.split("|") if c.strip()]
        for applicant, choices in zip(
            table.text("applicant_id"), table.text("choices", required=False), strict=True
        )
    }


def public_rows(run: RunRecord, secret: bytes) -> list[PublicRow]:
    """One row per applicant, in 公示号 order."""
    positions: dict[str, dict[str, str]] = defaultdict(dict)
    for row in read_rows(run.run_dir / "waitlists.csv"):
        positions[row["applicant_id"]][row["school_id"]] = row["position"]
    choices = _choice_order(run)
    multiple = run.tie_break == "multiple"
    rows = []
    for row in read_rows(run.run_dir / "assignments.csv"):
        applicant = row["applicant_id"]
        code = applicant_code(secret, applicant)
        number = row.get("lottery_number", "")
        if not number and row["status"] != "ineligible":
            # v1 runs leave the unplaced children's number empty: it is the single form.
            number = hashlib.sha256(f"{run.seed}\n{applicant}".encode()).hexdigest()
        waiting = positions.get(applicant, {})
        ranked = choices.get(applicant, [])
        order = [s for s in ranked if s in waiting] + sorted(s for s in waiting if s not in ranked)
        rows.append(
            PublicRow(
                key=row_key(code),
                status=row["status"],
                school_id=row["school_id"],
                choice_rank=row["choice_rank"],
                waitlist=[(s, waiting[s]) for s in order],
                number_school=row["school_id"] if multiple and row["status"] == "placed" else "",
                check=row_check(code, number) if number else "",
                id_check=id_check(code, applicant),
                reserve=row.get("reserve", ""),
                reason=row.get("reason", ""),
            )
        )
    rows.sort(key=lambda r: (r.key, r.check))
    return rows


def public_cutoff_rows(run: RunRecord, names: dict[str, str]) -> list[dict]:
    policy = run.run.get("policy", {})
    labels = tier_labels(policy)
    applicants = sum(1 for _ in read_rows(run.run_dir / "assignments.csv"))
    out = []
    for r in read_rows(run.run_dir / "schools.csv"):
        full = int(r.get("seats_left") or 0) <= 0 and int(r.get("waitlist") or 0) > 0
        tier = r.get("cutoff_tier", "")
        zh, en = public_cutoff(
            labels.get(tier, tier), r.get("cutoff_lottery_number", "") if full else "", applicants
        )
        out.append(
            {
                "school_id": r["school_id"],
                "name": names.get(r["school_id"], ""),
                "seats": r["seats"],
                "applicants": r["applicants"],
                "placed": r["placed"],
                "assigned": r.get("assigned", "0"),
                "waitlist": r.get("waitlist", "0"),
                "cutoff_zh": zh,
                "cutoff_en": en,
            }
        )
    return out


def reason_text(reason: str) -> str:
    """The ineligibility reason in Chinese, the bound beside it in English."""
    return f"{reason_zh(reason)} {reason}" if reason.startswith("born ") else reason


def _note(row: PublicRow, reserves: dict[str, str]) -> str:
    """The row's note: why a child took no part. The reserve a seat came under is not
    published: it says what the child is (e.g. 随班就读: a disability), as a tier would."""
    return reason_text(row.reason) if row.reason else ""


def _check_secret(run: RunRecord, secret: bytes, warnings: list[str]) -> None:
    committed = None
    path = run.run_dir / "inputs" / "commitment.json"
    if path.is_file():
        committed = json.loads(path.read_text(encoding="utf-8")).get("district_secret_sha256")
    if committed is None:
        warnings.append(
            "区级密钥未在派位前承诺 the district secret was not fixed in a commitment before "
            "the draw (seats lottery commit --secret)"
        )
    elif hashlib.sha256(secret).hexdigest() != committed:
        raise InputError(
            Problem(
                "--secret",
                None,
                None,
                "this is not the district secret fixed in the run's commitment "
                f"(its SHA-256 should be {committed})",
            )
        )


def publish_results(
    run_dir: Path, out_dir: Path, *, secret_path: Path, force: bool = False
) -> PublishSummary:
    """Write the public list of a run folder into `out_dir` (all or nothing; a non-empty
    `out_dir` is replaced only with `force`): public_list.csv, public_list.pdf,
    public_cutoffs.csv and the web page public_page.html."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if out_dir.resolve() == run_dir.resolve() or out_dir.resolve() in run_dir.resolve().parents:
        raise InputError(
            Problem("--out", None, None, f"{out_dir} would replace the run folder {run_dir}")
        )
    secret = read_secret(secret_path)
    run = read_run(run_dir)
    warnings: list[str] = []
    _check_secret(run, secret, warnings)
    rows = public_rows(run, secret)
    names = school_names(run)
    policy = run.run.get("policy", {})
    reserves = reserve_labels(policy)
    cutoffs = public_cutoff_rows(run, names)
    fonts = fonts_for(["公示"])
    if not fonts.chinese:
        warnings.append(f"no CJK font found: the PDF shows English and school ids; {INSTALL_HINT}")
    digest = next(
        (digest for _k, name, _rows, digest in run.file_digests() if name == "assignments.csv"),
        "",
    )
    page = render_page(
        run_name=run.run_dir.name,
        seed=run.seed,
        tie_break=run.tie_break,
        drawn=run.time,
        assignments_sha256=digest,
        names=names,
        cutoffs=cutoffs,
        rows=rows,
        reserves=reserves,
    )
    csv_rows = [
        [
            r.key,
            status_text(r.status, r.choice_rank),
            r.school_id,
            names.get(r.school_id, ""),
            r.choice_rank,
            ";".join(f"{school_text(s, names)}:{p}" for s, p in r.waitlist),
            _note(r, reserves),
            r.check,
        ]
        for r in rows
    ]
    cutoff_rows = [
        [
            c["school_id"],
            c["name"],
            c["seats"],
            c["applicants"],
            c["placed"],
            c["assigned"],
            c["waitlist"],
            c["cutoff_zh"],
        ]
        for c in cutoffs
    ]
    with staged_output(out_dir, force, protect=[run_dir]) as stage:
        count = write_csv(stage / PUBLIC_CSV, PUBLIC_COLUMNS, csv_rows)
        write_csv(stage / CUTOFFS_CSV, CUTOFF_COLUMNS, cutoff_rows)
        page_count = 0
        if len(rows) <= PDF_MAX_ROWS:
            flow, table = _pdf_parts(run, rows, cutoffs, names, reserves, digest, fonts)
            page_count = render_document(
                stage / PUBLIC_PDF,
                [flow, table],
                title=f"电脑派位结果公示 Public results list: {run.run_dir.name}",
                footer=f"seats lottery publish: {run.run_dir.name}, seed {run.seed}",
                fonts=fonts,
            )
        else:  # bounded work: nobody prints 20,000 rows; the CSV and the web page hold them all
            warnings.append(
                f"{len(rows):,} rows: {PUBLIC_PDF} is written for at most {PDF_MAX_ROWS:,}; "
                f"publish {PUBLIC_CSV} and {PUBLIC_PAGE}"
            )
        (stage / PUBLIC_PAGE).write_text(page, encoding="utf-8", newline="\n")
        digests = {
            name: sha256_file(stage / name)
            for name in (PUBLIC_PDF, PUBLIC_PAGE, PUBLIC_CSV, CUTOFFS_CSV)
            if (stage / name).exists()
        }
    return PublishSummary(out_dir, count, page_count, digests, warnings)


def _pdf_parts(run, rows, cutoffs, names, reserves, digest, fonts: Fonts):
    zh = fonts.chinese

    def bi(chinese: str, english: str) -> str:
        return f"{chinese} {english}" if zh else english

    flow = TextFlow(fonts)
    flow.add("title", bi("电脑派位结果公示", "Public results list") + f": {run.run_dir.name}")
    if not zh:
        flow.add("body", NO_FONT_NOTE)
    flow.add("mono", f"seed: {run.seed}    tie-break: {run.tie_break}    drawn {run.time} (UTC)")
    flow.add("mono", f"SHA-256 of assignments.csv: {digest}")
    flow.add("heading", bi("如何查找与核对", "How to find and check your row"))
    if zh:
        flow.add(
            "body",
            "本名单不含任何申请编号和派位号。请凭报名回执上的公示号查找本人一行；用回执上的查询码"
            "在网页 public_page.html 中输入申请编号，网页会用公开的种子重新计算您的派位号并显示"
            "“一致”或“不一致”。",
        )
    flow.add(
        "body",
        "No applicant id and no lottery number is printed. Find your row by the 公示号 on your "
        "registration receipt; open public_page.html, type your applicant id and the 查询码 of "
        "the receipt: it recomputes your lottery number from the seed and answers matches / "
        "does not match. Or by hand:",
    )
    command = 'printf \'%s\\n%s\' "$SEED" "$APPLICANT_ID" | sha256sum'
    if run.tie_break == "multiple":
        command += '   (placed: printf \'%s\\n%s\\n%s\' "$SEED" "$SCHOOL_ID" "$APPLICANT_ID")'
    flow.add("mono", f"NUMBER: {command}")
    flow.add(
        "mono",
        'CHECK:  printf \'seats check\\n%s\\n%s\' "$CODE" "$NUMBER" | sha256sum | cut -c1-16',
    )
    flow.add(
        "body",
        bi("（查询码去掉短横线，大写）", "($CODE without dashes, in capitals)")
        + " "
        + bi("校验值相同即一致。", "The same check value as your row means it matches."),
    )
    flow.add("heading", bi("各校录取分界", "Cutoffs by school"))
    for c in cutoffs:
        school = f"{c['name']}（{c['school_id']}）" if zh and c["name"] else c["school_id"]
        flow.add(
            "body",
            f"{school}: {bi('学位', 'seats')} {c['seats']}, {bi('报名', 'applicants')} "
            f"{c['applicants']}, {bi('录取', 'admitted')} {c['placed']}, "
            f"{bi('候补', 'waitlist')} {c['waitlist']}; "
            + (c["cutoff_zh"] if zh else c["cutoff_en"]),
        )

    # Rows show school names (ids without a CJK font) and no check value (in the CSV and the
    # web page).
    table = [
        [
            r.key,
            status_text(r.status, r.choice_rank) if zh else STATUS_EN.get(r.status, r.status),
            school_text(r.school_id, names) if zh and r.school_id else r.school_id,
            ";".join(f"{s}:{p}" for s, p in r.waitlist),
            _note(r, reserves) if zh else r.reason,
        ]
        for r in rows
    ]
    char = 6.5 * 0.6

    def fit(c: int, header: str, align: str = "left") -> Column:
        cells = (sum(1 if ch.isascii() else 2 for ch in row[c]) for row in table)
        width = max([sum(1 if ch.isascii() else 2 for ch in header), *cells])
        return Column(header, width * char, align)

    columns = [
        fit(0, bi("公示号", "key")),
        fit(1, bi("结果", "result")),
        fit(2, bi("学校", "school")),
        fit(3, bi("候补", "waitlist")),
        fit(4, bi("说明", "note")),
    ]

    def heading(k: int, n: int) -> list[str]:
        return [
            bi("电脑派位结果公示", "Public results list") + f": {run.run_dir.name} ({k}/{n})",
            f"seed: {run.seed}    SHA-256 of assignments.csv: {digest}",
            bi("按公示号排序", "In 公示号 (key) order")
            + "; "
            + bi("候补 = 学校:位次", "waitlist = school:position"),
        ]

    return flow, TableSpec(columns, table, heading, ROWS_PER_PAGE, fontsize=6.5)
