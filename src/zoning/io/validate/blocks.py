""":func:`check_blocks`: a blocks table (小区 / 地块 / census blocks) as the canonical blocks frame.

Its columns: ``block_id`` (str), ``name`` (str, defaults to the id), ``students`` (float ≥ 0),
``students_estimated`` (bool), ``current_school`` (str or None), ``source_row``, ``geometry``
(all (Multi)Polygons or all Points).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ...errors import InputError, Issue, name_list, number_issue
from ..files import RawTable
from .geometry import _canonical, _single_points, _start, _wgs84_geoms
from .headers import BLOCK_ALIASES, _flag, _missing_column, _Report
from .numbers import _as_text, _column_values, _numbers

__all__ = ["check_blocks"]

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------------ blocks


def check_blocks(
    raw: RawTable,
    *,
    columns: Mapping[str, str] | None = None,
    coords: str = "wgs84",
    per_1000_rate: float | None = None,
) -> tuple[gpd.GeoDataFrame, list[Issue]]:
    """Validate a blocks table (小区 / 地块 / census blocks) and return the canonical blocks frame.

    ``columns`` names the header of any canonical column (``{"students": "students_k4"}``); ``coords`` is
    the coordinate system of the numbers (``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``, ``EPSG:n``);
    ``per_1000_rate`` (千人学位指标: children per 1,000 residents) estimates children from a population
    column when there is no children column.  Returns the frame and the warnings; raises one
    :class:`InputError` listing every error of the file.
    """
    if per_1000_rate is not None and (
        issue := number_issue(
            "per_1000_rate", per_1000_rate, low=0, low_open=True,
            fix="give children per 1,000 residents, e.g. --per-1000-rate 80 (per_1000_rate=80 in Python).",
        )
    ):  # fmt: skip
        raise InputError([issue])
    rep, ids, names = _start(raw, "block", BLOCK_ALIASES, columns)
    _plan_as_current(rep, columns)
    n = len(raw.frame)

    estimated = False
    students = np.zeros(n)
    if "students" in rep.cols:
        students = _numbers(rep, "students", fix="enter a whole number of children (0 if none).")
        if per_1000_rate is not None:
            log.info('%s: children read from "%s"; per_1000_rate not used', raw.file, rep.cols["students"])
        for k in np.flatnonzero(students < 0):
            rep.error(
                f"{students[k]:g} children is negative.",
                "enter 0 or more children.",
                k=int(k),
                canon="students",
            )
    elif "population" in rep.cols and per_1000_rate is not None:
        population = _numbers(rep, "population", fix="enter the number of residents.")
        for k in np.flatnonzero(population < 0):
            rep.error(
                f"population {population[k]:g} is negative.", "enter 0 or more.", k=int(k), canon="population"
            )
        students = population * per_1000_rate / 1000.0
        estimated = True
        rep.warn(
            f'no children column: children estimated as "{rep.cols["population"]}" × {per_1000_rate:g} / 1,000 '
            f"(千人学位指标) for all {n} blocks.",
            f"give the real number of children with {_flag('students')} NAME if you have it.",
        )
    elif "population" in rep.cols:
        _missing_column(
            rep,
            "students",
            BLOCK_ALIASES,
            f'or estimate children from "{rep.cols["population"]}" with --per-1000-rate N '
            "(children per 1,000 residents, 千人学位指标)",
        )
    else:
        _missing_column(rep, "students", BLOCK_ALIASES)

    current: list[str | None] = [None] * n
    if "current_school" in rep.cols:
        current = [_as_text(v) for v in _column_values(rep, "current_school")]

    geoms = _wgs84_geoms(rep, BLOCK_ALIASES, coords, _block_shapes, repair=True)
    rep.raise_if_errors()
    _odd_outlines(rep, geoms)

    columns = {
        "students": students.astype(float),
        "students_estimated": np.full(n, estimated),
        "current_school": pd.Series(current, dtype=object),
    }
    return _canonical(rep, ids, names, columns, geoms, f"{students.sum():,.2f} children"), rep.warnings


#: The headers of the blocks layer of a ``plan.gpkg`` zoning writes (publish.export), by which such a layer is
#: known when it comes back as next year's blocks.
PLAN_BLOCK_HEADERS = frozenset({"block_id", "school_id", "school_name", "current_school", "moved"})


def _plan_as_current(rep: _Report, columns: Mapping[str, str] | None) -> None:
    """Blocks read from a plan zoning wrote (its ``plan.gpkg`` blocks layer, last year's plan as this
    year's input) have their current school in the plan's ``school_id``: its ``current_school`` is the
    assignment that plan was measured against, a year older, and moved children counted against it would
    count again the ones that plan moved.  A current school column the caller named is kept."""
    if (columns or {}).get("current_school") or not PLAN_BLOCK_HEADERS <= set(
        map(str, rep.raw.frame.columns)
    ):
        return
    if rep.cols.get("current_school") != "current_school":
        return
    rep.cols["current_school"] = "school_id"
    rep.warn(
        'is a plan zoning wrote: its zones (column "school_id") are read as the current schools, so children '
        'moved count against that plan; its column "current_school" (the assignment before that plan) is not '
        "used.",
        f"name {rep.flag('current_school')} current_school to count children moved against the assignment "
        "before it.",
    )


def _block_shapes(rep: _Report, geoms: np.ndarray) -> np.ndarray:
    """Blocks are all (Multi)Polygons or all Points (a one-point MultiPoint counts as a Point)."""
    geoms = _single_points(geoms)
    types = shapely.get_type_id(geoms)
    polygonal = np.isin(types, (3, 6))
    point = types == 0
    for k in np.flatnonzero(~polygonal & ~point & ~shapely.is_missing(geoms)):
        rep.error(
            f"the geometry is a {geoms[k].geom_type}; a block is a polygon or a point.",
            "give the block its outline (polygon) or a point.",
            k=int(k),
            column=None,
        )
    if polygonal.any() and point.any():
        minority, kind = (point, "point") if point.sum() <= polygonal.sum() else (polygonal, "polygon")
        for k in np.flatnonzero(minority):
            rep.error(
                f"this block is a {kind} while the other blocks are "
                f"{'polygons' if kind == 'point' else 'points'}.",
                "give all blocks the same kind of geometry: all polygons or all points.",
                k=int(k),
                column=None,
            )
    return geoms


#: A part of a block further than this from the block's other parts is named (a zone holding the block is
#: then drawn in pieces, though the block counts as one).
DETACHED_PART_M = 100.0


def _odd_outlines(rep: _Report, geoms: np.ndarray) -> None:
    """Warnings for outlines that pass every check but are likely mistakes: two blocks with the very same
    outline (their children may be counted twice) and a block in parts far apart."""
    polygonal = np.flatnonzero(np.isin(shapely.get_type_id(geoms), (3, 6)))
    if not len(polygonal):
        return
    keys = shapely.to_wkb(shapely.normalize(geoms[polygonal]))
    first: dict[bytes, int] = {}
    same = []
    for k, key in zip(polygonal, keys):
        if key in first:
            same.append((first[key], int(k)))
        else:
            first[key] = int(k)
    if same:
        pairs = [f"rows {rep.row(a)} and {rep.row(b)}" for a, b in same]
        rep.warn(
            f"{len(same)} pair(s) of blocks have the very same outline ({name_list(pairs, limit=5)}): their "
            "children may be counted twice.",
            "keep one block of each pair, or check that they are distinct 小区 on one plot.",
        )
    multi = polygonal[shapely.get_num_geometries(geoms[polygonal]) > 1]
    far = []
    for k in multi:
        parts = shapely.get_parts(geoms[k])
        lat = float(shapely.get_coordinates(parts[0])[0, 1])
        # degrees to metres near the block (WGS84): enough to tell 100 m from a shared edge
        scale = np.array([111_320.0 * np.cos(np.radians(lat)), 110_540.0])
        scaled = shapely.transform(parts, lambda c, scale=scale: c * scale)
        gap = max(
            float(shapely.distance(part, shapely.union_all(np.delete(scaled, i))))
            for i, part in enumerate(scaled)
        )
        if gap > DETACHED_PART_M:
            far.append(f"row {rep.row(int(k))} ({len(parts)} parts, {gap:,.0f} m apart)")
    if far:
        rep.warn(
            f"{len(far)} block(s) are in parts far apart: {name_list(far, limit=5)}; a zone holding one is "
            "drawn in pieces on the map, though the block counts as one piece.",
            "split such a block into one block per part (with its own children), or check its outline.",
        )
