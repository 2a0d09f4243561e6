"""The printed report (zoning report / zoning.report): report.html self-contained, report.pdf with the Chinese
font embedded, both files or none, kept unless --overwrite; on South Portland and on Bao'an's 学区."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pypdf
import pytest
from click.testing import CliRunner
from matplotlib.image import imread

import zoning
from conftest import DEMO_ARGS, ROOT
from zoning.cli import main
from zoning.publish import report as report_module

FAST = zoning.SolveOptions(time_limit_s=5, workers=1)
BAOAN = ROOT / "data" / "shenzhen_baoan_xuequ2" / "schools_xuequ2_gcj02.geojson"


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def portland_dir(tmp_path_factory):
    """South Portland partitioned by the CLI (with its current assignment), as a plan folder."""
    out = tmp_path_factory.mktemp("portland") / "plan"
    result = _run("partition", *DEMO_ARGS, "--time-limit", 5, "--out", out)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def baoan_dir(tmp_path_factory):
    """第二学区's 41 schools grouped into 4 districts (学区) on the schools alone (the README's example)."""
    out = tmp_path_factory.mktemp("baoan") / "plan"
    args = ["districts", BAOAN, "--coords", "gcj02", "--classes-col", "grade1_classes_2024", "--districts", 4,
            "--require-stage", "junior_middle=1", "--time-limit", 5, "--out", out]  # fmt: skip
    result = _run(*args)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def baoan_zones_dir(tmp_path_factory):
    """第二学区's primary schools as the 小区 of a cohort, zoned to its junior-middle schools with today's
    junior-middle 招生范围 as the current assignment (the notebook's plan): a map taller than wide."""
    schools = zoning.read_schools(BAOAN, coords="gcj02", columns={"classes": "grade1_classes_2024"})
    catchments = zoning.read_zones(BAOAN.with_name("catchments_xuequ2_gcj02.geojson"), coords="gcj02")
    primary = schools[schools["stage"] == "primary"]
    today = catchments[catchments["stage"] == "junior_middle"][["school_ids", "geometry"]]
    inside = gpd.sjoin(primary[["school_id", "geometry"]], today, predicate="within", how="left")
    current = inside.drop_duplicates("school_id").set_index("school_id")["school_ids"]
    xiaoqu = gpd.GeoDataFrame(
        {
            "block_id": primary["school_id"].to_numpy(),
            "name": primary["name"].to_numpy(),
            "students": primary["capacity"].to_numpy(),
            "current_school": current.reindex(primary["school_id"]).to_numpy(),
        },
        geometry=primary.geometry.to_numpy(),
        crs=primary.crs,
    )
    middle = schools[schools["stage"] == "junior_middle"].reset_index(drop=True)
    plan = zoning.assign_zones(xiaoqu, middle, allow_overload=True, options=FAST)
    out = tmp_path_factory.mktemp("baoan_zones") / "plan"
    zoning.write_plan(plan, out)
    return out


def _pdf(path):
    reader = pypdf.PdfReader(path)
    text = "\n".join(page.extract_text() for page in reader.pages)
    fonts = {}
    for page in reader.pages:
        for font in page["/Resources"].get("/Font", {}).values():
            font = font.get_object()
            fonts[str(font["/BaseFont"])] = "/ToUnicode" in font
    return reader, text, fonts


def _self_contained(html: str, figures: int) -> None:
    """Nothing fetched: no http(s) src / href / url(), no script; the figures inline."""
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//|file:)""", html, re.I)
    assert not re.search(r"url\(\s*['\"]?(https?:|//|file:)", html, re.I)
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert html.count('src="data:image/png;base64,') == figures


def _flat(text: str) -> str:
    """PDF text without the line breaks and spaces layout puts into long names."""
    return re.sub(r"\s+", "", text)


def test_report_of_a_plan_from_python(portland, tmp_path):
    blocks, schools = portland
    plan = zoning.assign_zones(blocks, schools, options=FAST)
    zoning.check_plan(plan)
    files = zoning.report(plan, tmp_path, date="2027-03-01")
    assert set(files) == {"report.html", "report.pdf"}
    html = files["report.html"].read_text(encoding="utf-8")
    _self_contained(html, 3)  # zones map, distance histogram, changes map
    assert "2027-03-01" in html
    reader, text, fonts = _pdf(files["report.pdf"])
    assert len(reader.pages) >= 2
    for name in plan.schools["name"]:
        assert _flat(name) in _flat(text)
    assert "概要" in text and "调整情况" in text and "划片方案" in text
    # every font is the CJK font (mplfonts' Noto Sans CJK SC as "Zoning CJK", or the same font where the
    # machine has it installed), embedded with its ToUnicode map: the text above came out of it
    assert fonts and all("CJK" in f and has_map for f, has_map in fonts.items()), fonts
    # existing files are kept unless overwrite
    with pytest.raises(zoning.InputError, match="report.html"):
        zoning.report(plan, tmp_path)
    assert zoning.report(plan, tmp_path, overwrite=True)["report.pdf"].exists()


def test_report_command_shows_the_plan_before_and_after(portland_dir):
    result = _run("report", portland_dir)
    assert result.exit_code == 0, result.output
    assert "report.html" in result.output and "report.pdf" in result.output
    summary = json.loads((portland_dir / "summary.json").read_text(encoding="utf-8"))
    reader, text, _ = _pdf(portland_dir / "report.pdf")
    assert len(reader.pages) >= 2
    before, after = summary["before"]["mean_distance_m"], summary["totals"]["mean_distance_m"]
    assert f"{before:,.0f} → {after:,.0f}" in text  # the summary's figures, current → plan
    blocks = gpd.read_file(portland_dir / "plan.gpkg", layer="blocks")
    now = blocks.groupby("current_school")["students"].sum()  # South Portland names schools by id
    for school in summary["schools"]:  # each school's row: seats, children now → in the plan
        row = next(line for line in text.splitlines() if line.startswith(school["name"]))
        assert f"{school['capacity']:,.0f} {now[school['school_id']]:,.1f} → {school['students']:,.1f}" in row
    _self_contained((portland_dir / "report.html").read_text(encoding="utf-8"), 3)
    assert _run("report", portland_dir).exit_code == 1  # exists already: kept
    assert _run("report", portland_dir, "--overwrite").exit_code == 0


def test_baoan_districts_report_writes_chinese(baoan_dir, tmp_path):
    result = _run("report", baoan_dir, "--out", tmp_path, "--title", "宝安区第二学区 学区划分（征求意见稿）")
    assert result.exit_code == 0, result.output
    summary = json.loads((baoan_dir / "summary.json").read_text(encoding="utf-8"))
    reader, text, fonts = _pdf(tmp_path / "report.pdf")
    assert len(reader.pages) >= 2
    flat = _flat(text)
    assert _flat("宝安区第二学区 学区划分（征求意见稿）") in flat
    for district in summary["districts"]["districts"]:
        assert _flat(district["lead_name"]) in flat  # 学区长学校, in Chinese
        for member in district["members"].split("、"):
            assert _flat(member) in flat
    assert fonts and all("CJK" in f and has_map for f, has_map in fonts.items()), fonts
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    _self_contained(html, 1)  # the districts map (no blocks: no distances, no changes)
    assert "学区 Districts" in html
    if shutil.which("pdftoppm") is None:
        return  # the rendering check needs poppler-utils
    subprocess.run(["pdftoppm", "-r", "40", "-f", "1", "-l", "1", "-png", tmp_path / "report.pdf", tmp_path / "page"],
                   check=True)  # fmt: skip
    page = imread(next(tmp_path.glob("page*.png")))
    ink = (page[..., :3].mean(axis=2) < 0.9).mean()
    assert 0.03 < ink < 0.6, ink  # text and a coloured map on white, not an empty or a black page


def test_both_files_or_none(portland_dir, tmp_path, monkeypatch):
    def broken(page):
        raise RuntimeError("the PDF could not be made")

    monkeypatch.setattr(report_module, "report_pdf", broken)
    with pytest.raises(RuntimeError, match="could not be made"):
        zoning.publish.report.write_report(*zoning.io.inputs.read_plan_folder(portland_dir), tmp_path)
    assert not (tmp_path / "report.html").exists() and not (tmp_path / "report.pdf").exists()
    # with --overwrite the previous report stays as it was
    (tmp_path / "report.html").write_text("previous", encoding="utf-8")
    result = _run("report", portland_dir, "--out", tmp_path, "--overwrite")
    assert result.exit_code == 1 and "could not be made" in result.output
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == "previous"
    assert not (tmp_path / "report.pdf").exists()


def test_a_folder_without_a_plan_is_named(tmp_path):
    result = _run("report", tmp_path)
    assert result.exit_code == 1
    assert "plan.gpkg" in result.output and str(tmp_path) in result.output
    assert "Traceback" not in result.output


def test_a_plan_without_its_summary_is_named(portland_dir, tmp_path):
    shutil.copy(portland_dir / "plan.gpkg", tmp_path / "plan.gpkg")
    result = _run("report", tmp_path)
    assert result.exit_code == 1
    assert "summary.json" in result.output and "Traceback" not in result.output


def test_zoning_loads_matplotlib_and_weasyprint_only_for_a_report(portland_dir):
    """`import zoning` (every command) stays quick; the report draws without pyplot's global state."""
    code = (
        "import sys, zoning\n"
        "assert 'matplotlib' not in sys.modules and 'weasyprint' not in sys.modules, 'loaded with zoning'\n"
        "from zoning.io.inputs import read_plan_folder\n"
        "from zoning.publish.report import report_html\n"
        f"page = report_html(*read_plan_folder({str(portland_dir)!r}))\n"
        "assert 'matplotlib' in sys.modules and 'matplotlib.pyplot' not in sys.modules, 'pyplot loaded'\n"
        "import matplotlib\n"
        "assert matplotlib.rcParams['font.family'] == ['sans-serif'], 'rcParams changed'\n"
    )
    done = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_figures_are_drawn_in_a_metric_crs(portland_dir):
    """The zones keep their shape 43.6° north: the coloured area of the map has the aspect of the zones in
    metres (drawn in degrees it would be stretched by 1 / cos 43.6° = 1.38)."""
    from zoning.publish import figures

    layers, summary = zoning.io.inputs.read_plan_folder(portland_dir)
    crs = summary["solve"]["metric_crs"]
    font = report_module.cjk_font_file()
    png = figures.zones_figure(layers["zones"], layers["schools"], districts=None, crs=crs, font=font)
    rgb = imread(io.BytesIO(png))[..., :3]
    coloured = np.argwhere(rgb.max(axis=2) - rgb.min(axis=2) > 0.15)  # the zones' fills, not text or white
    (y0, x0), (y1, x1) = coloured.min(axis=0), coloured.max(axis=0)
    bx0, by0, bx1, by1 = layers["zones"].to_crs(crs).total_bounds
    drawn, want = (y1 - y0) / (x1 - x0), (by1 - by0) / (bx1 - bx0)
    assert abs(drawn / want - 1) < 0.05, (drawn, want)


def test_the_changes_map_draws_point_blocks(portland_dir):
    # a sweep: with 小区 given as points (Bao'an's CSV) the "changes school (8)" map drew none of them
    from zoning.publish import figures

    layers, summary = zoning.io.inputs.read_plan_folder(portland_dir)
    crs = summary["solve"]["metric_crs"]
    points = layers["blocks"].assign(geometry=layers["blocks"].geometry.representative_point())
    moved = np.zeros(len(points), dtype=bool)
    moved[::7] = True

    def moved_pixels(changed):
        png = figures.changes_figure(points, layers["zones"], layers["schools"], moved=changed,
                                     newly_zoned=np.zeros(len(points), dtype=bool), crs=crs,
                                     font=report_module.cjk_font_file())  # fmt: skip
        rgb = imread(io.BytesIO(png))[..., :3]
        target = np.array([int(figures._MOVED[k : k + 2], 16) / 255 for k in (1, 3, 5)])
        return int((np.abs(rgb - target).max(axis=2) < 0.08).sum())

    assert moved_pixels(moved) > moved_pixels(np.zeros(len(points), dtype=bool)) + 50


def test_the_report_says_how_much_of_the_objective_is_the_overloads_penalty(portland):
    # a sweep: with --allow-overload the report showed 2,127,942 child-km with no word that 2,120,000 of it
    # is the penalty of 2,120 children over seats
    blocks, schools = portland
    plan = zoning.assign_zones(blocks, schools[schools["school_id"] != "Skillin"], allow_overload=True,
                               options=FAST)  # fmt: skip
    over = float(plan.schools["overload"].sum())
    facts = dict(map(tuple, report_module._zone_facts(zoning.summary(plan))))
    said = facts["其中超额惩罚 of it, the overload's penalty"]
    assert over > 0 and said.startswith(f"{over * 1000:,.1f} child-km ({over:,.1f} 名儿童超出学位")


@pytest.mark.parametrize("plan", ["baoan_zones_dir", "baoan_dir", "portland_dir"])
def test_every_legend_shows_in_full(plan, request, monkeypatch):
    # a sweep: on Bao'an (a map taller than wide, 4.1 in) the changes map's legend was wider than the figure
    # and read "…es school (14)" on the left and "新划片边界 new zone bour" on the right
    from zoning.publish import figures

    layers, summary = zoning.io.inputs.read_plan_folder(request.getfixturevalue(plan))
    drawn, png = [], figures._png
    monkeypatch.setattr(figures, "_png", lambda fig: drawn.append(fig) or png(fig))
    report_module.report_html(layers, summary)
    assert len(drawn) == (1 if plan == "baoan_dir" else 3)  # zones, distances, changes (districts: zones)
    for fig in drawn:
        fig.draw_without_rendering()
        legends = fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
        assert legends
        for legend in legends:
            box = legend.get_window_extent()
            texts = [t.get_text() for t in legend.get_texts()]
            assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1, (texts, box, fig.bbox)
            assert fig.bbox.y0 <= box.y0 and box.y1 <= fig.bbox.y1, (texts, box, fig.bbox)


def test_children_moved_says_over_which_blocks_when_some_have_no_current_school(capsys):
    # Bao'an's 28 小区, 5 without a current school: the report said "— (no current zones)" for children moved
    # while its changes section counted moves; the moves are over the blocks that name a current school
    from conftest import grid_instance
    from zoning.check.metrics import summary
    from zoning.cli.report import _report_zones
    from zoning.publish.report import _zone_facts

    blocks, schools = grid_instance(1, 4, [5, 5, 5, 5], [0, 3], [20, 20], current=["S1", "S0", "S0", "S0"])
    blocks.loc[1, "current_school"] = None
    plan = zoning.assign_zones(blocks, schools)
    s = summary(plan)
    assert s["totals"]["blocks_with_current_school"] == 3 and s["totals"]["children_moved"] == 10
    facts = dict(_zone_facts(s))
    assert facts["调整学校的儿童 children moved"].startswith("10 (")
    assert "of the 3 of 4 blocks with a current school" in facts["调整学校的儿童 children moved"]
    # the city's rows show the plan alone (a before over 3 blocks is not set against an after over 4) ...
    assert (
        "→" not in facts["平均距离 mean distance (m)"] and "→" not in facts["超员学校 schools over capacity"]
    )
    # ... and one row compares the two over the same 3 blocks
    assert any(k.startswith("现行划片只覆盖 3/4") and "→" in v for k, v in facts.items())
    _report_zones(plan)
    assert "moved 10.0 (of the 3 of 4 blocks with a current school)" in capsys.readouterr().out
    none = zoning.assign_zones(blocks.drop(columns="current_school"), schools)
    assert dict(_zone_facts(summary(none)))["调整学校的儿童 children moved"].startswith("—")
    _report_zones(none)
    assert "moved — (no current zones)" in capsys.readouterr().out


def test_a_report_of_education_groups_names_them_groups(tmp_path, monkeypatch):
    # a tester's sweep: Hangzhou's education groups (districts --groups) had a report titled 教育集团方案 whose
    # sections, table and map legend said 学区 Districts, 学区长学校, 学区间质量差 and 学区边界
    from zoning.publish import figures

    out = tmp_path / "groups"
    args = ["districts", BAOAN, "--coords", "gcj02", "--classes-col", "grade1_classes_2024", "--districts", 4,
            "--groups", "--time-limit", 5, "--out", out]  # fmt: skip
    result = _run(*args)
    assert result.exit_code == 0, result.output
    layers, summary = zoning.io.inputs.read_plan_folder(out)
    drawn, png = [], figures._png
    monkeypatch.setattr(figures, "_png", lambda fig: drawn.append(fig) or png(fig))
    html = report_module.report_html(layers, summary)
    assert "<h2>教育集团 Groups</h2>" in html and "牵头学校 lead" in html and "教育集团间质量差" in html
    assert "学区 Districts" not in html and "学区长学校" not in html and "学区间" not in html
    (fig,) = drawn
    texts = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert "牵头学校 lead school" in texts and "教育集团边界 group boundary" in texts, texts
