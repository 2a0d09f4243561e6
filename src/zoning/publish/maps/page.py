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

This package is the only one that imports folium.  It never solves and never touches files: it returns a
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

import html
import logging
from collections.abc import Hashable, Mapping

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from folium.map import CustomPane

from ...errors import InputError, Issue, ZoningError, choice_issue, kind_of
from ...io.crs import wgs84_to_gcj02
from ...plan import units_issue
from .assets import _CITY_CSS, _CSS, _external_assets, _make_offline, _Raw
from .consult import CSS as _CONSULT_CSS
from .consult import Consult, consult_data, current_zones, search_html
from .layers import _block_layer, _change_layer, _district_layer, _pane, _school_layer, _zone_layer
from .legend import _bounds, _Control, _district_legend_html, _FitBounds, _key_html, _legend_html, _title_html
from .style import (
    _PANE_KEYS,
    BLOCK_COLUMNS,
    BLOCK_MIN_ZOOM,
    BLOCK_SIMPLIFY_M,
    CITY_COORD_DECIMALS,
    CITY_SCALE_BLOCKS,
    COORD_DECIMALS,
    DISTRICT_COLUMNS,
    DISTRICT_WORDS,
    LANGS,
    PALETTE,
    SCHOOL_COLUMNS,
    UNASSIGNED_COLOUR,
    ZONE_COLUMNS,
    ZONE_SIMPLIFY_M,
    _district_colours,
    _is_over,
    _missing,
    _truthy,
    _zone_colours,
    language,
    tr,
)

#: Coordinate systems of tile servers: WGS84 (OpenStreetMap, 天地图) or GCJ-02 (高德 AMap, 腾讯 Tencent).
TILES_CRS = ("wgs84", "gcj02")

__all__ = ["zone_map", "compare_map", "to_html"]

logger = logging.getLogger(__name__)


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
    tiles_crs: str = "wgs84",
    city_scale: bool | None = None,
    lang: str = "both",
    date: str | None = None,
    units: str = "blocks",
    district_kind: str = "school districts",
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
    provider name folium knows) adds a background map for users who are online; ``tiles_crs="gcj02"`` shifts
    the overlays into GCJ-02 for 高德 / 腾讯 tiles.  ``lang``: labels in "zh", "en" or "both"; ``date``: a line
    under the title (the consultation's date); ``units``: what the blocks are, named so in every label ("blocks":
    小区; "primary zones": 小学片区, the blocks of a feeder plan, 直对入学); ``district_kind``: what the districts are,
    named so in every label ("school districts": 学区; "education groups": 教育集团, ``rules["districts"]["kind"]``).  Every map has the search box and popups (``consult``); with a
    ``current_school`` per block also the zones of today and the blocks that change school.

    Raises:
        InputError: a frame is not a GeoDataFrame, lacks a column or has no CRS (every problem listed),
            or a tile URL comes without attribution.
    """
    _check_inputs(
        blocks, zones, schools, districts, tiles, attribution, tiles_crs, lang, units, district_kind
    )
    if city_scale is None:
        city_scale = len(blocks) > CITY_SCALE_BLOCKS
    with language(lang, units, district_kind):
        return _draw(
            blocks, zones, schools, title, districts, tiles, attribution, tiles_crs, city_scale, date
        )


def _draw(
    blocks,
    zones,
    schools,
    title,
    districts,
    tiles,
    attribution,
    tiles_crs,
    city_scale,
    date,
    zones_name=None,
    other_zones: Mapping[str, gpd.GeoDataFrame] | None = None,
) -> folium.Map:
    """The map of :func:`zone_map` (inside ``style.language``: every label in the map's language);
    ``zones_name``: the zones are one base layer of several, under that name, beside ``other_zones`` (name →
    zones of another plan; schools it alone has take the next colours) (:func:`compare_map`)."""
    order = _school_order(schools, zones, blocks)
    names = _school_names(schools, zones)
    stats = _zone_stats(zones)
    n_over = sum(_is_over(u) for u in schools["utilisation"])
    n_moved = sum(_truthy(v) for v in blocks["moved"])
    has_lead = "is_lead" in schools.columns and any(_truthy(v) for v in schools["is_lead"])
    now_zones = current_zones(blocks, schools)
    block_drawing = dict(simplify_m=BLOCK_SIMPLIFY_M, decimals=CITY_COORD_DECIMALS) if city_scale else {}
    gcj02 = tiles_crs == "gcj02"
    geoms = {
        "blocks": _to_lonlat(blocks, gcj02=gcj02, **block_drawing),
        "zones": _to_lonlat(zones, gcj02=gcj02),
        "schools": _to_lonlat(schools, gcj02=gcj02),
    }
    if districts is not None:
        geoms["districts"] = _to_lonlat(districts, gcj02=gcj02)
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
        simple = dict(simplify_m=ZONE_SIMPLIFY_M, decimals=CITY_COORD_DECIMALS, gcj02=gcj02)
        geoms["zones"] = _to_lonlat(zones, **simple)
        if districts is not None:
            geoms["districts"] = _to_lonlat(districts, **simple)
    decimals = CITY_COORD_DECIMALS if city_scale else COORD_DECIMALS
    now_geoms = None
    if now_zones is not None:
        now_geoms = _to_lonlat(now_zones, simplify_m=ZONE_SIMPLIFY_M if city_scale else None, decimals=decimals,
                               gcj02=gcj02)  # fmt: skip

    # Without tiles, fractional zoom lets the zones fill the window; tiles look blurred between levels.
    m = folium.Map(tiles=None, zoom_control=False, control_scale=True, zoom_snap=1 if tiles else 0.25)
    _make_offline(m)
    root = m.get_root()
    root.header.add_child(_Raw(f"<title>{html.escape(title)}</title>"), name="zoning_title")
    root.header.add_child(_Raw(f"<style>{_CSS}{_CONSULT_CSS}</style>"), name="zoning_css")
    if city_scale:
        root.header.add_child(_Raw(f"<style>{_CITY_CSS}</style>"), name="zoning_city_css")
    if tiles is not None:
        folium.TileLayer(tiles, attr=attribution, name=tr("底图", "Base map"), control=False).add_to(m)

    # One pane per layer, fixed z-order: toggling a layer off and on never buries the ones above it.
    # Panes let pointer events through; only the drawn shapes catch them.
    for z_index, key in enumerate(_PANE_KEYS, start=401):
        CustomPane(_pane(key), z_index=z_index, pointer_events=False).add_to(m)
    # with the zones of today, the two zone layers are a radio pair (one shows at a time)
    before_after = now_geoms is not None
    zone_layer = _zone_layer(
        zones,
        geoms["zones"],
        colours,
        district_of,
        layer_name=zones_name or (tr("调整后片区", "Proposed zones") if before_after else None),
        overlay=not (before_after or zones_name),
    ).add_to(m)
    for name, other in (other_zones or {}).items():  # the plans compared, in their order
        for sid in other["school_id"]:
            colours.setdefault(sid, PALETTE[len(colours) % len(PALETTE)])
        _zone_layer(
            other, _to_lonlat(other), colours, None, layer_name=name, overlay=False, show=False
        ).add_to(m)
    if before_after:  # after the plans: the switcher lists A, B, C, then today (not A, today, B, C)
        _zone_layer(
            now_zones,
            now_geoms,
            colours,
            _before_district_of(schools),
            layer_name=tr("现状片区", "Zones today"),
            overlay=False,
            show=False,
        ).add_to(m)
    block_layer = _block_layer(
        blocks, geoms["blocks"], colours, names, stats, min_zoom=BLOCK_MIN_ZOOM if city_scale else None
    ).add_to(m)
    if n_moved and "current_school" in blocks.columns:
        _change_layer(blocks, geoms["blocks"], names).add_to(m)
    if districts is not None:
        _district_layer(districts, geoms["districts"]).add_to(m)
        before = _districts_today(
            schools,
            now_zones if now_zones is not None else zones,
            now_geoms if now_geoms is not None else geoms["zones"],
        )
        if before is not None:
            _district_layer(*before, today=True).add_to(m)
    school_layer = _school_layer(schools, geoms["schools"], colours).add_to(m)

    title_box = _Control(
        _title_html(title, blocks, schools, n_over=n_over, n_moved=n_moved, city_scale=city_scale, date=date)
        + search_html(),
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
    Consult(
        consult_data(blocks, geoms["blocks"], schools, geoms["schools"], district_of, decimals=decimals)
    ).add_to(m)

    bounds = _bounds(*geoms.values())
    if bounds is not None:
        # What the first view must not hide under a box: the zones (the union of their blocks; of 小区
        # given as points, the points' cells), blocks drawn as dots (with zones of points there is no
        # area to draw; at city scale no block shows before zoom 14) and the schools.
        dots = not city_scale and bool(geoms["blocks"].geom_type.isin(["Point", "MultiPoint"]).any())
        shown = [zone_layer, *([block_layer] if dots else []), school_layer]
        _FitBounds(bounds, layers=shown, title_box=title_box, legend_box=legend_box).add_to(m)
    logger.debug(
        "zone map: %d blocks, %d zones, %d schools%s",
        len(blocks),
        len(zones),
        len(schools),
        f" (city scale: simplified, blocks from zoom {BLOCK_MIN_ZOOM})" if city_scale else "",
    )
    return m


def compare_map(
    plans: Mapping[str, tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]],
    *,
    title: str = "Plans compared",
    lang: str = "both",
    units: str = "blocks",
) -> folium.Map:
    """One map of several plans (name → (blocks, zones, schools)): the first drawn in full (blocks, schools,
    search, popups), every plan's zones a base layer to switch to, each school in the same colour in all of
    them (schools the first plan lacks take the next colours).  The frames may be in any CRS.  ``units``: what
    the blocks are, as for :func:`zone_map` (feeder plans: "primary zones")."""
    if not plans:
        raise InputError([Issue("no plan to draw.", "give one plan folder or more.")])
    names = list(plans)
    blocks, zones, schools = plans[names[0]]
    _check_inputs(blocks, zones, schools, None, None, None, "wgs84", lang, units)
    others = {name: plans[name][1] for name in names[1:]}
    with language(lang, units):
        return _draw(blocks, zones, schools, title, None, None, None, "wgs84", len(blocks) > CITY_SCALE_BLOCKS,
                     None, zones_name=names[0], other_zones=others)  # fmt: skip


def to_html(m: folium.Map) -> str:
    """The full standalone page of ``m``: Leaflet inlined, UTF-8, no script or stylesheet from the internet.

    Works for any folium map (its default CDN assets are dropped); raises :class:`ZoningError` if some
    element (a folium plugin, say) still links a script or stylesheet on the internet.
    """
    _make_offline(m)
    page = _numbered(m.get_root().render(), m.get_root())
    external = _external_assets(page)
    if external:
        raise ZoningError(
            f"The map page would load {len(external)} file(s) from the internet ({', '.join(external[:5])}); "
            "without a network residents would see a broken map. Fix: remove the map elements that add "
            "them (folium plugins), or ship those files inline."
        )
    logger.debug("map page: %d characters", len(page))
    return page


def _numbered(page: str, root) -> str:
    """The page with branca's random element ids replaced by their order in the element tree: the same plan
    then gives the same page, byte for byte.  Ids are replaced after rendering because some elements hold
    other elements' names as text (the layer control)."""
    ids: list[str] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        el = stack.pop()
        if id(el) in seen:
            continue
        seen.add(id(el))
        if isinstance(getattr(el, "_id", None), str):
            ids.append(el._id)
        stack.extend(reversed(list(getattr(el, "_children", {}).values())))
    for n, old in enumerate(dict.fromkeys(ids), start=1):
        page = page.replace(old, f"{n:032x}")
    return page


# ---------------------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------------------


def _check_inputs(
    blocks,
    zones,
    schools,
    districts,
    tiles,
    attribution,
    tiles_crs="wgs84",
    lang="both",
    units="blocks",
    district_kind="school districts",
) -> None:
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
                    f"{label} is {kind_of(frame)}, not a GeoDataFrame with geometries.",
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
                fix="give the provider's credit line (--attribution, attribution= in Python), or no tiles for "
                "the offline map.",
            )
        )
    if tiles_crs not in TILES_CRS:
        issues.append(
            Issue(
                f"tiles_crs {tiles_crs!r} is not a tile coordinate system this map knows.",
                fix="use 'gcj02' for 高德 AMap / 腾讯 Tencent tiles, 'wgs84' for OpenStreetMap / 天地图.",
            )
        )
    if lang not in LANGS:
        issues.append(Issue(f"lang {lang!r} is not one of {', '.join(LANGS)}.", fix="use zh, en or both."))
    if district_kind not in DISTRICT_WORDS:
        issues.append(choice_issue("district_kind", district_kind, tuple(DISTRICT_WORDS),
                                   fix="use school districts or education groups."))  # fmt: skip
    if (issue := units_issue(units)) is not None:
        issues.append(issue)
    if issues:
        raise InputError(issues, headline=f"Cannot draw the map: {len(issues)} problem(s):")


def _to_lonlat(
    frame: gpd.GeoDataFrame,
    *,
    simplify_m: float | None = None,
    decimals: int = COORD_DECIMALS,
    gcj02: bool = False,
) -> gpd.GeoSeries:
    """The geometries in WGS84 longitude/latitude, coordinates rounded to ``decimals`` (6: ≈ 0.1 m);
    ``gcj02``: shifted into GCJ-02, to line up with 高德 / 腾讯 tiles (inside China; unchanged elsewhere).

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
    if gcj02:
        values = shapely.transform(values, lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
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


def _before_district_of(schools: gpd.GeoDataFrame) -> dict | None:
    """{school id: district id} of the existing grouping (``district_before`` in a plan folder,
    ``district`` in a plan), for the zones of today; None without one."""
    for column in ("district_before", "district"):
        if column in schools.columns and schools[column].notna().any():
            return {
                sid: did
                for sid, did in zip(schools["school_id"], schools[column], strict=True)
                if not _missing(sid) and not _missing(did)
            }
    return None


def _districts_today(
    schools: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, geoms: gpd.GeoSeries
) -> tuple[gpd.GeoDataFrame, gpd.GeoSeries] | None:
    """The existing grouping drawn as districts: today's zones (or the schools' given zones) united by the
    district their school is in today, with its schools, children and seats.  None without one."""
    before_of = _before_district_of(schools)
    if not before_of:
        return None
    did = zones["school_id"].map(before_of)
    keep = did.notna().to_numpy()
    if not keep.any():
        return None
    drawn = gpd.GeoDataFrame(
        {
            "district_id": did[keep].to_numpy(),
            "students": pd.to_numeric(zones["students"], errors="coerce")[keep].to_numpy(),
            "capacity": pd.to_numeric(zones["capacity"], errors="coerce")[keep].to_numpy(),
            "n_schools": 1,
        },
        geometry=geoms[keep].to_numpy(),
        crs=geoms.crs,
    )
    known = lambda x: x.sum(min_count=1)  # noqa: E731  (no figure for a district with none known)
    united = drawn.dissolve(
        by="district_id", aggfunc={"students": known, "capacity": known, "n_schools": "sum"}
    ).reset_index()
    united["lead_name"] = None
    return united, united.geometry


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
