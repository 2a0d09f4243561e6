"""Maps: an offline page (no URL to load), every school drawn and listed, clean in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
from importlib import resources
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from browser import read_png, render
from conftest import DEMO
from zoning.errors import InputError, ZoningError
from zoning.maps import BACKGROUND, PALETTE, ZONE_FILL_OPACITY, _zone_colours, to_html, zone_map

SCREENSHOT_FOR_REVIEW = Path("/tmp/zoning_map_test.png")
METRIC_CRS = "EPSG:32619"  # UTM 19N, metres, covers Maine


# ---------------------------------------------------------------------------------------------------------
# frames: just enough of a plan to draw (the real solver lives elsewhere)
# ---------------------------------------------------------------------------------------------------------


def _south_portland() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Blocks assigned to the school most of their children attend (nearest school if none), in metres.

    Reads the copy shipped in the repository (``data/``), so these tests never skip.
    """
    blocks = gpd.read_file(DEMO / "blocks.geojson").to_crs(METRIC_CRS)
    schools = gpd.read_file(DEMO / "schools.geojson").to_crs(METRIC_CRS)
    points = blocks.geometry.representative_point()
    distance = np.column_stack([points.distance(s).to_numpy() for s in schools.geometry])
    nearest = schools["school_id"].to_numpy()[distance.argmin(axis=1)]
    blocks["school_id"] = blocks["current_school_plurality"].fillna(pd.Series(nearest, index=blocks.index))
    blocks["name"] = "Block " + blocks["block_id"].str[-4:]
    blocks["students"] = blocks["students_k4"].astype(float)
    column = blocks["school_id"].map({sid: j for j, sid in enumerate(schools["school_id"])}).to_numpy()
    blocks["distance_m"] = distance[np.arange(len(blocks)), column]
    blocks["moved"] = blocks["school_id"].to_numpy() != nearest
    blocks = blocks[["block_id", "name", "school_id", "students", "distance_m", "moved", "geometry"]]

    zones = blocks.dissolve(by="school_id", aggfunc={"students": "sum"}).reset_index()
    zones = zones.merge(schools[["school_id", "name", "capacity"]], on="school_id")
    zones["utilisation"] = zones["students"] / zones["capacity"]
    schools = schools[["school_id", "name", "capacity", "geometry"]].merge(
        zones[["school_id", "students", "utilisation"]], on="school_id"
    )
    return blocks, zones, schools


def _districts(zones, schools) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Two school districts (学区); the largest school of each leads it."""
    membership = {"Brown": "A", "Small": "A", "Dyer": "B", "Kaler": "B", "Skillin": "B"}
    schools = schools.assign(district_id=schools["school_id"].map(membership))
    lead = schools.loc[schools.groupby("district_id")["capacity"].idxmax(), ["district_id", "name"]]
    schools["is_lead"] = schools.index.isin(lead.index)
    zoned = zones.assign(district_id=zones["school_id"].map(membership))
    districts = zoned.dissolve(
        by="district_id", aggfunc={"students": "sum", "capacity": "sum", "school_id": "count"}
    )
    districts = districts.rename(columns={"school_id": "n_schools"}).reset_index()
    districts = districts.merge(lead.rename(columns={"name": "lead_name"}), on="district_id")
    return districts, schools


def _chinese_points() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Three schools with Chinese names, 小区 given as points, in CGCS2000 / 3-degree GK zone 38 (metres)."""
    crs = "EPSG:4547"
    x0, y0 = 500_000.0, 3_380_000.0
    schools = gpd.GeoDataFrame(
        {
            "school_id": ["S1", "S2", "S3"],
            "name": ["实验小学", "育才小学", "第一中心小学"],
            "capacity": [120, 90, 60],
        },
        geometry=[Point(x0, y0), Point(x0 + 1500, y0), Point(x0 + 750, y0 + 1200)],
        crs=crs,
    )
    rows = []
    for k in range(12):
        sid = ("S1", "S2", "S3")[k % 3]
        centre = schools.geometry[k % 3]
        rows.append(
            {
                "block_id": f"B{k:02d}",
                "name": f"幸福小区{k + 1}期",
                "school_id": sid,
                "students": 10.0 + k,
                "moved": k == 4,
                "geometry": Point(centre.x + 300 * np.cos(k), centre.y + 300 * np.sin(k)),
            }
        )
    blocks = gpd.GeoDataFrame(rows, crs=crs)
    blocks["distance_m"] = [g.distance(schools.geometry[k % 3]) for k, g in enumerate(blocks.geometry)]
    zones = blocks.dissolve(by="school_id", aggfunc={"students": "sum"}).reset_index()  # MultiPoint zones
    zones = zones.merge(schools[["school_id", "name", "capacity"]], on="school_id")
    zones["utilisation"] = zones["students"] / zones["capacity"]
    schools = schools.merge(zones[["school_id", "students", "utilisation"]], on="school_id")
    return blocks, zones, schools


@pytest.fixture(scope="module")
def portland_plan():
    """South Portland blocks, zones and schools of a plan (not conftest's ``portland`` input frames)."""
    return _south_portland()


@pytest.fixture(scope="module")
def portland_page(portland_plan):
    blocks, zones, schools = portland_plan
    return to_html(zone_map(blocks, zones, schools, title="South Portland K-4 划片"))


# ---------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------


def _network_urls(page: str) -> list[str]:
    """Every http(s) or protocol-relative URL in a <script src> or <link href> (checked independently)."""
    urls = []
    for tag in re.findall(r"<(?:script|link)\b[^>]*>", page, flags=re.IGNORECASE):
        urls += re.findall(r"""(?:src|href)\s*=\s*["']?((?:https?:)?//[^"'\s>]+)""", tag, flags=re.IGNORECASE)
    return urls


def _layers(m: folium.Map) -> dict:
    """The map's GeoJSON layers by name, as {name: layer}."""
    return {child.layer_name: child for child in m._children.values() if hasattr(child, "data")}


def _blend(colour: str, alpha: float, background: str = BACKGROUND) -> np.ndarray:
    fg = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)
    bg = np.array([int(background[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)
    return np.round(alpha * fg + (1 - alpha) * bg)


def _pixels_like(image: np.ndarray, rgb: np.ndarray, tolerance: int = 3) -> int:
    diff = np.abs(image[..., :3].astype(int) - rgb.astype(int))
    return int(np.all(diff <= tolerance, axis=-1).sum())


# ---------------------------------------------------------------------------------------------------------
# the page itself
# ---------------------------------------------------------------------------------------------------------


def test_page_has_no_network_url_and_inlines_installed_leaflet(portland_page):
    assert _network_urls(portland_page) == []
    installed = (
        resources.files("js_lib_leaflet").joinpath("static/js_lib_leaflet/leaflet.js").read_text("utf-8")
    )
    assert "Leaflet 1.9.4" in portland_page
    assert installed[:3000] in portland_page and installed[-3000:] in portland_page
    assert "L.map(" in portland_page
    lowered = portland_page.lower()
    for dropped in ("jquery", "bootstrap", "awesome-markers", "fontawesome", "glyphicons", "cdn."):
        assert dropped not in lowered, dropped
    # Markers with Leaflet's default icon need image files: every marker of the map gets an SVG icon.
    map_script = portland_page.split("</body>")[1]
    assert "L.circleMarker(" in map_script
    markers = re.findall(r"L\.marker\([^;]*", map_script)
    assert markers and all("icon: L.divIcon(" in marker for marker in markers)


def test_page_lists_every_school_and_declares_utf8(portland_plan, portland_page):
    _, _, schools = portland_plan
    for name in schools["name"]:
        assert name in portland_page
    assert re.search(r'<meta charset="utf-8"', portland_page[:1024], flags=re.IGNORECASE)
    assert "<title>South Portland K-4 划片</title>" in portland_page


def test_metric_frames_are_drawn_in_lonlat_with_six_decimals(portland_plan):
    blocks, zones, schools = portland_plan
    assert blocks.crs.to_epsg() == 32619
    m = zone_map(blocks, zones, schools)
    (south, west), (north, east) = m.get_bounds()
    assert 43.58 < south < north < 43.68 and -70.37 < west < east < -70.20
    layers = _layers(m)
    assert set(layers) == {"Zones 片区", "Blocks 小区", "Schools 学校"}
    assert len(layers["Blocks 小区"].data["features"]) == len(blocks)
    assert len(layers["Zones 片区"].data["features"]) == len(zones)
    coordinates = json.dumps([f["geometry"] for f in layers["Blocks 小区"].data["features"]])
    assert re.search(r"\d\.\d{7,}", coordinates) is None
    assert re.search(r"-70\.\d{6}\b", coordinates)


def test_each_school_has_its_own_colour_in_zones_and_legend(portland_plan, portland_page):
    blocks, zones, schools = portland_plan
    m = zone_map(blocks, zones, schools)
    zone_layer = _layers(m)["Zones 片区"]
    fills = [zone_layer.styles[f["properties"]["s"]]["fillColor"] for f in zone_layer.data["features"]]
    assert len(set(fills)) == len(zones) == 5
    for colour in fills:
        r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
        assert f"rgba({r}, {g}, {b}, {ZONE_FILL_OPACITY})" in portland_page  # the legend swatch


def test_touching_zones_never_share_a_colour_and_colours_are_deterministic():
    n_cols, n_rows = 6, 5  # 30 schools, more than the palette has colours
    assert n_cols * n_rows > len(PALETTE)
    cells = [box(c, r, c + 1, r + 1) for r in range(n_rows) for c in range(n_cols)]
    zones = gpd.GeoDataFrame({"school_id": [f"s{k}" for k in range(len(cells))]}, geometry=cells, crs=3857)
    order = list(zones["school_id"])
    colours = _zone_colours(order, zones)
    # Deterministic by school order, not by the order of the zone rows.
    assert colours == _zone_colours(order, zones.iloc[::-1].reset_index(drop=True))
    for a in range(len(cells)):
        for b in range(a + 1, len(cells)):
            if cells[a].intersects(cells[b]):  # shares an edge or a corner
                assert colours[order[a]] != colours[order[b]], (order[a], order[b])
    assert len(set(colours.values())) > 4


def test_over_capacity_school_is_red_in_legend_title_and_marker(portland_plan):
    blocks, zones, schools = portland_plan
    schools = schools.copy()
    zones = zones.copy()
    small = schools["school_id"] == "Kaler"
    schools.loc[small, "capacity"] = 100
    schools.loc[small, "utilisation"] = schools.loc[small, "students"] / 100
    zones.loc[zones["school_id"] == "Kaler", "utilisation"] = schools.loc[small, "utilisation"].iloc[0]
    m = zone_map(blocks, zones, schools)
    page = to_html(m)
    legend_rows = re.findall(r"<tr>.*?</tr>", page.split("学校 Schools</h2>")[1].split("</table>")[0])
    over_rows = [row for row in legend_rows if "zoning-over" in row]
    assert len(over_rows) == 1 and "Kaler Elementary School" in over_rows[0] and "146%" in over_rows[0]
    assert "1 所超额 school(s) over capacity" in page
    school_layer = _layers(m)["Schools 学校"]
    strokes = {
        f["properties"]["t"].split("</b>")[0][3:]: school_layer.styles[f["properties"]["s"]]["color"]
        for f in school_layer.data["features"]
    }
    assert strokes.pop("Kaler Elementary School") == "#c62828"
    assert set(strokes.values()) == {"#1a1a1a"}


def test_names_are_escaped_not_run(portland_plan):
    blocks, zones, schools = portland_plan
    schools = schools.copy()
    schools.loc[0, "name"] = "<script>alert('x')</script>"
    page = to_html(zone_map(blocks, zones, schools, title="<b>title</b>"))
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "<title>&lt;b&gt;title&lt;/b&gt;</title>" in page


# ---------------------------------------------------------------------------------------------------------
# inputs and options
# ---------------------------------------------------------------------------------------------------------


def test_missing_columns_and_crs_are_reported_together(portland_plan):
    blocks, zones, schools = portland_plan
    bad_blocks = blocks.drop(columns=["distance_m"])
    bad_schools = schools.set_crs(None, allow_override=True)
    with pytest.raises(InputError) as caught:
        zone_map(bad_blocks, zones, bad_schools)
    text = str(caught.value)
    assert 'column "distance_m": missing from the blocks table' in text
    assert "schools has no coordinate reference system" in text
    assert len(caught.value.issues) == 2


def test_tiles_need_attribution_and_stay_out_of_script_tags(portland_plan):
    blocks, zones, schools = portland_plan
    url = "https://tiles.example.org/{z}/{x}/{y}.png"
    with pytest.raises(InputError, match="attribution"):
        zone_map(blocks, zones, schools, tiles=url)
    page = to_html(zone_map(blocks, zones, schools, tiles=url, attribution="© Example"))
    assert "L.tileLayer(" in page and json.dumps(url) in page
    assert _network_urls(page) == []
    assert "L.tileLayer(" not in to_html(zone_map(blocks, zones, schools))


def test_to_html_makes_a_plain_folium_map_offline_and_refuses_cdn_plugins():
    plain = folium.Map(location=[43.6, -70.3], zoom_start=12, tiles=None)
    page = to_html(plain)
    assert _network_urls(page) == [] and "Leaflet 1.9.4" in page
    from folium.plugins import MarkerCluster

    with_plugin = folium.Map(location=[43.6, -70.3], zoom_start=12, tiles=None)
    MarkerCluster().add_to(with_plugin)
    with pytest.raises(ZoningError, match="from the internet"):
        to_html(with_plugin)


# ---------------------------------------------------------------------------------------------------------
# headless Chromium
# ---------------------------------------------------------------------------------------------------------


def test_console_error_capture_catches_a_deliberate_throw(tmp_path):
    """The error collector itself: a broken page is reported, a clean one is not (and PNGs decode)."""
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!DOCTYPE html><html><head><title>x</title></head><body><p>x</p>"
        '<img src="no-such-image.png">'
        "<script>console.log('just a log line'); console.error('explicit console error');</script>"
        "<script>throw new Error('deliberate boom');</script>"
        "<script>setTimeout(function () { notDefinedAnywhere(); }, 200);</script>"
        "</body></html>",
        encoding="utf-8",
    )
    result = render(broken, tmp_path / "broken.png", width=400, height=300)
    assert result.ok
    joined = "\n".join(result.console_errors)
    assert "Uncaught Error: deliberate boom" in joined
    assert "notDefinedAnywhere is not defined" in joined
    assert "explicit console error" in joined
    assert "no-such-image.png" in joined
    assert "just a log line" not in joined

    clean = tmp_path / "clean.html"
    clean.write_text(
        "<!DOCTYPE html><html><head><style>body{margin:0} div{position:absolute;width:100px;height:100px}"
        "</style></head><body><script>console.log('all good');</script>"
        '<div style="left:0;top:0;background:#4e79a7"></div>'
        '<div style="left:150px;top:0;background:#f28e2b"></div>'
        '<div style="left:0;top:150px;background:linear-gradient(90deg,#000,#fff)"></div>'
        "</body></html>",
        encoding="utf-8",
    )
    result = render(clean, tmp_path / "clean.png", width=400, height=300)
    assert result.ok and result.console_errors == []
    image = read_png(tmp_path / "clean.png")
    assert image.shape[:2] == (300, 400)
    assert tuple(image[50, 50, :3]) == (0x4E, 0x79, 0xA7)
    assert tuple(image[50, 200, :3]) == (0xF2, 0x8E, 0x2B)
    assert tuple(image[50, 350, :3]) == (255, 255, 255)
    gradient = image[200, 0:100, 0].astype(int)
    assert gradient[0] < 10 and gradient[-1] > 245 and np.all(np.diff(gradient) >= 0)


def test_south_portland_map_renders_every_zone_without_errors(portland_plan, tmp_path):
    blocks, zones, schools = portland_plan
    districts, schools = _districts(zones, schools)
    m = zone_map(blocks, zones, schools, title="South Portland K-4 attendance zones", districts=districts)
    page = to_html(m)
    stars = [f for f in _layers(m)["Schools 学校"].data["features"] if "star" in f["properties"]]
    assert len(stars) == int(schools["is_lead"].sum()) == 2
    assert "Districts 学区" in _layers(m) and "学区 district" in page  # the layer and its legend key
    html_path = tmp_path / "south_portland.html"
    html_path.write_text(page, encoding="utf-8")
    result = render(html_path, tmp_path / "south_portland.png")
    shutil.copyfile(tmp_path / "south_portland.png", SCREENSHOT_FOR_REVIEW)
    assert result.ok, result.stderr[-2000:]
    assert result.console_errors == []
    image = read_png(tmp_path / "south_portland.png")
    assert image.shape[:2] == (900, 1200)
    background = _pixels_like(image, _blend(BACKGROUND, 1.0), tolerance=0)
    assert 0.1 < background / (900 * 1200) < 0.9  # neither blank nor all one colour
    colours = _zone_colours(list(schools["school_id"]), zones)
    for sid in schools["school_id"]:
        assert _pixels_like(image, _blend(colours[sid], ZONE_FILL_OPACITY)) > 500, sid


def test_chinese_point_blocks_render_as_circles_without_errors(tmp_path):
    blocks, zones, schools = _chinese_points()
    m = zone_map(blocks, zones, schools, title="某区小学划片方案（征求意见稿）")
    layers = _layers(m)
    assert layers["Zones 片区"].data["features"] == []  # MultiPoint zones: shown through their blocks
    assert {f["geometry"]["type"] for f in layers["Blocks 小区"].data["features"]} == {"Point"}
    page = to_html(m)
    for name in ("实验小学", "育才小学", "第一中心小学", "某区小学划片方案（征求意见稿）"):
        assert name in page
    assert "幸福小区5期" in page  # block tooltips keep UTF-8 text as is
    html_path = tmp_path / "中文.html"
    html_path.write_text(page, encoding="utf-8")
    result = render(html_path, tmp_path / "chinese.png", width=900, height=700)
    assert result.ok and result.console_errors == []
    image = read_png(tmp_path / "chinese.png")
    colours = _zone_colours(list(schools["school_id"]), zones)
    for sid in schools["school_id"]:
        # All four block circles of each school (~40 px each, filled at 0.9) and the school itself are in
        # view and not under the legend or title: the initial view leaves room for the boxes.
        assert _pixels_like(image, _blend(colours[sid], 0.9), tolerance=4) > 130, sid
        assert _pixels_like(image, _blend(colours[sid], 1.0), tolerance=4) > 40, sid
