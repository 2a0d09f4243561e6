"""School districts (学区), education groups (教育集团) and feeders (直对入学): schools grouped around lead schools.

The same rooms as ``zones``: ``problem`` (arrays, candidate leads, the rules and the plan checks) → ``bound``
(LP relaxation) → ``start`` (constructive regions, balancing moves) → ``diagnose`` → ``model`` (CP-SAT) →
``search`` (whole model, windows, LNS) → ``schoolgraph`` (the schools' adjacency from their zones) →
``api`` (:func:`form_districts`).  May import everything before
it, ``zones`` included (feeders are zones whose blocks are primary zones).
"""
