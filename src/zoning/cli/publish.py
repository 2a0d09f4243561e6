"""Commands that publish a plan already written: the 划片 announcement (``zoning announce DIR``)."""

from __future__ import annotations

import click

from ..io.inputs import read_plan_tables
from ..publish.announce import ANNOUNCE_FILES, announcement, write_announcement
from .group import main
from .options import planner_errors


@main.command()
@click.argument("plan_dir", type=click.Path(file_okay=False))
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False), help="Folder for the files [default: PLAN_DIR]."
)
@click.option(
    "--title", default=None, help="The announcement's title [default: 义务教育学校招生范围（划片）]."
)
@click.option("--overwrite", is_flag=True, help="Replace announce.* files that exist.")
@planner_errors
def announce(plan_dir, out_dir, title, overwrite):
    """Write the 划片 announcement of the plan in PLAN_DIR: every school with its 学区 and seats, and its zone
    as the list of 小区 (announce.md, announce.docx, announce.csv)."""
    blocks, schools = read_plan_tables(plan_dir)
    sections = announcement(blocks, schools)
    files = write_announcement(sections, out_dir or plan_dir, title=title, overwrite=overwrite)
    listed = sum(sec.n_blocks for sec in sections)
    click.echo(
        f"Announcement: {len(sections)} schools, {listed} 小区 / blocks, each listed once under its school."
    )
    click.echo("Wrote: " + ", ".join(str(files[name]) for name in ANNOUNCE_FILES))
