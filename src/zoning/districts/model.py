"""School districts (学区, "1 + X") and education groups (教育集团): the CP-SAT model.

Formulation (``i`` schools, ``l`` lead candidates, ``a = (i, l)`` candidate pairs, ``w_i`` weight,
``d_a`` metres, bands ``[lo, hi]`` from ``problem``)::

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
                          windows may use shortest paths instead (a restriction, no lazy cut):
                          x_(i, l) ≤ Σ_{u ∈ N(i), h_l(u) = h_l(i) − 1} x_(u, l)
    min Σ_a w_i d_a x_a

The model is built on a window of schools (whole districts), the rest of the plan held fixed; while a
plan breaks a band, the bands may be soft (the slack alone is minimised).  The rooms around it:
``bound`` (the LP relaxation of (1)–(7), and HiGHS' branch and cut on it up to 400 schools), ``start``
(the constructive start and balancing moves), ``search`` (the whole model, LNS windows, the proven bound
and gap).
"""

from __future__ import annotations

from functools import partial

import numpy as np
from ortools.sat.python import cp_model

from ..cpsat import set_hint
from ..geo.graph import rings
from .problem import QUALITY_SCALE, DistrictProblem

__all__ = ["DistrictModel"]


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
        star: bool = False,
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
        if p.contiguity and star:
            self._star_paths(ps, pl)
        elif p.contiguity:
            self._neighbour_cuts(ps, pl)
            for (lead, _key), comp in (known_pieces or {}).items():
                if inside[lead] and inside[comp].all():
                    self.add_piece_cuts([(lead, comp)])
        # --- objective
        if self.slack:
            # soft bands: the slack alone.  With the trips as a second term CP-SAT spends the window's time
            # on them once the slack can fall no further; without, six of eight repair windows on the mixed
            # 1,000 → 80 city proved their least slack in 0.05–0.4 s (the eight: 5.1 s against 7.9 s).
            # The trips are the improvement windows' job.
            model.minimize(
                cp_model.LinearExpr.weighted_sum([v for v, _ in self.slack], [w for _, w in self.slack])
            )
        else:
            model.minimize(cp_model.LinearExpr.weighted_sum(self.x, p.pair_cost[pairs].tolist()))

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

    def _star_paths(self, ps: np.ndarray, pl: np.ndarray) -> None:
        """One piece by shortest paths (a restriction, for windows): a member joins a district only with a
        neighbour one step nearer its lead, counted in steps through the window's schools that may join
        that lead: x_(i, l) ≤ Σ_{u ∈ N(i), h_l(u) = h_l(i) − 1} x_(u, l).  Every district is then in one
        piece by construction and no lazy cut is needed; the districts it forbids (reaching a school by a
        detour) are rarely the compact ones.  Measured on the mixed 1,000 → 80 city: eight repair windows
        of 54 schools with (10) each ran out of their 2 s in one or two rounds of ring cuts (136–264 cuts)
        without a plan in one piece; with these paths eight windows from the same start lowered the band
        excess from 11.2 to 3.1 in 8.8 s (0.2–2 s each)."""
        p = self.p
        indptr, indices = p.neighbours
        for lead, ts in self.by_lead.items():
            members = ps[ts]
            var = dict(zip(members.tolist(), ts.tolist()))
            hop = {lead: 0}
            frontier = [lead]
            while frontier:
                nxt = []
                for u in frontier:
                    for v in indices[indptr[u] : indptr[u + 1]].tolist():
                        if v in var and v not in hop:
                            hop[v] = hop[u] + 1
                            nxt.append(v)
                frontier = nxt
            for i, t in var.items():
                if i == lead:
                    continue
                if i not in hop:
                    self.model.add(self.x[t] == 0)
                    continue
                nb = indices[indptr[i] : indptr[i + 1]].tolist()
                closer = [self.x[var[u]] for u in nb if hop.get(u, -1) == hop[i] - 1]
                self.model.add(self.x[t] <= sum(closer))

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
