"""Tests of zoning.crs: GCJ-02 / BD-09 formulas against published control points, inverse accuracy,
frame conversion, the metric CRS choice and swapped-column detection."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon

from conftest import shared
from zoning.errors import InputError
from zoning.io import crs

GEOD = pyproj.Geod(ellps="WGS84")

FORWARD_TOL_DEG = 1e-9  # the forward formulas reproduce the published digits
INVERSE_TOL_M = 1e-3  # our iterated inverse (measured max 0.16 mm, see the module docstring)


def dist_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Geodesic distance in metres on WGS84 (used only to state errors in metres)."""
    lon1, lat1, lon2, lat2 = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (lon1, lat1, lon2, lat2))
    )
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


# ---------------------------------------------------------------------------------------------------------
# published control points
#
# (lon, lat) pairs.  Sources:
# [W] wandergis/coordtransform, test/app.js (commit 242324636adb54f9d1ef571035dc61f0ac8f0e8c), the "//result"
#     block, also in its README: the four conversions of (116.404, 39.915) (Tiananmen).  Its gcj02towgs84 and
#     bd09togcj02 are the one-step approximations, not exact inverses.
# [E] googollee/eviltransform, go/transform_test.go (commit 1643645a2a2f2fa06811df676db42d02a0fb1f40) and
#     python/test.py (commit 3416646abc64972e899118271bd98030224d9d6c): WGS84 → GCJ-02 for Shanghai, Shenzhen,
#     Beijing (given there as lat, lng; swapped to lon, lat here).
# [P] Glatzel/pyxis, python/tests/test_crypto.py (commit 62cd047d23dbf6817517ca8c3565b025830e73e9): one
#     WGS84 / GCJ-02 / BD-09 triple near Shanghai (Jiading).  Its GCJ-02 differs from the standard formula
#     by 7.7e-8° (≈ 8 mm), so it is checked at 1e-6°.

W_INPUT = (116.404, 39.915)
W_WGS84_TO_GCJ02 = (116.41024449916938, 39.91640428150164)
W_GCJ02_TO_BD09 = (116.41036949371029, 39.92133699351021)
W_BD09_TO_GCJ02_ONE_STEP = (116.39762729119315, 39.90865673957631)
W_GCJ02_TO_WGS84_ONE_STEP = (116.39775550083061, 39.91359571849836)

E_PAIRS = [  # (wgs84 lon, wgs84 lat), (gcj02 lon, gcj02 lat)
    pytest.param((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597), id="shanghai"),
    pytest.param((113.912316, 22.543847), (113.9171764808363, 22.540796131694766), id="shenzhen"),
    pytest.param((116.377817, 39.911954), (116.38404722455657, 39.91334545536069), id="beijing"),
]

P_WGS84 = (121.0917077, 30.6107779)
P_GCJ02 = (121.09626935575027, 30.608604331756705)
P_BD09 = (121.10271732371203, 30.61484572185035)


def test_wandergis_forward_control_points():
    lon, lat = crs.wgs84_to_gcj02(*W_INPUT)
    assert abs(lon - W_WGS84_TO_GCJ02[0]) < FORWARD_TOL_DEG
    assert abs(lat - W_WGS84_TO_GCJ02[1]) < FORWARD_TOL_DEG
    lon, lat = crs.gcj02_to_bd09(*W_INPUT)
    assert abs(lon - W_GCJ02_TO_BD09[0]) < FORWARD_TOL_DEG
    assert abs(lat - W_GCJ02_TO_BD09[1]) < FORWARD_TOL_DEG


def test_wandergis_inverses_agree_with_and_improve_on_the_one_step_approximation():
    # BD-09 → GCJ-02: the published one-step value is within ~5 cm of ours ...
    lon, lat = crs.bd09_to_gcj02(*W_INPUT)
    assert dist_m(lon, lat, *W_BD09_TO_GCJ02_ONE_STEP) < 0.1
    # ... and ours maps forward onto the input, theirs does not as well.
    ours = dist_m(*crs.gcj02_to_bd09(lon, lat), *W_INPUT)
    theirs = dist_m(*crs.gcj02_to_bd09(*W_BD09_TO_GCJ02_ONE_STEP), *W_INPUT)
    assert ours < 1e-3 < theirs

    lon, lat = crs.gcj02_to_wgs84(*W_INPUT)
    assert dist_m(lon, lat, *W_GCJ02_TO_WGS84_ONE_STEP) < 0.5
    ours = dist_m(*crs.wgs84_to_gcj02(lon, lat), *W_INPUT)
    theirs = dist_m(*crs.wgs84_to_gcj02(*W_GCJ02_TO_WGS84_ONE_STEP), *W_INPUT)
    assert ours < 1e-3 < theirs


@pytest.mark.parametrize(("wgs", "gcj"), E_PAIRS)
def test_eviltransform_control_points(wgs, gcj):
    lon, lat = crs.wgs84_to_gcj02(*wgs)
    assert abs(lon - gcj[0]) < FORWARD_TOL_DEG
    assert abs(lat - gcj[1]) < FORWARD_TOL_DEG
    # the published WGS84 values have 7 decimals (≈ 1 cm); eviltransform's own exact inverse allows 0.5 m
    assert dist_m(*crs.gcj02_to_wgs84(*gcj), *wgs) < 0.01


def test_pyxis_control_triple():
    tol = 1e-6
    np.testing.assert_allclose(crs.wgs84_to_gcj02(*P_WGS84), P_GCJ02, rtol=0, atol=tol)
    np.testing.assert_allclose(crs.gcj02_to_bd09(*P_GCJ02), P_BD09, rtol=0, atol=FORWARD_TOL_DEG)
    np.testing.assert_allclose(crs.wgs84_to_bd09(*P_WGS84), P_BD09, rtol=0, atol=tol)
    np.testing.assert_allclose(crs.bd09_to_gcj02(*P_BD09), P_GCJ02, rtol=0, atol=tol)
    np.testing.assert_allclose(crs.gcj02_to_wgs84(*P_GCJ02), P_WGS84, rtol=0, atol=tol)
    np.testing.assert_allclose(crs.bd09_to_wgs84(*P_BD09), P_WGS84, rtol=0, atol=tol)


# ---------------------------------------------------------------------------------------------------------
# inverse accuracy and offset size on a seeded grid


@pytest.fixture(scope="module")
def china_points():
    rng = np.random.default_rng(20240601)
    n = 10_000
    # the inner part of the China box (round trips within ~0.01° of its edge cross the in/out test)
    return rng.uniform(73.0, 135.0, n), rng.uniform(18.0, 53.0, n)


def test_gcj02_round_trip_within_a_millimetre(china_points):
    lon, lat = china_points
    g_lon, g_lat = crs.wgs84_to_gcj02(lon, lat)
    w_lon, w_lat = crs.gcj02_to_wgs84(g_lon, g_lat)
    assert dist_m(lon, lat, w_lon, w_lat).max() < INVERSE_TOL_M
    # the stopping rule: the forward image of the inverse is within the stated tolerance of the input
    f_lon, f_lat = crs.wgs84_to_gcj02(w_lon, w_lat)
    assert np.abs(f_lon - g_lon).max() <= crs.INVERSE_TOL_DEG
    assert np.abs(f_lat - g_lat).max() <= crs.INVERSE_TOL_DEG


def test_bd09_round_trips_within_a_millimetre(china_points):
    lon, lat = china_points
    b_lon, b_lat = crs.gcj02_to_bd09(lon, lat)
    assert dist_m(lon, lat, *crs.bd09_to_gcj02(b_lon, b_lat)).max() < INVERSE_TOL_M
    b_lon, b_lat = crs.wgs84_to_bd09(lon, lat)
    assert dist_m(lon, lat, *crs.bd09_to_wgs84(b_lon, b_lat)).max() < INVERSE_TOL_M


def test_offset_is_hundreds_of_metres_in_eastern_china():
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(105.0, 125.0, 2000), rng.uniform(20.0, 42.0, 2000)
    d = dist_m(lon, lat, *crs.wgs84_to_gcj02(lon, lat))
    # measured 312–679 m, median 530 m; the folklore figure is "300–700 m"
    assert d.min() > 250.0
    assert d.max() < 750.0
    assert 400.0 < np.median(d) < 650.0
    # BD-09 adds roughly another 0.0065° / 0.006°, i.e. several hundred metres more
    d_bd = dist_m(lon, lat, *crs.wgs84_to_bd09(lon, lat))
    assert np.median(d_bd) > np.median(d) + 300.0


OUTSIDE = [(-70.27, 43.63), (-122.3, 47.6), (139.69, 35.69), (151.21, -33.87), (-0.13, 51.5), (105.0, -10.0)]


@pytest.mark.parametrize(
    "func",
    [
        crs.wgs84_to_gcj02,
        crs.gcj02_to_wgs84,
        crs.gcj02_to_bd09,
        crs.bd09_to_gcj02,
        crs.bd09_to_wgs84,
        crs.wgs84_to_bd09,
    ],
)
def test_outside_china_points_are_unchanged(func):
    lon = np.array([p[0] for p in OUTSIDE])
    lat = np.array([p[1] for p in OUTSIDE])
    out_lon, out_lat = func(lon, lat)
    np.testing.assert_array_equal(out_lon, lon)
    np.testing.assert_array_equal(out_lat, lat)
    # and a Chinese point in the same call is moved
    moved_lon, moved_lat = func(np.append(lon, 116.4), np.append(lat, 39.9))
    assert abs(moved_lon[-1] - 116.4) > 1e-3 and abs(moved_lat[-1] - 39.9) > 1e-4


def test_in_china_box():
    inside = crs.in_china(
        [116.4, 121.47, 87.6, 126.6, -70.0, 139.7, np.nan], [39.9, 31.23, 43.8, 45.75, 43.0, 35.7, 30]
    )
    assert inside.dtype == bool
    assert inside.tolist() == [True, True, True, True, False, False, False]


def test_scalars_and_shapes():
    lon, lat = crs.wgs84_to_gcj02(116.404, 39.915)
    assert isinstance(lon, np.ndarray) and lon.shape == ()
    grid_lon, grid_lat = np.meshgrid(np.linspace(110, 120, 4), np.linspace(25, 35, 3))
    out_lon, out_lat = crs.gcj02_to_wgs84(grid_lon, grid_lat)
    assert out_lon.shape == out_lat.shape == (3, 4)
    # broadcasting a scalar latitude against a row of longitudes
    out_lon, out_lat = crs.bd09_to_wgs84([116.0, 117.0], 39.9)
    assert out_lon.shape == (2,) and out_lat.shape == (2,)
    # NaN in, NaN out (no error, no warning)
    nan_lon, nan_lat = crs.gcj02_to_wgs84([np.nan, 116.4], [np.nan, 39.9])
    assert np.isnan(nan_lon[0]) and np.isnan(nan_lat[0]) and np.isfinite(nan_lon[1])


# ---------------------------------------------------------------------------------------------------------
# to_wgs84


def _truth_frame() -> gpd.GeoDataFrame:
    """WGS84 geometries in Hangzhou: a point, a polygon with a hole, a two-part multipolygon, a missing one."""
    square = Polygon(
        [(120.10, 30.25), (120.14, 30.25), (120.14, 30.29), (120.10, 30.29)],
        holes=[[(120.11, 30.26), (120.12, 30.26), (120.12, 30.27), (120.11, 30.27)]],
    )
    multi = MultiPolygon(
        [
            Polygon([(120.15, 30.30), (120.16, 30.30), (120.16, 30.31)]),
            Polygon([(120.17, 30.32), (120.18, 30.32), (120.18, 30.33), (120.17, 30.33)]),
        ]
    )
    return gpd.GeoDataFrame(
        {"name": ["school", "block", "district", "unknown"]},
        geometry=[Point(120.137894, 30.298744), square, multi, None],
        index=pd.Index([101, 102, 103, 104], name="id"),
        crs="EPSG:4326",
    )


def _apply(gdf: gpd.GeoDataFrame, func, crs_label) -> gpd.GeoDataFrame:
    def on_xy(xy):
        out = xy.copy()
        out[:, 0], out[:, 1] = func(xy[:, 0], xy[:, 1])
        return out

    geoms = shapely.transform(np.asarray(gdf.geometry.array, dtype=object), on_xy)
    return gpd.GeoDataFrame(gdf.drop(columns="geometry"), geometry=list(geoms), crs=crs_label)


def _assert_same_geometries(result: gpd.GeoDataFrame, truth: gpd.GeoDataFrame, tol_deg: float):
    assert list(result.index) == list(truth.index)
    for got, want in zip(result.geometry, truth.geometry, strict=True):
        if want is None:
            assert got is None or got.is_empty
            continue
        assert got.geom_type == want.geom_type
        assert shapely.get_num_interior_rings(shapely.get_parts(got)).tolist() == (
            shapely.get_num_interior_rings(shapely.get_parts(want)).tolist()
        )
        np.testing.assert_allclose(
            shapely.get_coordinates(got), shapely.get_coordinates(want), rtol=0, atol=tol_deg
        )


@pytest.mark.parametrize(("coords", "forward"), [("gcj02", crs.wgs84_to_gcj02), ("BD-09", crs.wgs84_to_bd09)])
def test_to_wgs84_offset_systems(coords, forward):
    truth = _truth_frame()
    # web-map exports are typically labelled CRS84 although their numbers are GCJ-02 / BD-09
    offset = _apply(truth, forward, "OGC:CRS84")
    before = offset.copy()
    result = crs.to_wgs84(offset, coords)
    assert result is not offset
    assert result.crs == pyproj.CRS.from_epsg(4326)
    assert result["name"].tolist() == truth["name"].tolist()
    _assert_same_geometries(result, truth, 1e-8)
    # the input frame is untouched
    assert offset.crs == before.crs
    assert offset.geometry.geom_equals_exact(before.geometry, 0).iloc[:3].all()
    # and the offset really was removed: hundreds of metres
    moved = dist_m(
        *shapely.get_coordinates(offset.geometry.iloc[0]).T,
        *shapely.get_coordinates(result.geometry.iloc[0]).T,
    )
    assert moved.min() > 200.0


def test_to_wgs84_offset_ignores_a_projected_label_on_degree_numbers(caplog):
    truth = _truth_frame().iloc[:3]
    mislabelled = _apply(truth, crs.wgs84_to_gcj02, "EPSG:4547")
    with caplog.at_level(logging.INFO, logger="zoning.io.crs"):
        result = crs.to_wgs84(mislabelled, "gcj02")
    _assert_same_geometries(result, truth, 1e-8)
    assert "ignoring the label" in caplog.text


def test_to_wgs84_keeps_z():
    frame = gpd.GeoDataFrame(geometry=[Point(120.1, 30.3, 12.5)], crs=None)
    result = crs.to_wgs84(frame, "gcj02")
    assert result.geometry.iloc[0].has_z
    assert result.geometry.iloc[0].z == 12.5


def test_to_wgs84_cgcs2000_without_crs_is_labelled_then_converted():
    truth = _truth_frame()
    unlabelled = truth.set_crs(None, allow_override=True)
    for coords in ("EPSG:4490", "cgcs2000"):
        result = crs.to_wgs84(unlabelled, coords)
        assert result.crs == pyproj.CRS.from_epsg(4326)
        # CGCS2000 and WGS84 differ by centimetres: the numbers stay (almost) where they were
        _assert_same_geometries(result, truth, 1e-6)
    assert unlabelled.crs is None


def test_to_wgs84_projected_gauss_kruger():
    truth = _truth_frame().iloc[:3]
    projected = truth.to_crs(4547).set_crs(None, allow_override=True)  # bare 4547 numbers, no label
    assert projected.total_bounds[0] > 1e5
    result = crs.to_wgs84(projected, "epsg:4547")
    _assert_same_geometries(result, truth, 1e-8)


def test_to_wgs84_trusts_the_user_over_the_file_label(caplog):
    truth = _truth_frame().iloc[:3]
    # the numbers are EPSG:4549 metres, but the file claims EPSG:32651
    wrong_label = truth.to_crs(4549).set_crs(32651, allow_override=True)
    with caplog.at_level(logging.WARNING, logger="zoning.io.crs"):
        result = crs.to_wgs84(wrong_label, "EPSG:4549")
    _assert_same_geometries(result, truth, 1e-8)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "EPSG:32651" in warnings[0].getMessage() and "EPSG:4549" in warnings[0].getMessage()


def test_to_wgs84_same_label_does_not_warn(caplog):
    truth = _truth_frame()
    with caplog.at_level(logging.WARNING, logger="zoning.io.crs"):
        result = crs.to_wgs84(truth.to_crs("OGC:CRS84"), "wgs84")
    assert not caplog.records
    _assert_same_geometries(result, truth, 1e-12)


def test_to_wgs84_refuses_metres_called_degrees_and_degrees_called_metres():
    truth = _truth_frame().iloc[:3]
    metres = truth.to_crs(4549).set_crs(None, allow_override=True)
    with pytest.raises(
        InputError, match=r'column "geometry": --coords gcj02 .* not degrees\..*Fix: .*EPSG:<code>'
    ):
        crs.to_wgs84(metres, "gcj02")
    with pytest.raises(InputError, match=r"--coords wgs84 \(EPSG:4326, degrees\) does not fit"):
        crs.to_wgs84(metres, "wgs84")
    with pytest.raises(
        InputError, match=r"--coords EPSG:4549 .* is in metres, but the coordinates look like degrees"
    ):
        crs.to_wgs84(truth, "EPSG:4549")


def test_to_wgs84_empty_frame():
    empty = gpd.GeoDataFrame({"name": []}, geometry=[], crs=None)
    for coords in ("gcj02", "cgcs2000", "EPSG:4547"):
        result = crs.to_wgs84(empty, coords)
        assert len(result) == 0
        assert result.crs == pyproj.CRS.from_epsg(4326)


# ---------------------------------------------------------------------------------------------------------
# metric CRS


@pytest.mark.parametrize(
    ("where", "epsg"),
    [
        ((114.0, 22.5), 4547),  # Shenzhen
        ((120.1, 30.3), 4549),  # Hangzhou
        ((87.6, 43.8), 4538),  # Urumqi, CM 87E
        ((75.99, 39.47), 4534),  # Kashgar, CM 75E (first zone)
        ((-70.27, 43.63), 32619),  # South Portland, Maine
        ((-122.3, 47.6), 32610),  # Seattle
        ((151.21, -33.87), 32756),  # Sydney (south)
        ((-58.38, -34.6), 32721),  # Buenos Aires (south)
        ((139.69, 35.69), 32654),  # Tokyo: outside the Gauss-Krüger region
    ],
)
def test_choose_metric_crs(where, epsg):
    assert crs.choose_metric_crs(where).to_epsg() == epsg
    lon, lat = where
    assert crs.choose_metric_crs((lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01)).to_epsg() == epsg


def test_gauss_kruger_codes_have_the_central_meridian_we_assume():
    for i, cm in enumerate(range(75, 136, 3)):
        expected = pyproj.CRS.from_epsg(4534 + i)
        params = {p.name: p.value for p in expected.coordinate_operation.params}
        assert params["Longitude of natural origin"] == cm
        assert params["False easting"] == 500000
        assert expected.geodetic_crs.name == "China Geodetic Coordinate System 2000"
        assert crs.choose_metric_crs((cm, 35.0)) == expected
        assert crs.choose_metric_crs((cm - 1.4, 35.0)) == expected
        if cm + 1.4 <= 136.0:  # the Gauss-Krüger region ends at 136E; beyond it UTM is used
            assert crs.choose_metric_crs((cm + 1.4, 35.0)) == expected
    # the zone boundary lies half-way between central meridians
    assert crs.choose_metric_crs((115.4, 30.0)).to_epsg() == 4547
    assert crs.choose_metric_crs((115.6, 30.0)).to_epsg() == 4548
    # the region edges: 73E uses CM 75E (no CM 72E zone), beyond 136E falls back to UTM
    assert crs.choose_metric_crs((73.0, 39.0)).to_epsg() == 4534
    assert crs.choose_metric_crs((136.4, 35.0)).to_epsg() == 32653


def test_choose_metric_crs_from_frames_in_any_crs():
    truth = _truth_frame()
    assert crs.choose_metric_crs(truth).to_epsg() == 4549
    assert crs.choose_metric_crs(truth.to_crs(32651)).to_epsg() == 4549
    assert crs.choose_metric_crs(truth.geometry).to_epsg() == 4549
    with pytest.raises(ValueError, match="no CRS"):
        crs.choose_metric_crs(truth.to_crs(4549).set_crs(None, allow_override=True))
    with pytest.raises(ValueError, match="degrees"):
        crs.choose_metric_crs((500000.0, 3300000.0, 510000.0, 3310000.0))


def test_to_metric_projects_and_logs_the_choice(caplog):
    frame = gpd.GeoDataFrame(geometry=[Point(114.0, 22.5), Point(114.01, 22.5)], crs="EPSG:4326")
    with caplog.at_level(logging.INFO, logger="zoning.io.crs"):
        metric, chosen = crs.to_metric(frame)
    assert chosen.to_epsg() == 4547
    assert metric.crs == chosen
    assert "using metric CRS EPSG:4547 (CGCS2000 / 3-degree Gauss-Kruger CM 114E)" in caplog.text
    # a metric distance, close to the geodesic one
    projected = metric.geometry.iloc[0].distance(metric.geometry.iloc[1])
    geodesic = dist_m(114.0, 22.5, 114.01, 22.5)
    assert abs(projected - geodesic) / geodesic < 1e-4
    assert frame.crs == pyproj.CRS.from_epsg(4326)  # the input is untouched


def test_to_metric_with_a_given_crs_and_refusals():
    frame = gpd.GeoDataFrame(geometry=[Point(114.0, 22.5)], crs="EPSG:4326")
    metric, used = crs.to_metric(frame, crs="EPSG:32650")
    assert used.to_epsg() == 32650 and metric.crs.to_epsg() == 32650
    with pytest.raises(ValueError, match="not a projected CRS in metres"):
        crs.to_metric(frame, crs=4490)
    with pytest.raises(ValueError, match="to_wgs84"):
        crs.to_metric(frame.set_crs(None, allow_override=True))


# ---------------------------------------------------------------------------------------------------------
# swapped columns


@pytest.fixture(scope="module")
def campuses() -> pd.DataFrame:
    return pd.read_csv(shared("hangzhou_gongshu_edu_groups", "campuses.csv"))


def test_detect_swapped_lonlat_hangzhou(campuses):
    lon = campuses["lon_gcj02"].to_numpy(dtype=float)
    lat = campuses["lat_gcj02"].to_numpy(dtype=float)
    assert len(lon) == 46
    assert not crs.detect_swapped_lonlat(lon, lat, "gcj02")
    assert crs.detect_swapped_lonlat(lat, lon, "gcj02")
    assert crs.detect_swapped_lonlat(lat, lon, "wgs84")  # |lat| ≈ 120 > 90: swapped in any system


def test_detect_swapped_lonlat_western_china_needs_the_china_rule():
    # Kashgar and Hotan: longitudes < 90, so only the "swapped pair is in China" rule can tell
    lon, lat = np.array([75.99, 79.92]), np.array([39.47, 37.11])
    assert not crs.detect_swapped_lonlat(lon, lat, "gcj02")
    assert crs.detect_swapped_lonlat(lat, lon, "gcj02")
    assert crs.detect_swapped_lonlat(lat, lon, "EPSG:4490")
    # in WGS84 (39.47E, 75.99N) is a legitimate Arctic point: not flagged
    assert not crs.detect_swapped_lonlat(lat, lon, "wgs84")


def test_detect_swapped_lonlat_leaves_normal_data_alone():
    assert not crs.detect_swapped_lonlat(np.array([-70.0, -70.27]), np.array([43.0, 43.63]), "wgs84")
    assert not crs.detect_swapped_lonlat(np.array([-70.0]), np.array([43.0]), "gcj02")
    assert not crs.detect_swapped_lonlat(np.array([116.40, 116.30]), np.array([39.90, 39.99]), "bd09")
    assert not crs.detect_swapped_lonlat(np.array([116.40]), np.array([39.90]), "wgs84")
    # a mixed file (one row swapped) is not "clearly swapped"; validation reports the row instead
    assert not crs.detect_swapped_lonlat(np.array([120.1, 30.3]), np.array([30.3, 120.1]), "gcj02")
    # projected numbers and empty / all-NaN columns
    assert not crs.detect_swapped_lonlat(np.array([3.3e6]), np.array([5.0e5]), "EPSG:4549")
    assert not crs.detect_swapped_lonlat(np.array([]), np.array([]), "gcj02")
    assert not crs.detect_swapped_lonlat(np.array([np.nan]), np.array([np.nan]), "gcj02")


# ---------------------------------------------------------------------------------------------------------
# parse_coords and is_geographic_bounds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("wgs84", "wgs84"),
        ("WGS-84", "wgs84"),
        ("wgs 84", "wgs84"),
        ("CGCS2000", "cgcs2000"),
        ("cgcs_2000", "cgcs2000"),
        ("gcj02", "gcj02"),
        ("GCJ-02", "gcj02"),
        (" Gcj02 ", "gcj02"),
        ("bd09", "bd09"),
        ("BD-09", "bd09"),
        ("EPSG:4490", "EPSG:4490"),
        ("epsg:4547", "EPSG:4547"),
        ("EPSG: 32650", "EPSG:32650"),
        (4547, "EPSG:4547"),  # Python: the code as a number, as pyproj takes it ("--coords must be text")
    ],
)
def test_parse_coords_accepts(text, expected):
    assert crs.parse_coords(text) == expected


def test_parse_coords_rejects_with_the_accepted_values():
    with pytest.raises(
        ValueError, match=r"'gcj-03'.*wgs84, cgcs2000, gcj02 .*bd09 .*EPSG:<code>.*Did you mean gcj02\?"
    ):
        crs.parse_coords("gcj-03")
    with pytest.raises(ValueError, match=r"EPSG:999999 is not a known EPSG code"):
        crs.parse_coords("EPSG:999999")
    with pytest.raises(ValueError, match="Accepted values"):
        crs.parse_coords("4326")
    with pytest.raises(ValueError, match=r"coords must be text \(--coords on the command line\), got 4.5"):
        crs.parse_coords(4.5)


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        ((120.0, 30.0, 120.2, 30.3), True),
        ((-180.0, -90.0, 180.0, 90.0), True),
        ((30.0, 120.0, 30.3, 120.2), False),  # swapped: y beyond 90
        ((500000.0, 3.3e6, 510000.0, 3.31e6), False),
        ((np.nan, np.nan, np.nan, np.nan), False),
        ((120.0, 30.0, 181.0, 30.3), False),
    ],
)
def test_is_geographic_bounds(bounds, expected):
    assert crs.is_geographic_bounds(bounds) is expected
