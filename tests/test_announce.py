"""The 划片 announcement (zoning announce / zoning.announce): every block listed once, under its school (and its
社区 with --group-col); every block that changes school listed once, under its pair 原学校 → 新学校."""

from __future__ import annotations

import shutil

import docx
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import zoning
from conftest import DEMO, DEMO_ARGS, ROOT, shared
from test_cli import _baoan_csvs
from zoning.cli import main
from zoning.io.inputs import read_plan_folder
from zoning.publish.announce import NEWLY_ZONED, announcement, announcement_changes, announcement_markdown

BAOAN = ROOT / "data" / "shenzhen_baoan_xuequ2" / "schools_xuequ2_gcj02.geojson"

FAST = zoning.SolveOptions(time_limit_s=5, workers=1)


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_every_block_is_listed_once_under_its_school(portland, tmp_path):
    blocks, schools = portland
    plan = zoning.assign_zones(blocks, schools, options=FAST)
    files = zoning.announce(plan, tmp_path)
    table = pd.read_csv(files["announce.csv"], encoding="utf-8-sig", dtype=str)
    assert len(table) == len(plan.blocks) and table["block_name"].is_unique
    want = dict(zip(plan.blocks["name"].astype(str), plan.blocks["school_id"].astype(str)))
    assert dict(zip(table["block_name"], table["school_id"])) == want
    text = files["announce.md"].read_text(encoding="utf-8")
    for _, school in plan.schools.iterrows():
        n = int((plan.blocks["school_id"] == school["school_id"]).sum())
        assert f"{school['name']}（学位 seats {school['capacity']:,.0f}；小区 blocks {n}）" in text
    assert set(files) == {"announce.md", "announce.docx", "announce.csv", "announce_changes.csv"}
    document = docx.Document(files["announce.docx"])
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert len(headings) == len(plan.schools) + 1 and headings[-1].startswith("调整情况")
    assert sum(p.text.count("、") + 1 for p in document.paragraphs if "catchment" in p.text) == len(
        plan.blocks
    )
    # the files are kept unless overwrite
    with pytest.raises(zoning.InputError, match="announce.md"):
        zoning.announce(plan, tmp_path)


def test_blocks_are_listed_under_their_group(portland):
    blocks, schools = portland
    plan = zoning.assign_zones(blocks, schools, options=FAST)
    tracts = dict(zip(blocks["block_id"].astype(str), "社区" + blocks["block_id"].astype(str).str[5:11]))
    sections = announcement(plan.blocks, plan.schools, groups=tracts)
    assert sum(sec.n_blocks for sec in sections) == len(plan.blocks)
    text = announcement_markdown(sections)
    assert "**社区" in text and "：" in text
    for sec in sections:
        groups = [g for g, _ in sec.groups]
        assert len(groups) == len(set(groups))


def test_baoan_announcement_lists_chinese_names(tmp_path):
    bp, sp = _baoan_csvs(tmp_path)  # GBK, Chinese headers, GCJ-02: 小区 are the primary schools' names
    out = tmp_path / "out"
    assert _run("partition", bp, sp, "--coords", "gcj02", "--allow-overload", "--out", out).exit_code == 0
    result = _run("announce", out)
    assert result.exit_code == 0, result.output
    assert "each listed once under its school" in result.output
    text = (out / "announce.md").read_text(encoding="utf-8")
    table = pd.read_csv(out / "plan.csv", encoding="utf-8-sig", dtype=str)
    for name in table["name"]:
        assert text.count(name + "、") + text.count(name + "。") >= 1
    # no current assignment in these files: the changes section says so in one line, with no table
    changes = text.split("## 调整情况")[1]
    lines = [line for line in changes.splitlines()[1:] if line]
    assert len(lines) == 1 and "没有现行划片" in lines[0] and "|" not in changes
    assert "no current assignment" in result.output
    assert _run("announce", out).exit_code == 1  # exists already: kept


def test_districts_and_their_leads_head_each_school(tmp_path):
    out = tmp_path / "out"
    leads = "Brown Elementary School,Kaler Elementary School"
    args = ["partition", *DEMO_ARGS, "--districts", 2, "--leads", leads, "--time-limit", 5, "--out", out]
    assert _run(*args).exit_code == 0
    assert (
        _run("announce", out, "--out", tmp_path / "ann", "--title", "2027年 划片 (征求意见稿)").exit_code == 0
    )
    text = (tmp_path / "ann" / "announce.md").read_text(encoding="utf-8")
    assert text.startswith("# 2027年 划片 (征求意见稿)")
    assert text.count("学区长学校 lead Brown Elementary School") + text.count("学区长学校 lead Kaler") == 5


def test_education_groups_head_each_school_as_groups(portland, tmp_path):
    # a tester's sweep: zones with education groups (partition --districts 2 --groups) were announced as
    # "学区 district 2，学区长学校 lead …", in Python and by `zoning announce`
    out = tmp_path / "out"
    args = ["partition", *DEMO_ARGS, "--districts", 2, "--groups", "--time-limit", 5, "--out", out]
    assert _run(*args).exit_code == 0
    assert _run("announce", out).exit_code == 0
    blocks, schools = portland
    plan = zoning.form_districts(schools, n_districts=2, groups=True, plan=zoning.assign_zones(blocks, schools,
                                 options=FAST), options=FAST)  # fmt: skip
    zoning.announce(plan, tmp_path / "py")
    for text in ((out / "announce.md").read_text(encoding="utf-8"), (tmp_path / "py" / "announce.md").read_text(
            encoding="utf-8")):  # fmt: skip
        assert text.count("教育集团 group ") == 5 and text.count("，牵头学校 lead ") == 5
        assert "学区" not in text


def test_a_folder_without_a_plan_is_named(tmp_path):
    result = _run("announce", tmp_path)
    assert result.exit_code == 1
    assert "plan.gpkg" in result.output and str(tmp_path) in result.output
    assert "Traceback" not in result.output


def test_sections_are_numbered_as_a_chinese_notice():
    from zoning.publish.announce import _number

    assert [_number(k) for k in (1, 10, 12, 20, 25, 99, 100)] == [
        "一",
        "十",
        "十二",
        "二十",
        "二十五",
        "九十九",
        "100",
    ]


# ------------------------------------------------------------------------------ 调整情况: what changes


def _pairs_in_markdown(text: str) -> dict[tuple[str, str], tuple[list[str], str]]:
    """The changes table of announce.md: (原学校, 新学校) → (小区 names, children)."""
    rows = [line for line in text.split("## 调整情况")[1].splitlines() if line.startswith("| ")][1:]
    out = {}
    for row in rows:
        a, b, names, children = [c.strip() for c in row.strip("|").split(" | ")]
        assert (a, b) not in out  # each pair once
        out[(a, b)] = (names.split("、"), children)
    return out


def test_changes_list_every_moved_block_once_under_its_pair(portland, tmp_path):
    blocks, schools = portland
    plan = zoning.assign_zones(blocks, schools, options=FAST)
    zoning.check_plan(plan)
    files = zoning.announce(plan, tmp_path)
    name_of = dict(zip(plan.schools["school_id"], plan.schools["name"]))
    b = plan.blocks
    no_current = b["current_school"].isna()
    want = {  # block → (from, to) for every block whose school changes, from the plan itself
        row.block_id: (NEWLY_ZONED if pd.isna(row.current_school) else name_of[row.current_school], name_of[row.school_id])
        for row in b[b["moved"] | no_current].itertuples()
    }  # fmt: skip
    assert b["moved"].sum() > 10 and no_current.sum() >= 1  # South Portland has both
    table = pd.read_csv(files["announce_changes.csv"], encoding="utf-8-sig", dtype={"block_id": str})
    assert table["block_id"].is_unique
    assert {r.block_id: (r.from_school_name, r.to_school_name) for r in table.itertuples()} == want
    kids = dict(zip(b["block_id"], b["students"]))
    assert np.allclose(table["children"], table["block_id"].map(kids))
    # announce.md: one row per pair, listing exactly its blocks (the names are the ids here) and children
    pairs = _pairs_in_markdown(files["announce.md"].read_text(encoding="utf-8"))
    listed = [block for names, _ in pairs.values() for block in names]
    assert sorted(listed) == sorted(want)  # every changed block once, no unmoved block
    for (a, c), (names, children) in pairs.items():
        assert all(want[block] == (a, c) for block in names)
        assert float(children.replace(",", "")) == pytest.approx(sum(kids[n] for n in names), abs=0.051)
    document = docx.Document(files["announce.docx"])
    assert len(document.tables) == 1 and len(document.tables[0].rows) == len(pairs) + 1


def test_changes_without_a_current_assignment_say_so_in_one_line(portland, tmp_path):
    blocks, schools = portland
    plan = zoning.assign_zones(blocks.assign(current_school=None), schools, options=FAST)
    files = zoning.announce(plan, tmp_path)
    section = files["announce.md"].read_text(encoding="utf-8").split("## 调整情况")[1]
    assert [line for line in section.splitlines()[1:] if line] == ["数据中没有现行划片（current_school），无从比较。 The data carry no current assignment (current_school), so there is nothing to compare."]  # fmt: skip
    assert not docx.Document(files["announce.docx"]).tables
    assert len(pd.read_csv(files["announce_changes.csv"], encoding="utf-8-sig")) == 0


def test_newly_zoned_closing_and_named_current_schools():
    schools = pd.DataFrame({"school_id": ["A", "B"], "name": ["甲小学", "乙小学"]})
    blocks = pd.DataFrame(
        {
            "block_id": ["1", "2", "3", "4", "5"],
            "name": ["东苑", "西苑", "南苑", "北苑", "中苑"],
            "school_id": ["A", "A", "B", "B", "B"],
            "students": [10.0, 20.0, 30.0, 40.0, 5.0],
            # by id, by name (the same school: not a change), empty, a school that closes, by name
            "current_school": ["A", "甲小学", "", "旧校", "甲小学"],
        }
    )
    changes = announcement_changes(blocks, schools)
    assert list(zip(changes["block_name"], changes["from_school_name"], changes["to_school_name"])) == [
        ("中苑", "甲小学", "乙小学"),
        ("北苑", "旧校", "乙小学"),
        ("南苑", NEWLY_ZONED, "乙小学"),
    ]
    text = announcement_markdown(announcement(blocks, schools), changes=changes)
    assert "| 新划入 newly zoned | 乙小学 | 南苑 | 30 |" in text
    assert "2 个小区调整学校（45 名儿童），1 个小区新划入（30 名儿童）" in text
    assert announcement_changes(blocks.assign(current_school=None), schools) is None


# ------------------------------------------------------------------- --group-col: 小区 under their 社区


@pytest.fixture(scope="module")
def portland_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("portland") / "plan"
    assert _run("partition", *DEMO_ARGS, "--time-limit", 5, "--out", out).exit_code == 0
    return out


def test_group_col_from_the_original_blocks_file(portland_dir, tmp_path):
    result = _run(
        "announce",
        portland_dir,
        "--out",
        tmp_path,
        "--group-col",
        "tract",
        "--blocks",
        DEMO / "blocks.geojson",
    )
    assert result.exit_code == 0, result.output
    assert 'Grouped by "tract"' in result.output and "其他" not in result.output
    tract = gpd.read_file(DEMO / "blocks.geojson").set_index("block_id")["tract"]
    table = pd.read_csv(tmp_path / "announce.csv", encoding="utf-8-sig", dtype=str)
    assert len(table) == 317 and table["block_name"].is_unique  # every block once
    assert (table["group"] == table["block_name"].map(tract)).all()  # under its own tract
    text = (tmp_path / "announce.md").read_text(encoding="utf-8")
    for section in text.split("\n## ")[1:-1]:  # each school: every tract once, its blocks under it
        heads = [line for line in section.splitlines() if line.startswith("**")]
        assert len(heads) == len(set(heads)) >= 1
        for line in heads:
            group, names = line[2:].split("**：")
            assert {tract[n] for n in names.rstrip("。").split("、")} == {group}


def test_group_col_from_the_plan_itself(portland_dir, tmp_path):
    """A planner who added 社区 to plan.gpkg's blocks (in QGIS, say) needs no --blocks."""
    layers, _ = read_plan_folder(portland_dir)
    shutil.copy(portland_dir / "summary.json", tmp_path / "summary.json")
    blocks = layers["blocks"].assign(社区=lambda f: "社区" + f["block_id"].str[5:11])
    blocks.loc[blocks.index[:3], "社区"] = None  # not filled in for three blocks
    for name, layer in {**layers, "blocks": blocks}.items():
        layer.to_file(tmp_path / "plan.gpkg", layer=name, driver="GPKG")
    result = _run("announce", tmp_path, "--group-col", "社区")
    assert result.exit_code == 0, result.output
    assert "3 blocks have none there, listed under 其他 other" in result.output
    text = (tmp_path / "announce.md").read_text(encoding="utf-8")
    assert "**社区003100**：" in text and text.count("其他 other：") >= 1
    table = pd.read_csv(tmp_path / "announce.csv", encoding="utf-8-sig", dtype=str)
    assert table["group"].isna().sum() == 3 and len(table) == 317


def test_an_unknown_group_col_names_the_file_and_the_nearest_columns(portland_dir, tmp_path):
    blocks_file = DEMO / "blocks.geojson"
    result = _run(
        "announce", portland_dir, "--out", tmp_path, "--group-col", "tracts", "--blocks", blocks_file
    )
    assert result.exit_code == 1
    assert str(blocks_file) in result.output and 'has no column "tracts"' in result.output
    assert 'The nearest: "tract"' in result.output and "Traceback" not in result.output
    # not kept in the plan: the fix is to name the blocks file
    result = _run("announce", portland_dir, "--out", tmp_path, "--group-col", "社区")
    assert result.exit_code == 1
    assert "plan.gpkg" in result.output and "--blocks FILE" in result.output
    # a blocks file that is not the plan's
    result = _run(
        "announce",
        portland_dir,
        "--out",
        tmp_path,
        "--group-col",
        "school_name",
        "--blocks",
        BAOAN,
        "--block-id-col",
        "school_id",
    )
    assert result.exit_code == 1 and "holds none of the plan's 317 blocks" in result.output
    assert not list(tmp_path.iterdir())  # nothing written
    assert (
        _run("announce", portland_dir, "--blocks", blocks_file).exit_code == 2
    )  # --blocks needs --group-col


def test_baoan_group_col_in_chinese(tmp_path):
    """Bao'an's primary schools (the 小区 here) under the catchment they share (共享学区), read from the GBK file."""
    bp, sp = _baoan_csvs(tmp_path)
    blocks = pd.read_csv(bp, encoding="gbk")
    source = pd.read_csv(shared("shenzhen_baoan_2024", "schools.csv"))
    area = dict(zip(source["school_name"], source["catchment_text"]))
    blocks["共享学区"] = blocks["小区名称"].map(area)
    blocks.to_csv(bp, index=False, encoding="gbk")
    out = tmp_path / "out"
    assert (
        _run(
            "partition", bp, sp, "--coords", "gcj02", "--allow-overload", "--time-limit", 5, "--out", out
        ).exit_code
        == 0
    )
    result = _run("announce", out, "--group-col", "共享学区", "--blocks", bp)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "announce.csv", encoding="utf-8-sig", dtype=str)
    assert len(table) == len(blocks) and table["block_name"].is_unique
    assert (table["group"] == table["block_name"].map(area)).all()
    result = _run("announce", out, "--overwrite", "--group-col", "学区", "--blocks", bp)
    assert result.exit_code == 1 and '"共享学区"' in result.output  # the nearest header, in Chinese


def test_read_blocks_keeps_further_columns(portland):
    kept = zoning.read_blocks(
        DEMO / "blocks.geojson",
        columns={"students": "students_k4", "current_school": "current_school_plurality"},
        keep=["tract"],
    )
    tract = gpd.read_file(DEMO / "blocks.geojson")["tract"]
    assert kept["tract"].tolist() == tract.tolist()
    assert kept.drop(columns="tract").equals(portland[0])
    with pytest.raises(zoning.InputError, match='has no column "trakt". The nearest: "tract"'):
        zoning.read_blocks(DEMO / "blocks.geojson", columns={"students": "students_k4"}, keep=["trakt"])


def test_districts_drawn_on_schools_alone_have_nothing_to_announce(portland, tmp_path):
    plan = zoning.form_districts(portland[1], n_districts=2, options=FAST)
    zoning.write_plan(plan, tmp_path)
    result = _run("announce", tmp_path)
    assert result.exit_code == 1 and "districts drawn on schools alone" in result.output
    assert "zoning partition" in result.output


def test_block_lists_read_numbers_as_numbers():
    # a tester's sweep: 网格1号 came after 网格19号 (sorted as text)
    from zoning.publish.announce import _natural

    names = ["网格19号", "网格1号", "网格2号", "3栋", "12栋", "网格10号"]
    assert sorted(names, key=_natural) == ["3栋", "12栋", "网格1号", "网格2号", "网格10号", "网格19号"]


def test_a_plan_of_districts_on_schools_alone_is_not_announced(tmp_path):
    # an analyst's sweep: zoning.announce wrote every school with "招生范围 catchment：（无 none）"
    import geopandas as gpd
    import numpy as np
    import pytest

    import zoning

    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 5000, (8, 2))
    schools = gpd.GeoDataFrame(
        {"school_id": [f"S{k}" for k in range(8)], "capacity": [400.0] * 8},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs="EPSG:32650",
    ).to_crs(4326)  # fmt: skip
    plan = zoning.form_districts(
        schools, n_districts=2, options=zoning.SolveOptions(time_limit_s=3, workers=1)
    )
    with pytest.raises(zoning.InputError, match="no 小区 / blocks to announce"):
        zoning.announce(plan, tmp_path / "out")
