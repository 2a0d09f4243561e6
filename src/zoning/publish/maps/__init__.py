"""The offline map of a plan (folium, Leaflet inlined): ``style`` → ``assets`` → ``layers`` → ``legend`` → ``page``
(:func:`zone_map`, :func:`to_html`); see the docstring of ``page``.

May import: every package before ``publish``, and folium / branca, which only ``publish.maps`` may import.
"""

from __future__ import annotations

from .page import TILES_CRS, compare_map, to_html, zone_map

# The constants, importable from here as before the split.
from .style import (  # noqa: F401
    BACKGROUND,
    BLOCK_COLUMNS,
    BLOCK_MIN_ZOOM,
    BLOCK_SIMPLIFY_M,
    CITY_COORD_DECIMALS,
    CITY_SCALE_BLOCKS,
    COORD_DECIMALS,
    DISTRICT_COLUMNS,
    LANGS,
    LEAD_STAR_PX,
    OVER_CAPACITY_COLOUR,
    PALETTE,
    SCHOOL_COLUMNS,
    SCHOOL_RADIUS_PX,
    UNASSIGNED_COLOUR,
    ZONE_COLUMNS,
    ZONE_FILL_OPACITY,
    ZONE_SIMPLIFY_M,
    language,
    tr,
)

__all__ = ["zone_map", "compare_map", "to_html", "language", "tr", "LANGS", "TILES_CRS"]
