"""Scenarios a bureau weighs before deciding: change files applied to the inputs (``changes``: close, merge,
build, expand, shrink schools, new housing), plans side by side (``compare``), and new-school siting (the
capacitated p-median with a proven bound).

May import: errors, logs, options, plan, io, geo, check, cpsat, zones, districts (and ortools for the siting model).
"""
