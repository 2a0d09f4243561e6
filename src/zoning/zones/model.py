"""Attendance zones (划片): the CP-SAT model and the search around it.

Formulation (``i`` blocks, ``j`` schools, ``a = (i, j)`` candidate arcs, ``s_i`` children, ``c_a`` cost)::

    x_a ∈ {0, 1}                         block i goes to school j
    o_j ≥ 0                              children above capacity (only with allow_overload)

    (1) assign once    Σ_{a ∋ i} x_a = 1                                  ∀ i
    (2) seats          Σ_{a ∋ j} s_i x_a ≤ cap_j (+ o_j)                  ∀ j
    (3) anchor         x_(r_j, j) = 1   for the block r_j school j stands in (by construction of the arcs)
    (4) moved cap      Σ_a s_i·moved_a·x_a ≤ max_moved                    (optional)
    (5) one piece      for every piece C of zone j cut off from a block b of the zone's main piece,
                       with N(C) the blocks adjacent to C:
                       x_(a, j) + x_(b, j) − 1 ≤ Σ_{u ∈ N(C)} x_(u, j)    ∀ a ∈ C
    min Σ_a c_a x_a + P Σ_j o_j

(5) is valid for every plan with connected zones: if a and b are both in zone j, the path between them
inside the zone leaves C through N(C).  There are exponentially many such cuts, so they are added lazily:
solve, find the zones in pieces, add the cuts those pieces violate, solve again from the best plan.  Every
round's bound is a lower bound of the full problem (it is a relaxation); a round whose optimum is in one
piece is optimal for the full problem.  The transportation relaxation (``bound``) gives the first bound and,
rounded and repaired (``start``), the first incumbent, so a plan and a gap exist from the start.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import numpy as np
from ortools.sat.python import cp_model

from ..cpsat import run_cpsat, set_hint
from ..geo.graph import rings
from ..options import SolveOptions
from .bound import FlowResult, transport_bound
from .diagnose import explain_rules, explain_stranded, explain_unplaced, fewest_moves, lacking_area
from .problem import OVERLOAD_PENALTY_M, ZoneProblem
from .start import _cut_vertices, _unit_cost, fragments, loads, repair, violations

__all__ = [
    "ZoneSolution",
    "ZoneModel",
    "ExactResult",
    "solve_exact",
    "feasible_candidates",
    "objective",
    "improve",
    "explain_search_infeasible",
]

log = logging.getLogger(__name__)

#: Candidate schools per block (on average) beyond which the candidates grow no more where the relaxation
#: cannot seat every child: the seats are then too far from the children to call them within reach.
MAX_ARCS_PER_BLOCK = 64

#: Share of the time left that the first round of a one-piece model gets (doubling each round after one in
#: pieces); rounds whose plan is in one piece get all of it.
ROUND_SHARE = 0.25


@dataclass(frozen=True)
class ZoneSolution:
    """A plan on arrays with its proof: objective and bound in scaled child-metres."""

    problem: ZoneProblem  # the problem as finally solved (candidate arcs may have grown)
    assign: np.ndarray  # (N,) school index per block
    status: str  # optimal | feasible
    objective: int
    bound: float
    bound_source: str
    seconds: float
    lp_value: int
    lp_seconds: float
    rounds: int
    cuts: int
    source: str  # which method found the returned plan

    @property
    def gap(self) -> float:
        return 0.0 if self.objective <= 0 else max(0.0, (self.objective - self.bound) / self.objective)


class ZoneModel:
    """The CP-SAT model of a ZoneProblem, with lazily added one-piece cuts."""

    def __init__(
        self,
        problem: ZoneProblem,
        *,
        assumptions: bool = False,
        overload_limit: np.ndarray | None = None,
        stay: np.ndarray | None = None,
    ):
        """``overload_limit`` (M,): repair mode.  Children over seats are allowed up to these per school, and
        the objective is their total alone (trips do not count): the quickest way for CP-SAT to find how
        to take children out of over-full schools along chains of neighbouring zones.  ``stay`` (N,), with
        the one-piece rule: the plan the repair starts from; among the fewest children over seats, the
        fewest blocks moved from it (:meth:`_fewest_moves`)."""
        self.problem = p = problem
        self.model = model = cp_model.CpModel()
        self.families: dict[str, cp_model.IntVar] = {}
        if assumptions:
            for name in ("capacity", "max_moved", "contiguity"):
                self.families[name] = model.new_bool_var(f"rule_{name}")
        # --- variables
        a = len(p.arc_block)
        self.x = [model.new_bool_var("") for _ in range(a)]
        self.x_index = np.array([v.index for v in self.x], dtype=np.int64)
        if overload_limit is not None:
            p = self.problem = replace(p, allow_overload=True)
            limit = np.asarray(overload_limit, dtype=np.int64)
        else:
            limit = np.full(p.n_schools, int(p.students.sum()), dtype=np.int64)
        self.overload = (
            [model.new_int_var(0, int(limit[j]), f"over_{j}") for j in range(p.n_schools)]
            if p.allow_overload
            else []
        )
        self.n_cuts = 0
        self.fewest_moves = False  # repair mode: the objective also counts blocks moved (_fewest_moves)
        # --- constraints
        self._assign_once()
        self._seats()
        self._anchor()
        self._moved_cap()
        if p.contiguity:
            self._neighbour_cuts()
        # --- objective
        if overload_limit is not None:
            if stay is not None and p.contiguity:
                self._fewest_moves(stay)
            else:
                model.minimize(sum(self.overload))
            return
        cost = p.arc_cost
        terms = cp_model.LinearExpr.weighted_sum(self.x, cost.tolist())
        if self.overload:
            terms = terms + p.overload_penalty_m * sum(self.overload)
        model.minimize(terms)

    def _fewest_moves(self, stay: np.ndarray) -> None:
        """Repair with the one-piece rule: min (N + 1) Σ_j o_j + Σ_{a = (i, j), j ≠ stay_i} x_a — the children over
        seats first, then as few blocks moved as take them out (the solve stops once the children over seats
        are proven fewest: ``solve_exact`` passes an absolute gap of N).  A plan moving few blocks seldom cuts
        a zone, so the lazy one-piece cuts need fewer rounds.  Measured on the 50,000-block city at 5 % slack
        (72 children over seats at 4 schools after the chains, load 5 on 2 cores): the repair windows took
        2.5-3.8 s in two runs, where with the children over seats alone they took 2.7-22 s in seven, and the
        window around a school 5 over its seats failed in 4 s in three of the four runs logged."""
        p = self.problem
        self.fewest_moves = True
        moved = np.flatnonzero(stay[p.arc_block] != p.arc_school)
        moves = cp_model.LinearExpr.sum([self.x[k] for k in moved])
        self.model.minimize((p.n_blocks + 1) * sum(self.overload) + moves)

    def _enforce(self, ct: cp_model.Constraint, family: str) -> None:
        if family in self.families:
            ct.only_enforce_if(self.families[family])

    def _assign_once(self) -> None:
        """Every block goes to exactly one of its candidate schools: Σ_{a ∋ i} x_a = 1."""
        p = self.problem
        starts = p.arc_start
        for i in range(p.n_blocks):
            self.model.add_exactly_one(self.x[starts[i] : starts[i + 1]])

    def _seats(self) -> None:
        """A school takes no more children than it has seats: Σ_{a ∋ j} s_i x_a ≤ cap_j (+ o_j)."""
        p = self.problem
        order = np.argsort(p.arc_school, kind="stable")
        starts = np.searchsorted(p.arc_school[order], np.arange(p.n_schools + 1))
        weights = p.arc_seats
        for j in range(p.n_schools):
            idx = order[starts[j] : starts[j + 1]]
            expr = cp_model.LinearExpr.weighted_sum([self.x[k] for k in idx], weights[idx].tolist())
            if self.overload:
                ct = self.model.add(expr <= int(p.capacity[j]) + self.overload[j])
            else:
                ct = self.model.add(expr <= int(p.capacity[j]))
            self._enforce(ct, "capacity")

    def _anchor(self) -> None:
        """A school's zone holds the block the school stands in: x_(r_j, j) = 1."""
        p = self.problem
        if not p.contiguity:
            return
        for j in np.flatnonzero(p.anchor >= 0):
            k = int(p.arc_index(p.anchor[j], j))
            if k >= 0:
                self.model.add(self.x[k] == 1)

    def _moved_cap(self) -> None:
        """At most ``max_moved`` children leave their current school: Σ_a s_i moved_a x_a ≤ max_moved."""
        p = self.problem
        if p.max_moved is None:
            return
        moved = np.flatnonzero(p.arc_moved)
        w = p.students[p.arc_block[moved]]
        expr = cp_model.LinearExpr.weighted_sum([self.x[k] for k in moved], w.tolist())
        self._enforce(self.model.add(expr <= p.max_moved), "max_moved")

    def add_piece_cuts(self, pieces: list[tuple[int, np.ndarray, int]], *, max_rings: int = 60) -> int:
        """One-piece cuts (5) for zone pieces cut off from their zone; returns how many were added.

        Not only N(C) separates a piece C from the main piece: so does every ring of blocks at graph
        distance t from C, up to the ring holding b.  Adding the cuts of every ring at once tells the
        solver in one round that a zone-j path must cross each ring, instead of growing the piece by one
        ring per round (measured on South Portland: 256 rounds in 30 s with N(C) only, a handful with rings).
        """
        p = self.problem
        indptr, indices = p.neighbours
        added = 0
        for j, comp, b in pieces:
            kb = int(p.arc_index(b, j))
            members = p.arc_index(comp, j)
            members = members[members >= 0]
            if kb < 0 or len(members) == 0:
                continue
            for ring in rings(indptr, indices, comp, int(b), max_rings):
                ks = p.arc_index(ring, j)
                rhs = [self.x[k] for k in ks[ks >= 0]]
                for ka in members:
                    ct = self.model.add(self.x[ka] + self.x[kb] - 1 <= sum(rhs))
                    self._enforce(ct, "contiguity")
                    added += 1
        self.n_cuts += added
        return added

    def _neighbour_cuts(self) -> None:
        """Redundant but strong: a block in a zone with another block has a neighbour in that zone.

        x_(i, j) ≤ Σ_{u ∈ N(i)} x_(u, j) for every arc whose school is anchored elsewhere (so the zone holds
        at least the anchor and i).  Valid for every one-piece plan; it rules out lone outliers up front.
        """
        p = self.problem
        indptr, indices = p.neighbours
        for k, (i, j) in enumerate(zip(p.arc_block.tolist(), p.arc_school.tolist())):
            if p.anchor[j] < 0 or p.anchor[j] == i:
                continue
            ks = p.arc_index(indices[indptr[i] : indptr[i + 1]], j)
            rhs = [self.x[kk] for kk in ks[ks >= 0]]
            ct = self.model.add(self.x[k] <= sum(rhs)) if rhs else self.model.add(self.x[k] == 0)
            self._enforce(ct, "contiguity")

    def hint(self, assign: np.ndarray) -> None:
        """A complete hint: every x and every overload variable."""
        p = self.problem
        values = (assign[p.arc_block] == p.arc_school).astype(np.int64)
        idx, vals = [self.x_index], [values]
        if self.overload:
            over = np.maximum(0, loads(p, assign) - p.capacity)
            idx.append(np.array([v.index for v in self.overload]))
            vals.append(over)
        set_hint(self.model, np.concatenate(idx), np.concatenate(vals))

    def assignment(self, solution: np.ndarray) -> np.ndarray:
        p = self.problem
        chosen = solution[self.x_index] == 1
        assign = np.full(p.n_blocks, -1, dtype=np.int64)
        assign[p.arc_block[chosen]] = p.arc_school[chosen]
        return assign


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


def _improved(problem: ZoneProblem, assign: np.ndarray) -> np.ndarray:
    """The descent of :func:`improve`, kept only if it breaks no rule (it should not)."""
    better = improve(problem, assign)
    return better if not violations(problem, better) else assign


def objective(p: ZoneProblem, assign: np.ndarray) -> int:
    """Objective of a plan in scaled child-metres (the model's own integer costs)."""
    cost = int(p.arc_cost[p.arc_index(np.arange(p.n_blocks), assign)].sum())
    if p.allow_overload:
        cost += int(np.maximum(0, loads(p, assign) - p.capacity).sum()) * p.overload_penalty_m
    return cost


def feasible_candidates(problem: ZoneProblem, deadline: float = np.inf) -> tuple[ZoneProblem, FlowResult]:
    """Grow the candidate schools where the relaxation cannot seat everyone, until it can or nothing grows.

    The growth stops at ``MAX_ARCS_PER_BLOCK`` candidate schools per block on average, or at ``deadline``:
    seats that far from the children are named as missing where the children are (measured on a generated
    50,000-block city whose seats were spread with no regard to where the children live: 275,331 children
    unseated among the 8 nearest schools, 17.8 million arcs and 203 s for a 60 s limit before this cap)."""
    problem = _within_reach(problem, deadline)
    flow = transport_bound(problem)
    while not flow.feasible:
        area = lacking_area(problem, flow)
        blocks = area[0] if area is not None else np.arange(problem.n_blocks)
        if len(problem.arc_block) > MAX_ARCS_PER_BLOCK * problem.n_blocks or time.perf_counter() > deadline:
            raise explain_unplaced(problem, flow, far=True)
        grown = _within_reach(problem.grow(blocks), deadline)
        if len(grown.arc_block) == len(problem.arc_block):
            everyone = np.arange(problem.n_blocks)
            grown = _within_reach(problem.grow(everyone, factor=problem.n_schools), deadline)
            if len(grown.arc_block) == len(problem.arc_block):
                raise explain_unplaced(problem, flow)
        log.info("more candidate schools for %d blocks: %d arcs", len(blocks), len(grown.arc_block))
        problem = grown
        flow = transport_bound(problem)
    return problem, flow


def _within_reach(problem: ZoneProblem, deadline: float) -> ZoneProblem:
    """With one piece per zone, only the arcs a one-piece zone can use (``ZoneProblem.reachable_arcs``); a block
    left with none gets more candidate schools, or is named (measured on a generated 5,000-block city with one
    block of two far-apart parts: its candidates lay by one part and its neighbours by the other, and the
    search ended, after 14 s, with a vague "not every zone in one piece")."""
    if not problem.contiguity or problem.arc_load is not None:
        return problem
    while True:
        kept = problem.keep_arcs(problem.reachable_arcs())
        stranded = np.flatnonzero(np.bincount(kept.arc_block, minlength=kept.n_blocks) == 0)
        if not len(stranded):
            if len(kept.arc_block) < len(problem.arc_block):
                log.info(
                    "%d candidate arcs no one-piece zone can use",
                    len(problem.arc_block) - len(kept.arc_block),
                )
            return kept
        if len(problem.arc_block) > MAX_ARCS_PER_BLOCK * problem.n_blocks or time.perf_counter() > deadline:
            raise explain_stranded(problem, stranded)
        grown = problem.grow(stranded)
        if len(grown.arc_block) == len(problem.arc_block):
            grown = problem.grow(stranded, factor=problem.n_schools)
            if len(grown.arc_block) == len(problem.arc_block):
                raise explain_stranded(problem, stranded)
        problem = grown


@dataclass(frozen=True)
class ExactResult:
    """What :func:`solve_exact` found: the best plan breaking no rule of the problem, and the proof."""

    assign: np.ndarray | None  # None: no plan satisfying every rule was found
    objective: int | None
    bound: float  # proven lower bound of the problem (never below the bound passed in)
    bound_source: str
    status: str  # optimal | feasible | infeasible (proven) | unknown (no plan, no proof)
    rounds: int
    cuts: int
    source: str


def solve_exact(
    problem: ZoneProblem,
    start: np.ndarray | None,
    deadline: float,
    options: SolveOptions,
    *,
    bound: float = 0.0,
    bound_source: str = "",
    quiet: bool = False,
    overload_limit: np.ndarray | None = None,
    enough=None,
) -> ExactResult:
    """The whole CP-SAT model of ``problem`` with lazy one-piece cuts, hinted with ``start``, until ``deadline``.

    ``start`` may break rules (a hint only).  ``bound`` is a lower bound known beforehand (the relaxation):
    the search stops as soon as a plan is proven within ``options.relative_gap`` of it.  Never raises:
    a proven infeasibility is status "infeasible".  ``quiet`` logs progress at DEBUG (window solves).
    ``overload_limit``: repair mode (see :class:`ZoneModel`); plans are then ranked by children over seats
    first and trips second, and the bound is not one of trips (0 is returned).
    ``enough``: a test of plans; the search stops at the first one-piece plan keeping every rule that passes
    it (the fewest-moves windows stop once they are within the cap on children moved).
    """
    if overload_limit is not None:
        problem = replace(problem, allow_overload=True, overload_penalty_m=OVERLOAD_PENALTY_M)
    best: np.ndarray | None = None
    best_obj = None
    source = ""
    if start is not None and not violations(problem, start):
        best, best_obj, source = start, objective(problem, start), "start"

    zm: ZoneModel | None = None  # built only when the start is not already proven good enough
    rounds = 0
    whole_last = False  # the last round's plan was in one piece
    last = start
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0.05:
            break
        if best_obj is not None and bound >= best_obj * (1 - options.relative_gap) - 1e-9:
            break
        if zm is None:
            stay = start if overload_limit is not None and start is not None else None
            zm = ZoneModel(problem, overload_limit=overload_limit, stay=stay)
            continue  # building takes time at city scale: look at the clock again
        rounds += 1
        hint = best if best is not None else last
        if hint is not None:
            zm.hint(hint)
        seen = _Harvest(problem, zm, enough)
        # with one piece per zone, a round whose plans fall in pieces gets a share of the time that doubles
        # each round: its cut-off pieces become cuts sooner (measured on 180-block cities under a cap on
        # children moved: one round of 4.5 s improved only plans in pieces, and no plan was found)
        share = 1.0 if not problem.contiguity or whole_last else min(1.0, ROUND_SHARE * 2 ** (rounds - 1))
        res = run_cpsat(
            zm.model,
            options=options,
            time_limit_s=max(min(remaining, 1.0), share * remaining),
            progress_scale=problem.scale * 1000,
            progress_unit="child-km",
            on_solution=seen if problem.contiguity else None,
            stop_when=(lambda seen=seen: seen.done) if enough is not None and problem.contiguity else None,
            quiet=quiet,
            # repair by fewest moves: done once the children over seats are proven fewest (the moves are
            # fewer than N + 1, the weight of one child over seats)
            absolute_gap=problem.n_blocks if zm.fewest_moves else None,
        )
        if res.status == "infeasible":
            return ExactResult(None, None, float("inf"), "CP-SAT", "infeasible", rounds, zm.n_cuts, "")
        if res.status == "unknown" and share < 1.0:
            # a round given a share of the time found nothing: the next gets twice the share (a 2,000-block
            # city under a cap on children moved: the whole model found nothing in its first 2 s of 8)
            whole_last = False
            continue
        if res.status in ("unknown", "invalid"):
            break
        if res.bound > bound and overload_limit is None:
            bound, bound_source = res.bound, "CP-SAT"
        last = zm.assignment(res.solution)
        if seen.best is not None and (best_obj is None or seen.best_obj < best_obj):
            best, best_obj, source = seen.best, seen.best_obj, "CP-SAT"
        final_pieces = fragments(problem, last) if problem.contiguity else []
        whole_last = not final_pieces
        if not final_pieces:
            obj = objective(problem, last)
            if best_obj is None or obj < best_obj:
                best, best_obj, source = last, obj, "CP-SAT"
            if res.status == "optimal" and overload_limit is not None:
                break  # the fewest children over seats, in one piece: the repair is done
            if enough is not None and enough(best):
                break
            if res.status == "optimal":
                # the relaxation's optimum is in one piece: optimal for the full problem
                bound = max(bound, float(obj) if options.relative_gap == 0 else res.bound)
            continue
        for piece in final_pieces:
            seen.pieces.setdefault((piece[0], piece[1].tobytes()), piece)
        n = zm.add_piece_cuts(list(seen.pieces.values()))
        (log.debug if quiet else log.info)(
            "round %d: %d zone piece(s) cut off; %d one-piece cuts added", rounds, max(1, len(seen.pieces)), n
        )
        fixed = repair(problem, last)
        if not violations(problem, fixed):
            if overload_limit is None:
                # (not in repair mode: its descent, seats being soft there, would move blocks into full
                # schools, and it took 0.2-0.7 s of the 1.2-3.5 s of the repair windows on the 50,000-block
                # city at 5 % slack with one piece per zone)
                fixed = _improved(problem, fixed)
            obj = objective(problem, fixed)
            if best_obj is None or obj < best_obj:
                best, best_obj, source = fixed, obj, "CP-SAT + repair"
                (log.debug if quiet else log.info)("repaired plan: %.1f child-km", obj / problem.scale / 1000)

    cuts = 0 if zm is None else zm.n_cuts
    if best is None:
        return ExactResult(None, None, bound, bound_source, "unknown", rounds, cuts, "")
    bound = min(bound, float(best_obj))
    gap = 0.0 if best_obj <= 0 else (best_obj - bound) / best_obj
    status = "optimal" if gap <= options.relative_gap + 1e-12 else "feasible"
    return ExactResult(best, int(best_obj), bound, bound_source, status, rounds, cuts, source)


class _Harvest:
    """Looks at every solution CP-SAT finds: keeps the best one-piece plan, collects cut-off pieces."""

    def __init__(self, problem: ZoneProblem, zm: ZoneModel, enough=None):
        self.problem, self.zm, self.enough = problem, zm, enough
        self.done = False  # a one-piece plan that is ``enough`` was seen: CP-SAT may stop
        self.best: np.ndarray | None = None
        self.best_obj: int | None = None
        self.pieces: dict[tuple[int, bytes], tuple[int, np.ndarray, int]] = {}

    def __call__(self, solution: np.ndarray) -> None:
        assign = self.zm.assignment(solution)
        pieces = fragments(self.problem, assign)
        if not pieces:
            obj = objective(self.problem, assign)
            if self.best_obj is None or obj < self.best_obj:
                self.best, self.best_obj = assign, obj
            self.done |= self.enough is not None and self.enough(assign)
            return
        for piece in pieces:
            self.pieces.setdefault((piece[0], piece[1].tobytes()), piece)


def explain_search_infeasible(problem: ZoneProblem, options: SolveOptions):
    """Which rule families are jointly infeasible, from assumption literals, in planner's words."""
    # minimum children that must move to fit the seats: the relaxation with cost 1 per moved child
    min_moved = fewest_moves(problem)
    zm = ZoneModel(problem, assumptions=True)
    lits = [v.index for v in zm.families.values()]
    res = run_cpsat(zm.model, options=options, time_limit_s=min(10.0, options.time_limit_s), assumptions=lits)
    if res.status == "infeasible" and res.core:
        names = {v.index: k for k, v in zm.families.items()}
        families = [names[c] for c in res.core if c in names]
    else:
        # without the one-piece cuts the rules fit: the cuts (contiguity) are to blame
        families = ["contiguity", "capacity"] + (["max_moved"] if problem.max_moved is not None else [])
    log.debug("infeasible rule families: %s", families)
    return explain_rules(problem, families, min_moved=min_moved)
