"""The siting bound: Lagrangian relaxation of "every point goes to one site", knapsacks per site, and the
pairs and sites it proves useless.

## The bound

Price each demand point's "goes to exactly one site" at ``λ_i``.  What is left splits by site: site j, if
open, takes the set of points worth most to it, ``Σ_i (λ_i − w_i c_ij) x_ij`` within its seats ``Q_j`` — a
0-1 knapsack, solved exactly by dynamic programming over seats — and is worth ``ρ_j = f_j − knapsack_j(λ)``
to open.  The sites are then chosen by ``ρ`` alone: the forced ones, and the cheapest others within the
allowed number of sites (exactly p, or every ``ρ_j < 0`` between the fewest and the most).  For every ``λ``::

    L(λ) = Σ_i λ_i + min over allowed site sets S of Σ_(j ∈ S) ρ_j   ≤   the cost of every plan

(a plan is one site set and one knapsack choice per open site, each point taken once, so the prices cancel).
Subgradient steps raise ``λ_i`` where no open site takes point i and lower it where several do (Polyak
steps toward the best plan known, halved when ``L`` stalls).  This is the bound of the column-generation
and Lagrangian methods for the capacitated p-median (Lorena & Senne 2004; Ceselli & Righini 2005): on the
São José dos Campos instances it closes to 0.15-0.2 % of the optimum, on the Osman-Christofides ones to
1-6 % (measured: ``benchmarks/siting.py``).

## Reduced-cost fixing

The same ``λ`` bounds every plan that uses a given pair or site.  Forcing site j open costs the site choice
``pen_open_j`` (swap it for the dearest chosen site, or add it when there is room); closing a chosen one
costs ``pen_close_j``.  Forcing point i into site j's knapsack costs at least
``Δ_ij = knapsack_j(Q_j) − knapsack_j(Q_j − d_i) − (λ_i − w_i c_ij)`` (the others get ``d_i`` fewer seats;
the table of the knapsack's dynamic programme gives both values at once).  Every plan using pair (i, j)
therefore costs at least ``L + pen_open_j + max(0, Δ_ij)``: when that exceeds the best plan known, no better
plan uses the pair, and it is dropped.  Sites are dropped (or fixed open) the same way.  What is left is
small (on SJC2, 1,241 of 40,000 pairs and 76 of 200 sites with the optimum as the best plan), and the knapsacks
after it run over the pairs left, so the bound rises further: it bounds the plans better than the best
known, so the proven bound is ``min(best plan, L)``.

Seats are counted in units of ``ceil(Q_max / MAX_UNITS)`` children when a site has more (rounding every
point's children and the seats down keeps every plan a feasible point of each knapsack: the bound stays
valid, only weaker).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .siting_problem import SitingProblem

__all__ = ["SiteChoice", "Lagrangian", "choose_sites"]

log = logging.getLogger(__name__)

#: Seat units a knapsack counts at most (sites with more seats count them in coarser units).
MAX_UNITS = 1024
#: The step size is halved after this many steps without a better bound.
STALL_STEPS = 20
#: The first step goes this multiple of the way to the best plan known (Polyak).
FIRST_STEP = 2.0
#: Stop once the step size falls below this: the bound has converged.
MIN_STEP = 1e-4
#: Relative slack for floating point in the bound and in the fixing tests.
FLOAT_SLACK = 1e-9


@dataclass(frozen=True)
class SiteChoice:
    """The best site set for site values ``ρ``, and what forcing each site open or closed would cost."""

    open: np.ndarray  # (M,) bool
    value: float  # Σ_(j open) ρ_j (inf when no allowed set exists)
    pen_open: np.ndarray  # (M,) ≥ 0: rise of the value with site j forced open (0 if open, inf if dropped)
    pen_close: np.ndarray  # (M,) ≥ 0: rise with site j forced closed (0 if closed, inf if it must open)


def choose_sites(rho: np.ndarray, fixed_open: np.ndarray, alive: np.ndarray, lo: int, hi: int) -> SiteChoice:
    """Open the ``fixed_open`` sites and, among the other ``alive`` ones, as many of the cheapest as make the
    sum of ``ρ`` least with between ``lo`` and ``hi`` sites in all.

    With the free sites' values sorted, ``r_1 ≤ r_2 ≤ …``, the best count ``t`` takes every negative one
    (within the bounds).  A site at rank ``k > t`` forced open either joins (``r_k``, when ``t < hi``) or
    replaces the ``t``-th (``r_k − r_t``); a chosen one forced closed either leaves (``−r_k``, when
    ``t > lo``) or gives way to the next (``r_(t+1) − r_k``)."""
    m = len(rho)
    n_fixed = int(fixed_open.sum())
    free = np.flatnonzero(alive & ~fixed_open)
    a = max(lo - n_fixed, 0)
    b = min(hi - n_fixed, len(free))
    pen_open = np.full(m, np.inf)
    pen_close = np.zeros(m)
    pen_open[fixed_open] = 0.0
    pen_close[fixed_open] = np.inf
    if a > b:
        return SiteChoice(np.zeros(m, dtype=bool), math.inf, pen_open, pen_close)
    order = free[np.argsort(rho[free], kind="stable")]
    r = rho[order]
    t = int(np.clip(int((r < 0).sum()), a, b))
    is_open = fixed_open.copy()
    is_open[order[:t]] = True
    value = float(rho[fixed_open].sum() + r[:t].sum())
    rest, chosen = order[t:], order[:t]
    join = r[t:] if t < b else np.full(len(rest), np.inf)
    swap = r[t:] - r[t - 1] if t >= 1 else np.full(len(rest), np.inf)
    pen_open[rest] = np.minimum(join, swap)
    pen_open[order[:t]] = 0.0
    leave = -r[:t] if t - 1 >= a else np.full(t, np.inf)
    give = r[t] - r[:t] if t < len(r) else np.full(t, np.inf)
    pen_close[chosen] = np.minimum(leave, give)
    return SiteChoice(is_open, value, np.maximum(pen_open, 0.0), np.maximum(pen_close, 0.0))


class _Knapsacks:
    """Every site's 0-1 knapsack over the points it may take, solved together point by point: the dynamic
    programme's table ``best[j, q]`` (most profit within q seat units) is kept for the fixing tests."""

    def __init__(self, problem: SitingProblem):
        p = problem
        self.unit = max(1, -(-int(p.capacity.max()) // MAX_UNITS))
        self.weight = p.demand // self.unit
        self.seats = p.capacity // self.unit
        self.width = int(self.seats.max()) + 1
        # seats left to the others when point i is forced into site j, in units (-1: it does not fit)
        self.left = np.where(p.allowed, (p.capacity[None, :] - p.demand[:, None]) // self.unit, -1)

    def evaluate(self, profit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(best, chosen): the table (M, width) and the points (N, M) each site's knapsack takes, for the
        profits (N, M) (only pairs with profit > 0 count)."""
        n, m = profit.shape
        best = np.zeros((m, self.width))
        steps: list[tuple[np.ndarray, np.ndarray] | None] = []
        for i in range(n):
            js = np.flatnonzero(profit[i] > 0)
            w = int(self.weight[i])
            if not len(js) or w >= self.width:
                steps.append(None)
                continue
            rows = best[js]
            cand = rows[:, : self.width - w] + profit[i, js][:, None]
            better = np.zeros(rows.shape, dtype=bool)
            better[:, w:] = cand > rows[:, w:]
            np.maximum(rows[:, w:], cand, out=rows[:, w:])
            best[js] = rows
            steps.append((js, better))
        room = self.seats.copy()
        chosen = np.zeros((n, m), dtype=bool)
        for i in range(n - 1, -1, -1):
            step = steps[i]
            if step is None:
                continue
            js, better = step
            took = better[np.arange(len(js)), room[js]]
            chosen[i, js[took]] = True
            room[js[took]] -= int(self.weight[i])
        return best, chosen


class Lagrangian:
    """The Lagrangian bound with its fixing: ``pairs`` and ``sites`` shrink as better plans are found.

    ``bound`` is proven for the plans that use only the pairs and sites left; every other plan costs at
    least the best plan known when it was dropped, so ``min(best plan, bound)`` is proven for all."""

    def __init__(self, problem: SitingProblem):
        p = problem
        self.problem = p
        self.knap = _Knapsacks(p)
        self.pairs = p.allowed.copy()  # pairs a better plan may still use
        self.sites = np.ones(p.n_sites, dtype=bool)  # sites a better plan may still open
        self.must = p.forced.copy()  # sites every better plan opens
        self.bound = -math.inf
        self.steps = 0
        self.step = FIRST_STEP
        self.seconds = 0.0
        # start: the second-cheapest pair of each point (its cheapest when it has one)
        c = np.where(p.allowed, p.cost, np.inf)
        part = np.sort(c, axis=1)[:, : min(2, p.n_sites)]
        second = np.where(np.isfinite(part[:, -1]), part[:, -1], part[:, 0])
        self.lam = np.where(np.isfinite(second), second, 0.0)
        self.best_lam = self.lam.copy()
        self.magnitude = float(np.abs(c[np.isfinite(c)]).sum() + p.fixed.sum()) + 1.0
        # no plan costs more than every point at its dearest pair and the dearest sites open: a bound
        # above this proves that no plan exists (the relaxation's prices grow without end)
        dearest = np.where(p.allowed, p.cost, 0.0).max(axis=1).sum()
        self.ceiling = float(dearest + np.sort(p.fixed)[::-1][: p.hi].sum())

    def evaluate(self, lam: np.ndarray, upper: float) -> tuple[float, SiteChoice, np.ndarray]:
        """L(lam) on the pairs and sites left; drops the pairs and sites whose every plan costs more than
        ``upper`` (the best plan known, inf for none) and fixes open the sites every better plan needs.
        Returns (L, the site choice, the knapsacks' points (N, M))."""
        p, k = self.problem, self.knap
        profit = np.where(self.pairs, lam[:, None] - p.cost, 0.0)
        best, chosen = k.evaluate(profit)
        top = best[np.arange(p.n_sites), k.seats]
        rho = p.fixed - top
        choice = choose_sites(rho, self.must & self.sites, self.sites, p.lo, p.hi)
        value = float(lam.sum()) + choice.value
        if math.isfinite(upper) and math.isfinite(value):
            tol = FLOAT_SLACK * (self.magnitude + float(np.abs(lam).sum()))
            over = upper + tol - value  # what a plan may add to L and still beat ``upper``
            self.sites &= choice.pen_open <= over
            self.must |= self.sites & (choice.pen_close > over)
            rest = np.where(k.left >= 0, best[np.arange(p.n_sites)[None, :], np.maximum(k.left, 0)], np.inf)
            delta = np.maximum(0.0, top[None, :] - rest - (lam[:, None] - p.cost))
            self.pairs &= (choice.pen_open[None, :] + delta <= over) & self.sites[None, :]
        return value, choice, chosen

    def keep(self, open_sites: np.ndarray, assign: np.ndarray) -> None:
        """Keep a plan's pairs and sites (so the exact model can start from it whatever rounding did)."""
        self.pairs[np.arange(len(assign)), assign] = True
        self.sites[open_sites] = True

    def proven(self, upper: float) -> float:
        """The bound proven for every plan: min(best plan, L), less a hair for floating point."""
        slack = FLOAT_SLACK * (self.magnitude + float(np.abs(self.best_lam).sum()))
        return min(upper, self.bound - slack)

    def run(
        self,
        upper: Callable[[], float],
        deadline: float,
        *,
        on_sites: Callable[[np.ndarray], None] | None = None,
        relative_gap: float = 0.0,
        min_step: float = MIN_STEP,
        stop: Callable[[], bool] | None = None,
    ) -> None:
        """Subgradient steps until the step falls below ``min_step`` (the bound has converged), ``deadline``
        (perf_counter), ``stop()`` says so (Ctrl-C), or the best plan is within ``relative_gap`` of the bound.  ``upper()`` gives the
        best plan known; ``on_sites`` sees each new set of sites the relaxation opens (the Lagrangian
        heuristic makes a plan of it).  A second call goes on from where the first stopped."""
        t0 = time.perf_counter()
        p = self.problem
        lam = self.lam.copy()
        step, stall = self.step, 0
        seen: set[bytes] = set()
        took = 0.0
        while (
            time.perf_counter() + took < deadline and step >= min_step and not (stop is not None and stop())
        ):
            t1 = time.perf_counter()
            ub = upper()
            value, choice, chosen = self.evaluate(lam, ub)
            tol = FLOAT_SLACK * (self.magnitude + float(np.abs(lam).sum()))
            self.steps += 1
            if value > self.bound:
                self.bound, self.best_lam, stall = value, lam.copy(), 0
            else:
                stall += 1
                if stall >= STALL_STEPS:
                    step, stall = step / 2, 0
            if (
                not math.isfinite(value)
                or not self.pairs.any(axis=1).all()
                or self.bound > self.ceiling + tol
            ):
                self.bound = math.inf  # no plan better than the best known is left (or none at all)
                break
            if on_sites is not None:
                key = np.packbits(choice.open).tobytes()
                if key not in seen:
                    seen.add(key)
                    on_sites(np.flatnonzero(choice.open))
                    ub = upper()
            if math.isfinite(ub) and ub - self.bound <= relative_gap * abs(ub):
                break
            g = 1.0 - chosen[:, choice.open].sum(axis=1)
            norm = float(g @ g)
            if norm == 0.0:
                break  # every point taken exactly once: the knapsacks form a plan (on_sites saw its sites)
            target = ub if math.isfinite(ub) else self.bound + 0.1 * abs(self.bound) + 1.0
            lam = lam + step * max(target - value, 1e-9 * abs(target)) / norm * g
            took = time.perf_counter() - t1
        self.lam, self.step = lam, step
        self.seconds += time.perf_counter() - t0
        log.info(
            "siting bound: %.6g after %d step(s), %d of %d pairs and %d of %d sites left (%.2f s)",
            self.bound,
            self.steps,
            int(self.pairs.sum()),
            int(p.allowed.sum()),
            int(self.sites.sum()),
            p.n_sites,
            self.seconds,
        )
