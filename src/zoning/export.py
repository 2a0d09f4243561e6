"""A plan's output files: plan.gpkg, plan.csv, summary.json, map.html — each written atomically.

Layers of ``plan.gpkg`` (WGS84):

* ``blocks``: block_id, name, school_id, school_name, students, students_estimated, current_school,
  distance_m, moved;
* ``zones``: one dissolved polygon per school with students, capacity, utilisation;
* ``schools``: school_id, name, capacity, students, utilisation, overload.
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd

from .io import prepare_out_dir, write_csv, write_gpkg, write_json, write_text
from .maps import to_html, zone_map
from .metrics import summary
from .plan import Plan

__all__ = ["OUTPUT_FILES", "write_plan", "plan_layers", "plan_table", "plan_map_html"]

OUTPUT_FILES = ("plan.gpkg", "plan.csv", "summary.json", "map.html")

_BLOCK_COLS = [
    "block_id",
    "name",
    "school_id",
    "school_name",
    "students",
    "students_estimated",
    "current_school",
    "distance_m",
    "moved",
]
_SCHOOL_COLS = ["school_id", "name", "capacity", "students", "utilisation", "overload"]


def _keep(frame: gpd.GeoDataFrame, cols: list[str]) -> gpd.GeoDataFrame:
    return frame[[c for c in cols if c in frame.columns] + ["geometry"]].to_crs(4326)


def plan_layers(plan: Plan) -> dict[str, gpd.GeoDataFrame]:
    """The GeoPackage layers of a plan, in WGS84."""
    return {
        "blocks": _keep(plan.blocks, _BLOCK_COLS),
        "zones": plan.zones.to_crs(4326),
        "schools": _keep(plan.schools, _SCHOOL_COLS),
    }


def plan_table(plan: Plan):
    """The plan as a plain table for Excel / WPS users (one row per block)."""
    cols = ["block_id", "name", "school_id", "school_name", "students", "distance_m", "moved"]
    return plan.blocks[[c for c in cols if c in plan.blocks.columns]].copy()


def plan_map_html(plan: Plan, *, title: str = "Attendance zones 划片方案") -> str:
    """The standalone HTML map of a plan (opens with no network)."""
    return to_html(zone_map(plan.blocks, plan.zones, plan.schools, title=title))


def write_plan(
    plan: Plan, out_dir: str | os.PathLike[str], *, overwrite: bool = False, title: str | None = None
) -> dict[str, Path]:
    """Write the four output files into ``out_dir``; refuses to replace existing ones unless ``overwrite``."""
    out = prepare_out_dir(out_dir, OUTPUT_FILES, overwrite=overwrite)
    html = plan_map_html(plan, title=title or "Attendance zones 划片方案")
    return {
        "plan.gpkg": write_gpkg(out / "plan.gpkg", plan_layers(plan), overwrite=overwrite),
        "plan.csv": write_csv(out / "plan.csv", plan_table(plan), overwrite=overwrite),
        "summary.json": write_json(out / "summary.json", summary(plan), overwrite=overwrite),
        "map.html": write_text(out / "map.html", html, overwrite=overwrite),
    }
