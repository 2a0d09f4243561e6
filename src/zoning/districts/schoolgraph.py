"""The schools' adjacency for school districts: from their attendance zones (a zones file, or an
attendance-zone plan), with the islands policy's links between schools whose zones touch no others.

Imports: errors, geo, plan (the layers before ``districts``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import shapely

from ..errors import InputError, Issue, name_list
from ..geo.graph import connect_islands, polygon_adjacency
from ..plan import Plan

__all__ = ["school_graph_from_zones", "graph_from_plan", "match_zones"]

log = logging.getLogger(__name__)


def school_graph_from_zones(
    schools_m: gpd.GeoDataFrame, zones_m: gpd.GeoDataFrame, zone_school: Sequence[int]
) -> tuple[np.ndarray, gpd.GeoSeries, list[Issue], list]:
    """Adjacency of schools whose zones touch, their cells, warnings and the links the islands policy added
    (``geo.graph.Link``).  ``zone_school[z]`` is the school of zone z (-1: none).

    Schools without a zone take the zone they stand in (adjacent to its school and neighbours); schools
    still alone are joined to their nearest school (islands policy, with a warning).
    """
    zone_school = np.asarray(zone_school, dtype=np.int64)
    keep = zone_school >= 0
    zones_m = zones_m[keep].reset_index(drop=True)
    zone_school = zone_school[keep]
    # the zones' own adjacency, without the islands policy (it is applied to the schools below, so that
    # a link it adds is named by its schools and counted where a district holds only through it)
    zone_edges = polygon_adjacency(zones_m.geometry.reset_index(drop=True))
    n = len(schools_m)
    pairs = [np.stack([zone_school[zone_edges[:, 0]], zone_school[zone_edges[:, 1]]], axis=1)]
    has_zone = np.zeros(n, dtype=bool)
    has_zone[zone_school] = True
    cells = gpd.GeoSeries([None] * n, crs=schools_m.crs)
    dissolved = zones_m.assign(_s=zone_school).dissolve(by="_s")
    cells.iloc[dissolved.index.to_numpy()] = dissolved.geometry.values
    warnings: list[Issue] = []
    orphans = np.flatnonzero(~has_zone)
    if len(orphans):
        tree = shapely.STRtree(zones_m.geometry.values)
        hit_school, hit_zone = tree.query(schools_m.geometry.values[orphans], predicate="intersects")
        for o, z in zip(hit_school, hit_zone):
            host = zone_school[z]
            pairs.append(np.array([[orphans[o], host]]))
        for o in orphans:
            cells.iloc[o] = shapely.buffer(schools_m.geometry.values[o], 150.0)
        names = schools_m["name"].astype(str).to_numpy()[orphans]
        warnings.append(
            Issue(
                message=f"{len(orphans)} school(s) have no zone in the zones file: "
                + ", ".join(names[:6])
                + (" …" if len(names) > 6 else "")
                + "; each is joined to the school whose zone it stands in",
                fix="add their zones to the zones file if they have one",
                severity="warning",
            )
        )
    edges = np.concatenate(pairs) if pairs else np.zeros((0, 2), np.int64)
    edges = np.sort(edges, axis=1)
    edges = np.unique(edges[edges[:, 0] != edges[:, 1]], axis=0)
    xy = shapely.get_coordinates(schools_m.geometry.values)
    labels = schools_m["name"].astype(str).tolist()
    edges, _added, island_warnings, links = connect_islands(xy, edges, labels, what="school")
    return edges, cells, warnings + list(island_warnings), links


def graph_from_plan(plan: Plan) -> tuple[np.ndarray, np.ndarray, list[Issue], list]:
    """School adjacency from an attendance-zone plan (zones that share a block edge), children per school,
    the warnings of the islands policy (a school whose zone touches no other is joined to the nearest) and
    its links (``geo.graph.Link``)."""
    index = {sid: j for j, sid in enumerate(plan.schools["school_id"])}
    school_of_block = np.array([index[s] for s in plan.blocks["school_id"]], dtype=np.int64)
    e = plan.problem.edges
    a, b = school_of_block[e[:, 0]], school_of_block[e[:, 1]]
    pairs = np.sort(np.stack([a[a != b], b[a != b]], axis=1), axis=1)
    edges = np.unique(pairs, axis=0) if len(pairs) else np.zeros((0, 2), np.int64)
    xy = shapely.get_coordinates(plan.schools.geometry.values)
    labels = plan.schools["name"].astype(str).tolist()
    edges, _added, warnings, links = connect_islands(xy, edges, labels, what="school")
    return edges, plan.schools["students"].to_numpy(dtype=float), list(warnings), links


def match_zones(
    schools_m: gpd.GeoDataFrame, zones_m: gpd.GeoDataFrame, column: str | None, warnings: list[Issue]
) -> np.ndarray:
    """The school of every zone: by ``column`` (ids or names), else the column matching most schools; zones
    naming no school are named in ``warnings``."""
    index = {str(s): j for j, s in enumerate(schools_m["school_id"])}
    for j, s in enumerate(schools_m["name"]):
        index.setdefault(str(s), j)
    columns = [column] if column is not None else [c for c in zones_m.columns if c != "geometry"]
    if column is not None and column not in zones_m:
        raise InputError(
            [
                Issue(
                    f'the zones file has no column "{column}" (columns: {", ".join(map(str, zones_m.columns))})',
                    fix="name the column holding each zone's school id or name (--zones-school-col)",
                    column=column,
                )
            ]
        )
    best, best_hits = None, 0
    for c in columns:
        hits = sum(str(v) in index for v in zones_m[c])
        if hits > best_hits:
            best, best_hits = c, hits
    if best is None:
        raise InputError(
            [
                Issue(
                    "no column of the zones file names the schools (by id or name)",
                    fix="add a column with each zone's school id, or name it with --zones-school-col",
                )
            ]
        )
    log.info("zones: column %r names the school of %d of %d zones", best, best_hits, len(zones_m))
    out = np.array([index.get(str(v), -1) for v in zones_m[best]], dtype=np.int64)
    unmatched = np.flatnonzero(out < 0)
    if len(unmatched):
        # a zone naming no school is left out of the graph (its area a hole in the map): say which, and the
        # school standing in it, whose name the zone may spell differently
        inside = dict(
            zip(*shapely.STRtree(schools_m.geometry.values).query(zones_m.geometry.values[unmatched],
                                                                  predicate="contains"))
        )  # fmt: skip
        names = schools_m["name"].astype(str).to_numpy()
        said = [
            f'row {k + 1} "{zones_m[best].iloc[k]}"'
            + (f" ({names[inside[u]]} stands in it)" if u in inside else "")
            for u, k in enumerate(unmatched)
        ]
        warnings.append(
            Issue(
                f'{len(unmatched)} zone(s) name no school in column "{best}" and are left out: '
                + name_list(said, limit=6),
                fix=f'write in "{best}" the school id or name exactly as the schools file has it',
                column=best,
                severity="warning",
            )
        )
    return out
