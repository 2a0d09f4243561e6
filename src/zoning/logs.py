"""The ``zoning`` logger caught for a while: its records go to one handler of the caller's and nowhere else.

A batch job keeps its log as its own record (``cli.batch``), a frontier's run on a Dask worker hands its records
back to the caller (``scenarios.frontier``); both route the logger the same way and put it back as it was.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

__all__ = ["logged_to"]


@contextlib.contextmanager
def logged_to(handler: logging.Handler) -> Iterator[None]:
    """The ``zoning`` logger's records go to ``handler`` alone while the block runs: INFO and up whatever the
    level was (-q, or a worker's logger never set), DEBUG kept where it was on (-vv still shows a bug's
    traceback); its handlers, level and propagation as they were afterwards."""
    logger = logging.getLogger("zoning")
    handlers, propagate, level = list(logger.handlers), logger.propagate, logger.level
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(min(logger.getEffectiveLevel(), logging.INFO))
    try:
        yield
    finally:
        logger.handlers[:] = handlers
        logger.propagate = propagate
        logger.setLevel(level)
