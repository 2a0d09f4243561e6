"""Interactive maps of a plan: one standalone HTML page that opens with no network.

Residents open these pages during public comment (公开征求意见), often on a phone, sometimes from a USB
stick or an intranet with no internet access.  So the page carries everything it needs:

- Leaflet's JavaScript and CSS are read at run time from the installed ``django-js-lib-leaflet`` package
  (module ``js_lib_leaflet``) and inlined into the page; nothing third-party is copied into this repository.
- Every other asset folium adds by default (jQuery, Bootstrap, awesome-markers, Font Awesome, …) is dropped
  on the map instance, and :func:`to_html` refuses to return a page that still links a script or stylesheet
  on the internet.
- Schools and point-like blocks are SVG circle markers, lead schools an inline-SVG star; nothing needs an
  image file.  The layer control is always expanded (the collapsed one needs ``layers.png``).
- No tile server by default: a plain light background.  An online user may pass ``tiles``.

This module is the only one that imports folium.  It never solves and never touches files: it returns a
``folium.Map`` (:func:`zone_map`) or the page as a string (:func:`to_html`); the caller writes it.

Layers, bottom to top (each in its own Leaflet pane, so toggling one never reorders the others):
zone fills (one colour per school; with school districts one colour per district, zone borders thin inside
it), block outlines (transparent, carry the block tooltips; moved blocks dashed), school-district outlines
(thick), schools (circles; lead schools large stars; over capacity ringed red).  A layer with nothing to
draw (no blocks in a plan of districts drawn on schools alone) stays out of the layer switcher.

City scale (more than ``CITY_SCALE_BLOCKS`` = 5,000 blocks, or ``city_scale=True``): drawn as is, 50,000
blocks make a 45 MB page that takes Chromium some 20 s to show and stays sluggish, with every block outline
in the SVG.  So at city scale

- zones and district outlines are simplified by ``ZONE_SIMPLIFY_M`` (5 m) and blocks by
  ``BLOCK_SIMPLIFY_M`` (2 m), topology kept per polygon, and coordinates are written with 5 decimals
  (about 1 m) instead of 6;
- the blocks (still one tooltip each) are drawn on a canvas, not as SVG paths, and only from zoom
  ``BLOCK_MIN_ZOOM`` (14, about 10 m a pixel) on: the city-wide view shows the zones, a 小区 is found by
  zooming in; the layer is built on the first zoom that needs it, so the page opens at once.  The title
  says so.

Everything else — colours, tooltips, legend, offline page — is the same as for a small plan.
"""

from __future__ import annotations

import functools
import html
import json
import logging
import re
from collections.abc import Hashable, Iterable, Sequence
from importlib import resources

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.map import CustomPane, Layer
from folium.template import Template

from ..errors import InputError, Issue, ZoningError

__all__ = ["zone_map", "to_html"]

logger = logging.getLogger(__name__)

#: Qualitative fill colours (Tableau 10 without its red, then lighter companions).  Red is kept for
#: "over capacity" so a zone colour never reads as a warning.
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#b07aa1",
    "#edc948",
    "#76b7b2",
    "#ff9da7",
    "#9c755f",
    "#a0cbe8",
    "#8cd17d",
    "#d4a6c8",
    "#bab0ac",
)
#: Fill of blocks whose school is missing or unknown.
UNASSIGNED_COLOUR = "#d9d9d9"
#: Map background when no tiles are drawn.
BACKGROUND = "#f6f6f3"
#: Opacity of the zone fills (the legend swatches use the same).
ZONE_FILL_OPACITY = 0.5
OVER_CAPACITY_COLOUR = "#c62828"
#: School circles' radius and lead-school stars' size on screen (pixels): a star is well over twice as
#: wide as a circle, so lead schools stand out at a glance.
SCHOOL_RADIUS_PX = 7
LEAD_STAR_PX = 36
COORD_DECIMALS = 6
#: Above this many blocks a map is drawn at city scale (see the module docstring).
CITY_SCALE_BLOCKS = 5_000
#: City scale: coordinate decimals (about 1 m), simplification tolerances, zoom from which blocks show.
CITY_COORD_DECIMALS = 5
ZONE_SIMPLIFY_M = 5.0
BLOCK_SIMPLIFY_M = 2.0
BLOCK_MIN_ZOOM = 14

BLOCK_COLUMNS = ("block_id", "name", "school_id", "students", "distance_m", "moved")
ZONE_COLUMNS = ("school_id", "name", "students", "capacity", "utilisation")
SCHOOL_COLUMNS = ("school_id", "name", "capacity", "students", "utilisation")
DISTRICT_COLUMNS = ("district_id", "lead_name", "n_schools", "students", "capacity")

#: The layers' Leaflet panes, bottom to top: each layer draws into ``zoning-<key>``.
_PANE_KEYS = ("zones", "blocks", "districts", "schools")

#: Pane names are this prefix and the layer key; Leaflet gives pane ``x`` the class ``leaflet-x-pane``.
_PANE_PREFIX = "zoning-"

_LEAFLET_PACKAGE = "js_lib_leaflet"
_LEAFLET_DIR = "static/js_lib_leaflet"

_CSS = f"""
.leaflet-container {{
  background: {BACKGROUND};
  font-family: system-ui, -apple-system, "Segoe UI", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei",
    "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", Roboto, Arial, sans-serif;
}}
.zoning-box {{
  background: rgba(255, 255, 255, 0.94); color: #222; padding: 6px 10px; border-radius: 4px;
  box-shadow: 0 1px 5px rgba(0, 0, 0, 0.4); font-size: 13px; line-height: 1.4;
}}
.zoning-title {{ max-width: 60vw; }}
.zoning-title h1 {{ font-size: 17px; margin: 0 0 2px 0; line-height: 1.25; }}
.zoning-legend {{ max-height: 45vh; overflow-y: auto; }}
.zoning-legend summary {{ cursor: pointer; }}
.zoning-legend h2 {{ display: inline; font-size: 13px; margin: 0; }}
.zoning-legend details[open] summary {{ margin-bottom: 4px; }}
.zoning-legend table {{ border-collapse: collapse; }}
.zoning-legend td {{ padding: 1px 4px; white-space: nowrap; vertical-align: middle; }}
.zoning-legend .zoning-key {{ margin-top: 6px; border-top: 1px solid #ccc; padding-top: 4px; }}
.zoning-legend .zoning-key svg {{ vertical-align: middle; }}
.zoning-legend td.zoning-district {{ white-space: normal; max-width: 15em; }}
.zoning-legend td.zoning-district span {{ white-space: nowrap; }}
.zoning-num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.zoning-swatch {{
  display: inline-block; width: 14px; height: 14px; border: 1px solid #333; vertical-align: middle;
}}
.zoning-over {{ color: {OVER_CAPACITY_COLOUR}; font-weight: 700; }}
.zoning-star {{ background: none; border: none; }}
.leaflet-control-layers {{ font-size: 13px; }}
"""

#: City scale: the blocks' canvas takes the pointer (the other panes let it through to their shapes).
_CITY_CSS = f".leaflet-{_PANE_PREFIX}blocks-pane > canvas {{ pointer-events: auto; }}"


# ---------------------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------------------


def zone_map(
    blocks: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    schools: gpd.GeoDataFrame,
    *,
    title: str = "Attendance zones",
    districts: gpd.GeoDataFrame | None = None,
    tiles: str | None = None,
    attribution: str | None = None,
    city_scale: bool | None = None,
) -> folium.Map:
    """An offline Leaflet map of attendance zones (划片), and of school districts (学区) if given.

    The frames may be in any CRS; they are drawn in WGS84 with coordinates rounded to 6 decimals
    (about 0.1 m) and nothing simplified — except at city scale (``city_scale``; by default when there
    are more than ``CITY_SCALE_BLOCKS`` blocks), where geometry is simplified and blocks show from zoom
    ``BLOCK_MIN_ZOOM`` on (see the module docstring).  Columns used:

    - ``blocks``: ``block_id``, ``name``, ``school_id``, ``students``, ``distance_m``, ``moved``;
      polygons, or points for 小区 given as points (drawn as small circles).
    - ``zones``: ``school_id``, ``name``, ``students``, ``capacity``, ``utilisation``; the zone polygon.
    - ``schools``: ``school_id``, ``name``, ``capacity``, ``students``, ``utilisation``, points; optional
      ``district_id`` and ``is_lead`` (lead schools are drawn as stars).
    - ``districts`` (optional): ``district_id``, ``lead_name``, ``n_schools``, ``students``, ``capacity``.

    Each school gets a colour, in the order of ``schools``; zones that touch never share one.  With
    ``districts`` and a ``district_id`` per school, each district gets a colour instead (districts that
    touch never share one), its zones are filled with it and the legend lists the districts.  ``blocks``
    may be empty (districts drawn on schools alone: ``zones`` then holds one area per school).  ``tiles``
    (a URL template such as ``https://tile.example.org/{z}/{x}/{y}.png`` with ``attribution``, or a
    provider name folium knows) adds a background map for users who are online.

    Raises:
        InputError: a frame is not a GeoDataFrame, lacks a column or has no CRS (every problem listed),
            or a tile URL comes without attribution.
    """
    _check_inputs(blocks, zones, schools, districts, tiles, attribution)
    if city_scale is None:
        city_scale = len(blocks) > CITY_SCALE_BLOCKS

    order = _school_order(schools, zones, blocks)
    names = _school_names(schools, zones)
    stats = _zone_stats(zones)
    n_over = sum(_is_over(u) for u in schools["utilisation"])
    n_moved = sum(_truthy(v) for v in blocks["moved"])
    has_lead = "is_lead" in schools.columns and any(_truthy(v) for v in schools["is_lead"])
    block_drawing = dict(simplify_m=BLOCK_SIMPLIFY_M, decimals=CITY_COORD_DECIMALS) if city_scale else {}
    geoms = {
        "blocks": _to_lonlat(blocks, **block_drawing),
        "zones": _to_lonlat(zones),
        "schools": _to_lonlat(schools),
    }
    if districts is not None:
        geoms["districts"] = _to_lonlat(districts)
    district_of = _district_of(schools, districts)
    if district_of is None:
        colours = _zone_colours(order, zones)
        district_colours: dict = {}
    else:
        district_colours = _district_colours(
            _district_order(districts, schools),
            district_of,
            zones,
            geoms["zones"],
            districts,
            geoms["districts"],
        )
        colours = {sid: district_colours.get(district_of.get(sid), UNASSIGNED_COLOUR) for sid in order}
    if city_scale:  # simplified only now: the colours are chosen on the exact outlines
        simple = dict(simplify_m=ZONE_SIMPLIFY_M, decimals=CITY_COORD_DECIMALS)
        geoms["zones"] = _to_lonlat(zones, **simple)
        if districts is not None:
            geoms["districts"] = _to_lonlat(districts, **simple)

    # Without tiles, fractional zoom lets the zones fill the window; tiles look blurred between levels.
    m = folium.Map(tiles=None, zoom_control=False, control_scale=True, zoom_snap=1 if tiles else 0.25)
    _make_offline(m)
    root = m.get_root()
    root.header.add_child(_Raw(f"<title>{html.escape(title)}</title>"), name="zoning_title")
    root.header.add_child(_Raw(f"<style>{_CSS}</style>"), name="zoning_css")
    if city_scale:
        root.header.add_child(_Raw(f"<style>{_CITY_CSS}</style>"), name="zoning_city_css")
    if tiles is not None:
        folium.TileLayer(tiles, attr=attribution, name="Base map 底图", control=False).add_to(m)

    # One pane per layer, fixed z-order: toggling a layer off and on never buries the ones above it.
    # Panes let pointer events through; only the drawn shapes catch them.
    for z_index, key in enumerate(_PANE_KEYS, start=401):
        CustomPane(_pane(key), z_index=z_index, pointer_events=False).add_to(m)
    zone_layer = _zone_layer(zones, geoms["zones"], colours, district_of).add_to(m)
    block_layer = _block_layer(
        blocks, geoms["blocks"], colours, names, stats, min_zoom=BLOCK_MIN_ZOOM if city_scale else None
    ).add_to(m)
    if districts is not None:
        _district_layer(districts, geoms["districts"]).add_to(m)
    school_layer = _school_layer(schools, geoms["schools"], colours).add_to(m)

    title_box = _Control(
        _title_html(title, blocks, schools, n_over=n_over, n_moved=n_moved, city_scale=city_scale),
        position="topleft",
        css_class="zoning-box zoning-title",
        add_zoom=True,
    ).add_to(m)
    key = _key_html(
        has_lead=has_lead,
        has_over=n_over > 0,
        has_moved=n_moved > 0,
        has_districts=districts is not None,
        n_outside=0 if district_of is None else sum(sid not in district_of for sid in order),
    )
    if district_of is None:
        legend = _legend_html(schools, stats, order, colours, names, key=key)
    else:
        legend = _district_legend_html(districts, district_colours, key=key)
    legend_box = _Control(legend, position="bottomleft", css_class="zoning-box zoning-legend").add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)

    bounds = _bounds(*geoms.values())
    if bounds is not None:
        # Zones are unions of blocks: with blocks, testing them is enough (and tighter).  At city scale
        # the blocks are not drawn at the first view: the zones stand in for them.
        shown = [block_layer if len(blocks) and not city_scale else zone_layer, school_layer]
        _FitBounds(bounds, layers=shown, title_box=title_box, legend_box=legend_box).add_to(m)
    logger.debug(
        "zone map: %d blocks, %d zones, %d schools%s",
        len(blocks),
        len(zones),
        len(schools),
        f" (city scale: simplified, blocks from zoom {BLOCK_MIN_ZOOM})" if city_scale else "",
    )
    return m


def to_html(m: folium.Map) -> str:
    """The full standalone page of ``m``: Leaflet inlined, UTF-8, no script or stylesheet from the internet.

    Works for any folium map (its default CDN assets are dropped); raises :class:`ZoningError` if some
    element (a folium plugin, say) still links a script or stylesheet on the internet.
    """
    _make_offline(m)
    page = m.get_root().render()
    external = _external_assets(page)
    if external:
        raise ZoningError(
            f"The map page would load {len(external)} file(s) from the internet ({', '.join(external[:5])}); "
            "without a network residents would see a broken map. Fix: remove the map elements that add "
            "them (folium plugins), or ship those files inline."
        )
    logger.debug("map page: %d characters", len(page))
    return page


def _external_assets(page: str) -> list[str]:
    """URLs of scripts and stylesheets that ``page`` loads from the network (``<script src>``, ``<link href>``)."""
    urls = []
    for tag in re.finditer(r"<(?:script|link)\b[^>]*>", page, flags=re.IGNORECASE):
        for url in re.findall(
            r"""\b(?:src|href)\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]+)""", tag.group(0), re.I
        ):
            urls.append(url)
    return urls


# ---------------------------------------------------------------------------------------------------------
# offline page: Leaflet inlined, folium's CDN assets dropped
# ---------------------------------------------------------------------------------------------------------


class _Raw(Element):
    """A piece of markup put into the page verbatim (never parsed as a template)."""

    _template = Template("{{ this.markup }}")

    def __init__(self, markup: str):
        super().__init__()
        self._name = "Raw"
        self.markup = markup


def _leaflet_asset(filename: str) -> str:
    """One of Leaflet's files, read from the installed package; ZoningError with the fix if it is missing."""
    try:
        return resources.files(_LEAFLET_PACKAGE).joinpath(f"{_LEAFLET_DIR}/{filename}").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as err:
        raise ZoningError(
            f"Leaflet's {filename} was not found in the package {_LEAFLET_PACKAGE}; the offline map needs it. "
            "Fix: pip install 'django-js-lib-leaflet>=1.9.4,<1.10'."
        ) from err


@functools.cache
def _leaflet_markup() -> tuple[str, str]:
    """Leaflet's CSS and JS as inline ``<style>`` and ``<script>`` elements, read and escaped once.

    Called when a page is built, not at import, so a missing package is a ZoningError on drawing a map
    (failures are not cached: the next call tries again).
    """
    js = re.sub(r"</(script)", r"<\\/\1", _leaflet_asset("leaflet.js"), flags=re.IGNORECASE)
    css = re.sub(r"</(style)", r"<\\/\1", _leaflet_asset("leaflet.css"), flags=re.IGNORECASE)
    return f"<style>\n{css}\n</style>", f"<script>\n{js}\n</script>"


def _make_offline(m: folium.Map) -> None:
    """Drop folium's CDN assets from ``m`` and inline Leaflet into its page header (idempotent)."""
    m.default_js = []
    m.default_css = []
    header = m.get_root().header
    if "leaflet_js" in header._children:
        return
    css, js = _leaflet_markup()
    # Same key as branca's http-equiv meta, so the charset stays the first thing in <head>.
    header.add_child(_Raw('<meta charset="utf-8" />'), name="meta_http")
    header.add_child(_Raw(css), name="leaflet_css")
    header.add_child(_Raw(js), name="leaflet_js")


# ---------------------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------------------


def _check_inputs(blocks, zones, schools, districts, tiles, attribution) -> None:
    """Collect every problem with the frames and parameters, then raise one InputError."""
    issues: list[Issue] = []
    frames = [
        ("blocks", blocks, BLOCK_COLUMNS),
        ("zones", zones, ZONE_COLUMNS),
        ("schools", schools, SCHOOL_COLUMNS),
    ]
    if districts is not None:
        frames.append(("districts", districts, DISTRICT_COLUMNS))
    for label, frame, required in frames:
        if not isinstance(frame, gpd.GeoDataFrame):
            issues.append(
                Issue(
                    f"{label} is a {type(frame).__name__}, not a GeoDataFrame with geometries.",
                    fix=f"pass the {label} table of the plan (a GeoDataFrame).",
                )
            )
            continue
        for column in required:
            if column not in frame.columns:
                issues.append(
                    Issue(
                        f"missing from the {label} table; the map needs it.",
                        fix=f"pass a {label} table with the columns {', '.join(required)}.",
                        column=column,
                    )
                )
        if frame.crs is None:
            issues.append(
                Issue(
                    f"{label} has no coordinate reference system (CRS), so it cannot be placed on the map.",
                    fix=f'set it, e.g. {label}.set_crs("EPSG:4490") for CGCS2000 longitude/latitude.',
                )
            )
    if tiles is not None and "{" in tiles and not attribution:
        issues.append(
            Issue(
                f"tiles {tiles!r} is a tile URL without attribution; tile providers require one.",
                fix="pass attribution='© the tile provider', or leave tiles=None for the offline map.",
            )
        )
    if issues:
        raise InputError(issues, headline=f"Cannot draw the map: {len(issues)} problem(s):")


def _to_lonlat(
    frame: gpd.GeoDataFrame, *, simplify_m: float | None = None, decimals: int = COORD_DECIMALS
) -> gpd.GeoSeries:
    """The geometries in WGS84 longitude/latitude, coordinates rounded to ``decimals`` (6: ≈ 0.1 m).

    ``simplify_m``: first simplify each geometry by this many metres (Douglas-Peucker keeping its
    topology), in the frame's CRS when it is projected, else in degrees (1 m = 1/111,320°).
    """
    geoms = frame.geometry
    if simplify_m is not None and geoms.crs.is_projected:
        geoms = gpd.GeoSeries(_simplified(geoms.values, simplify_m), index=geoms.index, crs=geoms.crs)
    if not geoms.crs.equals("EPSG:4326"):
        geoms = geoms.to_crs("EPSG:4326")
    values = np.asarray(geoms.values, dtype=object)
    if simplify_m is not None and not frame.geometry.crs.is_projected:
        values = _simplified(values, simplify_m / 111_320.0)
    rounded = shapely.transform(values, lambda xy: np.round(xy, decimals))
    return gpd.GeoSeries(rounded, index=frame.index, crs="EPSG:4326")


def _simplified(geoms, tolerance: float) -> np.ndarray:
    """Douglas-Peucker simplification; a shape it breaks (emptied, made invalid) is simplified again
    keeping its topology (4× slower, so only where needed)."""
    geoms = np.asarray(geoms, dtype=object)
    out = shapely.simplify(geoms, tolerance, preserve_topology=False)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    broken = present & (shapely.is_empty(out) | ~shapely.is_valid(out))
    if broken.any():
        out[broken] = shapely.simplify(geoms[broken], tolerance, preserve_topology=True)
    return out


def _school_order(schools, zones, blocks) -> list[Hashable]:
    """School ids in the order of ``schools``, then any id found only in ``zones`` or ``blocks``."""
    order: list[Hashable] = []
    seen: set = set()
    for frame in (schools, zones, blocks):
        for sid in frame["school_id"]:
            if _missing(sid) or sid in seen:
                continue
            seen.add(sid)
            order.append(sid)
    return order


def _school_names(schools, zones) -> dict:
    names = {sid: str(name) for sid, name in zip(zones["school_id"], zones["name"], strict=True)}
    names.update({sid: str(name) for sid, name in zip(schools["school_id"], schools["name"], strict=True)})
    return names


def _zone_stats(zones) -> dict:
    return {
        row.school_id: (row.students, row.capacity, row.utilisation)
        for row in zones[["school_id", "students", "capacity", "utilisation"]].itertuples(index=False)
    }


def _zone_colours(order: Sequence[Hashable], zones: gpd.GeoDataFrame) -> dict:
    """A palette colour per school id, deterministic by school order; touching zones never share one.

    With no more schools than palette colours every school simply gets its own colour.  Otherwise each
    school in turn takes the least-used colour that no already-coloured touching zone has (greedy graph
    colouring); only a school touching zones of every colour repeats one of them.
    """
    if len(order) <= len(PALETTE):
        return {sid: PALETTE[j] for j, sid in enumerate(order)}
    neighbours: dict = {sid: set() for sid in order}
    ids = zones["school_id"].to_numpy(dtype=object)
    for a, b in _touching(zones.geometry.values, ids):
        if a in neighbours and b in neighbours:
            neighbours[a].add(b)
            neighbours[b].add(a)
    return _greedy_colours(order, neighbours)


def _district_of(schools: gpd.GeoDataFrame, districts: gpd.GeoDataFrame | None) -> dict | None:
    """{school id: district id} when the map colours by district (districts given, schools carry
    ``district_id``); schools outside every district are left out.  None otherwise."""
    if districts is None or "district_id" not in schools.columns:
        return None
    district_of = {
        sid: did
        for sid, did in zip(schools["school_id"], schools["district_id"], strict=True)
        if not _missing(sid) and not _missing(did)
    }
    return district_of or None


def _district_order(districts: gpd.GeoDataFrame, schools: gpd.GeoDataFrame) -> list[Hashable]:
    """District ids in the order of ``districts``, then any id found only among the schools."""
    order: list[Hashable] = []
    seen: set = set()
    for did in (*districts["district_id"], *schools["district_id"]):
        if _missing(did) or did in seen:
            continue
        seen.add(did)
        order.append(did)
    return order


def _district_colours(
    order: Sequence[Hashable],
    district_of: dict,
    zones: gpd.GeoDataFrame,
    zone_geoms: gpd.GeoSeries,
    districts: gpd.GeoDataFrame,
    district_geoms: gpd.GeoSeries,
) -> dict:
    """A palette colour per district id, deterministic by district order; touching districts never share one.

    Two districts touch when their outlines do, or when a zone of one touches a zone of the other (so the
    rule holds for what is drawn even if the district outlines are missing).  Geometries are compared in
    the map's WGS84 coordinates, where zones and districts are both drawn.
    """
    if len(order) <= len(PALETTE):
        return {did: PALETTE[k] for k, did in enumerate(order)}
    neighbours: dict = {did: set() for did in order}
    ids = [district_of.get(sid) for sid in zones["school_id"]] + list(districts["district_id"])
    geoms = np.concatenate([zone_geoms.values, district_geoms.values])
    for a, b in _touching(geoms, ids):
        if a in neighbours and b in neighbours:
            neighbours[a].add(b)
            neighbours[b].add(a)
    return _greedy_colours(order, neighbours)


def _touching(geoms, ids) -> Iterable[tuple]:
    """Pairs of different ids whose geometries intersect (share an edge or a corner)."""
    geoms = np.asarray(geoms, dtype=object)
    ids = np.asarray(ids, dtype=object)
    valid = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    valid &= np.array([not _missing(i) for i in ids], dtype=bool)
    geoms, ids = geoms[valid], ids[valid]
    if not len(geoms):
        return []
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    return [(a, b) for a, b in zip(ids[left], ids[right], strict=True) if a != b]


def _greedy_colours(order: Sequence[Hashable], neighbours: dict) -> dict:
    """Each id in turn takes the least-used palette colour that no already-coloured neighbour has."""
    colours: dict = {}
    used = dict.fromkeys(PALETTE, 0)
    for key in order:
        taken = {colours[n] for n in neighbours[key] if n in colours}
        free = [c for c in PALETTE if c not in taken] or list(PALETTE)
        choice = min(free, key=lambda c: used[c])  # min keeps palette order among ties
        colours[key] = choice
        used[choice] += 1
    return colours


# ---------------------------------------------------------------------------------------------------------
# formatting
# ---------------------------------------------------------------------------------------------------------


def _missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, str | bytes | bool | int | np.bool_ | np.integer):  # the common cells, fast
        return False
    if isinstance(value, float):  # NaN is the only float unequal to itself
        return value != value
    return bool(np.all(pd.isna(value)))


def _truthy(value) -> bool:
    """A flag cell (``moved``, ``is_lead``) that is set: present and true."""
    return not _missing(value) and bool(value)


def _fmt_count(value) -> str:
    """Children or seats: whole numbers as such, fractional counts (spread addresses) with one decimal."""
    if _missing(value):
        return "—"
    x = float(value)
    return f"{x:,.0f}" if abs(x - round(x)) < 0.05 else f"{x:,.1f}"


def _fmt_id(value) -> str:
    """A district id as residents read it: 2, not 2.0 (ids turn into floats beside missing values)."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        value = int(value)
    return html.escape(str(value))


def _fmt_share(value) -> str:
    return "—" if _missing(value) else f"{float(value):.0%}"


def _is_over(utilisation) -> bool:
    return not _missing(utilisation) and float(utilisation) > 1 + 1e-9


def _utilisation_html(utilisation, *, over_label: str = " 超额 over") -> str:
    """The share in use; over capacity in red, followed by ``over_label``."""
    text = _fmt_share(utilisation)
    if _is_over(utilisation):
        return f'<span class="zoning-over">{text}{over_label}</span>'
    return text


def _load_html(students, capacity, utilisation) -> str:
    return (
        f"学生 students: {_fmt_count(students)} / {_fmt_count(capacity)} 学位 seats<br>"
        f"使用率 utilisation: {_utilisation_html(utilisation)}"
    )


def _yes_no(value) -> str:
    if _missing(value):
        return "—"
    return "是 yes" if bool(value) else "否 no"


def _rgba(colour: str, alpha: float) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


def _star_svg(fill: str, stroke: str, size: int) -> str:
    """A plump five-pointed star as inline SVG (no image file), with a white halo so it stands out on
    any fill."""
    c, outer = size / 2, size / 2 - 2.5
    inner = outer * 0.5
    points = []
    for k in range(10):
        r = outer if k % 2 == 0 else inner
        angle = np.pi / 2 - k * np.pi / 5
        points.append(f"{c + r * np.cos(angle):.1f},{c - r * np.sin(angle) + outer * 0.1:.1f}")
    shape = f'points="{" ".join(points)}" stroke-linejoin="round"'
    return (
        f'<svg width="{size}" height="{size}" viewBox="0 0 {size} {size}">'
        f'<polygon {shape} fill="none" stroke="#ffffff" stroke-width="4.5"/>'
        f'<polygon {shape} fill="{fill}" stroke="{stroke}" stroke-width="2"/></svg>'
    )


# ---------------------------------------------------------------------------------------------------------
# layers
# ---------------------------------------------------------------------------------------------------------


def _pane(key: str) -> str:
    """The name of the Leaflet pane of layer ``key`` (one of ``_PANE_KEYS``)."""
    if key not in _PANE_KEYS:
        raise ValueError(f"unknown map pane {key!r}; expected one of {_PANE_KEYS}")
    return f"{_PANE_PREFIX}{key}"


class _GeoJsonLayer(Layer):
    """A GeoJSON overlay with a shared style table, one tooltip per feature, in a fixed pane.

    ``items`` are ``(geometry, properties)`` pairs; missing or empty geometries are dropped.  Each
    feature's properties carry ``s`` (index into ``table``) and ``t`` (tooltip HTML, already escaped).
    Point features become SVG circle markers, or an inline-SVG star when they carry ``star``.

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
            var data = {{ this.data_js }};
            var renderer = L.canvas({pane: {{ this.pane|tojson }}}), features = null;
            function sync() {
                var show = map.getZoom() >= {{ this.min_zoom }};
                if (show && features === null) {
                    features = L.geoJson(data, {{ options(this, "features", "renderer") }});
                    data = null;
                }
                if (show && !group.hasLayer(features)) { group.addLayer(features); }
                if (!show && features !== null && group.hasLayer(features)) { group.removeLayer(features); }
                if (!(show && map.hasLayer(group)) && map.hasLayer(renderer)) { map.removeLayer(renderer); }
            }
            map.on("zoomend", sync);
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
    ):
        super().__init__(name=name, overlay=True, control=True, show=True)
        self._name = "ZoningGeoJson"
        kept = [(geom, properties) for geom, properties in items if geom is not None and not geom.is_empty]
        geometries = _geometry_dicts([geom for geom, _ in kept])
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


def _rows(frame: pd.DataFrame, columns: Sequence[str]):
    """Rows of ``columns`` as tuples; a missing optional column reads as None."""
    data = [frame[c].to_numpy(dtype=object) if c in frame.columns else [None] * len(frame) for c in columns]
    return zip(*data, strict=True)


def _zone_layer(
    zones: gpd.GeoDataFrame, geoms: gpd.GeoSeries, colours: dict, district_of: dict | None
) -> Layer:
    """Zone fills.  Coloured by district, a zone's border is thin: the district reads as one area, and
    the thick district outline above marks where districts meet."""
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
            lines.append("未划入学区 not in a district" if did is None else f"学区 district {_fmt_id(did)}")
        lines.append(_load_html(students, capacity, utilisation))
        tip = "<br>".join(lines)
        items.append((_polygonal(geom), {"s": s, "t": tip}))
    layer = _GeoJsonLayer(
        table,
        items,
        name="Zones 片区",
        pane="zones",
        tooltip_options={"sticky": True},
        highlight={"weight": 3, "color": "#000000"},
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
            school = "未分配 unassigned"
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
            f"学校 school: {school}<br>"
            f"学生 students: {_fmt_count(students)}<br>"
            f"距离 distance: {distance}<br>"
            f"调整 moved: {_yes_no(moved)}"
        )
        items.append((geom, {"s": styles[key], "t": tip}))
    return _GeoJsonLayer(
        table,
        items,
        name="Blocks 小区",
        pane="blocks",
        tooltip_options={"sticky": True},
        highlight={"weight": 3, "color": "#000000", "opacity": 1},
        min_zoom=min_zoom,
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


def _district_layer(districts: gpd.GeoDataFrame, geoms: gpd.GeoSeries) -> Layer:
    table = _StyleTable()
    s = table(color="#1a1a1a", weight=4.5, opacity=0.9, fill=False)
    items = []
    for geom, (district_id, lead_name, n_schools, students, capacity) in zip(
        _without_gaps(geoms.values), _rows(districts, DISTRICT_COLUMNS), strict=True
    ):
        utilisation = _ratio(students, capacity)
        tip = (
            f"<b>学区 district {_fmt_id(district_id)}</b><br>"
            f"牵头校 lead school: {html.escape(str(lead_name))}<br>"
            f"学校 schools: {_fmt_count(n_schools)}<br>"
            f"{_load_html(students, capacity, utilisation)}"
        )
        items.append((geom, {"s": s, "t": tip}))
    return _GeoJsonLayer(
        table,
        items,
        name="Districts 学区",
        pane="districts",
        tooltip_options={"sticky": True},
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
        lines = [f"<b>{html.escape(str(name))}</b>" + (" ★ 牵头校 lead school" if lead else "")]
        if not _missing(district_id):
            lines.append(f"学区 district {_fmt_id(district_id)}")
        lines.append(_load_html(students, capacity, utilisation))
        properties: dict = {"s": s, "t": "<br>".join(lines)}
        if lead:
            properties["star"] = [_star_svg(colour, stroke, LEAD_STAR_PX), LEAD_STAR_PX]
        items.append((geom, properties))
    return _GeoJsonLayer(
        table,
        items,
        name="Schools 学校",
        pane="schools",
        tooltip_options={"direction": "top"},
    )


# ---------------------------------------------------------------------------------------------------------
# title and legend
# ---------------------------------------------------------------------------------------------------------


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


def _ratio(numerator, denominator) -> float:
    if _missing(numerator) or _missing(denominator) or float(denominator) == 0:
        return float("nan")
    return float(numerator) / float(denominator)


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
) -> str:
    """Title and the plan in figures.  Without blocks (districts drawn on schools alone) the block count
    is left out and the children are the schools' own; a total nobody knows is left out too.  At city
    scale a line says the blocks show once zoomed in."""
    students = _sum(blocks, "students") if len(blocks) else _sum(schools, "students")
    seats = _sum(schools, "capacity")
    facts = [f"{len(schools):,} 所学校 schools"]
    if len(blocks):
        facts.append(f"{len(blocks):,} 小区 blocks")
    if students is not None:
        facts.append(f"{_fmt_count(students)} 学生 students")
    if seats is not None:
        facts.append(f"{_fmt_count(seats)} 学位 seats")
    lines = [f"<h1>{html.escape(title)}</h1>", f"<div>{' · '.join(facts)}</div>"]
    if n_over:
        lines.append(f'<div class="zoning-over">{n_over} 所超额 school(s) over capacity</div>')
    if n_moved:
        lines.append(f"<div>{n_moved:,} 小区调整 block(s) moved (dashed)</div>")
    if city_scale and len(blocks):
        lines.append(f"<div>放大查看小区 zoom in to see the blocks (from zoom {BLOCK_MIN_ZOOM})</div>")
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
        "<tr><td></td><td></td><td class='zoning-num'>学生/学位<br>students/seats</td>"
        "<td class='zoning-num'>使用率<br>use</td></tr>"
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
        "<details open><summary><h2>学校 Schools</h2></summary><table>"
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
        "<tr><td></td><td></td><td class='zoning-num'>学生/学位<br>students/seats</td>"
        "<td class='zoning-num'>使用率<br>use</td></tr>"
    ]
    for did, lead_name, n_schools, students, capacity in _rows(districts, DISTRICT_COLUMNS):
        if _missing(did):
            continue
        lead = "—" if _missing(lead_name) else html.escape(str(lead_name))
        use = _utilisation_html(_ratio(students, capacity), over_label="")
        rows.append(
            f"<tr><td><span class='zoning-swatch' style='background:"
            f"{_rgba(colours.get(did, UNASSIGNED_COLOUR), ZONE_FILL_OPACITY)}'></span></td>"
            f"<td class='zoning-district'><span><b>学区 district {_fmt_id(did)}</b> · "
            f"{_fmt_count(n_schools)} 所学校 schools</span><br>★ {lead}</td>"
            f"<td class='zoning-num'>{_fmt_count(students)} / {_fmt_count(capacity)}</td>"
            f"<td class='zoning-num'>{use}</td></tr>"
        )
    return (
        f"<details open><summary><h2>{len(rows) - 1} 学区 Districts</h2></summary><table>"
        + "".join(rows)
        + "</table>"
        + key
        + "</details>"
    )


def _key_html(*, has_lead: bool, has_over: bool, has_moved: bool, has_districts: bool, n_outside: int) -> str:
    """The symbol key under the legend's table (``n_outside``: schools in no district, drawn grey)."""
    key = [
        "<svg width='16' height='16'><circle cx='8' cy='8' r='6' fill='#ffffff' stroke='#1a1a1a' "
        "stroke-width='2'/></svg> 学校 school"
    ]
    if has_lead:
        key.append(_star_svg("#ffffff", "#1a1a1a", 22) + " 牵头校 lead school")
    if has_over:
        key.append(
            f"<svg width='16' height='16'><circle cx='8' cy='8' r='6' fill='#ffffff' "
            f"stroke='{OVER_CAPACITY_COLOUR}' stroke-width='3'/></svg> 超额 over capacity"
        )
    if has_moved:
        key.append(
            "<svg width='22' height='10'><line x1='0' y1='5' x2='22' y2='5' stroke='#111111' "
            "stroke-width='2' stroke-dasharray='5 4'/></svg> 调整的小区 moved block"
        )
    if has_districts:
        key.append(
            "<svg width='22' height='10'><line x1='0' y1='5' x2='22' y2='5' stroke='#1a1a1a' "
            "stroke-width='4.5'/></svg> 学区 district"
        )
    if n_outside:
        key.append(
            f"<span class='zoning-swatch' style='background:{_rgba(UNASSIGNED_COLOUR, ZONE_FILL_OPACITY)}'>"
            f"</span> 未划入学区 not in a district ({n_outside:,} 所 schools)"
        )
    return "<div class='zoning-key'>" + "<br>".join(key) + "</div>"


def _bounds(*series: gpd.GeoSeries | None) -> list[list[float]] | None:
    boxes = [s.total_bounds for s in series if s is not None and not s.is_empty.all() and len(s)]
    boxes = [b for b in boxes if np.all(np.isfinite(b))]
    if not boxes:
        return None
    b = np.array(boxes)
    return [[float(b[:, 1].min()), float(b[:, 0].min())], [float(b[:, 3].max()), float(b[:, 2].max())]]
