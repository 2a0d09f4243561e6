"""The block graph: adjacency, Voronoi cells for point blocks, islands, school anchors, distances.

Everything here works on projected (metric) geometries: the caller projects with ``crs.to_metric`` first,
and :func:`require_metric` refuses degrees.

Adjacency means a shared *edge*: two polygons are neighbours when their boundaries run together for at
least ``min_shared_m`` metres (default 2 m) within a snapping tolerance of ``tol_m`` (0.5 m), so blocks that
meet only at a corner are not neighbours, while hand-digitised blocks with sub-metre slivers still are.

Islands policy: when the graph falls apart into several pieces (an island block, an enclave across water,
a blocks file with holes), every piece but the largest is attached to the nearest block outside it by one
added edge (a *link*: nearest by road when a road network is given, so the link crosses where the bridge
does), and a warning names the blocks.  Zones can then still be one piece, and the planner is told which
links are not in the data: ``BlockGraph.links`` lists them, and the summary counts a zone that is one piece
only through a link as in pieces (``check.metrics``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from ..errors import InputError, Issue, kind_of, name_list

__all__ = [
    "BlockGraph",
    "Link",
    "require_metric",
    "voronoi_cells",
    "polygon_adjacency",
    "connect_islands",
    "school_anchors",
    "build_block_graph",
    "components",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BlockGraph:
    """Adjacency of N blocks as an undirected edge list (i < j), with what the islands policy added."""

    n: int
    edges: np.ndarray  # (E, 2) int64, i < j, sorted, unique
    added_edges: np.ndarray  # (F, 2) the subset added by the islands policy
    cells: gpd.GeoSeries  # the polygon of each block (Voronoi cell for point blocks), metric CRS
    links: tuple[Link, ...] = ()  # what the islands policy added, in the order it added them


@dataclass(frozen=True)
class Link:
    """A link the islands policy added: block ``a`` of a group of ``group`` blocks cut off from the rest,
    joined to block ``b`` outside it, ``distance_m`` apart ``by`` road or in a straight line."""

    a: int
    b: int
    group: int
    distance_m: float
    by: str  # "road" or "straight line"


def edges_to_csr(n: int, edges: np.ndarray) -> sparse.csr_matrix:
    """Symmetric 0/1 adjacency matrix of an undirected edge list."""
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    rows = np.concatenate([edges[:, 0], edges[:, 1]])
    cols = np.concatenate([edges[:, 1], edges[:, 0]])
    data = np.ones(len(rows), dtype=np.int8)
    return sparse.csr_matrix((data, (rows, cols)), shape=(n, n))


def components(n: int, edges: np.ndarray, members: np.ndarray | None = None) -> tuple[int, np.ndarray]:
    """Connected components of the subgraph induced by ``members`` (all nodes if None).

    Returns (count, label) with label -1 for nodes outside ``members``.
    """
    if members is None:
        members = np.arange(n)
    members = np.asarray(members, dtype=np.int64)
    label = np.full(n, -1, dtype=np.int64)
    if len(members) == 0:
        return 0, label
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    inside = np.zeros(n, dtype=bool)
    inside[members] = True
    keep = inside[edges[:, 0]] & inside[edges[:, 1]]
    pos = np.full(n, -1, dtype=np.int64)
    pos[members] = np.arange(len(members))
    sub = edges_to_csr(len(members), pos[edges[keep]])
    count, lab = csgraph.connected_components(sub, directed=False)
    label[members] = lab
    return int(count), label


def require_metric(frame: gpd.GeoDataFrame | gpd.GeoSeries, what: str) -> None:
    """Refuse geographic coordinates: distances in degrees are meaningless."""
    crs = frame.crs
    if crs is None or crs.is_geographic:
        raise ValueError(
            f"{what} must be in a projected metric CRS (got {crs}); project with zoning.io.crs.to_metric first"
        )


def voronoi_cells(points: gpd.GeoSeries, study_area: shapely.Geometry | None = None) -> gpd.GeoSeries:
    """Voronoi cell of every point, clipped to the study area (default: convex hull buffered 300 m).

    Points at the same location share one cell (each gets a copy); the caller makes them neighbours.
    """
    require_metric(points, "point blocks")
    xy = shapely.get_coordinates(points.values)
    uniq, inverse = np.unique(np.round(xy, 3), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    reach = None
    if study_area is None:
        hull = shapely.convex_hull(shapely.multipoints(xy))
        study_area = shapely.buffer(hull, 300.0)
        reach = _cell_reach(uniq)
    if len(uniq) == 1:
        cells = np.array([study_area])
    else:
        env = shapely.buffer(shapely.envelope(study_area), 1000.0)
        regions = shapely.voronoi_polygons(shapely.multipoints(uniq), extend_to=env, ordered=True)
        cells = shapely.get_parts(regions)
        cells = shapely.intersection(cells, study_area)
        if reach is not None:
            # not across a gap many times wider than the points' usual spacing (two towns 50 km apart, or a
            # file holding two cities): each cell ends ``reach`` from its point, the groups' cells do not
            # touch, and the islands policy joins them with a link it names
            cells = shapely.intersection(cells, shapely.buffer(shapely.points(uniq), reach, quad_segs=4))
    return gpd.GeoSeries(cells[inverse], index=points.index, crs=points.crs)


#: A point's cell reaches at most this many times the 95th percentile of the distances from each point to
#: its nearest neighbour (and at least ``CELL_REACH_MIN_M``): far enough for the sparse edge of a city (at 6
#: times, Beijing's 829 schools lost 7 long adjacencies of its outer districts and 40 districts found no
#: grouping in 30 s; at 20, none is lost: 67 km there), too short to bridge two towns in one file.
CELL_REACH_SPACINGS = 20.0
CELL_REACH_MIN_M = 2_000.0


def _cell_reach(uniq: np.ndarray) -> float | None:
    """How far a Voronoi cell may reach from its point (``uniq``: the distinct points; None: fewer than
    three)."""
    if len(uniq) < 3:
        return None
    dist, _ = cKDTree(uniq).query(uniq, k=2)
    return max(CELL_REACH_MIN_M, CELL_REACH_SPACINGS * float(np.percentile(dist[:, 1], 95)))


def polygon_adjacency(cells: gpd.GeoSeries, *, tol_m: float = 0.5, min_shared_m: float = 2.0) -> np.ndarray:
    """Pairs (i < j) of polygons sharing at least ``min_shared_m`` of boundary (corners do not count).

    The rule: the length of j's boundary lying within ``tol_m`` of i's boundary is at least
    ``min_shared_m``.  Computed in three steps, so that the costly exact measure runs only on the few
    pairs the first two leave open:

    1. candidates: pairs whose envelopes, grown by ``tol_m``, overlap (one STRtree query), kept when the
       polygons lie within ``tol_m`` of each other (``shapely.dwithin`` on the pairs i < j only);
    2. shared edges: boundary segments found in both polygons (endpoints equal on a 1 mm grid, as in a
       GIS tessellation, a census file or a Voronoi diagram) are summed per pair; a pair sharing
       ``min_shared_m`` this way is a neighbour under the rule (a shared segment lies within any
       tolerance of both boundaries);
    3. the other candidates (hand-digitised blocks whose vertices differ, corner contacts, slivers) are
       measured exactly: j's boundary intersected with i's boundary buffered by ``tol_m`` — unless the
       length of j's boundary inside the pair's meeting box (i's envelope grown by ``tol_m``, cut by j's
       envelope), which bounds that measure from above, is already too short: the corner contacts of a
       grid, four per block, then cost a few array operations instead of a buffer each.

    The result is the same as measuring every candidate exactly; at 50,000 Voronoi blocks it takes
    about 1.2 s instead of 8 s (``benchmarks/end_to_end.py``).
    """
    require_metric(cells, "blocks")
    geoms = np.asarray(cells.values, dtype=object)
    left, right = _near_pairs(geoms, tol_m)
    if len(left) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    boundaries = shapely.boundary(geoms)
    segments = _segments(boundaries)
    ok = _shared_edge_length(segments, left, right) >= min_shared_m
    rest = np.flatnonzero(~ok)
    if len(rest):  # a pair whose boundaries cannot meet for min_shared_m (a corner contact) needs no measure
        # (1 cm of slack: on a precision grid the exact measure snaps and may exceed the bound by a little)
        box = shapely.bounds(boundaries)
        bound = np.concatenate(
            [
                _boundary_in_meeting_box(segments, box, left[part], right[part], tol_m)
                for part in np.array_split(rest, -(-len(rest) // _PAIRS_PER_CHUNK))
            ]
        )
        rest = rest[bound >= min_shared_m - 0.01]
    if len(rest):
        li, rj = left[rest], right[rest]
        near = np.full(len(geoms), None, dtype=object)
        buffered = np.unique(li)
        near[buffered] = shapely.buffer(boundaries[buffered], tol_m, quad_segs=2)
        ok[rest] = shapely.length(shapely.intersection(near[li], boundaries[rj])) >= min_shared_m
    pairs = np.stack([left[ok], right[ok]], axis=1).astype(np.int64)
    return _unique_edges(pairs)


def _segments(boundaries: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every boundary segment (consecutive vertices of one ring): start (S, 2), end (S, 2) and the index
    of its geometry (S,), in the order of the geometries."""
    rings, ring_owner = shapely.get_parts(boundaries, return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]
    return xy[:-1][same], xy[1:][same], ring_owner[ring[:-1][same]]


def _boundary_in_meeting_box(
    segments: tuple, box: np.ndarray, li: np.ndarray, rj: np.ndarray, tol_m: float
) -> np.ndarray:
    """Per pair, the length of rj's boundary inside R = (li's envelope grown by ``tol_m``) ∩ (rj's envelope).

    Every point of j's boundary within ``tol_m`` of i's boundary lies in R, so this bounds step 3's measure
    from above.  Segments (``_segments``; ``box``: the boundaries' envelopes) are clipped to R on arrays
    (Liang–Barsky), with no geometry built.
    """
    a, b, owner = segments
    lo = np.maximum(box[li, :2] - tol_m, box[rj, :2])
    hi = np.minimum(box[li, 2:] + tol_m, box[rj, 2:])
    # every (pair, segment of its j)
    first = np.searchsorted(owner, rj)
    n_seg = np.searchsorted(owner, rj, side="right") - first
    pair = np.repeat(np.arange(len(rj)), n_seg)
    seg = np.arange(n_seg.sum()) + np.repeat(first - np.cumsum(n_seg) + n_seg, n_seg)
    p0, d = a[seg], b[seg] - a[seg]
    t0, t1 = np.zeros(len(seg)), np.ones(len(seg))
    inside = np.ones(len(seg), dtype=bool)
    for axis in (0, 1):
        for p, q in ((-d[:, axis], p0[:, axis] - lo[pair, axis]), (d[:, axis], hi[pair, axis] - p0[:, axis])):
            inside &= (p != 0) | (q >= 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                r = q / p
            t0 = np.where(p < 0, np.maximum(t0, r), t0)
            t1 = np.where(p > 0, np.minimum(t1, r), t1)
    clipped = np.where(inside, np.maximum(0.0, t1 - t0), 0.0) * np.hypot(d[:, 0], d[:, 1])
    return np.bincount(pair, weights=clipped, minlength=len(rj))


def _near_pairs(geoms: np.ndarray, tol_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j) of geometries within ``tol_m`` of each other."""
    tree = shapely.STRtree(geoms)
    grown = shapely.box(*(shapely.bounds(geoms) + np.array([-tol_m, -tol_m, tol_m, tol_m])).T)
    left, right = tree.query(grown)
    keep = left < right
    left, right = left[keep], right[keep]
    close = shapely.dwithin(geoms[left], geoms[right], tol_m)
    return left[close].astype(np.int64), right[close].astype(np.int64)


#: Pairs whose boundary bound is computed at once (every segment of each pair is an array row).
_PAIRS_PER_CHUNK = 50_000

#: Grid (metres) on which segment endpoints are compared to find shared edges.
_SHARED_GRID_M = 1e-3


def _shared_edge_length(segments: tuple, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """For each pair (left[k], right[k]), the length of the boundary segments (``_segments``) both polygons
    have (the same endpoints on a 1 mm grid, in either direction); 0 for a pair without such segments."""
    out = np.zeros(len(left))
    a, b, owner = segments
    if not len(a):
        return out
    length = np.hypot(*(b - a).T)
    # each vertex as one integer: its position on a 1 mm grid relative to the lowest corner, x · 2³¹ + y
    lowest = np.minimum(a.min(axis=0), b.min(axis=0))
    grid_a = np.round((a - lowest) / _SHARED_GRID_M).astype(np.int64)
    grid_b = np.round((b - lowest) / _SHARED_GRID_M).astype(np.int64)
    if max(grid_a.max(), grid_b.max()) >= 2**31:  # wider than 2,147 km: leave every pair to the exact step
        return out
    pa = (grid_a[:, 0] << 31) | grid_a[:, 1]
    pb = (grid_b[:, 0] << 31) | grid_b[:, 1]
    first, second = np.minimum(pa, pb), np.maximum(pa, pb)  # the segment, either direction
    order = np.lexsort((second, first))
    first, second, owner, length = first[order], second[order], owner[order], length[order]
    new = np.ones(len(first), dtype=bool)
    new[1:] = (first[1:] != first[:-1]) | (second[1:] != second[:-1])
    start = np.flatnonzero(new)
    size = np.diff(np.append(start, len(first)))
    # a segment in two polygons is the rule; larger groups (duplicated polygons, overlapping parts)
    # give every pair of their distinct owners
    two = start[size == 2]
    pi, pj, plen = [owner[two]], [owner[two + 1]], [length[two]]
    for s, k in zip(start[size > 2], size[size > 2]):
        owners = np.unique(owner[s : s + k])
        ii, jj = np.triu_indices(len(owners), 1)
        pi.append(owners[ii])
        pj.append(owners[jj])
        plen.append(np.full(len(ii), length[s]))
    pi, pj, plen = np.concatenate(pi), np.concatenate(pj), np.concatenate(plen)
    keep = pi != pj
    n = np.int64(max(owner.max(), left.max(), right.max()) + 1)  # one integer per pair of geometries
    pair_key, inverse = np.unique(
        np.minimum(pi, pj)[keep] * n + np.maximum(pi, pj)[keep], return_inverse=True
    )
    if not len(pair_key):
        return out
    total = np.bincount(inverse.reshape(-1), weights=plen[keep], minlength=len(pair_key))
    wanted = left * n + right
    pos = np.minimum(np.searchsorted(pair_key, wanted), len(pair_key) - 1)
    found = pair_key[pos] == wanted
    out[found] = total[pos[found]]
    return out


def _unique_edges(pairs: np.ndarray) -> np.ndarray:
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) == 0:
        return pairs
    pairs = np.sort(pairs, axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    if len(pairs) == 0:
        return pairs
    n = pairs.max() + 1
    key = np.unique(pairs[:, 0] * n + pairs[:, 1])  # one integer per pair: sorts as the pairs do
    return np.stack([key // n, key % n], axis=1)


#: The words of the islands policy's warning, for a graph of blocks (zones) or of schools (districts).
_ISLAND_WORDS = {
    "block": ("block", "blocks", "zone", "check these blocks' geometry if they should touch their neighbours"),
    "school": (
        "school", "schools", "district",
        "check the zones' (or cells') geometry if these schools' zones should touch their neighbours",
    ),
}  # fmt: skip


def connect_islands(
    xy: np.ndarray, edges: np.ndarray, labels: list[str], *, roads=None, what: str = "block"
) -> tuple[np.ndarray, np.ndarray, list[Issue], list[Link]]:
    """Attach every piece of the graph but the largest to its nearest block outside it (``what``: "block",
    or "school" where the graph is the schools' of school districts; it words the warning).

    ``xy`` are the blocks' representative points (metric).  ``roads``: a road network (``geo.roads.
    RoadNetwork``): the link then joins the two blocks nearest by road among the ``ROAD_LINK_CANDIDATES``
    nearest in a straight line (a group across a river joins where its bridge lands), in a straight line
    where no road joins them.  Returns (all edges, added edges, warnings, links).
    """
    one, many, unit, fix = _ISLAND_WORDS[what]
    n = len(xy)
    added: list[tuple[int, int]] = []
    links: list[Link] = []
    warnings: list[Issue] = []
    edges = _unique_edges(edges)
    while True:
        count, label = components(n, edges)
        if count <= 1:
            break
        sizes = np.bincount(label, minlength=count)
        main = int(np.argmax(sizes))
        new_pairs = []
        for comp in range(count):
            if comp == main:
                continue
            inside = np.flatnonzero(label == comp)
            outside = np.flatnonzero(label != comp)
            link = _road_link(xy, inside, outside, roads) if roads is not None else None
            if link is None:
                tree = cKDTree(xy[outside])
                dist, idx = tree.query(xy[inside], k=1)
                best = int(np.argmin(dist))
                link = Link(
                    int(inside[best]),
                    int(outside[idx[best]]),
                    len(inside),
                    float(dist[best]),
                    "straight line",
                )
            new_pairs.append((link.a, link.b))
            links.append(link)
            names = ", ".join(labels[i] for i in inside[:8]) + (" …" if len(inside) > 8 else "")
            warnings.append(
                Issue(
                    message=(
                        f"{_pieces_text(len(inside), one, many)} ({names}); joined to the nearest {one} "
                        f"{labels[link.b]} ({link.distance_m:,.0f} m away{' by road' if link.by == 'road' else ''})"
                        f" by a link that is not in the data, so their {unit} can be one piece; a {unit} that "
                        "is one piece only through this link is counted as in pieces"
                    ),
                    fix=fix,
                    severity="warning",
                )
            )
        added.extend(new_pairs)
        edges = _unique_edges(np.vstack([edges, np.array(new_pairs, dtype=np.int64)]))
    return edges, _unique_edges(np.array(added, dtype=np.int64)), warnings, links


#: Blocks outside a cut-off group (nearest in a straight line) among which the link by road is chosen.
ROAD_LINK_CANDIDATES = 32
#: Blocks of a cut-off group (nearest to the rest) from which the link by road may start.
ROAD_LINK_SOURCES = 64


def _road_link(xy: np.ndarray, inside: np.ndarray, outside: np.ndarray, roads) -> Link | None:
    """The pair (block of the group, block outside) nearest by road, or None when no road joins them."""
    tree = cKDTree(xy[outside])
    k = min(ROAD_LINK_CANDIDATES, len(outside))
    near_d, near = tree.query(xy[inside], k=1)
    sources = inside[np.argsort(near_d, kind="stable")[:ROAD_LINK_SOURCES]]
    centre = xy[sources].mean(axis=0)
    _, dest = tree.query(centre, k=k)
    dest = outside[np.atleast_1d(dest)]
    pairs_a = np.repeat(np.arange(len(sources)), len(dest))
    pairs_b = np.tile(np.arange(len(dest)), len(sources))
    dist = roads.distances(xy[sources], xy[dest], pairs_a, pairs_b)
    if not np.isfinite(dist).any():
        return None
    best = int(np.argmin(dist))
    return Link(int(sources[pairs_a[best]]), int(dest[pairs_b[best]]), len(inside), float(dist[best]), "road")


def _pieces_text(count: int, one: str = "block", many: str = "blocks") -> str:
    if count == 1:
        return f"1 {one} cut off from the rest"
    return f"a group of {count} {many} cut off from the rest"


def school_anchors(cells: gpd.GeoSeries, school_points: gpd.GeoSeries) -> np.ndarray:
    """Index of the block each school stands in (-1 when it stands outside every block)."""
    require_metric(cells, "blocks")
    tree = shapely.STRtree(cells.values)
    school_idx, block_idx = tree.query(school_points.values, predicate="intersects")
    anchor = np.full(len(school_points), -1, dtype=np.int64)
    # a school on a shared boundary intersects several blocks: keep the first (lowest index)
    order = np.lexsort((block_idx, school_idx))
    school_idx, block_idx = school_idx[order], block_idx[order]
    first = np.ones(len(school_idx), dtype=bool)
    first[1:] = school_idx[1:] != school_idx[:-1]
    anchor[school_idx[first]] = block_idx[first]
    return anchor


def study_area_in(
    study_area, frame: gpd.GeoDataFrame, frame_m: gpd.GeoDataFrame, labels, *, what: str = "blocks"
) -> tuple[shapely.Geometry | None, list[Issue]]:
    """``study_area`` as one polygon in the metric CRS of ``frame_m`` (``frame`` projected), checked.

    A shapely polygon is in ``frame``'s CRS; a GeoSeries / GeoDataFrame (its shapes' union) is projected from
    its own.  Refused in words: not a polygon; no CRS and coordinates unlike ``frame``'s (a polygon in
    EPSG:3857 or a Gauss-Krüger zone beside longitudes and latitudes, once clipped the cells to nothing and
    the plan was silently wrong); a ``frame`` point (``labels`` name them) outside it.  Only points are cut
    at it: with polygons it is left unused, with a warning."""
    if study_area is None:
        return None, []
    crs = None
    if isinstance(study_area, gpd.GeoDataFrame | gpd.GeoSeries):
        crs, geoms = study_area.crs, np.asarray(study_area.geometry.values)
        study_area = shapely.union_all(geoms[~shapely.is_missing(geoms)])
    kind = study_area.geom_type if isinstance(study_area, shapely.Geometry) else None
    if kind not in ("Polygon", "MultiPolygon") or shapely.is_empty(study_area):
        article = "an empty" if kind in ("Polygon", "MultiPolygon") else "a"
        said = kind_of(study_area) if kind is None else f"{article} {kind}"
        fix = f"give a shapely Polygon in the {what}' CRS, or a GeoSeries / GeoDataFrame of polygons with its CRS"
        raise InputError([Issue(f"study_area is {said}, not the outline of an area", fix)])
    if not (frame_m.geom_type == "Point").all():
        note = Issue(f"study_area is left unused: only {what} given as points have their cells cut at it",
                     "leave study_area out for polygons", severity="warning")  # fmt: skip
        log.warning("%s", note)
        return None, [note]
    if crs is None:  # in the frame's CRS, so it must lie where the frame lies
        ax0, ay0, ax1, ay1 = shapely.bounds(study_area)
        bx0, by0, bx1, by1 = frame.total_bounds
        if ax0 > bx1 or ax1 < bx0 or ay0 > by1 or ay1 < by0:
            a, b = _span(ax0, ay0, ax1, ay1), _span(bx0, by0, bx1, by1)
            raise InputError([Issue(f"study_area has no CRS, and its coordinates ({a}) are not where the {what} "
                                    f"are in their CRS {frame.crs.to_string()} ({b})", f"give it in the {what}' "
                                    'CRS, or with its own: geopandas.GeoSeries([area], crs="EPSG:3857")')])  # fmt: skip
        crs = frame.crs
    area = gpd.GeoSeries([study_area], crs=crs).to_crs(frame_m.crs).iloc[0]
    if not np.isfinite(shapely.get_coordinates(area)).all():  # metres declared as degrees, say
        raise InputError([Issue(f"study_area's coordinates ({_span(*shapely.bounds(study_area))}) do not fit its "
                                f"CRS {crs.to_string()}", "give it with the CRS it is in: "
                                'geopandas.GeoSeries([area], crs="EPSG:3857")')])  # fmt: skip
    if not shapely.is_valid(area):  # a self-touching ring drawn by hand: its polygons, repaired
        parts = shapely.get_parts(shapely.make_valid(area))
        area = shapely.union_all(parts[np.isin(shapely.get_type_id(parts), (3, 6))])
        log.info("study_area repaired (it was not a valid polygon)")
    points = frame_m.geometry.values
    outside = ~shapely.dwithin(points, area, 1.0)
    if outside.all():
        far = float(shapely.distance(points, area).min()) / 1000
        raise InputError([Issue(f"study_area holds none of the {what}: it lies {far:,.1f} km from the nearest "
                                f"(its CRS: {crs.to_string()})",
                                'check its CRS (a GeoSeries carries it: geopandas.GeoSeries([area], '
                                'crs="EPSG:4549")), or leave study_area out')])  # fmt: skip
    if outside.any():
        out = [labels[i] for i in np.flatnonzero(outside)]
        raise InputError([Issue(f"{len(out)} of the {what} lie outside study_area: {name_list(out)}",
                                f"draw the study area around every one of the {what}, or leave study_area out "
                                "(the points' hull, 300 m wider, is used)")])  # fmt: skip
    return area, []


def _span(x0: float, y0: float, x1: float, y1: float) -> str:
    """A bounding box for a message: degrees to 4 decimals, metres to the metre."""
    f = ",.0f" if max(abs(x0), abs(y0), abs(x1), abs(y1)) > 1000 else ".4f"
    return f"x {x0:{f}} to {x1:{f}}, y {y0:{f}} to {y1:{f}}"


def build_block_graph(
    blocks: gpd.GeoDataFrame,
    *,
    study_area: shapely.Geometry | None = None,
    tol_m: float = 0.5,
    min_shared_m: float = 2.0,
    id_column: str = "block_id",
    name_column: str = "name",
    roads=None,
    what: str = "block",
) -> tuple[BlockGraph, list[Issue]]:
    """Adjacency of the blocks (polygons: shared edges; points: Voronoi cells) with the islands policy
    (``roads``: a ``geo.roads.RoadNetwork`` the links between cut-off groups follow; ``what``: "school"
    words its warnings for the schools' graph of school districts)."""
    require_metric(blocks, "blocks")
    geom_types = set(blocks.geom_type.unique())
    if geom_types <= {"Point"}:
        cells = voronoi_cells(blocks.geometry, study_area)
        log.info("blocks are points: adjacency from Voronoi cells clipped to the study area")
    elif geom_types <= {"Polygon", "MultiPolygon"}:
        cells = blocks.geometry
    else:
        raise InputError(
            [
                Issue(
                    message=f"blocks mix geometry types {sorted(geom_types)}",
                    fix="give every block as a polygon, or every block as a point",
                )
            ]
        )
    edges = polygon_adjacency(cells, tol_m=tol_m, min_shared_m=min_shared_m)
    if geom_types <= {"Point"}:
        # blocks at the same location share a cell: make them neighbours of each other
        xy = np.round(shapely.get_coordinates(blocks.geometry.values), 3)
        _, inv = np.unique(xy, axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        order = np.argsort(inv, kind="stable")
        same = inv[order][1:] == inv[order][:-1]
        dup_pairs = np.stack([order[:-1][same], order[1:][same]], axis=1)
        edges = _unique_edges(np.vstack([edges, dup_pairs]))
    rep = shapely.get_coordinates(blocks.geometry.representative_point().values)
    if name_column in blocks:
        labels = [f"{n} ({b})" if n != b else str(b) for n, b in zip(blocks[name_column], blocks[id_column])]
    else:
        labels = [str(b) for b in blocks[id_column]]
    edges, added, warnings, links = connect_islands(rep, edges, labels, roads=roads, what=what)
    for w in warnings:
        log.warning("%s", w)
    graph = BlockGraph(n=len(blocks), edges=edges, added_edges=added, cells=cells, links=tuple(links))
    log.info("block graph: %d blocks, %d adjacencies (%d added for islands)", graph.n, len(edges), len(added))
    return graph, warnings


def rings(
    indptr: np.ndarray,
    indices: np.ndarray,
    comp,
    target: int,
    max_rings: int,
    inside: np.ndarray | None = None,
):
    """Breadth-first rings of nodes around ``comp`` (within ``inside`` if given), stopping before the ring
    that holds ``target``.  Each ring separates ``comp`` from ``target``: every path between them crosses
    it, which is what the one-piece cuts use.  An empty ring (``comp`` cannot reach ``target``) is yielded
    once, so the caller can forbid the pair outright."""
    seen = set(int(a) for a in comp)
    frontier = list(seen)
    for _ in range(max_rings):
        ring = set()
        for v in frontier:
            for u in indices[indptr[v] : indptr[v + 1]]:
                u = int(u)
                if u not in seen and (inside is None or inside[u]):
                    ring.add(u)
        if not ring:
            yield []
            return
        if target in ring:
            return
        yield sorted(ring)
        seen |= ring
        frontier = list(ring)
