"""Frozen array-based problem types: the only place where frames become arrays.

Notation (shared with the model docstrings): blocks ``i`` (N of them), schools ``j`` (M), candidate arcs
``a = (i, j)``.  Children counts may be fractional in the data (South Portland spreads children without a
usable address over blocks); the solvers work on integers, so counts are scaled by ``scale`` (1 when every
count is whole, else 10, 100 or 1000) and rounded.  Capacities are scaled the same way.

Costs: ``arc_cost[a] = students[i] * (distance_m[a] + move_penalty_m * moved[a])`` in scaled
child-metres, so the objective is "child-metres travelled, plus ``move_penalty_m`` metres for every child
moved away from the current school".  Distances are straight lines between the block's representative
point and the school in the metric CRS, or, when the problem is built with a road network
(``roads=``), shortest paths on that network (:mod:`zoning.geo.roads`); which schools a block may go to,
and how far each is, is found in :mod:`.candidates`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from functools import cached_property

import geopandas as gpd
import numpy as np
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from ..geo.graph import BlockGraph, edges_to_csr, require_metric, school_anchors
from ..geo.roads import RoadNetwork, build_road_network
from .candidates import by_reach, candidate_arcs, nearest_by_road, road_arcs, straight_m

__all__ = [
    "fmt_children",
    "touching_arcs",
    "ZoneProblem",
    "build_zone_problem",
    "assignment_problem",
    "DEFAULT_MOVE_PENALTY_M",
]

log = logging.getLogger(__name__)

#: Default cost of moving one child away from the current school, in metres of extra travel:
#: a plan moves a child only if that shortens someone's trip by more than this in total.
DEFAULT_MOVE_PENALTY_M = 500.0
#: Default number of nearest schools a block may be assigned to (grown where capacity needs it).
DEFAULT_CANDIDATES = 8
#: Block × school pairs up to which ``ZoneProblem.every_candidate`` builds every candidate the rules allow (the
#: whole model, whose proofs of infeasibility it checks, runs up to 5,000 blocks).
ALL_PAIRS = 2_000_000
#: Per scaled child over capacity, when overload is allowed: dearer than any trip.
OVERLOAD_PENALTY_M = 1_000_000


def fmt_children(value_scaled: float, scale: int) -> str:
    """A count of scaled children for a message: whole when it is (or is large), else two decimals."""
    v = value_scaled / scale
    return f"{v:,.0f}" if abs(v - round(v)) < 1e-9 or abs(v) >= 100 else f"{v:,.2f}"


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
    roads: RoadNetwork | None = None  # distances by road on this network, else straight lines
    #: (A,) scaled seats block i takes at school j when they differ by school (the generalised assignment
    #: problem); None: a block takes ``students[i]`` seats wherever it goes (every attendance zone)
    arc_load: np.ndarray | None = None
    #: (N,) school index each block is locked to (a scenario's [[lock]]: it goes there whatever), -1 where
    #: free; None when no block is locked.  A locked block has that one candidate arc and never grows others.
    locked: np.ndarray | None = None
    #: links the islands policy added between blocks that touch no others (``geo.graph.Link``): edges of the
    #: graph that are not in the data (the summary counts a zone joined only through one as in pieces)
    links: tuple = ()
    #: (N,) bool: blocks of no children the maximum distance does not bind (no school within it, or none whose
    #: zone in one piece reaches them): every block is in a zone, and no child travels from them; or None
    empty_far: np.ndarray | None = None

    @property
    def travel(self) -> str:
        """How distances are measured: "road" or "straight"."""
        return "straight" if self.roads is None else "road"

    @property
    def n_blocks(self) -> int:
        return len(self.block_ids)

    @property
    def n_schools(self) -> int:
        return len(self.school_ids)

    def moved(self, assign: np.ndarray) -> np.ndarray:
        """(N,) blocks a plan sends away from their current school."""
        return (self.current >= 0) & (self.current != assign)

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
    def arc_seats(self) -> np.ndarray:
        """(A,) scaled seats each arc takes at its school: the block's children, or ``arc_load``."""
        return self.students[self.arc_block] if self.arc_load is None else self.arc_load

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
    def arc_start(self) -> np.ndarray:
        """(N+1,) the arcs of block i are ``arc_start[i]:arc_start[i + 1]`` (arcs are sorted by block)."""
        return np.searchsorted(self.arc_block, np.arange(self.n_blocks + 1))

    def block_arcs(self, blocks: np.ndarray) -> np.ndarray:
        """Indices of every candidate arc of ``blocks``, block by block."""
        first = self.arc_start[blocks]
        size = self.arc_start[blocks + 1] - first
        return np.arange(size.sum()) + np.repeat(first - np.cumsum(size) + size, size)

    @cached_property
    def _arc_keys(self) -> tuple[np.ndarray, np.ndarray]:
        keys = self.arc_block * self.n_schools + self.arc_school
        order = np.argsort(keys)
        return keys[order], order

    def arc_index(self, blocks, schools) -> np.ndarray:
        """Index of the arc (block, school) for each pair (broadcast), -1 where it is not a candidate."""
        keys, order = self._arc_keys
        want = np.asarray(blocks, dtype=np.int64) * self.n_schools + np.asarray(schools, dtype=np.int64)
        if not len(keys):
            return np.full(np.shape(want), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
        return np.where(keys[pos] == want, order[pos], -1)

    def with_arcs(self, arc_block: np.ndarray, arc_school: np.ndarray) -> ZoneProblem:
        """The same problem with another candidate set (distances recomputed).

        By road, arcs already in the problem keep their distance (no shortest paths run again), and arcs
        no road connects, or longer than ``max_distance_m`` by road, are dropped (the school's own block
        excepted).
        """
        if self.arc_load is not None:
            raise ValueError("the candidate arcs of a problem with per-pair loads are fixed")
        arc_block = np.asarray(arc_block, dtype=np.int64)
        arc_school = np.asarray(arc_school, dtype=np.int64)
        if self.locked is not None:  # a locked block keeps its one arc
            lock = self.locked[arc_block]
            keep = (lock < 0) | (lock == arc_school)
            arc_block, arc_school = arc_block[keep], arc_school[keep]
        if self.roads is None:
            dist = straight_m(self.block_xy, self.school_xy, arc_block, arc_school)
        else:
            arc_block, arc_school, dist = road_arcs(self, arc_block, arc_school)
        order = np.lexsort((dist, arc_block))
        return replace(self, arc_block=arc_block[order], arc_school=arc_school[order], arc_dist_m=dist[order])

    def window(self, blocks: np.ndarray, schools: np.ndarray, fixed_load: np.ndarray, moved_elsewhere: int):
        """The sub-problem in which only ``blocks`` move, among ``schools`` (sorted index arrays).

        ``fixed_load`` (len(schools),): scaled seats the schools keep for blocks outside the window;
        ``moved_elsewhere``: scaled children moved by blocks outside the window (counted against the cap).
        Arcs are those of the window's blocks to the window's schools; the edges those among the window's
        blocks.  A current school outside the window becomes ``len(schools)`` (no school of the window),
        so the move penalty still applies.  The one-piece rule holds inside the window only when the window
        is whole zones (no seats kept for outside blocks), as zones then cannot leave it.
        Returns the sub-problem; its block ``b`` is ``blocks[b]`` and its school ``s`` is ``schools[s]``.
        """
        n, m = self.n_blocks, self.n_schools
        bmap = np.full(n, -1, dtype=np.int64)
        bmap[blocks] = np.arange(len(blocks))
        smap = np.full(m + 1, len(schools), dtype=np.int64)
        smap[schools] = np.arange(len(schools))
        arcs = self.block_arcs(blocks)
        arcs = arcs[smap[self.arc_school[arcs]] < len(schools)]
        e = self.edges
        e = e[(bmap[e[:, 0]] >= 0) & (bmap[e[:, 1]] >= 0)]
        anchor = self.anchor[schools]
        anchor = np.where(anchor >= 0, bmap[np.maximum(anchor, 0)], -1)
        cur = self.current[blocks]
        locked = None
        if self.locked is not None:
            lock = self.locked[blocks]
            locked = np.where(lock >= 0, smap[np.maximum(lock, 0)], -1)
        whole = not np.any(fixed_load > 0)
        return replace(
            self,
            block_ids=self.block_ids[blocks],
            block_labels=self.block_labels[blocks],
            school_ids=self.school_ids[schools],
            school_names=self.school_names[schools],
            students=self.students[blocks],
            capacity=self.capacity[schools] - fixed_load,
            edges=bmap[e],
            anchor=anchor,
            current=np.where(cur >= 0, smap[np.maximum(cur, 0)], -1),
            locked=locked,
            block_xy=self.block_xy[blocks],
            school_xy=self.school_xy[schools],
            arc_block=bmap[self.arc_block[arcs]],
            arc_school=smap[self.arc_school[arcs]],
            arc_dist_m=self.arc_dist_m[arcs],
            arc_load=None if self.arc_load is None else self.arc_load[arcs],
            max_moved=None if self.max_moved is None else self.max_moved - moved_elsewhere,
            contiguity=self.contiguity and whole,
            empty_far=None if self.empty_far is None else self.empty_far[blocks],
        )

    @cached_property
    def every_candidate(self) -> ZoneProblem | None:
        """The problem with every school the rules allow as a candidate of every block (all within the maximum
        distance; the block a school stands in, with the one-piece rule, and a locked block keep their one
        school), without the arcs no zone in one piece can use, as the search drops them (:meth:`reachable_arcs`).
        None above ``ALL_PAIRS`` block × school pairs.  Built once per problem (by road, up to 2 million road
        distances): the check of the cap on moves and the search's proof both ask for it."""
        if self.arc_load is not None:
            return self  # per-pair loads: every pair is a candidate already
        if self.n_blocks * self.n_schools > ALL_PAIRS:
            return None
        full = self.grow(np.arange(self.n_blocks), factor=self.n_schools)
        return full.keep_arcs(full.reachable_arcs()) if full.contiguity else full

    def keep_arcs(self, keep: np.ndarray) -> ZoneProblem:
        """The same problem with only the arcs where ``keep`` is True (order kept)."""
        return replace(
            self,
            arc_block=self.arc_block[keep],
            arc_school=self.arc_school[keep],
            arc_dist_m=self.arc_dist_m[keep],
            arc_load=None if self.arc_load is None else self.arc_load[keep],
        )

    def reachable_arcs(self) -> np.ndarray:
        """(A,) bool: arcs some one-piece zone can use.  Block i can be in the zone of school j only if a path of
        adjacent blocks that may all go to j joins i to the block j stands in; other arcs of an anchored school
        are never used by a plan in one piece (a block whose candidates are all such arcs can go nowhere)."""
        e = np.concatenate([self.edges, self.edges[:, ::-1]])
        if not len(e) or not len(self.arc_block):
            return np.ones(len(self.arc_block), dtype=bool)
        counts = self.arc_start[e[:, 0] + 1] - self.arc_start[e[:, 0]]
        arcs_u = self.block_arcs(e[:, 0])
        arcs_v = self.arc_index(np.repeat(e[:, 1], counts), self.arc_school[arcs_u])
        ok = arcs_v >= 0
        a = len(self.arc_block)
        graph = sparse.csr_matrix(
            (np.ones(int(ok.sum()), dtype=np.int8), (arcs_u[ok], arcs_v[ok])), shape=(a, a)
        )
        _, label = csgraph.connected_components(graph, directed=False)
        anchored = np.flatnonzero(self.anchor >= 0)
        own = self.arc_index(self.anchor[anchored], anchored)
        comp = np.full(self.n_schools, -1, dtype=np.int64)
        comp[anchored[own >= 0]] = label[own[own >= 0]]
        school_comp = comp[self.arc_school]
        return (school_comp < 0) | (label == school_comp)

    def grow(self, blocks: np.ndarray, factor: int = 2) -> ZoneProblem:
        """More candidate schools for ``blocks`` (k → factor·k nearest within the maximum distance).

        When none of them gains a school within the maximum distance, those with no children get schools
        beyond it (they become ``empty_far``): no child travels from them, and a block of no children that no
        zone in one piece can reach within the distance must not make every plan impossible."""
        blocks = np.asarray(blocks, dtype=np.int64)
        if self.contiguity:
            blocks = blocks[self.anchored_school[blocks] < 0]
        if self.locked is not None:
            blocks = blocks[self.locked[blocks] < 0]
        if not len(blocks):
            return self  # nothing may grow here (only schools' own blocks): the caller looks wider
        per_block = np.bincount(self.arc_block, minlength=self.n_blocks)[blocks]
        k_new = np.minimum(np.maximum(per_block * factor, 1), self.n_schools)
        grown = self._more_arcs(blocks, k_new)
        far = np.zeros(self.n_blocks, dtype=bool) if self.empty_far is None else self.empty_far.copy()
        empty = (self.students[blocks] == 0) & ~far[blocks]
        if self.max_distance_m is None or len(grown.arc_block) > len(self.arc_block) or not empty.any():
            return grown
        far[blocks[empty]] = True
        return replace(self, empty_far=far)._more_arcs(blocks[empty], k_new[empty])

    def _more_arcs(self, blocks: np.ndarray, k_new: np.ndarray) -> ZoneProblem:
        """The ``k_new`` nearest schools of ``blocks`` too (within the maximum distance, unless ``empty_far``)."""
        free = np.zeros(len(blocks), dtype=bool) if self.empty_far is None else self.empty_far[blocks]
        ai, aj = [self.arc_block], [self.arc_school]
        for mask, limit in by_reach(free, self.max_distance_m):
            bi, bj = candidate_arcs(
                self.block_xy[blocks[mask]], self.school_xy, k_new[mask], max_distance_m=limit
            )
            ai.append(blocks[mask][bi])
            aj.append(bj)
        pairs = np.unique(np.stack([np.concatenate(ai), np.concatenate(aj)], axis=1), axis=0)
        return self.with_arcs(pairs[:, 0], pairs[:, 1])


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
    roads: gpd.GeoSeries | gpd.GeoDataFrame | RoadNetwork | None = None,
) -> ZoneProblem:
    """Arrays from canonical, projected frames (columns as ``validate`` returns them).

    ``roads``: road lines in the same metric CRS (or a built :class:`~zoning.geo.roads.RoadNetwork`); the
    distances are then by road (see the module docstring).  Raises InfeasibleError naming the blocks from
    which no road leads to any school.
    """
    require_metric(blocks, "blocks")
    require_metric(schools, "schools")
    raw_students = blocks["students"].to_numpy(dtype=float)
    raw_capacity = schools["capacity"].to_numpy(dtype=float)
    scale = count_scale(np.concatenate([raw_students, raw_capacity]))
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
    locked = None
    if "locked_school" in blocks and blocks["locked_school"].notna().any():
        locked = np.full(len(blocks), -1, dtype=np.int64)
        for i, value in enumerate(blocks["locked_school"].to_numpy()):
            if isinstance(value, str) and value in index_of:
                locked[i] = index_of[value]

    block_xy = shapely.get_coordinates(blocks.geometry.representative_point().values)
    school_xy = shapely.get_coordinates(schools.geometry.values)
    if anchors is None:
        anchors = school_anchors(graph.cells, schools.geometry)
    anchors = _one_school_per_anchor(np.asarray(anchors, dtype=np.int64), capacity)
    if contiguity and not allow_overload:
        anchors = _release_full_anchors(anchors, students, capacity)

    # always allowed: the current school (if within reach) and the school standing in the block
    must_i = [np.flatnonzero(current >= 0)]
    must_j = [current[current >= 0]]
    if max_distance_m is not None and len(must_i[0]):
        d = np.hypot(*(block_xy[must_i[0]] - school_xy[must_j[0]]).T)
        must_i[0], must_j[0] = must_i[0][d <= max_distance_m], must_j[0][d <= max_distance_m]
    ok = anchors >= 0
    must_i.append(anchors[ok])
    must_j.append(np.flatnonzero(ok))
    network = None
    if roads is not None:
        network = roads if isinstance(roads, RoadNetwork) else build_road_network(roads)
    if locked is not None:  # a locked block's one arc, however far
        must_i.append(np.flatnonzero(locked >= 0))
        must_j.append(locked[locked >= 0])
    must = (np.concatenate(must_i), np.concatenate(must_j))
    ai, aj = candidate_arcs(
        block_xy,
        school_xy,
        k if network is None else 2 * k,  # by road: the k nearest by road among 2k by straight line
        max_distance_m=max_distance_m,
        must=must,
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
        arc_block=np.zeros(0, dtype=np.int64),
        arc_school=np.zeros(0, dtype=np.int64),
        arc_dist_m=np.zeros(0, dtype=np.int64),
        move_penalty_m=int(round(move_penalty_m)),
        max_distance_m=max_distance_m,
        max_moved=None if max_moved is None else int(np.floor(max_moved * scale + 1e-9)),
        allow_overload=allow_overload,
        contiguity=contiguity,
        k=k,
        roads=network,
        locked=locked,
        links=graph.links,
    )
    problem = problem.with_arcs(ai, aj)
    if network is not None:
        problem = nearest_by_road(problem, must)
    bare = np.setdiff1d(np.flatnonzero(students == 0), problem.arc_block)
    if len(bare):  # no children and no school in reach: the nearest schools, however far (see ``empty_far``)
        empty_far = np.zeros(len(blocks), dtype=bool)
        empty_far[bare] = True
        problem = replace(problem, empty_far=empty_far)
        problem = problem._more_arcs(bare, np.full(len(bare), min(k, len(school_xy))))
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


def count_scale(values: np.ndarray) -> int:
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


def _release_full_anchors(anchors: np.ndarray, students: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """A school whose own block holds more children than its seats cannot keep that block with hard seats:
    the block is released (it may go to another school, and the school's zone is one piece elsewhere)
    instead of making every plan impossible.  The caller warns, naming the school and the numbers."""
    out = anchors.copy()
    has = out >= 0
    out[has & (students[np.maximum(out, 0)] > capacity)] = -1
    return out


def assignment_problem(cost: np.ndarray, load: np.ndarray, capacity: np.ndarray) -> ZoneProblem:
    """The generalised assignment problem as a ZoneProblem: job ``i`` to agent ``j`` costs ``cost[j, i]``
    and uses ``load[j, i]`` of the agent's ``capacity[j]`` (integers, agents × jobs as in OR-Library).

    Jobs are blocks with one child each and no neighbours, agents are schools; every pair is an arc, with
    ``arc_dist_m`` = cost and ``arc_load`` = load.  The zone solver then minimises Σ cost (proven by
    CP-SAT: per-pair loads have no transportation bound).
    """
    cost = np.asarray(cost, dtype=np.int64)
    load = np.asarray(load, dtype=np.int64)
    m, n = cost.shape
    if load.shape != (m, n) or np.shape(capacity) != (m,):
        raise ValueError(f"cost and load must both be agents × jobs ({m} × {n}) and capacity one per agent")
    ai = np.repeat(np.arange(n), m)
    aj = np.tile(np.arange(m), n)
    order = np.lexsort((cost[aj, ai], ai))
    ai, aj = ai[order], aj[order]
    jobs = np.array([f"job {i + 1}" for i in range(n)])
    agents = np.array([f"agent {j + 1}" for j in range(m)])
    return ZoneProblem(
        block_ids=jobs,
        block_labels=jobs,
        school_ids=agents,
        school_names=agents,
        students=np.ones(n, dtype=np.int64),
        capacity=np.asarray(capacity, dtype=np.int64),
        scale=1,
        edges=np.zeros((0, 2), dtype=np.int64),
        anchor=np.full(m, -1, dtype=np.int64),
        current=np.full(n, -1, dtype=np.int64),
        block_xy=np.zeros((n, 2)),
        school_xy=np.zeros((m, 2)),
        arc_block=ai,
        arc_school=aj,
        arc_dist_m=cost[aj, ai],
        move_penalty_m=0,
        max_distance_m=None,
        max_moved=None,
        allow_overload=False,
        contiguity=False,
        k=m,
        arc_load=load[aj, ai],
    )


def touching_arcs(sub: ZoneProblem, before: np.ndarray) -> ZoneProblem:
    """Only the arcs to a block's own zone and to the zones it touches: a repair window with the one-piece
    rule then shifts zones along their borders instead of scattering blocks that the cuts must gather."""
    e = sub.edges
    pairs = np.concatenate(
        [
            np.arange(sub.n_blocks) * sub.n_schools + before,
            e[:, 0] * sub.n_schools + before[e[:, 1]],
            e[:, 1] * sub.n_schools + before[e[:, 0]],
        ]
    )
    return sub.keep_arcs(np.isin(sub.arc_block * sub.n_schools + sub.arc_school, pairs))
