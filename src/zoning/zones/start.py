"""Our own incumbents: rounding of the relaxation and local repair (plain numpy, no solver).

CP-SAT may spend a whole time limit in presolve on a large model and come back without a plan; the planner
must still get the best plan we know and its gap.  So the zone solver always keeps an incumbent of its
own, built here:

* :func:`round_flow` sends each block to the school that got most of its children in the transportation
  relaxation (anchor blocks to their own school);
* :func:`repair` then makes zones one piece (a cut-off fragment joins the neighbouring zone it is cheapest
  to join) and relieves over-full schools by handing boundary blocks to neighbouring zones with free seats,
  never cutting the giving zone in two;
* the ejection chains (:mod:`.ejection`, ``relieve_seats``) then take children out of over-full schools by
  chains of moves of any length: in a dense centre full to the last seat the free seats can be a dozen
  zones away.

All are greedy; :func:`violations` says whether a plan satisfies every rule.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from ..geo.graph import edges_to_csr
from .problem import ZoneProblem

__all__ = [
    "round_flow",
    "fragments",
    "repair",
    "violations",
    "loads",
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
            for j, comp, ref in fragments(problem, assign):
                # (a corridor drawn for an earlier fragment may have taken some of these blocks)
                pending = set(int(i) for i in comp if anchor_of[i] != j and assign[i] == j)
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
                if pending:  # blocks that may go nowhere else (locked, or j their only candidate)
                    changed |= _corridor(problem, assign, j, pending, ref)
        if seats and not problem.allow_overload:
            changed |= _relieve(problem, assign)
        if not changed:
            break
    return assign


def _corridor(problem: ZoneProblem, assign: np.ndarray, j: int, stuck: set[int], ref: int) -> bool:
    """Join blocks of zone j that can join no other zone to j's main piece (the piece holding ``ref``) by the
    cheapest path of blocks that may go to j (in place); True when a path was drawn.

    A block locked to a school far from it is such a block: without a corridor its zone stays in pieces
    until an exact repair window finds one (South Portland with three blocks locked to Kaler: no plan in
    5 s).  The path's blocks leave their zones, which may cut those in two or overfill j: the next round of
    :func:`repair` mends both."""
    n = problem.n_blocks
    arc = problem.arc_index(np.arange(n), np.full(n, j))
    anchor_of = problem.anchored_school
    cost = np.full(n, np.inf)
    ok = arc >= 0
    cost[ok] = (problem.students[ok] + 1.0) * problem.arc_unit_cost[arc[ok]] + 1.0
    cost[(anchor_of >= 0) & (anchor_of != j)] = np.inf  # another school's own block
    e = problem.edges
    same = (assign[e[:, 0]] == j) & (assign[e[:, 1]] == j)
    _, label = csgraph.connected_components(edges_to_csr(n, e[same]), directed=False)
    main = (label == label[ref]) & (assign == j)
    if not main.any():
        main[ref] = np.isfinite(cost[ref])  # the anchor block went to another zone: the path ends there
    cost[main] = 0.0
    both = np.concatenate([e, e[:, ::-1]])
    weight = cost[both[:, 1]]
    usable = np.isfinite(weight)
    graph = sparse.csr_matrix(
        (weight[usable] + 1e-9, (both[usable, 0], both[usable, 1])), shape=(n, n)
    )  # entering a block costs its children's trips to j
    sources = np.fromiter(stuck, dtype=np.int64)
    dist, pred, _ = csgraph.dijkstra(graph, indices=sources, min_only=True, return_predecessors=True)
    reached = np.flatnonzero(main & np.isfinite(dist))
    if not len(reached):
        return False
    node = int(reached[np.argmin(dist[reached])])
    changed = False
    while node >= 0 and node not in stuck:
        if assign[node] != j:
            assign[node] = j
            changed = True
        node = int(pred[node])
    return changed


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
