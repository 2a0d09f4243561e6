"""Zones over a horizon with schools opening on the way: every block changes school at most once.

A bureau that builds a school opening in 2028 announces the zones of 2028 now, and families ask when they
move.  :func:`plan_horizon` answers with one rule: a block moves once, to its school in the plan drawn for the
years when every school of the horizon is open, in the first year that school is open; until then it stays at
its current school.  So each block's school over the years is today's, then (at most once) its final one.

The final plan is drawn on each block's largest cohort of the years after the last opening (as
:func:`~zoning.scenarios.years.peak_demand`), with the current school as the move-penalty reference.  The years
before carry a school's own blocks that wait for a new school: a school can then be over its seats, and
:func:`plan_horizon` says which year and school and by how much ("2027: 实验小学 short 25 seats") rather than
move a block twice.  Blocks with no current school and no school open yet are named too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InputError, Issue, name_list
from ..options import SolveOptions
from ..plan import Plan
from ..zones.api import assign_zones
from .years import peak_demand, year_breaks, year_loads

__all__ = ["Horizon", "plan_horizon", "parse_opens"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Horizon:
    """The zones once every school of the horizon is open (``plan``), every block's school in every year
    (``phases``: block_id, then one column per year), every school's children and seats in every year under
    those phases (``loads``: year, school_id, name, children, seats, over), the breaks in words, and notes."""

    plan: Plan
    phases: pd.DataFrame
    loads: pd.DataFrame
    breaks: tuple[str, ...]
    notes: tuple[str, ...]


def parse_opens(schools: pd.DataFrame, column: str) -> dict[str, int]:
    """school_id → the year it opens, from a schools column (blank: open already).  An InputError names the
    schools whose cell is not a year."""
    if column not in schools.columns:
        raise InputError(
            [Issue("the schools have no such column.", "name the column of opening years.", column=column)]
        )
    out, bad = {}, []
    for sid, name, value in zip(schools["school_id"], schools["name"], schools[column], strict=True):
        if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
            continue
        try:
            out[str(sid)] = int(float(str(value).strip()))
        except ValueError:
            bad.append(f"{name} ({value!r})")
    if bad:
        raise InputError(
            [Issue(f"{len(bad)} school(s) with an opening year that is not a year: {name_list(bad)}.",
                   "write the year the school opens (e.g. 2028), or leave it blank if it is open.", column=column)]
        )  # fmt: skip
    return out


def plan_horizon(
    blocks: gpd.GeoDataFrame,
    schools: gpd.GeoDataFrame,
    years: Mapping[str, str],
    *,
    opens: Mapping[str, int] | None = None,
    options: SolveOptions = SolveOptions(),
    **rules,
) -> Horizon:
    """Zones for the horizon ``years`` (year → block column of children), schools opening in the years
    ``opens`` (school_id → year; others are open), each block changing school at most once (module docstring).

    ``rules``: the other rules of :func:`~zoning.assign_zones` (max_distance_m, move_penalty_m, …).  Schools
    opening after the last year are left out (a note says so)."""
    opens = {str(k): int(v) for k, v in (opens or {}).items()}
    ids = schools["school_id"].astype(str)
    unknown = sorted(set(opens) - set(ids))
    if unknown:
        raise InputError([Issue(f"no school has the id {name_list(unknown)}.", "name schools by their id.")])
    order = sorted(years, key=int)
    first, last = int(order[0]), int(order[-1])
    notes = []
    later = [sid for sid, y in opens.items() if y > last]
    if later:
        notes.append(f"opening after {last}, left out: {name_list(schools.loc[ids.isin(later), 'name'])}")
    final_schools = schools[~ids.isin(later)]
    opening = sorted({y for y in opens.values() if first < y <= last})
    final_years = [y for y in order if int(y) >= (opening[-1] if opening else first)]
    peak_blocks, note = peak_demand(blocks, {y: years[y] for y in final_years})
    notes.append(note)
    plan = assign_zones(peak_blocks, final_schools, options=options, **rules)

    final = plan.assignment.reindex(blocks["block_id"]).to_numpy()
    current = np.full(len(blocks), None, dtype=object)
    if "current_school" in blocks.columns:  # a current school no longer in the schools cannot be stayed at
        cur = blocks["current_school"].astype(object).to_numpy()
        keep = pd.Series(cur).astype(str).isin(set(ids)).to_numpy() & ~pd.isna(cur)
        current[keep] = cur[keep]
    phases = {"block_id": blocks["block_id"].to_numpy()}
    stranded: dict[str, list] = {}
    for year in order:
        open_now = np.array([opens.get(str(s), first) <= int(year) for s in final], dtype=bool)
        school = np.where(open_now, final, current).astype(object)
        lost = pd.isna(school)
        if lost.any():
            stranded[year] = blocks["block_id"].to_numpy()[lost].tolist()
        phases[year] = school
    phases = pd.DataFrame(phases)
    if stranded:
        year, lost = next(iter(stranded.items()))
        raise InputError(
            [Issue(f"{len(lost)} block(s) have no school in {year}: their school in the plan opens later and "
                   f"they have no current school ({name_list(lost)}).",
                   "give them a current school (--current-school-col), or open their school earlier.")]
        )  # fmt: skip
    if opening:
        moved_late = (phases[order[0]] != phases[order[-1]]).sum()
        notes.append(
            f"{moved_late} block(s) stay at their current school until their new school opens "
            f"({', '.join(str(y) for y in opening)}); every block changes school at most once"
        )
    log.info("horizon %s-%s: schools opening in %s", first, last, opening or "no year")
    loads = year_loads(phases, blocks, schools, {y: years[y] for y in order})
    names = dict(zip(schools["school_id"].astype(str), schools["name"], strict=True))
    coming = sorted(opens.items(), key=lambda kv: kv[1])
    waiting = {y: next(f"before {names[s]} opens in {o}" for s, o in coming if o > int(y)) for y in order
               if any(o > int(y) for _, o in coming)}  # fmt: skip
    return Horizon(plan=plan, phases=phases, loads=loads, breaks=tuple(year_breaks(loads, note=waiting)),
                   notes=tuple(notes))  # fmt: skip
