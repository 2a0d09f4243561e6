"""Options of the solvers, as frozen dataclasses.

Rules of the plan (maximum distance, move penalty, …) are keyword arguments of the API functions; this
module holds what steers the *search*: time, threads, seed, the gap at which to stop.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

__all__ = ["SolveOptions"]


@dataclass(frozen=True)
class SolveOptions:
    """How long and how hard to search.

    time_limit_s: wall-clock budget of ``assign_zones`` from its call: block graph, candidates, bound,
        search, repair, and (estimated ahead, by the number of blocks) the plan's tables and the check.
    workers: CP-SAT search threads (the machines we target have 2 cores).
    seed: the only source of randomness; the same seed and inputs give the same plan.
    relative_gap: stop once the plan is proven within this fraction of the lower bound (0.0001 = 0.01 %).
    stop: an event another thread (the CLI's Ctrl-C handler) sets to end the search now: the best plan found
        so far is returned with its proven gap, as when time runs out.
    """

    time_limit_s: float = 60.0
    workers: int = 2
    seed: int = 0
    relative_gap: float = 1e-4
    stop: threading.Event | None = field(default=None, compare=False, repr=False)

    @property
    def stopped(self) -> bool:
        """The ``stop`` event is set (Ctrl-C): end the search now, as at the time limit."""
        return self.stop is not None and self.stop.is_set()

    def __post_init__(self) -> None:
        if not self.time_limit_s > 0:
            raise ValueError(f"time_limit_s must be positive, got {self.time_limit_s!r}")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers!r}")
        if not 0 <= self.relative_gap < 1:
            raise ValueError(f"relative_gap must be in [0, 1), got {self.relative_gap!r}")
