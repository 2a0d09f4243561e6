"""The districts' proven lower bound: the LP relaxation of (1)–(7) (``model``'s formulation), by HiGHS or PDLP.

The search runs it in a background thread beside CP-SAT (both release the GIL; :class:`BoundJob`) and
measures the gap against it, or against CP-SAT's own bound when the whole model was solved.  Up to 400
schools HiGHS' branch and cut on the same relaxation with the a-priori one-piece rows (:func:`mip_bound`)
follows the LP once the search holds a plan: its dual bound at the time limit is proven and closes part of
the LP's gap (mixed 300 → 25: 234.2 k against 233.1 k children-km; the plans found are near 237 k).
Above 400 schools HiGHS' interior point solves the LP where it is expected to finish in the time, after a
quick bound from PDLP (OR-Tools' first-order primal-dual method, Applegate et al. 2021); elsewhere PDLP alone,
whose duals at any moment give a valid bound (:func:`_dual_bound`), so a bound is there at the time limit even
where no LP solver finishes (3,000 schools in 60 s).
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from .problem import DistrictProblem

__all__ = ["BoundJob", "lp_bound", "mip_bound"]

log = logging.getLogger(__name__)

#: Up to this many schools HiGHS' dual simplex solves the LP (mixed 300 → 25 at load 4.5: 2.7 s against 7.6 s
#: for its interior point, heavy 300 → 25 0.8 s against 1.8 s; the branch and cut that follows starts that
#: much sooner).  Above, HiGHS' interior point or PDLP (:func:`lp_bound`).
LP_SIMPLEX_SCHOOLS = 400
#: PDLP stops when its relative optimality gap is below this (the LP's value to about 0.001 %).
PDLP_RELATIVE_GAP = 1e-5
#: PDLP's share of the time limit where it gives the bound alone: its duals are good long before it converges
#: (its primal residual is the slow part, and the bound needs only the duals), and it leaves the search's
#: second core after that.  Alone on one core: mixed 1,000 → 80 824.0 k children-km after 3 s, 824.70 k after
#: 10 s, 824.735 k after 51 s (the LP: 824.736 k); mixed 3,000 → 240 2,490.4 k after 10 s, 2,493.5 k after 30 s,
#: 2,493.8 k after 50 s, where HiGHS does not end within 60 s and the Lagrangian relaxation that stood in
#: before reached 2,473.9 k in 12 s of the search's own time (heavy 3,000: 1,595.9 k against 1,585.0 k).
PDLP_SHARE = 0.5
#: PDLP slows the annealing's chain on the other core by a quarter (both stream memory: heavy 1,000 → 80, 4.1
#: million proposals a second beside it, 5.4 alone or beside HiGHS' interior point).  So where HiGHS' interior
#: point is expected to finish within IPM_SHARE of the time (IPM_SECONDS_38K for 1,000 → 80's 38,000 candidate
#: pairs at load 1–2, growing as the pairs^1.5: clustered 3,000 → 240's 114,000 took 145 s beside another
#: run), PDLP only gives a quick bound (PDLP_QUICK_S: 824.0 k after 3 s) in case HiGHS does not finish, and
#: HiGHS gives the LP.
IPM_SECONDS_38K = 16.0
IPM_SHARE = 0.7
PDLP_QUICK_S = 3.0


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


def lp_bound(
    p: DistrictProblem, time_limit_s: float, *, stop=None, on_bound=None
) -> tuple[float, float, str]:
    """The LP relaxation of (1)–(7).  Up to ``LP_SIMPLEX_SCHOOLS`` schools HiGHS' dual simplex; above, where
    HiGHS' interior point is expected to finish in ``IPM_SHARE`` of the time (:func:`_ipm_in_time`), a
    quick PDLP bound (``PDLP_QUICK_S``) and then HiGHS; elsewhere PDLP for ``PDLP_SHARE`` of the time.  (The
    a-priori one-piece inequalities would add about 0.002 % to it on 1,000 schools and take four times as long,
    so they are left out.)  ``stop``: asked now and then, True interrupts the solve (Ctrl-C: Beijing 829 → 40
    stopped 40 s after it while its LP ran to the end).  ``on_bound``: called with PDLP's quick bound (value,
    seconds) before HiGHS starts.

    Returns (bound, seconds, source), the source "LP relaxation" (HiGHS' LP) or "LP dual bound (PDLP)": inf
    when the relaxation is infeasible (then no grouping exists); where the solve does not finish, HiGHS gives 0
    (always valid) or PDLP's quick bound, PDLP the bound of its duals.
    """
    t0 = time.perf_counter()
    rows = _relaxation(p)
    what = "LP relaxation"
    if p.n <= LP_SIMPLEX_SCHOOLS:
        status, value, _x = _highs_run(*rows, time_limit_s, integer=False, solver="simplex", stop=stop)
    else:
        ipm = _ipm_in_time(p, time_limit_s)
        pdlp_s = min(PDLP_QUICK_S, time_limit_s / 4) if ipm else PDLP_SHARE * time_limit_s
        status, value = _pdlp_run(*rows, t0 + pdlp_s, stop=stop)
        what = "LP dual bound (PDLP)"
        highs = status in ("infeasible", "error") or (ipm and status == "stopped")
        if highs and not (stop is not None and stop()):
            # HiGHS' exact LP; where PDLP found the LP infeasible, HiGHS decides (PDLP's certificate is
            # approximate), and where PDLP failed it stands in
            quick = value if status == "stopped" else 0.0
            if quick > 0 and on_bound is not None:
                on_bound(float(np.floor(quick * (1 - 1e-9))), time.perf_counter() - t0)
            left = max(t0 + time_limit_s - time.perf_counter(), 1.0)
            status, value, _x = _highs_run(*rows, left, integer=False, solver="ipm", stop=stop)
            if status in ("optimal", "infeasible"):
                what = "LP relaxation"
            else:
                value = quick
        elif status == "error":
            status, value = "stopped", 0.0
    seconds = time.perf_counter() - t0
    if status == "infeasible":
        return float("inf"), seconds, what
    if status == "optimal" or value > 0:
        # HiGHS' dual bound equals the primal value at optimality; round down for safety
        return float(np.floor(value * (1 - 1e-9))), seconds, what
    return 0.0, seconds, what


def _ipm_in_time(p: DistrictProblem, seconds: float) -> bool:
    """HiGHS' interior point is expected to solve the LP within ``IPM_SHARE`` of ``seconds``."""
    return IPM_SECONDS_38K * (len(p.pair_school) / 38_000) ** 1.5 <= IPM_SHARE * seconds


def _dual_bound(cost, a, n_ub: int, rhs, lower, y) -> float:
    """The LP's Lagrangian value at the row prices ``y``: min over lower ≤ x ≤ 1 of c·x − y·(Ax − b), that is
    y·b + Σ_j min(r_j, r_j·lower_j) with the reduced costs r = c − Aᵀy.  PDLP's sign convention: the prices of
    the first ``n_ub`` rows (Ax ≤ b) are ≤ 0, and are clipped to it.  A valid lower bound for any y (weak
    duality), however far PDLP is from converged."""
    y = np.array(y, dtype=float)
    y[:n_ub] = np.minimum(y[:n_ub], 0.0)
    r = cost - a.T @ y
    return float(y @ rhs + np.minimum(r, 0.0).sum() + (np.maximum(r, 0.0) * lower).sum())


def _pdlp_run(cost, a_ub, b_ub, a_eq, b_eq, lower, until: float, *, stop=None):
    """PDLP (through OR-Tools' MathOpt, which releases the GIL: the search goes on beside it) on (cost, rows,
    bounds in [lower, 1]) until ``until`` (``time.perf_counter()``) or convergence; ``stop`` (Ctrl-C) is asked
    every 0.2 s and interrupts it.  Returns (status, bound): "infeasible" when PDLP found the LP infeasible,
    "error" when PDLP could not run (logged), else "optimal" or "stopped" with the bound of its duals
    (:func:`_dual_bound`; 0 without duals)."""
    from ortools.math_opt import callback_pb2, model_parameters_pb2, model_pb2, parameters_pb2, result_pb2
    from ortools.math_opt.core.python import solver
    from ortools.util.python import pybind_solve_interrupter
    from scipy import sparse

    a = sparse.vstack([a_ub, a_eq]).tocsr()
    a.sort_indices()
    n_ub, (n_rows, n_cols) = a_ub.shape[0], a.shape
    rhs = np.concatenate([b_ub, b_eq])
    m = model_pb2.ModelProto()
    m.variables.ids.extend(range(n_cols))
    m.variables.lower_bounds.extend(np.asarray(lower, dtype=float).tolist())
    m.variables.upper_bounds.extend(np.ones(n_cols).tolist())
    m.variables.integers.extend([False] * n_cols)
    m.objective.linear_coefficients.ids.extend(range(n_cols))
    m.objective.linear_coefficients.values.extend(np.asarray(cost, dtype=float).tolist())
    m.linear_constraints.ids.extend(range(n_rows))
    m.linear_constraints.lower_bounds.extend(np.concatenate([np.full(n_ub, -np.inf), b_eq]).tolist())
    m.linear_constraints.upper_bounds.extend(rhs.tolist())
    m.linear_constraint_matrix.row_ids.extend(np.repeat(np.arange(n_rows), np.diff(a.indptr)).tolist())
    m.linear_constraint_matrix.column_ids.extend(a.indices.tolist())
    m.linear_constraint_matrix.coefficients.extend(a.data.tolist())
    params = parameters_pb2.SolveParametersProto(threads=1)
    params.time_limit.FromNanoseconds(int(max(until - time.perf_counter(), 0.1) * 1e9))
    criteria = params.pdlp.termination_criteria.simple_optimality_criteria
    criteria.eps_optimal_relative, criteria.eps_optimal_absolute = PDLP_RELATIVE_GAP, 0.0
    interrupter = pybind_solve_interrupter.PySolveInterrupter()
    out: list = []

    def run() -> None:
        try:
            result = solver.solve(
                m, parameters_pb2.SOLVER_TYPE_PDLP, parameters_pb2.SolverInitializerProto(), params,
                model_parameters_pb2.ModelSolveParametersProto(), None,
                callback_pb2.CallbackRegistrationProto(), None, interrupter,
            )  # fmt: skip
        except Exception as err:  # (an OR-Tools without MathOpt's PDLP, a model it refuses: HiGHS stands in)
            log.warning("districts: PDLP failed (%s); HiGHS solves the LP", err)
            return
        out.append(result)

    worker = threading.Thread(target=run, name="districts-pdlp", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(timeout=0.2)
        if stop is not None and stop():
            interrupter.interrupt()
            worker.join()
    if not out:
        return ("stopped" if stop is not None and stop() else "error"), 0.0
    result = out[0]
    reason = result.termination.reason
    if reason == result_pb2.TERMINATION_REASON_INFEASIBLE:
        return "infeasible", 0.0
    duals = next((x.dual_solution for x in result.solutions if x.HasField("dual_solution")), None)
    if duals is None:
        return "stopped", 0.0
    y = np.zeros(n_rows)
    y[np.asarray(duals.dual_values.ids, dtype=np.int64)] = duals.dual_values.values
    value = max(_dual_bound(cost, a, n_ub, rhs, lower, y), 0.0)
    return ("optimal" if reason == result_pb2.TERMINATION_REASON_OPTIMAL else "stopped"), value


def _highs_run(
    cost,
    a_ub,
    b_ub,
    a_eq,
    b_eq,
    lower,
    time_limit_s: float,
    *,
    integer: bool,
    solver: str = "choose",
    start: np.ndarray | None = None,
    on_x=None,
    stop=None,
):
    """HiGHS on (cost, rows, bounds in [lower, 1]), binaries when ``integer`` (branch and cut) or the LP
    (``solver``: "simplex" or "ipm"), through SciPy's bundled HiGHS object rather than ``linprog`` /
    ``milp``: those can be neither followed nor stopped, and ``milp`` drops the dual bound when the time
    runs out before the first integer solution (on the mixed 300 → 25 city at load 5 its root took 33 s to
    a first solution, so a 30 s run proved nothing) and takes no starting solution.  ``on_x`` is called
    with every improving integer solution as it is found, ``stop`` asked now and then (True interrupts
    HiGHS; a branch and cut's dual bound so far stands).  Returns (status, bound, x or None): status
    "optimal", "infeasible" or "stopped" (time or ``stop``); the bound is the MIP's dual bound, or the LP's
    value when optimal.

    The object is SciPy's own (``scipy.optimize._highspy``, a private module since SciPy 1.15): where it is
    missing, ``linprog`` / ``milp`` stand in, without the start, the callbacks and the bound of a run with
    no solution.  (The ``highspy`` package holds the same object, but its public class prints HiGHS'
    banner on stdout.)"""
    try:
        import scipy.optimize._highspy._core as h
    except ImportError:
        return _scipy_run(cost, a_ub, b_ub, a_eq, b_eq, lower, time_limit_s, integer=integer, solver=solver)
    from scipy import sparse

    a = sparse.vstack([a_ub, a_eq]).tocsc()
    lp = h.HighsLp()
    lp.num_col_, lp.num_row_ = a.shape[1], a.shape[0]
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = a.shape[1], a.shape[0]
    lp.a_matrix_.format_ = h.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lower, np.ones(len(cost))
    lp.row_lower_ = np.concatenate([np.full(len(b_ub), -np.inf), b_eq])
    lp.row_upper_ = np.concatenate([b_ub, b_eq])
    if integer:
        lp.integrality_ = [h.HighsVarType.kInteger] * len(cost)
    highs = h._Highs()
    opts = h.HighsOptions()
    opts.output_flag = False
    opts.time_limit = max(0.1, float(time_limit_s))
    opts.solver = solver
    highs.passOptions(opts)
    highs.passModel(lp)
    if start is not None:
        sol = h.HighsSolution()
        sol.col_value = start.astype(float)
        sol.value_valid = True
        highs.setSolution(sol)
    cb = h.cb
    interrupts = (
        cb.HighsCallbackType.kCallbackMipInterrupt,
        cb.HighsCallbackType.kCallbackSimplexInterrupt,
        cb.HighsCallbackType.kCallbackIpmInterrupt,
    )

    def callback(kind, _message, out, inp, _user) -> None:
        if kind == cb.HighsCallbackType.kCallbackMipImprovingSolution and on_x is not None:
            on_x(np.asarray(out.mip_solution, dtype=float))
        elif kind in interrupts and stop is not None and stop():
            inp.user_interrupt = True

    if on_x is not None or stop is not None:
        highs.setCallback(callback, None)
        if integer:
            highs.startCallback(cb.HighsCallbackType.kCallbackMipImprovingSolution)
        for kind in interrupts if stop is not None else ():
            highs.startCallback(kind)
    highs.run()
    status, info = highs.getModelStatus(), highs.getInfo()
    # all columns lie in [0, 1], so "unbounded or infeasible" is infeasible
    if status in (h.HighsModelStatus.kInfeasible, h.HighsModelStatus.kUnboundedOrInfeasible):
        return "infeasible", float("inf"), None
    if not integer:
        if status == h.HighsModelStatus.kOptimal:
            return "optimal", float(info.objective_function_value), np.asarray(highs.getSolution().col_value)
        return "stopped", 0.0, None
    x = None
    if info.primal_solution_status == h.kSolutionStatusFeasible:
        x = np.asarray(highs.getSolution().col_value)
    return ("optimal" if status == h.HighsModelStatus.kOptimal else "stopped"), float(info.mip_dual_bound), x


def _scipy_run(cost, a_ub, b_ub, a_eq, b_eq, lower, time_limit_s: float, *, integer: bool, solver: str):
    """:func:`_highs_run` through SciPy's public ``linprog`` / ``milp`` (no start, callbacks nor interrupt)."""
    from scipy.optimize import Bounds, LinearConstraint, linprog, milp

    limit = max(0.1, float(time_limit_s))
    if not integer:
        method = {"simplex": "highs-ds", "ipm": "highs-ipm"}.get(solver, "highs")
        res = linprog(
            cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=np.stack([lower, np.ones(len(cost))], axis=1),
            method=method, options={"time_limit": limit},
        )  # fmt: skip
        if res.status == 2:
            return "infeasible", float("inf"), None
        return ("optimal", float(res.fun), res.x) if res.status == 0 else ("stopped", 0.0, None)
    res = milp(
        cost,
        integrality=np.ones(len(cost)),
        bounds=Bounds(lower, np.ones(len(cost))),
        constraints=[LinearConstraint(a_ub, -np.inf, b_ub), LinearConstraint(a_eq, b_eq, b_eq)],
        options={"time_limit": limit, "disp": False},
    )
    if res.status == 2:
        return "infeasible", float("inf"), None
    dual = getattr(res, "mip_dual_bound", None)
    return ("optimal" if res.status == 0 else "stopped"), float(dual) if dual is not None else 0.0, res.x


def _plan_of(p: DistrictProblem, x: np.ndarray) -> np.ndarray | None:
    """The grouping (``lead_of``) of a 0/1 solution over the candidate pairs; None if it is not one."""
    chosen = x > 0.5
    plan = np.full(p.n, -1, dtype=np.int64)
    plan[p.pair_school[chosen]] = p.pair_lead[chosen]
    return None if (plan < 0).any() else plan


def mip_bound(
    p: DistrictProblem, time_limit_s: float, start: np.ndarray | None = None, *, on_plan=None, stop=None
) -> tuple[float, float, np.ndarray | None]:
    """HiGHS' branch and cut on (1)–(7) with the a-priori one-piece rows of (10): the integer relaxation
    of the model (the lazy one-piece cuts, pairs and coverage dropped), for small problems.  ``start``: a
    grouping (``lead_of``) HiGHS starts from as its incumbent (any grouping in one piece keeping the bands
    fits the relaxation).  ``on_plan``: called with each better grouping as HiGHS finds it (the search
    adopts them while it runs: on the mixed city HiGHS alone holds a grouping of 237.6 k keeping every rule
    after 35 s at load 1.7); ``stop``: asked now and then, True ends the branch and cut with its bound so far.

    Its dual bound at the time limit is a proven bound, and closes part of the LP's gap: on the mixed
    300 → 25 city (60 s alone, load 6) 234.2 k children-km against the LP's 233.1 k, with a grouping of
    237.7 k keeping every rule (without the one-piece rows: 234.3 k in 120 s, its grouping in two pieces).
    On the clustered city its groupings break districts into 41 pieces: the one-piece rule binds there.

    Returns (bound, seconds, the best integer grouping as ``lead_of`` or None): inf when the relaxation is
    infeasible (then no grouping exists), 0 when HiGHS ends without a bound.
    """
    t0 = time.perf_counter()
    cost, a_ub, b_ub, a_eq, b_eq, lower = _relaxation(p, neighbours=True)
    x0 = None if start is None else (start[p.pair_school] == p.pair_lead).astype(float)

    def found(x: np.ndarray) -> None:
        # (a solution of a presolved model would have fewer columns: skipped, the final one is mapped back)
        plan = _plan_of(p, x) if len(x) == len(cost) else None
        if on_plan is not None and plan is not None:
            on_plan(plan)

    status, value, x = _highs_run(
        cost, a_ub, b_ub, a_eq, b_eq, lower, time_limit_s, integer=True, start=x0,
        on_x=found if on_plan else None, stop=stop,
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    if status == "infeasible":
        return float("inf"), seconds, None
    plan = None
    if x is not None and not (x0 is not None and ((x > 0.5) == (x0 > 0.5)).all()):
        plan = _plan_of(p, x)  # (the start given back is no news)
    # the dual bound, not the value of the grouping found: optimal means within HiGHS' relative gap
    if not np.isfinite(value) or value <= 0:
        return 0.0, seconds, plan
    # costs are whole weight-metres: the optimum is at least the bound rounded up; HiGHS' tolerances
    # (1e-6 relative) are allowed for before rounding
    return float(np.floor(value * (1 - 1e-6))), seconds, plan


class BoundJob:
    """The proven bounds, computed in a background thread beside the search: the LP relaxation, then, when
    ``integer`` (up to ``search.FULL_MODEL_SCHOOLS`` schools) and once the search holds a plan keeping
    every rule, HiGHS' branch and cut on the relaxation until the search ends (a tighter bound,
    and groupings the search may adopt, each as it is found).  ``results`` yields (bound or None, seconds,
    grouping or None, source).  The LP comes first: it proves a relaxation infeasible in
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
        # only Ctrl-C interrupts the LP: a search that ends first waits for it (``results(wait=True)``), as
        # its bound is the one the plan's gap is measured against (``_cancelled`` would leave 0)
        # (above LP_SIMPLEX_SCHOOLS PDLP's quick bound comes first where HiGHS follows; PDLP alone ends after
        # PDLP_SHARE of the time with the bound of its duals)
        left = max(self.t0 + limit - time.perf_counter() - 0.3, 1.0)
        quick = lambda value, seconds: self._put((value, seconds, None, "LP dual bound (PDLP)"))  # noqa: E731
        value, seconds, source = lp_bound(p, left, stop=lambda: self.options.stopped, on_bound=quick)
        self.lp = (value, seconds)
        self._put((value, seconds, None, source))
        if not self.integer or not np.isfinite(value):
            return
        # the branch and cut runs to the end of the search, which interrupts it (its bound so far stands; a
        # 20 s solve ends at 20.2 s).  Measured on the mixed 300 → 25 city (load 6), alone: 60 s, bound
        # 234.2 k children-km (the LP 233.1 k), still there at 120 s (234.3 k); on the clustered city, whose
        # plan comes late, stopped at 80 % of the time it left no bound beyond the LP, run to the end 267.5 k
        # against the LP's 263.2 k
        until = self.t0 + limit
        self.plan_found.wait(timeout=max(0.0, until - time.perf_counter()))
        left = until - time.perf_counter()
        if self._cancelled() or not self.plan_found.is_set() or left < 1.0:
            return
        self._in_mip = True
        what = "integer relaxation (HiGHS)"
        t0 = time.perf_counter()
        # each better grouping goes to the search as it is found (value None: no bound yet); the final one
        # comes when the search is over, too late to be mended and adopted within the time
        found = lambda plan: self._put((None, time.perf_counter() - t0, plan, what))  # noqa: E731
        value, seconds, _plan = mip_bound(p, left, on_plan=found, stop=self._cancelled)
        self._put((value, seconds, None, what))

    def _cancelled(self) -> bool:
        """The search is over (or stopped by Ctrl-C): the branch and cut ends, or never starts."""
        return self.cancel.is_set() or self.options.stopped

    def release(self) -> None:
        """The search is over: the branch and cut is not started any more (one running is interrupted, its
        bound so far kept)."""
        self.cancel.set()
        self.plan_found.set()

    def results(self, wait: bool = False) -> list:
        """The bounds found since the last call (all of them when ``wait``: the thread is ended first)."""
        if wait:
            self.release()
            # after Ctrl-C a running branch and cut is not waited for (it stops at its next interrupt check,
            # in a daemon thread): the bound so far is reported
            self._thread.join(timeout=0 if self.options.stopped and self._in_mip else None)
        with self._lock:
            out, self._out = self._out, []
        return out
