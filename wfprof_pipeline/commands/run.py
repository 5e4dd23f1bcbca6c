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
    for step, cause in outcome.failures:
        print(f"FAILED {step}: {cause}")
    for check in outcome.failed_checks:  # ERROR fails the run, WARN is only listed
        label = "FAILED check" if check.severity == "ERROR" else "WARN check failed:"
        print(f"{label} {check.name} on {check.asset} (severity {check.severity}): {check.details or 'no details'}")
    if outcome.failed_checks:
        first = outcome.failed_checks[0]
        run = f", or Runs → {outcome.run_id}" if outcome.run_id else ""
        print(f"check details: `wfprof dev` opens the Dagster UI: Assets → {first.asset} → Checks{run}")
    status = "succeeded" if outcome.success else "FAILED"
    print(f"\nwfprof run {status} in {time.monotonic() - started:.1f} s")
    print('query it:  wfprof sql "select * from step_sources"')
    return 0 if outcome.success else 1
