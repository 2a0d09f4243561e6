"""Geometry to graphs: block adjacency, Voronoi cells for points, the islands policy (``graph``); road
networks and shortest paths (``roads``).  Everything here is in a metric CRS.

May import: ``errors``, ``options``, ``io``.
"""
