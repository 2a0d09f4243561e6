"""Our own incumbents: rounding of the relaxation and local repair (plain numpy, no solver).

CP-SAT may spend a whole time limit in presolve on a large model and come back without a plan; the planner
must still get the best plan we know and its gap.  So the zone solver always keeps an incumbent of its
own, built here:

* :func:`round_flow` sends each block to the school that got most of its children in the transportation
  relaxation (anchor blocks to their own school);
* :func:`repair` then makes zones one piece (a cut-off fragment joins the neighbouring zone it is cheapest
  to join) and relieves over-full schools by handing boundary blocks to neighbouring zones with free seats,
  never cutting the giving zone in two.

Both are greedy; they return a plan and whether it satisfies every rule (:func:`violations`).
"""

from __future__ import annotations

import networkx as nx
import numpy as np
from scipy.sparse import csgraph

from .graph import edges_to_csr
from .problem import ZoneProblem

__all__ = ["round_flow", "fragments", "repair", "improve", "violations", "loads"]


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
    g = nx.Graph()
    g.add_edges_from(e[keep].tolist())
    return set(nx.articulation_points(g))


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
        self.first = np.searchsorted(p.arc_block, np.arange(p.n_blocks))
        self.last = np.searchsorted(p.arc_block, np.arange(p.n_blocks), side="right")
        self.here = p.arc_unit_cost[p.arc_index(np.arange(p.n_blocks), assign)]
        order = np.argsort(assign, kind="stable")
        cut = np.searchsorted(assign[order], np.arange(p.n_schools + 1))
        self.zone = {j: set(order[cut[j] : cut[j + 1]].tolist()) for j in range(p.n_schools)}
        self.version = np.zeros(p.n_schools, dtype=np.int64)
        self._out: dict[int, tuple] = {}
        self._cut: dict[int, tuple] = {}

    def room(self, k) -> np.ndarray:
        return self.p.capacity[k] - self.load[k]

    def _movable(self, j: int) -> np.ndarray:
        """Blocks of zone j that may leave it (not its school's own block, not splitting it)."""
        p = self.p
        blocks = np.fromiter(self.zone[j], dtype=np.int64, count=len(self.zone[j]))
        blocks = blocks[(p.anchored_school[blocks] != j) & (p.students[blocks] > 0)]
        if p.contiguity and len(blocks):
            cached = self._cut.get(j)
            if cached is None or cached[0] != self.version[j]:
                g = nx.Graph()
                g.add_edges_from(self._zone_edges(j))
                cached = (self.version[j], set(nx.articulation_points(g)))
                self._cut[j] = cached
            blocks = blocks[~np.isin(blocks, list(cached[1]))]
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
        g = nx.Graph()
        g.add_nodes_from(members)
        g.add_edges_from(e.tolist())
        return nx.is_connected(g)

    def _moves(self, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(block, to school, cost change) of every single move out of zone j."""
        p = self.p
        blocks = self._movable(j)
        if not len(blocks):
            return (np.zeros(0, dtype=np.int64),) * 2 + (np.zeros(0),)
        size = self.last[blocks] - self.first[blocks]
        arcs = np.arange(size.sum()) + np.repeat(self.first[blocks] - np.cumsum(size) + size, size)
        i = p.arc_block[arcs]
        k = p.arc_school[arcs]
        keep = k != j
        if p.contiguity:  # only into a zone the block touches
            indptr, indices = p.neighbours
            deg = indptr[blocks + 1] - indptr[blocks]
            src = np.repeat(blocks, deg)
            dst = indices[np.arange(deg.sum()) + np.repeat(indptr[blocks] - np.cumsum(deg) + deg, deg)]
            touching = np.unique(src * p.n_schools + self.assign[dst])
            keep &= np.isin(i * p.n_schools + k, touching)
        i, k, arcs = i[keep], k[keep], arcs[keep]
        delta = (p.arc_unit_cost[arcs] - self.here[i]) * p.students[i]
        return i, k, delta.astype(float)

    def best_out(self, k: int, need: int, depth: int, banned: frozenset) -> tuple[float, list]:
        """Cheapest chain taking at least ``need`` children out of school k, at most ``depth`` moves long."""
        i, to, delta = self._moves(k)
        if not len(i):
            return np.inf, []
        s = self.p.students[i]
        ok = (s >= need) & ~np.isin(to, list(banned))
        if not ok.any():
            return np.inf, []
        i, to, delta, s = i[ok], to[ok], delta[ok], s[ok]
        room = self.room(to)
        fits = room >= s
        best_cost, best_chain = np.inf, []
        if fits.any():
            t = int(np.argmin(np.where(fits, delta, np.inf)))
            best_cost, best_chain = float(delta[t]), [(int(i[t]), k, int(to[t]))]
        if depth > 1:
            order = np.argsort(delta)
            for t in order[~fits[order]][:CHAIN_WIDTH].tolist():
                if delta[t] >= best_cost:
                    break
                rest, chain = self.best_out(int(to[t]), int(s[t] - room[t]), depth - 1, banned | {k})
                if delta[t] + rest < best_cost:
                    best_cost, best_chain = float(delta[t] + rest), [(int(i[t]), k, int(to[t]))] + chain
        return best_cost, best_chain

    def apply(self, chain: list) -> None:
        p = self.p
        for i, j, k in chain:
            self.assign[i] = k
            self.load[j] -= p.students[i]
            self.load[k] += p.students[i]
            self.here[i] = p.arc_unit_cost[p.arc_index(i, k)]
            self.zone[j].discard(i)
            self.zone[k].add(i)
            self.version[[j, k]] += 1


#: Moves tried per school at each link of an ejection chain (the cheapest first).
CHAIN_WIDTH = 6


def relieve_seats(
    problem: ZoneProblem, assign: np.ndarray, *, depth: int = 3, deadline: float = np.inf
) -> np.ndarray:
    """Take children out of over-full schools by ejection chains: move a block to a candidate school with
    the seats, or to one without them that in turn moves out a block at least as large as it lacks, and so
    on, up to ``depth`` moves; the cheapest chain in child-metres first.  With the one-piece rule a block
    only moves into a zone it touches and never splits the zone it leaves.  Returns a new plan."""
    import time

    p = problem
    ej = _Ejection(p, assign.copy())
    if p.allow_overload:
        return ej.assign
    stuck: set[int] = set()
    while time.perf_counter() < deadline:
        over = ej.load - p.capacity
        over[list(stuck)] = 0
        if not (over > 0).any():
            break
        j = int(np.argmax(over))
        cost, chain = ej.best_out(j, 1, depth, frozenset({j}))
        if not chain:
            stuck.add(j)
            continue
        ej.apply(chain)
        if p.contiguity:
            touched = {a for _i, a, b in chain} | {b for _i, a, b in chain}
            if not all(ej.connected(z) for z in touched):  # a later link cut a zone an earlier one changed
                ej.apply([(i, b, a) for i, a, b in reversed(chain)])
                stuck.add(j)
    return ej.assign
