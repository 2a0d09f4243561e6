"""The districts' proven lower bound: the LP relaxation of (1)–(7) (``model``'s formulation), by HiGHS.

The search runs it in a background thread beside CP-SAT (both release the GIL) and measures the gap against
it, or against CP-SAT's own bound when the whole model was solved.
"""

from __future__ import annotations

import time

import numpy as np

from .problem import DistrictProblem

__all__ = ["lp_bound"]


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
        method="highs",
        options={"time_limit": max(0.1, float(time_limit_s))},
    )
    seconds = time.perf_counter() - t0
    if res.status == 0:
        # HiGHS' dual bound equals the primal value at optimality; round down for safety
        return float(np.floor(res.fun * (1 - 1e-9))), seconds
    if res.status == 2:
        return float("inf"), seconds
    return 0.0, seconds
