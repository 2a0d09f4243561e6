"""Read and validate the planner's files in one call: path in, canonical frame out.

Wherever a file is named, a PostgreSQL / PostGIS table or query may be named by a URL instead
(``postgresql://user@host/db?table=public.blocks``, see ``io.db``): it is read into the same raw table and
checked with the same messages, rows named by the table's primary key.

``read_blocks`` / ``read_schools`` are what an analyst uses in Jupyter; ``load_inputs`` reads both files
and runs the cross-file checks, collecting the problems of *both* files into one error so the planner
fixes everything in one go.  ``read_block_column`` reads one further column of a blocks file by block id
(a 社区 / street to group an announcement by); ``read_plan_tables`` and ``read_plan_folder`` read back a plan
folder that ``zoning partition`` / ``zoning districts`` wrote.
"""

from __future__ import annotations

import codecs
import difflib
import json
import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from ..errors import InputError, Issue, flag_issue, kind_of, name_list
from .crs import to_wgs84
from .db import is_db_url, mask_password, read_db_table, read_plan_schema
from .files import RawTable, read_table, row_label
from .validate import BLOCK_ALIASES, check_blocks, check_pair, check_schools, match_codes, numeric_code
from .validate.geometry import _coords, _start
from .validate.headers import _headers, _quote_list
from .validate.numbers import _as_text

log = logging.getLogger(__name__)

__all__ = [
    "Inputs",
    "read_blocks",
    "read_schools",
    "read_sites",
    "read_zones",
    "read_roads",
    "load_inputs",
    "read_block_column",
    "read_plan_tables",
    "read_plan_folder",
    "current_from_plan",
    "PLAN_LAYERS",
]


def _read(
    path: str | os.PathLike[str],
    *,
    layer: str | None,
    encoding: str | None,
    option: tuple[str, str] | None = None,
) -> RawTable:
    """A file as read, or a database table or query named by a ``postgresql://`` URL (``layer`` then names
    the table when the URL does not)."""
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except (LookupError, TypeError) as err:
            raise InputError([Issue(f"encoding = {encoding!r} is not a text encoding Python knows.",
                                    "use e.g. gbk, gb18030 or utf-8, or leave it out to detect it.")]) from err  # fmt: skip
    if is_db_url(path):
        return read_db_table(os.fspath(path), layer=layer)
    return read_table(path, layer=layer, encoding=encoding, option=option)


def _name(path: str | os.PathLike[str]) -> str:
    """A file or URL as messages name it (a URL's password masked)."""
    return mask_password(os.fspath(path)) if is_db_url(path) else os.fspath(path)


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
    keep: Sequence[str] = (),
    layer: str | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Blocks (小区 / 地块 / census blocks) from any supported file, validated, in WGS84.

    ``keep`` names further headers of the file copied unchanged into the frame under the same header
    (e.g. ``["社区"]``, to group the announcement's 小区 by it: ``groups=blocks.set_index("block_id")["社区"]``).
    """
    columns, keep = _arguments(path, columns, keep)
    raw = _read(path, layer=layer, encoding=encoding, option=("--blocks-layer", "layer"))
    frame, _logged_warnings = check_blocks(raw, columns=columns, coords=coords, per_1000_rate=per_1000_rate)
    return _kept(raw, frame, keep)


def _arguments(
    path, columns, keep, *, names=("columns", "keep")
) -> tuple[Mapping[str, str] | None, list[str]]:
    """The readers' arguments a Python caller can get wrong, in words: ``keep="社区"`` is one header (it was
    read letter by letter), ``columns`` must map the toolkit's names to the file's headers.  ``names``: the
    arguments' names in the caller's signature (``load_inputs`` has ``block_columns``, ``school_keep``, …)."""
    issues = _argument_issues(path, columns, keep, names)
    if issues:
        raise InputError(issues)
    return columns, _keep_list(keep)


def _argument_issues(path, columns, keep, names) -> list[Issue]:
    issues = []
    if not isinstance(path, str | os.PathLike):
        issues.append(Issue(f"the path is {kind_of(path)}", "give the file's path (a str or Path); a "
                            "GeoDataFrame you already have goes to assign_zones / form_districts as it is"))  # fmt: skip
    if columns is not None and not isinstance(columns, Mapping):
        issues.append(Issue(f"{names[0]} is {kind_of(columns)}, not a mapping",
                            f'map the toolkit\'s names to your headers, e.g. {names[0]}={{"students": "适龄儿童"}}'))  # fmt: skip
    if keep is not None and (isinstance(keep, Mapping) or not isinstance(keep, Iterable)):
        issues.append(Issue(f"{names[1]} is {kind_of(keep)}, not a list of headers",
                            f'name the headers to keep, e.g. {names[1]}=["社区"]'))  # fmt: skip
    return issues


def _keep_list(keep) -> list[str]:
    """``keep`` as a list of headers: one header given as a string is one, None is none."""
    return [] if keep is None else [keep] if isinstance(keep, str) else list(keep)


def _kept(raw: RawTable, frame: gpd.GeoDataFrame, keep: Sequence[str]) -> gpd.GeoDataFrame:
    """``frame`` (checked blocks, one row per row of ``raw``) with the further headers ``keep`` of the file."""
    kept = {}
    for given in dict.fromkeys(str(h) for h in keep):
        header = _header(raw, given, fix="check the spelling, or leave it out of keep.")
        if header in frame.columns:
            raise InputError(
                [
                    Issue(
                        f'cannot keep the column "{header}": the blocks frame has a column of that name.',
                        f'rename the column in the file (e.g. "{header}_original") and keep it under the new name.',
                        file=raw.file,
                        column=header,
                    )
                ]
            )
        kept[header] = raw.frame[header].reset_index(drop=True)
    if kept:
        frame = frame.assign(**kept)  # rows are the file's rows in order (check_blocks drops none)
        frame.attrs["source_columns"].update({h: h for h in kept})
    return frame


def _header(raw: RawTable, given: str, *, fix: str) -> str:
    """The header of ``raw`` named ``given``; an InputError naming the file and the nearest headers if none."""
    headers = _headers(raw)
    if given in headers:
        return given
    nearest = difflib.get_close_matches(given, headers, n=3, cutoff=0.3)
    near = f" The nearest: {_quote_list(nearest)}." if nearest else ""
    raise InputError(
        [
            Issue(
                f'has no column "{given}".{near} Its columns: {_quote_list(headers)}.',
                fix,
                file=raw.file,
                value=given,
            )
        ]
    )


def read_block_column(
    path: str | os.PathLike[str],
    column: str,
    *,
    id_column: str | None = None,
    layer: str | None = None,
    encoding: str | None = None,
    fix: str | None = None,
) -> pd.Series:
    """One column of a blocks file by block id (block_id → text, None where empty), e.g. the 社区 of every
    小区 to list an announcement's 小区 under.

    The ids are found as :func:`read_blocks` finds them (the same header aliases, ``id_column`` for
    ``--block-id-col``; the names when there is no id column), so they match the ids of a plan made from the
    same file; nothing else of the file is checked (children, geometry).  A missing ``column`` is an
    InputError naming the file and the nearest headers, with ``fix`` (default: check the spelling)."""
    raw = _read(path, layer=layer, encoding=encoding, option=("--blocks-layer", "layer"))
    header = _header(
        raw, column, fix=fix or f"check the spelling of the column (one of {raw.file}'s headers)."
    )
    rep, ids, _names = _start(raw, "block", BLOCK_ALIASES, {"block_id": id_column} if id_column else None)
    rep.raise_if_errors()  # no id column, empty or repeated ids
    values = [_as_text(v) for v in raw.frame[header].tolist()]
    return pd.Series(values, index=pd.Index(ids, dtype=object, name="block_id"), name=header, dtype=object)


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
    columns, keep = _arguments(path, columns, keep)
    if (issue := flag_issue("require_capacity", require_capacity)) is not None:
        raise InputError([issue])
    raw = _read(path, layer=layer, encoding=encoding, option=("--schools-layer", "layer"))
    frame, _logged_warnings = check_schools(
        raw,
        columns=columns,
        coords=coords,
        class_size=class_size,
        require_capacity=require_capacity,
        keep=keep,
    )
    return frame


def read_sites(
    path: str | os.PathLike[str],
    *,
    columns: Mapping[str, str] | None = None,
    coords: str = "wgs84",
    class_size: int | None = None,
    layer: str | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Candidate sites for new schools (points with seats), read as schools, in WGS84: ``coords`` is their
    own (sites read off 高德 beside WGS84 schools: ``coords="gcj02"``); their headers are recognised
    besides the schools' (site_id, 候选点编号, 地块编号, 规划学位, …), and ``columns`` names others with the
    schools' canonical names (``{"school_id": "地块号", "capacity": "规划学位数"}``)."""
    columns, _ = _arguments(path, columns, ())
    raw = _read(path, layer=layer, encoding=encoding, option=("--sites-layer", "layer"))
    frame, _logged_warnings = check_schools(
        raw, columns=columns, coords=coords, class_size=class_size, sites=True
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
    block_keep: Sequence[str] = (),
    blocks_layer: str | None = None,
    schools_layer: str | None = None,
    encoding: str | None = None,
    current_plan: str | os.PathLike[str] | None = None,
) -> Inputs:
    """Both files, validated and cross-checked; one InputError lists the problems of both.

    ``school_keep`` / ``block_keep`` name further headers of the files copied into the frames (see
    :func:`read_schools`, :func:`read_blocks`); schools always need a capacity here.  ``current_plan``: last
    year's plan folder (or database schema): each block's school in it is its current school
    (:func:`current_from_plan`), in place of the blocks file's own current-school column, which is then
    neither read nor checked.
    """
    issues = [
        *_argument_issues(blocks_path, block_columns, block_keep, ("block_columns", "block_keep")),
        *_argument_issues(schools_path, school_columns, school_keep, ("school_columns", "school_keep")),
    ]
    if issues:
        raise InputError(issues)
    block_keep, school_keep = _keep_list(block_keep), _keep_list(school_keep)
    warnings: list[Issue] = []
    frames = []
    for check, path, layer, option, options in (
        (
            check_blocks,
            blocks_path,
            blocks_layer,
            ("--blocks-layer", "blocks_layer"),
            {"columns": block_columns, "coords": blocks_coords, "per_1000_rate": per_1000_rate},
        ),
        (
            check_schools,
            schools_path,
            schools_layer,
            ("--schools-layer", "schools_layer"),
            {
                "columns": school_columns,
                "coords": schools_coords,
                "class_size": class_size,
                "require_capacity": True,
                "keep": school_keep,
            },
        ),
    ):
        log.info("reading %s", _name(path))
        try:
            raw = _read(path, layer=layer, encoding=encoding, option=option)
            frame, found = check(raw, **options)
            if check is check_blocks and block_keep:
                frame = _kept(raw, frame, block_keep)
            frames.append(frame)
            warnings += found
        except InputError as err:
            issues += err.issues
    if issues:
        raise InputError(issues)
    blocks, schools = frames
    blocks_file, schools_file = _name(blocks_path), _name(schools_path)
    if current_plan is not None and "current_school" in blocks.columns:
        # last year's plan replaces the column: a stale one (a school since renamed or closed) is no error
        column = blocks.attrs.get("source_columns", {}).get("current_school", "current_school")
        log.info(
            "%s: column %s not read (the current schools come from %s)",
            blocks_file,
            column,
            _name(current_plan),
        )
        blocks = blocks.drop(columns="current_school")
    t0 = time.perf_counter()
    blocks, matched = match_codes(blocks, schools, blocks_file=blocks_file, schools_file=schools_file)
    warnings += matched
    warnings += check_pair(blocks, schools, blocks_file=blocks_file, schools_file=schools_file)
    log.info("cross-file checks of %s and %s: %.2f s", blocks_file, schools_file, time.perf_counter() - t0)
    if current_plan is not None:
        # (a school of last year's plan missing from the schools is a closure: the zones count its children
        # as moved and say so)
        blocks, found = current_from_plan(blocks, current_plan, blocks_file=blocks_file)
        warnings += found
    return Inputs(blocks, schools, tuple(warnings), blocks_file, schools_file)


def _geometry_file(path, layer, encoding, fix: str, option: tuple[str, str]) -> tuple[RawTable, str]:
    """A vector file as read (its frame a GeoDataFrame) and its name for messages; a table without
    geometry is refused with ``fix``."""
    raw = _read(path, layer=layer, encoding=encoding, option=option)
    name = raw.file
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
    coords = _coords(coords)  # an unknown one in words before the file is read (it was a ValueError)
    raw, name = _geometry_file(
        path,
        layer,
        encoding,
        "give the zones as polygons (GeoJSON, GeoPackage or Shapefile).",
        ("--zones-layer", "layer"),
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
    coords = _coords(coords)
    raw, name = _geometry_file(
        path,
        layer,
        encoding,
        "give the roads as lines (GeoJSON, GeoPackage or Shapefile of LineStrings).",
        ("--roads-layer", "layer"),
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
        rows = [row_label(r) for r in np.asarray(raw.rows)[~lines]]
        log.warning(
            "%s: %d feature(s) are not lines and are left out of the road network (rows %s)",
            name,
            len(rows),
            ", ".join(map(str, rows[:10])) + (" …" if len(rows) > 10 else ""),
        )
        frame = frame[lines]
    return to_wgs84(frame.reset_index(drop=True), coords)


#: The layers of ``plan.gpkg`` in the order ``publish.export`` writes them (blocks only with zones, districts
#: only with districts).
PLAN_LAYERS = ("blocks", "zones", "schools", "districts")


def _plan_gpkg(folder: str | os.PathLike[str]) -> Path:
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
    return path


def read_plan_tables(folder: str | os.PathLike[str]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The blocks and schools tables of a plan folder (``plan.gpkg`` as ``zoning partition`` writes it), or
    of a plan written to a database schema (``postgresql://…?schema=NAME``)."""
    if is_db_url(folder):
        layers, _summary = read_plan_schema(os.fspath(folder), ("blocks", "schools"))
        if "blocks" not in layers:
            raise InputError(
                [Issue("holds no blocks table (a plan of districts drawn on schools alone).", "name a plan of "
                       "zones.", file=_name(folder))]
            )  # fmt: skip
        return layers["blocks"], layers["schools"]
    path = _plan_gpkg(folder)
    blocks = read_table(path, layer="blocks").frame
    schools = read_table(path, layer="schools").frame
    return blocks, schools


def current_from_plan(
    blocks: gpd.GeoDataFrame, folder: str | os.PathLike[str], *, blocks_file: str = "the blocks"
) -> tuple[gpd.GeoDataFrame, list[Issue]]:
    """The blocks with each one's school in the plan of ``folder`` (last year's plan folder, or its database
    schema) as its current school, matched by block id; the warnings name the blocks the plan lacks (new
    blocks: no current school, newly zoned) and the plan's blocks the file lacks.  A plan sharing no block
    id with the blocks is an InputError."""
    plan_blocks, _schools = read_plan_tables(folder)
    source = _name(folder)
    school_of = dict(zip(plan_blocks["block_id"].astype(str), plan_blocks["school_id"].astype(str)))
    ids = blocks["block_id"].astype(str).tolist()
    by_code: dict[str, list[str]] = {}
    for plan_id in school_of:
        if (code := numeric_code(plan_id)) is not None:
            by_code.setdefault(code, []).append(plan_id)
    same = {}  # ids written as numbers on one side ("0012" and 12): one plan block each
    for i in ids:
        found = by_code.get(numeric_code(i) or "", []) if i not in school_of else []
        if len(found) == 1:
            same[i] = found[0]
    school_of = school_of | {i: school_of[p] for i, p in same.items()}
    missing = [i for i in ids if i not in school_of]
    if len(missing) == len(ids):
        raise InputError(
            [Issue(f"none of the {len(ids):,} blocks of {blocks_file} is in the plan of {source} (its block ids: "
                   f"{name_list(list(school_of)[:5])}).", "give the plan drawn on these blocks, or check that "
                   "both name the blocks by the same ids.", file=source)]
        )  # fmt: skip
    issues = []
    if same:
        pairs = [f'{i} as "{p}"' for i, p in list(same.items())[:5]]
        issues.append(Issue(f"{len(same):,} block id(s) of {blocks_file} differ from the plan's only by leading "
                            f'zeros or a ".0", and are read as those blocks ({", ".join(pairs)}'
                            f"{' …' if len(same) > 5 else ''}).", "write the ids alike in both (format the id "
                            "column as text in Excel).", severity="warning"))  # fmt: skip
    if missing:
        issues.append(Issue(f"{len(missing):,} block(s) of {blocks_file} are not in the plan of {source} "
                            f"({name_list(missing, limit=8)}): they have no current school and are newly "
                            "zoned (新划入).", "check their ids if they are not new blocks.",
                            severity="warning"))  # fmt: skip
    gone = sorted(set(school_of) - set(ids) - set(same.values()))
    if gone:
        issues.append(Issue(f"{len(gone):,} block(s) of the plan of {source} are not in {blocks_file} "
                            f"({name_list(gone, limit=8)}): they are not zoned this time.",
                            "check their ids if they still have children.", severity="warning"))  # fmt: skip
    for issue in issues:
        log.warning("%s", issue)
    current = pd.Series([school_of.get(i) for i in ids], index=blocks.index, dtype=object)
    return blocks.assign(current_school=current), issues


def read_plan_folder(folder: str | os.PathLike[str]) -> tuple[dict[str, gpd.GeoDataFrame], dict]:
    """Every layer of a plan folder's ``plan.gpkg`` (WGS84; see :data:`PLAN_LAYERS`) and its ``summary.json``:
    all a printed report needs, also for districts drawn on schools alone (no blocks layer).  A
    ``postgresql://…?schema=NAME`` URL reads the plan's tables and summary from that schema."""
    if is_db_url(folder):
        layers, summary = read_plan_schema(os.fspath(folder), PLAN_LAYERS)
        if "schools" not in layers:
            raise InputError(
                [Issue('has no table "schools".', "write the plan again (--overwrite).", file=_name(folder))]
            )
        return layers, summary
    path = _plan_gpkg(folder)
    again = "write the plan again with zoning partition or districts (--overwrite)."
    try:
        present = {str(name) for name, _kind in pyogrio.list_layers(path)}
    except (OSError, RuntimeError):  # a damaged file: read_table below says what is wrong with it
        present = set(PLAN_LAYERS)
    layers = {name: read_table(path, layer=name).frame for name in PLAN_LAYERS if name in present}
    if "schools" not in layers:
        raise InputError([Issue('has no layer "schools".', again, file=os.fspath(path))])
    summary_path = Path(folder) / "summary.json"
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise InputError([Issue("has no summary.json.", again, file=os.fspath(folder))]) from err
    except (OSError, UnicodeError, ValueError) as err:
        raise InputError([Issue(f"cannot be read ({err}).", again, file=os.fspath(summary_path))]) from err
    return layers, summary
