"""Workflow-run isolation benchmark: what running a stored workflow in its own namespaces costs.

    .venv/bin/python benchmarks/workflow_isolation.py [--rounds N] [--url postgresql://root@127.0.0.1:5432/postgres]

One demo workflow (order webhook → email, unprofiled, as `wfprof demo seed` runs it) executed through
wfprof's Node runner, interleaved round by round:
- guard: the runner as a plain child process (the baseline: what a run cost before namespaces);
- namespaces over TCP: user/network/PID namespaces, the database relayed through the unix-socket forwarder.
Medians of wall milliseconds per run, and the ratio to the baseline. The runs need a PostgreSQL: a scratch
database is created on `--url`'s server and dropped afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from wfprof_pipeline.lib import postgres
from wfprof_pipeline.lib.keeperhub import KeeperHub
from wfprof_pipeline.lib.pg_urls import with_database
from wfprof_pipeline.lib.profiling import isolation
from wfprof_pipeline.lib.registry import load_for_root
from wfprof_pipeline.lib.workflows import demo, plan, runner

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = "wf_order_email"
INPUT = {"orderId": "o1", "email": "a@example.com", "items": 1, "total": 5}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--url", default="postgresql://root@127.0.0.1:5432/postgres")
    args = p.parse_args()
    ok, why = isolation.probe()
    if not ok:
        print(f"namespaces are not available here ({why}): nothing to compare")
        return 1
    name = f"wfprof_bench_{uuid.uuid4().hex[:8]}"
    with postgres.connect(args.url, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    url = with_database(args.url, name)
    try:
        registry = load_for_root(ROOT / "data" / "steps")
        with KeeperHub(url) as kh:
            demo.install(kh, demo.load_definitions())
            workflow = kh.workflow(WORKFLOW)
        walls: dict[str, list[float]] = {"guard": [], "namespaces": []}
        with tempfile.TemporaryDirectory(prefix="wfprof-bench-") as build:
            job = plan.build_job(workflow, registry, Path(build))
            for how in walls:  # one warm-up each (Node's compile cache, the page cache)
                runner.run(job, url, mode="none", workflow_input=INPUT, isolation=how)
            for _ in range(args.rounds):
                for how, values in walls.items():
                    t0 = time.perf_counter()
                    doc = runner.run(job, url, mode="none", workflow_input=INPUT, isolation=how)
                    values.append((time.perf_counter() - t0) * 1000)
                    if doc.runs[0].status != "success":
                        print(f"  warning: {how} run failed: {doc.runs[0].error}", file=sys.stderr)
        base = statistics.median(walls["guard"])
        iso = statistics.median(walls["namespaces"])
        print(f"workflow run ({WORKFLOW}, mode none), median of {args.rounds} rounds:")
        print(f"  guard (baseline)         {base:8.1f} ms")
        print(f"  namespaces + forwarder   {iso:8.1f} ms   ratio {iso / base:.2f}×   (+{iso - base:.1f} ms)")
    finally:
        with postgres.connect(args.url, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
