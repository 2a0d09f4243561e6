"""Options of the solvers, as frozen dataclasses.

Rules of the plan (maximum distance, move penalty, …) are keyword arguments of the API functions; this
module holds what steers the *search*: time, threads, seed, the gap at which to stop.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .errors import InputError, Issue, kind_of, number_issue

__all__ = ["SolveOptions", "options_issue"]

#: The largest seed: CP-SAT's random_seed is a 32-bit integer (numpy's generators take any from 0).
MAX_SEED = 2**31 - 1


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
        """Every field checked, every problem named at once (a bad value failed deep inside the search, or
        was silently used: ``workers=1.5``, ``seed=None``, ``time_limit_s=inf`` searched for ever)."""
        issues = [
            number_issue("time_limit_s", self.time_limit_s, low=0, low_open=True,
                         fix="give the seconds the search may take, e.g. SolveOptions(time_limit_s=60)."),
            number_issue("workers", self.workers, low=1, whole=True,
                         fix="give the number of search threads, e.g. SolveOptions(workers=2)."),
            number_issue("seed", self.seed, low=0, high=MAX_SEED, whole=True,
                         fix="give a whole number such as SolveOptions(seed=0); the same seed gives the same plan."),
            number_issue("relative_gap", self.relative_gap, low=0, high=1, high_open=True,
                         fix="give the fraction of the bound to stop at, e.g. SolveOptions(relative_gap=0.0001) "
                         "for 0.01 %."),
        ]  # fmt: skip
        if self.stop is not None and not callable(getattr(self.stop, "is_set", None)):
            issues.append(Issue(f"stop = {self.stop!r} is not an event.",
                                "pass a threading.Event and set it to end the search, or leave stop out."))  # fmt: skip
        issues = [i for i in issues if i is not None]
        if issues:
            raise InputError(
                issues, headline=f"SolveOptions: {len(issues)} problem{'s' if len(issues) > 1 else ''}:"
            )


def options_issue(options) -> Issue | None:
    """An issue when a public function's ``options`` is not a :class:`SolveOptions` (a number or a dict was an
    AttributeError deep in the search), else None."""
    if isinstance(options, SolveOptions):
        return None
    return Issue(
        f"options is {kind_of(options)}, not SolveOptions",
        "e.g. options=zoning.SolveOptions(time_limit_s=30)",
    )
