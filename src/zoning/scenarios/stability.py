"""Stability: children already enrolled stay, only the entry grade follows new zones (分年级过渡).

When a bureau redraws zones, the pupils already in school usually finish where they are; only the entry grade
(一年级 / 七年级) is admitted under the new zones.  The zones are then drawn for the entry cohort, into the seats
the enrolled pupils leave:

    entrants_i = share × children_i            (or given per block)
    seats_j    = seats_j − Σ_{i now at j} (children_i − entrants_i)

so a school full of enrolled pupils admits few new ones, and "children moved" counts entrants only.  A pure
transform of the inputs: :func:`phase_in` returns new blocks and schools and says what it did.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InputError, Issue, name_list

__all__ = ["phase_in"]


def phase_in(
    blocks: gpd.GeoDataFrame,
    schools: gpd.GeoDataFrame,
    *,
    entry_share: float | None = None,
    entrants: pd.Series | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, Issue]:
    """Blocks holding only their entry cohort, and schools holding only the seats left by the pupils who stay.

    ``entry_share``: the entry grade's share of the children (1/6 for one of six primary grades), or
    ``entrants``: the entry cohort of each block (a Series by ``block_id``).  Blocks need ``current_school``
    (where the enrolled pupils are).  Returns the new frames and a note (an :class:`Issue` of severity
    "warning", carried by the plan) saying how many stay and where seats ran out."""
    if (entry_share is None) == (entrants is None):
        raise ValueError("give entry_share or entrants, one of them")
    if "current_school" not in blocks.columns or not blocks["current_school"].notna().any():
        raise InputError(
            [
                Issue(
                    "the blocks have no current school, so nobody is enrolled anywhere to stay.",
                    "give each block's current school (--current-school-col), or leave out the entry share.",
                    column="current_school",
                )
            ]
        )
    children = pd.to_numeric(blocks["students"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    if entry_share is not None:
        if not 0 < entry_share <= 1:
            raise InputError(
                [Issue(f"entry share {entry_share} is not a share.", "give a number in (0, 1].")]
            )
        entry = children * float(entry_share)
    else:
        entry = pd.Series(entrants).reindex(blocks["block_id"]).to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(entry) | (entry < 0) | (entry > children + 1e-9))
        if len(bad):
            raise InputError(
                [
                    Issue(
                        f"{len(bad)} block(s) have no entry cohort, or one larger than their children: "
                        + name_list(blocks["block_id"].astype(str).to_numpy()[bad]),
                        "give each block's entrants, between 0 and its children.",
                        column="entrants",
                    )
                ]
            )
    staying = children - entry
    current = blocks["current_school"].astype(object).where(blocks["current_school"].notna(), None)
    stay_at = pd.Series(staying).groupby(current.to_numpy(), dropna=True).sum()
    seats = pd.to_numeric(schools["capacity"], errors="coerce").to_numpy(dtype=float)
    taken = schools["school_id"].map(stay_at).fillna(0.0).to_numpy(dtype=float)
    left = seats - taken
    full = np.flatnonzero(left < 0)
    out_schools = schools.assign(capacity=np.maximum(left, 0.0))
    out_blocks = blocks.assign(students=entry)
    message = (
        f"zones drawn for the entry cohort: {entry.sum():,.0f} children; the {staying.sum():,.0f} already enrolled "
        f"stay at their schools, in {taken.sum():,.0f} of the {np.nansum(seats):,.0f} seats"
    )
    if len(full):
        names = [f"{schools['name'].iloc[j]} (+{-left[j]:,.0f})" for j in full]
        message += f"; already over their seats with the pupils who stay, admitting none: {name_list(names)}"
    return out_blocks, out_schools, Issue(message, "", severity="warning")
