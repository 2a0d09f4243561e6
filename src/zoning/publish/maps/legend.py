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
)


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
    """Fit the view to the data; refit leaving room for the boxes only if a box would hide some of it.

    Runs in the browser once the boxes exist, so their real size (fonts, screen) is known.  Blocks and
    schools are tested against the boxes (zones are unions of blocks); zones and schools when there are
    no blocks.  On a narrow screen (a phone) the
    legend starts folded, and no room is reserved for a box that would take most of the screen.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var bounds = {{ this.bounds|tojson }};
            var groups = [{{ this.layers|join(", ") }}];
            var size = map.getSize();
            var legend = document.getElementById({{ this.legend_id|tojson }});
            var title = document.getElementById({{ this.title_id|tojson }});
            var layers = map.getContainer().querySelector(".leaflet-control-layers");
            if (size.x < 700 && legend) {
                var details = legend.querySelector("details");
                if (details) { details.open = false; }
            }
            function box(el) {
                if (!el) { return null; }
                var r = el.getBoundingClientRect(), c = map.getContainer().getBoundingClientRect();
                return {left: r.left - c.left, top: r.top - c.top, right: r.right - c.left, bottom: r.bottom - c.top};
            }
            function hides(b) {
                if (!b) { return false; }
                var hit = false;
                groups.forEach(function (group) {
                    group.eachLayer(function (layer) {
                        if (hit) { return; }
                        var ll = layer.getBounds ? layer.getBounds() : L.latLngBounds([layer.getLatLng()]);
                        var nw = map.latLngToContainerPoint(ll.getNorthWest());
                        var se = map.latLngToContainerPoint(ll.getSouthEast());
                        hit = se.x >= b.left && nw.x <= b.right && se.y >= b.top && nw.y <= b.bottom;
                    });
                });
                return hit;
            }
            map.fitBounds(bounds, {padding: [12, 12], animate: false});
            var left = 12, top = 12, bottom = 12;
            [box(title), box(layers)].forEach(function (b) {
                if (b && b.bottom * 3 < size.y && hides(b)) { top = Math.max(top, b.bottom + 8); }
            });
            var legendBox = box(legend);
            if (legendBox && hides(legendBox)) {
                // Clear the legend by room on the left or at the bottom, whichever keeps the larger zoom.
                var room = {left: legendBox.right + 8, bottom: size.y - legendBox.top + 8};
                var fits = {
                    left: room.left * 2.5 < size.x ? map.getBoundsZoom(bounds, false, L.point(room.left + 12, top + 12)) : -1,
                    bottom: room.bottom * 2.5 < size.y ? map.getBoundsZoom(bounds, false, L.point(24, top + room.bottom)) : -1
                };
                if (fits.left >= fits.bottom && fits.left >= 0) { left = room.left; }
                else if (fits.bottom >= 0) { bottom = room.bottom; }
            }
            if (left > 12 || top > 12 || bottom > 12) {
                map.fitBounds(bounds, {paddingTopLeft: [left, top], paddingBottomRight: [12, bottom], animate: false});
            }
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
        facts.append(f"{len(blocks):,} {tr('小区', 'blocks')}")
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
        lines.append(f"<div>{n_moved:,} {tr('个小区调整学校', 'block(s) change school')}</div>")
    if city_scale and len(blocks):
        z = BLOCK_MIN_ZOOM
        lines.append(
            f"<div>{tr(f'放大到 {z} 级查看小区', f'zoom in to see the blocks (from zoom {z})')}</div>"
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
            f"<td class='zoning-district'><span><b>{tr('学区', 'district')} {_fmt_id(did)}</b> · "
            f"{_fmt_count(n_schools)} {tr('所学校', 'schools')}</span><br>★ {lead}</td>"
            f"<td class='zoning-num'>{_fmt_count(students)} / {_fmt_count(capacity)}</td>"
            f"<td class='zoning-num'>{use}</td></tr>"
        )
    return (
        f"<details open><summary><h2>{len(rows) - 1} {tr('学区', 'Districts')}</h2></summary><table>"
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
            + tr("调整学校的小区", "block that changes school")
        )
    if has_districts:
        key.append(
            "<svg width='22' height='10'><line x1='0' y1='5' x2='22' y2='5' stroke='#1a1a1a' "
            "stroke-width='4.5'/></svg> " + tr("学区", "district")
        )
    if n_outside:
        key.append(
            f"<span class='zoning-swatch' style='background:{_rgba(UNASSIGNED_COLOUR, ZONE_FILL_OPACITY)}'>"
            f"</span> {tr('未划入学区', 'not in a district')} ({n_outside:,} {tr('所', 'schools')})"
        )
    return "<div class='zoning-key'>" + "<br>".join(key) + "</div>"


def _bounds(*series: gpd.GeoSeries | None) -> list[list[float]] | None:
    boxes = [s.total_bounds for s in series if s is not None and not s.is_empty.all() and len(s)]
    boxes = [b for b in boxes if np.all(np.isfinite(b))]
    if not boxes:
        return None
    b = np.array(boxes)
    return [[float(b[:, 1].min()), float(b[:, 0].min())], [float(b[:, 3].max()), float(b[:, 2].max())]]
