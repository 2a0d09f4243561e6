"""The districts' proven lower bound: the LP relaxation of (1)–(7) (``model``'s formulation), by HiGHS.

The search runs it in a background thread beside CP-SAT (both release the GIL; :class:`BoundJob`) and
measures the gap against it, or against CP-SAT's own bound when the whole model was solved.  Up to 400
schools HiGHS' branch and cut on the same relaxation with the a-priori one-piece rows (:func:`mip_bound`)
follows the LP once the search holds a plan: its dual bound at the time limit is proven and closes part of
the LP's gap (mixed 300 → 25: 234.2 k against 233.1 k children-km; the plans found are near 237 k).
Above 400 schools a Lagrangian bound (:func:`lagrangian_bound`, a few seconds of numpy) stands in while the
LP runs, and for good where the LP does not finish in the time (3,000 schools in 60 s).
"""

from __future__ import annotations

import threading
import time

import numpy as np

from .problem import DistrictProblem

__all__ = ["BoundJob", "lp_bound", "mip_bound", "lagrangian_bound"]

#: HiGHS' interior point (with crossover): on the mixed 1,000 → 80 city (load 5.7) 12.7 s against 23–24 s for
#: the dual simplex, same bound; the LP runs beside the search and shares its two cores.
LP_METHOD = "highs-ipm"
#: Share of the time HiGHS' branch and cut on the relaxation gets up to ``search.FULL_MODEL_SCHOOLS``
#: schools (its plan, mended, is then polished by the search's windows).  Measured on the mixed 300 → 25
#: city (load 6), alone: 60 s, bound 234.2 k children-km (the LP 233.1 k), a grouping of 237.7 k keeping
#: every rule; the bound stays there to 120 s (234.3 k).
MIP_SHARE = 0.8


def _relaxation(p: DistrictProblem, *, neighbours: bool = False):
    """The matrices of (1)–(7) over the candidate pairs: (cost, A_ub, b_ub, A_eq, b_eq, lower bounds).

    ``neighbours``: add the a-priori one-piece rows of (10), x_(i, l) ≤ Σ_{u ∈ N(i)} x_(u, l) for i ≠ l (a
    member of a district in one piece has a neighbour in it), valid for every plan.  Built on arrays (no
    Python loop per variable)."""
    from scipy import sparse

    ps, pl = p.pair_school, p.pair_lead
    n_pairs = len(ps)
    self_pair = np.full(p.n, -1, dtype=np.int64)
    is_self = ps == pl
    self_pair[ps[is_self]] = np.flatnonzero(is_self)
    leads = np.flatnonzero(self_pair >= 0)
    lead_row = np.full(p.n, -1, dtype=np.int64)
    lead_row[leads] = np.arange(len(leads))
    y_of_pair = self_pair[pl]
    rows, cols, vals, rhs = [], [], [], []
    n_rows = 0

    def block(r, c, v, b):
        nonlocal n_rows
        rows.append(np.asarray(r) + n_rows)
        cols.append(np.asarray(c))
        vals.append(np.asarray(v, dtype=float))
        rhs.append(np.asarray(b, dtype=float))
        n_rows += len(b)

    others = np.flatnonzero(~is_self)
    # (2) x_(i, l) − y_l ≤ 0
    r = np.arange(len(others))
    block(np.concatenate([r, r]), np.concatenate([others, y_of_pair[others]]),
          np.concatenate([np.ones(len(r)), -np.ones(len(r))]), np.zeros(len(r)))  # fmt: skip

    # (4)–(7) per lead: Σ v_i x_(i, l) − hi·y_l ≤ 0 and lo·y_l − Σ v_i x_(i, l) ≤ 0
    def per_lead(values, lo=None, hi=None):
        lr = lead_row[pl]
        if hi is not None:
            block(np.concatenate([lr, np.arange(len(leads))]), np.concatenate([np.arange(n_pairs), self_pair[leads]]),
                  np.concatenate([values[ps], -hi * np.ones(len(leads))]), np.zeros(len(leads)))  # fmt: skip
        if lo is not None:
            block(np.concatenate([lr, np.arange(len(leads))]), np.concatenate([np.arange(n_pairs), self_pair[leads]]),
                  np.concatenate([-values[ps], lo * np.ones(len(leads))]), np.zeros(len(leads)))  # fmt: skip

    per_lead(np.ones(p.n), *p.count_band)
    if p.seats_band is not None:
        per_lead(p.seats.astype(float), *p.seats_band)
    if p.children_band is not None:
        per_lead(p.children.astype(float), *p.children_band)
        if p.seats_band is not None:
            per_lead((p.seats - p.children).astype(float), lo=0.0)
    if p.quality_band is not None:
        qlo, qhi = p.quality_band
        q = np.nan_to_num(p.quality)
        known = p.quality_known
        per_lead(np.where(known, q - qhi, 0.0), hi=0.0)
        per_lead(np.where(known, q - qlo, 0.0), lo=0.0)
    for req in p.requirements:
        per_lead(req.members.astype(float), lo=float(req.at_least))
    if neighbours and p.contiguity and len(p.edges):
        # x_(i, l) − Σ_{u ∈ N(i)} x_(u, l) ≤ 0 for every member pair (i, l), i ≠ l: one row per pair,
        # the pairs (u, l) of its neighbours u that may join l
        indptr, indices = p.neighbours
        deg = indptr[ps[others] + 1] - indptr[ps[others]]
        row_of = np.repeat(np.arange(len(others)), deg)
        starts = np.repeat(indptr[ps[others]], deg)
        offs = np.arange(len(row_of)) - np.repeat(np.cumsum(deg) - deg, deg)
        nb = indices[starts + offs]
        nb_pair = p.pair_index(nb, pl[others][row_of])
        ok = nb_pair >= 0
        block(np.concatenate([np.arange(len(others)), row_of[ok]]), np.concatenate([others, nb_pair[ok]]),
              np.concatenate([np.ones(len(others)), -np.ones(int(ok.sum()))]), np.zeros(len(others)))  # fmt: skip
    a_ub = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_rows, n_pairs)
    )
    b_ub = np.concatenate(rhs)
    # (1) one district per school, (3) K leads
    a_eq = sparse.vstack(
        [
            sparse.csr_matrix((np.ones(n_pairs), (ps, np.arange(n_pairs))), shape=(p.n, n_pairs)),
            sparse.csr_matrix(
                (np.ones(len(leads)), (np.zeros(len(leads)), self_pair[leads])), shape=(1, n_pairs)
            ),
        ]
    )
    b_eq = np.concatenate([np.ones(p.n), [p.n_districts]])
    lower = np.zeros(n_pairs)
    lower[self_pair[np.flatnonzero(p.pinned)]] = 1.0
    return p.pair_cost.astype(float), a_ub, b_ub, a_eq, b_eq, lower


def lp_bound(p: DistrictProblem, time_limit_s: float) -> tuple[float, float]:
    """The LP relaxation of (1)–(7), solved by HiGHS.  (The a-priori one-piece inequalities would add
    about 0.002 % to it on 1,000 schools and take four times as long, so they are left out.)

    Returns (bound, seconds): inf when the relaxation is infeasible (then no grouping exists), 0 when
    HiGHS does not finish (0 is always valid).
    """
    from scipy.optimize import linprog

    t0 = time.perf_counter()
    cost, a_ub, b_ub, a_eq, b_eq, lower = _relaxation(p)
    res = linprog(
        cost,
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=np.stack([lower, np.ones(len(cost))], axis=1),
        method=LP_METHOD,
        options={"time_limit": max(0.1, float(time_limit_s))},
    )
    seconds = time.perf_counter() - t0
    if res.status == 0:
        # HiGHS' dual bound equals the primal value at optimality; round down for safety
        return float(np.floor(res.fun * (1 - 1e-9))), seconds
    if res.status == 2:
        return float("inf"), seconds
    return 0.0, seconds


def lagrangian_bound(p: DistrictProblem, target: float, *, seconds: float, rounds: int = 300) -> float:
    """A quick bound beside the LP: the Lagrangian relaxation of "every school in one district" (1), with
    the lead rule (2), K leads (3) and the schools-per-district band kept; seats, children, quality and the
    rest dropped (dropping rules only lowers the minimum, so the value stays a bound).

    For prices u_i the relaxation splits by lead: opening l is worth ρ_l = −u_l + the lo−1 … hi−1 members
    with the lowest reduced costs c_(i,l) − u_i (all the negative ones up to hi−1, at least lo−1); the K
    lowest ρ_l are opened (pinned leads always), and L(u) = Σ_i u_i + Σ_open ρ_l ≤ the optimum for every u.
    u follows subgradient steps towards ``target`` (the incumbent's cost).  Vectorised: about 30 ms a round
    at 3,000 schools (load 4.5; 200 rounds: 14.9 % below the start's cost), where the LP does not finish
    within 60 s on two cores.  Returns the best L(u) (0 if none is positive)."""
    t_end = time.perf_counter() + seconds
    ps, pl, cost = p.pair_school, p.pair_lead, p.pair_cost.astype(float)
    member = ps != pl
    ms, ml, mc = ps[member], pl[member], cost[member]
    leads = np.unique(pl)
    lo, hi = p.count_band
    lo_m, hi_m = max(lo - 1, 0), max(hi - 1, 0)
    pinned = p.pinned[leads]
    k = p.n_districts
    # members of each lead, to rank them by reduced cost within each lead
    lead_pos = np.searchsorted(leads, ml)
    # start from each school's second-cheapest assignment: a standard warm start for p-median prices
    order = np.lexsort((cost, ps))
    first = np.searchsorted(ps[order], np.arange(p.n))
    nxt = np.minimum(first + 1, len(order) - 1)
    u = np.where(ps[order][nxt] == np.arange(p.n), cost[order][nxt], cost[order][first])
    best = 0.0
    step = 1.0
    stall = 0
    for _ in range(rounds):
        if time.perf_counter() > t_end:
            break
        red = mc - u[ms]
        # rank within each lead by reduced cost
        o = np.lexsort((red, lead_pos))
        starts = np.searchsorted(lead_pos[o], np.arange(len(leads)))
        rank = np.arange(len(o)) - starts[lead_pos[o]]
        r_sorted = red[o]
        take_sorted = (rank < hi_m) & ((r_sorted < 0) | (rank < lo_m))
        enough = np.bincount(lead_pos, minlength=len(leads)) >= lo_m
        rho = -u[leads] + np.bincount(
            lead_pos[o], weights=np.where(take_sorted, r_sorted, 0.0), minlength=len(leads)
        )
        rho = np.where(enough, rho, np.inf)  # a lead that cannot gather lo schools never opens
        pick = np.argsort(np.where(pinned, -np.inf, rho), kind="stable")[:k]
        if not np.isfinite(rho[pick]).all():
            break
        value = float(u.sum() + rho[pick].sum())
        if value > best + 1e-9 * abs(value):
            best, stall = value, 0
        else:
            stall += 1
            if stall >= 10:
                step, stall = step / 2, 0
        opened = np.zeros(len(leads), dtype=bool)
        opened[pick] = True
        x_members = np.zeros(len(o), dtype=bool)
        x_members[o] = take_sorted & opened[lead_pos[o]]
        g = np.ones(p.n)
        g -= np.bincount(ms[x_members], minlength=p.n)
        g[leads[opened]] -= 1
        norm = float((g * g).sum())
        if norm == 0:
            break  # the relaxation's plan is a grouping: its value is the bound
        u = u + step * max(target - value, 0.01 * abs(target)) / norm * g
    return float(np.floor(max(best, 0.0) * (1 - 1e-9)))


def mip_bound(p: DistrictProblem, time_limit_s: float) -> tuple[float, float, np.ndarray | None]:
    """HiGHS' branch and cut on (1)–(7) with the a-priori one-piece rows of (10): the integer relaxation
    of the model (the lazy one-piece cuts, pairs and coverage dropped), for small problems.

    Its dual bound at the time limit is a proven bound, and closes part of the LP's gap: on the mixed
    300 → 25 city (60 s alone, load 6) 234.2 k children-km against the LP's 233.1 k, with a grouping of
    237.7 k keeping every rule (without the one-piece rows: 234.3 k in 120 s, its grouping in two pieces).
    On the clustered city its groupings break districts into 41 pieces: the one-piece rule binds there.

    Returns (bound, seconds, the best integer grouping as ``lead_of`` or None): inf when the relaxation is
    infeasible (then no grouping exists), 0 when HiGHS ends without a bound.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    t0 = time.perf_counter()
    cost, a_ub, b_ub, a_eq, b_eq, lower = _relaxation(p, neighbours=True)
    res = milp(
        cost,
        integrality=np.ones(len(cost)),
        bounds=Bounds(lower, np.ones(len(cost))),
        constraints=[LinearConstraint(a_ub, -np.inf, b_ub), LinearConstraint(a_eq, b_eq, b_eq)],
        options={"time_limit": max(0.1, float(time_limit_s)), "disp": False},
    )
    seconds = time.perf_counter() - t0
    if res.status == 2:
        return float("inf"), seconds, None
    plan = None
    if res.x is not None:
        x = res.x > 0.5
        plan = np.full(p.n, -1, dtype=np.int64)
        plan[p.pair_school[x]] = p.pair_lead[x]
        if (plan < 0).any():
            plan = None
    # the dual bound, not the value of the grouping found: optimal means within HiGHS' relative gap
    dual = getattr(res, "mip_dual_bound", None)
    value = float(dual) if dual is not None else 0.0
    if not np.isfinite(value) or value <= 0:
        return 0.0, seconds, plan
    # costs are whole weight-metres: the optimum is at least the bound rounded up; HiGHS' tolerances
    # (1e-6 relative) are allowed for before rounding
    return float(np.floor(value * (1 - 1e-6))), seconds, plan


class BoundJob:
    """The proven bounds, computed in a background thread beside the search: the LP relaxation, then, when
    ``integer`` (up to ``search.FULL_MODEL_SCHOOLS`` schools) and once the search holds a plan keeping
    every rule, HiGHS' branch and cut on the relaxation until ``MIP_SHARE`` of the time (a tighter bound,
    and a grouping the search may adopt).  The LP comes first: it proves a relaxation infeasible in
    seconds, where the branch and cut's root alone took 43 s on the clustered 300 → 25 city; and while no
    plan exists the two cores go to the search (a bound without a plan measures nothing)."""

    def __init__(self, p: DistrictProblem, options, t0: float, *, integer: bool):
        self.p, self.options, self.t0, self.integer = p, options, t0, integer
        self.plan_found = threading.Event()
        self.cancel = threading.Event()
        self.lp: tuple[float, float] = (0.0, 0.0)
        self._out: list = []
        self._in_mip = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="districts-bound", daemon=True)
        self._thread.start()

    def _put(self, item) -> None:
        with self._lock:
            self._out.append(item)

    def _run(self) -> None:
        p, limit = self.p, self.options.time_limit_s
        value, seconds = lp_bound(p, limit)
        self.lp = (value, seconds)
        self._put((value, seconds, None, "LP relaxation"))
        if not self.integer or not np.isfinite(value):
            return
        until = self.t0 + MIP_SHARE * limit
        self.plan_found.wait(timeout=max(0.0, until - time.perf_counter()))
        left = until - time.perf_counter()
        stopped = self.options.stop is not None and self.options.stop.is_set()
        if self.cancel.is_set() or stopped or not self.plan_found.is_set() or left < 1.0:
            return
        self._in_mip = True
        value, seconds, plan = mip_bound(p, left)
        self._put((value, seconds, plan, "integer relaxation (HiGHS)"))

    def release(self) -> None:
        """The search is over: the branch and cut is not started any more (one running ends at its limit)."""
        self.cancel.set()
        self.plan_found.set()

    def results(self, wait: bool = False) -> list:
        """The bounds found since the last call (all of them when ``wait``: the thread is ended first)."""
        if wait:
            self.release()
            stopped = self.options.stop is not None and self.options.stop.is_set()
            # after Ctrl-C a running branch and cut is not waited for (HiGHS cannot be interrupted from
            # here; the daemon thread ends at its time limit): the LP bound is reported
            self._thread.join(timeout=0 if stopped and self._in_mip else None)
        with self._lock:
            out, self._out = self._out, []
        return out
