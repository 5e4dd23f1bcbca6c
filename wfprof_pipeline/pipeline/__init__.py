"""`wfprof run`'s orchestration: Dagster wiring that executes jobs from the command line (not autoloaded
definitions). `run.py` runs the nightly job as the schedule would, `stages.py` seeds the demo database and
ingests trace days before it and prices usage after,
`run_guard.py` keeps dead runs from holding the `duckdb` pool."""
