"""Ejection chains: children taken out of over-full schools, and the first plan built with them.

:func:`relieve_seats` moves a block to a candidate school with the seats, or to one without them that in
turn moves out a block at least as large as it lacks, and so on, the cheapest chain in child-metres first,
found by a Dijkstra search over schools (``_Ejection.shortest_chain``): in a dense centre full to the last
seat the free seats can be a dozen zones away.  What no chain takes out is pushed (:func:`_push`).
:func:`first_plan` rounds the relaxation (``start.round_flow``), joins cut-off pieces (``start.repair``)
and runs the chains.  The rounding and the one-piece repair are in :mod:`.start`; the search
(:mod:`.search`) runs the chains again between its windows.
"""

from __future__ import annotations

import heapq
import logging
import time
from dataclasses import replace

import numpy as np

from .problem import ZoneProblem, fmt_children
from .start import _cut_vertices, _cuts, loads, repair, round_flow

__all__ = ["relieve_seats", "first_plan"]

log = logging.getLogger(__name__)


#: Widest neighbourhood (most neighbours of a block) for which the chains keep every block's neighbours as
#: one padded row (``_Ejection._pad``: 4 bytes a block and column).
PAD_NEIGHBOURS = 32


class _Ejection:
    """Chains of block moves that take children out of over-full schools (see :func:`relieve_seats`).

    Hundreds of chains each settle a hundred-odd schools, so the state is kept where each step reads it
    cheapest: the free seats of every school as one array (``free``), each zone's moves also as lists
    (``_groups``), and, with the one-piece rule, the adjacency and each block's school as plain lists, on
    which the zones' cut vertices and the one-piece checks walk a few dozen blocks without building arrays,
    and the neighbours as one padded row per block (``_pad``).  Measured on the 50,000-block cities at 5 %
    slack (the same plans as before, block for block; CPU seconds of the first plan's chains, load 2-3 on
    2 cores): with the one-piece rule 3.7-5.2 -> 2.4 s (``benchmarks/city.py`` medium-5) and 2.1-2.3 -> 1.3-1.4 s
    (a Voronoi city); without it unchanged (2.2 s, 0.8 s).  With a zone's moves read as lists, run by run
    (``shortest_chain``), 1.8 s instead of 2.4-2.9 s with the rule (same plans, load 1-3), no slower without.
    """

    def __init__(self, problem: ZoneProblem, assign: np.ndarray):
        p = self.p = problem
        self.assign = assign
        self.load = loads(p, assign)
        self.free = p.capacity - self.load  # seats left at each school (negative: over)
        self.here = p.arc_unit_cost[p.arc_index(np.arange(p.n_blocks), assign)]
        order = np.argsort(assign, kind="stable")
        cut = np.searchsorted(assign[order], np.arange(p.n_schools + 1))
        self.zone = {j: set(order[cut[j] : cut[j + 1]].tolist()) for j in range(p.n_schools)}
        self._out: dict[int, tuple] = {}
        # each zone's runs of moves by school moved to, (school, first, end) in ``_out[j]``, and (delta, size, block)
        self._groups: dict[int, tuple] = {}
        self._cut: dict[int, set[int]] = {}  # cut vertices per zone, dropped when the zone changes
        self.closed: tuple[int, ...] = ()  # schools no chain may pass (``_push``)
        self.cycles = False  # a chain may end in the school it starts from (``search._descend``)
        if p.contiguity:
            indptr, indices = p.neighbours
            self._ptr, self._nbr = indptr.tolist(), indices.tolist()
            self.owner = assign.tolist()  # the school of each block, as a list (kept with ``assign``)
            self._mark = np.zeros(p.n_blocks, dtype=bool)
            # the neighbours of each block as a row padded with a block -1 of school -1 (``_zone_of[-1]``), so
            # that the zones a block touches are one gather; not where a block has very many neighbours
            deg = np.diff(indptr)
            width = int(deg.max(initial=0))
            self._pad = None
            if 0 < width <= PAD_NEIGHBOURS:
                pad = np.full((p.n_blocks, width), -1, dtype=np.int32)
                pad[
                    np.repeat(np.arange(p.n_blocks), deg),
                    np.arange(len(indices)) - np.repeat(indptr[:-1], deg),
                ] = indices
                self._pad = pad
            self._zone_of = np.append(assign, -1)  # the school of each block, and -1 for the padding

    def _zone_cuts(self, j: int) -> set[int]:
        """Cut vertices of zone j (its graph walked on the lists)."""
        owner, ptr, nbr = self.owner, self._ptr, self._nbr
        return _cuts({b: [u for u in nbr[ptr[b] : ptr[b + 1]] if owner[u] == j] for b in self.zone[j]})

    def _movable(self, j: int) -> np.ndarray:
        """Blocks of zone j that may leave it (not its school's own block, not splitting it)."""
        p = self.p
        blocks = np.fromiter(self.zone[j], dtype=np.int64, count=len(self.zone[j]))
        blocks = blocks[(p.anchored_school[blocks] != j) & (p.students[blocks] > 0)]
        if p.contiguity and len(blocks):
            cut = self._cut.get(j)
            if cut is None:
                cut = self._cut[j] = self._zone_cuts(j)
            if cut:  # (marked in a scratch array: np.isin on a few dozen blocks costs more)
                cut = list(cut)
                self._mark[cut] = True
                blocks = blocks[~self._mark[blocks]]
                self._mark[cut] = False
        return blocks

    def connected(self, j: int) -> bool:
        """Is zone j in one piece?  (A walk from one of its blocks along the lists.)"""
        members = self.zone[j]
        if len(members) <= 1:
            return True
        owner, ptr, nbr = self.owner, self._ptr, self._nbr
        b = next(iter(members))
        seen = {b}
        stack = [b]
        while stack:
            b = stack.pop()
            for u in nbr[ptr[b] : ptr[b + 1]]:
                if owner[u] == j and u not in seen:
                    seen.add(u)
                    stack.append(u)
        return len(seen) == len(members)

    def _moves(self, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(block, to school, cost change) of every single move out of zone j."""
        p = self.p
        blocks = self._movable(j)
        if not len(blocks):
            return (np.zeros(0, dtype=np.int64),) * 2 + (np.zeros(0),)
        arcs = p.block_arcs(blocks)
        i = p.arc_block[arcs]
        k = p.arc_school[arcs]
        keep = k != j
        if p.contiguity and self._pad is not None:  # only into a zone the block touches
            keep &= (self._zone_of[self._pad[i]] == k[:, None]).any(axis=1)
        elif p.contiguity:
            indptr, indices = p.neighbours
            deg = indptr[blocks + 1] - indptr[blocks]
            src = np.repeat(blocks, deg)
            dst = indices[np.arange(deg.sum()) + np.repeat(indptr[blocks] - np.cumsum(deg) + deg, deg)]
            touching = np.unique(src * p.n_schools + self.assign[dst])
            key = i * p.n_schools + k
            if len(touching):
                keep &= touching[np.minimum(np.searchsorted(touching, key), len(touching) - 1)] == key
            else:
                keep[:] = False
        i, k, arcs = i[keep], k[keep], arcs[keep]
        delta = (p.arc_unit_cost[arcs] - self.here[i]) * p.students[i]
        return i, k, delta.astype(float)

    def moves(self, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(block, to school, cost change, children) of every single move out of zone j, by school and then
        cost change (cached until the zone or, with the one-piece rule, a zone around it changes)."""
        cached = self._out.get(j)
        if cached is None:
            i, to, delta = self._moves(j)
            order = np.lexsort((delta, to))
            i, to, delta = i[order], to[order], delta[order]
            size = self.p.students[i]
            cached = self._out[j] = (i, to, delta, size)
            first = np.ones(len(to), dtype=bool)
            first[1:] = to[1:] != to[:-1]
            starts = np.flatnonzero(first)
            runs = list(zip(to[starts].tolist(), starts.tolist(), [*starts[1:].tolist(), len(to)]))
            self._groups[j] = (runs, delta.tolist(), size.tolist(), i.tolist())
        return cached

    def shortest_chain(self, s: int, need: int, *, depth: int | None = None) -> tuple[float, list]:
        """Cheapest chain of moves taking at least ``need`` children out of school ``s``.

        A chain moves block b1 out of s to school j1; if j1 lacks room for it, a block b2 of j1 at least as
        large as the shortfall moves on to j2, and so on until a school has the room.  Chains are grown in
        Dijkstra order over schools (one label per school: its cheapest chain so far and the shortfall it
        leaves there); a move that fits where it goes ends a chain, and the cheapest ending found so far is
        returned as soon as nothing cheaper is left to expand (a heuristic: a dearer chain with a smaller
        shortfall is not kept beside the cheapest, and moves that shorten a trip make some links negative).
        At most ``depth`` moves (None: any number).  A school is passed at most once.
        With ``cycles`` a chain may also end back in s, in the seats its first block left there.  Returns
        (cost in child-metres, [(block, from school, to school), …]), or (inf, []) when none is found.

        A zone's moves are kept as lists in runs by the school they go to, each run by cost change, so a school
        settled reads the first move of each run that takes enough along (and skips runs into passed schools).
        """
        p = self.p
        m = p.n_schools
        # per school, as plain lists (read and written one school at a time): the cheapest chain so far,
        # the children it leaves over there, its moves, and (block moved in, school it came from)
        best = [np.inf] * m
        short = [0] * m
        hops = [0] * m
        via_block = [-1] * m
        via_school = [-1] * m
        first = [0] * m  # the children of the chain's first block
        settled = [False] * m
        # the seats a move into each school may take to end a chain there: -1 once the school is passed
        free = self.free.tolist()
        gate = free.copy()
        for z in self.closed:  # schools no chain may pass (``_push``)
            settled[z], gate[z] = True, -1
        best[s], short[s] = 0.0, need
        end_cost, end = np.inf, None  # the cheapest chain found that ends: (last block, its school, to)
        heap = [(0.0, s)]
        contiguity = p.contiguity
        heappop, heappush = heapq.heappop, heapq.heappush
        moves, groups = self.moves, self._groups
        if contiguity:
            owner, ptr, nbr = self.owner, self._ptr, self._nbr
        while heap:
            cost, j = heappop(heap)
            if cost >= end_cost:
                break
            if cost > best[j] or settled[j]:
                continue
            settled[j] = True
            gate[j] = -1
            if depth is not None and hops[j] >= depth:
                continue
            if j not in groups:
                moves(j)
            runs, delta_l, size_l, i_l = groups[j]
            need_j = short[j]  # a move out of j takes at least this many children along
            banned = -1
            if contiguity and j != s:
                # the block that came in must keep a neighbour in the zone after the next one leaves
                b = via_block[j]
                inside = [u for u in nbr[ptr[b] : ptr[b + 1]] if owner[u] == j]
                if len(inside) == 1:
                    banned = inside[0]
            hop = hops[j] + 1
            # per school moved to (runs of moves by cost change): the first move that fits there may end
            # the chain, the first that does not (taking enough along) may go on from there
            for k, lo, hi in runs:
                room, end_here, hop_here = gate[k], False, settled[k]
                if hop_here:  # passed: only a cycle back into s, in the seats its first block left
                    if k != s or not self.cycles or j == s:
                        continue
                    room = free[s] + first[j]
                for t in range(lo, hi):
                    size = size_l[t]
                    if size < need_j or i_l[t] == banned:
                        continue
                    if size <= room:
                        if not end_here:
                            end_here = True
                            if cost + delta_l[t] < end_cost:
                                end_cost, end = cost + delta_l[t], (i_l[t], j, k)
                    elif not hop_here:
                        hop_here = True
                        total = cost + delta_l[t]
                        if total < best[k]:
                            best[k], short[k], hops[k] = total, size - free[k], hop
                            first[k] = size if j == s else first[j]
                            via_block[k], via_school[k] = i_l[t], j
                            heappush(heap, (total, k))
                    if end_here and hop_here:
                        break
        if end is None:
            return np.inf, []
        chain = [end]
        j = end[1]
        while j != s:
            frm = via_school[j]
            chain.append((via_block[j], frm, j))
            j = frm
        return end_cost, chain[::-1]

    def relieve(self, j: int, depth: int | None = None) -> list:
        """Apply the cheapest chain taking children out of school j: its whole excess where one block can take
        it along, else a part of it.  Returns the moves applied (none: no chain, or it cut a zone)."""
        _cost, chain = self.shortest_chain(j, int(self.load[j] - self.p.capacity[j]), depth=depth)
        if not chain:  # no block takes the whole excess along: a part of it
            _cost, chain = self.shortest_chain(j, 1, depth=depth)
        return chain if chain and self.apply_whole(chain) else []

    def apply_whole(self, chain: list) -> bool:
        """Apply a chain; undone if a later link cut a zone an earlier one changed.  True if it stands."""
        self.apply(chain)
        if self.p.contiguity:
            touched = {a for _i, a, b in chain} | {b for _i, a, b in chain}
            if not all(self.connected(z) for z in touched):
                self.undo(chain)
                return False
        return True

    def undo(self, chain: list) -> None:  # the chain's blocks back, last link first
        self.apply([(i, b, a) for i, a, b in reversed(chain)])

    def apply(self, chain: list) -> None:
        p = self.p
        indptr, indices = p.neighbours
        for i, j, k in chain:
            for cache in (self._out, self._groups, self._cut):
                cache.pop(j, None)
                cache.pop(k, None)
            if p.contiguity:  # the zones around the block now touch another zone
                for z in set(self.assign[indices[indptr[i] : indptr[i + 1]]].tolist()):
                    self._out.pop(z, None)
                    self._groups.pop(z, None)
                self.owner[i] = k
                self._zone_of[i] = k
            self.assign[i] = k
            self.load[j] -= p.students[i]
            self.load[k] += p.students[i]
            self.free[j] += p.students[i]
            self.free[k] -= p.students[i]
            self.here[i] = p.arc_unit_cost[p.arc_index(i, k)]
            self.zone[j].discard(i)
            self.zone[k].add(i)


#: Passes over the schools that no chain could relieve (each after chains elsewhere changed the zones).
RELIEF_PASSES = 3


def relieve_seats(
    problem: ZoneProblem, assign: np.ndarray, *, depth: int | None = None, deadline: float = np.inf
) -> np.ndarray:
    """Take children out of over-full schools by ejection chains (``_Ejection.shortest_chain``).

    A block moves to a candidate school with the seats, or to one without them that in turn moves out a
    block at least as large as it lacks, and so on, the cheapest chain in child-metres first (at most
    ``depth`` moves; None: as long as it takes to reach free seats, which in a dense centre full to the
    last seat can be a dozen schools away).  A school over by more than any chain can take out at once gives
    up its children a block at a time.  With the one-piece rule a block only moves into a zone it touches
    and never splits the zone it leaves; a chain that still cuts a zone is undone.  What no chain takes out
    is pushed (:func:`_push`; not with ``depth``).  Returns a new plan.
    """
    p = problem
    ej = _Ejection(p, assign.copy())
    # with overload allowed, a child over seats still costs the overload price, far above any chain
    stuck: set[int] = set()
    progress = False  # since the schools in ``stuck`` were set aside
    passes = 1
    while time.perf_counter() < deadline:
        over = ej.load - p.capacity
        over[list(stuck)] = 0
        if not (over > 0).any():
            if not (stuck and progress) or passes >= RELIEF_PASSES:
                break
            stuck.clear()  # chains elsewhere changed the zones around them: try them again
            progress = False
            passes += 1
            continue
        j = int(np.argmax(over))
        if ej.relieve(j, depth):
            progress = True
        else:
            stuck.add(j)
    if depth is None and stuck:
        _push(ej, deadline)
    return ej.assign


#: Chains that may relieve the school a block was pushed into (``_push``).
PUSH_CHAINS = 40


def _push(ej: _Ejection, deadline: float) -> None:
    """Schools no chain relieves: a block of theirs is pushed into a zone it touches that lacks the seats for it,
    and that school relieved by chains (none passing the pusher); kept when fewer children are over seats in
    all, undone otherwise, the cheapest push first.  A small zone of a few large blocks in a dense centre is
    stuck where its neighbours each have fewer free seats than a block and no block of theirs is as large as
    the shortfall (a chain moves one block a school).  Measured on the 50,000-block city at 5 % slack with one
    piece per zone: the chains left 72 children over seats at 4 such schools (zones of 3-8 blocks of 38-69
    children); pushes took them all out in 0.1 s, where CP-SAT's repair windows took 1.2-3.5 s."""
    p = ej.p
    for s in np.flatnonzero(ej.load > p.capacity).tolist():
        while ej.load[s] > p.capacity[s]:
            i, to, delta, _size = ej.moves(s)
            before = np.maximum(0, ej.load - p.capacity).sum()
            for q in np.argsort(delta, kind="stable").tolist():
                if time.perf_counter() >= deadline:
                    return
                k = int(to[q])
                done = [(int(i[q]), s, k)]
                ej.apply(done)
                ej.closed = (s,)
                for _ in range(PUSH_CHAINS):
                    if ej.load[k] <= p.capacity[k]:
                        break
                    chain = ej.relieve(k)
                    if not chain:
                        break
                    done += chain
                ej.closed = ()
                if np.maximum(0, ej.load - p.capacity).sum() < before:
                    break
                ej.undo(done)
            else:
                break  # no push takes children out of s


# ------------------------------------------------------------------------------------------- the first plan


#: Share of the remaining time the first plan's ejection chains may take at most (they need 0.1-4 s on
#: the 50,000-block cities, where a 60 s limit gives them 15 s; with 10 % of the seats removed and overload
#: allowed, every seat is taken and most chains fail: they stop at this share and the windows go on).
CHAINS_SHARE = 0.25


def first_plan(problem: ZoneProblem, flow, deadline: float, rounded: np.ndarray | None = None) -> np.ndarray:
    """Round the relaxation, join cut-off pieces to a zone they touch (with the one-piece rule), then take
    children out of over-full schools by ejection chains and pushes (:func:`relieve_seats`); whatever they
    cannot place is left to the repair windows (re-solving the relaxation without the seats it overfilled,
    as this step once did, took 5-6 s more on the 50,000-block city at 5 % slack and placed none of it).
    ``rounded``: the rounded relaxation, when the caller has it already."""
    p = problem
    t0 = time.perf_counter()
    assign = round_flow(p, flow.flows) if rounded is None else rounded.copy()
    if p.contiguity:
        assign = repair(p, assign, seats=False)
    # where the relaxation itself overloads a school (overload allowed), its overload there is room too
    seats = replace(p, capacity=p.capacity + flow.overload) if flow.overload.any() else p
    now = time.perf_counter()
    assign = relieve_seats(seats, assign, deadline=min(deadline, now + CHAINS_SHARE * (deadline - now)))
    if flow.overload.any():
        # the relaxation's overload sits where its fractions put it; whole blocks and one-piece zones leave
        # more: chains to the real seats take out what they can (South Portland with Skillin closed: 124
        # children over seats after the first pass, 32 are unavoidable)
        now = time.perf_counter()
        assign = relieve_seats(p, assign, deadline=min(deadline, now + CHAINS_SHARE * (deadline - now)))
    if p.contiguity and not p.allow_overload and _hand_over_connectors(p, assign):
        # a zone with free seats now touches an over-full one across a bridge: the chains again
        now = time.perf_counter()
        assign = relieve_seats(p, assign, deadline=min(deadline, now + CHAINS_SHARE * (deadline - now)))
    over = int(np.maximum(0, loads(p, assign) - p.capacity).sum())
    log.info(
        "rounding and ejection chains: %s children over seats left (%.2f s)",
        fmt_children(over, p.scale),
        time.perf_counter() - t0,
    )
    return assign


def _hand_over_connectors(p: ZoneProblem, assign: np.ndarray) -> bool:
    """Blocks without children (a bridge, a park) of an over-full zone that also touch a zone with free seats
    go to that zone when the over-full one stays in one piece without them (in place); True when one moved.

    The chains move blocks that take children out, so a block without any never moves, and where it is the
    only way between two zones (a bridge over a river), no zone with free seats ever reaches the over-full
    one: a strip cut along its length by a river two bridge blocks cross (``benchmarks/river_bridges.py``)
    kept its north's two schools 1,060 children over their seats, with seats to spare south of the river."""
    free = p.capacity - loads(p, assign)
    over = free < 0
    if not over.any():
        return False
    indptr, indices = p.neighbours
    anchor_of = p.anchored_school
    moved = False
    cuts: dict[int, set[int]] = {}  # an over-full zone's cut vertices, found again once it gave a block
    for b in np.flatnonzero((p.students == 0) & over[assign] & (anchor_of < 0)):
        j = int(assign[b])
        nbr = indices[indptr[b] : indptr[b + 1]]
        roomy = [int(k) for k in np.unique(assign[nbr]) if k != j and free[k] > 0 and p.arc_index(b, k) >= 0]
        if not roomy:
            continue
        if j not in cuts:
            cuts[j] = _cut_vertices(p, assign, np.flatnonzero(assign == j))
        if b in cuts[j]:
            continue
        assign[b] = max(roomy, key=lambda k: free[k])
        cuts.pop(j)
        moved = True
    return moved
