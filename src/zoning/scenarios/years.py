"""Demand over several years (e.g. forecasts for 2026-2030): one plan that keeps every school within its seats
in every year, and which year and school break under a given plan.

A zone plan sends each block to one school for the whole horizon, so a school's load in year t is the sum of
its blocks' children in year t.  :func:`peak_demand` plans on each block's largest cohort over the years: a plan
within seats on those is within seats in every year (Σ max ≥ max Σ), at the price of some slack where blocks
peak in different years — the per-year table says how much.  :func:`year_loads` gives, for any assignment
(the plan, or today's zones), every school's children and seats in every year, and :func:`year_breaks` the
breaks in the planner's words: "2028: 实验小学 short 190 seats".
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..errors import InputError, Issue

__all__ = ["peak_demand", "year_loads", "year_breaks", "fullest", "parse_years", "children_by_year"]


def parse_years(text: str) -> dict[str, str]:
    """``"2026=学生2026,2027=学生2027"`` → {"2026": "学生2026", "2027": "学生2027"}."""
    years: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        year, sep, column = part.partition("=")
        if not sep or not year.strip() or not column.strip():
            raise InputError(
                [
                    Issue(
                        f'"{part}" is not YEAR=COLUMN.',
                        'write e.g. --years "2026=children_2026,2027=children_2027".',
                    )
                ]
            )
        years[year.strip()] = column.strip()
    if len(years) < 2:
        raise InputError([Issue("--years needs two years or more.", 'e.g. --years "2026=c2026,2027=c2027".')])
    return years


def children_by_year(blocks: pd.DataFrame, years: Mapping[str, str]) -> pd.DataFrame:
    """Blocks × years of children, every cell a number of 0 or more (the rows that are not, listed)."""
    issues = []
    table = {}
    for year, column in years.items():
        if column not in blocks.columns:
            issues.append(
                Issue(f"has no column for {year}.", "name it in --years as in the file.", column=column)
            )
            continue
        values = pd.to_numeric(blocks[column], errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy() | (values < 0).to_numpy())
        if len(bad):
            rows = ", ".join(str(blocks["block_id"].iloc[k]) for k in bad[:5])
            issues.append(
                Issue(
                    f"{len(bad)} block(s) have no number of children for {year} ({rows}).",
                    "enter 0 or more children in every row.",
                    column=column,
                )  # fmt: skip
            )
        table[year] = values.to_numpy(dtype=float)
    if issues:
        raise InputError(issues)
    return pd.DataFrame(table, index=blocks.index)


def peak_demand(blocks: pd.DataFrame, years: Mapping[str, str]) -> tuple[pd.DataFrame, str]:
    """The blocks with ``students`` = each block's largest cohort over ``years`` (year → column), and a line
    saying what the plan is drawn on."""
    table = children_by_year(blocks, years)
    peak = table.max(axis=1)
    first, last = list(years)[0], list(years)[-1]
    note = (
        f"zones drawn on each block's largest cohort of {first}-{last}: {peak.sum():,.0f} children "
        f"(the largest single year: {table.sum().max():,.0f} in {table.sum().idxmax()})"
    )
    return blocks.assign(students=peak.to_numpy()), note


def year_loads(
    assignment: pd.Series | pd.DataFrame,
    blocks: pd.DataFrame,
    schools: pd.DataFrame,
    years: Mapping[str, str],
) -> pd.DataFrame:
    """One row per (year, school): children sent there by ``assignment`` (block_id → school_id; or a frame of
    block_id and one column per year, when the school changes over the years), seats, and children over
    seats.  Blocks the assignment leaves out (no current school) are not counted."""
    table = children_by_year(blocks, years)
    if isinstance(assignment, pd.DataFrame):
        per_year = assignment.set_index("block_id")
        school_in = {year: blocks["block_id"].map(per_year[year]) for year in years}
    else:
        school = blocks["block_id"].map(assignment)
        school_in = dict.fromkeys(years, school)
    rows = []
    seats = dict(zip(schools["school_id"], pd.to_numeric(schools["capacity"], errors="coerce"), strict=True))
    names = dict(zip(schools["school_id"], schools["name"], strict=True))
    for year in years:
        load = table[year].groupby(school_in[year].to_numpy()).sum()
        for sid in schools["school_id"]:
            children = float(load.get(sid, 0.0))
            cap = float(seats[sid])
            rows.append({"year": year, "school_id": sid, "name": names[sid], "children": round(children, 1),
                         "seats": cap, "over": round(max(0.0, children - cap), 1)})  # fmt: skip
    return pd.DataFrame(rows)


def year_breaks(loads: pd.DataFrame, *, note: Mapping[str, str] | None = None) -> list[str]:
    """The (year, school) pairs over seats, worst first within each year: "2028: 实验小学 short 190 seats";
    ``note``: words added to a year's lines (year → e.g. "before 新校 opens in 2028")."""
    out = []
    for year, part in loads[loads["over"] > 0.05].groupby("year", sort=True):
        more = f", {note[str(year)]}" if note and note.get(str(year)) else ""
        for _, r in part.sort_values("over", ascending=False).iterrows():
            out.append(
                f"{year}: {r['name']} short {r['over']:,.0f} seats ({r['children']:,.0f} children, "
                f"{r['seats']:,.0f} seats{more})"
            )
    return out


def fullest(loads: pd.DataFrame) -> str:
    """ "2026: fullest school 83 %; 2027: …": each year's highest share of seats taken."""
    worst = loads.groupby("year").apply(lambda t: (t["children"] / t["seats"]).max(), include_groups=False)
    return "; ".join(f"{y}: fullest school {100 * u:.0f} %" for y, u in worst.items())
