"""Seattle 2015-16 → 2017-18: how much the official redraw moved, and what zoning moves for the same change of
schools (issue 15).

Data: ``../shared/data/seattle_sps`` (Seattle Public Schools, CC0): attendance areas of both years and the
2015-16 school sites.  No children and no seats are in the data, so both come from stated proxies, and the
official redraw is measured with the same proxies as zoning's plans.

1. How much the official redraw moved.  The middle-school (MS) zones of both years are overlaid exactly
   (share of the city's area whose MS changed), and on two kinds of units: a fine square grid (default 400 m)
   and the 57 elementary (ES) zones of 2017-18.  A unit's school in a year is the zone holding most of its
   area.  The elementary zones are measured the same way (ES 2015-16 against ES 2017-18).
2. What zoning moves for the same change of schools.  Units: the grid (default), because its cells have equal
   area — so "children proportional to area" gives each cell the same children — and they are small enough
   for zoning to draw its own boundaries (the 2017-18 ES zones, 57 units for 12 schools, leave it little to
   choose; ``--units es`` runs them).  current_school = the 2015-16 MS zone, schools = the 12 MS of 2017-18,
   seats = 1.05 × the children of the school's official 2017-18 zone, so the official plan fits the seats.
   Runs: the default move penalty (500 m); and no penalty with a cap on children moved equal to the official
   redraw's (the shortest trips for the same number of children moved).  Each plan passes
   ``zoning.plan_violations``; the official plan is run through the same checker.

    python benchmarks/seattle_redraw.py                       # grid of 400 m, 20 s per run
    python benchmarks/seattle_redraw.py --units es --time-limit 10
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import zoning  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "seattle_sps"
#: UTM zone 10N: metres, for Seattle
METRIC_CRS = "EPSG:32610"
#: the proxy total of middle-school children spread over the city by area (shares do not depend on it)
CHILDREN = 12_000
#: seats of each school = its official 2017-18 zone's children × this
SEAT_SLACK = 1.05
#: new middle schools of 2017-18 (not in the 2015-16 sites file): their site is the representative point of
#: their 2017-18 zone
NEW_SITE_PROXY = "representative point of their 2017-18 zone"


# ------------------------------------------------------------------------------------------------ data


def read(name: str) -> gpd.GeoDataFrame:
    """One file of the data set, in the metric CRS."""
    return gpd.read_file(DATA / f"{name}.geojson").to_crs(METRIC_CRS)


def zones(level: str, year: str) -> gpd.GeoDataFrame:
    """Attendance areas of ``level`` (ES / MS) in ``year`` (2015_16 / 2017_18): columns school, geometry."""
    frame = read(f"attendance_areas_{level}_{year}")
    return gpd.GeoDataFrame(
        {"school": frame[f"{level}_ZONE"].str.strip()}, geometry=frame.geometry.values, crs=frame.crs
    )


def normalise(name: str) -> str:
    """A school's name for matching across files: lower case, no "K-8" / "Int'l" / "Elem", no punctuation,
    nothing in brackets ("Olympic Hills (interim at Cedar Park)" → "olympic hills")."""
    name = re.sub(r"\(.*?\)", " ", name.lower())
    name = re.sub(r"\b(k-8|int'l|international|elem|elementary|middle|school|ms)\b", " ", name)
    return re.sub(r"[^a-z0-9]+", " ", name).strip()


def match_names(old: list[str], new: list[str]) -> dict[str, str | None]:
    """new name → the old name it continues (same normalised name), or None (a new school)."""
    by_key = {normalise(o): o for o in old}
    return {n: by_key.get(normalise(n)) for n in new}


# ------------------------------------------------------------------------------------------------ units


def grid_units(area: shapely.Geometry, size_m: float) -> gpd.GeoSeries:
    """Square cells of ``size_m`` clipped to ``area`` (pieces under 1 % of a cell dropped)."""
    x0, y0, x1, y1 = area.bounds
    xs, ys = np.arange(x0, x1, size_m), np.arange(y0, y1, size_m)
    gx, gy = np.meshgrid(xs, ys)
    cells = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + size_m, gy.ravel() + size_m)
    clipped = shapely.intersection(cells, area)
    keep = shapely.area(clipped) > 0.01 * size_m**2
    return gpd.GeoSeries(clipped[keep], crs=METRIC_CRS)


def majority_school(units: gpd.GeoSeries, zone_frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(school holding most of each unit's area, that share of the unit's area)."""
    pieces = gpd.overlay(
        gpd.GeoDataFrame({"unit": np.arange(len(units))}, geometry=units.values, crs=units.crs),
        zone_frame,
        how="intersection",
        keep_geom_type=True,
    )
    pieces["a"] = pieces.area
    best = pieces.sort_values("a", ascending=False).drop_duplicates("unit").set_index("unit").sort_index()
    share = best["a"] / pieces.groupby("unit")["a"].sum()
    return best["school"].reindex(range(len(units))).to_numpy(), share.reindex(range(len(units))).to_numpy()


def overlay_units(
    units: gpd.GeoSeries, before: gpd.GeoDataFrame, after: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """Units with their school before and after (majority by area), area (km²) and the smaller of the two
    majority shares (1.0: the unit lies in one zone in both years)."""
    frm, s1 = majority_school(units, before)
    to, s2 = majority_school(units, after)
    return gpd.GeoDataFrame(
        {
            "block_id": [f"u{i:04d}" for i in range(len(units))],
            "from_school": frm,
            "to_school": to,
            "area_km2": units.area.to_numpy() / 1e6,
            "purity": np.minimum(s1, s2),
        },
        geometry=units.values,
        crs=units.crs,
    )


def changed_area_km2(before: gpd.GeoDataFrame, after: gpd.GeoDataFrame, renamed: dict[str, str]) -> float:
    """Exact area (km²) whose school differs between the two years' zones (names of ``before`` renamed)."""
    pieces = gpd.overlay(
        before.assign(school=before["school"].replace(renamed)).rename(columns={"school": "a"}),
        after.rename(columns={"school": "b"}),
        how="intersection",
        keep_geom_type=True,
    )
    return float(pieces.area[pieces["a"] != pieces["b"]].sum() / 1e6)


# ------------------------------------------------------------------------------------------------ step 2


#: the 2015-16 sites (``Status``) a level's schools are looked up in ("Arbor Heights (interim at Boren)" has none)
SITE_STATUS = {"MS": {"MS"}, "ES": {"ELEM", "Option ELEM", ""}}


def level_schools(
    level: str, units: gpd.GeoDataFrame, new: gpd.GeoDataFrame, old: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """The schools of ``level`` in 2017-18 with sites and seats, and the table of names and sites used."""
    sites = read("school_sites_2015_16")
    sites = sites[sites["Status"].fillna("").str.strip().isin(SITE_STATUS[level])]
    site_of = match_names(list(sites["PROPERTY_L"]), list(new["school"]))
    zone15 = match_names(list(old["school"]), list(new["school"]))
    rows, points = [], []
    for name, zone in zip(new["school"], new.geometry):
        site = site_of[name]
        if site is None:
            points.append(zone.representative_point())
            source = NEW_SITE_PROXY
        else:
            points.append(sites.geometry[sites["PROPERTY_L"] == site].iloc[0])
            source = f"2015-16 site: {site}"
        rows.append(
            {"level": level, "2017-18 zone": name, "2015-16 zone": zone15[name] or "— (new)", "site": source}
        )
    children = units.groupby("to_school")["students"].sum()
    schools = gpd.GeoDataFrame(
        {
            "school_id": new["school"].to_numpy(),
            "name": new["school"].to_numpy(),
            "capacity": np.round(SEAT_SLACK * children.reindex(new["school"]).fillna(0.0).to_numpy(), 1),
        },
        geometry=points,
        crs=METRIC_CRS,
    )
    return schools, pd.DataFrame(rows)


def solve_units(units: gpd.GeoDataFrame, level_units: str) -> gpd.GeoDataFrame:
    """The units as zoning's blocks: children ∝ area, current_school = the 2015-16 MS zone."""
    return units.assign(
        students=np.round(CHILDREN * units["area_km2"] / units["area_km2"].sum(), 2),
        current_school=units["from_school"],
        name=units["block_id"] + f" ({level_units})",
    )


def pieces(plan: zoning.Plan, school_of: np.ndarray) -> int:
    """Zones in more than one piece of the plan's block graph for the assignment ``school_of``."""
    e = plan.problem.edges
    same = school_of[e[:, 0]] == school_of[e[:, 1]]
    n = len(school_of)
    graph = coo_matrix((np.ones(int(same.sum())), (e[same, 0], e[same, 1])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    return int((pd.Series(label).groupby(school_of).nunique() > 1).sum())


def row_of(label: str, plan: zoning.Plan, school_of: np.ndarray, info: zoning.SolveInfo | None) -> dict:
    """One row of the step-2 table for the assignment ``school_of`` (array over plan.blocks)."""
    b = plan.blocks
    kids = b["students"].to_numpy(float)
    site = plan.schools.set_index("school_id").geometry
    dist = shapely.distance(b.geometry.representative_point().values, site.loc[school_of].values)
    moved = school_of != b["current_school"].to_numpy()
    load = pd.Series(kids).groupby(school_of).sum()
    over = (load - plan.schools.set_index("school_id")["capacity"].reindex(load.index)).clip(lower=0).sum()
    return {
        "plan": label,
        "children moved": f"{kids[moved].sum():,.0f} ({100 * kids[moved].sum() / kids.sum():.1f} %)",
        "units moved": f"{int(moved.sum())} of {len(b)}",
        "mean distance (km)": f"{np.average(dist, weights=kids) / 1000:.2f}",
        "seats over": f"{over:,.0f}",
        "zones in pieces": pieces(plan, school_of),
        "status / gap": "—" if info is None else f"{info.status} / {100 * info.gap:.2f} %",
        "s": "—" if info is None else f"{info.seconds:.0f}",
    }


def official_violations(plan: zoning.Plan, school_of: np.ndarray) -> list[str]:
    """The independent checker on the official 2017-18 assignment, with ``plan``'s rules and proxies."""
    b = plan.blocks
    dist = shapely.distance(
        b.geometry.representative_point().values,
        plan.schools.set_index("school_id").geometry.loc[school_of].values,
    )
    moved = school_of != b["current_school"].to_numpy()
    cost = float(
        np.sum(b["students"].to_numpy(float) * (np.rint(dist) + plan.rules["move_penalty_m"] * moved))
    )
    official = replace(
        plan,
        assignment=pd.Series(school_of, index=plan.assignment.index, name="school_id"),
        info=replace(plan.info, objective=cost, lower_bound=0.0),
    )
    return zoning.plan_violations(official)


def compare(
    blocks: gpd.GeoDataFrame, schools: gpd.GeoDataFrame, *, time_limit_s: float, workers: int = 2
) -> tuple[list[dict], list[str], dict[str, zoning.Plan]]:
    """Step 2: the before / official / zoning rows, notes, and the plans (keyed by run)."""
    options = zoning.SolveOptions(time_limit_s=time_limit_s, workers=workers)
    kids = blocks["students"].to_numpy(float)
    official_moved = float(kids[blocks["to_school"].to_numpy() != blocks["from_school"].to_numpy()].sum())
    plans, notes = {}, []
    plans["default"] = zoning.assign_zones(blocks, schools, options=options)
    try:
        plans["cap"] = zoning.assign_zones(
            blocks, schools, move_penalty_m=0.0, max_moved=official_moved, options=options
        )
    except zoning.ZoningError as err:  # InfeasibleError (proven), or none found in the time limit
        notes.append(f"cap of {official_moved:,.0f} children moved (official): {type(err).__name__}: {err}")
    base = plans["default"]
    ids = base.blocks["block_id"].to_numpy()
    by_id = blocks.set_index("block_id")
    before = by_id["from_school"].loc[ids].to_numpy()
    official = by_id["to_school"].loc[ids].to_numpy()
    rows = [
        row_of(f"2015-16 zones (current), {len(set(before))} schools", base, before, None),
        row_of(f"official 2017-18 zones, {len(schools)} schools", base, official, None),
        row_of("zoning, move penalty 500 m", base, base.blocks["school_id"].to_numpy(), base.info),
    ]
    if "cap" in plans:
        p = plans["cap"]
        label = f"zoning, no penalty, ≤ {official_moved:,.0f} moved (official)"
        rows.append(row_of(label, p, p.blocks["school_id"].to_numpy(), p.info))
    for key, p in plans.items():
        bad = zoning.plan_violations(p)
        notes.append(f"checker on zoning ({key}): {'clean' if not bad else '; '.join(bad)}")
        notes += [f"warning ({key}): {w.message}" for w in p.warnings]
    outside = [
        f"{sid} stands in {official[r]}'s zone"
        + ("" if before[r] == official[r] else f" ({before[r]}'s in 2015-16)")
        for sid, r in zip(base.problem.school_ids, base.problem.anchor)
        if r >= 0 and official[r] != sid
    ]
    if outside:
        notes.append(
            f"sites outside their own official 2017-18 zone: {'; '.join(outside)}. zoning keeps each school's "
            "own unit in its zone, so it must move these units, which the official plan did not"
        )
    bad = official_violations(base, official)
    notes.append(
        f"checker on the official 2017-18 plan (same proxies): {'clean' if not bad else '; '.join(bad)}"
    )
    return rows, notes, plans


# ------------------------------------------------------------------------------------------------ output


def markdown(rows: list[dict] | pd.DataFrame) -> str:
    frame = pd.DataFrame(rows)
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(map(str, r)) + " |" for r in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def step1(grid_m: float) -> tuple[list[dict], list[str]]:
    """How much each level's official redraw moved: exact area, grid cells, 2017-18 ES zones."""
    rows, notes = [], []
    es17 = zones("ES", "2017_18")
    for level in ("MS", "ES"):
        old, new = zones(level, "2015_16"), zones(level, "2017_18")
        names = match_names(list(old["school"]), list(new["school"]))
        renamed = {o: n for n, o in names.items() if o is not None and o != n}
        gone = sorted(set(old["school"]) - set(names.values()))
        notes.append(
            f"{level} names, 2015-16 → 2017-18: {len(old)} → {len(new)} zones; "
            f"same name: {sum(o == n for n, o in names.items())}; "
            f"renamed: {', '.join(f'{o} → {n}' for o, n in renamed.items()) or 'none'}; "
            f"new: {', '.join(n for n, o in names.items() if o is None) or 'none'}; "
            f"gone: {', '.join(gone) or 'none'}"
        )
        old = old.assign(school=old["school"].replace(renamed))
        total = float(new.area.sum() / 1e6)
        changed = changed_area_km2(old, new, {})
        rows.append(
            {"level": level, "units": "exact polygon overlay", "units changed": "—",
             "area changed": f"{changed:.1f} of {total:.1f} km² ({100 * changed / total:.1f} %)"}
        )  # fmt: skip
        area = new.union_all()
        kinds = [(f"grid {grid_m:.0f} m", grid_units(area, grid_m))]
        if level == "MS":
            kinds.append(("2017-18 ES zones", gpd.GeoSeries(es17.geometry.values, crs=es17.crs)))
        for label, cells in kinds:
            u = overlay_units(cells, old, new)
            moved = u["from_school"] != u["to_school"]
            a = u["area_km2"]
            rows.append(
                {"level": level, "units": f"{label} ({len(u)})",
                 "units changed": f"{int(moved.sum())} ({100 * moved.mean():.1f} %)",
                 "area changed": f"{a[moved].sum():.1f} km² ({100 * a[moved].sum() / a.sum():.1f} %)"}
            )  # fmt: skip
            split = int((u["purity"] < 0.95).sum())
            notes.append(
                f"{level}, {label}: {split} of {len(u)} units have under 95 % of their area in one zone"
            )
    return rows, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", choices=["grid", "es"], default="grid", help="units of step 2 (MS)")
    parser.add_argument("--levels", nargs="+", choices=["MS", "ES"], default=["MS", "ES"], help="step 2")
    parser.add_argument("--grid-m", type=float, default=400.0, help="grid cell side in metres")
    parser.add_argument("--time-limit", type=float, default=20.0, help="seconds per zoning run")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    t0 = time.perf_counter()
    print("## Seattle 2015-16 → 2017-18: how much the official redraw moved\n")
    rows, notes = step1(args.grid_m)
    print(markdown(rows) + "\n")
    print("\n".join(f"- {n}" for n in notes) + "\n")

    tables = []
    for level in args.levels:
        units = args.units if level == "MS" else "grid"
        blocks, schools, names = level_inputs(level, units, args.grid_m)
        rows, notes, _ = compare(blocks, schools, time_limit_s=args.time_limit, workers=args.workers)
        tables.append((level, units, rows, notes))
        plain = (names["2017-18 zone"] == names["2015-16 zone"]) & (
            names["site"] == "2015-16 site: " + names["2017-18 zone"]
        )
        print(f"## {level}: name matching and sites\n")
        print(markdown(names[~plain]) + "\n")
        print(f"and {int(plain.sum())} more with the same name in both years and in the sites file\n")
    for level, units, rows, notes in tables:
        print(f"## What zoning moves for the same change of schools ({level}, units: {units})\n")
        print(markdown(rows) + "\n")
        print("\n".join(f"- {n}" for n in notes) + "\n")
    print(CAVEATS.format(children=CHILDREN, slack=SEAT_SLACK, site=NEW_SITE_PROXY))
    print(f"\n({time.perf_counter() - t0:.0f} s in all, time limit {args.time_limit:g} s per run)")


def level_inputs(
    level: str = "MS", units: str = "grid", grid_m: float = 400.0
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, pd.DataFrame]:
    """Step 2's blocks (units with current_school, students) and schools (sites, seats) for ``level``, and
    the names used.  ``units``: "grid" (cells of ``grid_m``) or "es" (the 2017-18 ES zones; MS only)."""
    old, new = zones(level, "2015_16"), zones(level, "2017_18")
    renamed = {o: n for n, o in match_names(list(old["school"]), list(new["school"])).items() if o}
    old_named = old.assign(school=old["school"].replace(renamed))
    if units == "grid":
        cells = grid_units(new.union_all(), grid_m)
    else:
        es17 = zones("ES", "2017_18")
        cells = gpd.GeoSeries(es17.geometry.values, crs=es17.crs)
    blocks = solve_units(overlay_units(cells, old_named, new), units)
    schools, names = level_schools(level, blocks, new, old)
    return blocks, schools, names


CAVEATS = """## Caveats

- Children: the data hold no population, so {children:,} middle-school children are spread over the city in
  proportion to area.  Seattle's children are not spread evenly (dense Capitol Hill / Northgate vs. parks,
  industrial Duwamish, Discovery Park), so "children moved" here is really "area moved".
- Seats: each 2017-18 school gets {slack:.2f} × the children of its official 2017-18 zone.  This makes the
  official plan fit by construction and copies its balance of schools; the real buildings' capacities (and
  the overcrowding that drove the redraw) are not in the data.
- Sites: the 10 continuing middle schools stand at their 2015-16 sites; the two new ones (Meany, Eagle Staff)
  at the {site}.  (The 2015-16 sites file has "World School at
  Meany", the building Meany reopened in; it is not used, to keep to the data's own labels.)  Elementary schools stand at their 2015-16
  sites, some of them interim ("Olympic Hills (interim at Cedar Park)", "Arbor Heights (interim at Boren)")
  that the school had left by 2017-18.
- Distances are straight lines from a unit's representative point to the site (UTM 10N), not walking or bus
  routes; Seattle's water (Lake Union, the Ship Canal, the Duwamish) makes some of them much shorter than
  any trip.
- The official redraw also kept elementary → middle feeder patterns, balanced programmes (HCC, dual
  language, special education), demographics and building ages, and was phased in with grandfathering;
  zoning models none of these.  Its plans have shorter trips under the proxies; they are not better plans.
- A unit's school in a year is the zone holding most of its area; units split between zones (see the notes)
  blur the measure along boundaries.  The exact polygon overlay has no such blur.
"""


if __name__ == "__main__":
    main()
