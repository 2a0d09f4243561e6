"""The independent plan checker: the executable specification of an attendance-zone plan.

It uses no solver and none of the solver's bookkeeping: it re-reads the plan's own tables (block
geometry, children, seats, the school of every block) and the adjacency the plan was built on, and checks
every rule from scratch with plain Python:

* every block is in exactly one zone, of a school that exists;
* no school takes more children than its seats (unless overload was allowed; then the reported overload
  is what the children make it);
* every zone is one piece of the block graph and holds the block its school stands in;
* no child travels further than the maximum distance (the school's own block excepted);
* no more children are moved than the cap;
* the reported objective is what the plan costs, and the bound is not above it (a given plan, measured by
  ``evaluate_zones``, has none).

Tests run it on every plan they produce; ``assign_zones`` runs it before returning.
"""

from __future__ import annotations

from collections import defaultdict, deque

import numpy as np

from ..errors import ZoningError
from ..io.files import is_blank
from ..plan import Plan

__all__ = ["check_plan", "plan_violations", "district_violations", "PlanCheckError"]


class PlanCheckError(ZoningError):
    """A plan breaks a rule it was supposed to keep: a bug in zoning, please report it."""


def plan_violations(plan: Plan) -> list[str]:
    """Every rule the plan breaks, as sentences (empty: the plan is valid)."""
    bad = _zone_violations(plan) if plan.has_zones else []
    if plan.districts is not None:
        bad += district_violations(plan)
    return bad


def _zone_violations(plan: Plan) -> list[str]:
    bad: list[str] = []
    rules = plan.rules
    blocks, schools = plan.blocks, plan.schools
    school_ids = list(schools["school_id"])
    known = set(school_ids)

    # --- complete assignment
    ids = list(blocks["block_id"])
    if len(set(ids)) != len(ids):
        bad.append("block ids repeat in the plan")
    assigned = plan.assignment
    if set(assigned.index) != set(ids):
        bad.append("the assignment does not cover exactly the plan's blocks")
    unknown = [b for b, s in assigned.items() if s not in known]
    if unknown:
        bad.append(f"{len(unknown)} block(s) assigned to no known school, e.g. {unknown[:3]}")
    if bad:
        return bad
    school_of = [assigned[b] for b in ids]

    # --- seats
    students = blocks["students"].to_numpy(dtype=float)
    load: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for s, n in zip(school_of, students):
        load[s] += n
        count[s] += 1
    for _, row in schools.iterrows():
        over = load[row["school_id"]] - float(row["capacity"])
        if over > 1e-6 and not rules.get("allow_overload", False):
            bad.append(
                f"{row['name']} takes {load[row['school_id']]:.2f} children for {row['capacity']:.2f} seats"
            )
        if rules.get("allow_overload", False):
            reported = float(row.get("overload", 0.0))
            # reported in thousandths of a child, as the model counts them: half a thousandth per block
            rounding = 1e-6 + 0.0005 * count[row["school_id"]]
            if abs(max(0.0, over) - reported) > rounding:
                bad.append(
                    f"{row['name']}: reported overload {reported} but the children make {max(0.0, over)}"
                )

    # --- one piece, holding the school's own block
    anchors = dict(zip(plan.problem.school_ids, plan.problem.anchor))
    if rules.get("contiguity", True):
        neighbours: dict[int, list[int]] = defaultdict(list)
        for a, b in plan.problem.edges:
            neighbours[int(a)].append(int(b))
            neighbours[int(b)].append(int(a))
        members: dict[str, list[int]] = defaultdict(list)
        for i, s in enumerate(school_of):
            members[s].append(i)
        for s, zone in members.items():
            cut = _pieces(zone, neighbours)
            if cut:
                bad.append(f"the zone of {s} is in several pieces ({cut} block(s) cut off)")
        for s, r in anchors.items():
            if r >= 0 and school_of[int(r)] != s:
                bad.append(f"the block {ids[int(r)]} where {s} stands is not in its zone")

    # --- distances, recomputed from geometry
    pts = blocks.geometry.representative_point()
    school_pt = dict(zip(schools["school_id"], schools.geometry))
    dist = np.array([p.distance(school_pt[s]) for p, s in zip(pts, school_of)])
    if rules.get("travel") == "road":  # the plan's own road distances (whole metres, as the model used them)
        road = blocks["distance_m"].to_numpy(dtype=float)
        if (road < dist - 1.0).any():
            bad.append("a road distance is shorter than the straight line between block and school")
        dist = road
    max_d = rules.get("max_distance_m")
    if max_d is not None:
        anchor_blocks = {int(r) for r in anchors.values() if r >= 0}
        # a block of no children sends no child that far (one with no school in reach joins a zone beyond it)
        far = [
            ids[i] for i in np.flatnonzero((dist > max_d + 0.5) & (students > 0)) if i not in anchor_blocks
        ]
        if far:
            bad.append(f"{len(far)} block(s) are further than {max_d:g} m from their school, e.g. {far[:3]}")
    if "locked_school" in blocks:  # a scenario's [[lock]]: these blocks go to that school whatever
        for k, lock in enumerate(blocks["locked_school"].to_numpy()):
            if not is_blank(lock) and str(lock) != str(school_of[k]):
                bad.append(f"block {ids[k]} is locked to {lock} but the plan sends it to {school_of[k]}")
    current = blocks["current_school"].to_numpy() if "current_school" in blocks else [None] * len(ids)
    name_to_id = dict(zip(schools["name"], schools["school_id"]))
    # a current school given but no longer in the plan (closed in a scenario): its blocks move
    cur_id = [None if is_blank(c) else c if c in known else name_to_id.get(c, c) for c in current]
    moved = np.array([c is not None and c != s for c, s in zip(cur_id, school_of)])
    moved_children = float(students[moved].sum())
    if rules.get("max_moved") is not None and moved_children > rules["max_moved"] + 1e-6:
        bad.append(f"{moved_children:.2f} children moved, more than the cap of {rules['max_moved']}")

    # --- objective and bound
    penalty = float(rules.get("move_penalty_m", 0.0))
    objective = float(np.sum(students * (np.rint(dist) + penalty * moved)))
    if rules.get("allow_overload", False):
        over = sum(max(0.0, load[s] - float(c)) for s, c in zip(schools["school_id"], schools["capacity"]))
        objective += over * float(rules.get("overload_penalty_m", 0.0))
    # the model rounds each distance to the metre, as done here; allow one block's rounding tie, and the
    # model's children counted in thousandths (at most half a thousandth per block, at that block's cost)
    tol = 1e-6 * max(1.0, objective) + float(students.max(initial=0.0))
    tol += 0.0005 * float(np.sum(np.rint(dist) + penalty * moved))
    if rules.get("allow_overload", False):  # and the children over seats, at the overload price
        tol += 0.0005 * len(ids) * float(rules.get("overload_penalty_m", 0.0))
    if abs(objective - plan.info.objective) > tol:
        bad.append(f"reported objective {plan.info.objective:.1f} but the plan costs {objective:.1f} child-m")
    if plan.info.lower_bound is not None and plan.info.lower_bound > plan.info.objective + 1e-6:
        bad.append("the lower bound is above the objective")
    return bad


def _pieces(members: list[int], neighbours: dict[int, list[int]]) -> int:
    """How many schools of ``members`` are not reached from the first one inside ``members``."""
    inside = set(members)
    seen = {members[0]}
    queue = deque([members[0]])
    while queue:
        v = queue.popleft()
        for u in neighbours[v]:
            if u in inside and u not in seen:
                seen.add(u)
                queue.append(u)
    return len(inside) - len(seen)


def district_violations(plan: Plan) -> list[str]:
    """Every district rule the plan breaks, recomputed from the schools table and the rules."""
    bad: list[str] = []
    rules = plan.rules["districts"]
    s = plan.schools
    ids = [str(v) for v in s["school_id"]]
    pos = {sid: i for i, sid in enumerate(ids)}
    names = list(s["name"].astype(str))
    district = [int(d) for d in s["district_id"]]
    lead_flag = [bool(v) for v in s["is_lead"]]
    members: dict[int, list[int]] = defaultdict(list)
    for i, d in enumerate(district):
        members[d].append(i)
    if len(members) != rules["n_districts"]:
        bad.append(f"{len(members)} districts, {rules['n_districts']} asked for")
    allowed = set(rules["lead_candidates"])
    lead_of: dict[int, int] = {}
    for d, ms in members.items():
        leads = [i for i in ms if lead_flag[i]]
        if len(leads) != 1:
            bad.append(f"district {d} has {len(leads)} lead schools, not exactly one")
            continue
        lead_of[d] = leads[0]
        if ids[leads[0]] not in allowed:
            bad.append(f"district {d} is led by {names[leads[0]]}, which is not a lead candidate")
    for sid in rules["pinned_leads"]:
        if not lead_flag[pos[sid]]:
            bad.append(f"{names[pos[sid]]} is pinned as a lead but does not lead")

    capacity = s["capacity"].to_numpy(dtype=float)
    students = s["students"].to_numpy(dtype=float) if "students" in s else np.full(len(s), np.nan)
    quality = s["quality"].to_numpy(dtype=float) if "quality" in s else np.full(len(s), np.nan)
    for d, ms in members.items():
        lo, hi = rules["schools_per_district"]
        if not lo <= len(ms) <= hi:
            bad.append(f"district {d} has {len(ms)} schools, outside {lo}–{hi}")
        for label, values, band in (
            ("seats", capacity, rules["seats_band"]),
            ("children", students, rules["children_band"]),
        ):
            if band is not None:
                v = float(np.rint(values[ms]).sum())
                if not band[0] - 1e-6 <= v <= band[1] + 1e-6:
                    bad.append(f"district {d} holds {v:,.0f} {label}, outside {band[0]:,}–{band[1]:,}")
        if rules["seats_cover_children"]:
            seats, kids = float(np.rint(capacity[ms]).sum()), float(np.rint(students[ms]).sum())
            if seats < kids - 1e-6:
                bad.append(f"district {d} offers {seats:,.0f} seats for {kids:,.0f} children")
        if rules["quality_band"] is not None:
            q = quality[ms]
            q = q[~np.isnan(q)]
            qlo, qhi = rules["quality_band"]
            # the model works in hundredths of a quality point
            if len(q) and not qlo - 0.01 <= q.mean() <= qhi + 0.01:
                bad.append(f"district {d} has mean quality {q.mean():.3f}, outside {qlo:.3f}–{qhi:.3f}")
        for req in rules["requirements"]:
            have = sum(ids[i] in set(req["schools"]) for i in ms)
            if have < req["at_least"]:
                bad.append(f"district {d} has {have} × {req['label']}, needs {req['at_least']}")
    for a, b in rules["together"]:
        if district[pos[a]] != district[pos[b]]:
            bad.append(f"{names[pos[a]]} and {names[pos[b]]} must share a district but do not")
    for a, b in rules["apart"]:
        if district[pos[a]] == district[pos[b]]:
            bad.append(f"{names[pos[a]]} and {names[pos[b]]} must not share a district but do")

    # --- coverage: weight in districts holding a high-quality school
    weight = np.nan_to_num(
        np.rint({"children": students, "seats": capacity}.get(rules["weight"], np.ones(len(s))))
    )
    hq = s["high_quality"].to_numpy(dtype=bool)
    covered = {d for d, ms in members.items() if hq[ms].any()}
    share = weight[[d in covered for d in district]].sum() / max(weight.sum(), 1e-9)
    if rules["min_coverage"] is not None and share < rules["min_coverage"] - 1e-9:
        bad.append(f"coverage {share:.1%} is below the minimum {rules['min_coverage']:.1%}")

    # --- one piece on the adjacency the plan was built on
    if rules["contiguity"]:
        neighbours: dict[int, list[int]] = defaultdict(list)
        for a, b in rules["adjacency"]:
            neighbours[pos[a]].append(pos[b])
            neighbours[pos[b]].append(pos[a])
        for d, ms in members.items():
            cut = _pieces(ms, neighbours)
            if cut:
                bad.append(f"district {d} is in several pieces ({cut} school(s) cut off)")

    # --- distances to the lead, the distance limit, the objective
    xy = np.array([(g.x, g.y) for g in s.geometry])
    lead_index = np.array([lead_of.get(d, i) for i, d in enumerate(district)])
    dist = np.rint(np.hypot(*(xy - xy[lead_index]).T))
    limit = rules["max_lead_distance_m"]
    if limit is not None:
        far = [names[i] for i in np.flatnonzero(dist > limit + 0.5)]
        if far:
            bad.append(f"{len(far)} school(s) further than {limit:g} m from their lead, e.g. {far[:3]}")
    info = plan.district_info
    objective = float((weight * dist).sum())
    if abs(objective - info.objective) > 1e-6 * max(1.0, objective) + weight.max(initial=0):
        bad.append(f"reported objective {info.objective:.1f} but the grouping costs {objective:.1f}")
    if info.lower_bound > info.objective + 1e-6:
        bad.append("the districts' lower bound is above the objective")
    return bad


def check_plan(plan: Plan) -> None:
    """Raise PlanCheckError listing every broken rule; return None for a valid plan."""
    bad = plan_violations(plan)
    if bad:
        raise PlanCheckError(
            "The plan breaks its rules (a bug in zoning):\n" + "\n".join(f"- {b}" for b in bad)
        )
