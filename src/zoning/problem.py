"""Frozen array-based problem types: the only place where frames become arrays.

Notation (shared with the model docstrings): blocks ``i`` (N of them), schools ``j`` (M), candidate arcs
``a = (i, j)``.  Children counts may be fractional in the data (South Portland spreads children without a
usable address over blocks); the solvers work on integers, so counts are scaled by ``scale`` (1 when every
count is whole, else 10, 100 or 1000) and rounded.  Capacities are scaled the same way.

Costs: ``arc_cost[a] = students[i] * (distance_m[a] + move_penalty_m * moved[a])`` in scaled
child-metres, so the objective is "child-metres travelled, plus ``move_penalty_m`` metres for every child
moved away from the current school".  Distances are straight lines between the block's representative
point and the school in the metric CRS (road distances arrive with the road-network option).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from functools import cached_property

import geopandas as gpd
import numpy as np
import shapely
from scipy.spatial import cKDTree

from .graph import BlockGraph, edges_to_csr, require_metric, school_anchors

__all__ = ["ZoneProblem", "build_zone_problem", "candidate_arcs", "DEFAULT_MOVE_PENALTY_M"]

log = logging.getLogger(__name__)

#: Default cost of moving one child away from the current school, in metres of extra travel:
#: a plan moves a child only if that shortens someone's trip by more than this in total.
DEFAULT_MOVE_PENALTY_M = 500.0
#: Default number of nearest schools a block may be assigned to (grown where capacity needs it).
DEFAULT_CANDIDATES = 8
#: Per scaled child over capacity, when overload is allowed: dearer than any trip.
OVERLOAD_PENALTY_M = 1_000_000


@dataclass(frozen=True)
class ZoneProblem:
    """An attendance-zone problem on arrays (see the module docstring for units)."""

    block_ids: np.ndarray  # (N,) str
    block_labels: np.ndarray  # (N,) str, name for messages
    school_ids: np.ndarray  # (M,) str
    school_names: np.ndarray  # (M,) str
    students: np.ndarray  # (N,) int64, scaled
    capacity: np.ndarray  # (M,) int64, scaled
    scale: int
    edges: np.ndarray  # (E, 2) adjacency, i < j
    anchor: np.ndarray  # (M,) block index the school stands in, -1 if none
    current: np.ndarray  # (N,) school index of the current school, -1 if none
    block_xy: np.ndarray  # (N, 2) metric representative points
    school_xy: np.ndarray  # (M, 2)
    arc_block: np.ndarray  # (A,) int64, sorted by block then distance
    arc_school: np.ndarray  # (A,) int64
    arc_dist_m: np.ndarray  # (A,) int64, rounded metres
    move_penalty_m: int
    max_distance_m: float | None
    max_moved: int | None  # scaled children, None = no cap
    allow_overload: bool
    contiguity: bool
    k: int  # candidates per block asked for (before growth)
    overload_penalty_m: int = OVERLOAD_PENALTY_M

    @property
    def n_blocks(self) -> int:
        return len(self.block_ids)

    @property
    def n_schools(self) -> int:
        return len(self.school_ids)

    @cached_property
    def arc_moved(self) -> np.ndarray:
        cur = self.current[self.arc_block]
        return (cur >= 0) & (cur != self.arc_school)

    @cached_property
    def arc_unit_cost(self) -> np.ndarray:
        """Cost per scaled child on each arc: metres, plus the move penalty where it moves the child."""
        return self.arc_dist_m + self.move_penalty_m * self.arc_moved.astype(np.int64)

    @cached_property
    def arc_cost(self) -> np.ndarray:
        return self.students[self.arc_block] * self.arc_unit_cost

    @cached_property
    def anchored_school(self) -> np.ndarray:
        """(N,) index of the school anchored on each block, -1 if none."""
        out = np.full(self.n_blocks, -1, dtype=np.int64)
        ok = self.anchor >= 0
        out[self.anchor[ok]] = np.flatnonzero(ok)
        return out

    @cached_property
    def neighbours(self) -> tuple[np.ndarray, np.ndarray]:
        """Adjacency in CSR form (indptr, indices): the neighbours of block i are indices[indptr[i]:indptr[i+1]]."""
        adj = edges_to_csr(self.n_blocks, self.edges)
        return adj.indptr, adj.indices

    @cached_property
    def _arc_keys(self) -> tuple[np.ndarray, np.ndarray]:
        keys = self.arc_block * self.n_schools + self.arc_school
        order = np.argsort(keys)
        return keys[order], order

    def arc_index(self, blocks, schools) -> np.ndarray:
        """Index of the arc (block, school) for each pair (broadcast), -1 where it is not a candidate."""
        keys, order = self._arc_keys
        want = np.asarray(blocks, dtype=np.int64) * self.n_schools + np.asarray(schools, dtype=np.int64)
        pos = np.minimum(np.searchsorted(keys, want), max(len(keys) - 1, 0))
        hit = keys[pos] == want if len(keys) else np.zeros(np.shape(want), dtype=bool)
        return np.where(hit, order[pos], -1)

    def with_arcs(self, arc_block: np.ndarray, arc_school: np.ndarray) -> ZoneProblem:
        """The same problem with another candidate set (distances recomputed)."""
        dist = _distances(self.block_xy, self.school_xy, arc_block, arc_school)
        order = np.lexsort((dist, arc_block))
        return replace(self, arc_block=arc_block[order], arc_school=arc_school[order], arc_dist_m=dist[order])

    def grow(self, blocks: np.ndarray, factor: int = 2) -> ZoneProblem:
        """More candidate schools for ``blocks`` (k → factor·k nearest within the maximum distance)."""
        blocks = np.asarray(blocks, dtype=np.int64)
        if self.contiguity:
            blocks = blocks[self.anchored_school[blocks] < 0]
        per_block = np.bincount(self.arc_block, minlength=self.n_blocks)[blocks]
        k_new = np.minimum(np.maximum(per_block * factor, 1), self.n_schools)
        ai, aj = candidate_arcs(
            self.block_xy[blocks], self.school_xy, k_new, max_distance_m=self.max_distance_m
        )
        ai = np.concatenate([self.arc_block, blocks[ai]])
        aj = np.concatenate([self.arc_school, aj])
        pairs = np.unique(np.stack([ai, aj], axis=1), axis=0)
        return self.with_arcs(pairs[:, 0], pairs[:, 1])


def _distances(block_xy: np.ndarray, school_xy: np.ndarray, ai: np.ndarray, aj: np.ndarray) -> np.ndarray:
    return np.rint(np.hypot(*(block_xy[ai] - school_xy[aj]).T)).astype(np.int64)


def candidate_arcs(
    block_xy: np.ndarray,
    school_xy: np.ndarray,
    k: np.ndarray | int,
    *,
    max_distance_m: float | None = None,
    must: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest schools of every block (within ``max_distance_m``), plus the ``must`` pairs.

    ``k`` may differ per block (adaptive growth).  Returns (arc_block, arc_school), unique pairs.
    """
    n, m = len(block_xy), len(school_xy)
    k_arr = np.broadcast_to(np.asarray(k, dtype=np.int64), (n,))
    kmax = int(min(m, max(1, k_arr.max())))
    tree = cKDTree(school_xy)
    upper = np.inf if max_distance_m is None else max_distance_m
    dist, idx = tree.query(block_xy, k=kmax, distance_upper_bound=upper)
    dist = dist.reshape(n, kmax)
    idx = idx.reshape(n, kmax)
    rank = np.broadcast_to(np.arange(kmax), (n, kmax))
    keep = np.isfinite(dist) & (rank < k_arr[:, None])
    ai = np.repeat(np.arange(n), kmax)[keep.ravel()]
    aj = idx.ravel()[keep.ravel()]
    if must is not None:
        ai = np.concatenate([ai, must[0]])
        aj = np.concatenate([aj, must[1]])
    pairs = np.unique(np.stack([ai, aj], axis=1).astype(np.int64), axis=0)
    return pairs[:, 0], pairs[:, 1]


def build_zone_problem(
    blocks: gpd.GeoDataFrame,
    schools: gpd.GeoDataFrame,
    graph: BlockGraph,
    *,
    k: int = DEFAULT_CANDIDATES,
    max_distance_m: float | None = None,
    move_penalty_m: float = DEFAULT_MOVE_PENALTY_M,
    max_moved: float | None = None,
    allow_overload: bool = False,
    contiguity: bool = True,
    anchors: np.ndarray | None = None,
) -> ZoneProblem:
    """Arrays from canonical, projected frames (columns as ``validate`` returns them)."""
    require_metric(blocks, "blocks")
    require_metric(schools, "schools")
    raw_students = blocks["students"].to_numpy(dtype=float)
    raw_capacity = schools["capacity"].to_numpy(dtype=float)
    scale = _scale_for(np.concatenate([raw_students, raw_capacity]))
    students = np.rint(raw_students * scale).astype(np.int64)
    # seats are never rounded up: a capacity of 240.5 gives 240.5 seats, not 241
    capacity = np.floor(raw_capacity * scale + 1e-9).astype(np.int64)

    school_ids = schools["school_id"].astype(str).to_numpy()
    school_names = schools["name"].astype(str).to_numpy() if "name" in schools else school_ids
    index_of = {sid: j for j, sid in enumerate(school_ids)}
    index_of.update({name: j for j, name in enumerate(school_names) if name not in index_of})
    current = np.full(len(blocks), -1, dtype=np.int64)
    if "current_school" in blocks:
        for i, value in enumerate(blocks["current_school"].to_numpy()):
            if isinstance(value, str) and value in index_of:
                current[i] = index_of[value]

    block_xy = shapely.get_coordinates(blocks.geometry.representative_point().values)
    school_xy = shapely.get_coordinates(schools.geometry.values)
    if anchors is None:
        anchors = school_anchors(graph.cells, schools.geometry)
    anchors = _one_school_per_anchor(np.asarray(anchors, dtype=np.int64), capacity)

    # always allowed: the current school (if within reach) and the school standing in the block
    must_i = [np.flatnonzero(current >= 0)]
    must_j = [current[current >= 0]]
    if max_distance_m is not None and len(must_i[0]):
        d = np.hypot(*(block_xy[must_i[0]] - school_xy[must_j[0]]).T)
        must_i[0], must_j[0] = must_i[0][d <= max_distance_m], must_j[0][d <= max_distance_m]
    ok = anchors >= 0
    must_i.append(anchors[ok])
    must_j.append(np.flatnonzero(ok))
    ai, aj = candidate_arcs(
        block_xy,
        school_xy,
        k,
        max_distance_m=max_distance_m,
        must=(np.concatenate(must_i), np.concatenate(must_j)),
    )
    if contiguity:
        # a block a school stands in belongs to that school's zone: drop its other arcs
        owner = np.full(len(blocks), -1, dtype=np.int64)
        owner[anchors[ok]] = np.flatnonzero(ok)
        keep = (owner[ai] < 0) | (owner[ai] == aj)
        ai, aj = ai[keep], aj[keep]
    labels = (
        blocks["name"].astype(str).to_numpy()
        if "name" in blocks
        else blocks["block_id"].astype(str).to_numpy()
    )
    problem = ZoneProblem(
        block_ids=blocks["block_id"].astype(str).to_numpy(),
        block_labels=labels,
        school_ids=school_ids,
        school_names=school_names,
        students=students,
        capacity=capacity,
        scale=scale,
        edges=graph.edges,
        anchor=anchors,
        current=current,
        block_xy=block_xy,
        school_xy=school_xy,
        arc_block=ai,
        arc_school=aj,
        arc_dist_m=np.zeros(len(ai), dtype=np.int64),
        move_penalty_m=int(round(move_penalty_m)),
        max_distance_m=max_distance_m,
        max_moved=None if max_moved is None else int(np.floor(max_moved * scale + 1e-9)),
        allow_overload=allow_overload,
        contiguity=contiguity,
        k=k,
    )
    problem = problem.with_arcs(ai, aj)
    log.info(
        "problem: %d blocks, %d schools, %d candidate arcs (k=%d), %s children, %s seats",
        problem.n_blocks,
        problem.n_schools,
        len(problem.arc_block),
        k,
        f"{students.sum() / scale:,.2f}".rstrip("0").rstrip("."),
        f"{capacity.sum() / scale:,.2f}".rstrip("0").rstrip("."),
    )
    return problem


def _scale_for(values: np.ndarray) -> int:
    """Smallest of 1, 10, 100, 1000 that makes every count whole (1000 at most: thousandths of a child)."""
    for scale in (1, 10, 100):
        scaled = values * scale
        if np.allclose(scaled, np.rint(scaled), rtol=0, atol=1e-6):
            return scale
    return 1000


def _one_school_per_anchor(anchors: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Two schools in one block cannot both own it: the larger keeps the anchor, the others float."""
    out = anchors.copy()
    seen: dict[int, int] = {}
    for j in np.argsort(-capacity, kind="stable"):
        b = int(anchors[j])
        if b < 0:
            continue
        if b in seen:
            out[j] = -1
        else:
            seen[b] = int(j)
    return out
