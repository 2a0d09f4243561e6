"""The public API's arguments, as an analyst in Jupyter passes them: a value out of range, of the wrong kind,
or a study area in another CRS is an InputError naming the argument and the fix — never a traceback from
deep inside, and never a plan silently drawn from a misread argument.  (A sweep of the API found each case
below as a raw error or a silently wrong result; the comments say which.)"""

from __future__ import annotations

import math
import threading

import geopandas as gpd
import numpy as np
import pytest
import shapely

import zoning
from conftest import DEMO, DEMO_ARGS, grid_instance
from test_cli import no_traceback, run
from zoning import InputError, SolveOptions
from zoning.io import datasets

FAST = SolveOptions(time_limit_s=5, workers=1)


def _grid(epsg: int = 32619):
    """16 square blocks of 100 m, 2 schools with seats for all."""
    return grid_instance(4, 4, [10] * 16, [0, 15], [100, 100], epsg=epsg)


def _points(epsg: int = 32619):
    """The grid's blocks as points (小区 locations) in WGS84, with the schools."""
    blocks, schools = _grid(epsg)
    return blocks.set_geometry(blocks.representative_point()).to_crs(4326), schools.to_crs(4326)


def _hull(blocks: gpd.GeoDataFrame, crs) -> shapely.Geometry:
    """The blocks' convex hull 150 m wider, in ``crs``."""
    metric = blocks.to_crs(blocks.estimate_utm_crs())
    return gpd.GeoSeries([metric.union_all().convex_hull.buffer(150)], crs=metric.crs).to_crs(crs).iloc[0]


# ------------------------------------------------------------------------------------------ SolveOptions


@pytest.mark.parametrize(
    "field, value",
    [
        ("time_limit_s", 0),  # a ValueError, not an InputError
        ("time_limit_s", -1),
        ("time_limit_s", math.nan),
        ("time_limit_s", math.inf),  # accepted: form_districts then searched for ever
        ("time_limit_s", "30"),  # a TypeError from comparing a str
        ("workers", 0),
        ("workers", 1.5),  # accepted, and CP-SAT failed on it later
        ("relative_gap", 1),
        ("relative_gap", -0.1),
        ("relative_gap", math.nan),
        ("seed", -1),  # accepted: numpy's generator refuses a negative seed mid-search
        ("seed", None),
        ("seed", 2**31),  # CP-SAT's seed is a 32-bit integer
        ("stop", True),  # accepted: .is_set() failed when the search looked
    ],
)
def test_solve_options_name_the_field_and_the_fix(field, value):
    with pytest.raises(
        InputError, match=rf"- {field} = .* Fix: .*SolveOptions|- stop = True is not an event"
    ):
        SolveOptions(**{field: value})


def test_solve_options_list_every_bad_field_at_once_and_take_numpy_numbers():
    with pytest.raises(InputError, match="SolveOptions: 2 problems") as info:
        SolveOptions(time_limit_s=0, workers=0)
    assert [i.message.split(" =")[0] for i in info.value.issues] == ["time_limit_s", "workers"]
    ok = SolveOptions(
        time_limit_s=np.float64(2.5), workers=np.int64(1), seed=np.int32(7), stop=threading.Event()
    )
    assert ok.workers == 1 and not ok.stopped


def test_a_negative_seed_on_the_command_line_is_a_bad_flag(tmp_path):
    r = run("partition", *DEMO_ARGS, "--out", tmp_path / "o", "--seed", "-1")
    assert r.exit_code == 2 and "--seed" in no_traceback(r)


# ------------------------------------------------------------------------------- assign_zones / evaluate


@pytest.mark.parametrize(
    "kwargs, said",
    [
        ({"max_distance_m": 0}, "max_distance_m = 0 is not a number above 0"),  # "no school within 0 m"
        ({"max_distance_m": "2500"}, "max_distance_m = '2500'"),  # a numpy UFuncTypeError
        ({"max_moved": math.nan}, "max_moved = nan"),  # "cannot convert float NaN to integer"
        ({"max_moved": -1}, "max_moved = -1 is not a number of 0 or more"),
        ({"candidates": 0}, "candidates = 0 is not a whole number of 1 or more"),  # silently read as 8
        ({"candidates": 2.5}, "candidates = 2.5"),  # silently used
        ({"move_penalty_m": math.inf}, "move_penalty_m = inf is not a finite number"),  # an OverflowError
        ({"contiguity": "no"}, "contiguity = 'no' is not True or False"),  # read as True
        ({"allow_overload": "yes"}, "allow_overload = 'yes'"),
        ({"options": 30}, "options is an int, not SolveOptions"),  # an AttributeError
        ({"roads": "roads.gpkg"}, "roads is a str, not a GeoDataFrame"),  # an AttributeError
    ],
)
def test_assign_zones_names_a_bad_argument(kwargs, said):
    blocks, schools = _grid()
    with pytest.raises(InputError, match=said):
        zoning.assign_zones(blocks, schools, **({"options": FAST} | kwargs))


def test_a_frame_that_is_not_one_is_named_as_errors_name_a_type():
    # errors.kind_of, as every such message: "None", not "a NoneType"; "an int", not "a int"
    blocks, schools = _grid()
    with pytest.raises(InputError, match="the blocks are None, not a GeoDataFrame"):
        zoning.assign_zones(None, schools, options=FAST)
    with pytest.raises(InputError, match="the schools are an int, not a GeoDataFrame"):
        zoning.form_districts(3, n_districts=2, options=FAST)


def test_evaluate_zones_names_a_bad_price_or_options():
    blocks, schools = _grid()
    given = blocks.assign(zone=["S0"] * 8 + ["S1"] * 8)
    with pytest.raises(InputError, match="move_penalty_m = nan"):  # "cannot convert float NaN to integer"
        zoning.evaluate_zones(given, schools, "zone", move_penalty_m=math.nan)
    with pytest.raises(InputError, match="options is an int"):  # an AttributeError (.seed)
        zoning.evaluate_zones(given, schools, "zone", options=3)


# ----------------------------------------------------------------------------------------- study_area


def test_a_study_area_in_another_crs_is_projected_and_draws_the_same_plan():
    blocks, schools = _points()
    plan = zoning.assign_zones(blocks, schools, study_area=_hull(blocks, 4326), options=FAST)
    for crs in (3857, 32619):  # Web Mercator; a projected zone in metres
        area = gpd.GeoSeries([_hull(blocks, crs)], crs=crs)  # a GeoSeries was a GeometryTypeError
        other = zoning.assign_zones(blocks, schools, study_area=area, options=FAST)
        assert other.assignment.equals(plan.assignment)
        assert np.allclose(other.zones.area, plan.zones.area, rtol=1e-3)
    frame = gpd.GeoDataFrame(geometry=[_hull(blocks, 3857)], crs=3857)
    assert zoning.assign_zones(blocks, schools, study_area=frame, options=FAST).assignment.equals(
        plan.assignment
    )


@pytest.mark.parametrize("crs", [3857, 4547])  # Web Mercator; CGCS2000 3-degree Gauss-Krüger zone 38
def test_a_study_area_without_crs_unlike_the_blocks_is_refused(crs):
    # blocks in China (the grid laid out in the CGCS2000 zone), the area's metres given as a bare polygon:
    # it clipped the Voronoi cells to nothing and the plan came out, silently wrong
    blocks, schools = _points(epsg=4547)
    with pytest.raises(InputError, match=r"study_area has no CRS, and its coordinates \(x .*\) are not where the "
                       r"blocks are in their CRS EPSG:4326 .* Fix: .*GeoSeries\(\[area\], crs="):  # fmt: skip
        zoning.assign_zones(blocks, schools, study_area=_hull(blocks, crs), options=FAST)
    # with its CRS it is projected, and the plan is the one drawn with the area in the blocks' CRS
    same = zoning.assign_zones(blocks, schools, study_area=_hull(blocks, 4326), options=FAST)
    got = zoning.assign_zones(
        blocks, schools, study_area=gpd.GeoSeries([_hull(blocks, crs)], crs=crs), options=FAST
    )
    assert got.assignment.equals(same.assignment)


def test_a_study_area_that_misses_the_blocks_is_refused_in_words():
    blocks, schools = _points()
    elsewhere = gpd.GeoSeries([_hull(blocks, 3857)], crs=3857).translate(50_000, 0)  # 36 km at 43.6° N
    with pytest.raises(InputError, match=r"study_area holds none of the blocks: it lies 3\d\.\d km from"):
        zoning.assign_zones(blocks, schools, study_area=elsewhere, options=FAST)
    wrongly = gpd.GeoSeries([_hull(blocks, 3857)], crs=4326)  # metres declared as degrees
    with pytest.raises(
        InputError, match=r"study_area's coordinates \(x -7,8.*\) do not fit its CRS EPSG:4326"
    ):
        zoning.assign_zones(blocks, schools, study_area=wrongly, options=FAST)
    west = shapely.box(*blocks.total_bounds).buffer(1e-4)
    x0, y0, x1, y1 = west.bounds
    half = shapely.box(x0, y0, (x0 + x1) / 2, y1)  # cells of the blocks east of it were empty
    with pytest.raises(
        InputError, match=r"8 of the blocks lie outside study_area: b\d+, .* Fix: draw the study"
    ):
        zoning.assign_zones(blocks, schools, study_area=half, options=FAST)
    with pytest.raises(InputError, match="study_area is a str, not the outline of an area"):
        zoning.assign_zones(blocks, schools, study_area="hull", options=FAST)
    with pytest.raises(InputError, match="study_area is a LinearRing"):
        zoning.assign_zones(blocks, schools, study_area=west.exterior, options=FAST)
    with pytest.raises(InputError, match="study_area is an int, not the outline of an area"):  # "a int"
        zoning.assign_zones(blocks, schools, study_area=3, options=FAST)


def test_a_study_area_beside_polygon_blocks_is_said_to_be_unused():
    blocks, schools = _grid()
    plan = zoning.assign_zones(blocks, schools, study_area=_hull(blocks, blocks.crs), options=FAST)
    assert any("study_area is left unused" in w.message for w in plan.warnings)


def test_form_districts_projects_the_study_area_and_refuses_one_unlike_the_schools():
    _, schools = grid_instance(4, 4, [10] * 16, [0, 3, 5, 10, 12, 15], [50] * 6)
    schools = schools.to_crs(4326)
    area = gpd.GeoSeries([_hull(schools, 3857)], crs=3857)
    plan = zoning.form_districts(schools, n_districts=2, study_area=area, options=FAST)
    assert plan.districts is not None and len(plan.districts) == 2
    with pytest.raises(InputError, match="study_area has no CRS, .* where the schools are"):
        zoning.form_districts(schools, n_districts=2, study_area=_hull(schools, 3857), options=FAST)


# ------------------------------------------------------------------------------------------ form_districts


@pytest.mark.parametrize(
    "kwargs, said",
    [
        ({"min_members": -1}, "min_members = -1 is not a whole number of 0 or more"),  # read as no minimum
        ({"max_members": 1.5}, "max_members = 1.5"),
        ({"max_lead_distance_m": -1}, "max_lead_distance_m = -1 is not a number above 0"),  # "within -1 m"
        ({"lead_min_quality": math.nan}, "lead_min_quality = nan is not a number"),  # silently ignored
        ({"seats_tolerance": "0.1"}, r"seats_tolerance = '0\.1' is not a number in \[0, 1\)"),  # a TypeError
        ({"groups": "no"}, "groups = 'no' is not True or False"),  # read as True: education groups
        ({"options": 30}, "options is an int, not SolveOptions"),
    ],
)
def test_form_districts_names_a_bad_argument(kwargs, said):
    _, schools = grid_instance(4, 4, [10] * 16, [0, 3, 5, 10, 12, 15], [50] * 6)
    with pytest.raises(InputError, match=said):
        zoning.form_districts(schools, **({"n_districts": 2, "options": FAST} | kwargs))


# ---------------------------------------------------------------------------------------------- readers


def test_load_inputs_takes_one_header_to_keep_and_refuses_columns_as_a_list():
    blocks, schools = DEMO / "blocks.geojson", DEMO / "schools.geojson"
    cols = {"students": "students_k4"}
    inputs = zoning.load_inputs(blocks, schools, block_columns=cols, block_keep="tract", school_keep="grades")
    assert "tract" in inputs.blocks and "grades" in inputs.schools  # read letter by letter: no column "t"
    with pytest.raises(InputError, match=r"2 problems.*\n- block_columns is a list, not a mapping.*\n"
                       r"- school_keep is an int, not a list of headers"):  # fmt: skip
        zoning.load_inputs(blocks, schools, block_columns=["students_k4"], school_keep=3)  # an AttributeError


def test_the_readers_name_a_bad_argument():
    blocks, schools = DEMO / "blocks.geojson", DEMO / "schools.geojson"
    cols = {"students": "students_k4"}
    assert len(zoning.read_blocks(blocks, columns=cols, keep=None)) == 317  # None keeps nothing
    with pytest.raises(InputError, match="keep is an int, not a list of headers"):  # a TypeError
        zoning.read_blocks(blocks, columns=cols, keep=3)
    with pytest.raises(InputError, match="per_1000_rate = '80' is not a number above 0"):  # a TypeError
        zoning.read_blocks(blocks, per_1000_rate="80")
    with pytest.raises(
        InputError, match="class_size = 45.5 is not a whole number of 1 or more"
    ):  # fractional seats
        zoning.read_schools(schools, class_size=45.5)
    with pytest.raises(InputError, match="require_capacity = 'no' is not True or False"):  # read as True
        zoning.read_schools(schools, require_capacity="no")
    with pytest.raises(InputError, match="encoding = 'nope' is not a text encoding"):  # a LookupError
        zoning.read_schools(schools, encoding="nope")
    with pytest.raises(InputError, match="unknown coordinate system 'foo'"):  # a ValueError
        zoning.read_zones(datasets.get_path("baoan_xuequ2_catchments"), coords="foo")
    with pytest.raises(
        InputError, match="there is no demo dataset 'portland'. Fix: use one of"
    ):  # a ValueError
        datasets.get_path("portland")


# ---------------------------------------------------------------------------------- map, outputs, roads


@pytest.fixture(scope="module")
def grid_plan():
    blocks, schools = _grid()
    return zoning.assign_zones(blocks, schools, options=FAST)


def test_the_map_names_an_unknown_language_or_option(grid_plan):
    with pytest.raises(
        InputError, match=r"Cannot draw the map.*\n- lang = 'fr' is not one of 'zh', 'en', 'both'"
    ):
        zoning.plan_map(grid_plan, lang="fr")  # a ValueError from inside the maps
    with pytest.raises(InputError, match="'language' is not an option of the map. Fix: use one of tiles"):
        zoning.plan_map_html(grid_plan, language="zh")  # a TypeError of zone_map


def test_overwrite_must_be_true_or_false(grid_plan, tmp_path):
    zoning.write_plan(grid_plan, tmp_path)
    before = (tmp_path / "plan.csv").stat().st_mtime_ns
    with pytest.raises(InputError, match="overwrite = 'no' is not True or False"):  # read as True: replaced
        zoning.write_plan(grid_plan, tmp_path, overwrite="no")
    with pytest.raises(InputError, match="overwrite = 'no'"):
        zoning.announce(grid_plan, tmp_path, overwrite="no")
    assert (tmp_path / "plan.csv").stat().st_mtime_ns == before and not (tmp_path / "announce.md").exists()


def test_build_road_network_names_a_path_degrees_or_a_bad_tolerance():
    line = gpd.GeoSeries.from_wkt(["LINESTRING (0 0, 100 0)"], crs=3857)
    with pytest.raises(InputError, match="roads is a str, not a GeoDataFrame .* zoning.read_roads"):
        zoning.build_road_network("roads.gpkg")  # an AttributeError
    with pytest.raises(InputError, match="roads are in EPSG:4326, not in metres"):  # a ValueError
        zoning.build_road_network(line.to_crs(4326))
    with pytest.raises(InputError, match="roads are in EPSG:4978, not in metres"):  # geocentric: metres, 3-D
        zoning.build_road_network(line.set_crs(4978, allow_override=True))
    with pytest.raises(InputError, match="tolerance_m = nan is not a number of 0 or more"):  # silently built
        zoning.build_road_network(line, tolerance_m=math.nan)


def test_run_batch_names_zero_workers():
    with pytest.raises(InputError, match="workers = 0 is not a whole number of 1 or more"):  # waited for ever
        zoning.run_batch([], "unused", workers=0)
