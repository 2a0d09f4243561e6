"""The zones' bounds: the transportation relaxation (min-cost flow) and the knapsack (Lagrangian) bound.

## The transportation relaxation, solved exactly as a min-cost flow: the proven lower bound

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

## A lower bound stronger than the transportation relaxation: Lagrangian relaxation with knapsacks

Relax "every block goes to exactly one school" with a price ``λ_i`` per child of block ``i``, keeping the
seats and keeping blocks whole.  What is left splits by school: each school takes the set of its candidate
blocks worth most, ``Σ (λ_i − c_ij) s_i``, within its seats — a 0-1 knapsack, solved exactly by dynamic
programming over seats.  For every ``λ``::

    L(λ) = Σ_i λ_i s_i − Σ_j knapsack_j(λ)  ≤  the trips of every plan

(a plan is one choice of blocks per school, each block taken once, so it is a feasible point of every
knapsack and the prices cancel).  At the relaxation's own prices (:func:`seat_prices`) the fractional
knapsack is the relaxation itself, so ``L`` starts at or above it; the whole blocks that do not fit
exactly into a school's seats are what it adds.  Subgradient steps then raise ``λ`` where no school takes
a block and lower it where several do (Polyak steps toward the best plan known, halved when ``L`` stalls).
This is the classic bound of the generalised assignment problem (Ross & Soland 1975; Fisher, Jaikumar &
Van Wassenhove 1986).

The knapsacks at the best prices are nearly a plan, each school packed with whole blocks; ``choice`` hands
them to ``search``, which makes a plan of them (the Lagrangian heuristic of the same papers).

Measured on the seeded 50,000-block cities (``benchmarks/city.py``): about 0.4 s a step; in the 20 s
``search`` gives it at 5 % slack the bound rises 0.16 → 0.44 % above the relaxation (0.50 % after
120 steps), at 15 % slack 0.19 → 0.39 % in 10 s, so no plan there is within 0.2 % of the relaxation.

Ignored, which only weakens the bound: one piece per zone, anchors, the cap on moved children.  Not used
with overload allowed (seats are then soft) or per-pair loads.

## The cap on children moved, priced (Lagrangian)

The relaxation ignores ``max_moved``; where the cap binds (the planner's "move at most 10 children", or a
frontier's alternatives) its bound can be far below every plan within the cap: a city whose current zones
overfill their schools, with overload allowed, stays put under a cap of 10 at 18.2 M child-km while the
relaxation relieves the schools for 0.11 M (a gap of 99.4 %).  :func:`cap_bound` prices a move ``λ`` metres
more and takes the cap back: for every ``λ ≥ 0``::

    L(λ) = T(move penalty + λ) − λ · max_moved  ≤  the cost of every plan moving at most max_moved

(a plan within the cap is a flow whose moves cost λ · moved ≤ λ · max_moved more).  ``L`` is concave in
``λ``, its slope the relaxation's moves minus the cap, so a bisection on the slope's sign finds its top
(on that city 18.20 M, a gap of 0.1 %).

## Per-pair loads (the generalised assignment problem): the LP relaxation

When a block takes different seats at each school there is no flow: :func:`pair_lp` solves the LP relaxation
with HiGHS (scipy) instead, and its value is the bound until CP-SAT proves a higher one.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace

import numpy as np
from ortools.graph.python import min_cost_flow
from scipy import sparse
from scipy.sparse import csgraph

from .problem import ZoneProblem

__all__ = [
    "cap_bound",
    "frugal_penalty_m",
    "FlowResult",
    "LagrangeBound",
    "PairLP",
    "knapsack_bound",
    "pair_lp",
    "seat_prices",
    "transport_bound",
]

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


def frugal_penalty_m(p: ZoneProblem) -> int:
    """Metres a move costs when moves come first: more than any trip, and less than a child over seats where
    the seats are a rule; where overload is allowed the seats are only priced and the cap on moves is the
    rule, so a move costs more than a child over seats (a generated city of 6,000 blocks whose current
    zones were one piece but overfull: with a move cheaper than overload the fewest-moves start moved 23,326
    children to relieve the schools, and ``--max-moved 10`` found no plan where staying put keeps it)."""
    if p.allow_overload:
        return 2 * p.overload_penalty_m
    return min(10 * int(p.arc_dist_m.max(initial=0)) + 1_000, p.overload_penalty_m // 10)


#: Min-cost flows the cap's bisection solves at most (each as long as the relaxation: 0.1 s at 6,000 blocks).
CAP_STEPS = 12


def cap_bound(problem: ZoneProblem, deadline: float) -> int | None:
    """The best ``L(λ)`` of the cap on children moved priced (see the module docstring), by bisection on λ
    between 0 and a move dearer than any trip or overload (:func:`frugal_penalty_m`), geometric once above a
    metre, until ``deadline`` or ``CAP_STEPS`` flows; None without a cap or when the children cannot all be
    placed.  A valid bound whatever λ it stops at."""
    p = problem
    if p.max_moved is None or not (p.current >= 0).any():
        return None
    moved = p.arc_moved
    lo, hi = 0.0, float(frugal_penalty_m(p))
    best = None
    for _ in range(CAP_STEPS):
        lam = hi if best is None else (math.sqrt(max(lo, 1.0) * hi) if hi > 1.0 else (lo + hi) / 2)
        flow = transport_bound(replace(p, move_penalty_m=p.move_penalty_m + int(lam)), quiet=True)
        if not flow.feasible:
            return None
        value = flow.value - int(lam) * p.max_moved
        best = value if best is None else max(best, value)
        if int(flow.flows[moved].sum()) > p.max_moved:
            lo = lam  # the relaxation moves more than the cap: the price of a move is too low
        else:
            hi = lam
        if time.perf_counter() >= deadline or hi - lo < 1.0:
            break
    return best


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


# ---------------------------------------------------------------------------------------- the knapsack bound

#: A school with more seats counts them in units of ``ceil(seats / MAX_SEATS)`` (rounding each block's
#: children down and the seats down keeps every plan feasible, so the bound stays valid; the fractional
#: knapsack, also valid, caps what that looser knapsack may add).
MAX_SEATS = 4096
#: The step size is halved after this many steps without a better bound.
STALL_STEPS = 3
#: The first step goes this share of the way to the best plan known (Polyak).
FIRST_STEP = 0.5
#: Stop once the step size falls below this.
MIN_STEP = 1e-4


@dataclass(frozen=True)
class LagrangeBound:
    value: int  # proven lower bound on the trips of every plan (scaled child-metres, rounded down)
    start: int  # the bound at the relaxation's prices (before any step)
    steps: int
    seconds: float
    #: (N,) per block the school whose knapsack took it at the best prices (the nearest of several), -1 if
    #: none did: nearly a plan, packed school by school (``search`` makes one of it)
    choice: np.ndarray


def knapsack_bound(
    problem: ZoneProblem,
    prices: np.ndarray,
    upper: float,
    deadline: float,
    *,
    relative_gap: float = 0.0,
    max_steps: int = 1_000,
) -> LagrangeBound:
    """Raise the Lagrangian knapsack bound from the seat prices ``prices`` (per scaled child, per school,
    as ``flow.seat_prices`` gives them) until ``deadline``, ``max_steps``, or until it is within
    ``relative_gap`` of ``upper`` (the trips of the best plan known, which also sizes the steps)."""
    if problem.allow_overload or problem.arc_load is not None:
        raise ValueError("the knapsack bound needs hard seats and loads equal to the block's children")
    t0 = time.perf_counter()
    p = problem
    unit = p.arc_unit_cost.astype(np.float64)
    students = p.students.astype(np.float64)
    if (np.diff(p.arc_start) == 0).any():
        raise ValueError("every block needs a candidate school")
    # the relaxation's price of each block's child: its cheapest school, seats priced
    lam = np.minimum.reduceat(unit + prices[p.arc_school], p.arc_start[:-1])
    knap = _Knapsacks(p)
    value = knap.evaluate(lam)
    start = best = value
    best_chosen = knap.chosen.copy()
    step, stall, steps = FIRST_STEP, 0, 0
    took = time.perf_counter() - t0  # a step takes about as long as the first evaluation
    while steps < max_steps and time.perf_counter() + took < deadline and step >= MIN_STEP:
        if upper - best <= relative_gap * upper:
            break
        g = students * (1.0 - knap.taken)  # the subgradient: children not taken (or taken twice)
        norm = float(g @ g)
        if norm == 0.0:
            break  # every block taken exactly once: the knapsacks form a plan, the bound is exact
        lam = lam + step * max(upper - value, 1e-9 * abs(upper)) / norm * g
        value = knap.evaluate(lam)
        steps += 1
        if value > best:
            best, best_chosen, stall = value, knap.chosen.copy(), 0
        else:
            stall += 1
            if stall >= STALL_STEPS:
                step, stall = step / 2, 0
    # floating point: give up a millionth of a child-metre per child, then round down
    proven = math.floor(best - 1e-6 * (1.0 + students.sum()))
    result = LagrangeBound(
        value=int(proven),
        start=int(math.floor(start - 1e-6 * (1.0 + students.sum()))),
        steps=steps,
        seconds=time.perf_counter() - t0,
        choice=cheapest_choice(p, best_chosen),
    )
    log.info(
        "knapsack bound: %.1f child-km after %d step(s) (%.1f at the relaxation's prices), %.2f s",
        result.value / p.scale / 1000,
        result.steps,
        result.start / p.scale / 1000,
        result.seconds,
    )
    return result


def cheapest_choice(p: ZoneProblem, chosen: np.ndarray) -> np.ndarray:
    """Per block the school of its cheapest chosen arc (``chosen``: a mask of the arcs), -1 where none is
    chosen (a knapsack took none of its arcs)."""
    arcs = np.flatnonzero(chosen)
    arcs = arcs[np.lexsort((p.arc_unit_cost[arcs], p.arc_block[arcs]))]
    head = np.ones(len(arcs), dtype=bool)
    head[1:] = p.arc_block[arcs[1:]] != p.arc_block[arcs[:-1]]
    choice = np.full(p.n_blocks, -1, dtype=np.int64)
    choice[p.arc_block[arcs[head]]] = p.arc_school[arcs[head]]
    return choice


class _Knapsacks:
    """Each school's 0-1 knapsack over its candidate blocks (all re-solved at every step: a step changes the
    price of every block taken twice or not at all, and on the 50,000-block city at 5 % slack those touch
    1,498-1,500 of the 1,500 schools)."""

    def __init__(self, p: ZoneProblem):
        self.p = p
        order = np.argsort(p.arc_school, kind="stable")
        self.order = order
        self.cut = np.searchsorted(p.arc_school[order], np.arange(p.n_schools + 1))
        seats = np.maximum(p.capacity, 0)
        self.unit = np.maximum(1, -(-seats // MAX_SEATS))
        self.seats = seats // self.unit
        self.cost = p.arc_unit_cost.astype(np.float64)
        self.chosen = np.zeros(len(p.arc_block), dtype=bool)
        self.taken = np.zeros(p.n_blocks)

    def evaluate(self, lam: np.ndarray) -> float:
        """L(lam); also sets ``chosen`` (arcs the knapsacks take) and ``taken`` (knapsacks taking each block)."""
        p = self.p
        profit = (lam[p.arc_block] - self.cost) * p.students[p.arc_block]
        self.chosen[:] = False
        total = 0.0
        for j in range(p.n_schools):
            arcs = self.order[self.cut[j] : self.cut[j + 1]]
            arcs = arcs[profit[arcs] > 0]
            weight = p.students[p.arc_block[arcs]]
            unit = int(self.unit[j])
            value, take = _knapsack(weight // unit, profit[arcs], int(self.seats[j]))
            if unit > 1:
                value = min(value, _fractional(weight, profit[arcs], int(p.capacity[j])))
            total += value
            self.chosen[arcs[take]] = True
        self.taken = np.bincount(p.arc_block[self.chosen], minlength=p.n_blocks).astype(np.float64)
        return float(lam @ p.students.astype(np.float64) - total)


def _knapsack(weight: np.ndarray, profit: np.ndarray, seats: int) -> tuple[float, np.ndarray]:
    """Most profit of items within ``seats`` (weights integer ≥ 0, profits > 0), and which items.

    Exact.  Items are first fixed by the bounds of Dembo & Hammer (1980): with the items by profit per
    seat, the greedy prefix and the fractional bound ``U`` at the first item that does not fit (ratio
    ``r``), and ``z`` the greedy plan's profit, an item whose profit differs from ``r`` times its weight
    by more than ``U − z`` is in every optimal plan (if in the prefix) or in none.  The dynamic programme
    over seats then runs on the rest (on the 50,000-block city: a third of the items and of the work)."""
    take = weight == 0
    total = float(profit[take].sum())
    rest = np.flatnonzero(~take & (weight <= seats))
    if not len(rest):
        return total, take
    ratio = profit[rest] / weight[rest]
    rest = rest[np.argsort(-ratio, kind="stable")]
    w, v = weight[rest], profit[rest]
    fits = np.cumsum(w) <= seats
    b = int(fits.sum())  # the prefix fits, item b does not
    if b == len(rest):
        take[rest] = True
        return total + float(v.sum()), take
    room = seats - int(w[:b].sum())
    r = v[b] / w[b]
    upper = float(v[:b].sum()) + r * room
    greedy, left = float(v[:b].sum()), room
    for wi, vi in zip(w[b:].tolist(), v[b:].tolist()):
        if wi <= left:
            greedy, left = greedy + vi, left - wi
    free = np.abs(v - r * w) <= (upper - greedy) * (1 + 1e-9) + 1e-9
    sure = ~free & (np.arange(len(rest)) < b)
    take[rest[sure]] = True
    total += float(v[sure].sum())
    items = rest[free]
    cap = min(seats - int(w[sure].sum()), int(weight[items].sum()))
    best = np.zeros(cap + 1)
    better = np.zeros((len(items), cap + 1), dtype=bool)
    for k, i in enumerate(items):
        wi = int(weight[i])
        if wi > cap:
            continue
        cand = best[: cap + 1 - wi] + profit[i]
        better[k, wi:] = cand > best[wi:]
        np.maximum(best[wi:], cand, out=best[wi:])
    room = cap
    for k in range(len(items) - 1, -1, -1):
        if better[k, room]:
            take[items[k]] = True
            room -= int(weight[items[k]])
    return total + float(best[cap]), take


def _fractional(weight: np.ndarray, profit: np.ndarray, seats: int) -> float:
    """Most profit of items within ``seats`` when items may be split (an upper bound of the 0-1 knapsack)."""
    order = np.argsort(-profit / np.maximum(weight, 1e-12), kind="stable")
    w, v = weight[order].astype(np.float64), profit[order]
    full = np.cumsum(w) <= seats
    room = seats - w[full].sum()
    rest = np.flatnonzero(~full)
    part = v[rest[0]] * room / w[rest[0]] if len(rest) else 0.0
    return float(v[full].sum() + part)


# ------------------------------------------------------------------------ per-pair loads: the LP relaxation


@dataclass(frozen=True)
class PairLP:
    """The LP relaxation of a problem with per-pair loads (the generalised assignment problem)."""

    feasible: bool
    value: int  # proven lower bound: ⌈LP optimum⌉ (costs are integers), 0 when not feasible
    flows: np.ndarray  # (A,) fractional x_a
    seconds: float


def pair_lp(problem: ZoneProblem) -> PairLP:
    """min Σ c_a x_a, Σ_{a ∋ i} x_a = 1 ∀ i, Σ_{a ∋ j} load_a x_a ≤ cap_j ∀ j, 0 ≤ x ≤ 1, by HiGHS.

    The loads differ by pair, so it is no flow.  Its value is the bound reported until CP-SAT's whole model
    proves a higher one; its fractions give the first plan (``search``).  Measured on the generated
    20-40 × 400 instances of types C, D and E (``benchmarks/gap_tight.py``, 16,000 arcs): 0.2-0.9 s at
    load 3-7, 0.1-1.0 % below the best plans seen.  Reduced-cost fixing from it was tried and dropped: with a
    plan 1 % above the LP it removes no arc of c40400 or d40400 (at 0.5 %, half of c40400's).
    """
    from scipy.optimize import linprog  # only here: the zone path never needs it

    t0 = time.perf_counter()
    p = problem
    a = len(p.arc_block)
    arcs = np.arange(a)
    eq = sparse.csr_matrix((np.ones(a), (p.arc_block, arcs)), shape=(p.n_blocks, a))
    ub = sparse.csr_matrix((p.arc_seats.astype(np.float64), (p.arc_school, arcs)), shape=(p.n_schools, a))
    res = linprog(
        p.arc_cost.astype(np.float64),
        A_ub=ub,
        b_ub=p.capacity.astype(np.float64),
        A_eq=eq,
        b_eq=np.ones(p.n_blocks),
        bounds=(0, 1),
        method="highs",
    )
    seconds = time.perf_counter() - t0
    if res.status != 0:
        log.info("LP relaxation of the per-pair loads: %s (%.2f s)", res.message, seconds)
        return PairLP(False, 0, np.zeros(a), seconds)
    # a hair below the optimum before rounding up: HiGHS' tolerances are about 1e-7 per row
    value = int(math.ceil(res.fun - 1e-6 * max(1.0, abs(res.fun))))
    log.info("LP relaxation of the per-pair loads: %d (%.2f s)", value, seconds)
    return PairLP(True, value, np.asarray(res.x, dtype=np.float64), seconds)
