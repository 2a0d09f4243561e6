"""Validation: raw tables in, canonical frames out; every problem of a file collected and raised once.

:func:`check_blocks` and :func:`check_schools` turn a :class:`~zoning.io.RawTable` into the canonical
frames every later module expects (EPSG:4326, ``RangeIndex``, ``source_row`` = the row the user sees):

- blocks: ``block_id`` (str), ``name`` (str, defaults to the id), ``students`` (float ≥ 0),
  ``students_estimated`` (bool), ``current_school`` (str or None), ``source_row``, ``geometry``
  (all (Multi)Polygons or all Points);
- schools: ``school_id`` (str), ``name`` (str), ``capacity`` (seats, float > 0; NaN when not required and
  not given), ``quality`` (float or NaN), ``stage`` (``"primary"``, ``"junior_middle"``, the text as given,
  or None), ``enrolment`` (children enrolled, float ≥ 0 or NaN), ``district`` (the 学区 / 教育集团 the
  school belongs to now, str or None), ``lead`` (bool: 学区长学校 / 集团总校), then any columns the caller
  asked to ``keep`` (as in the file), ``source_row``, ``geometry`` (Points).

The frames carry ``attrs["source_columns"]`` (canonical name → header as written in the file) and
``attrs["file"]``, so that later messages can name the user's own column.

Columns are found by header (see :data:`BLOCK_ALIASES` and :data:`SCHOOL_ALIASES`, matched after
:func:`normalise_header`) or named by the caller with ``columns={"students": "students_k4"}`` (the CLI's
``--students-col``).  Errors raise one :class:`~zoning.errors.InputError` listing every problem of the
file; the returned list holds the warnings (lossy-but-valid choices), which are also logged.

Quality columns: numbers are kept as they are (higher = better).  Text is mapped with
:data:`QUALITY_TIERS` (优质 3 / 一般 2 / 薄弱 1) when any value is a tier word other than 优质, else with
:data:`QUALITY_FLAGS` (重点 / 优质 / 是 / yes → 1, 非重点 / 否 / no → 0).  Empty cells are NaN (unknown).

Lead columns: 是 / yes / y / true / 1 / 学区长 / 总校 / 牵头 → True, 否 / no / n / false / 0 or empty → False
(:data:`LEAD_FLAGS`).  District codes are kept as text (``2.0`` → ``"2"``).

Capacity from 招生班数 (entry-grade classes) when there is no capacity column (or a capacity cell is
empty): classes × class size, where the class size is ``class_size=`` if given, else 45 for 小学 /
primary and 50 for 初中 / junior_middle (the national 大班额 limits), read from the stage column.
"""

from __future__ import annotations

import difflib
import logging
import math
import numbers
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ..errors import InputError, Issue
from . import crs as zcrs
from .files import RawTable, is_blank

__all__ = [
    "check_blocks",
    "check_schools",
    "check_pair",
    "normalise_header",
    "parse_number",
    "BLOCK_ALIASES",
    "SCHOOL_ALIASES",
    "QUALITY_TIERS",
    "QUALITY_FLAGS",
    "LEAD_FLAGS",
    "STAGES",
    "CLASS_SIZE",
    "STUDY_AREA_MARGIN_M",
]

log = logging.getLogger(__name__)

_LON = (
    "lon",
    "经度",
    "lng",
    "longitude",
    "long",
    "x",
    "lon_wgs84",
    "lon_gcj02",
    "lon_bd09",
    "lng_gcj02",
    "lng_bd09",
)
_LAT = ("lat", "纬度", "latitude", "y", "lat_wgs84", "lat_gcj02", "lat_bd09")

#: Headers recognised for each canonical block column, most specific first.  Matching ignores case,
#: spaces, underscores, hyphens, full-width forms and a trailing unit in brackets (``学位数（个）``).
#: ``population`` is only used to estimate children with ``per_1000_rate``.  To support another header,
#: add it here (or name it with ``columns=`` / ``--<name>-col``).
BLOCK_ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "block_id": ("block_id", "小区编号", "地块编号", "编号", "id", "geoid", "block"),
        "name": ("name", "小区名称", "地块名称", "名称", "小区", "楼盘", "block_name"),
        "students": (
            "students",
            "适龄儿童",
            "适龄儿童数",
            "学龄人口",
            "学生数",
            "学位需求",
            "children",
            "pupils",
        ),
        "population": ("population", "人口", "常住人口", "户籍人口", "pop"),
        "current_school": ("current_school", "现学校", "现划片学校", "对口学校", "划片学校"),
        "lon": _LON,
        "lat": _LAT,
    }
)
#: Headers recognised for each canonical school column (see :data:`BLOCK_ALIASES`).  ``classes``
#: (招生班数) gives capacity when there is no capacity column.
SCHOOL_ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "school_id": ("school_id", "学校代码", "学校编号", "学校标识码", "code", "编号", "id"),
        "name": ("name", "学校名称", "学校", "school_name", "school"),
        "capacity": ("capacity", "学位数", "计划招生数", "招生人数", "学位", "seats"),
        "classes": ("classes", "招生班数", "计划招生班数", "班数"),
        "quality": (
            "quality", "办学质量", "质量", "评分", "score", "tier", "等级", "办学等级",
            "重点", "是否重点", "重点学校", "优质学校", "key_school",
        ),
        "stage": ("stage", "学段"),
        "enrolment": (
            "enrolment", "enrollment", "enrollment_latest", "在校生数", "在校学生数", "在校生",
            "学生数", "学生人数", "students",
        ),
        "district": (
            "district", "district_id", "学区", "学区编号", "所属学区", "xuequ", "xuequ_no",
            "教育集团", "集团", "group_id", "group",
        ),
        "lead": ("lead", "is_lead", "学区长学校", "牵头学校", "龙头学校", "集团总校", "总校"),
        "lon": _LON,
        "lat": _LAT,
    }
)  # fmt: skip
#: The columns of the canonical schools frame (a kept column may not take one of these names).
_SCHOOL_FRAME_COLUMNS = (
    "school_id", "name", "capacity", "quality", "stage", "enrolment", "district", "lead", "source_row",
    "geometry",
)  # fmt: skip


#: Stage words → canonical stage (other text is kept as given).
STAGES: Mapping[str, str] = MappingProxyType(
    {
        "小学": "primary",
        "primary": "primary",
        "初中": "junior_middle",
        "初级中学": "junior_middle",
        "junior_middle": "junior_middle",
        "juniormiddle": "junior_middle",
    }
)
#: Pupils per entry-grade class by stage (national 大班额 limits: 45 in 小学, 50 in 初中).
CLASS_SIZE: Mapping[str, int] = MappingProxyType({"primary": 45, "junior_middle": 50})
#: Tier words of a quality column (higher = better).
QUALITY_TIERS: Mapping[str, float] = MappingProxyType({"优质": 3.0, "一般": 2.0, "薄弱": 1.0})
#: Flag words of a quality column (key school / not).
QUALITY_FLAGS: Mapping[str, float] = MappingProxyType(
    {
        "重点": 1.0, "优质": 1.0, "是": 1.0, "yes": 1.0, "y": 1.0, "true": 1.0,
        "非重点": 0.0, "否": 0.0, "no": 0.0, "n": 0.0, "false": 0.0,
    }
)  # fmt: skip
#: Words of a lead column (学区长学校 / 集团总校): the yes/no words of :data:`QUALITY_FLAGS` and the lead
#: titles; the numbers 1 / 0 and empty cells (no) are read too.
LEAD_FLAGS: Mapping[str, bool] = MappingProxyType(
    {
        **{word: bool(v) for word, v in QUALITY_FLAGS.items() if word not in ("重点", "非重点", "优质")},
        "学区长": True, "学区长学校": True, "总校": True, "集团总校": True, "牵头": True, "牵头学校": True,
    }
)  # fmt: skip
#: A school farther than this from every block lies outside the study area (an error).
STUDY_AREA_MARGIN_M = 3000.0

_REQUIRED_FIX_EXAMPLE = {"students": "适龄儿童", "capacity": "学位数", "lon": "经度", "lat": "纬度"}
_WHAT = {
    "block_id": "block id",
    "school_id": "school id",
    "name": "name",
    "students": "number of children",
    "population": "population",
    "current_school": "current school",
    "capacity": "capacity (seats)",
    "classes": "number of entry classes",
    "quality": "quality",
    "stage": "stage",
    "enrolment": "enrolment (children enrolled)",
    "district": "school district (学区 / 教育集团)",
    "lead": "lead school (学区长学校 / 总校)",
    "lon": "longitude",
    "lat": "latitude",
}


# -------------------------------------------------------------------------------------------- parsing


def normalise_header(text: object) -> str:
    """A header as compared with the alias tables: NFKC (full-width → half-width), case-folded, without
    spaces, underscores, hyphens, a BOM or a trailing unit in brackets."""
    s = unicodedata.normalize("NFKC", str(text)).replace("\ufeff", "").casefold().strip()
    s = re.sub(r"\s*[(\[【][^()\[\]【】]*[)\]】]$", "", s) or s
    return re.sub(r"[\s_\-]+", "", s)


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def parse_number(value: Any) -> float | None:
    """A cell as a number: None if empty, ValueError if not a number.

    Accepts numbers, ``"1200"``, ``"1,200"``, ``" 120 "``, full-width ``"１２０"`` and ``"１，２００"``;
    refuses ``"约120"``, ``"120人"``, ``"nan"``, ``"inf"`` and booleans.
    """
    if is_blank(value):
        return None
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{value!r} is not a finite number")
        return number
    text = unicodedata.normalize("NFKC", str(value)).strip().replace("\u2212", "-")
    if _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{value!r} is not a number")
    return float(text)


def _as_text(value: Any) -> str | None:
    """An id or name cell as text: None if empty, ``1001.0`` → ``"1001"``."""
    if is_blank(value):
        return None
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value).strip()


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, normalise_header(a), normalise_header(b)).ratio()


def _quote_list(values: Sequence[str], limit: int = 30) -> str:
    shown = ", ".join(f'"{v}"' for v in values[:limit])
    return shown + (f", … ({len(values) - limit} more)" if len(values) > limit else "")


# ------------------------------------------------------------------------------------------- the report


class _Report:
    """Issues of one file, and where its canonical columns are."""

    def __init__(self, raw: RawTable, what: str):
        self.raw = raw
        self.what = what  # "block" / "school"
        self.cols: dict[str, str] = {}
        # canonical columns the caller named with a header that does not exist (reported once)
        self.misnamed: set[str] = set()
        self.issues: list[Issue] = []

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    def row(self, k: int | None) -> int | None:
        return None if k is None else int(self.raw.rows[k])

    def _add(
        self,
        severity: Literal["error", "warning"],
        message: str,
        fix: str,
        k: int | None,
        canon: str | None,
        kw: dict[str, Any],
    ) -> Issue:
        """Record an issue at row ``k`` in the column of ``canon`` (or the ``column`` given in ``kw``)."""
        column = kw.pop("column", self.cols.get(canon) if canon else None)
        issue = Issue(
            message, fix, file=self.raw.file, row=self.row(k), column=column, severity=severity, **kw
        )
        self.issues.append(issue)
        return issue

    def error(
        self, message: str, fix: str, *, k: int | None = None, canon: str | None = None, **kw: Any
    ) -> None:
        self._add("error", message, fix, k, canon, kw)

    def warn(
        self, message: str, fix: str = "", *, k: int | None = None, canon: str | None = None, **kw: Any
    ) -> None:
        log.warning("%s", self._add("warning", message, fix, k, canon, kw))

    def raise_if_errors(self) -> None:
        """One InputError with every issue: file-wide ones first, then by row (stable within a row)."""
        if self.errors:
            raise InputError(sorted(self.issues, key=lambda i: (i.row is not None, i.row or 0)))

    def rows_text(self, ks: Sequence[int], limit: int = 20) -> str:
        shown = ", ".join(str(self.row(k)) for k in ks[:limit])
        return shown + (f", … ({len(ks) - limit} more)" if len(ks) > limit else "")


def _headers(raw: RawTable) -> list[str]:
    frame = raw.frame
    geom = frame.active_geometry_name if isinstance(frame, gpd.GeoDataFrame) else None
    return [str(c) for c in frame.columns if c != geom]


def _flag(canon: str, what: str = "") -> str:
    """The CLI flag naming a column: --students-col, --block-id-col, --school-name-col, …"""
    if canon == "name" and what:
        return f"--{what}-name-col"
    return f"--{canon.replace('_', '-')}-col"


def _nearest_header(candidates: Sequence[str], targets: Sequence[str], cutoff: float = 0.5) -> str | None:
    best, best_score = None, cutoff
    for header in candidates:
        score = max(_similarity(header, t) for t in targets)
        if score > best_score:
            best, best_score = header, score
    return best


def _by_norm(headers: Sequence[str]) -> dict[str, list[str]]:
    by_norm: dict[str, list[str]] = {}
    for h in headers:
        by_norm.setdefault(normalise_header(h), []).append(h)
    return by_norm


def _named_header(headers: Sequence[str], given: str) -> tuple[str | None, str | None]:
    """The header a caller named (exactly, else the only one equal after :func:`normalise_header`), and
    when there is none, the most similar header (None in a file without headers)."""
    if given in headers:
        return given, None
    same = _by_norm(headers).get(normalise_header(given), [])
    if len(same) == 1:
        return same[0], None
    return None, (max(headers, key=lambda h: _similarity(h, given)) if headers else None)


def _resolve(rep: _Report, aliases: Mapping[str, tuple[str, ...]], columns: Mapping[str, str] | None) -> None:
    """Fill ``rep.cols`` (canonical → header): the caller's ``columns`` first, then the alias table."""
    headers = _headers(rep.raw)
    by_norm = _by_norm(headers)
    claimed: set[str] = set()
    columns = {canon: given for canon, given in (columns or {}).items() if given}
    for canon, given in columns.items():
        if canon not in aliases:
            rep.error(
                f'"{canon}" is not a {rep.what} column zoning knows (known: {", ".join(aliases)}).',
                "name one of the known columns.",
                column=None,
            )
            continue
        header, nearest = _named_header(headers, given)
        if header is None:
            hint = f' The nearest header is "{nearest}".' if nearest else ""
            rep.error(
                f'has no column "{given}" (named for {canon}); headers found: {_quote_list(headers)}.{hint}',
                f'use {_flag(canon, rep.what)} "{nearest}".'
                if nearest
                else f"check the spelling of {_flag(canon, rep.what)}.",
                column=None,
                value=given,
            )
            rep.misnamed.add(canon)
            continue
        rep.cols[canon] = header
        claimed.add(header)
    for canon, names in aliases.items():
        if canon in rep.cols or canon in columns:
            continue
        found: list[str] = []
        for alias in names:
            for h in by_norm.get(normalise_header(alias), []):
                if h not in claimed and h not in found:
                    found.append(h)
        if not found:
            continue
        rep.cols[canon] = found[0]
        claimed.add(found[0])
        if len(found) > 1:
            rep.warn(
                f'several columns could be the {_WHAT[canon]}: {_quote_list(found)}; using "{found[0]}".',
                f"name another one with {_flag(canon, rep.what)} NAME.",
                column=found[0],
            )


def _missing_column(
    rep: _Report, canon: str, aliases: Mapping[str, tuple[str, ...]], extra_fix: str = ""
) -> None:
    if canon in rep.misnamed:
        return  # reported already
    headers = [h for h in _headers(rep.raw) if h not in rep.cols.values()]
    nearest = _nearest_header(headers, aliases[canon])
    looked = ", ".join(aliases[canon][:6])
    message = f"has no {_WHAT[canon]} column (looked for {looked}, …); headers found: {_quote_list(_headers(rep.raw))}."
    if nearest:
        message += f' The nearest header is "{nearest}".'
        fix = f'name the column with {_flag(canon, rep.what)} "{nearest}"'
    else:
        fix = f"name the column with {_flag(canon, rep.what)} NAME"
        if canon in _REQUIRED_FIX_EXAMPLE:
            fix += f' or call it "{_REQUIRED_FIX_EXAMPLE[canon]}"'
    rep.error(message, fix + (f", {extra_fix}" if extra_fix else "") + ".", column=None)


def _column_values(rep: _Report, canon: str) -> list[Any]:
    return rep.raw.frame[rep.cols[canon]].tolist()


def _numbers(rep: _Report, canon: str, *, fix: str, allow_blank: bool = False) -> np.ndarray:
    """A numeric column (NaN where empty or wrong; every wrong cell is an error)."""
    series = rep.raw.frame[rep.cols[canon]]
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        out = series.to_numpy(dtype=float, na_value=np.nan, copy=True)
        bad = np.flatnonzero(~np.isfinite(out) & ~np.isnan(out))
        for k in bad:
            rep.error(f'"{out[k]}" is not a number.', fix, k=int(k), canon=canon, value=out[k])
        out[bad] = np.nan
    else:
        out = np.full(len(series), np.nan)
        for k, value in enumerate(series.tolist()):
            try:
                number = parse_number(value)
            except ValueError:
                rep.error(f'"{value}" is not a number.', fix, k=k, canon=canon, value=value)
                continue
            if number is not None:
                out[k] = number
    if not allow_blank:
        for k in np.flatnonzero(np.isnan(out)):
            if is_blank(series.iloc[k]):
                rep.error("is empty.", fix, k=int(k), canon=canon)
    return out


def _ids_and_names(rep: _Report, aliases: Mapping[str, tuple[str, ...]], id_canon: str) -> tuple[list, list]:
    """Ids (falling back to names) and names (falling back to ids); duplicate ids are errors."""
    n = len(rep.raw.frame)
    ids = [_as_text(v) for v in _column_values(rep, id_canon)] if id_canon in rep.cols else None
    names = [_as_text(v) for v in _column_values(rep, "name")] if "name" in rep.cols else None
    if ids is None and names is None:
        _missing_column(rep, id_canon, aliases, f"or a name column with {_flag('name', rep.what)} NAME")
        return [None] * n, [None] * n
    if ids is None:
        log.info(
            '%s: no %s column; the names in "%s" are used as ids', rep.raw.file, id_canon, rep.cols["name"]
        )
        ids_from = "name"
        ids = list(names)
    else:
        ids_from = id_canon
    for k, value in enumerate(ids):
        if value is None:
            rep.error(
                "is empty.",
                f"give every {rep.what} an id ({rep.what}s are matched by it).",
                k=k,
                canon=ids_from,
            )
    first: dict[str, int] = {}
    for k, value in enumerate(ids):
        if value is None:
            continue
        if value in first:
            rep.error(
                f'"{value}" appears twice (first in row {rep.row(first[value])}).',
                f"give every {rep.what} its own {'name' if ids_from == 'name' else 'id'}"
                + (f" or add an id column ({_flag(id_canon)})." if ids_from == "name" else "."),
                k=k,
                canon=ids_from,
                value=value,
            )
        else:
            first[value] = k
    if names is None:
        names = list(ids)
    else:
        names = [nm if nm is not None else i for nm, i in zip(names, ids, strict=True)]
    return ids, names


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
                f"{_flag('lon')} / {_flag('lat')}.",
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


# ------------------------------------------------------------------------------ the steps of check_*


def _start(
    raw: RawTable, what: str, aliases: Mapping[str, tuple[str, ...]], columns: Mapping[str, str] | None
) -> tuple[_Report, list, list]:
    """The report of a file with its columns found, and the ids and names of its rows.

    A file without data rows raises at once (with any column problems found so far).
    """
    rep = _Report(raw, what)
    _resolve(rep, aliases, columns)
    if len(raw.frame) == 0:
        rep.error(f"has no {what}s (no data rows).", "export the table again with its rows.", column=None)
        rep.raise_if_errors()
    ids, names = _ids_and_names(rep, aliases, f"{what}_id")
    return rep, ids, names


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
            "source_row": rep.raw.rows.astype(np.int64),
        },
        geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"),
    )
    out.attrs["source_columns"] = dict(rep.cols)
    out.attrs["file"] = rep.raw.file
    log.info("%s: %d %ss, %s", rep.raw.file, len(out), rep.what, total)
    return out


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
    if per_1000_rate is not None and not (math.isfinite(per_1000_rate) and per_1000_rate > 0):
        raise InputError(
            [
                Issue(
                    f"the rate {per_1000_rate} children per 1,000 residents must be positive.",
                    "pass e.g. --per-1000-rate 80.",
                )
            ]
        )
    rep, ids, names = _start(raw, "block", BLOCK_ALIASES, columns)
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

    columns = {
        "students": students.astype(float),
        "students_estimated": np.full(n, estimated),
        "current_school": pd.Series(current, dtype=object),
    }
    return _canonical(rep, ids, names, columns, geoms, f"{students.sum():,.2f} children"), rep.warnings


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


def _single_points(geoms: np.ndarray) -> np.ndarray:
    geoms = geoms.copy()
    multi = np.flatnonzero(shapely.get_type_id(geoms) == 4)
    for k in multi:
        if shapely.get_num_geometries(geoms[k]) == 1:
            geoms[k] = shapely.get_geometry(geoms[k], 0)
    return geoms


# ----------------------------------------------------------------------------------------------- schools


def check_schools(
    raw: RawTable,
    *,
    columns: Mapping[str, str] | None = None,
    coords: str = "wgs84",
    class_size: int | None = None,
    require_capacity: bool = True,
    keep: Sequence[str] = (),
) -> tuple[gpd.GeoDataFrame, list[Issue]]:
    """Validate a schools table and return the canonical schools frame.

    Capacity comes from a capacity column (学位数), else from 招生班数 × class size (``class_size`` if
    given, else 45 for 小学 and 50 for 初中 from the stage column).  With ``require_capacity=False``
    (school districts can be drawn from locations and quality alone) a file without capacity, or an empty
    capacity cell, gives NaN seats instead of an error; wrong values are still errors.

    ``enrolment`` (在校生数), ``district`` (学区 / 教育集团) and ``lead`` (学区长学校) are optional:
    NaN, None and False when the file has no such column.  ``keep`` names further headers of the file
    (e.g. ``["特色"]``) copied unchanged, under the same header, into the frame.  See
    :func:`check_blocks` for ``columns`` and ``coords``.  Returns the frame and the warnings; raises one
    :class:`InputError` listing every error of the file.
    """
    if class_size is not None and not class_size > 0:
        raise InputError(
            [Issue(f"the class size {class_size} must be positive.", "pass e.g. --class-size 45.")]
        )
    rep, ids, names = _start(raw, "school", SCHOOL_ALIASES, columns)
    n = len(raw.frame)

    stage: list[str | None] = [None] * n
    if "stage" in rep.cols:
        for k, value in enumerate(_column_values(rep, "stage")):
            text = _as_text(value)
            if text is not None:
                stage[k] = STAGES.get(normalise_header(text), STAGES.get(text, text))

    capacity = _capacity(rep, stage, class_size, n, required=require_capacity)
    quality = _quality(rep, n)
    enrolment = _enrolment(rep, n)
    district = _district(rep, n)
    lead = _lead(rep, n)
    kept = _kept(rep, keep)

    geoms = _wgs84_geoms(rep, SCHOOL_ALIASES, coords, _school_points)
    rep.raise_if_errors()

    columns = {
        "capacity": capacity.astype(float),
        "quality": quality.astype(float),
        "stage": pd.Series(stage, dtype=object),
        "enrolment": enrolment.astype(float),
        "district": pd.Series(district, dtype=object),
        "lead": lead.astype(bool),
        **{h: rep.raw.frame[h].reset_index(drop=True) for h in kept},
    }
    seats = np.isfinite(capacity)
    total = f"{capacity[seats].sum():,.0f} seats" + (
        f" ({(~seats).sum()} schools without capacity)" if not seats.all() else ""
    )
    frame = _canonical(rep, ids, names, columns, geoms, total)
    frame.attrs["source_columns"].update({h: h for h in kept})
    return frame, rep.warnings


def _enrolment(rep: _Report, n: int) -> np.ndarray:
    """Children enrolled: NaN where empty or without a column; text and negative numbers are errors."""
    if "enrolment" not in rep.cols:
        return np.full(n, np.nan)
    fix = "enter the number of children enrolled as a whole number (0 or more), or leave the cell empty."
    enrolment = _numbers(rep, "enrolment", fix=fix, allow_blank=True)
    for k in np.flatnonzero(enrolment < 0):
        rep.error(
            f"{enrolment[k]:g} children enrolled is negative.",
            fix,
            k=int(k),
            canon="enrolment",
            value=enrolment[k],
        )
    return enrolment


def _district(rep: _Report, n: int) -> list[str | None]:
    """The school district (学区 / 教育集团) of every school as text; ``2.0`` → ``"2"``, empty → None."""
    if "district" not in rep.cols:
        return [None] * n
    out: list[str | None] = []
    for value in _column_values(rep, "district"):
        text = _as_text(value)
        if text is not None and re.fullmatch(r"[+-]?\d+\.0+", text):
            text = text.split(".")[0]
        out.append(text)
    return out


def _lead(rep: _Report, n: int) -> np.ndarray:
    """Whether each school is a lead (学区长学校 / 总校): :data:`LEAD_FLAGS`, 1 / 0; empty → False."""
    lead = np.zeros(n, dtype=bool)
    if "lead" not in rep.cols:
        return lead
    for k, value in enumerate(_column_values(rep, "lead")):
        if is_blank(value):
            continue
        if isinstance(value, bool | np.bool_):
            lead[k] = bool(value)
            continue
        answer = LEAD_FLAGS.get(unicodedata.normalize("NFKC", str(value)).strip().casefold())
        if answer is None:
            try:
                number = parse_number(value)
            except ValueError:
                number = None
            answer = {1.0: True, 0.0: False}.get(number) if number is not None else None
        if answer is None:
            rep.error(
                f'"{value}" is not a yes/no answer to whether the school is a lead school (学区长学校).',
                "enter 是/否 (yes/no), 1/0, or leave the cell empty for no.",
                k=k,
                canon="lead",
                value=value,
            )
            continue
        lead[k] = answer
    return lead


def _kept(rep: _Report, keep: Sequence[str]) -> list[str]:
    """The headers of the file to copy unchanged into the frame.  A header that is not in the file (with
    the nearest one) and one that would overwrite a column of the canonical frame are errors; the file's
    own canonical column (a header "capacity" read as the capacity) is there already and not copied."""
    headers = _headers(rep.raw)
    kept: list[str] = []
    for given in dict.fromkeys(str(h) for h in keep):
        header, nearest = _named_header(headers, given)
        if header is None and given in _SCHOOL_FRAME_COLUMNS:
            rep.error(
                f'has no column "{given}" to keep; the schools frame has a column "{given}" of its own.',
                f'leave "{given}" out of the columns to keep.',
                column=None,
                value=given,
            )
        elif header is None:
            hint = f' The nearest header is "{nearest}".' if nearest else ""
            rep.error(
                f'has no column "{given}" to keep; headers found: {_quote_list(headers)}.{hint}',
                f'keep "{nearest}" instead, or check the spelling.' if nearest else "check the spelling.",
                column=None,
                value=given,
            )
        elif header in _SCHOOL_FRAME_COLUMNS and rep.cols.get(header) != header:
            source = f'read from "{rep.cols[header]}"' if header in rep.cols else "filled by zoning"
            rep.error(
                f'cannot keep this column: the schools frame has a column "{header}" of its own ({source}), '
                "which it would overwrite.",
                f'rename the column in the file (e.g. "{header}_original") and keep it under the new name.',
                column=header,
            )
        elif header not in _SCHOOL_FRAME_COLUMNS and header not in kept:
            kept.append(header)
    return kept


def _capacity(
    rep: _Report, stage: list[str | None], class_size: int | None, n: int, *, required: bool = True
) -> np.ndarray:
    """Seats per school; with ``required=False`` a missing column or empty cell is NaN, not an error."""
    capacity = np.full(n, np.nan)
    seats_fix = "enter the number of seats as a whole number."
    if "capacity" in rep.cols:
        capacity = _numbers(rep, "capacity", fix=seats_fix, allow_blank="classes" in rep.cols or not required)
    elif "classes" not in rep.cols:
        if required:
            _missing_column(
                rep,
                "capacity",
                SCHOOL_ALIASES,
                f"or give the number of entry classes (招生班数) with {_flag('classes')} NAME",
            )
        return capacity
    need = np.isnan(capacity)
    if "capacity" in rep.cols:
        # blank capacity cells without a classes value were reported by _numbers unless classes exist
        need &= np.array([is_blank(v) for v in _column_values(rep, "capacity")])
    if "classes" in rep.cols and need.any():
        classes = _numbers(
            rep, "classes", fix="enter the number of entry-grade classes as a whole number.", allow_blank=True
        )
        used: dict[str, int] = {}
        for k in np.flatnonzero(need):
            if np.isnan(classes[k]):
                if required and is_blank(rep.raw.frame[rep.cols["classes"]].iloc[k]):
                    column = rep.cols.get("capacity", rep.cols["classes"])
                    rep.error("is empty.", seats_fix, k=int(k), column=column)
                continue
            if classes[k] <= 0:
                rep.error(
                    f"{classes[k]:g} classes: a school needs at least one class.",
                    "enter the number of entry-grade classes, or remove the school.",
                    k=int(k),
                    canon="classes",
                    value=classes[k],
                )
                continue
            size = class_size if class_size is not None else CLASS_SIZE.get(stage[k] or "")
            if size is None:
                rep.error(
                    "capacity = classes × class size, but the class size is unknown"
                    + (f' for stage "{stage[k]}".' if stage[k] else " (no stage given)."),
                    "pass --class-size N (pupils per class), or fill the stage column with 小学 or 初中.",
                    k=int(k),
                    canon="classes",
                    value=classes[k],
                )
                continue
            capacity[k] = classes[k] * size
            label = f"× {size}" + (f" ({stage[k]})" if class_size is None else "")
            used[label] = used.get(label, 0) + 1
        if used:
            parts = ", ".join(
                f"{label} for {count} school{'s' if count > 1 else ''}" for label, count in used.items()
            )
            rep.warn(
                f'capacity computed from "{rep.cols["classes"]}" (entry classes): {parts}.',
                "give a capacity column (学位数) if the real number of seats differs, or set --class-size N.",
            )
    for k in np.flatnonzero(capacity <= 0):
        rep.error(
            f"capacity {capacity[k]:g} seats: a school needs more than 0 seats.",
            "enter the number of seats, or remove the school if it takes no pupils.",
            k=int(k),
            canon="capacity",
            value=capacity[k],
        )
    return capacity


def _quality(rep: _Report, n: int) -> np.ndarray:
    quality = np.full(n, np.nan)
    if "quality" not in rep.cols:
        return quality
    values = _column_values(rep, "quality")
    words: dict[int, str] = {}
    for k, value in enumerate(values):
        try:
            number = parse_number(value)
        except ValueError:
            words[k] = unicodedata.normalize("NFKC", str(value)).strip().casefold()
            continue
        if number is not None:
            quality[k] = number
    if not words:
        return quality
    used = set(words.values())
    table = QUALITY_TIERS if any(w in QUALITY_TIERS and w != "优质" for w in used) else QUALITY_FLAGS
    log.info(
        '%s: quality column "%s" read as %s',
        rep.raw.file,
        rep.cols["quality"],
        "tiers 优质 3 / 一般 2 / 薄弱 1" if table is QUALITY_TIERS else "a flag 重点/是 1 / 否 0",
    )
    for k, word in words.items():
        if word in table:
            quality[k] = table[word]
        else:
            rep.error(
                f'"{values[k]}" is not a quality the toolkit knows.',
                "enter a number (higher = better), a tier 优质/一般/薄弱, or a flag 重点/是/否.",
                k=k,
                canon="quality",
                value=values[k],
            )
    return quality


def _school_points(rep: _Report, geoms: np.ndarray) -> np.ndarray:
    """Schools are points; a campus outline becomes its representative point (with a warning)."""
    geoms = _single_points(geoms)
    types = shapely.get_type_id(geoms)
    outlines = np.flatnonzero(np.isin(types, (3, 6)))
    for k in np.flatnonzero(~np.isin(types, (0, 3, 6)) & ~shapely.is_missing(geoms)):
        rep.error(
            f"the geometry is a {geoms[k].geom_type}; a school is a point.",
            "give the school's location as a point.",
            k=int(k),
            column=None,
        )
    if len(outlines):
        geoms = geoms.copy()
        geoms[outlines] = shapely.point_on_surface(geoms[outlines])
        rep.warn(
            f"{len(outlines)} school{'s are' if len(outlines) > 1 else ' is'} drawn as a polygon (campus outline); "
            f"a point inside it is used: rows {rep.rows_text(list(outlines))}.",
            "give schools as points (the main gate) if the point matters.",
        )
    return geoms


# --------------------------------------------------------------------------------------------- cross-file


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
        for value, row in zip(blocks["current_school"].tolist(), blocks["source_row"].tolist(), strict=True):
            if is_blank(value) or str(value) in known:
                continue
            nearest = difflib.get_close_matches(str(value), school_ids + school_names, n=1, cutoff=0.0)
            hint = f' The nearest is "{nearest[0]}".' if nearest else ""
            issues.append(
                Issue(
                    f'"{value}" names no school of {schools_file}.{hint}',
                    f"use a school id or name from {schools_file}, or leave the cell empty.",
                    file=blocks_file,
                    row=int(row),
                    column=column,
                    value=value,
                )
            )

    if len(blocks) and len(schools):
        nearest_m, nearest_block = _nearest_blocks_m(blocks, schools)
        polygons = bool(np.isin(shapely.get_type_id(np.asarray(blocks.geometry.values)), (3, 6)).all())
        for j in range(len(schools)):
            row = int(schools["source_row"].iloc[j])
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


def _nearest_blocks_m(blocks: gpd.GeoDataFrame, schools: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
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
