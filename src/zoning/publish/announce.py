"""The 划片 announcement: for every school its 学区 and lead school, its seats, and its zone as the list of 小区.

This is the form in which Chinese bureaus publish attendance zones for public comment (公开征求意见): a numbered
section per school, then its 招生范围 as the names of the residential compounds it serves, in the order a
resident reads them (by name, or by 社区 / street when the blocks carry such a group).  Three files come from it:
``announce.md`` (to read and to paste into a notice), ``announce.docx`` (python-docx, for the bureau's Word
template) and ``announce.csv`` (one row per block: which school, which 学区, for Excel / WPS).

Functions take frames and return values; the files are written through ``io.save`` (all three or none).
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from dataclasses import dataclass

import docx  # python-docx
import pandas as pd

from ..io.save import bytes_writer, csv_writer, text_writer, write_files

__all__ = [
    "ANNOUNCE_FILES",
    "Section",
    "announce",
    "announcement",
    "announcement_markdown",
    "announcement_docx",
    "announcement_csv",
    "write_announcement",
]

ANNOUNCE_FILES = ("announce.md", "announce.docx", "announce.csv")
_NUMERALS = "零一二三四五六七八九"


@dataclass(frozen=True)
class Section:
    """One school's part of the announcement."""

    school_id: str
    school_name: str
    capacity: float | None
    district: str | None  # 学区 (district id), None without districts
    lead_name: str | None  # 学区长学校 of that district
    groups: tuple[tuple[str | None, tuple[str, ...]], ...]  # (社区 / street or None, 小区 names)

    @property
    def n_blocks(self) -> int:
        return sum(len(names) for _, names in self.groups)


def announcement(
    blocks: pd.DataFrame, schools: pd.DataFrame, *, groups: Mapping[str, str] | pd.Series | None = None
) -> list[Section]:
    """The sections of the announcement, one per school in the schools table's order.

    ``blocks``: block_id, name, school_id (a plan's blocks table); ``schools``: school_id, name, capacity,
    and, with districts, district_id and lead_name.  ``groups``: block_id → 社区 / street, to list
    each school's 小区 under their group.  Every block is listed exactly once, under its school."""
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
        table["group"] = table["block_id"].map(group_of)
    out = []
    for _, s in schools.iterrows():
        sid = str(s["school_id"])
        mine = table[table["school_id"] == sid]
        if group_of is None:
            listed = ((None, tuple(sorted(mine["name"]))),)
        else:
            listed = tuple(
                (None if pd.isna(g) else str(g), tuple(sorted(part["name"])))
                for g, part in sorted(
                    mine.groupby("group", dropna=False), key=lambda kv: (pd.isna(kv[0]), str(kv[0]))
                )
            )
        district = s.get("district_id")
        out.append(
            Section(
                school_id=sid,
                school_name=str(s.get("name", sid)),
                capacity=None if pd.isna(s.get("capacity", float("nan"))) else float(s["capacity"]),
                district=None if district is None or pd.isna(district) else str(district),
                lead_name=None if pd.isna(s.get("lead_name", float("nan"))) else str(s["lead_name"]),
                groups=listed,
            )
        )
    return out


def _number(k: int) -> str:
    """1 → 一, 12 → 十二, 25 → 二十五 (the numbering of a Chinese notice); from 100 on, digits."""
    if k < 10:
        return _NUMERALS[k]
    if k >= 100:
        return str(k)
    tens, ones = divmod(k, 10)
    return ("" if tens == 1 else _NUMERALS[tens]) + "十" + (_NUMERALS[ones] if ones else "")


def _head(k: int, sec: Section) -> str:
    facts = []
    if sec.district is not None:
        facts.append(
            f"学区 district {sec.district}" + (f"，学区长学校 lead {sec.lead_name}" if sec.lead_name else "")
        )
    if sec.capacity is not None:
        facts.append(f"学位 seats {sec.capacity:,.0f}")
    facts.append(f"小区 blocks {sec.n_blocks}")
    return f"{_number(k)}、{sec.school_name}（{'；'.join(facts)}）"


def _scope(names: tuple[str, ...]) -> str:
    return "、".join(names) + "。" if names else "（无 none）"


def announcement_markdown(sections: list[Section], *, title: str = "义务教育学校招生范围（划片）") -> str:
    """The announcement as Markdown: a heading per school, its 招生范围 as one paragraph (or one per group)."""
    lines = [f"# {title}", ""]
    for k, sec in enumerate(sections, start=1):
        lines += [f"## {_head(k, sec)}", ""]
        for group, names in sec.groups:
            label = f"**{group}**：" if group else "招生范围 catchment："
            lines += [label + _scope(names), ""]
    return "\n".join(lines).rstrip() + "\n"


def announcement_docx(sections: list[Section], *, title: str = "义务教育学校招生范围（划片）") -> bytes:
    """The announcement as a Word document (python-docx): the same headings and paragraphs as the Markdown."""
    doc = docx.Document()
    doc.add_heading(title, level=0)
    for k, sec in enumerate(sections, start=1):
        doc.add_heading(_head(k, sec), level=1)
        for group, names in sec.groups:
            para = doc.add_paragraph()
            para.add_run(f"{group}：" if group else "招生范围 catchment：").bold = True
            para.add_run(_scope(names))
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
    title: str | None = None,
    overwrite: bool = False,
) -> dict:
    """Write announce.md, announce.docx and announce.csv into ``out_dir`` (all three or none)."""
    kw = {} if title is None else {"title": title}
    writers = {
        "announce.md": text_writer(announcement_markdown(sections, **kw)),
        "announce.docx": bytes_writer(announcement_docx(sections, **kw)),
        "announce.csv": csv_writer(announcement_csv(sections)),
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
    """Write the announcement of ``plan`` (a :class:`~zoning.Plan`) into ``out_dir``: announce.md / .docx / .csv.

    ``groups``: block_id → 社区 / street, to list each school's 小区 under their group."""
    return write_announcement(announcement(plan.blocks, plan.schools, groups=groups), out_dir, title=title,
                              overwrite=overwrite)  # fmt: skip
