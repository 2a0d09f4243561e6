"""The districts' annealing (``districts/anneal.py``): the repair where the quality band binds city-wide.

A city whose key schools crowd into one quarter (issue 19's clustered city): the start misses the
mean-quality band in many districts, and no window of a few districts can mend it.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

import zoning
import zoning.districts.anneal as anneal_module
from test_districts_scale import mixed_city
from zoning import SolveOptions
from zoning.districts.anneal import ANNEAL_EXCESS, _out_and_excess, anneal, breakout, polish
from zoning.districts.chain import Chain, district_energy, measures, run
from zoning.districts.problem import (
    Requirement,
    _excess_of,
    _stats,
    band_excess,
    build_district_problem,
    coverage,
    district_pieces,
    is_valid,
)
from zoning.districts.start import constructive
from zoning.geo.graph import build_block_graph


@pytest.fixture(scope="module")
def clustered():
    """The clustered city of 300 schools → 25 districts under the default bands, and its start."""
    schools = mixed_city(300, clustered=True)
    graph, _ = build_block_graph(schools.assign(block_id=schools["school_id"]))
    p = build_district_problem(schools, graph.edges, n_districts=25, children=schools["enrolment"].to_numpy())
    return p, constructive(p, 0)


def test_the_clustered_start_misses_the_quality_band_by_more_than_the_windows_mend(clustered):
    p, start = clustered
    assert band_excess(p, start) > ANNEAL_EXCESS  # (else the annealing is not tried)


def test_the_annealing_energy_is_the_band_excess_of_each_district(clustered):
    # the compiled chain's energy is its own copy of problem._excess_of (numpy per move would be too slow):
    # on any grouping, with a requirement, it must count what _excess_of counts
    p, start = clustered
    rng = np.random.default_rng(0)
    q = replace(p, requirements=(Requirement("a big school", p.seats > 700, 2),))
    m_of = measures(q)
    leads = np.unique(start)
    for _ in range(5):
        lead_of = rng.choice(leads, size=q.n)
        ours = [district_energy(q, m_of[lead_of == lead].sum(axis=0)) for lead in leads]
        np.testing.assert_allclose(ours, _excess_of(q, _stats(q, lead_of), leads), rtol=1e-9, atol=1e-12)


def test_a_seed_gives_the_same_chain(clustered):
    # the compiled chain draws from its own xorshift state (no global RNG): the same seed, the same moves
    p, start = clustered
    fixed = np.zeros(p.n, dtype=bool)

    def walk(seed):
        ch = Chain(p, start, fixed, seed=seed, cost_weight=0.01)
        run(ch, 200_000, 0.02, 0.02, spread_weight=0.02, lead_share=0.01)
        return ch.lead[ch.state]

    first = walk(3)
    assert (first != start).any()
    assert np.array_equal(first, walk(3))
    assert not np.array_equal(first, walk(4))


def test_annealing_reaches_a_grouping_keeping_every_rule(clustered):
    p, start = clustered
    t = time.perf_counter()
    plan = anneal(p, start, until=t + 20)
    assert is_valid(p, plan)
    assert time.perf_counter() - t < 20  # it ends at the first grouping keeping every band


@pytest.mark.parametrize("chain", ["cycles", "breakout"])
def test_annealing_keeps_pinned_leads_pairs_candidates_and_one_piece(clustered, chain):
    # the breakout's weights change what the chain prefers, never what it may do: it keeps the rules the
    # cycles keep, and the grouping it returns is no worse than its start (fewer districts outside a band,
    # then less excess)
    p, start = clustered
    ids = p.school_ids
    members = [i for i in range(p.n) if start[i] != i]
    together = next((a, b) for a in members for b in members if a < b and start[a] == start[b])
    apart = next((a, b) for a in members for b in members if start[a] != start[b])
    pinned = p.lead_ok & np.isin(np.arange(p.n), np.unique(start)[:3])
    q = replace(p, together=np.array([together]), apart=np.array([apart]), pinned=pinned)
    if chain == "cycles":
        plan = anneal(q, start, until=time.perf_counter() + 3, seed=1)
        assert plan is not start and band_excess(q, plan) < band_excess(q, start)
    else:
        plan = breakout(q, start, until=time.perf_counter() + 2, seed=1)
        assert plan is not start and _out_and_excess(q, plan) < _out_and_excess(q, start)
    assert not district_pieces(q, plan)
    assert (q.pair_index(np.arange(q.n), plan) >= 0).all()  # every school joins a candidate lead
    assert np.all(plan[pinned] == np.flatnonzero(pinned))  # pinned leads lead
    assert len(np.unique(plan)) == p.n_districts and np.all(plan[np.unique(plan)] == np.unique(plan))
    assert plan[together[0]] == plan[together[1]], ids[list(together)]
    assert plan[apart[0]] != plan[apart[1]], ids[list(apart)]


def test_a_start_near_its_bands_is_left_to_the_windows(clustered):
    p, start = clustered
    plan = anneal(p, start, until=time.perf_counter() + 20)
    assert anneal(p, plan, until=time.perf_counter() + 1) is plan  # nothing left to anneal


def test_a_coverage_rate_is_part_of_what_the_annealing_mends():
    # any school may lead, and 95 % of the children must be in districts holding a key school: the start
    # misses the rate (92.9 %) and the bands
    schools = mixed_city(300, clustered=True)
    graph, _ = build_block_graph(schools.assign(block_id=schools["school_id"]))
    p = build_district_problem(
        schools, graph.edges, n_districts=25, children=schools["enrolment"].to_numpy(),
        lead_candidates=list(schools["school_id"]), min_coverage=0.95,
    )  # fmt: skip
    start = constructive(p, 0)
    assert coverage(p, start) < 0.95
    plan = anneal(p, start, until=time.perf_counter() + 20)
    assert is_valid(p, plan) and coverage(p, plan) >= 0.95


def test_the_clustered_city_gets_a_checked_plan_under_the_default_bands():
    # issue 19: before the annealing, the search found its first plan in 8–97 s, or none in 60 s, on the
    # benchmark's clustered 300 → 25 city; 200 → 16 here (its start misses by 0.23, annealed in 0.2 s)
    schools = mixed_city(200, clustered=True)
    plan = zoning.form_districts(schools, n_districts=16, options=SolveOptions(time_limit_s=10))
    assert zoning.district_violations(plan) == []
    lo, hi = plan.district_problem.quality_band
    assert plan.districts["mean_quality"].between(lo - 1e-9, hi + 1e-9).all()


def test_the_polish_shortens_the_trips_and_keeps_every_rule(clustered):
    # the chain again with every band hard: the annealed plan's trips fall, no rule is broken on the way,
    # pinned leads and together/apart pairs stay
    p, start = clustered
    plan = anneal(p, start, until=time.perf_counter() + 20)
    assert is_valid(p, plan)
    members = [i for i in range(p.n) if plan[i] != i]
    together = next((a, b) for a in members for b in members if a < b and plan[a] == plan[b])
    apart = next((a, b) for a in members for b in members if plan[a] != plan[b])
    pinned = p.lead_ok & np.isin(np.arange(p.n), np.unique(plan)[:3])
    q = replace(p, together=np.array([together]), apart=np.array([apart]), pinned=pinned)
    shorter = polish(q, plan, until=time.perf_counter() + 2)
    assert is_valid(q, shorter)
    assert q.cost_of(shorter) < 0.97 * q.cost_of(plan)
    assert np.all(shorter[pinned] == np.flatnonzero(pinned))
    assert shorter[together[0]] == shorter[together[1]] and shorter[apart[0]] != shorter[apart[1]]
    assert polish(q, start, until=time.perf_counter() + 1) is start  # a plan missing a band is not polished


def test_the_windows_stop_at_their_patience_and_the_trips_are_annealed_again(clustered, monkeypatch):
    # up to 400 schools the windows end after `patience` sweeps without improvement (the polish then runs
    # again from their plan): with no patience, at the first window that finds nothing, long before the clock
    from zoning.districts.search import _lns, _polish, _Search

    p, start = clustered
    plan = anneal(p, start, until=time.perf_counter() + 20)
    t0 = time.perf_counter()
    s = _Search(p, SolveOptions(time_limit_s=60), t0, t0 + 60, plan)
    flags = []
    solve = s.solve

    def counted(*args, **kw):
        out = solve(*args, **kw)
        flags.append(out[2])
        return out

    s.solve = counted
    _lns(s, s.deadline, np.random.default_rng(0), lambda: None, patience=0)
    assert flags and flags[-1] is False and all(flags[:-1])
    assert time.perf_counter() - t0 < 30
    # the polish again: its chains take fresh seeds and the cooler start, and it keeps every rule
    import zoning.districts.search as search

    calls = []

    def recorded(*args, **kw):
        calls.append((kw["seed"], kw.get("t_start")))
        return polish(*args, **kw)

    monkeypatch.setattr(search, "polish", recorded)
    before = p.cost_of(s.lead_of)
    _polish(s, time.perf_counter() + 1.0, runs=2, first_seed=3, t_start=0.003)
    assert calls == [(3, 0.003), (4, 0.003)]
    assert is_valid(p, s.lead_of) and p.cost_of(s.lead_of) <= before


def test_the_breakout_leaves_a_grouping_keeping_every_band_as_it_is(clustered):
    p, start = clustered
    valid = anneal(p, start, until=time.perf_counter() + 20)
    assert breakout(p, valid, until=time.perf_counter() + 1) is valid  # nothing to press on


def test_the_breakout_mends_what_the_cycles_leave_on_the_clustered_1000_city(monkeypatch):
    # issue 19, session 19: a grouping of the benchmark's clustered 1,000 → 80 city (key schools crowded
    # into one quarter) with one district outside its bands (15 schools, 6 of them key, 48 seats over), every
    # district around it at its band's edge: 150 s of the annealing's cycles (and 40 s of them in this
    # session) left it there, exact windows of up to 20 districts found nothing in 60 s each; the breakout
    # keeps every rule after about 2 s (60 s allowed here, for a loaded machine)
    import pandas as pd

    from conftest import ROOT, benchmark

    p = benchmark("districts_limit").problem("clustered", 1000, 80)
    table = pd.read_csv(ROOT / "benchmarks" / "data" / "clustered-1000-80-one-out.csv", dtype=str)
    index = {sid: i for i, sid in enumerate(p.school_ids)}
    start = np.full(p.n, -1, dtype=np.int64)
    start[[index[s] for s in table["school_id"]]] = [index[s] for s in table["lead_id"]]
    assert _out_and_excess(p, start)[0] == 1 and not district_pieces(p, start)
    monkeypatch.setattr(anneal_module, "BREAKOUT_PATIENCE", 60.0)
    plan = breakout(p, start, until=time.perf_counter() + 60, seed=1)
    assert is_valid(p, plan)
