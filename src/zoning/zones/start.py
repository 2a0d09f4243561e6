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
from .bound import transport_bound
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
    "stay_start",
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
    """Nodes whose removal disconnects their component of the graph ``edges`` ((E, 2) node ids).

    Tarjan's low-point depth-first search, iterative, on plain lists: the zones' graphs are small and
    many, where building a networkx graph for each cost more than the search itself.
    """
    if not len(edges):
        return set()
    nodes, flat = np.unique(edges, return_inverse=True)
    flat = flat.reshape(-1, 2)
    n = len(nodes)
    adj: list[list[int]] = [[] for _ in range(n)]
    for a, b in flat.tolist():
        adj[a].append(b)
        adj[b].append(a)
    disc = [-1] * n
    low = [0] * n
    cut = [False] * n
    clock = 0
    for root in range(n):
        if disc[root] >= 0:
            continue
        disc[root] = low[root] = clock
        clock += 1
        children = 0
        stack = [(root, -1, iter(adj[root]))]
        while stack:
            v, parent, it = stack[-1]
            w = next(it, None)
            if w is None:
                stack.pop()
                if parent >= 0:
                    low[parent] = min(low[parent], low[v])
                    if stack[-1][1] >= 0 and low[v] >= disc[parent]:
                        cut[parent] = True
                continue
            if disc[w] < 0:
                disc[w] = low[w] = clock
                clock += 1
                if v == root:
                    children += 1
                stack.append((w, v, iter(adj[w])))
            elif w != parent:
                low[v] = min(low[v], disc[w])
        cut[root] = children > 1
    return set(nodes[np.flatnonzero(cut)].tolist())


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


class _Ejection:
    """Chains of block moves that take children out of over-full schools (see :func:`relieve_seats`)."""

    def __init__(self, problem: ZoneProblem, assign: np.ndarray):
        p = self.p = problem
        self.assign = assign
        self.load = loads(p, assign)
        self.here = p.arc_unit_cost[p.arc_index(np.arange(p.n_blocks), assign)]
        order = np.argsort(assign, kind="stable")
        cut = np.searchsorted(assign[order], np.arange(p.n_schools + 1))
        self.zone = {j: set(order[cut[j] : cut[j + 1]].tolist()) for j in range(p.n_schools)}
        self._out: dict[int, tuple] = {}
        self._cut: dict[int, set[int]] = {}  # cut vertices per zone, dropped when the zone changes

    def room(self, k) -> np.ndarray:
        return self.p.capacity[k] - self.load[k]

    def _movable(self, j: int) -> np.ndarray:
        """Blocks of zone j that may leave it (not its school's own block, not splitting it)."""
        p = self.p
        blocks = np.fromiter(self.zone[j], dtype=np.int64, count=len(self.zone[j]))
        blocks = blocks[(p.anchored_school[blocks] != j) & (p.students[blocks] > 0)]
        if p.contiguity and len(blocks):
            cut = self._cut.get(j)
            if cut is None:
                cut = self._cut[j] = articulation_points(self._zone_edges(j))
            blocks = blocks[~np.isin(blocks, list(cut))]
        return blocks

    def _zone_edges(self, j: int) -> np.ndarray:
        """Edges of the block graph inside zone j (found from the zone's own blocks, not all edges)."""
        indptr, indices = self.p.neighbours
        members = np.fromiter(self.zone[j], dtype=np.int64, count=len(self.zone[j]))
        deg = indptr[members + 1] - indptr[members]
        src = np.repeat(members, deg)
        dst = indices[np.arange(deg.sum()) + np.repeat(indptr[members] - np.cumsum(deg) + deg, deg)]
        inside = self.assign[dst] == j
        return np.stack([src[inside], dst[inside]], axis=1)

    def connected(self, j: int) -> bool:
        """Is zone j in one piece?"""
        members = self.zone[j]
        if len(members) <= 1:
            return True
        e = self._zone_edges(j)
        if len(e) < 2 * (len(members) - 1):  # each edge is there both ways
            return False
        # union-find on plain ints: zones are small, and a sparse matrix per check cost more than the check
        parent = {b: b for b in members}

        def root(b):
            while parent[b] != b:
                parent[b] = parent[parent[b]]
                b = parent[b]
            return b

        pieces = len(members)
        for a, b in e.tolist():
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[ra] = rb
                pieces -= 1
        return pieces == 1

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
        if p.contiguity:  # only into a zone the block touches
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
            cached = self._out[j] = (i, to, delta, self.p.students[i])
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
        """
        p = self.p
        m = p.n_schools
        best = np.full(m, np.inf)
        short = np.zeros(m, dtype=np.int64)  # children a chain ending at the school leaves over there
        hops = np.zeros(m, dtype=np.int64)
        via = np.full((m, 2), -1, dtype=np.int64)  # (block moved in, school it came from)
        settled = np.zeros(m, dtype=bool)
        best[s], short[s] = 0.0, need
        end_cost, end = np.inf, None  # the cheapest chain found that ends: (last block, its school, to)
        heap = [(0.0, s)]
        indptr, indices = p.neighbours
        while heap:
            cost, j = heapq.heappop(heap)
            if cost >= end_cost:
                break
            if settled[j] or cost > best[j]:
                continue
            settled[j] = True
            if depth is not None and hops[j] >= depth:
                continue
            i, to, delta, size = self.moves(j)
            ok = (size >= short[j]) & ~settled[to]
            if p.contiguity and j != s:
                # the block that came in must keep a neighbour in the zone after the next one leaves
                came = via[j, 0]
                inside = indices[indptr[came] : indptr[came + 1]]
                inside = inside[self.assign[inside] == j]
                if len(inside) == 1:
                    ok &= i != inside[0]
            t = np.flatnonzero(ok)
            if not len(t):
                continue
            fits = size[t] <= self.room(to[t])
            if fits.any():  # the cheapest move that ends a chain here
                f = t[fits][np.argmin(delta[t[fits]])]
                if cost + delta[f] < end_cost:
                    end_cost, end = cost + float(delta[f]), (int(i[f]), j, int(to[f]))
            t = t[~fits]
            if not len(t):
                continue
            first = np.ones(len(t), dtype=bool)
            first[1:] = to[t[1:]] != to[t[:-1]]
            t = t[first]  # the cheapest move that does not fit, to each school (moves are sorted so)
            k, total = to[t], cost + delta[t]
            better = total < best[k]
            t, k, total = t[better], k[better], total[better]
            best[k], short[k], hops[k] = total, size[t] - self.room(k), hops[j] + 1
            via[k, 0], via[k, 1] = i[t], j
            for kk, tt in zip(k.tolist(), total.tolist()):
                heapq.heappush(heap, (tt, kk))
        if end is None:
            return np.inf, []
        chain = [end]
        j = end[1]
        while j != s:
            i, frm = via[j]
            chain.append((int(i), int(frm), j))
            j = int(frm)
        return end_cost, chain[::-1]

    def apply(self, chain: list) -> None:
        p = self.p
        indptr, indices = p.neighbours
        for i, j, k in chain:
            for cache in (self._out, self._cut):
                cache.pop(j, None)
                cache.pop(k, None)
            if p.contiguity:  # the zones around the block now touch another zone
                for z in set(self.assign[indices[indptr[i] : indptr[i + 1]]].tolist()):
                    self._out.pop(z, None)
            self.assign[i] = k
            self.load[j] -= p.students[i]
            self.load[k] += p.students[i]
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


def stay_start(problem: ZoneProblem, deadline: float) -> np.ndarray | None:
    """Under a cap on children moved, a first plan that moves as few children as the seats allow.

    The relaxation is solved with a move dearer than any trip (so it keeps every child it can at the current
    school, and the trips only break ties), then rounded, its cut-off pieces joined and its over-full schools
    relieved by ejection chains at the same prices (:func:`first_plan`).  Starting within the cap, the windows
    keep it met: each window may move only what the rest of the plan leaves of it.  A start from the plain
    relaxation may move more children than the cap allows, and no window brings it back (measured on
    generated 180-block cities with 11 schools at 2.2 % slack: caps 2-30 % above the fewest moves that fit
    the seats gave no plan in 10 s).  None without a cap or current schools."""
    p = problem
    if p.max_moved is None or not (p.current >= 0).any():
        return None
    frugal = replace(p, move_penalty_m=frugal_penalty_m(p))
    flow = transport_bound(frugal, quiet=True)
    if not flow.feasible:
        return None
    return first_plan(frugal, flow, deadline)


def trips_start(problem: ZoneProblem, deadline: float) -> np.ndarray | None:
    """A first plan from the relaxation without the move penalty (shortest trips, whoever moves).

    The rules are the same whatever the penalty, so a plan of this start keeps them as well.  Tried when the
    start at the move penalty breaks a rule: it keeps the current zones, and when they overfill a school
    whose neighbours are as full, neither the chains nor the repair windows (which let blocks move only into
    zones they touch) bring it back (measured: South Portland with seats cut to 2.2 % over the children,
    penalty 500 m, Skillin 75 over after 20 s; this start keeps every rule at once).  None without a
    penalty or current schools."""
    p = problem
    if p.move_penalty_m <= 0 or not (p.current >= 0).any():
        return None
    plain = replace(p, move_penalty_m=0)
    flow = transport_bound(plain, quiet=True)
    if not flow.feasible:
        return None
    return first_plan(plain, flow, deadline)
