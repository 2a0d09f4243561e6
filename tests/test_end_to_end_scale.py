"""City scale (issue 5): the fast paths added for 50,000 blocks, on a few thousand, against what they replace.

- block adjacency by shared edges equals the exact buffered-boundary measure (tessellations, hand-digitised
  blocks whose vertices differ, corner contacts);
- a frame in a metric CRS fit for distances is not projected again;
- the nearest-block check of the schools measures in metres what projecting every block measured;
- the map at city scale is simplified, draws blocks on a canvas from zoom 14, and still opens offline;
- ``zoning partition`` runs end to end on a generated city (Chinese headers, GeoPackage, ids as text).

Timings live in ``benchmarks/end_to_end.py``; nothing here is timed.
"""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import shapely.affinity
from click.testing import CliRunner

from browser import render
from conftest import benchmark
from zoning.cli import main
from zoning.geo.graph import _unique_edges, polygon_adjacency
from zoning.io import crs as zcrs
from zoning.io.validate.pair import nearest_blocks_m
from zoning.publish.maps import BLOCK_MIN_ZOOM, to_html, zone_map
from zoning.publish.maps import page as maps  # zone_map reads CITY_SCALE_BLOCKS there


@pytest.fixture(scope="module")
def city():
    """A 2,500-block Voronoi city with 80 schools (blocks in EPSG:4548, Chinese headers) and a plan-like
    assignment: every block to its nearest school, zones dissolved from it."""
    blocks, schools = benchmark("end_to_end").make_city(2_500, 80, seed=11, crs="EPSG:4548")
    return blocks, schools


def _plan_frames(blocks: gpd.GeoDataFrame, schools: pd.DataFrame):
    """Blocks, zones and schools as a plan has them (metric CRS), without solving."""
    pts = gpd.GeoSeries.from_xy(schools["经度"], schools["纬度"], crs=4326).to_crs(blocks.crs)
    rep = blocks.geometry.representative_point()
    xy = np.column_stack([rep.x, rep.y])
    sxy = np.column_stack([pts.x, pts.y])
    nearest = np.argmin(((xy[:, None, :] - sxy[None, :, :]) ** 2).sum(-1), axis=1)
    ids = schools["学校代码"].to_numpy()
    b = gpd.GeoDataFrame(
        {
            "block_id": blocks["小区编号"],
            "name": blocks["小区名称"],
            "school_id": ids[nearest],
            "students": blocks["适龄儿童"].astype(float),
            "distance_m": np.hypot(*(xy - sxy[nearest]).T),
            "moved": ids[nearest] != blocks["现划片学校"].to_numpy(),
        },
        geometry=blocks.geometry.values,
        crs=blocks.crs,
    )
    zones = b.dissolve(by="school_id", aggfunc={"students": "sum"}).reset_index()
    s = gpd.GeoDataFrame(
        {"school_id": ids, "name": schools["学校名称"], "capacity": schools["学位数"].astype(float)},
        geometry=pts.values,
        crs=blocks.crs,
    )
    zones = zones.merge(s[["school_id", "name", "capacity"]], on="school_id")
    zones["utilisation"] = zones["students"] / zones["capacity"]
    s = s.merge(zones[["school_id", "students", "utilisation"]], on="school_id", how="left")
    return b, zones, s


# ---------------------------------------------------------------------------------------------------------
# adjacency


def _reference_adjacency(geoms, tol_m: float = 0.5, min_shared_m: float = 2.0) -> np.ndarray:
    """The exact rule measured on every pair within tol_m (what polygon_adjacency computed before)."""
    geoms = np.asarray(geoms, dtype=object)
    left, right = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=tol_m)
    keep = left < right
    left, right = left[keep], right[keep]
    boundaries = shapely.boundary(geoms)
    near = shapely.buffer(boundaries, tol_m, quad_segs=2)
    shared = shapely.length(shapely.intersection(near[left], boundaries[right]))
    ok = shared >= min_shared_m
    return _unique_edges(np.stack([left[ok], right[ok]], axis=1))


def test_adjacency_by_shared_edges_equals_the_exact_measure(city):
    blocks, _ = city
    geoms = np.asarray(blocks.geometry.values, dtype=object)
    rng = np.random.default_rng(3)
    # hand-digitised blocks: a fifth moved by up to 0.3 m (their shared edges no longer match vertex for
    # vertex, so the exact measure decides), a few moved 0.7 m apart (no longer neighbours), some removed
    noisy = geoms.copy()
    jitter = rng.choice(len(geoms), len(geoms) // 5, replace=False)
    shift = rng.uniform(-0.3, 0.3, (len(jitter), 2))
    noisy[jitter] = [shapely.affinity.translate(g, dx, dy) for g, (dx, dy) in zip(noisy[jitter], shift)]
    apart = rng.choice(len(geoms), 20, replace=False)
    noisy[apart] = [shapely.affinity.translate(g, 0.7, 0.7) for g in noisy[apart]]
    noisy = np.delete(noisy, rng.choice(len(geoms), 50, replace=False))
    # a square grid: corner contacts only (never neighbours) beside shared edges
    x, y = (v.ravel() for v in np.meshgrid(np.arange(12) * 100.0, np.arange(9) * 100.0))
    grid = shapely.box(x, y, x + 100.0, y + 100.0)
    for case in (geoms, noisy, grid):
        frame = gpd.GeoSeries(case, crs="EPSG:4548")
        found = polygon_adjacency(frame)
        assert np.array_equal(found, _reference_adjacency(case))
    assert len(polygon_adjacency(gpd.GeoSeries(grid, crs="EPSG:4548"))) == 11 * 9 + 12 * 8  # no diagonals


# ---------------------------------------------------------------------------------------------------------
# coordinates


def test_metric_input_fit_for_distances_is_not_projected_again(city):
    blocks, _ = city
    for epsg in (4548, 32650):  # the Gauss-Krüger zone of Hefei, and its UTM zone
        frame = blocks.to_crs(epsg)
        metric, used = zcrs.to_metric(frame)
        assert used.to_epsg() == epsg
        assert shapely.equals_exact(metric.geometry.values, frame.geometry.values, tolerance=0).all()
        assert metric is not frame  # a new frame all the same
    # Web Mercator stretches distances by 1/cos(31.9°) there, the next zone west (CM 114°E) by 0.13 %
    for epsg in (3857, 4547):
        assert (
            zcrs.scale_error(blocks.to_crs(epsg).crs, blocks.to_crs(epsg).total_bounds) > zcrs.MAX_SCALE_ERROR
        )
        _, used = zcrs.to_metric(blocks.to_crs(epsg))
        assert used.to_epsg() == 4548


def test_nearest_block_of_each_school_in_metres_without_projecting_every_block(city):
    blocks, schools = city
    blocks = blocks.to_crs(4326)
    pts = gpd.GeoSeries.from_xy(schools["经度"], schools["纬度"], crs=4326)
    far = gpd.GeoSeries.from_xy([117.27 + 0.2, 117.27], [31.86, 31.86 - 0.25], crs=4326)  # 19 km, 28 km
    shifted = pts.iloc[:5].translate(0.004, 0.0)  # some now outside every block
    schools_frame = gpd.GeoDataFrame(geometry=pd.concat([pts, far, shifted], ignore_index=True), crs=4326)
    nearest_m, nearest_block = nearest_blocks_m(blocks, schools_frame)
    # what projecting every block and searching in metres gives
    metric = zcrs.choose_metric_crs(blocks)
    bm, sm = blocks.to_crs(metric), schools_frame.to_crs(metric)
    truth = np.array([bm.distance(p).min() for p in sm.geometry])
    np.testing.assert_allclose(nearest_m, truth, rtol=1e-9, atol=1e-6)
    assert (nearest_m[: len(pts)] == 0).all()  # schools stand in their blocks
    assert nearest_m[len(pts)] > 10_000 and nearest_m[len(pts) + 1] > 20_000
    hit = nearest_block >= 0
    assert hit.all()
    np.testing.assert_allclose(
        shapely.distance(bm.geometry.values[nearest_block], sm.geometry.values), truth, atol=1e-6
    )


# ---------------------------------------------------------------------------------------------------------
# the map


def _coordinates(layer) -> str:
    return json.dumps([f["geometry"] for f in layer.data["features"]])


def _layers(m) -> dict:
    return {child.layer_name: child for child in m._children.values() if hasattr(child, "data")}


def test_city_scale_map_is_simplified_and_draws_blocks_from_zoom_14(city, monkeypatch):
    b, zones, s = _plan_frames(*city)
    b.loc[0, "name"] = "{{ 1 + 1 }} 花园"  # a name that looks like template code stays as written
    small = zone_map(b, zones, s, title="合肥 2,500")  # under the threshold: drawn as before
    monkeypatch.setattr(maps, "CITY_SCALE_BLOCKS", 2_000)
    big = zone_map(b, zones, s, title="合肥 2,500")  # over it now: city scale by default
    small_layers, big_layers = _layers(small), _layers(big)

    # every block is still there, with its tooltip
    for layers in (small_layers, big_layers):
        features = layers["小区 Blocks"].data["features"]
        assert len(features) == len(b) and all(f["properties"]["t"] for f in features)
    assert (
        small_layers["小区 Blocks"].min_zoom is None and big_layers["小区 Blocks"].min_zoom == BLOCK_MIN_ZOOM
    )
    # simplified, with 5 decimals instead of 6
    for name in ("小区 Blocks", "片区 Zones"):
        full, simple = _coordinates(small_layers[name]), _coordinates(big_layers[name])
        assert re.search(r"\d\.\d{6}\b", full) and not re.search(r"\d\.\d{6,}", simple)
        assert simple.count("[") < 0.6 * full.count("[")  # far fewer vertices

    # the same zone colours (chosen on the exact outlines)
    def fills(layer):
        return [layer.styles[f["properties"]["s"]]["fillColor"] for f in layer.data["features"]]

    assert fills(small_layers["片区 Zones"]) == fills(big_layers["片区 Zones"])

    small_page, big_page = to_html(small), to_html(big)
    assert "L.canvas" not in small_page and "L.canvas" in big_page
    assert f"from zoom {BLOCK_MIN_ZOOM}" in big_page and f"from zoom {BLOCK_MIN_ZOOM}" not in small_page
    assert "{{ 1 + 1 }} 花园" in small_page and "{{ 1 + 1 }} 花园" in big_page
    assert len(big_page) < 0.8 * len(small_page)


def test_city_scale_map_in_chromium_shows_blocks_only_when_zoomed_in(city, tmp_path):
    b, zones, s = _plan_frames(*city)
    page = to_html(zone_map(b.iloc[:1200], zones, s, title="city scale", city_scale=True))
    name = re.search(r"var (map_[0-9a-f]+) = L\.map", page).group(1)
    # zoom out, in, out and in again on a block; log the blocks' canvases and what the pointer hits
    probe = """<script>
    setTimeout(function () {
      var m = MAP, c = L.latLng(LAT, LON);  // inside a block
      function state(label) {
        var p = m.latLngToContainerPoint(c), r = m.getContainer().getBoundingClientRect();
        var hit = document.elementFromPoint(r.left + p.x + 2, r.top + p.y + 2);
        var n = document.querySelectorAll(".leaflet-zoning-blocks-pane canvas").length;
        console.log("PROBE " + label + " canvases=" + n + " hit=" + hit.tagName.toLowerCase());
      }
      m.setView(c, 12, {animate: false}); state("start");
      m.setView(c, 16, {animate: false}); state("z16");
      m.setView(c, 12, {animate: false}); state("z12");
      m.setView(c, 16, {animate: false}); state("z16-again");
      // hovering a block on the canvas opens its tooltip
      var p = m.latLngToContainerPoint(c), r = m.getContainer().getBoundingClientRect();
      var x = r.left + p.x + 2, y = r.top + p.y + 2;
      document.elementFromPoint(x, y).dispatchEvent(
        new MouseEvent("mousemove", {clientX: x, clientY: y, bubbles: true}));
      setTimeout(function () {
        var tip = document.querySelector(".leaflet-tooltip");
        console.log("PROBE tooltip " + (tip ? tip.textContent.split(" ").join("_") : "none"));
      }, 100);
    }, 200);
    </script>""".replace("MAP", name)
    inside = b.geometry.iloc[:1].representative_point().to_crs(4326).iloc[0]
    probe = probe.replace("LAT", f"{inside.y:.7f}").replace("LON", f"{inside.x:.7f}")
    html_path = tmp_path / "city.html"
    html_path.write_text(page + probe, encoding="utf-8")
    result = render(html_path, tmp_path / "city.png", width=1000, height=700)
    assert result.ok and result.console_errors == []
    probes = dict(re.findall(r"PROBE (\S+) (canvases=\d+ hit=\w+)", result.stderr))
    assert probes["start"] == "canvases=0 hit=path"  # the city-wide view: zones (SVG) take the pointer
    assert probes["z16"] == "canvases=1 hit=canvas"  # zoomed in: the blocks' canvas does
    assert probes["z12"] == "canvases=0 hit=path"
    assert probes["z16-again"] == "canvases=1 hit=canvas"
    tooltip = re.search(r"PROBE tooltip (\S+)", result.stderr).group(1)
    assert "学校_school:" in tooltip and "调整_moved:" in tooltip


# ---------------------------------------------------------------------------------------------------------
# the command, end to end


def test_partition_end_to_end_on_a_generated_city(tmp_path):
    bench = benchmark("end_to_end")
    blocks_path, schools_path = bench.write_city(tmp_path, 3_000, 90, 7, "EPSG:4326")
    out = tmp_path / "out"
    args = ["partition", str(blocks_path), str(schools_path), "--out", str(out), "--time-limit", "5",
            "--no-contiguity", "--allow-overload"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    blocks = gpd.read_file(blocks_path)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["totals"]["blocks"] == 3_000
    assert summary["totals"]["children"] == pytest.approx(float(blocks["适龄儿童"].sum()))
    assert sum(row["blocks"] for row in summary["schools"]) == 3_000
    assert summary["before"] is not None  # 现划片学校 read as the current school
    table = pd.read_csv(out / "plan.csv", encoding="utf-8-sig", dtype={"block_id": str})
    assert set(table["block_id"]) == set(blocks["小区编号"])
    page = (out / "map.html").read_text(encoding="utf-8")
    assert "L.canvas" not in page  # 3,000 blocks: the full map
