"""Concurrency: warehouse readers and writers serialized, demo seeds one at a time (issue 16, item 9)."""

from __future__ import annotations

import os
import subprocess

import pytest

from wfprof_pipeline.lib import postgres
from wfprof_pipeline_tests.dagster_env import BIN, PROJECT_ROOT


def test_every_asset_check_that_opens_the_warehouse_is_in_the_duckdb_pool() -> None:
    from wfprof_pipeline.definitions import defs

    definitions = defs()
    checks = [c for c in definitions.asset_checks or [] if "warehouse" in c.required_resource_keys]
    assert len(checks) >= 4
    assert {c.node_def.name: c.node_def.pool for c in checks} == {c.node_def.name: "duckdb" for c in checks}
    job = definitions.resolve_job_def("wfprof_nightly")
    for node in job.graph.node_defs:
        if "warehouse" in node.required_resource_keys:
            assert node.pool == "duckdb", node.name


@pytest.mark.slow
def test_two_concurrent_demo_seeds_write_each_execution_once(embedded_db: str) -> None:
    env = {**os.environ, "DATABASE_URL": embedded_db}
    procs = [subprocess.Popen([str(BIN / "wfprof"), "demo", "seed"], cwd=PROJECT_ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out + err
        assert "Traceback" not in err and "UniqueViolation" not in err
    assert sum("already has executions" in out for out, _ in outputs) == 1
    with postgres.connect(embedded_db) as conn:
        executions = conn.execute("select count(*) from workflow_executions").fetchone()[0]
        runs = conn.execute("select count(*), count(distinct (workflow_id, input::text)) from workflow_executions"
                            ).fetchone()
    seeded = next(out for out, _ in outputs if "ran " in out)
    assert f": {executions} executions" in seeded
    assert runs[0] == executions
