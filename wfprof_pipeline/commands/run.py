"""`wfprof run`: materialize everything end to end and print what landed where."""

from __future__ import annotations

import argparse
import time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the main job end to end (every asset) and print a summary")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from wfprof_pipeline.lib import environment, warehouse
    from wfprof_pipeline.lib.settings import Settings

    started = time.monotonic()
    started_wall = time.time()
    env = environment.apply()
    settings = Settings.from_env()
    if "DATABASE_URL" in env:
        print("using the embedded PostgreSQL (DATABASE_URL is not set)")

    from wfprof_pipeline.pipeline import NIGHTLY_JOB, run_all

    outcome = run_all()
    with warehouse.session(settings.warehouse, read_only=True) as con:
        counts = warehouse.table_counts(con)
        coverage = _coverage(con)
    width = max((len(name) for name, _ in counts), default=10)
    print(f"\nwarehouse {settings.warehouse}:")
    for name, rows in counts:
        print(f"  {name:<{width}}  {rows:>10,} rows")
    reports = sorted(settings.reports_dir.glob("*.html")) if settings.reports_dir.exists() else []
    for report in (r for r in reports if r.stat().st_mtime >= started_wall):  # written by this run
        print(f"report: {report}")
    for name, ok in outcome.jobs:
        if not ok and name != NIGHTLY_JOB:  # the nightly job's failures are listed per step
            outcome.failures.append((name, "see the messages above"))
    if coverage:
        print("\nsteps: " + ", ".join(f"{n} {status}" for status, n in coverage)
              + "  (wfprof sql \"select step_id, coverage, note from step_pricing\")")
    for step, cause in outcome.failures:
        print(f"FAILED {step}: {cause}")
    status = "succeeded" if outcome.success else "FAILED"
    print(f"\nwfprof run {status} in {time.monotonic() - started:.1f} s")
    print('query it:  wfprof sql "select * from step_sources"')
    return 0 if outcome.success else 1


def _coverage(con: object) -> list[tuple[str, int]]:
    """Steps per coverage status (priced, import_only, not_profiled, failed), if pricing ran."""
    from wfprof_pipeline.lib.cost_model.tiers import COVERAGE

    try:
        rows = dict(con.execute("select coverage, count(*) from step_pricing group by coverage").fetchall())
    except Exception:  # no step_pricing yet (the nightly job failed early): nothing to summarize
        return []
    return [(status, rows[status]) for status in COVERAGE if rows.get(status)]
