"""Attendance zones (划片): every block to one school within seats, zones in one piece, trips short.

Rooms in pipeline order, the same as in ``districts``: ``problem`` (arrays, candidate arcs) → ``bound``
(transportation LP, seat prices, knapsack bound) → ``start`` (rounding, ejection chains, repair, descent) →
``diagnose`` (infeasibility in planner's terms) → ``model`` (CP-SAT with one-piece cuts) → ``windows`` (the
plan improved a few schools at a time: repair, fewest moves, improvement; districts keep theirs in ``search``)
→ ``search`` (starts, bound, windows in order) → ``api`` (:func:`assign_zones`).  May import everything before it: ``errors``, ``options``,
``plan``, ``io``, ``geo``, ``check``, ``cpsat``.
"""
