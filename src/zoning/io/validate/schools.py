""":func:`check_schools`: a schools table as the canonical schools frame.

Its columns: ``school_id`` (str), ``name`` (str), ``capacity`` (seats, float > 0; NaN when not required
and not given), ``quality`` (float or NaN), ``stage`` (``"primary"``, ``"junior_middle"``, the text as
given, or None), ``enrolment`` (children enrolled, float ≥ 0 or NaN), ``district`` (the 学区 / 教育集团
the school belongs to now, str or None), ``lead`` (bool: 学区长学校 / 集团总校), then any columns the
caller asked to ``keep`` (as in the file), ``source_row``, ``geometry`` (Points).

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

import logging
import re
import unicodedata
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ...errors import InputError, Issue, name_list, number_issue
from ..files import RawTable, is_blank
from .geometry import _canonical, _single_points, _start, _wgs84_geoms
from .headers import (
    SCHOOL_ALIASES,
    SITE_ALIASES,
    _headers,
    _missing_column,
    _named_header,
    _quote_list,
    _Report,
    normalise_header,
)
from .numbers import _as_text, _column_values, _numbers, parse_number

__all__ = [
    "check_schools", "canonical_stage", "stage_mask", "QUALITY_TIERS", "QUALITY_FLAGS", "LEAD_FLAGS", "STAGES",
    "STAGE_SECTIONS", "CLASS_SIZE",
]  # fmt: skip

log = logging.getLogger(__name__)

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
        "九年一贯制": "nine_year",
        "九年一贯制学校": "nine_year",
        "九年制": "nine_year",
        "nineyear": "nine_year",
    }
)
#: Stages holding the sections of others: a 九年一贯制 school has a primary and a junior-middle section, so it
#: counts as either where districts ask for a stage (--only-stage, --require-stage).
STAGE_SECTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType({"nine_year": ("primary", "junior_middle")})


def canonical_stage(text: object) -> str:
    """A stage as the schools frame holds it: 小学 / primary → "primary", 初中 → "junior_middle", 九年一贯制 →
    "nine_year"; any other text unchanged (stripped)."""
    t = str(text).strip()
    return STAGES.get(normalise_header(t), STAGES.get(t, t))


def stage_mask(stages, wanted: str) -> np.ndarray:
    """Schools of stage ``wanted`` (in any spelling :func:`canonical_stage` knows), a 九年一贯制 school
    counting for each of its sections; the comparison ignores case."""
    want = canonical_stage(wanted).casefold()
    out = []
    for value in stages:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            out.append(False)
            continue
        stage = canonical_stage(value)
        out.append(stage.casefold() == want or want in STAGE_SECTIONS.get(stage, ()))
    return np.array(out, dtype=bool)


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


# ----------------------------------------------------------------------------------------------- schools


def check_schools(
    raw: RawTable,
    *,
    columns: Mapping[str, str] | None = None,
    coords: str = "wgs84",
    class_size: int | None = None,
    require_capacity: bool = True,
    keep: Sequence[str] = (),
    sites: bool = False,
) -> tuple[gpd.GeoDataFrame, list[Issue]]:
    """Validate a schools table and return the canonical schools frame.

    ``sites``: the table holds candidate sites for new schools: their headers (:data:`SITE_ALIASES`: site_id,
    候选点编号, 地块编号, 规划学位, …) are recognised too, and messages name the flags of the sites file
    (--site-id-col, …).

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
    if class_size is not None and (
        issue := number_issue(
            "class_size", class_size, low=1, whole=True,
            fix="give the children per class, e.g. --class-size 45 (class_size=45 in Python).",
        )
    ):  # fmt: skip
        raise InputError([issue])
    aliases = SITE_ALIASES if sites else SCHOOL_ALIASES
    rep, ids, names = _start(raw, "school", aliases, columns, "site" if sites else None)
    n = len(raw.frame)

    stage: list[str | None] = [None] * n
    if "stage" in rep.cols:
        for k, value in enumerate(_column_values(rep, "stage")):
            text = _as_text(value)
            if text is not None:
                stage[k] = canonical_stage(text)

    capacity = _capacity(rep, stage, class_size, n, required=require_capacity, aliases=aliases)
    quality = _quality(rep, n)
    enrolment = _enrolment(rep, n)
    district = _district(rep, n)
    lead = _lead(rep, n)
    kept = _kept(rep, keep)

    geoms = _wgs84_geoms(rep, aliases, coords, _school_points)
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
    rep: _Report,
    stage: list[str | None],
    class_size: int | None,
    n: int,
    *,
    required: bool = True,
    aliases: Mapping[str, tuple[str, ...]] = SCHOOL_ALIASES,
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
                aliases,
                f"or give the number of entry classes (招生班数) with {rep.flag('classes')} NAME",
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
    blank = np.flatnonzero(np.isnan(capacity))
    if not required and len(blank) and len(blank) < n and ("capacity" in rep.cols or "classes" in rep.cols):
        # seats known for some schools only: a seats band or a district's seat total over part of the schools
        # would mislead, so seats are left out of both, and the rows are named
        rep.warn(
            f"{len(blank)} school(s) have no seats (rows {name_list([rep.row(k) for k in blank], limit=8)}) "
            f"while {n - len(blank)} have: seats are neither balanced nor checked against the children (a "
            "district may hold fewer seats than children), and a district holding one of them has no seat total.",
            "fill in the seats (or entry classes) of every school to balance seats and check them against the "
            "children.",
            canon="capacity" if "capacity" in rep.cols else "classes",
        )
    return capacity


def _quality(rep: _Report, n: int) -> np.ndarray:
    quality = np.full(n, np.nan)
    if "quality" not in rep.cols:
        return quality
    values = _column_values(rep, "quality")
    words: dict[int, str] = {}
    blank = [k for k, value in enumerate(values) if is_blank(value)]
    for k, value in enumerate(values):
        try:
            number = parse_number(value)
        except ValueError:
            words[k] = unicodedata.normalize("NFKC", str(value)).strip().casefold()
            continue
        if number is not None:
            quality[k] = number
    table = None
    if words:
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
    known = quality[~np.isnan(quality)]
    if blank and len(known):
        flag = table is QUALITY_FLAGS or (table is None and set(np.unique(known)) <= {0.0, 1.0})
        _blank_quality(rep, quality, blank, flag=flag)
    return quality


def _blank_quality(rep: _Report, quality: np.ndarray, blank: list[int], *, flag: bool) -> None:
    """Blank cells of a quality column that has values elsewhere: in a yes/no column (重点 / 是 / 1 against
    否 / 0) an unmarked school is read as "no", the way such lists are kept (only the key schools marked);
    in a tier or number column it has no quality and is left out of every quality figure.  Either way a
    warning names the rows and the choice, so no summary takes a blank for a known value."""
    rows = name_list([rep.row(k) for k in blank], limit=8)
    if flag:
        quality[blank] = 0.0
        rep.warn(
            f'{len(blank)} blank cell(s) (rows {rows}) read as "no" (否, not a key / high-quality school): in a '
            "yes/no column the schools left blank are taken as not marked.",
            "write 是 or 否 in every row if some of these are unknown rather than no.",
            canon="quality",
        )
    else:
        rep.warn(
            f"{len(blank)} blank cell(s) (rows {rows}): these schools have no quality; they are left out of the quality balance, the high-quality schools and every quality "
            "figure (spread, Gini).",
            "fill in a quality for every school.",
            canon="quality",
        )


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
