"""docker-compose.yml's topology, run for real: PostgreSQL, the code location as a gRPC server, the webserver
and the daemon as separate processes started with compose's own command lines and variables (topology.py).
The nightly job is submitted over GraphQL, queued, dequeued and launched by the daemon, and lands in the
warehouse. Faults: the daemon starts before the code server; the code server is killed in the middle of a run."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import psutil
import pytest

from wfprof_pipeline.lib import postgres
from wfprof_pipeline.lib.pg_urls import with_scheme
from wfprof_pipeline.lib.warehouse import table_counts
from wfprof_pipeline_tests.conftest import _fresh_database
from wfprof_pipeline_tests.dagster_env import BIN, PROJECT_ROOT
from wfprof_pipeline_tests.test_webserver import free_port
from wfprof_pipeline_tests.topology import Topology, compose_default, image_paths, in_checkout

# What the nightly job must have written (one table per measurement area and the priced result).
NIGHTLY_TABLES = ("step_sources", "static_metrics", "step_profiles", "fuel_fits", "workflow_profiles",
                  "step_pricing", "step_cost_history")


@pytest.fixture
def keeperhub_db(embedded_pg: postgres.EmbeddedPostgres) -> Iterator[str]:
    """The platform's database, a second fresh one beside `embedded_db` (the Dagster instance)."""
    yield from _fresh_database(embedded_pg.url("postgres"))


def _counts(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return dict(table_counts(con))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_compose_topology_runs_the_nightly_job_and_survives_its_faults(
    tmp_path: Path, embedded_db: str, keeperhub_db: str
) -> None:
    volume = tmp_path / "warehouse"  # compose's `warehouse` volume
    service_env = {
        # The instance on the embedded server's unix socket: the dead-run sensor judges runs by pid only when
        # every process that uses the instance is on one machine (run_guard.py).
        "DAGSTER_PG_URL": with_scheme(embedded_db, "postgresql+psycopg2"),
        "DATABASE_URL": keeperhub_db,
        "WFPROF_WAREHOUSE": str(volume / "wfprof.duckdb"),
        "WFPROF_STEPS_ROOT": in_checkout(compose_default("WFPROF_STEPS_ROOT")),
        "WFPROF_HOME": str(volume / ".wfprof"),
        "WFPROF_REPORTS_DIR": str(volume / "reports"),
        "WFPROF_NODE": compose_default("WFPROF_NODE"),
        "SANDBOX_URL": compose_default("SANDBOX_URL"),
    }
    topology = Topology.prepare(tmp_path, service_env, image_paths(tmp_path),
                                grpc_port=free_port(), web_port=free_port())
    # KeeperHub's database with real executions (compose users point DATABASE_URL at theirs).
    seeded = subprocess.run([str(BIN / "wfprof"), "demo", "seed"], cwd=PROJECT_ROOT, env=topology.env,
                            capture_output=True, text=True, timeout=180)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    try:
        # Fault 1: the daemon starts before the code server (compose waits for the server's healthcheck, but a
        # restarted server or another orchestrator gives the same order).
        daemon = topology.start("daemon")
        deadline = time.monotonic() + 60
        while "unavailable" not in topology.log("daemon").lower() and time.monotonic() < deadline:
            assert daemon.poll() is None, topology.log("daemon")[-3000:]
            time.sleep(0.5)
        assert "Could not reach user code server" in topology.log("daemon")
        assert daemon.poll() is None  # it stays up
        started = time.monotonic()
        topology.start("code_location")
        topology.wait_healthy("code_location")  # compose: webserver depends_on code_location healthy
        topology.start("webserver")
        topology.wait_loaded()
        print(f"code server healthy and loaded by the webserver in {time.monotonic() - started:.1f} s")

        started = time.monotonic()
        first = topology.launch("wfprof_nightly")
        assert topology.wait_status(first, {"SUCCESS"}, timeout=420) == "SUCCESS"
        print(f"nightly run via the daemon: {time.monotonic() - started:.1f} s")
        assert "QueuedRunCoordinatorDaemon" in topology.log("daemon") and "Launched 1 run" in topology.log("daemon")
        counts = _counts(volume / "wfprof.duckdb")
        for table in NIGHTLY_TABLES:
            assert counts.get(table, 0) > 0, (table, counts)
        assert (volume / "reports" / "cost_report.html").stat().st_size > 0

        # Fault 2: the code server (and the run it launched) killed mid-run.
        second = topology.launch("wfprof_nightly")
        topology.wait_status(second, {"STARTED"}, timeout=180)
        time.sleep(3)  # into its first steps
        killed = topology.kill("code_location")
        assert len(killed) >= 2  # the server and the run's process
        processes = []
        for pid in killed:
            with contextlib.suppress(psutil.NoSuchProcess):
                processes.append(psutil.Process(pid))
        _, alive = psutil.wait_procs(processes, timeout=20)  # SIGKILLed; the kernel may still be tearing down
        assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], alive
        topology.start("code_location")  # compose restarts the service
        assert topology.wait_status(second, {"FAILURE"}, timeout=240) == "FAILURE"

        third = topology.launch("wfprof_nightly", asset_keys=["step_sources"])
        assert topology.wait_status(third, {"SUCCESS"}, timeout=240) == "SUCCESS"
        assert _counts(volume / "wfprof.duckdb")["step_sources"] == counts["step_sources"]
        # The location is registered under one name: the project's, so Dagster does not warn per load.
        assert "does not match the name" not in topology.log("code_location")
    finally:
        topology.stop()
