"""Where to build: new schools chosen among candidate sites, from blocks and the schools that stay open.

The geographic side of siting (:func:`~zoning.scenarios.siting.solve_siting` works on arrays): blocks are the
demand points (their children), the existing schools are sites that stay open, the candidates are sites that
may open, each with its seats; the cost is children × straight-line metres in the metric CRS.  The result
names the chosen candidates and each block's school, with the proof (bound, gap) of the siting model; the
zones themselves are then drawn by ``assign_zones`` with the new schools (one piece each, the usual rules).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InfeasibleError, InputError, Issue, name_list
from ..io.crs import to_metric
from ..io.validate.numbers import bad_numbers
from ..options import SolveOptions
from ..zones.problem import fmt_children
from .siting import SitingResult, solve_siting

__all__ = ["SitePlan", "site_schools", "MAX_PAIRS"]

#: Block × site pairs the siting model takes at most (a dense cost matrix): aggregate blocks beyond this.
MAX_PAIRS = 20_000_000


@dataclass(frozen=True)
class SitePlan:
    """``chosen``: the candidate rows that open (input CRS); ``schools``: the existing schools and the chosen
    candidates, ready for ``assign_zones``; ``assignment``: block_id → school_id of the siting model (whole
    blocks within seats, no one-piece rule); ``result``: its objective (child-metres), bound and gap."""

    chosen: gpd.GeoDataFrame
    schools: gpd.GeoDataFrame
    assignment: pd.Series
    result: SitingResult


def site_schools(
    blocks: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    *,
    new: int,
    schools: gpd.GeoDataFrame | None = None,
    max_distance_m: float | None = None,
    options: SolveOptions = SolveOptions(),
) -> SitePlan:
    """Open ``new`` of ``candidates`` (school_id, capacity, points) beside ``schools`` (which stay open) so
    that every block's children go to one school within its seats, fewest child-metres (capacitated p-median,
    proven gap).  ``max_distance_m``: no block is sent further (straight line)."""
    existing = schools if schools is not None else candidates.iloc[0:0]
    if new < 1 or new > len(candidates):
        raise InputError([Issue(f"cannot open {new} of {len(candidates)} candidate sites.",
                                f"give a number from 1 to {len(candidates)}.", column="new")])  # fmt: skip
    clash = set(existing["school_id"].astype(str)) & set(candidates["school_id"].astype(str))
    if clash:
        raise InputError([Issue(f"candidate sites share ids with the schools: {', '.join(sorted(clash)[:5])}.",
                                "give the candidates their own ids.", column="school_id")])  # fmt: skip
    # (NaN seats were read as 0, and the siting said "short" with no word of the blanks)
    issues = [*bad_numbers(blocks, "blocks", "block_id", "students"),
              *bad_numbers(existing, "schools", "school_id", "capacity"),
              *bad_numbers(candidates, "candidate sites", "school_id", "capacity")]  # fmt: skip
    if issues:
        raise InputError(issues)
    n, m = len(blocks), len(existing) + len(candidates)
    if n * m > MAX_PAIRS:
        raise InputError([Issue(f"{n:,} blocks × {m:,} sites is more pairs than the siting model takes "
                                f"({MAX_PAIRS:,}).", "aggregate blocks (e.g. to 小区 or streets) or give fewer candidates.")])  # fmt: skip
    blocks_m, crs = to_metric(blocks)
    sites = pd.concat([existing.to_crs(crs), candidates.to_crs(crs)], ignore_index=True)
    points = blocks_m.geometry.representative_point()
    xy = np.column_stack([points.x.to_numpy(), points.y.to_numpy()])
    sxy = np.column_stack([sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy()])
    dist = np.hypot(xy[:, None, 0] - sxy[None, :, 0], xy[:, None, 1] - sxy[None, :, 1])
    demand = pd.to_numeric(blocks["students"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    capacity = pd.to_numeric(sites["capacity"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    cost = dist.copy()
    if max_distance_m is not None:  # a block without children is never out of reach (its cost weighs 0)
        cost[(dist > max_distance_m) & (demand[:, None] > 0)] = np.inf
    _check_reach_and_seats(blocks, dist, demand, capacity, len(existing), new, max_distance_m)
    forced = np.arange(len(existing))
    result = solve_siting(cost, demand, capacity, len(existing) + new, forced=forced, options=options)
    empty = demand <= 0  # sent anywhere by the model (they cost nothing): to their nearest open site
    if empty.any():
        nearest = result.open[np.argmin(dist[np.ix_(empty, result.open)], axis=1)]
        assign = result.assign.copy()
        assign[empty] = nearest
        result = replace(result, assign=assign)
    opened = np.setdiff1d(result.open, forced) - len(existing)
    chosen = candidates.iloc[np.sort(opened)]
    all_schools = pd.concat(
        [existing, chosen.to_crs(existing.crs) if len(existing) else chosen], ignore_index=True
    )
    ids = sites["school_id"].astype(str).to_numpy()
    assignment = pd.Series(
        ids[result.assign], index=pd.Index(blocks["block_id"], name="block_id"), name="school_id"
    )
    return SitePlan(chosen=chosen, schools=gpd.GeoDataFrame(all_schools, geometry="geometry"), assignment=assignment,
                    result=result)  # fmt: skip


def _check_reach_and_seats(blocks, dist, demand, capacity, n_existing, new, max_distance_m) -> None:
    """The siting's own pre-checks in the planner's words (block ids, schools and candidate sites, --new),
    where the model on arrays can only say "demand point 18" and "p = 7"; blocks without children never
    count (they go to their nearest open site)."""
    reasons, fixes, rule = [], [], "capacity"
    labels = blocks["block_id"].astype(str).to_numpy()
    if max_distance_m is not None:
        near = dist.min(axis=1)
        far = np.flatnonzero((near > max_distance_m) & (demand > 0))
        if len(far):
            far = far[np.argsort(-near[far])]
            reasons.append(
                f"{len(far)} block(s) with {fmt_children(demand[far].sum(), 1)} children have no school or "
                f"candidate site within {max_distance_m:,.0f} m: {name_list(labels[far])} (the farthest "
                f"{near[far[0]]:,.0f} m from the nearest)"
            )
            fixes.append(f"allow a longer --max-distance ({np.ceil(near[far[0]]):,.0f} m reaches them all), "
                         "or add a candidate site near these blocks")  # fmt: skip
            rule = "max_distance"
    total = demand.sum()
    largest = np.sort(capacity[n_existing:])[::-1]
    seats = capacity[:n_existing].sum() + np.cumsum(largest)  # with the 1, 2, … largest candidates open
    if seats[new - 1] < total - 1e-9:
        sites = f"all {len(largest)}" if new >= len(largest) else f"the {new} largest"
        what = (
            f"the {n_existing} school(s) and {sites} candidate site(s)"
            if n_existing
            else f"{sites} candidate site(s)"
        )
        reasons.append(f"{what} offer {fmt_children(seats[new - 1], 1)} seats against "
                       f"{fmt_children(total, 1)} children (short {fmt_children(total - seats[new - 1], 1)})")  # fmt: skip
        enough = np.flatnonzero(seats >= total - 1e-9)
        if len(enough):
            fixes.append(f"open more new schools (--new {int(enough[0]) + 1} at least), or add seats")
        else:
            fixes.append(
                f"add candidate sites or seats: {fmt_children(np.ceil(total - seats[-1]), 1)} more seats at least"
            )
        rule = "capacity"
    if reasons:
        raise InfeasibleError(reasons, fixes, rule=rule)
