"""Coordinate systems: GCJ-02 / BD-09 / CGCS2000 ↔ WGS84, and the metric CRS the solvers work in.

Which numbers a bureau hands us
-------------------------------
* **WGS84** (EPSG:4326) — GPS, OpenStreetMap, most GIS exports.
* **CGCS2000** (EPSG:4490) — China's national datum, used by 自然资源 / 测绘 data.  It differs from WGS84 by a
  few centimetres, so it is converted through PROJ like any other EPSG code.
* **GCJ-02** (国测局坐标, "Mars coordinates") — what AMap (高德), Tencent (腾讯) and Google Maps inside China show.
  It is WGS84 plus a deliberate, smoothly varying offset of typically 300–700 m in eastern China.  The offset
  is the published closed formula: two trigonometric polynomials ``transform_lat`` / ``transform_lon`` of
  ``(lon - 105, lat - 35)`` giving metres, turned into degrees on the Krasovsky ellipsoid
  (a = 6378245.0 m, e² = 0.00669342162296594323).
* **BD-09** (百度坐标) — Baidu Maps: GCJ-02 again offset by a polar-coordinate formula
  (x_pi = π·3000/180, shifts 0.0065° east and 0.006° north, plus small periodic terms).  We support BD-09
  longitude/latitude, not Baidu's Mercator metres (BD-09MC).

Accuracy of each direction
--------------------------
* WGS84 → GCJ-02 and GCJ-02 → BD-09 are *exact by definition*: GCJ-02 and BD-09 are whatever these formulas
  give.  They reproduce the published control points of wandergis/coordtransform and googollee/eviltransform
  to 1e-9° (see ``tests/test_crs.py``).
* GCJ-02 → WGS84 and BD-09 → GCJ-02 have no closed form.  We start from the usual one-step approximation
  (alone it is off by up to 5.1 m, median 0.66 m, for GCJ-02 and up to 0.24 m for BD-09) and run the
  fixed-point iteration ``w ← w − (F(w) − g)`` on the forward formula ``F`` until the forward image ``F(w)``
  is within ``INVERSE_TOL_DEG`` = 1e-9° of the given point in both axes (≈ 0.1 mm; the project asks for
  1e-7° ≈ 1 cm), for at most ``INVERSE_MAX_ITER`` = 10 rounds.  The offset's Jacobian is ≲ 1e-2, so each
  round shrinks the error ~100×: GCJ-02 needs 3 rounds, BD-09 2.  Measured on 10⁶ seeded random points over
  the China box (``tests/test_crs.py`` repeats this on 10⁴): max |F(w) − g| = 1.0e-9° (median 3e-11°); round
  trips WGS84 → GCJ-02 → WGS84 max 0.16 mm and WGS84 → BD-09 → WGS84 max 0.26 mm (geodesic distance).
* Inside/outside China: the offsets are applied only where :func:`in_china` is true — the usual rough box
  lon 72.004…137.8347°E, lat 0.8293…55.8271°N.  It also covers Mongolia, the Korean peninsula, western
  Japan and parts of the neighbouring countries; points there labelled GCJ-02/BD-09 are treated as if they
  were in China (no Chinese web map serves them offset-free).  Outside the box all conversions return the
  input unchanged.  The inverse directions test the *given* (offset) point, so within ~0.01° (the size of
  the offset) of the box's edge a round trip may not return the start point; no Chinese city is that close.

Which metric CRS is chosen
--------------------------
:func:`choose_metric_crs` looks at the centre of the data's bounding box (in degrees):

* inside China (lon 73–136°E, lat 3–54°N): the CGCS2000 3-degree Gauss-Krüger zone whose central meridian is
  nearest the centre, EPSG:4534 (CM 75°E) … EPSG:4554 (CM 135°E), the "CM" variants with false easting
  500 000 m that Chinese surveying data use (e.g. Shenzhen → EPSG:4547 CM 114°E, Hangzhou → EPSG:4549 CM 120°E);
  a city is at most 1.5° of longitude from its central meridian, where the scale error stays below 3.5·10⁻⁴
  (0.35 m per km);
* elsewhere: the WGS84 UTM zone of the centre, EPSG:326zz north of the equator and EPSG:327zz south of it
  (the Norway/Svalbard exceptions are ignored).

:func:`to_metric` keeps data that are in a projected CRS already when that CRS measures distances well
where the data are: metre units and a scale error of at most ``MAX_SCALE_ERROR`` = 10⁻³ (1 m per km) in
every direction at the corners and centre of the data (``pyproj``'s projection factors).  Data in their
UTM zone (EPSG:32650 for Xiamen), a Gauss-Krüger zone or a local city grid are kept as they are — no
second projection, no coordinates moved; Web Mercator (EPSG:3857, scale 1.17 at 31°N) or a UTM zone far
from the data are projected to the zone chosen above.
"""

from __future__ import annotations

import difflib
import logging
import math
import re
import time
from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from ..errors import InputError, Issue

__all__ = [
    "CoordSystem",
    "CHINESE_SYSTEMS",
    "NAMED_SYSTEMS",
    "parse_coords",
    "label_crs",
    "in_china",
    "wgs84_to_gcj02",
    "gcj02_to_wgs84",
    "gcj02_to_bd09",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "wgs84_to_bd09",
    "to_wgs84",
    "choose_metric_crs",
    "to_metric",
    "scale_error",
    "MAX_SCALE_ERROR",
    "detect_swapped_lonlat",
    "is_geographic_bounds",
]

log = logging.getLogger(__name__)

#: A normalised ``--coords`` value: "wgs84", "cgcs2000", "gcj02", "bd09" or "EPSG:<code>".
CoordSystem = str

#: Systems whose data can only be Chinese (used by :func:`detect_swapped_lonlat`).
CHINESE_SYSTEMS = frozenset({"gcj02", "bd09", "cgcs2000"})

#: The ``--coords`` names other than ``EPSG:<code>``.
NAMED_SYSTEMS = ("wgs84", "cgcs2000", "gcj02", "bd09")
# GCJ-02 / BD-09 numbers are longitude/latitude degrees on (offset) WGS84, so they are labelled EPSG:4326.
_NAMED_EPSG = {"wgs84": 4326, "cgcs2000": 4490, "gcj02": 4326, "bd09": 4326}
_OFFSET_SYSTEMS = frozenset({"gcj02", "bd09"})
# Geographic CRSs on Chinese datums: CGCS2000, Beijing 1954, Xian 1980, New Beijing.
_CHINESE_GEOGRAPHIC_EPSG = frozenset({4490, 4214, 4610, 4555})
_EPSG_RE = re.compile(r"^epsg\s*:\s*(\d+)$")

# --- GCJ-02 constants (Krasovsky 1940 ellipsoid) ---
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
# --- BD-09 constants ---
_X_PI = math.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.006

#: The rough box inside which the GCJ-02 / BD-09 offsets are applied (degrees).
CHINA_OFFSET_LON = (72.004, 137.8347)
CHINA_OFFSET_LAT = (0.8293, 55.8271)

#: Stop the inverse iteration once the forward image is this close to the input (degrees, both axes).
INVERSE_TOL_DEG = 1e-9
INVERSE_MAX_ITER = 10

# --- metric CRS choice ---
_GK_REGION_LON = (73.0, 136.0)
_GK_REGION_LAT = (3.0, 54.0)
_GK_FIRST_EPSG = 4534  # CGCS2000 / 3-degree Gauss-Kruger CM 75E
_GK_FIRST_CM = 75
_GK_LAST_CM = 135  # EPSG:4554


# ---------------------------------------------------------------------------------------------------------
# --coords values


def parse_coords(text: str) -> CoordSystem:
    """Normalise the user's ``--coords`` value.

    Accepted (case-insensitive; spaces, "-" and "_" ignored in the names): ``wgs84``, ``cgcs2000``,
    ``gcj02`` (AMap 高德 / Tencent 腾讯), ``bd09`` (Baidu 百度), and ``EPSG:<code>`` for any EPSG code PROJ
    knows (``epsg:4490``, ``EPSG: 4547``; in Python also the code as a number, ``4547``).  Returns ``"wgs84"``, ``"cgcs2000"``, ``"gcj02"``, ``"bd09"`` or
    ``"EPSG:<code>"``.  Raises :class:`ValueError` naming the accepted values otherwise.
    """
    accepted = (
        "Accepted values: wgs84, cgcs2000, gcj02 (AMap 高德 / Tencent 腾讯), bd09 (Baidu 百度), "
        "or EPSG:<code> such as EPSG:4490 or EPSG:4547 (case-insensitive)."
    )
    if isinstance(text, int) and not isinstance(text, bool):  # Python: coords=4326, as pyproj takes it
        text = f"EPSG:{text}"
    if not isinstance(text, str):
        raise ValueError(f"coords must be text (--coords on the command line), got {text!r}. {accepted}")
    raw = text.strip()
    key = re.sub(r"[\s_\-]", "", raw.lower())
    if key in NAMED_SYSTEMS:
        return key
    match = _EPSG_RE.match(raw.lower())
    if match:
        code = int(match.group(1))
        try:
            pyproj.CRS.from_epsg(code)
        except pyproj.exceptions.CRSError as err:
            raise ValueError(f"--coords {text!r}: EPSG:{code} is not a known EPSG code. {accepted}") from err
        return f"EPSG:{code}"
    hint = difflib.get_close_matches(key, NAMED_SYSTEMS, n=1, cutoff=0.6)
    did_you_mean = f" Did you mean {hint[0]}?" if hint else ""
    raise ValueError(f"unknown coordinate system {text!r} for --coords. {accepted}{did_you_mean}")


def label_crs(system: CoordSystem) -> pyproj.CRS:
    """The pyproj CRS that numbers in a normalised ``--coords`` system carry: EPSG:4326 for wgs84 and for
    the offset systems gcj02 / bd09 (their numbers are WGS84-like degrees), EPSG:4490 for cgcs2000, the
    code itself for ``EPSG:<code>``."""
    if system in _NAMED_EPSG:
        return pyproj.CRS.from_epsg(_NAMED_EPSG[system])
    return pyproj.CRS.from_user_input(system)


def _crs_label(crs: pyproj.CRS) -> str:
    code = crs.to_epsg()
    return f"EPSG:{code}" if code is not None else crs.to_string()


# ---------------------------------------------------------------------------------------------------------
# point formulas (vectorised)


def _arrays(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    return np.broadcast_arrays(lon, lat)


def in_china(lon, lat) -> np.ndarray:
    """True where a point lies in the rough China box in which GCJ-02 / BD-09 offsets apply.

    The box is lon 72.004…137.8347°E, lat 0.8293…55.8271°N (the one the common GCJ-02 implementations use).
    It is deliberately rough: it also contains Mongolia, Korea and western Japan.  NaN gives False.
    """
    lon, lat = _arrays(lon, lat)
    with np.errstate(invalid="ignore"):
        return (
            (lon >= CHINA_OFFSET_LON[0])
            & (lon <= CHINA_OFFSET_LON[1])
            & (lat >= CHINA_OFFSET_LAT[0])
            & (lat <= CHINA_OFFSET_LAT[1])
        )


def _only_in_china(lon, lat, new_lon, new_lat) -> tuple[np.ndarray, np.ndarray]:
    """``(new_lon, new_lat)`` where ``(lon, lat)`` lies in the China box, ``(lon, lat)`` unchanged elsewhere."""
    inside = in_china(lon, lat)
    return np.where(inside, new_lon, lon), np.where(inside, new_lat, lat)


def _gcj_offset_m(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 polynomials of (x, y) = (lon - 105, lat - 35): the offset in pseudo-metres (dlon, dlat)."""
    root = np.sqrt(np.abs(x))
    # terms shared by both axes
    wave_x = (20.0 * np.sin(6.0 * np.pi * x) + 20.0 * np.sin(2.0 * np.pi * x)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * root
    dlat = dlat + wave_x
    dlat = dlat + (20.0 * np.sin(np.pi * y) + 40.0 * np.sin(np.pi * y / 3.0)) * 2.0 / 3.0
    dlat = dlat + (160.0 * np.sin(np.pi * y / 12.0) + 320.0 * np.sin(np.pi * y / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * root
    dlon = dlon + wave_x
    dlon = dlon + (20.0 * np.sin(np.pi * x) + 40.0 * np.sin(np.pi * x / 3.0)) * 2.0 / 3.0
    dlon = dlon + (150.0 * np.sin(np.pi * x / 12.0) + 300.0 * np.sin(np.pi * x / 30.0)) * 2.0 / 3.0
    return dlon, dlat


def _wgs_to_gcj_raw(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 formula without the China test."""
    dlon_m, dlat_m = _gcj_offset_m(lon - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * np.pi
    sin_lat = np.sin(rad_lat)
    magic = 1.0 - _GCJ_EE * sin_lat * sin_lat
    sqrt_magic = np.sqrt(magic)
    # metres → degrees on the Krasovsky ellipsoid: meridian radius M and prime-vertical radius N
    dlat = dlat_m * 180.0 / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * np.pi)
    dlon = dlon_m * 180.0 / (_GCJ_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return lon + dlon, lat + dlat


def _gcj_to_bd_raw(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The BD-09 formula without the China test."""
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def _bd_to_gcj_first_guess(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The usual one-step approximate inverse of the BD-09 formula (error up to ~1 m)."""
    x = lon - _BD_DLON
    y = lat - _BD_DLAT
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _invert(
    forward: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    lon: np.ndarray,
    lat: np.ndarray,
    start_lon: np.ndarray,
    start_lat: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Solve forward(w) = (lon, lat) by the fixed-point iteration w ← w − (forward(w) − target).

    Converges because forward is the identity plus an offset whose Jacobian is ≲ 1e-2.
    """
    w_lon, w_lat = start_lon.copy(), start_lat.copy()
    for _ in range(INVERSE_MAX_ITER):
        f_lon, f_lat = forward(w_lon, w_lat)
        e_lon, e_lat = f_lon - lon, f_lat - lat
        with np.errstate(invalid="ignore"):
            open_ = (np.abs(e_lon) > INVERSE_TOL_DEG) | (np.abs(e_lat) > INVERSE_TOL_DEG)
        if not open_.any():
            break
        w_lon = np.where(open_, w_lon - e_lon, w_lon)
        w_lat = np.where(open_, w_lat - e_lat, w_lat)
    else:  # pragma: no cover - not reached inside the China box (measured: ≤ 4 rounds)
        log.debug("inverse offset iteration stopped after %d rounds", INVERSE_MAX_ITER)
    return w_lon, w_lat


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat → GCJ-02 lon/lat (exact by definition); points outside China are returned unchanged.

    Takes scalars or arrays (broadcast together); returns float arrays of the broadcast shape
    (0-d for scalars).
    """
    lon, lat = _arrays(lon, lat)
    return _only_in_china(lon, lat, *_wgs_to_gcj_raw(lon, lat))


def gcj02_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 lon/lat → WGS84 lon/lat by iterating the forward formula to within 1e-9° (see module doc).

    Points outside China are returned unchanged.
    """
    lon, lat = _arrays(lon, lat)
    g_lon, g_lat = _wgs_to_gcj_raw(lon, lat)
    start_lon, start_lat = 2.0 * lon - g_lon, 2.0 * lat - g_lat  # the one-step approximation
    return _only_in_china(lon, lat, *_invert(_wgs_to_gcj_raw, lon, lat, start_lon, start_lat))


def gcj02_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 lon/lat → BD-09 lon/lat (exact by definition); points outside China are returned unchanged."""
    lon, lat = _arrays(lon, lat)
    return _only_in_china(lon, lat, *_gcj_to_bd_raw(lon, lat))


def bd09_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 lon/lat → GCJ-02 lon/lat: the usual closed-form approximation refined by iteration to 1e-9°.

    Points outside China are returned unchanged.
    """
    lon, lat = _arrays(lon, lat)
    start_lon, start_lat = _bd_to_gcj_first_guess(lon, lat)
    return _only_in_china(lon, lat, *_invert(_gcj_to_bd_raw, lon, lat, start_lon, start_lat))


def bd09_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 lon/lat → WGS84 lon/lat (BD-09 → GCJ-02 → WGS84)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def wgs84_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat → BD-09 lon/lat (WGS84 → GCJ-02 → BD-09)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


# ---------------------------------------------------------------------------------------------------------
# frames


def is_geographic_bounds(bounds) -> bool:
    """True when bounds ``(minx, miny, maxx, maxy)`` look like degrees: finite, x within ±180, y within ±90."""
    b = np.asarray(bounds, dtype=np.float64).ravel()
    if b.size != 4 or not np.all(np.isfinite(b)):
        return False
    minx, miny, maxx, maxy = b
    return bool(-180.0 <= minx <= maxx <= 180.0 and -90.0 <= miny <= maxy <= 90.0)


def _describe_bounds(bounds: np.ndarray) -> str:
    minx, miny, maxx, maxy = bounds
    return f"x {minx:.6g} … {maxx:.6g}, y {miny:.6g} … {maxy:.6g}"


def _has_coordinates(bounds: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(bounds)))


def _same_crs(a: pyproj.CRS, b: pyproj.CRS) -> bool:
    return a.equals(b, ignore_axis_order=True)


def _transform_vertices(
    gdf: gpd.GeoDataFrame, convert: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """Apply a vectorised lon/lat conversion to every vertex of every geometry (Z, if any, is kept)."""

    def _on_coords(xyz: np.ndarray) -> np.ndarray:
        out = xyz.copy()
        out[:, 0], out[:, 1] = convert(xyz[:, 0], xyz[:, 1])
        return out

    geoms = np.asarray(gdf.geometry.array, dtype=object)
    return shapely.transform(geoms, _on_coords, include_z=True)


#: The fix when coordinates that should be degrees are not.
_NOT_DEGREES_FIX = (
    "if the file is in a projected CRS (metres), pass its code as --coords EPSG:<code>; "
    "if longitude and latitude are swapped, swap the columns."
)


def _misfit(message: str, fix: str, column: str) -> InputError:
    """The error raised when the coordinates cannot be in the system ``--coords`` names."""
    return InputError([Issue(message=message, fix=fix, column=column)])


def to_wgs84(gdf: gpd.GeoDataFrame, coords: CoordSystem) -> gpd.GeoDataFrame:
    """A new frame in EPSG:4326 from one whose coordinates are in ``coords`` (a ``--coords`` value).

    * ``gcj02`` / ``bd09``: the geometry's numbers are GCJ-02 / BD-09 longitude/latitude whatever CRS label
      the file carries (web-map exports are often labelled CRS84); every vertex is converted, then the
      frame is labelled EPSG:4326.
    * ``wgs84`` / ``cgcs2000`` / ``EPSG:<code>``: a frame without CRS gets that CRS; a frame whose CRS differs
      from the one named is relabelled as the user says (logged as a warning); then it is projected to
      EPSG:4326 with PROJ.

    Raises :class:`InputError` when the coordinates cannot be in the named system (degrees expected but the
    numbers are outside ±180/±90, or metres expected but they look like degrees).
    """
    system = parse_coords(coords)
    geom_col = gdf.geometry.name
    bounds = np.asarray(gdf.total_bounds, dtype=np.float64)
    has_coords = _has_coordinates(bounds)

    if system in _OFFSET_SYSTEMS:
        name = {"gcj02": "GCJ-02", "bd09": "BD-09"}[system]
        if has_coords and not is_geographic_bounds(bounds):
            raise _misfit(
                f"--coords {system} says the coordinates are {name} longitude/latitude in degrees, "
                f"but they span {_describe_bounds(bounds)}, which are not degrees.",
                _NOT_DEGREES_FIX,
                geom_col,
            )
        if gdf.crs is not None and not (
            gdf.crs.is_geographic and any(_same_crs(gdf.crs, pyproj.CRS.from_epsg(c)) for c in (4326, 4490))
        ):
            log.info(
                "the file is labelled %s, but --coords %s says its numbers are %s lon/lat; ignoring the label",
                _crs_label(gdf.crs),
                system,
                name,
            )
        convert = gcj02_to_wgs84 if system == "gcj02" else bd09_to_wgs84
        geoms = _transform_vertices(gdf, convert)
        out = gdf.copy()
        out[geom_col] = gpd.GeoSeries(geoms, index=gdf.index)
        return out.set_geometry(geom_col).set_crs("EPSG:4326", allow_override=True)

    target = label_crs(system)
    if has_coords and target.is_geographic and not is_geographic_bounds(bounds):
        raise _misfit(
            f"--coords {system} ({_crs_label(target)}, degrees) does not fit the coordinates, "
            f"which span {_describe_bounds(bounds)}.",
            _NOT_DEGREES_FIX,
            geom_col,
        )
    if has_coords and not target.is_geographic and is_geographic_bounds(bounds):
        raise _misfit(
            f"--coords {system} ({target.name}) is in metres, but the coordinates look like "
            f"degrees ({_describe_bounds(bounds)}).",
            "pass --coords wgs84, cgcs2000, gcj02 or bd09 for longitude/latitude data.",
            geom_col,
        )
    if gdf.crs is None:
        labelled = gdf.set_crs(target)
    elif _same_crs(gdf.crs, target):
        labelled = gdf
    else:
        log.warning(
            "the file is labelled %s (%s) but --coords says %s (%s); using %s as told (the numbers are "
            "relabelled, not converted)",
            _crs_label(gdf.crs),
            gdf.crs.name,
            system,
            target.name,
            _crs_label(target),
        )
        labelled = gdf.set_crs(target, allow_override=True)
    return labelled.to_crs("EPSG:4326")


def _geographic_bounds(gdf_or_bounds) -> np.ndarray:
    """Bounds in degrees of a frame/series (any CRS) or of a ``(minx, miny, maxx, maxy)`` in degrees."""
    if isinstance(gdf_or_bounds, gpd.GeoDataFrame | gpd.GeoSeries):
        crs = gdf_or_bounds.crs
        bounds = np.asarray(gdf_or_bounds.total_bounds, dtype=np.float64)
        if not _has_coordinates(bounds):
            raise ValueError("cannot choose a metric CRS: the data have no coordinates")
        if crs is None:
            if not is_geographic_bounds(bounds):
                raise ValueError(
                    "cannot choose a metric CRS: the data have no CRS and their coordinates "
                    f"({_describe_bounds(bounds)}) are not degrees; convert with to_wgs84 first"
                )
            return bounds
        if crs.is_geographic:
            return bounds
        transformer = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        return np.asarray(transformer.transform_bounds(*bounds), dtype=np.float64)
    bounds = np.asarray(gdf_or_bounds, dtype=np.float64).ravel()
    if bounds.size == 2:  # a single (lon, lat)
        bounds = np.concatenate([bounds, bounds])
    if not is_geographic_bounds(bounds):
        raise ValueError(
            f"cannot choose a metric CRS from {gdf_or_bounds!r}: give a GeoDataFrame or "
            "(min_lon, min_lat, max_lon, max_lat) in degrees"
        )
    return bounds


def choose_metric_crs(gdf_or_bounds) -> pyproj.CRS:
    """The metric CRS for data centred where ``gdf_or_bounds`` is (see the module docstring).

    Takes a GeoDataFrame / GeoSeries in any CRS, or bounds ``(min_lon, min_lat, max_lon, max_lat)`` in
    degrees (a single ``(lon, lat)`` also works).
    """
    minx, miny, maxx, maxy = _geographic_bounds(gdf_or_bounds)
    lon, lat = (minx + maxx) / 2.0, (miny + maxy) / 2.0
    if _GK_REGION_LON[0] <= lon <= _GK_REGION_LON[1] and _GK_REGION_LAT[0] <= lat <= _GK_REGION_LAT[1]:
        cm = int(math.floor(lon / 3.0 + 0.5)) * 3
        cm = min(max(cm, _GK_FIRST_CM), _GK_LAST_CM)
        return pyproj.CRS.from_epsg(_GK_FIRST_EPSG + (cm - _GK_FIRST_CM) // 3)
    zone = int(math.floor((lon + 180.0) / 6.0)) + 1
    zone = min(max(zone, 1), 60)
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


#: The largest scale error (in any direction) for which a projected CRS is kept for distances: 1 m per km.
MAX_SCALE_ERROR = 1e-3


def scale_error(crs, bounds) -> float:
    """The largest relative scale error of projected ``crs`` at the corners and centre of ``bounds``
    (``minx, miny, maxx, maxy`` in that CRS): max |k − 1| over the meridional and parallel scales.

    0.0004 for UTM on its central meridian, 1.17 − 1 for Web Mercator at 31°N; ``inf`` when the CRS is
    not projected in metres or the factors cannot be computed there.
    """
    crs = pyproj.CRS.from_user_input(crs)
    if not crs.is_projected or not crs.axis_info or crs.axis_info[0].unit_name not in ("metre", "meter"):
        return math.inf
    minx, miny, maxx, maxy = np.asarray(bounds, dtype=np.float64)
    x = np.array([minx, minx, maxx, maxx, (minx + maxx) / 2])
    y = np.array([miny, maxy, miny, maxy, (miny + maxy) / 2])
    try:
        lon, lat = pyproj.Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True).transform(x, y)
        factors = pyproj.Proj(crs).get_factors(lon, lat)
    except (pyproj.exceptions.ProjError, pyproj.exceptions.CRSError):  # pragma: no cover - exotic CRS
        return math.inf
    scales = np.concatenate([np.atleast_1d(factors.meridional_scale), np.atleast_1d(factors.parallel_scale)])
    if not np.all(np.isfinite(scales)):
        return math.inf
    return float(np.max(np.abs(scales - 1.0)))


def to_metric(gdf: gpd.GeoDataFrame, crs=None) -> tuple[gpd.GeoDataFrame, pyproj.CRS]:
    """Project ``gdf`` to ``crs`` (anything pyproj accepts) or, when ``crs`` is None, to a metric CRS fit
    for distances: the frame's own when it is projected with a scale error of at most
    ``MAX_SCALE_ERROR`` over the data (see :func:`scale_error`; the frame is then only copied), else
    :func:`choose_metric_crs` of it.

    Returns the new frame and the CRS.  The frame must carry a CRS (use :func:`to_wgs84` first); a given
    ``crs`` must be projected with metre units.
    """
    if gdf.crs is None:
        raise ValueError("the frame has no CRS; convert it with zoning.io.crs.to_wgs84(gdf, coords) first")
    t0 = time.perf_counter()
    bounds = np.asarray(gdf.total_bounds, dtype=np.float64)
    if (
        crs is None
        and gdf.crs.is_projected
        and _has_coordinates(bounds)
        and (scale_error(gdf.crs, bounds) <= MAX_SCALE_ERROR)
    ):
        out = gdf.copy()
        log.info(
            "using metric CRS %s (%s): the data's own, kept (%d features not projected)",
            _crs_label(gdf.crs),
            gdf.crs.name,
            len(gdf),
        )
        return out, gdf.crs
    if crs is None:
        target = choose_metric_crs(gdf)
        how = ""
    else:
        target = pyproj.CRS.from_user_input(crs)
        if (
            target.is_geographic
            or not target.axis_info
            or target.axis_info[0].unit_name not in ("metre", "meter")
        ):
            raise ValueError(
                f"{_crs_label(target)} ({target.name}) is not a projected CRS in metres; "
                "pass one such as EPSG:4547, or None to choose one"
            )
        how = " as given"
    out = gdf.to_crs(target)
    log.info(
        "using metric CRS %s (%s)%s: %d features projected in %.2f s",
        _crs_label(target),
        target.name,
        how,
        len(gdf),
        time.perf_counter() - t0,
    )
    return out, target


# ---------------------------------------------------------------------------------------------------------
# swapped columns


def detect_swapped_lonlat(lon, lat, coords: CoordSystem) -> bool:
    """True when the longitude and latitude columns are clearly swapped.

    Clearly swapped means either
    * every latitude is beyond ±90 while every longitude is within ±90, or
    * ``coords`` is a Chinese system (gcj02, bd09, cgcs2000 or a Chinese geographic EPSG such as 4490),
      no point as given lies in the China box of :func:`in_china`, and every point with the columns
      exchanged does (this catches western China, lon 73–90°E, where rule one cannot).

    NaN pairs are ignored; projected EPSG systems and empty input give False.
    """
    system = parse_coords(coords)
    if system.startswith("EPSG:"):
        crs = pyproj.CRS.from_user_input(system)
        if not crs.is_geographic:
            return False
        chinese = crs.to_epsg() in _CHINESE_GEOGRAPHIC_EPSG
    else:
        chinese = system in CHINESE_SYSTEMS
    lon, lat = _arrays(lon, lat)
    lon, lat = lon.ravel(), lat.ravel()
    ok = np.isfinite(lon) & np.isfinite(lat)
    lon, lat = lon[ok], lat[ok]
    if lon.size == 0:
        return False
    if np.all(np.abs(lat) > 90.0) and np.all(np.abs(lon) <= 90.0):
        return True
    if chinese and not np.any(in_china(lon, lat)) and np.all(in_china(lat, lon)):
        return True
    return False
