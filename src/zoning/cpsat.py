"""Run CP-SAT with our options: time, threads, seed, gap; progress to logging; plain results out.

The model modules build a ``CpModel`` and call :func:`run_cpsat`; nothing else here knows what the model
means.  CP-SAT's own log goes to DEBUG through ``log_callback``; every improving plan is logged at INFO
with the bound and the gap, so a planner running ``zoning -v partition`` sees the search converge.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from .options import SolveOptions

__all__ = ["CpResult", "run_cpsat", "set_hint", "stop_watcher"]

log = logging.getLogger(__name__)

_STATUS = {
    cp_model.OPTIMAL: "optimal",
    cp_model.FEASIBLE: "feasible",
    cp_model.INFEASIBLE: "infeasible",
    cp_model.UNKNOWN: "unknown",
    cp_model.MODEL_INVALID: "invalid",
}


@dataclass(frozen=True)
class CpResult:
    status: str  # optimal | feasible | infeasible | unknown
    objective: float | None  # of the best solution found (None without one)
    bound: float  # proven lower bound (minimisation)
    seconds: float
    solution: np.ndarray | None  # values of all model variables, by proto index
    core: tuple[int, ...] = ()  # assumption literals (proto indices) sufficient for infeasibility


def stop_watcher(on_stop: Callable[[], None], stop):
    """A thread that calls ``on_stop`` (a solver's stop: CP-SAT's ``stop_search``, SCIP's ``InterruptSolve``) as
    soon as ``stop`` is set; returns the event that ends the thread (None without a ``stop``)."""
    if stop is None:
        return None
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if stop.wait(0.1):
                on_stop()
                return

    threading.Thread(target=watch, daemon=True).start()
    return done


class _Progress(cp_model.CpSolverSolutionCallback):
    def __init__(
        self,
        scale: float,
        unit: str,
        hook: Callable[[np.ndarray], None] | None,
        level: int,
        stop_when: Callable[[], bool] | None = None,
    ):
        super().__init__()
        self.scale, self.unit, self.hook, self.level = scale, unit, hook, level
        self.stop_when = stop_when
        self.t0 = time.perf_counter()

    def on_solution_callback(self) -> None:
        if self.hook is not None:
            self.hook(np.asarray(self.response_proto.solution, dtype=np.int64))
        if self.stop_when is not None and self.stop_when():
            self.stop_search()  # the caller has what it needs
        if not log.isEnabledFor(self.level):
            return
        obj = self.objective_value / self.scale
        bound = self.best_objective_bound / self.scale
        gap = (obj - bound) / obj if obj > 0 else 0.0
        log.log(
            self.level,
            "  %.1fs  plan %.1f %s, bound %.1f, gap %.2f%%",
            time.perf_counter() - self.t0,
            obj,
            self.unit,
            bound,
            100 * gap,
        )


def set_hint(model: cp_model.CpModel, indices: np.ndarray, values: np.ndarray) -> None:
    """Replace the model's hint by a complete one (proto indices and values)."""
    model.clear_hints()
    hint = model.proto.solution_hint
    hint.vars.extend(np.asarray(indices, dtype=np.int64).tolist())
    hint.values.extend(np.asarray(values, dtype=np.int64).tolist())


def run_cpsat(
    model: cp_model.CpModel,
    *,
    options: SolveOptions,
    time_limit_s: float,
    assumptions: Sequence[int] = (),
    progress_scale: float = 1.0,
    progress_unit: str = "",
    on_solution: Callable[[np.ndarray], None] | None = None,
    stop_when: Callable[[], bool] | None = None,
    quiet: bool = False,
    absolute_gap: float | None = None,
) -> CpResult:
    """Solve ``model`` (minimisation) within ``time_limit_s``; never raises on a time-out.

    ``on_solution`` sees every improving solution (all variable values, by proto index) as it is found:
    the zone search uses it to harvest incumbents and cut-off zone pieces from the whole search path.
    ``stop_when`` is asked after each of them: True stops the search there (status feasible).
    ``quiet`` logs the improving plans at DEBUG instead of INFO (the many small window solves).
    ``absolute_gap``: stop too once the plan is proven within this much of the bound (objective units).
    """
    model.clear_assumptions()
    if assumptions:
        model.proto.assumptions.extend([int(a) for a in assumptions])
    solver = cp_model.CpSolver()
    p = solver.parameters
    p.max_time_in_seconds = max(0.05, float(time_limit_s))
    p.num_workers = options.workers
    p.random_seed = options.seed
    p.relative_gap_limit = options.relative_gap
    if absolute_gap is not None:
        p.absolute_gap_limit = float(absolute_gap)
    if log.isEnabledFor(logging.DEBUG):
        p.log_search_progress = True
        p.log_to_stdout = False
        solver.log_callback = lambda line: log.debug("cp-sat: %s", line)
    p.catch_sigint_signal = False  # Ctrl-C is the caller's (options.stop), not one solve's
    t0 = time.perf_counter()
    level = logging.DEBUG if quiet else logging.INFO
    callback = _Progress(progress_scale, progress_unit, on_solution, level, stop_when)
    if options.stopped:
        p.max_time_in_seconds = 0.05
    watcher = stop_watcher(solver.stop_search, options.stop)
    try:
        code = solver.solve(model, callback)
    finally:
        if watcher is not None:
            watcher.set()
    seconds = time.perf_counter() - t0
    status = _STATUS.get(code, "unknown")
    response = solver.response_proto
    has_solution = status in ("optimal", "feasible")
    core: tuple[int, ...] = ()
    if status == "infeasible" and assumptions:
        core = tuple(int(v) for v in solver.sufficient_assumptions_for_infeasibility())
    return CpResult(
        status=status,
        objective=float(solver.objective_value) if has_solution else None,
        bound=float(solver.best_objective_bound) if status != "infeasible" else float("inf"),
        seconds=seconds,
        solution=np.asarray(response.solution, dtype=np.int64) if has_solution else None,
        core=core,
    )
