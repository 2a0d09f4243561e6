"""The 划片 announcement: for every school its 学区 and lead school, its seats, and its zone as the list of 小区.

This is the form in which Chinese bureaus publish attendance zones for public comment (公开征求意见): a numbered
section per school, then its 招生范围 as the names of the residential compounds it serves, in the order a
resident reads them (by name, or by 社区 / street when the blocks carry such a group).  A last section,
调整情况, says what changes against the current assignment (each block's ``current_school``): for every pair
原学校 → 新学校 the 小区 that move and their children, and the 小区 newly zoned (新划入: no current school), since
that is what residents ask about first.  Four files come from it: ``announce.md`` (to read and to paste into a
notice), ``announce.docx`` (python-docx, for the bureau's Word template), ``announce.csv`` (one row per block:
which school, which 学区) and ``announce_changes.csv`` (one row per block that changes school, to filter in
Excel / WPS; only its header when nothing changes or the data have no current assignment).

Functions take frames and return values; the files are written through ``io.save`` (all four or none).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import docx  # python-docx
import numpy as np
import pandas as pd

from ..errors import InputError, Issue, kind_of
from ..io.save import bytes_writer, csv_writer, text_writer, write_files
from ..plan import DISTRICT_WORDS, UNIT_WORDS, district_kind_of, units_of

__all__ = [
    "ANNOUNCE_FILES",
    "NEWLY_ZONED",
    "Section",
    "announce",
    "announcement",
    "announcement_changes",
    "current_schools",
    "change_pairs",
    "match_groups",
    "announcement_markdown",
    "announcement_docx",
    "announcement_csv",
    "write_announcement",
]

ANNOUNCE_FILES = ("announce.md", "announce.docx", "announce.csv", "announce_changes.csv")
#: What the 原学校 column says for a block with no current school.
NEWLY_ZONED = "新划入 newly zoned"
_NUMERALS = "零一二三四五六七八九"
#: The default title, by what the blocks are (a feeder plan's are primary zones: 直对入学).
TITLES = {"blocks": "义务教育学校招生范围（划片）", "primary zones": "初中对口入学范围（直对入学）"}
_CHANGES_HEAD = "调整情况 changes against the current assignment"
_CHANGE_COLUMNS = [
    "from_school_id",
    "from_school_name",
    "to_school_id",
    "to_school_name",
    "block_id",
    "block_name",
    "children",
]


@dataclass(frozen=True)
class Section:
    """One school's part of the announcement."""

    school_id: str
    school_name: str
    capacity: float | None
    district: str | None  # 学区 (district id), None without districts
    lead_name: str | None  # 学区长学校 of that district
    groups: tuple[tuple[str | None, tuple[str, ...]], ...]  # (社区 / street or None, 小区 names)
    district_kind: str = "school districts"  # or "education groups": 教育集团, led by a 牵头学校

    @property
    def n_blocks(self) -> int:
        return sum(len(names) for _, names in self.groups)


def announcement(
    blocks: pd.DataFrame,
    schools: pd.DataFrame,
    *,
    groups: Mapping[str, str] | pd.Series | None = None,
    district_kind: str = "school districts",
) -> list[Section]:
    """The sections of the announcement, one per school in the schools table's order.

    ``blocks``: block_id, name, school_id (a plan's blocks table); ``schools``: school_id, name, capacity,
    and, with districts, district_id and lead_name.  ``groups``: block_id → 社区 / street, to list
    each school's 小区 under their group.  ``district_kind``: "school districts" (学区) or "education
    groups" (教育集团, :func:`~zoning.plan.district_kind_of` the plan's rules).  Every block is listed
    exactly once, under its school."""
    group_of = pd.Series(groups, dtype=object) if groups is not None else None
    names = blocks["name"].astype(str) if "name" in blocks else blocks["block_id"].astype(str)
    table = pd.DataFrame(
        {
            "block_id": blocks["block_id"].astype(str),
            "name": names,
            "school_id": blocks["school_id"].astype(str),
        }
    )
    if group_of is not None:
        group_of.index = group_of.index.astype(str)
        table["group"] = table["block_id"].map(group_of).map(_text)  # blank cells: no group
    out = []
    for _, s in schools.iterrows():
        sid = str(s["school_id"])
        mine = table[table["school_id"] == sid]
        if group_of is None:
            listed = ((None, tuple(sorted(mine["name"], key=_natural))),)
        else:
            listed = tuple(
                (None if pd.isna(g) else str(g), tuple(sorted(part["name"], key=_natural)))
                for g, part in sorted(
                    mine.groupby("group", dropna=False), key=lambda kv: (pd.isna(kv[0]), _natural(kv[0]))
                )
            ) or ((None, ()),)  # a school with no block: its scope says so
        district = s.get("district_id")
        out.append(
            Section(
                school_id=sid,
                school_name=str(s.get("name", sid)),
                capacity=None if pd.isna(s.get("capacity", float("nan"))) else float(s["capacity"]),
                district=None if district is None or pd.isna(district) else str(district),
                lead_name=None if pd.isna(s.get("lead_name", float("nan"))) else str(s["lead_name"]),
                groups=listed,
                district_kind=district_kind,
            )
        )
    return out


def _text(value) -> str | None:
    """A cell as text, None when empty (NaN, None, blank)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


def current_schools(blocks: pd.DataFrame, schools: pd.DataFrame) -> list[str | None]:
    """Every block's current school as a school id, read as the plan's model reads ``current_school`` (a
    school's id, else its name); text that names no school (a school that closes) is kept as written, and
    None is a block no school serves today (or all None when the blocks have no such column)."""
    if "current_school" not in blocks:
        return [None] * len(blocks)
    ids = schools["school_id"].astype(str).tolist()
    names = schools["name"].astype(str).tolist() if "name" in schools else ids
    id_of = dict(zip(names, ids)) | {sid: sid for sid in ids}  # ids win over names, as in the model
    return [None if (c := _text(v)) is None else id_of.get(c, c) for v in blocks["current_school"]]


def announcement_changes(blocks: pd.DataFrame, schools: pd.DataFrame) -> pd.DataFrame | None:
    """One row per block whose school changes against the current assignment, or None when no block
    carries a current school (the data have no current zones, so there is nothing to compare).

    ``blocks``: block_id, name, school_id, students, current_school (see :func:`current_schools`).  A block
    with an empty current school is newly zoned (原学校 :data:`NEWLY_ZONED`); a current school that is not
    in ``schools`` (one that closes) is kept as written.  Columns: from_school_id (None when newly zoned),
    from_school_name, to_school_id, to_school_name, block_id, block_name, children; ordered by the schools
    table's order of the current school (closing schools, then newly zoned, last), the new school, and the
    小区 name."""
    current = current_schools(blocks, schools)
    if all(c is None for c in current):
        return None
    ids = schools["school_id"].astype(str).tolist()
    name_of = dict(zip(ids, schools["name"].astype(str) if "name" in schools else ids))
    rank = {sid: k for k, sid in enumerate(ids)}
    last = len(ids)
    rows = []
    for block_id, name, to, children, cur in zip(
        blocks["block_id"].astype(str),
        blocks["name"].astype(str) if "name" in blocks else blocks["block_id"].astype(str),
        blocks["school_id"].astype(str),
        blocks["students"].to_numpy(dtype=float) if "students" in blocks else np.zeros(len(blocks)),
        current,
        strict=True,
    ):
        if cur == to:
            continue
        order = (rank.get(cur, last) if cur is not None else last + 1, rank.get(to, last), name)
        from_name = NEWLY_ZONED if cur is None else name_of.get(cur, cur)
        rows.append((order, cur, from_name, to, name_of.get(to, to), block_id, name, float(children)))
    rows.sort(key=lambda r: r[0])
    return pd.DataFrame([r[1:] for r in rows], columns=_CHANGE_COLUMNS)


def match_groups(blocks: pd.DataFrame, groups: pd.Series, *, source: str) -> tuple[pd.Series, list[str]]:
    """The groups of the plan's blocks (block_id → group) and the ids of the blocks with none (not in
    ``groups``, or an empty cell), which the announcement lists under 其他.

    ``groups`` comes from ``source`` (a file): when it holds none of the plan's blocks, the file is not the
    one the plan was made from, or its ids were read from another column: an InputError says which."""
    ids = blocks["block_id"].astype(str)
    groups = groups.copy()
    groups.index = groups.index.astype(str)
    groups = groups[~groups.index.duplicated()]
    if len(ids) and not ids.isin(groups.index).any():
        raise InputError(
            [
                Issue(
                    f"holds none of the plan's {len(ids):,} blocks (plan ids such as "
                    f'"{ids.iloc[0]}"; ids in the file such as "{groups.index[0] if len(groups) else "—"}").',
                    "give the blocks file the plan was made from, and its id column with --block-id-col if "
                    "zoning partition had one.",
                    file=source,
                )
            ]
        )
    none = ids.map(groups).map(_text).isna()
    return groups, ids[none.to_numpy()].tolist()


def change_pairs(changes: pd.DataFrame) -> list[tuple[str, str, tuple[str, ...], float]]:
    """The changes by pair of schools, in the table's order: (原学校, 新学校, the 小区 names, children)."""
    grouped = changes.groupby(["from_school_name", "to_school_name"], sort=False)
    return [(a, b, tuple(part["block_name"]), float(part["children"].sum())) for (a, b), part in grouped]


def _children(x: float) -> str:
    """Children as a bureau writes them: whole numbers without decimals, estimates with one."""
    return f"{x:,.0f}" if abs(x - round(x)) < 1e-6 else f"{x:,.1f}"


def _changes_lead(changes: pd.DataFrame | None, units: str = "blocks") -> str:
    """The one line that opens the changes section (or is all of it)."""
    u_zh, u_en, us_en = UNIT_WORDS[units]
    if changes is None:
        return (
            "数据中没有现行划片（current_school），无从比较。 The data carry no current assignment "
            "(current_school), so there is nothing to compare."
        )
    new = changes["from_school_id"].isna()
    moved, zoned = changes[~new], changes[new]
    if not len(changes):
        return (
            f"与现行划片相比，没有{u_zh}调整学校。 No {u_en} changes school against the current assignment."
        )
    parts_zh, parts_en = [], []
    for part, zh, en in ((moved, "调整学校", "change school"), (zoned, "新划入", "newly zoned")):
        if len(part):
            kids = _children(part["children"].sum())
            parts_zh.append(f"{len(part):,} 个{u_zh}{zh}（{kids} 名儿童）")
            parts_en.append(f"{len(part):,} {u_en if len(part) == 1 else us_en} ({kids} children) {en}")
    return "与现行划片相比，" + "，".join(parts_zh) + "。 " + "; ".join(parts_en) + "."


def _number(k: int) -> str:
    """1 → 一, 12 → 十二, 25 → 二十五 (the numbering of a Chinese notice); from 100 on, digits."""
    if k < 10:
        return _NUMERALS[k]
    if k >= 100:
        return str(k)
    tens, ones = divmod(k, 10)
    return ("" if tens == 1 else _NUMERALS[tens]) + "十" + (_NUMERALS[ones] if ones else "")


def _head(k: int, sec: Section, units: str = "blocks") -> str:
    facts = []
    if sec.district is not None:
        d_zh, d_en, _, lead_zh = DISTRICT_WORDS[sec.district_kind]
        facts.append(
            f"{d_zh} {d_en} {sec.district}" + (f"，{lead_zh} lead {sec.lead_name}" if sec.lead_name else "")
        )
    if sec.capacity is not None:
        facts.append(f"学位 seats {sec.capacity:,.0f}")
    facts.append(f"{UNIT_WORDS[units][0]} {UNIT_WORDS[units][2]} {sec.n_blocks}")
    return f"{_number(k)}、{sec.school_name}（{'；'.join(facts)}）"


def _scope(names: tuple[str, ...]) -> str:
    return "、".join(names) + "。" if names else "（无 none）"


def _label(group: str | None, sec: Section) -> str:
    """What a paragraph of 小区 is headed by: its group, 其他 for the ungrouped beside groups, else 招生范围."""
    if group:
        return group
    return "其他 other" if len(sec.groups) > 1 else "招生范围 catchment"


def _change_heads(units: str) -> tuple[str, str, str, str]:
    """The columns of the changes table."""
    return ("原学校 from", "新学校 to", f"{UNIT_WORDS[units][0]} {UNIT_WORDS[units][2]}", "儿童 children")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def announcement_markdown(
    sections: list[Section],
    *,
    changes: pd.DataFrame | None = None,
    title: str | None = None,
    units: str = "blocks",
) -> str:
    """The announcement as Markdown: a heading per school, its 招生范围 as one paragraph (or one per group),
    then the changes against the current assignment (:func:`announcement_changes`; None: the data have
    none, said in one line) as a table of pairs 原学校 → 新学校.  ``units``: what the blocks are ("primary
    zones" for a feeder plan: 小学片区, and its title then 直对入学); ``title`` None: :data:`TITLES`'."""
    lines = [f"# {title or TITLES[units]}", ""]
    for k, sec in enumerate(sections, start=1):
        lines += [f"## {_head(k, sec, units)}", ""]
        for group, names in sec.groups:
            label = f"**{group}**：" if group else f"{_label(group, sec)}："
            lines += [label + _scope(names), ""]
    lines += [f"## {_CHANGES_HEAD}", "", _changes_lead(changes, units), ""]
    if changes is not None and len(changes):
        lines += ["| " + " | ".join(_change_heads(units)) + " |", "|---|---|---|---:|"]
        for a, b, names, children in change_pairs(changes):
            lines.append(f"| {_cell(a)} | {_cell(b)} | {_cell('、'.join(names))} | {_children(children)} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def announcement_docx(
    sections: list[Section],
    *,
    changes: pd.DataFrame | None = None,
    title: str | None = None,
    units: str = "blocks",
) -> bytes:
    """The announcement as a Word document (python-docx): the same headings, paragraphs and changes table
    as the Markdown."""
    doc = docx.Document()
    doc.add_heading(title or TITLES[units], level=0)
    for k, sec in enumerate(sections, start=1):
        doc.add_heading(_head(k, sec, units), level=1)
        for group, names in sec.groups:
            para = doc.add_paragraph()
            para.add_run(f"{_label(group, sec)}：").bold = True
            para.add_run(_scope(names))
    doc.add_heading(_CHANGES_HEAD, level=1)
    doc.add_paragraph(_changes_lead(changes, units))
    if changes is not None and len(changes):
        pairs = change_pairs(changes)
        table = doc.add_table(rows=1 + len(pairs), cols=4)
        table.style = "Table Grid"
        for c, head in enumerate(_change_heads(units)):
            table.rows[0].cells[c].text = head
            table.rows[0].cells[c].paragraphs[0].runs[0].bold = True
        for row, (a, b, names, children) in zip(table.rows[1:], pairs, strict=True):
            for c, text in enumerate((a, b, "、".join(names), _children(children))):
                row.cells[c].text = text
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def announcement_csv(sections: list[Section]) -> pd.DataFrame:
    """One row per block: school, 学区, group, 小区 (for Excel / WPS)."""
    rows = [
        {
            "school_id": sec.school_id,
            "school_name": sec.school_name,
            "district_id": sec.district,
            "lead_name": sec.lead_name,
            "group": group,
            "block_name": name,
        }
        for sec in sections
        for group, names in sec.groups
        for name in names
    ]
    return pd.DataFrame(
        rows, columns=["school_id", "school_name", "district_id", "lead_name", "group", "block_name"]
    )


def write_announcement(
    sections: list[Section],
    out_dir: str | os.PathLike[str],
    *,
    changes: pd.DataFrame | None = None,
    title: str | None = None,
    overwrite: bool = False,
    units: str = "blocks",
) -> dict:
    """Write announce.md, announce.docx, announce.csv and announce_changes.csv into ``out_dir`` (all four or
    none).  ``changes``: :func:`announcement_changes` (None: the data have no current assignment); ``units``:
    what the blocks are ("primary zones" for a feeder plan)."""
    kw = {"title": title, "units": units}
    writers = {
        "announce.md": text_writer(announcement_markdown(sections, changes=changes, **kw)),
        "announce.docx": bytes_writer(announcement_docx(sections, changes=changes, **kw)),
        "announce.csv": csv_writer(announcement_csv(sections)),
        "announce_changes.csv": csv_writer(
            changes if changes is not None else pd.DataFrame(columns=_CHANGE_COLUMNS)
        ),
    }
    return write_files(out_dir, writers, overwrite=overwrite)


def announce(
    plan,
    out_dir: str | os.PathLike[str],
    *,
    groups: Mapping[str, str] | pd.Series | None = None,
    title: str | None = None,
    overwrite: bool = False,
) -> dict:
    """Write the announcement of ``plan`` (a :class:`~zoning.Plan`) into ``out_dir``: announce.md / .docx /
    .csv and announce_changes.csv, all four or none; existing ones are kept unless ``overwrite``.

    ``groups``: block_id → 社区 / street, to list each school's 小区 under their group (e.g.
    ``zoning.read_blocks(path, keep=["社区"]).set_index("block_id")["社区"]``)."""
    if not getattr(plan, "has_zones", False):  # districts on schools alone: no 小区 to list
        raise InputError([Issue("the plan holds districts drawn on schools alone: there are no 小区 / blocks to "
                                "announce", "announce a plan of attendance zones (zoning.assign_zones, then "
                                "form_districts(…, plan=…) for 学区 too)")])  # fmt: skip
    if groups is not None and not isinstance(groups, Mapping | pd.Series):
        raise InputError(
            [Issue(f"groups is {kind_of(groups)}", "give block_id → 社区 as a dict or a Series")]
        )
    sections = announcement(
        plan.blocks, plan.schools, groups=groups, district_kind=district_kind_of(plan.rules)
    )
    changes = announcement_changes(plan.blocks, plan.schools)
    units = units_of(plan.rules)
    return write_announcement(
        sections, out_dir, changes=changes, title=title, overwrite=overwrite, units=units
    )


def _natural(text) -> tuple:
    """Sort key reading the numbers in a name as numbers: 网格2号 before 网格19号, 3栋 before 12栋."""
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", str(text)) if t)
