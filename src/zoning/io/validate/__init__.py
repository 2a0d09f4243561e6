"""Validation: raw tables in, canonical frames out; every problem of a file collected and raised once.

May import: ``errors``, ``io.files``, ``io.crs`` and its own modules in order: ``headers``, ``numbers``,
``geometry``, ``blocks``, ``schools``, ``pair``.
"""

from .blocks import check_blocks
from .headers import BLOCK_ALIASES, SCHOOL_ALIASES, SITE_ALIASES, normalise_header
from .numbers import parse_number
from .pair import STUDY_AREA_MARGIN_M, check_pair, match_codes, numeric_code
from .schools import CLASS_SIZE, LEAD_FLAGS, QUALITY_FLAGS, QUALITY_TIERS, STAGES, check_schools

__all__ = [
    "check_blocks",
    "check_schools",
    "check_pair",
    "match_codes",
    "numeric_code",
    "normalise_header",
    "parse_number",
    "BLOCK_ALIASES",
    "SCHOOL_ALIASES",
    "SITE_ALIASES",
    "QUALITY_TIERS",
    "QUALITY_FLAGS",
    "LEAD_FLAGS",
    "STAGES",
    "CLASS_SIZE",
    "STUDY_AREA_MARGIN_M",
]
