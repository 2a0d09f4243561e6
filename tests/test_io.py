"""zoning.io: reading every format with Chinese headers and encodings, row numbers, atomic writers."""

from __future__ import annotations

import json
import logging
import math
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from shapely.geometry import Point

from zoning.errors import InputError
from zoning.io.files import RawTable, read_table
from zoning.io.save import OVERWRITE_FIX, prepare_out_dir, write_csv, write_gpkg, write_json, write_text
from zoning.io.validate import check_blocks

IDS = ["A1", "A2", "A3"]
NAMES = ["翠竹苑", "银湖花园", "碧海湾·东区"]
KIDS = [12, 30, 0]
LON = [113.881, 113.884, 113.887]
LAT = [22.571, 22.574, 22.577]
HEADERS = ["小区编号", "小区名称", "适龄儿童"]


def small_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"小区编号": IDS, "小区名称": NAMES, "适龄儿童": KIDS},
        geometry=[Point(x, y) for x, y in zip(LON, LAT, strict=True)],
        crs="EPSG:4326",
    )


def csv_text() -> str:
    lines = ["小区编号,小区名称,适龄儿童,经度,纬度"]
    lines += [f"{i},{n},{k},{x},{y}" for i, n, k, x, y in zip(IDS, NAMES, KIDS, LON, LAT, strict=True)]
    return "\r\n".join(lines) + "\r\n"


def is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# ------------------------------------------------------------------------------------------ round trips


def _geojson(tmp: Path) -> Path:
    small_frame().to_file(tmp / "blocks.geojson", driver="GeoJSON", engine="pyogrio")
    return tmp / "blocks.geojson"


def _gpkg(tmp: Path) -> Path:
    write_gpkg(tmp / "blocks.gpkg", {"小区": small_frame()}, overwrite=False)
    return tmp / "blocks.gpkg"


def _shp_cpg(tmp: Path) -> Path:
    small_frame().to_file(tmp / "blocks.shp", encoding="GBK", engine="pyogrio")
    assert (tmp / "blocks.cpg").read_text().strip().upper() == "GBK"
    assert not is_utf8((tmp / "blocks.dbf").read_bytes())
    return tmp / "blocks.shp"


def _shp_no_cpg(tmp: Path) -> Path:
    path = _shp_cpg(tmp)
    (tmp / "blocks.cpg").unlink()
    return path


#: DBF field names hold 10 bytes: 3 Chinese characters in UTF-8, 5 in GBK.
SHORT = {"小区编号": "编号", "小区名称": "名称", "适龄儿童": "学生数"}


def _shp_utf8_no_cpg(tmp: Path) -> Path:
    small_frame().rename(columns=SHORT).to_file(tmp / "blocks.shp", encoding="UTF-8", engine="pyogrio")
    (tmp / "blocks.cpg").unlink()
    assert "翠竹苑".encode() in (tmp / "blocks.dbf").read_bytes()
    return tmp / "blocks.shp"


def _shp_zip(tmp: Path) -> Path:
    _shp_no_cpg(tmp)
    with zipfile.ZipFile(tmp / "blocks.zip", "w") as zf:
        for part in ("shp", "shx", "dbf", "prj"):
            zf.write(tmp / f"blocks.{part}", f"blocks.{part}")
    return tmp / "blocks.zip"


def _csv(encoding: str):
    def make(tmp: Path) -> Path:
        (tmp / "blocks.csv").write_bytes(csv_text().encode(encoding))
        return tmp / "blocks.csv"

    return make


def _xlsx(tmp: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "小区"
    sheet.append(["小区编号", "小区名称", "适龄儿童", "经度", "纬度"])
    for row in zip(IDS, NAMES, KIDS, LON, LAT, strict=True):
        sheet.append(list(row))
    book.create_sheet("空白")  # an empty default sheet, as WPS leaves them
    book.save(tmp / "blocks.xlsx")
    return tmp / "blocks.xlsx"


ROUND_TRIPS = {
    "geojson": (_geojson, "vector", "utf-8"),
    "gpkg": (_gpkg, "vector", "utf-8"),
    "shp-cpg-gbk": (_shp_cpg, "vector", "GBK"),
    "shp-gbk-no-cpg": (_shp_no_cpg, "vector", "gb18030"),
    "shp-utf8-no-cpg": (_shp_utf8_no_cpg, "vector", "utf-8"),
    "shp-zip-gbk": (_shp_zip, "vector", "gb18030"),
    "csv-utf8": (_csv("utf-8"), "csv", "utf-8"),
    "csv-utf8-bom": (_csv("utf-8-sig"), "csv", "utf-8-sig"),
    "csv-gbk": (_csv("gbk"), "csv", "gb18030"),
    "xlsx": (_xlsx, "xlsx", None),
}


@pytest.mark.parametrize("case", list(ROUND_TRIPS))
def test_round_trip_keeps_chinese_headers_and_values(tmp_path, case):
    make, kind, encoding = ROUND_TRIPS[case]
    path = make(tmp_path)
    raw = read_table(path)
    assert isinstance(raw, RawTable)
    assert raw.kind == kind
    assert raw.encoding == encoding
    assert raw.file == str(path)
    headers = list(SHORT.values()) if case == "shp-utf8-no-cpg" else HEADERS
    assert set(headers) <= set(raw.frame.columns)
    assert raw.frame[headers[1]].tolist() == NAMES
    assert [str(v) for v in raw.frame[headers[2]]] == [str(k) for k in KIDS]
    expected_rows = [2, 3, 4] if kind in ("csv", "xlsx") else [1, 2, 3]
    assert raw.rows.tolist() == expected_rows
    blocks, warnings = check_blocks(raw)
    assert warnings == []
    assert blocks["block_id"].tolist() == IDS
    assert blocks["name"].tolist() == NAMES
    assert blocks["students"].tolist() == [float(k) for k in KIDS]
    assert np.allclose(blocks.geometry.x, LON) and np.allclose(blocks.geometry.y, LAT)


def test_csv_keeps_every_cell_as_text(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("编号,学位数\n007,1200\n008,\n", encoding="utf-8")
    raw = read_table(path)
    assert raw.frame["编号"].tolist() == ["007", "008"]  # leading zeros survive
    assert raw.frame["学位数"].iloc[0] == "1200"
    assert raw.frame["学位数"].iloc[1] is None


def test_gbk_shapefile_without_cpg_is_read_as_gb18030_and_logged(tmp_path, caplog):
    path = _shp_no_cpg(tmp_path)
    with caplog.at_level(logging.WARNING, logger="zoning.io"):
        raw = read_table(path)
    assert raw.frame["小区名称"].tolist() == NAMES
    assert "GB18030" in caplog.text and "no .cpg" in caplog.text


def test_encoding_can_be_forced(tmp_path):
    path = _csv("gbk")(tmp_path)
    with pytest.raises(InputError, match="is not valid utf-8"):
        read_table(path, encoding="utf-8")
    assert read_table(path, encoding="gbk").frame["小区名称"].tolist() == NAMES


# ------------------------------------------------------------------------------------------ row numbers


def test_csv_rows_count_blank_lines_title_rows_and_multiline_cells(tmp_path):
    text = (
        "宝安区小区适龄儿童统计表,,\n"  # a title row above the header (row 1)
        "小区编号,小区名称,适龄儿童\n"  # header: row 2
        "A1,翠竹苑,12\n"  # row 3
        "\n"  # row 4: blank
        'A2,"银湖\n花园",30\n'  # row 5 (one spreadsheet row, two text lines)
        ",,\n"  # row 6: empty cells only
        "A3,碧海湾,7\n"  # row 7
    )
    path = tmp_path / "blocks.csv"
    path.write_text(text, encoding="utf-8-sig")
    raw = read_table(path)
    assert list(raw.frame.columns) == ["小区编号", "小区名称", "适龄儿童"]
    assert raw.frame["小区编号"].tolist() == ["A1", "A2", "A3"]
    assert raw.rows.tolist() == [3, 5, 7]


def test_xlsx_rows_are_spreadsheet_rows(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet["A1"] = "2024年学校学位表"
    sheet.append([])
    sheet.append(["学校名称", "学位数"])  # row 3
    sheet.append(["实验小学", 540])  # row 4
    sheet.append([])  # row 5
    sheet.append(["育才小学", "约300"])  # row 6
    book.save(tmp_path / "s.xlsx")
    raw = read_table(tmp_path / "s.xlsx")
    assert raw.rows.tolist() == [4, 6]
    assert raw.frame["学位数"].tolist() == [540, "约300"]


def test_xlsx_with_several_data_sheets_needs_sheet(tmp_path):
    book = openpyxl.Workbook()
    book.active.title = "小学"
    book.active.append(["学校名称", "学位数"])
    book.active.append(["实验小学", 540])
    other = book.create_sheet("初中")
    other.append(["学校名称", "学位数"])
    other.append(["实验中学", 600])
    other.append(["育才中学", 650])
    book.save(tmp_path / "s.xlsx")
    with pytest.raises(InputError, match="2 sheets with data: 小学, 初中") as info:
        read_table(tmp_path / "s.xlsx")
    assert info.value.issues[0].fix == 'choose one with layer="小学".'
    assert len(read_table(tmp_path / "s.xlsx", sheet="初中").frame) == 2
    assert len(read_table(tmp_path / "s.xlsx", layer="初中").frame) == 2  # a layer names a sheet
    assert len(read_table(tmp_path / "s.xlsx", sheet=0).frame) == 1
    with pytest.raises(InputError, match='no sheet "初 中"'):
        read_table(tmp_path / "s.xlsx", sheet="初 中")


# ----------------------------------------------------------------------------------------------- layers


def test_geopackage_with_several_layers_needs_layer(tmp_path):
    path = tmp_path / "data.gpkg"
    frame = small_frame()
    write_gpkg(path, {"小区": frame, "学校": frame.iloc[:1]}, overwrite=False)
    with pytest.raises(InputError, match="holds 2 layers: 小区, 学校") as info:
        read_table(path)
    assert info.value.issues[0].file == str(path)
    assert info.value.issues[0].fix == 'choose one with layer="小区".'
    assert len(read_table(path, layer="学校").frame) == 1
    assert len(read_table(path, layer="小区").frame) == 3
    with pytest.raises(InputError, match='has no layer "学 校"') as info:
        read_table(path, layer="学 校")
    assert info.value.issues[0].fix == 'use layer="学校".'
    with pytest.raises(InputError, match="holds 2 layers") as info:
        read_table(path, option=("--schools-layer", "schools_layer"))
    assert (
        info.value.issues[0].fix == 'choose one with --schools-layer "小区" (in Python schools_layer="小区").'
    )


def test_vector_rows_are_feature_numbers(tmp_path):
    raw = read_table(_geojson(tmp_path))
    assert isinstance(raw.frame, gpd.GeoDataFrame)
    assert raw.rows.tolist() == [1, 2, 3]


# ----------------------------------------------------------------------------------------------- errors


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found") as info:
        read_table(tmp_path / "nope.csv")
    issue = info.value.issues[0]
    assert issue.file == str(tmp_path / "nope.csv") and issue.fix


@pytest.mark.parametrize(
    ("name", "fix"),
    [
        ("blocks.dwg", "save it as GeoJSON"),
        ("blocks.xls", "save it as .xlsx"),
        ("blocks", "save it as GeoJSON"),
    ],
)
def test_unknown_extension(tmp_path, name, fix):
    (tmp_path / name).write_bytes(b"whatever")
    with pytest.raises(InputError, match="unknown file type") as info:
        read_table(tmp_path / name)
    assert fix in info.value.issues[0].fix
    assert info.value.issues[0].file == str(tmp_path / name)


@pytest.mark.parametrize(
    ("name", "what", "fix"),
    [
        ("broken.geojson", "GIS data", "open it in QGIS or ArcGIS and export it again as GeoJSON"),
        ("broken.gpkg", "GIS data", "open it in QGIS or ArcGIS and export it again as GeoJSON"),
        ("broken.shp", "GIS data", "open it in QGIS or ArcGIS and export it again as GeoJSON"),
        ("broken.xlsx", "an Excel .xlsx workbook", "open it in Excel or WPS and save it again as .xlsx."),
        ("broken.zip", "GIS data", "open it in QGIS or ArcGIS and export it again as GeoJSON"),
    ],
)
def test_unreadable_file_keeps_cause_and_names_it_in_one_line(tmp_path, name, what, fix):
    (tmp_path / name).write_bytes(b"\x00\x01 not really a " + name.encode())
    with pytest.raises(InputError, match="cannot be read as") as info:
        read_table(tmp_path / name)
    cause = info.value.__cause__
    assert cause is not None
    (issue,) = info.value.issues
    # the message names the kind of file and the cause's first line, and the fix says how to re-save it
    first_line = str(cause).strip().splitlines()[0]
    assert issue.message == f"cannot be read as {what} ({first_line})."
    assert issue.fix.startswith(fix)
    assert issue.file == str(tmp_path / name)


def test_ragged_csv_is_an_input_error(tmp_path):
    (tmp_path / "r.csv").write_text("a,b\n1,2\n3,4,5,6\n", encoding="utf-8")
    with pytest.raises(InputError, match="cannot be read as CSV") as info:
        read_table(tmp_path / "r.csv")
    assert info.value.__cause__ is not None


def test_empty_csv(tmp_path):
    (tmp_path / "e.csv").write_bytes(b"")
    with pytest.raises(InputError, match="is empty"):
        read_table(tmp_path / "e.csv")


def test_folder_is_not_a_file(tmp_path):
    (tmp_path / "x.geojson").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        read_table(tmp_path / "x.geojson")


# ---------------------------------------------------------------------------------------------- writers


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


WRITERS = {
    "text": (lambda p, o: write_text(p, "一行\n", overwrite=o), "out.txt"),
    "json": (lambda p, o: write_json(p, {"学校": "实验小学"}, overwrite=o), "out.json"),
    "csv": (lambda p, o: write_csv(p, pd.DataFrame({"学校": ["实验小学"]}), overwrite=o), "out.csv"),
    "gpkg": (lambda p, o: write_gpkg(p, {"小区": small_frame()}, overwrite=o), "out.gpkg"),
}


@pytest.mark.parametrize("kind", list(WRITERS))
def test_writers_refuse_to_overwrite_and_leave_no_temp_files(tmp_path, kind):
    write, name = WRITERS[kind]
    target = tmp_path / name
    assert write(target, False) == target
    assert _files(tmp_path) == [name]
    before = target.read_bytes()
    with pytest.raises(InputError, match="exists already") as info:
        write(target, False)
    assert info.value.issues[0].fix == OVERWRITE_FIX
    assert info.value.issues[0].file == str(target)
    assert target.read_bytes() == before
    write(target, True)
    assert _files(tmp_path) == [name]


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "plan.gpkg"
    with pytest.raises(AttributeError):
        write_gpkg(target, {"小区": small_frame(), "坏": "not a frame"}, overwrite=False)  # type: ignore[dict-item]
    assert _files(tmp_path) == []


def test_write_json_is_utf8_and_plain(tmp_path):
    target = tmp_path / "o.json"
    write_json(
        target,
        {"学校": "实验小学", "n": np.int64(3), "gap": math.nan, "xs": np.array([1.5])},
        overwrite=False,
    )
    text = target.read_text(encoding="utf-8")
    assert "实验小学" in text and "\\u" not in text
    assert json.loads(text) == {"学校": "实验小学", "n": 3, "gap": None, "xs": [1.5]}
    assert text.startswith('{\n  "')


def test_write_csv_has_bom_and_reads_back(tmp_path):
    target = tmp_path / "o.csv"
    write_csv(target, pd.DataFrame({"学校名称": ["实验小学"], "学位数": [540]}), overwrite=False)
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")
    raw = read_table(target)
    assert raw.encoding == "utf-8-sig"
    assert raw.frame.to_dict("list") == {"学校名称": ["实验小学"], "学位数": ["540"]}


def test_write_gpkg_writes_all_layers(tmp_path):
    target = tmp_path / "plan.gpkg"
    write_gpkg(target, {"小区": small_frame(), "学校": small_frame().iloc[:2]}, overwrite=False)
    assert len(read_table(target, layer="学校").frame) == 2
    assert read_table(target, layer="小区").frame["小区名称"].tolist() == NAMES


def test_writers_create_parent_folders(tmp_path):
    write_text(tmp_path / "a" / "b" / "c.txt", "x", overwrite=False)
    assert (tmp_path / "a" / "b" / "c.txt").read_text(encoding="utf-8") == "x"


def test_prepare_out_dir(tmp_path):
    out = prepare_out_dir(tmp_path / "plan", ["zones.csv", "map.html"], overwrite=False)
    assert out.is_dir()
    (out / "zones.csv").write_text("x")
    (out / "map.html").write_text("x")
    with pytest.raises(InputError, match="2 output files exist already") as info:
        prepare_out_dir(out, ["zones.csv", "map.html", "plan.gpkg"], overwrite=False)
    assert [Path(i.file).name for i in info.value.issues] == ["zones.csv", "map.html"]
    assert all(i.fix == OVERWRITE_FIX for i in info.value.issues)
    assert prepare_out_dir(out, ["zones.csv"], overwrite=True) == out
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file, not a folder"):
        prepare_out_dir(tmp_path / "file", [], overwrite=False)


def test_reader_arguments_a_caller_gets_wrong_are_explained(tmp_path):
    # an analyst's sweep: keep="tract" was read letter by letter ("has no column 't'"), columns=[...] and a
    # GeoDataFrame for the path gave raw errors
    import pytest

    import zoning
    from conftest import DEMO

    blocks = zoning.read_blocks(DEMO / "blocks.geojson", columns={"students": "students_k4"}, keep="tract")
    assert "tract" in blocks.columns
    with pytest.raises(zoning.InputError, match="columns is a list, not a mapping"):
        zoning.read_schools(DEMO / "schools.geojson", columns=["name"])
    with pytest.raises(zoning.InputError, match="the path is a GeoDataFrame"):
        zoning.read_blocks(blocks)
