"""Headers: the alias tables, :func:`normalise_header`, the report that collects the issues of a file,
finding each canonical column by its header, and the messages for a missing column.

Columns are found by header (see :data:`BLOCK_ALIASES` and :data:`SCHOOL_ALIASES`, matched after
:func:`normalise_header`) or named by the caller with ``columns={"students": "students_k4"}`` (the CLI's
``--students-col``).  Errors raise one :class:`~zoning.errors.InputError` listing every problem of the
file; the returned list holds the warnings (lossy-but-valid choices), which are also logged.
"""

from __future__ import annotations

import difflib
import logging
import re
import unicodedata
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal

import geopandas as gpd

from ...errors import InputError, Issue
from ..files import RawTable, row_label

__all__ = ["normalise_header", "BLOCK_ALIASES", "SCHOOL_ALIASES", "SITE_ALIASES"]

log = logging.getLogger(__name__)

_LON = (
    "lon",
    "经度",
    "lng",
    "longitude",
    "long",
    "x",
    "lon_wgs84",
    "lon_gcj02",
    "lon_bd09",
    "lng_gcj02",
    "lng_bd09",
)
_LAT = ("lat", "纬度", "latitude", "y", "lat_wgs84", "lat_gcj02", "lat_bd09")

#: Headers recognised for each canonical block column, most specific first.  Matching ignores case,
#: spaces, underscores, hyphens, full-width forms and a trailing unit in brackets (``学位数（个）``).
#: ``population`` is only used to estimate children with ``per_1000_rate``.  To support another header,
#: add it here (or name it with ``columns=`` / ``--<name>-col``).
BLOCK_ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "block_id": ("block_id", "小区编号", "地块编号", "编号", "id", "geoid", "block"),
        "name": ("name", "小区名称", "地块名称", "名称", "小区", "楼盘", "block_name"),
        "students": (
            "students",
            "适龄儿童",
            "适龄儿童数",
            "学龄人口",
            "学生数",
            "学位需求",
            "children",
            "pupils",
        ),
        "population": ("population", "人口", "常住人口", "户籍人口", "pop"),
        "current_school": ("current_school", "现学校", "现划片学校", "对口学校", "划片学校"),
        "lon": _LON,
        "lat": _LAT,
    }
)
#: Headers recognised for each canonical school column (see :data:`BLOCK_ALIASES`).  ``classes``
#: (招生班数) gives capacity when there is no capacity column.
SCHOOL_ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "school_id": ("school_id", "学校代码", "学校编号", "学校标识码", "code", "编号", "id"),
        "name": ("name", "学校名称", "学校", "school_name", "school"),
        "capacity": ("capacity", "学位数", "计划招生数", "招生人数", "学位", "seats"),
        "classes": ("classes", "招生班数", "计划招生班数", "班数"),
        "quality": (
            "quality", "办学质量", "质量", "评分", "score", "tier", "等级", "办学等级",
            "重点", "是否重点", "重点学校", "优质学校", "key_school",
        ),
        "stage": ("stage", "学段"),
        "enrolment": (
            "enrolment", "enrollment", "enrollment_latest", "在校生数", "在校学生数", "在校生",
            "学生数", "学生人数", "students",
        ),
        "district": (
            "district", "district_id", "学区", "学区编号", "所属学区", "xuequ", "xuequ_no",
            "教育集团", "集团", "group_id", "group",
        ),
        "lead": ("lead", "is_lead", "学区长学校", "牵头学校", "龙头学校", "集团总校", "总校"),
        "lon": _LON,
        "lat": _LAT,
    }
)  # fmt: skip

#: Headers recognised in a file of candidate sites for new schools (read as schools): their own ids, names and
#: planned seats first (a 候选点 or 地块 of the land-use plan), then the schools' headers.
SITE_ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        **SCHOOL_ALIASES,
        "school_id": (
            "site_id", "候选点编号", "候选地块编号", "地块编号", "选址编号", "用地编号", "site",
            *SCHOOL_ALIASES["school_id"],
        ),
        "name": ("site_name", "候选点名称", "候选点", "地块名称", "选址名称", "名称", *SCHOOL_ALIASES["name"]),
        "capacity": ("规划学位", "规划学位数", *SCHOOL_ALIASES["capacity"]),
        "classes": ("规划班数", "规划招生班数", *SCHOOL_ALIASES["classes"]),
    }
)  # fmt: skip

_REQUIRED_FIX_EXAMPLE = {"students": "适龄儿童", "capacity": "学位数", "lon": "经度", "lat": "纬度"}
_WHAT = {
    "block_id": "block id",
    "school_id": "school id",
    "name": "name",
    "students": "number of children",
    "population": "population",
    "current_school": "current school",
    "capacity": "capacity (seats)",
    "classes": "number of entry classes",
    "quality": "quality",
    "stage": "stage",
    "enrolment": "enrolment (children enrolled)",
    "district": "school district (学区 / 教育集团)",
    "lead": "lead school (学区长学校 / 总校)",
    "lon": "longitude",
    "lat": "latitude",
}


# -------------------------------------------------------------------------------------------- parsing


def normalise_header(text: object) -> str:
    """A header as compared with the alias tables: NFKC (full-width → half-width), case-folded, without
    spaces, underscores, hyphens, a BOM or a trailing unit in brackets."""
    s = unicodedata.normalize("NFKC", str(text)).replace("\ufeff", "").casefold().strip()
    s = re.sub(r"\s*[(\[【][^()\[\]【】]*[)\]】]$", "", s) or s
    return re.sub(r"[\s_\-]+", "", s)


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, normalise_header(a), normalise_header(b)).ratio()


def _quote_list(values: Sequence[str], limit: int = 30) -> str:
    shown = ", ".join(f'"{v}"' for v in values[:limit])
    return shown + (f", … ({len(values) - limit} more)" if len(values) > limit else "")


# ------------------------------------------------------------------------------------------- the report


class _Report:
    """Issues of one file, and where its canonical columns are."""

    def __init__(self, raw: RawTable, what: str, flag_prefix: str | None = None):
        self.raw = raw
        self.what = what  # "block" / "school"
        # the CLI's flags naming this file's columns, when not the table's own: "site" for candidate sites
        # read as schools (--site-id-col, --site-capacity-col, …)
        self.flag_prefix = flag_prefix
        self.cols: dict[str, str] = {}
        # canonical columns the caller named with a header that does not exist (reported once)
        self.misnamed: set[str] = set()
        self.issues: list[Issue] = []
        # rows that are a table's total (合计), not data: named once, their other problems not listed
        self.totals: set[int] = set()

    def flag(self, canon: str) -> str:
        """The CLI flag naming the column ``canon`` of this file."""
        if self.flag_prefix:
            return f"--{self.flag_prefix}-{canon.removeprefix(self.what + '_').replace('_', '-')}-col"
        return _flag(canon, self.what)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    def row(self, k: int | None) -> int | str | None:
        """Row ``k`` of the frame as the user sees it: a number, or a database row's key (``id=14``)."""
        return None if k is None else row_label(self.raw.rows[k])

    def _add(
        self,
        severity: Literal["error", "warning"],
        message: str,
        fix: str,
        k: int | None,
        canon: str | None,
        kw: dict[str, Any],
    ) -> Issue:
        """Record an issue at row ``k`` in the column of ``canon`` (or the ``column`` given in ``kw``); at a
        total row only the issue saying so (``total=True``) is recorded."""
        total = kw.pop("total", False)
        column = kw.pop("column", self.cols.get(canon) if canon else None)
        issue = Issue(
            message, fix, file=self.raw.file, row=self.row(k), column=column, severity=severity, **kw
        )
        if total or k not in self.totals:
            self.issues.append(issue)
        return issue

    def error(
        self, message: str, fix: str, *, k: int | None = None, canon: str | None = None, **kw: Any
    ) -> None:
        self._add("error", message, fix, k, canon, kw)

    def warn(
        self, message: str, fix: str = "", *, k: int | None = None, canon: str | None = None, **kw: Any
    ) -> None:
        log.warning("%s", self._add("warning", message, fix, k, canon, kw))

    def raise_if_errors(self) -> None:
        """One InputError with every issue: file-wide ones first, then by row (stable within a row)."""
        if self.errors:
            order = {row_label(r): n for n, r in enumerate(self.raw.rows)}  # a key (id=14) sorts as read
            raise InputError(sorted(self.issues, key=lambda i: (i.row is not None, order.get(i.row, 0))))

    def rows_text(self, ks: Sequence[int], limit: int = 20) -> str:
        shown = ", ".join(str(self.row(k)) for k in ks[:limit])
        return shown + (f", … ({len(ks) - limit} more)" if len(ks) > limit else "")


def _headers(raw: RawTable) -> list[str]:
    frame = raw.frame
    geom = frame.active_geometry_name if isinstance(frame, gpd.GeoDataFrame) else None
    return [str(c) for c in frame.columns if c != geom]


def _flag(canon: str, what: str = "") -> str:
    """The CLI flag naming a column: --students-col, --block-id-col, --school-name-col, …"""
    if canon in ("name", "lon", "lat") and what:
        return f"--{what}-{canon}-col"
    return f"--{canon.replace('_', '-')}-col"


def _nearest_header(candidates: Sequence[str], targets: Sequence[str], cutoff: float = 0.5) -> str | None:
    best, best_score = None, cutoff
    for header in candidates:
        score = max(_similarity(header, t) for t in targets)
        if score > best_score:
            best, best_score = header, score
    return best


def _by_norm(headers: Sequence[str]) -> dict[str, list[str]]:
    by_norm: dict[str, list[str]] = {}
    for h in headers:
        by_norm.setdefault(normalise_header(h), []).append(h)
    return by_norm


def _named_header(headers: Sequence[str], given: str) -> tuple[str | None, str | None]:
    """The header a caller named (exactly, else the only one equal after :func:`normalise_header`), and
    when there is none, the most similar header (None in a file without headers)."""
    if given in headers:
        return given, None
    same = _by_norm(headers).get(normalise_header(given), [])
    if len(same) == 1:
        return same[0], None
    return None, (max(headers, key=lambda h: _similarity(h, given)) if headers else None)


def _resolve(rep: _Report, aliases: Mapping[str, tuple[str, ...]], columns: Mapping[str, str] | None) -> None:
    """Fill ``rep.cols`` (canonical → header): the caller's ``columns`` first, then the alias table."""
    headers = _headers(rep.raw)
    by_norm = _by_norm(headers)
    claimed: set[str] = set()
    columns = {canon: given for canon, given in (columns or {}).items() if given}
    for canon, given in columns.items():
        if canon not in aliases:
            rep.error(
                f'"{canon}" is not a {rep.what} column zoning knows (known: {", ".join(aliases)}).',
                "name one of the known columns.",
                column=None,
            )
            continue
        header, nearest = _named_header(headers, given)
        if header is None:
            hint = f' The nearest header is "{nearest}".' if nearest else ""
            rep.error(
                f'has no column "{given}" (named for {canon}); headers found: {_quote_list(headers)}.{hint}',
                f'use {rep.flag(canon)} "{nearest}".'
                if nearest
                else f"check the spelling of {rep.flag(canon)}.",
                column=None,
                value=given,
            )
            rep.misnamed.add(canon)
            continue
        rep.cols[canon] = header
        claimed.add(header)
    for canon, names in aliases.items():
        if canon in rep.cols or canon in columns:
            continue
        found: list[str] = []
        for alias in names:
            for h in by_norm.get(normalise_header(alias), []):
                if h not in claimed and h not in found:
                    found.append(h)
        if not found:
            continue
        rep.cols[canon] = found[0]
        claimed.add(found[0])
        if len(found) > 1:
            rep.warn(
                f'several columns could be the {_WHAT[canon]}: {_quote_list(found)}; using "{found[0]}".',
                f"name another one with {rep.flag(canon)} NAME.",
                column=found[0],
            )


def _missing_column(
    rep: _Report, canon: str, aliases: Mapping[str, tuple[str, ...]], extra_fix: str = ""
) -> None:
    if canon in rep.misnamed:
        return  # reported already
    headers = [h for h in _headers(rep.raw) if h not in rep.cols.values()]
    nearest = _nearest_header(headers, aliases[canon])
    looked = ", ".join(aliases[canon][:6])
    message = f"has no {_WHAT[canon]} column (looked for {looked}, …); headers found: {_quote_list(_headers(rep.raw))}."
    if nearest:
        message += f' The nearest header is "{nearest}".'
        fix = f'name the column with {rep.flag(canon)} "{nearest}"'
    else:
        fix = f"name the column with {rep.flag(canon)} NAME"
        if canon in _REQUIRED_FIX_EXAMPLE:
            fix += f' or call it "{_REQUIRED_FIX_EXAMPLE[canon]}"'
    rep.error(message, fix + (f", {extra_fix}" if extra_fix else "") + ".", column=None)
