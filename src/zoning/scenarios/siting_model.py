"""The exact siting model, on the pairs and sites the bound leaves: an LP-based branch and bound (SCIP, shipped
inside OR-Tools), or CP-SAT where SCIP is not linked in.

Formulation (``i`` demand points, ``j`` sites; only the pairs and sites :mod:`.siting_bound` has not proven
useless for a better plan)::

    x_ij ∈ {0, 1}   point i goes to site j          y_j ∈ {0, 1}   site j opens

    (1) assign once      Σ_j x_ij = 1                                 ∀ i
    (2) seats            Σ_i d_i x_ij ≤ Q_j y_j                       ∀ j
    (3) open before use  x_ij ≤ y_j                                   ∀ (i, j)
    (4) number of sites  Σ_j y_j = p      (lo ≤ Σ_j y_j ≤ hi when p is free)
    (5) forced           y_j = 1                                      j ∈ F (and the sites the bound fixes open)
    (6) total seats      Σ_j Q_j y_j ≥ Σ_i d_i                        (redundant)
    min Σ_ij w_i c_ij x_ij + Σ_j f_j y_j

The model is hinted with the best plan known (its pairs are always kept).  Its bound holds for the plans on
the pairs left; the pairs dropped cost at least the plan known when they were dropped, so
``min(that plan, the model's bound)`` is proven for all.

Why SCIP rather than CP-SAT (measured, 2 cores, 60 s, on the models the bound leaves): CP-SAT's default
portfolio (what :func:`zoning.cpsat.run_cpsat` runs) keeps (3) out of the LP of its ``default_lp`` worker
(presolve turns the pairs into implications, linearised only at level 2), and its bound there stays at half
the optimum on SJC2 (17,526 against 33,271) and at 775 on pmedcap08 (optimum 820).  SCIP, with (3) as LP rows,
proves SJC2 in 3-4 s and pmedcap08 in 17-53 s (by its random seed).  CP-SAT remains the fallback, with the
costs rounded to whole numbers (``cost_scale``).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model

from ..cpsat import run_cpsat, set_hint, stop_watcher
from ..options import SolveOptions
from .siting_problem import SitingProblem

__all__ = ["ExactResult", "SitingMip", "SitingModel", "exact_model", "ENGINE"]

log = logging.getLogger(__name__)

#: The exact model's engine: "SCIP" (falls back to CP-SAT when this OR-Tools lacks it) or "CP-SAT".
ENGINE = "SCIP"
#: Relative slack given up on SCIP's bound for floating point (its tolerances are about 1e-9).
MIP_SLACK = 1e-7

Plan = Callable[[np.ndarray, np.ndarray], None]


@dataclass(frozen=True)
class ExactResult:
    status: str  # optimal | feasible | infeasible | unknown (of the model on the pairs left)
    bound: float  # proven for the plans on the pairs left, in the problem's cost units
    seconds: float
    engine: str


def exact_model(
    problem: SitingProblem, pairs: np.ndarray, sites: np.ndarray, must: np.ndarray, engine: str | None = None
) -> SitingMip | SitingModel:
    """The exact model in ``engine`` (default ``ENGINE``): SCIP when it is linked into OR-Tools, else CP-SAT."""
    if (engine or ENGINE) == "SCIP" and pywraplp.Solver.CreateSolver("SCIP") is not None:
        return SitingMip(problem, pairs, sites, must)
    return SitingModel(problem, pairs, sites, must)


def _groups(keys: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(key, positions) for each distinct key of ``keys``."""
    if not len(keys):
        return []
    order = np.argsort(keys, kind="stable")
    cuts = np.flatnonzero(np.diff(keys[order])) + 1
    return [(int(keys[g[0]]), g) for g in np.split(order, cuts)]


class SitingMip:
    """The model for SCIP, in the problem's own costs; ``pairs`` (N, M) and ``sites`` (M,) left by the bound,
    ``must`` (M,) sites fixed open."""

    def __init__(self, problem: SitingProblem, pairs: np.ndarray, sites: np.ndarray, must: np.ndarray):
        # --- data
        p = self.problem = problem
        self.ii, self.jj = np.nonzero(pairs & sites[None, :])
        self.site_ids = np.flatnonzero(sites)
        self.solver = s = pywraplp.Solver.CreateSolver("SCIP")
        # --- variables
        self.x = [s.BoolVar("") for _ in range(len(self.ii))]
        self.y = {int(j): s.BoolVar(f"open_{j}") for j in self.site_ids}
        # --- constraints
        self._assign_once()
        self._seats()
        self._open_before_use()
        self._site_count()
        self._forced(must & sites)
        self._total_seats()
        # --- objective
        obj = s.Objective()
        for a, (i, j) in enumerate(zip(self.ii, self.jj)):
            obj.SetCoefficient(self.x[a], float(p.cost[i, j]))
        for j in self.site_ids:
            obj.SetCoefficient(self.y[int(j)], float(p.fixed[j]))
        obj.SetMinimization()

    def _row(self, lo: float, hi: float, terms) -> None:
        row = self.solver.Constraint(lo, hi)
        for var, coef in terms:
            row.SetCoefficient(var, float(coef))

    def _assign_once(self) -> None:
        """(1) Every demand point goes, whole, to exactly one site: Σ_j x_ij = 1."""
        for _i, group in _groups(self.ii):
            self._row(1, 1, [(self.x[a], 1) for a in group])

    def _seats(self) -> None:
        """(2) An open site takes no more children than its seats, a closed one none: Σ_i d_i x_ij ≤ Q_j y_j."""
        p = self.problem
        for j, group in _groups(self.jj):
            terms = [(self.x[a], p.demand[self.ii[a]]) for a in group] + [(self.y[j], -p.capacity[j])]
            self._row(-self.solver.infinity(), 0, terms)

    def _open_before_use(self) -> None:
        """(3) A point goes only to an open site: x_ij ≤ y_j.  Implied by the seats for points with children;
        kept for all because it is what makes the relaxation strong (the seats alone let the LP open a
        sliver of every site)."""
        for a, j in enumerate(self.jj):
            self._row(-self.solver.infinity(), 0, [(self.x[a], 1), (self.y[int(j)], -1)])

    def _site_count(self) -> None:
        """(4) Exactly p sites open, or between the fewest the seats need and ``max_open``."""
        p = self.problem
        lo, hi = (p.p, p.p) if p.p is not None else (p.lo, p.hi)
        self._row(lo, hi, [(v, 1) for v in self.y.values()])

    def _forced(self, must: np.ndarray) -> None:
        """(5) Existing schools (and the sites every better plan opens, by the bound) stay open: y_j = 1."""
        for j in np.flatnonzero(must):
            self.y[int(j)].SetLb(1)

    def _total_seats(self) -> None:
        """(6) The open sites hold every child: Σ_j Q_j y_j ≥ Σ_i d_i.  Redundant (seats and assign-once imply
        it); it lets the search refuse a site set short of seats before it assigns any point."""
        p = self.problem
        self._row(
            p.total_demand, self.solver.infinity(), [(self.y[int(j)], p.capacity[j]) for j in self.site_ids]
        )

    def hint(self, open_sites: np.ndarray, assign: np.ndarray) -> None:
        """Start from a plan (complete: every variable of the model gets a value)."""
        x_val = (np.asarray(assign)[self.ii] == self.jj).astype(float)
        y_val = np.isin(self.site_ids, open_sites).astype(float)
        ys = [self.y[int(j)] for j in self.site_ids]
        self.solver.SetHint(self.x + ys, x_val.tolist() + y_val.tolist())

    def solve(self, options: SolveOptions, time_limit_s: float, on_plan: Plan) -> ExactResult:
        """Solve within ``time_limit_s`` (SCIP runs concurrent copies on ``options.workers`` threads); the
        plan it ends with goes to ``on_plan(open, assign)``."""
        s = self.solver
        log.info(
            "siting model (SCIP): %d pairs, %d sites, %.1f s", len(self.x), len(self.site_ids), time_limit_s
        )
        s.SetTimeLimit(int(max(time_limit_s, 0.05) * 1000))
        s.SetNumThreads(options.workers)
        s.SetSolverSpecificParametersAsString(f"randomization/randomseedshift = {options.seed}\n")
        params = pywraplp.MPSolverParameters()
        params.SetDoubleParam(params.RELATIVE_MIP_GAP, options.relative_gap)
        if options.stopped:  # stopped while the model was built: no more than a glance
            s.SetTimeLimit(50)
        t0 = time.perf_counter()
        # Ctrl-C (options.stop) interrupts SCIP as it stops CP-SAT: the watcher CP-SAT's runs have
        watcher = stop_watcher(s.InterruptSolve, options.stop)
        try:
            code = s.Solve(params)
        finally:
            if watcher is not None:
                watcher.set()
        seconds = time.perf_counter() - t0
        # --- extract
        status = {s.OPTIMAL: "optimal", s.FEASIBLE: "feasible", s.INFEASIBLE: "infeasible"}.get(
            code, "unknown"
        )
        if status in ("optimal", "feasible"):
            take = np.array([v.solution_value() > 0.5 for v in self.x], dtype=bool)
            assign = np.full(self.problem.n_points, -1, dtype=np.int64)
            assign[self.ii[take]] = self.jj[take]
            on_plan(np.array([j for j in self.site_ids if self.y[int(j)].solution_value() > 0.5]), assign)
        bound = s.Objective().BestBound() if status != "infeasible" else math.inf
        if not math.isfinite(bound):
            bound = math.inf if status == "infeasible" else -math.inf
        elif self.problem.cost_scale == 1 and self.problem.rounding == 0:
            bound = math.ceil(bound - MIP_SLACK * max(1.0, abs(bound)))  # whole costs: a whole optimum
        else:
            bound -= MIP_SLACK * max(1.0, abs(bound))
        log.info("siting model (SCIP): %s, bound %.6g, %.1f s", status, bound, seconds)
        return ExactResult(status=status, bound=float(bound), seconds=seconds, engine="SCIP")


class SitingModel:
    """The model for CP-SAT, in whole costs (``int_cost``, ``int_fixed``); arguments as :class:`SitingMip`."""

    def __init__(self, problem: SitingProblem, pairs: np.ndarray, sites: np.ndarray, must: np.ndarray):
        # --- data
        p = self.problem = problem
        self.ii, self.jj = np.nonzero(pairs & sites[None, :])
        self.site_ids = np.flatnonzero(sites)
        self.model = model = cp_model.CpModel()
        # --- variables
        self.x = [model.new_bool_var("") for _ in range(len(self.ii))]
        self.y = {int(j): model.new_bool_var(f"open_{j}") for j in self.site_ids}
        self.x_index = np.array([v.index for v in self.x], dtype=np.int64)
        self.y_index = np.array([self.y[int(j)].index for j in self.site_ids], dtype=np.int64)
        ys = [self.y[int(j)] for j in self.site_ids]
        # --- constraints (the same rules as SitingMip's, numbered as in the module docstring)
        for _i, group in _groups(self.ii):  # (1)
            model.add_exactly_one([self.x[a] for a in group])
        for j, group in _groups(self.jj):  # (2)
            weights = p.demand[self.ii[group]].tolist()
            model.add(
                cp_model.LinearExpr.weighted_sum([self.x[a] for a in group], weights)
                <= int(p.capacity[j]) * self.y[j]
            )
        for a, j in enumerate(self.jj):  # (3)
            model.add_implication(self.x[a], self.y[int(j)])
        if p.p is not None:  # (4)
            model.add(sum(ys) == p.p)
        else:
            model.add_linear_constraint(sum(ys), p.lo, p.hi)
        for j in np.flatnonzero(must & sites):  # (5)
            model.add(self.y[int(j)] == 1)
        model.add(
            cp_model.LinearExpr.weighted_sum(ys, p.capacity[self.site_ids].tolist()) >= p.total_demand
        )  # (6)
        # --- objective
        model.minimize(
            cp_model.LinearExpr.weighted_sum(self.x, p.int_cost[self.ii, self.jj].tolist())
            + cp_model.LinearExpr.weighted_sum(ys, p.int_fixed[self.site_ids].tolist())
        )

    def hint(self, open_sites: np.ndarray, assign: np.ndarray) -> None:
        """Start from a plan (complete: every variable of the model gets a value)."""
        x_val = (np.asarray(assign)[self.ii] == self.jj).astype(np.int64)
        y_val = np.isin(self.site_ids, open_sites).astype(np.int64)
        set_hint(self.model, np.concatenate([self.x_index, self.y_index]), np.concatenate([x_val, y_val]))

    def _plan(self, solution: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        take = solution[self.x_index].astype(bool)
        assign = np.full(self.problem.n_points, -1, dtype=np.int64)
        assign[self.ii[take]] = self.jj[take]
        return self.site_ids[solution[self.y_index].astype(bool)], assign

    def solve(self, options: SolveOptions, time_limit_s: float, on_plan: Plan) -> ExactResult:
        """Solve within ``time_limit_s``; every improving plan goes to ``on_plan(open, assign)`` as found."""
        p = self.problem
        log.info(
            "siting model (CP-SAT): %d pairs, %d sites, %.1f s", len(self.x), len(self.site_ids), time_limit_s
        )
        result = run_cpsat(
            self.model,
            options=options,
            time_limit_s=time_limit_s,
            progress_scale=p.cost_scale,
            on_solution=lambda sol: on_plan(*self._plan(sol)),
        )
        bound = result.bound / p.cost_scale - p.rounding if result.status != "infeasible" else math.inf
        return ExactResult(status=result.status, bound=float(bound), seconds=result.seconds, engine="CP-SAT")
