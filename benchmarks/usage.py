"""Benchmark: usage pricing over 1,000,000 step runs (100,000 executions), and the CloudEvents export.

Timed (median of --repeat runs): `execution_costs` of 30 days computed from the trace tables of a DuckDB
file and written (delete + insert of the days), then `pricing_scenarios` from it, written — what the assets
do (as one range run). Baseline, measured in the same run:
the same arithmetic written row by row in plain Python (dicts and loops), on the same frames. Then the
export of the 100,000 executions to a CloudEvents JSON batch against a row-by-row `json.dumps` baseline.

    .venv/bin/python benchmarks/usage.py [--repeat 5] [--executions 100000] [--steps 10]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import tempfile
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from wfprof_pipeline.lib import warehouse
from wfprof_pipeline.lib.cost_model.policy import PricingPolicy
from wfprof_pipeline.lib.usage import costs, export, scenarios
from wfprof_pipeline.lib.usage.tables import EXECUTION_COSTS, PRICING_SCENARIOS
from wfprof_pipeline.lib.workflows import ingest

ACTION_TYPES = [f"plugin{i}/action" for i in range(20)]
FIRST_DAY, DAYS = date(2026, 3, 1), 30


def traces(n_exec: int, steps: int, seed: int = 7) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    start = datetime.combine(FIRST_DAY, datetime.min.time())
    ids = [f"ex{i:07d}" for i in range(n_exec)]
    status = rng.choice(["success", "error", "cancelled"], n_exec, p=[0.9, 0.08, 0.02])
    executions = pl.DataFrame({
        "execution_id": ids, "workflow_id": [f"wf{i % 300}" for i in range(n_exec)],
        "user_id": [None if i % 97 == 0 else f"user{i % 500}" for i in range(n_exec)],
        "status": status,
        "started_at": [start + timedelta(seconds=int(s)) for s in rng.integers(0, DAYS * 86400, n_exec)],
        "duration_ms": rng.uniform(10, 5000, n_exec),
    })
    n = n_exec * steps
    actions = np.array(["trigger", *ACTION_TYPES])[rng.integers(0, len(ACTION_TYPES) + 1, n)]
    actions[:: steps] = "trigger"
    step_runs = pl.DataFrame({
        "execution_id": np.repeat(np.array(ids), steps),
        "action_type": actions,
        "status": rng.choice(["success", "error"], n, p=[0.97, 0.03]),
        "duration_ms": rng.uniform(1, 500, n),
    })
    prices = pl.DataFrame({  # the last two action types have no price
        "action_type": ACTION_TYPES[:-2], "units": rng.integers(1, 40, 18).astype(float),
        "cost_calls": rng.uniform(1e3, 4e5, 18), "cpu_ms": [None if i % 5 == 0 else float(i) for i in range(18)],
    })
    return executions, step_runs, prices


def vectorised(db: Path, prices: pl.DataFrame, policy: PricingPolicy) -> float:
    t0 = time.perf_counter()
    with warehouse.session(db) as con:
        end = FIRST_DAY + timedelta(days=DAYS)
        c = costs.warehouse_costs(con, FIRST_DAY, end, prices, policy)
        warehouse.replace_rows(con, EXECUTION_COSTS, c, costs.between("day", FIRST_DAY, end))
        warehouse.replace_table(con, PRICING_SCENARIOS, scenarios.pricing_scenarios(c, policy))
    return time.perf_counter() - t0


def naive(db: Path, prices: pl.DataFrame, policy: PricingPolicy) -> float:
    """Row by row: the join and the sums in Python dicts (charge_failed = steps_run, trigger = its price)."""
    t0 = time.perf_counter()
    with warehouse.session(db) as con:
        ex = con.execute("select * from workflow_executions").pl()
        sr = con.execute("select * from workflow_step_runs").pl()
    price = {r["action_type"]: r for r in prices.iter_rows(named=True)}
    execs = {r["execution_id"]: r for r in ex.iter_rows(named=True)}
    acc: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in sr.iter_rows(named=True):
        e = execs.get(r["execution_id"])
        if e is None:
            continue
        charged = e["status"] == "success" or r["status"] == "success"
        a = acc[r["execution_id"]]
        a["compute_ms"] += r["duration_ms"] or 0
        p = price.get(r["action_type"])
        if p and p["cpu_ms"] is not None:
            a["cpu_ms"] += p["cpu_ms"]
        if charged:
            if r["action_type"] == "trigger":
                a["units"] += policy.usage.trigger_units
            elif p and p["units"] is not None:
                a["units"] += p["units"]
                a["steps"] += 1
            else:
                a["unpriced"] += 1
                a["steps"] += 1
    s = policy.usage.scenarios
    revenue: dict[tuple[str, str], float] = defaultdict(float)
    for eid, e in execs.items():
        a = acc[eid]
        who = e["user_id"] or "(no user)"
        revenue["units", who] += a["units"] * s.unit
        revenue["per_execution", who] += s.execution
        revenue["per_step_and_run", who] += a["steps"] * s.step + s.run
        revenue["compute_seconds", who] += a["compute_ms"] / 1000 * s.compute_second
        revenue["cpu_ms", who] += a["cpu_ms"] * s.cpu_ms
    return time.perf_counter() - t0


def naive_export(c: pl.DataFrame) -> str:
    events = []
    for r in c.iter_rows(named=True):
        events.append({
            "specversion": "1.0", "id": hashlib.sha256(f"{r['execution_id']}\x00{r['policy_digest']}".encode())
            .hexdigest()[:32], "source": export.EVENT_SOURCE, "type": export.METER_TYPE, "subject": r["subject"],
            "time": r["started_at"].isoformat() + "Z", "datacontenttype": "application/json",
            "data": {"execution_id": r["execution_id"], "workflow_id": r["workflow_id"], "units": r["units"],
                     "steps": r["steps_charged"], "status": r["status"], "compute_ms": r["compute_ms"]}})
    return json.dumps(events)


def _median(fn, repeat: int) -> float:  # noqa: ANN001
    return statistics.median(fn() for _ in range(repeat))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--executions", type=int, default=100_000)
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    policy = PricingPolicy()
    ex, sr, prices = traces(args.executions, args.steps)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "usage.duckdb"
        with warehouse.session(db) as con:
            ingest.ensure_tables(con)
            con.register("ex", ex)
            con.execute("insert into workflow_executions by name select * from ex")
            con.register("sr", sr)
            con.execute("insert into workflow_step_runs by name select * from sr")
        print(f"{ex.height:,} executions, {sr.height:,} step runs, {args.repeat} repeats (medians)")
        fast = _median(lambda: vectorised(db, prices, policy), args.repeat)
        slow = _median(lambda: naive(db, prices, policy), max(1, args.repeat // 2))
        print(f"execution_costs + pricing_scenarios (read, compute, write): {fast:.2f} s   "
              f"naive row-by-row: {slow:.2f} s   ratio {slow / fast:.1f}x   (target <= 5 s)")
        c = costs.execution_costs(ex, sr, prices, policy)
        fast_x = _median(lambda: _timed(lambda: export.cloudevents_batch(c)), args.repeat)
        slow_x = _median(lambda: _timed(lambda: naive_export(c)), max(1, args.repeat // 2))
        print(f"CloudEvents export of {c.height:,} executions: {fast_x:.2f} s   naive json.dumps: {slow_x:.2f} s   "
              f"ratio {slow_x / fast_x:.1f}x   (target <= 3 s)")
        assert len(json.loads(export.cloudevents_batch(c))) == c.height


def _timed(fn) -> float:  # noqa: ANN001
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
