"""Many runs at once (``zoning batch JOBS.toml --out DIR``): a jobs file lists runs of partition / districts /
feeder / scenario / frontier / site with their inputs and flags (``jobs``: parsed and checked, pure); each job
runs in a worker process exactly as the command would (``work``: no Dask); Dask distributed spreads them over
a ``LocalCluster`` or an existing cluster, retries a job whose worker died, skips finished jobs on ``--resume``
and writes ``batch.csv`` / ``batch.md`` (``run``).

The commands themselves live in ``cli``, after this package: whoever calls :func:`run.run_batch` hands it the
commands' flags (:class:`jobs.CommandSpec`) and a runner that runs one command line in-process (``zoning.run_batch``
and ``zoning batch`` wire the CLI's own).  Dask is an optional extra (``pip install 'zoning[batch]'``), imported
only when a batch runs.

May import: errors, options, plan, io, check, scenarios (the Markdown table), and dask / distributed (only here).
"""
