"""Trace backfill benchmark: 8 days into the single-file warehouse (one writer) vs a DuckLake (4 at once).

    .venv/bin/python benchmarks/ducklake_backfill.py [--executions 10000] [--steps 5] [--days 8] [--lanes 4]
                                                     [--repeat 3] [--admin-url postgresql://postgres@127.0.0.1/postgres]

On the machine's PostgreSQL it creates a source database (KeeperHub schema, `--days` days of synthetic
executions) and, per repetition, a fresh DuckLake catalog database; all are dropped at the end. Measured in the
same run, each day in its own fresh process, as each partition of a backfill is its own run (wall time from
the first spawn to the last exit):
- baseline: the days one after another into a DuckDB file — what the `duckdb` pool of one allows on a
  single-file warehouse;
- DuckLake, serial: the same into a DuckLake with a Postgres catalog (its own overhead);
- DuckLake, parallel: `--lanes` days at once, into a fresh catalog (a
  first backfill: nothing to delete, so no commit conflicts);
- DuckLake, parallel re-backfill: the same again over those days, each replacing its day. DuckLake detects
  conflicts per table (an insert loses to another writer's committed delete), so writers redo days.
Prints medians, the ratios against the baseline, the commit conflicts redone, and checks that every path
leaves identical tables.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

FIRST_DAY = date(2026, 5, 1)


def child(target: str, data: str, url: str, days: list[str]) -> None:
    """Ingest `days` into `target` (a file, or ducklake:… with data dir `data`); prints conflicts redone."""
    from wfprof_pipeline.lib import ducklake, postgres, warehouse
    from wfprof_pipeline.lib.workflows import ingest

    conflicts = []
    where = ducklake.parse(target, data) if ducklake.is_ducklake(target) else Path(target)
    with postgres.connect(url) as conn, warehouse.session(where) as con:
        for day in days:
            warehouse.retry_conflicts(lambda d=day: ingest.ingest_day(conn, con, date.fromisoformat(d)),
                                      log=conflicts.append)
    print(json.dumps({"conflicts": len(conflicts)}))


def run_lanes(target: str, data: str, url: str, lanes: list[list[str]]) -> tuple[float, int]:
    """Each day in its own process (as each partition is its own run); lanes run at once, days in a lane in turn."""
    outs: list[str] = []

    def lane(days: list[str]) -> None:
        for day in days:
            done = subprocess.run([sys.executable, __file__, "--child", target, data, url, day],
                                  capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"a child failed: {done.stderr[-2000:]}")
            outs.append(done.stdout)

    began = time.perf_counter()
    with ThreadPoolExecutor(len(lanes)) as pool:
        list(pool.map(lane, lanes))
    seconds = time.perf_counter() - began
    return seconds, sum(json.loads(o.strip().splitlines()[-1])["conflicts"] for o in outs)


def fingerprint(target: str, data: str) -> list:
    from wfprof_pipeline.lib import ducklake, warehouse

    where = ducklake.parse(target, data) if ducklake.is_ducklake(target) else Path(target)
    with warehouse.session(where, read_only=True) as con:
        return [con.execute(f"select count(*), sum(hash(t)) from {t} t").fetchone()
                for t in ("workflow_executions", "workflow_step_runs")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--executions", type=int, default=10_000, help="executions per day")
    ap.add_argument("--steps", type=int, default=5, help="log rows per execution")
    ap.add_argument("--days", type=int, default=8)
    ap.add_argument("--lanes", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args()

    from wfprof_pipeline.lib import postgres
    from wfprof_pipeline.lib.pg_urls import with_database
    from wfprof_pipeline.lib.workflows import synthetic

    tag = uuid.uuid4().hex[:8]
    names = [f"wfprof_bench_src_{tag}"] + [f"wfprof_bench_lake_{tag}_{i}" for i in range(2 * args.repeat)]
    with postgres.connect(args.admin_url, autocommit=True) as admin:
        for name in names:
            admin.execute(f'create database "{name}"')
    try:
        source = with_database(args.admin_url, names[0])
        days = [(FIRST_DAY + timedelta(days=i)).isoformat() for i in range(args.days)]
        with postgres.connect(source, autocommit=True) as conn:
            for i, day in enumerate(days):
                synthetic.generate(conn, executions=args.executions, steps_per_execution=args.steps,
                                   day=date.fromisoformat(day), prefix=f"b{i}")
        rows = args.days * args.executions * args.steps
        print(f"{args.days} days, {rows:,} log rows + {args.days * args.executions:,} executions; "
              f"{args.lanes} lanes; {args.repeat} repetitions")
        times: dict[str, list[float]] = {"baseline": [], "lake_serial": [], "lake_parallel": [], "lake_again": []}
        conflicts = first_conflicts = 0
        prints = set()
        with tempfile.TemporaryDirectory(prefix="wfprof-bench-lake-") as tmp:
            for i in range(args.repeat):
                file_target = f"{tmp}/w{i}.duckdb"
                seconds, _ = run_lanes(file_target, "", source, [days])
                times["baseline"].append(seconds)
                prints.add(str(fingerprint(file_target, "")))
                serial = f"ducklake:{with_database(args.admin_url, names[1 + 2 * i])}"
                seconds, _ = run_lanes(serial, f"{tmp}/serial{i}", source, [days])
                times["lake_serial"].append(seconds)
                prints.add(str(fingerprint(serial, f"{tmp}/serial{i}")))
                lake, data = f"ducklake:{with_database(args.admin_url, names[2 + 2 * i])}", f"{tmp}/lake{i}"
                lanes = [days[j::args.lanes] for j in range(args.lanes)]
                seconds, redone = run_lanes(lake, data, source, lanes)
                times["lake_parallel"].append(seconds)
                first_conflicts += redone
                seconds, redone = run_lanes(lake, data, source, lanes)
                times["lake_again"].append(seconds)
                conflicts += redone
                prints.add(str(fingerprint(lake, data)))
        med = {k: statistics.median(v) for k, v in times.items()}
        for key, label in (("baseline", "single file, 1 writer (baseline)"),
                           ("lake_serial", "DuckLake (Postgres catalog), 1 writer"),
                           ("lake_parallel", f"DuckLake, {args.lanes} writers, first backfill"),
                           ("lake_again", f"DuckLake, {args.lanes} writers, re-backfill")):
            print(f"{label:<44} median {med[key]:6.2f} s  {rows / med[key]:>10,.0f} rows/s  "
                  f"(runs: {', '.join(f'{t:.2f}' for t in times[key])})")
        print(f"vs the single-file baseline: first backfill {med['baseline'] / med['lake_parallel']:.2f}x the speed, "
              f"re-backfill {med['baseline'] / med['lake_again']:.2f}x, DuckLake serial "
              f"{med['baseline'] / med['lake_serial']:.2f}x")
        print(f"commit conflicts redone: first backfills {first_conflicts}, re-backfills {conflicts} "
              f"(over {args.repeat} of each)")
        print(f"identical tables on every path: {len(prints) == 1}")
        if len(prints) != 1:
            raise SystemExit(1)
    finally:
        with postgres.connect(args.admin_url, autocommit=True) as admin:
            for name in names:
                admin.execute(f'drop database if exists "{name}" with (force)')


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    else:
        main()
