"""The ``zoning`` command (click).  Thin: parse flags, call the library, print a short report.

Exit codes: 0 success, 1 a problem with the input or no plan fits the rules (the message says what and
how to fix it), 2 bad flags (click's usage errors).  No traceback reaches the planner.
"""

from __future__ import annotations

import functools
import logging
import re
import shlex
import sys
import unicodedata
from importlib.metadata import version as _version

import click
import numpy as np

from ..check.metrics import district_table, school_table, summary
from ..districts.api import form_districts
from ..errors import InfeasibleError, InputError, ZoningError
from ..io.crs import parse_coords
from ..io.datasets import get_path
from ..io.files import prepare_out_dir, write_json
from ..io.inputs import load_inputs, read_roads, read_schools, read_zones
from ..options import SolveOptions
from ..plan import Plan
from ..publish.export import OUTPUT_FILES, write_plan
from ..zones.api import assign_zones
from ..zones.problem import DEFAULT_CANDIDATES, DEFAULT_MOVE_PENALTY_M

log = logging.getLogger("zoning")

#: canonical column → flag, for the column-naming options
BLOCK_COLUMN_FLAGS = ("block_id", "students", "current_school", "name", "population")
SCHOOL_COLUMN_FLAGS = (
    "school_id",
    "name",
    "capacity",
    "classes",
    "quality",
    "stage",
    "enrolment",
    "district",
    "lead",
)


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
    opts += _column_flags("block", BLOCK_COLUMN_FLAGS) + _column_flags("school", SCHOOL_COLUMN_FLAGS)
    return _apply(opts, f)


def _apply(opts: list, f):
    """Decorate ``f`` with click options, the first listed shown first in --help."""
    for opt in reversed(opts):
        f = opt(f)
    return f


def _column_flags(table: str, canons: tuple[str, ...]) -> list:
    """--<canon>-col options naming a column of the blocks or schools file (id and name get the table's
    prefix: --block-id-col, --school-name-col); values land in ``<table>_col_<canon>``."""
    out = []
    for canon in canons:
        prefix = f"{table}-" if canon in ("name", f"{table}_id") else ""
        flag = ("--" + prefix + canon.replace("_", "-") + "-col").replace(
            f"--{table}-{table}-id", f"--{table}-id"
        )
        out.append(
            click.option(flag, f"{table}_col_{canon}", help=f"{table.capitalize()}s column holding {canon}.")
        )
    return out


def _columns(kwargs: dict, prefix: str) -> dict[str, str]:
    out = {}
    for key in list(kwargs):
        if key.startswith(prefix):
            value = kwargs.pop(key)
            if value:
                out[key[len(prefix) :]] = value
    return out


def _load(blocks, schools, kwargs, keep=()):
    coords = kwargs.pop("coords")
    return load_inputs(
        blocks,
        schools,
        school_keep=keep,
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
        except click.ClickException:  # usage errors: click prints them and exits with 2
            raise
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
    return _apply(opts, f)


def _split(text: str) -> list[str]:
    return [t.strip() for t in re.split(r"[,，;；、]", text) if t.strip()]


def _pairs(ctx, param, values):
    out = []
    for v in values:
        parts = _split(v)
        if len(parts) != 2:
            raise click.BadParameter(
                f'"{v}" names {len(parts)} school(s); give two, e.g. "实验小学,育才小学"'
            )
        out.append((parts[0], parts[1]))
    return tuple(out)


def _assignments(ctx, param, values):
    out = {}
    for v in values:
        key, sep, value = v.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise click.BadParameter(f'"{v}" is not COLUMN=VALUE, e.g. 特色=科技')
        out[key.strip()] = value.strip()
    return out


def _stage_counts(ctx, param, values):
    out = {}
    for v in values:
        key, sep, value = v.partition("=")
        try:
            out[key.strip()] = int(value) if sep else 1
        except ValueError:
            raise click.BadParameter(f'"{v}" is not STAGE=COUNT, e.g. junior_middle=1') from None
        if not key.strip() or out[key.strip()] < 1:
            raise click.BadParameter(f'"{v}" is not STAGE=COUNT with COUNT ≥ 1')
    return out


def _rate(ctx, param, value):
    if value is None:
        return None
    text = str(value).strip()
    try:
        rate = float(text.rstrip("%")) / (100 if text.endswith("%") or float(text.rstrip("%")) > 1 else 1)
    except ValueError:
        raise click.BadParameter(f'"{value}" is not a rate; give e.g. 0.85 or 85%') from None
    if not 0 <= rate <= 1:
        raise click.BadParameter(f'"{value}" is not between 0 and 100 %')
    return rate


def _names(ctx, param, values):
    return tuple(name for v in values for name in _split(v))


def district_options(f):
    """Options of the school-district (学区) grouping, shared by `partition --districts` and `districts`."""
    frac = click.FloatRange(min=0, max=1, max_open=True)
    opts = [
        click.option(
            "--districts",
            "n_districts",
            type=click.IntRange(min=1),
            help="Group the schools into K districts (学区).",
        ),
        click.option(
            "--groups", is_flag=True, help="Form education groups (教育集团): members need not be adjacent."
        ),
        click.option(
            "--leads",
            multiple=True,
            callback=_names,
            help="Schools that may lead (ids or names, comma-separated); default: the high-quality schools, or the lead column.",
        ),
        click.option(
            "--pin-lead",
            multiple=True,
            callback=_names,
            help="A school that must lead a district (repeatable).",
        ),
        click.option(
            "--lead-min-quality", type=float, help="Quality from which a school is high quality and may lead."
        ),
        click.option(
            "--min-members",
            type=click.IntRange(min=0),
            help="Least member schools per district besides the lead (X of 1+X).",
        ),
        click.option(
            "--max-members",
            type=click.IntRange(min=0),
            help="Most member schools per district besides the lead.",
        ),
        click.option(
            "--seats-tolerance",
            type=frac,
            default=0.15,
            show_default=True,
            help="Seats per district within this fraction of the average.",
        ),
        click.option(
            "--children-tolerance",
            type=frac,
            default=0.15,
            show_default=True,
            help="Children per district within this fraction of the average.",
        ),
        click.option(
            "--quality-tolerance",
            type=click.FloatRange(min=0, max=1),
            default=0.15,
            show_default=True,
            help="Mean quality per district within this fraction of the quality range of the average.",
        ),
        click.option("--no-quality-balance", is_flag=True, help="Do not balance mean quality."),
        click.option(
            "--together",
            multiple=True,
            callback=_pairs,
            help='Two schools that must share a district: "A,B" (repeatable).',
        ),
        click.option(
            "--apart",
            multiple=True,
            callback=_pairs,
            help='Two schools that must not share a district: "A,B" (repeatable).',
        ),
        click.option(
            "--require",
            multiple=True,
            callback=_assignments,
            help="Every district holds a school tagged COLUMN=VALUE (thematic districts; repeatable).",
        ),
        click.option(
            "--require-stage",
            multiple=True,
            callback=_stage_counts,
            help="Every district holds COUNT schools of STAGE, e.g. junior_middle=1 (学区一体化; repeatable).",
        ),
        click.option(
            "--mix-col",
            help="Education groups: every group holds a school of each kind in this column (e.g. 城区/乡村).",
        ),
        click.option(
            "--max-lead-distance",
            type=click.FloatRange(min=0, min_open=True),
            help="Members within this many metres of their lead (straight line).",
        ),
        click.option(
            "--min-coverage",
            callback=_rate,
            help="Least share of children in districts holding a high-quality school (优质学校覆盖率), e.g. 85%.",
        ),
        click.option(
            "--only-stage",
            multiple=True,
            help="Group only schools of this stage (stage column value; repeatable).",
        ),
    ]
    return _apply(opts, f)


def _district_kwargs(kwargs: dict) -> dict:
    """Pop the district options into form_districts keywords."""
    groups = kwargs.pop("groups")
    quality_tol = kwargs.pop("quality_tolerance")
    if kwargs.pop("no_quality_balance"):
        quality_tol = None
    return dict(
        n_districts=kwargs.pop("n_districts"),
        groups=groups,
        leads=list(kwargs.pop("leads")) or None,
        pinned_leads=list(kwargs.pop("pin_lead")),
        lead_min_quality=kwargs.pop("lead_min_quality"),
        min_members=kwargs.pop("min_members"),
        max_members=kwargs.pop("max_members"),
        seats_tolerance=kwargs.pop("seats_tolerance"),
        children_tolerance=kwargs.pop("children_tolerance"),
        quality_tolerance=quality_tol,
        together=kwargs.pop("together"),
        apart=kwargs.pop("apart"),
        require=kwargs.pop("require"),
        stages=kwargs.pop("require_stage"),
        mix_column=kwargs.pop("mix_col"),
        max_lead_distance_m=kwargs.pop("max_lead_distance"),
        min_coverage=kwargs.pop("min_coverage"),
    )


def _keep_columns(district_kw: dict) -> list[str]:
    keep = list(district_kw["require"])
    if district_kw["mix_column"]:
        keep.append(district_kw["mix_column"])
    return list(dict.fromkeys(keep))


def _only_stage(schools, stages) -> object:
    if not stages:
        return schools
    wanted = {str(s).casefold() for s in stages}
    keep = schools["stage"].astype(str).str.casefold().isin(wanted).to_numpy()
    if not keep.any():
        found = sorted({str(v) for v in schools["stage"].dropna()})
        raise ZoningError(
            f"no school has the stage {', '.join(stages)}. Fix: use one of the stages in the file: "
            + (", ".join(found) if found else "(the file has no stage column; name it with --stage-col)")
        )
    log.info("grouping %d of %d schools (stage %s)", int(keep.sum()), len(schools), ", ".join(stages))
    return schools[keep].reset_index(drop=True)


def _file_leads(schools, district_kw: dict) -> None:
    """Schools flagged in the lead column become the lead candidates unless --leads names others."""
    if district_kw["leads"] is None and "lead" in schools and schools["lead"].any():
        district_kw["leads"] = schools.loc[schools["lead"], "school_id"].astype(str).tolist()
        log.info("lead candidates: the %d schools flagged in the lead column", len(district_kw["leads"]))


def _run_partition(blocks, schools, kwargs, *, title: str | None = None) -> tuple[Plan, dict]:
    """Zones (and, with --districts, districts made of them) from the parsed options of a command; the
    district and --only-stage options are read only when the command has them (`feeder` has not)."""
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
    district_kw = _district_kwargs(kwargs) if "n_districts" in kwargs else None
    only_stage = kwargs.pop("only_stage", ())
    roads_file, roads_layer = kwargs.pop("roads", None), kwargs.pop("roads_layer", None)
    roads_coords = kwargs.pop("roads_coords", None) or kwargs["coords"]
    roads = None
    if roads_file:
        roads = read_roads(roads_file, coords=roads_coords, layer=roads_layer, encoding=kwargs["encoding"])
    inputs = _load(blocks, schools, kwargs, keep=_keep_columns(district_kw) if district_kw else ())
    school_frame = _only_stage(inputs.schools, only_stage)
    plan = assign_zones(
        inputs.blocks, school_frame, options=options, warnings=inputs.warnings, roads=roads, **rules
    )
    if district_kw and district_kw["n_districts"] is not None:
        _file_leads(school_frame, district_kw)
        plan = form_districts(school_frame, plan=plan, options=options, **district_kw)
    files = write_plan(plan, out_dir, overwrite=overwrite, title=title)
    return plan, files


def _report(plan: Plan, files: dict) -> None:
    if plan.has_zones:
        _report_zones(plan)
    if plan.districts is not None:
        _report_districts(plan)
    if plan.warnings:
        click.echo(f"{len(plan.warnings)} warning(s): see above and summary.json")
    click.echo("Wrote: " + ", ".join(str(p) for p in files.values()))
    click.echo(f"Map: open {files['map.html']} in a browser")


def _status(i) -> str:
    if i.gap <= 1e-9:
        return "proven optimal"
    if i.status == "optimal":
        return "optimal within the requested gap"
    return "best plan found in the time limit"


def _gap(i) -> str:
    return f"{100 * i.gap:.2f}" if i.gap == 0 or i.gap >= 1e-4 else f"{100 * i.gap:.3g}"


def _display_width(text: str) -> int:
    """Terminal columns of ``text``: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    """``text`` cut or padded to ``width`` terminal columns."""
    out, used = "", 0
    for c in text:
        w = _display_width(c)
        if used + w > width:
            break
        out, used = out + c, used + w
    return out + " " * (width - used)


def _report_districts(plan: Plan) -> None:
    i = plan.district_info
    d = summary(plan)["districts"]
    rules = d["rules"]
    unit = {"children": "child-km", "seats": "seat-km", "schools": "school-km"}[rules["weight"]]
    click.echo(
        f"{rules['kind'].capitalize()}: {_status(i)}: {i.objective / 1000:,.1f} {unit} to the leads "
        f"(lower bound {i.lower_bound / 1000:,.1f}, gap {_gap(i)} %) in {i.seconds:.1f} s"
    )
    table = district_table(plan)
    width = max(8, min(30, max(_display_width(str(v)) for v in table["lead_name"])))
    header = f"{'#':>3}  {_pad('lead', width)}  {'schools':>7}  {'seats':>7}  {'children':>8}  {'quality':>7}"
    click.echo(header + "  covered")
    any_hq = bool(plan.schools["high_quality"].any())
    for _, r in table.iterrows():
        q = "—" if np.isnan(r["mean_quality"]) else f"{r['mean_quality']:.3g}"
        seats = "—" if np.isnan(r["capacity"]) else f"{r['capacity']:,.0f}"
        kids = "—" if np.isnan(r["students"]) else f"{r['students']:,.0f}"
        covered = ("yes" if r["covered"] else "no") if any_hq else "—"
        click.echo(
            f"{r['district_id']:>3}  {_pad(str(r['lead_name']), width)}  {r['n_schools']:>7}  "
            f"{seats:>7}  {kids:>8}  {q:>7}  {covered}"
        )
    a, b = d["after"], d["before"]

    def figures(f):
        parts = []
        if f.get("quality_spread") is not None:
            parts.append(f"quality spread {f['quality_spread']:.3g} (Gini {f['quality_gini']:.3f})")
        if f.get("coverage_rate") is not None:
            parts.append(f"coverage {100 * f['coverage_rate']:.1f} %")
        dev = {k: v for k, v in f["balance_deviation"].items() if v is not None}
        parts.append(
            "largest deviation from the average: " + ", ".join(f"{k} {100 * v:.0f} %" for k, v in dev.items())
        )
        return "; ".join(parts)

    click.echo(f"After: {figures(a)}")
    if b:
        click.echo(f"Before ({b['districts']} existing districts): {figures(b)}")
    click.echo(f"Rules: {rules['balance']}; high quality: {rules['high_quality']}")


def _report_zones(plan: Plan) -> None:
    i = plan.info
    s = summary(plan)
    t = s["totals"]
    status, gap = _status(i), _gap(i)
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


def road_options(f):
    """--roads FILE: distances by road instead of straight lines."""
    opts = [
        click.option(
            "--roads",
            type=click.Path(dir_okay=False),
            help="Road network (lines: GeoPackage, Shapefile, GeoJSON): distances by road, not straight "
            "lines; --max-distance is then a road distance. Roads crossing without a shared vertex are "
            "not connected (bridges), so rivers, rail lines and expressways are crossed only where a road "
            "joins both sides.",
        ),
        click.option("--roads-layer", help="Layer of a GeoPackage holding the roads."),
        click.option(
            "--roads-coords",
            callback=_coords,
            help="Coordinate system of the roads file (default: --coords).",
        ),
    ]
    return _apply(opts, f)


@main.command()
@click.argument("blocks", type=click.Path(dir_okay=False))
@click.argument("schools", type=click.Path(dir_okay=False))
@input_options
@solve_options
@road_options
@district_options
@planner_errors
def partition(blocks, schools, **kwargs):
    """Draw attendance zones (划片): every block of BLOCKS to one school of SCHOOLS.

    Seats are never exceeded (unless --allow-overload), every zone is one piece around its school,
    trips are short and few children are moved from their current school.  With --districts K the
    schools are then grouped into K school districts (学区) made of those zones.  Writes plan.gpkg,
    plan.csv, summary.json and map.html into --out.
    """
    plan, files = _run_partition(blocks, schools, kwargs)
    _report(plan, files)


def _school_column_options(f):
    """The --*-col options of the schools file alone (the `districts` command has no blocks)."""
    return _apply(_column_flags("school", SCHOOL_COLUMN_FLAGS), f)


@main.command()
@click.argument("schools", type=click.Path(dir_okay=False))
@_school_column_options
@click.option(
    "--zones",
    "zones_file",
    type=click.Path(dir_okay=False),
    help="The schools' existing zones (polygons): districts are unions of them.",
)
@click.option(
    "--zones-school-col", help="Zones column holding each zone's school id or name (default: found)."
)
@click.option("--zones-layer", help="Layer of a GeoPackage holding the zones.")
@click.option(
    "--zones-coords", callback=_coords, help="Coordinate system of the zones file (default: --coords)."
)
@click.option(
    "--coords",
    callback=_coords,
    default="wgs84",
    show_default=True,
    help="Coordinate system of the schools file: wgs84, cgcs2000, gcj02, bd09 or EPSG:n.",
)
@click.option("--encoding", help="Text encoding of CSV / Shapefile input (detected when not given).")
@click.option("--schools-layer", help="Layer of a GeoPackage holding the schools.")
@click.option(
    "--class-size", type=click.IntRange(min=1), help="Children per class when capacity comes from 招生班数."
)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True)
@click.option("--gap", type=click.FloatRange(min=0, max=1, max_open=True), default=1e-4, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@district_options
@click.option(
    "--issues",
    "issues_file",
    type=click.Path(dir_okay=False),
    help="Write every input problem found to this JSON file.",
)
@planner_errors
def districts(schools, zones_file, zones_school_col, zones_layer, zones_coords, coords, encoding, schools_layer,
              class_size, out_dir, overwrite, time_limit, gap, seed, workers, issues_file, **kwargs):  # fmt: skip
    """Group the schools of SCHOOLS into school districts (学区) or education groups, without blocks.

    Children come from the enrolment column (在校生数) if any, adjacency from --zones if given, else from
    Voronoi cells around the schools.  Writes plan.gpkg, plan.csv, summary.json and map.html into --out.
    """
    if kwargs["n_districts"] is None:
        raise click.UsageError("give the number of districts with --districts K")
    prepare_out_dir(out_dir, OUTPUT_FILES, overwrite=overwrite)
    columns = _columns(kwargs, "school_col_")
    district_kw = _district_kwargs(kwargs)
    frame = read_schools(
        schools,
        columns=columns,
        coords=coords,
        class_size=class_size,
        layer=schools_layer,
        encoding=encoding,
        require_capacity=False,
        keep=_keep_columns(district_kw),
    )
    frame = _only_stage(frame, kwargs.pop("only_stage"))
    _file_leads(frame, district_kw)
    zones = (
        read_zones(zones_file, coords=zones_coords or coords, layer=zones_layer, encoding=encoding)
        if zones_file
        else None
    )
    options = SolveOptions(time_limit_s=time_limit, workers=workers, seed=seed, relative_gap=gap)
    plan = form_districts(
        frame, zones=zones, zones_school_column=zones_school_col, options=options, **district_kw
    )
    files = write_plan(plan, out_dir, overwrite=overwrite)
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
    plan, files = _run_partition(primary_zones, middle_schools, kwargs, title="Feeder districts 直对入学")
    _report(plan, files)
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


if __name__ == "__main__":  # pragma: no cover
    main()


__all__ = ["main"]
