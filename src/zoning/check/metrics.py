"""Pure functions: plan → tables and numbers a planner reports.

Distances are the plan's own (``distance_m``: straight-line metres in the plan's metric CRS, or by road when
the plan was drawn on roads; the summary's ``totals.distance_measure`` says which), weighted by children.
"Before" figures describe the current assignment (each block's ``current_school``) on the same blocks,
measured the same way (``current_distance_m``), so the planner can say what the plan changes: children
moved, mean trip, schools over capacity.  ``findings`` lists the rules of zoning's plans a given plan breaks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import csgraph

from ..geo.graph import edges_to_csr
from ..plan import Plan

__all__ = [
    "school_table",
    "summary",
    "findings",
    "district_table",
    "grouping_figures",
    "gini",
]

#: ``totals.distance_measure`` of a zone plan: how its trips (and those before) are measured.
DISTANCE_MEASURES = {"straight": "straight line", "road": "road"}


def _wmean(values: np.ndarray, weights: np.ndarray) -> float:
    w = weights.sum()
    return float((values * weights).sum() / w) if w > 0 else 0.0


def school_table(plan: Plan) -> pd.DataFrame:
    """Per school: seats, children, utilisation, mean and max trip, children moved in.

    One pass over the blocks (sums by school index), so it takes milliseconds at 50,000 blocks and
    1,500 schools; blocks whose school is not in ``plan.schools`` count for no school.
    """
    b, s = plan.blocks, plan.schools
    n = len(s)
    j = pd.Index(s["school_id"]).get_indexer(b["school_id"])
    mine = j >= 0
    j = j[mine]
    students = b["students"].to_numpy(dtype=float)[mine]
    dist = b["distance_m"].to_numpy(dtype=float)[mine]
    kids = np.bincount(j, weights=students, minlength=n)
    trips = np.bincount(j, weights=dist * students, minlength=n)
    count = np.bincount(j, minlength=n)
    far = np.full(n, -np.inf)
    np.maximum.at(far, j[students > 0], dist[students > 0])
    if "moved" in b:
        moved = b["moved"].to_numpy(dtype=bool)[mine]
        moved_in = np.bincount(j[moved], weights=students[moved], minlength=n)
    else:
        moved_in = np.zeros(n)
    capacity = s["capacity"].to_numpy(dtype=float)
    utilisation = np.full(n, np.nan)
    np.divide(kids, capacity, out=utilisation, where=capacity > 0)
    over = kids - capacity
    mean = np.zeros(n)
    np.divide(trips, kids, out=mean, where=kids > 0)
    return pd.DataFrame(
        {
            "school_id": s["school_id"].to_numpy(),
            "name": s["name"].to_numpy(),
            "capacity": capacity,
            "students": kids,
            "utilisation": utilisation,
            "overload": np.where(over > 0, over, 0.0),
            "blocks": count.astype(np.int64),
            "mean_distance_m": mean,
            "max_distance_m": np.where(np.isfinite(far), far, 0.0),
            "moved_in": moved_in,
        }
    )


def summary(plan: Plan) -> dict:
    """Everything ``summary.json`` holds: the proof, totals, before/after, one entry per school, and the
    districts (学区) when the plan has them."""
    out = _zone_summary(plan) if plan.has_zones else {}
    if plan.districts is not None:
        out["districts"] = district_summary(plan)
    out["warnings"] = [w.to_dict() for w in plan.warnings]
    return out


def _zone_summary(plan: Plan) -> dict:
    b = plan.blocks
    students = b["students"].to_numpy(dtype=float)
    dist = b["distance_m"].to_numpy(dtype=float)
    table = school_table(plan)
    split = _pieces(plan)
    totals = {
        "blocks": int(len(b)),
        "schools": int(len(plan.schools)),
        "children": round(float(students.sum()), 3),
        "seats": round(float(plan.schools["capacity"].sum()), 3),
        "children_estimated": bool(b.get("students_estimated", pd.Series(False)).any()),
        "mean_distance_m": round(_wmean(dist, students), 1),
        "max_distance_m": round(float(dist[students > 0].max()) if (students > 0).any() else 0.0, 1),
        "children_moved": round(float(students[b["moved"].to_numpy()].sum()), 3),
        # moves are counted over the blocks that name a current school (none: there is nothing to move from)
        "blocks_with_current_school": int(b["current_school"].notna().sum()) if "current_school" in b else 0,
        "schools_over_capacity": int((table["overload"] > 1e-9).sum()),
        "zones_not_contiguous": split,
        # of those, the zones in one piece across the links added between blocks that touch no others
        "zones_joined_only_by_links": split - _pieces(plan, links=True) if plan.problem.links else 0,
        "links_added": _links(plan),
        "distance_measure": DISTANCE_MEASURES[plan.rules.get("travel", "straight")],
    }
    before = _before(plan)
    out = {
        "solve": plan.info.to_dict(),
        "rules": {k: v for k, v in plan.rules.items() if k != "overload_penalty_m"},
        "totals": totals,
        "before": before,
        "schools": [
            {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}
            for row in table.to_dict(orient="records")
        ],
    }
    if plan.info.status == "given":  # measured, not solved: the rules it breaks are its findings
        out["findings"] = findings(plan)
    return out


def findings(plan: Plan) -> list[str]:
    """The rules of zoning's plans that ``plan`` breaks, in planner's words (empty: none): a school's own block
    in another school's zone, schools over their seats, zones in more than one piece (on the blocks' own
    adjacency, as ``totals.zones_not_contiguous`` counts them).  What ``zoning evaluate`` reports of a
    given plan; a solved plan breaks none unless its rules let it (overload allowed, one piece off)."""
    b, s, p = plan.blocks, plan.schools, plan.problem
    school = b["school_id"].to_numpy()
    names = dict(zip(s["school_id"], s["name"].astype(str)))
    labels = b["name"].astype(str).to_numpy() if "name" in b else b["block_id"].astype(str).to_numpy()
    out = []
    for sid, r in zip(p.school_ids, p.anchor):
        if r >= 0 and school[r] != sid:
            out.append(
                f"{names.get(sid, sid)} stands in block {labels[r]}, which the plan puts in the zone of "
                f"{names.get(school[r], school[r])}"
            )
    for _, row in school_table(plan).iterrows():
        if row["overload"] > 1e-9:
            out.append(
                f"{row['name']} takes {row['students']:,.1f} children for {row['capacity']:,.0f} seats "
                f"({row['overload']:,.1f} over)"
            )
    label = _piece_labels(plan)
    students = b["students"].to_numpy(dtype=float)
    anchor_of = dict(zip(p.school_ids, p.anchor))
    for sid, members in pd.Series(np.arange(len(b))).groupby(school):
        pieces = pd.Series(label[members.to_numpy()])
        if pieces.nunique() < 2:
            continue
        r = anchor_of.get(sid, -1)
        holds_school = r >= 0 and school[r] == sid
        main = label[r] if holds_school else pieces.value_counts().index[0]
        apart = members.to_numpy()[pieces.to_numpy() != main]
        out.append(
            f"the zone of {names.get(sid, sid)} is in {pieces.nunique()} pieces ({len(apart)} of its "
            f"{len(members)} blocks, {students[apart].sum():,.1f} children, cut off from "
            + ("the piece holding the school)" if holds_school else "its largest piece)")
        )
    return out


def _piece_labels(plan: Plan, *, links: bool = False) -> np.ndarray:
    """(N,) the piece of its zone each block lies in (numbered across all zones), on the blocks' own adjacency
    (``links``: and the links the islands policy added)."""
    e = plan.problem.edges
    if plan.problem.links and not links:
        added = np.array([sorted((link.a, link.b)) for link in plan.problem.links], dtype=np.int64)
        keep = ~(e[:, None, :] == added[None, :, :]).all(axis=2).any(axis=1)
        e = e[keep]
    return _group_pieces(len(plan.blocks), e, plan.blocks["school_id"].to_numpy())


def _group_pieces(n: int, edges: np.ndarray, group: np.ndarray) -> np.ndarray:
    """(n,) the piece of its group each of n items lies in (numbered across all groups): the connected
    components of the ``edges`` (E, 2) that join two items of one group."""
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    same = group[edges[:, 0]] == group[edges[:, 1]]
    _, label = csgraph.connected_components(edges_to_csr(n, edges[same]), directed=False)
    return label


def _split(label: np.ndarray, group: np.ndarray) -> int:
    """How many groups lie in more than one piece (``label`` from :func:`_group_pieces`)."""
    return int((pd.Series(label).groupby(group).nunique() > 1).sum())


def _pieces(plan: Plan, *, links: bool = False) -> int:
    """How many zones are in more than one piece of the blocks' own adjacency (0 expected): the links the
    islands policy added (``geo.graph``) are not in the data, so a zone one piece only through one counts
    (``links``: through them too, as the one-piece rule of the search reads the graph)."""
    return _split(_piece_labels(plan, links=links), plan.blocks["school_id"].to_numpy())


def _links(plan: Plan) -> list[dict]:
    """The links the islands policy added: the cut-off group's size, the two blocks, how far and how."""
    ids = plan.blocks["block_id"].to_numpy()
    return [
        {"group_blocks": link.group, "from_block": ids[link.a], "to_block": ids[link.b],
         "distance_m": round(link.distance_m, 1), "by": link.by}
        for link in plan.problem.links
    ]  # fmt: skip


def _before(plan: Plan) -> dict | None:
    """The current assignment's figures, for a before/after comparison: trips measured as the plan's are
    (its ``current_distance_m``: by road when the plan was drawn on roads), else the straight line.

    Where only some blocks with children name a current school, the figures are over those blocks and say
    so: ``blocks_with_current`` of ``blocks``, and the plan's mean trip over the same blocks
    (``after_mean_distance_m``), the figure to set the "before" against.  None when no block names one."""
    if "current_school" not in plan.blocks:
        return None
    known = set(plan.schools["school_id"])
    by_name = dict(zip(plan.schools["name"], plan.schools["school_id"]))
    named = [c if c in known else by_name.get(c) for c in plan.blocks["current_school"]]
    if all(c is None for c in named):
        return None
    cur = pd.Series(named, index=plan.blocks["block_id"].to_numpy(), dtype=object)
    b = plan.blocks
    students = b["students"].to_numpy(dtype=float)
    has = cur.notna().to_numpy()
    j = pd.Index(plan.schools["school_id"]).get_indexer(cur.to_numpy()[has])
    dist = np.full(len(b), np.nan)
    if "current_distance_m" in b:
        dist[has] = b["current_distance_m"].to_numpy(dtype=float)[has]
    else:
        dist[has] = shapely.distance(
            shapely.point_on_surface(b.geometry.values[has]), plan.schools.geometry.values[j]
        )
    measured = has & np.isfinite(dist)  # by road: not where no road joins a block to its current school
    load = pd.Series(students[has]).groupby(cur.to_numpy()[has]).sum()
    cap = plan.schools.set_index("school_id")["capacity"]
    over = (load - cap.reindex(load.index)).clip(lower=0)
    out = {
        "mean_distance_m": round(_wmean(dist[measured], students[measured]), 1),
        "max_distance_m": round(
            float(dist[measured & (students > 0)].max()) if (measured & (students > 0)).any() else 0.0, 1
        ),
        "schools_over_capacity": int((over > 1e-9).sum()),
        "children_over_capacity": round(float(over.sum()), 3),
    }
    if (has & ~measured).any():
        out["blocks_not_reached_by_road"] = int((has & ~measured).sum())
    if (~has & (students > 0)).any():  # partly known: over the blocks that have one, and the plan over them
        out["blocks_with_current"] = int(has.sum())
        out["blocks"] = len(b)
        out["children_with_current"] = round(float(students[has].sum()), 3)
        after = b["distance_m"].to_numpy(dtype=float)
        out["after_mean_distance_m"] = round(_wmean(after[measured], students[measured]), 1)
    return out


# ------------------------------------------------------------------------------------ districts (学区)


def gini(values) -> float:
    """Gini coefficient of non-negative values (0: all equal; NaN values ignored)."""
    v = np.sort(np.asarray(values, dtype=float))
    v = v[~np.isnan(v)]
    if len(v) == 0 or v.sum() <= 0:
        return 0.0
    n = len(v)
    return float((2 * np.arange(1, n + 1) - n - 1).dot(v) / (n * v.sum()))


def _deviation(values: np.ndarray) -> float | None:
    """Largest relative deviation of a district from the average district (0.1 = 10 %); None when a
    district's total is unknown (a school without the figure makes its district's total unknown)."""
    if len(values) == 0 or not np.isfinite(values).all() or values.mean() <= 0:
        return None
    return round(float(np.abs(values / values.mean() - 1).max()), 4)


def grouping_figures(
    schools: pd.DataFrame, labels, *, high_quality: np.ndarray, weight: str = "children"
) -> dict:
    """The figures a bureau reports for any grouping of schools (ours, or the existing one):
    quality spread and Gini across districts, coverage rate, balance deviation.

    labels: the district of every school (None / NaN: not grouped — then no figures).
    weight: what the coverage rate counts (children, seats or schools).
    """
    labels = pd.Series(list(labels), index=schools.index)
    if labels.isna().any() or len(labels) == 0:
        return {}
    quality = (
        schools["quality"].astype(float) if "quality" in schools else pd.Series(np.nan, index=schools.index)
    )
    seats = (
        schools["capacity"].astype(float) if "capacity" in schools else pd.Series(np.nan, index=schools.index)
    )
    kids = (
        schools["students"].astype(float) if "students" in schools else pd.Series(np.nan, index=schools.index)
    )
    w = {"children": kids, "seats": seats}.get(weight, pd.Series(1.0, index=schools.index)).fillna(0.0)
    hq = pd.Series(np.asarray(high_quality, dtype=bool), index=schools.index)
    g = pd.DataFrame({"d": labels, "q": quality, "s": seats, "c": kids, "w": w, "hq": hq}).groupby("d")
    mean_q = g["q"].mean()
    covered = g["hq"].any()
    coverage = float(w[labels.map(covered).to_numpy(dtype=bool)].sum() / w.sum()) if w.sum() > 0 else None
    count = g.size().to_numpy(dtype=float)
    return {
        "districts": int(g.ngroups),
        "quality_spread": None if mean_q.isna().all() else round(float(mean_q.max() - mean_q.min()), 4),
        "quality_gini": None if mean_q.isna().all() else round(gini(mean_q.to_numpy()), 4),
        "coverage_rate": None if coverage is None or not hq.any() else round(coverage, 4),
        "balance_deviation": {
            "schools": _deviation(count),
            # a district with a school lacking the figure has no known total (sum without skipping NaN)
            "seats": _deviation(g["s"].agg(lambda v: v.sum(skipna=False)).to_numpy(dtype=float)),
            "children": _deviation(g["c"].agg(lambda v: v.sum(skipna=False)).to_numpy(dtype=float)),
        },
    }


def district_table(plan: Plan) -> pd.DataFrame:
    """Per district: lead, members, seats, children, utilisation, quality (mean/min/max/spread), covered."""
    d = pd.DataFrame(plan.districts.drop(columns="geometry"))
    with np.errstate(divide="ignore", invalid="ignore"):
        d["utilisation"] = np.round(d["students"] / d["capacity"], 4)
    mine = plan.schools.groupby("district_id")["distance_to_lead_m"].max()
    d["max_distance_to_lead_m"] = d["district_id"].map(mine).to_numpy()
    return d


def _district_pieces(plan: Plan, *, links: bool = False) -> int:
    """How many districts are in more than one piece of the schools' adjacency in the data (the zones or
    cells that touch); ``links``: across the links the islands policy added too, as the search reads it."""
    rules = plan.rules["districts"]
    ids = plan.schools["school_id"].astype(str).to_numpy()
    index = {sid: k for k, sid in enumerate(ids)}
    pairs = {tuple(sorted((index[a], index[b]))) for a, b in rules.get("adjacency", [])}
    if not links:
        pairs -= {
            tuple(sorted((index[x["from_school"]], index[x["to_school"]]))) for x in rules.get("links", [])
        }
    district = plan.schools["district_id"].to_numpy()
    return _split(_group_pieces(len(ids), np.array(sorted(pairs)), district), district)


def district_summary(plan: Plan) -> dict:
    """The districts' part of ``summary.json``: proof, rules, figures after and before, one row per district."""
    rules = plan.rules["districts"]
    s = plan.schools
    after = grouping_figures(
        s, s["district_id"], high_quality=s["high_quality"].to_numpy(), weight=rules["weight"]
    )
    before = None
    if "district" in s and s["district"].notna().all():
        before = grouping_figures(
            s, s["district"], high_quality=s["high_quality"].to_numpy(), weight=rules["weight"]
        )
    w = {"children": s["students"], "seats": s["capacity"]}.get(
        rules["weight"], pd.Series(1.0, index=s.index)
    )
    w = w.astype(float).fillna(0.0).to_numpy()
    dist = s["distance_to_lead_m"].to_numpy(dtype=float)
    after["mean_distance_to_lead_m"] = round(float((w * dist).sum() / w.sum()), 1) if w.sum() > 0 else None
    after["max_distance_to_lead_m"] = round(float(dist.max()), 1)
    after["districts_not_contiguous"] = _district_pieces(plan)
    # of those, the districts in one piece across the links added between schools whose zones touch no others
    after["districts_joined_only_by_links"] = after["districts_not_contiguous"] - _district_pieces(
        plan, links=True
    )
    table = district_table(plan)
    return {
        "solve": plan.district_info.to_dict(),
        "rules": {k: v for k, v in rules.items() if k not in ("adjacency", "lead_candidates", "requirements")}
        | {"requirements": [{"label": r["label"], "at_least": r["at_least"]} for r in rules["requirements"]]},
        "after": after,
        "before": before,
        "districts": [
            {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}
            for row in table.to_dict(orient="records")
        ],
    }
