"""Attendance zones end to end: canonical frames → metric CRS → block graph → solve → checked Plan.

``assign_zones`` is the library's main entry point for 划片.  It takes blocks and schools as GeoDataFrames
with the canonical columns (what ``zoning.read_blocks`` / ``zoning.read_schools`` return, or a frame the
user built) in any CRS, and returns an immutable, independently checked :class:`~zoning.plan.Plan`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..check.verify import check_plan
from ..errors import InfeasibleError, InputError, Issue, flag_issue, kind_of, name_list, number_issue
from ..geo.graph import build_block_graph, school_anchors, study_area_in
from ..geo.roads import build_road_network
from ..io.crs import to_metric
from ..io.validate import STUDY_AREA_MARGIN_M
from ..io.validate.numbers import bad_numbers, duplicate_ids
from ..io.validate.pair import nearest_blocks_m
from ..options import SolveOptions, options_issue
from ..plan import Plan, SolveInfo
from .bound import cheapest_choice
from .diagnose import beyond_reach
from .model import objective
from .problem import DEFAULT_CANDIDATES, DEFAULT_MOVE_PENALTY_M, build_zone_problem
from .search import solve_zones

__all__ = ["assign_zones", "evaluate_zones"]

#: ``SolveInfo.plan_source`` of a plan measured by :func:`evaluate_zones`.
GIVEN_SOURCE = "given assignment (evaluated, not solved)"

#: Seconds per block kept from the time limit for what follows the search (plan tables, dissolve, checker).
POST_SOLVE_S_PER_BLOCK = 3e-5

log = logging.getLogger(__name__)

_BLOCK_COLUMNS = ("block_id", "students")
_SCHOOL_COLUMNS = ("school_id", "capacity")


def _require(frame: gpd.GeoDataFrame, columns: tuple[str, ...], what: str) -> None:
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError([Issue(f"the {what} are {kind_of(frame)}, not a GeoDataFrame",
                                f"read them with zoning.read_{what}(path), or build a geopandas.GeoDataFrame")])  # fmt: skip
    missing = [c for c in columns if c not in frame.columns]
    issues = [
        Issue(
            message=f"{what} have no column {c!r} (columns: {', '.join(map(str, frame.columns))})",
            fix=f"rename the column to {c!r}, or read the file with zoning.read_{what}(…, columns={{{c!r}: 'yours'}})",
            column=c,
        )
        for c in missing
    ]
    if frame.crs is None:
        issues.append(
            Issue(message=f"{what} have no coordinate reference system", fix="set one with .set_crs(…)")
        )
    if issues:
        raise InputError(issues)


def assign_zones(
    blocks: gpd.GeoDataFrame,
    schools: gpd.GeoDataFrame,
    *,
    max_distance_m: float | None = None,
    move_penalty_m: float = DEFAULT_MOVE_PENALTY_M,
    max_moved: float | None = None,
    allow_overload: bool = False,
    contiguity: bool = True,
    candidates: int = DEFAULT_CANDIDATES,
    study_area: shapely.Geometry | gpd.GeoSeries | gpd.GeoDataFrame | None = None,
    options: SolveOptions = SolveOptions(),
    warnings: tuple[Issue, ...] = (),
    roads: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
) -> Plan:
    """Draw attendance zones: every block to one school, within seats, zones in one piece, trips short.

    blocks: block_id, students, optional name / current_school; polygons, or points (小区 locations, whose
        adjacency then comes from Voronoi cells clipped to ``study_area`` or the buffered convex hull).
    schools: school_id, capacity, optional name; points.
    max_distance_m: no child is sent further than this (straight line), except from the school's own block.
    move_penalty_m: cost of moving one child away from its current school, in metres of travel
        (default 500 m; 0 ignores current zones).  max_moved caps the children moved.
    allow_overload: let schools take more children than seats, at a high price per child, and report it.
    contiguity: every zone one piece holding its school's block (default on).
    candidates: nearest schools considered per block (grown automatically where seats require).
    study_area: a polygon in the blocks' CRS, or a GeoSeries / GeoDataFrame in its own (reprojected); it
        must hold every point block (it is not used for polygons).
    roads: road lines (LineStrings / MultiLineStrings, any CRS, e.g. from ``zoning.read_roads``): distances
        are then by road (walking / driving on the network), and ``max_distance_m`` is a road distance.
        Roads that cross without a shared vertex are not connected (bridges; barriers such as rivers,
        rail lines and expressways are kept by drawing no road across them).  Blocks from which no road
        leads to any school raise InfeasibleError naming them.
    """
    started = time.perf_counter()
    _check_rules(
        move_penalty_m, options, roads,
        number_issue("max_distance_m", max_distance_m, low=0, low_open=True, fix="give metres, e.g. "
                     "max_distance_m=2500, or leave it out for no limit.") if max_distance_m is not None else None,
        number_issue("max_moved", max_moved, low=0, fix="give a number of children, e.g. max_moved=200, or leave it "
                     "out for no cap.") if max_moved is not None else None,
        number_issue("candidates", candidates, low=1, whole=True,
                     fix=f"give the nearest schools considered per block, e.g. candidates={DEFAULT_CANDIDATES}."),
        flag_issue("allow_overload", allow_overload),
        flag_issue("contiguity", contiguity),
    )  # fmt: skip
    blocks_m, schools_m, crs, graph, anchors, roads_m, warnings = _prepare(
        blocks, schools, study_area=study_area, roads=roads, warnings=warnings
    )
    for j in np.flatnonzero(anchors < 0):
        warnings.append(
            Issue(
                message=f"school {schools_m['name'][j]} stands outside every block: its zone must be one piece "
                "but is not tied to the school's own block",
                fix="check the school's coordinates (and --coords) if it should stand inside the area",
                severity="warning",
            )
        )
    _check_locks(blocks_m, schools_m, anchors if contiguity else None, max_distance_m)
    gone = _current_school_gone(blocks_m, schools_m)
    forced = float(blocks_m.loc[gone, "students"].sum())
    if max_moved is not None and gone.any():
        if forced > max_moved + 1e-9:
            raise _forced_over_cap(blocks_m, gone, forced, max_moved)
        max_moved = max_moved - forced  # the children of schools no longer in the plan move whatever it does
    problem = build_zone_problem(
        blocks_m,
        schools_m,
        graph,
        k=candidates,
        max_distance_m=max_distance_m,
        move_penalty_m=move_penalty_m,
        max_moved=max_moved,
        allow_overload=allow_overload,
        contiguity=contiguity,
        anchors=anchors,
        roads=roads_m,
    )
    if problem.locked is not None and len(far := _no_road(problem, problem.locked)):
        warnings.append(_note(f"{len(far)} block(s) are locked to a school no road joins them to",
                              problem.block_labels[far], "they are kept there, their trips counted as the "
                              "straight line", "check the road network there (a missing bridge or a gap "
                              "between lines), or lock them to a school they reach", "locked_school"))  # fmt: skip
    for j in np.flatnonzero((anchors >= 0) & (problem.anchor < 0)):
        own = int(anchors[j])
        if problem.students[own] > problem.capacity[j]:
            kids, seats = problem.students[own] / problem.scale, problem.capacity[j] / problem.scale
            warnings.append(
                Issue(
                    message=f"school {schools_m['name'][j]} stands in block {problem.block_labels[own]}, which "
                    f"holds {kids:,.0f} children, more than its {seats:,.0f} seats: the block may go to another "
                    "school, and the school's zone is one piece that need not hold its own block",
                    fix="check the school's seats and the block's children, or allow overload (--allow-overload)",
                    severity="warning",
                )
            )
            continue
        warnings.append(
            Issue(
                message=f"school {schools_m['name'][j]} stands in the same block as a larger school, which keeps "
                "that block; its own zone is one piece elsewhere",
                fix="split the block if both schools should serve it",
                severity="warning",
            )
        )
    # the time limit counts from the call: what the block graph and the candidates took is not given again,
    # and the plan's tables and the checker that follow the search get their share (measured: ~1 s at
    # 50,000 blocks, ~6 s at 200,000)
    spent = time.perf_counter() - started
    after = POST_SOLVE_S_PER_BLOCK * problem.n_blocks + 0.6
    limit = max(min(1.0, options.time_limit_s), options.time_limit_s - spent - after)
    solution = solve_zones(problem, replace(options, time_limit_s=limit))
    p = solution.problem
    warnings += beyond_reach(p, solution.assign)  # blocks of no children beyond the distance
    info = _solved_info(solution, options, str(crs.to_string()), _forced_cost(p, blocks_m, gone))
    plan = _make_plan(blocks_m, schools_m, graph.cells, p, solution.assign, info, warnings, gone)
    check_plan(plan)
    return plan


def evaluate_zones(
    blocks: gpd.GeoDataFrame,
    schools: gpd.GeoDataFrame,
    assignment: pd.Series | str,
    *,
    move_penalty_m: float = DEFAULT_MOVE_PENALTY_M,
    options: SolveOptions = SolveOptions(),
    warnings: tuple[Issue, ...] = (),
    roads: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
) -> Plan:
    """A given assignment as a plan: a hand-drawn option, the official redraw, last year's zones — with every
    figure of a plan (children over seats, moved, trips, zones in pieces) so it can stand beside zoning's
    plans in ``zoning compare``.  Nothing is solved or refused: every block stays where it is given, the
    seats and the one-piece rule are measured, not imposed (the plan's rules say overload allowed, one piece
    off), and the rules of zoning's plans it breaks are its findings (``check.metrics.findings``: schools
    over seats, zones in pieces, a school's own block in another zone).  Its status is "given": an
    objective (what it costs, as zoning's plans are costed), no lower bound and no gap.

    ``assignment``: the school of every block (id or name), a Series keyed by block_id or the name of a
    blocks column.  Blocks naming no school of the plan are an InputError listing them; blocks without a
    school go to the one that costs them least (the nearest, the move penalty counted; seats not weighed),
    with a warning.  ``roads``: trips by road, as in :func:`assign_zones` (a block no road joins to its given
    school travels the straight line, with a warning).  ``options``: only the seed is recorded."""
    started = time.perf_counter()
    _check_rules(move_penalty_m, options, roads)
    if isinstance(assignment, pd.Series) and assignment.index.equals(blocks.index):
        # a column of the blocks frame itself (b["zone"]): row by row, not keyed by block_id
        assignment = pd.Series(
            assignment.to_numpy(), index=blocks["block_id"].astype(str), name=assignment.name
        )
    elif isinstance(assignment, Mapping):
        assignment = pd.Series(assignment)
    elif not isinstance(assignment, str | pd.Series):
        raise InputError([Issue(f"the assignment is {kind_of(assignment)}",
                                "give a pandas Series keyed by block_id, a dict, or the name of a blocks column")])  # fmt: skip
    if isinstance(assignment, pd.Series):  # (a copy: the caller's Series keeps its index)
        assignment = assignment.set_axis(assignment.index.astype(str))
    blocks, schools = _frames(blocks, schools)
    # the column the messages name: the blocks column, or the Series' name (the file's column it was read from)
    column = assignment if isinstance(assignment, str) else assignment.name
    column = None if column is None else str(column)
    if isinstance(assignment, str):
        if assignment not in blocks.columns:
            raise InputError(
                [Issue("the blocks have no such column.", "name the column of schools.", column=assignment)]
            )
        given = blocks[assignment]
    else:
        given = blocks["block_id"].map(assignment)
        if given.isna().all() and len(assignment):
            raise InputError([Issue("the assignment's keys name none of the blocks (they should be block ids)",
                                    "key the Series by block_id, or pass the name of a blocks column")])  # fmt: skip
    by_name = dict(zip(schools["name"].astype(str), schools["school_id"].astype(str), strict=False))
    ids = set(schools["school_id"].astype(str))
    school = [None if pd.isna(v) else str(v) if str(v) in ids else by_name.get(str(v)) for v in given]
    lost = [
        f"{b} ({v!r})"
        for b, v, s in zip(blocks["block_id"], given, school, strict=True)
        if s is None and not pd.isna(v)
    ]
    if lost:
        raise InputError([Issue(f"{len(lost)} block(s) with no school of the plan: {', '.join(lost[:6])}"
                                + (f" and {len(lost) - 6} more" if len(lost) > 6 else "") + ".",
                                "give every block the id or name of one of the schools.", column=column)])  # fmt: skip
    warnings = list(warnings)
    blank = [b for b, v in zip(blocks["block_id"], given, strict=True) if pd.isna(v)]
    if blank:
        warnings.append(_note(f"{len(blank)} block(s) have no school in the given assignment", blank,
                              "they go to the school that costs them least (the nearest, the move penalty "
                              "counted; seats not weighed)", "give them a school to evaluate the assignment "
                              "exactly as drawn", column))  # fmt: skip
    blocks_m, schools_m, crs, graph, anchors, roads_m, warnings = _prepare(
        blocks, schools, study_area=None, roads=roads, warnings=warnings
    )
    gone = _current_school_gone(blocks_m, schools_m)
    # locked to its given school, a block keeps that one candidate (by road: at its road distance)
    problem = build_zone_problem(
        blocks_m.assign(locked_school=school),
        schools_m,
        graph,
        move_penalty_m=move_penalty_m,
        allow_overload=True,
        contiguity=False,
        anchors=anchors,
        roads=roads_m,
    )
    locked = problem.locked if problem.locked is not None else np.full(problem.n_blocks, -1, dtype=np.int64)
    far = _no_road(problem, locked)
    if len(far):
        warnings.append(_note(f"{len(far)} block(s) are joined to their given school by no road",
                              problem.block_labels[far], "their trips count as the straight line",
                              "check the road network there (a missing bridge or a gap between lines)",
                              column))  # fmt: skip
    p = replace(problem, locked=None)  # measured as given: nothing is locked for a later solve
    assign = np.where(locked >= 0, locked, cheapest_choice(p, np.ones(len(p.arc_block), dtype=bool)))
    cost = objective(p, assign) / p.scale + _forced_cost(p, blocks_m, gone)
    info = SolveInfo(
        status="given",
        objective=cost,
        lower_bound=None,
        gap=None,
        seconds=time.perf_counter() - started,
        seed=options.seed,
        bound_source="none (a given plan is measured, not solved)",
        lp_bound=None,
        lp_seconds=0.0,
        rounds=0,
        cuts=0,
        candidate_arcs=len(p.arc_block),
        plan_source=GIVEN_SOURCE,
        metric_crs=str(crs.to_string()),
    )
    plan = _make_plan(blocks_m, schools_m, graph.cells, p, assign, info, warnings, gone)
    check_plan(plan)  # the measured figures are what the assignment makes them
    return plan


def _check_rules(move_penalty_m, options, roads, *more: Issue | None) -> None:
    """The keyword arguments a caller can get wrong, all named at once (a negative price rewarded moving
    children, ``candidates=0`` was read as 8, ``contiguity="no"`` as True, ``max_moved=nan`` and
    ``move_penalty_m=inf`` failed deep in the problem builder, options or roads given as a number or a path
    as an AttributeError)."""
    issues = [
        number_issue("move_penalty_m", move_penalty_m, low=0, fix="give metres of travel one moved child is "
                     "worth, e.g. move_penalty_m=500 (0 ignores the current zones)."),
        *more,
    ]  # fmt: skip
    issues.append(options_issue(options))
    if roads is not None and not isinstance(roads, gpd.GeoDataFrame | gpd.GeoSeries):
        issues.append(Issue(f"roads is {kind_of(roads)}, not a GeoDataFrame of road lines",
                            "read the file first: roads=zoning.read_roads(path)"))  # fmt: skip
    issues = [i for i in issues if i is not None]
    if issues:
        raise InputError(issues)


def _note(what: str, blocks, then: str, fix: str, column: str | None) -> Issue:
    """A warning naming the first blocks concerned (logged, as the CLI shows warnings as they come)."""
    note = Issue(
        f"{what} ({name_list([str(b) for b in blocks])}): {then}", fix, column=column, severity="warning"
    )
    log.warning("%s", note)
    return note


def _no_road(p, locked: np.ndarray) -> np.ndarray:
    """The blocks locked to a school that no road joins them to (by road: their arc is the straight line,
    ``candidates.road_arcs``)."""
    has = np.flatnonzero(locked >= 0)
    has = has[p.anchor[locked[has]] != has]  # (a school's own block: the straight line inside it)
    if p.roads is None or not len(has):
        return has[:0]
    block_piece = p.roads.component_of(p.roads.snap(p.block_xy[has]))
    school_piece = p.roads.component_of(p.roads.snap(p.school_xy[locked[has]]))
    return has[block_piece != school_piece]


def _frames(blocks: gpd.GeoDataFrame, schools: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The frames checked for their columns, with a plain index and a name for every block and school."""
    _require(blocks, _BLOCK_COLUMNS, "blocks")
    _require(schools, _SCHOOL_COLUMNS, "schools")
    blocks = blocks.reset_index(drop=True)
    schools = schools.reset_index(drop=True)
    # ids as text, as the readers give them (a frame built by hand often has integers: 1 and "1" are one id)
    blocks = blocks.assign(block_id=blocks["block_id"].astype(str))
    schools = schools.assign(school_id=schools["school_id"].astype(str))
    if "current_school" in blocks:
        blocks = blocks.assign(
            current_school=blocks["current_school"].map(lambda v: None if pd.isna(v) else str(v))
        )
    if "name" not in blocks:
        blocks = blocks.assign(name=blocks["block_id"])
    if "name" not in schools:
        schools = schools.assign(name=schools["school_id"])
    issues = [
        *duplicate_ids(blocks, "blocks", "block_id"), *bad_numbers(blocks, "blocks", "block_id", "students"),
        *duplicate_ids(schools, "schools", "school_id"), *bad_numbers(schools, "schools", "school_id", "capacity"),
    ]  # fmt: skip
    if issues:
        raise InputError(issues)
    return blocks.assign(students=pd.to_numeric(blocks["students"])), schools.assign(
        capacity=pd.to_numeric(schools["capacity"])
    )


def _far_schools(blocks: gpd.GeoDataFrame, schools: gpd.GeoDataFrame) -> None:
    """A school further than ``STUDY_AREA_MARGIN_M`` from every block (lon and lat swapped in a frame, or
    another coordinate system) is refused in words, as the readers refuse it in a file (the same measure,
    ``io.validate.pair.nearest_blocks_m``)."""
    dist, _ = nearest_blocks_m(blocks, schools)
    far = np.flatnonzero(dist > STUDY_AREA_MARGIN_M)
    if len(far):
        said = [f"{schools['name'].iloc[j]} ({dist[j] / 1000:,.1f} km)" for j in far]
        raise InputError([Issue(f"{len(far)} school(s) stand far from every block: {name_list(said)}",
                                "check the coordinates (longitude and latitude swapped?) and the frames' CRS")])  # fmt: skip


def _prepare(blocks, schools, *, study_area, roads, warnings):
    """What solving and measuring share: the frames checked and in a metric CRS, the roads built, the block
    graph and the block each school stands in (-1: none), with the warnings found on the way."""
    blocks, schools = _frames(blocks, schools)
    warnings = list(warnings)
    lone = np.flatnonzero(
        shapely.is_missing(blocks.geometry.values) | shapely.is_empty(blocks.geometry.values)
    )
    if len(lone):
        raise InputError([Issue(f"{len(lone)} block(s) have no geometry: {name_list(blocks['block_id'].iloc[lone].tolist())}",
                                "give every block its outline or point, or leave it out")])  # fmt: skip
    kinds = shapely.get_type_id(schools.geometry.values)
    if (kinds != 0).any():  # outlines or several points: the school stands at its representative point
        schools = schools.assign(geometry=schools.geometry.representative_point())
        warnings.append(Issue(f"{int((kinds != 0).sum())} school(s) are given as shapes, not points: each stands "
                              "at a point inside its shape", "give schools as points", severity="warning"))  # fmt: skip
    if "current_school" in blocks:
        # the readers refuse a current school naming no school; a frame built by hand, or a scenario's
        # closed school, is measured: its children count as moved, and the warning says so
        known = set(schools["school_id"]) | set(schools["name"].astype(str))
        cur = blocks["current_school"]
        unknown = sorted({v for v in cur.dropna() if v not in known})
        if unknown:
            n = int(cur.isin(unknown).sum())
            warnings.append(Issue(f"{n} block(s) name a current school that is not among the schools "
                                  f"({name_list(unknown)}): their children count as moved",
                                  "check the spelling, unless the school is closed", column="current_school",
                                  severity="warning"))  # fmt: skip

    _far_schools(blocks, schools)
    blocks_m, crs = to_metric(blocks)
    schools_m = schools.to_crs(crs)
    study_area, area_warnings = study_area_in(study_area, blocks, blocks_m, list(blocks["block_id"]))
    warnings += area_warnings
    roads_m = None
    if roads is not None:
        if roads.crs is None:
            raise InputError(
                [Issue(message="roads have no coordinate reference system", fix="set one with .set_crs(…)")]
            )
        roads_m = build_road_network(roads.to_crs(crs))  # built once: the links and the distances
    graph, graph_warnings = build_block_graph(blocks_m, study_area=study_area, roads=roads_m)
    warnings += graph_warnings
    anchors = school_anchors(graph.cells, schools_m.geometry)
    return blocks_m, schools_m, crs, graph, anchors, roads_m, warnings


def _check_locks(blocks: pd.DataFrame, schools: pd.DataFrame, anchors, max_distance_m) -> None:
    """Blocks locked to a school (``locked_school``): the school exists, no other school stands in the block
    (with one piece per zone it is that school's), and it lies within the maximum distance."""
    if "locked_school" not in blocks or not blocks["locked_school"].notna().any():
        return
    ids = schools["school_id"].astype(str).to_numpy()
    row_of = {sid: j for j, sid in enumerate(ids)}
    issues = []
    for i in np.flatnonzero(blocks["locked_school"].notna().to_numpy()):
        sid, bid = str(blocks["locked_school"].iloc[i]), blocks["block_id"].iloc[i]
        j = row_of.get(sid)
        if j is None:
            issues.append(Issue(f"block {bid} is locked to {sid}, which is not a school of the plan.",
                                "lock it to one of the schools, or leave the lock out.", column="locked_school"))  # fmt: skip
            continue
        if anchors is not None:
            others = np.flatnonzero((np.asarray(anchors) == i) & (np.arange(len(ids)) != j))
            if len(others):
                issues.append(Issue(f"block {bid} is locked to {sid}, but {schools['name'].iloc[others[0]]} stands "
                                    "in it (its zone holds its own block).", "lock another block, or turn off --contiguity.",
                                    column="locked_school"))  # fmt: skip
                continue
        if max_distance_m is not None:
            d = float(blocks.geometry.iloc[i].representative_point().distance(schools.geometry.iloc[j]))
            if d > max_distance_m:
                issues.append(Issue(f"block {bid} is locked to {sid}, {d:,.0f} m away, beyond the maximum distance "
                                    f"of {max_distance_m:,.0f} m.", "raise --max-distance or leave the lock out.",
                                    column="locked_school"))  # fmt: skip
    if issues:
        raise InputError(issues)


def _current_school_gone(blocks: pd.DataFrame, schools: pd.DataFrame) -> np.ndarray:
    """(N,) blocks whose current school is given but not among the schools (closed or merged away: a
    scenario): they move whatever the plan does, so they count as moved."""
    if "current_school" not in blocks:
        return np.zeros(len(blocks), dtype=bool)
    known = set(schools["school_id"].astype(str)) | set(schools["name"].astype(str))
    current = blocks["current_school"]
    return (current.notna() & ~current.astype(str).isin(known)).to_numpy()


def _forced_over_cap(
    blocks: pd.DataFrame, gone: np.ndarray, forced: float, max_moved: float
) -> InfeasibleError:
    by_school = blocks.loc[gone].groupby(blocks.loc[gone, "current_school"].astype(str))["students"].sum()
    schools = "、".join(
        f"{sid} ({kids:,.0f})" for sid, kids in by_school.sort_values(ascending=False).items()
    )
    return InfeasibleError(
        [
            f"the {forced:,.0f} children of schools no longer in the plan must all move ({schools}), more than "
            f"the cap of {max_moved:,.0f} children moved"
        ],
        [f"raise --max-moved to at least {np.ceil(forced):,.0f}", "keep those schools open"],
        rule="max_moved",
    )


def _current_distance(p) -> np.ndarray:
    """(N,) metres from each block to its current school, measured as the plan's distances are (straight
    line, or by road: the candidate arc's road distance, else one computed for the pair; the straight line
    in the school's own block); NaN with no current school, or by road when no road joins the two."""
    out = np.full(p.n_blocks, np.nan)
    has = np.flatnonzero(p.current >= 0)
    straight = np.hypot(*(p.block_xy[has] - p.school_xy[p.current[has]]).T)
    if p.roads is None:
        out[has] = straight
        return out
    arc = p.arc_index(has, p.current[has])
    dist = np.full(len(has), np.inf)
    dist[arc >= 0] = p.arc_dist_m[arc[arc >= 0]]
    miss = arc < 0  # not a candidate (beyond the nearest, or the maximum distance): by road all the same
    if miss.any():
        dist[miss] = np.rint(p.roads.distances(p.block_xy, p.school_xy, has[miss], p.current[has[miss]]))
    own = p.anchor[p.current[has]] == has
    dist[own & ~np.isfinite(dist)] = straight[own & ~np.isfinite(dist)]
    out[has] = np.where(np.isfinite(dist), dist, np.nan)
    return out


def _solved_info(solution, options: SolveOptions, crs_name: str, forced: float) -> SolveInfo:
    """The proof of a solve in child-metres; ``forced``: what every plan pays for the blocks whose school is
    no longer in the plan (a constant the search leaves out)."""
    scale = solution.problem.scale
    cost, bound = solution.objective / scale + forced, solution.bound / scale + forced
    return SolveInfo(
        status=solution.status,
        objective=cost,
        lower_bound=bound,
        gap=0.0 if cost <= 0 else max(0.0, (cost - bound) / cost),
        seconds=solution.seconds,
        seed=options.seed,
        bound_source=solution.bound_source,
        lp_bound=solution.lp_value / scale + forced,
        lp_seconds=solution.lp_seconds,
        rounds=solution.rounds,
        cuts=solution.cuts,
        candidate_arcs=len(solution.problem.arc_block),
        plan_source=solution.source,
        metric_crs=crs_name,
        stopped=options.stopped,
    )


def _forced_cost(p, blocks_m: pd.DataFrame, gone: np.ndarray) -> float:
    """Child-metres every plan pays for the blocks whose school is no longer in the plan: their move penalty."""
    return p.move_penalty_m * float(blocks_m.loc[gone, "students"].sum())


def _make_plan(blocks_m, schools_m, cells, p, assign, info: SolveInfo, warnings, gone) -> Plan:
    school_ids = p.school_ids[assign]
    if p.roads is None:
        dist = np.hypot(*(p.block_xy - p.school_xy[assign]).T)
    else:  # the road distance the model used (rounded metres)
        dist = p.arc_dist_m[p.arc_index(np.arange(p.n_blocks), assign)].astype(float)
    moved = p.moved(assign) | gone
    blocks_out = blocks_m.assign(
        school_id=school_ids,
        school_name=p.school_names[assign],
        distance_m=np.round(dist, 1),
        current_distance_m=np.round(_current_distance(p), 1),
        moved=moved,
    )
    students = blocks_m["students"].to_numpy(dtype=float)
    load = np.bincount(assign, weights=students, minlength=p.n_schools)
    cap = schools_m["capacity"].to_numpy(dtype=float)
    schools_out = schools_m.assign(
        students=np.round(load, 3),
        utilisation=np.round(_share(load, cap), 4),  # no seats: no utilisation (NaN, null in JSON)
        overload=np.round(np.maximum(0.0, load - cap), 3),
    )
    zones = (
        gpd.GeoDataFrame(
            {"school_id": school_ids, "students": students}, geometry=cells.values, crs=blocks_m.crs
        )
        .dissolve(by="school_id", aggfunc="sum")
        .reset_index()
    )
    zones = zones.merge(schools_out[["school_id", "name", "capacity"]], on="school_id", how="left")
    zones["utilisation"] = np.round(
        _share(zones["students"].to_numpy(float), zones["capacity"].to_numpy(float)), 4
    )
    zones = zones[["school_id", "name", "students", "capacity", "utilisation", "geometry"]]
    scale = p.scale
    rules = {
        "max_distance_m": p.max_distance_m,
        "move_penalty_m": p.move_penalty_m,
        # the user's cap: the children of schools no longer in the plan were taken off it before the solve
        "max_moved": None
        if p.max_moved is None
        else p.max_moved / scale + float(blocks_m.loc[gone, "students"].sum()),
        "allow_overload": p.allow_overload,
        "overload_penalty_m": p.overload_penalty_m,
        "contiguity": p.contiguity,
        "candidates_per_block": p.k,
        "travel": p.travel,
    }
    assignment = pd.Series(school_ids, index=pd.Index(p.block_ids, name="block_id"), name="school_id")
    return Plan(
        assignment=assignment,
        blocks=blocks_out,
        schools=schools_out,
        zones=zones,
        info=info,
        problem=p,
        rules=rules,
        warnings=tuple(warnings),
    )


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """part / whole, NaN where whole is 0 (a school with no seats has no utilisation)."""
    out = np.full(len(part), np.nan)
    np.divide(part, whole, out=out, where=whole > 0)
    return out
