""":func:`check_pair`: the checks across the canonical blocks and schools (current schools that name no
school, schools outside the study area, several stages in one run), and the distance from every school
to its nearest block.
"""

from __future__ import annotations

import difflib
import logging
import re
import unicodedata
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ...errors import InputError, Issue, name_list
from .. import crs as zcrs
from ..files import is_blank, row_label

__all__ = ["check_pair", "match_codes", "numeric_code", "nearest_blocks_m", "STUDY_AREA_MARGIN_M"]

log = logging.getLogger(__name__)

#: What joins several schools in one cell ("Eckstein/Hamilton Int'l", "一小、二小").
_SEVERAL = re.compile(r"\s*[/、;；|]\s*")

#: A school farther than this from every block lies outside the study area (an error).
STUDY_AREA_MARGIN_M = 3000.0


# --------------------------------------------------------------------------------------------- cross-file


#: A numeric code: digits, and a fraction of zeros where it went through a column of numbers ("12.0").
_NUMERIC_CODE = re.compile(r"(\d+)(?:\.0+)?")


def numeric_code(value: str) -> str | None:
    """A numeric code without its leading zeros and a ".0" (full-width digits read as digits), else None."""
    text = unicodedata.normalize("NFKC", value).strip()
    found = _NUMERIC_CODE.fullmatch(text) if text.isascii() else None
    return (found.group(1).lstrip("0") or "0") if found else None


def match_codes(
    blocks: gpd.GeoDataFrame, schools: gpd.GeoDataFrame, *, blocks_file: str, schools_file: str
) -> tuple[gpd.GeoDataFrame, list[Issue]]:
    """The blocks with every current school that names a school but for how it is written replaced by that
    school's id, and a warning for each way:

    - a numeric code that differs from a school's code only by leading zeros or a ".0" ("0012" or "12.0"
      beside 12: Excel drops the zeros of a code saved as a number, a column of numbers with blanks writes
      12 as 12.0);
    - an id or name that differs from a school's only by full-width and half-width characters
      ("实验学校(初中部)" beside "实验学校（初中部）": files typed by different offices).

    A value two schools match that way is left to :func:`check_pair` to refuse."""
    if "current_school" not in blocks.columns:
        return blocks, []
    ids = schools["school_id"].astype(str).tolist()
    names = schools["name"].astype(str).tolist()
    known = set(ids) | set(names)
    by_code: dict[str, set[str]] = {}
    by_width: dict[str, set[str]] = {}
    for sid, name in zip(ids, names, strict=True):
        if (code := numeric_code(sid)) is not None:
            by_code.setdefault(code, set()).add(sid)
        for text in (sid, name):
            by_width.setdefault(unicodedata.normalize("NFKC", text), set()).add(sid)
    codes: dict[str, str] = {}
    widths: dict[str, str] = {}
    for value in {str(v) for v in blocks["current_school"].tolist() if not is_blank(v)} - known:
        code = numeric_code(value)
        if code is not None and len(by_code.get(code, ())) == 1:
            codes[value] = next(iter(by_code[code]))
        elif len(found := by_width.get(unicodedata.normalize("NFKC", value), ())) == 1:
            widths[value] = next(iter(found))
    if not codes and not widths:
        return blocks, []
    same = codes | widths
    current = [v if is_blank(v) else same.get(str(v), v) for v in blocks["current_school"].tolist()]
    column = blocks.attrs.get("source_columns", {}).get("current_school", "current_school")
    values = blocks["current_school"].astype(str)
    issues = []
    for found, how, fix in (
        (codes, f'by a code that differs from a code of {schools_file} only by leading zeros or a ".0"',
         "write the codes alike in both files (format the code column as text in Excel, which drops the "
         'leading zeros of a number and may write it as "12.0").'),
        (widths, f"as {schools_file} does but for full-width and half-width characters (（）and (), "
         "０-９ and 0-9, …)", f"write the names as {schools_file} does."),
    ):  # fmt: skip
        if found:
            pairs = [f'"{a}" as {b}' for a, b in sorted(found.items())]
            issues.append(Issue(f"{int(values.isin(list(found)).sum())} block(s) name their current school {how}; "
                                f"read as those schools ({name_list(pairs, limit=6)}).", fix,
                                file=blocks_file, column=column, severity="warning"))  # fmt: skip
    for issue in issues:
        log.warning("%s", issue)
    out = blocks.copy()
    out["current_school"] = pd.Series(current, index=blocks.index, dtype=object)
    return out, issues


def check_pair(
    blocks: gpd.GeoDataFrame, schools: gpd.GeoDataFrame, *, blocks_file: str, schools_file: str
) -> list[Issue]:
    """Cross-file checks of canonical blocks and schools; returns the warnings, raises the errors.

    - every ``current_school`` names a school (by ``school_id``, else by ``name``);
    - every school lies within :data:`STUDY_AREA_MARGIN_M` of a block (else an error: wrong coordinates
      or coordinate system); a school outside every block polygon but near one is a warning (its zone
      is not anchored on its own block);
    - schools of several stages in one run are a warning.
    """
    issues: list[Issue] = []

    def warn(message: str, fix: str, **where: Any) -> None:
        issue = Issue(message, fix, file=schools_file, severity="warning", **where)
        log.warning("%s", issue)
        issues.append(issue)

    block_cols = blocks.attrs.get("source_columns", {})
    school_ids = schools["school_id"].astype(str).tolist()
    school_names = schools["name"].astype(str).tolist()
    known = set(school_ids) | set(school_names)

    if "current_school" in blocks.columns:
        column = block_cols.get("current_school", "current_school")
        # one issue per unknown value, naming its rows (a misspelt school in 170 rows was 170 messages)
        unknown: dict[str, list] = {}
        for value, row in zip(blocks["current_school"].tolist(), blocks["source_row"].tolist(), strict=True):
            if not (is_blank(value) or str(value) in known):
                unknown.setdefault(str(value), []).append(row_label(row))
        for value, rows in unknown.items():
            nearest = difflib.get_close_matches(value, school_ids + school_names, n=1, cutoff=0.0)
            hint = f' The nearest is "{nearest[0]}".' if nearest else ""
            also = f" (also rows {name_list(rows[1:], limit=8)})" if len(rows) > 1 else ""
            message = f'"{value}" names no school of {schools_file}{also}.{hint}'
            fix = f"use a school id or name from {schools_file}, or leave the cell empty."
            parts = [x for x in _SEVERAL.split(value) if x]
            named = [x for x in parts if x in known]
            if (
                len(parts) > 1 and named
            ):  # a block (a primary zone) split between schools: "Eckstein/Hamilton"
                rest = [x for x in parts if x not in known]
                missing = f"; {', '.join(f'{x!r}' for x in rest)} not in {schools_file}" if rest else ""
                message = (f'"{value}" names {len(parts)} schools ({", ".join(named)}{missing}){also}, but a '
                           "block has one current school.")  # fmt: skip
                fix = (f'give the school most of its children attend now (e.g. "{named[0]}"), or leave the '
                       "cell empty.")  # fmt: skip
            issues.append(
                Issue(
                    message,
                    fix,
                    file=blocks_file,
                    row=rows[0],
                    column=column,
                    value=value,
                )
            )

    if len(blocks) and len(schools):
        nearest_m, nearest_block = nearest_blocks_m(blocks, schools)
        polygons = bool(np.isin(shapely.get_type_id(np.asarray(blocks.geometry.values)), (3, 6)).all())
        for j in range(len(schools)):
            row = row_label(schools["source_row"].iloc[j])
            label = school_names[j]
            if nearest_m[j] > STUDY_AREA_MARGIN_M:
                issues.append(
                    Issue(
                        f'school "{label}" is {nearest_m[j] / 1000:,.1f} km from the nearest block: outside the '
                        "study area — wrong coordinates or wrong coordinate system?",
                        "check --coords and the school's coordinates.",
                        file=schools_file,
                        row=row,
                    )
                )
            elif polygons and nearest_m[j] > 0:
                warn(
                    f'school "{label}" lies outside every block ({nearest_m[j]:,.0f} m from block '
                    f'"{blocks["block_id"].iloc[nearest_block[j]]}"): its zone will not be anchored on its own block.',
                    "check the school's coordinates, or extend the blocks to cover it.",
                    row=row,
                )

    if "stage" in schools.columns:
        stages = schools["stage"].dropna()
        if stages.nunique() > 1:
            counts = ", ".join(f"{s}: {c}" for s, c in stages.value_counts().sort_index().items())
            warn(
                f"schools of several stages in one plan ({counts}).",
                "zones are drawn per stage: split the schools file by stage (学段) and plan each on its own.",
            )

    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise InputError(issues)
    return issues


def nearest_blocks_m(blocks: gpd.GeoDataFrame, schools: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """For every school, the distance in metres to the nearest block (inf when it has no geometry) and
    that block's position (-1: none).

    Measured in the metric CRS of the blocks (:func:`crs.to_metric`).  For blocks in degrees only what is
    needed is projected: a school inside a block is 0 m from it (a predicate, no distance), and for the
    others the candidate blocks are found in degrees — every block within the degree distance of the
    nearest one × 1.02 / cos(latitude), which holds the nearest block in metres — and only those are
    projected and measured.  At 50,000 polygons this saves projecting them all (0.5 s).
    """
    n = len(schools)
    nearest_m, nearest_block = np.full(n, np.inf), np.full(n, -1, dtype=np.int64)
    if blocks.crs is None or not blocks.crs.is_geographic:
        blocks_m, metric = zcrs.to_metric(blocks)
        schools_m, _ = zcrs.to_metric(schools, metric)
        (school_idx, block_idx), dist = blocks_m.sindex.nearest(
            schools_m.geometry.values, return_all=False, return_distance=True
        )
        nearest_m[school_idx] = dist
        nearest_block[school_idx] = block_idx
        return nearest_m, nearest_block
    metric = zcrs.choose_metric_crs(blocks)
    block_geoms = np.asarray(blocks.geometry.values, dtype=object)
    school_geoms = np.asarray(schools.to_crs(blocks.crs).geometry.values, dtype=object)
    tree = shapely.STRtree(block_geoms)
    school_idx, block_idx = tree.query(school_geoms, predicate="intersects")
    nearest_m[school_idx] = 0.0
    nearest_block[school_idx] = block_idx
    rest = np.flatnonzero(
        np.isinf(nearest_m) & ~shapely.is_missing(school_geoms) & ~shapely.is_empty(school_geoms)
    )
    if not len(rest):
        return nearest_m, nearest_block
    (qi, _), deg = tree.query_nearest(school_geoms[rest], return_distance=True)
    reach = np.zeros(len(rest))
    np.maximum.at(reach, qi, deg)
    lat = np.abs(
        np.concatenate([blocks.total_bounds[[1, 3]], shapely.bounds(school_geoms[rest])[:, [1, 3]].ravel()])
    )
    stretch = 1.02 / np.cos(np.radians(min(float(np.nanmax(lat)), 85.0)))
    ci, cb = tree.query(school_geoms[rest], predicate="dwithin", distance=reach * stretch + 1e-9)
    used, cb_pos = np.unique(cb, return_inverse=True)
    to_metric = pyproj.Transformer.from_crs(blocks.crs, metric, always_xy=True).transform
    blocks_m = shapely.transform(block_geoms[used], lambda xy: np.column_stack(to_metric(xy[:, 0], xy[:, 1])))
    schools_m = shapely.transform(
        school_geoms[rest], lambda xy: np.column_stack(to_metric(xy[:, 0], xy[:, 1]))
    )
    dist = shapely.distance(schools_m[ci], blocks_m[cb_pos.reshape(-1)])
    order = np.lexsort((dist, ci))  # per school, the nearest candidate first
    first = np.ones(len(order), dtype=bool)
    first[1:] = ci[order][1:] != ci[order][:-1]
    pick = order[first]
    nearest_m[rest[ci[pick]]] = dist[pick]
    nearest_block[rest[ci[pick]]] = cb[pick]
    return nearest_m, nearest_block
