"""School districts (学区, "1 + X") and education groups (教育集团): the CP-SAT model and the search.

Formulation (``i`` schools, ``l`` lead candidates, ``a = (i, l)`` candidate pairs, ``w_i`` weight,
``d_a`` metres, bands ``[lo, hi]`` from ``problem_districts``)::

    x_a ∈ {0, 1}                     school i joins the district led by l;  y_l = x_(l, l): l leads one

    (1) one district      Σ_{a ∋ i} x_a = 1                                   ∀ i
    (2) lead exists       x_(i, l) ≤ y_l                                      ∀ a
    (3) K districts       Σ_l y_l = K;   y_l = 1 for pinned leads
    (4) balance bands     lo·y_l ≤ Σ_i v_i x_(i, l) ≤ hi·y_l                 ∀ l, v ∈ {1, seats, children}
    (5) mean quality      Σ_{i known} (q_i − q_hi) x_(i, l) ≤ 0 ≤ Σ_{i known} (q_i − q_lo) x_(i, l)
    (6) seats cover       Σ_i (seats_i − children_i) x_(i, l) ≥ 0   (when both are known)
    (7) requirements      Σ_{i ∈ R} x_(i, l) ≥ r·y_l                           (tags, stages, mixing)
    (8) pairs             x_(a, l) = x_(b, l) (together);  x_(a, l) + x_(b, l) ≤ 1 (apart)
    (9) coverage          Σ_l cov_l ≥ rate·Σ_i w_i,  cov_l ≤ Σ_i w_i x_(i, l),  cov_l ≤ W·z_l,
                          z_l ≤ Σ_{i high quality} x_(i, l)          (only when a lead may be not high quality)
    (10) one piece        x_(i, l) ≤ Σ_{u ∈ N(i)} x_(u, l) for i ≠ l (a-priori), and for every piece C of a
                          district cut off from its lead, every ring R of schools between C and l:
                          x_(a, l) ≤ Σ_{u ∈ R} x_(u, l)   ∀ a ∈ C                 (lazy, as for zones)
    min Σ_a w_i d_a x_a

Search.  A constructive start (graph-Voronoi regions around K spread-out leads, then balancing moves that
lower the band excess or, at equal excess, bring districts nearer the middle of their bands, applied in
batches; then a cost descent) gives a plan keeping every rule at once on the benchmark cities.  Problems
of up to ``FULL_MODEL_SCHOOLS`` schools are solved whole with lazy one-piece cuts, hinted with the compact
regions before balancing (CP-SAT's bound proves optimality on small ones).  Larger ones get
large-neighbourhood search: a few neighbouring districts at a time are re-solved exactly (the same model on their
schools, with complete hints), the rest held fixed.  While the plan breaks a band, the windows minimise
the band excess first (slack variables at a high price), so the search always has a plan to stand on.
Every solution CP-SAT reports is read as it comes (a plan in one piece is kept, one in pieces yields
cuts).  The proven bound is the LP relaxation of (1)–(7) (HiGHS, in a background thread), or CP-SAT's
own bound when the whole model was solved; the gap is measured against it.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from ortools.sat.python import cp_model
from scipy.sparse import csgraph

from ..cpsat import run_cpsat, set_hint
from ..errors import ZoningError
from ..geo.graph import components, edges_to_csr, rings
from ..options import SolveOptions
from .diagnose import district_shortfalls, explain_districts, precheck_districts
from .problem import QUALITY_SCALE, DistrictProblem

__all__ = ["DistrictSolution", "solve_districts", "DistrictModel", "district_pieces", "band_excess"]

log = logging.getLogger(__name__)

#: Up to this many schools the whole model is solved at once; above it, windows of a few districts.
FULL_MODEL_SCHOOLS = 400
#: Share of the time the whole model gets (the rest polishes its plan with LNS windows).
FULL_MODEL_SHARE = 0.7
#: Schools per LNS window (a few neighbouring districts).
WINDOW_SCHOOLS = 70
#: Most districts per LNS window.
WINDOW_DISTRICTS = 5
#: Seconds per LNS window.
WINDOW_SECONDS = 2.0


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


# ------------------------------------------------------------------------------------------ plan checks


def district_pieces(p: DistrictProblem, lead_of: np.ndarray, leads=None) -> list[tuple[int, np.ndarray]]:
    """Pieces of districts cut off from their lead: (lead, schools of the piece)."""
    out = []
    if not p.contiguity:
        return out
    for lead in np.unique(lead_of) if leads is None else leads:
        members = np.flatnonzero(lead_of == lead)
        if len(members) <= 1:
            continue
        count, label = components(p.n, p.edges, members)
        if count <= 1:
            continue
        main = label[lead]
        for c in range(count):
            if c != main:
                out.append((int(lead), np.flatnonzero(label == c)))
    return out


def _stats(p: DistrictProblem, lead_of: np.ndarray) -> dict[str, np.ndarray]:
    """Per district (indexed by lead school), the sums the bands look at."""
    n = p.n
    known = p.quality_known
    out = {
        "count": np.bincount(lead_of, minlength=n),
        "seats": np.bincount(lead_of, weights=p.seats, minlength=n),
        "children": np.bincount(lead_of, weights=p.children, minlength=n),
        "qsum": np.bincount(lead_of[known], weights=p.quality[known], minlength=n),
        "qn": np.bincount(lead_of[known], minlength=n),
    }
    for r, req in enumerate(p.requirements):
        out[f"req{r}"] = np.bincount(lead_of[req.members], minlength=n)
    return out


def _excess_of(p: DistrictProblem, s: dict[str, np.ndarray], leads: np.ndarray) -> np.ndarray:
    """Band excess of the districts led by ``leads``, each rule normalised by its average district."""
    k = p.n_districts
    ex = np.zeros(len(leads))

    def band(v, lo, hi, unit):
        return (np.maximum(0, lo - v) + np.maximum(0, v - hi)) / max(unit, 1e-9)

    lo, hi = p.count_band
    ex += band(s["count"][leads], lo, hi, p.n / k)
    if p.seats_band is not None:
        ex += band(s["seats"][leads], *p.seats_band, p.seats.sum() / k)
    if p.children_band is not None:
        ex += band(s["children"][leads], *p.children_band, p.children.sum() / k)
        if p.seats_band is not None:
            ex += np.maximum(0, s["children"][leads] - s["seats"][leads]) / max(p.children.sum() / k, 1e-9)
    if p.quality_band is not None:
        qn = s["qn"][leads]
        qlo, qhi = p.quality_band
        spread = max(float(np.nanmax(p.quality) - np.nanmin(p.quality)), 1e-9)
        total = s["qsum"][leads]
        ex += (np.maximum(0, qlo * qn - total) + np.maximum(0, total - qhi * qn)) / spread / max(p.n / k, 1)
    for r, req in enumerate(p.requirements):
        ex += np.maximum(0, req.at_least - s[f"req{r}"][leads])
    return ex


def band_excess(p: DistrictProblem, lead_of: np.ndarray) -> float:
    """Total (normalised) amount by which a grouping misses its bands and requirements (0: none)."""
    leads = np.unique(lead_of)
    total = float(_excess_of(p, _stats(p, lead_of), leads).sum())
    for a, b in p.together:
        total += float(lead_of[a] != lead_of[b])
    for a, b in p.apart:
        total += float(lead_of[a] == lead_of[b])
    if p.min_coverage is not None:
        total += max(0.0, p.min_coverage - coverage(p, lead_of)) * 10
    return total


def coverage(p: DistrictProblem, lead_of: np.ndarray) -> float:
    """Share of the weight (children, else seats, else schools) in districts holding a high-quality school."""
    covered = np.zeros(p.n, dtype=bool)
    covered[np.unique(lead_of[p.hq])] = True
    w = p.weight.astype(float)
    return float(w[covered[lead_of]].sum() / w.sum()) if w.sum() > 0 else 0.0


def is_valid(p: DistrictProblem, lead_of: np.ndarray) -> bool:
    """Every rule of the model holds (the solver's own check; ``verify`` is the independent one)."""
    leads = np.unique(lead_of)
    if len(leads) != p.n_districts or not np.all(lead_of[leads] == leads) or not p.lead_ok[leads].all():
        return False
    if not np.all(lead_of[np.flatnonzero(p.pinned)] == np.flatnonzero(p.pinned)):
        return False
    if (p.pair_index(np.arange(p.n), lead_of) < 0).any():
        return False
    return band_excess(p, lead_of) <= 1e-9 and not district_pieces(p, lead_of)


# ------------------------------------------------------------------------------------------- the model


def _slack_unit(k: int, total: float) -> int:
    """Price of one unit of a band's slack: about 100 per average district's worth of the rule, so the
    rules weigh alike whatever their units (schools, seats, hundredths of a quality point)."""
    return max(1, int(round(100 * k / max(total, 1))))


class DistrictModel:
    """The CP-SAT model (1)–(10) on a window of schools, the rest of the plan held fixed.

    window: the schools re-grouped; k: how many districts they form; covered_min: weight that must be
    covered inside the window (coverage rule); soft: bands as penalised slack instead of hard rules.
    """

    def __init__(
        self,
        p: DistrictProblem,
        window: np.ndarray,
        k: int,
        *,
        covered_min: int = 0,
        soft: bool = False,
        known_pieces: dict | None = None,
    ):
        self.p = p
        self.window = window = np.asarray(window, dtype=np.int64)
        self.inside = inside = np.zeros(p.n, dtype=bool)
        inside[window] = True
        self.model = model = cp_model.CpModel()
        self.soft = soft
        self.slack: list[tuple[cp_model.IntVar, int]] = []
        # --- variables
        self.pairs = pairs = np.flatnonzero(inside[p.pair_school] & inside[p.pair_lead])
        self.x = [model.new_bool_var("") for _ in range(len(pairs))]
        self.x_index = np.array([v.index for v in self.x], dtype=np.int64)
        self.local = np.full(len(p.pair_school), -1, dtype=np.int64)
        self.local[pairs] = np.arange(len(pairs))
        ps, pl = p.pair_school[pairs], p.pair_lead[pairs]
        self.leads = np.unique(pl)
        self.y = {int(lead): self.x[self.local[p.pair_index(lead, lead)]] for lead in self.leads}
        order = np.argsort(pl, kind="stable")
        starts = np.searchsorted(pl[order], self.leads)
        ends = np.searchsorted(pl[order], self.leads, side="right")
        self.by_lead = {int(lead): order[s:e] for lead, s, e in zip(self.leads, starts, ends)}
        self.n_cuts = 0
        # --- constraints
        self._one_district(ps)
        self._lead_exists(ps, pl)
        self._k_districts(k)
        self._bands(ps)
        self._requirements(ps)
        self._pairs()
        self._coverage(ps, covered_min)
        if p.contiguity:
            self._neighbour_cuts(ps, pl)
            for (lead, _key), comp in (known_pieces or {}).items():
                if inside[lead] and inside[comp].all():
                    self.add_piece_cuts([(lead, comp)])
        # --- objective
        cost = p.pair_cost[pairs]
        obj = cp_model.LinearExpr.weighted_sum(self.x, cost.tolist())
        if self.slack:
            # one unit of weighted slack costs more than every trip of the window together
            unit = max(1, int(p.pair_cost[pairs].max(initial=1))) * max(1, len(window))
            obj = obj + cp_model.LinearExpr.weighted_sum(
                [v for v, _ in self.slack], [unit * w for _, w in self.slack]
            )
        model.minimize(obj)

    # -- constraint families
    def _one_district(self, ps: np.ndarray) -> None:
        """Every school joins exactly one district: Σ_{a ∋ i} x_a = 1."""
        order = np.argsort(ps, kind="stable")
        bounds = np.searchsorted(ps[order], self.window)
        ends = np.searchsorted(ps[order], self.window, side="right")
        for s, e in zip(bounds, ends):
            self.model.add_exactly_one([self.x[t] for t in order[s:e]])

    def _lead_exists(self, ps: np.ndarray, pl: np.ndarray) -> None:
        """A school joins only a district whose lead leads: x_(i, l) ≤ y_l."""
        for t in np.flatnonzero(ps != pl):
            self.model.add_implication(self.x[t], self.y[int(pl[t])])

    def _k_districts(self, k: int) -> None:
        """Exactly K leads, pinned leads among them: Σ y_l = K."""
        self.model.add(sum(self.y.values()) == k)
        for lead in self.leads:
            if self.p.pinned[lead]:
                self.model.add(self.y[int(lead)] == 1)

    def _band(self, values: np.ndarray, ps: np.ndarray, lo: int, hi: int, weight: int) -> None:
        for lead, ts in self.by_lead.items():
            expr = cp_model.LinearExpr.weighted_sum([self.x[t] for t in ts], values[ps[ts]].tolist())
            y = self.y[lead]
            if self.soft:
                under = self.model.new_int_var(0, max(lo, 0), "")
                over = self.model.new_int_var(0, int(values[self.window].sum()), "")
                self.model.add(expr + under >= lo * y)
                self.model.add(expr - over <= hi * y)
                self.slack += [(under, weight), (over, weight)]
            else:
                self.model.add(expr >= lo * y)
                self.model.add(expr <= hi * y)

    def _bands(self, ps: np.ndarray) -> None:
        """Each district within the balance bands (count, seats, children, mean quality) and its seats
        covering its children: lo·y_l ≤ Σ v_i x_(i, l) ≤ hi·y_l."""
        p = self.p
        unit = partial(_slack_unit, p.n_districts)
        self._band(np.ones(p.n, dtype=np.int64), ps, *p.count_band, unit(p.n))
        if p.seats_band is not None:
            self._band(p.seats, ps, *p.seats_band, unit(p.seats.sum()))
        if p.children_band is not None:
            self._band(p.children, ps, *p.children_band, unit(p.children.sum()))
            if p.seats_band is not None:
                diff = p.seats - p.children
                self._at_least_zero(diff, ps, unit(p.children.sum()))
        if p.quality_band is not None:
            qlo, qhi = p.quality_band
            q = p.quality_int
            known = p.quality_known
            hi_int = int(np.floor(qhi * QUALITY_SCALE + 1e-9))
            lo_int = int(np.ceil(qlo * QUALITY_SCALE - 1e-9))
            spread = max(1, int(q[known].max() - q[known].min()))
            w = unit(spread * p.n)
            self._at_least_zero(np.where(known, hi_int - q, 0), ps, w)
            self._at_least_zero(np.where(known, q - lo_int, 0), ps, w)

    def _at_least_zero(self, values: np.ndarray, ps: np.ndarray, weight: int) -> None:
        for ts in self.by_lead.values():
            expr = cp_model.LinearExpr.weighted_sum([self.x[t] for t in ts], values[ps[ts]].tolist())
            if self.soft:
                under = self.model.new_int_var(0, int(np.abs(values).sum()), "")
                self.model.add(expr + under >= 0)
                self.slack.append((under, weight))
            else:
                self.model.add(expr >= 0)

    def _requirements(self, ps: np.ndarray) -> None:
        """Each district holds the required schools (tags, stages, mixing): Σ_{i ∈ R} x_(i, l) ≥ r·y_l."""
        for req in self.p.requirements:
            for lead, ts in self.by_lead.items():
                ts = ts[req.members[ps[ts]]]
                expr = sum(self.x[t] for t in ts) if len(ts) else 0
                if self.soft:
                    under = self.model.new_int_var(0, req.at_least, "")
                    self.model.add(expr + under >= req.at_least * self.y[lead])
                    self.slack.append((under, 100))
                else:
                    self.model.add(expr >= req.at_least * self.y[lead])

    def _pair_var(self, i: int, lead: int):
        t = self.p.pair_index(i, lead)
        return self.x[self.local[t]] if t >= 0 and self.local[t] >= 0 else None

    def _pairs(self) -> None:
        """Schools that must share a district do (x_(a,l) = x_(b,l)); those that must not, don't."""
        p = self.p
        for a, b in p.together:
            if not (self.inside[a] and self.inside[b]):
                continue
            for lead in self.leads:
                va, vb = self._pair_var(a, lead), self._pair_var(b, lead)
                if va is None and vb is None:
                    continue
                self.model.add((va if va is not None else 0) == (vb if vb is not None else 0))
        for a, b in p.apart:
            if not (self.inside[a] and self.inside[b]):
                continue
            for lead in self.leads:
                va, vb = self._pair_var(a, lead), self._pair_var(b, lead)
                if va is not None and vb is not None:
                    self.model.add_at_most_one([va, vb])

    def _coverage(self, ps: np.ndarray, covered_min: int) -> None:
        """Enough children (or seats) in districts holding a high-quality school."""
        p = self.p
        if p.min_coverage is None or covered_min <= 0 or p.hq[self.leads].all():
            return
        total = int(p.weight[self.window].sum())
        cov = []
        for ts in self.by_lead.values():
            z = self.model.new_bool_var("")
            hq_ts = ts[p.hq[ps[ts]]]
            self.model.add(z <= sum(self.x[t] for t in hq_ts) if len(hq_ts) else z == 0)
            c = self.model.new_int_var(0, total, "")
            self.model.add(
                c <= cp_model.LinearExpr.weighted_sum([self.x[t] for t in ts], p.weight[ps[ts]].tolist())
            )
            self.model.add(c <= total * z)
            cov.append(c)
        if self.soft:
            under = self.model.new_int_var(0, covered_min, "")
            self.model.add(sum(cov) + under >= covered_min)
            self.slack.append((under, max(1, int(100 * p.n_districts / max(total, 1)))))
        else:
            self.model.add(sum(cov) >= covered_min)

    def _neighbour_cuts(self, ps: np.ndarray, pl: np.ndarray) -> None:
        """A member has a neighbour in its district: x_(i, l) ≤ Σ_{u ∈ N(i)} x_(u, l) for i ≠ l."""
        indptr, indices = self.p.neighbours
        for t in np.flatnonzero(ps != pl):
            i, lead = int(ps[t]), int(pl[t])
            nb = indices[indptr[i] : indptr[i + 1]]
            ks = self.p.pair_index(nb, lead)
            ks = ks[ks >= 0]
            ks = self.local[ks]
            ks = ks[ks >= 0]
            if len(ks):
                self.model.add(self.x[t] <= sum(self.x[s] for s in ks))
            else:
                self.model.add(self.x[t] == 0)

    def add_piece_cuts(self, pieces, *, max_rings: int = 40) -> int:
        """One-piece cuts (10) for district pieces cut off from their lead, one per ring between them."""
        p = self.p
        indptr, indices = p.neighbours
        added = 0
        for lead, comp in pieces:
            ks = p.pair_index(comp, lead)
            ks = self.local[ks[ks >= 0]]
            members = ks[ks >= 0]
            if len(members) == 0:
                continue
            for ring in rings(indptr, indices, comp, lead, max_rings, self.inside):
                rk = p.pair_index(ring, lead)
                rk = self.local[rk[rk >= 0]]
                rhs = [self.x[s] for s in rk[rk >= 0]]
                for t in members:
                    self.model.add(self.x[t] <= sum(rhs) if rhs else self.x[t] == 0)
                    added += 1
        self.n_cuts += added
        return added

    # -- hints and reading solutions
    def hint(self, lead_of: np.ndarray) -> None:
        """A complete hint for the x variables (slack variables are left to the solver)."""
        p = self.p
        values = (lead_of[p.pair_school[self.pairs]] == p.pair_lead[self.pairs]).astype(np.int64)
        set_hint(self.model, self.x_index, values)

    def read(self, solution: np.ndarray, lead_of: np.ndarray) -> np.ndarray:
        chosen = solution[self.x_index] == 1
        out = lead_of.copy()
        out[self.p.pair_school[self.pairs[chosen]]] = self.p.pair_lead[self.pairs[chosen]]
        return out


# ------------------------------------------------------------------------------------ constructive start


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


def constructive(
    p: DistrictProblem, seed: int = 0, *, deadline: float | None = None, compact: np.ndarray | None = None
) -> np.ndarray:
    """A first grouping: the compact start, then balancing moves into the bands, then a cost descent."""
    lead_of = compact_start(p, seed) if compact is None else compact
    lead_of = _balance(p, lead_of, deadline=deadline)
    return improve(p, lead_of, deadline=deadline)


def _balance(
    p: DistrictProblem, lead_of: np.ndarray, *, deadline: float | None, max_batches: int = 2_000
) -> np.ndarray:
    """Move boundary schools between neighbouring districts while that lowers the band excess — or keeps
    it and brings the districts nearer the middle of their bands, which frees room for the next moves
    (single moves alone stall when every neighbour sits at the edge of a band).  Each round applies a batch
    of the best moves touching each district at most once, never breaking a district in two and never
    moving a lead.  (excess, spread) falls strictly with every move, so the search ends."""
    lead_of = lead_of.copy()
    tied = _tied(p)
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
            break
    return lead_of


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


def _tied(p: DistrictProblem) -> np.ndarray:
    """Schools named in a together/apart pair: the local searches leave them where they are."""
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
    tied = _tied(p)
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


# ------------------------------------------------------------------------------------------- the bound


def lp_bound(p: DistrictProblem, time_limit_s: float) -> tuple[float, float]:
    """The LP relaxation of (1)–(7), solved by HiGHS.  (The a-priori one-piece inequalities would add
    about 0.002 % to it on 1,000 schools and take four times as long, so they are left out.)

    The matrix is built on arrays (no Python loop per variable).  Returns (bound, seconds): inf when the
    relaxation is infeasible (then no grouping exists), 0 when HiGHS does not finish (0 is always valid).
    """
    from scipy import sparse
    from scipy.optimize import linprog

    t0 = time.perf_counter()
    ps, pl = p.pair_school, p.pair_lead
    n_pairs = len(ps)
    self_pair = np.full(p.n, -1, dtype=np.int64)
    is_self = ps == pl
    self_pair[ps[is_self]] = np.flatnonzero(is_self)
    leads = np.flatnonzero(self_pair >= 0)
    lead_row = np.full(p.n, -1, dtype=np.int64)
    lead_row[leads] = np.arange(len(leads))
    y_of_pair = self_pair[pl]
    rows, cols, vals, rhs = [], [], [], []
    n_rows = 0

    def block(r, c, v, b):
        nonlocal n_rows
        rows.append(np.asarray(r) + n_rows)
        cols.append(np.asarray(c))
        vals.append(np.asarray(v, dtype=float))
        rhs.append(np.asarray(b, dtype=float))
        n_rows += len(b)

    others = np.flatnonzero(~is_self)
    # (2) x_(i, l) − y_l ≤ 0
    r = np.arange(len(others))
    block(np.concatenate([r, r]), np.concatenate([others, y_of_pair[others]]),
          np.concatenate([np.ones(len(r)), -np.ones(len(r))]), np.zeros(len(r)))  # fmt: skip

    # (4)–(7) per lead: Σ v_i x_(i, l) − hi·y_l ≤ 0 and lo·y_l − Σ v_i x_(i, l) ≤ 0
    def per_lead(values, lo=None, hi=None):
        lr = lead_row[pl]
        if hi is not None:
            block(np.concatenate([lr, np.arange(len(leads))]), np.concatenate([np.arange(n_pairs), self_pair[leads]]),
                  np.concatenate([values[ps], -hi * np.ones(len(leads))]), np.zeros(len(leads)))  # fmt: skip
        if lo is not None:
            block(np.concatenate([lr, np.arange(len(leads))]), np.concatenate([np.arange(n_pairs), self_pair[leads]]),
                  np.concatenate([-values[ps], lo * np.ones(len(leads))]), np.zeros(len(leads)))  # fmt: skip

    per_lead(np.ones(p.n), *p.count_band)
    if p.seats_band is not None:
        per_lead(p.seats.astype(float), *p.seats_band)
    if p.children_band is not None:
        per_lead(p.children.astype(float), *p.children_band)
        if p.seats_band is not None:
            per_lead((p.seats - p.children).astype(float), lo=0.0)
    if p.quality_band is not None:
        qlo, qhi = p.quality_band
        q = np.nan_to_num(p.quality)
        known = p.quality_known
        per_lead(np.where(known, q - qhi, 0.0), hi=0.0)
        per_lead(np.where(known, q - qlo, 0.0), lo=0.0)
    for req in p.requirements:
        per_lead(req.members.astype(float), lo=float(req.at_least))
    a_ub = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_rows, n_pairs)
    )
    b_ub = np.concatenate(rhs)
    # (1) one district per school, (3) K leads
    a_eq = sparse.vstack(
        [
            sparse.csr_matrix((np.ones(n_pairs), (ps, np.arange(n_pairs))), shape=(p.n, n_pairs)),
            sparse.csr_matrix(
                (np.ones(len(leads)), (np.zeros(len(leads)), self_pair[leads])), shape=(1, n_pairs)
            ),
        ]
    )
    b_eq = np.concatenate([np.ones(p.n), [p.n_districts]])
    lower = np.zeros(n_pairs)
    lower[self_pair[np.flatnonzero(p.pinned)]] = 1.0
    res = linprog(
        p.pair_cost.astype(float),
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=np.stack([lower, np.ones(n_pairs)], axis=1),
        method="highs",
        options={"time_limit": max(0.1, float(time_limit_s))},
    )
    seconds = time.perf_counter() - t0
    if res.status == 0:
        # HiGHS' dual bound equals the primal value at optimality; round down for safety
        return float(np.floor(res.fun * (1 - 1e-9))), seconds
    if res.status == 2:
        return float("inf"), seconds
    return 0.0, seconds


# ----------------------------------------------------------------------------------------------- search


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
    dm = DistrictModel(
        p, window, k, covered_min=_window_coverage(p, lead_of, window), soft=soft, known_pieces=pieces
    )
    best, best_key = None, None
    status, bound = "unknown", 0.0
    rounds = 0
    current_key = (round(band_excess(p, lead_of), 9), p.cost_of(lead_of))
    new_pieces: list = []

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
            if key[0] <= 1e-9 and key < current_key and on_valid is not None:
                on_valid(cand)

    while rounds < max_rounds:
        remaining = deadline - time.perf_counter()
        if remaining <= 0.02:
            break
        rounds += 1
        dm.hint(best if best is not None else (hint if hint is not None else lead_of))
        new_pieces.clear()
        res = run_cpsat(dm.model, options=options, time_limit_s=remaining, on_solution=harvest)
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


def _district_graph(p: DistrictProblem, lead_of: np.ndarray) -> dict[int, set[int]]:
    e = p.edges
    a, b = lead_of[e[:, 0]], lead_of[e[:, 1]]
    out: dict[int, set[int]] = {int(lead): set() for lead in np.unique(lead_of)}
    for u, v in zip(a[a != b], b[a != b]):
        out[int(u)].add(int(v))
        out[int(v)].add(int(u))
    return out


def _window(
    p: DistrictProblem, lead_of: np.ndarray, seed_lead: int, rng, max_schools: int, max_districts: int
) -> np.ndarray:
    """The seed district and neighbouring districts (nearest leads first, the two nearest always, the
    others in random order; then the neighbours' neighbours, so a district on the edge of the city with
    few neighbours still gets a window that can trade schools with the rest) up to ``max_schools``."""
    dist = lambda lead: np.hypot(*(p.xy[lead] - p.xy[seed_lead]))  # noqa: E731
    if p.contiguity:
        graph = _district_graph(p, lead_of)
        near = sorted(graph[seed_lead], key=dist)
        near[2:] = rng.permutation(near[2:]).tolist() if len(near) > 3 else near[2:]
        second = set().union(*(graph[v] for v in near)) - set(near) - {seed_lead} if near else set()
        near += sorted(second, key=dist)
    else:
        leads = np.unique(lead_of)
        near = sorted(
            (int(v) for v in leads if v != seed_lead),
            key=lambda lead: np.hypot(*(p.xy[lead] - p.xy[seed_lead])),
        )[:6]
        near[2:] = rng.permutation(near[2:]).tolist() if len(near) > 3 else near[2:]
    chosen = [seed_lead]
    size = int((lead_of == seed_lead).sum())
    for lead in near:
        extra = int((lead_of == lead).sum())
        if size + extra > max_schools and len(chosen) >= 2:
            continue
        chosen.append(lead)
        size += extra
        if size >= max_schools or len(chosen) >= max_districts:
            break
    return np.flatnonzero(np.isin(lead_of, chosen))


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
    pieces: dict = field(default_factory=dict)

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def on_valid(self, _plan: np.ndarray | None = None) -> None:
        """A plan keeping every rule was found: note when the first one came."""
        if np.isnan(self.first_seconds):
            self.first_seconds = time.perf_counter() - self.t0
            log.info("districts: first plan keeping every rule after %.2f s", self.first_seconds)

    def raise_bound(self, value: float, source: str) -> None:
        if value > self.bound:
            self.bound, self.bound_source = value, source

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

    ``hint``: the compact start.  Measured on 300 → 25 (60 s): hinted with the compact districts that miss
    the bands, CP-SAT ends 1.3–1.6 % above the LP bound; hinted with the balanced start, 3–15 % (it stays
    near the distorted shapes the balancing moves made)."""
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
        return int(rng.choice(leads[ex >= ex.max() - 1e-12])) if ex.max() > 0 else int(rng.choice(leads))
    if not order:
        order.extend(rng.permutation(np.unique(lead_of)).tolist())
    lead = int(order.pop())
    return lead if lead_of[lead] == lead else None


def _lns(s: _Search, until: float, rng, poll_bound) -> None:
    """Large-neighbourhood search: a few neighbouring districts at a time re-solved exactly, until
    ``until``, a plan proven within the gap, or a full sweep and more without improvement."""
    p = s.p
    order: list[int] = []
    stale = 0
    while time.perf_counter() < until - 0.1 and stale <= 3 * p.n_districts:
        poll_bound()
        valid = band_excess(p, s.lead_of) <= 1e-9
        if valid and s.bound >= p.cost_of(s.lead_of) * (1 - s.options.relative_gap):
            break
        seed_lead = _seed_district(p, s.lead_of, order, rng)
        if seed_lead is None:
            continue
        # a repair that failed around the same district gets a wider window next time
        grow = 1 if valid else min(1 + stale, 4)
        window = _window(p, s.lead_of, seed_lead, rng, grow * WINDOW_SCHOOLS, grow * WINDOW_DISTRICTS)
        budget = min(WINDOW_SECONDS, until - time.perf_counter())
        _status, _wb, improved = s.solve(window, budget, soft=not valid, source="LNS")
        stale = 0 if improved else stale + 1
        if improved:
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

    Up to ``FULL_MODEL_SCHOOLS`` schools the whole model is solved, hinted with the compact start, the
    balanced start kept as the incumbent; above, LNS windows from the balanced start.
    """
    t0 = time.perf_counter()
    deadline = t0 + options.time_limit_s
    pre = precheck_districts(p)
    if pre is not None:
        raise pre
    # the LP bound is computed beside the search (HiGHS and CP-SAT release the GIL)
    pool = ThreadPoolExecutor(max_workers=1)
    lp_job = pool.submit(lp_bound, p, options.time_limit_s)
    pool.shutdown(wait=False)
    compact = compact_start(p, options.seed)
    start = constructive(p, options.seed, deadline=t0 + 0.3 * options.time_limit_s, compact=compact)
    s = _Search(p, options, t0, deadline, start)
    if is_valid(p, s.lead_of):
        s.on_valid()
    log.info(
        "districts: first grouping %.1f %s-km, band excess %.3f (%.2f s)",
        p.cost_of(s.lead_of) / 1000,
        p.weight_label,
        band_excess(p, s.lead_of),
        time.perf_counter() - t0,
    )
    lp: dict = {}

    def poll_bound(wait: bool = False) -> None:
        if not lp and (wait or lp_job.done()):
            lp["value"], lp["seconds"] = lp_job.result()
            log.info(
                "districts: LP bound %.1f %s-km in %.2f s", lp["value"] / 1000, p.weight_label, lp["seconds"]
            )
            if lp["value"] == float("inf"):
                raise explain_districts(p, s.lead_of)
            s.raise_bound(lp["value"], "LP relaxation")

    rng = np.random.default_rng(options.seed)
    if p.n <= FULL_MODEL_SCHOOLS:
        _full_model(s, hint=compact, until=t0 + FULL_MODEL_SHARE * options.time_limit_s)
        if s.bound < p.cost_of(s.lead_of) * (1 - options.relative_gap):
            _lns(s, deadline, rng, poll_bound)  # polish: windows re-solved exactly
    else:
        _lns(s, deadline, rng, poll_bound)
    poll_bound(wait=True)
    return _solution(s, lp["value"], lp["seconds"])


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
            raise ZoningError(
                f"No grouping keeping every rule was found in {options.time_limit_s:g} s (nor was one proven "
                "impossible); the nearest grouping found misses: "
                + "; ".join(misses[:6])
                + (f"; and {len(misses) - 6} more" if len(misses) > 6 else "")
                + ". Fix: allow more time (--time-limit), widen the tolerances (--seats-tolerance, "
                "--children-tolerance, --quality-tolerance), or ask for fewer districts."
            )
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
