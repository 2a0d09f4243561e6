"""How the map looks and reads: the palette and other constants, the colour of each zone or district
(touching ones never share one), and the formatting of figures in tooltips and the legend.
"""

from __future__ import annotations

import html
from collections.abc import Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ...plan import DISTRICT_WORDS, UNIT_WORDS, units_issue

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
#: Blocks whose school changes (outline and light fill).
CHANGE_COLOUR = "#d81b60"
#: The outline of the block a search found (or a click chose) while its popup is open.
FOUND_COLOUR = "#0d47a1"
#: School circles' radius and lead-school stars' size on screen (pixels): a star is well over twice as
#: wide as a circle, so lead schools stand out at a glance.
SCHOOL_RADIUS_PX = 7
LEAD_STAR_PX = 36
COORD_DECIMALS = 6
#: Above this many blocks a map is drawn at city scale (see the docstring of ``page``).
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

#: The map's languages (``lang``): Chinese, English, or both side by side ("学校 school").
LANGS = ("zh", "en", "both")

#: The layers' Leaflet panes, bottom to top: each layer draws into ``zoning-<key>``.
_PANE_KEYS = ("zones", "blocks", "districts", "schools")

#: Pane names are this prefix and the layer key; Leaflet gives pane ``x`` the class ``leaflet-x-pane``.
_PANE_PREFIX = "zoning-"


# ---------------------------------------------------------------------------------------------------------
# language
# ---------------------------------------------------------------------------------------------------------

#: The language of the map being drawn: set by :func:`language` around one ``zone_map`` call, read by
#: :func:`tr` wherever a label is written (so the many small HTML builders need no extra argument).
_LANG: ContextVar[str] = ContextVar("zoning_map_lang", default="both")


#: What the map's blocks are (a key of ``plan.UNIT_WORDS``): 小区 blocks, or a feeder plan's 小学片区 primary zones.
_UNITS: ContextVar[str] = ContextVar("zoning_map_units", default="blocks")


#: What the map's districts are (a key of ``DISTRICT_WORDS``): 学区, or 教育集团 drawn with ``--groups``.
_DISTRICTS: ContextVar[str] = ContextVar("zoning_map_districts", default="school districts")


@contextmanager
def language(lang: str, units: str = "blocks", districts: str = "school districts") -> Iterator[None]:
    """Write the labels of the map drawn inside this block in ``lang`` (one of ``LANGS``), naming its blocks
    as ``units`` (a key of ``UNIT_WORDS``: "blocks", or "primary zones" for a feeder plan) and its districts
    as ``districts`` (a key of ``DISTRICT_WORDS``: "school districts", or "education groups")."""
    if lang not in LANGS:
        raise ValueError(f"unknown map language {lang!r}; expected one of {', '.join(LANGS)}")
    if (issue := units_issue(units)) is not None:
        raise ValueError(str(issue))
    if districts not in DISTRICT_WORDS:
        raise ValueError(f"unknown districts {districts!r}; expected one of {', '.join(DISTRICT_WORDS)}")
    tokens = _LANG.set(lang), _UNITS.set(units), _DISTRICTS.set(districts)
    try:
        yield
    finally:
        _LANG.reset(tokens[0])
        _UNITS.reset(tokens[1])
        _DISTRICTS.reset(tokens[2])


def tr(zh: str, en: str) -> str:
    """A label in the map's language: ``zh``, ``en``, or both ("学校 school")."""
    lang = _LANG.get()
    return zh if lang == "zh" else en if lang == "en" else f"{zh} {en}"


def tr_units(zh: str, en: str) -> str:
    """:func:`tr` naming the map's blocks: ``{u}`` is 小区 (or 小学片区) in ``zh``; in ``en`` ``{u}`` is
    "block" (or "primary zone"), ``{us}`` "blocks", ``{Us}`` "Blocks"."""
    u_zh, u_en, us_en = UNIT_WORDS[_UNITS.get()]
    return tr(zh.format(u=u_zh), en.format(u=u_en, us=us_en, Us=us_en[:1].upper() + us_en[1:]))


def tr_districts(zh: str, en: str) -> str:
    """:func:`tr` naming the map's districts: ``{d}`` is 学区 (or 教育集团) in ``zh``, ``{lead}`` its lead school
    (学区长学校, or 牵头学校); in ``en`` ``{d}`` is "district" (or "group"), ``{ds}`` "districts", ``{Ds}``
    "Districts", ``{D}`` "District"."""
    d_zh, d_en, ds_en, lead_zh = DISTRICT_WORDS[_DISTRICTS.get()]
    return tr(
        zh.format(d=d_zh, lead=lead_zh),
        en.format(d=d_en, ds=ds_en, Ds=ds_en[:1].upper() + ds_en[1:], D=d_en[:1].upper() + d_en[1:]),
    )


# ---------------------------------------------------------------------------------------------------------
# colours
# ---------------------------------------------------------------------------------------------------------


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


def _plain_id(value) -> str:
    """A district id as residents read it: 2, not 2.0 (ids turn into floats beside missing values)."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        value = int(value)
    return str(value)


def _fmt_id(value) -> str:
    """:func:`_plain_id`, escaped for HTML."""
    return html.escape(_plain_id(value))


def _fmt_share(value) -> str:
    return "—" if _missing(value) else f"{float(value):.0%}"


def _is_over(utilisation) -> bool:
    return not _missing(utilisation) and float(utilisation) > 1 + 1e-9


def _utilisation_html(utilisation, *, over_label: str | None = None) -> str:
    """The share in use; over capacity in red, followed by ``over_label`` (default: " 超额 over")."""
    text = _fmt_share(utilisation)
    if _is_over(utilisation):
        label = " " + tr("超额", "over") if over_label is None else over_label
        return f'<span class="zoning-over">{text}{label}</span>'
    return text


def _load_html(students, capacity, utilisation) -> str:
    return (
        f"{tr('学生', 'students')}: {_fmt_count(students)} / {_fmt_count(capacity)} {tr('学位', 'seats')}<br>"
        f"{tr('使用率', 'utilisation')}: {_utilisation_html(utilisation)}"
    )


def _yes_no(value) -> str:
    if _missing(value):
        return "—"
    return tr("是", "yes") if bool(value) else tr("否", "no")


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


def _ratio(numerator, denominator) -> float:
    if _missing(numerator) or _missing(denominator) or float(denominator) == 0:
        return float("nan")
    return float(numerator) / float(denominator)


def _rows(frame: pd.DataFrame, columns: Sequence[str]):
    """Rows of ``columns`` as tuples; a missing optional column reads as None."""
    data = [frame[c].to_numpy(dtype=object) if c in frame.columns else [None] * len(frame) for c in columns]
    return zip(*data, strict=True)
