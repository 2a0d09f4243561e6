"""Shared fixtures: real data from ../shared/data, tiny generated instances, the plan checker on every plan."""

from __future__ import annotations

import functools
import importlib.util
import logging
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DEMO = ROOT / "data" / "south_portland_me"
#: The demo as `zoning partition` arguments (what `zoning demo` runs).
DEMO_ARGS = [
    str(DEMO / "blocks.geojson"),
    str(DEMO / "schools.geojson"),
    "--students-col",
    "students_k4",
    "--current-school-col",
    "current_school_plurality",
]


@functools.cache
def benchmark(name: str):
    """benchmarks/NAME.py as a module (its generators and parsers), loaded once."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not found: {path}")
    return path


@pytest.fixture(autouse=True)
def _zoning_logger_as_found():
    """The ``zoning`` logger as each test found it: a command run in-process (CliRunner) sets it up for the
    terminal (its own handler, no propagation, errors only with -q), and a later test's ``caplog`` would then
    see none of the library's warnings (test_postgis' password warning failed after test_batch)."""
    logger = logging.getLogger("zoning")
    handlers, propagate, level = list(logger.handlers), logger.propagate, logger.level
    yield
    logger.handlers[:] = handlers
    logger.propagate, logger.level = propagate, level


@pytest.fixture(scope="session")
def portland():
    """South Portland blocks and schools as canonical frames (WGS84)."""
    from zoning import read_blocks, read_schools

    blocks = read_blocks(
        DEMO / "blocks.geojson",
        columns={"students": "students_k4", "current_school": "current_school_plurality"},
    )
    schools = read_schools(DEMO / "schools.geojson")
    return blocks, schools


def grid_instance(
    rows: int,
    cols: int,
    students,
    school_cells: list[int],
    capacity: list[float],
    *,
    size_m: float = 100.0,
    current: list[str] | None = None,
    epsg: int = 32619,
):
    """Square blocks in a grid (row-major ids b0, b1, …) and schools at the centres of the given cells."""
    x0, y0 = 400_000.0, 4_830_000.0
    polys, ids = [], []
    for r in range(rows):
        for c in range(cols):
            polys.append(
                shapely.box(x0 + c * size_m, y0 + r * size_m, x0 + (c + 1) * size_m, y0 + (r + 1) * size_m)
            )
            ids.append(f"b{r * cols + c}")
    blocks = gpd.GeoDataFrame(
        {"block_id": ids, "students": np.asarray(students, dtype=float)}, geometry=polys, crs=epsg
    )
    if current is not None:
        blocks["current_school"] = current
    pts = [polys[k].centroid for k in school_cells]
    schools = gpd.GeoDataFrame(
        {
            "school_id": [f"S{j}" for j in range(len(school_cells))],
            "name": [f"School {j}" for j in range(len(school_cells))],
            "capacity": np.asarray(capacity, dtype=float),
        },
        geometry=pts,
        crs=epsg,
    )
    return blocks, schools
