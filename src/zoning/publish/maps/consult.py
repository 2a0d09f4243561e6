"""What a resident needs during public comment (公开征求意见): find their 小区, read its school now and proposed.

* **Search**: a box under the title; typing any part of a 小区's name or id (Chinese, or Latin letters for
  English data; case and spaces ignored), or of a school's name, lists up to ``SEARCH_LIMIT`` matches as
  you type (those that start with it first).  Choosing one (click, or arrow keys and Enter) centres the
  map on it (from zoom ``SEARCH_ZOOM``, where blocks show at city scale too), outlines the block and
  opens its popup.
* **Popups** (also on a click on a block or school): a block's school and 学区 now and proposed, the
  distance to each, and "changes" / "no change"; a school's seats, children and utilisation now and
  proposed, quality tier, 学区 and lead school.
* **Before / after**: with a current assignment (``current_school``), the zones of today
  (:func:`current_zones`) are a second zone layer to switch to, and the blocks that change are a layer of
  their own (``layers._change_layer``).

Everything is one compact JSON table in the page (:func:`consult_data`) read by a few lines of plain
JavaScript (ES5, for old ward-office browsers); nothing is fetched.  At 50,000 blocks the table is about
70 bytes a block and a search scans it in a few milliseconds.
"""

from __future__ import annotations

import html
import math
from collections.abc import Hashable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.template import Template

from .assets import _Raw
from .layers import _js_literal
from .style import CHANGE_COLOUR, FOUND_COLOUR, _missing, _plain_id, _truthy, tr, tr_districts, tr_units

#: Matches listed under the search box.
SEARCH_LIMIT = 10
#: Zoom a search result is shown at (at least): about 2.4 m a pixel, a 小区 and its streets.
SEARCH_ZOOM = 16
#: The search box's element id (one map per page: a notebook shows each map in its own frame).
SEARCH_ID = "zoning-search"

CSS = f"""
.zoning-search {{ margin-top: 6px; position: relative; }}
.zoning-search input {{
  width: 21em; max-width: 100%; box-sizing: border-box; font: inherit; padding: 3px 6px;
  border: 1px solid #888; border-radius: 3px;
}}
.zoning-search ul {{
  list-style: none; margin: 2px 0 0 0; padding: 0; max-height: 40vh; overflow-y: auto;
  background: #fff; border: 1px solid #bbb; border-radius: 3px;
}}
.zoning-search li {{ padding: 3px 6px; cursor: pointer; }}
.zoning-search li.zoning-active, .zoning-search li:hover {{ background: #e8eef7; }}
.zoning-muted {{ color: #666; }}
.zoning-popup h3 {{ font-size: 14px; margin: 0 0 4px 0; }}
.zoning-popup table {{ border-collapse: collapse; }}
.zoning-popup th {{
  text-align: left; font-weight: normal; color: #555; padding: 1px 8px 1px 0; vertical-align: top;
  white-space: nowrap;
}}
.zoning-popup td {{ padding: 1px 0; }}
.zoning-change {{ color: {CHANGE_COLOUR}; font-weight: 700; margin-top: 4px; }}
.zoning-same {{ color: #2e7d32; font-weight: 700; margin-top: 4px; }}
"""


def search_html() -> str:
    """The search box (a text field and its list of matches), placed in the title box."""
    text = tr_units("搜索{u}或学校", "Find a {u} or school")
    hint = html.escape(text)
    # wide enough for the hint in full (a feeder map's "搜索小学片区或学校 Find a primary zone or school" was
    # cut at 21 em): a Chinese character about 1 em, a Latin one about half, and the padding
    em = max(21, math.ceil(sum(1.0 if ord(c) > 0x2E7F else 0.55 for c in text) + 2))
    return (
        f'<div class="zoning-search" id="{SEARCH_ID}"><input type="search" placeholder="{hint}" '
        f'style="width: {em}em" '
        f'aria-label="{hint}" autocomplete="off" role="combobox" aria-expanded="false">'
        '<ul role="listbox" hidden></ul></div>'
    )


def current_zones(blocks: gpd.GeoDataFrame, schools: gpd.GeoDataFrame) -> gpd.GeoDataFrame | None:
    """The zones of today: the blocks dissolved by ``current_school``, with each school's children now.

    None when no block has a current school, or the blocks are points (their zones have no area: the
    blocks themselves show the change)."""
    if not len(blocks) or "current_school" not in blocks.columns:
        return None
    known = blocks[blocks["current_school"].notna()]
    if not len(known) or not known.geom_type.isin(["Polygon", "MultiPolygon"]).any():
        return None
    students = pd.to_numeric(known["students"], errors="coerce").fillna(0.0)
    zones = (
        gpd.GeoDataFrame(
            {"school_id": known["current_school"].to_numpy(), "students": students.to_numpy()},
            geometry=known.geometry.to_numpy(),
            crs=blocks.crs,
        )
        .dissolve(by="school_id", aggfunc="sum")
        .reset_index()
    )
    info = schools.drop_duplicates("school_id").set_index("school_id")
    zones["name"] = zones["school_id"].map(info["name"]).fillna(zones["school_id"].astype(str))
    capacity = pd.to_numeric(zones["school_id"].map(info["capacity"]), errors="coerce")
    zones["capacity"] = capacity
    zones["utilisation"] = np.where(capacity > 0, zones["students"] / capacity.where(capacity > 0), np.nan)
    return zones


def consult_data(
    blocks: gpd.GeoDataFrame,
    block_geoms: gpd.GeoSeries,
    schools: gpd.GeoDataFrame,
    school_geoms: gpd.GeoSeries,
    district_of: dict | None,
    *,
    decimals: int,
) -> dict:
    """The table the search and the popups read: blocks and schools by row, coordinates in the map's
    lon/lat (``block_geoms`` and ``school_geoms`` as drawn), schools by their row in ``schools``."""
    sids = schools["school_id"].tolist()
    index: dict[Hashable, int] = {}
    for j, sid in enumerate(sids):
        index.setdefault(sid, j)
    has_now = bool(
        len(blocks) and "current_school" in blocks.columns and blocks["current_school"].notna().any()
    )

    students = pd.to_numeric(blocks["students"], errors="coerce") if len(blocks) else pd.Series(dtype=float)
    now_idx = _school_index(blocks["current_school"] if has_now else None, index, len(blocks))
    new_idx = _school_index(blocks["school_id"] if len(blocks) else None, index, len(blocks))
    before = _before_district(schools)
    now_children = np.bincount(
        now_idx[now_idx >= 0], weights=students.fillna(0).to_numpy()[now_idx >= 0], minlength=len(sids)
    )
    quality = _quality(schools)
    lead_name = schools["lead_name"] if "lead_name" in schools.columns else pd.Series([None] * len(schools))
    is_lead = schools["is_lead"] if "is_lead" in schools.columns else pd.Series([False] * len(schools))
    return {
        "has_now": has_now,
        "zoom": SEARCH_ZOOM,
        "limit": SEARCH_LIMIT,
        "t": _labels(),
        "s": {
            "n": [str(v) for v in schools["name"]],
            "d": [_label(district_of.get(sid)) if district_of else None for sid in sids],
            "d0": [_label(v) for v in before] if before is not None else [None] * len(sids),
            "lead": [None if _missing(v) else str(v) for v in lead_name],
            "star": [_truthy(v) for v in is_lead],
            "q": quality,
            "cap": _numbers(schools["capacity"] if "capacity" in schools.columns else None, len(sids)),
            "now": [round(float(x), 1) for x in now_children] if has_now else None,
            "new": _numbers(schools["students"] if "students" in schools.columns else None, len(sids)),
            "ll": _latlon(school_geoms, decimals),
        },
        "b": {
            "n": [str(v) for v in (blocks["name"] if "name" in blocks.columns else blocks["block_id"])],
            "id": [str(v) for v in blocks["block_id"]] if len(blocks) else [],
            "ll": _latlon(block_geoms, decimals),
            "now": now_idx.tolist() if has_now else None,
            "new": new_idx.tolist(),
            "dn": _metres(blocks.get("current_distance_m")) if has_now else None,
            "dp": _metres(blocks.get("distance_m")),
            "st": _numbers(students, len(blocks)),
        },
    }


def _school_index(column: pd.Series | None, index: dict, n: int) -> np.ndarray:
    if column is None:
        return np.full(n, -1, dtype=np.int64)
    return np.array([-1 if _missing(v) else index.get(v, -1) for v in column], dtype=np.int64)


def _before_district(schools: gpd.GeoDataFrame) -> pd.Series | None:
    """The existing grouping of the schools (``district_before`` in a plan folder, ``district`` in a plan)."""
    for column in ("district_before", "district"):
        if column in schools.columns and schools[column].notna().any():
            return schools[column]
    return None


def _label(value) -> str | None:
    return None if value is None or _missing(value) else _plain_id(value)


def _quality(schools: gpd.GeoDataFrame) -> list[str | None]:
    """The quality tier as residents read it: 优质 for the high-quality schools, with the score if any.

    A school is called standard only where its score is known, or where the data mark some schools high
    quality: without quality data (every ``high_quality`` false, no scores) nothing is said."""
    high = schools["high_quality"] if "high_quality" in schools.columns else None
    score = schools["quality"] if "quality" in schools.columns else None
    any_high = high is not None and any(_truthy(v) for v in high)
    out = []
    for k in range(len(schools)):
        known = score is not None and not _missing(score.iloc[k])
        parts = []
        if high is not None and not _missing(high.iloc[k]) and (known or any_high):
            parts.append(tr("优质", "high quality") if _truthy(high.iloc[k]) else tr("一般", "standard"))
        if known:
            parts.append(f"({_label(score.iloc[k])})")
        out.append(" ".join(parts) or None)
    return out


def _numbers(column, n: int) -> list[float | None]:
    if column is None:
        return [None] * n
    values = pd.to_numeric(pd.Series(column), errors="coerce").round(1)
    return [None if pd.isna(v) else float(v) for v in values]


def _metres(column) -> list[int] | None:
    if column is None:
        return None
    values = pd.to_numeric(pd.Series(column), errors="coerce")
    return [-1 if pd.isna(v) else int(round(float(v))) for v in values]


def _latlon(geoms: gpd.GeoSeries, decimals: int) -> list[float]:
    """[lat, lon, lat, lon, …]: a point inside each geometry (a 小区's name reads where it lies)."""
    if not len(geoms):
        return []
    values = np.asarray(geoms.values, dtype=object)
    missing = shapely.is_missing(values) | shapely.is_empty(values)
    points = np.empty(len(values), dtype=object)
    points[~missing] = shapely.point_on_surface(values[~missing])
    xy = np.full((len(values), 2), np.nan)
    if (~missing).any():
        xy[~missing] = shapely.get_coordinates(points[~missing])
    xy = np.round(xy, decimals)
    return [None if np.isnan(v) else float(v) for v in xy[:, ::-1].ravel()]


def _labels() -> dict:
    return {
        "now": tr("现在", "Now"),
        "proposed": tr("调整后", "Proposed"),
        "school": tr("学校", "School"),
        "change": tr("有变化", "Changes"),
        "same": tr("不变", "No change"),
        "students": tr("学生", "Children"),
        "seats": tr("学位", "Seats"),
        "use": tr("使用率", "Utilisation"),
        "district": tr_districts("{d}", "{D}"),
        "lead": tr_districts("{lead}", "Lead school"),
        "quality": tr("办学质量", "Quality"),
        "none": tr("无", "none"),
        "nothing": tr("没有找到", "No match"),
        "more": tr("还有 {n} 个，请输入更多字", "{n} more: type more letters"),
        "arrow": tr("现在 → 调整后", "now → proposed"),
    }


class Consult(MacroElement):
    """The search box's behaviour and the popups (the box itself is markup in the title box)."""

    _template = Template("")

    def __init__(self, data: dict):
        super().__init__()
        self._name = "ZoningConsult"
        self.table = data

    def render(self, **kwargs) -> None:
        """Put the script into the page verbatim (never parsed as a template: names may hold ``{{``)."""
        script = (
            _SCRIPT.replace("__MAP__", self._parent.get_name())
            .replace("__DATA__", _js_literal(self.table))
            .replace("__SEARCH__", SEARCH_ID)
            .replace("__FOUND__", FOUND_COLOUR)
        )
        self.get_root().script.add_child(_Raw(script), name=self.get_name())
        super().render(**kwargs)


_SCRIPT = """
(function () {
  var map = __MAP__, D = __DATA__, T = D.t, B = D.b, S = D.s;
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; });
  }
  function num(x) { return (x === null || x === undefined || x < 0) ? "\\u2014" : Math.round(x).toLocaleString("en-US"); }
  function dist(m) {
    if (m === null || m === undefined || m < 0) { return ""; }
    return m < 1000 ? Math.round(m) + " m" : (m / 1000).toFixed(1) + " km";
  }
  function use(children, seats) {
    if (children === null || children === undefined || !seats) { return "\\u2014"; }
    var u = children / seats, text = Math.round(100 * u) + "%";
    return u > 1 + 1e-9 ? "<span class='zoning-over'>" + text + "</span>" : text;
  }
  function at(ll, k) { return L.latLng(ll[2 * k], ll[2 * k + 1]); }
  function row(label, value) { return "<tr><th>" + label + "</th><td>" + value + "</td></tr>"; }
  function school(j, district, metres) {
    if (j < 0) { return T.none; }
    var d = district[j], away = dist(metres);
    return "<b>" + esc(S.n[j]) + "</b>" + (d === null ? "" : "<br>" + T.district + " " + esc(d)) +
      (away ? "<br><span class='zoning-muted'>" + away + "</span>" : "");
  }
  function blockHtml(i) {
    var h = "<div class='zoning-popup'><h3>" + esc(B.n[i]) + "</h3>";
    if (B.id[i] !== B.n[i]) { h += "<div class='zoning-muted'>" + esc(B.id[i]) + "</div>"; }
    h += "<table>";
    if (D.has_now) { h += row(T.now, school(B.now[i], S.d0, B.dn[i])); }
    h += row(D.has_now ? T.proposed : T.school, school(B["new"][i], S.d, B.dp[i]));
    h += row(T.students, num(B.st[i])) + "</table>";
    if (D.has_now) {
      h += B.now[i] === B["new"][i] ? "<div class='zoning-same'>" + T.same + "</div>"
                                    : "<div class='zoning-change'>" + T.change + "</div>";
    }
    return h + "</div>";
  }
  function schoolHtml(j) {
    var h = "<div class='zoning-popup'><h3>" + esc(S.n[j]) + (S.star[j] ? " \\u2605" : "") + "</h3><table>";
    if (S.d[j] !== null) { h += row(T.district, esc(S.d[j])); }
    if (S.lead[j] !== null) { h += row(T.lead, esc(S.lead[j])); }
    if (S.q[j] !== null) { h += row(T.quality, esc(S.q[j])); }
    if (S.cap[j] !== null) { h += row(T.seats, num(S.cap[j])); }
    if (D.has_now) {
      h += row(T.students, num(S.now[j]) + " \\u2192 " + num(S["new"][j]));
      h += row(T.use, use(S.now[j], S.cap[j]) + " \\u2192 " + use(S["new"][j], S.cap[j]));
      return h + "</table><div class='zoning-muted'>" + T.arrow + "</div></div>";
    }
    if (S["new"][j] !== null) { h += row(T.students, num(S["new"][j])) + row(T.use, use(S["new"][j], S.cap[j])); }
    return h + "</table></div>";
  }
  var lit = null;
  function unlight() { if (lit) { lit[0].setStyle(lit[1]); lit = null; } }
  function light(layer) {
    if (!layer || !layer.setStyle) { return; }
    var o = layer.options;
    lit = [layer, {color: o.color, weight: o.weight, opacity: o.opacity, dashArray: o.dashArray || null}];
    layer.setStyle({color: "__FOUND__", weight: 5, opacity: 1, dashArray: null});
    if (layer.bringToFront) { layer.bringToFront(); }
  }
  map.on("popupclose", unlight);
  window.zoningOpenBlock = function (i, latlng, layer) {
    L.popup({maxWidth: 320}).setLatLng(latlng || at(B.ll, i)).setContent(blockHtml(i)).openOn(map);
    light(layer || (window.zoningBlocks || {})[i]);
  };
  window.zoningOpenSchool = function (j) {
    L.popup({maxWidth: 320, offset: [0, -6]}).setLatLng(at(S.ll, j)).setContent(schoolHtml(j)).openOn(map);
  };

  var box = document.getElementById("__SEARCH__");
  if (!box) { return; }
  var input = box.querySelector("input"), list = box.querySelector("ul");
  var keys = null, hits = [], active = -1;
  function norm(s) { return String(s).toLowerCase().replace(/\\s+/g, ""); }
  function index() {
    keys = [];
    for (var j = 0; j < S.n.length; j++) { keys.push([norm(S.n[j]), "", 0, j]); }
    for (var i = 0; i < B.n.length; i++) { keys.push([norm(B.n[i]), norm(B.id[i]), 1, i]); }
  }
  function find(q) {
    var first = [], rest = [], more = 0;
    for (var k = 0; k < keys.length; k++) {
      var a = keys[k][0].indexOf(q), b = keys[k][1].indexOf(q);
      if (a < 0 && b < 0) { continue; }
      if (a === 0 || b === 0) { if (first.length < D.limit) { first.push(keys[k]); } else { more++; } }
      else if (rest.length < D.limit) { rest.push(keys[k]); } else { more++; }
    }
    var all = first.concat(rest);
    return [all.slice(0, D.limit), more + Math.max(0, all.length - D.limit)];
  }
  function item(html, cls) {
    var li = document.createElement("li");
    li.innerHTML = html;
    if (cls) { li.className = cls; }
    list.appendChild(li);
    return li;
  }
  function mark() {
    var items = list.querySelectorAll("li[role=option]");
    for (var n = 0; n < items.length; n++) { items[n].className = n === active ? "zoning-active" : ""; }
  }
  function show() {
    var q = norm(input.value);
    list.innerHTML = ""; active = -1; hits = [];
    if (!q) { list.hidden = true; input.setAttribute("aria-expanded", "false"); return; }
    if (!keys) { index(); }
    var found = find(q);
    hits = found[0];
    hits.forEach(function (k) {
      var text = k[2] === 0 ? "<b>" + esc(S.n[k[3]]) + "</b> <span class='zoning-muted'>" + T.school + "</span>"
        : esc(B.n[k[3]]) + (B["new"][k[3]] >= 0 ? " <span class='zoning-muted'>\\u00b7 " + esc(S.n[B["new"][k[3]]]) + "</span>" : "");
      var li = item(text);
      li.setAttribute("role", "option");
      li.addEventListener("mousedown", function (ev) { ev.preventDefault(); choose(k); });
    });
    if (!hits.length) { item(T.nothing, "zoning-muted"); }
    else if (found[1] > 0) { item(T.more.replace("{n}", found[1]), "zoning-muted"); }
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }
  function choose(k) {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.value = k[2] === 0 ? S.n[k[3]] : B.n[k[3]];
    var ll = at(k[2] === 0 ? S.ll : B.ll, k[3]);
    map.setView(ll, Math.max(map.getZoom(), D.zoom), {animate: false});
    if (k[2] === 0) { window.zoningOpenSchool(k[3]); }
    else { window.zoningOpenBlock(k[3], ll); }
  }
  input.addEventListener("input", show);
  input.addEventListener("focus", function () { if (input.value) { show(); } });
  input.addEventListener("blur", function () { list.hidden = true; input.setAttribute("aria-expanded", "false"); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      if (hits.length) {
        active = e.key === "ArrowDown" ? (active + 1) % hits.length : (active <= 0 ? hits.length - 1 : active - 1);
        mark();
      }
      e.preventDefault();
    } else if (e.key === "Enter") {
      if (hits.length) { choose(hits[Math.max(active, 0)]); }
      e.preventDefault();
    } else if (e.key === "Escape") {
      list.hidden = true;
    }
  });
})();
"""
