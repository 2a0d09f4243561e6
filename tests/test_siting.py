"""New-school siting (the capacitated p-median): brute force on tiny instances equals the solver's optimum, the
OR-Library pmedcap01 optimum, forced sites, the fixed-charge variant, infeasible inputs in the planner's words,
the bound never above the plan, and a time-out that still returns a plan with its gap.

Every plan any test gets is checked against the raw arrays by ``_check`` (independent of the library) and by
``plan_violations``.  Timings live in ``benchmarks/siting.py``; nothing here is timed.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from conftest import benchmark, shared
from zoning.errors import InfeasibleError, InputError
from zoning.options import SolveOptions
from zoning.scenarios import siting_model
from zoning.scenarios.siting import solve_siting
from zoning.scenarios.siting_bound import Lagrangian, choose_sites
from zoning.scenarios.siting_problem import plan_violations, siting_problem

QUICK = SolveOptions(time_limit_s=10, relative_gap=0.0)


def _check(result, cost, demand, capacity, *, p=None, weight=None, fixed=None, forced=()) -> None:
    """The plan keeps every rule and costs what it says, recomputed from the raw arrays; bound ≤ plan."""
    n, m = cost.shape
    weight = demand if weight is None else weight
    fixed = np.zeros(m) if fixed is None else fixed
    open_sites, assign = np.asarray(result.open), np.asarray(result.assign)
    assert assign.shape == (n,)
    assert len(set(open_sites.tolist())) == len(open_sites)
    if p is not None:
        assert len(open_sites) == p
    assert set(np.asarray(forced).tolist()) <= set(open_sites.tolist())
    assert np.isin(assign, open_sites).all()
    assert np.isfinite(cost[np.arange(n), assign]).all()
    used = np.bincount(assign, weights=demand, minlength=m)
    assert (used <= capacity + 1e-9).all(), (used, capacity)
    value = float((weight * cost[np.arange(n), assign]).sum() + fixed[open_sites].sum())
    assert result.objective == pytest.approx(value, rel=1e-9, abs=1e-9)
    assert result.lower_bound <= result.objective + 1e-9
    assert 0.0 <= result.gap <= 1.0
    problem = siting_problem(
        cost, demand, capacity, p, weight=weight, fixed_cost=fixed, forced=np.asarray(forced)
    )
    assert plan_violations(problem, open_sites, assign) == []


def _brute(cost, demand, capacity, p, *, weight=None, fixed=None, forced=(), max_open=None) -> float:
    """Least cost over every set of open sites and every assignment of the points to them (inf if none)."""
    n, m = cost.shape
    weight = demand if weight is None else weight
    fixed = np.zeros(m) if fixed is None else fixed
    counts = [p] if p is not None else range(1, (max_open or m) + 1)
    best = math.inf
    for k in counts:
        for sites in itertools.combinations(range(m), k):
            if not set(forced) <= set(sites):
                continue
            choices = np.array(list(itertools.product(sites, repeat=n)))  # (k^n, n)
            c = (weight[None, :] * cost[np.arange(n)[None, :], choices]).sum(axis=1)
            loads = np.stack([(demand[None, :] * (choices == j)).sum(axis=1) for j in sites], axis=1)
            ok = (loads <= capacity[list(sites)][None, :]).all(axis=1) & np.isfinite(c)
            if ok.any():
                best = min(best, float(c[ok].min()) + float(fixed[list(sites)].sum()))
    return best


def _tiny(seed: int, n: int = 8, m: int = 5):
    """Points and sites on a 1 km square: whole-metre costs (some pairs not allowed), 5-40 children, seats
    for the children with 10-40 % to spare among 2-3 sites."""
    rng = np.random.default_rng(seed)
    pts, sites = rng.uniform(0, 1000, (n, 2)), rng.uniform(0, 1000, (m, 2))
    cost = np.floor(np.hypot(*(pts[:, None, :] - sites[None, :, :]).transpose(2, 0, 1)))
    far = rng.random((n, m)) < 0.1
    far[np.arange(n), np.argmin(cost, axis=1)] = False
    cost[far] = np.inf
    demand = rng.integers(5, 41, n).astype(float)
    p = int(rng.integers(2, 4))
    capacity = np.ceil(demand.sum() / p * rng.uniform(1.1, 1.4, m))
    return cost, demand, capacity, p


# ------------------------------------------------------------------------------------------- brute force


@pytest.mark.parametrize("seed", range(10))
def test_tiny_instances_equal_brute_force(seed):
    cost, demand, capacity, p = _tiny(seed)
    best = _brute(cost, demand, capacity, p)
    assert math.isfinite(best)
    r = solve_siting(cost, demand, capacity, p, options=QUICK)
    _check(r, cost, demand, capacity, p=p)
    assert r.objective == pytest.approx(best)
    assert r.status == "optimal" and r.gap == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_the_cpsat_fallback_equals_brute_force(seed, monkeypatch):
    """Where OR-Tools lacks SCIP the exact model is CP-SAT's (whole costs): the same optima."""
    monkeypatch.setattr(siting_model, "ENGINE", "CP-SAT")
    cost, demand, capacity, p = _tiny(400 + seed)
    cost = cost + 0.25  # not whole: CP-SAT works on rounded costs, the plan's cost stays exact
    r = solve_siting(cost, demand, capacity, p, options=QUICK)
    _check(r, cost, demand, capacity, p=p)
    assert r.objective == pytest.approx(_brute(cost, demand, capacity, p))
    assert r.bound_source in ("lagrangian", "CP-SAT")


@pytest.mark.parametrize("seed", range(4))
def test_each_point_counted_once_equals_brute_force(seed):
    """The OR-Library objective: weight 1 per point, not its children."""
    cost, demand, capacity, p = _tiny(100 + seed)
    ones = np.ones(len(demand))
    r = solve_siting(cost, demand, capacity, p, weight=ones, options=QUICK)
    _check(r, cost, demand, capacity, p=p, weight=ones)
    assert r.objective == pytest.approx(_brute(cost, demand, capacity, p, weight=ones))


def test_forced_sites_stay_open_and_cost_what_brute_force_says():
    cost, demand, capacity, p = _tiny(7)
    free = solve_siting(cost, demand, capacity, p, options=QUICK)
    closed = [j for j in range(cost.shape[1]) if j not in free.open]
    forced = [closed[0]]  # a site the best plan leaves closed
    r = solve_siting(cost, demand, capacity, p, forced=np.array(forced), options=QUICK)
    _check(r, cost, demand, capacity, p=p, forced=forced)
    assert forced[0] in r.open
    assert r.objective == pytest.approx(_brute(cost, demand, capacity, p, forced=forced))
    assert r.objective >= free.objective
    mask = np.zeros(cost.shape[1], dtype=bool)
    mask[forced] = True  # a boolean mask says the same
    assert solve_siting(cost, demand, capacity, p, forced=mask, options=QUICK).objective == r.objective


@pytest.mark.parametrize(("seed", "max_open"), [(1, None), (2, None), (3, 2), (4, 3)])
def test_fixed_charge_equals_brute_force(seed, max_open):
    cost, demand, capacity, _ = _tiny(200 + seed)
    rng = np.random.default_rng(seed)
    fixed = rng.uniform(500, 8000, cost.shape[1]).round()
    forced = [int(rng.integers(cost.shape[1]))] if seed % 2 else []
    best = _brute(cost, demand, capacity, None, fixed=fixed, forced=forced, max_open=max_open)
    r = solve_siting(
        cost,
        demand,
        capacity,
        None,
        fixed_cost=fixed,
        forced=np.array(forced, dtype=int),
        max_open=max_open,
        options=QUICK,
    )
    _check(r, cost, demand, capacity, fixed=fixed, forced=forced)
    assert max_open is None or len(r.open) <= max_open
    assert r.objective == pytest.approx(best)


def test_fractional_children_and_real_distances():
    cost, demand, capacity, p = _tiny(11)
    cost = cost + np.random.default_rng(0).random(cost.shape) * 0.9  # no longer whole metres
    demand = demand + 0.5
    capacity = capacity + 5
    r = solve_siting(cost, demand, capacity, p, options=QUICK)
    _check(r, cost, demand, capacity, p=p)
    assert r.objective == pytest.approx(_brute(cost, demand, capacity, p), rel=1e-7)


# ------------------------------------------------------------------------------ the bound and its fixing


@pytest.mark.parametrize("seed", range(6))
def test_site_choice_penalties_equal_brute_force(seed):
    """What forcing a site open or closed adds to the best choice, against every allowed site set."""
    rng = np.random.default_rng(seed)
    m = 7
    rho = rng.normal(0, 5, m).round(1)
    fixed_open = np.zeros(m, dtype=bool)
    fixed_open[rng.integers(m)] = seed % 2 == 1
    alive = rng.random(m) < 0.85
    alive |= fixed_open
    lo, hi = (3, 3) if seed < 3 else (1, 5)
    c = choose_sites(rho, fixed_open, alive, lo, hi)

    def best(must_open=(), must_close=()):
        values = [
            rho[list(s)].sum()
            for k in range(lo, hi + 1)
            for s in itertools.combinations(np.flatnonzero(alive), k)
            if set(np.flatnonzero(fixed_open)) | set(must_open) <= set(s) and not set(must_close) & set(s)
        ]
        return min(values, default=math.inf)

    assert c.value == pytest.approx(best())
    assert rho[c.open].sum() == pytest.approx(c.value)
    for j in range(m):
        if alive[j]:
            assert c.value + c.pen_open[j] == pytest.approx(best(must_open=[j]))
        if c.open[j]:
            assert c.value + c.pen_close[j] == pytest.approx(best(must_close=[j]))


@pytest.mark.parametrize("seed", range(6))
def test_fixing_keeps_every_optimal_plan(seed):
    """With the optimum as the best plan known, the bound stays below it and drops no pair or site that an
    optimal plan uses, and fixes open only sites that optimal plan opens."""
    cost, demand, capacity, p = _tiny(300 + seed)
    best = _brute(cost, demand, capacity, p)
    r = solve_siting(cost, demand, capacity, p, options=QUICK)
    assert r.objective == pytest.approx(best)
    lag = Lagrangian(siting_problem(cost, demand, capacity, p))
    lag.run(lambda: best, math.inf, relative_gap=0.0)
    assert lag.bound <= best + 1e-6 or lag.bound == math.inf
    assert lag.pairs[np.arange(len(demand)), r.assign].all()
    assert lag.sites[r.open].all()
    assert set(np.flatnonzero(lag.must)) <= set(r.open.tolist())


# ---------------------------------------------------------------------------------------------- real data


def test_pmedcap01_reaches_its_optimum():
    bench = benchmark("siting")
    cost, demand, capacity, p = bench.read_instance(shared("benchmarks_cpmp", "instances", "pmedcap01.txt"))
    assert cost.shape == (50, 50) and p == 5
    ones = np.ones(len(demand))
    r = solve_siting(cost, demand, capacity, p, weight=ones, options=SolveOptions(time_limit_s=30))
    _check(r, cost, demand, capacity, p=p, weight=ones)
    assert r.objective == 713
    assert r.status == "optimal" and r.lower_bound == pytest.approx(713, abs=0.072)  # proven within 0.01 %


def test_time_out_returns_a_plan_with_its_gap():
    """pmedcap08 (optimum 820) is not proven in 2 s: the best plan comes back with the gap proven so far."""
    bench = benchmark("siting")
    cost, demand, capacity, p = bench.read_instance(shared("benchmarks_cpmp", "instances", "pmedcap08.txt"))
    ones = np.ones(len(demand))
    r = solve_siting(cost, demand, capacity, p, weight=ones, options=SolveOptions(time_limit_s=2))
    _check(r, cost, demand, capacity, p=p, weight=ones)
    assert r.status == "feasible"
    assert r.objective >= 820 and r.lower_bound <= 820
    assert 0 < r.gap == pytest.approx((r.objective - r.lower_bound) / r.objective)


# ------------------------------------------------------------------------------------- no plan, bad input


def test_seats_short_of_children_named_with_numbers():
    demand = np.full(41, 15.0)  # 615 children
    capacity = np.array([120.0] * 5 + [100.0] * 3)
    cost = np.ones((41, 8))
    with pytest.raises(
        InfeasibleError, match=r"the 5 largest sites offer 600 seats against 615 children \(short 15\)"
    ):
        solve_siting(cost, demand, capacity, 5, options=QUICK)
    with pytest.raises(InfeasibleError, match=r"p = 6 at least"):
        solve_siting(cost, demand, capacity, 5, options=QUICK)
    forced = np.array([5, 6])  # two small existing schools kept open
    with pytest.raises(InfeasibleError, match=r"the 2 forced sites and the 3 largest others offer 560 seats"):
        solve_siting(cost, demand, capacity, 5, forced=forced, options=QUICK)


def test_seats_just_enough_is_a_plan():
    """One child under the edge: 600 seats for 600 children (the infeasible case above is 615)."""
    demand = np.full(40, 15.0)
    capacity = np.array([120.0] * 5 + [100.0] * 3)
    cost = np.random.default_rng(3).integers(1, 100, (40, 8)).astype(float)
    r = solve_siting(cost, demand, capacity, 5, options=QUICK)
    _check(r, cost, demand, capacity, p=5)
    assert sorted(r.open.tolist()) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(("children", "ok"), [(60.0, True), (61.0, False)])
def test_a_point_larger_than_every_site(children, ok):
    cost = np.array([[100.0, 200.0], [300.0, 100.0]])
    demand = np.array([children, 10.0])
    capacity = np.array([60.0, 50.0])
    if ok:
        r = solve_siting(cost, demand, capacity, 2, options=QUICK)
        _check(r, cost, demand, capacity, p=2)
        assert r.assign.tolist() == [0, 1]
    else:
        with pytest.raises(
            InfeasibleError, match=r"demand point 0 has 61 children.*site 0, has 60 seats; short 1"
        ):
            solve_siting(cost, demand, capacity, 2, options=QUICK)


def test_a_point_with_no_site_within_reach():
    cost = np.array([[100.0, np.inf], [np.inf, np.inf], [50.0, 80.0]])
    with pytest.raises(InfeasibleError, match=r"demand point 1 \(10 children\) has no site within reach"):
        solve_siting(cost, np.full(3, 10.0), np.array([50.0, 50.0]), 1, options=QUICK)


def test_whole_points_that_do_not_pack():
    """180 children for 200 seats, but three points of 60 cannot share two sites of 100 seats."""
    cost = np.array([[1.0, 2.0], [2.0, 1.0], [1.0, 1.0]])
    with pytest.raises(InfeasibleError, match="cannot be sent whole"):
        solve_siting(cost, np.full(3, 60.0), np.array([100.0, 100.0]), 2, options=QUICK)


def test_bad_arrays_listed_at_once():
    cost = np.array([[1.0, -2.0], [np.nan, 1.0]])
    with pytest.raises(InputError) as err:
        solve_siting(cost, np.array([1.0, -1.0]), np.array([5.0]), 3, forced=np.array([0, 1, 2]))
    text = str(err.value)
    assert "cost rows (demand points) at 0, 1" in text
    assert "demand at 1: not a number ≥ 0" in text
    assert "capacity has shape (1,), expected (2,)" in text
    assert "p = 3" in text
    with pytest.raises(InputError, match="3 sites are forced open but p = 2"):
        solve_siting(np.ones((3, 4)), np.ones(3), np.ones(4) * 5, 2, forced=np.array([0, 1, 2]))
