"""New-school siting (issue 15): choose sites for schools among candidates, each with its seats, and send every
demand point (a residential block's children) whole to one chosen site within its seats, fewest
child-metres; optionally an opening cost per site (then the number of sites may be free) and existing
schools that stay open.  The formulation is in :mod:`.siting_problem`.

:func:`solve_siting` returns a plan with a proven lower bound and gap, in this order within the time limit:

1. Checks in the planner's words (:func:`.siting_problem.check_seats`): a point no site can seat, the most
   seats the allowed number of sites offers below the children.  A first plan by locate-allocate.
2. The Lagrangian bound (:mod:`.siting_bound`), a first round with large steps, and from every new site set
   it opens whose relaxation is among the best seen a plan (the transport relaxation screens the set, a
   small CP-SAT model assigns the points: :mod:`.siting_start`).
3. Swap search from the best plan (:func:`.siting_start.swap_search`).
4. The bound to convergence; with the better plan it drops more of the pairs and sites no better plan uses.
5. The exact model (:mod:`.siting_model`, SCIP) on the pairs and sites left, hinted with the best plan, for
   the rest of the time.  The bound reported is the better of the Lagrangian's and the exact model's
   (``bound_source``).

Why this way (measured on the Osman-Christofides and São José dos Campos instances, ``benchmarks/siting.py``,
2 cores, 60 s): one plain CP-SAT model over every pair ends 0.6 % (SJC1) and 1.5-5.5 % (SJC2) above the
optimum with 1.1-14 % left open, and leaves pmedcap08 5.4-5.8 % open; the Lagrangian bound alone comes
within 0.2 % of the SJC optima, its fixing leaves 2-6 % of the pairs there, and SCIP proves the rest
optimal.  On the small Osman-Christofides instances the Lagrangian bound is 1-6 % below the optimum and
keeps most pairs: there SCIP does the proving (pmedcap08, the hardest, in 22-28 s).  Every instance ends
proven optimal in 0.1-26 s.  Below about 20 s the plans on SJC2 are still 3-5 % above the optimum (the
swap search is what finds the good site sets, at about half a second a move).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from ..errors import InfeasibleError, NoPlanFoundError
from ..options import SolveOptions
from ..zones.problem import fmt_children
from .siting_bound import Lagrangian
from .siting_model import exact_model
from .siting_problem import SitingProblem, check_seats, plan_cost, siting_problem
from .siting_start import (
    Incumbent,
    Relaxed,
    assign_points,
    locate_allocate,
    round_relaxed,
    swap_search,
    transport,
)

__all__ = ["SitingResult", "solve_siting", "TIME_FIX"]

log = logging.getLogger(__name__)

#: Share of the time limit the Lagrangian bound (with its heuristic) may take before the search moves on.
LAGRANGE_SHARE = 0.25
#: The first round of the bound stops at this step size (the plans it gives are then good enough to start
#: the swap search from); the second goes on to convergence with the better plan.
COARSE_STEP = 0.03
#: Share of the time limit the swap search may take.
SWAP_SHARE = 0.25
#: The Lagrangian heuristic makes plans only of site sets whose relaxation is within this of the best seen
#: (early, the relaxation opens poor sets whose relaxation still beats the first plans: on SJC2 they took
#: two thirds of the first round's time).
RECORD_SLACK = 0.002
#: A gap this small is floating point, not a worse plan: the plan is reported optimal.
FLOAT_GAP = 1e-6
#: The exact model runs only with this many seconds left beyond its overhead (building it, SCIP's presolve:
#: SCIP ran 2.0 s for a 0.9 s limit on a 27,300-pair model), and is given all but ``EXACT_MARGIN`` of them.
EXACT_MIN_S = 1.0
EXACT_S_PER_PAIR = 5e-5
EXACT_MARGIN = 0.1
#: Share of the time limit one assignment model (a plan for one site set) may take.
ASSIGN_SHARE = 0.02
#: How the "no siting plan" message asks for more time, in the Python API's words (a command says its flag).
TIME_FIX = "options=SolveOptions(time_limit_s=…)"


@dataclass(frozen=True)
class SitingResult:
    """A siting plan with its proof.  ``open``: the open sites' indices (sorted); ``assign`` (N,): the site
    of each demand point; ``objective``: Σ w_i c_ij over the points + Σ f_j over the open sites, in the
    units of ``cost`` × ``weight``; ``lower_bound``: no plan costs less; ``gap``: (objective − lower_bound)
    / objective; ``status``: "optimal" when the gap is within ``options.relative_gap`` (or 1e-6, floating
    point); ``bound_source``:
    "lagrangian", "SCIP" or "CP-SAT" (the exact model); ``source``: the method that found the plan
    ("lagrangian heuristic", "swap search", "exact model"); ``stopped``: the search was stopped (``options.stop``,
    Ctrl-C) before its time limit, and this is the best plan found so far, with the gap proven so far."""

    open: np.ndarray
    assign: np.ndarray
    objective: float
    lower_bound: float
    gap: float
    status: Literal["optimal", "feasible"]
    seconds: float
    bound_source: str
    source: str
    stopped: bool = False


def solve_siting(
    cost: np.ndarray,
    demand: np.ndarray,
    capacity: np.ndarray,
    p: int | None,
    *,
    weight: np.ndarray | None = None,
    fixed_cost: np.ndarray | None = None,
    forced: np.ndarray | None = None,
    max_open: int | None = None,
    options: SolveOptions = SolveOptions(),
) -> SitingResult:
    """Open ``p`` of the candidate sites and send every demand point whole to one open site within its seats,
    at least cost.

    cost (N, M): distance from each demand point to each candidate site (metres, or any unit); ``np.inf``
        where the pair is not allowed.
    demand (N,): children of each demand point.  capacity (M,): seats of each site.
    p: sites to open, existing ones included; None to let the opening costs decide (up to ``max_open``).
    weight (N,): what one unit of cost counts for each point (default: its children, so the objective is
        child-metres; ones count each point once, the OR-Library convention).
    fixed_cost (M,): cost of opening each site, in the objective's units (default 0).
    forced: sites open in every plan (existing schools): indices or a boolean mask.
    options: time limit (the whole call), workers, seed, and the gap at which the search stops; its ``stop``
        event (Ctrl-C) ends the search at once, as the time limit does.

    Raises :class:`InputError` for malformed arrays and :class:`InfeasibleError` when no plan exists, with
    the numbers (seats against children, the points no site can take).  A run out of time returns its
    best plan with the gap proven so far."""
    t0 = time.perf_counter()
    deadline = t0 + options.time_limit_s
    problem = siting_problem(
        cost, demand, capacity, p, weight=weight, fixed_cost=fixed_cost, forced=forced, max_open=max_open
    )
    check_seats(problem)
    return _Search(problem, options, t0, deadline).run()


class _Search:
    """The steps of :func:`solve_siting` around one incumbent."""

    def __init__(self, problem: SitingProblem, options: SolveOptions, t0: float, deadline: float):
        self.problem, self.options, self.t0, self.deadline = problem, options, t0, deadline
        self.incumbent = Incumbent()
        self.lag = Lagrangian(problem)
        self.sub_options = replace(options, relative_gap=min(options.relative_gap, 1e-4))
        self.exact_bound = -math.inf  # the exact model's, min(plan when built, its bound)
        self.engine = "exact model"
        self.tried: set[bytes] = set()
        self.best_relaxed = math.inf

    def left(self) -> float:
        """Seconds left: none once the search is stopped (``options.stop``, Ctrl-C)."""
        return 0.0 if self.options.stopped else self.deadline - time.perf_counter()

    def stopped(self) -> bool:
        return self.options.stopped

    def run(self) -> SitingResult:
        p, opts, lag, inc = self.problem, self.options, self.lag, self.incumbent
        limit = opts.time_limit_s
        # --- a first plan: the relaxation's first site set, moved to its zones' best sites
        _, choice, _ = lag.evaluate(lag.lam, math.inf)
        self.plan_for(locate_allocate(p, np.flatnonzero(choice.open), lag.sites), "locate-allocate")
        # --- bound and plans from the relaxation's site sets, until the steps are small
        lag.run(
            lambda: inc.value,
            min(self.deadline, self.t0 + LAGRANGE_SHARE * limit),
            on_sites=lambda sites: self.plan_for(sites, "lagrangian heuristic", relaxed_only_records=True),
            relative_gap=opts.relative_gap,
            min_step=COARSE_STEP,
            stop=self.stopped,
        )
        # --- swap search from the best plan
        if not self.proven() and inc.assign is not None:
            self.swaps(min(self.deadline, time.perf_counter() + SWAP_SHARE * limit))
        # --- the bound to convergence: a better plan drops more pairs
        if not self.proven():
            lag.run(
                lambda: inc.value,
                min(self.deadline, time.perf_counter() + LAGRANGE_SHARE * limit),
                on_sites=lambda sites: self.plan_for(
                    sites, "lagrangian heuristic", relaxed_only_records=True
                ),
                relative_gap=opts.relative_gap,
                stop=self.stopped,
            )
        if inc.assign is not None and math.isfinite(lag.bound):
            value, _, _ = lag.evaluate(lag.best_lam, inc.value)  # fix with the best plan's cost
            lag.bound = max(lag.bound, value)
        if inc.assign is None and lag.bound == math.inf:
            raise _packing_error(p)  # the bound rose above the dearest plan there could be
        # --- the exact model on what is left
        pairs = int((lag.pairs & lag.sites[None, :]).sum())
        if not self.proven() and self.left() > EXACT_MIN_S + EXACT_S_PER_PAIR * pairs:
            self.exact(EXACT_S_PER_PAIR * pairs)
        elif not self.proven() and inc.assign is not None:  # too little time for the exact model: swaps
            self.swaps(self.deadline)
        return self.result()

    def swaps(self, deadline: float) -> None:
        inc = self.incumbent
        before = inc.value
        moves = swap_search(
            self.problem,
            inc,
            alive=self.lag.sites,
            plan_for=lambda sites, relaxed: self.plan_for(sites, "swap search", relaxed),
            deadline=deadline,
            stop=self.stopped,
        )
        log.info("swap search: %d move(s), plan %.6g → %.6g", moves, before, inc.value)

    def plan_for(
        self,
        sites: np.ndarray,
        source: str,
        relaxed: Relaxed | None = None,
        *,
        relaxed_only_records: bool = False,
    ) -> float | None:
        """Make a plan for a site set when its relaxation may beat the best plan (and, with
        ``relaxed_only_records``, is within ``RECORD_SLACK`` of the best relaxation seen); offer it; its cost."""
        p, inc = self.problem, self.incumbent
        key = np.packbits(np.isin(np.arange(p.n_sites), sites)).tobytes()
        first = self.stopped() and inc.assign is None  # stopped before any plan: the rounding still makes one
        if key in self.tried or (self.left() <= 0 and not first):
            return None
        self.tried.add(key)
        relaxed = relaxed if relaxed is not None else transport(p, sites)
        if relaxed is None:
            return None
        value = relaxed.value + float(p.fixed[sites].sum())
        if value >= inc.value * (1 + 1e-7) + 1e-9:
            return None  # no plan for these sites beats the best one
        if relaxed_only_records and value > self.best_relaxed * (1 + RECORD_SLACK):
            return None  # a worse set than many tried already: not worth a plan
        self.best_relaxed = min(self.best_relaxed, value)
        # the relaxation rounded (milliseconds), before the model gets its share: at city scale the model
        # may need more than its share (3 s on 3,000 blocks), and with no plan the search had nothing
        rounded = round_relaxed(p, sites, relaxed)
        rounded_cost = plan_cost(p, sites, rounded) if rounded is not None else None
        if rounded is not None and inc.offer(sites, rounded, rounded_cost, source):
            self.lag.keep(inc.open, inc.assign)
        if self.stopped():
            return rounded_cost
        budget = min(ASSIGN_SHARE * self.options.time_limit_s, self.left())
        found = assign_points(p, sites, options=self.sub_options, time_limit_s=budget, hint=relaxed.site)
        if found is None:
            return None
        assign, value = found
        if inc.offer(sites, assign, value, source):
            self.lag.keep(inc.open, inc.assign)
        return value

    def exact(self, overhead_s: float) -> None:
        p, inc, lag = self.problem, self.incumbent, self.lag
        ub_at_fix = inc.value
        model = exact_model(p, lag.pairs, lag.sites, lag.must)
        if inc.assign is not None:
            model.hint(inc.open, inc.assign)

        def on_plan(open_sites: np.ndarray, assign: np.ndarray) -> None:
            if inc.offer(open_sites, assign, plan_cost(p, open_sites, assign), "exact model"):
                lag.keep(inc.open, inc.assign)

        # SCIP overruns a short limit (its presolve is not interrupted): keep back a share of what is left
        result = model.solve(self.sub_options, (1 - EXACT_MARGIN) * (self.left() - overhead_s), on_plan)
        self.engine = result.engine
        if result.status == "infeasible" and inc.assign is None:
            raise _packing_error(p)
        if result.status in ("optimal", "feasible", "infeasible") or math.isfinite(result.bound):
            self.exact_bound = min(ub_at_fix, result.bound)

    def proven(self) -> bool:
        inc = self.incumbent
        if inc.assign is None:
            return False
        return inc.value - self.lower_bound() <= self.options.relative_gap * abs(inc.value)

    def lower_bound(self) -> float:
        return max(self.lag.proven(self.incumbent.value), self.exact_bound)

    def result(self) -> SitingResult:
        inc = self.incumbent
        seconds = time.perf_counter() - self.t0
        if inc.assign is None and self.stopped():
            raise NoPlanFoundError(
                f"No siting plan found: the search was stopped (Ctrl-C) after {seconds:.1f} s, before its "
                f"first plan. Fix: let it run longer ({TIME_FIX}), or more sites or seats."
            )
        if inc.assign is None:
            raise NoPlanFoundError(
                f"No siting plan found in {self.options.time_limit_s:g} s (none proven impossible either). "
                f"Fix: allow more time ({TIME_FIX}), or more sites or seats."
            )
        lag_bound = self.lag.proven(inc.value)
        # costs are never negative, so 0 is a bound before any other (stopped at once: it said "gap inf %")
        bound = min(inc.value, max(lag_bound, self.exact_bound, 0.0))
        gap = max(0.0, (inc.value - bound) / abs(inc.value)) if inc.value != 0 else 0.0
        optimal = gap <= max(self.options.relative_gap, FLOAT_GAP)
        status: Literal["optimal", "feasible"] = "optimal" if optimal else "feasible"
        source = "lagrangian" if lag_bound >= self.exact_bound else self.engine
        log.info(
            "siting: %d sites, plan %.6g, bound %.6g (%s), gap %.3f%%, %s, %.1f s",
            len(inc.open),
            inc.value,
            bound,
            source,
            100 * gap,
            status,
            seconds,
        )
        return SitingResult(
            open=inc.open.copy(),
            assign=inc.assign.copy(),
            objective=float(inc.value),
            lower_bound=float(bound),
            gap=float(gap),
            status=status,
            seconds=seconds,
            bound_source=source,
            source=inc.source,
            stopped=self.stopped() and not optimal,
        )


def _packing_error(p: SitingProblem) -> InfeasibleError:
    """No plan exists although the seats add up: the points, whole, do not pack into any allowed site set."""
    s = p.scale
    n_sites = f"{p.p} sites" if p.p is not None else f"at most {p.hi} sites"
    big = np.sort(p.demand)[::-1][:3]
    return InfeasibleError(
        [
            f"the children of the {p.n_points} demand points ({fmt_children(p.total_demand, s)} in all) cannot be "
            f"sent whole to the seats of any {n_sites} within reach (the largest points have "
            f"{', '.join(fmt_children(v, s) for v in big)} children)"
        ],
        ["add seats or sites", "allow farther sites", "split the largest points"],
        rule="capacity",
    )
