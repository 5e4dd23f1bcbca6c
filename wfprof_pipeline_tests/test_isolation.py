"""Kernel isolation of step processes (Linux namespaces): probes that a step cannot reach the host's network
or ports by any route, cannot see its ancestors' environment, and leaves no process behind."""

from __future__ import annotations

import json
import os
import socket
import textwrap
import time
from pathlib import Path

import pytest

from wfprof_pipeline.lib.profiling import isolation
from wfprof_pipeline.lib.profiling.runner import ProfileOptions, profile_steps
from wfprof_pipeline.lib.registry import load_for_root

AVAILABLE, WHY = isolation.probe()
pytestmark = pytest.mark.skipif(not AVAILABLE, reason=f"no user/network/PID namespaces here: {WHY}")

PROBES = {
    "environ": """
        import fs from 'node:fs';
        export async function environStep(input) {
          const pids = fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p));
          let parent = 'unreadable';
          try { parent = fs.readFileSync(`/proc/${input.parentPid}/environ`, 'utf8'); } catch (e) { parent = e.code; }
          const leaked = pids.some((p) => { try { return fs.readFileSync(`/proc/${p}/environ`, 'utf8')
            .includes('WFPROF_CANARY'); } catch { return false; } });
          return { success: true, pids, parent, leaked, ppid: process.ppid };
        }""",
    "raw": """
        export async function rawStep(input) {
          // Below the guard: libuv's TCP binding directly, as an escape would.
          const { TCP, constants } = process.binding('tcp_wrap');
          const { TCPConnectWrap } = process.binding('tcp_wrap');
          const status = await new Promise((resolve) => {
            const handle = new TCP(constants.SOCKET);
            const req = new TCPConnectWrap();
            req.oncomplete = (s) => resolve(s);
            const err = handle.connect(req, '127.0.0.1', input.port);
            if (err) resolve(err);
          });
          return { success: true, status };
        }""",
    "child": """
        import { execFileSync } from 'node:child_process';
        export async function childStep(input) {
          const code = `require('net').connect(${input.port}, '127.0.0.1')
            .on('connect', () => { console.log('CONNECTED'); process.exit(0) })
            .on('error', (e) => { console.log(e.code); process.exit(0) })`;
          const out = execFileSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 5000 }).trim();
          return { success: true, out };
        }""",
    "worker": """
        import { Worker } from 'node:worker_threads';
        export async function workerStep(input) {
          const code = `const { parentPort } = require('worker_threads');
            const s = require('net').connect(${input.port}, '127.0.0.1');
            s.on('connect', () => parentPort.postMessage('CONNECTED'));
            s.on('error', (e) => parentPort.postMessage(e.code));`;
          const out = await new Promise((resolve) => new Worker(code, { eval: true }).once('message', resolve));
          return { success: true, out };
        }""",
    "detached": """
        import { spawn } from 'node:child_process';
        import fs from 'node:fs';
        export async function detachedStep(input) {
          const child = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
          child.unref();
          fs.writeFileSync(input.marker, 'started');
          return { success: true, pid: child.pid };
        }""",
}


@pytest.fixture(scope="module")
def listener():
    """A service on the host's loopback that no step may reach."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.1)
    yield sock
    sock.close()


@pytest.fixture(scope="module")
def probes(tmp_path_factory, listener) -> dict[str, object]:
    root = tmp_path_factory.mktemp("iso")
    steps = root / "plugins" / "probe" / "steps"
    steps.mkdir(parents=True)
    for name, code in PROBES.items():
        (steps / f"{name}.mjs").write_text(textwrap.dedent(code))
    port = listener.getsockname()[1]
    marker = root / "marker"
    inputs = {"environ": {"parentPid": os.getpid()}, "raw": {"port": port}, "child": {"port": port},
              "worker": {"port": port}, "detached": {"marker": str(marker)}}
    (root / "registry.toml").write_text("".join(
        f'[steps."probe/{n}"]\ninput = {{ {", ".join(f"{k} = {json.dumps(v)}" for k, v in i.items())} }}\n'
        for n, i in inputs.items()))
    os.environ["WFPROF_CANARY"] = "canary-secret"
    try:
        results = profile_steps(load_for_root(root), None,
                                ProfileOptions(modes=("precise",), repeat=1, warm_runs=0, isolation="namespaces"))
    finally:
        os.environ.pop("WFPROF_CANARY", None)
    return {r.step_id.split("/")[1]: r for r in results} | {"marker": marker}


def test_every_row_records_the_isolation_mode(probes) -> None:
    assert {probes[n].isolation for n in PROBES} == {"namespaces"}


def test_no_ancestor_environment_is_visible(probes) -> None:
    r = probes["environ"]
    assert not r.failed, r.error
    assert '"leaked":false' in r.outcome.result and '"parent":"ENOENT"' in r.outcome.result
    seen = json.loads(r.outcome.result)
    # its own namespace: the namespace's shell (PID 1) and the step, nothing of the host
    assert seen["ppid"] == 1 and "1" in seen["pids"] and len(seen["pids"]) <= 3, seen


def test_a_raw_binding_connect_cannot_reach_a_host_port(probes, listener) -> None:
    r = probes["raw"]
    assert r.outcome is not None and r.outcome.result is not None, r.error  # the probe itself ran
    assert '"status":0' not in r.outcome.result  # 0 = connected
    with pytest.raises(TimeoutError):
        listener.accept()  # nothing arrived on the host side


@pytest.mark.parametrize("name", ["child", "worker"])
def test_child_processes_and_worker_threads_are_refused(probes, name) -> None:
    r = probes[name]
    assert r.outcome is not None and "CONNECTED" not in (r.outcome.result or ""), r.outcome
    assert "ECONNREFUSED" in (r.outcome.result or "")


def test_a_detached_grandchild_dies_with_the_step(probes) -> None:
    assert not probes["detached"].failed, probes["detached"].error
    assert probes["marker"].read_text() == "started"
    # its pid is only meaningful inside the namespace: the host has no `sleep 300` of ours left
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        mine = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _is_our_sleep(p)]
        if not mine:
            return
        time.sleep(0.1)
    pytest.fail(f"a detached child outlived the step: {mine}")


def _is_our_sleep(proc: Path) -> bool:
    try:
        return (proc / "cmdline").read_bytes() == b"sleep\x00300\x00" and (proc / "environ").read_bytes().find(
            b"TZ=UTC") >= 0
    except OSError:
        return False


def test_guard_mode_is_recorded_and_a_bad_mode_is_an_error(tmp_path: Path) -> None:
    registry = load_for_root(Path(__file__).resolve().parents[1] / "data" / "steps")
    (r,) = profile_steps(registry, ["math/aggregate"],
                         ProfileOptions(modes=("precise",), repeat=1, warm_runs=0, isolation="guard"))
    assert r.isolation == "guard" and not r.failed
    with pytest.raises(isolation.IsolationError, match="must be auto, namespaces or guard"):
        isolation.resolve_isolation("sandboxed")


def test_a_spinning_step_in_its_namespace_is_killed_on_timeout(tmp_path: Path) -> None:
    steps = tmp_path / "plugins" / "probe" / "steps"
    steps.mkdir(parents=True)
    (steps / "spin.mjs").write_text("export function spinStep() { for (;;) {} }\n")
    (steps / "suicide.mjs").write_text(
        "export async function suicideStep() {\n  process.kill(process.pid, 'SIGKILL');\n}\n")
    (tmp_path / "registry.toml").write_text('[steps."probe/spin"]\ninput = {}\n[steps."probe/suicide"]\ninput = {}\n')
    results = {r.step_id: r for r in profile_steps(load_for_root(tmp_path), None, ProfileOptions(
        modes=("precise",), repeat=1, warm_runs=0, timeout_s=3, isolation="namespaces"))}
    assert results["probe/spin"].error_kind == "timeout" and "process tree killed" in results["probe/spin"].error
    assert "harness died (signal 9)" in results["probe/suicide"].error
