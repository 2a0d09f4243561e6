"""Coordinates and the steps every ``check_*`` shares: points from lon/lat columns (swapped columns
swapped back), vector geometries, conversion to WGS84, polygon repair, and the canonical frame.

The canonical frames are in EPSG:4326 with a ``RangeIndex`` and ``source_row`` (the row the user sees),
and carry ``attrs["source_columns"]`` (canonical name → header as written in the file) and
``attrs["file"]``, so that later messages can name the user's own column.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ...errors import InputError, Issue
from .. import crs as zcrs
from ..files import RawTable, row_label
from .headers import _missing_column, _Report, _resolve, normalise_header
from .numbers import _ids_and_names, _numbers

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------------- coordinates


def _coords(coords: str) -> str:
    try:
        return zcrs.parse_coords(coords)
    except ValueError as err:
        raise InputError([Issue(str(err), "use --coords wgs84, cgcs2000, gcj02, bd09 or EPSG:n.")]) from err


def _points_from_columns(
    rep: _Report, aliases: Mapping[str, tuple[str, ...]], kind: str
) -> np.ndarray | None:
    """Points from the lon/lat columns of a table (swapped columns are detected and swapped back)."""
    missing = [c for c in ("lon", "lat") if c not in rep.cols]
    for canon in missing:
        _missing_column(rep, canon, aliases)
    if missing:
        return None
    lon = _numbers(rep, "lon", fix="enter the longitude in decimal degrees, e.g. 113.88.")
    lat = _numbers(rep, "lat", fix="enter the latitude in decimal degrees, e.g. 22.57.")
    lon_h, lat_h = rep.cols["lon"], rep.cols["lat"]
    for header in (lon_h, lat_h):
        tag = next((t for t in ("gcj02", "bd09", "wgs84") if t in normalise_header(header)), None)
        if tag and kind in zcrs.NAMED_SYSTEMS and tag != kind and not (tag == "wgs84" and kind == "cgcs2000"):
            rep.warn(
                f'the header "{header}" says {tag}, but the coordinates are read as {kind}.',
                f"check --coords (e.g. --coords {tag}).",
                column=header,
            )
            break
    geographic = not zcrs.label_crs(kind).is_projected
    ok = ~np.isnan(lon) & ~np.isnan(lat)
    if geographic and ok.any():
        if zcrs.detect_swapped_lonlat(lon[ok], lat[ok], kind):
            lon, lat = lat, lon
            rep.warn(
                f'the columns "{lon_h}" and "{lat_h}" are swapped (longitudes are in "{lat_h}"); '
                "they were swapped back.",
                f'put longitude in "{lon_h}" and latitude in "{lat_h}", or name them with '
                f"{rep.flag('lon')} / {rep.flag('lat')}.",
            )
            swapped = " even with the longitude and latitude columns swapped back"
            lon_col, lat_col = lat_h, lon_h
        else:
            swapped, lon_col, lat_col = "", lon_h, lat_h
        for values, limit, axis, column, example in (
            (lon, 180, "longitude", lon_col, "x, e.g. 113.88"),
            (lat, 90, "latitude", lat_col, "y, e.g. 22.57"),
        ):
            for k in np.flatnonzero(ok & (np.abs(values) > limit)):
                rep.error(
                    f"{axis} {values[k]:g} is outside -{limit}…{limit}{swapped}.",
                    f"enter the {axis} in decimal degrees ({example}), or check --coords.",
                    k=int(k),
                    column=column,
                    value=values[k],
                )
    points = shapely.points(np.where(ok, lon, 0.0), np.where(ok, lat, 0.0))
    points[~ok] = None
    return points


def _swap_vector_points(rep: _Report, geoms: np.ndarray, kind: str, crs: pyproj.CRS) -> np.ndarray:
    """Vector points whose x holds latitudes and y longitudes are swapped back (with a warning)."""
    if crs.is_projected:
        return geoms
    is_point = shapely.get_type_id(geoms) == 0
    if not is_point.any() or not is_point.all():
        return geoms
    xy = shapely.get_coordinates(geoms)
    if not zcrs.detect_swapped_lonlat(xy[:, 0], xy[:, 1], kind):
        return geoms
    rep.warn(
        "the point coordinates are swapped (x holds latitudes, y longitudes); they were swapped back.",
        "export the points again with x = longitude and y = latitude.",
    )
    return shapely.points(xy[:, 1], xy[:, 0])


def _geometries(
    rep: _Report, aliases: Mapping[str, tuple[str, ...]], kind: str
) -> tuple[np.ndarray | None, pyproj.CRS | None, bool]:
    """Geometries of the file (vector geometry, or points from lon/lat), the CRS their numbers are in, and
    whether that CRS is declared by the file.  ``kind`` is the parsed ``--coords``."""
    frame = rep.raw.frame
    if isinstance(frame, gpd.GeoDataFrame) and frame.active_geometry_name in frame.columns:
        geoms = np.asarray(frame.geometry.values, dtype=object)
        if not (shapely.is_missing(geoms) | shapely.is_empty(geoms)).all() or not {"lon", "lat"} <= set(
            rep.cols
        ):
            crs = frame.crs if frame.crs is not None else zcrs.label_crs(kind)
            if frame.crs is None:
                log.info("%s: no coordinate system in the file; read as %s", rep.raw.file, kind)
            for k in np.flatnonzero(shapely.is_missing(geoms) | shapely.is_empty(geoms)):
                rep.error(
                    f"{rep.what} has no geometry.",
                    f"draw the {rep.what} or delete the feature.",
                    k=int(k),
                    column=None,
                )
            geoms = shapely.force_2d(geoms)
            crs = pyproj.CRS.from_user_input(crs)
            return _swap_vector_points(rep, geoms, kind, crs), crs, frame.crs is not None
    return _points_from_columns(rep, aliases, kind), zcrs.label_crs(kind), False


def _to_wgs84(rep: _Report, geoms: np.ndarray, crs: pyproj.CRS, kind: str, *, from_file: bool) -> np.ndarray:
    """The good rows in EPSG:4326 (``crs.to_wgs84``); non-finite results are errors.

    A vector file that declares a coordinate system other than WGS84 is trusted when ``kind`` (the parsed
    ``--coords``) is the default ``wgs84``; any other ``kind`` overrides the file's label (as
    ``crs.to_wgs84`` does).
    """
    good = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    out = np.full(len(geoms), None, dtype=object)
    if not good.any():
        return out
    frame = gpd.GeoDataFrame(geometry=gpd.GeoSeries(geoms[good], crs=crs))
    try:
        if from_file and kind == "wgs84" and not frame.crs.equals("EPSG:4326", ignore_axis_order=True):
            log.info("%s: converting from the file's coordinate system %s", rep.raw.file, frame.crs.name)
            moved = frame.to_crs("EPSG:4326")
        else:
            moved = zcrs.to_wgs84(frame, kind)
    except InputError as err:
        for issue in err.issues:
            rep.issues.append(replace(issue, file=rep.raw.file, column=None))
        return out
    out[good] = np.asarray(moved.geometry.values, dtype=object)
    bounds = shapely.bounds(out[good])
    for k in np.flatnonzero(good)[~np.isfinite(bounds).all(axis=1)]:
        rep.error(
            "the coordinates cannot be converted to WGS84.",
            "check the coordinates and --coords.",
            k=int(k),
            column=None,
        )
    return out


def _repair_polygons(rep: _Report, geoms: np.ndarray) -> np.ndarray:
    """Invalid polygons repaired with ``make_valid`` (warning naming the rows); no area left → error."""
    geoms = geoms.copy()
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))
    invalid = np.flatnonzero(polygonal & ~shapely.is_valid(np.where(polygonal, geoms, None)))
    repaired = []
    for k in invalid:
        reason = shapely.is_valid_reason(geoms[k])
        fixed = shapely.make_valid(geoms[k])
        parts = [p for p in shapely.get_parts(fixed) if shapely.get_type_id(p) in (3, 6)]
        area = shapely.union_all(parts) if parts else None
        if area is None or area.is_empty or area.area <= 0:
            rep.error(
                f"the polygon is invalid ({reason}) and has no area once repaired.",
                "redraw the block's outline.",
                k=int(k),
                column=None,
            )
            continue
        if shapely.get_type_id(area) not in (3, 6):
            area = shapely.multipolygons(shapely.get_parts(area))
        geoms[k] = area
        repaired.append(int(k))
    if repaired:
        rep.warn(
            f"{len(repaired)} invalid polygon{'s' if len(repaired) > 1 else ''} (e.g. self-intersections) "
            f"repaired with make_valid: rows {rep.rows_text(repaired)}.",
            "check these outlines in a GIS and fix them at the source.",
        )
    return geoms


def _single_points(geoms: np.ndarray) -> np.ndarray:
    geoms = geoms.copy()
    multi = np.flatnonzero(shapely.get_type_id(geoms) == 4)
    for k in multi:
        if shapely.get_num_geometries(geoms[k]) == 1:
            geoms[k] = shapely.get_geometry(geoms[k], 0)
    return geoms


# ------------------------------------------------------------------------------ the steps of check_*


def _start(
    raw: RawTable,
    what: str,
    aliases: Mapping[str, tuple[str, ...]],
    columns: Mapping[str, str] | None,
    flag_prefix: str | None = None,
) -> tuple[_Report, list, list]:
    """The report of a file with its columns found, and the ids and names of its rows (``flag_prefix``: see
    :class:`_Report`).

    A file without data rows raises at once (with any column problems found so far).
    """
    rep = _Report(raw, what, flag_prefix)
    _resolve(rep, aliases, columns)
    if len(raw.frame) == 0:
        rep.error(f"has no {what}s (no data rows).", "export the table again with its rows.", column=None)
        rep.raise_if_errors()
    _total_rows(rep)
    ids, names = _ids_and_names(rep, aliases, f"{what}_id")
    return rep, ids, names


#: What the id or name cell of a table's total row says (合计 at the foot of a bureau's sheet).
TOTAL_WORDS = frozenset({"合计", "总计", "小计", "共计", "总合计", "全区合计", "total", "subtotal", "sum"})


def _total_rows(rep: _Report) -> None:
    """A row whose id or name reads 合计 / 总计 / 小计 / total is the table's total, not a block or school:
    named as such, once (its children or seats would count twice, its empty id and coordinates are not
    listed as problems of their own)."""
    for canon in (f"{rep.what}_id", "name"):
        if canon not in rep.cols:
            continue
        for k, value in enumerate(rep.raw.frame[rep.cols[canon]].tolist()):
            text = "".join(str(value).split()).strip(":：").lower() if isinstance(value, str) else ""
            if text in TOTAL_WORDS and k not in rep.totals:
                rep.totals.add(k)
                rep.error(
                    f'is a total row ("{value}"), not a {rep.what}: its figures would count a second time.',
                    "remove the total row (and any subtotal rows) from the table.",
                    k=k,
                    canon=canon,
                    total=True,
                )


def _wgs84_geoms(
    rep: _Report,
    aliases: Mapping[str, tuple[str, ...]],
    coords: str,
    shapes: Callable[[_Report, np.ndarray], np.ndarray],
    *,
    repair: bool = False,
) -> np.ndarray | None:
    """The file's geometries, checked by ``shapes`` and converted to EPSG:4326 (each step only while the
    file has no errors), then, with ``repair``, invalid polygons repaired.  None when there are none."""
    kind = _coords(coords)
    geoms, crs, declared = _geometries(rep, aliases, kind)
    if geoms is not None and not rep.errors:
        geoms = shapes(rep, geoms)
    if geoms is not None and not rep.errors:
        geoms = _to_wgs84(rep, geoms, crs, kind, from_file=declared)
        if repair:
            geoms = _repair_polygons(rep, geoms)
    return geoms


def _source_rows(rows: np.ndarray) -> np.ndarray:
    """The rows as the user sees them: numbers (int64), or a database table's keys (``id=14``, text)."""
    if rows.dtype.kind in "iu":
        return rows.astype(np.int64)
    return np.array([row_label(r) for r in rows], dtype=object)


def _canonical(
    rep: _Report, ids: list, names: list, columns: Mapping[str, Any], geoms: np.ndarray, total: str
) -> gpd.GeoDataFrame:
    """The canonical frame: id, name, ``columns``, ``source_row``, geometry (EPSG:4326), with the attrs
    ``source_columns`` and ``file``; logs the count of rows and ``total``."""
    out = gpd.GeoDataFrame(
        {
            f"{rep.what}_id": pd.Series(ids, dtype=object).astype(str),
            "name": pd.Series(names, dtype=object).astype(str),
            **columns,
            "source_row": _source_rows(rep.raw.rows),
        },
        geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"),
    )
    out.attrs["source_columns"] = dict(rep.cols)
    out.attrs["file"] = rep.raw.file
    log.info("%s: %d %ss, %s", rep.raw.file, len(out), rep.what, total)
    return out
