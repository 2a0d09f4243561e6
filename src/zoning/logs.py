"""The ``zoning`` logger caught for a while: its records go to the caller's handlers and nowhere else.

A batch job keeps its log as its own record (``cli.batch``), a frontier's run on a Dask worker hands its records
back to the caller (``scenarios.frontier``); both route the logger the same way and put it back as it was.
Several threads may catch it at once (the runs of a frontier on one multi-threaded worker): each adds its own
handler, and the logger is put back when the last one lets go; a handler sees the other threads' records too
(the frontier's keeps its own thread's).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

__all__ = ["logged_to"]

_lock = threading.Lock()
#: The handlers now catching the logger, and the logger as it was before the first of them (handlers,
#: propagate, level).
_catching: list[logging.Handler] = []
_before: tuple[list[logging.Handler], bool, int] = ([], True, logging.NOTSET)


@contextlib.contextmanager
def logged_to(handler: logging.Handler) -> Iterator[None]:
    """The ``zoning`` logger's records go to ``handler`` (and to the handlers other threads caught it with)
    alone while the block runs: INFO and up whatever the level was (-q, or a worker's logger never set),
    DEBUG kept where it was on (-vv still shows a bug's traceback); its handlers, level and propagation as they
    were afterwards, once every thread has let go."""
    global _before
    logger = logging.getLogger("zoning")
    with _lock:
        if not _catching:
            _before = (list(logger.handlers), logger.propagate, logger.level)
            logger.handlers[:] = []
            logger.propagate = False
            logger.setLevel(min(logger.getEffectiveLevel(), logging.INFO))
        _catching.append(handler)
        logger.addHandler(handler)
    try:
        yield
    finally:
        with _lock:
            logger.removeHandler(handler)
            _catching.remove(handler)
            if not _catching:
                handlers, propagate, level = _before
                logger.handlers[:] = handlers
                logger.propagate = propagate
                logger.setLevel(level)
