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

Measured (2 cores, load 1–2.5; the starts miss the quality band; one seed each unless a range is given):
clustered 300 → 25, a grouping keeping every rule after 1.6–2.2 s (the whole-city CP-SAT repair took 8–97 s,
or found none in 60 s); clustered 1,000 → 80, band excess 1.64 → 0.08–0.19 in 30 s and 0.11 in 60 s (CP-SAT
windows: 1.25 after 20 s, one window of 689 schools 0.81 after 240 s).  The spread term (SPREAD_WEIGHT) took
30 s runs from 0.22 (two seeds) to 0.08–0.19 (0.01) and 0.09–0.11 (0.03).  What stays at 1,000 schools is a
saturated ring: every district around the key-school quarter at its band's edge (5 of 12, 7 of 17 key
schools against 0.411), none with room for the surplus.  The lead reach binds too: with each school free to
join its 80 nearest leads 0.055 remains after 60 s, with any lead 0.029.
"""

from __future__ import annotations

import math
import random
import time

import numpy as np

from .problem import DistrictProblem, band_excess
from .start import tied_schools

__all__ = ["anneal"]

#: A grouping that misses its bands by less than this in all (band-excess units: an average district's worth
#: of a measure) is left to the repair windows: the clustered cities' starts miss by 0.31 (300 schools) and
#: 1.6 (1,000), their key schools must travel over several districts, which no window of a few districts can
#: do; the heavy and mixed starts miss by 0.01–0.03, a few knife edges the windows mend (annealed, heavy
#: 1,000 → 80 kept 0.026 of 0.035 after 5 s, and its trips grew by 18 %).
ANNEAL_EXCESS = 0.1
#: One cycle proposes this many moves per school (counted, not timed, so that a seed gives the same grouping
#: on any machine when the time suffices; about 5 s at 300 schools on this machine, 25 s at 1,000: with less
#: time than that the clock sets the cooling instead); cycles repeat from the best grouping, each
#: starting cooler (at a tenth of its excess), until the time is up.  Clustered 300 → 25: a grouping keeping
#: every rule within the first cycle.
CYCLE_MOVES_PER_SCHOOL = 4_000

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


def anneal(p: DistrictProblem, lead_of: np.ndarray, *, until: float, seed: int = 0, stop=None) -> np.ndarray:
    """The grouping of least band excess found from ``lead_of`` by annealing cycles until the time
    ``until`` (``time.perf_counter()``) or the first grouping keeping every band; ``lead_of`` itself (the
    same object) when it misses by at most :data:`ANNEAL_EXCESS` or nothing better is found.  ``stop``:
    asked now and then, True ends the run.  A coverage rule (``min_coverage``) is part of the energy as
    ``band_excess`` counts it (ten times the share short)."""
    if band_excess(p, lead_of) <= ANNEAL_EXCESS or not len(p.edges):
        return lead_of
    best = lead_of
    moves = CYCLE_MOVES_PER_SCHOOL * p.n
    while until - time.perf_counter() > 0.5 and not (stop is not None and stop()):
        plan = _cycle(p, best, moves=moves, until=until, seed=seed, stop=stop)
        seed += 1
        best = plan  # (a cycle that found nothing lower gives ``best`` back: the next one tries another seed)
        if band_excess(p, best) <= 1e-9:
            break
    return best


def _cycle(
    p: DistrictProblem, lead_of: np.ndarray, *, moves: int, until: float, seed: int, stop
) -> np.ndarray:
    """One cycle: T falls from a tenth of the excess (at most T_START) to a fiftieth of that over ``moves``
    proposals, or over the time to ``until`` if that is shorter (whichever is further on sets T); the state
    of least excess, or ``lead_of`` itself if none is lower."""
    excess = band_excess(p, lead_of)
    if excess <= 1e-9:
        return lead_of
    # a start that misses little is not scrambled: the chain starts no hotter than a tenth of its excess
    t_start = min(T_START, excess / 10)
    t_end = min(T_END, t_start / 50)
    rnd = random.Random(seed)
    n, k = p.n, p.n_districts
    indptr, indices = p.neighbours
    nb = [indices[indptr[i] : indptr[i + 1]].tolist() for i in range(n)]
    pairs = set((p.pair_school * n + p.pair_lead).tolist())
    fixed = tied_schools(p).tolist()
    energy, spread, measures = _energy(p)
    lead_ok, pinned = p.lead_ok.tolist(), p.pinned.tolist()
    xy, weight = p.xy, p.weight.astype(float)
    cost_unit = max(float(p.cost_of(lead_of)) / k, 1.0) / COST_WEIGHT

    def trip(i: int, lead: int) -> float:
        return weight[i] * math.hypot(xy[i, 0] - xy[lead, 0], xy[i, 1] - xy[lead, 1]) / cost_unit

    state = [int(v) for v in lead_of]
    leads = sorted(set(state))
    members: dict[int, set[int]] = {lead: set() for lead in leads}
    sums: dict[int, list[float]] = {lead: [0.0] * len(measures[0]) for lead in leads}
    for i, lead in enumerate(state):
        members[lead].add(i)
        sums[lead] = [a + b for a, b in zip(sums[lead], measures[i])]
    e = {lead: energy(sums[lead]) for lead in leads}
    sp = {lead: spread(sums[lead]) for lead in leads}
    # coverage: the weight of the districts holding a high-quality school (measures 5 and 6), as band_excess
    # counts its shortfall
    rate = p.min_coverage
    weight_all = max(float(p.weight.sum()), 1e-9)

    def covered(s: list[float]) -> float:
        return s[6] if s[5] > 0 else 0.0

    def short(c: float) -> float:
        return 0.0 if rate is None else max(0.0, rate - c / weight_all) * 10

    cov = sum(covered(v) for v in sums.values())
    total = sum(e.values()) + short(cov)
    best, best_total = list(state), total
    edges = p.edges.tolist()
    contiguity = p.contiguity
    temp, it = t_start, 0
    # cooling follows the proposals counted, or the clock where the time left is shorter than the cycle: a
    # cycle cut off by the clock before it cooled kept its hot start (clustered 3,000 → 240 with 24 s: no
    # lower excess than the start's 9.26; cooled by whichever is further on, 6.26)
    began = time.perf_counter()
    span = max(until - began, 1e-3)

    def connected_without(lead: int, i: int) -> bool:
        """District ``lead`` stays in one piece when school i leaves it."""
        seen, todo = {lead}, [lead]
        while todo:
            u = todo.pop()
            for v in nb[u]:
                if v != i and v not in seen and state[v] == lead:
                    seen.add(v)
                    todo.append(v)
        return len(seen) == len(members[lead]) - 1

    while True:
        it += 1
        if it % 2000 == 0:
            cov = sum(covered(v) for v in sums.values())  # (no drift of the running sums)
            total = sum(e.values()) + short(cov)
            if total < best_total - 1e-12:
                best, best_total = list(state), total
            now = time.perf_counter()
            done = max(it / moves, (now - began) / span)
            if done >= 1 or (stop is not None and stop()):
                break
            temp = t_start * (t_end / t_start) ** done
        if rnd.random() < LEAD_MOVE_SHARE:
            # the lead passes to another lead candidate of the district that every member may join
            old = leads[rnd.randrange(len(leads))]
            if pinned[old]:
                continue
            cands = [m for m in members[old] if lead_ok[m] and m != old]
            if not cands:
                continue
            new = cands[rnd.randrange(len(cands))]
            if any((u * n + new) not in pairs for u in members[old]):
                continue
            d_cost = sum(trip(u, new) - trip(u, old) for u in members[old])
            if d_cost > 0 and rnd.random() >= math.exp(-d_cost / temp):
                continue
            for u in members[old]:
                state[u] = new
            members[new], sums[new], e[new], sp[new] = (
                members.pop(old),
                sums.pop(old),
                e.pop(old),
                sp.pop(old),
            )
            leads[leads.index(old)] = new
            continue
        i, j = edges[rnd.randrange(len(edges))]
        if rnd.random() < 0.5:
            i, j = j, i
        src, dst = state[i], state[j]
        if src == dst or i == src or fixed[i] or (i * n + dst) not in pairs:
            continue
        mi = measures[i]
        new_src = [a - b for a, b in zip(sums[src], mi)]
        new_dst = [a + b for a, b in zip(sums[dst], mi)]
        e_src, e_dst = energy(new_src), energy(new_dst)
        delta = e_src + e_dst - e[src] - e[dst]
        if rate is not None:
            new_cov = cov + covered(new_src) + covered(new_dst) - covered(sums[src]) - covered(sums[dst])
            delta += short(new_cov) - short(cov)
        sp_src, sp_dst = spread(new_src), spread(new_dst)
        d_all = delta + SPREAD_WEIGHT * (sp_src + sp_dst - sp[src] - sp[dst]) + trip(i, dst) - trip(i, src)
        if d_all > 0 and rnd.random() >= math.exp(-d_all / temp):
            continue
        if contiguity and sum(state[u] == src for u in nb[i]) > 1 and not connected_without(src, i):
            continue
        state[i] = dst
        members[src].discard(i)
        members[dst].add(i)
        if rate is not None:
            cov = new_cov
        sums[src], sums[dst] = new_src, new_dst
        e[src], e[dst] = e_src, e_dst
        sp[src], sp[dst] = sp_src, sp_dst
        total += delta
        if total <= 1e-9 and sum(e.values()) + short(cov) <= 1e-9:
            best = list(state)
            break
    out = np.asarray(best, dtype=np.int64)
    return out if band_excess(p, out) < band_excess(p, lead_of) else lead_of


def _energy(p: DistrictProblem):
    """(energy of a district's sums, its spread in the quality band, the sums each school adds).

    The energy is ``problem._excess_of`` for one district, in the same units (``band_units``), on plain
    floats: numpy's overhead per call would cost the loop ten times its speed.  The sums per school are
    schools, seats, children, quality, schools of known quality, high-quality schools, weight, then each
    requirement's members."""
    n = p.n
    known = p.quality_known
    q = np.where(known, np.nan_to_num(p.quality), 0.0)
    cols = [np.ones(n), p.seats.astype(float), p.children.astype(float), q, known.astype(float)]
    cols += [p.hq.astype(float), p.weight.astype(float)]
    cols += [r.members.astype(float) for r in p.requirements]
    measures = np.stack(cols, axis=1).tolist()
    lo_c, hi_c = p.count_band
    seats_band, kids_band, q_band = p.seats_band, p.children_band, p.quality_band
    units = p.band_units
    u_c, u_s, u_ch, u_q = units["count"], units["seats"], units["children"], units["quality"]
    q_mid = 0.0 if q_band is None else (q_band[0] + q_band[1]) / 2
    q_half = 1.0 if q_band is None else max((q_band[1] - q_band[0]) / 2, 1e-9)
    reqs = [(7 + r, req.at_least) for r, req in enumerate(p.requirements)]

    def energy(s: list[float]) -> float:
        out = (max(0.0, lo_c - s[0]) + max(0.0, s[0] - hi_c)) / u_c
        if seats_band is not None:
            out += (max(0.0, seats_band[0] - s[1]) + max(0.0, s[1] - seats_band[1])) / u_s
        if kids_band is not None:
            out += (max(0.0, kids_band[0] - s[2]) + max(0.0, s[2] - kids_band[1])) / u_ch
            if seats_band is not None:
                out += max(0.0, s[2] - s[1]) / u_ch
        if q_band is not None:
            out += (max(0.0, q_band[0] * s[4] - s[3]) + max(0.0, s[3] - q_band[1] * s[4])) / u_q
        for col, at_least in reqs:
            out += max(0.0, at_least - s[col])
        return out

    def spread(s: list[float]) -> float:
        if q_band is None or s[4] <= 0:
            return 0.0
        return ((s[3] / s[4] - q_mid) / q_half) ** 2

    return energy, spread, measures
