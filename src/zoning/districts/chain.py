"""The annealing's Markov chain, compiled (numba): the moves, their energy and the one-piece test.

``anneal`` sets the schedule (the temperature, the clock, Ctrl-C) and calls :func:`run` for a chunk of
proposals at a time; this module is the loop itself, on plain arrays, compiled on first use and cached beside
the source (numba's ``cache=True``, as Python caches its bytecode).  In plain Python the loop made about
230,000 proposals a second at 1,000 schools; compiled, about 4 million (clustered 1,000 → 80: band excess
0.005 after 60 s and 0.017–0.028 after 300 s, where the Python chain left 0.11 after 60 s and 0.024–0.039
after 600 s; neither reached a grouping keeping every band).  ``anneal.polish`` runs the same chain with
every band hard (``hard``): from a plan, it anneals the trips alone.

A district is a slot ``d`` (0 … K−1) with a lead ``lead[d]``; ``state[i]`` is school i's slot, so a lead
move changes one number.  ``sums[d]`` holds the district's totals of :func:`measures`' columns.  The random
numbers come from a xorshift64* generator whose state is an argument (no global RNG): a seed gives the same
chain on any machine.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .problem import DistrictProblem

__all__ = ["Chain", "district_energy", "measures", "run"]

# the columns of ``measures``: schools, seats, children, quality, schools of known quality, high-quality
# schools, weight, then one per requirement
COUNT, SEATS, CHILDREN, QSUM, QN, HQ, WEIGHT, REQ0 = range(8)
# the slots of the band parameters ``bp``
_LO_C, _HI_C, _U_C = 0, 1, 2
_HAS_S, _LO_S, _HI_S, _U_S = 3, 4, 5, 6
_HAS_K, _LO_K, _HI_K, _U_K = 7, 8, 9, 10
_HAS_Q, _LO_Q, _HI_Q, _U_Q, _MID_Q, _HALF_Q = 11, 12, 13, 14, 15, 16


def measures(p: DistrictProblem) -> np.ndarray:
    """(n, 7 + requirements): what each school adds to its district's sums (see the column names above)."""
    n = p.n
    known = p.quality_known
    q = np.where(known, np.nan_to_num(p.quality), 0.0)
    cols = [np.ones(n), p.seats.astype(float), p.children.astype(float), q, known.astype(float)]
    cols += [p.hq.astype(float), p.weight.astype(float)]
    cols += [r.members.astype(float) for r in p.requirements]
    return np.ascontiguousarray(np.stack(cols, axis=1))


def band_parameters(p: DistrictProblem) -> np.ndarray:
    """The bands and their units (``DistrictProblem.band_units``) as one float array for the kernel."""
    u = p.band_units
    lo_c, hi_c = p.count_band
    sb, kb, qb = p.seats_band, p.children_band, p.quality_band
    mid = 0.0 if qb is None else (qb[0] + qb[1]) / 2
    half = 1.0 if qb is None else max((qb[1] - qb[0]) / 2, 1e-9)
    return np.array(
        [lo_c, hi_c, u["count"], sb is not None, *(sb or (0, 0)), u["seats"]]
        + [kb is not None, *(kb or (0, 0)), u["children"], qb is not None, *(qb or (0, 0)), u["quality"]]
        + [mid, half],
        dtype=float,
    )


@njit(cache=True)
def _energy(s, bp, req_least):
    """A district's band excess from its sums: ``problem._excess_of`` for one district, in its units."""
    out = (max(0.0, bp[_LO_C] - s[COUNT]) + max(0.0, s[COUNT] - bp[_HI_C])) / bp[_U_C]
    if bp[_HAS_S] > 0:
        out += (max(0.0, bp[_LO_S] - s[SEATS]) + max(0.0, s[SEATS] - bp[_HI_S])) / bp[_U_S]
    if bp[_HAS_K] > 0:
        out += (max(0.0, bp[_LO_K] - s[CHILDREN]) + max(0.0, s[CHILDREN] - bp[_HI_K])) / bp[_U_K]
        if bp[_HAS_S] > 0:
            out += max(0.0, s[CHILDREN] - s[SEATS]) / bp[_U_K]
    if bp[_HAS_Q] > 0:
        low, high = bp[_LO_Q] * s[QN], bp[_HI_Q] * s[QN]
        out += (max(0.0, low - s[QSUM]) + max(0.0, s[QSUM] - high)) / bp[_U_Q]
    for r in range(len(req_least)):
        out += max(0.0, req_least[r] - s[REQ0 + r])
    return out


@njit(cache=True)
def _spread(s, bp):
    """((mean − middle) / half band)² of the mean-quality band: 0 in the middle, 1 at an edge."""
    if bp[_HAS_Q] <= 0 or s[QN] <= 0:
        return 0.0
    v = (s[QSUM] / s[QN] - bp[_MID_Q]) / bp[_HALF_Q]
    return v * v


def district_energy(p: DistrictProblem, sums: np.ndarray) -> float:
    """The kernel's energy of one district's sums (a row of ``measures`` summed), for tests and checks."""
    least = np.array([r.at_least for r in p.requirements], dtype=float)
    return float(_energy(np.asarray(sums, dtype=float), band_parameters(p), least))


@njit(cache=True)
def _random(rng):
    """A uniform number in [0, 1) from the xorshift64* state ``rng[0]``."""
    x = rng[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    rng[0] = x
    return float((x * np.uint64(2685821657736338717)) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _below(rng, k):
    return min(int(_random(rng) * k), k - 1)


@njit(cache=True)
def _has_pair(keys, n, i, lead):
    want = i * n + lead
    pos = np.searchsorted(keys, want)
    return pos < len(keys) and keys[pos] == want


@njit(cache=True)
def _reaches(d, gone, root, size, state, nb_ptr, nb_idx, visited, stamp, stack):
    """District d without school ``gone`` is one piece: ``size`` schools reached from ``root``."""
    stamp[0] += 1
    mark = stamp[0]
    visited[root] = mark
    stack[0] = root
    top, seen = 1, 1
    while top > 0:
        top -= 1
        u = stack[top]
        for a in range(nb_ptr[u], nb_ptr[u + 1]):
            v = nb_idx[a]
            if v != gone and visited[v] != mark and state[v] == d:
                visited[v] = mark
                stack[top] = v
                top += 1
                seen += 1
    return seen == size


@njit(cache=True)
def _trip(i, lead, xy, weight, cost_unit):
    return weight[i] * math.hypot(xy[i, 0] - xy[lead, 0], xy[i, 1] - xy[lead, 1]) / cost_unit


@njit(cache=True)
def _covered(s):
    return s[WEIGHT] if s[HQ] > 0 else 0.0


@njit(cache=True)
def _short(covered, rate, weight_all):
    """The coverage rule's shortfall as ``band_excess`` counts it (ten times the share short)."""
    return 0.0 if rate < 0 else max(0.0, rate - covered / weight_all) * 10.0


@njit(cache=True)
def _total(sums, e, rate, weight_all, short_w):
    cov = 0.0
    tot = 0.0
    for d in range(len(e)):
        cov += _covered(sums[d])
        tot += e[d]
    return tot + short_w * _short(cov, rate, weight_all), cov


# nogil: the search's LP (HiGHS) and CP-SAT run in other threads meanwhile, on the other core
@njit(cache=True, nogil=True)
def _run(  # noqa: C901  (one loop: the moves share their state)
    state, lead, sums, e, mul, sp, best_of, best_total, rng,
    edges, nb_ptr, nb_idx, keys, fixed, lead_ok, pinned, m_of, bp, req_least,
    xy, weight, cost_unit, rate, weight_all, short_w, contiguity, spread_weight, lead_share,
    n_its, t_a, t_b, visited, stamp, stack, cands, hard, trips,
):  # fmt: skip
    """``n_its`` proposals, T falling geometrically from t_a to t_b; True at a grouping keeping every band.

    ``hard``: from a grouping keeping every band, no move may miss one, and the chain anneals the trips
    alone (``trips``: now, and the least seen, kept in ``best_of``)."""
    n, k, n_e, m = len(state), len(lead), len(edges), sums.shape[1]
    new_src, new_dst = np.empty(m), np.empty(m)
    temp = t_a
    total, cov = _total(sums, e, rate, weight_all, short_w)
    for it in range(n_its):
        if it % 2000 == 0:
            total, cov = _total(sums, e, rate, weight_all, short_w)  # (no drift of the running sums)
            if (not hard and total < best_total[0] - 1e-12) or (hard and trips[0] < trips[1] - 1e-12):
                best_total[0] = total
                trips[1] = trips[0]
                for i in range(n):
                    best_of[i] = lead[state[i]]
            temp = t_a * (t_b / t_a) ** (it / n_its)
        if _random(rng) < lead_share:
            # the lead passes to another lead candidate of the district that every member may join
            d = _below(rng, k)
            old = lead[d]
            if pinned[old]:
                continue
            nc = 0
            for u in range(n):
                if state[u] == d and lead_ok[u] and u != old:
                    cands[nc] = u
                    nc += 1
            if nc == 0:
                continue
            new = cands[_below(rng, nc)]
            ok, d_cost = True, 0.0
            for u in range(n):
                if state[u] == d:
                    if not _has_pair(keys, n, u, new):
                        ok = False
                        break
                    d_cost += _trip(u, new, xy, weight, cost_unit) - _trip(u, old, xy, weight, cost_unit)
            if ok and (d_cost <= 0 or _random(rng) < math.exp(-d_cost / temp)):
                lead[d] = new
                trips[0] += d_cost
            continue
        # a boundary school moves to the neighbouring district
        a = _below(rng, n_e)
        i, j = edges[a, 0], edges[a, 1]
        if _random(rng) < 0.5:
            i, j = j, i
        src, dst = state[i], state[j]
        if src == dst or i == lead[src] or fixed[i] or not _has_pair(keys, n, i, lead[dst]):
            continue
        for c in range(m):
            new_src[c] = sums[src, c] - m_of[i, c]
            new_dst[c] = sums[dst, c] + m_of[i, c]
        e_src, e_dst = mul[src] * _energy(new_src, bp, req_least), mul[dst] * _energy(new_dst, bp, req_least)
        delta = e_src + e_dst - e[src] - e[dst]
        new_cov = cov
        if rate >= 0:
            new_cov = cov + _covered(new_src) + _covered(new_dst) - _covered(sums[src]) - _covered(sums[dst])
            delta += short_w * (_short(new_cov, rate, weight_all) - _short(cov, rate, weight_all))
        sp_src, sp_dst = _spread(new_src, bp), _spread(new_dst, bp)
        d_all = delta + spread_weight * (sp_src + sp_dst - sp[src] - sp[dst])
        d_trip = _trip(i, lead[dst], xy, weight, cost_unit) - _trip(i, lead[src], xy, weight, cost_unit)
        d_all += d_trip
        if hard and delta > 1e-12:
            continue
        if d_all > 0 and _random(rng) >= math.exp(-d_all / temp):
            continue
        if contiguity:
            same = 0
            for b in range(nb_ptr[i], nb_ptr[i + 1]):
                if state[nb_idx[b]] == src:
                    same += 1
            size = int(new_src[COUNT] + 0.5)
            if same > 1 and not _reaches(
                src, i, lead[src], size, state, nb_ptr, nb_idx, visited, stamp, stack
            ):
                continue
        state[i] = dst
        cov = new_cov
        for c in range(m):
            sums[src, c] = new_src[c]
            sums[dst, c] = new_dst[c]
        e[src], e[dst] = e_src, e_dst
        sp[src], sp[dst] = sp_src, sp_dst
        total += delta
        trips[0] += d_trip
        if total <= 1e-9 and not hard:
            total, cov = _total(sums, e, rate, weight_all, short_w)
            if total <= 1e-9:
                best_total[0] = total
                for u in range(n):
                    best_of[u] = lead[state[u]]
                return True
    return False


class Chain:
    """The chain's state and the problem's arrays, built once per cycle from a grouping (``lead_of``)."""

    def __init__(
        self, p: DistrictProblem, lead_of: np.ndarray, fixed: np.ndarray, *, seed: int, cost_weight: float
    ):
        n = p.n
        self.m_of = measures(p)
        self.bp = band_parameters(p)
        self.req_least = np.array([r.at_least for r in p.requirements], dtype=float)
        leads = np.unique(lead_of)
        slot = np.full(n, -1, dtype=np.int64)
        slot[leads] = np.arange(len(leads))
        self.state = slot[lead_of]
        self.lead = leads.astype(np.int64)
        self.sums = np.zeros((len(leads), self.m_of.shape[1]))
        np.add.at(self.sums, self.state, self.m_of)
        self.e = self.energies()
        self.mul = np.ones(len(leads))  # each district's weight of its excess (``anneal.breakout``)
        self.sp = np.array([_spread(s, self.bp) for s in self.sums])
        self.rate = -1.0 if p.min_coverage is None else float(p.min_coverage)
        self.weight_all = max(float(p.weight.sum()), 1e-9)
        self.best_of = lead_of.astype(np.int64)
        self.short_w = 1.0  # the weight of the coverage rule's shortfall (``anneal.breakout``)
        self.best_total = np.array([_total(self.sums, self.e, self.rate, self.weight_all, self.short_w)[0]])
        # splitmix64 of the seed: a non-zero xorshift state
        z = (int(seed) + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        self.rng = np.array([(z ^ (z >> 31)) or 1], dtype=np.uint64)
        indptr, indices = p.neighbours
        self.nb_ptr, self.nb_idx = indptr.astype(np.int64), indices.astype(np.int64)
        self.edges = np.ascontiguousarray(p.edges, dtype=np.int64)
        self.keys = p._pair_keys[0]  # (school · n + lead of every candidate pair, sorted)
        self.fixed, self.lead_ok, self.pinned = fixed, p.lead_ok, p.pinned
        self.xy, self.weight = np.ascontiguousarray(p.xy, dtype=float), p.weight.astype(float)
        cost = float(p.cost_of(lead_of))
        self.cost_unit = max(cost / p.n_districts, 1.0) / cost_weight
        # the trips in the chain's units: now, and the least seen (``hard``)
        self.trips = np.array([cost, cost]) / self.cost_unit
        self.contiguity = bool(p.contiguity)
        self.visited = np.zeros(n, dtype=np.int64)
        self.stamp = np.zeros(1, dtype=np.int64)
        self.stack = np.zeros(n + 1, dtype=np.int64)
        self.cands = np.zeros(n, dtype=np.int64)

    def energies(self) -> np.ndarray:
        """Each district's band excess from its sums (its energy before its weight ``mul``)."""
        return np.array([_energy(s, self.bp, self.req_least) for s in self.sums])


def run(
    ch: Chain,
    n_its: int,
    t_a: float,
    t_b: float,
    *,
    spread_weight: float,
    lead_share: float,
    hard: bool = False,
) -> bool:
    """``n_its`` proposals of the chain (T from t_a to t_b); True when it reached a grouping keeping every
    band (``ch.best_of``, then, is that grouping)."""
    args = (
        ch.state, ch.lead, ch.sums, ch.e, ch.mul, ch.sp, ch.best_of, ch.best_total, ch.rng,
        ch.edges, ch.nb_ptr, ch.nb_idx, ch.keys, ch.fixed, ch.lead_ok, ch.pinned, ch.m_of, ch.bp,
        ch.req_least, ch.xy, ch.weight, ch.cost_unit, ch.rate, ch.weight_all, ch.short_w, ch.contiguity,
        spread_weight, lead_share, n_its, t_a, t_b, ch.visited, ch.stamp, ch.stack, ch.cands, hard,
        ch.trips,
    )  # fmt: skip
    return bool(_run(*args))
