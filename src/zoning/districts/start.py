"""The districts' own incumbents: a constructive start and balancing moves (numpy and scipy, no solver).

A constructive start — K leads placed by mass (:func:`mass_leads`: the city cut in two, and again, where the
schools, seats and children split in the ratio of the districts each side gets), regions around them priced
into the size bands (:func:`priced_regions`: a shortest-path forest along the school graph whose sources
start at a price, so every region is one piece), then balancing moves that lower the band excess or, at
equal excess, bring districts nearer the middle of their bands, applied in batches; then a cost descent —
keeps every rule at once on the mixed and heavy-tailed issue-19 cities (1,000 and 3,000 schools) or leaves
little for the repair windows.  :func:`compact_start` (graph-Voronoi regions around spread-out leads, which
may miss the bands) hints the whole model; :func:`constructive` is the incumbent the search starts from;
:func:`repair_pieces` mends a plan whose districts are in pieces; :func:`improve` is the cost descent.
"""

from __future__ import annotations

import time

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from ..geo.graph import components, edges_to_csr
from .problem import DistrictProblem, _excess_of, _stats, band_excess, district_pieces

__all__ = [
    "compact_start",
    "constructive",
    "mass_leads",
    "priced_regions",
    "repair_pieces",
    "improve",
    "tied_schools",
]


def _graph_distances(p: DistrictProblem, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distance, nearest source) along the school graph (edge length = straight line between schools)."""
    e = p.edges
    length = np.hypot(*(p.xy[e[:, 0]] - p.xy[e[:, 1]]).T) + 1.0
    adj = edges_to_csr(p.n, e).astype(float)
    adj[e[:, 0], e[:, 1]] = length
    adj[e[:, 1], e[:, 0]] = length
    dist, _pred, src = csgraph.dijkstra(
        adj, directed=False, indices=sources, min_only=True, return_predecessors=True
    )
    return dist, src


def _regions(p: DistrictProblem, leads: np.ndarray) -> np.ndarray:
    """Every school to its nearest lead: along the graph (one piece by construction) or straight."""
    if p.contiguity and len(p.edges):
        dist, src = _graph_distances(p, leads)
        lead_of = np.where(np.isfinite(dist), src, -1).astype(np.int64)
    else:
        lead_of = np.full(p.n, -1, dtype=np.int64)
    lonely = np.flatnonzero(lead_of < 0)
    if len(lonely):
        d = np.hypot(*(p.xy[lonely][:, None, :] - p.xy[leads][None, :, :]).transpose(2, 0, 1))
        lead_of[lonely] = leads[np.argmin(d, axis=1)]
    return lead_of


def _initial_leads(p: DistrictProblem, rng: np.random.Generator) -> np.ndarray:
    """K spread-out leads: the pinned ones, then farthest-first among the candidates — the high-quality
    ones first when a coverage rate is asked for (a district led by one is covered)."""
    cand = np.flatnonzero(p.lead_ok)
    chosen = list(np.flatnonzero(p.pinned))
    if not chosen:
        w = p.weight[cand].astype(float) + 1
        chosen.append(int(rng.choice(cand, p=w / w.sum())))
    pools = [cand[p.hq[cand]], cand] if p.min_coverage is not None else [cand]
    for pool in pools:
        while len(chosen) < p.n_districts and not np.isin(pool, chosen).all():
            d = np.min(
                np.hypot(*(p.xy[pool][:, None, :] - p.xy[chosen][None, :, :]).transpose(2, 0, 1)), axis=1
            )
            d[np.isin(pool, chosen)] = -1
            chosen.append(int(pool[np.argmax(d)]))
    return np.array(chosen, dtype=np.int64)


def compact_start(p: DistrictProblem, seed: int = 0) -> np.ndarray:
    """Compact districts that may miss the bands: spread-out leads and graph-Voronoi regions (one piece),
    alternating with each region's best lead until the leads settle (a p-median-like local optimum)."""
    rng = np.random.default_rng(seed)
    leads = _initial_leads(p, rng)
    lead_of = _regions(p, leads)
    for _ in range(10):
        new = _best_leads(p, lead_of, leads)
        if np.array_equal(np.sort(new), np.sort(leads)):
            break
        leads = new
        lead_of = _regions(p, leads)
    return lead_of


#: Rounds of lead moves in the constructive start: each priced region's best lead, the regions priced
#: again around the new leads (Lloyd's iteration with prices).  Measured on the issue-19 cities (finished
#: starts, load 6): heavy 1,000 → 80 632.2 k → 595.5 k children-km in 3 rounds, mixed 1,000 923.1 k →
#: 900.7 k, mixed 3,000 → 240 2,863 k → 2,782 k, heavy 3,000 1,796 k → 1,749 k; after 3–4 rounds the
#: finished starts wander within about 1 %.
LEAD_ROUNDS = 4
#: Share of the time left to the start's deadline that the lead moves may take (each round costs about a
#: second at 1,000 schools; the first plan is due within 10 s there).
LEAD_SHARE = 0.3


def constructive(
    p: DistrictProblem, seed: int = 0, *, deadline: float | None = None, compact: np.ndarray | None = None
) -> np.ndarray:
    """A first grouping: regions around leads placed by mass (the compact start's leads when some are
    pinned) priced into the size bands, then balancing moves into every band, then a cost descent; then
    each region's best lead and again, while the time allows (:data:`LEAD_ROUNDS`).  The best finished
    grouping is kept: the cost, plus an average district's cost for each district's worth of band excess
    (the repair windows' work)."""
    lead_of = compact_start(p, seed) if compact is None else compact
    if p.pinned.any():
        leads = np.unique(lead_of)  # pinned leads: the compact start's leads
    else:
        leads = mass_leads(p)
    now = time.perf_counter()
    until = None if deadline is None else now + LEAD_SHARE * max(deadline - now, 0.0)
    best, best_key = None, np.inf
    for _ in range(LEAD_ROUNDS + 1):
        regions = priced_regions(p, leads, deadline=deadline)
        done = improve(p, _balance(p, regions, deadline=deadline), deadline=deadline)
        key = p.cost_of(done) * (1 + band_excess(p, done) / p.n_districts)
        if key < best_key:
            best, best_key = done, key
        if until is not None and time.perf_counter() > until:
            break
        moved = _best_leads(p, regions, leads)
        if np.array_equal(moved, leads):
            break
        leads = moved
    return best


def mass_leads(p: DistrictProblem) -> np.ndarray:
    """K leads placed by mass: the city is cut in two along its longer side where the size measures
    (schools, seats, children, averaged) split in the ratio of the districts each side gets, and again
    in each part, down to one district per part; each part's lead is the free lead candidate nearest its
    centre of mass (a high-quality one first when a coverage rate is asked for: measured on the mixed
    300 → 60 city at 85 %, the compact start's leads left the search with no plan in 30 s).  Leads spread evenly over the map (farthest-first) leave the dense centres with too
    few districts: measured on the 1,000 → 80 cities, priced regions and the balancing moves from
    spread-out leads (six seeds) left a band excess of 12–22 (mixed, clustered) and 1.3–3.6 (heavy); from
    leads placed by mass 0.0, 2.0 and 0.1 (3,000 → 240: 0.1, 9.5 and 0.0)."""
    size = np.ones(p.n) / p.n
    for values, band in ((p.seats, p.seats_band), (p.children, p.children_band)):
        if band is not None and values.sum() > 0:
            size = size + values / values.sum()
    cand = np.flatnonzero(p.lead_ok)
    taken = np.zeros(p.n, dtype=bool)
    out: list[int] = []
    stack = [(np.arange(p.n), p.n_districts)]
    while stack:
        part, k = stack.pop()
        if k == 1 or len(part) <= 1:
            centre = (p.xy[part] * size[part, None]).sum(axis=0) / max(size[part].sum(), 1e-12)
            free = cand[~taken[cand]]
            d = np.hypot(*(p.xy[free] - centre).T)
            inside = np.isin(free, part)
            d = np.where(inside, d, d + 1e12)  # a candidate of the part itself first
            if p.min_coverage is not None:  # and a high-quality one of the part: its district is covered
                d = np.where(p.hq[free], d, d + 1e9)
            for _ in range(k):
                j = int(np.argmin(d))
                out.append(int(free[j]))
                d[j] = np.inf
                taken[free[j]] = True
            continue
        k1 = k // 2
        xy = p.xy[part]
        axis = int(np.argmax(xy.max(axis=0) - xy.min(axis=0)))
        order = np.argsort(xy[:, axis], kind="stable")
        cum = np.cumsum(size[part][order])
        cut = int(np.searchsorted(cum, cum[-1] * k1 / k)) + 1
        cut = min(max(cut, 1), len(part) - 1)
        stack.append((part[order[:cut]], k1))
        stack.append((part[order[cut:]], k - k1))
    return np.array(sorted(out), dtype=np.int64)


#: Rounds of price updates in :func:`priced_regions`.  Measured on the issue-19 cities (mixed, clustered,
#: heavy; 1,000 → 80): the size excess stops falling after about 150 rounds (0.3 s at 1,000 schools).
PRICE_ROUNDS = 200
#: Price step per round, in district radii per unit of relative deviation (0.02, 0.05, 0.1, 0.2 measured on
#: the mixed and clustered 1,000 → 80 cities: 0.05 ends lowest; larger steps oscillate).
PRICE_STEP = 0.05


def _size_deviation(p: DistrictProblem, lead_of: np.ndarray, leads: np.ndarray) -> np.ndarray:
    """Per district, the mean relative deviation from the average district over the size measures the
    bands hold (schools, seats, children): + too big, − too small."""
    k = p.n_districts
    parts = [np.bincount(lead_of, minlength=p.n)[leads] / (p.n / k) - 1]
    for values, band in ((p.seats, p.seats_band), (p.children, p.children_band)):
        if band is not None:
            parts.append(np.bincount(lead_of, weights=values, minlength=p.n)[leads] / (values.sum() / k) - 1)
    # the count band is three times as wide (½–1½ × the average) as the seats and children bands
    weights = np.array([1 / 3] + [1.0] * (len(parts) - 1))
    return (np.stack(parts) * weights[:, None]).sum(axis=0) / weights.sum()


def priced_regions(p: DistrictProblem, leads: np.ndarray, *, deadline: float | None = None) -> np.ndarray:
    """Regions around fixed leads balanced in size by prices: every school joins the lead nearest along
    the school graph once each lead's distances start at its price λ_l (a multi-source shortest-path
    forest, so every region is one piece), and λ_l rises while the region is bigger than the average
    district (schools, seats, children) and falls while smaller.  The best round by band excess is kept.

    Graph-Voronoi regions around spread-out leads follow where the schools stand, not where the children
    are: on the mixed 1,000 → 80 city 69 of 80 such regions missed the seats band, and the single moves of
    :func:`_balance` stopped with 54 districts outside a band."""
    n = p.n
    if not (p.contiguity and len(p.edges)):
        return _regions(p, leads)
    e = p.edges
    length = np.hypot(*(p.xy[e[:, 0]] - p.xy[e[:, 1]]).T) + 1.0
    rows = np.concatenate([e[:, 0], e[:, 1], np.full(len(leads), n)])
    cols = np.concatenate([e[:, 1], e[:, 0], leads])
    scale = float(np.median(length)) * np.sqrt(n / len(leads))  # about a district's radius
    offset = 4.0 * scale * PRICE_ROUNDS  # keeps every price edge positive
    price = np.zeros(len(leads))
    lead_pos = np.full(n + 1, -1, dtype=np.int64)
    lead_pos[leads] = np.arange(len(leads))
    best, best_ex = None, np.inf
    for r in range(PRICE_ROUNDS):
        data = np.concatenate([length, length, offset + price])
        graph = sparse.csr_matrix((data, (rows, cols)), shape=(n + 1, n + 1))
        dist, pred = csgraph.dijkstra(graph, directed=True, indices=n, return_predecessors=True)
        # the lead of every school: follow the predecessors up the forest (pointer jumping)
        up = np.where(lead_pos[: n + 1] >= 0, np.arange(n + 1), pred)
        up[n] = n
        up = np.where(up < 0, n, up)
        for _ in range(int(np.ceil(np.log2(n + 1))) + 1):
            up = up[up]
        lead_of = up[:n].astype(np.int64)
        if (lead_of == n).any():  # schools the graph does not reach: nearest lead in a straight line
            return _regions(p, leads)
        ex = band_excess(p, lead_of) + float((p.pair_index(np.arange(n), lead_of) < 0).sum())
        if ex < best_ex:
            best, best_ex = lead_of, ex
        dev = _size_deviation(p, lead_of, leads)
        if best_ex <= 1e-9 or (deadline is not None and time.perf_counter() > deadline):
            break
        price += scale * (PRICE_STEP * 0.99**r) * dev
    return _mend_candidates(p, best)


def _mend_candidates(p: DistrictProblem, lead_of: np.ndarray) -> np.ndarray:
    """Schools whose region's lead is not among their candidate leads join a neighbouring district whose
    lead is (the priced regions may reach past a school's 24 nearest leads); pieces this leaves are mended."""
    lead_of = lead_of.copy()
    indptr, indices = p.neighbours
    for _ in range(10):
        bad = np.flatnonzero(p.pair_index(np.arange(p.n), lead_of) < 0)
        if not len(bad):
            break
        for i in bad:
            dsts = np.unique(lead_of[indices[indptr[i] : indptr[i + 1]]])
            ok = dsts[p.pair_index(np.full(len(dsts), i), dsts) >= 0]
            if len(ok):
                lead_of[i] = ok[np.argmin(np.hypot(*(p.xy[ok] - p.xy[i]).T))]
    if district_pieces(p, lead_of):
        lead_of = repair_pieces(p, lead_of)
    return lead_of


def _balance(
    p: DistrictProblem, lead_of: np.ndarray, *, deadline: float | None, max_batches: int = 2_000
) -> np.ndarray:
    """Move boundary schools between neighbouring districts while that lowers the band excess — or keeps
    it and brings the districts nearer the middle of their bands, which frees room for the next moves
    (single moves alone stall when every neighbour sits at the edge of a band).  Each round applies a batch
    of the best moves touching each district at most once, never breaking a district in two and never
    moving a lead.  (excess, spread) falls strictly with every move, so the search ends."""
    lead_of = lead_of.copy()
    tied = tied_schools(p)
    blocked: set[tuple[int, int]] = set()
    for _ in range(max_batches):
        if band_excess(p, lead_of) <= 1e-9 or (deadline is not None and time.perf_counter() > deadline):
            break
        i, src, dst, d_ex, d_dev, d_cost = _move_deltas(p, lead_of, tied)
        ok = (d_ex < -1e-12) | ((d_ex <= 1e-12) & (d_dev < -1e-9))
        scale = max(1.0, float(np.abs(d_cost).max(initial=0)))
        score = np.where(d_ex < -1e-12, d_ex - 1e3, d_dev) + 1e-6 * d_cost / scale
        cand = np.flatnonzero(ok)
        if not _apply_batch(p, lead_of, i, src, dst, cand[np.argsort(score[cand], kind="stable")], blocked):
            if not _swap(p, lead_of, tied):
                break
    return lead_of


def _swap(p: DistrictProblem, lead_of: np.ndarray, tied: np.ndarray) -> bool:
    """The best exchange of two schools between a district that misses a band and a neighbouring one (i
    of A touching B goes to B, j of B touching A goes to A), if it lowers the band excess and keeps both in
    one piece; True if one was made.  Single moves stall where the schools' count has no room but their
    mix is wrong (a district at 0.40 mean quality against a band ending at 0.399, seats a few dozen over):
    measured on the issue-19 cities, the finished starts kept such districts in 2 of 4 cities of 1,000 and
    3,000 schools."""
    s = _stats(p, lead_of)
    leads = np.unique(lead_of)
    bad = set(leads[_excess_of(p, s, leads) > 1e-9].tolist())
    if not bad:
        return False
    e = p.edges
    cross = (lead_of[e[:, 0]] != lead_of[e[:, 1]]) if p.contiguity else np.ones(len(e), dtype=bool)
    both = np.concatenate([e[cross], e[cross][:, ::-1]])
    free = ~tied[both[:, 0]] & (lead_of[both[:, 0]] != both[:, 0]) & ~p.pinned[both[:, 0]]
    both = both[free & (p.pair_index(both[:, 0], lead_of[both[:, 1]]) >= 0)]  # i may join B's lead
    # the schools of A touching B, for every ordered pair of neighbouring districts (A, B) with A or B missing
    touching: dict[tuple[int, int], list[int]] = {}
    for i, a, b in zip(both[:, 0].tolist(), lead_of[both[:, 0]].tolist(), lead_of[both[:, 1]].tolist()):
        if a in bad or b in bad:
            touching.setdefault((a, b), []).append(i)
    best = None
    for (a, b), out_a in touching.items():
        if a > b and (b, a) in touching and (a in bad) == (b in bad):
            continue  # each unordered pair once when both or neither miss
        into_a = touching.get((b, a))
        if not into_a:
            continue
        ii, jj = np.meshgrid(np.unique(out_a), np.unique(into_a), indexing="ij")
        ii, jj = ii.ravel(), jj.ravel()
        sa = {key: np.full(len(ii), v[a], dtype=float) for key, v in s.items()}
        sb = {key: np.full(len(ii), v[b], dtype=float) for key, v in s.items()}
        idx = np.arange(len(ii))
        before = _excess_of(p, sa, idx) + _excess_of(p, sb, idx)
        _move_arrays(p, sa, sb, ii)
        _move_arrays(p, sb, sa, jj)
        gain = _excess_of(p, sa, idx) + _excess_of(p, sb, idx) - before
        for t in np.argsort(gain, kind="stable")[:8]:
            if gain[t] >= -1e-12 or (best is not None and gain[t] >= best[0]):
                break
            trial = lead_of.copy()
            trial[ii[t]], trial[jj[t]] = b, a
            if p.contiguity and (
                components(p.n, p.edges, np.flatnonzero(trial == a))[0] > 1
                or components(p.n, p.edges, np.flatnonzero(trial == b))[0] > 1
            ):
                continue
            best = (float(gain[t]), int(ii[t]), int(jj[t]), a, b)
            break
    if best is None:
        return False
    _, i, j, a, b = best
    lead_of[i], lead_of[j] = b, a
    return True


def repair_pieces(p: DistrictProblem, lead_of: np.ndarray, *, deadline: float | None = None) -> np.ndarray:
    """Mend a grouping whose districts are in pieces: each piece cut off from its lead joins the
    neighbouring district it borders most (where every school of it may join that lead), then the
    balancing moves restore the bands.  The result may still break a rule; callers check."""
    lead_of = lead_of.copy()
    indptr, indices = p.neighbours
    for _ in range(5):
        pieces = district_pieces(p, lead_of)
        if not pieces:
            break
        for lead, comp in pieces:
            nb = np.unique(np.concatenate([indices[indptr[i] : indptr[i + 1]] for i in comp]))
            dsts, counts = np.unique(lead_of[nb][lead_of[nb] != lead], return_counts=True)
            for dst in dsts[np.argsort(-counts, kind="stable")]:
                if (p.pair_index(comp, dst) >= 0).all():
                    lead_of[comp] = dst
                    break
    return _balance(p, lead_of, deadline=deadline)


def tied_schools(p: DistrictProblem) -> np.ndarray:
    """Schools named in a together/apart pair: the local searches (and the annealing) leave them where they
    are."""
    tied = np.zeros(p.n, dtype=bool)
    tied[p.together.ravel()] = True
    tied[p.apart.ravel()] = True
    return tied


def _apply_batch(p, lead_of, i, src, dst, ranked, blocked) -> bool:
    """Apply the ranked moves in order, each district moved from or to at most once; True if any moved."""
    touched: set[int] = set()
    moved = False
    for t in ranked:
        key = (int(i[t]), int(dst[t]))
        if key in blocked or int(src[t]) in touched or int(dst[t]) in touched:
            continue
        if p.contiguity and _cuts_district(p, lead_of, int(i[t])):
            blocked.add(key)
            continue
        lead_of[i[t]] = dst[t]
        touched.update((int(src[t]), int(dst[t])))
        moved = True
    return moved


def _move_deltas(p: DistrictProblem, lead_of: np.ndarray, tied: np.ndarray):
    """Every candidate move (school i from district src to dst) with its change of band excess, of spread
    around the band middles and of cost."""
    s = _stats(p, lead_of)
    i, dst = _moves(p, lead_of)
    keep = ~tied[i]
    i, dst = i[keep], dst[keep]
    src = lead_of[i]
    a = {key: v[src].astype(float) for key, v in s.items()}
    b = {key: v[dst].astype(float) for key, v in s.items()}
    idx = np.arange(len(i))
    before_ex = _excess_of(p, a, idx) + _excess_of(p, b, idx)
    before_dev = _spread_of(p, a) + _spread_of(p, b)
    _move_arrays(p, a, b, i)
    d_ex = _excess_of(p, a, idx) + _excess_of(p, b, idx) - before_ex
    d_dev = _spread_of(p, a) + _spread_of(p, b) - before_dev
    d_cost = p.weight[i] * (np.hypot(*(p.xy[i] - p.xy[dst]).T) - np.hypot(*(p.xy[i] - p.xy[src]).T))
    return i, src, dst, d_ex, d_dev, d_cost


def _spread_of(p: DistrictProblem, s: dict[str, np.ndarray]) -> np.ndarray:
    """Σ over the bands of ((value − band middle) / half band)²: how near its band edges a district sits."""
    out = np.zeros(len(s["count"]))

    def sq(v, lo, hi):
        return ((v - (lo + hi) / 2) / max((hi - lo) / 2, 1e-9)) ** 2

    out += sq(s["count"], *p.count_band)
    if p.seats_band is not None:
        out += sq(s["seats"], *p.seats_band)
    if p.children_band is not None:
        out += sq(s["children"], *p.children_band)
    if p.quality_band is not None:
        qlo, qhi = p.quality_band
        out += (
            (s["qsum"] - (qlo + qhi) / 2 * s["qn"]) / max((qhi - qlo) / 2 * p.n / p.n_districts, 1e-9)
        ) ** 2
    return out


def _moves(p: DistrictProblem, lead_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidate moves (school, destination lead): to a neighbouring district, or any district without
    the one-piece rule.  Leads, pinned schools and pairs that are not candidates are left out."""
    if p.contiguity:
        e = p.edges
        cross = lead_of[e[:, 0]] != lead_of[e[:, 1]]
        both = np.concatenate([e[cross], e[cross][:, ::-1]])
        i, dst = both[:, 0], lead_of[both[:, 1]]
    else:
        sel = lead_of[p.pair_lead] == p.pair_lead  # pairs whose lead leads a district now
        i, dst = p.pair_school[sel], p.pair_lead[sel]
    keep = (lead_of[i] != i) & ~p.pinned[i] & (lead_of[i] != dst) & (p.pair_index(i, dst) >= 0)
    pairs = np.unique(np.stack([i[keep], dst[keep]], axis=1), axis=0).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]


def _descend(
    p: DistrictProblem, lead_of: np.ndarray, *, deadline: float | None, max_batches: int
) -> np.ndarray:
    """Cost-lowering moves of single schools that add no band excess, applied in batches (each district
    moved from or to at most once per batch, so every move is judged exactly)."""
    lead_of = lead_of.copy()
    tied = tied_schools(p)
    blocked: set[tuple[int, int]] = set()
    for _ in range(max_batches):
        if deadline is not None and time.perf_counter() > deadline:
            break
        i, src, dst, d_ex, _d_dev, d_cost = _move_deltas(p, lead_of, tied)
        cand = np.flatnonzero((d_ex <= 1e-12) & (d_cost < -1e-6))
        if not _apply_batch(p, lead_of, i, src, dst, cand[np.argsort(d_cost[cand], kind="stable")], blocked):
            break
    return lead_of


def _cuts_district(p: DistrictProblem, lead_of: np.ndarray, i: int) -> bool:
    """Would taking school i out of its district leave the district in more than one piece?"""
    rest = np.flatnonzero(lead_of == lead_of[i])
    rest = rest[rest != i]
    return components(p.n, p.edges, rest)[0] > 1


def _move_arrays(p: DistrictProblem, a: dict, b: dict, i: np.ndarray) -> None:
    """Per-district sums after school i[t] moves from district a[·][t] to b[·][t] (vectorised)."""
    for key, delta in (("count", np.ones(len(i))), ("seats", p.seats[i]), ("children", p.children[i])):
        a[key] -= delta
        b[key] += delta
    known = p.quality_known[i]
    q = np.where(known, np.nan_to_num(p.quality[i]), 0.0)
    a["qsum"] -= q
    b["qsum"] += q
    a["qn"] -= known
    b["qn"] += known
    for r, req in enumerate(p.requirements):
        m = req.members[i].astype(float)
        a[f"req{r}"] -= m
        b[f"req{r}"] += m


def improve(p: DistrictProblem, lead_of: np.ndarray, *, deadline: float | None = None) -> np.ndarray:
    """Cheap descent: each district's best lead, then cost-lowering moves that keep every band."""
    for _ in range(5):
        leads = np.unique(lead_of)
        new_leads = _best_leads(p, lead_of, leads)
        relabel = dict(zip(leads.tolist(), new_leads.tolist()))
        lead_of = np.array([relabel[v] for v in lead_of.tolist()], dtype=np.int64)
        before = p.cost_of(lead_of)
        lead_of = _descend(p, lead_of, deadline=deadline, max_batches=500)
        if p.cost_of(lead_of) >= before:
            break
    return lead_of


def _best_leads(p: DistrictProblem, lead_of: np.ndarray, leads: np.ndarray) -> np.ndarray:
    """For each district, the lead candidate among its schools with the lowest cost (pinned stay)."""
    new = leads.copy()
    for t, lead in enumerate(leads):
        if p.pinned[lead]:
            continue
        members = np.flatnonzero(lead_of == lead)
        cand = members[p.lead_ok[members]]
        if len(cand) <= 1:
            continue
        d = np.hypot(*(p.xy[members][:, None, :] - p.xy[cand][None, :, :]).transpose(2, 0, 1))
        cost = (p.weight[members][:, None] * np.rint(d)).sum(axis=0)
        # every member must be allowed to join the new lead
        ok = (p.pair_index(members[:, None], cand[None, :]) >= 0).all(axis=0)
        if not ok.any():
            continue
        cost = np.where(ok, cost, np.inf)
        new[t] = cand[int(np.argmin(cost))]
    return new
