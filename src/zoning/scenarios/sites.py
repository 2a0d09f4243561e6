"""Where to build: new schools chosen among candidate sites, from blocks and the schools that stay open.

The geographic side of siting (:func:`~zoning.scenarios.siting.solve_siting` works on arrays): blocks are the
demand points (their children), the existing schools are sites that stay open, the candidates are sites that
may open, each with its seats; the cost is children × straight-line metres in the metric CRS.  The result
names the chosen candidates and each block's school, with the proof (bound, gap) of the siting model; the
zones themselves are then drawn by ``assign_zones`` with the new schools (one piece each, the usual rules).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InputError, Issue
from ..io.crs import to_metric
from ..io.validate.numbers import bad_numbers
from ..options import SolveOptions
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
    cost = np.hypot(xy[:, None, 0] - sxy[None, :, 0], xy[:, None, 1] - sxy[None, :, 1])
    if max_distance_m is not None:
        cost[cost > max_distance_m] = np.inf
    demand = pd.to_numeric(blocks["students"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    capacity = pd.to_numeric(sites["capacity"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    forced = np.arange(len(existing))
    result = solve_siting(cost, demand, capacity, len(existing) + new, forced=forced, options=options)
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
