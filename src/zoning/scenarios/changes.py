"""Scenario files: what a bureau weighs before deciding (撤并 / 新建 / 改扩建, new housing), applied to the inputs.

A scenario is a small TOML file, never a hand-edited copy of the data::

    title = "2027 方案 A：撤并戴尔小学"
    year = 2027                       # optional: a school built later than this is left out

    [[close]]                         # 撤销: the school closes, its children are zoned again
    school = "Dyer Elementary School" # name or id, as in the plan

    [[merge]]                         # 合并: one campus keeps the zone of both
    schools = ["Kaler", "Brown"]      # the second (Brown) stays; Kaler's campus closes
    seats = 520                       # optional: the merged seats (default: both schools' seats)

    [[build]]                         # 新建
    name = "新城实验小学"
    lon = -70.27
    lat = 43.63                       # or: at = "230050031003000" (a block id or name: its inner point)
    coords = "wgs84"                  # gcj02 / bd09 for coordinates read off 高德 / 百度 maps
    seats = 480                       # or: classes = 12 (× class_size, default 45)
    opens = 2027                      # optional

    [[expand]]                        # 扩建 (or [[shrink]], 缩减)
    school = "Small"
    seats = 300                       # the new total; or add = 60 / remove = 40 / classes = 8

    [[demand]]                        # new housing: children added to blocks
    blocks = ["230050031003000"]      # ids or names; or polygon = [[lon, lat], …] (with coords)
    add = 40                          # children: to each block, or split by area inside a polygon
    # rate = 0.2                      # or: +20 % in those blocks

    [[lock]]                          # 锁定: these blocks go to this school whatever the rest does
    blocks = ["230050031003000"]
    school = "Kaler"

:func:`parse_scenario` reads the text (every problem with its line and key, a misspelt school named with the
nearest ones), :func:`apply_scenario` returns new blocks and schools and one line per change in the planner's
words.  Pure functions: the file is read by ``io.files.read_text``.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import InputError, Issue, name_list
from ..io.crs import parse_coords, to_wgs84
from ..io.files import load_text

__all__ = ["Change", "Scenario", "Applied", "read_scenario", "parse_scenario", "apply_scenario", "KINDS"]

#: The changes a scenario may make, each with the keys it takes (required keys first).
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "close": (("school",), ()),
    "merge": (("schools",), ("seats",)),
    "build": (("name",), ("id", "lon", "lat", "at", "coords", "seats", "classes", "class_size", "opens")),
    "expand": (("school",), ("seats", "add", "classes", "class_size")),
    "shrink": (("school",), ("seats", "remove", "classes", "class_size")),
    "demand": ((), ("blocks", "polygon", "coords", "add", "rate")),
    "lock": (("blocks", "school"), ()),
}
_TOP_KEYS = ("title", "year", *KINDS)
#: Children per class when seats are given as classes (招生班数 × 45, the primary 大班额 limit).
CLASS_SIZE = 45


@dataclass(frozen=True)
class Change:
    """One ``[[kind]]`` table of the file: its kind, its number among tables of that kind, its line."""

    kind: str
    number: int
    line: int | None
    params: dict[str, Any]

    def label(self) -> str:
        return f"[[{self.kind}]] #{self.number}"


@dataclass(frozen=True)
class Scenario:
    source: str
    title: str | None
    year: int | None
    changes: tuple[Change, ...]
    #: problems of the file's shape found by a lenient parse (:func:`parse_scenario`), raised by
    #: :func:`apply_scenario` together with the changes that cannot apply, so the planner sees all at once
    problems: tuple[Issue, ...] = ()


@dataclass(frozen=True)
class Applied:
    """The inputs after a scenario, and what it did (one line per change, Chinese and English)."""

    blocks: gpd.GeoDataFrame
    schools: gpd.GeoDataFrame
    notes: tuple[str, ...] = field(default_factory=tuple)


def _issue(source: str, line: int | None, message: str, fix: str, key: str | None = None) -> Issue:
    where = source if line is None else f"{source}, line {line}"
    return Issue(message, fix, file=where, column=key)


def _line_of(issue: Issue) -> int:
    """The file line an issue of :func:`_issue` names (0: the whole file)."""
    at = re.search(r", line (\d+)$", issue.file or "")
    return int(at.group(1)) if at else 0


def _table_lines(text: str, kind: str) -> list[int]:
    """Line numbers of the ``[[kind]]`` headers, in order."""
    pattern = re.compile(rf"^\s*\[\[\s*{re.escape(kind)}\s*\]\]")
    return [n for n, line in enumerate(text.splitlines(), start=1) if pattern.match(line)]


def parse_scenario(text: str, *, source: str = "scenario.toml", lenient: bool = False) -> Scenario:
    """The scenario in ``text`` (TOML), checked for its shape: known tables and keys, the values' types.

    ``lenient``: problems of shape are kept in ``Scenario.problems`` (the changes they concern left out)
    instead of raised, for :func:`apply_scenario` to raise with the names and places it checks (a negative
    ``add`` and a misspelt school in one message, not one run after another).  Invalid TOML still raises."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        at = re.search(r"line (\d+)", str(err))
        raise InputError(
            [_issue(source, int(at.group(1)) if at else None, f"is not valid TOML ({err}).",
                    'write each change as a table, e.g. [[close]] then school = "实验小学" on the next line.')]
        ) from err  # fmt: skip
    issues: list[Issue] = []
    for key in data:
        if key not in _TOP_KEYS:
            near = difflib.get_close_matches(key, _TOP_KEYS, n=1)
            hint = f'did you mean "{near[0]}"? ' if near else ""
            issues.append(_issue(source, None, f'has an unknown entry "{key}".',
                                 f"{hint}use {', '.join(_TOP_KEYS)}.", key))  # fmt: skip
    year = data.get("year")
    if year is not None and not isinstance(year, int):
        issues.append(
            _issue(source, None, f"year {year!r} is not a year.", "write it as a number: year = 2027", "year")
        )
    changes = []
    for kind, (required, optional) in KINDS.items():
        tables = data.get(kind, [])
        if isinstance(tables, dict):
            tables = [tables]
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            # close = "Kaler" (a value where a table belongs)
            issues.append(_issue(source, None, f'"{kind}" is a value, not a table of changes.',
                                 f'write it as a table: [[{kind}]] on one line, then school = "…" on the next.',
                                 kind))  # fmt: skip
            continue
        lines = _table_lines(text, kind)
        for k, table in enumerate(tables):
            line = lines[k] if k < len(lines) else None
            label = f"[[{kind}]] #{k + 1}"
            for key in table:
                if key not in required + optional:
                    near = difflib.get_close_matches(key, required + optional, n=1)
                    hint = f'did you mean "{near[0]}"? ' if near else ""
                    issues.append(_issue(source, line, f'{label} has an unknown key "{key}".',
                                         f"{hint}[[{kind}]] takes {', '.join(required + optional)}.", key))  # fmt: skip
            for key in required:
                if key not in table:
                    issues.append(
                        _issue(source, line, f'{label} has no "{key}".', f"add {key} = … to it.", key)
                    )
            before = len(issues)
            issues += _check_values(kind, table, source, line, label)
            if len(issues) == before or not lenient:  # a change with a problem of shape is not applied
                changes.append(Change(kind, k + 1, line, dict(table)))
    if issues and not lenient:
        raise InputError(issues)
    changes.sort(key=lambda c: (c.line is None, c.line or 0))  # the order of the file
    return Scenario(source=source, title=data.get("title"), year=year, changes=tuple(changes),
                    problems=tuple(issues))  # fmt: skip


def read_scenario(path, *, lenient: bool = False) -> Scenario:
    """The scenario file at ``path`` (TOML, UTF-8 or GBK), checked for its shape (:func:`parse_scenario`)."""
    text = load_text(path, what="a scenario", suffixes=(".toml",))
    return parse_scenario(text, source=str(path), lenient=lenient)


def _check_values(kind: str, table: dict, source: str, line: int | None, label: str) -> list[Issue]:
    issues = []

    def bad(key: str, message: str, fix: str) -> None:
        issues.append(_issue(source, line, f"{label}: {message}", fix, key))

    for key in ("seats", "add", "remove", "classes", "class_size", "rate", "lon", "lat"):
        if key in table and (isinstance(table[key], bool) or not isinstance(table[key], int | float)
                             or not math.isfinite(table[key])):  # fmt: skip
            bad(key, f"{key} = {table[key]!r} is not a number.", f"write a number: {key} = 120")
        elif key in table and key not in ("lon", "lat", "rate") and table[key] < 0:
            bad(key, f"{key} = {table[key]} is negative.", "give a number of 0 or more.")
        elif key == "rate" and key in table and table[key] < -1:
            bad(key, f"rate = {table[key]} would leave fewer than no children.",
                "give a share of -1 or more: -0.2 is 20 % fewer, 0.3 is 30 % more.")  # fmt: skip
    for key in ("blocks", "schools"):
        if key in table and isinstance(table[key], list) and not table[key]:
            bad(key, f"{key} = [] names none.", f'name at least one: {key} = ["…"]')
    if kind == "merge":
        schools = table.get("schools")
        if not (isinstance(schools, list) and len(schools) == 2):
            bad(
                "schools",
                "schools must name two schools.",
                'write schools = ["closing school", "staying school"]',
            )
    if kind == "build":
        has_xy = "lon" in table or "lat" in table
        if has_xy == ("at" in table) or (has_xy and not ("lon" in table and "lat" in table)):
            bad(
                "lon",
                "a new school needs its place: lon and lat, or at.",
                'add lon = …, lat = …, or at = "block id"',
            )
        if ("seats" in table) == ("classes" in table):
            bad(
                "seats",
                "a new school needs seats or classes (one of them).",
                "add seats = 480 or classes = 12",
            )
    if kind in ("expand", "shrink"):
        given = [k for k in ("seats", "add", "remove", "classes") if k in table]
        if len(given) != 1:
            bad("seats", f"{kind} needs exactly one of seats, {'add' if kind == 'expand' else 'remove'}, classes.",
                "e.g. seats = 300 (the new total)")  # fmt: skip
    if kind == "demand":
        if ("blocks" in table) == ("polygon" in table):
            bad("blocks", "demand needs blocks = [...] or polygon = [[lon, lat], ...] (one of them).",
                'e.g. blocks = ["b12", "b13"]')  # fmt: skip
        if ("add" in table) == ("rate" in table):
            bad(
                "add",
                "demand needs add (children) or rate (a share, 0.2 = +20 %), one of them.",
                "e.g. add = 40",
            )
    if "coords" in table:
        try:
            parse_coords(str(table["coords"]))
        except InputError:
            bad(
                "coords",
                f"coords {table['coords']!r} is not a coordinate system.",
                "use wgs84, cgcs2000, gcj02 or bd09.",
            )
    return issues


# ---------------------------------------------------------------------------------------------------------
# applying a scenario
# ---------------------------------------------------------------------------------------------------------


def apply_scenario(scenario: Scenario, blocks: gpd.GeoDataFrame, schools: gpd.GeoDataFrame) -> Applied:
    """The blocks and schools (WGS84, canonical columns) after every change of ``scenario``, in file order.

    ``blocks`` carry the base plan's school in ``current_school`` (so children moved are counted against
    it).  Raises :class:`InputError` listing every change that names a school or block the inputs lack
    (with the nearest names) or that cannot apply (a school closed twice, a shrink below 0 seats)."""
    blocks = blocks.copy()
    schools = schools.copy()
    notes: list[str] = []
    issues: list[Issue] = list(scenario.problems)
    gone: dict[str, Change] = {}  # the schools a change has closed or merged away, by id and name
    locks: dict[str, Change] = {}  # the school each [[lock]] locks its blocks to
    for change in scenario.changes:
        before = schools
        try:
            blocks, schools, note = _APPLY[change.kind](change, blocks, schools, scenario)
        except _Refused as refused:
            named = [str(v) for k in ("school", "schools") for v in np.atleast_1d(change.params.get(k, []))]
            earlier = next((gone[v] for v in named if v in gone), None)
            message, fix = refused.message, refused.fix
            if earlier is not None and "is not a school of the plan" in message:
                # a school closed twice, or changed after it closed: say so, not "nearest: …"
                message = message.replace(
                    "is not a school of the plan",
                    f"was closed or merged away by "
                    f"{earlier.label()}" + (f" (line {earlier.line})" if earlier.line else ""),
                )
                fix = "change a school before it closes, or drop one of the two changes"
            issues.append(
                _issue(scenario.source, change.line, f"{change.label()}: {message}", fix, refused.key)
            )
            continue
        for _, row in before[~before["school_id"].isin(schools["school_id"])].iterrows():
            gone.update({str(row["school_id"]): change, str(row["name"]): change})
        if change.kind == "lock":
            locks[
                str(schools["school_id"].iloc[_find_school(schools, change.params["school"], "school")])
            ] = change
        notes.append(note)
    for sid, lock in locks.items():  # a lock to a school a later change closes: both changes named
        if sid in gone:
            closer = gone[sid]
            issues.append(_issue(scenario.source, lock.line, f"{lock.label()}: its school is closed or merged away "
                                 f"by {closer.label()}" + (f" (line {closer.line})" if closer.line else ""),
                                 "lock the blocks to a school that stays open, or drop one of the changes", "school"))  # fmt: skip
    if issues:
        raise InputError(sorted(issues, key=_line_of))  # in the file's order
    return Applied(
        blocks=blocks.reset_index(drop=True), schools=schools.reset_index(drop=True), notes=tuple(notes)
    )


class _Refused(Exception):
    def __init__(self, message: str, fix: str, key: str | None = None):
        super().__init__(message)
        self.message, self.fix, self.key = message, fix, key


def _find_school(schools: gpd.GeoDataFrame, given, key: str) -> int:
    """Row of the school named or numbered ``given``; the nearest names when there is none."""
    ids = schools["school_id"].astype(str)
    names = schools["name"].astype(str)
    for column in (ids, names):
        hit = np.flatnonzero(column.to_numpy() == str(given))
        if len(hit):
            return int(hit[0])
    near = difflib.get_close_matches(str(given), list(names) + list(ids), n=3, cutoff=0.4)
    hint = f"nearest: {', '.join(near)}" if near else f"the schools are {', '.join(names[:8])}…"
    raise _Refused(f'"{given}" is not a school of the plan.', f"{hint}.", key)


def _find_blocks(blocks: gpd.GeoDataFrame, given: list, key: str) -> np.ndarray:
    ids = blocks["block_id"].astype(str).to_numpy()
    names = blocks["name"].astype(str).to_numpy() if "name" in blocks else ids
    rows, missing = [], []
    for g in given:
        hit = np.flatnonzero((ids == str(g)) | (names == str(g)))
        if len(hit):
            rows.extend(hit.tolist())
        else:
            missing.append(str(g))
    if missing:
        near = difflib.get_close_matches(missing[0], list(names[:5000]) + list(ids[:5000]), n=3, cutoff=0.5)
        raise _Refused(
            f"{len(missing)} block(s) not in the plan: {', '.join(missing[:5])}.",
            f"nearest to {missing[0]}: {', '.join(near)}."
            if near
            else "give block ids or names as in plan.csv.",
            key,
        )
    return np.unique(rows)


def _seats_from(params: dict, key_seats: str = "seats") -> float | None:
    if key_seats in params:
        return float(params[key_seats])
    if "classes" in params:
        return float(params["classes"]) * float(params.get("class_size", CLASS_SIZE))
    return None


def _close(change: Change, blocks, schools, _scenario):
    j = _find_school(schools, change.params["school"], "school")
    row = schools.iloc[j]
    children = _children_of(blocks, row)
    schools = schools.drop(index=schools.index[j])
    if schools.empty:
        raise _Refused("closing it leaves no school.", "close fewer schools.", "school")
    if "current_school" in blocks:
        # its children's current school is named by its name from now on: the school is no longer in the
        # plan's schools table, where the announcement, the map and the report look up a name by id
        blocks = blocks.copy()
        blocks.loc[_of_school(blocks, row), "current_school"] = str(row["name"])
    return (
        blocks,
        schools,
        f"撤销 close {row['name']} ({_n(row['capacity'])} seats; its {_n(children)} children zoned again)",
    )


def _merge(change: Change, blocks, schools, _scenario):
    closing, staying = change.params["schools"]
    a = _find_school(schools, closing, "schools")
    b = _find_school(schools, staying, "schools")
    if a == b:
        raise _Refused("merges a school with itself.", "name two different schools.", "schools")
    ra, rb = schools.iloc[a], schools.iloc[b]
    total = float(ra["capacity"]) + float(rb["capacity"])
    seats = float(change.params.get("seats", total))
    schools = schools.copy()
    schools.loc[schools.index[b], "capacity"] = seats
    schools = schools.drop(index=schools.index[a])
    children = _children_of(blocks, ra)
    if "current_school" in blocks:
        # the merged school's children are the staying school's now: they count as moved only where they are
        # zoned to a third school, and the price of a move keeps them with it where its seats allow
        blocks = blocks.copy()
        blocks.loc[_of_school(blocks, ra), "current_school"] = str(rb["school_id"])
    return (
        blocks,
        schools,
        (
            f"合并 merge {ra['name']} into {rb['name']} (seats {_n(ra['capacity'])} + {_n(rb['capacity'])} → {_n(seats)}; "
            f"{ra['name']}'s campus closes, its {_n(children)} children are {rb['name']}'s now)"
        ),
    )


def _build(change: Change, blocks, schools, scenario):
    p = change.params
    name = str(p["name"])
    opens = p.get("opens")
    if opens is not None and scenario.year is not None and int(opens) > int(scenario.year):
        note = f"新建 build {name}: opens in {opens}, after the scenario's year {scenario.year} (left out)"
        return blocks, schools, note
    sid = str(p.get("id", name))
    if sid in set(schools["school_id"].astype(str)):
        raise _Refused(
            f'a school with the id "{sid}" exists already.', "give the new school another id = ….", "id"
        )
    if name in set(
        schools["name"].astype(str)
    ):  # two schools of one name: a later change could not tell them
        raise _Refused(
            f'a school called "{name}" exists already.', "give the new school another name.", "name"
        )
    if "at" in p:
        row = _find_blocks(blocks, [p["at"]], "at")[0]
        point = gpd.GeoSeries([blocks.geometry.iloc[row].representative_point()], crs=blocks.crs)
    else:
        frame = gpd.GeoDataFrame(geometry=[shapely.Point(float(p["lon"]), float(p["lat"]))], crs=4326)
        point = to_wgs84(frame, parse_coords(str(p.get("coords", "wgs84")))).geometry.to_crs(blocks.crs)
        utm = blocks.estimate_utm_crs()
        far = blocks.geometry.to_crs(utm).distance(point.to_crs(utm).iloc[0])
        if len(far) and float(far.min()) > 5_000:
            raise _Refused(
                f"the new school at ({p['lon']}, {p['lat']}) is {far.min() / 1000:,.1f} km from every block.",
                "check lon / lat (not swapped?) and coords (gcj02 for 高德 coordinates).",
                "lon",
            )
    seats = _seats_from(p)
    new = {c: None for c in schools.columns if c != "geometry"}
    new.update({"school_id": sid, "name": name, "capacity": seats})
    added = gpd.GeoDataFrame([new], geometry=point.to_crs(schools.crs).to_numpy(), crs=schools.crs)
    schools = gpd.GeoDataFrame(
        pd.concat([schools, added], ignore_index=True), geometry="geometry", crs=schools.crs
    )
    lonlat = point.to_crs(4326).iloc[0]
    return blocks, schools, f"新建 build {name} ({_n(seats)} seats) at {lonlat.y:.5f}, {lonlat.x:.5f}"


def _resize(change: Change, blocks, schools, _scenario):
    p = change.params
    j = _find_school(schools, p["school"], "school")
    row = schools.iloc[j]
    old = float(row["capacity"]) if pd.notna(row["capacity"]) else 0.0
    if "add" in p:
        new = old + float(p["add"])
    elif "remove" in p:
        new = old - float(p["remove"])
    else:
        new = _seats_from(p)
    if new < 0:
        raise _Refused(f"{row['name']} has {_n(old)} seats: removing {_n(p['remove'])} leaves fewer than none.",
                       f"remove at most {_n(old)}.", "remove")  # fmt: skip
    if change.kind == "expand" and new < old:
        raise _Refused(
            f"expands {row['name']} from {_n(old)} to fewer seats ({_n(new)}).", "use [[shrink]].", "seats"
        )
    if change.kind == "shrink" and new > old:
        raise _Refused(
            f"shrinks {row['name']} from {_n(old)} to more seats ({_n(new)}).", "use [[expand]].", "seats"
        )
    schools = schools.copy()
    schools.loc[schools.index[j], "capacity"] = new
    word = "扩建 expand" if change.kind == "expand" else "缩减 shrink"
    return blocks, schools, f"{word} {row['name']}: {_n(old)} → {_n(new)} seats"


def _demand(change: Change, blocks, schools, _scenario):
    p = change.params
    blocks = blocks.copy()
    students = pd.to_numeric(blocks["students"], errors="coerce").fillna(0.0).to_numpy(dtype=float, copy=True)
    if "blocks" in p:
        given = p["blocks"] if isinstance(p["blocks"], list) else [p["blocks"]]
        rows = _find_blocks(blocks, given, "blocks")
        share = np.ones(len(rows))  # "add" goes to each block
        where = f"{len(rows)} block(s)"
    else:
        try:
            ring = shapely.Polygon([(float(x), float(y)) for x, y in p["polygon"]])
        except (TypeError, ValueError) as err:
            fix = "e.g. polygon = [[113.90, 22.55], [113.91, 22.55], [113.91, 22.56]]"
            raise _Refused("polygon is not a list of [lon, lat] pairs.", fix, "polygon") from err
        frame = gpd.GeoDataFrame(geometry=[ring], crs=4326)
        area = to_wgs84(frame, parse_coords(str(p.get("coords", "wgs84")))).geometry
        utm = blocks.estimate_utm_crs()
        zone = area.to_crs(utm).iloc[0]
        metric = blocks.geometry.to_crs(utm)
        if blocks.geom_type.isin(["Point", "MultiPoint"]).all():
            overlap = metric.within(zone).to_numpy().astype(float)
        else:
            overlap = metric.intersection(zone).area.to_numpy()
        rows = np.flatnonzero(overlap > 0)
        if not len(rows):
            raise _Refused("the polygon covers no block.", "check its coordinates and coords.", "polygon")
        share = overlap[rows] / overlap[rows].sum()  # "add" is split by the area inside the polygon
        where = f"{len(rows)} block(s) inside the polygon"
    before = students[rows].sum()
    if "add" in p:
        students[rows] += float(p["add"]) * share
    else:
        students[rows] *= 1 + float(p["rate"])
    blocks["students"] = students
    return blocks, schools, f"需求 demand {where}: {_n(before)} → {_n(students[rows].sum())} children"


def _lock(change: Change, blocks, schools, _scenario):
    p = change.params
    j = _find_school(schools, p["school"], "school")
    given = p["blocks"] if isinstance(p["blocks"], list) else [p["blocks"]]
    rows = _find_blocks(blocks, given, "blocks")
    blocks = blocks.copy()
    if "locked_school" not in blocks:
        blocks["locked_school"] = pd.Series([None] * len(blocks), index=blocks.index, dtype=object)
    sid = str(schools["school_id"].iloc[j])
    held = blocks["locked_school"].iloc[rows]
    other = held[held.notna() & (held != sid)]
    if len(other):  # two locks on one block: the last one won, silently, and the run ended in "no plan"
        raise _Refused(f"{len(other)} of its blocks are locked to another school already "
                       f"({name_list(blocks['block_id'].iloc[rows][held.notna() & (held != sid)].astype(str).tolist())} "
                       f"to {name_list(sorted(set(other.astype(str))))}).", "lock each block once.", "blocks")  # fmt: skip
    blocks.loc[blocks.index[rows], "locked_school"] = sid
    return blocks, schools, f"锁定 lock {len(rows)} block(s) to {schools['name'].iloc[j]}"


_APPLY = {
    "lock": _lock,
    "close": _close,
    "merge": _merge,
    "build": _build,
    "expand": _resize,
    "shrink": _resize,
    "demand": _demand,
}


def _of_school(blocks: gpd.GeoDataFrame, school: pd.Series) -> np.ndarray:
    """The blocks whose current school is ``school`` (named by its id or by its name, as files have both)."""
    if "current_school" not in blocks:
        return np.zeros(len(blocks), dtype=bool)
    current = blocks["current_school"].astype(str)
    return (
        current.isin([str(school["school_id"]), str(school["name"])]) & blocks["current_school"].notna()
    ).to_numpy()


def _children_of(blocks: gpd.GeoDataFrame, school: pd.Series) -> float:
    return float(pd.to_numeric(blocks.loc[_of_school(blocks, school), "students"], errors="coerce").sum())


def _n(x) -> str:
    x = float(x)
    return f"{x:,.0f}" if abs(x - round(x)) < 0.05 else f"{x:,.1f}"
