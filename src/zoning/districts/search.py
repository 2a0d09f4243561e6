"""School districts at any scale: the whole CP-SAT model or windows of a few districts, with a proven bound.

Every problem gets large-neighbourhood search from the constructive start (``start``): a few neighbouring
districts at a time are re-solved exactly (the same model on their schools, with complete hints), the rest
held fixed.  Up to ``FULL_MODEL_SCHOOLS`` schools the whole model with lazy one-piece cuts follows once the
windows stall (CP-SAT's bound proves optimality on small ones; there a window of every district is the
whole model), hinted with their plan; without a plan by then, it is hinted with the compact regions before
balancing and gets the time left.
While the plan breaks a band by much (``anneal.ANNEAL_EXCESS``), it is annealed first (``anneal``: single
moves over the whole city, where key schools must travel over several districts); then repair windows:
around a district that misses (drawn in proportion to its miss), neighbouring districts join until their
totals can fit their bands (``windows.repair_window``); the window minimises the band slack alone and
stops at its first regrouping that keeps every rule inside it.  Above ``FULL_MODEL_SCHOOLS`` schools, a
start that needed the annealing gets one round of it (a cycle, then the breakout: ``anneal.breakout``), then
the repair windows and the breakout take turns until a plan keeps every rule: the breakout passes a surplus
on through districts at their bands' edges, the windows mend the last district it leaves outside.  Once a
plan keeps every rule, the
annealing's chain shortens its trips with every band hard (``anneal.polish``) before the windows re-solve
districts exactly.  Windows keep districts in one piece by shortest paths (``model``), so they need no lazy
cuts; the whole model keeps the exact rule.  Every solution CP-SAT reports is read as it comes
(a plan in one piece is kept, one in pieces yields cuts).  Up to ``FULL_MODEL_SCHOOLS`` schools, a plan
the windows cannot mend is re-grouped as a whole city (the slack alone minimised, shortest paths) before
the whole model runs.  The proven bound is the LP relaxation of (1)–(7) (where HiGHS cannot finish it in
the time, PDLP's dual bound, valid however far PDLP got) and, up to ``FULL_MODEL_SCHOOLS`` schools once a
plan exists, HiGHS' branch and cut on it (``bound.BoundJob``, in a background thread; its grouping is
adopted when it is better), or CP-SAT's own bound when the whole model was solved; the gap is measured
against the best of them.  Ending without a plan, the message names the rule that binds
(``diagnose``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..cpsat import run_cpsat
from ..errors import ZoningError
from ..options import SolveOptions
from .anneal import ANNEAL_EXCESS, POLISH_T_START, anneal, breakout, polish
from .bound import BoundJob
from .diagnose import district_shortfalls, explain_districts, no_plan_found, precheck_districts
from .model import DistrictModel
from .problem import DistrictProblem, _excess_of, _stats, band_excess, coverage, district_pieces, is_valid
from .start import compact_start, constructive, improve, repair_pieces
from .windows import improvement_window, repair_window

__all__ = ["DistrictSolution", "solve_districts"]

log = logging.getLogger(__name__)

#: Up to this many schools the whole model is solved at once; above it, windows of a few districts.
FULL_MODEL_SCHOOLS = 400
#: Schools per LNS window (a few neighbouring districts).
WINDOW_SCHOOLS = 70
#: Most districts per LNS window.
WINDOW_DISTRICTS = 5
#: Share of the time the repair windows may take before the whole model (up to ``FULL_MODEL_SCHOOLS``).
REPAIR_SHARE = 0.25
#: Most schools per repair window (grown up to four times around a district a repair failed to mend).
REPAIR_SCHOOLS = 100
#: Seconds per LNS window.
WINDOW_SECONDS = 2.0
#: Seconds per repair window (most prove their least slack in well under a second; see ``model``).
REPAIR_SECONDS = 2.0
#: Share of the time for the annealing (``anneal``) while no plan keeps every rule, counted from the end of
#: the start (half of it up to FULL_MODEL_SCHOOLS, where the whole-city repair follows).
ANNEAL_SHARE = 0.4
#: Share of the time for the trips' annealing (``anneal.polish``) above ``FULL_MODEL_SCHOOLS``, once a plan
#: keeps every rule, before the windows: their re-solves of five districts at a time take about 2 s each
#: there.
POLISH_SHARE = 0.4
#: The same up to ``FULL_MODEL_SCHOOLS``, where the windows are quick, in ``POLISH_RUNS`` chains of their own
#: seeds from the same plan, the shortest kept: on mixed 300 → 25 one chain of 3 s from the start gave
#: 236.3–237.1 k children-km by its seed (the windows alone: 237.1–237.65 k).
POLISH_SHARE_SMALL = 0.15
POLISH_RUNS = 3
#: Up to ``FULL_MODEL_SCHOOLS``, the windows stop after this many sweeps without improvement (a window around
#: every district) and the trips are annealed again from their plan (fresh seeds), while a round of the two
#: improves it.  Measured on 300 → 25 in 60 s (load 1–2): the windows after the first polish improved mixed
#: once (236.9 k children-km at 12 s) and then found nothing in 48 s and 77 windows.
ALTERNATE_PATIENCE = 1.0
#: The trips' annealing of a plan already annealed and windowed starts cooler than the first one.
REPOLISH_T_START = 0.003
#: Above ``FULL_MODEL_SCHOOLS``, a start the annealing was needed for (missing by more than
#: ``anneal.ANNEAL_EXCESS``) gets one round of the annealing (a cycle, then the breakout), then repair windows
#: until REPAIR_PATIENCE sweeps of them find nothing, then the breakout again for at most BREAKOUT_ROUND_S,
#: and so on, while no plan keeps every rule.  Clustered 1,000 → 80 (session 19): the breakout left one
#: district outside after 15 s and kept it there until 120 s, where the first repair window mended it at
#: once; with the windows' turn at 141 s they left two districts outside for the last 160 s of 300.  The
#: breakout's turns end after ``anneal.BREAKOUT_PATIENCE`` seconds without a better grouping: a CLI run with
#: 10 s ended 3 districts outside after 300 s, the same with 30 s (and turns of 60 s) kept every rule at 148 s.
REPAIR_PATIENCE = 0.25
REPAIR_ROUND_S = 15.0
BREAKOUT_ROUND_S = 60.0


@dataclass(frozen=True)
class DistrictSolution:
    problem: DistrictProblem
    lead_of: np.ndarray  # (n,) index of the lead school of every school's district
    status: str  # optimal | feasible
    objective: int
    bound: float
    bound_source: str
    seconds: float
    lp_value: float
    lp_seconds: float
    rounds: int
    cuts: int
    windows: int
    source: str
    first_seconds: float = float("nan")  # when the first plan keeping every rule was found

    @property
    def gap(self) -> float:
        return 0.0 if self.objective <= 0 else max(0.0, (self.objective - self.bound) / self.objective)


def _window_coverage(p: DistrictProblem, lead_of: np.ndarray, window: np.ndarray) -> int:
    """Weight the window must cover for the coverage rule to hold, given what is covered outside it."""
    if p.min_coverage is None:
        return 0
    w = p.weight.astype(float)
    need = int(np.ceil(p.min_coverage * w.sum() - 1e-9))
    outside = ~np.isin(np.arange(p.n), window)
    cov_lead = np.zeros(p.n, dtype=bool)
    cov_lead[np.unique(lead_of[p.hq])] = True
    return max(0, need - int(w[outside & cov_lead[lead_of]].sum()))


def _solve_window(
    p: DistrictProblem,
    lead_of: np.ndarray,
    window: np.ndarray,
    options: SolveOptions,
    time_limit_s: float,
    *,
    soft: bool,
    pieces: dict,
    max_rounds: int = 50,
    on_valid=None,
    hint: np.ndarray | None = None,
) -> tuple[np.ndarray | None, str, float, int, int]:
    """Re-group ``window`` (whole districts) exactly; returns (best valid regrouping or None, status,
    the window's proven bound, rounds, cuts).

    Every solution CP-SAT finds is read as it comes: one in one piece is a candidate plan (``on_valid`` is
    called with it when it keeps every band), one cut in pieces yields one-piece cuts for the next round.
    """
    deadline = time.perf_counter() + time_limit_s
    k = len(np.unique(lead_of[window]))
    # windows keep districts in one piece by shortest paths (no lazy cuts; measured, load 2.1–2.7: mixed
    # 1,000 → 80 in 30 s, 6.35 % with shortest paths against 6.91 % exact; with the windows first on 300 → 25
    # in 60 s, load 2.6–5: mixed 237.7 k children-km twice against 238.1 k four times exact, heavy 195.3 k and
    # 195.4 k against 195.3–199.3 k; the windows end proven optimal 4 times in 5, not 3 in 5).  The whole
    # model keeps the exact rule, so its bound stays a bound.
    # a repair of the whole city (up to FULL_MODEL_SCHOOLS, when the windows could not mend the plan) keeps
    # the shortest paths as well: on the clustered 300 → 25 city it found the first grouping keeping every
    # rule in 97 s from the constructive start (load 6), and in the search at 180 s after 73 s (45 s of
    # repair windows first; load 5); with the exact rule's lazy cuts no round ended within 240 s
    star = len(window) < p.n or soft
    dm = DistrictModel(
        p, window, k, covered_min=_window_coverage(p, lead_of, window), soft=soft, known_pieces=pieces,
        star=star,
    )  # fmt: skip
    best, best_key = None, None
    status, bound = "unknown", 0.0
    rounds = 0
    current_key = (round(band_excess(p, lead_of), 9), p.cost_of(lead_of))
    new_pieces: list = []
    # a repair window stops at its first regrouping that keeps every rule inside it: polishing its cost
    # is the improvement windows' job, and a repair window that runs on spends the time the other
    # districts that miss are waiting for
    repaired = [False]

    def harvest(sol: np.ndarray) -> bool:
        """Keep a solution if it is the best plan so far; True when it is in one piece."""
        nonlocal best, best_key
        cand = dm.read(sol, lead_of)
        cut = district_pieces(p, cand, np.unique(cand[window]))
        if cut:
            new_pieces.extend(cut)
            # a promising plan in pieces is mended (pieces join a neighbour, bands rebalanced)
            if p.cost_of(cand) < min(current_key, best_key or current_key)[1]:
                _consider(repair_pieces(p, cand, deadline=time.perf_counter() + 0.2))
            return False
        _consider(cand)
        return True

    def _consider(cand: np.ndarray) -> None:
        nonlocal best, best_key
        if district_pieces(p, cand, np.unique(cand[window])):
            return
        if (p.pair_index(window, cand[window]) < 0).any():
            return
        key = (round(band_excess(p, cand), 9), p.cost_of(cand))
        if best_key is None or key < best_key:
            best, best_key = cand, key
            repaired[0] = soft and window_excess(p, cand, window) <= 1e-9
            if key[0] <= 1e-9 and key < current_key and on_valid is not None:
                on_valid(cand)

    while rounds < max_rounds:
        remaining = deadline - time.perf_counter()
        if remaining <= 0.02:
            break
        rounds += 1
        dm.hint(best if best is not None else (hint if hint is not None else lead_of))
        new_pieces.clear()
        res = run_cpsat(
            dm.model, options=options, time_limit_s=remaining, on_solution=harvest,
            stop_when=lambda: repaired[0], quiet=len(window) < p.n,
        )  # fmt: skip
        status = res.status
        if status in ("infeasible", "unknown", "invalid"):
            break
        bound = res.bound
        if harvest(res.solution):
            break  # the relaxation's optimum is in one piece: optimal for the window
        for lead, comp in new_pieces:
            pieces.setdefault((lead, comp.tobytes()), comp)
        dm.add_piece_cuts(list({(lead, c.tobytes()): (lead, c) for lead, c in new_pieces}.values()))
    if best is not None and best_key >= current_key:
        best = None
    return best, status, bound, rounds, dm.n_cuts


def window_excess(p: DistrictProblem, lead_of: np.ndarray, window: np.ndarray) -> float:
    """Band excess of the districts of ``window`` alone (with the pairs inside it, and the coverage rate,
    which only the whole plan has)."""
    leads = np.unique(lead_of[window])
    total = float(_excess_of(p, _stats(p, lead_of), leads).sum())
    inside = np.zeros(p.n, dtype=bool)
    inside[window] = True
    for a, b in p.together:
        total += float(inside[a] and lead_of[a] != lead_of[b])
    for a, b in p.apart:
        total += float(inside[a] and lead_of[a] == lead_of[b])
    if p.min_coverage is not None:
        total += max(0.0, p.min_coverage - coverage(p, lead_of)) * 10
    return total


@dataclass
class _Search:
    """The running state of one solve: the incumbent, the proven bound and the counters reported."""

    p: DistrictProblem
    options: SolveOptions
    t0: float
    deadline: float
    lead_of: np.ndarray
    bound: float = 0.0
    bound_source: str = "none"
    first_seconds: float = float("nan")
    rounds: int = 0
    cuts: int = 0
    windows: int = 0
    source: str = "constructive"
    breakouts: int = 0
    pieces: dict = field(default_factory=dict)
    on_first_valid: Callable[[], None] = lambda: None

    def left(self) -> float:
        if self.stopped():
            return 0.0  # stopped (Ctrl-C): every loop ends as at the time limit
        return self.deadline - time.perf_counter()

    def stopped(self) -> bool:
        return self.options.stopped

    def progress(self, done: bool = False) -> None:
        """A progress record (the CLI draws it as one line on a terminal, as for zones): seconds of the
        limit, the best grouping keeping every rule, the bound and the gap.  Nothing while it misses a rule."""
        p = self.p
        if not is_valid(p, self.lead_of):
            return
        cost = p.cost_of(self.lead_of)
        gap = 0.0 if cost <= 0 else max(0.0, (cost - self.bound) / cost)
        limit = self.options.time_limit_s
        elapsed = min(limit, time.perf_counter() - self.t0)
        unit = {"children": "child-km", "seats": "seat-km", "schools": "school-km"}[
            p.weight_label
        ]  # as the summary
        log.info(
            "progress: %.0f / %.0f s, best %.1f %s, gap %.2f %%", elapsed, limit, cost / 1000, unit, 100 * gap,
            extra={"progress": {"elapsed_s": elapsed, "limit_s": limit, "best": cost / 1000, "unit": unit,
                                "gap": gap, "done": done}},
        )  # fmt: skip

    def on_valid(self, _plan: np.ndarray | None = None) -> None:
        """A plan keeping every rule was found: note when the first one came."""
        if np.isnan(self.first_seconds):
            self.on_first_valid()
            self.first_seconds = time.perf_counter() - self.t0
            log.info("districts: first plan keeping every rule after %.2f s", self.first_seconds)

    def gap_closed(self) -> bool:
        """The incumbent is proven within the requested relative gap."""
        return self.bound >= self.p.cost_of(self.lead_of) * (1 - self.options.relative_gap)

    def raise_bound(self, value: float, source: str) -> None:
        if value > self.bound:
            self.bound, self.bound_source = value, source

    def adopt(self, plan: np.ndarray, source: str) -> bool:
        """Take a grouping from elsewhere (the relaxation's) if, mended into one piece and descended, it
        keeps every rule and costs less than the incumbent."""
        p = self.p
        if district_pieces(p, plan) or band_excess(p, plan) > 1e-9:
            plan = repair_pieces(p, plan, deadline=time.perf_counter() + 1.0)
        plan = improve(p, plan, deadline=time.perf_counter() + 1.0)
        better = not is_valid(p, self.lead_of) or p.cost_of(plan) < p.cost_of(self.lead_of)
        log.info(
            "districts: the %s's grouping, mended: %.1f %s-km, %s (the search's: %.1f)", source,
            p.cost_of(plan) / 1000, p.weight_label, "keeps every rule" if is_valid(p, plan) else "breaks a rule",
            p.cost_of(self.lead_of) / 1000,
        )  # fmt: skip
        if not (is_valid(p, plan) and better):
            return False
        self.lead_of, self.source = plan, source
        self.on_valid()
        self.progress()
        return True

    def solve(
        self, window: np.ndarray, seconds: float, *, soft: bool, source: str, hint: np.ndarray | None = None
    ) -> tuple[str, float, bool]:
        """Re-solve ``window`` exactly and keep the result if better: (status, window bound, improved)."""
        new, status, wbound, r, c = _solve_window(
            self.p, self.lead_of, window, self.options, seconds, soft=soft, pieces=self.pieces,
            on_valid=self.on_valid, hint=hint,
        )  # fmt: skip
        self.rounds += r
        self.cuts += c
        self.windows += 1
        if new is not None:
            self.lead_of, self.source = new, source
        return status, wbound, new is not None


def _full_model(s: _Search, hint: np.ndarray | None = None, until: float | None = None) -> None:
    """The whole model at once (bands hard: CP-SAT repairs a hint that misses them better than it trades
    slack for trips); CP-SAT's bound of the model with the cuts so far is a proven bound.

    ``hint``: the compact start while no plan keeps every rule (None: the incumbent).  Measured on 300 → 25
    (60 s): hinted with the compact districts that miss the bands, CP-SAT ends 1.3–1.6 % above the LP bound;
    hinted with the balanced start, 3–15 % (it stays near the distorted shapes the balancing moves made)."""
    p = s.p
    seconds = s.left() if until is None else until - time.perf_counter()
    status, wbound, _ = s.solve(np.arange(p.n), seconds, soft=False, source="CP-SAT", hint=hint)
    if status == "infeasible":
        raise explain_districts(p, s.lead_of)
    # the bound of the last round CP-SAT finished (0 without one): valid whatever the final status
    s.raise_bound(wbound, "CP-SAT")
    if status == "optimal" and is_valid(p, s.lead_of):
        # the last round's optimum was in one piece: the plan is optimal
        s.raise_bound(min(wbound, p.cost_of(s.lead_of)), "CP-SAT")


def _anneal(s: _Search, until: float, rounds: int | None = None) -> None:
    """The incumbent annealed on its band excess until ``until`` (:func:`anneal.anneal`)."""
    before = band_excess(s.p, s.lead_of)
    plan = anneal(
        s.p, s.lead_of, until=until, seed=s.options.seed, stop=s.stopped, rounds=rounds, chains=s.options.workers
    )  # fmt: skip
    _take(s, plan, "annealing", before)


def _breakout(s: _Search, until: float) -> None:
    """The incumbent's districts outside their bands pressed on by the breakout until ``until``
    (:func:`anneal.breakout`), a seed of its own each time."""
    before = band_excess(s.p, s.lead_of)
    s.breakouts += 1
    plan = breakout(
        s.p, s.lead_of, until=until, seed=s.options.seed + 1000 * s.breakouts, stop=s.stopped,
        chains=s.options.workers,
    )  # fmt: skip
    _take(s, plan, "breakout", before)


def _take(s: _Search, plan: np.ndarray, source: str, before: float) -> None:
    if plan is not s.lead_of:
        s.lead_of, s.source = plan, source
        if is_valid(s.p, plan):
            s.on_valid()
        log.info("districts: %s %.3f → %.3f band excess", source, before, band_excess(s.p, plan))


def _polish(
    s: _Search, until: float, runs: int = 1, first_seed: int = 0, t_start: float = POLISH_T_START
) -> None:
    """The incumbent (keeping every rule) with its trips annealed from ``t_start`` until ``until``
    (:func:`anneal.polish`): ``runs`` chains of as many seeds (from the options' seed + ``first_seed``), each
    from the same incumbent and given an equal share of the time, the shortest kept."""
    if not is_valid(s.p, s.lead_of):
        return
    start, before = s.lead_of, s.p.cost_of(s.lead_of)
    for r in range(runs):
        now = time.perf_counter()
        share = (until - now) / (runs - r)
        seed = s.options.seed + first_seed + r
        plan = polish(s.p, start, until=now + share, seed=seed, stop=s.stopped, t_start=t_start)
        if plan is not start and is_valid(s.p, plan) and s.p.cost_of(plan) < s.p.cost_of(s.lead_of):
            s.lead_of, s.source = plan, "annealing (trips)"
    if s.lead_of is not start:
        after = s.p.cost_of(s.lead_of)
        log.info("districts: trips annealed %.1f → %.1f %s-km", before / 1000, after / 1000, s.p.weight_label)
        s.progress()


def _seed_district(p: DistrictProblem, lead_of: np.ndarray, order: list[int], rng) -> int | None:
    """The district a window is built around: while a band is missed, the one missing it most; then
    every district in turn (a fresh random order each sweep).  None: skip this turn."""
    if band_excess(p, lead_of) > 1e-9:
        leads = np.unique(lead_of)
        if p.min_coverage is not None and coverage(p, lead_of) < p.min_coverage and rng.random() < 0.5:
            # coverage short: half the repair windows go around a district without a high-quality school
            covered = np.zeros(p.n, dtype=bool)
            covered[np.unique(lead_of[p.hq])] = True
            bare = leads[~covered[leads]]
            if len(bare):
                return int(rng.choice(bare))
        ex = _excess_of(p, _stats(p, lead_of), leads)
        if ex.max() <= 0:
            return int(rng.choice(leads))
        # the districts missing most, by chance in proportion to the miss (always the worst one
        # stalls the mixed 1,000 → 80 city on one window that cannot mend it)
        return int(rng.choice(leads, p=ex / ex.sum()))
    if not order:
        order.extend(rng.permutation(np.unique(lead_of)).tolist())
    lead = int(order.pop())
    return lead if lead_of[lead] == lead else None


def _lns(
    s: _Search, until: float, rng, poll_bound, *, repair_only: bool = False, patience: float = 3.0
) -> None:
    """Large-neighbourhood search: a few neighbouring districts at a time re-solved exactly, until
    ``until``, a plan proven within the gap, or ``patience`` sweeps (a window around every district) without
    improvement (``repair_only``: until the plan keeps every band)."""
    p = s.p
    order: list[int] = []
    stale = 0
    while time.perf_counter() < until - 0.1 and stale <= patience * p.n_districts and not s.stopped():
        poll_bound()
        valid = band_excess(p, s.lead_of) <= 1e-9
        if valid and (repair_only or s.gap_closed()):
            break
        seed_lead = _seed_district(p, s.lead_of, order, rng)
        if seed_lead is None:
            continue
        if valid:
            window = improvement_window(p, s.lead_of, seed_lead, rng, WINDOW_SCHOOLS, WINDOW_DISTRICTS)
        else:
            # a repair that failed around the same district gets a wider window next time
            grow = min(1 + stale, 4)
            window = repair_window(p, s.lead_of, seed_lead, rng, grow * REPAIR_SCHOOLS, 1 + 2 * grow)
        budget = min(WINDOW_SECONDS if valid else REPAIR_SECONDS, until - time.perf_counter())
        status, wbound, improved = s.solve(window, budget, soft=not valid, source="LNS")
        stale = 0 if improved else stale + 1
        if valid and len(window) == p.n:
            s.raise_bound(wbound, "CP-SAT")  # a window of every district is the whole model (exact rule)
        log.debug(
            "window around %s: %d schools, %d districts, %s, %s", p.school_names[seed_lead], len(window),
            len(np.unique(s.lead_of[window])), status, "improved" if improved else "no better",
        )  # fmt: skip
        if improved:
            s.progress()
            log.info(
                "window %d (%d schools, %.1f s): %.1f %s-km, excess %.3f",
                s.windows,
                len(window),
                time.perf_counter() - s.t0,
                p.cost_of(s.lead_of) / 1000,
                p.weight_label,
                band_excess(p, s.lead_of),
            )


def solve_districts(p: DistrictProblem, options: SolveOptions = SolveOptions()) -> DistrictSolution:
    """Best grouping within the time limit, with a proven lower bound; InfeasibleError in planner's words.

    LNS windows from the balanced start; up to ``FULL_MODEL_SCHOOLS`` schools the whole model follows when
    they stall (hinted with their plan), or, without a plan, gets the time left (hinted with the compact
    start).
    """
    t0 = time.perf_counter()
    deadline = t0 + options.time_limit_s
    pre = precheck_districts(p)
    if pre is not None:
        raise pre
    # the bounds are computed beside the search (HiGHS and CP-SAT release the GIL)
    job = BoundJob(p, options, t0, integer=p.n <= FULL_MODEL_SCHOOLS)
    compact = compact_start(p, options.seed)
    start = constructive(p, options.seed, deadline=t0 + 0.3 * options.time_limit_s, compact=compact)
    s = _Search(p, options, t0, deadline, start, on_first_valid=job.plan_found.set)
    if is_valid(p, s.lead_of):
        s.on_valid()
    log.info(
        "districts: first grouping %.1f %s-km, band excess %.3f (%.2f s)",
        p.cost_of(s.lead_of) / 1000,
        p.weight_label,
        band_excess(p, s.lead_of),
        time.perf_counter() - t0,
    )

    def poll_bound(wait: bool = False) -> None:
        plans = []
        for value, seconds, plan, what in job.results(wait):
            if value is not None:
                log.info(
                    "districts: %s bound %.1f %s-km in %.2f s", what, value / 1000, p.weight_label, seconds
                )
                if value == float("inf"):
                    raise explain_districts(p, s.lead_of)
                s.raise_bound(value, what)
            if plan is not None:
                plans.append((plan, what))
        # HiGHS' groupings come better each time: the last one is mended and tried
        for plan, what in plans[-1:]:
            if not s.stopped():
                s.adopt(plan, what)

    try:
        rng = np.random.default_rng(options.seed)
        s.progress()  # the first grouping keeping every rule
        if p.n <= FULL_MODEL_SCHOOLS:
            if not is_valid(p, s.lead_of):
                # a start far from the bands is annealed; the repair windows mend what is left: on the
                # heavy-tailed 300 → 25 city the whole model took 34 s to its first plan keeping every band
                # from a start that missed them
                _anneal(s, min(deadline, time.perf_counter() + ANNEAL_SHARE / 2 * options.time_limit_s))
                _lns(s, t0 + REPAIR_SHARE * options.time_limit_s, rng, poll_bound, repair_only=True)
                s.progress()
            if not is_valid(p, s.lead_of):
                # what the windows could not mend is global (the clustered city's key schools must be spread
                # over districts reaching out of their quarter): the whole city re-grouped, the slack alone
                # minimised, until its first grouping keeping every rule
                s.solve(np.arange(p.n), s.left() * 0.9, soft=True, source="whole-city repair")
                s.progress()
            if is_valid(p, s.lead_of):
                # windows first, the whole model (hinted with their plan) once they stall; measured on
                # 300 → 25 in 60 s (load 4–7): the whole model first (70 % of the time, hinted with the
                # compact start) found nothing better than its start in 42 s on the mixed and heavy cities,
                # its windows after it ended at 240.4–240.9 k and 202.7 k children-km; windows alone at
                # 237.3–238.5 k and 195–199 k
                # the trips annealed, then windows until a sweep of them finds nothing, then the trips
                # annealed again from their plan with fresh seeds, while a round improves the plan
                seeds = 0
                while not (s.gap_closed() or s.left() <= 0.5):
                    before = p.cost_of(s.lead_of)
                    until = min(deadline, time.perf_counter() + POLISH_SHARE_SMALL * options.time_limit_s)
                    _polish(s, until, POLISH_RUNS, seeds, REPOLISH_T_START if seeds else POLISH_T_START)
                    seeds += POLISH_RUNS
                    _lns(s, deadline, rng, poll_bound, patience=ALTERNATE_PATIENCE)
                    if p.cost_of(s.lead_of) >= before:
                        break
                if not s.gap_closed() and s.left() > 0.5:
                    _full_model(s, until=deadline)
                    s.progress()
            else:
                # the whole model gets the time left (its infeasibility is a proof, the repair's is not:
                # the shortest paths are a restriction), then windows polish its plan
                _full_model(s, hint=compact, until=max(deadline, time.perf_counter() + 0.1))
                s.progress()
                if not s.gap_closed():
                    _lns(s, deadline, rng, poll_bound)
        else:
            if not is_valid(p, s.lead_of):
                far = band_excess(p, s.lead_of) > ANNEAL_EXCESS
                _anneal(s, min(deadline, time.perf_counter() + ANNEAL_SHARE * options.time_limit_s), rounds=1)
                if not far:
                    _lns(s, t0 + 0.5 * options.time_limit_s, rng, poll_bound, repair_only=True)
                while far and not is_valid(p, s.lead_of) and s.left() > 1.0:
                    # the repair windows and the breakout take turns: what one cannot mend, the other moves on
                    until = min(deadline, time.perf_counter() + REPAIR_ROUND_S)
                    _lns(s, until, rng, poll_bound, repair_only=True, patience=REPAIR_PATIENCE)
                    if not is_valid(p, s.lead_of):
                        _breakout(s, min(deadline, time.perf_counter() + BREAKOUT_ROUND_S))
            _polish(s, min(deadline, time.perf_counter() + POLISH_SHARE * options.time_limit_s))
            # (the bound comes from the background: HiGHS' LP, or PDLP's duals where HiGHS cannot finish it)
            _lns(s, deadline, rng, poll_bound)
    finally:
        job.release()  # a MIP not yet started never starts (the search ended, or raised)
    poll_bound(wait=True)
    s.progress(done=True)
    return _solution(s, *job.lp)


def _solution(s: _Search, lp_value: float, lp_seconds: float) -> DistrictSolution:
    """The final plan checked against every rule, with its bound and gap."""
    p, options, lead_of = s.p, s.options, s.lead_of
    seconds = time.perf_counter() - s.t0
    if not is_valid(p, lead_of):
        if band_excess(p, lead_of) > 1e-9 or district_pieces(p, lead_of):
            misses = district_shortfalls(p, lead_of)
            if district_pieces(p, lead_of):
                misses.append("some districts are in more than one piece")
            if p.min_coverage is not None and coverage(p, lead_of) < p.min_coverage:
                misses.insert(
                    0, f"coverage {coverage(p, lead_of):.1%}, below the {p.min_coverage:.0%} asked for"
                )
            raise no_plan_found(p, lead_of, options.time_limit_s, misses)
        raise ZoningError("the grouping found breaks a rule of the model (a bug in zoning, please report it)")
    objective = p.cost_of(lead_of)
    bound = min(s.bound, float(objective))
    gap = 0.0 if objective <= 0 else (objective - bound) / objective
    status = "optimal" if gap <= options.relative_gap + 1e-12 else "feasible"
    log.info(
        "districts: %.1f %s-km, bound %.1f (%s), gap %.3f%%, %s, %.2f s, %d window(s)",
        objective / 1000,
        p.weight_label,
        bound / 1000,
        s.bound_source,
        100 * gap,
        status,
        seconds,
        s.windows,
    )
    return DistrictSolution(
        problem=p,
        lead_of=lead_of,
        status=status,
        objective=objective,
        bound=bound,
        bound_source=s.bound_source,
        seconds=seconds,
        lp_value=lp_value,
        lp_seconds=lp_seconds,
        rounds=s.rounds,
        cuts=s.cuts,
        windows=s.windows,
        source=s.source,
        first_seconds=s.first_seconds,
    )
