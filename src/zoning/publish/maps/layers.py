"""The map's layers, each a GeoJSON overlay in its own Leaflet pane: zone fills, block outlines (with
their tooltips), school-district outlines and schools; geometry written as compact GeoJSON.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Iterable, Sequence

import geopandas as gpd
import numpy as np
import shapely
from folium.map import Layer
from folium.template import Template

from .assets import _Raw
from .style import (
    _PANE_KEYS,
    _PANE_PREFIX,
    CHANGE_COLOUR,
    DISTRICT_COLUMNS,
    LEAD_STAR_PX,
    OVER_CAPACITY_COLOUR,
    SCHOOL_COLUMNS,
    SCHOOL_RADIUS_PX,
    UNASSIGNED_COLOUR,
    ZONE_COLUMNS,
    ZONE_FILL_OPACITY,
    _fmt_count,
    _fmt_id,
    _is_over,
    _load_html,
    _missing,
    _ratio,
    _rows,
    _star_svg,
    _truthy,
    _utilisation_html,
    _yes_no,
    tr,
    tr_districts,
    tr_units,
)

logger = logging.getLogger(__name__)

#: City scale: blocks are cut into square tiles of about this many, each built when it first comes into
#: view (measured on a 50,000-block city: building every block at the first zoom-in took 2.4 s; a view at
#: zoom 16 holds a few tiles).
TILE_FEATURES = 400


def _pane(key: str) -> str:
    """The name of the Leaflet pane of layer ``key`` (one of ``_PANE_KEYS``)."""
    if key not in _PANE_KEYS:
        raise ValueError(f"unknown map pane {key!r}; expected one of {_PANE_KEYS}")
    return f"{_PANE_PREFIX}{key}"


class _GeoJsonLayer(Layer):
    """A GeoJSON overlay with a shared style table, one tooltip per feature, in a fixed pane.

    ``items`` are ``(geometry, properties)`` pairs; missing or empty geometries are dropped.  Each
    feature's properties carry ``s`` (index into ``table``) and ``t`` (tooltip HTML, already escaped).
    Point features become SVG circle markers, or an inline-SVG star when they carry ``star``.  A feature
    carrying ``i`` (its row in the consultation data) opens the popup of ``on_click`` when clicked.
    ``overlay=False`` makes it a base layer (one of a radio group: the zones now and proposed).

    ``min_zoom`` (city scale): the features are drawn on a canvas and only from that zoom on.  The layer
    the switcher shows is then an empty group; on the first zoom at or above ``min_zoom`` the GeoJSON
    layer is built and joins it, and it leaves the group (and its canvas the map) below that zoom, so
    the canvas never catches the pointer over the zones when it shows nothing.
    """

    # The script is rendered by :meth:`render` and put into the page verbatim; the element's own
    # template stays empty.
    _template = Template("")
    _script = Template(
        """
        {% macro options(this, geojson, renderer) %}{
            pane: {{ this.pane|tojson }},
            {%- if renderer %}
            renderer: {{ renderer }},
            {%- endif %}
            style: function (feature) { return {{ this.get_name() }}_styles[feature.properties.s]; },
            pointToLayer: function (feature, latlng) {
                var star = feature.properties.star;
                if (star) {
                    return L.marker(latlng, {pane: {{ this.pane|tojson }}, icon: L.divIcon(
                        {html: star[0], className: "zoning-star", iconSize: [star[1], star[1]]})});
                }
                return L.circleMarker(latlng, {pane: {{ this.pane|tojson }}});
            },
            onEachFeature: function (feature, layer) {
                if (feature.properties.t) {
                    layer.bindTooltip(feature.properties.t, {{ this.tooltip_options|tojson }});
                }
                {%- if this.register %}
                (window.{{ this.register }} = window.{{ this.register }} || {})[feature.properties.i] = layer;
                {%- endif %}
                {%- if this.on_click %}
                if (feature.properties.i !== undefined) {
                    layer.on("click", function (e) {
                        if (window.{{ this.on_click }}) { window.{{ this.on_click }}(feature.properties.i, e.latlng, layer); }
                    });
                }
                {%- endif %}
                {%- if this.highlight %}
                layer.on({
                    mouseover: function (e) {
                        if (e.target.setStyle) { e.target.setStyle({{ this.highlight|tojson }}); }
                    },
                    mouseout: function (e) { {{ geojson }}.resetStyle(e.target); }
                });
                {%- endif %}
            }
        }{% endmacro %}

        {% macro script(this, kwargs) %}
        var {{ this.get_name() }}_styles = {{ this.styles_js }};
        {%- if this.min_zoom is none %}
        var {{ this.get_name() }} = L.geoJson({{ this.data_js }}, {{ options(this, this.get_name(), none) }});
        {%- else %}
        var {{ this.get_name() }} = L.featureGroup();
        (function () {
            var map = {{ this._parent.get_name() }}, group = {{ this.get_name() }};
            var tiles = {{ this.tiles_js }};
            var renderer = L.canvas({pane: {{ this.pane|tojson }}}), features = L.featureGroup();
            function build(k) {
                var tile = L.geoJson(tiles.data[k], {{ options(this, "tile", "renderer") }});
                tiles.data[k] = null;
                return tile;
            }
            function sync() {
                var show = map.getZoom() >= {{ this.min_zoom }};
                if (show) {
                    var view = map.getBounds().pad(0.25);
                    for (var k = 0; k < tiles.box.length; k++) {
                        var b = tiles.box[k];
                        if (tiles.data[k] !== null && view.intersects([[b[1], b[0]], [b[3], b[2]]])) {
                            features.addLayer(build(k));
                        }
                    }
                }
                if (show && !group.hasLayer(features)) { group.addLayer(features); }
                if (!show && group.hasLayer(features)) { group.removeLayer(features); }
                if (!(show && map.hasLayer(group)) && map.hasLayer(renderer)) { map.removeLayer(renderer); }
            }
            map.on("zoomend moveend", sync);
            group.on("add remove", sync);
        })();
        {%- endif %}
        {% endmacro %}
        """
    )

    def __init__(
        self,
        table: _StyleTable,
        items: Iterable[tuple[shapely.Geometry | None, dict]],
        *,
        name: str,
        pane: str,
        tooltip_options: dict,
        highlight: dict | None = None,
        min_zoom: int | None = None,
        overlay: bool = True,
        show: bool = True,
        on_click: str | None = None,
        register: str | None = None,
    ):
        super().__init__(name=name, overlay=overlay, control=True, show=show)
        self._name = "ZoningGeoJson"
        kept = [(geom, properties) for geom, properties in items if geom is not None and not geom.is_empty]
        geometries = _geometry_dicts([geom for geom, _ in kept])
        # city scale: each feature's [west, south, east, north], to cut the features into tiles
        self._bounds = (
            shapely.bounds(np.asarray([geom for geom, _ in kept], dtype=object))
            if min_zoom is not None
            else None
        )
        features = [
            {"type": "Feature", "geometry": geometry, "properties": properties}
            for geometry, (_, properties) in zip(geometries, kept, strict=True)
        ]
        self.data = {"type": "FeatureCollection", "features": features}
        self.control = bool(features)  # a switch that shows or hides nothing only puzzles
        self.styles = table.styles  # read after ``items`` is consumed: building them may add styles
        self.pane = _pane(pane)
        self.tooltip_options = tooltip_options
        self.highlight = highlight
        self.min_zoom = min_zoom
        self.on_click = on_click  # a global JS function called with (properties.i, latlng, layer) on a click
        self.register = register  # a global JS object the features are kept in by ``properties.i``

    def render(self, **kwargs) -> None:
        """Render as folium renders a layer, but put the script into the page verbatim.

        branca's ``MacroElement.render`` wraps a rendered script in an ``Element``, that is, compiles it
        again as a Jinja template: megabytes of GeoJSON lexed for nothing (3–4 s at 50,000 blocks), and
        a ``{{`` in a block's name would be read as template code.
        """
        script = self._script.module.__dict__["script"]
        self.get_root().script.add_child(_Raw(script(self, kwargs)), name=self.get_name())
        super().render(**kwargs)  # the "add to the map" element and any children

    @property
    def data_js(self) -> str:
        return _js_literal(self.data)

    @property
    def tiles_js(self) -> str:
        """City scale: the features in square tiles of about ``TILE_FEATURES`` each, with each tile's
        [west, south, east, north]; the page builds a tile's features when it first comes into view."""
        features = self.data["features"]
        if not features:
            return _js_literal({"box": [], "data": []})
        bounds = self._bounds
        centre = (bounds[:, :2] + bounds[:, 2:]) / 2
        lo, hi = centre.min(axis=0), centre.max(axis=0)
        side = max(float((hi - lo).max()), 1e-9) / max(1.0, np.sqrt(len(features) / TILE_FEATURES))
        cell = np.floor((centre - lo) / side).astype(np.int64)
        key = cell[:, 0] * (int(cell[:, 1].max()) + 1) + cell[:, 1]
        boxes, data = [], []
        for k in np.unique(key):
            members = np.flatnonzero(key == k)
            b = bounds[members]
            boxes.append(
                [float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())]
            )
            data.append({"type": "FeatureCollection", "features": [features[m] for m in members.tolist()]})
        return _js_literal({"box": boxes, "data": data})

    @property
    def styles_js(self) -> str:
        return _js_literal(self.styles)

    def _get_self_bounds(self) -> list[list[float | None]]:
        """[[south, west], [north, east]] of the features, as folium's ``get_bounds`` expects."""
        if not self.data["features"]:
            return [[None, None], [None, None]]
        geoms = [shapely.geometry.shape(f["geometry"]) for f in self.data["features"]]
        west, south, east, north = shapely.total_bounds(geoms)
        return [[float(south), float(west)], [float(north), float(east)]]


def _geometry_dicts(geoms: Sequence[shapely.Geometry]) -> list[dict]:
    """GeoJSON geometries of non-empty ``geoms``, as ``shapely.geometry.mapping`` gives them (lists for its
    tuples).  Polygons and MultiPolygons are built from one coordinate array for all of them, several
    times faster than ``mapping`` one by one at 50,000 blocks; other types go through ``mapping``."""
    geoms = np.asarray(geoms, dtype=object)
    out: list = [None] * len(geoms)
    if not len(geoms):
        return out
    types = shapely.get_type_id(geoms)
    for k in np.flatnonzero(~np.isin(types, (3, 6))):
        out[k] = shapely.geometry.mapping(geoms[k])
    areal = np.flatnonzero(np.isin(types, (3, 6)))
    if not len(areal):
        return out
    parts, part_owner = shapely.get_parts(geoms[areal], return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)  # each part's exterior, then holes
    ends = np.cumsum(shapely.get_num_coordinates(rings))
    coords = shapely.get_coordinates(rings).tolist()
    part_rings: list[list] = [[] for _ in range(len(parts))]
    start = 0
    for p, end in zip(ring_part.tolist(), ends.tolist()):
        part_rings[p].append(coords[start:end])
        start = end
    polygons: list[list] = [[] for _ in range(len(areal))]
    for owner, rings_of_part in zip(part_owner.tolist(), part_rings):
        polygons[owner].append(rings_of_part)
    for k, t, polys in zip(areal.tolist(), types[areal].tolist(), polygons):
        if t == 3:
            out[k] = {"type": "Polygon", "coordinates": polys[0]}
        else:
            out[k] = {"type": "MultiPolygon", "coordinates": polys}
    return out


def _js_literal(value) -> str:
    """Compact JSON, safe inside <script>: UTF-8 kept (Chinese stays 3 bytes a character), ``<>&`` escaped."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text


class _StyleTable:
    """Deduplicated Leaflet style dicts; features refer to them by index (keeps the page small)."""

    def __init__(self) -> None:
        self.styles: list[dict] = []
        self._index: dict = {}

    def __call__(self, **style) -> int:
        style = {k: v for k, v in style.items() if v is not None}
        key = tuple(sorted(style.items()))
        if key not in self._index:
            self._index[key] = len(self.styles)
            self.styles.append(style)
        return self._index[key]


def _polygonal(geom):
    """The polygon part of a geometry (zones of point blocks have none and show through their blocks)."""
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    if geom.geom_type == "GeometryCollection":
        parts = [g for g in geom.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
        return shapely.union_all(parts) if parts else None
    return None


def _zone_layer(
    zones: gpd.GeoDataFrame,
    geoms: gpd.GeoSeries,
    colours: dict,
    district_of: dict | None,
    *,
    layer_name: str | None = None,
    overlay: bool = True,
    show: bool = True,
) -> Layer:
    """Zone fills.  Coloured by district, a zone's border is thin: the district reads as one area, and
    the thick district outline above marks where districts meet.  With the zones of today beside the
    proposed ones, both are base layers (``overlay=False``): one shows at a time."""
    table = _StyleTable()
    items = []
    for geom, (sid, name, students, capacity, utilisation) in zip(
        geoms.values, _rows(zones, ZONE_COLUMNS), strict=True
    ):
        colour = colours.get(sid, UNASSIGNED_COLOUR)
        if district_of is None:
            s = table(
                color="#333333", weight=1.5, opacity=0.9, fillColor=colour, fillOpacity=ZONE_FILL_OPACITY
            )
        else:
            s = table(
                color="#555555", weight=0.7, opacity=0.6, fillColor=colour, fillOpacity=ZONE_FILL_OPACITY
            )
        lines = [f"<b>{html.escape(str(name))}</b>"]
        if district_of is not None:
            did = district_of.get(sid)
            lines.append(
                tr_districts("未划入{d}", "not in a {d}")
                if did is None
                else f"{tr_districts('{d}', '{d}')} {_fmt_id(did)}"
            )
        lines.append(_load_html(students, capacity, utilisation))
        tip = "<br>".join(lines)
        items.append((_polygonal(geom), {"s": s, "t": tip}))
    layer = _GeoJsonLayer(
        table,
        items,
        name=layer_name or tr("片区", "Zones"),
        pane="zones",
        tooltip_options={"sticky": True},
        highlight={"weight": 3, "color": "#000000"},
        overlay=overlay,
        show=show,
    )
    n_drawn = len(layer.data["features"])
    if n_drawn < len(zones):
        logger.debug("zone map: %d zone(s) without a polygon, shown by their blocks", len(zones) - n_drawn)
    return layer


def _block_layer(
    blocks: gpd.GeoDataFrame,
    geoms: gpd.GeoSeries,
    colours: dict,
    names: dict,
    stats: dict,
    *,
    min_zoom: int | None = None,
) -> Layer:
    table = _StyleTable()
    items = []
    columns = ("name", "school_id", "students", "distance_m", "moved")
    styles: dict = {}  # (point, moved, colour) → style index; schools: sid → tooltip text
    schools: dict = {}
    for geom, (name, sid, students, distance_m, moved) in zip(
        geoms.values, _rows(blocks, columns), strict=True
    ):
        moved_flag = _truthy(moved)
        unassigned = _missing(sid)
        colour = UNASSIGNED_COLOUR if unassigned else colours.get(sid, UNASSIGNED_COLOUR)
        point = geom is not None and geom.geom_type in ("Point", "MultiPoint")
        key = (point, moved_flag, colour)
        if key not in styles:
            styles[key] = _block_style(table, point, moved_flag, colour)
        if unassigned:
            school = tr("未分配", "unassigned")
        else:
            if sid not in schools:
                text = html.escape(names.get(sid, str(sid)))
                utilisation = stats.get(sid, (None, None, None))[2]
                if _is_over(utilisation):
                    text += f" ({_utilisation_html(utilisation, over_label='')})"
                schools[sid] = text
            school = schools[sid]
        distance = "—" if _missing(distance_m) else f"{float(distance_m):,.0f} m"
        tip = (
            f"<b>{html.escape(str(name))}</b><br>"
            f"{tr('学校', 'school')}: {school}<br>"
            f"{tr('学生', 'students')}: {_fmt_count(students)}<br>"
            f"{tr('距离', 'distance')}: {distance}<br>"
            f"{tr('调整', 'moved')}: {_yes_no(moved)}"
        )
        items.append((geom, {"s": styles[key], "t": tip, "i": len(items)}))
    return _GeoJsonLayer(
        table,
        items,
        name=tr_units("{u}", "{Us}"),
        pane="blocks",
        tooltip_options={"sticky": True},
        highlight={"weight": 3, "color": "#000000", "opacity": 1},
        min_zoom=min_zoom,
        on_click="zoningOpenBlock",
        register="zoningBlocks",
    )


def _block_style(table: _StyleTable, point: bool, moved: bool, colour: str) -> int:
    """The style of a block: a small circle for a point, else a transparent outline; moved ones dashed."""
    if point:
        return table(
            radius=5,
            color="#111111" if moved else "#444444",
            weight=2 if moved else 1,
            dashArray="2 2" if moved else None,
            fillColor=colour,
            fillOpacity=0.9,
        )
    return table(
        color="#111111" if moved else "#555555",
        weight=1.6 if moved else 0.6,
        opacity=0.9 if moved else 0.6,
        dashArray="5 4" if moved else None,
        fillColor=colour,
        fillOpacity=0.0,  # transparent but hoverable: the zone fill below shows through
    )


def _district_layer(districts: gpd.GeoDataFrame, geoms: gpd.GeoSeries, *, today: bool = False) -> Layer:
    """District outlines, thick; ``today``: the existing grouping, dashed and off until switched on."""
    table = _StyleTable()
    if today:
        s = table(color="#6a1b9a", weight=3.5, opacity=0.9, dashArray="8 6", fill=False)
    else:
        s = table(color="#1a1a1a", weight=4.5, opacity=0.9, fill=False)
    items = []
    for geom, (district_id, lead_name, n_schools, students, capacity) in zip(
        _without_gaps(geoms.values), _rows(districts, DISTRICT_COLUMNS), strict=True
    ):
        utilisation = _ratio(students, capacity)
        lines = [
            f"<b>{tr_districts('现状{d}', '{d} today') if today else tr_districts('{d}', '{d}')} "
            f"{_fmt_id(district_id)}</b>"
        ]
        if not _missing(lead_name):
            lines.append(f"{tr('牵头校', 'lead school')}: {html.escape(str(lead_name))}")
        lines.append(f"{tr('学校', 'schools')}: {_fmt_count(n_schools)}")
        lines.append(_load_html(students, capacity, utilisation))
        items.append((geom, {"s": s, "t": "<br>".join(lines)}))
    return _GeoJsonLayer(
        table,
        items,
        name=tr_districts("现状{d}", "{Ds} today") if today else tr_districts("{d}", "{Ds}"),
        pane="districts",
        tooltip_options={"sticky": True},
        show=not today,
    )


#: A hole in a district smaller than this share of its polygon, with no other district in it, is a gap
#: between zones (source zones rarely tile exactly), not an enclave.
_GAP_SHARE = 0.01


def _without_gaps(geoms: np.ndarray) -> list:
    """District outlines without the holes that are mere gaps between zones.

    Drawn thick, a sliver between two zones of one district reads as a border that is not there.  A hole
    is dropped when it is small (``_GAP_SHARE`` of its polygon) and no other district lies in it; an
    enclave of another district keeps its outline.
    """
    geoms = np.asarray(geoms, dtype=object)
    valid = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    tree = shapely.STRtree(geoms[valid])
    others = np.flatnonzero(valid)
    out = []
    for k, geom in enumerate(geoms):
        if not valid[k] or geom.geom_type not in ("Polygon", "MultiPolygon"):
            out.append(geom)
            continue
        parts = []
        for part in shapely.get_parts(geom):
            holes = []
            for ring in part.interiors:
                hole = shapely.Polygon(ring)
                inside = [j for j in others[tree.query(hole, predicate="intersects")] if j != k]
                covered = sum(hole.intersection(geoms[j]).area for j in inside)
                if hole.area >= _GAP_SHARE * shapely.Polygon(part.exterior).area or covered > 0.5 * hole.area:
                    holes.append(ring)
            parts.append(shapely.Polygon(part.exterior, holes))
        out.append(parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts))
    return out


def _school_layer(schools: gpd.GeoDataFrame, geoms: gpd.GeoSeries, colours: dict) -> Layer:
    table = _StyleTable()
    items = []
    columns = (*SCHOOL_COLUMNS, "district_id", "is_lead")
    for geom, (sid, name, capacity, students, utilisation, district_id, is_lead) in zip(
        geoms.values, _rows(schools, columns), strict=True
    ):
        over = _is_over(utilisation)
        colour = colours.get(sid, UNASSIGNED_COLOUR)
        stroke = OVER_CAPACITY_COLOUR if over else "#1a1a1a"
        s = table(
            radius=SCHOOL_RADIUS_PX,
            color=stroke,
            weight=3.5 if over else 2,
            opacity=1,
            fillColor=colour,
            fillOpacity=1,
        )
        lead = _truthy(is_lead)
        lines = [f"<b>{html.escape(str(name))}</b>" + (" ★ " + tr("牵头校", "lead school") if lead else "")]
        if not _missing(district_id):
            lines.append(f"{tr_districts('{d}', '{d}')} {_fmt_id(district_id)}")
        lines.append(_load_html(students, capacity, utilisation))
        properties: dict = {"s": s, "t": "<br>".join(lines), "i": len(items)}
        if lead:
            properties["star"] = [_star_svg(colour, stroke, LEAD_STAR_PX), LEAD_STAR_PX]
        items.append((geom, properties))
    return _GeoJsonLayer(
        table,
        items,
        name=tr("学校", "Schools"),
        pane="schools",
        tooltip_options={"direction": "top"},
        on_click="zoningOpenSchool",
    )


def _change_layer(blocks: gpd.GeoDataFrame, geoms: gpd.GeoSeries, names: dict) -> Layer:
    """The blocks whose school changes, over the zones (now or proposed): each says from which school to
    which.  Drawn at every zoom (at city scale too: a planner looks for them first)."""
    table = _StyleTable()
    s = table(color=CHANGE_COLOUR, weight=2.5, opacity=1, fillColor=CHANGE_COLOUR, fillOpacity=0.25, radius=6)
    items = []
    for i, (geom, (name, now, sid, moved)) in enumerate(
        zip(geoms.values, _rows(blocks, ("name", "current_school", "school_id", "moved")), strict=True)
    ):
        if not _truthy(moved):
            continue
        before = tr("无", "none") if _missing(now) else html.escape(names.get(now, str(now)))
        after = tr("未分配", "unassigned") if _missing(sid) else html.escape(names.get(sid, str(sid)))
        tip = f"<b>{html.escape(str(name))}</b><br>{before} → {after}"
        items.append((geom, {"s": s, "t": tip, "i": i}))
    return _GeoJsonLayer(
        table,
        items,
        name=f"{tr_units('调整学校的{u}', '{Us} that change school')} ({len(items):,})",
        pane="blocks",
        tooltip_options={"sticky": True},
        on_click="zoningOpenBlock",
    )
