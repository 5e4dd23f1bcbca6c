"""`wfprof run`: materialize everything end to end and print what landed where.

The work runs in a child process that this one supervises: Dagster defers SIGINT/SIGTERM while a step
waits (for a pool slot, say), so a signal could not end it from inside. The supervisor forwards the
signal, kills the child after a grace period, and fails the runs it left behind. The child dies with
its supervisor (PR_SET_PDEATHSIG), so `kill -9` of `wfprof run` leaves no worker holding a slot.
"""

from __future__ import annotations

import argparse
import time

_WORKER_ENV = "WFPROF_RUN_WORKER"
STOP_GRACE_S = 10.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the main job end to end (every asset) and print a summary")
    p.add_argument("--verbose", action="store_true", help="also list every warehouse table with its row count")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import os

    if os.environ.get(_WORKER_ENV) != "1":
        return _supervise(args)
    return _work(args)


def _die_with_parent() -> None:
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def preflight() -> None:
    """Fail in a second, before anything is created, where the run would fail after minutes."""
    from pathlib import Path

    from wfprof_pipeline.lib.errors import UsageError
    from wfprof_pipeline.lib.settings import ENV_STEPS_ROOT, Settings

    settings = Settings.from_env()
    settings.warehouse_target()  # a DuckLake without WFPROF_WAREHOUSE_DATA, or a bad catalog: said now
    if not settings.steps_root.is_dir():
        where = "" if settings.steps_root.is_absolute() else f" (relative to {Path.cwd()})"
        raise UsageError(
            f"no step corpus at {settings.steps_root}{where}: run wfprof from the project root, or set "
            f"{ENV_STEPS_ROOT} (and WFPROF_WAREHOUSE, WFPROF_HOME, WFPROF_REPORTS_DIR) to absolute paths"
        )


def _supervise(args: argparse.Namespace) -> int:
    import os
    import signal
    import subprocess
    import sys

    from wfprof_pipeline.lib import environment

    preflight()
    applied = environment.apply()
    if "DATABASE_URL" in applied:
        print("using the embedded PostgreSQL (DATABASE_URL is not set)", flush=True)
    env = {**os.environ, **applied, _WORKER_ENV: "1"}
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    argv = [sys.executable, "-m", "wfprof_pipeline.cli", "run", *(["--verbose"] if args.verbose else [])]
    child = subprocess.Popen(argv, env=env, preexec_fn=preexec)
    received: list[tuple[int, float]] = []  # (signal, when)

    def on_signal(signum: int, _frame: object) -> None:
        if not received:
            received.append((signum, time.monotonic()))
            child.send_signal(signal.SIGINT)  # Dagster's own interrupt handling gets the first chance

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                rc = child.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                pass
            if received and time.monotonic() - received[0][1] > STOP_GRACE_S:
                child.kill()
                rc = child.wait()
                break
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received or rc < 0:
        _reap_after_worker()
    if received:
        print(f"wfprof run stopped ({signal.Signals(received[0][0]).name})", file=sys.stderr)
        return 128 + received[0][0]
    return rc if rc >= 0 else 128 - rc


def _reap_after_worker() -> None:
    """The worker is gone: fail the runs it left unfinished and free their slots (best effort)."""
    import contextlib

    with contextlib.suppress(Exception):
        import dagster as dg

        from wfprof_pipeline.pipeline import run_guard

        with dg.DagsterInstance.get() as instance:
            run_guard.reap_dead_runs(instance, log=lambda m: None)


def _work(args: argparse.Namespace) -> int:
    from wfprof_pipeline.lib import environment, warehouse
    from wfprof_pipeline.lib.settings import Settings

    started = time.monotonic()
    started_wall = time.time()
    environment.apply()  # a no-op after the supervisor's (it exported the result)
    settings = Settings.from_env()

    from wfprof_pipeline.pipeline.run import NIGHTLY_JOB, run_all

    outcome = run_all()
    where = warehouse.describe(settings.warehouse)
    with warehouse.session(settings.warehouse, read_only=True) as con:
        counts = warehouse.table_counts(con)
        coverage = _coverage(con)
        expensive = _most_expensive(con)
    if args.verbose:
        width = max((len(name) for name, _ in counts), default=10)
        print(f"\nwarehouse {where}:")
        for name, rows in counts:
            print(f"  {name:<{width}}  {rows:>10,} rows")
    else:
        print(f"\nwarehouse {where}: {len(counts)} tables (--verbose lists them)")
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
