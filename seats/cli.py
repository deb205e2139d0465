"""The `seats` command line: parse options, call one library function, print.

Library errors become clean exits here and only here: bad input (InputError) exits with status 2
after listing every problem as ``file:line: column: what is wrong``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from seats import __version__
from seats.errors import InputError


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
        except (FileNotFoundError, NotADirectoryError, FileExistsError) as err:
            raise BadInput(f"error: {err}") from err


def encoding_option(func):
    return click.option(
        "--encoding",
        default=None,
        metavar="CODEC",
        help="Text encoding of CSV files, e.g. gbk for Excel exports (default: UTF-8, BOM or not).",
    )(func)


def district_argument(func):
    return click.argument(
        "folder",
        required=False,
        type=click.Path(path_type=Path),
        metavar="[DIR]",
    )(func)


def resolve_folder(folder: Path | None) -> Path:
    from seats.model import embedded_dataset

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
    from seats.model import check_folder

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
    from seats.model import load_district
    from seats.summary import render_summary

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
            help="Zones file (zone centres), needed by --fallback nearest.",
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
@click.option(
    "--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Run folder to create."
)
@click.option("--force", is_flag=True, help="Replace a non-empty run folder.")
@click.option("--level", help="Use only the schools of this level (with a district schools.csv).")
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
    seed,
    seed_parts,
    commitment_path,
    out_dir,
    force,
    level,
    fallback,
    encoding,
) -> None:
    """Draw an admission lottery and write the run folder (all or nothing)."""
    from seats.run import RunOptions, run_lottery

    if fallback == "nearest" and zones_path is None:
        raise click.UsageError("--fallback nearest needs --zones")
    if seed and seed_parts:
        raise click.UsageError("give either --seed or --seed-part, not both")
    options = RunOptions(
        seed=seed,
        seed_parts=list(seed_parts) or None,
        level=level,
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
        commitment_path=commitment_path,
        force=force,
        command=sys.argv[1:],
    )
    click.echo(summary.render())


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
def lottery_commit(
    schools_path, applicants_path, policy_path, zones_path, seed_source, out_path, level
) -> None:
    """Fix the inputs by their SHA-256 before the seed is known (publish the file)."""
    from seats.commitment import make_commitment, write_commitment

    paths = {
        "schools": schools_path,
        "applicants": applicants_path,
        "policy": policy_path,
        "zones": zones_path,
    }
    for role, path in paths.items():
        if path is not None and not Path(path).is_file():
            raise BadInput(f"error: {path}: no such file ({role})")
    commitment = make_commitment(paths, seed_source, level)
    write_commitment(commitment, out_path)
    click.echo(f"wrote {out_path}")
    for role, entry in commitment["inputs"].items():
        click.echo(f"  {role:<10} {entry['sha256']}  {entry['file']}")


@lottery.command("publish")
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for public_list.csv and public_list.pdf.",
)
@click.option("--force", is_flag=True, help="Replace a non-empty folder.")
def lottery_publish(run_dir: Path, out_dir: Path, force: bool) -> None:
    """The public results list (公示名单): masked ids, lottery numbers, results, waitlists."""
    from seats.publish import publish_results

    click.echo(publish_results(run_dir, out_dir, force=force).render())


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--out", "out_pdf", required=True, type=click.Path(path_type=Path), help="The PDF to write."
)
def report(run_dir: Path, out_pdf: Path) -> None:
    """The supervisor's report (PDF): digests, per-school results, charts, how to verify."""
    from seats.report import write_report

    click.echo(write_report(run_dir, out_pdf).render())


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
def audit_verify(run_dir: Path, inputs_dir: Path | None) -> None:
    """Check the chain, the digests, and that re-running gives byte-identical outputs."""
    from seats.verify import verify_run

    report = verify_run(run_dir, inputs_dir=inputs_dir)
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
    from seats.explain import explain_applicant

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
@click.option("--force", is_flag=True, help="Replace the run folders of an earlier demo.")
def demo(out_dir: Path, seed: str | None, force: bool) -> None:
    """Run the 2021 kindergarten and primary lotteries of the embedded district."""
    from seats.demo import DEMO_SEED, run_demo

    run_demo(out_dir, seed=seed or DEMO_SEED, force=force, echo=click.echo)


def main() -> None:
    cli(prog_name="seats")


if __name__ == "__main__":
    sys.exit(main())
