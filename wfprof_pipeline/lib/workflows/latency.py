"""`step_latency`: per action type, how long steps take and how often they fail, from ingested traces.

Percentiles are over finished runs (success or error) with a numeric duration. The spreads are the seed's
"I/O variance" made measurable: p99/p50, p95/p5 and max/min (null when the denominator is 0).
"""

from __future__ import annotations

import duckdb
import polars as pl

from wfprof_pipeline.lib.tables import Table
from wfprof_pipeline.lib.workflows.ingest import ensure_tables
from wfprof_pipeline.lib.workflows.tables import STEP_RUNS

STEP_LATENCY = Table.of("step_latency", [
    ("action_type", pl.Utf8, "KeeperHub node_type (action type, or trigger)"),
    ("runs", pl.Int64, "Step runs that finished (success or error)"),
    ("errors", pl.Int64, "Runs with status error"),
    ("error_rate", pl.Float64, "errors / runs"),
    ("executions", pl.Int64, "Distinct executions the action ran in"),
    ("p5_ms", pl.Float64, "5th percentile duration (ms)"),
    ("p50_ms", pl.Float64, "Median duration (ms)"),
    ("p95_ms", pl.Float64, "95th percentile duration (ms)"),
    ("p99_ms", pl.Float64, "99th percentile duration (ms)"),
    ("min_ms", pl.Float64, "Fastest run (ms)"),
    ("max_ms", pl.Float64, "Slowest run (ms)"),
    ("mean_ms", pl.Float64, "Mean duration (ms)"),
    ("spread_p99_p50", pl.Float64, "p99 / p50: tail latency relative to the typical run"),
    ("spread_p95_p5", pl.Float64, "p95 / p5: the seed's 'web3 steps vary 10x', robust to outliers"),
    ("spread_max_min", pl.Float64, "max / min"),
    ("input_bytes_p50", pl.Float64, "Median size of the step input JSON"),
    ("output_bytes_p50", pl.Float64, "Median size of the step output JSON"),
    ("first_started_at", pl.Datetime("us"), "Earliest run in the warehouse"),
    ("last_started_at", pl.Datetime("us"), "Latest run in the warehouse"),
])

_SQL = f"""
with finished as (
    select * from "{STEP_RUNS.name}" where status in ('success', 'error')
), q as (
    select action_type,
           count(*) as runs,
           count(*) filter (where status = 'error') as errors,
           count(distinct execution_id) as executions,
           quantile_cont(duration_ms, 0.05) as p5_ms,
           quantile_cont(duration_ms, 0.50) as p50_ms,
           quantile_cont(duration_ms, 0.95) as p95_ms,
           quantile_cont(duration_ms, 0.99) as p99_ms,
           min(duration_ms) as min_ms,
           max(duration_ms) as max_ms,
           avg(duration_ms) as mean_ms,
           quantile_cont(input_bytes, 0.5) as input_bytes_p50,
           quantile_cont(output_bytes, 0.5) as output_bytes_p50,
           min(started_at) as first_started_at,
           max(started_at) as last_started_at
    from finished group by action_type
)
select action_type, runs, errors, errors / runs as error_rate, executions,
       p5_ms, p50_ms, p95_ms, p99_ms, min_ms, max_ms, mean_ms,
       p99_ms / nullif(p50_ms, 0) as spread_p99_p50,
       p95_ms / nullif(p5_ms, 0) as spread_p95_p5,
       max_ms / nullif(min_ms, 0) as spread_max_min,
       input_bytes_p50, output_bytes_p50, first_started_at, last_started_at
from q order by action_type
"""


def step_latency(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    ensure_tables(con)
    return STEP_LATENCY.conform(con.execute(_SQL).pl())
