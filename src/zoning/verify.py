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
* the reported objective is what the plan costs, and the bound is not above it.

Tests run it on every plan they produce; ``assign_zones`` runs it before returning.
"""

from __future__ import annotations

from collections import defaultdict, deque

import numpy as np

from .errors import ZoningError
from .plan import Plan

__all__ = ["check_plan", "plan_violations", "PlanCheckError"]


class PlanCheckError(ZoningError):
    """A plan breaks a rule it was supposed to keep: a bug in zoning, please report it."""


def plan_violations(plan: Plan) -> list[str]:
    """Every rule the plan breaks, as sentences (empty: the plan is valid)."""
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
    for s, n in zip(school_of, students):
        load[s] += n
    for _, row in schools.iterrows():
        over = load[row["school_id"]] - float(row["capacity"])
        if over > 1e-6 and not rules.get("allow_overload", False):
            bad.append(
                f"{row['name']} takes {load[row['school_id']]:.2f} children for {row['capacity']:.2f} seats"
            )
        if rules.get("allow_overload", False):
            reported = float(row.get("overload", 0.0))
            if abs(max(0.0, over) - reported) > 1e-6:
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
            inside = set(zone)
            start = zone[0]
            seen = {start}
            queue = deque([start])
            while queue:
                v = queue.popleft()
                for u in neighbours[v]:
                    if u in inside and u not in seen:
                        seen.add(u)
                        queue.append(u)
            if len(seen) != len(inside):
                bad.append(
                    f"the zone of {s} is in several pieces ({len(inside) - len(seen)} block(s) cut off)"
                )
        for s, r in anchors.items():
            if r >= 0 and school_of[int(r)] != s:
                bad.append(f"the block {ids[int(r)]} where {s} stands is not in its zone")

    # --- distances, recomputed from geometry
    pts = blocks.geometry.representative_point()
    school_pt = dict(zip(schools["school_id"], schools.geometry))
    dist = np.array([p.distance(school_pt[s]) for p, s in zip(pts, school_of)])
    max_d = rules.get("max_distance_m")
    if max_d is not None:
        anchor_blocks = {int(r) for r in anchors.values() if r >= 0}
        far = [ids[i] for i in np.flatnonzero(dist > max_d + 0.5) if i not in anchor_blocks]
        if far:
            bad.append(f"{len(far)} block(s) are further than {max_d:g} m from their school, e.g. {far[:3]}")
    current = blocks["current_school"].to_numpy() if "current_school" in blocks else [None] * len(ids)
    name_to_id = dict(zip(schools["name"], schools["school_id"]))
    cur_id = [c if c in known else name_to_id.get(c) for c in current]
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
    # the model rounds each distance to the metre, as done here; allow one block's rounding tie
    tol = 1e-6 * max(1.0, objective) + float(students.max(initial=0.0))
    if abs(objective - plan.info.objective) > tol:
        bad.append(f"reported objective {plan.info.objective:.1f} but the plan costs {objective:.1f} child-m")
    if plan.info.lower_bound > plan.info.objective + 1e-6:
        bad.append("the lower bound is above the objective")
    return bad


def check_plan(plan: Plan) -> None:
    """Raise PlanCheckError listing every broken rule; return None for a valid plan."""
    bad = plan_violations(plan)
    if bad:
        raise PlanCheckError(
            "The plan breaks its rules (a bug in zoning):\n" + "\n".join(f"- {b}" for b in bad)
        )
