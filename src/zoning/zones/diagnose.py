"""Why no attendance-zone plan fits, in the planner's terms: pre-checks with numbers, then CP-SAT's cores.

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

import logging
from dataclasses import replace

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from ..errors import InfeasibleError, Issue, NoPlanFoundError, ZoningError, name_list
from .bound import FlowResult, transport_bound
from .problem import ZoneProblem, fmt_children

__all__ = [
    "unreachable_blocks",
    "precheck_reach",
    "more_candidates",
    "explain_candidate_limit",
    "beyond_reach",
    "explain_unplaced",
    "explain_rules",
    "explain_no_plan",
    "fewest_moves",
    "precheck_moves",
    "explain_stranded",
    "lacking_area",
]

log = logging.getLogger(__name__)


def unreachable_blocks(problem: ZoneProblem) -> np.ndarray:
    """Blocks with no candidate school at all (nothing within the maximum distance)."""
    has = np.zeros(problem.n_blocks, dtype=bool)
    has[problem.arc_block] = True
    return np.flatnonzero(~has)


def explain_unplaced(problem: ZoneProblem, flow: FlowResult, *, far: bool = False) -> InfeasibleError:
    """Why the children cannot all be seated, from the maximum flow of the relaxation.

    ``far``: the candidates stopped growing before every child was seated (the seats lie too far from the
    children: many schools away), so the seats in reach are those of the nearest candidate schools."""
    scale = problem.scale
    reasons: list[str] = []
    fixes: list[str] = []
    total = int(problem.students.sum())
    seats = int(problem.capacity.sum())

    lonely = unreachable_blocks(problem)
    lonely = lonely[problem.students[lonely] > 0]
    if len(lonely):
        reasons.append(_no_school_near(problem, lonely))
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
        area = lacking_area(problem, flow)
        if area is not None and not np.isin(area[0], lonely).all():
            area = (area[0][~np.isin(area[0], lonely)], area[1])
            blocks, schools = area
            need = int(problem.students[blocks].sum())
            have = int(problem.capacity[schools].sum())
            if problem.max_distance_m:
                reach = f"within {problem.max_distance_m:,.0f} m"
            elif far:
                per_block = len(problem.arc_block) / max(1, problem.n_blocks)
                reach = f"among their {per_block:,.0f} nearest schools or so"
            else:
                one_piece = " in zones in one piece" if problem.contiguity else ""
                reach = f"among their candidate schools{one_piece}"
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
            if far:
                fixes.append("place seats where the children live (the seats are far from them)")
            if not problem.allow_overload:
                fixes.append("allow overload (--allow-overload)")
    if not reasons:
        reasons.append(f"{fmt_children(flow.shortfall, scale)} children cannot be seated within the rules")
    return InfeasibleError(reasons, list(dict.fromkeys(fixes)), rule="capacity")


def _no_school_near(problem: ZoneProblem, lonely: np.ndarray) -> str:
    limit = f"within {problem.max_distance_m:,.0f} m" if problem.max_distance_m else "in reach"
    kids = fmt_children(problem.students[lonely].sum(), problem.scale)
    return f"{len(lonely)} block(s) with {kids} children have no school {limit}: {name_list(problem.block_labels[lonely])}"


def precheck_reach(problem: ZoneProblem) -> InfeasibleError | None:
    """Blocks with children and no candidate school at all (none within the maximum distance, or by road): the
    first reason there is, before the one-piece rule (whose reach through adjacent blocks starts from the
    candidates) or the seats are looked at.  Blocks without children never count: they get schools beyond the
    distance (``ZoneProblem.empty_far``)."""
    lonely = unreachable_blocks(problem)
    lonely = lonely[problem.students[lonely] > 0]
    if not len(lonely):
        return None
    return InfeasibleError(
        [_no_school_near(problem, lonely)],
        ["allow a longer --max-distance, or build a school near these blocks"],
        rule="max_distance",
    )


def beyond_reach(problem: ZoneProblem, assign: np.ndarray) -> list[Issue]:
    """A warning naming the blocks a plan sends further than the maximum distance: blocks with no children
    (``ZoneProblem.empty_far``) that no school within it could take, given to a zone so that every block is in
    one.  Empty without a maximum distance or such blocks."""
    p = problem
    if p.max_distance_m is None:
        return []
    dist = p.arc_dist_m[p.arc_index(np.arange(p.n_blocks), assign)]
    far = np.flatnonzero((dist > p.max_distance_m) & (p.anchored_school != assign))
    if not len(far):
        return []
    limit = f"{p.max_distance_m:,.0f} m"
    where = name_list([f"{p.block_labels[i]} in the zone of {p.school_names[assign[i]]}, {dist[i]:,.0f} m away"
                       for i in far])  # fmt: skip
    one = len(far) == 1
    issue = Issue(
        message=f"{len(far)} block{'' if one else 's'} with no children {'lies' if one else 'lie'} further than "
        f"{limit} from every school that can take {'it' if one else 'them'}: {'it is' if one else 'they are'} put "
        f"in a zone all the same, so that every block is in one ({where}); no child travels further than {limit}",
        fix="if children will live there, allow a longer --max-distance, or plan for a school nearer to "
        + ("it" if one else "them"),
        severity="warning",
    )
    log.warning("%s", issue)
    return [issue]


def lacking_area(problem: ZoneProblem, flow: FlowResult) -> tuple[np.ndarray, np.ndarray] | None:
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
        least = "" if min_moved is None else _few(min_moved)
        extra = f" (at least {least} must move to fit the seats)" if min_moved is not None else ""
        if min_moved is not None and round(min_moved * scale) <= problem.max_moved and problem.contiguity:
            # the seats allow the cap: the one-piece rule is what moves more
            forced, _names = _moved_by_sites(problem)
            extra = (
                f" (the seats alone would allow it, at {least} moved, but not with every zone in one "
                "piece around its school: today's zones are not all in one piece"
                + (f", and {_few(forced)} children live in blocks where another school than theirs stands"
                   if forced > 0 else "")
                + ")"
            )  # fmt: skip
        reasons.append(f"no plan moves at most {cap} children from their current school{extra}")
        fixes.append("raise --max-moved")
    if "contiguity" in families:
        seats, total = int(problem.capacity.sum()), int(problem.students.sum())
        tight = np.argsort(problem.capacity, kind="stable")[:6]
        reasons.append(
            "the seats can be shared out, but not with every zone in one piece around its school: the schools "
            f"offer {fmt_children(seats, scale)} seats for {fmt_children(total, scale)} children "
            f"({fmt_children(seats - total, scale)} spare), and the schools that must take the overflow are cut "
            "off from it by full zones (fewest seats: "
            + name_list(
                [f"{problem.school_names[j]} {fmt_children(problem.capacity[j], scale)}" for j in tight]
            )
            + ")"
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


def explain_no_plan(
    problem: ZoneProblem,
    *,
    over: np.ndarray,
    in_pieces: np.ndarray,
    moved: int | None,
    time_limit_s: float,
) -> ZoningError:
    """No plan within every rule in time: say what the best one still breaks, in the planner's terms.

    ``over``: scaled children over seats per school; ``in_pieces``: per school, its zone is in pieces;
    ``moved``: scaled children moved when above the cap (else None)."""
    parts = []
    if over.any():
        bad = np.argsort(-over)[: int((over > 0).sum())]
        items = [f"{problem.school_names[j]} (+{fmt_children(over[j], problem.scale)})" for j in bad]
        parts.append(f"{len(bad)} school(s) over their seats: {name_list(items)}")
    if in_pieces.any():
        parts.append(
            f"{int(in_pieces.sum())} zone(s) in more than one piece: "
            + name_list(problem.school_names[in_pieces])
        )
    if moved is not None:
        least = fewest_moves(problem)
        proven = "" if least is None else f"; no plan moves fewer than {_few(least)}"
        forced, schools = _moved_by_sites(problem)
        if forced > 0:
            proven += (
                f" ({_few(forced)} of them live in blocks where another school than theirs stands, which "
                f"one-piece zones give to that school: {name_list(schools, 4)})"
            )
        parts.append(
            f"{_few(moved / problem.scale)} children moved, more than the cap of "
            f"{_few(problem.max_moved / problem.scale)}{proven}"
        )
    still = "; ".join(parts) if parts else "no plan at all"
    # only the rules this run has (the flags already given are not suggested again)
    relax = [
        *(["raise --max-moved"] if moved is not None else []),
        *(["--allow-overload"] if over.any() and not problem.allow_overload else []),
        *(["--no-contiguity"] if problem.contiguity else []),
        *(["a longer --max-distance"] if problem.max_distance_m else []),
    ]
    fix = "allow more time (--time-limit)" + (f", or relax a rule ({', '.join(relax)})" if relax else "")
    seconds = f"{time_limit_s:.1f}" if time_limit_s < 10 else f"{time_limit_s:.0f}"
    return NoPlanFoundError(
        f"No plan satisfying every rule was found in {seconds} s, nor was one proven impossible: the best one "
        f"still has {still}. Fix: {fix}."
    )


def _moved_by_sites(problem: ZoneProblem) -> tuple[float, list[str]]:
    """Children (unscaled) whose block holds another school than their current one — with one-piece zones
    each school's zone holds its own block, so they move whatever the plan — and those schools' names."""
    if not problem.contiguity:
        return 0.0, []
    has = np.flatnonzero(problem.anchor >= 0)
    owner = np.full(problem.n_blocks, -1)
    owner[problem.anchor[has]] = has
    forced = (owner >= 0) & (problem.current >= 0) & (problem.current != owner)
    names = sorted({str(problem.school_names[j]) for j in owner[forced]})
    return float(problem.students[forced].sum()) / problem.scale, names


def _few(children: float) -> str:
    """A number of children for a message: whole from 10 up, else to two decimals (0.02 is not 0)."""
    return f"{children:,.0f}" if children >= 10 else f"{children:.2f}".rstrip("0").rstrip(".")


def fewest_moves(problem: ZoneProblem) -> float | None:
    """Children (unscaled) that every plan must move from their current school, by the relaxation with a cost
    of 1 per child moved and nothing else (overload free where it is allowed); None without a cap."""
    if problem.max_moved is None:
        return None
    probe = replace(
        problem, arc_dist_m=np.zeros_like(problem.arc_dist_m), move_penalty_m=1, overload_penalty_m=0
    )
    flow = transport_bound(probe, quiet=True)
    return flow.value / problem.scale if flow.feasible else None


def precheck_moves(problem: ZoneProblem) -> InfeasibleError | None:
    """The cap on children moved against the fewest moves the seats allow: a proof before any search.  On the
    candidate schools first; a refusal is confirmed with every school in reach (``ZoneProblem.every_candidate``), since the
    candidates are the model's limit, not the planner's rule (where that set is too large, it stands)."""
    least = fewest_moves(problem)
    if least is None or round(least * problem.scale) <= problem.max_moved:  # float noise of the relaxation
        return None
    limited, full = more_candidates(problem)
    if limited and full is not None:
        least = fewest_moves(full)
        if least is None or round(least * problem.scale) <= problem.max_moved:
            return None  # only the candidates stand in the way: the search says so if it finds no plan
    families = ["max_moved"] + ([] if problem.allow_overload else ["capacity"])
    return explain_rules(problem, families, min_moved=least)


def explain_stranded(problem: ZoneProblem, stranded: np.ndarray) -> InfeasibleError:
    """Blocks that no zone in one piece can hold: none of their candidate schools reaches them through blocks it
    may take (``ZoneProblem.reachable_arcs``)."""
    arcs = problem.block_arcs(stranded)
    schools = np.unique(problem.arc_school[arcs])
    kids = fmt_children(problem.students[stranded].sum(), problem.scale)
    return InfeasibleError(
        [
            f"{len(stranded)} block(s) with {kids} children cannot be in any zone in one piece: "
            f"{name_list(problem.block_labels[stranded])}; their candidate schools "
            f"({name_list(problem.school_names[schools], 4)}) reach them through no chain of adjacent blocks "
            "they may take"
        ],
        [
            "check these blocks' outlines (parts far apart, overlaps, gaps between neighbours)",
            "allow more candidate schools (--candidates) or a longer --max-distance",
            "turn off --contiguity",
        ],
        rule="contiguity",
    )


def _in_reach(p: ZoneProblem) -> np.ndarray:
    """(A,) the arcs within the maximum distance: those --candidates gives (not those of ``empty_far`` blocks)."""
    limit = np.inf if p.max_distance_m is None else p.max_distance_m
    return p.arc_dist_m <= limit


def more_candidates(problem: ZoneProblem) -> tuple[bool, ZoneProblem | None]:
    """Do the candidate schools leave out schools the rules allow (the model's limit, not the planner's rule)?
    With the problem of every candidate (``ZoneProblem.every_candidate``; None where too large, and then yes)."""
    full = problem.every_candidate
    return full is None or _in_reach(full).sum() > _in_reach(problem).sum(), full


def explain_candidate_limit(problem: ZoneProblem, full: ZoneProblem | None) -> NoPlanFoundError:
    """The search proved that no plan exists among the candidate schools, which leave out schools the rules allow
    (``full``, ``ZoneProblem.every_candidate``; None when too large to build): a limit of the model, not a rule of
    the planner, so the answer is "none found" with the fix, never "no plan fits the rules"."""
    p = problem
    cap = None if p.max_moved is None else p.max_moved / p.scale
    rules = [
        *(["every zone in one piece"] if p.contiguity else []),
        *(["no school over its seats"] if not p.allow_overload else []),
        *([f"at most {_few(cap)} {'child' if cap == 1 else 'children'} moved"] if cap is not None else []),
    ]
    kept = " with " + " and ".join(rules) if rules else ""
    reach = f"within {p.max_distance_m:,.0f} m" if p.max_distance_m else "in reach"
    current = ", its current school" if (p.current >= 0).any() else ""
    if full is None:
        fix = f"allow more candidate schools (--candidates, {p.k} now)"
    else:
        most = int(np.bincount(full.arc_block[_in_reach(full)], minlength=p.n_blocks).max(initial=1))
        fix = f"allow more candidate schools (--candidates {max(most, p.k + 1)} considers every school {reach} of every block)"
    return NoPlanFoundError(
        "No plan keeping every rule was found, nor was one proven impossible: none exists in which every block "
        f"goes to one of its candidate schools (its {p.k} nearest{current}, and more where the seats "
        f"required: {len(p.arc_block) / max(1, p.n_blocks):.1f} a block on average){kept}, but plans with the "
        f"other schools {reach} were not searched (the number of candidates is a limit of the model, not a rule "
        f"of the plan). Fix: {fix}."
    )
