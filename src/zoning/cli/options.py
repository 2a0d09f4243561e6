"""Shared option decorators (as in rasterio's ``rio``) and what turns their values into library arguments:
input files and their columns, solving, roads, school districts; ``planner_errors`` turns zoning's errors
into a message and exit code 1.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import signal
import sys
import threading

import click
import numpy as np

from ..errors import InfeasibleError, InputError, ZoningError
from ..io.crs import parse_coords
from ..io.inputs import load_inputs
from ..io.save import write_json
from ..io.validate.schools import stage_mask
from ..options import MAX_SEED
from ..zones.problem import DEFAULT_CANDIDATES, DEFAULT_MOVE_PENALTY_M

log = logging.getLogger("zoning")


#: canonical column → flag, for the column-naming options
BLOCK_COLUMN_FLAGS = ("block_id", "students", "current_school", "name", "population", "lon", "lat")
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
    "lon",
    "lat",
)


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
        click.option(
            "--blocks-layer", help="Layer of a GeoPackage (or sheet of an Excel workbook) holding the blocks."
        ),
        click.option(
            "--schools-layer",
            help="Layer of a GeoPackage (or sheet of an Excel workbook) holding the schools.",
        ),
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
        prefix = f"{table}-" if canon in ("name", "lon", "lat", f"{table}_id") else ""
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


def _load(blocks, schools, kwargs, keep=(), block_keep=(), current_plan=None):
    coords = kwargs.pop("coords")
    return load_inputs(
        blocks,
        schools,
        school_keep=keep,
        block_keep=block_keep,
        block_columns=_columns(kwargs, "block_col_"),
        school_columns=_columns(kwargs, "school_col_"),
        blocks_coords=kwargs.pop("blocks_coords") or coords,
        schools_coords=kwargs.pop("schools_coords") or coords,
        per_1000_rate=kwargs.pop("per_1000"),
        class_size=kwargs.pop("class_size"),
        blocks_layer=kwargs.pop("blocks_layer"),
        schools_layer=kwargs.pop("schools_layer"),
        encoding=kwargs.pop("encoding"),
        current_plan=current_plan,
    )


@contextlib.contextmanager
def ctrl_c_stops():
    """While the block runs, Ctrl-C stops the search (the event it yields is set) instead of killing the
    command: the best plan so far is written with its gap.  A second Ctrl-C aborts.

    The event is set at once, even while a CP-SAT solve holds the main thread: the signal's byte reaches a
    watcher thread through ``signal.set_wakeup_fd`` (a Python handler would run only after that solve)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    presses = []

    def handler(signum, frame):
        presses.append(signum)
        stop.set()
        if len(presses) > 1:
            raise KeyboardInterrupt

    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)

    def watch() -> None:
        while data := os.read(read_fd, 16):
            if signal.SIGINT in data:
                stop.set()

    previous = signal.signal(signal.SIGINT, handler)
    old_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield stop
    finally:
        signal.set_wakeup_fd(old_fd)
        signal.signal(signal.SIGINT, previous)
        os.close(write_fd)
        watcher.join(timeout=1)
        os.close(read_fd)


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


#: --out of the commands that write a plan: a folder, or a database schema.
OUT_HELP = (
    "Output folder, or a database schema: postgresql://USER@HOST/DB?schema=NAME (the plan's tables and "
    "summary in one transaction; the map and plan.csv are files and are left out)."
)


def solve_options(f):
    opts = [
        click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help=OUT_HELP),
        click.option("--overwrite", is_flag=True, help="Replace existing output files."),
        click.option(
            "--time-limit",
            type=click.FloatRange(min=0, min_open=True),
            default=60.0,
            show_default=True,
            help="Seconds for the solving (with --districts, zones and districts share it); the best plan "
            "found and its proven gap are returned when time runs out.",
        ),
        click.option(
            "--gap",
            type=click.FloatRange(min=0, max=1, max_open=True),
            default=1e-4,
            show_default=True,
            help="Stop once the plan is proven within this fraction of the bound.",
        ),
        click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True),
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
    keep = np.zeros(len(schools), dtype=bool)
    for stage in stages:  # 小学 or primary alike; a 九年一贯制 school has both sections
        keep |= stage_mask(schools["stage"], stage)
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
