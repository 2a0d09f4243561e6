"""Candidate arcs: which schools a block may go to, and how far each is, by straight line or by road.

A block's candidates are its ``k`` nearest schools by straight line (:func:`candidate_arcs`, within the
maximum distance), plus the arcs it must have (its current school, the school standing in it, a locked
school).  By road (:func:`road_arcs`) an arc keeps its road distance; an arc no road joins is dropped,
except those that must stay, which take the straight line: a school's own block (the network may not reach
into it), a block locked to the school (a scenario's lock, or a given plan measured as drawn) and a block
of no children beyond every school's reach (``empty_far``: no child travels from it).  By road, the ``k``
nearest by road are kept among twice as many by straight line (:func:`nearest_by_road`; a road trip is
never shorter than the straight line).

Functions of plain arrays and of :class:`~zoning.zones.problem.ZoneProblem`'s fields; the problem type
calls them (``ZoneProblem.with_arcs``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

from ..errors import InfeasibleError

if TYPE_CHECKING:
    from .problem import ZoneProblem

__all__ = ["candidate_arcs", "straight_m", "by_reach", "road_arcs", "nearest_by_road"]

log = logging.getLogger(__name__)


def straight_m(block_xy: np.ndarray, school_xy: np.ndarray, ai: np.ndarray, aj: np.ndarray) -> np.ndarray:
    """Straight-line metres of the arcs (ai, aj), rounded to whole metres."""
    return np.rint(np.hypot(*(block_xy[ai] - school_xy[aj]).T)).astype(np.int64)


def by_reach(free: np.ndarray, max_distance_m: float | None) -> Iterator[tuple[np.ndarray, float | None]]:
    """(mask, limit) for the blocks the maximum distance binds (``free`` False: ``max_distance_m``) and for
    those it does not (``free`` True, ``empty_far``: no limit), each only when it has a block."""
    for far in (False, True):
        mask = free == far
        if mask.any():
            yield mask, None if far else max_distance_m


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
    if n == 0 or m == 0:
        empty = np.zeros(0, dtype=np.int64)
        ai, aj = (empty, empty) if must is None else (np.asarray(must[0]), np.asarray(must[1]))
        pairs = np.unique(np.stack([ai, aj], axis=1).astype(np.int64).reshape(-1, 2), axis=0)
        return pairs[:, 0], pairs[:, 1]
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


def road_arcs(p: ZoneProblem, ai: np.ndarray, aj: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ai, aj, rounded road metres) of the arcs travellable by road within the maximum distance, and of
    those that must stay (see the module docstring), at the straight line where no road joins them.  Arcs
    already in ``p`` keep their distance (no shortest paths run again)."""
    dist = np.full(len(ai), np.inf)
    known = p.arc_index(ai, aj)
    dist[known >= 0] = p.arc_dist_m[known[known >= 0]]
    new = known < 0
    free = np.zeros(len(ai), dtype=bool) if p.empty_far is None else p.empty_far[ai]
    for mask, limit in by_reach(free[new], p.max_distance_m):
        ask = np.flatnonzero(new)[mask]
        dist[ask] = p.roads.distances(p.block_xy, p.school_xy, ai[ask], aj[ask], cutoff_m=limit)
    own = (p.anchor[aj] == ai) | free
    if p.locked is not None:
        own |= p.locked[ai] == aj
    missing = own & ~np.isfinite(dist)
    dist[missing] = straight_m(p.block_xy, p.school_xy, ai[missing], aj[missing])
    keep = np.isfinite(dist) | own
    if p.max_distance_m is not None:
        keep &= (dist <= p.max_distance_m) | own
    return ai[keep], aj[keep], np.rint(dist[keep]).astype(np.int64)


def nearest_by_road(problem: ZoneProblem, must: tuple[np.ndarray, np.ndarray]) -> ZoneProblem:
    """Keep the k nearest schools by road of every block (and the ``must`` arcs); give blocks left with no
    candidate the schools on their piece of the network; name the blocks no road joins to any school."""
    p = problem
    rank = np.arange(len(p.arc_block)) - p.arc_start[p.arc_block]
    keep = (rank < p.k) | np.isin(p.arc_block * p.n_schools + p.arc_school, must[0] * p.n_schools + must[1])
    p = replace(p, arc_block=p.arc_block[keep], arc_school=p.arc_school[keep], arc_dist_m=p.arc_dist_m[keep])

    bare = np.setdiff1d(np.arange(p.n_blocks), p.arc_block)
    if not len(bare):
        return p
    block_piece = p.roads.component_of(p.roads.snap(p.block_xy[bare]))
    school_piece = p.roads.component_of(p.roads.snap(p.school_xy))
    # a block of no children is given the nearest schools by straight line after this (``empty_far``)
    stranded = ~np.isin(block_piece, school_piece) & (p.students[bare] > 0)
    if stranded.any():
        names = p.block_labels[bare[stranded]]
        shown = ", ".join(names[:10]) + (f", … and {len(names) - 10} more" if len(names) > 10 else "")
        raise InfeasibleError(
            [f"{len(names)} block(s) cannot reach any school on the road network: {shown}"],
            [
                "check the road network is connected there (a missing bridge or a gap between lines), "
                "or plan without roads (leave out --roads)"
            ],
            rule="roads",
        )
    # schools on the block's piece of the network, the nearest by straight line first
    extra_i, extra_j = [], []
    for i, piece in zip(bare, block_piece):
        js = np.flatnonzero(school_piece == piece)
        d = np.hypot(*(p.school_xy[js] - p.block_xy[i]).T)
        js = js[np.argsort(d, kind="stable")[: 2 * p.k]]
        extra_i.append(np.full(len(js), i))
        extra_j.append(js)
    log.info(
        "%d block(s) reach none of their nearest schools by road: trying schools further away", len(bare)
    )
    return p.with_arcs(np.concatenate([p.arc_block, *extra_i]), np.concatenate([p.arc_school, *extra_j]))
