"""The demo data shipped with zoning (package data): South Portland, Maine, K-4 (attendance zones) and
Bao'an 第二学区, Shenzhen (school districts, GCJ-02, Chinese headers).

``get_path("south_portland_blocks")`` returns the path of a shipped file; in an installed wheel the files
live in ``zoning/data``, in a source checkout (editable install) in the repository's ``data/`` folder.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import InputError, Issue

__all__ = ["get_path", "available"]

_FILES = {
    "south_portland_blocks": "south_portland_me/blocks.geojson",
    "south_portland_schools": "south_portland_me/schools.geojson",
    "baoan_xuequ2_schools": "shenzhen_baoan_xuequ2/schools_xuequ2_gcj02.geojson",
    "baoan_xuequ2_catchments": "shenzhen_baoan_xuequ2/catchments_xuequ2_gcj02.geojson",
}


def available() -> list[str]:
    """Names accepted by :func:`get_path`."""
    return sorted(_FILES)


def _data_dir() -> Path:
    packaged = Path(str(resources.files("zoning"))) / "data"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "data"  # source checkout


def get_path(name: str) -> Path:
    """Path of a shipped demo file, e.g. ``get_path("south_portland_blocks")``."""
    if name not in _FILES:
        raise InputError(
            [Issue(f"there is no demo dataset {name!r}.", f"use one of {', '.join(available())}.")]
        )
    return _data_dir() / _FILES[name]
