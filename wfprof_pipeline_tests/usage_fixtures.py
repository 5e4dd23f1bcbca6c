"""A small trace fixture with hand-computable costs, as frames and as a DuckDB warehouse.

Prices: action type `x` = 3 units (cost_calls 100, warm CPU 2 ms); `y` has no price; trigger = the policy's.
- e1 (alice, day 1, success): trigger ok, x ok, x ok
- e2 (alice, day 1, error):   trigger ok, x ok, x error
- e3 (bob, day 1, cancelled): trigger ok, x ok
- e4 (no user, day 2, success): trigger ok, y ok
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

from wfprof_pipeline.lib.workflows import ingest

DAY1, DAY2 = date(2026, 3, 2), date(2026, 3, 3)
T1, T2 = datetime(2026, 3, 2, 9, 0), datetime(2026, 3, 3, 23, 59)

EXECUTIONS = pl.DataFrame({
    "execution_id": ["e1", "e2", "e3", "e4"],
    "workflow_id": ["wf_a", "wf_a", "wf_b", "wf_b"],
    "user_id": ["alice", "alice", "bob", None],
    "status": ["success", "error", "cancelled", "success"],
    "started_at": [T1, T1 + timedelta(minutes=1), T1 + timedelta(minutes=2), T2],
    "duration_ms": [30.0, 40.0, 20.0, 9.0],
})
_STEPS = [  # execution, action type, status, duration ms
    ("e1", "trigger", "success", 1.0), ("e1", "x", "success", 10.0), ("e1", "x", "success", 12.0),
    ("e2", "trigger", "success", 1.0), ("e2", "x", "success", 10.0), ("e2", "x", "error", 20.0),
    ("e3", "trigger", "success", 1.0), ("e3", "x", "success", 14.0),
    ("e4", "trigger", "success", 1.0), ("e4", "y", "success", 5.0),
]
STEP_RUNS = pl.DataFrame(
    {"execution_id": [s[0] for s in _STEPS], "action_type": [s[1] for s in _STEPS],
     "status": [s[2] for s in _STEPS], "duration_ms": [s[3] for s in _STEPS]})
PRICES = pl.DataFrame({"action_type": ["x"], "units": [3.0], "cost_calls": [100.0], "cpu_ms": [2.0]})
# step_pricing / step_tiers rows that give PRICES (two steps implement `x`: the one named after it wins)
STEP_PRICING = pl.DataFrame({"step_id": ["x", "x-variant"], "step_type": ["x", "x"], "total_units": [3.0, 99.0]})
STEP_TIERS = pl.DataFrame({"step_id": ["x", "x-variant"], "cost_calls": [100.0, 5.0]})


def write_warehouse(path: Path) -> None:
    """The fixture as the trace tables plus step_pricing / step_tiers, in a DuckDB file."""
    con = duckdb.connect(str(path))
    try:
        ingest.ensure_tables(con)
        ex = EXECUTIONS.with_columns(completed_at=pl.col("started_at") + pl.duration(seconds=1))
        con.register("ex", ex)
        con.execute("insert into workflow_executions by name select * from ex")
        steps = STEP_RUNS.join(EXECUTIONS.select("execution_id", "started_at"), on="execution_id").with_columns(
            log_id=pl.format("{}-{}", pl.col("execution_id"), pl.int_range(pl.len())))
        con.register("sr", steps)
        con.execute("insert into workflow_step_runs by name select * from sr")
        con.register("sp", STEP_PRICING)
        con.execute("create table step_pricing as select * from sp")
        con.register("st", STEP_TIERS)
        con.execute("create table step_tiers as select * from st")
    finally:
        con.close()
