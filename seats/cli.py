"""The `seats` command line: parse options, call one library function, print.

Library errors become clean exits here and only here: bad input (InputError) exits with status 2
after listing every problem as ``file:line: column: what is wrong``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from seats import __version__
from seats.io.errors import InputError


class BadInput(click.ClickException):
    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(self.message, err=True)


class SeatsGroup(click.Group):
    """Turns library errors into exit status 2 with a plain message, for every subcommand."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except InputError as err:
            count = len(err.problems)
            raise BadInput(f"{err}\n{count} problem{'s' if count != 1 else ''} found") from err
        except OSError as err:  # missing file, a folder for a file, no permission, ...
            raise BadInput(f"error: {err}") from err


def encoding_option(func):
    return click.option(
        "--encoding",
        default=None,
        metavar="CODEC",
        help="Text encoding of CSV files, e.g. gbk for Excel exports (default: UTF-8, BOM or not).",
    )(func)


def output_folder(help_out: str, help_force: str = "Replace a non-empty folder."):
    """--out (the folder to create) and --force (replace it), for every command that writes one."""

    def decorate(func):
        func = click.option("--force", is_flag=True, help=help_force)(func)
        return click.option(
            "--out", "out_dir", required=True, type=click.Path(path_type=Path), help=help_out
        )(func)

    return decorate


def district_argument(func):
    return click.argument(
        "folder",
        required=False,
        type=click.Path(path_type=Path),
        metavar="[DIR]",
    )(func)


def resolve_folder(folder: Path | None) -> Path:
    from seats.io.model import embedded_dataset

    return folder if folder is not None else embedded_dataset()


@click.group(cls=SeatsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="seats")
def cli() -> None:
    """seats: admission lotteries (电脑派位), balanced classes, capacity planning."""


@cli.group()
def data() -> None:
    """Check and summarise a district data folder (default: the embedded Xinghualing district)."""


@data.command("check")
@district_argument
@encoding_option
def data_check(folder: Path | None, encoding: str | None) -> None:
    """Validate every file of a district folder; list every problem; exit 2 if any."""
    from seats.lottery.check import check_folder

    folder = resolve_folder(folder)
    if not folder.is_dir():
        raise BadInput(f"error: {folder}: not a folder")
    problems = check_folder(folder, encoding=encoding)
    if problems:
        raise InputError(problems)
    click.echo(f"{folder}: all files are valid")


@data.command("summary")
@district_argument
@encoding_option
@click.option("--year", default=2020, show_default=True, help="Year of the plan's indicators.")
def data_summary(folder: Path | None, encoding: str | None, year: int) -> None:
    """Print schools, seats and pupils by level and sector, groups, and the plan's indicators."""
    from seats.io.model import load_district
    from seats.io.summary import render_summary

    district = load_district(resolve_folder(folder), encoding=encoding)
    click.echo(render_summary(district, year))


@cli.group()
def lottery() -> None:
    """Admission lotteries (电脑派位): run a draw that anyone can recompute."""


def lottery_inputs(func):
    """The input files shared by `lottery run` and `lottery commit`."""
    options = [
        click.option(
            "--schools",
            "schools_path",
            required=True,
            type=click.Path(path_type=Path),
            help="Schools file: school_id, zone_id, seats (a district schools.csv too).",
        ),
        click.option(
            "--applicants",
            "applicants_path",
            required=True,
            type=click.Path(path_type=Path),
            help="Applicants file (lottery contract).",
        ),
        click.option(
            "--policy",
            "policy_path",
            type=click.Path(path_type=Path),
            help="Policy TOML (default: deferred acceptance, single tie-break, tiers "
            "sibling, same_zone).",
        ),
        click.option(
            "--zones",
            "zones_path",
            type=click.Path(path_type=Path),
            help="Zones file (zone centres); default: zones.csv beside the schools file.",
        ),
        click.option(
            "--catchments",
            "catchments_path",
            type=click.Path(path_type=Path),
            help="catchments.csv (school_id, community_id): each school's 划片, for in_catchment.",
        ),
        click.option(
            "--communities",
            "communities_path",
            type=click.Path(path_type=Path),
            help="communities.csv (community_id, zone_id, name, x_km, y_km): where children "
            "live, for 统筹 distances.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@lottery.command("run")
@lottery_inputs
@click.option("--seed", default="", help="The public seed of the draw.")
@click.option(
    "--seed-part",
    "seed_parts",
    multiple=True,
    help="A public part of the seed (repeat); parts are joined RFC 3797 style.",
)
@click.option(
    "--commitment",
    "commitment_path",
    type=click.Path(path_type=Path),
    help="commitment.json from `seats lottery commit`: refuse inputs that differ.",
)
@output_folder("Run folder to create.", "Replace a non-empty run folder.")
@click.option("--level", help="Use only the schools of this level (with a district schools.csv).")
@click.option("--sector", help="Use only the schools of this sector, e.g. public (公办园派位).")
@click.option(
    "--fallback",
    type=click.Choice(["nearest"]),
    help="Seat every applicant still unplaced at the nearest school with seats left.",
)
@encoding_option
def lottery_run(
    schools_path,
    applicants_path,
    policy_path,
    zones_path,
    catchments_path,
    communities_path,
    seed,
    seed_parts,
    commitment_path,
    out_dir,
    force,
    level,
    sector,
    fallback,
    encoding,
) -> None:
    """Draw an admission lottery and write the run folder (all or nothing)."""
    from seats.lottery.run import RunOptions, run_lottery

    if seed and seed_parts:
        raise click.UsageError("give either --seed or --seed-part, not both")
    options = RunOptions(
        seed=seed,
        seed_parts=list(seed_parts) or None,
        level=level,
        sector=sector,
        fallback=fallback,
        encoding=encoding,
    )
    summary = run_lottery(
        schools_path,
        applicants_path,
        out_dir,
        options,
        policy_path=policy_path,
        zones_path=zones_path,
        catchments_path=catchments_path,
        communities_path=communities_path,
        commitment_path=commitment_path,
        force=force,
        command=sys.argv[1:],
    )
    click.echo(summary.render())
    from seats.lottery.run import seed_of

    click.echo(f"种子 seed: {seed_of(options)}")
    if commitment_path is not None:
        click.echo(f"输入与承诺一致 the inputs match the commitment {commitment_path}")
    click.echo(f"审计日志末条哈希（派位后公布）audit log head, publish it: {summary.head}")


@lottery.command("commit")
@lottery_inputs
@click.option(
    "--seed-source",
    required=True,
    help="Where the seed will come from, e.g. 'drand round 4200000'.",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(path_type=Path),
    help="commitment.json to write.",
)
@click.option("--level", help="The level the draw will use (as in `lottery run --level`).")
@click.option("--sector", help="The sector the draw will use (as in `lottery run --sector`).")
@click.option("--fallback", type=click.Choice(["nearest"]), help="As in `lottery run`.")
@click.option("--force", is_flag=True, help="Replace an existing commitment file.")
@click.option(
    "--secret",
    "secret_path",
    type=click.Path(path_type=Path),
    help="The district secret of the registration codes: fix its SHA-256 (never the secret).",
)
@encoding_option
def lottery_commit(
    schools_path,
    applicants_path,
    policy_path,
    zones_path,
    catchments_path,
    communities_path,
    seed_source,
    out_path,
    level,
    sector,
    fallback,
    force,
    secret_path,
    encoding,
) -> None:
    """Check the inputs as `lottery run` does, then fix them by their SHA-256 before the seed
    is known (publish the file)."""
    from seats.lottery.commitment import commit_lottery, write_commitment
    from seats.lottery.problem import input_paths

    paths = input_paths(
        schools_path, applicants_path, policy_path, zones_path, catchments_path, communities_path
    )
    options = {"level": level, "sector": sector, "fallback": fallback, "encoding": encoding}
    commitment = commit_lottery(paths, seed_source, options, secret_path=secret_path)
    digest = write_commitment(commitment, out_path, force=force, protect=list(paths.values()))
    click.echo(f"承诺文件 commitment -> {out_path}（派位前公布 publish it before the draw）")
    for role, entry in commitment["inputs"].items():
        click.echo(f"  {role:<10} {entry['sha256']}  {entry['file']}")
    if "district_secret_sha256" in commitment:
        click.echo(f"  {'secret':<10} {commitment['district_secret_sha256']}  (SHA-256 only)")
    click.echo(f"种子来源 seed source: {commitment['seed_source']}")
    click.echo(f"承诺文件的 SHA-256（派位前公布 publish before the draw）: {digest}")


@lottery.command("codes")
@click.option(
    "--applicants",
    "applicants_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Applicants file (applicant_id).",
)
@click.option(
    "--secret",
    "secret_path",
    required=True,
    type=click.Path(path_type=Path),
    help="The district secret (at least 32 random bytes; keep it private).",
)
@click.option(
    "--out", "out_path", required=True, type=click.Path(path_type=Path), help="codes.csv to write."
)
@encoding_option
def lottery_codes(applicants_path, secret_path, out_path, encoding) -> None:
    """Registration codes (查询码) and public keys (公示号) for receipts; keep the file private."""
    from seats.supervision.codes import write_codes

    click.echo(write_codes(applicants_path, secret_path, out_path, encoding=encoding).render())


@lottery.command("publish")
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--secret",
    "secret_path",
    required=True,
    type=click.Path(path_type=Path),
    help="The district secret of the registration codes (rows are keyed by them).",
)
@output_folder("Folder for the public list (CSV, PDF, web page).", "Replace a non-empty folder.")
def lottery_publish(run_dir: Path, secret_path: Path, out_dir: Path, force: bool) -> None:
    """The public results list (公示名单): rows by 公示号, results, waitlists, cutoffs, web page."""
    from seats.supervision.publish import publish_results

    click.echo(publish_results(run_dir, out_dir, secret_path=secret_path, force=force).render())


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--out", "out_pdf", required=True, type=click.Path(path_type=Path), help="The PDF to write."
)
@click.option("--force", is_flag=True, help="Replace an existing report PDF.")
def report(run_dir: Path, out_pdf: Path, force: bool) -> None:
    """The supervisor's report (PDF): digests, per-school results, charts, how to verify."""
    from seats.supervision.report import write_report

    click.echo(write_report(run_dir, out_pdf, force=force).render())


@cli.command()
@district_argument
@click.option(
    "--level",
    required=True,
    type=click.Choice(["kindergarten", "primary", "junior"]),
    help="School level to analyse.",
)
@click.option("--year", default=2020, show_default=True, help="Year of the cohort.")
@click.option(
    "--demand",
    "demand_path",
    type=click.Path(path_type=Path),
    help="Applicants file: demand per zone from its applicants instead of births.",
)
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(path_type=Path),
    help="Building plan (new, expand, close, convert): gap before and after.",
)
@click.option(
    "--site-new",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Propose where to build N new schools (greedy on the flow gain).",
)
@click.option(
    "--site-size",
    type=click.IntRange(min=1),
    help="Entry seats of each new school (default: median of the level's public).",
)
@click.option(
    "--walk-km",
    default=1.5,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Walking distance from a zone centre within which a school serves it.",
)
@output_folder("Folder for the CSV files and charts.", "Replace a non-empty folder.")
@encoding_option
def gap(
    folder,
    level,
    year,
    demand_path,
    plan_path,
    site_new,
    site_size,
    walk_km,
    out_dir,
    force,
    encoding,
) -> None:
    """Where seats are missing: max flow from zones through the schools that serve them."""
    from sim.gap import run_gap

    summary = run_gap(
        resolve_folder(folder),
        level=level,
        year=year,
        demand_path=demand_path,
        plan_path=plan_path,
        site_new=site_new,
        site_size=site_size,
        walk_km=walk_km,
        out_dir=out_dir,
        force=force,
        encoding=encoding,
    )
    click.echo(summary.render())


def parse_years(ctx, param, value: str) -> tuple[int, int]:
    try:
        first, last = (int(part) for part in value.split("-"))
    except ValueError:
        raise click.BadParameter("give a range of years like 2021-2030") from None
    if last < first:
        raise click.BadParameter(f"{value}: the last year comes before the first")
    return first, last


@cli.command()
@district_argument
@click.option(
    "--years",
    default="2021-2030",
    show_default=True,
    callback=parse_years,
    help="First and last year of the forecast.",
)
@click.option(
    "--runs",
    default=10_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Monte Carlo replications.",
)
@click.option("--seed", required=True, help="Seed of the replications' random streams.")
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(path_type=Path),
    help="Building plan (default: the folder's plan_*.csv, if any).",
)
@click.option(
    "--dask",
    metavar="ADDRESS|local:N",
    help="Run batches on a Dask cluster (needs the dask extra).",
)
@output_folder(
    "Folder for forecast.csv, schools.csv, teacher_posts.csv, indicators.csv, chances.csv and "
    "the charts.",
    "Replace a non-empty folder.",
)
@click.option(
    "--ratio",
    "ratios",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a staffing ratio (sim/staffing.py), e.g. primary=19, junior=13.5, "
    "kindergarten_per_class=2, kindergarten_staff=7, attrition=0.05, hires_trained=0.95.",
)
@encoding_option
def forecast(folder, years, runs, seed, plan_path, dask, out_dir, force, ratios, encoding) -> None:
    """Cohort forecast by school and grade: classes, 学位预警, teachers, the plan's indicators,
    admission chances."""
    from sim.forecast import run_forecast
    from sim.staffing import StaffRatios

    try:
        staff = StaffRatios().with_overrides(list(ratios))
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--ratio") from err

    with click.progressbar(length=runs, label="replications", file=sys.stderr) as bar:
        try:
            summary = run_forecast(
                resolve_folder(folder),
                years=years,
                runs=runs,
                seed=seed,
                plan_path=plan_path,
                out_dir=out_dir,
                force=force,
                dask=dask,
                progress=bar.update,
                encoding=encoding,
                ratios=staff,
            )
        except RuntimeError as err:  # e.g. --dask without the dask extra installed
            raise click.ClickException(str(err)) from err
        except ValueError as err:  # years the enrolment history cannot start from
            raise click.BadParameter(str(err), param_hint="--years") from err
    click.echo(summary.render())


@cli.group("classes")
def classes_group() -> None:
    """Balanced class formation (均衡编班)."""


@classes_group.command("form")
@click.option(
    "--pupils",
    "pupils_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Pupils file, or a lottery run folder (its placed applicants).",
)
@click.option(
    "--schools",
    "schools_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Schools file with school_id and class_size_cap (a district schools.csv).",
)
@click.option("--seed", required=True, help="Public seed of the class-number lottery.")
@output_folder("Run folder to create.", "Replace a non-empty run folder.")
@click.option("--group", help="Share an education group's pupils among its campuses first.")
@click.option(
    "--class-counts",
    "class_counts_path",
    type=click.Path(path_type=Path),
    help="school_id,classes: classes to form (default ceil(pupils / cap)).",
)
@click.option(
    "--requests",
    "requests_path",
    type=click.Path(path_type=Path),
    help="pupil_id,together_with,apart_from,fixed_class: keep together/apart/fixed.",
)
@encoding_option
def classes_form(
    pupils_path,
    schools_path,
    seed,
    out_dir,
    group,
    class_counts_path,
    requests_path,
    force,
    encoding,
) -> None:
    """Form balanced classes, then draw which becomes class 1, 2, ... by lottery."""
    from seats.classes import form_classes

    summary = form_classes(
        pupils_path,
        schools_path,
        seed=seed,
        out_dir=out_dir,
        group=group,
        class_counts_path=class_counts_path,
        requests_path=requests_path,
        force=force,
        encoding=encoding,
        command=sys.argv[1:],
    )
    click.echo(summary.render())


@cli.group("teachers")
def teachers_group() -> None:
    """Balanced teacher teams for classes (均衡配班)."""


@teachers_group.command("assign")
@click.option(
    "--classes",
    "classes_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="A `seats classes form` run folder.",
)
@click.option(
    "--teachers",
    "teachers_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Teachers file (teacher_id, school_id, subject, title, years, rating, ...).",
)
@click.option("--seed", required=True, help="Public seed (ties in the assignment).")
@output_folder("Run folder to create.", "Replace a non-empty run folder.")
@encoding_option
def teachers_assign(classes_dir, teachers_path, seed, out_dir, force, encoding) -> None:
    """Give every class a balanced teacher team within each school or education group."""
    from seats.classes.teachers import assign_teachers

    summary = assign_teachers(
        classes_dir,
        teachers_path,
        seed=seed,
        out_dir=out_dir,
        force=force,
        encoding=encoding,
        command=sys.argv[1:],
    )
    click.echo(summary.render())


@cli.group()
def audit() -> None:
    """Check a run folder's hash-chained audit log and re-run its draw."""


@audit.command("verify")
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--inputs",
    "inputs_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder holding the input files (found by digest) when the run has no copy.",
)
@click.option(
    "--commitment",
    "published",
    metavar="FILE|SHA256",
    help="The commitment published before the draw (its file or SHA-256): the run's must be it.",
)
@click.option("--seed-source", help="The seed source published before the draw.")
@click.option("--head", help="The audit log head published after the draw (the run printed it).")
def audit_verify(run_dir: Path, inputs_dir: Path | None, published, seed_source, head) -> None:
    """Check the chain, the digests, and that re-running gives byte-identical outputs."""
    from seats.supervision.verify import verify_run

    report = verify_run(
        run_dir, inputs_dir=inputs_dir, commitment=published, seed_source=seed_source, head=head
    )
    for line in report.notes:
        click.echo(line)
    if report.problems:
        for problem in report.problems:
            click.echo(f"NOT VERIFIED: {problem}", err=True)
        raise SystemExit(1)
    click.echo("verified")


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.argument("applicant_id")
def explain(run_dir: Path, applicant_id: str) -> None:
    """Why this applicant got this result, in Chinese and English."""
    from seats.supervision.explain import explain_applicant

    click.echo(explain_applicant(run_dir, applicant_id).render())


@cli.command()
@click.option(
    "--out",
    "out_dir",
    default="seats-demo",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Folder for the demo's run folders.",
)
@click.option("--seed", default=None, help="Seed of the demo's draws (default: a fixed text).")
@click.option(
    "--force",
    is_flag=True,
    help="Use a non-empty folder that is not an earlier demo's (a demo's is always replaced).",
)
def demo(out_dir: Path, seed: str | None, force: bool) -> None:
    """Run the 2021 kindergarten and primary lotteries of the embedded district."""
    from seats.demo import DEMO_SEED, run_demo

    run_demo(out_dir, seed=seed or DEMO_SEED, force=force, echo=click.echo)


def main() -> None:
    cli(prog_name="seats")


if __name__ == "__main__":
    sys.exit(main())
