"""The public results list (公示名单) of a lottery run: `public_list.csv` and a printable PDF.

Only what a parent needs to find and check their own result is published: the masked applicant id,
the lottery number, the result and the waitlist positions. No other column of the applicants file
(zone, category, gender, birth date, sibling, ...) ever leaves the run folder.

Rows are in lottery-number order, which hides the order of registration and lets a parent who
recomputed their number with ``sha256sum`` find their row like a word in a dictionary. Under single
tie-break every applicant has one number, ``SHA-256(seed + "\\n" + applicant_id)``, shown also for
the unplaced. Under multiple tie-break the number shown is the one at the school of placement (as
in assignments.csv); applicants without one come last, ordered by their single-form number.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from seats.io.errors import InputError, Problem
from seats.io.output import sha256_file, staged_output, write_csv
from seats.io.tables import read_table
from seats.lottery import lottery_number
from seats.supervision.pdf import INSTALL_HINT, Column, fonts_for, render_pdf, table_pages
from seats.supervision.report import number_command
from seats.supervision.run_record import RunRecord, read_rows, read_run

PUBLIC_CSV, PUBLIC_PDF = "public_list.csv", "public_list.pdf"
PUBLIC_COLUMNS = ["masked_id", "lottery_number", "status", "school_id", "choice_rank", "waitlist"]
ROWS_PER_PAGE = 45


def mask_id(applicant_id: str) -> str:
    """Keep the first and last character, one '*' for each character between (张小明 -> 张*明,
    PA21-00017 -> P********7). Ids of two characters keep only the first (AB -> A*) and an id of one
    character becomes '*': keeping "first and last" there would publish the whole id."""
    n = len(applicant_id)
    if n <= 2:
        return applicant_id[: n - 1] + "*" if n else ""
    return applicant_id[0] + "*" * (n - 2) + applicant_id[-1]


@dataclass
class PublishSummary:
    out_dir: Path
    rows: int
    pages: int
    csv_sha256: str
    pdf_sha256: str
    warnings: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [
            f"public list of {self.rows:,} applicants -> {self.out_dir}",
            f"  {PUBLIC_CSV}  sha256 {self.csv_sha256}",
            f"  {PUBLIC_PDF}  sha256 {self.pdf_sha256} ({self.pages} pages)",
        ]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _choice_order(run: RunRecord) -> dict[str, list[str]] | None:
    """applicant_id -> ranked school ids, from the run's copy of the applicants file."""
    path = run.input_path("applicants")
    if path is None:
        return None
    encoding = run.run.get("options", {}).get("encoding")
    table = read_table(path, encoding=encoding, name=path.name)
    return {
        applicant: [c.strip() for c in choices.split(";") if c.strip()]
        for applicant, choices in zip(
            table.text("applicant_id"), table.text("choices", required=False), strict=True
        )
    }


def public_rows(run: RunRecord) -> tuple[list[list[str]], list[str]]:
    """The rows of the public list in lottery-number order, and warnings."""
    warnings: list[str] = []
    positions: dict[str, dict[str, str]] = defaultdict(dict)
    for row in read_rows(run.run_dir / "waitlists.csv"):
        positions[row["applicant_id"]][row["school_id"]] = row["position"]
    choices = _choice_order(run)
    if choices is None:
        warnings.append("the applicants file is not in the run folder: waitlists in school order")

    seed, single = run.seed, run.tie_break == "single"
    keyed = []
    for row in read_rows(run.run_dir / "assignments.csv"):
        applicant = row["applicant_id"]
        own_number = lottery_number(seed, applicant)
        # Under single tie-break everyone has one number, also the unplaced; under multiple the
        # number shown is the one at the school of placement, as in assignments.csv.
        shown = own_number if single else row["lottery_number"]
        waiting = positions.get(applicant, {})
        ranked = (choices or {}).get(applicant, [])
        order = [s for s in ranked if s in waiting] + sorted(s for s in waiting if s not in ranked)
        waitlist = ";".join(f"{s}:{waiting[s]}" for s in order)
        keyed.append(
            (
                (0, shown) if shown else (1, own_number),
                [
                    mask_id(applicant),
                    shown,
                    row["status"],
                    row["school_id"],
                    row["choice_rank"],
                    waitlist,
                ],
            )
        )
    keyed.sort(key=lambda pair: pair[0])
    return [row for _key, row in keyed], warnings


def publish_results(run_dir: Path, out_dir: Path, *, force: bool = False) -> PublishSummary:
    """Write `public_list.csv` and `public_list.pdf` of a run folder into `out_dir` (all or
    nothing; a non-empty `out_dir` is replaced only with `force`)."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if out_dir.resolve() == run_dir.resolve() or out_dir.resolve() in run_dir.resolve().parents:
        raise InputError(
            Problem("--out", None, None, f"{out_dir} would replace the run folder {run_dir}")
        )
    run = read_run(run_dir)
    rows, warnings = public_rows(run)
    fonts = fonts_for([run.seed, run.run_dir.name, *(cell for row in rows for cell in row)])
    if not fonts.core and fonts.cjk is None:
        warnings.append(f"no CJK font found: Chinese text prints as empty boxes; {INSTALL_HINT}")

    assignments_digest = next(
        (digest for kind, name, _rows, digest in run.file_digests() if name == "assignments.csv"),
        "",
    )
    title = "Public results list" + (" 电脑派位结果公示" if fonts.chinese else "")

    def heading(k: int, n: int) -> list[str]:
        return [
            f"{title}: {run.run_dir.name}",
            f"seed: {run.seed}    tie-break: {run.tie_break}    drawn {run.time} (UTC)",
            f"SHA-256 of assignments.csv: {assignments_digest}",
            f"Rows in lottery-number order. Your number: {number_command(run.tie_break)}",
        ]

    # 6.5 pt monospace: the full 64-digit lottery number fits an A4 portrait line. Columns are
    # as wide as their longest cell; CJK glyphs are about twice as wide as Latin ones.
    char = 6.5 * 0.6

    def fit(c: int, header: str, align: str = "left") -> Column:
        cells = (sum(1 if ch.isascii() else 2 for ch in row[c]) for row in rows)
        return Column(header, max([len(header), *cells]) * char, align)

    columns = [
        fit(0, "masked_id"),
        Column("lottery_number", 64 * char),
        fit(2, "status"),
        fit(3, "school"),
        fit(4, "rank", "right"),
        fit(5, "waitlist"),
    ]
    pages = table_pages(
        columns,
        rows,
        heading=heading,
        rows_per_page=ROWS_PER_PAGE,
        fontsize=6.5,
        fonts=fonts,
        notes=[
            "status: placed (by choice, rank = choice), assigned (nearest school with seats), "
            "unplaced.",
            "waitlist: school:position for each school ranked above the result, in choice order.",
        ],
    )
    with staged_output(out_dir, force) as stage:
        count = write_csv(stage / PUBLIC_CSV, PUBLIC_COLUMNS, rows)
        page_count = render_pdf(
            stage / PUBLIC_PDF,
            pages,
            title=f"Public results list: {run.run_dir.name}",
            created=run.created,
            footer=f"seats lottery publish: {run.run_dir.name}, seed {run.seed}",
            fonts=fonts,
        )
        digests = sha256_file(stage / PUBLIC_CSV), sha256_file(stage / PUBLIC_PDF)
    return PublishSummary(out_dir, count, page_count, *digests, warnings)
