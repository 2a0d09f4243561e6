"""The printed report of a plan, for the bureau's meeting: ``report.html`` and ``report.pdf``.

What the meeting asks, in the order it asks it: how good the plan is proven to be (status, gap, bound), how many
children and seats, how many children change school and how far they travel, then every school (seats,
children, use, distance; before → after when the data carry the current assignment), every district (学区:
lead, seats, children, quality, 优质学校覆盖率), the distance histogram and the maps, what changes, and the
warnings.

The report reads only what a plan folder holds (the layers of ``plan.gpkg`` and ``summary.json``), so
``zoning report DIR`` and ``zoning.report(plan, …)`` give the same document.  ``report.html`` is
self-contained (figures as base64 PNG, CSS inline, no script, nothing fetched); ``report.pdf`` is the same page
laid out by WeasyPrint on A4.  No CJK font need be installed: the figures and the PDF use Noto Sans CJK SC
(SIL Open Font License) as shipped by the ``mplfonts`` package, which WeasyPrint embeds as a subset with its
ToUnicode map (so the PDF's Chinese can be searched and copied); the HTML names common Chinese fonts, which any
Chinese desktop has.  Both files are written through ``io.save`` (both or none).
"""

from __future__ import annotations

import datetime
import html
import importlib.util
import json
import logging
import os
import time
from base64 import b64encode
from importlib.metadata import version
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..check.metrics import summary as plan_summary
from ..errors import ZoningError
from ..io.save import bytes_writer, json_text, text_writer, write_files
from ..plan import district_words, unit_words, units_of, zones_title
from ..zones.problem import OVERLOAD_PENALTY_M
from .announce import announcement_changes, change_pairs, current_schools
from .export import plan_layers

__all__ = ["REPORT_FILES", "cjk_font_file", "report", "report_html", "report_pdf", "write_report"]

log = logging.getLogger(__name__)

REPORT_FILES = ("report.html", "report.pdf")
#: The font file (in the mplfonts package) that writes Chinese in the figures and the PDF.
CJK_FONT = "NotoSansCJKsc-Regular.otf"
#: The HTML's fonts: what Chinese desktops have (the PDF uses the CJK_FONT file instead).
_FONTS = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", "WenQuanYi Micro Hei", '
    "sans-serif"
)
_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm;
        @bottom-center { content: counter(page) " / " counter(pages); font-size: 8pt; color: #666;
                         font-family: FONTS; } }
body { font-family: FONTS; font-size: 9.5pt; line-height: 1.45; color: #222; max-width: 190mm; margin: 0 auto; }
h1 { font-size: 17pt; margin: 0 0 2pt; }
h2 { font-size: 12.5pt; margin: 16pt 0 5pt; border-bottom: 1px solid #999; break-after: avoid; }
p.meta { color: #555; margin: 0 0 10pt; }
table { border-collapse: collapse; width: 100%; margin: 4pt 0 8pt; font-size: 8.5pt; }
th, td { border: 1px solid #bbb; padding: 2pt 4pt; vertical-align: top; }
th { background: #eef2f6; text-align: left; }
td.n { text-align: right; white-space: nowrap; }
tr { break-inside: avoid; }
table.facts td:first-child { width: 38%; color: #444; }
figure { margin: 6pt 0; break-inside: avoid; text-align: center; }
figure img { max-width: 100%; height: auto; }
figcaption { font-size: 8pt; color: #555; }
p.note, li { font-size: 8.5pt; }
.over { color: #b30000; font-weight: bold; }
""".replace("FONTS", _FONTS)


# ------------------------------------------------------------------------------------------------ the font


def cjk_font_file() -> Path:
    """The Noto Sans CJK SC font file shipped by ``mplfonts`` (found without importing the package, which
    would load matplotlib); a ZoningError saying how to install it when it is missing."""
    spec = importlib.util.find_spec("mplfonts")
    path = Path(spec.origin).parent / "fonts" / CJK_FONT if spec and spec.origin else None
    if path is None or not path.exists():
        raise ZoningError(
            f"the report needs the Chinese font {CJK_FONT} of the mplfonts package. "
            "Fix: pip install mplfonts (zoning's own install brings it)."
        )
    return path


# ---------------------------------------------------------------------------------------------- the figures


def _metric_crs(summary: dict, frame: gpd.GeoDataFrame) -> str:
    """The metric CRS the plan was solved in (summary.json says which), else the UTM zone of the data."""
    for solve in (summary.get("solve"), (summary.get("districts") or {}).get("solve")):
        if solve and solve.get("metric_crs"):
            return solve["metric_crs"]
    return frame.estimate_utm_crs().to_string()


def _before_distance(
    blocks: gpd.GeoDataFrame, schools: gpd.GeoDataFrame, current: list, crs: str
) -> np.ndarray:
    """Metres from each block to its current school: the plan's own figure when the blocks carry it, else a
    straight line in the metric CRS (as ``check.metrics`` measures "before"); NaN without a current school."""
    if "current_distance_m" in blocks:
        return blocks["current_distance_m"].to_numpy(dtype=float)
    index = pd.Index(schools["school_id"].astype(str)).get_indexer(
        [c if c is not None else "" for c in current]
    )
    out = np.full(len(blocks), np.nan)
    known = index >= 0
    if known.any():
        points = shapely.point_on_surface(blocks.geometry.to_crs(crs).values[known])
        out[known] = shapely.distance(points, schools.geometry.to_crs(crs).values[index[known]])
    return out


# ----------------------------------------------------------------------------------------------- the tables


def _num(x, digits: int = 0, *, percent: bool = False) -> str:
    """A number as the tables show it; — for unknown."""
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "—"
    if percent:
        return f"{100 * x:.{digits}f} %"
    return f"{x:,.{digits}f}"


def _children(x) -> str:
    """Children: whole numbers without decimals, estimates (fractions) with one."""
    if x is None or not np.isfinite(x):
        return "—"
    return f"{x:,.0f}" if abs(x - round(x)) < 1e-6 else f"{x:,.1f}"


def _arrow(before: str | None, after: str) -> str:
    return after if before is None else f"{before} → {after}"


def _school_table(blocks: gpd.GeoDataFrame, summary: dict, current: list, before_m: np.ndarray | None) -> str:
    """Per school: seats, children, use, mean and max trip; when the current assignment is known, the
    children, use and mean trip of today's zones before an arrow, and the children moved in."""
    head = ["学校 school", "学位 seats", "儿童 children", "使用率 use", "平均距离 mean (m)", "最远 max (m)"]
    now = None
    if before_m is not None:
        head.append("调入 moved in")
        kids = blocks["students"].to_numpy(dtype=float)
        frame = pd.DataFrame({"school": current, "k": kids, "km": np.nan_to_num(before_m) * kids})
        now = frame.groupby("school")[["k", "km"]].sum()  # today's zones (blocks of no school left out)
    rows = []
    for s in summary.get("schools", []):
        sid, seats = str(s["school_id"]), s["capacity"]
        use = _num(s["utilisation"], percent=True)
        children, mean = _children(s["students"]), _num(s["mean_distance_m"])
        if now is not None:
            k = float(now["k"].get(sid, 0.0))
            children = _arrow(_children(k), children)
            use = _arrow(_num(k / seats if seats else None, percent=True), use)
            mean = _arrow(_num(float(now["km"].get(sid, 0.0)) / k if k > 0 else None), mean)
        if (s.get("overload") or 0) > 1e-9:
            use = f"<span class=over>{use}</span>"
        row = [html.escape(str(s["name"])), _num(seats), children, use, mean, _num(s["max_distance_m"])]
        rows.append(row + ([_children(s.get("moved_in", 0.0))] if now is not None else []))
    return _table(head, rows, numeric=set(range(1, len(head))))


def _table(head: list[str] | None, rows: list[list[str]], *, numeric=frozenset(), cls: str = "") -> str:
    """An HTML table (``head`` None: without a header row); cells are HTML already (escape names before)."""
    out = [f"<table{f' class={cls}' if cls else ''}>"]
    if head is not None:
        out += ["<thead><tr>", *(f"<th>{h}</th>" for h in head), "</tr></thead>"]
    out.append("<tbody>")
    for row in rows:
        cells = "".join(f"<td{' class=n' if c in numeric else ''}>{v}</td>" for c, v in enumerate(row))
        out.append(f"<tr>{cells}</tr>")
    return "".join(out) + "</tbody></table>"


def _proof(solve: dict) -> list[list[str]]:
    """The proof of a solve in planner's words: status, objective and lower bound, gap, time; of a given plan
    (``zoning evaluate``, status "given") its cost alone: it was measured, not solved."""
    key = next(k for k in solve if k.startswith("objective_"))
    suffix = key[len("objective_") :]
    label = {"child_m": "child-km", "seat_m": "seat-km", "school_m": "school-km"}.get(suffix, suffix)
    if solve.get("gap") is None:
        return [
            ["求解状态 status", "给定方案，未求解 given plan, measured (nothing solved)"],
            ["目标值 / 下界 objective / proven lower bound", f"{solve[key] / 1000:,.1f} / — {label}"],
            ["与最优的差距 proven gap", "— (未求解 not solved)"],
        ]
    gap = float(solve["gap"])
    if gap <= 1e-9:
        status = "已证明最优 proven optimal"
    elif solve["status"] == "optimal":
        status = "在要求的差距内最优 optimal within the requested gap"
    else:
        status = "时限内的最好方案 best plan found in the time limit"
    return [
        ["求解状态 status", status],
        [
            "目标值 / 下界 objective / proven lower bound",
            f"{solve[key] / 1000:,.1f} / {solve[f'lower_bound_{suffix}'] / 1000:,.1f} {label}",
        ],
        [
            "与最优的差距 proven gap",
            "0 %" if gap == 0 else f"≤ {100 * gap:.2f} %" if gap >= 1e-4 else f"≤ {100 * gap:.2g} %",
        ],
        ["求解时间 time", f"{solve['seconds']:.1f} s"],
    ]


def _zone_facts(summary: dict) -> list[list[str]]:
    t, b = summary["totals"], summary.get("before")
    u_zh, _, us_en = unit_words(summary.get("rules"))
    facts = _proof(summary["solve"])
    over = sum(float(r.get("overload") or 0.0) for r in summary.get("schools", []))
    if over > 1e-9 and summary["solve"].get("status") != "given":
        # with schools over their seats the objective's child-km hold the overload's penalty, which dwarfs
        # the trips: say how much (the command line says it too)
        facts.append(["其中超额惩罚 of it, the overload's penalty",
                      f"{over * OVERLOAD_PENALTY_M / 1000:,.1f} child-km ({over:,.1f} 名儿童超出学位 children over "
                      f"seats × {OVERLOAD_PENALTY_M / 1000:,.0f} km)"])  # fmt: skip
    # where only some blocks name a current school, "before" is over those: the whole city's rows show the
    # plan alone, and one row sets the before against the plan over the same blocks
    whole = b if b and "blocks_with_current" not in b else None
    road = ", 道路 by road" if t.get("distance_measure") == "road" else ""
    facts += [
        [f"{u_zh} {us_en} / 学校 schools", f"{t['blocks']:,} / {t['schools']:,}"],
        ["儿童 children" + (" (估算 estimated)" if t.get("children_estimated") else ""), _children(t["children"])],
        ["学位 seats", _num(t["seats"])],
        ["调整学校的儿童 children moved", _moved(t, u_zh, us_en)],
        ["平均距离 mean distance (m)" + road, _arrow(_num(whole["mean_distance_m"]) if whole else None,
                                                      _num(t["mean_distance_m"]))],
    ]  # fmt: skip
    if b and not whole:
        facts.append([
            f"现行划片只覆盖 {b['blocks_with_current']:,}/{b['blocks']:,} 个{u_zh}的平均距离 mean distance (m) over "
            f"the {b['blocks_with_current']:,} of {b['blocks']:,} {us_en} with a current school" + road,
            f"{_num(b['mean_distance_m'])} → {_num(b['after_mean_distance_m'])}",
        ])  # fmt: skip
    facts += [
        ["最远距离 max distance (m)" + road, _arrow(_num(whole["max_distance_m"]) if whole else None,
                                                     _num(t["max_distance_m"]))],
        ["超员学校 schools over capacity", _arrow(str(whole["schools_over_capacity"]) if whole else None,
                                                 str(t["schools_over_capacity"]))],
        ["不连片的片区 zones in more than one piece", str(t["zones_not_contiguous"])],
    ]  # fmt: skip
    if b:
        facts.append(["", "现行 → 方案: current assignment → plan"])
    return facts


def _moved(t: dict, u_zh: str, us_en: str) -> str:
    """Children moved, and over which blocks: only those naming a current school can move."""
    known = t.get("blocks_with_current_school", t["blocks"])
    if not known:
        return "— (无现行划片 no current zones)"
    if known < t["blocks"]:
        return (
            f"{_children(t['children_moved'])} (现行划片已知的 {known:,} / {t['blocks']:,} 个{u_zh} "
            f"of the {known:,} of {t['blocks']:,} {us_en} with a current school)"
        )
    return _children(t["children_moved"])


def _words(d: dict | None) -> dict[str, str]:
    """The words naming the districts of the ``districts`` section ``d`` of a summary.json
    (:func:`zoning.plan.district_words`), keyed for the report's templates."""
    zh, en, ens, lead = district_words((d or {}).get("rules"))
    return {"d": zh, "en": en, "ens": ens, "Ens": ens.capitalize(), "lead": lead}


def _district_facts(d: dict) -> list[list[str]]:
    a, r = d["after"], d["rules"]
    w = _words(d)
    facts = _proof(d["solve"])
    facts += [
        ["类型 kind", html.escape(f"{a['districts']} {r['kind']}")],
        ["均衡 balance", html.escape(r["balance"])],
        ["优质学校覆盖率 coverage rate", _coverage_cell(a, r)],
        [
            "{d}间质量差 quality spread (Gini)".format(**w),
            "—"
            if a.get("quality_spread") is None
            else (
                f"{a['quality_spread']:,.0f}" if a["quality_spread"] >= 1000 else f"{a['quality_spread']:.3g}"
            )
            + f" ({a['quality_gini']:.3f})",
        ],
        [
            "距{lead} distance to the lead, mean / max (m)".format(**w),
            f"{_num(a.get('mean_distance_to_lead_m'))} / {_num(a.get('max_distance_to_lead_m'))}",
        ],
    ]
    dev = {k: v for k, v in (a.get("balance_deviation") or {}).items() if v is not None}
    if dev:
        names = {"schools": "学校 schools", "seats": "学位 seats", "children": "儿童 children"}
        facts.append(
            [
                "与平均的最大偏差 largest deviation from the average",
                "，".join(f"{names[k]} {100 * v:.0f} %" for k, v in dev.items()),
            ]
        )
    return facts


def _coverage_cell(after: dict, rules: dict) -> str:
    """The coverage rate, with the rate asked for and the proven ceiling where there are."""
    cell = _num(after.get("coverage_rate"), 1, percent=True)
    if rules.get("min_coverage") is not None:
        cell += f" (≥ {100 * rules['min_coverage']:.0f} % asked"
        if rules.get("coverage_ceiling") is not None:
            cell += f"; at most {100 * rules['coverage_ceiling']:.1f} % possible"
        cell += ")"
    return cell


def _district_table(d: dict) -> str:
    """One row per district (the columns with no figure in any district left out), then every district's
    members."""
    w = _words(d)
    columns = [
        ("{d} {en}".format(**w), lambda r: html.escape(str(r["district_id"])), False),
        ("{lead} lead".format(**w), lambda r: html.escape(str(r["lead_name"])), False),
        ("学校 schools", lambda r: str(r["n_schools"]), True),
        ("学位 seats", lambda r: _num(r.get("capacity")), True),
        ("儿童 children", lambda r: _children(r.get("students")), True),
        ("使用率 use", lambda r: _num(r.get("utilisation"), percent=True), True),
        ("平均质量 mean quality", lambda r: _num(r.get("mean_quality"), 2), True),
        ("质量差 spread", lambda r: _num(r.get("quality_spread"), 2), True),
        ("含优质校 covered", lambda r: "是 yes" if r.get("covered") else "否 no", False),
        ("最远到{lead} max to lead (m)".format(**w), lambda r: _num(r.get("max_distance_to_lead_m")), True),
    ]
    if not any(r.get("mean_quality") is not None for r in d["districts"]):
        columns = [c for c in columns if c[0] != "含优质校 covered"]  # no quality data: nothing is covered
    cells = [[show(r) for _, show, _ in columns] for r in d["districts"]]
    keep = [c for c in range(len(columns)) if c < 2 or any(row[c] != "—" for row in cells)]
    table = _table(
        [columns[c][0] for c in keep],
        [[row[c] for c in keep] for row in cells],
        numeric={k for k, c in enumerate(keep) if columns[c][2]},
    )
    members = "".join(
        f"<li><b>{html.escape(str(r['district_id']))}</b>（{html.escape(str(r['lead_name']))}）："
        f"{html.escape(str(r['members']))}</li>"
        for r in d["districts"]
        if r.get("members")
    )
    return table + (f"<p class=note>成员学校 members:</p><ul>{members}</ul>" if members else "")


def _changes_section(changes: pd.DataFrame | None, units: dict | None = None) -> str:
    """The changes by pair of schools; ``units``: the plan's rules, naming its blocks (a feeder's: 小学片区)."""
    u_zh, u_en, us_en = unit_words(units)
    if changes is None:
        return "<p>数据中没有现行划片（current_school），无从比较。 The data carry no current assignment.</p>"
    if not len(changes):
        return f"<p>没有{u_zh}调整学校。 No {u_en} changes school.</p>"
    rows = [
        [html.escape(a), html.escape(b), str(len(names)), _children(children)]
        for a, b, names, children in change_pairs(changes)
    ]
    note = f"<p class=note>每个{u_zh}的名单见 announce.md / announce_changes.csv（zoning announce）。 The {us_en} of every pair: zoning announce.</p>"
    return (
        _table(["原学校 from", "新学校 to", f"{u_zh} {us_en}", "儿童 children"], rows, numeric={2, 3}) + note
    )


def _figure(png: bytes, caption: str, dpi: float) -> str:
    """A PNG inline (base64), printed at the size matplotlib drew it (150 dpi), at most the page's width."""
    width_mm = int.from_bytes(png[16:20], "big") / dpi * 25.4  # the IHDR chunk: width in pixels
    data = b64encode(png).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(caption)}" style="width: {width_mm:.0f}mm" '
        f'src="data:image/png;base64,{data}"><figcaption>{caption}</figcaption></figure>'
    )


# ------------------------------------------------------------------------------------------------ the page


def default_title(summary: dict) -> str:
    d = summary.get("districts")
    if d is None:
        return " ".join(zones_title(units_of(summary.get("rules"))))
    label = (
        "教育集团方案 Education groups"
        if d["rules"]["kind"] == "education groups"
        else "学区方案 School districts"
    )
    return label + (" · 划片 attendance zones" if "totals" in summary else "")


def _summary_section(summary: dict, has_zones: bool) -> list[str]:
    facts = _zone_facts(summary) if has_zones else []
    if summary.get("districts"):
        if facts:
            facts.append(["<b>{d} {ens}</b>".format(**_words(summary["districts"])), ""])
        facts += _district_facts(summary["districts"])
    return ["<h2>概要 Summary</h2>", _table(None, facts, cls="facts")]


def _zone_sections(blocks, zones, schools, summary: dict, crs: str, font: Path, figures) -> list[str]:
    """Schools before → after, the distance histogram, and what changes (table and map)."""
    current = current_schools(blocks, schools)
    before_m = (
        _before_distance(blocks, schools, current, crs) if any(c is not None for c in current) else None
    )
    out = ["<h2>学校 Schools</h2>", _school_table(blocks, summary, current, before_m)]
    u_zh, _, us_en = unit_words(summary["rules"])
    if before_m is not None:
        out.append(
            "<p class=note>箭头前为现行划片，箭头后为本方案。 Before the arrow: the current assignment; after it: the plan.</p>"
        )
    kids = blocks["students"].to_numpy(dtype=float)
    png = figures.distance_figure(
        blocks["distance_m"].to_numpy(dtype=float),
        kids,
        before_m=before_m,
        font=font,
    )
    out += [
        "<h2>距离 Distance</h2>",
        _figure(png, "儿童的上学距离（按人数） children by distance to school", figures.DPI),
    ]
    if (
        summary["rules"].get("travel", "straight") != "straight"
        and before_m is not None
        and "current_distance_m" not in blocks
    ):
        out.append(
            "<p class=note>方案为道路距离，现行为直线距离。 Plan: road distance; current: straight line.</p>"
        )
    changes = announcement_changes(blocks, schools)
    out += [
        "<h2>调整情况 Changes against the current assignment</h2>",
        _changes_section(changes, summary["rules"]),
    ]
    if changes is not None and len(changes):
        ids = blocks["block_id"].astype(str).to_numpy()
        new = np.isin(ids, changes.loc[changes["from_school_id"].isna(), "block_id"])
        moved = np.isin(ids, changes["block_id"]) & ~new
        png = figures.changes_figure(
            blocks,
            zones if zones is not None else blocks,
            schools,
            moved=moved,
            newly_zoned=new,
            crs=crs,
            font=font,
        )
        out.append(
            _figure(
                png, f"调整学校或新划入的{u_zh} {us_en} that change school or are newly zoned", figures.DPI
            )
        )
    return out


def _warnings_section(warnings: list[dict], limit: int = 20) -> list[str]:
    if not warnings:
        return []
    items = "".join(
        f"<li>{html.escape(w['message'])}"
        + (f" <i>Fix: {html.escape(w['fix'])}</i>" if w.get("fix") else "")
        + "</li>"
        for w in warnings[:limit]
    )
    more = (
        f"<p class=note>… {len(warnings) - limit} more in summary.json</p>" if len(warnings) > limit else ""
    )
    return [f"<h2>注意 Warnings ({len(warnings)})</h2>", f"<ul>{items}</ul>{more}"]


def report_html(
    layers: dict[str, gpd.GeoDataFrame],
    summary: dict,
    *,
    title: str | None = None,
    date: datetime.date | str | None = None,
) -> str:
    """The report as one self-contained HTML page (figures inline as base64 PNG, no script, nothing fetched).

    ``layers``: the layers of ``plan.gpkg`` (blocks, zones, schools, districts; WGS84), ``summary``: what
    ``summary.json`` holds (see :func:`zoning.summary`).  ``date``: the date printed under the title
    (default today)."""
    from . import figures  # matplotlib loads here, not with zoning: half a second off every other command

    font = cjk_font_file()
    title = title or default_title(summary)
    schools, zones, blocks, districts = (layers.get(k) for k in ("schools", "zones", "blocks", "districts"))
    crs = _metric_crs(summary, schools)
    has_zones = "totals" in summary and blocks is not None
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p class=meta>{html.escape(str(date or datetime.date.today()))} · zoning {version('zoning')}</p>",
        *_summary_section(summary, has_zones),
    ]
    if zones is not None and len(zones):
        w = _words(summary.get("districts"))
        png = figures.zones_figure(zones, schools, districts=districts, crs=crs, font=font, words=w)
        caption = "划片与{d} zones and {ens}".format(**w) if districts is not None else "划片 zones"
        body.append(_figure(png, caption, figures.DPI))
    if summary.get("districts"):
        heading = "<h2>{d} {Ens}</h2>".format(**_words(summary["districts"]))
        body += [heading, _district_table(summary["districts"])]
    if has_zones:
        body += _zone_sections(blocks, zones, schools, summary, crs, font, figures)
    body += _warnings_section(summary.get("warnings") or [])
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def report_pdf(page: str) -> bytes:
    """The HTML report laid out as a PDF on A4 by WeasyPrint, with the CJK font embedded (a subset)."""
    try:  # here, not with zoning: WeasyPrint loads Pango through ctypes, and takes half a second
        import weasyprint
        from weasyprint.text.fonts import FontConfiguration
    except OSError as err:  # Pango missing: everything but the PDF still works
        raise ZoningError(
            f"the PDF needs WeasyPrint's system libraries ({err}). Fix: install Pango (Debian / Ubuntu: "
            "apt-get install libpango-1.0-0 libpangoft2-1.0-0), or see WeasyPrint's installation notes."
        ) from err
    fonts = FontConfiguration()
    css = weasyprint.CSS(
        string=f'@font-face {{ font-family: "Zoning CJK"; src: url("{cjk_font_file().as_uri()}"); }}\n'
        'html, body { font-family: "Zoning CJK", sans-serif; }\n'
        '@page { @bottom-center { font-family: "Zoning CJK", sans-serif; } }',
        font_config=fonts,
    )
    return weasyprint.HTML(string=page).write_pdf(stylesheets=[css], font_config=fonts)


def write_report(
    layers: dict[str, gpd.GeoDataFrame],
    summary: dict,
    out_dir: str | os.PathLike[str],
    *,
    title: str | None = None,
    date: datetime.date | str | None = None,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Write report.html and report.pdf into ``out_dir``: both or none; existing ones are kept unless
    ``overwrite``."""
    t0 = time.perf_counter()
    page = report_html(layers, summary, title=title, date=date)
    t1 = time.perf_counter()
    pdf = report_pdf(page)  # made before anything is written: a failure leaves the folder as it was
    log.info(
        "report: %.1f MB of HTML in %.1f s, %.1f MB of PDF in %.1f s",
        len(page.encode("utf-8")) / 2**20,
        t1 - t0,
        len(pdf) / 2**20,
        time.perf_counter() - t1,
    )
    writers = {"report.html": text_writer(page), "report.pdf": bytes_writer(pdf)}
    return write_files(out_dir, writers, overwrite=overwrite)


def report(
    plan,
    out_dir: str | os.PathLike[str],
    *,
    title: str | None = None,
    date: datetime.date | str | None = None,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Write the printable report of ``plan`` (a :class:`~zoning.Plan`) into ``out_dir``: report.html and
    report.pdf, both or none; existing ones are kept unless ``overwrite``.  The same document as
    ``zoning report`` makes from the plan's folder: it is drawn from the same layers and summary."""
    facts = json.loads(json_text(plan_summary(plan)))  # exactly what summary.json holds
    return write_report(plan_layers(plan), facts, out_dir, title=title, date=date, overwrite=overwrite)
