"""The districts' proven lower bound: the LP relaxation of (1)–(7) (``model``'s formulation), by HiGHS.

The search runs it in a background thread beside CP-SAT (both release the GIL) and measures the gap against
it, or against CP-SAT's own bound when the whole model was solved.  Above 400 schools a Lagrangian bound
(:func:`lagrangian_bound`, a few seconds of numpy) stands in while the LP runs, and for good where the LP
does not finish in the time (3,000 schools in 60 s).
"""

from __future__ import annotations

import time

import numpy as np

from .problem import DistrictProblem

__all__ = ["lp_bound", "lagrangian_bound"]

#: HiGHS' interior point (with crossover): on the mixed 1,000 → 80 city (load 5.7) 12.7 s against 23–24 s for
#: the dual simplex, same bound; the LP runs beside the search and shares its two cores.
LP_METHOD = "highs-ipm"


def lp_bound(p: DistrictProblem, time_limit_s: float) -> tuple[float, float]:
    """The LP relaxation of (1)–(7), solved by HiGHS.  (The a-priori one-piece inequalities would add
    about 0.002 % to it on 1,000 schools and take four times as long, so they are left out.)

    The matrix is built on arrays (no Python loop per variable).  Returns (bound, seconds): inf when the
    relaxation is infeasible (then no grouping exists), 0 when HiGHS does not finish (0 is always valid).
    """
    from scipy import sparse
    from scipy.optimize import linprog

    t0 = time.perf_counter()
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
    res = linprog(
        p.pair_cost.astype(float),
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=np.stack([lower, np.ones(n_pairs)], axis=1),
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
