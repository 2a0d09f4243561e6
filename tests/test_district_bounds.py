"""The districts' LP bound: PDLP's dual bound above ``LP_SIMPLEX_SCHOOLS`` schools (valid for any duals, close to
HiGHS' LP, interrupted by Ctrl-C, infeasibility confirmed by HiGHS), HiGHS' branch and cut and LP without SciPy's
private HiGHS object."""

from __future__ import annotations

import dataclasses
import time
from functools import partial

import numpy as np
from scipy import sparse

from test_districts import brute_force, tiny_problem
from zoning.districts import bound
from zoning.districts.bound import _dual_bound, _relaxation, lp_bound


def test_pdlps_bound_never_passes_the_optimum_and_reaches_the_lp(monkeypatch):
    # issue 19: at 3,000 schools no LP solver finishes beside the search in 60 s; PDLP's duals give a bound
    # at any moment (mixed 3,000 → 240: 2,494 k children-km where the Lagrangian that stood in gave 2,474 k)
    lps = {}
    for seed in range(6):
        p = tiny_problem(seed, 0.3)
        optimum = brute_force(p)
        if np.isfinite(optimum):
            lps[seed] = (p, optimum, lp_bound(p, 10.0)[0])  # (HiGHS' dual simplex at 7 schools)
    assert len(lps) >= 3
    monkeypatch.setattr(bound, "LP_SIMPLEX_SCHOOLS", 0)  # PDLP from one school up
    monkeypatch.setattr(bound, "IPM_SECONDS_38K", float("inf"))  # (HiGHS never expected to finish)
    for p, optimum, lp in lps.values():
        value, _, _ = lp_bound(p, 10.0)
        assert 0 < value <= optimum
        assert abs(value - lp) <= 1e-4 * lp  # converged: the LP's value


def test_any_duals_give_a_bound_below_the_lp():
    # weak duality: whatever row prices PDLP stops at (of either sign, however far from converged), the
    # Lagrangian value _dual_bound computes from them never passes the LP's optimum; at the LP's own duals
    # (HiGHS') it is the LP's value, and pushed up on the ≤ rows (where an unclipped price would overstate)
    # or drawn at random it stays below
    from scipy.optimize import linprog

    rng = np.random.default_rng(0)
    for seed in range(4):
        p = tiny_problem(seed, 0.3)
        cost, a_ub, b_ub, a_eq, b_eq, lower = _relaxation(p)
        res = linprog(
            cost, a_ub, b_ub, a_eq, b_eq, bounds=np.stack([lower, np.ones(len(cost))], 1), method="highs"
        )
        if res.status != 0:
            continue
        a = sparse.vstack([a_ub, a_eq]).tocsr()
        rhs = np.concatenate([b_ub, b_eq])
        n_ub = a_ub.shape[0]
        y0 = np.concatenate([res.ineqlin.marginals, res.eqlin.marginals])
        assert abs(_dual_bound(cost, a, n_ub, rhs, lower, y0) - res.fun) <= 1e-6 * res.fun
        for _ in range(50):
            y = y0.copy()
            y[:n_ub] += rng.exponential(rng.choice([1.0, 50.0, 1e3]), n_ub) * (rng.uniform(size=n_ub) < 0.2)
            assert _dual_bound(cost, a, n_ub, rhs, lower, y) <= res.fun * (1 + 1e-9)
            y = rng.normal(0, rng.choice([1.0, 1e3, 1e6]), a.shape[0])
            assert _dual_bound(cost, a, n_ub, rhs, lower, y) <= res.fun * (1 + 1e-9)


def test_pdlps_quick_bound_stands_where_highs_does_not_finish(monkeypatch):
    # where HiGHS' interior point is expected to finish, PDLP gives a quick bound first (it slows the
    # annealing beside it, HiGHS does not), then HiGHS the LP; if HiGHS runs out of time the quick bound is
    # the one given back, and after Ctrl-C HiGHS does not start
    p = tiny_problem(1, 0.3)
    lp, _, _ = lp_bound(p, 10.0)
    monkeypatch.setattr(bound, "LP_SIMPLEX_SCHOOLS", 0)
    monkeypatch.setattr(bound, "_pdlp_run", lambda *a, **k: ("stopped", 0.9 * lp))  # not converged
    quick = []
    value, _, source = lp_bound(p, 10.0, on_bound=lambda v, s: quick.append(v))
    assert abs(value - lp) <= 1e-6 * lp and source == "LP relaxation" and quick == [np.floor(0.9 * lp)]
    calls = []
    real = bound._highs_run
    monkeypatch.setattr(bound, "_highs_run", lambda *a, **k: calls.append(1) or ("stopped", 0.0, None))
    value, _, source = lp_bound(p, 10.0)
    assert value == np.floor(0.9 * lp) and source == "LP dual bound (PDLP)"
    calls.clear()
    assert lp_bound(p, 10.0, stop=lambda: True)[0] == np.floor(0.9 * lp) and not calls
    # PDLP that cannot run (an older OR-Tools, a model it refuses): HiGHS stands in
    monkeypatch.setattr(bound, "_highs_run", real)
    monkeypatch.setattr(bound, "_pdlp_run", lambda *a, **k: ("error", 0.0))
    value, _, source = lp_bound(p, 10.0)
    assert abs(value - lp) <= 1e-6 * lp and source == "LP relaxation"


def test_pdlp_stops_when_asked_and_an_infeasible_lp_is_proven_by_highs(monkeypatch):
    from test_districts_scale import mixed_city
    from zoning.districts.problem import build_district_problem
    from zoning.geo.graph import build_block_graph

    schools = mixed_city(200)
    graph, _ = build_block_graph(schools.assign(block_id=schools["school_id"]))
    p = build_district_problem(schools, graph.edges, n_districts=16, children=schools["enrolment"].to_numpy())
    lp = lp_bound(p, 60)[0]  # (HiGHS' dual simplex at 200 schools)
    monkeypatch.setattr(bound, "LP_SIMPLEX_SCHOOLS", 0)
    monkeypatch.setattr(bound, "IPM_SECONDS_38K", float("inf"))
    asked: list[int] = []
    t = time.perf_counter()
    stopped, _, _ = lp_bound(p, 60, stop=partial(_asked, asked))
    assert asked and time.perf_counter() - t < 2  # (interrupted at its first 0.2 s check; 6 s uninterrupted)
    assert 0 <= stopped <= lp
    # seats no grouping can hold: every district above all the seats there are (PDLP took 11 s to find it
    # at 200 schools, HiGHS then proved it; 7 schools here)
    q = tiny_problem(0, 0.3)
    seats = float(q.seats.sum())
    assert lp_bound(dataclasses.replace(q, seats_band=(seats, seats + 1)), 30)[0] == float("inf")


def test_branch_and_cut_without_scipys_private_highs_object_falls_back_to_milp(monkeypatch):
    # the branch and cut drives SciPy's private HiGHS object (for its start, callbacks and interrupt); a SciPy
    # without it must still give a proven bound, through the public milp
    import sys

    from zoning.districts.bound import mip_bound

    monkeypatch.setitem(sys.modules, "scipy.optimize._highspy._core", None)  # import fails
    p = tiny_problem(3, 0.2)
    optimum = brute_force(p)
    bound, _, plan = mip_bound(p, 10)
    assert lp_bound(p, 10)[0] <= bound <= optimum
    assert plan is not None and p.cost_of(plan) >= optimum


def test_the_lp_is_the_same_through_the_public_linprog_and_stops_when_asked(monkeypatch):
    # the LP drives SciPy's private HiGHS object so that Ctrl-C interrupts it (Beijing 829 → 40 went on for
    # 40 s after Ctrl-C while its LP ran to the end); asked to stop it gives the always-valid 0 at once, and
    # without the object the public linprog gives the same bound
    import sys

    from test_districts_scale import mixed_city
    from zoning.districts.problem import build_district_problem
    from zoning.geo.graph import build_block_graph

    schools = mixed_city(200)
    graph, _ = build_block_graph(schools.assign(block_id=schools["school_id"]))
    p = build_district_problem(schools, graph.edges, n_districts=16, children=schools["enrolment"].to_numpy())
    q = tiny_problem(3, 0.2)
    monkeypatch.setattr(bound, "LP_SIMPLEX_SCHOOLS", 10_000)  # (above it PDLP, which needs no HiGHS)
    value, _, _ = lp_bound(p, 60)
    asked: list[int] = []
    stopped, _, _ = lp_bound(p, 60, stop=partial(_asked, asked))
    assert value > 0 and stopped == 0.0 and asked
    ours = lp_bound(q, 10)[0]
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "scipy.optimize._highspy._core", None)  # import fails
        assert lp_bound(p, 60)[0] == value and lp_bound(q, 10)[0] == ours


def _asked(log: list[int]) -> bool:
    log.append(1)
    return True
