"""Simulated annealing on the band excess: the districts' repair where the quality band binds city-wide.

When high-quality schools crowd into one part of the city, the districts there can keep the mean-quality
band only by reaching out of it, and the districts beyond must take their surplus in turn: the key schools
travel over several districts.  Exact windows of a few districts cannot do that (each window's totals miss
the band, so no regrouping inside it helps), and the whole city is too big for one model above a few hundred
schools.  A Markov chain of single moves can: a boundary school moves to the neighbouring district, or the
lead of a district passes to another of its lead candidates, accepted always when the band excess falls and
with probability ``exp(−Δ/T)`` when it rises, T falling geometrically over the time given (Metropolis, as
redistricting's flip chains do; Kirkpatrick et al. 1983).  Every state keeps every district in one piece,
every school with a candidate lead (``lead_reach``), the pinned leads and the together/apart pairs; only the
bands and requirements may be missed, and their excess (``problem._excess_of``'s units: an average
district's worth of a measure) is the energy, with a small share of the trips so that ties go to the shorter
ones.  It ends at the first grouping keeping every band (the windows then polish its trips) or at the time
limit with the state of least excess.

The chain runs compiled (``chain``, numba): about 4 million proposals a second where the same loop in
Python made 230,000.

Measured (2 cores, load 1–2.5; the starts miss the quality band; one seed each unless a range is given).
The Python chain: clustered 300 → 25, a grouping keeping every rule after 1.6–2.2 s (the whole-city CP-SAT
repair took 8–97 s, or found none in 60 s); clustered 1,000 → 80, band excess 1.64 → 0.08–0.19 in 30 s,
0.11 in 60 s, 0.025 in 300 s and 0.024–0.039 in 600 s (CP-SAT windows: 1.25 after 20 s, one window of 689
schools 0.81 after 240 s).  The compiled chain: clustered 300 → 25 in 0.1–0.8 s; clustered 1,000 → 80,
0.009–0.058 in 12 s, 0.005–0.058 in 60 s, 0.017–0.028 in 300 s; never 0.  The spread term (SPREAD_WEIGHT)
took 30 s Python runs from 0.22 (two seeds) to 0.08–0.19 (0.01) and 0.09–0.11 (0.03).  What stays at 1,000
schools is a saturated ring: every district around the key-school quarter at its band's edge (5 of 12, 7 of
17 key schools against 0.411), none with room for the surplus; a walk at zero temperature over the
groupings of equal excess (no spread, no trips) moved none of it in 30 s.  The lead reach binds too: with
each school free to join its 80 nearest leads 0.055 remains after 60 s (Python), with any lead 0.029.

The breakout (session 19) crosses that ring.  After a cycle, the chain runs cold with a weight on each
district's excess that grows while the district stays outside a band and decays once it is inside (Morris'
breakout method, 1993; the penalties of guided local search, Voudouris and Tsang): a surplus key school
stuck where every neighbour is at its band's edge is pushed on, groupings of equal excess no longer hold it,
and the districts it has passed through are pressed not to take it back.  From the states cycles and exact
windows had left 1–2 districts outside (150 s more of cycles: nothing), it reached groupings keeping every
rule in 2–47 s; in the search, where the repair windows mend the last district it leaves outside, the
clustered 1,000 → 80 city has its first plan (see ``search``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .problem import DistrictProblem, _excess_of, _stats, band_excess, coverage
from .start import tied_schools

__all__ = ["anneal", "breakout", "polish"]

log = logging.getLogger(__name__)

#: A grouping that misses its bands by less than this in all (band-excess units: an average district's worth
#: of a measure) is left to the repair windows: the clustered cities' starts miss by 0.31 (300 schools) and
#: 1.6 (1,000), their key schools must travel over several districts, which no window of a few districts can
#: do; the heavy and mixed starts miss by 0.01–0.03, a few knife edges the windows mend (annealed, heavy
#: 1,000 → 80 kept 0.026 of 0.035 after 5 s, and its trips grew by 18 %).
ANNEAL_EXCESS = 0.1
#: One cycle proposes this many moves per school (counted, not timed, so that a seed gives the same grouping
#: on any machine when the time suffices; with the compiled chain, about 4 million proposals a second: 3 s at
#: 300 schools, 10 s at 1,000; with less time than that the clock sets the cooling instead); cycles repeat
#: from the best grouping, each starting cooler (at a tenth of its excess), until the time is up.  Clustered
#: 300 → 25: a grouping keeping every rule within the first cycle (0.1–0.8 s).  Ten times the Python chain's
#: 4,000: on clustered 1,000 → 80, 60 s of 10-s cycles left 0.005 (one district outside), 120 s of 1-s
#: cycles 0.009–0.038.
CYCLE_MOVES_PER_SCHOOL = 40_000

#: Temperatures (band-excess units) at the start and the end of the schedule: one key school too many in an
#: average district is about 1 / (schools per district) ≈ 0.08 at ±15 % of a 0/1 flag's range.
T_START = 0.1
T_END = 0.002
#: Weight of the trips in the energy, per average district's cost (ties and near-ties go to shorter trips).
COST_WEIGHT = 0.01
#: Weight of each district's distance from the middle of its mean-quality band (((mean − middle) / half
#: band)², 0 in the middle, 1 at an edge) in the energy: districts with room draw the surplus on.
SPREAD_WEIGHT = 0.02
#: Share of the proposals that pass a district's lead to another of its members.
LEAD_MOVE_SHARE = 0.01
#: The polish (:func:`polish`): temperatures of the trips alone, in the chain's units (all trips together
#: weigh COST_WEIGHT per district; an average school's trip about 0.0008 at 12.5 schools a district).  On
#: mixed 1,000 → 80, the search's plan after 30 s (880.9 k children-km) polished for 10 s: 849.7 k from
#: 0.002, 844.8 k from 0.005, 844.3 k from 0.01, 847.7 k from 0.03.
POLISH_T_START = 0.01
POLISH_T_END = 5e-6
#: The breakout (:func:`breakout`): its temperature (band-excess units), the proposals between two updates of
#: the districts' weights, a weight's growth while its district misses a band and its decay (towards 1) while
#: it keeps them, the seconds without a better grouping after which it ends (the search's repair windows, or
#: another cycle, take over), and the trips'
#: weight (a tenth of the cycles': a trip must not hold a key school back).  No weight is capped: a cap at
#: 1,000 stopped a grouping of one district outside for 120 s (the weights of the districts around it all at
#: the cap, none pressed more than another), uncapped the same grouping kept every rule after 16–47 s by
#: seed (the largest weight 100–10⁶).  The weights are scaled down together past BREAKOUT_RESCALE.
#: Clustered 1,000 → 80 (session 19): the first cycle leaves 7 districts outside (12 s); the breakout then
#: takes it to 1 within 3 s, and to a grouping keeping every rule in 16–47 s more.  A hotter chain
#: (T 0.005) kept 5–15 districts outside for 60 s, its weights growing without end.
BREAKOUT_T = 0.001
BREAKOUT_CHUNK = 200_000
BREAKOUT_GROWTH = 1.1
BREAKOUT_DECAY = 0.995
BREAKOUT_PATIENCE = 30.0
BREAKOUT_COST_WEIGHT = 0.001
BREAKOUT_RESCALE = 1e12
#: Proposals per call of the compiled chain (about 25 ms at 1,000 schools): the clock and Ctrl-C are asked
#: between calls.
CHUNK = 100_000


def anneal(
    p: DistrictProblem,
    lead_of: np.ndarray,
    *,
    until: float,
    seed: int = 0,
    stop=None,
    rounds: int | None = None,
    chains: int = 1,
) -> np.ndarray:
    """The grouping of least band excess found from ``lead_of`` by rounds of an annealing cycle and the
    breakout (:func:`breakout`, from the cycle's best) until the time ``until`` (``time.perf_counter()``),
    ``rounds`` rounds (None: no limit) or the first grouping keeping every band (``chains``: the breakout's); ``lead_of`` itself (the
    same object) when it misses by at most :data:`ANNEAL_EXCESS` or nothing better is found.  ``stop``:
    asked now and then, True ends the run.  A coverage rule (``min_coverage``) is part of the energy as
    ``band_excess`` counts it (ten times the share short)."""
    if band_excess(p, lead_of) <= ANNEAL_EXCESS or not len(p.edges):
        return lead_of
    best = lead_of
    moves = CYCLE_MOVES_PER_SCHOOL * p.n
    done = 0
    while until - time.perf_counter() > 0.5 and not (stop is not None and stop()) and done != rounds:
        done += 1
        plan = _cycle(p, best, moves=moves, until=until, seed=seed, stop=stop)
        seed += 1
        best = plan  # (a cycle that found nothing lower gives ``best`` back: the next one tries another seed)
        log.debug("annealing cycle: %d district(s) outside a band, excess %.4f", *_out_and_excess(p, best))
        if band_excess(p, best) <= 1e-9:
            break
        # the cycle left a few districts at their bands' edges: the breakout moves them on
        best = breakout(p, best, until=until, seed=seed, stop=stop, chains=chains)
        if band_excess(p, best) <= 1e-9:
            break
    return best


def _out_and_excess(p: DistrictProblem, lead_of: np.ndarray) -> tuple[int, float]:
    """(districts missing a band, band excess): the breakout's order of groupings."""
    leads = np.unique(lead_of)
    ex = _excess_of(p, _stats(p, lead_of), leads)
    return int((ex > 1e-12).sum()), band_excess(p, lead_of)


def breakout(
    p: DistrictProblem, lead_of: np.ndarray, *, until: float, seed: int = 0, stop=None, chains: int = 1
) -> np.ndarray:
    """The chain at a low, fixed temperature (BREAKOUT_T), each district's excess weighed by a weight of its
    own that grows (× BREAKOUT_GROWTH) after every chunk of proposals that leaves the district outside a band
    and falls back towards 1 while it keeps them (Morris' breakout, the penalties of guided local search):
    a district stuck at a band's edge is pressed until its neighbours make room, and the pressure passes on
    to them in turn.  Ends at the first grouping keeping every band, at ``until``, or after
    BREAKOUT_PATIENCE seconds without a better grouping (fewer districts outside, then less excess); returns
    the best grouping, or ``lead_of`` itself (the same object) when none is better.

    ``chains``: that many chains of their own seeds from ``lead_of`` at once, in threads (the compiled chain
    releases the GIL: one a core), all ending at the first grouping keeping every band; how long one takes to
    find it varies by seed from seconds to minutes."""
    if band_excess(p, lead_of) <= 1e-9 or not len(p.edges):
        return lead_of
    if chains <= 1:
        return _breakout_chain(p, lead_of, until=until, seed=seed, stop=stop)
    found = threading.Event()

    def halt() -> bool:
        return found.is_set() or (stop is not None and stop())

    def one(k: int) -> np.ndarray:
        out = _breakout_chain(p, lead_of, until=until, seed=seed + k, stop=halt)
        if band_excess(p, out) <= 1e-9:
            found.set()
        return out

    with ThreadPoolExecutor(chains) as pool:
        outs = list(pool.map(one, range(chains)))
    best = min(outs, key=lambda g: _out_and_excess(p, g))
    return best if _out_and_excess(p, best) < _out_and_excess(p, lead_of) else lead_of


def _breakout_chain(p: DistrictProblem, lead_of: np.ndarray, *, until: float, seed: int, stop) -> np.ndarray:
    """One chain of :func:`breakout`."""
    from .chain import Chain, run

    ch = Chain(p, lead_of, tied_schools(p), seed=seed, cost_weight=BREAKOUT_COST_WEIGHT)
    best, best_key = lead_of, _out_and_excess(p, lead_of)
    last = time.perf_counter()
    while not (stop is not None and stop()):
        now = time.perf_counter()
        if now >= until - 0.05 or now - last > BREAKOUT_PATIENCE:
            break
        if run(ch, BREAKOUT_CHUNK, BREAKOUT_T, BREAKOUT_T, spread_weight=0.0, lead_share=LEAD_MOVE_SHARE):
            return ch.best_of.copy()
        plan = ch.lead[ch.state]
        energy = ch.energies()  # (each district's excess, as ``_out_and_excess`` counts it)
        out = energy > 1e-12
        key = (int(out.sum()), band_excess(p, plan))
        if key < best_key:
            best, best_key, last = plan.copy(), key, time.perf_counter()
            log.debug("breakout (seed %d): %d district(s) outside a band, excess %.4f", seed, *key)
        ch.mul[out] *= BREAKOUT_GROWTH
        ch.mul[~out] = np.maximum(1.0, ch.mul[~out] * BREAKOUT_DECAY)
        if p.min_coverage is not None:  # the coverage rule, a rule of the whole city, has a weight of its own
            short = coverage(p, plan) < p.min_coverage - 1e-12
            ch.short_w = ch.short_w * BREAKOUT_GROWTH if short else max(1.0, ch.short_w * BREAKOUT_DECAY)
        if ch.mul.max() > BREAKOUT_RESCALE:  # (the weights' ratios are what counts: kept finite)
            ch.mul = np.maximum(1.0, ch.mul / BREAKOUT_RESCALE**0.5)
        ch.short_w = min(ch.short_w, BREAKOUT_RESCALE)
        ch.e[:] = ch.mul * energy
    return best


def _cycle(
    p: DistrictProblem, lead_of: np.ndarray, *, moves: int, until: float, seed: int, stop
) -> np.ndarray:
    """One cycle: T falls from a tenth of the excess (at most T_START) to a fiftieth of that over ``moves``
    proposals, or over the time to ``until`` if that is shorter (whichever is further on sets T); the state
    of least excess, or ``lead_of`` itself if none is lower.  The chain runs compiled (``chain``), a chunk
    of proposals at a time, the clock and ``stop`` asked between chunks."""
    from .chain import Chain  # (numba compiles, or loads its cache, on first use only)

    excess = band_excess(p, lead_of)
    if excess <= 1e-9:
        return lead_of
    # a start that misses little is not scrambled: the chain starts no hotter than a tenth of its excess
    t_start = min(T_START, excess / 10)
    t_end = min(T_END, t_start / 50)
    ch = Chain(p, lead_of, tied_schools(p), seed=seed, cost_weight=COST_WEIGHT)
    _run_until(ch, t_start, t_end, moves=moves, until=until, stop=stop, spread_weight=SPREAD_WEIGHT)
    out = ch.best_of.copy()
    return out if band_excess(p, out) < band_excess(p, lead_of) else lead_of


def polish(
    p: DistrictProblem,
    lead_of: np.ndarray,
    *,
    until: float,
    seed: int = 0,
    stop=None,
    t_start: float = POLISH_T_START,
) -> np.ndarray:
    """The plan ``lead_of`` (keeping every band) with shorter trips: the chain again, every move that would
    miss a band refused, the trips alone annealed from ``t_start`` to POLISH_T_END by the clock until
    ``until``; the plan of least trips seen, or ``lead_of`` itself (the same object) when none is shorter."""
    from .chain import Chain

    if band_excess(p, lead_of) > 1e-9 or not len(p.edges):
        return lead_of
    ch = Chain(p, lead_of, tied_schools(p), seed=seed, cost_weight=COST_WEIGHT)
    _run_until(
        ch, t_start, POLISH_T_END, moves=math.inf, until=until, stop=stop, spread_weight=0.0, hard=True
    )
    out = ch.best_of.copy()
    return out if p.cost_of(out) < p.cost_of(lead_of) and band_excess(p, out) <= 1e-9 else lead_of


def _run_until(ch, t_start: float, t_end: float, *, moves: float, until: float, stop, **kind) -> None:
    """The chain ``ch`` run a chunk of proposals at a time, T falling geometrically from ``t_start`` to
    ``t_end`` by whichever is further on, the ``moves`` proposals counted or the clock to ``until``; it ends
    there, when ``stop()`` says so, or at a grouping keeping every band.  ``kind``: :func:`chain.run`'s
    ``spread_weight`` and ``hard``."""
    from .chain import run

    # a cycle cut off by the clock before it cooled kept its hot start (clustered 3,000 → 240 with 24 s: no
    # lower excess than the start's 9.26; cooled by whichever is further on, 6.26)
    began = time.perf_counter()
    span, ratio = max(until - began, 1e-3), t_end / t_start
    it, chunk_s = 0, 0.0
    while True:
        now = time.perf_counter()
        done = max(it / moves, (now - began) / span)
        if done >= 1 or (stop is not None and stop()):
            return
        # the chunk's end as it will stand: its proposals counted, or the clock after as long as the last one
        ahead = min(1.0, max((it + CHUNK) / moves, (now + chunk_s - began) / span))
        if run(ch, CHUNK, t_start * ratio**done, t_start * ratio**ahead, lead_share=LEAD_MOVE_SHARE, **kind):
            return
        chunk_s = time.perf_counter() - now
        it += CHUNK
