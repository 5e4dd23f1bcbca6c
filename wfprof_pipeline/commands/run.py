"""`wfprof run`: materialize everything end to end and print what landed where."""

from __future__ import annotations

import argparse
import time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the main job end to end (every asset) and print a summary")
    p.add_argument("--verbose", action="store_true", help="also list every warehouse table with its row count")
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
        expensive = _most_expensive(con)
    if args.verbose:
        width = max((len(name) for name, _ in counts), default=10)
        print(f"\nwarehouse {settings.warehouse}:")
        for name, rows in counts:
            print(f"  {name:<{width}}  {rows:>10,} rows")
    else:
        print(f"\nwarehouse {settings.warehouse}: {len(counts)} tables (--verbose lists them)")
    if coverage:
        print("steps: " + ", ".join(f"{n} {status}" for status, n in coverage)
              + "  (wfprof sql \"select step_id, coverage, note from step_pricing\")")
    if expensive:
        print("most expensive (units per execution, change since the last run):")
        for step, units, change in expensive:
            print(f"  {step:<32} {units:>6,.0f}  {change}")
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


def _coverage(con: object) -> list[tuple[str, int]]:
    """Steps per coverage status (priced, import_only, not_profiled, failed), if pricing ran."""
    from wfprof_pipeline.lib.cost_model.tiers import COVERAGE

    try:
        rows = dict(con.execute("select coverage, count(*) from step_pricing group by coverage").fetchall())
    except Exception:  # no step_pricing yet (the nightly job failed early): nothing to summarize
        return []
    return [(status, rows[status]) for status in COVERAGE if rows.get(status)]


def _most_expensive(con: object, limit: int = 5) -> list[tuple[str, float, str]]:
    """(step, units, change since the previous run) of the priciest steps, if pricing ran."""
    from wfprof_pipeline.lib.cost_model.history import changes
    from wfprof_pipeline.lib.cost_model.inputs import read_table

    try:
        pricing = read_table(con, "step_pricing")
        delta = {r["step_id"]: r for r in changes(read_table(con, "step_cost_history")).iter_rows(named=True)}
    except Exception:  # no cost tables yet (the nightly job failed early): nothing to summarize
        return []
    if pricing is None:
        return []
    rows = pricing.filter(pricing["total_units"].is_not_null()).sort("total_units", descending=True).head(limit)
    out = []
    for r in rows.iter_rows(named=True):
        d = delta.get(r["step_id"])
        if d is None or d["units_before"] is None:
            change = "first run" if d is None or not d["new_step"] else "new"
        else:
            change = "no change" if not d["units_change"] else f"{d['units_change']:+g}"
        out.append((r["step_id"], r["total_units"], change))
    return out
