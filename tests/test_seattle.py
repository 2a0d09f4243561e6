"""Seattle 2015-16 → 2017-18 (issue 15): zoning on the real middle-school redraw, units = the 57 ES zones of
2017-18, children ∝ area, seats 1.05 × the official zone's children (``benchmarks/seattle_redraw.py``).

Invariants only: every unit assigned to a 2017-18 school, the checker clean, and under a cap equal to the
official redraw's children moved, no more moved than the official (or a ZoningError that names the cap)."""

from __future__ import annotations

import numpy as np
import pytest

import zoning
from conftest import benchmark, shared


@pytest.fixture(scope="module")
def redraw():
    shared("seattle_sps", "attendance_areas_MS_2017_18.geojson")
    bench = benchmark("seattle_redraw")
    blocks, schools, names = bench.level_inputs("MS", "es")
    return bench, blocks, schools, names


def test_names_and_inputs(redraw):
    _, blocks, schools, names = redraw
    assert len(blocks) == 57 and len(schools) == 12
    new = set(names.loc[names["2015-16 zone"] == "— (new)", "2017-18 zone"])
    assert new == {"Meany", "Eagle Staff"}  # the 10 others keep their names and 2015-16 sites
    assert blocks["from_school"].notna().all() and blocks["to_school"].notna().all()
    assert set(blocks["from_school"]) <= set(schools["school_id"]) - new
    # the official redraw moved some units but not most, and its zones fit the proxy seats
    moved = (blocks["from_school"] != blocks["to_school"]).mean()
    assert 0.05 < moved < 0.5
    load = blocks.groupby("to_school")["students"].sum()
    assert (load <= schools.set_index("school_id")["capacity"].reindex(load.index) + 1e-6).all()


def test_zoning_under_the_official_cap(redraw):
    bench, blocks, schools, _ = redraw
    kids = blocks["students"].to_numpy(float)
    official = float(kids[(blocks["from_school"] != blocks["to_school"]).to_numpy()].sum())
    options = zoning.SolveOptions(time_limit_s=10, workers=1)
    try:
        plan = zoning.assign_zones(blocks, schools, move_penalty_m=0.0, max_moved=official, options=options)
    except zoning.ZoningError as err:  # allowed only if the tool says why, in terms of the cap
        assert "moved" in str(err) and "cap" in str(err)
        return
    assert zoning.plan_violations(plan) == []
    assert set(plan.assignment.index) == set(blocks["block_id"])
    assert set(plan.assignment) <= set(schools["school_id"])
    assert plan.blocks["moved"].to_numpy().sum() >= 1  # the two new schools need children
    moved = float(plan.blocks.loc[plan.blocks["moved"], "students"].sum())
    assert moved <= official + 1e-6
    assert bench.pieces(plan, plan.blocks["school_id"].to_numpy()) == 0
    assert 0.0 <= plan.info.gap < 1.0 and np.isfinite(plan.info.lower_bound)
