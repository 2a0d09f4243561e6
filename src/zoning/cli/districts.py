"""The ``districts`` command: school districts (学区) or education groups from the schools alone, without
blocks (children from the enrolment column, adjacency from the zones file or Voronoi cells).
"""

from __future__ import annotations

from dataclasses import replace

import click

from ..districts.api import form_districts
from ..io.inputs import read_schools, read_zones
from ..options import MAX_SEED, SolveOptions
from ..publish.export import prepare_out, write_plan
from .group import main
from .options import (
    OUT_HELP,
    SCHOOL_COLUMN_FLAGS,
    _apply,
    _column_flags,
    _columns,
    _coords,
    _district_kwargs,
    _file_leads,
    _keep_columns,
    _only_stage,
    ctrl_c_stops,
    district_options,
    planner_errors,
)
from .report import _report


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
@click.option(
    "--schools-layer", help="Layer of a GeoPackage (or sheet of an Excel workbook) holding the schools."
)
@click.option(
    "--class-size", type=click.IntRange(min=1), help="Children per class when capacity comes from 招生班数."
)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help=OUT_HELP)
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True)
@click.option("--gap", type=click.FloatRange(min=0, max=1, max_open=True), default=1e-4, show_default=True)
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True)
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
    prepare_out(out_dir, overwrite=overwrite, inputs=(schools,))
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
    with ctrl_c_stops() as stop:  # Ctrl-C: the best grouping so far, with its gap
        plan = form_districts(
            frame, zones=zones, zones_school_column=zones_school_col, options=replace(options, stop=stop),
            **district_kw,
        )  # fmt: skip
    files = write_plan(plan, out_dir, overwrite=overwrite)
    _report(plan, files)
