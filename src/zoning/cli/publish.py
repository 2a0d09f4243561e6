"""Commands that publish a plan already written: the 划片 announcement (``zoning announce DIR``), the printed
report for the bureau's meeting (``zoning report DIR``) and the consultation map drawn again with other options
(``zoning map DIR``)."""

from __future__ import annotations

import datetime
from pathlib import Path

import click

from ..errors import InputError, Issue
from ..io.inputs import read_block_column, read_plan_folder
from ..io.save import text_writer, write_files
from ..plan import district_kind_of, unit_words, units_of
from ..publish.announce import (
    ANNOUNCE_FILES,
    announcement,
    announcement_changes,
    match_groups,
    write_announcement,
)
from ..publish.export import folder_map
from ..publish.maps import LANGS, TILES_CRS, to_html
from ..publish.report import REPORT_FILES, write_report
from .group import main, say
from .options import planner_errors


def _groups(plan_dir, blocks, group_col, blocks_file, block_id_col, blocks_layer, encoding):
    """block_id → the --group-col of every block: from --blocks FILE, else from plan.gpkg's blocks layer."""
    if blocks_file is None:
        source = str(Path(plan_dir) / "plan.gpkg")
        fix = (
            "the plan keeps only the columns zoning uses: give the blocks file the plan was made from with "
            "--blocks FILE (and --block-id-col if zoning partition had one), or add the column to plan.gpkg."
        )
        groups = read_block_column(source, group_col, layer="blocks", fix=fix)
    else:
        source = str(blocks_file)
        groups = read_block_column(
            blocks_file, group_col, id_column=block_id_col, layer=blocks_layer, encoding=encoding
        )
    return (*match_groups(blocks, groups, source=source), source)


@main.command()
@click.argument("plan_dir", type=click.Path(file_okay=False))
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False), help="Folder for the files [default: PLAN_DIR]."
)
@click.option(
    "--title",
    default=None,
    help="The announcement's title [default: 义务教育学校招生范围（划片）, for a feeder plan 初中对口入学范围（直对入学）].",
)
@click.option(
    "--group-col",
    help="List each school's 小区 under this column of the blocks (社区 / street), read by block id from "
    "--blocks FILE, else from plan.gpkg's blocks layer.",
)
@click.option(
    "--blocks",
    "blocks_file",
    type=click.Path(dir_okay=False),
    help="The blocks file the plan was made from, to read --group-col from.",
)
@click.option("--block-id-col", help="Its block id column, when zoning partition was given one.")
@click.option(
    "--blocks-layer", help="Layer of a GeoPackage (or sheet of an Excel workbook) holding the blocks."
)
@click.option("--encoding", help="Text encoding of a CSV / Shapefile --blocks (detected when not given).")
@click.option("--overwrite", is_flag=True, help="Replace announce.* files that exist.")
@planner_errors
def announce(
    plan_dir, out_dir, title, group_col, blocks_file, block_id_col, blocks_layer, encoding, overwrite
):
    """Write the 划片 announcement of the plan in PLAN_DIR: every school with its 学区 and seats, and its zone
    as the list of 小区, then what changes against the current assignment (announce.md, announce.docx,
    announce.csv, announce_changes.csv)."""
    if group_col is None and (blocks_file or block_id_col or blocks_layer):
        raise click.UsageError("--blocks, --block-id-col and --blocks-layer go with --group-col NAME.")
    layers, summary = read_plan_folder(plan_dir)
    units = units_of(summary.get("rules"))
    if "blocks" not in layers:
        raise InputError(
            [
                Issue(
                    "holds districts drawn on schools alone: there are no 小区 / blocks to announce.",
                    "draw attendance zones with zoning partition (with --districts K for 学区 too).",
                    file=str(Path(plan_dir) / "plan.gpkg"),
                )
            ]
        )
    blocks, schools = layers["blocks"], layers["schools"]
    groups = None
    if group_col is not None:
        groups, ungrouped, source = _groups(
            plan_dir, blocks, group_col, blocks_file, block_id_col, blocks_layer, encoding
        )
    kind = district_kind_of((summary.get("districts") or {}).get("rules"))
    sections = announcement(blocks, schools, groups=groups, district_kind=kind)
    changes = announcement_changes(blocks, schools)
    files = write_announcement(
        sections, out_dir or plan_dir, changes=changes, title=title, overwrite=overwrite, units=units
    )
    listed = sum(sec.n_blocks for sec in sections)
    u_zh, _, us_en = unit_words(summary.get("rules"))
    say(
        f"Announcement: {len(sections)} schools, {listed} {u_zh} / {us_en}, each listed once under its school."
    )
    if groups is not None:
        line = f'Grouped by "{group_col}" from {source}'
        if ungrouped:
            shown = ", ".join(ungrouped[:5]) + (" …" if len(ungrouped) > 5 else "")
            line += f"; {len(ungrouped)} blocks have none there, listed under 其他 other ({shown})"
        say(line + ".")
    if changes is None:
        say("Changes: the plan has no current assignment (current_school) to compare with.")
    else:
        new = changes["from_school_id"].isna()  # 新划入: no current school
        say(
            f"Changes: {int((~new).sum())} {us_en} change school ({changes.loc[~new, 'children'].sum():,.0f} "
            f"children), {int(new.sum())} newly zoned."
        )
    say("Wrote: " + ", ".join(str(files[name]) for name in ANNOUNCE_FILES))


@main.command()
@click.argument("plan_dir", type=click.Path(file_okay=False))
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False), help="Folder for the files [default: PLAN_DIR]."
)
@click.option("--title", default=None, help="The report's title [default: from the plan].")
@click.option("--overwrite", is_flag=True, help="Replace report.html / report.pdf if they exist.")
@planner_errors
def report(plan_dir, out_dir, title, overwrite):
    """Write the printable report of the plan in PLAN_DIR for the bureau's meeting: its proof, totals,
    schools (and districts) before and after, the distance histogram and maps (report.html, report.pdf)."""
    layers, summary = read_plan_folder(plan_dir)
    files = write_report(layers, summary, out_dir or plan_dir, title=title, overwrite=overwrite)
    sizes = ", ".join(f"{files[n]} ({files[n].stat().st_size / 2**20:.1f} MB)" for n in REPORT_FILES)
    say(f"Wrote: {sizes}")


@main.command(name="map")
@click.argument("plan_dir", type=click.Path(file_okay=False))
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False), help="Folder for map.html [default: PLAN_DIR]."
)
@click.option("--title", default=None, help="The map's title [default: from the plan].")
@click.option(
    "--date",
    default=None,
    help="A line under the title, e.g. '征求意见稿 2026-12-05' [default: today's date; '' for none].",
)
@click.option(
    "--lang",
    type=click.Choice(LANGS),
    default="both",
    show_default=True,
    help="Labels in Chinese, English, or both side by side.",
)
@click.option(
    "--tiles",
    default=None,
    metavar="URL",
    help="A background map for users who are online, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png "
    "(with --attribution). Default: none, the page needs no network.",
)
@click.option(
    "--attribution", default=None, help="The tile provider's credit line (required with a tile URL)."
)
@click.option(
    "--tiles-crs",
    type=click.Choice(TILES_CRS),
    default="wgs84",
    show_default=True,
    help="The tiles' coordinates: gcj02 for 高德 AMap / 腾讯 Tencent (the zones are shifted to line up), "
    "wgs84 for OpenStreetMap / 天地图.",
)
@click.option("--overwrite", is_flag=True, help="Replace map.html if it exists.")
@planner_errors
def map_command(plan_dir, out_dir, title, date, lang, tiles, attribution, tiles_crs, overwrite):
    """Draw the consultation map of the plan in PLAN_DIR again with other options (map.html): zones, 小区 and
    schools, a search box for any 小区 or school, popups with the school now and proposed, the zones of today
    beside the proposed ones, and the blocks that change school."""
    layers, summary = read_plan_folder(plan_dir)
    units = units_of(summary.get("rules"))
    page = to_html(
        folder_map(
            layers,
            title=title,
            units=units,
            district_kind=district_kind_of((summary.get("districts") or {}).get("rules")),
            date=datetime.date.today().isoformat() if date is None else date or None,
            lang=lang,
            tiles=tiles,
            attribution=attribution,
            tiles_crs=tiles_crs,
        )
    )
    files = write_files(out_dir or plan_dir, {"map.html": text_writer(page)}, overwrite=overwrite)
    n_blocks = len(layers.get("blocks", ()))
    u_zh, _, us_en = unit_words(summary.get("rules"))
    say(
        f"Map: {len(layers['schools'])} schools, {n_blocks} {u_zh} / {us_en}, labels {lang}"
        + (f", tiles in {tiles_crs}" if tiles else ", no tiles (opens offline)")
        + f"; {len(page.encode('utf-8')) / 2**20:.1f} MB."
    )
    say(f"Wrote: {files['map.html']}")
