"""Windows: the plan improved a few neighbouring schools at a time, each window an exact CP-SAT model.

A window is the zones of a few neighbouring schools (nearest along zones whose blocks could go to each
other): their blocks may move among them, and nothing else changes.  Because it holds whole zones, a window
is itself a complete zone problem (``ZoneProblem.window``) solved by the same exact CP-SAT model with lazy
one-piece cuts (``model.solve_exact``), hinted with the current plan.  :class:`Windows` holds the plan and
runs three kinds of windows (``search`` decides when):

* *repair* while the plan breaks a rule: windows around the school most over its seats (or the zone in
  pieces) minimise the children over seats (with the one-piece rule, then the blocks moved);
* *fewest moves* while the plan moves more children than the cap allows: windows price a move above any
  trip (seats and pieces kept) until the plan is back under the cap, which every later window keeps;
* *improvement*: sweeps of small windows over the whole city, two at a time on disjoint schools.

With per-pair loads (the generalised assignment problem) the schools are agents with no place: a window is
an agent and those its jobs could move to most cheaply, drawn with noise (``PAIR_NOISE``).

``districts.windows`` is the same room for districts (it only chooses the windows; ``districts.search``
solves them): the zones' windows carry the repair and fewest-moves modes and a thread pool as well.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from ..options import SolveOptions
from .bound import frugal_penalty_m
from .model import ExactResult, objective, solve_exact
from .problem import ZoneProblem, touching_arcs
from .start import fragments, loads

__all__ = ["Windows", "FULL_BLOCKS", "LARGE_BLOCKS", "WINDOW_BLOCKS"]

log = logging.getLogger(__name__)

#: Problems with at most this many blocks are solved as one window holding every school (the whole model).
FULL_BLOCKS = 5_000
#: Blocks in a window at the start (whole zones are added, nearest school first, up to this many).
WINDOW_BLOCKS = 120
#: Above this many blocks a problem is worked by small windows first (before any whole model), and with
#: hard seats it gets the knapsack bound and its plan (on the 5,000-block cities at 5 % slack, 30 s: 0.67 ->
#: 0.64 % above the relaxation, one piece 1.12 -> 1.05 %, one piece within 3 km 1.17 -> 0.97 %).
LARGE_BLOCKS = 4 * WINDOW_BLOCKS
#: Blocks in a repair window at the start (repair needs room: chains of moves to schools with free seats).
REPAIR_BLOCKS = 3_000
#: When every repair window failed, the same windows are tried again with this many times the time, before
#: wider ones (a 50,000-polygon city with one piece per zone: a 600-block window that fails in 1 s mends the
#: school in 1.4 s; windows of 1,200-19,200 blocks with 1-10 s failed, their lazy one-piece cuts unsettled).
REPAIR_BOOST = 4
#: With one piece per zone above ``FULL_BLOCKS`` blocks, a repair window gets this many times the time (and the
#: boosts above on top): its lazy one-piece cuts need rounds, a dozen for a 600-block window.  Measured on the
#: 50,000-block city at 5 % slack, load 5-6 on 2 cores: a 600-block window around a school 5 over its seats
#: failed in 1 s and in 4 s, then 1,200-4,800-block ones failed too and no plan came in 60 s (first plan
#: 38-46 s in the 60 s runs); the same 600-block window succeeds in 2.8 s when given 10 (first plan 15-26 s).
REPAIR_CONTIG_FACTOR = 4
#: Repair windows of a problem above ``FULL_BLOCKS`` blocks grow no wider, then get longer: memory and model
#: building stay those of a window, never the whole city's (plain CP-SAT on 50,000 × 1,500: 2.4 GB).
MAX_REPAIR_BLOCKS = 20_000
#: Share of the improvement time that small windows get before the whole model, on problems of at most
#: ``FULL_BLOCKS`` blocks (they hand the whole model a better hint).
SMALL_WINDOWS_SHARE = 0.5
#: With overload allowed, the share of the time left that repair windows may spend taking children over
#: seats out before the improvement windows.
SOFT_REPAIR_SHARE = 0.5
#: The school links that shape windows are recomputed after this many windows.
LINKS_EVERY = 50
#: Seconds a window may take per block in it (most small windows are solved to optimality in far less).
SECONDS_PER_BLOCK = 0.0005
#: Per-pair loads (the generalised assignment problem): a window is its seed agent and the agents nearest
#: in cost increase (``Windows._pair_links``) times a noise factor drawn from [1, PAIR_NOISE), so windows
#: from one seed differ from sweep to sweep.  The whole model of a 40 × 400 instance, hinted with a start
#: 1.5 % above the LP, improved nothing in 15 s (its LNS ran about 5 neighbourhoods per kind); windows of
#: 40-80 jobs first took it to 0.67 % in 15 s, and the whole model then to 0.57 %.
PAIR_NOISE = 3.0
#: Per-pair loads with more jobs than this get windows before the whole model; up to it the whole model comes
#: at once (OR-Library gap1-12, 15-60 jobs: with windows first two gap8 instances took 1.5 s to prove
#: optimal, where the whole model at once proves all 60 in at most 0.7 s).  Generated 10 × 100 instances of types
#: C, D and E (``benchmarks/gap_tight.py``, 3 s, 2 cores at load 3-7): the whole model at once, hinted with the
#: first plan, ended 0.2-2.1 % above a plain unhinted CP-SAT (its hint held it near the start: on a 15 × 150
#: type E instance three seeds all ended at the hint); windows first ended level or below it on C and D.
PAIR_WINDOWS_FROM = 60
#: Jobs in a window of per-pair loads at the start: a few agents, solved to optimality in milliseconds.
PAIR_WINDOW_BLOCKS = 40
#: Per-pair loads: when windows of this many jobs improve nothing the whole model comes next, not wider
#: windows (d40400: windows of 160 and 320 jobs improved nothing in 4 s, which the whole model then lacked).
PAIR_MAX_WINDOW_BLOCKS = 2 * PAIR_WINDOW_BLOCKS
#: A window of per-pair loads may take this many times ``SECONDS_PER_BLOCK`` per job (0.2 s for 40 jobs,
#: 0.8 s for 160; with the zones' 0.15 s, windows of 80-320 jobs of a 40 × 400 instance improved nothing).
PAIR_SECONDS_FACTOR = 10


@dataclass(frozen=True)
class _Job:
    """One window to solve: the sub-problem and what the plan looked like when it was cut out."""

    seed: int
    schools: np.ndarray  # school indices of the window (sorted)
    blocks: np.ndarray  # block indices of their zones (sorted)
    sub: ZoneProblem
    before: np.ndarray  # the plan on the sub-problem
    over: np.ndarray  # children over seats per window school
    pieces_before: int
    inside_moved: int
    whole: bool
    repairing: bool
    deadline: float
    bound: float
    #: fewest moves: a move dearer than any trip, the cap dropped; solved until the window moves at most this
    #: many (scaled) children, None for other windows
    moves_left: int | None = None


class Windows:
    """The plan being improved, window by window (see the module docstring)."""

    def __init__(
        self,
        problem: ZoneProblem,
        options: SolveOptions,
        deadline: float,
        assign,
        bound: float,
        lp_choice=None,
    ):
        p = self.problem = problem
        self.options, self.deadline, self.lp_bound = options, deadline, bound
        self.lp_choice = lp_choice  # each block's school in the rounded relaxation (None: no relaxation)
        self.assign = np.asarray(assign, dtype=np.int64).copy()
        self.load = loads(p, self.assign)
        order = np.argsort(self.assign, kind="stable")
        cut = np.searchsorted(self.assign[order], np.arange(p.n_schools + 1))
        self.zone = [order[cut[j] : cut[j + 1]] for j in range(p.n_schools)]
        self.in_pieces = np.zeros(p.n_schools, dtype=bool)
        if p.contiguity:
            for j, _blocks, _ref in fragments(p, self.assign):
                self.in_pieces[j] = True
        self.cost = objective(p, self.assign)
        self.moved = int(p.students[p.moved(self.assign)].sum())
        self.version = np.zeros(p.n_schools, dtype=np.int64)
        self.solved: dict[int, tuple] = {}  # seed → signature of its window when last solved to optimality
        self._links_version, self._links_cache = -1, None
        self._pair_version, self._pair_cache = -1, None
        self.rng = np.random.default_rng(options.seed)
        self.window_blocks = p.n_blocks if p.n_blocks <= FULL_BLOCKS else WINDOW_BLOCKS
        self.bound = 0.0
        self.proven_infeasible = False
        self._small_until = np.inf  # small windows stop here, for the whole model (small problems)
        self._repair_boost = 1  # repair windows' time is multiplied by this (REPAIR_BOOST once all failed)
        self._soft_seats = False  # overload allowed, but the repair windows take children over seats out
        self.windows = self.rounds = self.cuts = 0
        self.source = "rounded LP + repair"
        #: repair windows' time is multiplied by this too (REPAIR_CONTIG_FACTOR with one piece per zone in a city)
        self._repair_factor = REPAIR_CONTIG_FACTOR if p.contiguity and p.n_blocks > FULL_BLOCKS else 1

    # ---- state
    def overflow(self) -> np.ndarray:
        if self.problem.allow_overload and not self._soft_seats:
            return np.zeros(self.problem.n_schools, dtype=np.int64)
        return np.maximum(0, self.load - self.problem.capacity)

    def valid(self) -> bool:
        return not self.in_pieces.any() and not self.overflow().any() and not self._over_moved()

    def _over_moved(self) -> bool:
        p = self.problem
        return p.max_moved is not None and self.moved > p.max_moved

    # ---- windows
    def _links(self) -> sparse.csr_matrix:
        """Schools whose zones interact: a block of one zone may go to the other (weight: their distance)."""
        p = self.problem
        if self._links_cache is None or self.windows - self._links_version > LINKS_EVERY:
            keys = np.unique(self.assign[p.arc_block] * p.n_schools + p.arc_school)
            a, b = keys // p.n_schools, keys % p.n_schools
            a, b = a[a != b], b[a != b]
            d = np.hypot(*(p.school_xy[a] - p.school_xy[b]).T) + 1.0
            self._links_cache = sparse.csr_matrix((d, (a, b)), shape=(p.n_schools,) * 2)
            self._links_version = self.windows
        return self._links_cache

    def _pair_links(self) -> np.ndarray:
        """Per-pair loads: (M, M) how cheaply a job of one agent could go to the other (1 + the smallest
        cost increase either way; inf where no job may)."""
        p = self.problem
        if self._pair_cache is None or self.windows - self._pair_version > LINKS_EVERY:
            here = p.arc_cost[p.arc_index(np.arange(p.n_blocks), self.assign)]
            a, b = self.assign[p.arc_block], p.arc_school
            diff = np.maximum(0, p.arc_cost - here[p.arc_block]).astype(np.float64) + 1.0
            w = np.full((p.n_schools, p.n_schools), np.inf)
            np.minimum.at(w, (a[a != b], b[a != b]), diff[a != b])
            self._pair_cache, self._pair_version = np.minimum(w, w.T), self.windows
        return self._pair_cache

    def _window(
        self, seed: int, n_blocks: int, free_seats: int = 0, busy: np.ndarray | None = None
    ) -> np.ndarray:
        """The seed and the schools nearest it along interacting zones, until their zones hold about
        ``n_blocks`` blocks and, when repairing, ``free_seats`` seats are free among them.  ``busy``: with
        per-pair loads, agents in a window being solved, left out (any two agents interact, so windows would
        otherwise overlap and run one at a time)."""
        p = self.problem
        if n_blocks >= p.n_blocks:
            return np.arange(p.n_schools)
        if p.arc_load is None:
            dist = csgraph.dijkstra(self._links(), indices=seed)
        else:
            # per-pair loads: agents are not places; the seed and the agents its jobs (or theirs) could move
            # to most cheaply, drawn with noise so that windows from one seed differ
            dist = self._pair_links()[seed] * self.rng.uniform(1.0, PAIR_NOISE, size=p.n_schools)
            dist[seed] = 0.0
            if busy is not None:
                dist[busy] = np.inf
        reach = np.flatnonzero(np.isfinite(dist))
        near = reach[np.argsort(dist[reach], kind="stable")]
        sizes = np.cumsum([len(self.zone[j]) for j in near])
        take = max(2, int(np.searchsorted(sizes, n_blocks, side="right")))
        if free_seats > 0:
            free = np.cumsum(np.maximum(0, p.capacity[near] - self.load[near]))
            take = max(take, int(np.searchsorted(free, free_seats)) + 1)
        # every school is the whole model, kept for a window size of every block (its own time and proof)
        return np.sort(near[: min(take, max(1, p.n_schools - 1))])

    def _signature(self, schools: np.ndarray) -> tuple:
        return (schools.tobytes(), int(self.version[schools].sum()))

    def _key(self, seed: int, schools: np.ndarray) -> int:
        """Windows are remembered by their seed, and the window of every school by -1."""
        return -1 if len(schools) == self.problem.n_schools else seed

    def solve_window(self, seed: int, schools: np.ndarray, repairing: bool = False) -> bool:
        """Solve the window of ``schools`` exactly (within its time); True if the plan changed.

        ``repairing``: CP-SAT minimises the children over seats in the window, no school getting further
        over than it is now (so every repair window that changes the plan takes a step, and steps add up).
        """
        job = self._prepare(seed, schools, repairing)
        return self._apply(job, self._solve(job, self.options))

    def _prepare(self, seed: int, schools: np.ndarray, repairing: bool, frugal: bool = False) -> _Job:
        """The window as a sub-problem, from the current plan (read only)."""
        p = self.problem
        blocks = np.sort(np.concatenate([self.zone[j] for j in schools]))
        smap = np.full(p.n_schools, -1, dtype=np.int64)
        smap[schools] = np.arange(len(schools))
        moved_mask = p.moved(self.assign)
        inside_moved = int(p.students[blocks][moved_mask[blocks]].sum())
        sub = p.window(blocks, schools, np.zeros(len(schools), dtype=np.int64), self.moved - inside_moved)
        whole = len(schools) == p.n_schools
        if whole:
            sub = replace(sub, max_moved=p.max_moved)
        moves_left = None
        if frugal or (repairing and self._over_moved()):
            # over the cap, no window can keep it: seats and pieces are mended with the cap dropped, then the
            # fewest-moves windows bring the plan back under it (what the rest of the plan leaves of it)
            moves_left = p.max_moved - (self.moved - inside_moved)
            sub = replace(sub, max_moved=None)
        if frugal:
            sub = replace(sub, move_penalty_m=frugal_penalty_m(p))
        before = smap[self.assign[blocks]]
        if repairing and sub.contiguity:
            sub = touching_arcs(sub, before)
        now = time.perf_counter()
        seconds = (
            self.deadline - now
            if whole
            else min(
                SECONDS_PER_BLOCK
                * (
                    max(len(blocks), 2000) * self._repair_boost * (self._repair_factor if repairing else 1)
                    if repairing or frugal
                    else max(len(blocks), 300)
                    if p.arc_load is None
                    else PAIR_SECONDS_FACTOR * len(blocks)
                ),
                self.deadline - now,
            )
        )
        return _Job(
            seed=seed,
            schools=schools,
            blocks=blocks,
            sub=sub,
            before=before,
            over=self.overflow()[schools],
            pieces_before=int(self.in_pieces[schools].sum()),
            inside_moved=inside_moved,
            whole=whole,
            repairing=repairing,
            deadline=now + (seconds / 2 if frugal and whole else seconds),
            bound=self.lp_bound if whole and not repairing and not frugal else 0.0,
            moves_left=moves_left if frugal else None,
        )

    @staticmethod
    def _solve(job: _Job, options: SolveOptions) -> ExactResult:
        """Solve the window (touches no shared state: windows may be solved in parallel threads)."""
        return solve_exact(
            job.sub,
            job.before,
            job.deadline,
            options,
            bound=job.bound,
            quiet=not job.whole,
            overload_limit=job.over if job.repairing else None,
            enough=_within(job.sub, job.moves_left)
            if job.moves_left is not None
            else _seated(job.sub)
            if job.repairing and job.sub.contiguity
            else None,
        )

    def _apply(self, job: _Job, res: ExactResult) -> bool:
        """Take the window's plan if it is better (pieces, then children over seats, then cost)."""
        p, sub, schools, blocks = self.problem, job.sub, job.schools, job.blocks
        after = res.assign
        self.windows += 1
        self.rounds += res.rounds
        self.cuts += res.cuts
        if job.whole and not job.repairing and job.moves_left is None:
            if res.status == "infeasible":
                self.proven_infeasible = True
                return False
            self.bound = max(self.bound, res.bound)
        if after is None:
            return False
        new_load = loads(sub, after)
        pieces_after = len({j for j, _b, _r in fragments(sub, after)}) if sub.contiguity else 0
        over_after = 0 if p.allow_overload else int(np.maximum(0, new_load - p.capacity[schools]).sum())
        over_before = 0 if p.allow_overload else int(job.over.sum())
        # trips, plus the price of children over seats where the plan allows them (model.objective)
        cost_before = objective(sub, job.before)
        cost_after = objective(sub, after)
        remember = not job.repairing and job.moves_left is None
        if (pieces_after, over_after, cost_after) >= (job.pieces_before, over_before, cost_before):
            if remember:
                self.solved[self._key(job.seed, schools)] = self._signature(schools)
            return False
        new = schools[after]
        old = self.assign[blocks]
        changed = np.unique(np.concatenate([old[new != old], new[new != old]]))
        self.assign[blocks] = new
        self.load[schools] = new_load
        # a fewest-moves window prices moves above trips: the plan's own cost is counted again
        self.cost = (
            objective(p, self.assign) if job.moves_left is not None else self.cost + cost_after - cost_before
        )
        self.moved += int(p.students[blocks][p.moved(self.assign)[blocks]].sum()) - job.inside_moved
        for j in schools:
            self.zone[j] = blocks[new == j]
        self.in_pieces[schools] = False
        if pieces_after:
            for j, _b, _r in fragments(sub, after):
                self.in_pieces[schools[j]] = True
        self.version[changed] += 1
        if remember:
            self.solved[self._key(job.seed, schools)] = self._signature(schools)
        self.progress()
        return True

    def progress(self, done: bool = False) -> None:
        """A progress record (the CLI draws it as one line on a terminal): seconds of the limit, the best
        plan keeping every rule, the bound and the gap.  Nothing while the plan still breaks a rule."""
        if not self.valid():
            return
        p = self.problem
        bound = max(self.lp_bound, self.bound)
        gap = 0.0 if self.cost <= 0 else max(0.0, (self.cost - bound) / self.cost)
        limit = self.options.time_limit_s
        elapsed = min(limit, max(0.0, limit - self._remaining()))
        log.info(
            "progress: %.0f / %.0f s, best %.1f child-km, gap %.2f %%",
            elapsed,
            limit,
            self.cost / p.scale / 1000,
            100 * gap,
            extra={
                "progress": {
                    "elapsed_s": elapsed,
                    "limit_s": limit,
                    "best": self.cost / p.scale / 1000,
                    "unit": "child-km",
                    "gap": gap,
                    "done": done,
                }
            },  # fmt: skip
        )

    def _remaining(self) -> float:
        if self.options.stopped:
            return 0.0  # stopped (Ctrl-C): every loop ends as at the time limit
        return self.deadline - time.perf_counter()

    def gap_closed(self) -> bool:
        bound = max(self.lp_bound, self.bound)
        return self.valid() and self.cost > 0 and bound >= self.cost * (1 - self.options.relative_gap) - 1e-9

    def _excess(self) -> np.ndarray:
        """Per school: child-metres its zone's blocks travel beyond their choice in the relaxation."""
        p = self.problem
        if self.lp_choice is None:
            return np.zeros(p.n_schools)
        blocks = np.arange(p.n_blocks)
        here = p.arc_unit_cost[p.arc_index(blocks, self.assign)]
        there = p.arc_unit_cost[p.arc_index(blocks, self.lp_choice)]
        extra = np.maximum(0, here - there) * p.students
        return np.bincount(self.assign, weights=extra, minlength=p.n_schools)

    def _sweep(self, seeds: list[int], covered: np.ndarray) -> bool:
        """One window per uncovered seed; two windows at a time on disjoint schools (one CP-SAT worker
        each) when the options give two workers and no cap on moved children ties windows together."""
        p = self.problem
        threads, options = self._pool()
        busy = np.zeros(p.n_schools, dtype=bool)
        changed_any = False
        todo = iter(seeds)
        inflight: dict = {}
        with ThreadPoolExecutor(threads) as pool:
            while True:
                while (
                    len(inflight) < threads
                    and self._remaining() > 0.05
                    and not self.gap_closed()
                    and (self.window_blocks >= p.n_blocks or time.perf_counter() < self._small_until)
                ):
                    seed = next(todo, None)
                    if seed is None:
                        break
                    if covered[seed]:
                        continue
                    if p.arc_load is not None and busy[seed]:
                        continue  # next sweep
                    schools = self._window(
                        seed, self.window_blocks, busy=busy if p.arc_load is not None else None
                    )
                    if busy[schools].any():
                        continue  # next sweep
                    covered[schools] = True
                    if self.solved.get(self._key(seed, schools)) == self._signature(schools):
                        continue
                    job = self._prepare(seed, schools, repairing=False)
                    busy[schools] = True
                    inflight[pool.submit(self._solve, job, options)] = job
                if not inflight:
                    return changed_any
                done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
                for future in done:
                    job = inflight.pop(future)
                    busy[job.schools] = False
                    changed_any |= self._apply(job, future.result())
                    if self.proven_infeasible:
                        return changed_any

    def _pool(self) -> tuple[int, SolveOptions]:
        """Windows solved at once and the CP-SAT options of each: two single-worker solves on disjoint
        schools when the options give two workers and no cap on moved children ties windows together."""
        p = self.problem
        parallel = self.options.workers >= 2 and p.max_moved is None and self.window_blocks < p.n_blocks
        if not parallel:
            return 1, self.options
        return self.options.workers, replace(self.options, workers=1)

    def _repair(self) -> None:
        """Windows around the schools most over their seats (or zones in pieces) until the plan is valid;
        a seed whose window cannot take a step is set aside, and when all are, the windows double.  One
        window at a time with every CP-SAT worker (measured: with one worker per window, repair windows on
        the 5 % city found no step where two workers do)."""
        p = self.problem
        failed: set[int] = set()
        while not self.valid() and self._remaining() > 0.05 and not self.proven_infeasible:
            trouble = self.overflow() + self.in_pieces * (1 + self.overflow().max())
            trouble[list(failed)] = 0
            seeds = np.flatnonzero(trouble > 0)
            if not len(seeds):
                if self._over_moved():
                    self._cut_moves()
                    return
                if not failed or self.window_blocks >= p.n_blocks:
                    return  # nothing wider to try
                widest = p.n_blocks if p.n_blocks <= FULL_BLOCKS else MAX_REPAIR_BLOCKS
                if self._soft_seats and self._repair_boost >= REPAIR_BOOST:
                    return  # overload allowed: what the widest windows cannot take out stays (it is priced)
                if self._repair_boost < REPAIR_BOOST:
                    self._repair_boost = REPAIR_BOOST  # the same windows again, longer
                elif self.window_blocks < widest:
                    self.window_blocks = min(widest, 2 * self.window_blocks)  # look wider
                else:
                    self._repair_boost *= 2  # as wide as a city's repair window goes: longer still
                failed.clear()
                continue
            seed = int(seeds[np.argmax(trouble[seeds])])
            need = 2 * int(self.overflow()[seed]) + int(p.students.max(initial=0))
            changed = self.solve_window(seed, self._window(seed, self.window_blocks, need), repairing=True)
            log.debug(
                "repair window at %s (%d blocks): %s, %d children over seats",
                seed,
                self.window_blocks,
                changed,
                self.overflow().sum(),
            )
            if not changed:
                failed.add(seed)

    def _cut_moves(self) -> None:
        """Windows that move the fewest children (a move dearer than any trip, seats and pieces kept) around the
        schools that gain or lose most moved children, until the plan is within the cap on children moved; a
        seed that takes no step is set aside, and when all are the windows double."""
        p = self.problem
        failed: set[int] = set()
        while self._over_moved() and self._remaining() > 0.05:
            # moved children counted at the school they go to and at the one they leave
            w = p.students * p.moved(self.assign)
            trouble = np.bincount(self.assign, weights=w, minlength=p.n_schools)
            trouble += np.bincount(np.maximum(p.current, 0), weights=w, minlength=p.n_schools)
            trouble[list(failed)] = 0
            seeds = np.flatnonzero(trouble > 0)
            if not len(seeds):
                if self.window_blocks >= p.n_blocks:
                    return
                self.window_blocks = min(p.n_blocks, 2 * self.window_blocks)
                failed.clear()
                continue
            seed = int(seeds[np.argmax(trouble[seeds])])
            job = self._prepare(seed, self._window(seed, self.window_blocks), repairing=False, frugal=True)
            res = self._solve(job, self.options)
            if not self._apply(job, res):
                failed.add(seed)
        log.info("%s children moved (cap %s)", self.moved / p.scale, p.max_moved / p.scale)

    def run(self) -> None:
        self.repair()
        self.improve()

    def repair(self) -> None:
        """Windows around schools over seats and zones in pieces, biggest trouble first."""
        p = self.problem
        t0 = time.perf_counter()
        improve_blocks = self.window_blocks
        self.window_blocks = min(p.n_blocks, REPAIR_BLOCKS // 5 if p.contiguity else REPAIR_BLOCKS)
        self._repair()
        if p.allow_overload and (self.load > p.capacity).any() and self.valid():
            # overload allowed: repair windows still take children over seats out first, for at most half
            # the time left (South Portland with Skillin closed, one piece per zone: 96 children over seats
            # left by the chains, 32 unavoidable; the whole model minimising trips and overload at once
            # found nothing better in 10 s)
            deadline, self.deadline = (
                self.deadline,
                time.perf_counter() + SOFT_REPAIR_SHARE * self._remaining(),
            )
            self._soft_seats, self._repair_boost = True, 1
            self._repair()
            self._soft_seats, self._repair_boost, self.deadline = False, 1, deadline
        self.window_blocks = improve_blocks
        if self.valid():
            log.info(
                "plan within every rule after %d repair window(s): %.1f child-km (%.2f s)",
                self.windows,
                self.cost / p.scale / 1000,
                time.perf_counter() - t0,
            )

    def improve(self) -> None:
        """Windows centred on schools no window of this sweep has covered yet; first where the plan costs
        most above the relaxation, then the rest in random order."""
        p = self.problem
        t0 = time.perf_counter()
        improve_blocks = self.window_blocks
        small_first = p.n_blocks > (LARGE_BLOCKS if p.arc_load is None else PAIR_WINDOWS_FROM)
        if improve_blocks >= p.n_blocks and small_first and self.valid():
            # a whole model to come: small windows first, for half the time, give it a better hint (per-pair
            # loads above PAIR_WINDOWS_FROM jobs: see PAIR_NOISE)
            self.window_blocks = WINDOW_BLOCKS if p.arc_load is None else PAIR_WINDOW_BLOCKS
            self._small_until = time.perf_counter() + SMALL_WINDOWS_SHARE * self._remaining()
        sweep = 0
        while self._remaining() > 0.05 and not self.gap_closed():
            if self.window_blocks < p.n_blocks and time.perf_counter() >= self._small_until:
                self.window_blocks = p.n_blocks  # the whole model: its bound counts
                self._small_until = np.inf
            sweep += 1
            covered = np.zeros(p.n_schools, dtype=bool)
            excess = self._excess()
            seeds = np.flatnonzero(excess > 0)
            seeds = seeds[np.argsort(-excess[seeds], kind="stable")]
            rest = self.rng.permutation(np.flatnonzero(excess <= 0))
            changed_any = self._sweep(np.concatenate([seeds, rest]).tolist(), covered)
            if self.proven_infeasible:
                return
            bound = max(self.lp_bound, self.bound)
            log.info(
                "windows of ~%d blocks, sweep %d: %.1f child-km, %.3f%% above the bound (%d windows, %.1f s)",
                self.window_blocks,
                sweep,
                self.cost / p.scale / 1000,
                100 * (self.cost / bound - 1) if bound > 0 else 0.0,
                self.windows,
                time.perf_counter() - t0,
            )
            if not changed_any:
                if self.window_blocks >= p.n_blocks:
                    break  # the window of every school was solved, to optimality or to the time limit
                self.window_blocks = min(p.n_blocks, 2 * self.window_blocks)
                if p.arc_load is not None and self.window_blocks > PAIR_MAX_WINDOW_BLOCKS:
                    self.window_blocks = p.n_blocks  # see PAIR_MAX_WINDOW_BLOCKS
        if self.valid() and self.windows:
            self.source = "windows" if self.source.startswith("rounded") else f"{self.source} + windows"


def _seated(sub: ZoneProblem):
    """Enough for a repair window with the one-piece rule: no school of the window over its seats (its CP-SAT
    objective also counts the blocks moved, ``ZoneModel._fewest_moves``, which it need not prove fewest)."""
    return lambda assign: not (loads(sub, assign) > sub.capacity).any()


def _within(sub: ZoneProblem, moves_left: int):
    """Enough for a fewest-moves window: its plan moves at most ``moves_left`` scaled children."""
    return lambda assign: int(sub.students[sub.moved(assign)].sum()) <= moves_left
