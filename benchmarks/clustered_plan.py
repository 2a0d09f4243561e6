"""The clustered 1,000 → 80 city of ``districts_limit.py`` has a grouping keeping every default rule: this
script rebuilds the city, reads that grouping (``data/clustered-1000-80-plan.csv``: each school's lead) and
checks it with the search's own judge (``is_valid``) and rule by rule.

Sessions 13–17 found none (3–8 districts over the mean-quality band) and no proof that none exists; session 18
found this one with research scripts outside the package (branch ``whole-counts``: a chain counting surplus key
schools whole, weighed by the key-school density, after exact windows with free leads).  So the city is
feasible: the search, not the rules, is what falls short.

    python benchmarks/clustered_plan.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from districts_limit import problem  # noqa: E402

from zoning.districts.diagnose import district_shortfalls  # noqa: E402
from zoning.districts.problem import _stats, district_pieces, is_valid  # noqa: E402

PLAN = Path(__file__).parent / "data" / "clustered-1000-80-plan.csv"


def main() -> int:
    p = problem("clustered", 1000, 80)
    table = pd.read_csv(PLAN, dtype=str)
    index = {sid: i for i, sid in enumerate(p.school_ids)}
    lead_of = np.full(p.n, -1, dtype=np.int64)
    lead_of[[index[s] for s in table["school_id"]]] = [index[s] for s in table["lead_id"]]
    leads = np.unique(lead_of)
    s = _stats(p, lead_of)
    key = np.bincount(lead_of, weights=p.hq.astype(float), minlength=p.n)[leads]
    print(f"{len(leads)} districts; every school placed: {bool((lead_of >= 0).all())}")
    print(
        f"schools per district {int(s['count'][leads].min())}–{int(s['count'][leads].max())} (band {p.count_band})"
    )
    for what in ("seats", "children"):
        v = np.bincount(lead_of, weights=getattr(p, what).astype(float), minlength=p.n)[leads]
        print(f"{what} {v.min():,.0f}–{v.max():,.0f} (band {getattr(p, what + '_band')})")
    mean = key / s["count"][leads]
    print(
        f"mean quality {mean.min():.3f}–{mean.max():.3f} (band {p.quality_band[0]:.3f}–{p.quality_band[1]:.3f})"
    )
    print(
        f"districts in pieces: {len(district_pieces(p, lead_of))}; leads high quality: {bool(p.hq[leads].all())}"
    )
    print(f"misses: {district_shortfalls(p, lead_of) or 'none'}")
    valid = is_valid(p, lead_of)
    print(f"keeps every rule: {valid}")
    return 0 if valid else 1


if __name__ == "__main__":
    raise SystemExit(main())
