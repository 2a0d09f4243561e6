"""Plans judged from their tables alone: the independent checker (``verify``, the executable spec of every
rule) and the tables and summary (``metrics``).  They read only plans, so both solver families use them.

May import: ``errors``, ``options``, ``plan``, ``io``, ``geo``.
"""
