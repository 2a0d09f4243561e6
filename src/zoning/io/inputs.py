"""Read and validate the planner's files in one call: path in, canonical frame out.

``read_blocks`` / ``read_schools`` are what an analyst uses in Jupyter; ``load_inputs`` reads both files
and runs the cross-file checks, collecting the problems of *both* files into one error so the planner
fixes everything in one go.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np

from ..errors import InputError, Issue
from .crs import to_wgs84
from .files import RawTable, read_table
from .validate import check_blocks, check_pair, check_schools

log = logging.getLogger(__name__)

__all__ = [
    "Inputs",
    "read_blocks",
    "read_schools",
    "read_zones",
    "read_roads",
    "load_inputs",
    "read_plan_tables",
]


@dataclass(frozen=True)
class Inputs:
    blocks: gpd.GeoDataFrame
    schools: gpd.GeoDataFrame
    warnings: tuple[Issue, ...]
    blocks_file: str
    schools_file: str


def read_blocks(
    path: str | os.PathLike[str],
    *,
    columns: Mapping[str, str] | None = None,
    coords: str = "wgs84",
    per_1000_rate: float | None = None,
    layer: str | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Blocks (小区 / 地块 / census blocks) from any supported file, validated, in WGS84."""
    raw = read_table(path, layer=layer, encoding=encoding)
    frame, _logged_warnings = check_blocks(raw, columns=columns, coords=coords, per_1000_rate=per_1000_rate)
    return frame


def read_schools(
    path: str | os.PathLike[str],
    *,
    columns: Mapping[str, str] | None = None,
    coords: str = "wgs84",
    class_size: int | None = None,
    require_capacity: bool = True,
    keep: Sequence[str] = (),
    layer: str | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Schools from any supported file, validated, in WGS84.

    ``require_capacity=False`` accepts a file without capacity (NaN seats; enough for school districts);
    ``keep`` names further headers of the file copied unchanged into the frame (e.g. ``["特色"]``).
    """
    raw = read_table(path, layer=layer, encoding=encoding)
    frame, _logged_warnings = check_schools(
        raw,
        columns=columns,
        coords=coords,
        class_size=class_size,
        require_capacity=require_capacity,
        keep=keep,
    )
    return frame


def load_inputs(
    blocks_path: str | os.PathLike[str],
    schools_path: str | os.PathLike[str],
    *,
    block_columns: Mapping[str, str] | None = None,
    school_columns: Mapping[str, str] | None = None,
    blocks_coords: str = "wgs84",
    schools_coords: str = "wgs84",
    per_1000_rate: float | None = None,
    class_size: int | None = None,
    school_keep: Sequence[str] = (),
    blocks_layer: str | None = None,
    schools_layer: str | None = None,
    encoding: str | None = None,
) -> Inputs:
    """Both files, validated and cross-checked; one InputError lists the problems of both.

    ``school_keep`` names further headers of the schools file copied into the schools frame (see
    :func:`read_schools`); schools always need a capacity here.
    """
    issues: list[Issue] = []
    warnings: list[Issue] = []
    frames = []
    for check, path, layer, options in (
        (
            check_blocks,
            blocks_path,
            blocks_layer,
            {"columns": block_columns, "coords": blocks_coords, "per_1000_rate": per_1000_rate},
        ),
        (
            check_schools,
            schools_path,
            schools_layer,
            {
                "columns": school_columns,
                "coords": schools_coords,
                "class_size": class_size,
                "require_capacity": True,
                "keep": school_keep,
            },
        ),
    ):
        log.info("reading %s", os.fspath(path))
        try:
            frame, found = check(read_table(path, layer=layer, encoding=encoding), **options)
            frames.append(frame)
            warnings += found
        except InputError as err:
            issues += err.issues
    if issues:
        raise InputError(issues)
    blocks, schools = frames
    blocks_file, schools_file = os.fspath(blocks_path), os.fspath(schools_path)
    t0 = time.perf_counter()
    warnings += check_pair(blocks, schools, blocks_file=blocks_file, schools_file=schools_file)
    log.info("cross-file checks of %s and %s: %.2f s", blocks_file, schools_file, time.perf_counter() - t0)
    return Inputs(blocks, schools, tuple(warnings), blocks_file, schools_file)


def _geometry_file(path, layer, encoding, fix: str) -> tuple[RawTable, str]:
    """A vector file as read (its frame a GeoDataFrame) and its name for messages; a table without
    geometry is refused with ``fix``."""
    raw = read_table(path, layer=layer, encoding=encoding)
    name = os.fspath(path)
    if not isinstance(raw.frame, gpd.GeoDataFrame):
        raise InputError([Issue("holds no geometry.", fix, file=name)])
    return raw, name


def read_zones(
    path: str | os.PathLike[str],
    *,
    coords: str = "wgs84",
    layer: str | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Existing zones of the schools (polygons, any columns), in WGS84: the adjacency of districts drawn
    on schools alone.  GCJ-02 / BD-09 polygons are converted vertex by vertex."""
    raw, name = _geometry_file(
        path, layer, encoding, "give the zones as polygons (GeoJSON, GeoPackage or Shapefile)."
    )
    frame = raw.frame
    kinds = set(frame.geom_type.dropna().unique())
    if not kinds or not kinds <= {"Polygon", "MultiPolygon"}:
        raise InputError(
            [
                Issue(
                    f"holds {', '.join(sorted(kinds)) or 'no'} geometries, not zone polygons.",
                    "give one polygon per school's zone.",
                    file=name,
                )
            ]
        )
    return to_wgs84(frame, coords)


def read_roads(
    path: str | os.PathLike[str],
    *,
    coords: str = "wgs84",
    layer: str | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """A road network (LineStrings / MultiLineStrings, any columns, e.g. an OpenStreetMap export), in WGS84.

    Other geometries (points, polygons) in the file are dropped with a warning; a file with no lines at all
    is an InputError.  GCJ-02 / BD-09 lines are converted vertex by vertex.
    """
    raw, name = _geometry_file(
        path, layer, encoding, "give the roads as lines (GeoJSON, GeoPackage or Shapefile of LineStrings)."
    )
    frame = raw.frame
    kinds = frame.geom_type
    lines = kinds.isin(["LineString", "MultiLineString", "LinearRing"]).to_numpy()
    if not lines.any():
        found = sorted(kinds.dropna().unique())
        raise InputError(
            [
                Issue(
                    f"holds {', '.join(found) or 'no'} geometries, not road lines.",
                    "give the road network as LineStrings or MultiLineStrings (e.g. the roads layer of an "
                    "OpenStreetMap export; name it with --roads-layer).",
                    file=name,
                )
            ]
        )
    if not lines.all():
        rows = [int(r) for r in np.asarray(raw.rows)[~lines]]
        log.warning(
            "%s: %d feature(s) are not lines and are left out of the road network (rows %s)",
            name,
            len(rows),
            ", ".join(map(str, rows[:10])) + (" …" if len(rows) > 10 else ""),
        )
        frame = frame[lines]
    return to_wgs84(frame.reset_index(drop=True), coords)


def read_plan_tables(folder: str | os.PathLike[str]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The blocks and schools tables of a plan folder (``plan.gpkg`` as ``zoning partition`` writes it)."""
    path = Path(folder) / "plan.gpkg"
    if not path.exists():
        raise InputError(
            [
                Issue(
                    "has no plan.gpkg.",
                    "name a folder that zoning partition or districts wrote (--out).",
                    file=os.fspath(folder),
                )
            ]
        )
    blocks = read_table(path, layer="blocks").frame
    schools = read_table(path, layer="schools").frame
    return blocks, schools
