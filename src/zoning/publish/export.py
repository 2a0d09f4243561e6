"""A plan's output files: plan.gpkg, plan.csv, summary.json, map.html — each written atomically.

Layers of ``plan.gpkg`` (WGS84):

* ``blocks``: block_id, name, school_id, school_name, students, students_estimated, current_school,
  distance_m, current_distance_m (to the current school, measured alike), moved;
* ``zones``: one dissolved polygon per school with students, capacity, utilisation;
* ``schools``: school_id, name, capacity, students, utilisation, overload; with districts also
  district_id, is_lead, lead_name, distance_to_lead_m, quality, high_quality;
* ``districts`` (plans with 学区): one dissolved polygon per district with its lead, members, seats,
  children and quality figures.

``plan.csv`` has one row per block (with the block's district when there are districts), or one row per
school for districts drawn on schools alone.

``write_plan(plan, "postgresql://user@host/db?schema=plan_2026")`` writes the layers as tables of that
schema and the summary as its one-row table ``summary``, in one transaction (``io.db``); ``map.html`` and
``plan.csv`` are files and are not written to a database.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from ..check.metrics import summary
from ..errors import InputError, Issue, choice_issue, flag_issue
from ..io.db import (
    SUMMARY_TABLE,
    check_plan_schema,
    input_tables_in,
    is_db_url,
    mask_password,
    write_plan_schema,
)  # fmt: skip
from ..io.inputs import PLAN_LAYERS
from ..io.save import csv_writer, gpkg_writer, json_text, prepare_out_dir, text_writer, write_files
from ..plan import Plan, district_kind_of, units_of, zones_title
from .maps import BLOCK_COLUMNS, LANGS, language, to_html, tr, zone_map

if TYPE_CHECKING:  # only publish.maps imports folium; the maps are built there
    import folium

__all__ = [
    "OUTPUT_FILES",
    "NOT_IN_DATABASE",
    "prepare_out",
    "write_plan",
    "plan_layers",
    "plan_table",
    "plan_map",
    "plan_map_html",
    "folder_map",
]

log = logging.getLogger(__name__)

OUTPUT_FILES = ("plan.gpkg", "plan.csv", "summary.json", "map.html")
#: The outputs a plan written to a database leaves out (they are files; the command's output says so).
NOT_IN_DATABASE = ("map.html", "plan.csv")

_BLOCK_COLS = [
    "block_id",
    "name",
    "school_id",
    "school_name",
    "students",
    "students_estimated",
    "current_school",
    "distance_m",
    "current_distance_m",
    "moved",
]
_SCHOOL_COLS = [
    "school_id",
    "name",
    "capacity",
    "students",
    "utilisation",
    "overload",
    "quality",
    "stage",
    "district_id",
    "is_lead",
    "lead_id",
    "lead_name",
    "distance_to_lead_m",
    "high_quality",
    "district",
]


def _keep(frame: gpd.GeoDataFrame, cols: list[str]) -> gpd.GeoDataFrame:
    return frame[[c for c in cols if c in frame.columns] + ["geometry"]].to_crs(4326)


def plan_layers(plan: Plan) -> dict[str, gpd.GeoDataFrame]:
    """The GeoPackage layers of a plan, in WGS84."""
    layers = {}
    if plan.has_zones:
        layers["blocks"] = _keep(_with_district(plan), _BLOCK_COLS + ["district_id"])
    layers["zones"] = plan.zones.to_crs(4326)
    schools = plan.schools
    if "district" in schools:  # the existing grouping, renamed so it is not mistaken for the new one
        schools = schools.rename(columns={"district": "district_before"})
    layers["schools"] = _keep(schools, _SCHOOL_COLS + ["district_before"])
    if plan.districts is not None:
        layers["districts"] = plan.districts.to_crs(4326)
    return layers


def _with_district(plan: Plan) -> gpd.GeoDataFrame:
    """The blocks with the district of their school (when the plan has districts)."""
    if plan.districts is None:
        return plan.blocks
    district = dict(zip(plan.schools["school_id"], plan.schools["district_id"]))
    return plan.blocks.assign(district_id=plan.blocks["school_id"].map(district))


def plan_table(plan: Plan):
    """The plan as a plain table for Excel / WPS users: one row per block, or per school for districts
    drawn on schools alone."""
    if not plan.has_zones:
        cols = ["district_id", "school_id", "name", "is_lead", "lead_name", "capacity", "students", "quality",
                "distance_to_lead_m"]  # fmt: skip
        table = pd.DataFrame(plan.schools[[c for c in cols if c in plan.schools.columns]])
        return table.sort_values(["district_id", "is_lead"], ascending=[True, False], kind="stable")
    cols = ["block_id", "name", "school_id", "school_name", "students", "distance_m", "moved", "district_id"]
    blocks = _with_district(plan)
    return pd.DataFrame(blocks[[c for c in cols if c in blocks.columns]])


def default_title(plan: Plan, lang: str = "both") -> str:
    with language(lang):
        if plan.districts is None:
            return tr(*zones_title(units_of(plan.rules)))
        return f"{len(plan.districts)} {_district_label(district_kind_of(plan.rules))}" + (
            f" · {tr('划片', 'attendance zones')}" if plan.has_zones else ""
        )


def _district_label(kind: str) -> str:
    """The title's word for the districts: 教育集团 education groups, or 学区 school districts."""
    return (
        tr("教育集团", "education groups") if kind == "education groups" else tr("学区", "school districts")
    )


def plan_map(plan: Plan, *, title: str | None = None, **options) -> folium.Map:
    """The consultation map of a plan as a ``folium.Map`` (a notebook cell shows it; :func:`to_html` or
    ``plan_map_html`` give the page): zones, blocks, schools, districts, the search box, popups, and with a
    current assignment the zones of today and the blocks that change.  ``options``: those of
    :func:`~zoning.publish.maps.zone_map` (:data:`MAP_OPTIONS`: ``lang``, ``tiles``, ``attribution``, ``tiles_crs``,
    ``city_scale``, ``date``); another name, or a ``lang`` other than zh / en / both, is an InputError."""
    return _plan_map(plan, plan_layers(plan), title=title, **options)


def plan_map_html(plan: Plan, *, title: str | None = None, **options) -> str:
    """The standalone HTML page of :func:`plan_map` (opens with no network)."""
    return to_html(plan_map(plan, title=title, **options))


def _plan_map(plan: Plan, layers: dict[str, gpd.GeoDataFrame], *, title: str | None, **options) -> folium.Map:
    """The map drawn from the GeoPackage layers (already in WGS84, so the blocks are not projected a
    second time: half a second at 50,000 blocks)."""
    blocks = layers.get("blocks")
    if blocks is None:  # districts drawn on schools alone: no blocks layer, the plan's empty frame
        blocks = plan.blocks
    schools = plan.schools.to_crs(4326)  # every column: the map reads is_lead, district_id, …
    lang = _lang(options)
    return zone_map(
        blocks,
        layers["zones"],
        schools,
        title=title or default_title(plan, lang),
        districts=layers.get("districts"),
        units=units_of(plan.rules),
        district_kind=district_kind_of(plan.rules),
        **options,
    )


#: The options of :func:`plan_map`: those of ``zone_map`` but its frames and the title.
MAP_OPTIONS = ("tiles", "attribution", "tiles_crs", "city_scale", "lang", "date")


def _lang(options: Mapping) -> str:
    """The map's language from ``options``, checked with the options' names before the title is written in
    it (``lang="fr"`` was a ValueError from inside the maps, ``language="zh"`` a TypeError of zone_map)."""
    lang = options.get("lang", "both")
    issues = [Issue(f"{name!r} is not an option of the map.", f"use one of {', '.join(MAP_OPTIONS)}.")
              for name in options if name not in MAP_OPTIONS]  # fmt: skip
    issues.append(choice_issue("lang", lang, LANGS, fix="use zh, en or both."))
    issues = [i for i in issues if i is not None]
    if issues:
        raise InputError(issues, headline=f"Cannot draw the map: {len(issues)} problem(s):")
    return lang


def folder_map(
    layers: dict[str, gpd.GeoDataFrame],
    *,
    title: str | None = None,
    units: str = "blocks",
    district_kind: str = "school districts",
    **options,
) -> folium.Map:
    """The map of a plan folder's layers (``io.inputs.read_plan_layers``): what ``zoning map DIR`` draws;
    ``units``: what its blocks are (``rules["units"]`` of its summary.json: "primary zones" for a feeder plan);
    ``district_kind``: what its districts are (:func:`district_kind_of` its summary.json)."""
    blocks = layers.get("blocks")
    if blocks is None:  # districts drawn on schools alone
        blocks = gpd.GeoDataFrame({c: [] for c in BLOCK_COLUMNS}, geometry=[], crs=4326)
    districts = layers.get("districts")
    if title is None:
        with language(_lang(options)):
            if districts is None:
                title = tr(*zones_title(units))
            else:
                title = f"{len(districts)} {_district_label(district_kind)}"
                title += f" · {tr('划片', 'attendance zones')}" if len(blocks) else ""
    return zone_map(
        blocks,
        layers["zones"],
        layers["schools"],
        title=title,
        districts=districts,
        units=units,
        district_kind=district_kind,
        **options,
    )


def prepare_out(
    out: str | os.PathLike[str], *, overwrite: bool, extra: tuple[str, ...] = (), inputs: tuple = ()
) -> None:
    """Refuse now, before any work, what :func:`write_plan` would refuse: existing outputs unless
    ``overwrite``, a folder that cannot be written to, or (for a ``postgresql://…?schema=NAME`` URL) a
    server that cannot be reached, a plan's tables already in the schema or no right to create them, or
    tables the run reads (``inputs``: its files or URLs) that the plan would replace."""
    if is_db_url(out):
        names = (*PLAN_LAYERS, SUMMARY_TABLE)
        own = input_tables_in(os.fspath(out), [os.fspath(i) for i in inputs if i is not None], names)
        if own:  # --overwrite would have dropped the run's own inputs for its plan
            raise InputError([Issue(f"holds the tables this run reads ({', '.join(own)}), which the plan's tables "
                                    "would replace", "write the plan into another schema (?schema=NAME)",
                                    file=mask_password(os.fspath(out)))])  # fmt: skip
        check_plan_schema(os.fspath(out), names, overwrite=overwrite)
    else:
        prepare_out_dir(out, [*OUTPUT_FILES, *extra], overwrite=overwrite)


def write_plan(
    plan: Plan,
    out_dir: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    title: str | None = None,
    extra: Mapping[str, Callable[[Path], None]] | None = None,
) -> dict[str, Path] | dict[str, str]:
    """Write the four output files into ``out_dir``, all or nothing (a process killed meanwhile leaves the
    previous ones); refuses to replace existing ones unless ``overwrite``.  ``extra``: more files written
    with them (name → ``io.save`` writer), e.g. a scenario's ``scenario.md``.

    ``out_dir`` may be a ``postgresql://user@host/db?schema=NAME`` URL: the layers and the summary become
    tables of that schema, in one transaction (a failed or killed write leaves nothing); the map, plan.csv
    and ``extra`` are files and are left out.  Returns table name → ``schema.table`` then."""
    extra = dict(extra or {})
    if (issue := flag_issue("overwrite", overwrite)) is not None:  # "no" was read as True
        raise InputError([issue])
    if is_db_url(out_dir):
        left_out = [*NOT_IN_DATABASE, *extra]
        log.info(
            "%s: %s are files and are not written to a database", mask_password(out_dir), ", ".join(left_out)
        )
        summary_json = json_text(summary(plan))
        return write_plan_schema(
            os.fspath(out_dir), plan_layers(plan), summary_json, overwrite=overwrite, replaces=PLAN_LAYERS
        )
    out = prepare_out_dir(out_dir, [*OUTPUT_FILES, *extra], overwrite=overwrite)
    log.info("writing outputs into %s", os.fspath(out_dir))
    layers = plan_layers(plan)
    t0 = time.perf_counter()
    html = to_html(_plan_map(plan, layers, title=title))
    log.info(
        "map: %d blocks, %d zones, %d schools; %.1f MB of HTML in %.2f s",
        len(plan.blocks),
        len(plan.zones),
        len(plan.schools),
        len(html.encode("utf-8")) / 2**20,
        time.perf_counter() - t0,
    )
    writers = {
        "plan.gpkg": gpkg_writer(layers),
        "plan.csv": csv_writer(plan_table(plan)),
        "summary.json": text_writer(json_text(summary(plan))),
        "map.html": text_writer(html),
        **extra,
    }
    return write_files(out, writers, overwrite=overwrite)  # all of them, or the previous ones untouched
