"""`wfprof dev` starts the real Dagster webserver + daemon; GraphQL answers lineage; Ctrl-C stops everything."""

import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import psutil
import pytest

from wfprof_pipeline_tests.dagster_env import BIN, PROJECT_ROOT, dagster_env

LINEAGE = """
query Lineage { assetNodes { assetKey { path } dependencyKeys { path } dependedByKeys { path } groupName
                             repository { location { name } } } }
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_location(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    query = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"wfprof dev exited early with {proc.returncode}")
        try:
            data = httpx.post(url, json={"query": query}, timeout=5).json()
            entries = data["data"]["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return
        except (httpx.HTTPError, KeyError, TypeError, ValueError):
            pass
        time.sleep(0.5)
    pytest.fail("the Dagster webserver did not load the code location in time")


def test_dev_serves_lineage_and_stops_with_its_children(tmp_path: Path, embedded_db: str) -> None:
    port = free_port()
    env = dagster_env(tmp_path, embedded_db, DATABASE_URL=embedded_db)
    proc = subprocess.Popen(
        [str(BIN / "wfprof"), "dev", "--port", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/graphql"
        wait_for_location(url, proc)
        nodes = httpx.post(url, json={"query": LINEAGE}, timeout=30).json()["data"]["assetNodes"]
        by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
        assert "step_sources" in by_key
        assert by_key["step_sources"]["groupName"] == "static_metrics"
        assert by_key["step_sources"]["repository"]["location"]["name"] == "wfprof"
        # Lineage is consistent both ways.
        for key, node in by_key.items():
            for dep in node["dependencyKeys"]:
                upstream = by_key["/".join(dep["path"])]
                assert key in ["/".join(d["path"]) for d in upstream["dependedByKeys"]]
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 2  # webserver and daemon (and their code servers)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("wfprof dev did not stop on SIGINT")
    _, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, f"left running: {[p.pid for p in alive]}"
