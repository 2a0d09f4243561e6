"""Travel on roads: a graph from road lines, and shortest-path distances between blocks and schools.

The network is built from LineStrings / MultiLineStrings in the metric CRS.  Nodes are the lines'
vertices, merged where they lie within ``tolerance_m`` of each other (default 1 m: endpoints digitised
a little apart still meet); edges join consecutive vertices of a line and weigh their length in metres.
Roads are travelled both ways (walking; one-way streets are not modelled).

Barriers come from the network itself: two lines are connected only where they share a vertex (within
the tolerance).  Lines that *cross* without a shared vertex are not connected — that is how a bridge
passes over a river, rail line or expressway, and how a planner keeps a barrier: draw no road across
it, or let roads cross it only on bridges that have no vertex on the road below.

A point (a block's representative point, a school) joins the network at the nearest point of the
nearest road segment: its distance is the straight walk to that point plus the way along the segment to
either end.  Distances are computed with Dijkstra from the schools (fewer than blocks), in chunks, and only
the requested (block, school) pairs are kept: memory stays ``O(chunk × nodes + pairs)``.

Numpy / scipy / shapely / geopandas only; no file access (``zoning.read_roads`` reads the file).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property

import geopandas as gpd
import numpy as np
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from ..errors import InputError, Issue, kind_of, number_issue

__all__ = ["RoadNetwork", "build_road_network", "road_distances", "DEFAULT_TOLERANCE_M"]

log = logging.getLogger(__name__)

#: Vertices closer than this (metres) are one node of the network.
DEFAULT_TOLERANCE_M = 1.0
#: Bytes of Dijkstra output held at once (rows of ``n_nodes`` float64 per school).
_CHUNK_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Snap:
    """Where points join the network: on segment ``edge`` at ``along_m`` from its node ``u``."""

    edge: np.ndarray  # (P,) int64 segment index
    along_m: np.ndarray  # (P,) float, distance from the segment's u end
    offset_m: np.ndarray  # (P,) float, straight distance from the point to the segment


@dataclass(frozen=True)
class RoadNetwork:
    """An undirected road graph in a metric CRS: build once with :func:`build_road_network`, query many."""

    node_xy: np.ndarray  # (V, 2) metres
    edge_u: np.ndarray  # (E,) int64, u < v
    edge_v: np.ndarray  # (E,) int64
    edge_m: np.ndarray  # (E,) float, segment length
    component: np.ndarray  # (V,) int64, connected piece of the network of each node
    tolerance_m: float = DEFAULT_TOLERANCE_M

    @property
    def n_nodes(self) -> int:
        return len(self.node_xy)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    @cached_property
    def _segments(self) -> shapely.STRtree:
        return shapely.STRtree(
            shapely.linestrings(np.stack([self.node_xy[self.edge_u], self.node_xy[self.edge_v]], axis=1))
        )

    def snap(self, xy: np.ndarray) -> Snap:
        """The nearest point of the nearest segment for each point of ``xy`` (P, 2)."""
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        hit_point, hit_edge = self._segments.query_nearest(shapely.points(xy), all_matches=False)
        edge = np.empty(len(xy), dtype=np.int64)
        edge[hit_point] = hit_edge
        a, b = self.node_xy[self.edge_u[edge]], self.node_xy[self.edge_v[edge]]
        ab = b - a
        t = np.clip(((xy - a) * ab).sum(axis=1) / np.maximum((ab * ab).sum(axis=1), 1e-18), 0.0, 1.0)
        foot = a + t[:, None] * ab
        return Snap(edge=edge, along_m=t * self.edge_m[edge], offset_m=np.hypot(*(xy - foot).T))

    def component_of(self, snap: Snap) -> np.ndarray:
        """The connected piece of the network each snapped point lies on."""
        return self.component[self.edge_u[snap.edge]]

    def distances(
        self,
        origin_xy: np.ndarray,
        dest_xy: np.ndarray,
        arc_origin: np.ndarray,
        arc_dest: np.ndarray,
        *,
        cutoff_m: float | None = None,
    ) -> np.ndarray:
        """Road distance in metres of every pair (origin ``arc_origin[a]``, destination ``arc_dest[a]``).

        ``inf`` where the two are on unconnected pieces of the network, or further than ``cutoff_m``.
        Dijkstra runs from the destinations that appear in a pair (the schools), a chunk at a time.
        """
        arc_origin = np.asarray(arc_origin, dtype=np.int64)
        arc_dest = np.asarray(arc_dest, dtype=np.int64)
        out = np.full(len(arc_origin), np.inf)
        if not len(arc_origin):
            return out
        o, d = self.snap(origin_xy), self.snap(dest_xy)
        used, arc_src = np.unique(arc_dest, return_inverse=True)
        graph = self._graph_with_sources(d, used)
        v = self.n_nodes
        ou, ov = self.edge_u[o.edge[arc_origin]], self.edge_v[o.edge[arc_origin]]
        o_len = self.edge_m[o.edge[arc_origin]]
        o_along = o.along_m[arc_origin]
        order = np.argsort(arc_src, kind="stable")
        bounds = np.searchsorted(arc_src[order], np.arange(len(used) + 1))
        chunk = max(1, _CHUNK_BYTES // (8 * (v + len(used))))
        limit = np.inf if cutoff_m is None else float(cutoff_m)
        for start in range(0, len(used), chunk):
            stop = min(start + chunk, len(used))
            dist = dijkstra(graph, directed=True, indices=v + np.arange(start, stop), limit=limit)
            sel = order[bounds[start] : bounds[stop]]
            row = arc_src[sel] - start
            out[sel] = np.minimum(
                dist[row, ou[sel]] + o_along[sel], dist[row, ov[sel]] + o_len[sel] - o_along[sel]
            )
        # both on one segment: walk along it directly
        same = o.edge[arc_origin] == d.edge[arc_dest]
        out[same] = np.minimum(out[same], np.abs(o_along[same] - d.along_m[arc_dest[same]]))
        out += o.offset_m[arc_origin] + d.offset_m[arc_dest]
        if cutoff_m is not None:
            out[out > cutoff_m] = np.inf
        return out

    def _graph_with_sources(self, snap: Snap, sources: np.ndarray) -> sparse.csr_matrix:
        """The network plus one node per source (index ``n_nodes + s``) joined to both ends of its segment.

        A source node is a dead end for through traffic: u → source → v costs the segment's own length.
        """
        v = self.n_nodes
        e = snap.edge[sources]
        new = v + np.arange(len(sources))
        # a source at a segment's very end: a zero weight would read as "no edge", so keep a tiny one
        along = np.maximum(snap.along_m[sources], 1e-9)
        rest = np.maximum(self.edge_m[e] - snap.along_m[sources], 1e-9)
        rows = np.concatenate([self.edge_u, self.edge_v, new, new, self.edge_u[e], self.edge_v[e]])
        cols = np.concatenate([self.edge_v, self.edge_u, self.edge_u[e], self.edge_v[e], new, new])
        w = np.concatenate([self.edge_m, self.edge_m, along, rest, along, rest])
        size = v + len(sources)
        return sparse.csr_matrix((w, (rows, cols)), shape=(size, size))


def build_road_network(
    roads: gpd.GeoSeries | gpd.GeoDataFrame, *, tolerance_m: float = DEFAULT_TOLERANCE_M
) -> RoadNetwork:
    """The road graph of the (Multi)LineStrings of ``roads``, in its metric CRS.

    Vertices within ``tolerance_m`` of each other become one node; lines crossing without a shared
    vertex stay unconnected (bridges, underpasses: see the module docstring).  Other geometry types are
    ignored; an InputError says so when nothing with a length is left, or when ``roads`` is not a frame of
    lines in a metric CRS or ``tolerance_m`` is not a number of metres.
    """
    _check_network_call(roads, tolerance_m)
    geoms = roads.geometry.values if isinstance(roads, gpd.GeoDataFrame) else roads.values
    parts = shapely.get_parts(np.asarray(geoms[~shapely.is_empty(geoms) & ~shapely.is_missing(geoms)]))
    parts = parts[np.isin(shapely.get_type_id(parts), (1, 2))]  # LineString, LinearRing
    coords, part = shapely.get_coordinates(parts, return_index=True)
    if len(coords) == 0:
        raise InputError(
            [Issue("holds no road lines.", "give the road network as LineStrings or MultiLineStrings.")]
        )
    node = _merge_vertices(coords, tolerance_m)
    n_nodes = int(node.max()) + 1
    node_xy = np.zeros((n_nodes, 2))
    np.add.at(node_xy, node, coords)
    node_xy /= np.bincount(node, minlength=n_nodes)[:, None]

    step = part[1:] == part[:-1]
    u, v = node[:-1][step], node[1:][step]
    u, v = np.minimum(u, v), np.maximum(u, v)
    keep = u != v
    u, v = u[keep], v[keep]
    length = np.hypot(*(node_xy[u] - node_xy[v]).T)
    # two lines along the same pair of nodes: keep the shorter
    order = np.lexsort((length, v, u))
    u, v, length = u[order], v[order], length[order]
    first = np.ones(len(u), dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    u, v, length = u[first], v[first], np.maximum(length[first], 1e-9)
    if not len(u):
        raise InputError(
            [
                Issue(
                    "holds no road with a length.",
                    "give the road network as LineStrings of two points or more.",
                )
            ]
        )
    # drop nodes no edge uses (vertices of lines shorter than the tolerance)
    used = np.zeros(n_nodes, dtype=bool)
    used[u] = used[v] = True
    renum = np.cumsum(used) - 1
    node_xy, u, v = node_xy[used], renum[u], renum[v]
    adj = sparse.csr_matrix((np.ones(len(u)), (u, v)), shape=(len(node_xy), len(node_xy)))
    n_pieces, component = connected_components(adj, directed=False)
    log.info(
        "road network: %d nodes, %d segments, %.1f km, %d connected piece(s)",
        len(node_xy),
        len(u),
        length.sum() / 1000,
        n_pieces,
    )
    return RoadNetwork(
        node_xy=node_xy,
        edge_u=u.astype(np.int64),
        edge_v=v.astype(np.int64),
        edge_m=length,
        component=component.astype(np.int64),
        tolerance_m=tolerance_m,
    )


def _check_network_call(roads, tolerance_m) -> None:
    """A path, a frame in degrees and a NaN or negative tolerance in words (they were an AttributeError, a
    ValueError, and a network silently built without merging any vertex).  The roads' CRS is checked here
    alone, not by ``graph.require_metric``: that one guards the solvers' own frames (projected by their api;
    a ValueError with one fix), this one answers a caller (an InputError listed with the tolerance's, naming
    both ways to metres) and refuses every CRS not projected, all that require_metric refuses and more."""
    issues = []
    if not isinstance(roads, gpd.GeoDataFrame | gpd.GeoSeries):
        issues.append(Issue(f"roads is {kind_of(roads)}, not a GeoDataFrame of road lines",
                            "read the file first: zoning.read_roads(path)"))  # fmt: skip
    elif roads.crs is None or not roads.crs.is_projected:
        issues.append(Issue(f"roads are in {'no CRS' if roads.crs is None else roads.crs.to_string()}, not in "
                            "metres", "project them first (roads_m, crs = zoning.io.crs.to_metric(roads)), or "
                            "pass them to assign_zones(…, roads=…), which projects them with the blocks"))  # fmt: skip
    if (
        issue := number_issue("tolerance_m", tolerance_m, low=0, fix="give metres, e.g. tolerance_m=1.")
    ) is not None:
        issues.append(issue)
    if issues:
        raise InputError(issues)


def _merge_vertices(coords: np.ndarray, tolerance_m: float) -> np.ndarray:
    """Node number of every vertex: vertices within the tolerance (transitively) share one node."""
    pairs = cKDTree(coords).query_pairs(r=tolerance_m, output_type="ndarray").reshape(-1, 2)
    n = len(coords)
    link = sparse.csr_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, node = connected_components(link, directed=False)
    return node.astype(np.int64)


def road_distances(
    block_xy: np.ndarray,
    school_xy: np.ndarray,
    arc_block: np.ndarray,
    arc_school: np.ndarray,
    roads: gpd.GeoSeries | RoadNetwork,
    *,
    cutoff_m: float | None = None,
) -> np.ndarray:
    """Road distance (metres, ``inf`` where unreachable) of each candidate arc (block, school)."""
    network = roads if isinstance(roads, RoadNetwork) else build_road_network(roads)
    return network.distances(block_xy, school_xy, arc_block, arc_school, cutoff_m=cutoff_m)
