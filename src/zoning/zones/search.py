"""Attendance zones at any scale: relaxation, rounding, then exact CP-SAT on windows of neighbouring schools.

One path serves the 317 blocks of South Portland and a 200,000-block city:

1. **Bound.**  The transportation relaxation (``bound``) on the candidate arcs, grown where it cannot seat
   every child.  Its value is the proven lower bound reported with every plan.
2. **First plan** (``ejection.first_plan``).  Each block goes to the school with most of its relaxed flow; with
   the one-piece rule, cut-off pieces join a zone they touch (``start.repair``).  Ejection chains
   (``ejection.relieve_seats``) then take children out of over-full schools: a block moves to a school
   with the seats, or to one that in turn sends out a block at least as large as it lacks, and so on to
   free seats however far, the cheapest chain first (a Dijkstra search over schools).  On the
   50,000-block city at 5 % slack this places every child in about 2 s (three-move chains and four
   re-solved relaxations left 556 children over after 8 s); with one piece per zone the last few dozen
   children, in small zones of large blocks, are placed by pushes (``ejection._push``), not repair windows.
   Under a cap on children moved a second first plan moves as few children as the seats allow
   (:func:`stay_start`: the relaxation with a move dearer than any trip), and the search goes on from
   whichever start keeps the cap (:func:`_start_rank`); a cap below the fewest moves the relaxation allows
   is refused at once with that number (``diagnose.precheck_moves``).  When the start at a move penalty breaks a rule, a third start from
   the relaxation without it (:func:`trips_start`) is ranked beside it the same way.
3. **Windows** (``windows``).  A window is the zones of a few neighbouring schools (nearest along zones whose blocks
   could go to each other): their blocks may move among them, and nothing else changes.  Because it holds
   whole zones, a window is itself a complete zone problem (``ZoneProblem.window``) solved by the same
   exact CP-SAT model with lazy one-piece cuts (``model.solve_exact``), hinted with the current plan.

   * *Repair* while the plan breaks a rule: windows around the school most over its seats (or the zone
     in pieces), holding at least twice its excess in free seats.  CP-SAT minimises the children over
     seats, no school of the window getting further over; the trips are left to the improvement windows
     (measured on the 50,000-block cities: re-optimising them in each repair window delays the first plan
     by 4–20 s and ends no better).  With the one-piece rule a block may only move into a zone it touches
     (zones shift along their borders instead of scattering into pieces), CP-SAT moves as few blocks as
     take the children out (``ZoneModel._fewest_moves``: fewer cut rounds) and, above ``windows.FULL_BLOCKS``
     blocks, a window gets ``windows.REPAIR_CONTIG_FACTOR`` times the time.  A seed whose window cannot take
     a step is set aside; when all are, the windows double.  Repair windows get both CP-SAT workers
     (measured on the 5 % city: one worker per window finds no step where two do).
   * *Fewest moves* while the plan moves more children than the cap allows (after the repair windows,
     which then drop the cap): a move costs more than any trip, seats and pieces are kept, and a window
     stops at its first plan within what the rest of the plan leaves of the cap.
   * *Improvement*: sweeps of small windows over the whole city (about 120 blocks: on the 50,000-block
     city, 100–150-block windows end 0.6 % above the bound in 30 s, 300-block ones 1.0 %, 600-block ones
     1.7 %), first where the zones' blocks travel most beyond their choice in the relaxation, then the
     rest in random order; two windows at a time on disjoint schools (one CP-SAT worker each); a window
     whose schools have not changed since it was last solved is skipped; a sweep that changes nothing
     doubles the windows.  A window's plan is taken only if it is better in (zones in pieces, children
     over seats, child-metres).

   A problem of at most ``FULL_BLOCKS`` blocks ends with one window holding every school (after small
   windows for half the time when it has more than four small windows' worth of blocks): the whole model,
   whose CP-SAT bound is then the problem's and whose proof of infeasibility is explained in planner's
   terms; when the candidate schools leave out schools the rules allow, it proves only that none of the
   candidates gives a plan, and is said so (``diagnose.explain_candidate_limit``), not "no plan fits the rules".

4. **A stronger bound, and a second start** on problems above ``windows.LARGE_BLOCKS`` blocks (with hard seats),
   between the repair and the improvement windows: ``BOUND_SHARE`` of the time left raises the knapsack
   bound (``bound.knapsack_bound``) from the relaxation's seat prices, and the knapsacks at the best prices (each
   school's best whole blocks within its seats) are made into a plan (:func:`_knapsack_restart`); the
   improvement windows start from it when it is better.  On the 50,000-block cities the bound proves the
   plans within 0.22 % (15 % slack, 30 s) and 1.0 % (5 % slack, 60 s) of the optimum, where the relaxation
   alone proves 0.58 % and 1.4 %; at 5 % slack the knapsacks' plan is 1.67 % above the relaxation where
   the rounded relaxation's is 1.86 %, and the windows end 0.1-0.15 % lower from it.

   Then (:func:`_descend`) improving ejection chains over the whole city, from the plan the windows go on
   from: on the 50,000-block city at 5 % slack they take it 0.3-0.5 points closer to the relaxation in
   5-9 s, where the improvement windows then take 0.02-0.03 points (one piece per zone) to 0.1 in 25 s.

5. **Per-pair loads** (the generalised assignment problem, ``problem.assignment_problem``): no flow; the
   LP relaxation by HiGHS (``bound.pair_lp``) is the first bound, its rounding with a descent of shifts and
   swaps the first plan (:func:`_pair_start`), windows of a few agents (``windows.PAIR_WINDOW_BLOCKS``)
   come before the whole model above ``windows.PAIR_WINDOWS_FROM`` jobs, and the whole model, hinted with
   their plan, has the rest of the time; its CP-SAT bound counts.  Measured beside a plain one-shot CP-SAT
   given the same time on generated 20-40 × 400 and 10-15 × 100-150 instances of types C, D and E
   (``benchmarks/gap_tight.py``: on the small ones, level with it or below in 10 of 12 runs at 30 and 60 s, and
   at most 0.06 % above it, where four seeds of plain CP-SAT on e10100 at 3 s spread over 1.3 %);
   before, the start was the cheapest arcs, the bound 0, and the plan after 30 s up to 104 % above the
   best seen.

Memory is that of the largest window, never a model of the whole city.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import numpy as np

from ..errors import ZoningError
from ..options import SolveOptions
from . import windows
from .bound import PairLP, cap_bound, frugal_penalty_m, knapsack_bound, pair_lp, seat_prices, transport_bound
from .diagnose import (
    explain_candidate_limit,
    explain_no_plan,
    more_candidates,
    precheck_moves,
    precheck_reach,
)
from .ejection import _Ejection, first_plan, relieve_seats
from .model import ZoneSolution, explain_search_infeasible, feasible_candidates, objective
from .problem import ZoneProblem
from .start import repair, round_flow
from .windows import Windows

__all__ = ["solve_zones"]

log = logging.getLogger(__name__)

#: Share of the time left after the first plan that raises the knapsack bound (``bound.knapsack_bound``) on large
#: problems, before the improvement windows (whose start it may give a better plan).  Measured on the
#: 50,000-block cities, 0.2 -> 0.35: at 5 % slack 1.40 -> 1.38 % above the relaxation and proven within
#: 0.99 -> 0.90 % of the optimum; at 15 % 0.57 -> 0.55 % and 0.21 -> 0.15 %; 0.5 is no better.
BOUND_SHARE = 0.35
#: Share of the time limit (from the start) by which the bound of the cap on moves (``bound.cap_bound``) ends
#: its bisection: a dozen min-cost flows, 0.1 s each at 6,000 blocks.
CAP_SHARE = 0.1
#: Seconds one evaluation of every school's knapsack takes per candidate arc (measured: 0.4 s on the 400,000
#: arcs of the 50,000-block city at 5 % slack, 0.15 s at 15 %).
KNAPSACK_S_PER_ARC = 1e-6
#: Share of the time left that making a plan of the knapsacks may take (chains and repair windows): on
#: the 50,000-block city at 5 % slack with one piece per zone the repair did not end in 8 s.
RESTART_SHARE = 0.15
#: Share of the time left that a descent by improving ejection chains may take (:func:`_descend`).
DESCENT_SHARE = 0.3
#: The descent's sweeps go on while one lowers the plan's cost by at least this share.
DESCENT_MIN_GAIN = 1e-4
#: Share of the time limit the first plan of per-pair loads may take (its descent: 0.02-0.07 s on the
#: generated 40 × 400 instances, so this only guards far larger ones).
PAIR_START_SHARE = 0.1
#: Swaps in that descent only up to this many jobs: its table of swaps is n × n (32 MB a table at 2,000).
PAIR_SWAP_JOBS = 2_000


def solve_zones(problem: ZoneProblem, options: SolveOptions = SolveOptions()) -> ZoneSolution:
    """Best plan for ``problem`` within the time limit, with a proven lower bound.

    Raises InfeasibleError (in the planner's terms) when no plan exists, and ZoningError only when the time
    ran out before any plan satisfying every rule was found (naming what the best one still breaks).
    """
    t0 = time.perf_counter()
    deadline = t0 + options.time_limit_s
    relaxed = None  # the relaxation's flows, on a large problem with hard seats (for the knapsack bound)
    if problem.arc_load is None:
        # children with no school in reach: said first, before the one-piece rule's reach through adjacent blocks
        no_school = precheck_reach(problem)
        if no_school is not None:
            raise no_school
        # the candidates may grow for at most a third of the time: the rest is the search's
        problem, flow = feasible_candidates(problem, t0 + options.time_limit_s / 3)
        too_few = precheck_moves(problem)
        if too_few is not None:
            raise too_few
        bound, bound_source, lp_value, lp_seconds = (
            float(flow.value),
            "transportation LP",
            flow.value,
            flow.seconds,
        )
        capped = cap_bound(problem, t0 + CAP_SHARE * options.time_limit_s)
        if capped is not None and capped > bound:
            bound, bound_source = float(capped), "transportation LP, the cap on moves priced (Lagrangian)"
        lp_choice = round_flow(problem, flow.flows)
        start = first_plan(problem, flow, deadline, lp_choice)
        if problem.n_blocks > windows.LARGE_BLOCKS and not problem.allow_overload:
            relaxed = flow.flows
    else:
        # per-pair loads (the generalised assignment problem): no flow, the LP relaxation (HiGHS) instead
        lp = pair_lp(problem)
        bound, bound_source = float(lp.value), "LP relaxation" if lp.feasible else ""
        lp_value, lp_seconds, lp_choice = lp.value, lp.seconds, None
        start = _pair_start(problem, lp, time.perf_counter() + PAIR_START_SHARE * options.time_limit_s)
        if problem.contiguity:
            start = repair(problem, start, seats=False)
    search = Windows(problem, options, deadline, start, bound, lp_choice)
    trips = None if search.valid() else trips_start(problem, deadline)
    if trips is not None:
        plain = Windows(problem, options, deadline, trips, bound, lp_choice)
        if _start_rank(plain) < _start_rank(search):
            search, plain.source = plain, "shortest trips + repair"
    stay = stay_start(problem, deadline)
    if stay is not None:
        kept = Windows(problem, options, deadline, stay, bound, lp_choice)
        if _start_rank(kept) < _start_rank(search):
            search, kept.source = kept, "fewest moves + repair"
    if search.valid():
        log.info(
            "first plan (rounded relaxation): %.1f child-km, %.2f%% above the bound, %.2f s",
            search.cost / problem.scale / 1000,
            100 * (search.cost / bound - 1) if bound > 0 else 0.0,
            time.perf_counter() - t0,
        )
    search.repair()
    search.progress()  # the first plan keeping every rule
    # the bound only when its share of the time holds a few evaluations of the knapsacks
    room = BOUND_SHARE * search._remaining() > 3 * KNAPSACK_S_PER_ARC * len(problem.arc_block)
    if relaxed is not None and room and search.valid() and not search.gap_closed():
        search, knapsack = _knapsack_restart(search, seat_prices(problem, relaxed), lp_choice)
        if knapsack.value > bound:
            bound, bound_source = float(knapsack.value), "knapsack (Lagrangian)"
    search = _descend(search, lp_choice)
    search.improve()
    if search.proven_infeasible:
        # a proof on the candidate schools: a rule of the plan only when they are every school the rules allow
        limited, full = more_candidates(problem)
        if limited:
            raise explain_candidate_limit(problem, full)
        raise explain_search_infeasible(problem, options)
    if search.bound > bound:
        bound, bound_source = search.bound, "CP-SAT"

    seconds = time.perf_counter() - t0
    if not search.valid():
        raise _no_plan(problem, search, options)
    search.lp_bound = max(search.lp_bound, bound)
    search.progress(done=True)
    best = search.assign
    best_obj = objective(problem, best)
    bound = min(bound, float(best_obj))
    gap = 0.0 if best_obj <= 0 else (best_obj - bound) / best_obj
    status = "optimal" if gap <= options.relative_gap + 1e-12 else "feasible"
    log.info(
        "plan: %.1f child-km, bound %.1f (%s), gap %.3f%%, %s, %.2f s, %d window(s), %d round(s), %d cut(s)",
        best_obj / problem.scale / 1000,
        bound / problem.scale / 1000,
        bound_source,
        100 * gap,
        status,
        seconds,
        search.windows,
        search.rounds,
        search.cuts,
    )
    return ZoneSolution(
        problem=problem,
        assign=best,
        status=status,
        objective=int(best_obj),
        bound=bound,
        bound_source=bound_source,
        seconds=seconds,
        lp_value=lp_value,
        lp_seconds=lp_seconds,
        rounds=search.rounds,
        cuts=search.cuts,
        source=search.source,
    )


def stay_start(problem: ZoneProblem, deadline: float) -> np.ndarray | None:
    """Under a cap on children moved, a first plan that moves as few children as the seats allow.

    The relaxation is solved with a move dearer than any trip (so it keeps every child it can at the current
    school, and the trips only break ties), then rounded, its cut-off pieces joined and its over-full schools
    relieved by ejection chains at the same prices (``ejection.first_plan``).  Starting within the cap, the windows
    keep it met: each window may move only what the rest of the plan leaves of it.  A start from the plain
    relaxation may move more children than the cap allows, and no window brings it back (measured on
    generated 180-block cities with 11 schools at 2.2 % slack: caps 2-30 % above the fewest moves that fit
    the seats gave no plan in 10 s).  None without a cap or current schools."""
    p = problem
    if p.max_moved is None or not (p.current >= 0).any():
        return None
    frugal = replace(p, move_penalty_m=frugal_penalty_m(p))
    flow = transport_bound(frugal, quiet=True)
    if not flow.feasible:
        return None
    if p.allow_overload:
        # the seats are priced and the cap is the rule: no ejection chain moves children out of a full school
        assign = round_flow(frugal, flow.flows)
        return repair(frugal, assign, seats=False) if p.contiguity else assign
    return first_plan(frugal, flow, deadline)


def trips_start(problem: ZoneProblem, deadline: float) -> np.ndarray | None:
    """A first plan from the relaxation without the move penalty (shortest trips, whoever moves).

    The rules are the same whatever the penalty, so a plan of this start keeps them as well.  Tried when the
    start at the move penalty breaks a rule: it keeps the current zones, and when they overfill a school
    whose neighbours are as full, neither the chains nor the repair windows (which let blocks move only into
    zones they touch) bring it back (measured: South Portland with seats cut to 2.2 % over the children,
    penalty 500 m, Skillin 75 over after 20 s; this start keeps every rule at once).  None without a
    penalty or current schools."""
    p = problem
    if p.move_penalty_m <= 0 or not (p.current >= 0).any():
        return None
    plain = replace(p, move_penalty_m=0)
    flow = transport_bound(plain, quiet=True)
    if not flow.feasible:
        return None
    return first_plan(plain, flow, deadline)


def _start_rank(search: Windows) -> tuple:
    """Which start to repair: within the cap on children moved first (no window can bring a plan back under
    it), then one keeping every rule, then the one with fewer children over seats, then (both over the cap)
    the one moving fewer children, then the cheaper."""
    over_moved = search._over_moved()
    return (
        over_moved,
        not search.valid(),
        int(search.overflow().sum()),
        search.moved if over_moved else 0,
        search.cost,
    )


def _knapsack_restart(search: Windows, prices: np.ndarray, lp_choice: np.ndarray):
    """Raise the knapsack bound for ``BOUND_SHARE`` of the time left, then make a plan of its knapsacks
    (each school's best blocks within its seats, at the best prices): blocks no knapsack took go to their
    school in the rounded relaxation, cut-off pieces join a zone they touch, ejection chains take out what
    is over.  Returns the search to go on with (from that plan when it is better) and the bound.

    Measured on the 50,000-block city at 5 % slack: that plan is 1.67 % above the relaxation where the
    rounded relaxation's is 1.86 % (its knapsacks fill the schools with whole blocks), and windows from it
    end 0.1-0.15 % lower."""
    p, options = search.problem, search.options
    until = time.perf_counter() + BOUND_SHARE * search._remaining()
    knapsack = knapsack_bound(p, prices, search.cost, until, relative_gap=options.relative_gap)
    search.lp_bound = max(search.lp_bound, float(knapsack.value))
    if search.gap_closed() or p.max_moved is not None:
        # under a cap on children moved the knapsacks' plan ignores the cap, and bringing it back under took
        # the time the windows needed (a 2,000-block city: 2,892 moved for a cap of 2,836 after its repair)
        return search, knapsack
    t0 = time.perf_counter()
    plan = np.where(knapsack.choice >= 0, knapsack.choice, lp_choice)
    if p.contiguity:
        plan = repair(p, plan, seats=False)
    give_up = t0 + RESTART_SHARE * (search.deadline - t0)
    plan = relieve_seats(p, plan, deadline=give_up)
    restart = Windows(p, options, give_up, plan, search.lp_bound, lp_choice)
    restart.repair()  # repair windows where the chains left a school over its seats or a zone in pieces
    restart.deadline = search.deadline
    better = restart.valid() and restart.cost < search.cost
    log.info(
        "plan of the knapsacks: %.1f child-km, %s (%.2f s)",
        restart.cost / p.scale / 1000,
        "better: the windows go on from it"
        if better
        else "no better"
        if restart.valid()
        else "breaks a rule",
        time.perf_counter() - t0,
    )
    if not better:
        return search, knapsack
    restart.source = "knapsack plan"
    return restart, knapsack


def _descend(search: Windows, lp_choice: np.ndarray | None) -> Windows:
    """Improving ejection chains over the whole city, on a large problem whose plan keeps every rule: from each
    school in turn the cheapest chain taking a block out of it (``ejection._Ejection.shortest_chain``: a block
    moves to a school with the seats, or to one that in turn sends out a block at least as large as it
    lacks, …, or back into the first school, in the seats its first block left), applied when it shortens the
    trips; sweeps while one gains ``DESCENT_MIN_GAIN`` of the cost.  A window re-draws the borders of a few
    zones exactly; a chain shifts blocks along a dozen.  Measured on the 50,000-block city at 5 % slack (load
    5 on 2 cores): one piece per zone, from the first plan, 2.41 -> 1.95 % above the relaxation in the
    first sweep (1.7 s; 2.08 % without chains back into the first school), where 25 s of windows took 0.03 %;
    without the rule 1.87 -> 1.61 % (2.6 s).  Returns the search to go on with (the descended plan when better).
    """
    p = search.problem
    if p.arc_load is not None or p.max_moved is not None or p.n_blocks <= windows.LARGE_BLOCKS:
        return search
    if not search.valid() or search.gap_closed() or search._remaining() <= 0:
        return search
    t0 = time.perf_counter()
    until = t0 + DESCENT_SHARE * search._remaining()
    ej = _Ejection(p, search.assign.copy())
    ej.cycles = True
    sweeps = 0
    while time.perf_counter() < until:
        sweeps += 1
        gain = 0.0
        for s in range(p.n_schools):
            if time.perf_counter() >= until or search._remaining() <= 0:
                break
            cost, chain = ej.shortest_chain(s, 1)
            if not chain or cost >= 0:
                continue
            if not ej.apply_whole(chain):
                continue
            gain -= cost
        if gain < DESCENT_MIN_GAIN * search.cost:
            break
    out = Windows(p, search.options, search.deadline, ej.assign, search.lp_bound, lp_choice)
    log.info(
        "improving chains: %.1f -> %.1f child-km, %d sweep(s) (%.2f s)",
        search.cost / p.scale / 1000,
        out.cost / p.scale / 1000,
        sweeps,
        time.perf_counter() - t0,
    )
    if not out.valid() or out.cost >= search.cost:
        return search
    out.source = f"{search.source} + chains"
    out.windows, out.rounds, out.cuts = search.windows, search.rounds, search.cuts
    out.progress()
    return out


def _no_plan(problem: ZoneProblem, search: Windows, options: SolveOptions) -> ZoningError:
    """No plan within every rule in time: what the best one still breaks (``diagnose.explain_no_plan``)."""
    return explain_no_plan(
        problem,
        over=search.overflow(),
        in_pieces=search.in_pieces,
        moved=search.moved if search._over_moved() else None,
        time_limit_s=options.time_limit_s,
    )


# ------------------------------------------------------------------------------------------ per-pair loads


def _pair_start(problem: ZoneProblem, lp: PairLP, deadline: float) -> np.ndarray:
    """A first plan for per-pair loads (the generalised assignment problem), in numpy.

    Each job goes to the agent with most of it in the LP relaxation (at most one fractional job per agent
    in a basic optimum, so few agents end over capacity); jobs then leave over-full agents, the cheapest
    move per unit of load freed first, or, where no job can move, the cheapest swap (:func:`_swap_out`); a
    descent of shifts (one job to another agent with room) and swaps
    (two jobs of different agents trade places; only up to ``PAIR_SWAP_JOBS`` jobs, the n × n swap table
    being dense) ends it.  Measured on the generated 20-40 × 400 instances of types C, D and E
    (``benchmarks/gap_tight.py``): 0.7-1.5 % above the LP in 0.02-0.07 s; from the cheapest arcs and
    CP-SAT's repair windows, as before, the plan after 30 s was up to 104 % above the best seen (type E,
    40 × 400), and on d40400 and e40400 this start alone beats plain CP-SAT's 30 s plan.  What stays over
    capacity is left to the repair windows.
    """
    t0 = time.perf_counter()
    p = problem
    m, n = p.n_schools, p.n_blocks
    cost = np.full((m, n), np.inf)
    cost[p.arc_school, p.arc_block] = p.arc_cost
    load = np.full((m, n), np.iinfo(np.int64).max // 4, dtype=np.int64)
    load[p.arc_school, p.arc_block] = p.arc_seats
    x = np.zeros((m, n))
    x[p.arc_school, p.arc_block] = lp.flows if lp.feasible else 0.0
    jobs = np.arange(n)
    assign = np.where(x.max(axis=0) > 0, x.argmax(axis=0), np.argmin(cost, axis=0))
    room = p.capacity - np.bincount(assign, weights=load[assign, jobs], minlength=m).astype(np.int64)

    # jobs out of over-full agents: the cheapest move per unit of load freed
    while (room < 0).any() and time.perf_counter() < deadline:
        leave = room[assign] < 0
        fits = load <= room[:, None]
        delta = np.where(fits & leave[None, :], cost - cost[assign, jobs], np.inf)
        delta = (delta + 1e-9) / np.maximum(1, load[assign, jobs])[None, :]
        k, i = np.unravel_index(np.argmin(delta), delta.shape)
        if np.isfinite(delta[k, i]):
            room[assign[i]] += load[assign[i], i]
            room[k] -= load[k, i]
            assign[i] = k
            continue
        if n > PAIR_SWAP_JOBS or not _swap_out(cost, load, assign, room):
            break  # no move and no swap: the repair windows take the rest

    # descent: the best shift or swap, while one lowers the cost and keeps every agent within capacity
    while (room >= 0).all() and time.perf_counter() < deadline:
        here = cost[assign, jobs]
        shift = np.where(load <= room[:, None], cost - here, np.inf)
        k, i = np.unravel_index(np.argmin(shift), shift.shape)
        best_shift = shift[k, i]
        if n > PAIR_SWAP_JOBS:
            if best_shift >= 0:
                break
            room[assign[i]] += load[assign[i], i]
            room[k] -= load[k, i]
            assign[i] = k
            continue
        c_other = cost[assign, :]  # [i, i2]: cost of job i2 at job i's agent
        l_other = load[assign, :]
        gain = c_other + c_other.T - here[:, None] - here[None, :]
        # job i2 comes to i's agent (which i leaves), and i goes to i2's agent
        fits = l_other - load[assign, jobs][:, None] <= room[assign][:, None]
        ok = fits & fits.T & (assign[:, None] != assign[None, :])
        gain = np.where(ok, gain, np.inf)
        i1, i2 = np.unravel_index(np.argmin(gain), gain.shape)
        best_swap = gain[i1, i2]
        if min(best_shift, best_swap) >= 0:
            break
        if best_shift <= best_swap:
            room[assign[i]] += load[assign[i], i]
            room[k] -= load[k, i]
            assign[i] = k
        else:
            a, b = assign[i1], assign[i2]
            room[a] += load[a, i1] - load[a, i2]
            room[b] += load[b, i2] - load[b, i1]
            assign[i1], assign[i2] = b, a
    log.info(
        "first plan of the per-pair loads: %d over capacity (%.2f s)",
        int(np.maximum(0, -room).sum()),
        time.perf_counter() - t0,
    )
    return assign.astype(np.int64)


def _swap_out(cost: np.ndarray, load: np.ndarray, assign: np.ndarray, room: np.ndarray) -> bool:
    """The cheapest swap per unit of load freed that takes load out of an over-full agent (job i leaves it,
    job i2 of an agent with room for i comes in, lighter there), in place; False when there is none.
    With 5 jobs an agent (type E, 40 × 200) single moves left agents over capacity, and CP-SAT's repair
    window then took 1.7 of 4 s to a plan 16 % above the LP."""
    jobs = np.arange(len(assign))
    here_load = load[assign, jobs]
    l_other = load[assign, :]  # [i, i2]: load of job i2 at job i's agent
    freed = here_load[:, None] - l_other  # what i's agent gains when i leaves and i2 comes
    fits_b = (l_other - here_load[:, None] <= room[assign][:, None]).T  # i2's agent takes i
    ok = (room[assign] < 0)[:, None] & (freed > 0) & fits_b & (assign[:, None] != assign[None, :])
    if not ok.any():
        return False
    c_other = cost[assign, :]
    delta = c_other + c_other.T - cost[assign, jobs][:, None] - cost[assign, jobs][None, :]
    score = np.where(ok, (delta - delta.min() + 1e-9) / np.maximum(freed, 1), np.inf)
    i1, i2 = np.unravel_index(np.argmin(score), score.shape)
    a, b = assign[i1], assign[i2]
    room[a] += load[a, i1] - load[a, i2]
    room[b] += load[b, i2] - load[b, i1]
    assign[i1], assign[i2] = b, a
    return True
