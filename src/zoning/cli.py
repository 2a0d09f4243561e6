"""The ``zoning`` command (click).  Thin: parse flags, call the library, print a short report.

Exit codes: 0 success, 1 a problem with the input or no plan fits the rules (the message says what and
how to fix it), 2 bad flags (click's usage errors).  No traceback reaches the planner.
"""

from __future__ import annotations

import functools
import logging
import shlex
import sys
from importlib.metadata import version as _version

import click

from .crs import parse_coords
from .datasets import get_path
from .errors import InfeasibleError, InputError, ZoningError
from .export import OUTPUT_FILES, write_plan
from .inputs import load_inputs
from .io import prepare_out_dir, write_json
from .metrics import school_table, summary
from .options import SolveOptions
from .plan import Plan
from .problem import DEFAULT_CANDIDATES, DEFAULT_MOVE_PENALTY_M
from .zones import assign_zones

log = logging.getLogger("zoning")

#: canonical column → flag, for the column-naming options
BLOCK_COLUMN_FLAGS = ("block_id", "students", "current_school", "name", "population")
SCHOOL_COLUMN_FLAGS = ("school_id", "name", "capacity", "classes", "quality", "stage")


class _Handler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if record.levelno >= logging.WARNING:
            click.secho(f"warning: {msg}", err=True, fg="yellow")
        else:
            click.echo(msg, err=True)


def _setup_logging(verbose: int, quiet: bool) -> None:
    root = logging.getLogger("zoning")
    root.handlers[:] = [_Handler()]
    root.propagate = False
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    root.setLevel(level)


def _coords(ctx, param, value):
    if value is None:
        return None
    try:
        return parse_coords(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from err


def input_options(f):
    """Options shared by `partition` and `validate`: column names, coordinates, encodings."""
    opts = [
        click.option(
            "--coords",
            callback=_coords,
            default="wgs84",
            show_default=True,
            help="Coordinate system of both files' numbers: wgs84, cgcs2000, gcj02 (高德/腾讯), "
            "bd09 (百度) or EPSG:n.",
        ),
        click.option("--blocks-coords", callback=_coords, help="Coordinate system of the blocks file only."),
        click.option(
            "--schools-coords", callback=_coords, help="Coordinate system of the schools file only."
        ),
        click.option("--encoding", help="Text encoding of CSV / Shapefile input (detected when not given)."),
        click.option("--blocks-layer", help="Layer of a GeoPackage holding the blocks."),
        click.option("--schools-layer", help="Layer of a GeoPackage holding the schools."),
        click.option(
            "--per-1000-rate",
            "per_1000",
            type=click.FloatRange(min=0, min_open=True),
            help="Estimate children from population: children per 1,000 residents (千人学位指标).",
        ),
        click.option(
            "--class-size",
            type=click.IntRange(min=1),
            help="Children per class when capacity comes from 招生班数 (default 45 小学, 50 初中).",
        ),
    ]
    for canon in BLOCK_COLUMN_FLAGS:
        flag = "--" + ("block-" if canon in ("name", "block_id") else "") + canon.replace("_", "-") + "-col"
        flag = flag.replace("--block-block-id", "--block-id")
        opts.append(click.option(flag, f"block_col_{canon}", help=f"Blocks column holding {canon}."))
    for canon in SCHOOL_COLUMN_FLAGS:
        flag = "--" + ("school-" if canon in ("name", "school_id") else "") + canon.replace("_", "-") + "-col"
        flag = flag.replace("--school-school-id", "--school-id")
        opts.append(click.option(flag, f"school_col_{canon}", help=f"Schools column holding {canon}."))
    for opt in reversed(opts):
        f = opt(f)
    return f


def _columns(kwargs: dict, prefix: str) -> dict[str, str]:
    out = {}
    for key in list(kwargs):
        if key.startswith(prefix):
            value = kwargs.pop(key)
            if value:
                out[key[len(prefix) :]] = value
    return out


def _load(blocks, schools, kwargs):
    coords = kwargs.pop("coords")
    return load_inputs(
        blocks,
        schools,
        block_columns=_columns(kwargs, "block_col_"),
        school_columns=_columns(kwargs, "school_col_"),
        blocks_coords=kwargs.pop("blocks_coords") or coords,
        schools_coords=kwargs.pop("schools_coords") or coords,
        per_1000_rate=kwargs.pop("per_1000"),
        class_size=kwargs.pop("class_size"),
        blocks_layer=kwargs.pop("blocks_layer"),
        schools_layer=kwargs.pop("schools_layer"),
        encoding=kwargs.pop("encoding"),
    )


def planner_errors(f):
    """Turn zoning's errors into a message and exit code 1 (no traceback); --issues FILE gets the full list."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        issues_file = kwargs.get("issues_file")
        try:
            return f(*args, **kwargs)
        except InputError as err:
            click.secho(str(err), err=True, fg="red")
            if issues_file:
                write_json(issues_file, [i.to_dict() for i in err.issues], overwrite=True)
                click.echo(f"full list of problems: {issues_file}", err=True)
            sys.exit(1)
        except BrokenPipeError:  # output piped into `head` and the like: stop quietly
            sys.stdout = None  # nothing left to flush at exit, so no second BrokenPipeError
            sys.exit(1)
        except InfeasibleError as err:
            click.secho(str(err), err=True, fg="red")
            sys.exit(1)
        except ZoningError as err:
            click.secho(f"error: {err}", err=True, fg="red")
            sys.exit(1)
        except Exception as err:  # a bug: say so plainly; -vv shows the traceback
            if logging.getLogger("zoning").isEnabledFor(logging.DEBUG):
                raise
            click.secho(
                f"internal error: {type(err).__name__}: {err}\nThis is a bug in zoning, not in your data. "
                "Please report it with the command you ran; run again with -vv to see the details.",
                err=True,
                fg="red",
            )
            sys.exit(1)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version("zoning"), prog_name="zoning")
@click.option("-v", "--verbose", count=True, help="More detail: -v progress, -vv solver log.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
def main(verbose: int, quiet: bool) -> None:
    """zoning: school attendance zones (划片) and school districts (学区) for education bureaus."""
    _setup_logging(verbose, quiet)


@main.command()
@click.argument("blocks", type=click.Path(dir_okay=False))
@click.argument("schools", type=click.Path(dir_okay=False))
@input_options
@click.option(
    "--issues",
    "issues_file",
    type=click.Path(dir_okay=False),
    help="Write every problem found to this JSON file.",
)
@planner_errors
def validate(blocks, schools, issues_file, **kwargs):
    """Check BLOCKS and SCHOOLS without solving: columns, numbers, ids, geometry, coordinates."""
    inputs = _load(blocks, schools, kwargs)
    b, s = inputs.blocks, inputs.schools
    click.echo(
        f"OK: {len(b):,} blocks with {b['students'].sum():,.1f} children; "
        f"{len(s):,} schools with {s['capacity'].sum():,.0f} seats."
    )
    if inputs.warnings:
        click.echo(f"{len(inputs.warnings)} warning(s) above.")


def solve_options(f):
    opts = [
        click.option(
            "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder."
        ),
        click.option("--overwrite", is_flag=True, help="Replace existing output files."),
        click.option(
            "--time-limit",
            type=click.FloatRange(min=0, min_open=True),
            default=60.0,
            show_default=True,
            help="Seconds; the best plan found and its proven gap are returned when time runs out.",
        ),
        click.option(
            "--gap",
            type=click.FloatRange(min=0, max=1, max_open=True),
            default=1e-4,
            show_default=True,
            help="Stop once the plan is proven within this fraction of the bound.",
        ),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True),
        click.option(
            "--max-distance",
            type=click.FloatRange(min=0, min_open=True),
            help="No child sent further than this many metres (straight line).",
        ),
        click.option(
            "--move-penalty",
            type=click.FloatRange(min=0),
            default=DEFAULT_MOVE_PENALTY_M,
            show_default=True,
            help="Cost of moving one child from the current school, in metres.",
        ),
        click.option("--max-moved", type=click.FloatRange(min=0), help="At most this many children moved."),
        click.option(
            "--allow-overload", is_flag=True, help="Let schools exceed their seats (minimised, reported)."
        ),
        click.option(
            "--contiguity/--no-contiguity",
            default=True,
            show_default=True,
            help="Every zone one piece holding its school's block.",
        ),
        click.option(
            "--candidates",
            type=click.IntRange(min=1),
            default=DEFAULT_CANDIDATES,
            show_default=True,
            help="Nearest schools considered per block (grown where seats require).",
        ),
        click.option(
            "--issues",
            "issues_file",
            type=click.Path(dir_okay=False),
            help="Write every input problem found to this JSON file.",
        ),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _run_partition(blocks, schools, kwargs) -> tuple[Plan, dict]:
    out_dir, overwrite = kwargs.pop("out_dir"), kwargs.pop("overwrite")
    kwargs.pop("issues_file", None)
    prepare_out_dir(out_dir, OUTPUT_FILES, overwrite=overwrite)  # refuse early, before any work
    options = SolveOptions(
        time_limit_s=kwargs.pop("time_limit"),
        workers=kwargs.pop("workers"),
        seed=kwargs.pop("seed"),
        relative_gap=kwargs.pop("gap"),
    )
    rules = dict(
        max_distance_m=kwargs.pop("max_distance"),
        move_penalty_m=kwargs.pop("move_penalty"),
        max_moved=kwargs.pop("max_moved"),
        allow_overload=kwargs.pop("allow_overload"),
        contiguity=kwargs.pop("contiguity"),
        candidates=kwargs.pop("candidates"),
    )
    inputs = _load(blocks, schools, kwargs)
    plan = assign_zones(inputs.blocks, inputs.schools, options=options, warnings=inputs.warnings, **rules)
    files = write_plan(plan, out_dir, overwrite=overwrite)
    return plan, files


def _report(plan: Plan, files: dict) -> None:
    i = plan.info
    s = summary(plan)
    t = s["totals"]
    if i.gap <= 1e-9:
        status = "proven optimal"
    elif i.status == "optimal":
        status = "optimal within the requested gap"
    else:
        status = "best plan found in the time limit"
    gap = f"{100 * i.gap:.2f}" if i.gap == 0 or i.gap >= 1e-4 else f"{100 * i.gap:.3g}"
    click.echo(
        f"Plan: {status}: {i.objective / 1000:,.1f} child-km (lower bound {i.lower_bound / 1000:,.1f}, "
        f"gap {gap} %) in {i.seconds:.1f} s"
    )
    table = school_table(plan)
    width = max(8, min(32, int(table["name"].astype(str).str.len().max())))
    click.echo(
        f"{'school':<{width}}  {'seats':>7}  {'children':>8}  {'use':>5}  {'mean m':>6}  {'max m':>6}  {'moved in':>8}"
    )
    for _, r in table.iterrows():
        name = str(r["name"])[:width]
        flag = " !" if r["overload"] > 1e-9 else ""
        click.echo(
            f"{name:<{width}}  {r['capacity']:>7,.0f}  {r['students']:>8,.1f}  {100 * r['utilisation']:>4.0f}%  "
            f"{r['mean_distance_m']:>6,.0f}  {r['max_distance_m']:>6,.0f}  {r['moved_in']:>8,.1f}{flag}"
        )
    line = f"Children: {t['children']:,.1f} for {t['seats']:,.0f} seats; moved {t['children_moved']:,.1f}; "
    line += f"mean trip {t['mean_distance_m']:,.0f} m"
    if s["before"]:
        line += f" (before {s['before']['mean_distance_m']:,.0f} m)"
    line += f"; zones in more than one piece: {t['zones_not_contiguous']}"
    click.echo(line)
    if plan.warnings:
        click.echo(f"{len(plan.warnings)} warning(s): see above and summary.json")
    click.echo("Wrote: " + ", ".join(str(p) for p in files.values()))
    click.echo(f"Map: open {files['map.html']} in a browser")


@main.command()
@click.argument("blocks", type=click.Path(dir_okay=False))
@click.argument("schools", type=click.Path(dir_okay=False))
@input_options
@solve_options
@planner_errors
def partition(blocks, schools, **kwargs):
    """Draw attendance zones (划片): every block of BLOCKS to one school of SCHOOLS.

    Seats are never exceeded (unless --allow-overload), every zone is one piece around its school,
    trips are short and few children are moved from their current school.  Writes plan.gpkg, plan.csv,
    summary.json and map.html into --out.
    """
    plan, files = _run_partition(blocks, schools, kwargs)
    _report(plan, files)


@main.command()
@click.option("--out", "out_dir", default="demo-output", show_default=True, type=click.Path(file_okay=False))
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True)
@click.pass_context
def demo(ctx, out_dir, time_limit):
    """Run `partition` on the shipped demo data (South Portland, Maine: 317 blocks, 5 schools)."""
    args = [
        str(get_path("south_portland_blocks")),
        str(get_path("south_portland_schools")),
        "--students-col",
        "students_k4",
        "--current-school-col",
        "current_school_plurality",
        "--out",
        str(out_dir),
        "--overwrite",
        "--time-limit",
        f"{time_limit:g}",
    ]
    click.echo("zoning partition " + " ".join(shlex.quote(a) for a in args))
    with partition.make_context("partition", args, parent=ctx) as sub:
        partition.invoke(sub)


if __name__ == "__main__":  # pragma: no cover
    main()


__all__ = ["main"]
