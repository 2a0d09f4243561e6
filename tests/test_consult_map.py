"""The consultation map as a resident uses it, in a real browser (Playwright driving Debian's Chromium).

Every test opens the page from a file with every other request refused (and counted: the page must need
none), fails on any console error or uncaught exception, types into the search box, picks a suggestion and
reads the popup.  Screenshots are kept in ``test-artifacts/`` (``ZONING_TEST_ARTIFACTS`` to move it) to be
looked at.  Without Chromium or Playwright the tests skip on a workstation and fail in CI (``CI`` set).
"""

from __future__ import annotations

import datetime
import json
import os
import re
from pathlib import Path

import geopandas as gpd
import pytest

import zoning
from conftest import DEMO_ARGS
from test_cli import _baoan_csvs, run
from zoning.publish.export import plan_map_html

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(
    os.environ.get("ZONING_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "test-artifacts")
)
FAST = zoning.SolveOptions(time_limit_s=5, workers=1)


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI is set, so the browser tests fail instead of skipping.", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        _missing(f"the browser tests need Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the browser tests need Playwright (pip install playwright)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        yield chromium
        chromium.close()


class Page:
    """A page opened from a file: every request elsewhere refused and recorded, console errors recorded."""

    def __init__(self, browser, html: str, tmp_path: Path, *, width: int = 1200, height: int = 900):
        self.path = tmp_path / "map.html"
        self.path.write_text(html, encoding="utf-8")
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.route("**/*", self._route)
        self.page.goto(self.path.as_uri())

    def _route(self, route):
        url = route.request.url
        if url.startswith("file:") or url.startswith("data:"):
            route.continue_()
        else:
            self.requests.append(url)
            route.abort()

    def search(self, text: str) -> list[str]:
        self.page.fill("#zoning-search input", text)
        return [li.strip() for li in self.page.locator("#zoning-search li").all_inner_texts()]

    def popup(self) -> str:
        return self.page.locator(".leaflet-popup-content").last.inner_text()  # the last opened (others fade)

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.wait_for_timeout(400)  # popups fade in
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))

    def clean(self) -> None:
        assert self.errors == [] and self.requests == [], (self.errors, self.requests)
        self.page.close()


@pytest.fixture(scope="module")
def portland_plan(portland):
    blocks, schools = portland
    return zoning.assign_zones(blocks, schools, options=FAST)


def _school_name(plan, sid) -> str:
    return str(plan.schools.set_index("school_id").loc[sid, "name"])


def test_a_resident_finds_a_moved_block_and_reads_now_and_proposed(browser, portland_plan, tmp_path):
    plan = portland_plan
    moved = plan.blocks[plan.blocks["moved"]].iloc[0]
    page = Page(browser, plan_map_html(plan), tmp_path)
    page.shot("portland-start")
    hits = page.search(str(moved["block_id"])[-7:])  # any part of the id
    assert any(str(moved["block_id"]) in h for h in hits)
    page.shot("portland-suggestions")
    page.page.locator("#zoning-search li", has_text=str(moved["block_id"])).first.dispatch_event("mousedown")
    text = page.popup()
    now, proposed = text.split("调整后 Proposed")
    assert "现在 Now" in now and _school_name(plan, moved["current_school"]) in now
    assert _school_name(plan, moved["school_id"]) in proposed
    assert "有变化 Changes" in text and "不变" not in text
    assert re.search(r"\d+(\.\d)? k?m", proposed)  # the distance to each school
    page.shot("portland-found-moved")

    # a block that stays: "no change", chosen with the keyboard (arrow down to the first match, Enter)
    stays = plan.blocks[~plan.blocks["moved"] & plan.blocks["current_school"].notna()].iloc[0]
    page.search(str(stays["block_id"]))
    page.page.keyboard.press("ArrowDown")
    page.page.keyboard.press("Enter")
    assert "不变 No change" in page.popup() and _school_name(plan, stays["school_id"]) in page.popup()
    page.clean()


def test_before_and_after_switch_the_zones_and_school_popups_compare_them(browser, portland_plan, tmp_path):
    plan = portland_plan
    page = Page(browser, plan_map_html(plan), tmp_path)
    zones = page.page.locator(".leaflet-zoning-zones-pane path")
    proposed = sorted(zones.evaluate_all("ps => ps.map(p => p.getAttribute('d'))"))
    assert len(proposed) == len(plan.zones)
    page.page.get_by_label("现状片区 Zones today").check()
    today = sorted(zones.evaluate_all("ps => ps.map(p => p.getAttribute('d'))"))
    assert len(today) == plan.blocks["current_school"].nunique() and today != proposed
    changes = page.page.locator(".leaflet-zoning-blocks-pane path[stroke='#d81b60']")
    assert changes.count() == int(plan.blocks["moved"].sum())
    page.shot("portland-zones-today")
    page.page.get_by_label("调整后片区 Proposed zones").check()
    assert sorted(zones.evaluate_all("ps => ps.map(p => p.getAttribute('d'))")) == proposed

    # a school's popup: children now → proposed, against its seats
    school = plan.schools.iloc[0]
    page.search(str(school["name"])[:5])
    page.page.keyboard.press("Enter")
    text = page.popup()
    now = plan.blocks.loc[plan.blocks["current_school"] == school["school_id"], "students"].sum()
    assert f"{now:,.0f} → {school['students']:,.0f}" in text
    assert f"{school['capacity']:,.0f}" in text
    page.shot("portland-school-popup")
    page.clean()


def test_english_only_map_on_a_phone(browser, portland_plan, tmp_path):
    page = Page(browser, plan_map_html(portland_plan, lang="en"), tmp_path, width=390, height=800)
    ui = page.page.locator(".zoning-box, .leaflet-control-layers").all_inner_texts()
    assert ui and not any(re.search(r"[\u4e00-\u9fff]", text) for text in ui)
    hits = page.search("230050")
    assert len(hits) == 11 and "more" in hits[-1]  # ten matches, then how many more
    page.page.keyboard.press("Enter")
    assert "Proposed" in page.popup() and "调整后" not in page.popup()
    page.shot("portland-phone-en")
    page.clean()


def test_city_scale_search_draws_the_block_it_finds(browser, portland_plan, tmp_path, monkeypatch):
    # at city scale the blocks are drawn only from zoom 14, a tile of them at a time as it comes into view:
    # a search result zooms there, builds the tiles in view, and outlines its block
    from zoning.publish.maps import layers

    monkeypatch.setattr(layers, "TILE_FEATURES", 20)  # 317 blocks in about 16 tiles
    i = 40
    block = portland_plan.blocks.iloc[i]
    page = Page(browser, plan_map_html(portland_plan, city_scale=True), tmp_path)
    assert page.page.locator(".leaflet-zoning-blocks-pane canvas").count() == 0
    page.search(str(block["block_id"]))
    page.page.keyboard.press("Enter")
    built = page.page.evaluate("Object.keys(window.zoningBlocks || {}).map(Number)")
    assert i in built and len(built) < len(portland_plan.blocks)  # the tiles in view, not the city
    assert page.page.locator(".leaflet-zoning-blocks-pane canvas").count() == 1
    assert str(block["block_id"]) in page.popup()
    page.shot("portland-city-scale-found")
    page.page.mouse.wheel(0, 2000)  # zoom out below 14: the blocks leave, the zones stay
    page.page.wait_for_timeout(600)
    assert page.page.locator(".leaflet-zoning-blocks-pane canvas").count() == 0
    page.clean()


@pytest.fixture(scope="module")
def baoan_map(tmp_path_factory) -> str:
    """第二学区: primary schools as the 小区 points of a cohort, junior-middle schools as the schools (GBK,
    Chinese headers, GCJ-02), partitioned by the CLI: its map.html."""
    folder = tmp_path_factory.mktemp("baoan")
    bp, sp = _baoan_csvs(folder)
    out = folder / "out"
    result = run(
        "partition", bp, sp, "--coords", "gcj02", "--allow-overload", "--out", out, "--time-limit", 5
    )
    assert result.exit_code == 0, result.output
    return (out / "map.html").read_text(encoding="utf-8")


def test_baoan_resident_finds_a_chinese_xiaoqu_name(browser, baoan_map, tmp_path):
    page = Page(browser, baoan_map, tmp_path)
    hits = page.search("西乡")
    assert hits and all("西乡" in h for h in hits)
    block = [h for h in hits if "学校 School" not in h][0]
    page.page.locator("#zoning-search li", has_text=block.split(" · ")[0]).first.dispatch_event("mousedown")
    text = page.popup()
    name, school = block.split(" · ")
    assert text.startswith(name) and school in text and "学校 School" in text
    page.shot("baoan-xiaoqu-found")
    page.clean()


#: Points of the zones and schools drawn under the box of ``selector`` (sampled every 2 px where a shape's
#: drawn box meets it; a point counts when it is inside the shape's fill or on its stroke).
_UNDER = """selector => {
    const box = document.querySelector(selector).getBoundingClientRect();
    const hits = [];
    const shapes = document.querySelectorAll(
        ".leaflet-zoning-zones-pane path, .leaflet-zoning-schools-pane path, .leaflet-zoning-schools-pane .leaflet-marker-icon");
    for (const shape of shapes) {
        const b = shape.getBoundingClientRect();
        const x0 = Math.max(b.left, box.left), x1 = Math.min(b.right, box.right);
        const y0 = Math.max(b.top, box.top), y1 = Math.min(b.bottom, box.bottom);
        if (x0 > x1 || y0 > y1) { continue; }
        if (!(shape instanceof SVGGeometryElement)) { hits.push("a star at " + [b.left, b.top]); continue; }
        const toShape = shape.getScreenCTM().inverse();
        let n = 0;
        for (let x = x0; x <= x1; x += 2) {
            for (let y = y0; y <= y1; y += 2) {
                const p = new DOMPoint(x, y).matrixTransform(toShape);
                if (shape.isPointInFill(p) || shape.isPointInStroke(p)) { n++; }
            }
        }
        if (n) { hits.push(n + " points of a shape in " + shape.closest(".leaflet-pane").className); }
    }
    return hits;
}"""


def _box(page: Page, selector: str) -> dict:
    return page.page.locator(selector).bounding_box()


def _meet(a: dict, b: dict) -> bool:
    """Do two bounding boxes overlap?"""
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])  # fmt: skip


@pytest.mark.parametrize(
    "size",
    [(1200, 900), (1024, 768), (768, 1024), (390, 844)],
    ids=["laptop", "small-laptop", "tablet", "phone"],
)
def test_the_first_view_hides_no_zone_under_the_legend(browser, portland_plan, baoan_map, tmp_path, size):
    # a sweep: at 1200 x 900 the open legend covered the west of the zones (South Portland's Skillin, and
    # half of Bao'an's 13 zones, whose legend of long school names is 500 px wide): the view was refitted only
    # when the room left beside the legend was under 40 % of the window, and tested before the room made
    # for the title moved the zones down under it again
    width, height = size
    for name, html in (("portland", plan_map_html(portland_plan)), ("baoan", baoan_map)):
        page = Page(browser, html, tmp_path, width=width, height=height)
        assert page.page.evaluate(_UNDER, ".zoning-legend") == [], name
        legend, layers = _box(page, ".zoning-legend"), _box(page, ".leaflet-control-layers")
        assert legend["x"] >= 0 and legend["y"] + legend["height"] <= height, name
        # the layer switcher is not on the legend (on a phone both are at the bottom)
        apart = (legend["x"] + legend["width"] <= layers["x"] or layers["y"] + layers["height"] <= legend["y"]
                 or legend["y"] + legend["height"] <= layers["y"])  # fmt: skip
        assert apart, (name, legend, layers)
        # nor on the title box (at 768 px the title, 60 % of the window wide, ran under it)
        title = _box(page, ".zoning-title")
        assert not _meet(title, layers), (name, title, layers)
        page.shot(f"{name}-first-view-{width}x{height}")
        # folded, the legend opens with a click on its heading (on a phone it starts folded)
        summary = page.page.locator(".zoning-legend summary")
        if width < 700:
            assert not page.page.locator(".zoning-legend details").evaluate("d => d.open")
        if not page.page.locator(".zoning-legend details").evaluate("d => d.open"):
            summary.click()
            assert page.page.locator(".zoning-legend table").is_visible()
        page.clean()


# ---------------------------------------------------------------------------------------------------------
# zoning map DIR: the map drawn again from a plan folder with other options
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    result = run("partition", *DEMO_ARGS, "--out", out, "--time-limit", 5, "--workers", 1)
    assert result.exit_code == 0, result.output
    return out


def test_map_command_redraws_in_chinese_and_keeps_the_old_map_unless_overwrite(demo_dir, tmp_path):
    result = run("map", demo_dir, "--lang", "zh")
    assert result.exit_code == 1 and "map.html" in result.output and "--overwrite" in result.output
    result = run("map", demo_dir, "--lang", "zh", "--title", "南波特兰 划片（征求意见稿）", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    page = (tmp_path / "map.html").read_text(encoding="utf-8")
    assert "<title>南波特兰 划片（征求意见稿）</title>" in page
    assert (
        f'<div class="zoning-muted">{datetime.date.today().isoformat()}</div>' in page
    )  # the date, by default
    # layer names are written as JSON by the layer switcher (\\u escapes)
    assert json.dumps("现状片区") in page and "Zones today" not in page and json.dumps("学校") in page
    assert "317 小区 / blocks" in result.output and "opens offline" in result.output


def test_map_command_needs_the_credit_line_of_a_tile_url(demo_dir, tmp_path):
    tiles = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    result = run("map", demo_dir, "--tiles", tiles, "--out", tmp_path)
    assert result.exit_code == 1 and "--attribution" in result.output and not (tmp_path / "map.html").exists()
    result = run("map", demo_dir, "--tiles", tiles, "--attribution", "© OpenStreetMap", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert tiles in (tmp_path / "map.html").read_text(encoding="utf-8")


def test_map_command_draws_districts_on_schools_alone(tmp_path):
    data = Path(__file__).resolve().parents[1] / "data" / "shenzhen_baoan_xuequ2"
    out = tmp_path / "districts"
    result = run("districts", data / "schools_xuequ2_gcj02.geojson", "--coords", "gcj02", "--classes-col",
                 "grade1_classes_2024", "--districts", 4, "--require-stage", "junior_middle=1", "--out", out,
                 "--time-limit", 5)  # fmt: skip
    assert result.exit_code == 0, result.output
    result = run("map", out, "--lang", "en", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    page = (tmp_path / "map.html").read_text(encoding="utf-8")
    assert "4 school districts" in page and "0 小区 / blocks" in result.output
    # the existing grouping (xuequ_no: all 41 in 第二学区) is a layer to switch on: one district, dashed
    tip = "district today 2</b><br>schools: 41".replace("<", "\\u003c").replace(">", "\\u003e")  # as in JSON
    assert '"Districts today"' in page and tip in page

    # GCJ-02 tiles (高德): the plan is kept in WGS84, the map shifts it back onto the input's GCJ-02 points
    tiles = "https://webrd01.is.autonavi.com/appmaptile?style=8&x={x}&y={y}&z={z}"
    result = run("map", out, "--tiles", tiles, "--attribution", "© 高德", "--tiles-crs", "gcj02", "--out",
                 tmp_path / "gcj")  # fmt: skip
    assert result.exit_code == 0, result.output
    page = (tmp_path / "gcj" / "map.html").read_text(encoding="utf-8")
    given = gpd.read_file(data / "schools_xuequ2_gcj02.geojson")
    drawn = {
        tuple(float(v) for v in xy)
        for xy in re.findall(r'"type":"Point","coordinates":\[([\d.]+),([\d.]+)\]', page)
    }
    points = {(p.x, p.y) for p in given.geometry}  # two borrowed sites (借址) share a point
    assert len(drawn) == len(points)
    for px, py in points:
        assert min(abs(x - px) + abs(y - py) for x, y in drawn) < 2e-6  # 6 decimals, round trip
    assert json.dumps("© 高德") in page


@pytest.mark.parametrize("units", ["blocks", "primary zones"])
def test_the_search_box_shows_its_hint_in_full(browser, portland_plan, tmp_path, units):
    # a feeder map's "搜索小学片区或学校 Find a primary zone or school" was cut at the box's 21 em
    from dataclasses import replace

    plan = replace(portland_plan, rules={**portland_plan.rules, "units": units})
    page = Page(browser, plan_map_html(plan), tmp_path)
    room, text = page.page.evaluate(
        """() => {
        const box = document.querySelector('#zoning-search input'), style = getComputedStyle(box);
        const ctx = document.createElement('canvas').getContext('2d');
        ctx.font = style.font;
        const room = box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
        return [room, ctx.measureText(box.placeholder).width];
    }"""
    )
    assert text <= room, (units, text, room)
    page.clean()
