"""The 划片 announcement (zoning announce / zoning.announce): every block listed once, under its school."""

from __future__ import annotations

import docx
import pandas as pd
import pytest
from click.testing import CliRunner

import zoning
from conftest import DEMO_ARGS
from test_cli import _baoan_csvs
from zoning.cli import main
from zoning.publish.announce import announcement, announcement_markdown

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
    document = docx.Document(files["announce.docx"])
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert len(headings) == len(plan.schools)
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
