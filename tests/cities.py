"""Generated cities of many shapes, clean and dirty, for the property tests (tests/test_properties.py) and
``make fuzz``.

A city is blocks (polygons, or points: 小区 given as points) with children, and schools with seats, in WGS84
near Shenzhen (so every run goes through the projection), as a bureau's files would give them.  The shapes
are none of the benchmarks' own generators on purpose: square grids, Voronoi cells of uniform or clustered
points, and points; seats are spread over the schools so that they total the children times ``1 + slack``
(0 = exactly enough seats for the children).  ``dirt`` adds what real data hold:

- ``school_outside``: a school 13 m, 800 m or 2,500 m outside every block;
- ``schools_in_one_block``: three schools standing in the same block;
- ``zero_seats`` / ``one_seat``: a school with 0 or 1 seat;
- ``all_seats_one_school``: one school holds nearly every seat, the others a handful;
- ``empty_area``: a quarter of the city with no children;
- ``multipolygon``: a block made of two far-apart parts;
- ``duplicate``: two blocks with the same geometry;
- ``sliver``: a 5 cm sliver between two blocks;
- ``overlap``: a block overlapping its neighbours;
- ``island``: a block far from every other;
- ``seats_anywhere``: seats spread over the schools with no regard to where the children live.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import affinity

SHAPES = ("grid", "voronoi", "points")
DEMANDS = ("uniform", "clustered")
DIRT = (
    "school_outside",
    "schools_in_one_block",
    "zero_seats",
    "one_seat",
    "all_seats_one_school",
    "empty_area",
    "multipolygon",
    "duplicate",
    "sliver",
    "overlap",
    "island",
    "seats_anywhere",
)

#: The metric CRS the city is drawn in (CGCS2000 3° Gauss-Krüger CM 114E), and the WGS84 it is handed over in.
METRIC = "EPSG:4547"
X0, Y0 = 500_000.0, 2_490_000.0  # about 114.0 E, 22.5 N
BLOCK_M = 150.0  # side of a grid block; Voronoi cells are of about that size


@dataclass(frozen=True)
class City:
    shape: str = "grid"
    n_blocks: int = 100
    n_schools: int = 5
    slack: float = 0.15
    demand: str = "uniform"
    seed: int = 0
    dirt: tuple[str, ...] = field(default_factory=tuple)
    current: bool = False  # blocks carry a current school (their nearest, as last year's plan might)


def make_city(city: City) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """(blocks, schools) in WGS84: block_id, name, students[, current_school] / school_id, name, capacity."""
    rng = np.random.default_rng(city.seed)
    side = BLOCK_M * np.sqrt(city.n_blocks)
    geoms = _blocks(city, rng, side)
    n = len(geoms)
    pts = (
        shapely.get_coordinates(shapely.point_on_surface(geoms))
        if city.shape != "points"
        else (shapely.get_coordinates(geoms))
    )
    students = _demand(city, rng, pts, side)
    schools_xy = _school_sites(city, rng, pts, students)
    blocks = gpd.GeoDataFrame(
        {
            "block_id": [f"b{i}" for i in range(n)],
            "name": [f"小区{i}" for i in range(n)],
            "students": students,
        },
        geometry=geoms,
        crs=METRIC,
    )
    m = len(schools_xy)
    capacity = _seats(city, rng, students, pts, schools_xy)
    schools = gpd.GeoDataFrame(
        {
            "school_id": [f"S{j}" for j in range(m)],
            "name": [f"学校{j}" for j in range(m)],
            "capacity": capacity,
        },
        geometry=shapely.points(schools_xy),
        crs=METRIC,
    )
    blocks, schools = _dirty(city, rng, blocks, schools, side)
    if city.current:
        blocks["current_school"] = schools["school_id"].to_numpy()[_nearest(blocks, schools)]
    return blocks.to_crs(4326), schools.to_crs(4326)


def _nearest(blocks: gpd.GeoDataFrame, schools: gpd.GeoDataFrame) -> np.ndarray:
    bxy = shapely.get_coordinates(shapely.point_on_surface(blocks.geometry.values))
    sxy = shapely.get_coordinates(schools.geometry.values)
    return np.argmin(((bxy[:, None, :] - sxy[None, :, :]) ** 2).sum(-1), axis=1)


def _blocks(city: City, rng: np.random.Generator, side: float) -> np.ndarray:
    if city.shape == "grid":
        cols = max(1, int(round(np.sqrt(city.n_blocks))))
        r, c = np.divmod(np.arange(city.n_blocks), cols)
        return shapely.box(X0 + c * BLOCK_M, Y0 + r * BLOCK_M, X0 + (c + 1) * BLOCK_M, Y0 + (r + 1) * BLOCK_M)
    seeds = _points(city, rng, side, city.n_blocks)
    if city.shape == "points":
        return shapely.points(seeds)
    envelope = shapely.box(X0, Y0, X0 + side, Y0 + side)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=envelope))
    cells = shapely.intersection(cells, envelope)
    cells = cells[~shapely.is_empty(cells) & (shapely.area(cells) > 1.0)]
    return cells


def _points(city: City, rng: np.random.Generator, side: float, n: int) -> np.ndarray:
    if city.demand == "clustered":
        centres = rng.uniform(0.15, 0.85, size=(max(2, n // 60), 2)) * side
        which = rng.integers(0, len(centres), size=n)
        xy = centres[which] + rng.normal(0, side / 10, size=(n, 2))
        xy = np.clip(xy, 1, side - 1)
    else:
        xy = rng.uniform(1, side - 1, size=(n, 2))
    xy = xy + [X0, Y0]
    # no two seeds at the same spot (Voronoi cells need distinct sites)
    return np.unique(np.round(xy, 1), axis=0)


def _demand(city: City, rng: np.random.Generator, pts: np.ndarray, side: float) -> np.ndarray:
    n = len(pts)
    if city.demand == "clustered":
        centre = np.array([X0 + side * 0.3, Y0 + side * 0.6])
        d = np.hypot(*(pts - centre).T) / side
        lam = 5 + 60 * np.exp(-((d / 0.25) ** 2))
    else:
        lam = np.full(n, 20.0)
    return rng.poisson(lam).astype(float)


def _school_sites(city: City, rng: np.random.Generator, pts: np.ndarray, students: np.ndarray) -> np.ndarray:
    """Schools stand at the representative points of distinct blocks (where schools are: inside the city)."""
    m = min(city.n_schools, len(pts))
    pick = rng.choice(len(pts), size=m, replace=False)
    return pts[pick] + rng.uniform(-5, 5, size=(m, 2)) * (city.shape != "points")


def _seats(
    city: City, rng: np.random.Generator, students: np.ndarray, pts: np.ndarray, sites: np.ndarray
) -> np.ndarray:
    """Seats where the children live: each school's share is the children nearest to it, times a lognormal
    noise (σ 0.3), scaled to total the children × (1 + slack); ``seats_anywhere`` spreads them instead with
    no regard to where the children live."""
    m = len(sites)
    total = students.sum() * (1 + city.slack)
    if "seats_anywhere" in city.dirt:
        share = rng.dirichlet(np.full(m, 4.0))
    else:
        nearest = np.argmin(((pts[:, None, :] - sites[None, :, :]) ** 2).sum(-1), axis=1)
        local = np.bincount(nearest, weights=students, minlength=m) + 1.0
        share = local * rng.lognormal(0.0, 0.3, m)
        share /= share.sum()
    seats = np.floor(share * total)
    seats[0] += np.floor(total - seats.sum())  # whole seats, totalling floor(children × (1 + slack))
    return seats


def _dirty(city, rng, blocks: gpd.GeoDataFrame, schools: gpd.GeoDataFrame, side: float):
    blocks, schools = blocks.copy(), schools.copy()
    polygons = city.shape != "points"
    for kind in city.dirt:
        if kind == "school_outside":
            gap = float(rng.choice([13.0, 800.0, 2500.0]))
            minx, miny, maxx, maxy = blocks.total_bounds
            schools.loc[schools.index[-1], "geometry"] = shapely.Point(maxx + gap, (miny + maxy) / 2)
        elif kind == "schools_in_one_block" and len(schools) >= 3:
            spot = schools.geometry.iloc[0]
            for j in (1, 2):
                schools.loc[schools.index[j], "geometry"] = affinity.translate(spot, 1.0 * j, 0.5 * j)
        elif kind == "zero_seats":
            moved = schools["capacity"].iloc[-1]
            schools.loc[schools.index[-1], "capacity"] = 0.0
            schools.loc[schools.index[0], "capacity"] += moved
        elif kind == "one_seat":
            moved = schools["capacity"].iloc[-1] - 1
            schools.loc[schools.index[-1], "capacity"] = 1.0
            schools.loc[schools.index[0], "capacity"] += moved
        elif kind == "all_seats_one_school":
            total = schools["capacity"].sum()
            small = np.minimum(schools["capacity"].to_numpy(), 3.0)
            small[0] = total - small[1:].sum()
            schools["capacity"] = small
        elif kind == "empty_area":
            xy = shapely.get_coordinates(shapely.point_on_surface(blocks.geometry.values))
            quarter = (xy[:, 0] < X0 + side / 2) & (xy[:, 1] < Y0 + side / 2)
            blocks.loc[quarter, "students"] = 0.0
        elif kind == "multipolygon" and polygons and len(blocks) > 2:
            g0 = blocks.geometry.iloc[0]
            far = affinity.translate(blocks.geometry.iloc[-1], side * 0.1, 0)
            blocks.loc[blocks.index[0], "geometry"] = (
                shapely.MultiPolygon([g0, far]) if shapely.disjoint(g0, far) else g0
            )
        elif kind == "duplicate" and len(blocks) > 2:
            extra = blocks.iloc[[1]].copy()
            extra["block_id"], extra["name"] = "dup", "重复小区"
            blocks = gpd.GeoDataFrame(pd.concat([blocks, extra], ignore_index=True), crs=blocks.crs)
        elif kind == "sliver" and polygons:
            minx, miny, maxx, maxy = blocks.geometry.iloc[0].bounds
            sliver = shapely.box(maxx, miny, maxx + 0.05, maxy)
            extra = blocks.iloc[[0]].copy()
            extra["block_id"], extra["name"], extra["students"] = "sliver", "细条", 1.0
            extra["geometry"] = [sliver]
            blocks = gpd.GeoDataFrame(pd.concat([blocks, extra], ignore_index=True), crs=blocks.crs)
        elif kind == "overlap" and polygons and len(blocks) > 2:
            blocks.loc[blocks.index[1], "geometry"] = blocks.geometry.iloc[1].buffer(BLOCK_M * 0.3)
        elif kind == "island":
            minx, miny, maxx, maxy = blocks.total_bounds
            far = shapely.Point(maxx + 3000, maxy + 3000)
            extra = blocks.iloc[[0]].copy()
            extra["block_id"], extra["name"], extra["students"] = "island", "孤岛", 12.0
            extra["geometry"] = [far.buffer(60, quad_segs=2) if polygons else far]
            blocks = gpd.GeoDataFrame(pd.concat([blocks, extra], ignore_index=True), crs=blocks.crs)
            schools.loc[schools.index[0], "capacity"] += 12.0
    return blocks.reset_index(drop=True), schools.reset_index(drop=True)


def make_roads(city: City, spacing_m: float = 300.0) -> gpd.GeoDataFrame:
    """A street grid over the city (every ``spacing_m``), one gap in it (a missing bridge), in WGS84."""
    side = BLOCK_M * np.sqrt(city.n_blocks)
    lines = []
    for v in np.arange(0, side + spacing_m, spacing_m):
        lines.append(shapely.LineString([(X0 + v, Y0 - 200), (X0 + v, Y0 + side + 200)]))
        lines.append(shapely.LineString([(X0 - 200, Y0 + v), (X0 + side + 200, Y0 + v)]))
    # streets meet at their crossings (a shared vertex: zoning joins only those), then one gap: a missing bridge
    noded = shapely.get_parts(shapely.node(shapely.multilinestrings(lines)))
    cut = shapely.box(X0 + side / 2 - 20, Y0 - 300, X0 + side / 2 + 20, Y0 + side / 3)
    kept = shapely.difference(noded, cut)
    kept = kept[~shapely.is_empty(kept)]
    return gpd.GeoDataFrame(geometry=kept, crs=METRIC).explode(index_parts=False).to_crs(4326)


def district_schools(city: City) -> gpd.GeoDataFrame:
    """The city's schools with what ``form_districts`` reads: seats, enrolment, a quality score, a stage."""
    _, schools = make_city(city)
    rng = np.random.default_rng(city.seed + 1)
    m = len(schools)
    schools["quality"] = rng.choice([1.0, 2.0, 3.0], size=m, p=[0.3, 0.45, 0.25])
    schools["enrolment"] = np.floor(schools["capacity"].to_numpy() * rng.uniform(0.6, 1.05, m))
    schools["stage"] = np.where(rng.random(m) < 0.8, "primary", "junior_middle")
    return schools
