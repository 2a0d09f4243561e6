"""zoning.validate: canonical frames from real data, one error per rule, all errors of a file at once."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Geod
from shapely.geometry import Point, Polygon, box

from conftest import DEMO, shared
from zoning.errors import InputError, Issue
from zoning.io.files import RawTable, read_table
from zoning.io.validate import (
    BLOCK_ALIASES,
    SCHOOL_ALIASES,
    check_blocks,
    check_pair,
    check_schools,
    normalise_header,
    parse_number,
)

SOPO_COLUMNS = {"students": "students_k4", "current_school": "current_school_plurality"}
GEOD = Geod(ellps="WGS84")


def write_csv(tmp_path: Path, text: str, name: str = "t.csv", encoding: str = "utf-8") -> RawTable:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return read_table(path)


def errors_of(info: pytest.ExceptionInfo[InputError]) -> list[Issue]:
    return [i for i in info.value.issues if i.severity == "error"]


def grid_blocks(
    tmp_path: Path, n: int = 3, size: float = 0.005, x0: float = 113.88, y0: float = 22.55
) -> Path:
    """n × n square blocks of `size` degrees (≈ 500 m) in Shenzhen, as GeoJSON."""
    cells = [
        box(x0 + i * size, y0 + j * size, x0 + (i + 1) * size, y0 + (j + 1) * size)
        for j in range(n)
        for i in range(n)
    ]
    frame = gpd.GeoDataFrame(
        {"编号": [f"B{k}" for k in range(len(cells))], "适龄儿童": [10] * len(cells)},
        geometry=cells,
        crs="EPSG:4326",
    )
    path = tmp_path / "blocks.geojson"
    frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    return path


# ------------------------------------------------------------------------------------------- real data


def test_south_portland_loads_cleanly():
    braw, sraw = read_table(DEMO / "blocks.geojson"), read_table(DEMO / "schools.geojson")
    blocks, bwarn = check_blocks(braw, columns=SOPO_COLUMNS)
    schools, swarn = check_schools(sraw)
    assert bwarn == [] and swarn == []
    assert len(blocks) == 317 and len(schools) == 5
    assert blocks["students"].sum() == pytest.approx(1012.02, abs=0.005)
    assert schools["capacity"].sum() == 1360
    assert list(blocks.columns) == [
        "block_id", "name", "students", "students_estimated", "current_school", "source_row", "geometry",
    ]  # fmt: skip
    assert list(schools.columns) == [
        "school_id",
        "name",
        "capacity",
        "quality",
        "stage",
        "enrolment",
        "district",
        "lead",
        "source_row",
        "geometry",
    ]
    assert schools["enrolment"].isna().all() and schools["district"].isna().all()
    assert schools["lead"].dtype == bool and not schools["lead"].any()
    for frame in (blocks, schools):
        assert frame.crs.to_epsg() == 4326
        assert isinstance(frame.index, pd.RangeIndex)
    assert blocks["source_row"].tolist() == list(range(1, 318))
    assert blocks["block_id"].str.len().eq(15).all()  # census GEOIDs as text, not floats
    assert (blocks["name"] == blocks["block_id"]).all()
    assert not blocks["students_estimated"].any()
    assert blocks["current_school"].isna().sum() == 1
    assert set(blocks["current_school"].dropna()) == set(schools["school_id"])
    assert set(blocks.geom_type) <= {"Polygon", "MultiPolygon"}
    assert schools["quality"].isna().all() and schools["stage"].isna().all()
    assert blocks.attrs["source_columns"]["students"] == "students_k4"
    assert check_pair(blocks, schools, blocks_file=braw.file, schools_file=sraw.file) == []


def _baoan_rows() -> pd.DataFrame:
    table = pd.read_csv(shared("shenzhen_baoan_2024", "schools.csv"), dtype=str)
    return table[(table["xuequ_no"] == "2") & table["lon_gcj02"].notna()].reset_index(drop=True)


def test_baoan_gbk_csv_with_chinese_headers_and_gcj02(tmp_path, caplog):
    table = _baoan_rows()
    assert len(table) == 41
    path = tmp_path / "学校.csv"
    with path.open("w", encoding="gbk", newline="") as f:
        out = csv.writer(f)
        out.writerow(["学校名称", "学段", "招生班数", "经度", "纬度"])
        for r in table.itertuples():
            out.writerow([r.school_name, r.stage_zh, r.grade1_classes_2024, r.lon_gcj02, r.lat_gcj02])
    raw = read_table(path)
    assert raw.encoding == "gb18030"
    schools, warnings = check_schools(raw, coords="gcj02")

    classes = table["grade1_classes_2024"].astype(int).to_numpy()
    size = np.where(table["stage_zh"] == "小学", 45, 50)
    assert schools["capacity"].tolist() == (classes * size).tolist()
    assert schools["stage"].tolist() == table["stage"].tolist()
    assert schools["school_id"].tolist() == table["school_name"].tolist()  # no id column: names are the ids
    assert len(warnings) == 1 and "招生班数" in warnings[0].message and "× 45" in warnings[0].message

    gcj_lon, gcj_lat = table["lon_gcj02"].astype(float), table["lat_gcj02"].astype(float)
    _, _, moved_m = GEOD.inv(gcj_lon, gcj_lat, schools.geometry.x, schools.geometry.y)
    # the GCJ-02 offset in Bao'an is 603–611 m; a file left in GCJ-02 would move 0 m
    assert ((moved_m > 300) & (moved_m < 700)).all(), moved_m
    # in Shenzhen WGS84 lies west and north of the GCJ-02 numbers
    assert (schools.geometry.x < gcj_lon).all() and (schools.geometry.y > gcj_lat).all()


def _hangzhou_csv(tmp_path: Path, *, swapped: bool) -> RawTable:
    campuses = pd.read_csv(shared("hangzhou_gongshu_edu_groups", "campuses.csv"), dtype=str)
    lon_col, lat_col = ("lat_gcj02", "lon_gcj02") if swapped else ("lon_gcj02", "lat_gcj02")
    lines = ["校区编号,校区名称,学位数,经度,纬度"]
    lines += [
        f"{r.campus_id},{r.campus_name},100,{getattr(r, lon_col)},{getattr(r, lat_col)}"  # 100 seats: a fixture
        for r in campuses.itertuples()
    ]
    return write_csv(tmp_path, "\n".join(lines) + "\n", name="campuses.csv")


def test_hangzhou_swapped_lonlat_is_detected_and_swapped_back(tmp_path):
    raw = _hangzhou_csv(tmp_path, swapped=True)
    schools, warnings = check_schools(
        raw, columns={"school_id": "校区编号", "name": "校区名称"}, coords="gcj02"
    )
    assert len(schools) == 46
    assert len(warnings) == 1
    assert '"经度" and "纬度" are swapped' in warnings[0].message
    assert warnings[0].fix
    assert schools.geometry.x.between(120.0, 120.3).all()
    assert schools.geometry.y.between(30.2, 30.45).all()

    straight, none = check_schools(
        _hangzhou_csv(tmp_path, swapped=False),
        columns={"school_id": "校区编号", "name": "校区名称"},
        coords="gcj02",
    )
    assert none == []
    assert np.allclose(straight.geometry.x, schools.geometry.x) and np.allclose(
        straight.geometry.y, schools.geometry.y
    )


def test_swapped_columns_that_stay_invalid_are_errors(tmp_path):
    raw = write_csv(tmp_path, "学校名称,学位数,经度,纬度\n甲,100,22.5,113.9\n乙,100,22.6,213.9\n")
    # the bad number is in the file's column "纬度", which holds the longitudes
    with pytest.raises(InputError, match=r'row 3, column "纬度": longitude 213\.9 is outside') as info:
        check_schools(raw, coords="gcj02")
    assert "swapped back" in str(info.value)


# ------------------------------------------------------------------------------------------ headers


def test_header_normalisation():
    assert normalise_header("Ｓｔｕｄｅｎｔｓ") == "students"
    assert normalise_header(" School_ID ") == normalise_header("school id") == "schoolid"
    assert normalise_header("学位数（个）") == normalise_header("学位数")
    assert normalise_header("\ufeff编号") == "编号"


def test_alias_tables_do_not_overlap():
    for table in (BLOCK_ALIASES, SCHOOL_ALIASES):
        seen: dict[str, str] = {}
        for canon, names in table.items():
            for name in names:
                assert seen.setdefault(normalise_header(name), canon) == canon, name


def test_english_and_fullwidth_headers(tmp_path):
    raw = write_csv(
        tmp_path, "School ID,ＮＡＭＥ,Seats（个）,Longitude,Latitude\n1,实验小学,540,113.9,22.55\n"
    )
    schools, _ = check_schools(raw)
    assert schools["school_id"].tolist() == ["1"] and schools["capacity"].tolist() == [540.0]


def test_several_candidate_columns_warn(tmp_path):
    raw = write_csv(tmp_path, "编号,适龄儿童,学生数,经度,纬度\nA,10,12,113.9,22.55\n")
    blocks, warnings = check_blocks(raw)
    assert blocks["students"].tolist() == [10.0]
    assert len(warnings) == 1 and '"适龄儿童", "学生数"' in warnings[0].message


def test_header_naming_another_coordinate_system_warns(tmp_path):
    raw = write_csv(tmp_path, "学校名称,学位数,lon_gcj02,lat_gcj02\n甲,100,113.9,22.55\n")
    schools, warnings = check_schools(raw)
    assert len(warnings) == 1 and 'header "lon_gcj02" says gcj02' in warnings[0].message
    assert "--coords gcj02" in warnings[0].fix
    moved, none = check_schools(raw, coords="gcj02")
    assert none == [] and moved.geometry.x.iloc[0] < schools.geometry.x.iloc[0]


def test_numbers_accept_separators_and_fullwidth():
    assert parse_number("1,200") == 1200
    assert parse_number("１２０") == 120
    assert parse_number("１，２００") == 1200
    assert parse_number(" 7.5 ") == 7.5
    assert parse_number("") is None and parse_number(float("nan")) is None
    for bad in ("约120", "120人", "nan", "inf", "1,20", True):
        with pytest.raises(ValueError):
            parse_number(bad)


# ------------------------------------------------------------------------------------- errors by rule


def test_not_a_number(tmp_path):
    raw = write_csv(
        tmp_path, '编号,学龄人口,经度,纬度\nA,12,113.9,22.55\nB,"1,200",113.9,22.56\nC,约120,113.9,22.57\n'
    )
    with pytest.raises(
        InputError, match='row 4, column "学龄人口": "约120" is not a number. Fix: enter a whole number'
    ):
        check_blocks(raw)


def test_negative_children(tmp_path):
    raw = write_csv(tmp_path, "编号,适龄儿童,经度,纬度\nA,12,113.9,22.55\nB,-3,113.9,22.56\n")
    with pytest.raises(InputError, match='row 3, column "适龄儿童": -3 children is negative'):
        check_blocks(raw)


def test_empty_children_cell(tmp_path):
    raw = write_csv(tmp_path, "编号,适龄儿童,经度,纬度\nA,,113.9,22.55\n")
    with pytest.raises(InputError, match='row 2, column "适龄儿童": is empty'):
        check_blocks(raw)


def test_capacity_must_be_positive(tmp_path):
    raw = write_csv(
        tmp_path, "学校名称,学位数,经度,纬度\n甲,540,113.9,22.55\n乙,450,113.9,22.56\n丙,0,113.9,22.57\n"
    )
    with pytest.raises(InputError, match='row 4, column "学位数": capacity 0 seats'):
        check_schools(raw)


def test_duplicate_ids_name_both_rows(tmp_path):
    raw = write_csv(
        tmp_path,
        "学校代码,学校名称,学位数,经度,纬度\nS1,甲,540,113.9,22.55\nS2,乙,450,113.9,22.56\nS1,丙,400,113.9,22.57\n",
    )
    with pytest.raises(InputError, match=r'row 4, column "学校代码": "S1" appears twice \(first in row 2\)'):
        check_schools(raw)


def test_duplicate_names_used_as_ids(tmp_path):
    raw = write_csv(
        tmp_path, "学校名称,学位数,经度,纬度\n实验小学,540,113.9,22.55\n实验小学,450,113.9,22.56\n"
    )
    with pytest.raises(InputError, match='row 3, column "学校名称": "实验小学" appears twice') as info:
        check_schools(raw)
    assert "--school-id-col" in errors_of(info)[0].fix


def test_missing_lonlat_cell(tmp_path):
    raw = write_csv(tmp_path, "编号,适龄儿童,经度,纬度\nA,1,113.9,22.55\nB,2,,22.56\n")
    with pytest.raises(InputError, match='row 3, column "经度": is empty'):
        check_blocks(raw)


def test_latitude_out_of_range(tmp_path):
    raw = write_csv(tmp_path, "编号,适龄儿童,lng,lat\nA,1,113.9,22.55\nB,2,113.9,122.56\n")
    with pytest.raises(InputError, match=r'row 3, column "lat": latitude 122\.56 is outside -90…90'):
        check_blocks(raw)


def test_missing_geometry(tmp_path):
    path = tmp_path / "blocks.geojson"
    path.write_text(
        '{"type":"FeatureCollection","features":['
        '{"type":"Feature","properties":{"id":"A","students":1},'
        '"geometry":{"type":"Polygon","coordinates":[[[113.9,22.5],[113.91,22.5],[113.91,22.51],[113.9,22.5]]]}},'
        '{"type":"Feature","properties":{"id":"B","students":2},"geometry":null}]}',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="blocks.geojson, row 2: block has no geometry"):
        check_blocks(read_table(path))


def _polygons(tmp_path: Path, shapes: list[Polygon]) -> RawTable:
    frame = gpd.GeoDataFrame(
        {"id": [f"B{k}" for k in range(len(shapes))], "students": 1}, geometry=shapes, crs=4326
    )
    frame.to_file(tmp_path / "p.gpkg", driver="GPKG", engine="pyogrio")
    return read_table(tmp_path / "p.gpkg")


def test_invalid_polygon_is_repaired_with_a_warning(tmp_path):
    square = box(113.90, 22.50, 113.91, 22.51)
    bowtie = Polygon([(113.92, 22.50), (113.93, 22.51), (113.93, 22.50), (113.92, 22.51)])
    assert not bowtie.is_valid
    blocks, warnings = check_blocks(_polygons(tmp_path, [square, bowtie]))
    assert blocks.geometry.is_valid.all()
    assert blocks.geometry.iloc[1].area > 0 and blocks.geometry.iloc[1].geom_type in (
        "Polygon",
        "MultiPolygon",
    )
    assert len(warnings) == 1 and "rows 2" in warnings[0].message and "make_valid" in warnings[0].message


def test_polygon_without_area_is_refused(tmp_path):
    square = box(113.90, 22.50, 113.91, 22.51)
    flat = Polygon([(113.92, 22.50), (113.93, 22.50), (113.94, 22.50), (113.92, 22.50)])
    with pytest.raises(InputError, match="row 2: the polygon is invalid .* no area once repaired"):
        check_blocks(_polygons(tmp_path, [square, flat]))


def test_mixed_polygons_and_points_are_refused(tmp_path):
    shapes = [box(113.90, 22.50, 113.91, 22.51), box(113.91, 22.50, 113.92, 22.51), Point(113.93, 22.505)]
    with pytest.raises(InputError, match="row 3: this block is a point while the other blocks are polygons"):
        check_blocks(_polygons(tmp_path, shapes))


def test_missing_required_column_names_headers_nearest_and_fix(tmp_path):
    raw = write_csv(tmp_path, "小区编号,小区名称,学龄儿童数,经度,纬度\nA,甲,10,113.9,22.55\n")
    with pytest.raises(InputError) as info:
        check_blocks(raw)
    (issue,) = errors_of(info)
    assert issue.file == raw.file and issue.row is None
    assert '"小区编号", "小区名称", "学龄儿童数"' in issue.message
    assert 'The nearest header is "学龄儿童数"' in issue.message
    assert issue.fix == 'name the column with --students-col "学龄儿童数".'


def test_named_column_that_does_not_exist_suggests_nearest(tmp_path):
    raw = read_table(DEMO / "blocks.geojson")
    with pytest.raises(InputError, match='has no column "student_k4"') as info:
        check_blocks(raw, columns={"students": "student_k4"})
    (issue,) = errors_of(info)
    assert 'nearest header is "students_k4"' in issue.message
    assert issue.fix == 'use --students-col "students_k4".'


def test_unknown_column_role(tmp_path):
    raw = read_table(DEMO / "schools.geojson")
    with pytest.raises(InputError, match='"pupils" is not a school column'):
        check_schools(raw, columns={"pupils": "capacity"})


def test_every_problem_of_a_file_at_once(tmp_path):
    raw = write_csv(
        tmp_path,
        "学校代码,学校名称,学位数,经度,纬度\n"
        "S1,甲,540,113.9,22.55\n"  # row 2: fine
        "S2,乙,约400,113.9,22.56\n"  # row 3: not a number
        "S3,丙,-5,113.9,22.57\n"  # row 4: capacity ≤ 0
        "S1,丁,300,113.9,22.58\n"  # row 5: duplicate id
        "S5,戊,300,,22.59\n",  # row 6: no longitude
    )
    with pytest.raises(InputError) as info:
        check_schools(raw)
    where = sorted((i.row, i.column) for i in errors_of(info))
    assert where == [(3, "学位数"), (4, "学位数"), (5, "学校代码"), (6, "经度")]
    assert "4 problems found in" in str(info.value)


def test_bad_coords_value(tmp_path):
    raw = write_csv(tmp_path, "编号,适龄儿童,经度,纬度\nA,1,113.9,22.55\n")
    with pytest.raises(InputError, match="unknown coordinate system 'gcj-2'"):
        check_blocks(raw, coords="gcj-2")


def test_degrees_declared_as_metres_are_an_error_with_the_file(tmp_path):
    raw = write_csv(tmp_path, "编号,适龄儿童,x,y\nA,1,113.9,22.55\n")
    with pytest.raises(InputError, match="t.csv: --coords EPSG:4547 .* look like degrees"):
        check_blocks(raw, coords="EPSG:4547")


# ------------------------------------------------------------------------------- estimated / computed


def test_children_estimated_from_population(tmp_path):
    raw = write_csv(tmp_path, "编号,常住人口,经度,纬度\nA,2000,113.9,22.55\nB,1500,113.9,22.56\n")
    with pytest.raises(InputError, match="--per-1000-rate") as info:
        check_blocks(raw)
    assert '"常住人口"' in errors_of(info)[0].fix
    blocks, warnings = check_blocks(raw, per_1000_rate=80)
    assert blocks["students"].tolist() == [160.0, 120.0]
    assert blocks["students_estimated"].all()
    assert len(warnings) == 1 and "× 80 / 1,000" in warnings[0].message
    with pytest.raises(InputError, match="per_1000_rate = 0 is not a number above 0"):
        check_blocks(raw, per_1000_rate=0)


def test_capacity_from_classes_needs_a_class_size(tmp_path):
    raw = write_csv(
        tmp_path, "学校名称,班数,学段,经度,纬度\n甲,4,九年一贯制,113.9,22.55\n乙,6,小学,113.9,22.56\n"
    )
    with pytest.raises(InputError, match='row 2, column "班数": capacity = classes × class size') as info:
        check_schools(raw)
    assert len(errors_of(info)) == 1 and "--class-size" in errors_of(info)[0].fix
    schools, warnings = check_schools(raw, class_size=40)
    assert schools["capacity"].tolist() == [160.0, 240.0]
    assert schools["stage"].tolist() == ["nine_year", "primary"]  # 九年一贯制, read as a stage of its own
    assert "× 40 for 2 schools" in warnings[0].message


def test_capacity_cells_filled_from_classes(tmp_path):
    raw = write_csv(
        tmp_path,
        "学校名称,学位数,招生班数,学段,经度,纬度\n甲,500,4,小学,113.9,22.55\n乙,,6,初中,113.9,22.56\n",
    )
    schools, warnings = check_schools(raw)
    assert schools["capacity"].tolist() == [500.0, 300.0]
    assert "× 50 (junior_middle) for 1 school" in warnings[0].message


def test_no_capacity_at_all(tmp_path):
    raw = write_csv(tmp_path, "学校名称,经度,纬度\n甲,113.9,22.55\n")
    with pytest.raises(InputError, match="has no capacity") as info:
        check_schools(raw)
    assert "--capacity-col" in errors_of(info)[0].fix and "--classes-col" in errors_of(info)[0].fix


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["优质", "一般", "薄弱", ""], [3.0, 2.0, 1.0, np.nan]),
        (["重点", "否", "是", "非重点"], [1.0, 0.0, 1.0, 0.0]),
        (["85", "72.5", "90", "60"], [85.0, 72.5, 90.0, 60.0]),
    ],
)
def test_quality_tiers_flags_and_scores(tmp_path, values, expected):
    lines = ["学校名称,学位数,办学质量,经度,纬度"] + [
        f"S{k},100,{v},113.9,22.5{k}" for k, v in enumerate(values)
    ]
    schools, _ = check_schools(write_csv(tmp_path, "\n".join(lines) + "\n"))
    np.testing.assert_array_equal(schools["quality"].to_numpy(), np.array(expected))


@pytest.mark.parametrize(
    ("values", "expected", "said"),
    [
        # a 重点 list: only the key schools marked
        (["是", "", "是", ""], [1.0, 0.0, 1.0, 0.0], 'read as "no"'),
        (["1", "", "0", ""], [1.0, 0.0, 0.0, 0.0], 'read as "no"'),
        (["优质", "", "薄弱", "一般"], [3.0, np.nan, 1.0, 2.0], "left out of the quality balance"),
        (["85", "", "", "60"], [85.0, np.nan, np.nan, 60.0], "left out of the quality balance"),
    ],
)
def test_blank_quality_cells_are_named_and_read_one_stated_way(tmp_path, values, expected, said):
    # issue 19: blank 重点 cells were read as "no data", and every district then showed quality 1, spread 0
    lines = ["学校名称,学位数,重点,经度,纬度"] + [f"S{k},100,{v},113.9,22.5{k}" for k, v in enumerate(values)]
    schools, warnings = check_schools(write_csv(tmp_path, "\n".join(lines) + "\n"))
    np.testing.assert_array_equal(schools["quality"].to_numpy(), np.array(expected))
    blanks = [k + 2 for k, v in enumerate(values) if v == ""]  # spreadsheet rows (header = row 1)
    (warning,) = [w for w in warnings if "blank cell" in w.message]
    assert said in warning.message and warning.column == "重点"
    assert f"rows {', '.join(map(str, blanks))})" in warning.message


def test_blank_seats_in_a_district_file_are_named_not_dropped_silently(tmp_path):
    # a tester's file: 2 of 100 seat cells blank switched seats off with no word, and the district table
    # summed the seats it had
    lines = ["学校名称,学位数,经度,纬度"] + [
        f"S{k},{'' if k in (1, 3) else 500},113.9,22.5{k}" for k in range(5)
    ]
    raw = write_csv(tmp_path, "\n".join(lines) + "\n")
    schools, warnings = check_schools(raw, require_capacity=False)
    assert np.isnan(schools["capacity"].to_numpy()[[1, 3]]).all()
    (warning,) = [w for w in warnings if "no seats" in w.message]
    assert (
        "(rows 3, 5)" in warning.message
        and "neither balanced nor checked against the children" in warning.message
        and warning.column == "学位数"
    )
    # every seat blank: nothing to name (a file of locations and quality)
    lines = ["学校名称,学位数,经度,纬度"] + [f"S{k},,113.9,22.5{k}" for k in range(3)]
    _, warnings = check_schools(write_csv(tmp_path, "\n".join(lines) + "\n"), require_capacity=False)
    assert not any("no seats" in w.message for w in warnings)


def test_a_quality_column_without_blanks_gives_no_blank_warning(tmp_path):
    schools, warnings = check_schools(
        write_csv(tmp_path, "学校名称,学位数,重点,经度,纬度\n甲,100,是,113.9,22.55\n乙,100,否,113.9,22.56\n")
    )
    assert schools["quality"].tolist() == [1.0, 0.0] and not any("blank" in w.message for w in warnings)


def test_unknown_quality_word(tmp_path):
    raw = write_csv(
        tmp_path, "学校名称,学位数,等级,经度,纬度\n甲,100,优质,113.9,22.55\n乙,100,很好,113.9,22.56\n"
    )
    with pytest.raises(InputError, match='row 3, column "等级": "很好" is not a quality'):
        check_schools(raw)


# ------------------------------------------------------------------------- school districts (学区)


def _schools_csv(tmp_path: Path, header: str, rows: list[str]) -> RawTable:
    """A schools CSV: 学校名称, 学位数, the given extra header(s), 经度, 纬度; one row per value."""
    lines = [f"学校名称,学位数,{header},经度,纬度"]
    lines += [f"S{k},100,{v},113.9,22.5{k}" for k, v in enumerate(rows)]
    return write_csv(tmp_path, "\n".join(lines) + "\n")


def test_enrolment_from_chinese_header_blank_is_nan(tmp_path):
    raw = _schools_csv(tmp_path, "在校生数", ["1200", "", "１，０５０"])
    schools, warnings = check_schools(raw)
    assert warnings == []
    np.testing.assert_array_equal(schools["enrolment"].to_numpy(), [1200.0, np.nan, 1050.0])
    assert schools.attrs["source_columns"]["enrolment"] == "在校生数"
    # "students" is an enrolment header of schools only: blocks still read it as children
    blocks, _ = check_blocks(write_csv(tmp_path, "编号,students,经度,纬度\nA,7,113.9,22.5\n", name="b.csv"))
    assert blocks["students"].tolist() == [7.0]


def test_enrolment_text_and_negative_are_errors(tmp_path):
    raw = _schools_csv(tmp_path, "在校生数", ["1200", "约900", "-5"])
    with pytest.raises(InputError, match='row 3, column "在校生数": "约900" is not a number') as info:
        check_schools(raw)
    assert [(i.row, i.column) for i in errors_of(info)] == [(3, "在校生数"), (4, "在校生数")]
    assert "-5 children enrolled is negative" in errors_of(info)[1].message
    assert all("Fix: enter the number of children enrolled" in str(i) for i in errors_of(info))


def test_district_from_xuequ_kept_as_text(tmp_path):
    raw = _schools_csv(tmp_path, "学区", ["2", "2.0", "第二学区", "", "02"])
    schools, _ = check_schools(raw)
    assert schools["district"].tolist() == ["2", "2", "第二学区", None, "02"]
    frame = gpd.GeoDataFrame(
        {"name": ["甲", "乙"], "capacity": [100, 100], "group_id": [3.0, np.nan]},
        geometry=[Point(113.9, 22.5), Point(113.9, 22.51)],
        crs=4326,
    )
    frame.to_file(tmp_path / "s.geojson", driver="GeoJSON", engine="pyogrio")
    schools, _ = check_schools(read_table(tmp_path / "s.geojson"))
    assert schools["district"].tolist() == ["3", None]


def test_lead_from_xuequzhang_column(tmp_path):
    raw = _schools_csv(tmp_path, "学区长学校", ["是", "否", "", "Yes", "1", "0", "总校", "n"])
    schools, _ = check_schools(raw)
    assert schools["lead"].dtype == bool
    assert schools["lead"].tolist() == [True, False, False, True, True, False, True, False]


def test_bad_lead_value_is_an_error(tmp_path):
    raw = _schools_csv(tmp_path, "学区长学校", ["是", "也许", "2"])
    with pytest.raises(InputError, match='row 3, column "学区长学校": "也许" is not a yes/no') as info:
        check_schools(raw)
    assert [i.row for i in errors_of(info)] == [3, 4]
    assert errors_of(info)[0].fix.startswith("enter 是/否 (yes/no)")


def test_district_columns_named_by_the_caller(tmp_path):
    raw = _schools_csv(tmp_path, "片区,人数,带头", ["A,10,是", "B,20,否"])
    schools, _ = check_schools(raw, columns={"district": "片区", "enrolment": "人数", "lead": "带头"})
    assert schools["district"].tolist() == ["A", "B"]
    assert schools["enrolment"].tolist() == [10.0, 20.0]
    assert schools["lead"].tolist() == [True, False]


def test_capacity_not_required(tmp_path):
    raw = write_csv(tmp_path, "学校名称,学区,经度,纬度\n甲,1,113.9,22.55\n乙,1,113.9,22.56\n")
    with pytest.raises(InputError, match="has no capacity"):
        check_schools(raw)
    schools, warnings = check_schools(raw, require_capacity=False)
    assert warnings == [] and len(schools) == 2
    assert schools["capacity"].isna().all() and schools["district"].tolist() == ["1", "1"]
    # empty capacity cells are NaN too, but wrong ones are still errors
    raw = write_csv(tmp_path, "学校名称,学位数,经度,纬度\n甲,,113.9,22.55\n乙,500,113.9,22.56\n")
    with pytest.raises(InputError, match='row 2, column "学位数": is empty'):
        check_schools(raw)
    schools, _ = check_schools(raw, require_capacity=False)
    np.testing.assert_array_equal(schools["capacity"].to_numpy(), [np.nan, 500.0])
    raw = write_csv(tmp_path, "学校名称,学位数,经度,纬度\n甲,约500,113.9,22.55\n")
    with pytest.raises(InputError, match='row 2, column "学位数": "约500" is not a number'):
        check_schools(raw, require_capacity=False)


def test_keep_copies_columns_unchanged(tmp_path):
    raw = _schools_csv(tmp_path, "特色,urban_rural", ["科技,城区", ",乡村"])
    schools, _ = check_schools(raw, keep=["特色", "urban_rural"])
    assert list(schools.columns[-4:]) == ["特色", "urban_rural", "source_row", "geometry"]
    assert schools["特色"].iloc[0] == "科技" and pd.isna(schools["特色"].iloc[1])
    assert schools["urban_rural"].tolist() == ["城区", "乡村"]
    assert schools.attrs["source_columns"]["特色"] == "特色"
    plain, _ = check_schools(raw)
    assert "特色" not in plain.columns


def test_keep_missing_header_suggests_the_nearest(tmp_path):
    raw = _schools_csv(tmp_path, "特色", ["科技", "艺术"])
    with pytest.raises(InputError, match='has no column "特殊" to keep') as info:
        check_schools(raw, keep=["特殊"])
    (issue,) = errors_of(info)
    assert issue.file == raw.file and issue.row is None
    assert 'The nearest header is "特色"' in issue.message and '"特色"' in issue.fix


def test_keep_never_overwrites_a_canonical_column(tmp_path):
    # "name" is not the name column here (学校名称 is): keeping it would overwrite the schools' names
    raw = _schools_csv(tmp_path, "name,source_row", ["x,1", "y,2"])
    with pytest.raises(InputError, match='column "name": cannot keep this column') as info:
        check_schools(raw, columns={"name": "学校名称"}, keep=["name", "source_row"])
    assert [i.column for i in errors_of(info)] == ["name", "source_row"]
    assert 'read from "学校名称"' in errors_of(info)[0].message
    assert "rename the column" in errors_of(info)[0].fix
    # the file's own capacity column is in the frame already: nothing to copy, no error
    raw = write_csv(tmp_path, "学校名称,capacity,经度,纬度\n甲,100,113.9,22.55\n", name="c.csv")
    schools, _ = check_schools(raw, keep=["capacity"])
    assert list(schools.columns).count("capacity") == 1 and schools["capacity"].tolist() == [100.0]


def test_load_inputs_passes_school_keep(tmp_path):
    from zoning.io.inputs import load_inputs, read_schools

    blocks = grid_blocks(tmp_path)
    path = tmp_path / "s.csv"
    path.write_text("学校名称,学位数,特色,经度,纬度\n甲,500,科技,113.885,22.555\n", encoding="utf-8")
    inputs = load_inputs(blocks, path, school_keep=["特色"])
    assert inputs.schools["特色"].tolist() == ["科技"]
    path.write_text("学校名称,特色,经度,纬度\n甲,科技,113.885,22.555\n", encoding="utf-8")
    assert read_schools(path, require_capacity=False, keep=["特色"])["capacity"].isna().all()
    with pytest.raises(InputError, match="has no capacity"):
        load_inputs(blocks, path)


def test_school_outline_becomes_a_point_with_a_warning(tmp_path):
    campus = box(113.90, 22.50, 113.901, 22.501)
    frame = gpd.GeoDataFrame({"name": ["实验小学"], "capacity": [540]}, geometry=[campus], crs=4326)
    frame.to_file(tmp_path / "s.geojson", driver="GeoJSON", engine="pyogrio")
    schools, warnings = check_schools(read_table(tmp_path / "s.geojson"))
    assert schools.geom_type.tolist() == ["Point"] and campus.contains(schools.geometry.iloc[0])
    assert "rows 1" in warnings[0].message


def test_projected_file_is_converted_with_its_own_crs(tmp_path):
    frame = gpd.GeoDataFrame(
        {"name": ["实验小学"], "capacity": [540]}, geometry=[Point(113.9, 22.55)], crs=4326
    )
    frame.to_crs(4547).to_file(tmp_path / "s.gpkg", driver="GPKG", engine="pyogrio")
    schools, _ = check_schools(read_table(tmp_path / "s.gpkg"))
    assert schools.geometry.iloc[0].distance(Point(113.9, 22.55)) < 1e-7


# ---------------------------------------------------------------------------------------------- pairs


def _pair(tmp_path: Path, schools_csv: str, current: list[str | None] | None = None):
    braw = read_table(grid_blocks(tmp_path))
    blocks, _ = check_blocks(braw)
    if current is not None:
        blocks = blocks.assign(current_school=pd.Series(current, dtype=object))
    sraw = write_csv(tmp_path, schools_csv, name="schools.csv")
    schools, _ = check_schools(sraw)
    return blocks, schools, braw.file, sraw.file


def test_pair_current_school_must_name_a_school(tmp_path):
    current = ["S1", "育才小学", None, "实验小学", "S1", "S1", "S1", "S1", "实验小学 "]
    blocks, schools, bfile, sfile = _pair(
        tmp_path,
        "学校代码,学校名称,学位数,经度,纬度\nS1,实验小学,500,113.885,22.555\nS2,育才小学,500,113.895,22.565\n",
        current,
    )
    with pytest.raises(InputError) as info:
        check_pair(blocks, schools, blocks_file=bfile, schools_file=sfile)
    (issue,) = errors_of(info)
    assert issue.file == bfile and issue.row == 9 and issue.column == "current_school"
    assert '"实验小学 " names no school' in issue.message and 'The nearest is "实验小学"' in issue.message


def test_pair_uses_the_users_current_school_header(tmp_path):
    lines = ["编号,适龄儿童,对口学校,经度,纬度", "A,10,S9,113.885,22.555", "B,10,S1,113.886,22.556"]
    blocks, _ = check_blocks(write_csv(tmp_path, "\n".join(lines) + "\n", name="b.csv"))
    schools, _ = check_schools(
        write_csv(tmp_path, "学校代码,学校名称,学位数,经度,纬度\nS1,甲,9,113.885,22.556\n", name="s.csv")
    )
    with pytest.raises(InputError, match='b.csv, row 2, column "对口学校": "S9" names no school of s.csv'):
        check_pair(blocks, schools, blocks_file="b.csv", schools_file="s.csv")


def test_pair_school_far_outside_the_study_area(tmp_path):
    blocks, schools, bfile, sfile = _pair(
        tmp_path, "学校名称,学位数,经度,纬度\n实验小学,500,113.885,22.555\n远方小学,500,113.98,22.555\n"
    )
    with pytest.raises(
        InputError,
        match=r"row 3: school \"远方小学\" is 8\.\d km from the nearest block: outside the study area",
    ) as info:
        check_pair(blocks, schools, blocks_file=bfile, schools_file=sfile)
    assert "--coords" in errors_of(info)[0].fix


def test_pair_school_near_but_outside_the_blocks_is_a_warning(tmp_path):
    blocks, schools, bfile, sfile = _pair(
        tmp_path, "学校名称,学位数,经度,纬度\n实验小学,500,113.885,22.555\n边上小学,500,113.90,22.555\n"
    )  # the grid ends at 113.895: 边上小学 is ~510 m east of it
    warnings = check_pair(blocks, schools, blocks_file=bfile, schools_file=sfile)
    assert len(warnings) == 1 and warnings[0].row == 3
    assert "will not be anchored on its own block" in warnings[0].message


def test_pair_mixed_stages_warn(tmp_path):
    blocks, schools, bfile, sfile = _pair(
        tmp_path,
        "学校名称,学位数,学段,经度,纬度\n实验小学,500,小学,113.885,22.555\n实验中学,500,初中,113.886,22.556\n",
    )
    (warning,) = check_pair(blocks, schools, blocks_file=bfile, schools_file=sfile)
    assert warning.file == sfile and "junior_middle: 1, primary: 1" in warning.message


def test_warnings_are_logged(tmp_path, caplog):
    raw = write_csv(tmp_path, "编号,人口,经度,纬度\nA,1000,113.9,22.55\n")
    with caplog.at_level(logging.WARNING, logger="zoning.io.validate"):
        check_blocks(raw, per_1000_rate=70)
    assert "千人学位指标" in caplog.text


def test_stages_match_in_chinese_or_english_and_nine_year_schools_count_for_both(tmp_path):
    # a tester's file: --only-stage 小学 was refused ("use one of: junior_middle, primary") and
    # --require-stage 初中=1 found no school, though the file's 学段 column holds 小学 / 初中
    from zoning.cli.options import _only_stage
    from zoning.io.validate.schools import stage_mask

    lines = ["学校名称,学位数,学段,经度,纬度", "甲,100,小学,113.9,22.51", "乙,100,初中,113.9,22.52",
             "丙,100,九年一贯制,113.9,22.53", "丁,100,,113.9,22.54"]  # fmt: skip
    schools, _ = check_schools(write_csv(tmp_path, "\n".join(lines) + "\n"))
    assert schools["stage"].tolist()[:3] == ["primary", "junior_middle", "nine_year"]
    assert stage_mask(schools["stage"], "小学").tolist() == [True, False, True, False]
    assert stage_mask(schools["stage"], "junior_middle").tolist() == [False, True, True, False]
    assert stage_mask(schools["stage"], "初中").tolist() == [False, True, True, False]
    assert _only_stage(schools, ("小学",))["name"].tolist() == ["甲", "丙"]


def test_a_copied_outline_and_a_block_in_far_parts_are_named(tmp_path):
    # a tester's dirty file: a block copied under another id (children counted twice) and a block with a
    # second part far outside the city (its zone drawn in two pieces while the summary said none) passed
    # without a word
    from shapely.geometry import MultiPolygon

    from zoning.io.validate import check_blocks

    size, x0, y0 = 0.005, 113.88, 22.55
    cells = [box(x0 + i * size, y0, x0 + (i + 1) * size, y0 + size) for i in range(4)]
    cells.append(cells[1])  # the same outline under another id
    far = box(x0 + 0.05, y0, x0 + 0.051, y0 + 0.001)  # about 3 km east of the city
    cells[3] = MultiPolygon([cells[3], far])
    frame = gpd.GeoDataFrame({"编号": [f"B{k}" for k in range(5)], "适龄儿童": [10] * 5}, geometry=cells,
                             crs="EPSG:4326")  # fmt: skip
    path = tmp_path / "blocks.geojson"
    frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    _, warnings = check_blocks(read_table(path))
    words = [w.message for w in warnings]
    assert any("very same outline (rows 2 and 5)" in w for w in words), words
    assert any("in parts far apart: row 4 (2 parts, 3,084 m apart" in w for w in words), words
    # the clean grid says neither
    _, warnings = check_blocks(read_table(grid_blocks(tmp_path)))
    assert not any("same outline" in w.message or "far apart" in w.message for w in warnings)


def test_a_misspelt_current_school_is_one_message_naming_its_rows(tmp_path):
    # a tester's sweep: one unknown value in 170 rows gave 170 messages
    lines = ["编号,适龄儿童,对口学校,经度,纬度"] + [
        f"B{k},10,{'S9' if k % 2 else 'S1'},113.885,22.55{k}" for k in range(8)
    ]
    blocks, _ = check_blocks(write_csv(tmp_path, "\n".join(lines) + "\n", name="b.csv"))
    schools, _ = check_schools(
        write_csv(tmp_path, "学校代码,学校名称,学位数,经度,纬度\nS1,甲,9,113.885,22.556\n", name="s.csv")
    )
    with pytest.raises(InputError) as info:
        check_pair(blocks, schools, blocks_file="b.csv", schools_file="s.csv")
    (issue,) = errors_of(info)
    assert issue.row == 3 and '"S9" names no school of s.csv (also rows 5, 7, 9)' in issue.message


def test_codes_that_differ_only_by_leading_zeros_name_their_school_with_a_warning(tmp_path):
    # a tester's sweep: blocks naming 现划片学校 "0012" beside a schools file whose 学校代码 Excel saved as the
    # number 12 were refused row by row ('"0012" names no school … The nearest is "12"'), 316 of 317 blocks;
    # so were codes a column of numbers with blanks wrote as "12.0"
    from zoning.io.inputs import load_inputs

    lines = ["编号,适龄儿童,现划片学校,经度,纬度"] + [
        f"B{k},10,{['0012', '００１３', '12.0', ''][k % 4]},113.885,22.55{k}" for k in range(8)
    ]
    blocks = write_csv(tmp_path, "\n".join(lines) + "\n", name="b.csv").file
    schools = tmp_path / "s.csv"
    schools.write_text(
        "学校代码,学校名称,学位数,经度,纬度\n12,甲,90,113.885,22.556\n13,乙,90,113.886,22.553\n"
    )
    inputs = load_inputs(blocks, schools)
    assert inputs.blocks["current_school"].tolist() == ["12", "13", "12", None] * 2
    (warning,) = [w for w in inputs.warnings if "leading zeros" in w.message]
    assert warning.column == "现划片学校" and warning.file == blocks
    assert "6 block(s) name their current school by a code" in warning.message
    assert '"0012" as 12, "12.0" as 12, "００１３" as 13' in warning.message
    # a code that matches no school, or two, is still refused
    (tmp_path / "b2.csv").write_text("编号,适龄儿童,现划片学校,经度,纬度\nA,10,0099,113.885,22.55\n")
    with pytest.raises(InputError, match='"0099" names no school of'):
        load_inputs(tmp_path / "b2.csv", schools)
    (tmp_path / "s2.csv").write_text(
        "学校代码,学校名称,学位数,经度,纬度\n012,甲,90,113.885,22.556\n12,乙,90,113.886,22.553\n"
    )
    (tmp_path / "b3.csv").write_text("编号,适龄儿童,现划片学校,经度,纬度\nA,10,0012,113.885,22.55\n")
    with pytest.raises(InputError, match='"0012" names no school of'):
        load_inputs(tmp_path / "b3.csv", tmp_path / "s2.csv")


def test_names_that_differ_only_by_full_and_half_width_characters_name_their_school(tmp_path):
    # a tester's sweep: Bao'an's 小区 naming 现划片学校 "西乡实验学校(初中部)" beside the schools file's
    # "西乡实验学校（初中部）" were refused, 22 of 28 blocks, the files typed by two offices
    from zoning.io.inputs import load_inputs

    lines = ["编号,适龄儿童,现划片学校,经度,纬度"] + [
        f"B{k},10,{['西乡实验学校(初中部)', '航城学校（初中部）', '第２中学'][k % 3]},113.885,22.55{k}"
        for k in range(6)
    ]
    blocks = write_csv(tmp_path, "\n".join(lines) + "\n", name="b.csv").file
    schools = tmp_path / "s.csv"
    schools.write_text(
        "学校名称,学位数,经度,纬度\n西乡实验学校（初中部）,90,113.885,22.556\n航城学校（初中部）,90,113.886,22.553\n"
        "第2中学,90,113.887,22.554\n",
        encoding="utf-8",
    )
    inputs = load_inputs(blocks, schools)
    assert (
        inputs.blocks["current_school"].tolist()
        == ["西乡实验学校（初中部）", "航城学校（初中部）", "第2中学"] * 2
    )
    (warning,) = [w for w in inputs.warnings if "full-width and half-width" in w.message]
    assert warning.column == "现划片学校" and "4 block(s) name their current school" in warning.message
    assert '"西乡实验学校(初中部)" as 西乡实验学校（初中部）' in warning.message
    # another school is not a width: still refused, with the nearest name
    (tmp_path / "b2.csv").write_text("编号,适龄儿童,现划片学校,经度,纬度\nA,10,第３中学,113.885,22.55\n")
    with pytest.raises(InputError, match='"第３中学" names no school of'):
        load_inputs(tmp_path / "b2.csv", schools)


def test_a_total_row_is_named_as_one_not_as_a_school_without_id_or_place(tmp_path):
    # a tester's sweep: a bureau's schools sheet ending in a 合计 row (seats summed, no code, no place) got
    # three messages (id, longitude, latitude empty) and none saying it is the total
    lines = ["学校代码,学校名称,学位数,经度,纬度", "S1,实验小学,500,113.885,22.555", "S2,育才小学,400,113.895,22.565",
             ",合 计：,900,,"]  # fmt: skip
    with pytest.raises(InputError) as info:
        check_schools(write_csv(tmp_path, "\n".join(lines) + "\n", name="s.csv"))
    (issue,) = info.value.issues
    assert issue.row == 4 and issue.column == "学校名称" and 'is a total row ("合 计：")' in issue.message
    lines = ["编号,小区名称,适龄儿童,经度,纬度", "A,银湖花园,30,113.885,22.555", "总计,,30,113.886,22.556"]
    with pytest.raises(InputError) as info:
        check_blocks(write_csv(tmp_path, "\n".join(lines) + "\n", name="b.csv"))
    (issue,) = info.value.issues
    assert issue.row == 3 and issue.column == "编号" and "not a block" in issue.message
