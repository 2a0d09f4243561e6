"""Our own incumbents: rounding of the relaxation and local repair (plain numpy, no solver).

CP-SAT may spend a whole time limit in presolve on a large model and come back without a plan; the planner
must still get the best plan we know and its gap.  So the zone solver always keeps an incumbent of its
own, built here:

* :func:`round_flow` sends each block to the school that got most of its children in the transportation
  relaxation (anchor blocks to their own school);
* :func:`repair` then makes zones one piece (a cut-off fragment joins the neighbouring zone it is cheapest
  to join) and relieves over-full schools by handing boundary blocks to neighbouring zones with free seats,
  never cutting the giving zone in two;
* :func:`relieve_seats` takes children out of over-full schools by ejection chains of any length, found
  by a Dijkstra search over schools (``_Ejection.shortest_chain``): in a dense centre full to the last seat
  the free seats can be a dozen zones away.

All are greedy; :func:`violations` says whether a plan satisfies every rule.
"""

from __future__ import annotations

import heapq
import logging
import time
from dataclasses import replace

import numpy as np
from scipy.sparse import csgraph

from ..geo.graph import edges_to_csr
from .problem import ZoneProblem, fmt_children

__all__ = [
    "round_flow",
    "fragments",
    "repair",
    "improve",
    "violations",
    "loads",
    "relieve_seats",
    "first_plan",
    "frugal_penalty_m",
]

log = logging.getLogger(__name__)


def loads(problem: ZoneProblem, assign: np.ndarray) -> np.ndarray:
    """Seats (scaled) taken at each school: its children, or the per-pair loads of the arcs used."""
    if problem.arc_load is None:
        weights = problem.students
    else:
        weights = problem.arc_seats[problem.arc_index(np.arange(problem.n_blocks), assign)]
    return np.bincount(assign, weights=weights, minlength=problem.n_schools).astype(np.int64)


def _unit_cost(problem: ZoneProblem, i: int, j: int) -> float:
    """Cost per child of sending block i to school j (inf when j is not one of i's candidates)."""
    a = int(problem.arc_index(i, j))
    return float(problem.arc_unit_cost[a]) if a >= 0 else np.inf


def _cut_vertices(problem: ZoneProblem, assign: np.ndarray, members: np.ndarray | None = None) -> set[int]:
    """Blocks whose removal would split their zone (articulation points of the zones' subgraphs)."""
    e = problem.edges
    keep = assign[e[:, 0]] == assign[e[:, 1]]
    if members is not None:
        inside = np.zeros(problem.n_blocks, dtype=bool)
        inside[members] = True
        keep &= inside[e[:, 0]]
    return articulation_points(e[keep])


def articulation_points(edges: np.ndarray) -> set[int]:
    """Nodes whose removal disconnects their component of the graph ``edges`` ((E, 2) node ids)."""
    adj: dict[int, list[int]] = {}
    for a, b in edges.tolist():
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, []).append(a)
    return _cuts(adj)


def _cuts(adj: dict[int, list[int]]) -> set[int]:
    """Articulation points of the graph ``adj`` (node -> neighbours): Tarjan's low-point depth-first search,
    iterative, on plain dicts and lists: the zones' graphs are small and many, where building a networkx
    graph (or arrays) for each cost more than the search itself."""
    disc: dict[int, int] = {}
    low: dict[int, int] = {}
    cut: set[int] = set()
    clock = 0
    for root in adj:
        if root in disc:
            continue
        disc[root] = low[root] = clock
        clock += 1
        children = 0
        stack = [(root, -1, iter(adj[root]))]
        while stack:
            v, parent, it = stack[-1]
            for w in it:
                if w not in disc:
                    disc[w] = low[w] = clock
                    clock += 1
                    children += v == root
                    stack.append((w, v, iter(adj[w])))
                    break
                if w != parent and disc[w] < low[v]:
                    low[v] = disc[w]
            else:
                stack.pop()
                if parent >= 0:
                    low[parent] = min(low[parent], low[v])
                    if stack[-1][1] >= 0 and low[v] >= disc[parent]:
                        cut.add(parent)
        if children > 1:
            cut.add(root)
    return cut


def round_flow(problem: ZoneProblem, flows: np.ndarray) -> np.ndarray:
    """Each block to the candidate school with most of its relaxed flow (ties: the cheaper arc)."""
    n = problem.n_blocks
    # arcs are sorted by block then distance: the first arc of a block is its nearest candidate
    order = np.lexsort((problem.arc_dist_m, -flows, problem.arc_block))
    ai = problem.arc_block[order]
    first = np.ones(len(ai), dtype=bool)
    first[1:] = ai[1:] != ai[:-1]
    assign = np.full(n, -1, dtype=np.int64)
    assign[ai[first]] = problem.arc_school[order][first]
    ok = problem.anchor >= 0
    assign[problem.anchor[ok]] = np.flatnonzero(ok)
    return assign


def fragments(problem: ZoneProblem, assign: np.ndarray) -> list[tuple[int, np.ndarray, int]]:
    """Pieces of zones cut off from their zone's main piece: (school j, blocks, a block of the main piece).

    The main piece is the one holding the school's anchor block, or the largest piece of an unanchored zone.
    For an anchored zone whose anchor block went elsewhere, every piece is a fragment (anchor given).
    """
    n = problem.n_blocks
    if n == 0:
        return []  # a window of zones with no blocks (a school with no seats and no children)
    e = problem.edges
    same = assign[e[:, 0]] == assign[e[:, 1]]
    _, label = csgraph.connected_components(edges_to_csr(n, e[same]), directed=False)
    out: list[tuple[int, np.ndarray, int]] = []
    # pieces per school
    pieces: dict[int, list[int]] = {}
    comp_school = np.full(label.max() + 1, -1, dtype=np.int64)
    comp_school[label] = assign
    comp_size = np.bincount(label, weights=problem.students + 1, minlength=label.max() + 1)
    for comp, j in enumerate(comp_school):
        pieces.setdefault(int(j), []).append(comp)
    for j, comps in pieces.items():
        anchor = int(problem.anchor[j])
        if anchor >= 0:
            main = int(label[anchor]) if assign[anchor] == j else -1
            ref = anchor
        else:
            if len(comps) == 1:
                continue
            main = max(comps, key=lambda c: comp_size[c])
            ref = int(np.flatnonzero(label == main)[0])
        for c in comps:
            if c != main:
                out.append((j, np.flatnonzero(label == c), ref))
    return out


def violations(problem: ZoneProblem, assign: np.ndarray) -> list[str]:
    """Rules a full assignment breaks (empty list: a valid plan).  Used to accept incumbents."""
    bad: list[str] = []
    if np.any(assign < 0):
        bad.append("unassigned blocks")
        return bad
    if np.any(problem.arc_index(np.arange(problem.n_blocks), assign) < 0):
        bad.append("a block is assigned outside its candidate schools")
    if not problem.allow_overload and np.any(loads(problem, assign) > problem.capacity):
        bad.append("over capacity")
    if problem.max_moved is not None:
        moved = problem.moved(assign)
        if problem.students[moved].sum() > problem.max_moved:
            bad.append("too many children moved")
    if problem.contiguity and fragments(problem, assign):
        bad.append("a zone is in several pieces")
    return bad


def repair(problem: ZoneProblem, assign: np.ndarray, *, rounds: int = 30, seats: bool = True) -> np.ndarray:
    """Greedy local repair of contiguity and (``seats``) capacity, see the module docstring; a new plan."""
    assign = assign.copy()
    indptr, indices = problem.neighbours
    anchor_of = problem.anchored_school

    for _ in range(rounds):
        changed = False
        if problem.contiguity:
            for j, comp, _ref in fragments(problem, assign):
                pending = set(int(i) for i in comp if anchor_of[i] != j)
                progress = True
                while pending and progress:
                    progress = False
                    for i in sorted(pending):
                        nbr = indices[indptr[i] : indptr[i + 1]]
                        options = {int(assign[u]) for u in nbr if u not in pending and assign[u] != j}
                        costs = [(_unit_cost(problem, i, k2), k2) for k2 in options]
                        costs = [c for c in costs if np.isfinite(c[0])]
                        if costs:
                            assign[i] = min(costs)[1]
                            pending.discard(i)
                            progress = changed = True
        if seats and not problem.allow_overload:
            changed |= _relieve(problem, assign)
        if not changed:
            break
    return assign


def _relieve(problem: ZoneProblem, assign: np.ndarray) -> bool:
    """Move boundary blocks out of over-full zones into neighbouring zones with free seats (in place)."""
    indptr, indices = problem.neighbours
    anchor_of = problem.anchored_school
    changed = False
    load = loads(problem, assign)
    for j in np.flatnonzero(load > problem.capacity):
        while load[j] > problem.capacity[j]:
            members = np.flatnonzero(assign == j)
            cut = _cut_vertices(problem, assign, members) if problem.contiguity else set()
            best = None
            for i in members:
                if anchor_of[i] == j or i in cut or problem.students[i] == 0:
                    continue
                nbr = indices[indptr[i] : indptr[i + 1]]
                for k2 in {int(assign[u]) for u in nbr if assign[u] != j}:
                    if load[k2] + problem.students[i] > problem.capacity[k2]:
                        continue
                    delta = _unit_cost(problem, i, k2) - _unit_cost(problem, i, j)
                    if np.isfinite(delta) and (best is None or delta < best[0]):
                        best = (delta, int(i), k2)
            if best is None:
                break
            _, i, k2 = best
            assign[i] = k2
            load[j] -= problem.students[i]
            load[k2] += problem.students[i]
            changed = True
    return changed


def improve(problem: ZoneProblem, assign: np.ndarray, *, passes: int = 50) -> np.ndarray:
    """Descent on a valid plan: move boundary blocks to a neighbouring zone while that lowers the cost.

    A move keeps every rule: the receiving zone has the seats and the block is adjacent to it (so it stays
    one piece), the block is neither its school's own block nor a cut vertex of its zone (so the giving
    zone stays one piece), and the cap on children moved is respected.  Each pass touches a zone at most
    once, so the cut vertices computed at the start of the pass stay valid.
    """
    assign = assign.copy()
    indptr, indices = problem.neighbours
    anchor_of = problem.anchored_school
    e = problem.edges
    moved_now = int(problem.students[problem.moved(assign)].sum())

    for _ in range(passes):
        load = loads(problem, assign)
        cut = _cut_vertices(problem, assign) if problem.contiguity else set()
        boundary = np.unique(e[assign[e[:, 0]] != assign[e[:, 1]]].ravel())
        moves = []
        for i in boundary.tolist():
            j = int(assign[i])
            if anchor_of[i] == j or i in cut or problem.students[i] == 0:
                continue
            here = _unit_cost(problem, i, j)
            for k2 in {int(assign[u]) for u in indices[indptr[i] : indptr[i + 1]]} - {j}:
                gain = (here - _unit_cost(problem, i, k2)) * problem.students[i]
                if gain > 0:
                    moves.append((-gain, i, j, k2))
        if not moves:
            break
        moves.sort()
        touched: set[int] = set()
        done = 0
        for _gain, i, j, k2 in moves:
            if j in touched or k2 in touched:
                continue
            s_i = problem.students[i]
            if not problem.allow_overload and load[k2] + s_i > problem.capacity[k2]:
                continue
            if problem.max_moved is not None:
                cur = problem.current[i]
                delta = (s_i if cur >= 0 and cur != k2 else 0) - (s_i if cur >= 0 and cur != j else 0)
                if moved_now + delta > problem.max_moved:
                    continue
                moved_now += delta
            assign[i] = k2
            load[j] -= s_i
            load[k2] += s_i
            touched.update((j, k2))
            done += 1
        if done == 0:
            break
    return assign


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
    (a Voronoi city); without it unchanged (2.2 s, 0.8 s): there the array operations per school settled
    dominate, whatever their order.
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
        # where each school's run of moves starts in ``_out[j]``, and the moves as lists (to, delta, size, block)
        self._groups: dict[int, tuple] = {}
        self._cut: dict[int, set[int]] = {}  # cut vertices per zone, dropped when the zone changes
        self._pos = np.arange(len(p.arc_block) + 1)
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

    def _inside(self, b: int, j: int) -> list[int]:
        """Neighbours of block b in zone j."""
        owner = self.owner
        return [u for u in self._nbr[self._ptr[b] : self._ptr[b + 1]] if owner[u] == j]

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
            self._groups[j] = (np.flatnonzero(first), to.tolist(), delta.tolist(), size.tolist(), i.tolist())
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
        Returns (cost in child-metres, [(block, from school, to school), …]), or (inf, []) when none is found.

        Each school settled costs a fixed handful of array operations on its zone's moves (kept sorted by
        the school they go to, so the cheapest move to each is the first of its run: ``np.minimum.reduceat``).
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
        settled = [False] * m
        # the seats a move into each school may take to end a chain there: -1 once the school is passed
        gate = self.free.copy()
        best[s], short[s] = 0.0, need
        end_cost, end = np.inf, None  # the cheapest chain found that ends: (last block, its school, to)
        heap = [(0.0, s)]
        free, pos = self.free, self._pos
        contiguity = p.contiguity
        heappop, heappush = heapq.heappop, heapq.heappush
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
            i, to, delta, size = self.moves(j)
            n = len(i)
            if not n:
                continue
            starts, to_l, delta_l, size_l, i_l = self._groups[j]
            ok = size >= short[j]  # (moves into passed schools drop out below: by ``gate``, by ``settled``)
            if contiguity and j != s:
                # the block that came in must keep a neighbour in the zone after the next one leaves
                inside = self._inside(via_block[j], j)
                if len(inside) == 1:
                    ok &= i != inside[0]
            fits = ok & (size <= gate[to])
            # the cheapest move that ends a chain here (the first of the cheapest; inf where none fits)
            ends = np.where(fits, delta, np.inf)
            f = int(ends.argmin())
            if cost + ends[f] < end_cost:
                end_cost, end = cost + delta_l[f], (i_l[f], j, to_l[f])
            # the cheapest move that does not fit, to each school: the first of its run (moves are sorted so)
            hop = hops[j] + 1
            firsts = np.minimum.reduceat(np.where(ok ^ fits, pos[:n], n), starts).tolist()
            for t in firsts:
                if t == n:
                    continue
                k = to_l[t]
                total = cost + delta_l[t]
                if total < best[k] and not settled[k]:
                    best[k], short[k], hops[k] = total, size_l[t] - int(free[k]), hop
                    via_block[k], via_school[k] = i_l[t], j
                    heappush(heap, (total, k))
        if end is None:
            return np.inf, []
        chain = [end]
        j = end[1]
        while j != s:
            frm = via_school[j]
            chain.append((via_block[j], frm, j))
            j = frm
        return end_cost, chain[::-1]

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
    and never splits the zone it leaves; a chain that still cuts a zone is undone.  Returns a new plan.
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
        _cost, chain = ej.shortest_chain(j, int(over[j]), depth=depth)
        if not chain:  # no block takes the whole excess along: a part of it
            _cost, chain = ej.shortest_chain(j, 1, depth=depth)
        if not chain:
            stuck.add(j)
            continue
        ej.apply(chain)
        if p.contiguity:
            touched = {a for _i, a, b in chain} | {b for _i, a, b in chain}
            if not all(ej.connected(z) for z in touched):  # a later link cut a zone an earlier one changed
                ej.apply([(i, b, a) for i, a, b in reversed(chain)])
                stuck.add(j)
                continue
        progress = True
    return ej.assign


# ------------------------------------------------------------------------------------------- the first plan


#: Share of the remaining time the first plan's ejection chains may take at most (they need 0.1-4 s on
#: the 50,000-block cities, where a 60 s limit gives them 15 s; with 10 % of the seats removed and overload
#: allowed, every seat is taken and most chains fail: they stop at this share and the windows go on).
CHAINS_SHARE = 0.25


def first_plan(problem: ZoneProblem, flow, deadline: float, rounded: np.ndarray | None = None) -> np.ndarray:
    """Round the relaxation, join cut-off pieces to a zone they touch (with the one-piece rule), then take
    children out of over-full schools by ejection chains.  Whatever the chains cannot place is left to the
    repair windows (measured on the 50,000-block cities at 5 % slack: chains of any length leave one or two
    schools over with the one-piece rule and none without; re-solving the relaxation without the seats it
    overfilled, as this step once did after three-move chains, took 5-6 s more and placed none of it).
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
    over = int(np.maximum(0, loads(p, assign) - p.capacity).sum())
    log.info(
        "rounding and ejection chains: %s children over seats left (%.2f s)",
        fmt_children(over, p.scale),
        time.perf_counter() - t0,
    )
    return assign


def frugal_penalty_m(p: ZoneProblem) -> int:
    """Metres a move costs when moves come first: more than any trip, less than a child over seats."""
    return min(10 * int(p.arc_dist_m.max(initial=0)) + 1_000, p.overload_penalty_m // 10)
