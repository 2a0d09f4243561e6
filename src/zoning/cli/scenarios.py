"""Weighing changes before deciding: ``zoning scenario`` (a scenario file applied to a plan, zones drawn again),
``zoning compare`` (plans side by side in one table) and ``zoning frontier`` (alternatives that trade children
moved against trips) and ``zoning site`` (where to build new schools)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import click
import geopandas as gpd
import pandas as pd

from ..batch.run import cluster
from ..check.metrics import summary
from ..errors import InputError, Issue, NoPlanFoundError
from ..io.inputs import read_plan_folder, read_roads, read_sites
from ..io.save import csv_writer, json_text, prepare_out_dir, text_writer, write_files
from ..options import MAX_SEED, SolveOptions
from ..plan import district_kind_of, district_words, units_of
from ..publish.export import OUTPUT_FILES, plan_layers, write_plan
from ..publish.maps import BLOCK_COLUMNS, compare_map, to_html
from ..scenarios.changes import apply_scenario, read_scenario
from ..scenarios.compare import area_note, compare_markdown, compare_table
from ..scenarios.frontier import (
    DEFAULT_PENALTIES_M,
    frontier,
    frontier_label,
    frontier_markdown,
    frontier_table,
)
from ..scenarios.sites import site_schools
from ..scenarios.siting import TIME_FIX
from ..zones.api import assign_zones
from ..zones.problem import DEFAULT_CANDIDATES, DEFAULT_MOVE_PENALTY_M
from .group import main, say
from .options import _coords, _load, ctrl_c_stops, input_options, planner_errors, road_options, solve_options
from .report import _report


def _base_inputs(plan_dir) -> tuple[object, object, dict]:
    """The blocks and schools of a zones plan folder, each block's school in the plan as its current one."""
    layers, summary = read_plan_folder(plan_dir)
    if "blocks" not in layers or "rules" not in summary:
        raise InputError(
            [
                Issue(
                    "holds school districts drawn on schools alone: a scenario re-draws attendance zones.",
                    "give the folder of a zoning partition plan.",
                    file=str(plan_dir),
                )
            ]
        )
    blocks = layers["blocks"]
    keep = [c for c in ("block_id", "name", "students") if c in blocks.columns]
    blocks = blocks[keep + ["geometry"]].assign(current_school=blocks["school_id"].to_numpy())
    schools = layers["schools"]
    drop = [c for c in ("students", "utilisation", "overload") if c in schools.columns]
    return blocks, schools.drop(columns=drop), summary


@main.command()
@click.argument("base_dir", type=click.Path(file_okay=False))
@click.argument("scenario_file", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True)
@click.option(
    "--allow-overload", is_flag=True, default=None, help="Let schools exceed their seats (minimised)."
)
@click.option(
    "--max-moved", type=click.FloatRange(min=0), help="At most this many children moved from the base plan."
)
@click.option(
    "--move-penalty", type=click.FloatRange(min=0), help="Metres a move costs [default: the base plan's]."
)
@click.option(
    "--contiguity/--no-contiguity", default=None, help="Every zone one piece [default: the base plan's rule]."
)
@road_options
@planner_errors
def scenario(base_dir, scenario_file, out_dir, overwrite, time_limit, workers, seed, allow_overload, max_moved,
             move_penalty, contiguity, roads, roads_layer, roads_coords):  # fmt: skip
    """Apply SCENARIO_FILE (close / merge / build / expand / shrink schools, new housing: a TOML file) to the
    zones plan in BASE_DIR and draw the zones again with the base plan's rules: children move from the base
    plan only where the change needs it.  Writes the plan files and scenario.md (the changes, then the base
    and the scenario side by side)."""
    spec = read_scenario(scenario_file, lenient=True)  # its problems of shape come with those of its names
    blocks, schools, base = _base_inputs(base_dir)
    rules = base["rules"]
    if rules.get("travel") == "road" and not roads:
        # by straight line the zones would be drawn for other trips than the base plan's: children moved for
        # nothing the scenario changes (a 100-seat expansion moved 352 of 7,239 children in a river city)
        raise InputError(
            [
                Issue(
                    "holds a plan drawn with trips measured by road: the scenario must measure them by road too.",
                    "give the road network the base plan was drawn on: --roads FILE.",
                    file=str(base_dir),
                )
            ]
        )
    network = read_roads(roads, coords=roads_coords or "wgs84", layer=roads_layer) if roads else None
    applied = apply_scenario(spec, blocks, schools)
    plan = assign_zones(
        applied.blocks,
        applied.schools,
        max_distance_m=rules.get("max_distance_m"),
        move_penalty_m=rules.get("move_penalty_m", 500) if move_penalty is None else move_penalty,
        max_moved=max_moved,
        allow_overload=bool(rules.get("allow_overload")) if allow_overload is None else allow_overload,
        contiguity=bool(rules.get("contiguity", True)) if contiguity is None else contiguity,
        candidates=int(rules.get("candidates_per_block", DEFAULT_CANDIDATES)),
        options=SolveOptions(time_limit_s=time_limit, workers=workers, seed=seed),
        roads=network,
    )
    if (dropped := _districts_not_redrawn(base, out_dir)) is not None:
        plan = replace(plan, warnings=(*plan.warnings, dropped))
    title = spec.title or Path(scenario_file).stem
    table = compare_table({"base " + Path(base_dir).name: base, title: summary(plan)})
    text = "\n".join(
        [f"# {title}", "", f"基于 base plan: `{base_dir}`; 情景 scenario: `{scenario_file}`", "",
         "## 变化 changes", "", *[f"- {note}" for note in applied.notes], "", "## 对比 comparison", "",
         compare_markdown(table),
         "调整 children moved: against each plan's current assignment; for the scenario, the base plan (the "
         "children of a closed school all move; those of a merged campus only where zoned to a third school).",
         *(["", f"注意 note: {dropped.message} Fix: {dropped.fix}"] if dropped is not None else [])]
    )  # fmt: skip
    files = write_plan(
        plan, out_dir, overwrite=overwrite, title=title, extra={"scenario.md": text_writer(text)}
    )
    say(f"Scenario: {title}")
    for note in applied.notes:
        say(f"- {note}")
    _report(plan, files)


def _districts_not_redrawn(base: dict, out_dir) -> Issue | None:
    """A warning when the base plan holds districts (partition --districts K): the scenario draws the zones
    again, not the districts (their options, leads and requirements are not all in the base plan's files),
    so the scenario's folder has none; the fix names the command that groups its schools."""
    districts = base.get("districts")
    if not districts:
        return None
    rules = districts.get("rules") or {}
    k = rules.get("n_districts") or (districts.get("after") or {}).get("districts")
    kind = district_kind_of(rules)
    groups = kind == "education groups"
    what = f"{k} {district_words(rules)[0]} {kind}"
    gpkg = Path(out_dir) / "plan.gpkg"
    return Issue(
        f"the base plan's {what} are not drawn again: a scenario draws the attendance zones only, so its plan "
        "has no districts (the seats and children of the base plan's districts change with the scenario).",
        f"group the scenario's schools with zoning districts {gpkg} --schools-layer schools --zones {gpkg} "
        f"--zones-layer zones --enrolment-col students --districts {k}{' --groups' if groups else ''}, with the "
        "district options the base plan was drawn with.",
        severity="warning",
    )


@main.command()
@click.argument("plan_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False), help="Write compare.csv and compare.md here."
)
@click.option("--overwrite", is_flag=True, help="Replace compare.csv / compare.md if they exist.")
@planner_errors
def compare(plan_dirs, out_dir, overwrite):
    """Plans side by side: seats short or over, children moved, mean and max distance, zones in pieces,
    districts, quality spread and coverage, proven gap — one row per plan folder; with --out also one map
    (compare.html) with every plan's zones as a layer to switch to."""
    summaries, drawn = {}, {}
    for folder in plan_dirs:
        name = Path(folder).name or str(folder)
        while name in summaries:
            name += "'"
        layers, summaries[name] = read_plan_folder(folder)
        blocks = layers.get("blocks")
        if blocks is None:  # districts drawn on schools alone
            blocks = gpd.GeoDataFrame({c: [] for c in BLOCK_COLUMNS}, geometry=[], crs=4326)
        drawn[name] = (blocks, layers["zones"], layers["schools"])
    table = compare_table(summaries)
    on_blocks = any(len(blocks) for blocks, _, _ in drawn.values())
    ids = {name: (set(blocks["block_id"]) if on_blocks else set(schools["school_id"]))
           for name, (blocks, _, schools) in drawn.items()}  # fmt: skip
    note = area_note(ids, "blocks" if on_blocks else "schools")
    text = compare_markdown(table, notes=(note,) if note else ())
    if not out_dir:
        click.echo(text, nl=False)  # the table is the command's output
    else:
        say(text, nl=False)
    if out_dir:
        units = {units_of(sm.get("rules")) for sm in summaries.values()}
        page = to_html(
            compare_map(drawn, title=" · ".join(drawn), units=units.pop() if len(units) == 1 else "blocks")
        )
        files = write_files(
            out_dir,
            {
                "compare.csv": csv_writer(pd.DataFrame(table)),
                "compare.md": text_writer(text),
                "compare.html": text_writer(page),
            },
            overwrite=overwrite,
        )
        say("Wrote: " + ", ".join(str(p) for p in files.values()))


@main.command(name="frontier")
@click.argument("blocks", type=click.Path(dir_okay=False))
@click.argument("schools", type=click.Path(dir_okay=False))
@input_options
@solve_options
@click.option(
    "--penalties",
    default=",".join(f"{x:g}" for x in DEFAULT_PENALTIES_M),
    show_default=True,
    help="Move penalties (metres a child moved is worth) along the frontier, from shortest trips to fewest moves.",
)
@click.option(
    "--caps",
    default="",
    help="Caps on children moved, e.g. 200,400: for each, the shortest trips moving at most that many.",
)
@click.option(
    "--soft-seats/--no-soft-seats",
    default=True,
    show_default=True,
    help="Where no plan within seats keeps to a cap, offer the one with the fewest children over seats.",
)
@click.option(
    "--parallel",
    type=click.IntRange(min=1),
    default=None,
    help="Solve the alternatives at once on a LocalCluster of N processes (Dask, pip install 'zoning[batch]').",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="tcp://HOST:PORT",
    help="Solve the alternatives on an existing Dask cluster (see zoning batch).",
)
@planner_errors
def frontier_command(blocks, schools, penalties, caps, soft_seats, parallel, scheduler, **kwargs):
    """Alternatives that trade children moved against trips: one plan per move penalty and per cap on
    children moved, each checked and with its proven gap, none beaten by another on children over seats,
    moved and mean trip; a plan folder per alternative (A = fewest moved), frontier.csv / frontier.md, and
    frontier.html: one map with each alternative's zones as a layer to switch to.
    BLOCKS need a current school (--current-school-col)."""
    out_dir, overwrite = kwargs.pop("out_dir"), kwargs.pop("overwrite")
    kwargs.pop("issues_file", None)
    values = _numbers(penalties, "--penalties", "metres, e.g. 0,500,2500")
    cap_values = _numbers(caps, "--caps", "numbers of children, e.g. 200,400")
    if kwargs.pop("max_moved") is not None:
        raise click.BadParameter("the frontier varies the cap itself: give --caps", param_hint="--max-moved")
    if kwargs.pop("move_penalty") != DEFAULT_MOVE_PENALTY_M:
        raise click.BadParameter(
            "the frontier varies the move penalty itself: give --penalties", param_hint="--move-penalty"
        )
    options = SolveOptions(time_limit_s=kwargs.pop("time_limit"), workers=kwargs.pop("workers"),
                           seed=kwargs.pop("seed"), relative_gap=kwargs.pop("gap"))  # fmt: skip
    rules = dict(max_distance_m=kwargs.pop("max_distance"),
                 allow_overload=kwargs.pop("allow_overload"), contiguity=kwargs.pop("contiguity"),
                 candidates=kwargs.pop("candidates"))  # fmt: skip
    runs = len(values) + len(cap_values)
    names = [
        *(frontier_label(k) for k in range(runs)),
        "frontier.csv",
        "frontier.md",
        "frontier.html",
    ]
    prepare_out_dir(out_dir, names, overwrite=overwrite)  # refuse early, before any work
    inputs = _load(blocks, schools, kwargs)
    args = dict(penalties_m=values, caps=cap_values, soft_seats=soft_seats, options=options,
                warnings=inputs.warnings, **rules)  # fmt: skip
    with ctrl_c_stops() as stop:  # Ctrl-C: the run in progress ends with its best plan, the rest are not run
        args["options"] = replace(options, stop=stop)
        if parallel or scheduler:  # the same engine as zoning batch
            with cluster(scheduler, parallel or 2) as client:
                points = frontier(inputs.blocks, inputs.schools, client=client, **args)
        else:
            points = frontier(inputs.blocks, inputs.schools, **args)
    for pt in points:
        title = f"方案 {pt.label} alternative {pt.label}: {pt.children_moved:,.0f} moved, mean {pt.mean_distance_m:,.0f} m"
        if pt.children_over > 0:
            title += f", {pt.children_over:,.0f} over seats"
        write_plan(pt.plan, Path(out_dir) / pt.label, overwrite=overwrite, title=title)
    table = frontier_table(points)
    text = frontier_markdown(table)
    if points.not_run:  # said in frontier.md too: the table is not the whole frontier asked for
        text += f"\n停止 stopped early (Ctrl-C): not run: {'; '.join(points.not_run)}.\n"
    drawn = {}  # one map, each alternative's zones a layer to switch to
    for pt in points:
        layers = plan_layers(pt.plan)
        drawn[f"{pt.label}: {pt.children_moved:,.0f} moved, {pt.mean_distance_m:,.0f} m"] = (
            layers["blocks"], layers["zones"], layers["schools"])  # fmt: skip
    page = to_html(compare_map(drawn, title="备选方案 alternatives")) if drawn else None
    outputs = {"frontier.csv": csv_writer(table), "frontier.md": text_writer(text)}
    if page is not None:
        outputs["frontier.html"] = text_writer(page)
    files = write_files(out_dir, outputs, overwrite=overwrite)
    say(text, nl=False)
    say(
        f"{len(points)} alternatives of {runs} runs (the others were beaten or equalled on every count, or "
        "left out as the warnings say)."
    )
    if points.not_run:
        say(
            f"Stopped early (Ctrl-C): {len(points.not_run)} of {runs} runs not run: {'; '.join(points.not_run)}."
        )
    say("Wrote: " + ", ".join([*(str(Path(out_dir) / pt.label) for pt in points), *map(str, files.values())]))


def _numbers(text: str, flag: str, what: str) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError as err:
        raise click.BadParameter(f"{text!r} is not a list of {what}", param_hint=flag) from err
    if any(v < 0 for v in values):
        raise click.BadParameter(f"{text!r}: give numbers of 0 or more", param_hint=flag)
    return values


@main.command(name="site")
@click.argument("blocks", type=click.Path(dir_okay=False))
@click.argument("schools", type=click.Path(dir_okay=False))
@click.argument("sites_file", metavar="CANDIDATES", type=click.Path(dir_okay=False))
@click.option("--new", "n_new", type=click.IntRange(min=1), required=True, help="New schools to open.")
@input_options
@click.option(
    "--sites-coords",
    callback=_coords,
    help="Coordinate system of the CANDIDATES file (default: --schools-coords, else --coords).",
)
@click.option(
    "--sites-layer", help="Layer of a GeoPackage (or sheet of an Excel workbook) holding the candidate sites."
)
@click.option(
    "--site-id-col", help="Candidates column holding the site id (default: site_id, 候选点编号, 地块编号, …)."
)
@click.option(
    "--site-name-col", help="Candidates column holding the name (default: site_name, 候选点名称, 名称, …)."
)
@click.option(
    "--site-capacity-col",
    help="Candidates column holding the seats (default: 规划学位, 学位数, capacity, …).",
)
@click.option(
    "--site-classes-col", help="Candidates column holding the entry classes (规划班数, 招生班数, …)."
)
@click.option("--site-lon-col", help="Candidates column holding the longitude.")
@click.option("--site-lat-col", help="Candidates column holding the latitude.")
@solve_options
@planner_errors
def site_command(blocks, schools, sites_file, n_new, **kwargs):
    """New-school siting (新建学校选址): open --new of the CANDIDATES (points with seats, read like SCHOOLS,
    with their own --site-*-col and --sites-coords)
    beside the existing SCHOOLS so that every block's children fit the seats with the fewest child-metres
    (the capacitated p-median, with its proven gap); then draw the zones with the new schools.  Writes the
    plan files, sites.csv (the chosen sites) and siting.json (the siting's proof: objective, bound, gap) into
    --out."""
    out_dir, overwrite = kwargs.pop("out_dir"), kwargs.pop("overwrite")
    kwargs.pop("issues_file", None)
    prepare_out_dir(out_dir, [*OUTPUT_FILES, "sites.csv", "siting.json"], overwrite=overwrite)  # refuse early
    options = SolveOptions(time_limit_s=kwargs.pop("time_limit"), workers=kwargs.pop("workers"),
                           seed=kwargs.pop("seed"), relative_gap=kwargs.pop("gap"))  # fmt: skip
    rules = dict(max_distance_m=kwargs.pop("max_distance"), move_penalty_m=kwargs.pop("move_penalty"),
                 max_moved=kwargs.pop("max_moved"), allow_overload=kwargs.pop("allow_overload"),
                 contiguity=kwargs.pop("contiguity"), candidates=kwargs.pop("candidates"))  # fmt: skip
    sites = _read_sites(sites_file, kwargs)
    inputs = _load(blocks, schools, kwargs)
    t0 = time.perf_counter()
    with ctrl_c_stops() as stop:  # Ctrl-C: the best siting plan so far, with its gap, and zones for it
        half = replace(options, stop=stop, time_limit_s=options.time_limit_s / 2)  # siting, then the zones
        try:
            chosen = site_schools(inputs.blocks, sites, new=n_new, schools=inputs.schools,
                                  max_distance_m=rules["max_distance_m"], options=half)  # fmt: skip
        except NoPlanFoundError as err:  # in the command's words: its flag (the library names its argument)
            fix = "--time-limit: the siting has half of it, the zones the other half"
            raise NoPlanFoundError(str(err).replace(TIME_FIX, fix)) from err
        r = chosen.result
        say(f"Sites: {n_new} of {len(sites)} candidates open: "
                   + ", ".join(f"{n} ({c:,.0f} seats)" for n, c in zip(chosen.chosen["name"], chosen.chosen["capacity"], strict=True)))  # fmt: skip
        how = "stopped early (Ctrl-C), the best siting plan so far" if r.stopped else r.status
        say(f"Siting model: {r.objective / 1000:,.1f} child-km, lower bound {r.lower_bound / 1000:,.1f}, "
                   f"gap {100 * r.gap:.2f} % ({how}, {r.seconds:.1f} s)")  # fmt: skip
        # the zones get what the siting left of the limit (half at least): a siting proven early gives it back
        rest = replace(
            half, time_limit_s=max(half.time_limit_s, options.time_limit_s - (time.perf_counter() - t0))
        )
        plan = assign_zones(inputs.blocks, chosen.schools, options=rest, warnings=inputs.warnings, **rules)
    table = chosen.chosen.to_crs(4326)
    table = pd.DataFrame(
        {
            "school_id": table["school_id"].to_numpy(),
            "name": table["name"].to_numpy(),
            "capacity": table["capacity"].to_numpy(),
            "lon": table.geometry.x.round(6).to_numpy(),
            "lat": table.geometry.y.round(6).to_numpy(),
            "children_in_zone": plan.schools.set_index("school_id")
            .loc[table["school_id"], "students"]
            .to_numpy(),
        }
    )
    # the siting's own proof beside the zones' (summary.json describes the zones drawn for the chosen sites)
    siting = {"candidates": len(sites), "opened": int(n_new), "status": "stopped" if r.stopped else r.status,
              "objective_child_m": r.objective, "lower_bound_child_m": r.lower_bound, "gap": r.gap,
              "bound_source": r.bound_source, "plan_source": r.source, "seconds": round(r.seconds, 2),
              "sites": table.to_dict(orient="records")}  # fmt: skip
    files = write_plan(plan, out_dir, overwrite=overwrite, title=f"新建 {n_new} 所学校 {n_new} new school(s)",
                       extra={"sites.csv": csv_writer(table), "siting.json": text_writer(json_text(siting))})  # fmt: skip
    _report(plan, files)


def _read_sites(path, kwargs: dict):
    """The CANDIDATES file, read with its own options (popped); its coordinates default to the schools'."""
    coords = kwargs.pop("sites_coords") or kwargs.get("schools_coords") or kwargs["coords"]
    columns = {canon: kwargs.pop(f"site_{key}_col") for canon, key in SITE_COLUMNS.items()}
    return read_sites(path, columns={k: v for k, v in columns.items() if v}, coords=coords,
                      class_size=kwargs.get("class_size"), layer=kwargs.pop("sites_layer"),
                      encoding=kwargs.get("encoding"))  # fmt: skip


#: canonical column → the word of its --site-*-col flag
SITE_COLUMNS = {"school_id": "id", "name": "name", "capacity": "capacity", "classes": "classes", "lon": "lon",
                "lat": "lat"}  # fmt: skip
