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


@lottery.command("run")
@click.option(
    "--schools",
    "schools_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Schools file: school_id, zone_id, seats (a district schools.csv works too).",
)
@click.option(
    "--applicants",
    "applicants_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Applicants file (the lottery contract).",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(path_type=Path),
    help="Policy TOML (default: deferred acceptance, single tie-break, tiers sibling, same_zone).",
)
@click.option("--seed", required=True, help="The public seed of the draw.")
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
@click.option(
    "--zones",
    "zones_path",
    type=click.Path(path_type=Path),
    help="Zones file (zone centres), needed by --fallback nearest.",
)
@encoding_option
def lottery_run(
    schools_path,
    applicants_path,
    policy_path,
    seed,
    out_dir,
    force,
    level,
    fallback,
    zones_path,
    encoding,
) -> None:
    """Draw an admission lottery and write the run folder (all or nothing)."""
    from seats.run import RunOptions, run_lottery

    if fallback == "nearest" and zones_path is None:
        raise click.UsageError("--fallback nearest needs --zones")
    summary = run_lottery(
        schools_path,
        applicants_path,
        out_dir,
        RunOptions(seed=seed, level=level, fallback=fallback, encoding=encoding),
        policy_path=policy_path,
        zones_path=zones_path,
        force=force,
        command=sys.argv[1:],
    )
    click.echo(summary.render())


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
