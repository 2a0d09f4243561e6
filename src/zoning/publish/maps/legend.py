"""The boxes on the map: the title with the plan in figures, the legend (a row per school or district,
then the symbol key), and the first view fitted to the data around them.
"""

from __future__ import annotations

import html
from collections.abc import Hashable, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import MacroElement
from folium.map import Layer
from folium.template import Template

from .style import (
    BLOCK_MIN_ZOOM,
    CHANGE_COLOUR,
    DISTRICT_COLUMNS,
    OVER_CAPACITY_COLOUR,
    SCHOOL_COLUMNS,
    UNASSIGNED_COLOUR,
    ZONE_FILL_OPACITY,
    _fmt_count,
    _fmt_id,
    _missing,
    _ratio,
    _rgba,
    _rows,
    _star_svg,
    _utilisation_html,
    tr,
    tr_districts,
    tr_units,
)

#: The legend starts open when the view then shows the data at most this many zoom levels smaller than with
#: the legend folded (a quarter level: 84 % of the size); else it starts folded, a click away.
OPEN_LEGEND_ZOOM = 0.25


def _head(zh: str, en: str) -> str:
    """A column heading: both languages on two lines, else the one."""
    text = tr(zh, en)
    return text.replace(" ", "<br>", 1) if zh in text and en in text else text


class _Control(MacroElement):
    """A box of ready-made HTML in a corner of the map.

    The box is plain HTML in the page (readable without JavaScript, and by tests); a Leaflet control moves
    it into its corner, where clicks and the mouse wheel stay inside it.
    """

    _template = Template(
        """
        {% macro html(this, kwargs) %}
        <div id="{{ this.get_name() }}" class="{{ this.css_class }}">{{ this.markup }}</div>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: {{ this.position|tojson }}});
        {{ this.get_name() }}.onAdd = function () {
            var div = document.getElementById({{ this.get_name()|tojson }});
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            return div;
        };
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {%- if this.add_zoom %}
        L.control.zoom({position: {{ this.position|tojson }}}).addTo({{ this._parent.get_name() }});
        {%- endif %}
        {% endmacro %}
        """
    )

    def __init__(self, markup: str, *, position: str, css_class: str, add_zoom: bool = False):
        super().__init__()
        self._name = "ZoningControl"
        self.markup = markup
        self.position = position
        self.css_class = css_class
        self.add_zoom = add_zoom


class _FitBounds(MacroElement):
    """The first view: all the data, and as little of it as possible under the boxes on the map.

    Runs in the browser once the boxes exist, so their real size (fonts, screen) is known.  Each box (title,
    layer switcher, legend) can be cleared by room beside it or above / below it (Leaflet's ``fitBounds``
    with ``paddingTopLeft`` / ``paddingBottomRight``); every combination is tried, with the legend open and
    folded (it is a ``<details>``: a click on its heading opens it).  The view kept is the one where, in
    this order, the legend lies on no shape, the fewest boxes lie on one, the data show largest (the legend
    open when that costs at most ``OPEN_LEGEND_ZOOM`` of a zoom level), the legend is open, and the padding
    is least.  A room that leaves the data less than 35 % of the window's width or height is not tried.  On
    a narrow screen (a phone) the legend starts folded, and the layer switcher is moved up when it would lie
    on it.  The title box is kept clear of the layer switcher (narrowed to the room beside it, or the switcher
    goes under it where that room is under 240 px), also when the window is resized.

    What hides what is measured on the shapes as drawn: the zone polygons (a rectangle meets a polygon when
    an edge crosses it or its centre is inside), blocks and schools (their markers), not on bounding boxes:
    a box may sit in the notch of an L-shaped district.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var bounds = L.latLngBounds({{ this.bounds|tojson }});
            var groups = [{{ this.layers|join(", ") }}];
            var size = map.getSize();
            var legend = document.getElementById({{ this.legend_id|tojson }});
            var title = document.getElementById({{ this.title_id|tojson }});
            var layers = map.getContainer().querySelector(".leaflet-control-layers");
            var details = legend ? legend.querySelector("details") : null;
            var PAD = 12, GAP = 8, OPEN = {{ this.open_zoom }}, SHARE = 0.35, MIN_TITLE = 240;
            function box(el) {
                if (!el) { return null; }
                var r = el.getBoundingClientRect(), c = map.getContainer().getBoundingClientRect();
                if (!r.width || !r.height) { return null; }
                return {left: r.left - c.left, top: r.top - c.top, right: r.right - c.left, bottom: r.bottom - c.top};
            }
            function meet(a, b) {
                return a && b && a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
            }
            // the title box (top left) narrower than the room the layer switcher (top right) leaves it, or,
            // where that room is under MIN_TITLE px, the switcher under the title: they met at 768 px
            function clearSwitcher() {
                if (!title || !layers) { return; }
                var corner = layers.parentNode;
                title.style.maxWidth = ""; corner.style.top = "";
                var t = box(title), l = box(layers);
                if (!meet(t, l)) { return; }
                if (l.left - GAP - t.left >= MIN_TITLE) {
                    title.style.boxSizing = "border-box";  // the width with its padding
                    title.style.maxWidth = (l.left - GAP - t.left) + "px";
                } else {
                    corner.style.top = (t.bottom + GAP) + "px";
                }
            }
            clearSwitcher();
            map.on("resize", clearSwitcher);
            // the shapes in pixels at zoom 0 (at zoom z they are 2^z times larger): polygons and markers
            var polygons = [], markers = [];
            function rings(lls, out) {
                if (lls.length && lls[0] instanceof L.LatLng) {
                    out.push(lls.map(function (ll) { return map.project(ll, 0); }));
                } else {
                    lls.forEach(function (part) { rings(part, out); });
                }
                return out;
            }
            function collect(layer) {
                if (layer.getLatLngs) {
                    var rs = rings(layer.getLatLngs(), []).filter(function (r) { return r.length; });
                    if (rs.length) {
                        var b = L.bounds(rs[0]);
                        rs.forEach(function (r) { r.forEach(function (p) { b.extend(p); }); });
                        polygons.push({rings: rs, min: b.min, max: b.max});
                    }
                } else if (layer.getLatLng) {
                    var icon = layer.options.icon && layer.options.icon.options.iconSize;
                    var r = layer.getRadius ? layer.getRadius() : (icon ? Math.max(icon[0], icon[1]) / 2 : 8);
                    markers.push({p: map.project(layer.getLatLng(), 0), r: r});
                } else if (layer.eachLayer) {
                    layer.eachLayer(collect);
                }
            }
            groups.forEach(collect);
            function cuts(ax, ay, bx, by, b) {  // does the segment a-b meet the box b (Liang-Barsky)?
                var t0 = 0, t1 = 1, d = [-(bx - ax), bx - ax, -(by - ay), by - ay];
                var q = [ax - b.left, b.right - ax, ay - b.top, b.bottom - ay];
                for (var k = 0; k < 4; k++) {
                    if (d[k] === 0) { if (q[k] < 0) { return false; } continue; }
                    var t = q[k] / d[k];
                    if (d[k] < 0) { if (t > t1) { return false; } t0 = Math.max(t0, t); }
                    else { if (t < t0) { return false; } t1 = Math.min(t1, t); }
                }
                return true;
            }
            function hides(v, b) {  // does box b lie on some shape in the view v?
                if (!b) { return false; }
                var s = v.scale, ox = v.origin.x, oy = v.origin.y, i, j, k;
                for (i = 0; i < markers.length; i++) {
                    var m = markers[i], x = m.p.x * s - ox, y = m.p.y * s - oy;
                    if (x + m.r > b.left && x - m.r < b.right && y + m.r > b.top && y - m.r < b.bottom) { return true; }
                }
                var cx = (b.left + b.right) / 2, cy = (b.top + b.bottom) / 2;
                for (i = 0; i < polygons.length; i++) {
                    var g = polygons[i];
                    if (g.max.x * s - ox < b.left || g.min.x * s - ox > b.right ||
                        g.max.y * s - oy < b.top || g.min.y * s - oy > b.bottom) { continue; }
                    var inside = false;
                    for (k = 0; k < g.rings.length; k++) {
                        var r = g.rings[k];
                        for (j = 0; j < r.length; j++) {
                            var p = r[j === 0 ? r.length - 1 : j - 1], q = r[j];
                            var ax = p.x * s - ox, ay = p.y * s - oy, bx = q.x * s - ox, by = q.y * s - oy;
                            if (cuts(ax, ay, bx, by, b)) { return true; }
                            if ((ay > cy) !== (by > cy) && cx < ax + (cy - ay) * (bx - ax) / (by - ay)) { inside = !inside; }
                        }
                    }
                    if (inside) { return true; }
                }
                return false;
            }
            function view(pad) {  // where map.fitBounds with this padding would go (zoom, pixel origin)
                var tl = L.point(pad.left, pad.top), br = L.point(pad.right, pad.bottom);
                var zoom = map.getBoundsZoom(bounds, false, tl.add(br));
                var sw = map.project(bounds.getSouthWest(), zoom), ne = map.project(bounds.getNorthEast(), zoom);
                var centre = sw.add(ne).divideBy(2).add(br.subtract(tl).divideBy(2));
                return {zoom: zoom, scale: Math.pow(2, zoom), origin: centre.subtract(size.divideBy(2)), pad: pad};
            }
            function rooms(b) {  // no room, room beside the box, room above or below it
                var beside = (b.left + b.right) / 2 < size.x / 2 ? {left: b.right + GAP} : {right: size.x - b.left + GAP};
                var level = (b.top + b.bottom) / 2 < size.y / 2 ? {top: b.bottom + GAP} : {bottom: size.y - b.top + GAP};
                return [{}, beside, level];
            }
            function better(c, b) {  // is the view c better than b? (see the docstring for the order)
                if (!b) { return true; }
                var keys = [b.legend - c.legend, b.hidden - c.hidden, c.worth - b.worth,
                            (c.open ? 1 : 0) - (b.open ? 1 : 0), b.padding - c.padding];
                for (var k = 0; k < keys.length; k++) { if (keys[k] !== 0) { return keys[k] > 0; } }
                return false;
            }
            var states = !details ? [null] : size.x < 700 ? [false] : [true, false];
            var best = null;
            states.forEach(function (open) {
                if (details) { details.open = open; }
                if (!open && layers && size.x < 700) {  // a phone: the layer switcher above the folded legend
                    var corner = layers.parentNode, folded = box(legend), moved = box(layers);
                    if (meet(folded, moved) && (moved.top + moved.bottom) / 2 > size.y / 2) {
                        corner.style.bottom = (size.y - folded.top + GAP) + "px";
                    }
                }
                var boxes = [box(title), box(layers), box(legend)].filter(Boolean);
                var legendBox = box(legend);
                var choices = [{left: PAD, top: PAD, right: PAD, bottom: PAD}];
                boxes.forEach(function (b) {
                    var more = [];
                    choices.forEach(function (pad) {
                        rooms(b).forEach(function (room) {
                            var next = L.extend({}, pad);
                            Object.keys(room).forEach(function (side) { next[side] = Math.max(next[side], room[side]); });
                            more.push(next);
                        });
                    });
                    choices = more;
                });
                choices.forEach(function (pad) {
                    var plain = pad.left + pad.right + pad.top + pad.bottom === 4 * PAD;
                    if (!plain && (size.x - pad.left - pad.right < SHARE * size.x ||
                                   size.y - pad.top - pad.bottom < SHARE * size.y)) { return; }
                    var v = view(pad);
                    var c = {
                        open: open, pad: pad, zoom: v.zoom,
                        legend: hides(v, legendBox) ? 1 : 0,
                        hidden: boxes.filter(function (b) { return hides(v, b); }).length,
                        worth: v.zoom + (open ? OPEN : 0),
                        padding: pad.left + pad.right + pad.top + pad.bottom
                    };
                    if (better(c, best)) { best = c; }
                });
            });
            if (details) { details.open = best.open; }
            var p = best.pad;
            map.fitBounds(bounds, {paddingTopLeft: [p.left, p.top], paddingBottomRight: [p.right, p.bottom], animate: false});
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        bounds: list[list[float]],
        *,
        layers: Sequence[Layer],
        title_box: MacroElement,
        legend_box: MacroElement,
    ):
        super().__init__()
        self._name = "ZoningFitBounds"
        self.bounds = bounds
        self.layers = [layer.get_name() for layer in layers]
        self.title_id = title_box.get_name()
        self.legend_id = legend_box.get_name()
        self.open_zoom = OPEN_LEGEND_ZOOM


def _sum(frame: pd.DataFrame, column: str) -> float | None:
    """The column's total; None when the column is absent or has no number at all (unknown, not 0)."""
    if column not in frame.columns:
        return None
    values = pd.to_numeric(frame[column], errors="coerce")
    return None if values.isna().all() else float(values.sum())


def _title_html(
    title: str,
    blocks: gpd.GeoDataFrame,
    schools: gpd.GeoDataFrame,
    *,
    n_over: int,
    n_moved: int,
    city_scale: bool = False,
    date: str | None = None,
) -> str:
    """Title (and ``date``, e.g. of the consultation) and the plan in figures.  Without blocks (districts drawn on schools alone) the block count
    is left out and the children are the schools' own; a total nobody knows is left out too.  At city
    scale a line says the blocks show once zoomed in."""
    students = _sum(blocks, "students") if len(blocks) else _sum(schools, "students")
    seats = _sum(schools, "capacity")
    facts = [f"{len(schools):,} {tr('所学校', 'schools')}"]
    if len(blocks):
        facts.append(f"{len(blocks):,} {tr_units('{u}', '{us}')}")
    if students is not None:
        facts.append(f"{_fmt_count(students)} {tr('学生', 'students')}")
    if seats is not None:
        facts.append(f"{_fmt_count(seats)} {tr('学位', 'seats')}")
    lines = [f"<h1>{html.escape(title)}</h1>"]
    if date:
        lines.append(f'<div class="zoning-muted">{html.escape(date)}</div>')
    lines.append(f"<div>{' · '.join(facts)}</div>")
    if n_over:
        lines.append(f'<div class="zoning-over">{n_over} {tr("所超额", "school(s) over capacity")}</div>')
    if n_moved:
        lines.append(f"<div>{n_moved:,} {tr_units('个{u}调整学校', '{u}(s) change school')}</div>")
    if city_scale and len(blocks):
        z = BLOCK_MIN_ZOOM
        lines.append(
            f"<div>{tr_units(f'放大到 {z} 级查看{{u}}', f'zoom in to see the {{us}} (from zoom {z})')}</div>"
        )
    return "".join(lines)


def _legend_html(
    schools: gpd.GeoDataFrame,
    zone_stats: dict,
    order: Sequence[Hashable],
    colours: dict,
    names: dict,
    *,
    key: str,
) -> str:
    """The legend: a row per school (the school's own figures, else its zone's), then the symbol key."""
    stats = {
        **zone_stats,
        **{
            sid: (students, capacity, utilisation)
            for sid, _, capacity, students, utilisation in _rows(schools, SCHOOL_COLUMNS)
        },
    }
    rows = [
        f"<tr><td></td><td></td><td class='zoning-num'>{_head('学生/学位', 'students/seats')}</td>"
        f"<td class='zoning-num'>{_head('使用率', 'use')}</td></tr>"
    ]
    for sid in order:
        students, capacity, utilisation = stats.get(sid, (None, None, None))
        use = _utilisation_html(utilisation, over_label="")
        rows.append(
            f"<tr><td><span class='zoning-swatch' style='background:{_rgba(colours[sid], ZONE_FILL_OPACITY)}'>"
            f"</span></td><td>{html.escape(names.get(sid, str(sid)))}</td>"
            f"<td class='zoning-num'>{_fmt_count(students)} / {_fmt_count(capacity)}</td>"
            f"<td class='zoning-num'>{use}</td></tr>"
        )
    return (
        f"<details open><summary><h2>{tr('学校', 'Schools')}</h2></summary><table>"
        + "".join(rows)
        + "</table>"
        + key
        + "</details>"
    )


def _district_legend_html(districts: gpd.GeoDataFrame, colours: dict, *, key: str) -> str:
    """The legend of a map coloured by district: a row per district (its colour, number of schools, lead
    school, children / seats, use), then the symbol key.  The schools are in their tooltips.  Kept narrow
    (a long lead-school name wraps) so the map can make room beside it."""
    rows = [
        f"<tr><td></td><td></td><td class='zoning-num'>{_head('学生/学位', 'students/seats')}</td>"
        f"<td class='zoning-num'>{_head('使用率', 'use')}</td></tr>"
    ]
    for did, lead_name, n_schools, students, capacity in _rows(districts, DISTRICT_COLUMNS):
        if _missing(did):
            continue
        lead = "—" if _missing(lead_name) else html.escape(str(lead_name))
        use = _utilisation_html(_ratio(students, capacity), over_label="")
        rows.append(
            f"<tr><td><span class='zoning-swatch' style='background:"
            f"{_rgba(colours.get(did, UNASSIGNED_COLOUR), ZONE_FILL_OPACITY)}'></span></td>"
            f"<td class='zoning-district'><span><b>{tr_districts('{d}', '{d}')} {_fmt_id(did)}</b> · "
            f"{_fmt_count(n_schools)} {tr('所学校', 'schools')}</span><br>★ {lead}</td>"
            f"<td class='zoning-num'>{_fmt_count(students)} / {_fmt_count(capacity)}</td>"
            f"<td class='zoning-num'>{use}</td></tr>"
        )
    return (
        f"<details open><summary><h2>{len(rows) - 1} {tr_districts('{d}', '{Ds}')}</h2></summary><table>"
        + "".join(rows)
        + "</table>"
        + key
        + "</details>"
    )


def _key_html(*, has_lead: bool, has_over: bool, has_moved: bool, has_districts: bool, n_outside: int) -> str:
    """The symbol key under the legend's table (``n_outside``: schools in no district, drawn grey)."""
    key = [
        "<svg width='16' height='16'><circle cx='8' cy='8' r='6' fill='#ffffff' stroke='#1a1a1a' "
        "stroke-width='2'/></svg> " + tr("学校", "school")
    ]
    if has_lead:
        key.append(_star_svg("#ffffff", "#1a1a1a", 22) + " " + tr("牵头校", "lead school"))
    if has_over:
        key.append(
            f"<svg width='16' height='16'><circle cx='8' cy='8' r='6' fill='#ffffff' "
            f"stroke='{OVER_CAPACITY_COLOUR}' stroke-width='3'/></svg> {tr('超额', 'over capacity')}"
        )
    if has_moved:
        key.append(
            f"<span class='zoning-swatch' style='border: 2px solid {CHANGE_COLOUR}; "
            f"background:{_rgba(CHANGE_COLOUR, 0.25)}'></span> "
            + tr_units("调整学校的{u}", "{u} that changes school")
        )
    if has_districts:
        key.append(
            "<svg width='22' height='10'><line x1='0' y1='5' x2='22' y2='5' stroke='#1a1a1a' "
            "stroke-width='4.5'/></svg> " + tr_districts("{d}", "{d}")
        )
    if n_outside:
        key.append(
            f"<span class='zoning-swatch' style='background:{_rgba(UNASSIGNED_COLOUR, ZONE_FILL_OPACITY)}'>"
            f"</span> {tr_districts('未划入{d}', 'not in a {d}')} ({n_outside:,} {tr('所', 'schools')})"
        )
    return "<div class='zoning-key'>" + "<br>".join(key) + "</div>"


def _bounds(*series: gpd.GeoSeries | None) -> list[list[float]] | None:
    boxes = [s.total_bounds for s in series if s is not None and not s.is_empty.all() and len(s)]
    boxes = [b for b in boxes if np.all(np.isfinite(b))]
    if not boxes:
        return None
    b = np.array(boxes)
    return [[float(b[:, 1].min()), float(b[:, 0].min())], [float(b[:, 3].max()), float(b[:, 2].max())]]
