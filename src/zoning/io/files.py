"""Reading files: every supported format as a :class:`RawTable` (writing is ``save``).

Reading gives a :class:`RawTable`: the table exactly as the planner sees it (headers as written, every CSV
cell as text) plus, for each row, the row number the planner sees, so that ``validate`` can say
``blocks.csv, row 14, column "学龄人口"``.  Row numbers are spreadsheet rows for CSV / Excel (the header
row is row 1, blank lines and title rows above the header are counted) and 1-based feature numbers for
GeoJSON / GeoPackage / Shapefile.

Encodings: CSV is tried as UTF-8 (with or without BOM), then GB18030 (a superset of GBK and GB2312, what
Excel / WPS write on Chinese Windows).  A Shapefile's ``.cpg`` is honoured; without one, DBF text that is
not valid UTF-8 is read as GB18030 (Chinese shapefiles are usually GBK) and the choice is logged.  Latin-1
shapefiles without ``.cpg`` need ``encoding=``.
"""

from __future__ import annotations

import contextlib
import difflib
import io as _io
import logging
import math
import os
import struct
import warnings
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely.errors

from ..errors import InputError, Issue

__all__ = [
    "RawTable",
    "read_table",
    "load_text",
    "is_blank",
    "row_label",
    "VECTOR_SUFFIXES",
    "TABLE_SUFFIXES",
]

log = logging.getLogger(__name__)

#: File types read as vector data (through pyogrio).  ``.zip`` is a zipped Shapefile (or GeoPackage).
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip", ".fgb")
#: File types read as plain tables (coordinates in lon/lat columns).
TABLE_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm")
_SUPPORTED = "GeoJSON, GeoPackage (.gpkg), Shapefile (.shp or zipped), CSV or Excel (.xlsx)"
#: CSV encodings tried in order when none is given.
_CSV_ENCODINGS = ("utf-8-sig", "gb18030")
#: How many bytes of DBF records are checked for UTF-8 when a Shapefile has no .cpg.
_DBF_SNIFF_BYTES = 8 << 20
#: The most a DBF header can take (its length is a 16-bit number) plus the records sniffed: all that is read.
_DBF_READ_BYTES = (1 << 16) + _DBF_SNIFF_BYTES

_READ_ERRORS = (
    OSError,
    ValueError,
    RuntimeError,  # pyogrio.errors.* derive from it
    UnicodeError,
    zipfile.BadZipFile,
    KeyError,
    IndexError,  # pyogrio on a zip that holds no layer (found by the property tests)
    struct.error,
    shapely.errors.ShapelyError,  # a damaged ring in a Shapefile's geometry (found by the property tests)
)


@dataclass(frozen=True, eq=False)
class RawTable:
    """A table as read from one file, before validation.

    frame: ``pandas.DataFrame`` of text cells for CSV (Excel cells keep their type: numbers stay numbers),
        ``geopandas.GeoDataFrame`` for vector files; headers exactly as in the file.
    file: the file as the user named it (used in every message).
    rows: for each frame row, the row number the user sees (spreadsheet row, header = row 1; or 1-based
        feature number for vector files), or its name by primary key for a database table (``"id=14"``,
        ``io.db``); :func:`row_label` gives it as messages show it.
    encoding: the text encoding used (``"utf-8-sig"``, ``"gb18030"``, a Shapefile's ``.cpg``, …).
    kind: ``"csv"``, ``"xlsx"``, ``"vector"`` or ``"postgis"``.
    """

    frame: pd.DataFrame
    file: str
    rows: np.ndarray
    encoding: str | None
    kind: Literal["csv", "xlsx", "vector", "postgis"]

    def __post_init__(self) -> None:
        if len(self.rows) != len(self.frame):
            raise ValueError(f"{len(self.rows)} row numbers for {len(self.frame)} rows")


def row_label(row: Any) -> int | str:
    """A row as messages name it: a number (``row 14``), or a database row's key (``row id=14``)."""
    if isinstance(row, int | np.integer):
        return int(row)
    return str(row)


# ---------------------------------------------------------------------------------------------- reading


def read_table(
    path: str | os.PathLike[str],
    *,
    layer: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    option: tuple[str, str] | None = None,
) -> RawTable:
    """Read a GeoJSON / GeoPackage / Shapefile / CSV / Excel file as the user sees it.

    ``layer`` picks a layer of a GeoPackage (required when it holds several) or, without ``sheet``, the
    sheet of an Excel workbook; ``encoding`` overrides the detected text encoding (CSV, Shapefile),
    ``sheet`` picks an Excel sheet by name or 0-based position (default: the only sheet with data).
    ``option`` is the command-line option and the Python argument that name the layer of this file
    (``("--blocks-layer", "layer")``), for the fix of a message asking for one.  Raises :class:`InputError` when the file is missing, of an unknown
    type or unreadable.
    """
    name = os.fspath(path)
    p = Path(name)
    suffix = p.suffix.lower()
    if suffix not in VECTOR_SUFFIXES + TABLE_SUFFIXES:
        if suffix == ".xls":
            fix = "open it in Excel or WPS and save it as .xlsx, or as CSV UTF-8."
        else:
            fix = f"save it as {_SUPPORTED}."
        raise InputError([Issue(f'unknown file type "{p.suffix or "(no extension)"}".', fix, file=name)])
    _must_be_file(p, name, f"name a {_SUPPORTED} file.")
    if suffix in (".csv", ".txt"):
        return _read_csv(p, name, encoding)
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(p, name, layer if sheet is None else sheet, option)
    return _read_vector(p, name, layer, encoding, option)


def _pick(option: tuple[str, str] | None, name: str) -> str:
    """How to name a layer or sheet: the command's option and the Python argument."""
    if option is None:
        return f'layer="{name}"'
    flag, argument = option
    return f'{flag} "{name}" (in Python {argument}="{name}")'


def load_text(path: str | os.PathLike[str], *, what: str, suffixes: tuple[str, ...]) -> str:
    """A small text file (a scenario, a jobs list) as text: UTF-8, or GBK / GB18030 as Chinese editors save
    it.  Raises :class:`InputError` when the file is missing, a folder, of another type or not text."""
    name = os.fspath(path)
    p = Path(name)
    if p.suffix.lower() not in suffixes:
        fix = f"give {what} as a {' / '.join(suffixes)} file."
        raise InputError([Issue(f'unknown file type "{p.suffix or "(no extension)"}".', fix, file=name)])
    _must_be_file(p, name, f"name {what} file.")
    try:
        data = p.read_bytes()
    except OSError as err:
        raise _unreadable(name, what, err, "check that the file is readable.") from err
    return _decode(data, name, None)[0]


def _must_be_file(p: Path, name: str, fix_folder: str) -> None:
    """Refuse a path that is missing or a folder (``fix_folder``: what to name instead)."""
    if not p.exists():
        raise InputError([Issue("file not found.", "check the folder and the file name.", file=name)])
    if p.is_dir():
        raise InputError([Issue("is a folder, not a file.", fix_folder, file=name)])


def _unreadable(name: str, what: str, err: BaseException, fix: str) -> InputError:
    detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return InputError([Issue(f"cannot be read as {what} ({detail}).", fix, file=name)])


@contextlib.contextmanager
def _warnings_to_log(name: str):
    """Third-party warnings while reading a file become log messages (the library never prints)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        log.warning("%s: %s", name, w.message)


# CSV -------------------------------------------------------------------------------------------------


def _decode(data: bytes, name: str, encoding: str | None) -> tuple[str, str]:
    if encoding is not None:
        try:
            return data.decode(encoding), encoding
        except LookupError as err:
            raise InputError(
                [Issue(f'unknown encoding "{encoding}".', "use utf-8, utf-8-sig, gbk or gb18030.", file=name)]
            ) from err
        except UnicodeDecodeError as err:
            raise InputError(
                [
                    Issue(
                        f"is not valid {encoding} text (byte {err.start}).",
                        "leave the encoding out to detect it, or save the file as CSV UTF-8.",
                        file=name,
                    )
                ]
            ) from err
    last: UnicodeDecodeError | None = None
    for enc in _CSV_ENCODINGS:
        try:
            text = data.decode(enc)
        except UnicodeDecodeError as err:
            last = err
            continue
        if enc == "utf-8-sig":
            enc = "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
        return text, enc
    raise InputError(
        [
            Issue(
                "is neither UTF-8 nor GBK/GB18030 text.",
                "save it from Excel or WPS as “CSV UTF-8”, or pass the encoding.",
                file=name,
            )
        ]
    ) from last


def _delimiter(text: str) -> str:
    """Comma, unless the first line clearly uses tabs or semicolons (some exports do)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=counts.get)
    return "," if counts[","] or not counts[best] else best


def _read_csv(p: Path, name: str, encoding: str | None) -> RawTable:
    try:
        data = p.read_bytes()
    except OSError as err:
        raise _unreadable(name, "a file", err, "check that the file is not open in another program.") from err
    text, used = _decode(data, name, encoding)
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        grid = pd.read_csv(
            _io.StringIO(text),
            sep=_delimiter(text),
            header=None,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
        )
    except pd.errors.EmptyDataError as err:
        raise InputError(
            [Issue("is empty.", "export the table again with its header row.", file=name)]
        ) from err
    except (pd.errors.ParserError, ValueError) as err:
        raise _unreadable(
            name, "CSV", err, "check quotes and that every row has as many cells as the header."
        ) from err
    cells = [[None if pd.isna(v) else v for v in row] for row in grid.itertuples(index=False)]
    frame, rows = _grid_to_frame(cells, name)
    log.info("%s: read %d rows as CSV (%s)", name, len(frame), used)
    return RawTable(frame=frame, file=name, rows=rows, encoding=used, kind="csv")


def is_blank(value: Any) -> bool:
    """Whether a cell is empty: None, NA, NaT, NaN or text of only spaces."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _grid_to_frame(cells: list[list[Any]], name: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Header detection and blank-row removal on a grid of cells, the k-th of which is spreadsheet row k + 1.

    The header is the first row with at least two filled cells (a title row such as “宝安区2024年招生计划”
    above it is skipped), or the first filled row of a one-column table.  Returns the frame and the
    spreadsheet row number of each of its rows.
    """
    numbers = np.arange(1, len(cells) + 1, dtype=np.int64)
    filled = [sum(not is_blank(v) for v in row) for row in cells]
    if not any(filled):
        raise InputError([Issue("has no header row.", "put the column names in the first row.", file=name)])
    wide = [k for k, n in enumerate(filled) if n >= 2]
    h = wide[0] if wide else next(k for k, n in enumerate(filled) if n)
    if h and any(filled[:h]):
        log.info("%s: header found in row %d; rows above it skipped as titles", name, numbers[h])
    width = max(len(row) for row in cells)
    grid = [list(row) + [None] * (width - len(row)) for row in cells]
    body = [row for row, n in zip(grid[h + 1 :], filled[h + 1 :], strict=True) if n]
    body_rows = np.array(
        [r for r, n in zip(numbers[h + 1 :], filled[h + 1 :], strict=True) if n], dtype=np.int64
    )
    header = grid[h]
    keep, names, seen = [], [], {}
    for c, head in enumerate(header):
        has_data = any(not is_blank(row[c]) for row in body)
        if is_blank(head):
            if not has_data:
                continue
            label = f"Unnamed: {c}"
        else:
            label = str(head).strip()
            if isinstance(head, float) and head.is_integer():
                label = str(int(head))
        if label in seen:
            seen[label] += 1
            new = f"{label}.{seen[label]}"
            log.warning(
                '%s: the header "%s" appears more than once; its copy is called "%s"', name, label, new
            )
            label = new
        else:
            seen[label] = 0
        keep.append(c)
        names.append(label)
    frame = pd.DataFrame([[row[c] for c in keep] for row in body], columns=names, dtype=object)
    if not body:
        frame = pd.DataFrame({n: pd.Series([], dtype=object) for n in names})
    return frame, body_rows


# Excel -----------------------------------------------------------------------------------------------


def _read_xlsx(p: Path, name: str, sheet: str | int | None, option: tuple[str, str] | None) -> RawTable:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    fix = "open it in Excel or WPS and save it again as .xlsx."
    try:
        with _warnings_to_log(name):
            book = openpyxl.load_workbook(p, read_only=True, data_only=True)
    except (InvalidFileException, *_READ_ERRORS) as err:
        raise _unreadable(name, "an Excel .xlsx workbook", err, fix) from err
    try:
        grids: dict[str, list[list[Any]]] = {}

        def grid_of(title: str) -> list[list[Any]]:
            if title not in grids:
                grids[title] = [list(row) for row in book[title].iter_rows(values_only=True)]
            return grids[title]

        def has_data(title: str) -> bool:
            return any(not is_blank(v) for row in grid_of(title) for v in row)

        chosen = _choose_sheet(list(book.sheetnames), sheet, has_data, name, option)
        cells = grid_of(chosen)
    except _READ_ERRORS as err:
        raise _unreadable(name, "an Excel .xlsx workbook", err, fix) from err
    finally:
        book.close()
    frame, rows = _grid_to_frame(cells, name)
    log.info("%s: read %d rows from sheet %s", name, len(frame), chosen)
    return RawTable(frame=frame, file=name, rows=rows, encoding=None, kind="xlsx")


def _choose_sheet(
    titles: list[str],
    sheet: str | int | None,
    has_data: Callable[[str], bool],
    name: str,
    option: tuple[str, str] | None,
) -> str:
    """The sheet named or numbered (from 0) by ``sheet``; by default the only sheet with data (the first
    sheet when none has data)."""
    if sheet is None:
        with_data = [t for t in titles if has_data(t)]
        if len(with_data) <= 1:
            return with_data[0] if with_data else titles[0]
        message = f"has {len(with_data)} sheets with data: {', '.join(with_data)}."
        fix = f"choose one with {_pick(option, with_data[0])}."
    elif isinstance(sheet, int):
        if 0 <= sheet < len(titles):
            return titles[sheet]
        message, fix = f"has no sheet number {sheet} (sheets: {', '.join(titles)}).", "count sheets from 0."
    elif sheet in titles:
        return sheet
    else:
        message = f'has no sheet "{sheet}" (sheets: {", ".join(titles)}).'
        fix = f"use {_pick(option, _nearest(sheet, titles) or titles[0])}."
    raise InputError([Issue(message, fix, file=name)])


# Vector ----------------------------------------------------------------------------------------------


def _nearest(word: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.0)
    return close[0] if close else None


def _dbf_is_utf8(dbf: bytes) -> bool:
    """Whether the field names and text (C) fields of a DBF are valid UTF-8."""
    header_len, record_len = struct.unpack("<HH", dbf[8:12])
    fields, offset, pos = [], 1, 32
    while pos + 32 <= header_len and dbf[pos] != 0x0D:
        desc = dbf[pos : pos + 32]
        field_name = desc[:11].split(b"\x00", 1)[0]
        ftype, flen = chr(desc[11]), desc[16]
        if ftype == "C":
            flen += desc[17] << 8  # long character fields use the decimal count as the high byte
        fields.append((field_name, ftype, offset, flen))
        offset += flen
        pos += 32
    text = [f[0] for f in fields]
    body = dbf[header_len : header_len + _DBF_SNIFF_BYTES]
    for start in range(0, len(body) - record_len + 1, max(record_len, 1)):
        record = body[start : start + record_len]
        text.extend(record[o : o + n] for _, t, o, n in fields if t == "C")
    try:
        b"\n".join(text).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _shapefile_encoding(p: Path, name: str) -> tuple[str | None, str]:
    """(encoding to pass to pyogrio or None to let GDAL honour the .cpg, encoding to report)."""
    if p.suffix.lower() == ".zip":
        with zipfile.ZipFile(p) as zf:
            members = zf.namelist()
            dbfs = [m for m in members if m.lower().endswith(".dbf")]
            if len(dbfs) != 1:
                return None, "utf-8"
            cpg = next((m for m in members if m.lower() == dbfs[0][:-4].lower() + ".cpg"), None)
            if cpg is not None:
                return None, zf.read(cpg).decode("ascii", "replace").strip() or "utf-8"
            with zf.open(dbfs[0]) as member:
                dbf = member.read(_DBF_READ_BYTES)
    else:
        cpg_path = next((c for c in (p.with_suffix(".cpg"), p.with_suffix(".CPG")) if c.exists()), None)
        if cpg_path is not None:
            return None, cpg_path.read_text("ascii", "replace").strip() or "utf-8"
        dbf_path = next((c for c in (p.with_suffix(".dbf"), p.with_suffix(".DBF")) if c.exists()), None)
        if dbf_path is None:
            return None, "utf-8"
        with dbf_path.open("rb") as f:
            dbf = f.read(_DBF_READ_BYTES)
    if _dbf_is_utf8(dbf):
        return "UTF-8", "utf-8"
    log.warning(
        "%s: no .cpg file and the attribute text is not UTF-8; reading it as GB18030 (GBK). "
        "Pass the encoding if the Chinese text looks wrong.",
        name,
    )
    return "GB18030", "gb18030"


def _read_vector(
    p: Path, name: str, layer: str | None, encoding: str | None, option: tuple[str, str] | None
) -> RawTable:
    suffix = p.suffix.lower()
    fix = f"open it in QGIS or ArcGIS and export it again as {_SUPPORTED}."
    try:
        with _warnings_to_log(name):  # GDAL's complaints about a damaged file (found by the property tests)
            layers = pyogrio.list_layers(p)
    except _READ_ERRORS as err:
        raise _unreadable(name, "GIS data", err, fix) from err
    layer_names = [str(n) for n, _ in layers]
    if not layer_names:
        raise InputError([Issue("holds no data layer (the file may be cut off or damaged).", fix, file=name)])
    if layer is None and len(layers) > 1:
        spatial = [str(n) for n, g in layers if g is not None]
        if len(spatial) == 1:
            layer = spatial[0]
        else:
            raise InputError(
                [
                    Issue(
                        f"holds {len(layers)} layers: {', '.join(layer_names)}.",
                        f"choose one with {_pick(option, layer_names[0])}.",
                        file=name,
                    )
                ]
            )
    if layer is not None and layer not in layer_names:
        raise InputError(
            [
                Issue(
                    f'has no layer "{layer}" (layers: {", ".join(layer_names)}).',
                    f"use {_pick(option, _nearest(layer, layer_names) or layer_names[0])}.",
                    file=name,
                )
            ]
        )
    used = "utf-8"
    read_encoding = encoding
    if encoding is not None:
        used = encoding
    elif suffix in (".shp", ".zip"):
        try:
            read_encoding, used = _shapefile_encoding(p, name)
        except _READ_ERRORS as err:
            raise _unreadable(name, "a Shapefile", err, fix) from err
    try:
        with _warnings_to_log(name):
            frame = gpd.read_file(p, layer=layer, engine="pyogrio", encoding=read_encoding)
    except _READ_ERRORS as err:
        raise _unreadable(name, "GIS data", err, fix) from err
    frame = frame.reset_index(drop=True)
    rows = np.arange(1, len(frame) + 1, dtype=np.int64)
    log.info("%s: read %d features (%s)", name, len(frame), used)
    return RawTable(frame=frame, file=name, rows=rows, encoding=used, kind="vector")
