"""Plans side by side: one row per plan from its ``summary.json``, the figures a bureau weighs scenarios by.

:func:`compare_table` takes the summaries (what ``check.metrics.summary`` returns and every plan folder holds)
and returns a table; :func:`compare_markdown` renders it for ``compare.md`` and the terminal.  Pure functions:
``zoning compare`` reads the folders and writes the files.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["compare_table", "compare_markdown", "markdown_table", "area_note", "COLUMNS"]

#: column → (heading, format) of the table, in order.
COLUMNS: dict[str, tuple[str, str]] = {
    "plan": ("方案 plan", "{}"),
    "status": ("状态 status", "{}"),
    "gap": ("差距 proven gap", "{:.2%}"),
    "schools": ("学校 schools", "{:,.0f}"),
    "children": ("儿童 children", "{:,.0f}"),
    "seats": ("学位 seats", "{:,.0f}"),
    "seats_short": ("超额 children over seats", "{:,.0f}"),
    "schools_over": ("超额学校 schools over", "{:,.0f}"),
    "children_moved": ("调整 children moved", "{:,.0f}"),
    "mean_distance_m": ("平均距离 mean m", "{:,.0f}"),
    "max_distance_m": ("最远 max m", "{:,.0f}"),
    "distance_measure": ("距离量法 distance by", "{}"),
    "zones_in_pieces": ("不连片 zones in pieces", "{:,.0f}"),
    "districts": ("学区 districts", "{:,.0f}"),
    "quality_spread": ("质量差 quality spread", "{:.3f}"),
    "coverage_rate": ("优质覆盖率 coverage", "{:.1%}"),
}


#: The columns that hold words, not numbers.
TEXT = ("plan", "status", "distance_measure")


def compare_table(summaries: Mapping[str, dict]) -> pd.DataFrame:
    """One row per plan (name → summary.json), the columns of :data:`COLUMNS` (NaN where a plan has no
    such figure: zones alone have no districts, districts on schools alone no children moved, a given plan
    (``zoning evaluate``) no proven gap)."""
    rows = []
    for name, s in summaries.items():
        row: dict = {"plan": name}
        solve = s.get("solve") or (s.get("districts") or {}).get("solve") or {}
        # zoning evaluate: measured, not solved (older folders said so only in plan_source, with a gap of 0)
        given = solve.get("status") == "given" or str(solve.get("plan_source", "")).startswith("given")
        row["status"] = "given" if given else solve.get("status")
        row["gap"] = None if given else solve.get("gap")
        totals = s.get("totals") or {}
        schools = s.get("schools") or []
        row["schools"] = totals.get("schools", len(schools) or None)
        row["children"] = totals.get("children")
        row["seats"] = totals.get("seats")
        over = [float(x.get("overload") or 0.0) for x in schools]
        row["seats_short"] = sum(over) if schools else None
        row["schools_over"] = totals.get("schools_over_capacity")
        row["children_moved"] = totals.get("children_moved")
        row["mean_distance_m"] = totals.get("mean_distance_m")
        row["max_distance_m"] = totals.get("max_distance_m")
        row["distance_measure"] = _measure(s) if totals else None
        row["zones_in_pieces"] = totals.get("zones_not_contiguous")
        after = (s.get("districts") or {}).get("after") or {}
        row["districts"] = after.get("districts")
        row["quality_spread"] = after.get("quality_spread")
        row["coverage_rate"] = after.get("coverage_rate")
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    numeric = [c for c in COLUMNS if c not in TEXT]
    table[numeric] = table[numeric].apply(pd.to_numeric, errors="coerce")
    return table


def _measure(summary: dict) -> str:
    """How a plan's trips are measured: "road" or "straight line" (folders from before summary.json said so
    in totals: by the rules' travel, straight when they do not say)."""
    said = (summary.get("totals") or {}).get("distance_measure")
    if said:
        return str(said)
    return "road" if (summary.get("rules") or {}).get("travel") == "road" else "straight line"


def area_note(ids: Mapping[str, set], what: str = "blocks") -> str | None:
    """A note when the plans (name → the ids of their blocks, or of their schools for districts drawn on
    schools alone) do not cover the same ``what``, so that a difference of inputs is not read as a difference
    of plans; None when they do.  A scenario keeps its base's blocks (it changes their children, and opens or
    closes schools, by design), so for schools only plans with less than half of them in common are noted."""
    sets = {name: set(map(str, v)) for name, v in ids.items() if v}
    if len(sets) < 2:
        return None
    common = set.intersection(*sets.values())
    largest = max(len(v) for v in sets.values())
    if what == "blocks" and all(len(v) == len(common) for v in sets.values()):
        return None
    if what != "blocks" and len(common) >= largest / 2:
        return None
    sizes = ", ".join(f"{name} {len(v):,}" for name, v in sets.items())
    return (
        f"注意 Note: these plans do not cover the same {what} ({sizes}; {len(common):,} in common): their "
        "figures differ by their inputs as well as by their plans. Compare plans drawn on the same data (a "
        "scenario keeps its base's blocks).\n"
    )


def compare_markdown(table: pd.DataFrame, *, title: str | None = None, notes: tuple[str, ...] = ()) -> str:
    """The table as Markdown, leaving out the columns no plan has a figure for (and how trips are measured
    when every plan's are straight lines); a note under it when the plans' trips are measured differently,
    and the ``notes`` given (:func:`area_note`)."""
    measures = table["distance_measure"].dropna()
    shown = {
        c: COLUMNS[c]
        for c in COLUMNS
        if c in ("plan", "status")
        or (table[c].notna().any() and (c != "distance_measure" or (measures != "straight line").any()))
    }
    text = markdown_table(table, shown, title=title, text=TEXT)
    if measures.nunique() > 1:
        groups = "; ".join(
            f"{how}: {', '.join(map(str, table.loc[measures.index[measures == how], 'plan']))}"
            for how in sorted(measures.unique())
        )
        text += (
            f"\n注意 Note: these plans measure trips differently ({groups}): their mean and max distances do "
            "not compare. Draw them all with --roads, or all without.\n"
        )
    for note in notes:
        text += "\n" + note
    return text


def markdown_table(
    table: pd.DataFrame,
    columns: Mapping[str, tuple[str, str]],
    *,
    title: str | None = None,
    text: tuple[str, ...] = (),
) -> str:
    """``table`` as Markdown: ``columns`` (column → (heading, format)) in order, numbers right-aligned except the
    ``text`` columns, a missing figure as "—"."""
    lines = [f"# {title}", ""] if title else []
    lines.append("| " + " | ".join(heading for heading, _ in columns.values()) + " |")
    lines.append("|" + "|".join("---" if c in text else "---:" for c in columns) + "|")
    for _, row in table.iterrows():
        cells = []
        for c, (_heading, fmt) in columns.items():
            value = row[c]
            if value is None or (isinstance(value, float) and np.isnan(value)):
                cells.append("—")
            else:
                cells.append(fmt.format(value).replace("|", "\\|"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
