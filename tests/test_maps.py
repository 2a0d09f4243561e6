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
from zoning.publish.maps import (
    BACKGROUND,
    BLOCK_COLUMNS,
    LEAD_STAR_PX,
    PALETTE,
    SCHOOL_RADIUS_PX,
    ZONE_FILL_OPACITY,
    to_html,
    zone_map,
)
from zoning.publish.maps.layers import _without_gaps
from zoning.publish.maps.style import _zone_colours

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


def test_education_groups_are_named_groups_not_districts_in_every_label(tmp_path):
    # a tester's sweep: Hangzhou's 10 教育集团 (districts --groups) were titled "10 教育集团 education groups"
    # while the legend, the layer switcher, the tooltips and the popups said 学区 district
    blocks, zones, schools, districts = _district_grid(4, 2)
    page = to_html(zone_map(blocks, zones, schools, districts=districts, district_kind="education groups"))
    legend = _legend(page)
    assert "4 教育集团 Groups" in legend and "教育集团 group 1</b>" in legend
    assert "学区" not in page and "district 1" not in page
    assert '"教育集团 Groups"' in page or "教育集团 Groups" in page  # the layer switcher
    assert "牵头学校 Lead school" in page  # the popup's lead school, where a 学区 has its 学区长学校
    default = to_html(zone_map(blocks, zones, schools, districts=districts))
    assert "4 学区 Districts" in _legend(default) and "教育集团" not in default
    with pytest.raises(InputError, match="district_kind"):
        zone_map(blocks, zones, schools, districts=districts, district_kind="groups")


def _district_grid(
    n_cols: int, n_rows: int, *, per_district: int = 2, cell_m: float = 1000.0, order: list[int] | None = None
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Districts drawn on schools alone: a grid of square school areas, ``per_district`` side by side in a
    row form a district (ids 1, 2, … row-major); ``order`` lists the districts table's rows by position.

    Returns an empty blocks frame (with the block columns), zones (one square per school), schools
    (first of each district leads) and districts, in metres.
    """
    x0, y0 = 400_000.0, 4_830_000.0
    cells, rows = [], []
    for r in range(n_rows):
        for c in range(n_cols):
            j = r * n_cols + c
            district = r * (n_cols // per_district) + c // per_district + 1
            cells.append(box(x0 + c * cell_m, y0 + r * cell_m, x0 + (c + 1) * cell_m, y0 + (r + 1) * cell_m))
            rows.append(
                {
                    "school_id": f"S{j:02d}",
                    "name": f"School {j:02d}",
                    "capacity": 100.0,
                    "students": 80.0 + j,
                    "district_id": district,
                    "is_lead": c % per_district == 0,
                }
            )
    table = pd.DataFrame(rows)
    table["utilisation"] = table["students"] / table["capacity"]
    zones = gpd.GeoDataFrame(
        table[["school_id", "name", "students", "capacity", "utilisation"]], geometry=cells, crs=METRIC_CRS
    )
    schools = gpd.GeoDataFrame(table, geometry=[cell.centroid for cell in cells], crs=METRIC_CRS)
    districts = gpd.GeoDataFrame(table.assign(geometry=cells), geometry="geometry", crs=METRIC_CRS).dissolve(
        by="district_id", aggfunc={"students": "sum", "capacity": "sum", "school_id": "count"}
    )
    districts = districts.rename(columns={"school_id": "n_schools"}).reset_index()
    leads = table.loc[table["is_lead"], ["district_id", "name"]].rename(columns={"name": "lead_name"})
    districts = districts.merge(leads, on="district_id")
    if order is not None:
        districts = districts.iloc[order].reset_index(drop=True)
    blocks = gpd.GeoDataFrame(
        {column: pd.Series(dtype=object) for column in BLOCK_COLUMNS},
        geometry=gpd.GeoSeries([], crs=METRIC_CRS),
    )
    return blocks, zones, schools, districts


def _zone_fills(m: folium.Map) -> dict:
    """{school name: fill colour} of the map's zone layer."""
    layer = _layers(m)["片区 Zones"]
    return {
        f["properties"]["t"].split("</b>")[0][3:]: layer.styles[f["properties"]["s"]]["fillColor"]
        for f in layer.data["features"]
    }


def _legend(page: str) -> str:
    return page.split("zoning-legend")[-1].split("</details>")[0]


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
    assert set(layers) == {"片区 Zones", "小区 Blocks", "学校 Schools"}
    assert len(layers["小区 Blocks"].data["features"]) == len(blocks)
    assert len(layers["片区 Zones"].data["features"]) == len(zones)
    coordinates = json.dumps([f["geometry"] for f in layers["小区 Blocks"].data["features"]])
    assert re.search(r"\d\.\d{7,}", coordinates) is None
    assert re.search(r"-70\.\d{6}\b", coordinates)


def test_each_school_has_its_own_colour_in_zones_and_legend(portland_plan, portland_page):
    blocks, zones, schools = portland_plan
    m = zone_map(blocks, zones, schools)
    zone_layer = _layers(m)["片区 Zones"]
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
    school_layer = _layers(m)["学校 Schools"]
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
# school districts (学区)
# ---------------------------------------------------------------------------------------------------------


def _title_facts(page: str) -> str:
    return re.search(r"zoning-title\"><h1>.*?</h1><div>(.*?)</div>", page).group(1)


def test_zones_are_coloured_by_district_and_touching_districts_differ():
    # 16 districts of 2 schools in a 4 × 4 layout: more districts than colours.  District 2 (next to
    # district 1) is 13th in the districts table, so colouring by position (modulo the palette) would give
    # both the first colour.
    order = [0, *range(2, 13), 1, 13, 14, 15]
    blocks, zones, schools, districts = _district_grid(8, 4, order=order)
    assert len(districts) > len(PALETTE)
    m = zone_map(blocks, zones, schools, districts=districts)
    fills = _zone_fills(m)
    district_of = dict(zip(schools["name"], schools["district_id"], strict=True))
    colour_of = {}
    for name, fill in fills.items():
        assert colour_of.setdefault(district_of[name], fill) == fill, name  # one colour per district
    cells = dict(zip(zones["name"], zones.geometry, strict=True))
    for a in cells:
        for b in cells:
            if district_of[a] != district_of[b] and cells[a].intersects(cells[b]):
                assert fills[a] != fills[b], (a, b)
    assert colour_of[1] != colour_of[2]
    # Deterministic: the order of the zone rows does not matter.
    reversed_zones = zones.iloc[::-1].reset_index(drop=True)
    assert _zone_fills(zone_map(blocks, reversed_zones, schools, districts=districts)) == fills
    # Inside a district zone borders are thin; without districts they are not.
    zone_styles = _layers(m)["片区 Zones"].styles
    assert all(style["weight"] < 1 for style in zone_styles)
    plain = _layers(zone_map(blocks, zones, schools))["片区 Zones"].styles
    assert all(style["weight"] >= 1.5 for style in plain)


def test_legend_lists_the_districts_not_the_schools():
    blocks, zones, schools, districts = _district_grid(4, 2)
    schools.loc[schools["school_id"] == "S05", "students"] = 500.0  # district 3 over capacity
    districts.loc[districts["district_id"] == 3, "students"] = 584.0
    page = to_html(zone_map(blocks, zones, schools, districts=districts))
    legend = _legend(page)
    assert "4 学区 Districts" in legend and "学校 Schools" not in legend
    rows = re.findall(r"<tr>.*?</tr>", legend)
    assert len(rows) == 1 + len(districts)
    for k, row in enumerate(rows[1:]):
        district = districts.iloc[k]
        assert f"学区 district {district['district_id']}</b> · 2 所学校 schools" in row
        assert f"★ {district['lead_name']}" in row
        r, g, b = (int(PALETTE[k][i : i + 2], 16) for i in (1, 3, 5))
        assert f"rgba({r}, {g}, {b}, {ZONE_FILL_OPACITY})" in row
    assert "161 / 200" in rows[1] and "80%" in rows[1] and "zoning-over" not in rows[1]
    assert "584 / 200" in rows[3] and "zoning-over" in rows[3] and "292%" in rows[3]
    assert "School 01" not in legend and "School 01" in page  # non-lead schools: in their tooltips only
    assert "牵头校 lead school" in legend  # the star's key


def test_school_outside_every_district_is_grey_and_counted_in_the_key():
    blocks, zones, schools, districts = _district_grid(4, 2)
    schools["district_id"] = schools["district_id"].astype(float)
    schools.loc[schools["school_id"] == "S07", "district_id"] = np.nan
    page = to_html(m := zone_map(blocks, zones, schools, districts=districts))
    assert _zone_fills(m)["School 07"] == "#d9d9d9"
    assert "未划入学区 not in a district (1 所 schools)" in _legend(page)
    assert "学区 district 1" in page and "学区 district 1.0" not in page  # ids read as whole numbers


def test_title_leaves_out_blocks_and_takes_students_from_schools_without_blocks(portland_page):
    blocks, zones, schools, districts = _district_grid(4, 2)
    facts = _title_facts(to_html(zone_map(blocks, zones, schools, districts=districts)))
    assert "小区 blocks" not in facts
    assert facts == f"8 所学校 schools · {schools['students'].sum():,.0f} 学生 students · 800 学位 seats"
    unknown = schools.assign(students=np.nan, utilisation=np.nan)
    facts = _title_facts(to_html(zone_map(blocks, zones, unknown, districts=districts)))
    assert facts == "8 所学校 schools · 800 学位 seats"
    # With blocks, the blocks are counted and their children summed.
    assert re.search(
        r"\d+ 所学校 schools · [\d,]+ 小区 blocks · [\d,]+ 学生 students", _title_facts(portland_page)
    )


def test_district_outline_drops_slivers_between_zones_but_keeps_enclaves():
    sliver = box(100, 500, 300, 501)  # a 1 m gap between two zones of district A
    lake = box(600, 600, 900, 900)  # 9% of district A, nobody's: a real hole
    a = box(0, 0, 1000, 1000).difference(sliver).difference(lake)
    enclave = box(1400, 400, 1600, 600)  # district C inside district B
    b = box(1000, 0, 2000, 1000).difference(enclave)
    out = _without_gaps(np.array([a, b, enclave], dtype=object))
    assert len(a.interiors) == 2 and len(out[0].interiors) == 1
    assert out[0].interiors[0].equals(lake.exterior)
    assert len(out[1].interiors) == 1 and out[2].equals(enclave)
    # On the map: district 1 drawn from two zones with a 5 m gap between them is one ring.
    blocks, zones, schools, districts = _district_grid(4, 2)
    x0, y0 = districts.geometry[0].bounds[:2]
    districts.loc[0, "geometry"] = districts.geometry[0].difference(
        box(x0 + 998, y0 + 100, x0 + 1003, y0 + 900)
    )
    assert len(districts.geometry[0].interiors) == 1
    m = zone_map(blocks, zones, schools, districts=districts)
    drawn = _layers(m)["学区 Districts"].data["features"][0]["geometry"]
    assert drawn["type"] == "Polygon" and len(drawn["coordinates"]) == 1


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
    stars = [f for f in _layers(m)["学校 Schools"].data["features"] if "star" in f["properties"]]
    assert len(stars) == int(schools["is_lead"].sum()) == 2
    assert "学区 Districts" in _layers(m) and "学区 district" in page  # the layer and its legend key
    # Zones are filled by district: 2 districts, 2 colours, the legend lists the districts.
    district_colour = {"A": PALETTE[0], "B": PALETTE[1]}  # in the order of the districts table
    fills = _zone_fills(m)
    for name, district in zip(schools["name"], schools["district_id"], strict=True):
        assert fills[name] == district_colour[district], name
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
    for colour in district_colour.values():
        assert _pixels_like(image, _blend(colour, ZONE_FILL_OPACITY)) > 5000, colour


def test_chinese_point_blocks_render_as_circles_without_errors(tmp_path):
    blocks, zones, schools = _chinese_points()
    m = zone_map(blocks, zones, schools, title="某区小学划片方案（征求意见稿）")
    layers = _layers(m)
    assert layers["片区 Zones"].data["features"] == []  # MultiPoint zones: shown through their blocks
    assert {f["geometry"]["type"] for f in layers["小区 Blocks"].data["features"]} == {"Point"}
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


def test_districts_on_schools_alone_render_without_errors(tmp_path, portland_page):
    blocks, zones, schools, districts = _district_grid(6, 4, per_district=3)
    m = zone_map(blocks, zones, schools, title="8 学区 school districts", districts=districts)
    page = to_html(m)
    # Lead schools are stars well over twice as wide as a school circle.
    stars = [
        f["properties"]["star"]
        for f in _layers(m)["学校 Schools"].data["features"]
        if "star" in f["properties"]
    ]
    assert len(stars) == len(districts) == 8
    assert all(size == LEAD_STAR_PX >= 2 * 2 * SCHOOL_RADIUS_PX for _, size in stars)
    # No blocks: no switch for an empty layer (a map with blocks keeps it).
    assert json.dumps("小区 Blocks") not in page and json.dumps("小区 Blocks") in portland_page
    assert json.dumps("学区 Districts") in page
    html_path = tmp_path / "districts.html"
    html_path.write_text(page, encoding="utf-8")
    result = render(html_path, tmp_path / "districts.png")
    assert result.ok, result.stderr[-2000:]
    assert result.console_errors == []
    image = read_png(tmp_path / "districts.png")
    for colour in PALETTE[: len(districts)]:  # every district's fill is on screen
        assert _pixels_like(image, _blend(colour, ZONE_FILL_OPACITY)) > 5000, colour


# ---------------------------------------------------------------------------------------------------------
# the consultation map (issue 14): before / after, search data, languages, GCJ-02 tiles
# ---------------------------------------------------------------------------------------------------------


def _consult_table(m) -> dict:
    from zoning.publish.maps.consult import Consult

    return next(child for child in m._children.values() if isinstance(child, Consult)).table


def _with_current(portland_plan):
    """The plan's frames with a current school per block: the nearest, so the plan's moved blocks change."""
    blocks, zones, schools = portland_plan
    points = blocks.geometry.representative_point()
    distance = np.column_stack([points.distance(s).to_numpy() for s in schools.geometry])
    blocks = blocks.assign(current_school=schools["school_id"].to_numpy()[distance.argmin(axis=1)])
    blocks["moved"] = blocks["current_school"] != blocks["school_id"]
    blocks["current_distance_m"] = distance.min(axis=1)
    return blocks, zones, schools


def test_zones_today_and_proposed_are_a_radio_pair_and_changes_a_layer(portland_plan):
    blocks, zones, schools = _with_current(portland_plan)
    m = zone_map(blocks, zones, schools, title="t")
    layers = _layers(m)
    proposed, today = layers["调整后片区 Proposed zones"], layers["现状片区 Zones today"]
    assert not proposed.overlay and not today.overlay  # base layers: one shows at a time
    assert proposed.show and not today.show
    # the zones of today are the blocks dissolved by their current school, each school's children summed
    now = blocks.groupby("current_school")["students"].sum()
    assert len(today.data["features"]) == len(now)
    changes = layers[f"调整学校的小区 Blocks that change school ({int(blocks['moved'].sum())})"]
    assert [f["properties"]["i"] for f in changes.data["features"]] == np.flatnonzero(
        blocks["moved"]
    ).tolist()
    table = _consult_table(m)
    assert table["has_now"] and len(table["b"]["now"]) == len(blocks)
    ids = schools["school_id"].tolist()
    assert [ids[j] for j in table["b"]["now"]] == blocks["current_school"].tolist()
    assert [ids[j] for j in table["b"]["new"]] == blocks["school_id"].tolist()
    assert table["s"]["now"] == [round(float(now.get(sid, 0.0)), 1) for sid in ids]
    # without a current school: one zone layer, no changes layer, no "now" in the table
    plain = zone_map(*portland_plan, title="t")
    assert "片区 Zones" in _layers(plain) and not _consult_table(plain)["has_now"]
    assert not any(name.startswith("调整学校的小区") for name in _layers(plain))


def test_the_zones_of_today_come_after_every_plan_compared(portland_plan):
    # a tester's sweep: frontier.html's switcher read "A: 67 moved", "现状片区 Zones today", "B: 85 moved",
    # "C: 148 moved", today wedged between the first alternative and the others
    from zoning.publish.maps import compare_map

    blocks, zones, schools = _with_current(portland_plan)
    m = compare_map(
        {"A": (blocks, zones, schools), "B": (blocks, zones, schools), "C": (blocks, zones, schools)}
    )
    bases = [name for name, layer in _layers(m).items() if not layer.overlay]
    assert bases == ["A", "B", "C", "现状片区 Zones today"], bases


def test_every_block_and_school_is_searchable_with_a_point_inside_it(portland_plan):
    blocks, zones, schools = portland_plan
    table = _consult_table(zone_map(blocks, zones, schools, title="t"))
    assert table["b"]["n"] == blocks["name"].tolist() and table["b"]["id"] == blocks["block_id"].tolist()
    lonlat = blocks.to_crs(4326).geometry
    for k in range(0, len(blocks), 37):
        lat, lon = table["b"]["ll"][2 * k : 2 * k + 2]
        assert lonlat.iloc[k].buffer(1e-6).contains(Point(lon, lat))
    assert table["s"]["n"] == schools["name"].tolist() and len(table["s"]["ll"]) == 2 * len(schools)


def test_quality_is_not_claimed_without_quality_data(portland_plan):
    from zoning.publish.maps.consult import _quality

    blocks, zones, schools = portland_plan
    assert _quality(schools.assign(high_quality=False)) == [None] * len(schools)  # no data: nothing said
    some = schools.assign(high_quality=[True] + [False] * (len(schools) - 1))
    assert _quality(some)[:2] == ["优质 high quality", "一般 standard"]


@pytest.mark.parametrize(
    "lang, present, absent",
    [("zh", "学校", "Schools"), ("en", "Schools", "学校"), ("both", "学校 Schools", None)],
)
def test_labels_follow_the_language(portland_plan, lang, present, absent):
    page = to_html(zone_map(*portland_plan, title="T", lang=lang))
    labels = re.findall(r'"(?:学校 )?Schools"|"学校"', page) + re.findall(r"<h2>[^<]*</h2>", page)
    assert any(present in label for label in labels)
    if absent:
        assert not any(absent in label for label in labels)


def test_bad_language_and_tile_system_are_refused_together(portland_plan):
    with pytest.raises(InputError) as err:
        zone_map(*portland_plan, title="t", lang="fr", tiles_crs="bd09")
    assert "lang 'fr'" in str(err.value) and "tiles_crs 'bd09'" in str(err.value)


def test_units_are_checked_once_for_every_map_and_listed_with_the_other_problems(portland_plan):
    # one check (plan.units_issue) where zone_map, compare_map and the labels' language each had their own
    from zoning.publish.maps import compare_map, language

    with pytest.raises(InputError) as err:
        zone_map(*portland_plan, title="t", lang="fr", units="小区")
    said = str(err.value)
    assert "lang 'fr'" in said and "units = '小区' is not one of 'blocks', 'primary zones'" in said
    with pytest.raises(InputError, match="units = 'zones' is not one of 'blocks', 'primary zones'"):
        compare_map({"a": portland_plan}, units="zones")
    with pytest.raises(ValueError, match="units = 'zones' is not one of 'blocks', 'primary zones'"):
        with language("both", "zones"):
            pass


@pytest.mark.parametrize(
    "units, zh, en",
    [("primary zones", "直对入学", "Feeder districts"), ("blocks", "划片方案", "Attendance zones")],
)
def test_a_plan_of_zones_is_titled_by_its_units_on_its_maps_and_in_its_report(units, zh, en):
    # the title was decided three times (a plan's map, a folder's map, the report): one plan.zones_title now
    from types import SimpleNamespace

    from zoning.publish.export import default_title
    from zoning.publish.report import default_title as report_title

    plan = SimpleNamespace(districts=None, rules={"units": units})
    assert [default_title(plan, lang) for lang in ("zh", "en", "both")] == [zh, en, f"{zh} {en}"]
    assert report_title({"rules": {"units": units}}) == f"{zh} {en}"
    assert report_title({"rules": None}) == "划片方案 Attendance zones"  # a summary without units: blocks


def test_gcj02_tiles_shift_the_overlays_onto_the_published_control_points():
    # googollee/eviltransform's WGS84 → GCJ-02 pairs (tests/test_crs.py): schools drawn for AMap tiles land on
    # the GCJ-02 coordinates, 300-600 m from where WGS84 tiles would put them
    pairs = [
        ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
        ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
        ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),
    ]
    schools = gpd.GeoDataFrame(
        {
            "school_id": ["A", "B", "C"],
            "name": ["上海", "深圳", "北京"],
            "capacity": [1, 1, 1],
            "students": [1, 1, 1],
            "utilisation": [1.0, 1.0, 1.0],
        },
        geometry=[Point(w) for w, _ in pairs],
        crs=4326,
    )
    zones = gpd.GeoDataFrame(
        {c: schools[c] for c in ("school_id", "name", "students", "capacity", "utilisation")},
        geometry=[Point(w).buffer(0.01) for w, _ in pairs],
        crs=4326,
    )
    blocks = gpd.GeoDataFrame({c: [] for c in BLOCK_COLUMNS}, geometry=[], crs=4326)
    tiles = "https://webrd01.is.autonavi.com/appmaptile?style=8&x={x}&y={y}&z={z}"
    m = zone_map(blocks, zones, schools, title="t", tiles=tiles, attribution="© 高德", tiles_crs="gcj02")
    drawn = [f["geometry"]["coordinates"] for f in _layers(m)["学校 Schools"].data["features"]]
    for (lon, lat), (_, gcj) in zip(drawn, pairs, strict=True):
        assert abs(lon - gcj[0]) < 1e-6 and abs(lat - gcj[1]) < 1e-6
    plain = zone_map(blocks, zones, schools, title="t", tiles=tiles, attribution="© 高德")
    drawn = [f["geometry"]["coordinates"] for f in _layers(plain)["学校 Schools"].data["features"]]
    assert np.allclose(drawn, [w for w, _ in pairs], atol=1e-6)  # 6 decimals
