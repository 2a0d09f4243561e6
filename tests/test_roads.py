"""Travel on roads: the network, its barriers, road distances in plans, read_roads and `--roads`."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

import zoning
from conftest import grid_instance
from zoning.cli import main
from zoning.errors import InfeasibleError, InputError
from zoning.geo import roads as roads_module
from zoning.geo.graph import build_block_graph
from zoning.geo.roads import build_road_network
from zoning.zones.problem import build_zone_problem

X0, Y0 = 400_000.0, 4_830_000.0
EPSG = 32619


def line(*pts):
    return shapely.LineString([(X0 + x, Y0 + y) for x, y in pts])


def river_roads() -> list[shapely.LineString]:
    """Roads along every block edge of a 3 × 6 grid of 100 m blocks, except across the river at x = 300:
    the west bank (x ≤ 200) and the east bank (x ≥ 400) meet only on the bridge along the top edge."""
    out = []
    for x in (0, 100, 200, 400, 500, 600):
        out.append(line(*[(x, y) for y in (0, 100, 200, 300)]))
    for y in (0, 100, 200, 300):
        out.append(line((0, y), (100, y), (200, y)))
        out.append(line((400, y), (500, y), (600, y)))
    out.append(line((200, 300), (400, 300)))  # the bridge
    return out


def river_instance(school_cells=(6, 9)):
    """School 0 at the west end (cell 6), school 1 just east of the river (cell 9); b8 lies west of the
    river, 100 m from school 1 as the crow flies but 600 m by road, and 300 m from school 0 by road
    (200 m as the crow flies)."""
    blocks, schools = grid_instance(3, 6, [10] * 18, list(school_cells), [1000, 1000], epsg=EPSG)
    return blocks, schools, gpd.GeoSeries(river_roads(), crs=EPSG)


def check(plan):
    """Every rule verify.py checks (by road, against the plan's own road distances)."""
    zoning.check_plan(plan)


# ------------------------------------------------------------------------------------------ the network


def test_crossing_lines_without_a_shared_vertex_are_not_connected():
    bridge = [line((0, 50), (100, 50)), line((50, 0), (50, 100))]  # an X with no vertex at the crossing
    crossing = [line((0, 50), (50, 50), (100, 50)), line((50, 0), (50, 50), (50, 100))]
    assert len(np.unique(build_road_network(gpd.GeoSeries(bridge, crs=EPSG)).component)) == 2
    assert len(np.unique(build_road_network(gpd.GeoSeries(crossing, crs=EPSG)).component)) == 1


def test_vertices_within_the_tolerance_meet():
    gap = [line((0, 0), (100, 0)), line((100.4, 0.3), (200, 0))]  # digitised 0.5 m apart
    assert len(np.unique(build_road_network(gpd.GeoSeries(gap, crs=EPSG)).component)) == 1
    far = [line((0, 0), (100, 0)), line((103, 0), (200, 0))]
    assert len(np.unique(build_road_network(gpd.GeoSeries(far, crs=EPSG)).component)) == 2


def test_distances_on_a_grid_are_walks_along_the_streets():
    streets = [line(*[(x, k * 100) for x in range(0, 401, 100)]) for k in range(5)]
    streets += [line(*[(k * 100, y) for y in range(0, 401, 100)]) for k in range(5)]
    net = build_road_network(gpd.GeoSeries(streets, crs=EPSG))
    origins = np.array([[50, 50], [350, 350], [10, 0.5]]) + [X0, Y0]
    dests = np.array([[0, 0], [250, 50]]) + [X0, Y0]
    ai, aj = np.array([0, 0, 1, 1, 2]), np.array([0, 1, 0, 1, 0])
    # 50 m to the street, along it, 50 m to the school; the last pair shares a segment
    np.testing.assert_allclose(net.distances(origins, dests, ai, aj), [100, 300, 700, 500, 10.5])
    np.testing.assert_allclose(
        net.distances(origins, dests, ai, aj, cutoff_m=300), [100, 300, np.inf, np.inf, 10.5]
    )


def test_road_distances_are_never_shorter_than_straight_lines_and_chunks_agree(monkeypatch):
    rng = np.random.default_rng(7)
    streets = [line(*[(x, k * 100) for x in range(0, 1001, 100)]) for k in range(11)]
    streets += [line(*[(k * 100, y) for y in range(0, 1001, 100)]) for k in range(11)]
    roads = gpd.GeoSeries(streets, crs=EPSG)
    bxy = rng.uniform(0, 1000, (60, 2)) + [X0, Y0]
    sxy = rng.uniform(0, 1000, (7, 2)) + [X0, Y0]
    ai, aj = np.repeat(np.arange(60), 7), np.tile(np.arange(7), 60)
    whole = zoning.road_distances(bxy, sxy, ai, aj, roads)
    assert np.isfinite(whole).all()
    assert (whole >= np.hypot(*(bxy[ai] - sxy[aj]).T) - 1e-9).all()
    monkeypatch.setattr(roads_module, "_CHUNK_BYTES", 8)  # one school per Dijkstra run
    np.testing.assert_allclose(zoning.road_distances(bxy, sxy, ai, aj, roads), whole)


def test_a_network_without_lines_is_refused():
    with pytest.raises(InputError, match="no road lines"):
        build_road_network(gpd.GeoSeries([shapely.Point(X0, Y0)], crs=EPSG))


# ------------------------------------------------------------------------------------------ plans by road


def test_the_river_sends_a_block_to_the_school_on_its_own_bank():
    blocks, schools, roads = river_instance()
    straight = zoning.assign_zones(blocks, schools, move_penalty_m=0)
    by_road = zoning.assign_zones(blocks, schools, move_penalty_m=0, roads=roads)
    check(straight)
    check(by_road)
    assert straight.assignment["b8"] == "S1"  # across the river, 100 m as the crow flies
    assert by_road.assignment["b8"] == "S0"  # on its own bank, 300 m by road
    assert by_road.rules["travel"] == "road" and straight.rules["travel"] == "straight"
    d = by_road.blocks.set_index("block_id")["distance_m"]
    assert d["b8"] == pytest.approx(300)
    pts = by_road.blocks.geometry.representative_point()
    school_pt = dict(zip(schools["school_id"], schools.geometry))
    crow = np.array([p.distance(school_pt[s]) for p, s in zip(pts, by_road.blocks["school_id"])])
    assert (by_road.blocks["distance_m"].to_numpy() >= crow - 0.5).all()
    assert by_road.info.objective > straight.info.objective


def test_max_distance_applies_to_the_road_distance():
    blocks, schools, roads = river_instance()
    # b8 is 600 m from school 1 by road (100 m as the crow flies): a cap of 500 m keeps that arc out
    problem = build_zone_problem(
        blocks, schools, build_block_graph(blocks)[0], roads=roads, max_distance_m=500, move_penalty_m=0
    )
    arcs = set(zip(problem.arc_block.tolist(), problem.arc_school.tolist()))
    assert (8, 0) in arcs and (8, 1) not in arcs
    assert (problem.arc_dist_m[problem.anchor[problem.arc_school] != problem.arc_block] <= 500).all()
    assert problem.travel == "road"


def test_grow_keeps_road_distances():
    blocks, schools, roads = river_instance()
    problem = build_zone_problem(blocks, schools, build_block_graph(blocks)[0], roads=roads, k=1)
    grown = problem.grow(np.arange(problem.n_blocks), factor=2)
    k = grown.arc_index([8, 8], [0, 1])
    assert (k >= 0).all()
    assert grown.arc_dist_m[k].tolist() == [300, 600]


def test_a_block_cut_off_from_every_school_is_named():
    blocks, schools = grid_instance(1, 3, [5, 5, 5], [0, 1], [100, 100], epsg=EPSG)
    blocks["name"] = ["东湖小区", "西湖小区", "滨江花园"]
    roads = gpd.GeoSeries([line((0, 50), (100, 50), (200, 50)), line((240, 50), (260, 50))], crs=EPSG)
    with pytest.raises(
        InfeasibleError, match=r"1 block\(s\) cannot reach any school on the road network: 滨江花园"
    ) as err:
        zoning.assign_zones(blocks, schools, roads=roads)
    assert "东湖小区" not in str(err.value) and "Fix: check the road network is connected" in str(err.value)


def test_a_block_of_no_children_no_road_reaches_still_joins_a_zone():
    # as above, but the block cut off holds no children: it must not make every plan impossible
    blocks, schools = grid_instance(1, 3, [5, 5, 0], [0, 1], [100, 100], epsg=EPSG)
    roads = gpd.GeoSeries([line((0, 50), (100, 50), (200, 50)), line((240, 50), (260, 50))], crs=EPSG)
    plan = zoning.assign_zones(blocks, schools, roads=roads)
    b2 = plan.blocks.set_index("block_id").loc["b2"]
    # the zone it touches, at the straight line's 100 m (no road joins them)
    assert b2["school_id"] == "S1" and b2["distance_m"] == 100


def test_a_block_locked_to_a_school_no_road_reaches_is_kept_there_at_the_straight_line():
    # a scenario's lock is the planner's decision: no road to the school does not make every plan impossible
    # (it did: "1 block(s) cannot reach any school on the road network: b2"); the trip is the straight line
    blocks, schools = grid_instance(1, 3, [5, 5, 5], [0, 1], [100, 100], epsg=EPSG)
    blocks["locked_school"] = [None, None, "S1"]
    roads = gpd.GeoSeries([line((0, 50), (100, 50), (200, 50)), line((240, 50), (260, 50))], crs=EPSG)
    plan = zoning.assign_zones(blocks, schools, roads=roads)
    b2 = plan.blocks.set_index("block_id").loc["b2"]
    assert b2["school_id"] == "S1" and b2["distance_m"] == 100
    assert any(
        "1 block(s) are locked to a school no road joins them to (b2)" in w.message for w in plan.warnings
    )


def test_a_block_of_no_children_beyond_the_road_distance_joins_a_zone_by_road():
    blocks, schools = grid_instance(1, 5, [5, 5, 5, 5, 0], [0, 1], [100, 100], epsg=EPSG)
    # the road to b4 (300 m from School 1 as the crow flies) loops south: 500 m
    roads = gpd.GeoSeries([line((0, 50), (400, 50), (400, -50), (450, -50), (450, 50))], crs=EPSG)
    plan = zoning.assign_zones(blocks, schools, roads=roads, max_distance_m=250)
    b4 = plan.blocks.set_index("block_id").loc["b4"]
    assert b4["school_id"] == "S1" and b4["distance_m"] == 500  # by road, beyond the 250 m children keep to
    assert any("(b4 in the zone of School 1, 500 m away)" in w.message for w in plan.warnings)


def test_a_block_whose_nearest_schools_are_out_of_reach_gets_one_on_its_piece():
    # schools 0 and 1 stand next to b2 but on another piece of the network; school 2 far east shares its piece
    blocks, schools = grid_instance(1, 8, [5] * 8, [0, 1, 7], [100, 100, 100], epsg=EPSG)
    roads = gpd.GeoSeries([line((0, 50), (200, 50)), line((205, 50), (800, 50))], crs=EPSG)
    problem = build_zone_problem(
        blocks, schools, build_block_graph(blocks)[0], roads=roads, k=1, contiguity=False
    )
    mine = problem.arc_school[problem.arc_block == 2]
    assert mine.tolist() == [2]


# ------------------------------------------------------------------------------------------ files and CLI


def test_read_roads_refuses_a_points_file(tmp_path):
    path = tmp_path / "roads.geojson"
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.Point(120.1, 30.2)], crs=4326).to_file(path)
    with pytest.raises(InputError, match="roads.geojson: holds Point geometries, not road lines"):
        zoning.read_roads(path)


def test_osm_like_geopackage_with_multilinestrings(tmp_path, caplog):
    blocks, schools, roads = river_instance()
    # OSM exports: ways merged into MultiLineStrings with tags, other layers beside them
    multi = [shapely.MultiLineString(list(roads.iloc[k : k + 3])) for k in range(0, len(roads), 3)]
    frame = gpd.GeoDataFrame(
        {"highway": ["residential"] * len(multi), "name": [f"路{k}" for k in range(len(multi))]},
        geometry=multi,
        crs=EPSG,
    ).to_crs(4326)
    stray = gpd.GeoDataFrame({"highway": ["bus_stop"]}, geometry=[frame.geometry.iloc[0].centroid], crs=4326)
    path = tmp_path / "osm.gpkg"
    pd.concat([frame, stray], ignore_index=True).to_file(path, layer="lines")
    schools.to_crs(4326).to_file(path, layer="points")
    with caplog.at_level(logging.WARNING, logger="zoning"):
        read = zoning.read_roads(path, layer="lines")
    assert "not lines" in caplog.text
    assert len(read) == len(multi) and set(read.geom_type) == {"MultiLineString"}
    plan = zoning.assign_zones(blocks, schools, move_penalty_m=0, roads=read)
    check(plan)
    assert plan.assignment["b8"] == "S0"
    assert plan.blocks.set_index("block_id")["distance_m"]["b8"] == pytest.approx(300, abs=1)


def _write_inputs(tmp_path, roads, school_cells=(6, 9)):
    blocks, schools, _ = river_instance(school_cells)
    blocks.to_crs(4326).to_file(tmp_path / "blocks.geojson")
    schools.to_crs(4326).to_file(tmp_path / "schools.geojson")
    gpd.GeoDataFrame(geometry=list(roads), crs=EPSG).to_crs(4326).to_file(
        tmp_path / "roads.gpkg", layer="roads"
    )
    return tmp_path / "blocks.geojson", tmp_path / "schools.geojson", tmp_path / "roads.gpkg"


def test_cli_partition_with_roads(tmp_path):
    b, s, r = _write_inputs(tmp_path, river_roads())
    args = [b, s, "--move-penalty", 0, "--time-limit", 20]
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            str(a)
            for a in ["partition", *args, "--roads", r, "--roads-layer", "roads", "--out", tmp_path / "o"]
        ],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "o" / "plan.csv", dtype=str).set_index("block_id")
    assert table.loc["b8", "school_id"] == "S0"
    assert float(table.loc["b8", "distance_m"]) == pytest.approx(300, abs=1)
    plain = runner.invoke(main, [str(a) for a in ["partition", *args, "--out", tmp_path / "p"]])
    assert plain.exit_code == 0, plain.output
    assert (
        pd.read_csv(tmp_path / "p" / "plan.csv", dtype=str).set_index("block_id").loc["b8", "school_id"]
        == "S1"
    )


def test_cli_scenario_of_a_plan_by_road_measures_by_road(tmp_path):
    # a tester's sweep: a scenario on a plan drawn with --roads redrew the zones by straight line (it had no
    # --roads): a river city's 100-seat expansion moved 352 of 7,239 children, none by road
    b, s, r = _write_inputs(tmp_path, river_roads())
    runner = CliRunner()
    base = [b, s, "--move-penalty", 0, "--time-limit", 10, "--roads", r, "--roads-layer", "roads"]
    made = runner.invoke(main, [str(a) for a in ["partition", *base, "--out", tmp_path / "o"]])
    assert made.exit_code == 0, made.output
    spec = tmp_path / "s.toml"
    spec.write_text('[[expand]]\nschool = "S0"\nadd = 10\n', encoding="utf-8")
    args = ["scenario", tmp_path / "o", spec, "--time-limit", 10]
    refused = runner.invoke(main, [str(a) for a in [*args, "--out", tmp_path / "x"]])
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert "measured by road: the scenario must measure them by road too" in refused.output
    assert "--roads FILE" in refused.output and not (tmp_path / "x").exists()
    done = runner.invoke(
        main, [str(a) for a in [*args, "--roads", r, "--roads-layer", "roads", "--out", tmp_path / "y"]]
    )
    assert done.exit_code == 0, done.output
    totals = json.loads((tmp_path / "y" / "summary.json").read_text())["totals"]
    assert totals["distance_measure"] == "road" and totals["children_moved"] == 0
    table = pd.read_csv(tmp_path / "y" / "plan.csv", dtype=str).set_index("block_id")
    assert float(table.loc["b8", "distance_m"]) == pytest.approx(300, abs=1)  # by road, not 200 m


def test_cli_names_blocks_the_roads_do_not_reach(tmp_path):
    # both schools west of the river, and no bridge: the east bank reaches no school
    roads = [g for g in river_roads() if g.bounds[0] != X0 + 200 or g.bounds[2] != X0 + 400]
    b, s, r = _write_inputs(tmp_path, roads, school_cells=(6, 7))
    result = CliRunner().invoke(
        main, [str(a) for a in ["partition", b, s, "--roads", r, "--out", tmp_path / "o"]]
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "9 block(s) cannot reach any school on the road network: b3, b4, b5, b9" in result.output
    assert "b8" not in result.output


def test_checker_reads_road_distances_and_catches_a_tampered_one():
    blocks, schools, roads = river_instance()
    plan = zoning.assign_zones(blocks, schools, move_penalty_m=0, roads=roads)
    assert plan.rules["travel"] == "road"
    bad = plan.blocks.copy()
    bad.loc[bad.index[0], "distance_m"] = (
        0.0  # shorter than the straight line, and the objective no longer adds up
    )
    found = zoning.plan_violations(replace(plan, blocks=bad))
    assert any("shorter than the straight line" in v for v in found)
    assert any("reported objective" in v for v in found)


# ------------------------------------------------------------------------ a river crossed by one bridge


def cut_off_city():
    """Two banks of 100 m blocks, 5 columns × 8 rows each, with a 100 m river between them (no block there):
    the 40 east blocks touch each other but no west block.  Both schools stand on the west bank.  Streets run
    between the centres of neighbouring blocks on each bank; the one bridge crosses at the top row (y = 750),
    where the straight-line link would be at the bottom (the first of eight equal gaps)."""
    cols = [*range(5), *range(6, 11)]
    cells = [(c, r) for c in cols for r in range(8)]
    blocks = gpd.GeoDataFrame(
        {"block_id": [f"{'W' if c < 5 else 'E'}{c}-{r}" for c, r in cells], "students": [10.0] * len(cells)},
        geometry=[shapely.box(X0 + 100 * c, Y0 + 100 * r, X0 + 100 * c + 100, Y0 + 100 * r + 100) for c, r in cells],
        crs=EPSG,
    )  # fmt: skip
    schools = gpd.GeoDataFrame(
        {"school_id": ["A", "B"], "capacity": [600.0, 600.0]},
        geometry=[shapely.Point(X0 + 150, Y0 + 250), shapely.Point(X0 + 350, Y0 + 550)],
        crs=EPSG,
    )
    centre = {(c, r): (100 * c + 50, 100 * r + 50) for c, r in cells}
    streets = [line(centre[(c, r)], centre[(c + 1, r)]) for c, r in cells if (c + 1, r) in centre]
    streets += [line(centre[(c, r)], centre[(c, r + 1)]) for c, r in cells if (c, r + 1) in centre]
    streets.append(line(centre[(4, 7)], centre[(6, 7)]))  # the bridge
    return blocks, schools, gpd.GeoSeries(streets, crs=EPSG)


def test_a_group_cut_off_by_a_river_is_named_and_its_link_listed_and_counted():
    # issue 19: the warning said "40 blocks form a group that touches no other block" (they touch each other),
    # the link was nowhere in the summary, and a zone crossing the river only through it counted as one piece
    blocks, schools, _roads = cut_off_city()
    plan = zoning.assign_zones(blocks, schools, options=zoning.SolveOptions(time_limit_s=5, workers=1))
    check(plan)
    (warning,) = [w for w in plan.warnings if "cut off" in w.message]
    assert (
        "a group of 40 blocks cut off from the rest" in warning.message
        and "not in the data" in warning.message
    )
    totals = zoning.summary(plan)["totals"]
    (link,) = totals["links_added"]
    assert link["group_blocks"] == 40 and link["by"] == "straight line" and link["distance_m"] == 200.0
    assert link["from_block"].startswith("E6-") and link["to_block"].startswith("W4-")
    # the east bank has no school: its zone crosses the river, only through the link, so it is in pieces
    assert totals["zones_not_contiguous"] >= 1
    assert totals["zones_joined_only_by_links"] == totals["zones_not_contiguous"]


def test_with_roads_the_link_crosses_where_the_bridge_does():
    blocks, schools, roads = cut_off_city()
    plan = zoning.assign_zones(
        blocks, schools, roads=roads, options=zoning.SolveOptions(time_limit_s=5, workers=1)
    )
    check(plan)
    (link,) = zoning.summary(plan)["totals"]["links_added"]
    assert link["by"] == "road" and (link["from_block"], link["to_block"]) == ("E6-7", "W4-7")
    assert link["distance_m"] == 200.0  # centre to centre over the bridge
    (warning,) = [w for w in plan.warnings if "cut off" in w.message]
    assert "by road" in warning.message
