"""The knapsack (Lagrangian) bound: exact knapsacks, the relaxation's seat prices, and a bound that lies
between the relaxation and the optimum."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

import zoning.zones.bound as lagrange
import zoning.zones.search as search_zones
from conftest import grid_instance
from zoning import SolveOptions, assign_zones, check_plan
from zoning.geo.graph import build_block_graph
from zoning.zones import windows as zones_windows
from zoning.zones.bound import _knapsack, knapsack_bound, seat_prices, transport_bound
from zoning.zones.ejection import first_plan
from zoning.zones.model import feasible_candidates, objective, solve_exact
from zoning.zones.problem import build_zone_problem
from zoning.zones.start import round_flow, violations
from zoning.zones.windows import Windows


def _problem(seed: int, slack: float, rows: int = 6, cols: int = 7, n_schools: int = 5):
    rng = np.random.default_rng(seed)
    students = rng.integers(1, 30, size=rows * cols)
    cells = sorted(rng.choice(rows * cols, size=n_schools, replace=False).tolist())
    share = rng.uniform(0.6, 1.4, size=n_schools)
    seats = np.floor(share / share.sum() * students.sum() * (1 + slack)) + 1
    blocks, schools = grid_instance(rows, cols, students, cells, seats)
    graph, _ = build_block_graph(blocks)
    return build_zone_problem(blocks, schools, graph, move_penalty_m=0, contiguity=False)


def _enumerated(weight, profit, seats):
    best = 0.0
    for mask in range(1 << len(weight)):
        take = np.array([(mask >> i) & 1 for i in range(len(weight))], dtype=bool)
        if weight[take].sum() <= seats:
            best = max(best, float(profit[take].sum()))
    return best


def test_knapsack_is_exact_against_enumeration():
    rng = np.random.default_rng(7)
    for _ in range(400):
        n = int(rng.integers(1, 11))
        weight = rng.integers(0, 15, size=n)
        if rng.random() < 0.5:  # ties in profit per seat, as at the relaxation's prices
            profit = np.maximum(1.0, 3.0 * weight + rng.integers(0, 3, size=n))
        else:
            profit = rng.integers(1, 40, size=n).astype(float)
        seats = int(rng.integers(0, 40))
        value, take = _knapsack(weight, profit, seats)
        assert value == pytest.approx(_enumerated(weight, profit, seats))
        assert weight[take].sum() <= seats
        assert profit[take].sum() == pytest.approx(value)


@pytest.mark.parametrize("slack", [0.03, 0.2])
def test_seat_prices_are_the_relaxations_duals(slack):
    p = _problem(1, slack)
    flow = transport_bound(p)
    prices = seat_prices(p, flow.flows)
    assert (prices >= 0).all()
    first = np.searchsorted(p.arc_block, np.arange(p.n_blocks))
    per_child = np.minimum.reduceat(p.arc_unit_cost + prices[p.arc_school], first)
    dual = float(per_child @ p.students - prices @ p.capacity)
    assert dual == pytest.approx(flow.value, rel=1e-9)
    # a school with a free seat in the relaxation prices it at 0
    load = np.bincount(p.arc_school, weights=flow.flows, minlength=p.n_schools)
    assert (prices[load < p.capacity] < 1e-6).all()


@pytest.mark.parametrize("max_seats", [None, 16])
def test_knapsack_bound_lies_between_the_relaxation_and_the_optimum(monkeypatch, max_seats):
    # max_seats 16: every school counts its seats in coarser units, and the bound must stay valid
    if max_seats is not None:
        monkeypatch.setattr(lagrange, "MAX_SEATS", max_seats)
    raised = 0
    for seed in range(4):
        p = _problem(seed, 0.03)
        flow = transport_bound(p)
        exact = solve_exact(
            p, None, time.perf_counter() + 20, SolveOptions(time_limit_s=20, relative_gap=0.0)
        )
        assert exact.status == "optimal"
        bound = knapsack_bound(p, seat_prices(p, flow.flows), exact.objective * 1.01, time.perf_counter() + 5)
        assert flow.value - 1 <= bound.start <= bound.value <= exact.objective
        raised += bound.value > flow.value
    if max_seats is None:
        assert raised >= 3  # whole blocks that do not fit the seats exactly: the relaxation is not tight


def test_knapsack_bound_refuses_soft_seats():
    p = _problem(0, 0.1)
    flow = transport_bound(p)
    with pytest.raises(ValueError, match="hard seats"):
        knapsack_bound(
            replace(p, allow_overload=True), seat_prices(p, flow.flows), 1.0, time.perf_counter() + 1
        )


def test_large_problems_report_the_knapsack_bound(monkeypatch):
    # a large problem (LARGE_BLOCKS and FULL_BLOCKS lowered): a share of the time raises the knapsack bound
    monkeypatch.setattr(zones_windows, "LARGE_BLOCKS", 100)
    monkeypatch.setattr(zones_windows, "FULL_BLOCKS", 100)
    monkeypatch.setattr(zones_windows, "WINDOW_BLOCKS", 30)
    calls = []

    def spy(*args, **kw):
        calls.append(knapsack_bound(*args, **kw))
        return calls[-1]

    monkeypatch.setattr(search_zones, "knapsack_bound", spy)
    rng = np.random.default_rng(4)
    students = rng.integers(1, 30, size=400)
    cells = sorted(rng.choice(400, size=12, replace=False).tolist())
    seats = np.floor(np.full(12, students.sum() * 1.03 / 12)) + 1
    blocks, schools = grid_instance(20, 20, students, cells, seats)
    plan = assign_zones(blocks, schools, move_penalty_m=0, options=SolveOptions(time_limit_s=4, seed=1))
    check_plan(plan)
    info = plan.info
    assert len(calls) == 1 and info.lp_bound < calls[0].value <= info.objective
    # the best bound is reported (windows grown to every school may have proven a better one)
    assert info.lower_bound >= calls[0].value - 1e-6
    assert info.bound_source in ("knapsack (Lagrangian)", "CP-SAT")


@pytest.mark.parametrize("contiguity", [False, True])
def test_plan_of_the_knapsacks_is_valid_and_never_worse(contiguity):
    for seed in range(3):
        p = replace(_problem(seed, 0.03, rows=12, cols=12, n_schools=8), contiguity=contiguity)
        p, flow = feasible_candidates(p)
        options = SolveOptions(time_limit_s=5, seed=1)
        start = first_plan(p, flow, time.perf_counter() + 5)
        lp_choice = round_flow(p, flow.flows)
        search = Windows(p, options, time.perf_counter() + 5, start, float(flow.value), lp_choice)
        search.repair()
        assert search.valid()
        before = search.cost
        after, bound = search_zones._knapsack_restart(search, seat_prices(p, flow.flows), lp_choice)
        assert after.valid() and not violations(p, after.assign)
        assert after.cost == objective(p, after.assign) <= before
        assert flow.value <= bound.value <= after.cost
        # the knapsacks' choice: a candidate school of the block, or none
        chosen = bound.choice >= 0
        assert (p.arc_index(np.flatnonzero(chosen), bound.choice[chosen]) >= 0).all()
