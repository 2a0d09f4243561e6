"""Feasibility pre-checks and infeasibility in the planner's terms.

Two stages (../shared/STYLE.md):

1. Cheap checks with numbers, before any search: blocks with no school in reach, total seats against
   total children, and — from the maximum flow of the transportation relaxation — the *area that lacks
   seats*: the set of blocks whose children can only reach a set of schools that is already full
   (a Hall violator, read off the residual network of the maximum flow).  That set is exactly why no
   plan exists, so it is what the planner is told, with the shortfall in children.
2. When the search itself proves infeasibility (seats and one-piece zones, or the cap on children moved,
   together), the model's assumption literals say which rule families are jointly to blame;
   :func:`explain_rules` turns them into sentences.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from .errors import InfeasibleError
from .flow import FlowResult
from .problem import ZoneProblem
from .problem_districts import DistrictProblem

__all__ = [
    "unreachable_blocks",
    "explain_unplaced",
    "explain_rules",
    "fmt_children",
    "name_list",
    "precheck_districts",
    "explain_districts",
    "district_shortfalls",
]


def fmt_children(value_scaled: float, scale: int) -> str:
    v = value_scaled / scale
    return f"{v:,.0f}" if abs(v - round(v)) < 1e-9 or abs(v) >= 100 else f"{v:,.2f}"


def name_list(names, limit: int = 6) -> str:
    names = [str(n) for n in names]
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def unreachable_blocks(problem: ZoneProblem) -> np.ndarray:
    """Blocks with no candidate school at all (nothing within the maximum distance)."""
    has = np.zeros(problem.n_blocks, dtype=bool)
    has[problem.arc_block] = True
    return np.flatnonzero(~has)


def explain_unplaced(problem: ZoneProblem, flow: FlowResult) -> InfeasibleError:
    """Why the children cannot all be seated, from the maximum flow of the relaxation."""
    scale = problem.scale
    reasons: list[str] = []
    fixes: list[str] = []
    total = int(problem.students.sum())
    seats = int(problem.capacity.sum())

    lonely = unreachable_blocks(problem)
    lonely = lonely[problem.students[lonely] > 0]
    if len(lonely):
        limit = f"within {problem.max_distance_m:,.0f} m" if problem.max_distance_m else "in reach"
        reasons.append(
            f"{len(lonely)} block(s) with {fmt_children(problem.students[lonely].sum(), scale)} children have no "
            f"school {limit}: {name_list(problem.block_labels[lonely])}"
        )
        fixes.append("allow a longer --max-distance, or build a school near these blocks")

    if seats < total:
        reasons.append(
            f"the schools offer {fmt_children(seats, scale)} seats against {fmt_children(total, scale)} children "
            f"(short {fmt_children(total - seats, scale)})"
        )
        fixes.append(
            "add seats (expand a school, 改扩建, or build one), or allow overload (--allow-overload)"
        )
    else:
        area = _lacking_area(problem, flow)
        if area is not None and not np.isin(area[0], lonely).all():
            area = (area[0][~np.isin(area[0], lonely)], area[1])
            blocks, schools = area
            need = int(problem.students[blocks].sum())
            have = int(problem.capacity[schools].sum())
            reach = (
                f"within {problem.max_distance_m:,.0f} m"
                if problem.max_distance_m
                else "among their candidate schools"
            )
            school_txt = name_list(problem.school_names[schools]) if len(schools) else "no school"
            reasons.append(
                f"the {len(blocks)} block(s) around {name_list(problem.block_labels[blocks], 4)} hold "
                f"{fmt_children(need, scale)} children but can reach only {school_txt} {reach}, with "
                f"{fmt_children(have, scale)} seats (short {fmt_children(need - have, scale)})"
            )
            if len(schools):
                fixes.append(f"raise the capacity of {name_list(problem.school_names[schools], 3)}")
            if problem.max_distance_m:
                fixes.append("allow a longer --max-distance")
            fixes.append("allow overload (--allow-overload)")
    if not reasons:
        reasons.append(f"{fmt_children(flow.shortfall, scale)} children cannot be seated within the rules")
    return InfeasibleError(reasons, list(dict.fromkeys(fixes)), rule="capacity")


def _lacking_area(problem: ZoneProblem, flow: FlowResult) -> tuple[np.ndarray, np.ndarray] | None:
    """Blocks reachable (residual network) from the blocks with unplaced children, and their schools."""
    n, m = problem.n_blocks, problem.n_schools
    ai, aj, f = problem.arc_block, problem.arc_school, flow.flows
    placed = np.bincount(ai, weights=f, minlength=n)
    excess = problem.students - np.rint(placed).astype(np.int64)
    start = np.flatnonzero(excess > 0)
    if len(start) == 0:
        return None
    # residual arcs: block -> school where the arc is not saturated, school -> block where flow > 0
    fwd = f < problem.students[ai]
    back = f > 0
    rows = np.concatenate([ai[fwd], n + aj[back]])
    cols = np.concatenate([n + aj[fwd], ai[back]])
    source = n + m  # super source joined to every block with unplaced children
    rows = np.concatenate([rows, np.full(len(start), source)])
    cols = np.concatenate([cols, start])
    graph = sparse.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n + m + 1, n + m + 1))
    reached = csgraph.breadth_first_order(graph, source, directed=True, return_predecessors=False)
    reached = reached[reached != source]
    blocks = np.sort(reached[reached < n])
    schools = np.sort(reached[reached >= n] - n)
    return blocks, schools


def explain_rules(
    problem: ZoneProblem, families: list[str], *, min_moved: float | None = None
) -> InfeasibleError:
    """Sentences for the rule families that CP-SAT found jointly infeasible."""
    scale = problem.scale
    reasons: list[str] = []
    fixes: list[str] = []
    if "max_moved" in families and problem.max_moved is not None:
        cap = fmt_children(problem.max_moved, scale)
        extra = f" (at least {min_moved:,.0f} must move to fit the seats)" if min_moved is not None else ""
        reasons.append(f"no plan moves at most {cap} children from their current school{extra}")
        fixes.append("raise --max-moved")
    if "contiguity" in families:
        reasons.append(
            "the seats can be shared out, but not with every zone in one piece around its school: the schools "
            "that must take the overflow are cut off from it by full zones"
        )
        fixes.append(
            "allow overload (--allow-overload), raise capacity where zones are full, or turn off --contiguity"
        )
    if "capacity" in families and not reasons:
        reasons.append("the seats cannot hold the children under the other rules")
        fixes.append("raise capacity or allow overload (--allow-overload)")
    if not reasons:
        reasons.append("the rules contradict each other (" + ", ".join(families) + ")")
    return InfeasibleError(reasons, fixes, rule=families[0] if families else None)


# ------------------------------------------------------------------------------------ districts (学区)


def _fmt(value: float) -> str:
    return f"{value:,.0f}"


def precheck_districts(p: DistrictProblem) -> InfeasibleError | None:
    """Reasons no grouping can exist, found by counting before any search (None when none is found)."""
    k = p.n_districts
    reasons: list[str] = []
    fixes: list[str] = []
    names = p.school_names
    n_leads = int(p.lead_ok.sum())
    if n_leads < k:
        reasons.append(
            f"K = {k} districts need {k} lead schools, but only {n_leads} school(s) can lead "
            f"({p.hq_rule}): {name_list(names[p.lead_ok])}"
        )
        fixes.append("ask for fewer districts, lower --lead-min-quality, or name lead candidates (--leads)")
    if int(p.pinned.sum()) > k:
        reasons.append(
            f"{int(p.pinned.sum())} schools are pinned as leads, but only {k} districts are asked for"
        )
        fixes.append("pin at most as many leads as districts")
    lo, hi = p.count_band
    if k * lo > p.n or k * hi < p.n:
        reasons.append(
            f"{k} districts of {lo}–{hi} schools each hold {k * lo}–{k * hi} schools, but there are {p.n}"
        )
        fixes.append("change --min-members / --max-members or the number of districts")
    for label, values, band, unit in (
        ("seats", p.seats, p.seats_band, "seats"),
        ("children", p.children, p.children_band, "children"),
    ):
        if band is None:
            continue
        big = np.flatnonzero(values > band[1])
        if len(big):
            reasons.append(
                f"{name_list(names[big])} alone hold(s) more {unit} ({_fmt(values[big].max())}) than a district may "
                f"({_fmt(band[1])}, the average {_fmt(values.sum() / k)} plus the tolerance)"
            )
            fixes.append(f"widen the {label} tolerance (--{label}-tolerance) or ask for fewer districts")
    if p.seats_band is not None and p.children_band is not None and p.seats.sum() < p.children.sum():
        reasons.append(
            f"the schools offer {_fmt(p.seats.sum())} seats against {_fmt(p.children.sum())} children "
            f"(short {_fmt(p.children.sum() - p.seats.sum())}), so some district must lack seats"
        )
        fixes.append("add seats (new or expanded schools) before grouping")
    for req in p.requirements:
        have = int(req.members.sum())
        if have < k * req.at_least:
            reasons.append(
                f"every district needs {req.at_least} × {req.label}; {have} school(s) qualify for {k} districts"
                + (f": {name_list(names[req.members])}" if have else "")
            )
            fixes.append(f"ask for at most {have // max(1, req.at_least)} districts, or drop the requirement")
    together = {tuple(sorted(map(int, pair))) for pair in p.together}
    for a, b in p.apart:
        if tuple(sorted((int(a), int(b)))) in together:
            reasons.append(f"{names[a]} and {names[b]} are asked both to share a district and not to")
            fixes.append("drop one of the two rules")
    for a, b in p.together:
        if p.pinned[a] and p.pinned[b] and a != b:
            reasons.append(f"{names[a]} and {names[b]} are both pinned as leads but must share a district")
            fixes.append("pin only one of them as a lead")
    has_pair = np.zeros(p.n, dtype=bool)
    has_pair[p.pair_school] = True
    lonely = np.flatnonzero(~has_pair)
    if len(lonely):
        limit = (
            f"within {p.max_lead_distance_m:,.0f} m"
            if p.max_lead_distance_m is not None
            else "among its candidates"
        )
        reasons.append(
            f"{len(lonely)} school(s) have no possible lead school {limit}: {name_list(names[lonely])}"
        )
        fixes.append("raise the lead distance limit (--max-lead-distance) or allow more lead schools")
    if not reasons:
        reasons, fixes = _unreachable_bands(p)
    if not reasons:
        return None
    return InfeasibleError(reasons, fixes, rule="districts")


def _unreachable_bands(p: DistrictProblem) -> tuple[list[str], list[str]]:
    """Schools whose every possible lead cannot gather a full district: the schools that may join a lead l
    (its candidate pairs) hold fewer schools or seats or children than a district needs."""
    ps, pl = p.pair_school, p.pair_lead
    leads = np.unique(pl)
    viable = np.ones(p.n, dtype=bool)
    short: dict[int, str] = {}
    checks = [("schools", np.ones(p.n, dtype=np.int64), p.count_band)]
    checks += [("seats", p.seats, p.seats_band), ("children", p.children, p.children_band)]
    for what, values, band in checks:
        if band is None:
            continue
        reach = np.bincount(pl, weights=values[ps], minlength=p.n)
        for lead in leads[reach[leads] < band[0]]:
            if viable[lead]:
                viable[lead] = False
                short[int(lead)] = f"{_fmt(reach[lead])} {what}, a district needs at least {_fmt(band[0])}"
    ok = viable[pl]
    stranded = np.setdiff1d(np.arange(p.n), ps[ok])
    if len(stranded) == 0:
        return [], []
    i = int(stranded[0])
    why = "; ".join(
        f"{p.school_names[lead]} could gather {short[int(lead)]}"
        for lead in pl[ps == i][:3]
        if int(lead) in short
    )
    limit = f" within {p.max_lead_distance_m:,.0f} m" if p.max_lead_distance_m is not None else ""
    reasons = [
        f"{name_list(p.school_names[stranded])} cannot join any district that is full enough: every lead school"
        f"{limit} of {p.school_names[i]} has too few schools around it ({why})"
    ]
    fixes = ["widen the tolerances or ask for fewer districts"]
    if p.max_lead_distance_m is not None:
        fixes.insert(0, "raise --max-lead-distance")
    return reasons, fixes


def explain_districts(p: DistrictProblem, lead_of: np.ndarray | None) -> InfeasibleError:
    """Why the search found no grouping: the pre-checks passed, so the bands, pairs and one-piece rule
    together are too tight.  With a best-effort grouping (bands relaxed), name the districts that miss."""
    reasons: list[str] = []
    if lead_of is not None:
        misses = district_shortfalls(p, lead_of)
        if misses:
            reasons.append(
                "no grouping keeps every rule together (the balance bands"
                + (", the one-piece rule" if p.contiguity else "")
                + " and the requirements); the nearest grouping tried misses: "
                + "; ".join(misses[:6])
                + (f"; and {len(misses) - 6} more" if len(misses) > 6 else "")
            )
    if not reasons:
        reasons.append(
            f"no grouping of {p.n} schools into {p.n_districts} districts keeps every district within the "
            f"balance bands ({p.balance_note})" + (" and in one piece" if p.contiguity else "")
        )
    fixes = [
        "widen the tolerances (--seats-tolerance, --children-tolerance, --quality-tolerance)",
        "change the number of districts or the member limits",
    ]
    if p.contiguity:
        fixes.append("or drop the one-piece rule (--groups forms education groups without it)")
    return InfeasibleError(reasons, fixes, rule="districts")


def district_shortfalls(p: DistrictProblem, lead_of: np.ndarray) -> list[str]:
    """Each district of a grouping outside a band, in the planner's words with the numbers."""
    out: list[str] = []
    leads = np.unique(lead_of)
    for number, lead in enumerate(leads, start=1):
        mine = lead_of == lead
        label = f"district {number} (lead {p.school_names[lead]})"
        count = int(mine.sum())
        lo, hi = p.count_band
        if not lo <= count <= hi:
            out.append(f"{label} has {count} schools, outside {lo}–{hi}")
        for what, values, band in (
            ("seats", p.seats, p.seats_band),
            ("children", p.children, p.children_band),
        ):
            if band is None:
                continue
            v = int(values[mine].sum())
            if v < band[0]:
                out.append(
                    f"{label} cannot reach its {what} target: its schools hold {_fmt(v)}, the band starts at {_fmt(band[0])}"
                )
            elif v > band[1]:
                out.append(f"{label} holds {_fmt(v)} {what}, above the band's {_fmt(band[1])}")
        if p.seats_band is not None and p.children_band is not None:
            s, c = int(p.seats[mine].sum()), int(p.children[mine].sum())
            if s < c:
                out.append(
                    f"{label} cannot seat its children: its schools offer {_fmt(s)} seats against {_fmt(c)} children"
                )
        if p.quality_band is not None:
            known = mine & p.quality_known
            if known.any():
                q = float(p.quality[known].mean())
                qlo, qhi = p.quality_band
                if q < qlo - 1e-9 or q > qhi + 1e-9:
                    out.append(f"{label} has mean quality {q:.3g}, outside {qlo:.3g}–{qhi:.3g}")
        for req in p.requirements:
            have = int((mine & req.members).sum())
            if have < req.at_least:
                out.append(f"{label} has {have} × {req.label}, needs {req.at_least}")
    return out
