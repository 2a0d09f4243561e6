"""The attendance-zone commands: ``validate`` the inputs, ``partition`` (zones, optionally grouped into
districts), ``feeder`` (middle-school zones made of whole primary zones) and the ``demo``.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import replace

import click

from ..districts.api import form_districts
from ..errors import Issue
from ..io.datasets import get_path
from ..io.inputs import read_block_column, read_roads
from ..io.save import csv_writer
from ..io.validate import BLOCK_ALIASES
from ..options import SolveOptions
from ..plan import Plan
from ..publish.export import prepare_out, write_plan
from ..scenarios.horizon import parse_opens, plan_horizon
from ..scenarios.stability import phase_in
from ..scenarios.years import fullest, parse_years, peak_demand, year_breaks, year_loads
from ..zones.api import assign_zones, evaluate_zones
from ..zones.problem import DEFAULT_MOVE_PENALTY_M
from .group import main, quiet
from .options import (
    OUT_HELP,
    _district_kwargs,
    _file_leads,
    _keep_columns,
    _load,
    _only_stage,
    ctrl_c_stops,
    district_options,
    input_options,
    planner_errors,
    road_options,
    solve_options,
)
from .report import _report


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
    """Check BLOCKS and SCHOOLS without solving: columns, numbers, ids, geometry, coordinates.

    Each is a file or a database table: postgresql://USER@HOST/DB?table=SCHEMA.TABLE (or ?query=SELECT …).
    """
    inputs = _load(blocks, schools, kwargs)
    b, s = inputs.blocks, inputs.schools
    click.echo(
        f"OK: {len(b):,} blocks with {b['students'].sum():,.1f} children; "
        f"{len(s):,} schools with {s['capacity'].sum():,.0f} seats."
    )
    if inputs.warnings:
        click.echo(f"{len(inputs.warnings)} warning(s) above.")


#: With --districts, the zones' share of --time-limit (the districts get what is left).
ZONES_SHARE = 0.6


def _run_partition(
    blocks, schools, kwargs, *, title: str | None = None, units: str = "blocks"
) -> tuple[Plan, dict]:
    """Zones (and, with --districts, districts made of them) from the parsed options of a command; the
    district and --only-stage options are read only when the command has them (`feeder` has not).
    ``units``: what the blocks are ("primary zones" for `feeder`), kept in the plan's rules so that its map,
    announcement and report name them so."""
    out_dir, overwrite = kwargs.pop("out_dir"), kwargs.pop("overwrite")
    kwargs.pop("issues_file", None)
    prepare_out(out_dir, overwrite=overwrite, inputs=(blocks, schools))  # refuse early, before any work
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
    district_kw = _district_kwargs(kwargs) if "n_districts" in kwargs else None
    only_stage = kwargs.pop("only_stage", ())
    roads = _roads(kwargs)
    entry_share = kwargs.pop("entry_share", None)
    years = parse_years(kwargs.pop("years")) if kwargs.get("years") else None
    kwargs.pop("years", None)
    if years and entry_share is not None:
        raise click.BadParameter("give --years or --entry-share, not both (yet)", param_hint="--years")
    opens_col = kwargs.pop("opens_col", None)
    if opens_col and not years:
        raise click.BadParameter("schools opening in later years need --years", param_hint="--opens-col")
    keep = [*(_keep_columns(district_kw) if district_kw else ()), *([opens_col] if opens_col else [])]
    current_plan = kwargs.pop("current_plan", None)
    # --current-plan: last year's plan folder, each block's school in it its current school
    inputs = _load(blocks, schools, kwargs, keep=keep, block_keep=list(years.values()) if years else (),
                   current_plan=current_plan or None)  # fmt: skip
    school_frame = _only_stage(inputs.schools, only_stage)
    block_frame, warnings = inputs.blocks, inputs.warnings
    if opens_col:  # schools opening on the way: every block changes school at most once
        return _run_horizon(block_frame, school_frame, years, opens_col, warnings, roads, rules, options,
                            out_dir=out_dir, overwrite=overwrite, title=title)  # fmt: skip
    if years:  # one plan within seats in every year: drawn on each block's largest cohort
        block_frame, note = peak_demand(block_frame, years)
        click.echo(f"Years: {note}.")
        warnings = (*warnings, Issue(note, "", severity="warning"))
    if entry_share is not None:  # the enrolled stay: zones for the entry grade, in the seats they leave
        block_frame, zone_schools, note = phase_in(block_frame, school_frame, entry_share=entry_share)
        click.echo(f"Entry grade only: {note.message}.")
        warnings = (*warnings, note)
    else:
        zone_schools = school_frame
    grouping = bool(district_kw and district_kw["n_districts"] is not None)
    # --time-limit is the whole run's: with --districts the zones get ZONES_SHARE of it and the districts
    # the rest (more where the zones are proven early)
    t0, limit = time.perf_counter(), options.time_limit_s
    zone_limit = ZONES_SHARE * limit if grouping else limit
    with ctrl_c_stops() as stop:  # Ctrl-C: the best plan so far, with its gap
        plan = assign_zones(
            block_frame,
            zone_schools,
            options=replace(options, stop=stop, time_limit_s=zone_limit),
            warnings=warnings,
            roads=roads,
            **rules,
        )
    if grouping:
        _file_leads(school_frame, district_kw)
        left = max(limit - (time.perf_counter() - t0), (1 - ZONES_SHARE) * limit / 2)
        with ctrl_c_stops() as stop:  # a Ctrl-C of its own: the best grouping of these zones so far
            plan = form_districts(
                school_frame, plan=plan, options=replace(options, stop=stop, time_limit_s=left), **district_kw
            )
    extra = {}
    if years:
        loads = year_loads(plan.assignment, inputs.blocks, zone_schools, years)
        extra["years.csv"] = csv_writer(loads)
        _report_years(loads, inputs.blocks, zone_schools, years)
    if units != "blocks":
        plan = replace(plan, rules={**plan.rules, "units": units})
    files = write_plan(plan, out_dir, overwrite=overwrite, title=title, extra=extra)
    return plan, files


def _roads(kwargs):
    """The --roads file read (None without one); pops the road options."""
    roads_file, roads_layer = kwargs.pop("roads", None), kwargs.pop("roads_layer", None)
    roads_coords = kwargs.pop("roads_coords", None) or kwargs["coords"]
    if not roads_file:
        return None
    return read_roads(roads_file, coords=roads_coords, layer=roads_layer, encoding=kwargs["encoding"])


def _run_horizon(
    blocks, schools, years, opens_col, warnings, roads, rules, options, *, out_dir, overwrite, title
):
    """--years with --opens-col: the zones once every school is open, and each block's school per year."""
    opens = parse_opens(schools, opens_col)
    with ctrl_c_stops() as stop:
        horizon = plan_horizon(blocks, schools, years, opens=opens, options=replace(options, stop=stop),
                               warnings=warnings, roads=roads, **rules)  # fmt: skip
    for note in horizon.notes:
        click.echo(f"Years: {note}.")
    click.echo(f"Years: {fullest(horizon.loads)}")
    for line in horizon.breaks:
        click.echo(f"  over seats before every block has moved: {line}")
    extra = {"years.csv": csv_writer(horizon.loads), "phases.csv": csv_writer(horizon.phases)}
    files = write_plan(horizon.plan, out_dir, overwrite=overwrite, title=title, extra=extra)
    return horizon.plan, files


def _report_years(loads, blocks, schools, years) -> None:
    """Every school within seats in every year, or the breaks; and the breaks of today's zones."""
    breaks = year_breaks(loads)
    click.echo(f"Years: {fullest(loads)}")
    for line in breaks:
        click.echo(f"  over seats under this plan: {line}")
    if "current_school" in blocks.columns and blocks["current_school"].notna().any():
        today = year_breaks(
            year_loads(blocks.set_index("block_id")["current_school"], blocks, schools, years)
        )
        missing = int(blocks["current_school"].isna().sum())
        left_out = f" ({missing} block(s) without a current school not counted)" if missing else ""
        click.echo(f"Today's zones in those years: {len(today)} break(s){left_out}" + (":" if today else "."))
        for line in today[:10]:
            click.echo(f"  {line}")


@main.command()
@click.argument("blocks", type=click.Path(dir_okay=False))
@click.argument("schools", type=click.Path(dir_okay=False))
@input_options
@solve_options
@road_options
@district_options
@click.option(
    "--years",
    default=None,
    metavar="YEAR=COL,…",
    help="Children per year from these block columns (e.g. 2026=c2026,2027=c2027): one plan within seats "
    "in every year; years.csv gives every school's load per year.",
)
@click.option(
    "--opens-col",
    default=None,
    metavar="COL",
    help="Schools column with the year a school opens (blank: open): with --years, the zones once every "
    "school is open, each block moving at most once, in the year its school opens; phases.csv gives every "
    "block's school per year.",
)
@click.option(
    "--current-plan",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Last year's plan folder (a zoning --out): each block's school in it is its current school, "
    "matched by block id (blocks it lacks are newly zoned); replaces the current-school column.",
)
@click.option(
    "--entry-share",
    type=click.FloatRange(min=0, max=1, min_open=True),
    help="Only the entry grade follows the new zones (e.g. 0.1667 for one of six grades); the children "
    "already enrolled stay at their current school and keep their seats.",
)
@planner_errors
def partition(blocks, schools, **kwargs):
    """Draw attendance zones (划片): every block of BLOCKS to one school of SCHOOLS.

    Seats are never exceeded (unless --allow-overload), every zone is one piece around its school,
    trips are short and few children are moved from their current school.  With --districts K the
    schools are then grouped into K school districts (学区) made of those zones.  Writes plan.gpkg,
    plan.csv, summary.json and map.html into --out.  BLOCKS and SCHOOLS may be database tables
    (postgresql://USER@HOST/DB?table=SCHEMA.TABLE), --out a schema (postgresql://USER@HOST/DB?schema=NAME).
    """
    plan, files = _run_partition(blocks, schools, kwargs)
    _report(plan, files)


@main.command()
@click.argument("blocks", type=click.Path(dir_okay=False))
@click.argument("schools", type=click.Path(dir_okay=False))
@click.option(
    "--zone-col",
    required=True,
    metavar="COL",
    help="Blocks column with each block's school (id or name); may be the current-school column.",
)
@input_options
@road_options
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help=OUT_HELP)
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@click.option("--move-penalty", type=click.FloatRange(min=0), default=DEFAULT_MOVE_PENALTY_M, show_default=True,
              help="Metres of travel one child moved from its current school counts as, in the objective.")  # fmt: skip
@planner_errors
def evaluate(blocks, schools, zone_col, out_dir, overwrite, move_penalty, **kwargs):
    """A given assignment as a plan (a hand-drawn option, the official zones, last year's): every figure of a
    plan (children over seats, moved, trips, zones in pieces) in a plan folder, to set beside zoning's plans
    with `zoning compare`.  Nothing is solved: every block stays where it is given, and the rules zoning's
    plans keep (seats, one piece per zone, each school's own block in its zone) are measured, not imposed:
    the ones it breaks are printed and listed in summary.json (findings).  With --roads trips are by road."""
    prepare_out(out_dir, overwrite=overwrite, inputs=(blocks, schools))
    kwargs.pop("issues_file", None)
    roads = _roads(kwargs)
    # a column the blocks frame holds under its own name (current_school, name, …) is read apart, by block id
    own = zone_col in (*BLOCK_ALIASES, "students_estimated", "geometry")
    where = dict(id_column=kwargs.get("block_col_block_id"), layer=kwargs.get("blocks_layer"),
                 encoding=kwargs.get("encoding"))  # fmt: skip
    inputs = _load(blocks, schools, kwargs, block_keep=[] if own else [zone_col])
    if own:
        zones = read_block_column(blocks, zone_col, **where)
    else:
        zones = inputs.blocks.set_index("block_id")[zone_col]
    plan = evaluate_zones(inputs.blocks, inputs.schools, zones, move_penalty_m=move_penalty,
                          warnings=inputs.warnings, roads=roads)  # fmt: skip
    files = write_plan(plan, out_dir, overwrite=overwrite, title=f"{zone_col} (given)")
    _report(plan, files)


@main.command()
@click.argument("primary_zones", type=click.Path(dir_okay=False))
@click.argument("middle_schools", type=click.Path(dir_okay=False))
@input_options
@solve_options
@planner_errors
def feeder(primary_zones, middle_schools, **kwargs):
    """Feeder districts (直对入学): every primary school's whole zone feeds exactly one middle school.

    PRIMARY_ZONES holds one polygon per primary school with its cohort (children moving up; name it with
    --students-col) and optionally today's middle school (--current-school-col); MIDDLE_SCHOOLS the
    middle schools with their seats.  The middle schools' zones are unions of primary zones, in one
    piece, within seats.  Same outputs as `partition`.
    """
    plan, files = _run_partition(primary_zones, middle_schools, kwargs, units="primary zones")
    _report(plan, files)
    if quiet():  # -q: errors only
        return
    b = plan.blocks
    if "current_school" in b and b["current_school"].notna().any():
        named = b["current_school"].notna()
        kept = int((named & ~b["moved"].astype(bool)).sum())
        click.echo(
            f"Feeders: {kept} of {int(named.sum())} primary schools keep their current middle school"
            + (f" ({int((~named).sum())} name none)" if (~named).any() else "")
        )
    click.echo("plan.csv: the middle school each primary school feeds (one row per primary school).")


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
