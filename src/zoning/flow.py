"""The transportation relaxation, solved exactly as a min-cost flow: the proven lower bound.

Relax "every block goes whole to one school" to "a block's children may be split between its candidate
schools".  What is left is a transportation problem::

    min  Σ_a c_a f_a                       c_a = unit cost of arc a (metres + move penalty)
    s.t. Σ_{a ∋ i} f_a = s_i     ∀ i       every child of block i is placed
         Σ_{a ∋ j} f_a ≤ cap_j   ∀ j       seats (+ an overload arc at a high price when allowed)
         0 ≤ f_a ≤ s_i

whose optimum is a lower bound on every plan that uses the same candidate arcs (each plan is a feasible
flow).  Network: block nodes (supply s_i) → school nodes → one sink (demand Σ s_i).  OR-Tools' min-cost
flow solves it exactly in integers.  When the children cannot all be placed, the maximum flow tells how
many are short, and the flows feed the infeasibility explanation (``diagnose``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow
from scipy import sparse
from scipy.sparse import csgraph

from .problem import ZoneProblem

__all__ = ["FlowResult", "seat_prices", "transport_bound"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FlowResult:
    """Optimal fractional placement of the children on the candidate arcs."""

    feasible: bool  # every child placed
    value: int  # Σ c_a f_a (scaled child-metres), the lower bound when feasible
    flows: np.ndarray  # (A,) children (scaled) on each candidate arc
    overload: np.ndarray  # (M,) children (scaled) above capacity (only when overload is allowed)
    shortfall: int  # children (scaled) that could not be placed
    seconds: float


def transport_bound(problem: ZoneProblem, *, quiet: bool = False) -> FlowResult:
    """Solve the transportation relaxation of ``problem`` on its candidate arcs (``quiet``: log at DEBUG)."""
    t0 = time.perf_counter()
    n, m = problem.n_blocks, problem.n_schools
    sink = n + m
    total = int(problem.students.sum())
    a = len(problem.arc_block)

    tails = [problem.arc_block, n + np.arange(m)]
    heads = [n + problem.arc_school, np.full(m, sink)]
    caps = [problem.students[problem.arc_block], problem.capacity]
    costs = [problem.arc_unit_cost, np.zeros(m, dtype=np.int64)]
    if problem.allow_overload:
        tails.append(n + np.arange(m))
        heads.append(np.full(m, sink))
        caps.append(np.full(m, total, dtype=np.int64))
        costs.append(np.full(m, problem.overload_penalty_m, dtype=np.int64))

    smcf = min_cost_flow.SimpleMinCostFlow()
    smcf.add_arcs_with_capacity_and_unit_cost(
        np.concatenate(tails).astype(np.int32),
        np.concatenate(heads).astype(np.int32),
        np.concatenate(caps).astype(np.int64),
        np.concatenate(costs).astype(np.int64),
    )
    supplies = np.zeros(n + m + 1, dtype=np.int64)
    supplies[:n] = problem.students
    supplies[sink] = -total
    smcf.set_nodes_supplies(np.arange(n + m + 1, dtype=np.int32), supplies)

    status = smcf.solve_max_flow_with_min_cost()
    if status != smcf.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")  # a bug, not an input problem
    all_flows = np.asarray(smcf.flows(np.arange(smcf.num_arcs(), dtype=np.int32)), dtype=np.int64)
    flows = all_flows[:a]
    overload = all_flows[a + m :] if problem.allow_overload else np.zeros(m, dtype=np.int64)
    placed = int(smcf.maximum_flow())
    result = FlowResult(
        feasible=placed == total,
        value=int(smcf.optimal_cost()),
        flows=flows,
        overload=overload,
        shortfall=total - placed,
        seconds=time.perf_counter() - t0,
    )
    say = log.debug if quiet else log.info
    if result.feasible:
        say(
            "transportation bound: %.1f child-km over %d candidate arcs (%.2f s)",
            result.value / problem.scale / 1000,
            a,
            result.seconds,
        )
    else:
        say("transportation relaxation: %.2f children cannot be placed", result.shortfall / problem.scale)
    return result


def seat_prices(problem: ZoneProblem, flows: np.ndarray) -> np.ndarray:
    """The relaxation's price of a seat at each school (scaled metres per scaled child): what the cheapest
    way of pushing one child out of it costs, block by block along the relaxed flow, to a school with a
    free seat (0 there).  These are the optimal dual values of the seat constraints; a full school with
    no way out gets the dearest price found elsewhere."""
    p = problem
    m = p.n_schools
    unit = p.arc_unit_cost.astype(np.float64)
    load = np.bincount(p.arc_school, weights=flows, minlength=m)
    free = np.flatnonzero(load < p.capacity)
    carrying = np.flatnonzero(flows > 0)
    blocks = p.arc_block[carrying]
    # every arc b of a block with relaxed flow on arc a: a child moves from a's school to b's
    a = np.repeat(carrying, np.diff(p.arc_start)[blocks])
    b = p.block_arcs(blocks)
    src, dst, w = p.arc_school[b], p.arc_school[a], unit[b] - unit[a]
    keep = src != dst
    src, dst, w = src[keep], dst[keep], w[keep]
    # one edge per pair of schools, the cheapest: from the receiving school to the giving one, so that
    # the distances from the free seats are the prices
    order = np.lexsort((w, dst, src))
    src, dst, w = src[order], dst[order], w[order]
    head = np.ones(len(src), dtype=bool)
    head[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])
    rows = np.concatenate([src[head], np.full(len(free), m)])
    cols = np.concatenate([dst[head], free])
    weights = np.concatenate([w[head], np.zeros(len(free))])
    weights = np.where(weights == 0, 1e-9, weights)  # an explicit zero would read as no edge
    graph = sparse.csr_matrix((weights, (rows, cols)), shape=(m + 1, m + 1))
    try:
        dist = csgraph.bellman_ford(graph, indices=m)[:m]
    except csgraph.NegativeCycleError:  # not at an optimal flow; any prices give a valid knapsack bound
        return np.zeros(m)
    reached = np.isfinite(dist)
    top = dist[reached].max(initial=0.0)
    return np.where(reached, np.maximum(dist, 0.0), top)
