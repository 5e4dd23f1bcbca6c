"""Kernel isolation of workflow runs: a stored code node (node:vm is no sandbox) cannot read its ancestors'
environment, reach a service on the host's loopback (not even below the egress guard, nor from a child
process), nor leave a process behind; the database still works, over TCP and over the embedded socket."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from wfprof_pipeline.lib import postgres
from wfprof_pipeline.lib.keeperhub import KeeperHub, StoredWorkflow
from wfprof_pipeline.lib.profiling import isolation
from wfprof_pipeline.lib.registry import load_for_root
from wfprof_pipeline.lib.workflows import plan, profiles, runner, schema
from wfprof_pipeline_tests.conftest import PROJECT_ROOT

REGISTRY = load_for_root(PROJECT_ROOT / "data" / "steps")
AVAILABLE, WHY = isolation.probe()
SLEEPER = "3007"  # `sleep 3007`: the detached grandchild the probe starts, looked for on the host afterwards

PROBE = """
const p = console.log.constructor('return process')();
const fs = p.getBuiltinModule('node:fs');
const cp = p.getBuiltinModule('node:child_process');
const pids = fs.readdirSync('/proc').filter((x) => /^\\d+$/.test(x));
let parent;
try { parent = fs.readFileSync('/proc/%(parent)d/environ', 'utf8').includes('wfprof-canary') ? 'LEAKED' : 'clean'; }
catch (e) { parent = e.code; }
const leaked = pids.some((x) => { try { return fs.readFileSync(`/proc/${x}/environ`, 'utf8')
  .includes('wfprof-canary'); } catch { return false; } });
// Below the egress guard: libuv's TCP binding, as an escape would.
const { TCP, TCPConnectWrap, constants } = p.binding('tcp_wrap');
const raw = await new Promise((resolve) => {
  const handle = new TCP(constants.SOCKET);
  const req = new TCPConnectWrap();
  req.oncomplete = (s) => resolve(s);
  const err = handle.connect(req, '127.0.0.1', %(port)d);
  if (err) resolve(err);
});
const code = "require('net').connect(%(port)d, '127.0.0.1').on('connect', () => { console.log('CONNECTED'); "
  + "process.exit(0) }).on('error', (e) => { console.log(e.code); process.exit(0) })";
const child = cp.execFileSync(p.execPath, ['-e', code], { encoding: 'utf8', timeout: 5000 }).trim();
cp.spawn('sleep', ['%(sleeper)s'], { detached: true, stdio: 'ignore' }).unref();
return { pids: pids.length, parent, leaked, raw, child };
"""


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A service on the host's loopback that no workflow code may reach."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.2)
    yield sock
    sock.close()


def _probe_workflow(url: str, port: int) -> StoredWorkflow:
    code = PROBE % {"parent": os.getpid(), "port": port, "sleeper": SLEEPER}
    nodes = [
        {"id": "t", "data": {"label": "t", "type": "trigger", "config": {}}},
        {"id": "c", "data": {"label": "c", "type": "action",
                             "config": {"actionType": "code/run-code", "code": code, "timeoutMs": 20000}}},
    ]
    with postgres.connect(url, autocommit=True) as conn:
        schema.create_schema(conn)
        conn.execute("insert into workflows (id, name, user_id, nodes, edges) values ('wf_probe', 'p', 'u', %s, %s)",
                     (json.dumps(nodes), json.dumps([{"id": "t-c", "source": "t", "target": "c"}])))
        workflow = KeeperHub.over(conn).workflow("wf_probe")
    return workflow


def _run_probe(url: str, listener: socket.socket, tmp_path: Path, monkeypatch,
               how: str) -> tuple[dict, runner.RunnerDocument]:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wfprof-canary")
    workflow = _probe_workflow(url, listener.getsockname()[1])
    job = plan.build_job(workflow, REGISTRY, tmp_path)
    doc = runner.run(job, url, mode="none", isolation=how)
    (run,) = doc.runs
    assert run.status == "success", run.error
    with postgres.connect(url) as conn:
        (output,) = conn.execute("select output from workflow_execution_logs where execution_id = %s and node_id = 'c'",
                                 (run.executionId,)).fetchone()
    return output["result"], doc


def _sleepers() -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if (proc.info["cmdline"] or [])[-1:] == [SLEEPER]:
            found.append(proc)
    return found


@pytest.mark.skipif(not AVAILABLE, reason=f"no user/network/PID namespaces here: {WHY}")
@pytest.mark.parametrize("database", ["embedded_db", "system_db"], ids=["unix-socket", "tcp-forwarded"])
def test_workflow_code_in_namespaces_does_no_harm(database, request, listener, tmp_path, monkeypatch) -> None:
    url = request.getfixturevalue(database)
    seen, doc = _run_probe(url, listener, tmp_path, monkeypatch, "namespaces")
    assert doc.isolation == "namespaces"
    assert seen["parent"] == "ENOENT" and not seen["leaked"]  # no ancestor in its /proc
    assert seen["pids"] <= 6  # its own PID namespace: the wrapper, node, the children it started
    assert seen["raw"] < 0  # the binding-level connect was refused (ECONNREFUSED)
    assert seen["child"] == "ECONNREFUSED"
    with pytest.raises(TimeoutError):
        listener.accept()  # nothing reached the host's service
    assert not _sleepers(), "a detached grandchild outlived the workflow run"
    frame, _ = profiles.frames([(doc, "probe")])
    assert set(frame["isolation"]) == {"namespaces"}


def test_guard_mode_is_recorded_and_is_weaker(embedded_db, listener, tmp_path, monkeypatch) -> None:
    """Without namespaces only the in-process guard stands: a child process still reaches loopback (the
    README says so); the mode is in every profile row."""
    try:
        seen, doc = _run_probe(embedded_db, listener, tmp_path, monkeypatch, "guard")
        assert doc.isolation == "guard"
        assert seen["child"] == "CONNECTED" and seen["parent"] in ("clean", "LEAKED")  # the ancestor is visible
        frame, _ = profiles.frames([(doc, "probe")])
        assert set(frame["isolation"]) == {"guard"}
    finally:
        for proc in _sleepers():
            proc.kill()


def test_a_bad_isolation_mode_is_one_clear_error(embedded_db, tmp_path) -> None:
    workflow = _probe_workflow(embedded_db, 9)
    job = plan.build_job(workflow, REGISTRY, tmp_path)
    with pytest.raises(isolation.IsolationError, match="must be auto, namespaces or guard"):
        runner.run(job, embedded_db, mode="none", isolation="jail")
