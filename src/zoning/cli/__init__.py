"""The ``zoning`` command (click).  Thin: parse flags, call the library, print a short report.

May import: every package (cli comes last in the pipeline); only cli imports click.
"""

from __future__ import annotations

from . import batch, districts, publish, scenarios, zones  # noqa: F401  importing them registers their commands on ``main``
from .group import main

if __name__ == "__main__":  # pragma: no cover
    main()


__all__ = ["main"]
