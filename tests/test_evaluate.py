"""`zoning evaluate`: a given assignment measured as it is (no solve, no bound, no gap), the rules of zoning's
plans it breaks named as findings, the zone column free to be the current-school column; and trips before
and after measured the same way (by road when the plan is), which `compare` shows."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import zoning
from conftest import grid_instance
from test_cli import run
from test_roads import river_instance, river_roads
from zoning.check.metrics import findings
from zoning.geo.roads import build_road_network
from zoning.publish.report import _proof
from zoning.scenarios.compare import compare_markdown, compare_table

FAST = zoning.SolveOptions(time_limit_s=5, workers=1)

#: A 3 × 4 grid (b0 … b11, row-major, 10 children each); School 0 stands in b0, School 1 in b11.  The
#: given zones put b0 in School 1's zone, give School 0 40 children for 35 seats, in two pieces
#: ({b1, b4, b5} and b3), and leave b8 without a school.
GIVEN = {"b1": "S0", "b4": "S0", "b5": "S0", "b3": "School 0", "b0": "S1", "b2": "S1", "b6": "S1",
         "b7": "S1", "b9": "S1", "b10": "S1", "b11": "School 1"}  # fmt: skip


def _grid():
    return grid_instance(3, 4, [10] * 12, [0, 11], [35, 200])


def test_a_given_plan_is_kept_as_drawn_and_the_rules_it_breaks_are_its_findings():
    blocks, schools = _grid()
    given = pd.Series(GIVEN, name="hand_drawn")
    plan = zoning.evaluate_zones(blocks, schools, given, move_penalty_m=0)  # checked inside, as every plan
    zoning.check_plan(plan)
    got = plan.assignment
    assert (
        got.drop("b8") == given.replace({"School 0": "S0", "School 1": "S1"}).reindex(got.drop("b8").index)
    ).all()
    assert got["b0"] == "S1"  # School 0's own block stays where it was drawn
    assert got["b8"] == "S0"  # no school given: the nearest (200 m against 300 m)
    assert any("(b8)" in w.message and w.column == "hand_drawn" for w in plan.warnings)
    found = findings(plan)
    assert "School 0 stands in block b0, which the plan puts in the zone of School 1" in found
    assert "School 0 takes 50.0 children for 35 seats (15.0 over)" in found  # b8 joined it
    assert any(f.startswith("the zone of School 0 is in 2 pieces (1 of its 5 blocks") for f in found)
    assert any(f.startswith("the zone of School 1 is in") for f in found)
    s = zoning.summary(plan)
    assert s["findings"] == found and s["totals"]["schools_over_capacity"] == 1


def test_a_given_plan_keeping_every_rule_has_no_findings():
    blocks, schools = _grid()
    given = {f"b{i}": "S0" if i % 4 < 2 else "S1" for i in range(12)}
    plan = zoning.evaluate_zones(blocks, schools.assign(capacity=[60, 60]), pd.Series(given))
    assert findings(plan) == [] and zoning.summary(plan)["findings"] == []


def test_a_given_plan_has_a_cost_but_no_bound_or_gap():
    blocks, schools = _grid()
    plan = zoning.evaluate_zones(blocks, schools, pd.Series(GIVEN))
    info = plan.info
    assert info.status == "given" and info.lower_bound is None and info.gap is None and info.lp_bound is None
    solve = zoning.summary(plan)["solve"]
    assert solve["status"] == "given" and solve["gap"] is None and solve["lower_bound_child_m"] is None
    assert solve["objective_child_m"] > 0
    assert "no bound" in plan.summary_line()
    proof = dict((k, v) for k, v in _proof(solve))
    assert "given plan" in proof["求解状态 status"] and proof["与最优的差距 proven gap"].startswith("—")
    # beside a solved plan in compare: no gap for the given one (nor for one written before it said "given")
    solved = zoning.summary(zoning.assign_zones(blocks, schools.assign(capacity=[80, 80]), options=FAST))
    old = json.loads(json.dumps(zoning.summary(plan)))
    old["solve"].update(status="optimal", gap=0.0)
    table = compare_table({"drawn": zoning.summary(plan), "ours": solved, "old": old})
    assert table["status"].tolist() == ["given", solved["solve"]["status"], "given"]
    assert np.isnan(table.loc[0, "gap"]) and np.isnan(table.loc[2, "gap"]) and table.loc[1, "gap"] >= 0
    assert "| drawn | given | — |" in compare_markdown(table)


def _write(tmp_path, blocks, schools):
    blocks.to_crs(4326).to_file(tmp_path / "blocks.geojson")
    schools.to_crs(4326).to_file(tmp_path / "schools.geojson")
    return tmp_path / "blocks.geojson", tmp_path / "schools.geojson"


def test_cli_evaluate_prints_findings_and_no_gap_or_progress(tmp_path):
    blocks, schools = _grid()
    b, s = _write(tmp_path, blocks.assign(drawn=blocks["block_id"].map(GIVEN)), schools)
    result = run("evaluate", b, s, "--zone-col", "drawn", "--out", tmp_path / "o")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Plan: the given assignment, evaluated (nothing solved)" in out and "no lower bound or gap" in out
    assert "gap 0" not in out and "progress" not in out and "/0 s]" not in out and "Traceback" not in out
    assert "Findings: the given plan breaks 4 rule(s) zoning's plans keep:" in out
    assert "  - School 0 stands in block b0, which the plan puts in the zone of School 1" in out
    summary = json.loads((tmp_path / "o" / "summary.json").read_text(encoding="utf-8"))
    assert summary["solve"]["gap"] is None and len(summary["findings"]) == 4
    plan = pd.read_csv(tmp_path / "o" / "plan.csv", dtype=str).set_index("block_id")
    assert plan.loc["b0", "school_id"] == "S1" and plan.loc["b3", "school_id"] == "S0"
    compared = run("compare", tmp_path / "o")
    assert compared.exit_code == 0 and "| o | given | 2 |" in compared.output  # no plan with a gap: no column
    assert "proven gap" not in compared.output


def test_cli_evaluate_takes_the_current_school_column_as_the_zones(tmp_path):
    blocks, schools = _grid()
    today = ["S0" if i % 4 < 2 else "S1" for i in range(12)]
    other = ["S1" if i == 5 else t for i, t in enumerate(today)]
    b, s = _write(
        tmp_path, blocks.assign(current_school=today, proposed=other), schools.assign(capacity=[60, 60])
    )
    result = run("evaluate", b, s, "--zone-col", "current_school", "--out", tmp_path / "a")
    assert result.exit_code == 0, result.output
    plan = pd.read_csv(tmp_path / "a" / "plan.csv", dtype=str)
    assert plan["school_id"].tolist() == today and "moved 0.0" in result.output
    # the file's current_school column, not the one --current-school-col names as today's
    args = ["--current-school-col", "proposed", "--zone-col", "current_school", "--out", tmp_path / "b"]
    result = run("evaluate", b, s, *args)
    assert result.exit_code == 0, result.output
    assert pd.read_csv(tmp_path / "b" / "plan.csv", dtype=str)["school_id"].tolist() == today
    assert "moved 10.0" in result.output  # b5: S1 in "proposed" (today here), S0 in the zones given


def _road_distance(plan, roads, school_of):
    """Metres by road from every block to the school ``school_of`` names, computed apart from the plan."""
    net = build_road_network(roads)
    xy = shapely.get_coordinates(plan.blocks.geometry.representative_point().values)
    sxy = shapely.get_coordinates(plan.schools.geometry.values)
    j = pd.Index(plan.schools["school_id"]).get_indexer(school_of)
    return net.distances(xy, sxy, np.arange(len(xy)), j)


def test_trips_before_are_measured_by_road_when_the_plan_is():
    # every block's school today is School 1, east of the river: by road the west bank's children go round
    # by the bridge (b8: 600 m, 100 m as the crow flies); b0 … b2 and b6 … b8 beyond 450 m are not even
    # candidates of the plan, and still measured by road
    blocks, schools, roads = river_instance()
    blocks = blocks.assign(current_school="S1")
    plan = zoning.assign_zones(blocks, schools, roads=roads, max_distance_m=450, options=FAST)
    road = _road_distance(plan, roads, ["S1"] * len(blocks))
    assert np.isfinite(road).all()
    current = plan.blocks["current_distance_m"].to_numpy()
    assert current == pytest.approx(np.rint(road), abs=0.06)
    kids = plan.blocks["students"].to_numpy()
    s = zoning.summary(plan)
    assert s["before"]["mean_distance_m"] == pytest.approx(np.average(np.rint(road), weights=kids), abs=0.06)
    straight = plan.blocks.geometry.representative_point().distance(plan.schools.geometry.iloc[1])
    assert s["before"]["mean_distance_m"] > np.average(straight, weights=kids) + 50
    assert s["totals"]["distance_measure"] == "road" and s["rules"]["travel"] == "road"
    plain = zoning.summary(zoning.assign_zones(blocks, schools, options=FAST))
    assert plain["totals"]["distance_measure"] == "straight line"
    assert plain["before"]["mean_distance_m"] == pytest.approx(np.average(straight, weights=kids), abs=0.06)
    # side by side, compare says how each plan's trips are measured, and that they do not compare
    text = compare_markdown(compare_table({"by road": s, "straight": plain}))
    assert "| by road |" in text and "| road |" in text and "| straight line |" in text
    assert "measure trips differently (road: by road; straight line: straight)" in text
    same = compare_markdown(compare_table({"a": plain, "b": plain}))
    assert "distance by" not in same and "differently" not in same


def test_evaluate_by_road_where_no_road_joins_a_block_to_its_given_school():
    # no bridge: b8 (west bank) drawn into School 1's zone (east bank) travels the straight line, said so
    blocks, schools, _ = river_instance()
    roads = gpd.GeoSeries([g for g in river_roads() if g.bounds[0] != 400_200 or g.bounds[2] != 400_400],
                          crs=blocks.crs)  # fmt: skip
    given = {f"b{i}": "S0" if i % 6 < 3 else "S1" for i in range(18)} | {"b8": "S1"}
    plan = zoning.evaluate_zones(blocks, schools, pd.Series(given, name="drawn"), roads=roads)
    assert plan.assignment["b8"] == "S1" and plan.rules["travel"] == "road"
    dist = plan.blocks.set_index("block_id")["distance_m"]
    assert dist["b8"] == pytest.approx(100, abs=1) and dist["b7"] > 100  # b7 to School 0 by road
    assert any("joined to their given school by no road (b8)" in w.message for w in plan.warnings)


def test_cli_evaluate_with_roads_beside_a_plan_without(tmp_path):
    from test_roads import _write_inputs

    b, s, r = _write_inputs(tmp_path, river_roads())
    gpd.read_file(b).assign(drawn=lambda f: ["S0" if i % 6 < 3 else "S1" for i in range(len(f))]).to_file(b)
    road = run("evaluate", b, s, "--zone-col", "drawn", "--roads", r, "--out", tmp_path / "road")
    assert road.exit_code == 0, road.output
    assert "mean trip" in road.output and " m by road" in road.output
    plain = run("evaluate", b, s, "--zone-col", "drawn", "--out", tmp_path / "plain")
    assert plain.exit_code == 0 and " m by road" not in plain.output
    by = {
        k: json.loads((tmp_path / k / "summary.json").read_text(encoding="utf-8"))["totals"]
        for k in ("road", "plain")
    }
    assert by["road"]["distance_measure"] == "road" and by["plain"]["distance_measure"] == "straight line"
    assert (
        by["road"]["mean_distance_m"] > by["plain"]["mean_distance_m"]
    )  # along the streets, not across blocks
    compared = run("compare", tmp_path / "road", tmp_path / "plain")
    assert "| road | given |" in compared.output and "measure trips differently" in compared.output


# ------------------------------------------------------------------------------------- frames built by hand


def test_frames_built_by_hand_are_checked_not_trusted(caplog):
    # an analyst's sweep: integer ids crashed assign_zones ("a bug in zoning", a pandas merge error),
    # duplicate ids and NaN children gave raw errors or a broken table, and a misspelt current school was
    # silently counted as a closed one
    blocks, schools = _grid()
    opts = zoning.SolveOptions(time_limit_s=5, workers=1)
    as_ints = blocks.assign(block_id=range(len(blocks)))
    plan = zoning.assign_zones(as_ints, schools.assign(school_id=[7, 8]), options=opts)
    assert set(plan.assignment.index) == {str(k) for k in range(12)} and set(plan.assignment) <= {"7", "8"}
    with pytest.raises(zoning.InputError, match="appear more than once in the schools"):
        zoning.assign_zones(blocks, pd.concat([schools, schools.iloc[[0]]]), options=opts)
    with pytest.raises(
        zoning.InputError, match="1 of the blocks have no students as a number of 0 or more: b3"
    ):
        zoning.assign_zones(blocks.assign(students=[10.0] * 3 + [np.nan] + [10.0] * 8), schools, options=opts)
    with pytest.raises(zoning.InputError, match="not a GeoDataFrame"):
        zoning.assign_zones(pd.DataFrame(blocks.drop(columns="geometry")), schools, options=opts)
    misspelt = blocks.assign(current_school=["S0"] * 6 + ["s1"] * 6)
    plan = zoning.assign_zones(misspelt, schools, options=opts)
    assert any(
        "6 block(s) name a current school that is not among the schools (s1)" in str(w) for w in plan.warnings
    )


def test_a_column_of_the_blocks_frame_is_read_row_by_row():
    # an analyst's sweep: evaluate_zones(b, s, b["zone"]) matched nothing (keyed 0..n, not by block_id):
    # every block went to its nearest school, 8,319 child-km for 1,139
    blocks, schools = _grid()
    drawn = blocks.assign(zone=blocks["block_id"].map(GIVEN))
    by_name = zoning.evaluate_zones(drawn, schools, "zone")
    by_column = zoning.evaluate_zones(drawn, schools, drawn["zone"])
    assert by_column.assignment.equals(by_name.assignment)
    with pytest.raises(zoning.InputError, match="name none of the blocks"):
        zoning.evaluate_zones(drawn, schools, pd.Series(["S0"] * 12, index=[f"x{k}" for k in range(12)]))


def test_swapped_coordinates_missing_outlines_and_a_negative_price_are_refused_in_words():
    # an analyst's sweep: swapped school points gave a plan with trips of 15,854 km, a None geometry a
    # TypeError deep in the graph, move_penalty_m=-100 rewarded moving children
    blocks, schools = _grid()
    opts = zoning.SolveOptions(time_limit_s=3, workers=1)
    swapped = schools.to_crs(4326)
    swapped = swapped.set_geometry(gpd.points_from_xy(swapped.geometry.y, swapped.geometry.x), crs=4326)
    with pytest.raises(zoning.InputError, match="stand far from every block"):
        zoning.assign_zones(blocks, swapped, options=opts)
    with pytest.raises(zoning.InputError, match="1 block.s. have no geometry: b2"):
        zoning.assign_zones(blocks.set_geometry([None if k == 2 else g for k, g in enumerate(blocks.geometry)]),
                            schools, options=opts)  # fmt: skip
    with pytest.raises(zoning.InputError, match="move_penalty_m = -100"):
        zoning.assign_zones(blocks, schools, move_penalty_m=-100, options=opts)
    # a school given as its campus outline stands at a point inside it
    campus = schools.assign(geometry=schools.geometry.buffer(20))
    plan = zoning.assign_zones(blocks, campus, options=opts)
    assert any("given as shapes" in str(w) for w in plan.warnings)
