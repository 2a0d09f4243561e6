"""The report's figures as PNG bytes (matplotlib): the zones map, the map of what changes, and the histogram of
home-to-school distance before and after.

Figures are drawn on :class:`matplotlib.figure.Figure` objects rendered by the Agg canvas, never through
``pyplot``: no backend is chosen, no figure is kept, nothing global changes but one registration, that of the
CJK font file the caller names with :func:`matplotlib.font_manager.FontManager.addfont` (so Chinese school
names render, on a machine with no Chinese font installed).  Polygons are drawn from their coordinates (not
``GeoDataFrame.plot``, which imports pyplot), in the plan's metric CRS so that a metre is a metre both ways.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import shapely
from matplotlib import font_manager, patheffects
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.path import Path as MplPath

from ..plan import DISTRICT_WORDS

__all__ = ["DPI", "font_family", "zones_figure", "changes_figure", "distance_figure"]

#: Soft fills for zones (or districts), told apart by a greedy colouring of neighbours.
_FILLS = (
    "#8dd3c7",
    "#ffffb3",
    "#bebada",
    "#fb8072",
    "#80b1d3",
    "#fdb462",
    "#b3de69",
    "#fccde5",
    "#d9d9d9",
    "#bc80bd",
    "#ccebc5",
    "#ffed6f",
)  # ColorBrewer Set3
_MOVED, _NEW, _PLAN, _NOW = "#d95f02", "#7570b3", "#1f78b4", "#969696"
#: Above this many schools the map names only the lead schools (the labels would cover the map; the
#: interactive map.html names every school).
_MAX_LABELS = 30
#: Resolution of the PNGs (dots per inch): sharp on paper, a few hundred kB a map.
DPI = 150
#: Inches kept free at either side of a legend (constrained layout's own padding is 3 points).
_MARGIN = 0.08


@functools.cache
def font_family(path: str | os.PathLike[str]) -> str:
    """The family name of the font file at ``path``, registered with matplotlib once."""
    font_manager.fontManager.addfont(os.fspath(path))
    return font_manager.FontProperties(fname=os.fspath(path)).get_name()


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _paths(geoms) -> tuple[list[MplPath], np.ndarray]:
    """Each polygon part as a matplotlib path with its holes, and the index of the geometry it came from."""
    parts, owner = shapely.get_parts(np.asarray(geoms, dtype=object), return_index=True)
    paths = []
    for poly in parts:
        rings = [poly.exterior, *poly.interiors] if isinstance(poly, shapely.Polygon) else []
        coords = [np.asarray(r.coords)[:, :2] for r in rings]
        paths.append(
            MplPath.make_compound_path(*(MplPath(c, closed=True) for c in coords))
            if coords
            else MplPath(np.zeros((1, 2)))
        )
    return paths, owner


def _colouring(geoms) -> np.ndarray:
    """A colour index per geometry: one each when the palette has enough, else neighbours (touching or
    overlapping) apart where it allows (a greedy colouring, most neighbours first, each taking the least used
    colour its neighbours leave)."""
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) <= len(_FILLS):
        return np.arange(len(geoms))  # few: one colour each
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    neighbours = [set() for _ in range(len(geoms))]
    for i, j in zip(a, b):
        if i != j:
            neighbours[i].add(j)
    colour = np.full(len(geoms), -1)
    used = np.zeros(len(_FILLS), dtype=int)
    for i in np.argsort([-len(n) for n in neighbours], kind="stable"):  # most neighbours first
        taken = {colour[j] for j in neighbours[i]}
        free = [c for c in range(len(_FILLS)) if c not in taken] or list(range(len(_FILLS)))
        colour[i] = min(free, key=lambda c: used[c])  # the least used: the whole palette, evenly
        used[colour[i]] += 1
    return colour


def _fill(ax, geoms, colours, *, edge="white", width=0.6, alpha=1.0, zorder=1) -> None:
    paths, owner = _paths(geoms)
    ax.add_collection(
        PathCollection(
            paths,
            facecolors=np.asarray(colours, dtype=object)[owner] if len(owner) else [],
            edgecolors=edge,
            linewidths=width,
            alpha=alpha,
            zorder=zorder,
        )
    )


def _outline(ax, geoms, *, colour="#222222", width=1.8, zorder=3) -> None:
    paths, _ = _paths(geoms)
    ax.add_collection(
        PathCollection(paths, facecolors="none", edgecolors=colour, linewidths=width, zorder=zorder)
    )


def _map(geoms) -> tuple[Figure, object]:
    """A figure sized to the extent of ``geoms`` (at most 7.2 in wide and 5.6 in tall, so that it fits on
    a page below the summary, with room for the legend below) holding one axes at equal aspect and without
    axis lines (the metres of a projected CRS mean nothing to a reader)."""
    x0, y0, x1, y1 = shapely.total_bounds(np.asarray(geoms, dtype=object))
    pad = 0.03 * max(x1 - x0, y1 - y0, 1.0)
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    ratio = (y1 - y0) / (x1 - x0)
    width = min(7.2, 5.6 / ratio)
    fig = Figure(figsize=(width, max(2.5, width * ratio) + 0.45), layout="constrained")
    ax = fig.add_subplot()
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return fig, ax


def _legend(fig: Figure, handles: list, family: str) -> None:
    """The legend below the map, in rows of as many entries as the figure's width holds (at most 4).

    Constrained layout makes room for a legend outside the axes by shrinking them, which takes height but can
    never widen the figure: a map taller than wide (Bao'an's is 4.1 in wide) cut a legend of 6.2 in at both
    edges.  So the entries wrap into more rows, the figure grows by their height (the map keeps its size), and
    it widens only when a single entry is wider than the map."""
    prop = {"family": family, "size": 7}
    room = fig.get_figwidth() - 2 * _MARGIN
    for ncols in range(min(len(handles), 4), 0, -1):
        legend = fig.legend(
            handles=handles, loc="outside lower center", ncols=ncols, frameon=False, prop=prop
        )
        width, height = legend.get_window_extent().size / fig.dpi  # inches: the size needs no layout
        if width <= room or ncols == 1:
            break
        legend.remove()
    rows = -(-len(handles) // ncols)
    fig.set_size_inches(
        max(fig.get_figwidth(), width + 2 * _MARGIN), fig.get_figheight() + height * (rows - 1) / rows
    )


def _scale_bar(ax, family: str) -> None:
    """A scale bar of a round length near a fifth of the map's width."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    target = (x1 - x0) / 5
    length = max(
        10 ** np.floor(np.log10(target)) * m
        for m in (1, 2, 5)
        if 10 ** np.floor(np.log10(target)) * m <= target
    )
    x, y = x0 + 0.04 * (x1 - x0), y0 + 0.04 * (y1 - y0)
    ax.plot([x, x + length], [y, y], color="black", linewidth=2.5, solid_capstyle="butt", zorder=6)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(
        x + length / 2,
        y + 0.012 * (y1 - y0),
        label,
        ha="center",
        va="bottom",
        fontsize=7,
        fontfamily=family,
        zorder=6,
    )


def _schools(ax, schools: gpd.GeoDataFrame, family: str) -> None:
    """Schools as points (leads of districts as stars), named when there are not too many (else the leads)."""
    lead = (
        schools["is_lead"].fillna(False).astype(bool).to_numpy()
        if "is_lead" in schools
        else np.zeros(len(schools), bool)
    )
    xy = shapely.get_coordinates(schools.geometry.values)
    ax.scatter(xy[~lead, 0], xy[~lead, 1], s=16, c="black", edgecolors="white", linewidths=0.6, zorder=5)
    if lead.any():
        ax.scatter(
            xy[lead, 0],
            xy[lead, 1],
            s=90,
            marker="*",
            c="#e31a1c",
            edgecolors="black",
            linewidths=0.5,
            zorder=5,
        )
    named = np.ones(len(schools), bool) if len(schools) <= _MAX_LABELS else lead
    halo = [patheffects.withStroke(linewidth=2.2, foreground="white")]
    x0, x1 = ax.get_xlim()
    for (x, y), name in zip(xy[named], schools["name"].astype(str)[named]):
        right = x < x0 + 0.6 * (x1 - x0)  # names run inwards, so that they stay on the figure
        label = ax.annotate(name, (x, y), xytext=(3 if right else -3, 3), textcoords="offset points",
                            ha="left" if right else "right", fontsize=6, fontfamily=family, path_effects=halo,
                            zorder=6)  # fmt: skip
        label.set_in_layout(False)  # a long name must not shrink the map


def zones_figure(
    zones: gpd.GeoDataFrame,
    schools: gpd.GeoDataFrame,
    *,
    districts: gpd.GeoDataFrame | None,
    crs: str,
    font: str | os.PathLike[str],
    words: Mapping[str, str] | None = None,
) -> bytes:
    """The plan as a map (PNG): zones filled (one colour per district when there are districts, else per
    zone), district outlines, schools as points and leads as stars.  ``words`` name the districts in the
    legend (``{"d": "教育集团", "en": "group", "lead": "牵头学校"}``; default 学区 district, 学区长学校)."""
    d_zh, d_en, _, lead_zh = DISTRICT_WORDS["school districts"]
    words = {"d": d_zh, "en": d_en, "lead": lead_zh, **(words or {})}
    family = font_family(font)
    zones, schools = zones.to_crs(crs), schools.to_crs(crs)
    fig, ax = _map(np.concatenate([zones.geometry.values, schools.geometry.values]))
    if districts is not None and "district_id" in schools:
        districts = districts.to_crs(crs)
        colour_of = dict(zip(districts["district_id"].astype(str), _colouring(districts.geometry.values)))
        district_of = dict(zip(schools["school_id"].astype(str), schools["district_id"].astype(str)))
        fills = [_FILLS[colour_of.get(district_of.get(str(s)), 0)] for s in zones["school_id"].astype(str)]
    else:
        fills = [_FILLS[c] for c in _colouring(zones.geometry.values)]
    _fill(ax, zones.geometry.values, fills)
    if districts is not None:
        _outline(ax, districts.geometry.values)
    _schools(ax, schools, family)
    _scale_bar(ax, family)
    handles = [Line2D([], [], marker="o", linestyle="", color="black", markersize=4, label="学校 school")]
    if districts is not None:
        handles += [
            Line2D(
                [],
                [],
                marker="*",
                linestyle="",
                color="#e31a1c",
                markersize=9,
                label=f"{words['lead']} lead school",
            ),
            Line2D([], [], color="#222222", linewidth=1.8, label=f"{words['d']}边界 {words['en']} boundary"),
        ]
    _legend(fig, handles, family)
    return _png(fig)


def changes_figure(
    blocks: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    schools: gpd.GeoDataFrame,
    *,
    moved: np.ndarray,
    newly_zoned: np.ndarray,
    crs: str,
    font: str | os.PathLike[str],
) -> bytes:
    """What changes (PNG): the blocks that change school and those newly zoned, over the new zones' outlines."""
    family = font_family(font)
    blocks, zones, schools = blocks.to_crs(crs), zones.to_crs(crs), schools.to_crs(crs)
    fig, ax = _map(np.concatenate([blocks.geometry.values, schools.geometry.values]))
    kind = np.where(moved, _MOVED, np.where(newly_zoned, _NEW, "#f0f0f0"))
    geoms = blocks.geometry.values
    point = shapely.get_type_id(geoms) == 0
    _fill(ax, geoms[~point], kind[~point], edge="#d9d9d9", width=0.2)
    if point.any():  # 小区 given as points: a dot each (a fill draws nothing for a point)
        xy = shapely.get_coordinates(geoms[point])
        changed = kind[point] != "#f0f0f0"
        for mask, size in ((~changed, 6), (changed, 18)):  # the changed on top, larger
            ax.scatter(xy[mask, 0], xy[mask, 1], s=size, c=list(kind[point][mask]), edgecolors="#999999",
                       linewidths=0.3, zorder=2)  # fmt: skip
    _outline(ax, zones.geometry.values, colour="#333333", width=0.9)
    _schools(ax, schools, family)
    _scale_bar(ax, family)
    handles = [Patch(facecolor=_MOVED, label=f"调整学校 changes school ({int(moved.sum())})")]
    if newly_zoned.any():
        handles.append(Patch(facecolor=_NEW, label=f"新划入 newly zoned ({int(newly_zoned.sum())})"))
    handles += [
        Patch(facecolor="#f0f0f0", edgecolor="#d9d9d9", label="不变 unchanged"),
        Line2D([], [], color="#333333", linewidth=0.9, label="新划片边界 new zone boundary"),
    ]
    _legend(fig, handles, family)
    return _png(fig)


def distance_figure(
    after_m: np.ndarray,
    children: np.ndarray,
    *,
    before_m: np.ndarray | None,
    font: str | os.PathLike[str],
) -> bytes:
    """Children by home-to-school distance (PNG): the plan's, and the current assignment's when known
    (``before_m`` NaN where a block has no current school; those blocks count only after)."""
    family = font_family(font)
    fig = Figure(figsize=(7.2, 3.0), layout="constrained")
    ax = fig.add_subplot()
    after_m, children = np.asarray(after_m, dtype=float), np.asarray(children, dtype=float)
    known = np.isfinite(before_m) if before_m is not None else np.zeros(len(after_m), bool)
    top = max(
        np.nanmax(after_m, initial=0.0), np.nanmax(before_m[known], initial=0.0) if known.any() else 0.0
    )
    bins = np.linspace(0.0, max(top, 100.0) * 1.0001, 31)
    if known.any():
        ax.hist(
            before_m[known],
            bins=bins,
            weights=children[known],
            histtype="step",
            color=_NOW,
            linewidth=1.6,
            label=f"现行 current (mean {_mean(before_m[known], children[known]):,.0f} m)",
        )
    ax.hist(
        after_m,
        bins=bins,
        weights=children,
        color=_PLAN,
        alpha=0.55,
        label=f"方案 plan (mean {_mean(after_m, children):,.0f} m)",
    )
    ax.set_xlabel("家到学校距离 home-to-school distance (m)", fontfamily=family, fontsize=8)
    ax.set_ylabel("儿童 children", fontfamily=family, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(prop={"family": family, "size": 7}, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def _mean(values: np.ndarray, weights: np.ndarray) -> float:
    return float((values * weights).sum() / weights.sum()) if weights.sum() > 0 else 0.0
