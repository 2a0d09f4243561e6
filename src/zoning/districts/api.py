"""School districts (学区) and education groups (教育集团) end to end: schools → districts → checked Plan.

``form_districts`` groups schools into K districts, each led by one high-quality school (the "1 + X"
model), balanced in schools, seats, children and mean quality, in one piece, compact.  It runs

* on an attendance-zone plan (``plan=assign_zones(...)``): children per school and adjacency come from the
  zones just drawn, and the districts are unions of those zones;
* on schools alone: children from the enrolment column (if any), adjacency from the schools' existing
  zones (``zones=``) or from Voronoi cells clipped to the study area.

``groups=True`` forms education groups instead: no one-piece rule, an optional distance limit between
the lead and its members, and mixing rules (each group holds a school of every kind in ``mix_column``).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..check.verify import check_plan
from ..errors import InfeasibleError, InputError, Issue, NoPlanFoundError, flag_issue, kind_of, name_list
from ..geo.graph import build_block_graph, study_area_in
from ..io.crs import to_metric
from ..io.validate.numbers import duplicate_ids
from ..io.validate.schools import stage_mask
from ..options import SolveOptions, options_issue
from ..plan import Plan, SolveInfo
from .coverage import CoverageCeiling, coverage_ceiling
from .problem import DistrictProblem, build_district_problem
from .schoolgraph import graph_from_plan, match_zones, school_graph_from_zones
from .search import DistrictSolution, solve_districts

__all__ = ["form_districts", "school_graph_from_zones", "tag_mask"]

log = logging.getLogger(__name__)

_TAG_SPLIT = re.compile(r"[;,，；、/|\s]+")


def tag_mask(values: pd.Series, wanted: str) -> np.ndarray:
    """Schools whose cell holds the tag ``wanted`` (cells may list several: "科技;艺术")."""
    wanted = str(wanted).strip().casefold()
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append(False)
            continue
        text = str(v).strip().casefold()
        out.append(text == wanted or wanted in {t for t in _TAG_SPLIT.split(text) if t})
    return np.array(out, dtype=bool)


def _requirements(
    schools: gpd.GeoDataFrame,
    require: Mapping[str, str],
    stages: Mapping[str, int],
    mix_column: str | None,
    warnings: list[Issue],
) -> list[tuple[str, np.ndarray, int]]:
    issues: list[Issue] = []
    out: list[tuple[str, np.ndarray, int]] = []
    for column, value in require.items():
        if column not in schools:
            issues.append(
                Issue(
                    f'the schools have no column "{column}" to require "{value}" from',
                    fix="name a column of the schools file (and keep it when reading: keep=[...], --require)",
                    column=column,
                )
            )
            continue
        mask = tag_mask(schools[column], value)
        out.append((f"a school with {column} = {value}", mask, 1))
    for stage, count in stages.items():
        if "stage" not in schools:
            issues.append(
                Issue("the schools have no stage column (学段)", fix="add one, or name it with --stage-col")
            )
            break
        mask = stage_mask(schools["stage"], stage)  # 初中 or junior_middle alike; 九年一贯制 counts too
        if not mask.any():
            found = sorted({str(v) for v in schools["stage"].dropna()})
            issues.append(Issue(f'no school has the stage "{stage}"',
                                f"use one of the stages of the schools: {', '.join(found) or '(none given)'}",
                                column="stage"))  # fmt: skip
            continue
        out.append((f"{stage} school(s)", mask, int(count)))
    if mix_column is not None:
        if mix_column not in schools:
            issues.append(
                Issue(
                    f'the schools have no column "{mix_column}" to mix by',
                    fix="name a column of the schools file",
                )
            )
        else:
            text = schools[mix_column].map(
                lambda v: None if pd.isna(v) or not str(v).strip() else str(v).strip()
            )
            blank = np.flatnonzero(text.isna().to_numpy())
            if len(blank):
                # a blank cell is no kind of its own (it was read as a kind "" every group had to hold)
                warnings.append(
                    Issue(
                        f'{len(blank)} school(s) have no "{mix_column}" (blank): '
                        f"{name_list(schools['name'].astype(str).to_numpy()[blank])}; they count as no kind",
                        fix=f'fill in "{mix_column}" for these schools',
                        column=mix_column,
                        severity="warning",
                    )
                )
            kinds = sorted(set(text.dropna()))
            if len(kinds) < 2:
                issues.append(
                    Issue(
                        f'the column "{mix_column}" holds only {kinds or "empty cells"}: nothing to mix',
                        fix="mix by a column with at least two kinds (e.g. 城区 / 乡村)",
                    )
                )
            for kind in kinds:
                mask = (text == kind).to_numpy()
                out.append((f"a {kind} school ({mix_column})", mask, 1))
    if issues:
        raise InputError(issues)
    return out


def _pairs(pairs, what: str) -> list:
    """Pairs of schools; one pair given flat (["A", "B"]) is read as one pair, not as the letters A and B."""
    pairs = list(pairs or ())
    if len(pairs) == 2 and all(isinstance(x, str) for x in pairs):
        pairs = [tuple(pairs)]
    if not all(not isinstance(x, str) and len(x) == 2 for x in pairs):
        raise InputError([Issue(f"{what} takes pairs of schools", f'e.g. {what}=[("实验小学", "第二小学")]')])
    return pairs


def _check_call(schools, n_districts, plan: Plan | None, options, flags: dict) -> None:
    """The arguments a planner can get wrong in Python, in words (they were raw errors or silently read:
    ``groups="no"`` as True, ``options=30`` an AttributeError)."""
    issues = [flag_issue(name, v) for name, v in flags.items() if v is not None]
    issues.append(options_issue(options))
    if not isinstance(schools, gpd.GeoDataFrame):
        issues.append(Issue(f"the schools are {kind_of(schools)}, not a GeoDataFrame",
                            "read them with zoning.read_schools(path)"))  # fmt: skip
    elif "school_id" in schools:
        issues += duplicate_ids(schools, "schools", "school_id")
    if isinstance(n_districts, bool) or not isinstance(n_districts, int | np.integer):
        issues.append(Issue(f"n_districts = {n_districts!r} is not a whole number", "e.g. n_districts=12"))
    if plan is not None and isinstance(schools, gpd.GeoDataFrame) and "school_id" in schools:
        ours, theirs = set(schools["school_id"].astype(str)), set(plan.schools["school_id"].astype(str))
        if ours != theirs:
            issues.append(Issue(f"the schools ({len(ours)}) are not the plan's ({len(theirs)}): the districts are "
                                "drawn on the plan's zones, so its schools are grouped",
                                "pass the plan's schools (plan.schools), or draw the zones again without the "
                                "others"))  # fmt: skip
    issues = [i for i in issues if i is not None]
    if issues:
        raise InputError(issues)


def form_districts(
    schools: gpd.GeoDataFrame,
    *,
    n_districts: int,
    plan: Plan | None = None,
    zones: gpd.GeoDataFrame | None = None,
    zones_school_column: str | None = None,
    study_area: shapely.Geometry | gpd.GeoSeries | gpd.GeoDataFrame | None = None,
    groups: bool = False,
    contiguity: bool | None = None,
    max_lead_distance_m: float | None = None,
    mix_column: str | None = None,
    leads: Sequence[str] | None = None,
    pinned_leads: Sequence[str] = (),
    lead_min_quality: float | None = None,
    min_members: int | None = None,
    max_members: int | None = None,
    seats_tolerance: float = 0.15,
    children_tolerance: float = 0.15,
    quality_tolerance: float | None = 0.15,
    together: Sequence[tuple[str, str]] = (),
    apart: Sequence[tuple[str, str]] = (),
    require: Mapping[str, str] | None = None,
    stages: Mapping[str, int] | None = None,
    min_coverage: float | None = None,
    options: SolveOptions = SolveOptions(),
    warnings: tuple[Issue, ...] = (),
) -> Plan:
    """Group schools into ``n_districts`` districts (学区) or education groups (``groups=True``).

    schools: school_id, name, capacity (may be NaN), quality (score, tier or 0/1 flag; may be NaN),
        stage, enrolment (children, optional), district (the existing grouping, for before/after), any
        tag columns named in ``require`` / ``mix_column``; points in any CRS.  With ``plan`` (attendance
        zones drawn first) the plan's schools are used and ``schools`` may be the same frame.
    zones: the schools' existing zones (polygons); ``zones_school_column`` names the column holding the
        school id or name (default: school_id, else the column matching most schools).
    Lead candidates are the high-quality schools (``lead_min_quality``; default: the 重点 flag, the top
        tier or the top quarter of a score) or the schools named in ``leads``; ``pinned_leads`` must lead.
    min_members / max_members: X of "1 + X" (member schools besides the lead).
    Tolerances: seats and children as fractions of the average district; quality as a fraction of the
        quality range (so 0.15 means the same for a flag, tiers or a pass rate).
    require: {column: tag} — every district holds a school with that tag (thematic districts);
        stages: {stage: count} — every district holds that many schools of the stage (学区一体化).
    min_coverage: the share of children in districts holding a high-quality school (e.g. 0.85).
    Returns a new Plan (``plan`` with districts added, or a districts-only plan), independently checked.
    """
    together, apart = _pairs(together, "together"), _pairs(apart, "apart")
    _check_call(schools, n_districts, plan, options, {"groups": groups, "contiguity": contiguity})
    warnings = list(warnings) + (list(plan.warnings) if plan is not None else [])
    if study_area is not None and (plan is not None or zones is not None):  # it cuts the cells of points only
        source = "the plan's zones" if plan is not None else "the zones given"
        warnings.append(Issue(f"study_area is left unused: the schools' adjacency comes from {source}",
                              "leave study_area out", severity="warning"))  # fmt: skip
    if contiguity is None:
        contiguity = not groups
    if plan is not None:
        schools_m = plan.schools
        extra = [c for c in schools.columns if c not in schools_m.columns and c != "geometry"]
        if extra and len(schools) == len(schools_m):
            joined = schools.set_index(schools["school_id"].astype(str))[extra]
            schools_m = schools_m.join(joined, on=schools_m["school_id"].astype(str))
        edges, children, island_warnings, links = graph_from_plan(plan)
        warnings += island_warnings
        cells = (
            plan.zones.set_index("school_id").reindex(schools_m["school_id"]).geometry.reset_index(drop=True)
        )
        crs = schools_m.crs
    else:
        if "school_id" not in schools or schools.crs is None:
            raise InputError(
                [
                    Issue(
                        "the schools need a school_id column and a coordinate reference system",
                        fix="read them with zoning.read_schools",
                    )
                ]
            )
        schools = schools.reset_index(drop=True)
        if "name" not in schools:
            schools = schools.assign(name=schools["school_id"].astype(str))
        schools_m, crs = to_metric(schools)
        if zones is not None:
            zones_m = zones.to_crs(crs)
            edges, cells, zone_warnings, links = school_graph_from_zones(
                schools_m, zones_m, match_zones(schools_m, zones_m, zones_school_column, warnings)
            )
            warnings += zone_warnings
        else:
            frame = gpd.GeoDataFrame(
                {"block_id": schools_m["school_id"].astype(str), "name": schools_m["name"]},
                geometry=schools_m.geometry.values,
                crs=crs,
            )
            area, area_warnings = study_area_in(
                study_area, schools, frame, list(frame["name"].astype(str)), what="schools"
            )
            warnings += area_warnings
            graph, graph_warnings = build_block_graph(frame, study_area=area, what="school")
            edges, cells, links = graph.edges, graph.cells.reset_index(drop=True), list(graph.links)
            warnings += graph_warnings
        enrol = schools_m["enrolment"].to_numpy(dtype=float) if "enrolment" in schools_m else None
        children = enrol if enrol is not None and np.isfinite(enrol).all() else None
        if enrol is not None and np.isfinite(enrol).any() and children is None:
            missing = schools_m["name"].astype(str).to_numpy()[~np.isfinite(enrol)]
            warnings.append(
                Issue(
                    f"{len(missing)} school(s) have no enrolment ({', '.join(missing[:5])}…): children are not "
                    "balanced and the plan keeps seats close to the leads instead",
                    fix="fill in the enrolment of every school to balance children",
                    severity="warning",
                )
            )
    requirements = _requirements(schools_m, require or {}, stages or {}, mix_column, warnings)
    problem = build_district_problem(
        schools_m,
        edges,
        n_districts=n_districts,
        children=children,
        lead_candidates=leads,
        pinned_leads=pinned_leads,
        lead_min_quality=lead_min_quality,
        min_members=min_members,
        max_members=max_members,
        seats_tolerance=seats_tolerance,
        children_tolerance=children_tolerance,
        quality_tolerance=quality_tolerance,
        together=together,
        apart=apart,
        requirements=requirements,
        min_coverage=min_coverage,
        contiguity=contiguity,
        max_lead_distance_m=max_lead_distance_m,
    )
    if problem.missing_data:
        warnings.append(
            Issue(problem.balance_note, fix="add the missing columns to balance them too", severity="warning")
        )
    ceiling, options = _coverage_first(problem, options)
    try:
        solution = solve_districts(problem, options)
    except NoPlanFoundError as e:
        if ceiling is None:
            raise
        err = NoPlanFoundError(f"{e} {_ceiling_words(problem, ceiling)}")
        err.coverage_ceiling = ceiling.ceiling
        raise err from None
    out = _district_plan(
        plan, schools_m, cells, solution, options, crs, warnings, groups=groups, links=links,
        coverage_ceiling=None if ceiling is None else ceiling.ceiling,
    )  # fmt: skip
    check_plan(out)
    return out


#: share of the time limit (at most this many seconds) the coverage ceiling may take before the search
COVERAGE_SHARE, COVERAGE_MAX_S = 0.15, 10.0


def _coverage_first(p: DistrictProblem, options: SolveOptions) -> tuple[CoverageCeiling | None, SolveOptions]:
    """With a coverage rate asked for (and leads that need not be high quality), the highest rate any
    grouping can reach, proven from a relaxation; a rate above it is refused at once, in numbers.
    Returns the ceiling and the options for the search (its time limit less the ceiling's seconds)."""
    if p.min_coverage is None or p.hq[p.lead_ok].all():
        return None, options
    if not p.hq.any():
        if np.isnan(p.quality).all():
            raise InputError(
                [
                    Issue(
                        f"a coverage rate of {p.min_coverage:.0%} (--min-coverage) needs to know the high-quality "
                        "schools, but the schools have no quality data",
                        fix="name the quality column (--quality-col, e.g. 重点 or 办学水平) or drop --min-coverage",
                    )
                ]
            )
        raise InfeasibleError(
            [f"no school is high quality ({p.hq_rule}), so no district holds one: the coverage rate is 0 %"],
            ["lower --lead-min-quality", "drop --min-coverage"],
            rule="coverage",
        )
    budget = min(COVERAGE_MAX_S, COVERAGE_SHARE * options.time_limit_s)
    ceiling = coverage_ceiling(p, options, budget)
    if ceiling.no_grouping:
        raise InfeasibleError(
            [
                f"no grouping of {p.n} schools into {p.n_districts} districts keeps the balance bands "
                f"({p.balance_note})"
                + (" in one piece" if p.contiguity else "")
                + ", whatever the coverage: "
                "a relaxation proves it (each district's bands, the schools a district of the size band can "
                "reach, a neighbour in the district for every member)"
            ],
            [
                "widen the tolerances (--seats-tolerance, --children-tolerance, --quality-tolerance)",
                "change the number of districts or the member limits",
            ],
            rule="districts",
        )
    if ceiling.ceiling < p.min_coverage - 1e-9:
        top = math.floor(ceiling.ceiling * 1000) / 10
        raise InfeasibleError(
            [
                f"the coverage rate (优质学校覆盖率) of {p.min_coverage:.0%} asked for is out of reach: no grouping "
                f"keeping the other rules puts more than {ceiling.ceiling:.1%} of the {p.weight_label} in "
                f"districts holding a high-quality school ({p.hq_rule})",
                *ceiling.why(),
            ],
            [
                f"ask for at most {top:g} % (--min-coverage)",
                "ask for fewer districts",
                "let more schools count as high quality (--lead-min-quality)",
            ],
            rule="coverage",
        )
    left = max(0.5, options.time_limit_s - ceiling.seconds)
    return ceiling, replace(options, time_limit_s=left)


def _ceiling_words(p: DistrictProblem, ceiling: CoverageCeiling) -> str:
    return (
        f"Coverage: the rules allow at most {ceiling.ceiling:.1%} of the {p.weight_label} in districts holding a "
        f"high-quality school (a relaxation's proof), so the {p.min_coverage:.0%} asked for is not ruled out."
    )


def _district_plan(
    plan: Plan | None,
    schools_m: gpd.GeoDataFrame,
    cells: gpd.GeoSeries,
    solution: DistrictSolution,
    options: SolveOptions,
    crs,
    warnings: list[Issue],
    *,
    groups: bool,
    links: Sequence = (),
    coverage_ceiling: float | None = None,
) -> Plan:
    p: DistrictProblem = solution.problem
    lead_of = solution.lead_of
    leads = np.unique(lead_of)
    # districts numbered from west to east, then south to north, so numbers are stable and readable
    order = leads[np.lexsort((p.xy[leads, 1], p.xy[leads, 0]))]
    number = {int(lead): k + 1 for k, lead in enumerate(order)}
    district_id = np.array([number[int(v)] for v in lead_of], dtype=np.int64)
    dist = np.hypot(*(p.xy - p.xy[lead_of]).T)
    schools_out = schools_m.reset_index(drop=True).assign(
        students=p.children.astype(float)
        if p.weight_label == "children"
        else schools_m["students"]
        if "students" in schools_m
        else np.nan,
        district_id=district_id,
        is_lead=lead_of == np.arange(p.n),
        lead_id=p.school_ids[lead_of],
        lead_name=p.school_names[lead_of],
        distance_to_lead_m=np.round(dist, 1),
        high_quality=p.hq,
    )
    if "utilisation" not in schools_out:
        cap = schools_out["capacity"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            schools_out["utilisation"] = np.round(schools_out["students"].to_numpy(dtype=float) / cap, 4)
    geoms = gpd.GeoSeries(cells.values, crs=crs)
    districts = _district_rows(p, schools_out, geoms, order, crs)
    unit = {"children": "child_m", "seats": "seat_m", "schools": "school_m"}[p.weight_label]
    info = SolveInfo(
        status=solution.status,
        objective=float(solution.objective),
        lower_bound=float(solution.bound),
        gap=solution.gap,
        seconds=solution.seconds,
        seed=options.seed,
        bound_source=solution.bound_source,
        lp_bound=float(solution.lp_value),
        lp_seconds=solution.lp_seconds,
        rounds=solution.rounds,
        cuts=solution.cuts,
        candidate_arcs=len(p.pair_school),
        plan_source=solution.source,
        metric_crs=str(crs.to_string()) if hasattr(crs, "to_string") else str(crs),
        unit=unit,
        stopped=options.stopped,
    )
    ids = p.school_ids
    rules = {
        "kind": "education groups" if groups else "school districts",
        "n_districts": p.n_districts,
        "schools_per_district": list(p.count_band),
        "seats_band": None if p.seats_band is None else list(p.seats_band),
        "children_band": None if p.children_band is None else list(p.children_band),
        "quality_band": None if p.quality_band is None else [round(v, 4) for v in p.quality_band],
        "seats_cover_children": p.seats_band is not None and p.children_band is not None,
        "high_quality": p.hq_rule,
        "lead_candidates": ids[p.lead_ok].tolist(),
        "pinned_leads": ids[p.pinned].tolist(),
        "together": [[ids[a], ids[b]] for a, b in p.together],
        "apart": [[ids[a], ids[b]] for a, b in p.apart],
        "requirements": [
            {"label": r.label, "schools": ids[r.members].tolist(), "at_least": r.at_least}
            for r in p.requirements
        ],
        "min_coverage": p.min_coverage,
        **({} if coverage_ceiling is None else {"coverage_ceiling": round(coverage_ceiling, 4)}),
        "contiguity": p.contiguity,
        "max_lead_distance_m": p.max_lead_distance_m,
        "weight": p.weight_label,
        "balance": p.balance_note,
        "adjacency": [[ids[a], ids[b]] for a, b in p.edges],
        # the links the islands policy added (not in the data): a district one piece only through one is
        # counted as in pieces (``check.metrics``)
        "links": [
            {
                "group_schools": link.group,
                "from_school": ids[link.a],
                "to_school": ids[link.b],
                "distance_m": round(link.distance_m, 1),
                "by": link.by,
            }
            for link in links
        ],
    }
    if plan is None:
        empty_blocks = gpd.GeoDataFrame(
            {
                c: pd.Series(dtype=object)
                for c in ("block_id", "name", "school_id", "students", "distance_m", "moved")
            },
            geometry=gpd.GeoSeries([], crs=crs),
        )
        zones = gpd.GeoDataFrame(
            {
                "school_id": schools_out["school_id"],
                "name": schools_out["name"],
                "students": schools_out["students"],
                "capacity": schools_out["capacity"],
                "utilisation": schools_out["utilisation"],
            },
            geometry=geoms.values,
            crs=crs,
        )
        return Plan(
            assignment=pd.Series([], dtype=object, name="school_id"),
            blocks=empty_blocks,
            schools=schools_out,
            zones=zones,
            info=None,
            problem=None,
            rules={"districts": rules},
            warnings=tuple(warnings),
            districts=districts,
            district_info=info,
            district_problem=p,
        )
    return replace(
        plan,
        schools=schools_out,
        rules={**plan.rules, "districts": rules},
        warnings=tuple(warnings),
        districts=districts,
        district_info=info,
        district_problem=p,
    )


def _total(values: np.ndarray) -> float:
    """Sum of the values; NaN when any is unknown (no data is not zero, and a sum over part of a district's
    schools is not its total)."""
    return float(np.sum(values)) if len(values) and np.isfinite(values).all() else float("nan")


def _district_rows(
    p: DistrictProblem, schools_out, geoms: gpd.GeoSeries, order: np.ndarray, crs
) -> gpd.GeoDataFrame:
    rows = []
    polys = []
    for k, lead in enumerate(order, start=1):
        mine = np.flatnonzero(schools_out["district_id"].to_numpy() == k)
        q = p.quality[mine]
        q = q[~np.isnan(q)]
        members = [str(s) for s in p.school_names[mine] if s != p.school_names[lead]]
        rows.append(
            {
                "district_id": k,
                "lead_id": str(p.school_ids[lead]),
                "lead_name": str(p.school_names[lead]),
                "members": "、".join(members),
                "n_schools": int(len(mine)),
                "capacity": _total(schools_out["capacity"].to_numpy(dtype=float)[mine]),
                "students": _total(schools_out["students"].to_numpy(dtype=float)[mine]),
                "mean_quality": float(q.mean()) if len(q) else np.nan,
                "min_quality": float(q.min()) if len(q) else np.nan,
                "max_quality": float(q.max()) if len(q) else np.nan,
                "quality_spread": float(q.max() - q.min()) if len(q) else np.nan,
                "covered": bool(p.hq[mine].any()),
            }
        )
        parts = [g for g in geoms.values[mine] if g is not None and not shapely.is_empty(g)]
        polys.append(shapely.union_all(parts) if parts else shapely.multipoints(p.xy[mine]).convex_hull)
    return gpd.GeoDataFrame(rows, geometry=polys, crs=crs)
