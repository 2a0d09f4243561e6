"""The `zoning` command as a planner uses it: CliRunner, exit codes 0/1/2, messages, output files."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner

from browser import read_png, render
from conftest import DEMO, DEMO_ARGS, shared
from zoning.cli import main


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result


def no_traceback(result):
    text = result.output + (result.stderr if hasattr(result, "stderr") else "")
    assert "Traceback" not in text
    return text


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    result = run("partition", *DEMO_ARGS, "--out", out, "--time-limit", 60)
    return out, result


def test_partition_on_demo_writes_every_output(demo_out):
    out, result = demo_out
    assert result.exit_code == 0, result.output
    assert (
        "Plan: proven optimal" in result.output or "Plan: optimal within the requested gap" in result.output
    )
    # South Portland has two groups of blocks cut off from the rest: a zone joined only across their links
    # counts as in pieces, and the line says so
    assert re.search(
        r"zones in more than one piece: (0|\d+ \(\d+ joined only across the 2 link)", result.output
    )
    for name in ("plan.gpkg", "plan.csv", "summary.json", "map.html"):
        assert (out / name).exists()
    assert set(pyogrio.list_layers(out / "plan.gpkg")[:, 0]) == {"blocks", "zones", "schools"}
    blocks = gpd.read_file(out / "plan.gpkg", layer="blocks")
    assert {"block_id", "school_id", "students", "distance_m", "moved"} <= set(blocks.columns)
    assert len(blocks) == 317
    zones = gpd.read_file(out / "plan.gpkg", layer="zones")
    assert len(zones) == 5 and (zones["utilisation"] <= 1.0 + 1e-9).all()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["solve"]["status"] == "optimal"
    assert summary["solve"]["gap"] <= 0.01
    totals = summary["totals"]
    assert totals["zones_not_contiguous"] == totals["zones_joined_only_by_links"]  # none in pieces otherwise
    assert len(totals["links_added"]) == 2 and {x["group_blocks"] for x in totals["links_added"]} == {18, 1}
    assert len(summary["schools"]) == 5
    table = pd.read_csv(out / "plan.csv", encoding="utf-8-sig", dtype=str)
    assert list(table.columns[:4]) == ["block_id", "name", "school_id", "school_name"]


def test_demo_map_opens_offline_without_errors(demo_out, tmp_path):
    out, _ = demo_out
    png = tmp_path / "map.png"
    result = render(out / "map.html", png)
    assert result.console_errors == []
    pixels = read_png(png)
    colours = {tuple(p) for p in pixels.reshape(-1, pixels.shape[-1])[::97]}
    assert len(colours) > 20  # zones, outlines, legend: not a blank page


def test_existing_output_is_kept_unless_overwrite(demo_out):
    out, _ = demo_out
    before = (out / "summary.json").read_bytes()
    result = run("partition", *DEMO_ARGS, "--out", out)
    assert result.exit_code == 1
    assert "exist already" in no_traceback(result)
    assert "--overwrite" in result.output
    assert (out / "summary.json").read_bytes() == before


def test_bad_flags_exit_2():
    assert run("partition", *DEMO_ARGS, "--out", "x", "--time-limit", "-1").exit_code == 2
    result = run("partition", *DEMO_ARGS, "--out", "x", "--coords", "gcj-03")
    assert result.exit_code == 2
    assert "gcj02" in result.output


def test_validate_reports_every_bad_row_at_once(tmp_path):
    blocks = tmp_path / "小区.csv"
    blocks.write_text(
        "小区编号,小区名称,适龄儿童,经度,纬度\n"
        "A1,阳光花园,120,-70.25,43.635\n"
        "A2,碧海小区,约120,-70.26,43.636\n"
        "A3,金色家园,-5,-70.27,43.637\n"
        "A1,重复小区,30,-70.28,43.638\n",
        encoding="gbk",
    )
    result = run("validate", blocks, DEMO / "schools.geojson")
    assert result.exit_code == 1
    text = no_traceback(result)
    assert 'row 3, column "适龄儿童"' in text and "约120" in text
    assert 'row 4, column "适龄儿童"' in text
    assert "row 5" in text and "A1" in text  # the duplicate id, with the row it repeats


def test_missing_column_suggests_the_nearest_header():
    result = run(
        "validate", DEMO / "blocks.geojson", DEMO / "schools.geojson", "--students-col", "students_k5"
    )
    assert result.exit_code == 1
    assert "students_k4" in no_traceback(result)


def _baoan_csvs(tmp_path):
    """第二学区 primary schools as the 小区 points of a cohort, junior-middle schools as the schools: Chinese
    headers, GBK, GCJ-02 coordinates — the shape of a Chinese bureau's files."""
    d = pd.read_csv(shared("shenzhen_baoan_2024", "schools.csv"))
    d = d[d["lon_gcj02"].notna()]
    prim = d[d["stage"] == "primary"]
    mid = d[d["stage"] == "junior_middle"]
    blocks = pd.DataFrame(
        {
            "小区名称": prim["school_name"],
            "适龄儿童": prim["grade1_classes_2024"] * 45,
            "经度": prim["lon_gcj02"],
            "纬度": prim["lat_gcj02"],
        }
    )
    schools = pd.DataFrame(
        {
            "学校名称": mid["school_name"],
            "学段": "初中",
            "招生班数": mid["grade1_classes_2024"],
            "经度": mid["lon_gcj02"],
            "纬度": mid["lat_gcj02"],
        }
    )
    bp, sp = tmp_path / "小区.csv", tmp_path / "学校.csv"
    blocks.to_csv(bp, index=False, encoding="gbk")
    schools.to_csv(sp, index=False, encoding="gbk")
    return bp, sp


def test_baoan_real_seats_short_is_explained_in_numbers(tmp_path):
    bp, sp = _baoan_csvs(tmp_path)
    result = run("partition", bp, sp, "--coords", "gcj02", "--out", tmp_path / "out")
    assert result.exit_code == 1
    # 113 classes × 50 = 5,650 seats; 172 classes × 45 = 7,740 children
    assert "5,650 seats against 7,740 children (short 2,090)" in no_traceback(result)


def test_baoan_with_overload_gives_a_one_piece_plan(tmp_path):
    bp, sp = _baoan_csvs(tmp_path)
    out = tmp_path / "out"
    result = run(
        "partition", bp, sp, "--coords", "gcj02", "--allow-overload", "--out", out, "--time-limit", 30
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["totals"]["zones_not_contiguous"] == 0
    assert summary["solve"]["metric_crs"] == "EPSG:4547"  # CGCS2000 3° Gauss-Krüger CM 114E
    overload = sum(s["overload"] for s in summary["schools"])
    # at least the shortfall; a little more where a school's own 小区 alone exceeds its seats (anchor rule)
    assert 7740 - 5650 - 1e-6 <= overload <= (7740 - 5650) * 1.05
    # the objective's child-km hold the overload's penalty: the plan line says how much (a tester read
    # 332,988.5 child-km for trips of about 921)
    assert re.search(r"; of it [\d,.]+ is the penalty of [\d,.]+ children over seats", result.output)
    # the school table's columns line up under Chinese names (two terminal columns a character)
    rows = [line for line in result.output.splitlines() if re.search(r"\d%  ", line) and "学" in line]
    assert rows and len({_width(line[: line.index("%")]) for line in rows}) == 1


def test_hangzhou_swapped_lonlat_is_detected_and_fixed(tmp_path):
    d = pd.read_csv(shared("hangzhou_gongshu_edu_groups", "campuses.csv"))
    prim = d[d["campus_name"].str.contains("小学")]
    mid = d[d["campus_name"].str.contains("中学")]
    # the source's own mistake: latitude under 经度 and longitude under 纬度
    pd.DataFrame(
        {
            "小区名称": prim["campus_name"] + prim.index.astype(str),
            "适龄儿童": 100,
            "经度": prim["lat_gcj02"],
            "纬度": prim["lon_gcj02"],
        }
    ).to_csv(tmp_path / "b.csv", index=False)
    pd.DataFrame(
        {"学校名称": mid["campus_name"], "学位数": 2000, "经度": mid["lat_gcj02"], "纬度": mid["lon_gcj02"]}
    ).to_csv(tmp_path / "s.csv", index=False)
    result = run("validate", tmp_path / "b.csv", tmp_path / "s.csv", "--coords", "gcj02")
    assert result.exit_code == 0, result.output
    assert "swap" in no_traceback(result).lower()


# ----------------------------------------------------------------------------------- districts (学区)

BAOAN = DEMO.parent / "shenzhen_baoan_xuequ2" / "schools_xuequ2_gcj02.geojson"
BAOAN_ARGS = [
    str(BAOAN),
    "--coords",
    "gcj02",
    "--classes-col",
    "grade1_classes_2024",
    "--district-col",
    "xuequ_no",
]


@pytest.fixture(scope="module")
def baoan_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("baoan") / "out"
    result = run("districts", *BAOAN_ARGS, "--districts", 4, "--require-stage", "junior_middle=1",
                 "--seats-tolerance", 0.25, "--out", out, "--time-limit", 30)  # fmt: skip
    return out, result


def test_districts_on_schools_alone_writes_every_output(baoan_out):
    out, result = baoan_out
    assert result.exit_code == 0, result.output
    # proven optimal by CP-SAT, or by branch and cut within the requested gap (HiGHS stops at its own
    # tolerance), or the best found: whichever comes first; never a plan without its status
    assert any(
        f"School districts: {status}" in result.output
        for status in ("proven optimal", "optimal within the requested gap", "best plan found")
    ), result.output
    assert (
        "balanced: schools (5–16 per district), seats; not balanced: children (no data), quality (no data)"
        in result.output
    )
    layers = set(pyogrio.list_layers(out / "plan.gpkg")[:, 0])
    assert layers == {"zones", "schools", "districts"}
    schools = gpd.read_file(out / "plan.gpkg", layer="schools")
    assert schools.groupby("district_id")["is_lead"].sum().eq(1).all()
    assert schools.groupby("district_id")["stage"].apply(lambda s: (s == "junior_middle").any()).all()
    districts = gpd.read_file(out / "plan.gpkg", layer="districts")
    assert len(districts) == 4 and districts["n_schools"].sum() == 41
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    d = summary["districts"]
    assert d["after"]["districts"] == 4 and d["before"]["districts"] == 1
    assert d["after"]["balance_deviation"]["seats"] <= 0.25 + 1e-9
    table = pd.read_csv(out / "plan.csv", encoding="utf-8-sig")
    assert len(table) == 41 and {"district_id", "is_lead", "lead_name"} <= set(table.columns)


def test_districts_map_opens_offline_without_errors(baoan_out, tmp_path):
    out, _ = baoan_out
    png = tmp_path / "map.png"
    result = render(out / "map.html", png)
    assert result.console_errors == []
    html = (out / "map.html").read_text(encoding="utf-8")
    assert "学区" in html and not re.search(
        r'<(script|link|img)[^>]+(src|href)="https?://', html
    )  # nothing from the internet
    pixels = read_png(png)
    assert len({tuple(p) for p in pixels.reshape(-1, pixels.shape[-1])[::97]}) > 20


def test_partition_with_districts_groups_the_zones(tmp_path):
    out = tmp_path / "out"
    result = run("partition", *DEMO_ARGS, "--districts", 2, "--seats-tolerance", 0.5, "--children-tolerance", 0.5,
                 "--out", out, "--time-limit", 30)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Plan: " in result.output and "School districts: " in result.output
    assert set(pyogrio.list_layers(out / "plan.gpkg")[:, 0]) == {"blocks", "zones", "schools", "districts"}
    blocks = gpd.read_file(out / "plan.gpkg", layer="blocks")
    assert blocks["district_id"].notna().all()


def test_district_flags_that_cannot_work_are_explained():
    r = run("districts", *BAOAN_ARGS, "--districts", 50, "--out", "never")
    assert r.exit_code == 1 and "50 districts asked for 41 schools" in no_traceback(r)
    r = run(
        "districts", *BAOAN_ARGS, "--districts", 15, "--require-stage", "junior_middle=1", "--out", "never"
    )
    assert r.exit_code == 1 and "13 school(s) qualify for 15 districts" in no_traceback(r)
    r = run("districts", *BAOAN_ARGS, "--districts", 4, "--require", "特色=科技", "--out", "never")
    assert r.exit_code == 1 and "特色" in no_traceback(r)
    r = run("districts", *BAOAN_ARGS, "--districts", 4, "--together", "西湾小学", "--out", "never")
    assert r.exit_code == 2 and "give two" in r.output
    r = run("districts", *BAOAN_ARGS, "--districts", 4, "--together", "西湾小学,不存在小学", "--out", "never")
    assert r.exit_code == 1 and 'no school is called "不存在小学"' in no_traceback(r)
    r = run("districts", *BAOAN_ARGS, "--out", "never")
    assert r.exit_code == 2 and "--districts K" in r.output
    r = run("districts", *BAOAN_ARGS, "--districts", 4, "--min-coverage", "120%", "--out", "never")
    assert r.exit_code == 2


def test_progress_lines_when_not_a_terminal_and_none_with_quiet(tmp_path):
    # issue 16: a long solve says how far it is (a line redrawn in place on a terminal; here, plain lines)
    result = run("partition", *DEMO_ARGS, "--out", tmp_path / "a", "--time-limit", 4, "--workers", 1)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("progress: [")]
    assert lines and "best plan" in lines[-1] and "proven within" in lines[-1]
    final = float(re.search(r"proven within ([\d.]+) %", lines[-1]).group(1))
    summary_gap = float(re.search(r"Plan: .*gap ([\d.]+) %", result.output).group(1))
    assert abs(final - summary_gap) < 0.006  # the last progress line agrees with the plan's summary
    quiet = run("-q", "partition", *DEMO_ARGS, "--out", tmp_path / "b", "--time-limit", 4, "--workers", 1)
    assert quiet.exit_code == 0 and "progress: " not in quiet.output and "warning:" not in quiet.output


def test_every_counted_warning_is_printed_and_quiet_prints_none(tmp_path):
    # a tester's sweep: "2 warning(s): see above" with nothing above (the warnings of the districts' own
    # checks went only to summary.json); -q still printed the table and the count
    rows = ["学校名称,学位数,办学性质,经度,纬度"]
    for k in range(12):
        kind = "" if k in (2, 7) else ("公办", "民办")[k % 2]
        rows.append(f"第{k}小学,{400 + 10 * k},{kind},{113.90 + 0.01 * (k % 4)},{22.50 + 0.01 * (k // 4)}")
    path = tmp_path / "schools.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    args = ("districts", path, "--districts", 2, "--mix-col", "办学性质", "--time-limit", 5, "--workers", 1)
    result = run(*args, "--out", tmp_path / "a")
    text = no_traceback(result)
    assert result.exit_code == 0, text
    shown = {line for line in text.splitlines() if line.startswith("warning: ")}
    counted = int(re.search(r"(\d+) warning\(s\): see above", text).group(1))
    assert len(shown) >= counted >= 1
    assert any("第2小学" in line and "第7小学" in line and "blank" in line for line in shown)
    quiet = run("-q", *args, "--out", tmp_path / "b")
    assert quiet.exit_code == 0 and quiet.output.strip() == "", quiet.output


def test_coordinate_columns_can_be_named_with_the_flag_the_message_suggests(tmp_path):
    # a tester's sweep: the message said "name the column with --lon-col", an option no command had
    path = tmp_path / "schools.csv"
    rows = ["学校名称,学位数,坐标X,坐标Y"] + [f"第{k}小学,500,{113.90 + 0.01 * k},22.5{k}" for k in range(4)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    refused = run("districts", path, "--districts", 1, "--out", tmp_path / "a")
    assert refused.exit_code == 1 and "--school-lon-col NAME" in refused.output, refused.output
    ok = run("districts", path, "--districts", 1, "--out", tmp_path / "b", "--time-limit", 5,
             "--school-lon-col", "坐标X", "--school-lat-col", "坐标Y")  # fmt: skip
    assert ok.exit_code == 0, no_traceback(ok)


def test_a_new_plan_over_an_old_folder_says_its_announcement_is_stale(tmp_path):
    # a tester's sweep: `partition --overwrite` replaced the plan and left announce.md from the previous one
    # (seats 260 where the new plan has 130) with no word
    out = tmp_path / "out"
    assert run("partition", *DEMO_ARGS, "--out", out, "--time-limit", 5, "--workers", 1).exit_code == 0
    assert run("announce", out).exit_code == 0
    again = run("partition", *DEMO_ARGS, "--out", out, "--time-limit", 5, "--workers", 1, "--overwrite")
    text = no_traceback(again)
    assert again.exit_code == 0 and "announce.md" in text and "describe an earlier plan" in text, text
    assert "zoning announce" in text and "zoning report" not in text


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def test_an_excel_sheet_is_named_with_the_layer_option_the_message_gives(tmp_path):
    # a tester's sweep: a schools workbook with a 说明 sheet beside the table could not be read by any command
    # (the message said "choose one with --sheet NAME", an option no command had)
    import openpyxl

    schools = gpd.read_file(DEMO / "schools.geojson")
    book = openpyxl.Workbook()
    book.active.title = "学校"
    book.active.append(["学校代码", "学校名称", "学位数", "经度", "纬度"])
    for row in schools.itertuples():
        book.active.append([row.school_id, row.name, row.capacity, row.geometry.x, row.geometry.y])
    book.create_sheet("说明").append(["2026 年学位，来源：教育局"])
    book.save(tmp_path / "schools.xlsx")
    args = ["partition", DEMO / "blocks.geojson", tmp_path / "schools.xlsx", "--students-col", "students_k4"]
    refused = run(*args, "--out", tmp_path / "a")
    assert refused.exit_code == 1, no_traceback(refused)
    assert 'choose one with --schools-layer "学校"' in refused.output, refused.output
    ok = run(*args, "--schools-layer", "学校", "--out", tmp_path / "b", "--time-limit", 5)
    assert ok.exit_code == 0, no_traceback(ok)
    assert len(json.loads((tmp_path / "b" / "summary.json").read_text())["schools"]) == 5


def test_last_years_plan_read_as_this_years_blocks_starts_from_that_plan(demo_out, tmp_path):
    # a tester's sweep of the yearly cycle: partition of last year's plan.gpkg counted children moved against
    # its current_school, the assignment before last year's plan (85 moved where the plan itself moves none)
    out, first = demo_out
    assert first.exit_code == 0
    moved_last_year = json.loads((out / "summary.json").read_text())["totals"]["children_moved"]
    assert moved_last_year > 10
    args = ["partition", out / "plan.gpkg", DEMO / "schools.geojson", "--blocks-layer", "blocks"]
    again = run(*args, "--out", tmp_path / "a", "--time-limit", 10)
    assert again.exit_code == 0, no_traceback(again)
    assert 'its zones (column "school_id") are read as the current schools' in again.output
    totals = json.loads((tmp_path / "a" / "summary.json").read_text())["totals"]
    assert totals["children_moved"] == 0 and totals["blocks_with_current_school"] == 317
    older = run(*args, "--current-school-col", "current_school", "--out", tmp_path / "b", "--time-limit", 10)
    assert older.exit_code == 0 and "are read as the current schools" not in older.output, older.output
    moved = json.loads((tmp_path / "b" / "summary.json").read_text())["totals"]["children_moved"]
    assert moved > 10  # against the assignment before last year's plan, as before


def test_a_map_of_education_groups_names_them_groups_when_drawn_and_drawn_again(tmp_path):
    # a tester's sweep: districts --groups wrote a map whose legend and layers said 学区 Districts, and
    # `zoning map DIR` titled it "10 学区 school districts" as well
    path = tmp_path / "schools.csv"
    rows = ["学校名称,学位数,办学质量,经度,纬度"] + [
        f"第{k}小学,500,{'优质' if k < 2 else '一般'},{113.90 + 0.01 * k},22.5{k}" for k in range(6)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    made = run("districts", path, "--districts", 2, "--groups", "--out", tmp_path / "a", "--time-limit", 5)
    assert made.exit_code == 0, no_traceback(made)
    again = run("map", tmp_path / "a", "--out", tmp_path / "b")
    assert again.exit_code == 0, no_traceback(again)
    for page in (tmp_path / "a" / "map.html", tmp_path / "b" / "map.html"):
        text = page.read_text(encoding="utf-8")
        assert "2 教育集团 education groups" in text and "2 教育集团 Groups" in text, page
        assert "学区" not in text, page


def test_quiet_publishing_and_scenario_commands_print_nothing(demo_out, tmp_path):
    # a tester's sweep: with -q (errors only) scenario printed its changes, announce its counts, and report,
    # map and compare --out the files they wrote
    out, first = demo_out
    assert first.exit_code == 0
    spec = tmp_path / "s.toml"
    spec.write_text('[[expand]]\nschool = "Small"\nadd = 60\n', encoding="utf-8")
    for args in (
        ["scenario", out, spec, "--out", tmp_path / "s", "--time-limit", 4, "--workers", 1],
        ["announce", out, "--out", tmp_path / "a"],
        ["report", out, "--out", tmp_path / "r"],
        ["map", out, "--out", tmp_path / "m"],
        ["compare", out, tmp_path / "s", "--out", tmp_path / "c"],
    ):
        result = run("-q", *args)
        assert result.exit_code == 0 and result.output.strip() == "", (args[0], result.output)
    table = run("-q", "compare", out, tmp_path / "s")  # without --out the table is the output
    assert table.exit_code == 0 and "| 方案 plan |" in table.output


def test_next_years_blocks_take_their_current_school_from_last_years_plan(demo_out, tmp_path):
    # a tester's sweep of the yearly cycle: next year's children come in a new blocks file, and the current
    # schools are last year's plan, which no option read: the planner joined plan.csv to the file by hand
    out, first = demo_out
    assert first.exit_code == 0
    blocks = gpd.read_file(DEMO / "blocks.geojson").drop(columns=["current_school_plurality"])
    blocks.iloc[3:].to_file(tmp_path / "blocks_2027.geojson")  # three blocks gone
    args = ["partition", tmp_path / "blocks_2027.geojson", DEMO / "schools.geojson", "--students-col",
            "students_k4", "--time-limit", 10, "--current-plan", out]  # fmt: skip
    result = run(*args, "--out", tmp_path / "a")
    assert result.exit_code == 0, no_traceback(result)
    assert "3 block(s) of the plan of" in result.output and "are not zoned this time" in result.output
    totals = json.loads((tmp_path / "a" / "summary.json").read_text())["totals"]
    assert totals["blocks_with_current_school"] == 314 and totals["children_moved"] < 5  # last year's zones
    plan = pd.read_csv(tmp_path / "a" / "plan.csv", dtype=str).set_index("block_id")
    last = pd.read_csv(out / "plan.csv", dtype=str).set_index("block_id")
    assert (plan["school_id"] == last.loc[plan.index, "school_id"]).mean() > 0.95
    # ids with leading zeros against the plan's (a code column Excel kept as text on one side only)
    padded = tmp_path / "padded.geojson"
    blocks.assign(block_id="00" + blocks["block_id"].astype(str)).to_file(padded)
    result = run(*args[:1], padded, *args[2:], "--out", tmp_path / "p")
    assert result.exit_code == 0, no_traceback(result)
    assert "317 block id(s) of" in result.output and "only by leading zeros" in result.output
    assert (
        json.loads((tmp_path / "p" / "summary.json").read_text())["totals"]["blocks_with_current_school"]
        == 317
    )
    # with schools opening on the way (--opens-col), the horizon's blocks start from last year's plan too
    kids = blocks["students_k4"]
    blocks.iloc[3:].assign(c2026=kids, c2027=kids).to_file(tmp_path / "years.geojson")
    schools = gpd.read_file(DEMO / "schools.geojson").assign(开办年份="")
    schools.to_file(tmp_path / "schools.geojson")
    result = run("partition", tmp_path / "years.geojson", tmp_path / "schools.geojson", "--students-col",
                 "students_k4", "--years", "2026=c2026,2027=c2027", "--opens-col", "开办年份", "--time-limit",
                 8, "--current-plan", out, "--out", tmp_path / "h")  # fmt: skip
    assert result.exit_code == 0, no_traceback(result)
    horizon = json.loads((tmp_path / "h" / "summary.json").read_text())["totals"]
    assert horizon["blocks_with_current_school"] == 314  # (the blocks file names no current school)
    other = tmp_path / "other.geojson"
    blocks.assign(block_id=[f"X{k}" for k in range(len(blocks))]).to_file(other)
    refused = run(*args[:1], other, *args[2:], "--out", tmp_path / "b")
    assert refused.exit_code == 1 and "none of the 317 blocks of" in no_traceback(refused)
    # a current-school column of the blocks file that the plan replaces is not read: a stale one (a school
    # renamed since) was refused ("row 1, column 现划片学校: names no school") though the plan replaced it
    stale = tmp_path / "stale.geojson"
    blocks.assign(现划片学校="Nowhere School").to_file(stale)
    result = run(*args[:1], stale, *args[2:], "--out", tmp_path / "st")
    assert result.exit_code == 0, no_traceback(result)
    totals = json.loads((tmp_path / "st" / "summary.json").read_text())["totals"]
    assert totals["blocks_with_current_school"] == 317 and totals["children_moved"] < 5
    # a school of last year's plan closed since: its blocks' children count as moved, with the warning
    schools = gpd.read_file(DEMO / "schools.geojson")
    schools[schools["school_id"] != "Kaler"].to_file(tmp_path / "four.geojson")
    result = run(
        args[0], DEMO / "blocks.geojson", tmp_path / "four.geojson", *args[3:], "--out", tmp_path / "k"
    )
    assert result.exit_code == 0, no_traceback(result)
    assert "name a current school that is not among the schools (Kaler)" in result.output
