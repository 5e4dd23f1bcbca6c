"""Profiling the sample corpus with real Node processes and the real SDKs, answered by the loopback stub.

One module-scoped run profiles every sample step 3× in precise mode (3 fresh processes each) and once in
timing mode; the tests read that run. Counts are never hard-coded: they are compared across runs, across
phases and across steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from wfprof_pipeline.lib.profiling.runner import ProfileOptions, RunResult, profile_steps, run_shared_process
from wfprof_pipeline.lib.profiling.summary import StepProfileRow, Summary, summarize
from wfprof_pipeline.lib.registry import StepRegistry, load_for_root

STEPS_ROOT = Path(__file__).resolve().parents[1] / "data" / "steps"


@pytest.fixture(scope="module")
def registry() -> StepRegistry:
    return load_for_root(STEPS_ROOT)


@pytest.fixture(scope="module")
def corpus_run(registry: StepRegistry) -> tuple[list[RunResult], Summary]:
    options = ProfileOptions(modes=("precise", "timing"), repeat=3, mode_repeat={"timing": 1}, timeout_s=90)
    results = profile_steps(registry, None, options)
    return results, summarize(results)


def _row(summary: Summary, step: str, mode: str, phase: str) -> StepProfileRow:
    return next(r for r in summary.profiles if (r.step_id, r.mode, r.phase) == (step, mode, phase))


def test_every_sample_step_runs_its_full_request_path(corpus_run, registry) -> None:
    results, _ = corpus_run
    failures = {(r.step_id, r.mode): r.error for r in results if r.failed}
    assert not failures
    for r in results:
        assert r.outcome is not None and set(r.outcome.phases) == {"import", "execute", "execute_warm"}
        assert '"success":true' in (r.outcome.result or "")
        assert r.outcome.egress_blocked == []
    assert {r.step_id for r in results} == set(registry.ids)


def test_own_and_package_counts_identical_across_three_fresh_runs(corpus_run, registry) -> None:
    results, summary = corpus_run
    for step in registry.ids:
        for phase in ("import", "execute"):
            runs = [r.outcome.phases[phase].calls for r in results
                    if r.step_id == step and r.mode == "precise" and r.outcome]
            assert len(runs) == 3
            assert len({(c.step, c.package) for c in runs}) == 1, (step, phase, runs)
            row = _row(summary, step, "precise", phase)
            assert row.deterministic is True and row.runs == 3


def test_import_only_is_cheaper_than_import_plus_execute(registry, corpus_run) -> None:
    _, summary = corpus_run
    steps = ["webhook/send-webhook", "web3/check-balance"]
    dry = summarize(profile_steps(registry, steps, ProfileOptions(modes=("precise",), repeat=1, phases=("import",))))
    for step in steps:
        assert {r.phase for r in dry.profiles if r.step_id == step} == {"import"}
        dry_import = _row(dry, step, "precise", "import")
        imp, exe = _row(summary, step, "precise", "import"), _row(summary, step, "precise", "execute")
        # compared on the exact counts: import-phase Node internals vary by thousands between processes
        dry_exact = dry_import.calls_own + dry_import.calls_packages
        assert dry_import.io_operations == 0
        assert dry_exact == imp.calls_own + imp.calls_packages
        assert dry_exact < imp.calls_own + imp.calls_packages + exe.calls_own + exe.calls_packages


def test_every_io_step_makes_requests_and_compute_steps_none(corpus_run, registry) -> None:
    _, summary = corpus_run
    for step, entry in registry.steps.items():
        execute = _row(summary, step, "precise", "execute")
        imported = _row(summary, step, "precise", "import")
        assert imported.io_operations == 0
        if entry.io_class == "none":
            assert execute.io_operations == 0
        else:
            assert execute.io_operations >= 1, step
    transfer = _row(summary, "web3/transfer-funds", "precise", "execute")
    assert "eth_sendRawTransaction" in transfer.rpc_methods and transfer.io_operations > 3
    assert _row(summary, "web3/check-balance", "precise", "execute").rpc_methods == "eth_chainId,eth_getBalance"
    assert "eth_sendRawTransaction" not in _row(summary, "web3/read-contract", "precise", "execute").rpc_methods


def test_io_requests_rows_list_each_jsonrpc_call(corpus_run) -> None:
    _, summary = corpus_run
    rows = [r for r in summary.io_requests if r["step_id"] == "web3/transfer-funds" and r["phase"] == "execute"]
    assert {r["rpc_method"] for r in rows} >= {"eth_estimateGas", "eth_sendRawTransaction", "eth_getTransactionReceipt"}
    assert all(r["host"] == "127.0.0.1" and r["matched"] for r in rows)
    slack = [r for r in summary.io_requests if r["step_id"] == "slack/send-message"]
    assert [(r["method"], r["path"], r["rpc_method"]) for r in slack] == [("POST", "/api/chat.postMessage", None)]


def test_calls_are_attributed_to_the_right_category(corpus_run) -> None:
    _, summary = corpus_run
    pkgs = {(p["step_id"], p["phase"], p["package"]): p["calls"] for p in summary.package_calls}
    # fetch steps: no npm package at all, their HTTP work is Node's bundled undici
    webhook = _row(summary, "webhook/send-webhook", "precise", "execute")
    assert webhook.calls_packages == 0 and webhook.calls_fetch_internals > 500
    # SDK steps: the SDK's package shows up by name
    assert pkgs[("slack/send-message", "execute", "@slack/web-api")] > 0
    assert pkgs[("sendgrid/send-email", "execute", "axios")] > 0
    assert pkgs[("web3/check-balance-viem", "import", "viem")] > 0
    # signing dominates the transfer: @noble/curves, far above the ethers read
    transfer = _row(summary, "web3/transfer-funds", "precise", "execute")
    read = _row(summary, "web3/check-balance", "precise", "execute")
    assert pkgs[("web3/transfer-funds", "execute", "@noble/curves")] > transfer.calls_packages / 2
    assert transfer.calls_packages > 20 * read.calls_packages
    # viem pays at import what ethers does not
    viem_import = _row(summary, "web3/check-balance-viem", "precise", "import")
    ethers_import = _row(summary, "web3/check-balance", "precise", "import")
    assert viem_import.calls_packages > 5 * ethers_import.calls_packages
    # compute steps: the work is the step's own code, or user code run through node:vm
    assert _row(summary, "math/aggregate", "precise", "execute").calls_own > 1000
    assert _row(summary, "code/run-code", "precise", "execute").calls_other > 0
    # harness + shims stay a handful of calls per phase
    assert all(r.calls_harness < 50 for r in summary.profiles if r.mode == "precise")


def test_top_functions_name_file_and_line(corpus_run) -> None:
    _, summary = corpus_run
    top = [f for f in summary.functions
           if f["step_id"] == "web3/transfer-funds" and f["mode"] == "precise" and f["phase"] == "execute"]
    assert top[0]["rank"] == 1 and top[0]["package"] == "@noble/curves"
    assert top[0]["file"].startswith("node_modules/@noble/curves/") and top[0]["line"] > 0
    assert [f["calls"] for f in top] == sorted((f["calls"] for f in top), reverse=True)
    # the step's own functions are mapped back from esbuild's output to the TypeScript source line
    own = next(f for f in summary.functions
               if f["step_id"] == "math/aggregate" and f["mode"] == "precise" and f["phase"] == "execute")
    source = (STEPS_ROOT / own["file"]).read_text().splitlines()
    assert own["category"] == "step" and own["file"] == "plugins/math/steps/aggregate.ts"
    assert ".sort((a, b) => a - b)" in source[own["line"] - 1]  # the comparator: the hottest own function


def test_timing_mode_measures_load_time_and_heap(corpus_run, registry) -> None:
    _, summary = corpus_run
    for step in registry.ids:
        imp = _row(summary, step, "timing", "import")
        assert imp.module_load_ms is not None and imp.module_load_ms > 0
        assert imp.heap_delta_bytes is not None and imp.calls_own is None
    viem = _row(summary, "web3/check-balance-viem", "timing", "import")
    webhook = _row(summary, "webhook/send-webhook", "timing", "import")
    assert viem.heap_delta_bytes > 5 * 1024 * 1024 > webhook.heap_delta_bytes


def test_a_second_step_on_the_same_sdk_in_one_process_is_far_cheaper(registry, corpus_run) -> None:
    """The reason for fresh processes: the module cache makes a later ethers step look almost free."""
    _, summary = corpus_run
    doc = run_shared_process(registry, ["web3/check-balance", "web3/read-contract"])
    first, second = doc.steps
    assert first.ok and second.ok
    fresh = _row(summary, "web3/read-contract", "precise", "import")
    shared = second.phases["import"].calls
    assert shared.package < fresh.calls_packages / 10
    assert shared.step + shared.package + shared.node < fresh.calls_total / 5


def test_sampling_mode_reports_samples_and_self_time(registry) -> None:
    results = profile_steps(registry, ["web3/transfer-funds"], ProfileOptions(modes=("sampling",), repeat=1))
    assert not results[0].failed
    row = _row(summarize(results), "web3/transfer-funds", "sampling", "execute")
    assert row.samples > 10 and row.self_ms_packages > 0
    assert row.calls_own is None and row.deterministic is None


def test_documents_larger_than_a_pipe_buffer_arrive_whole(registry) -> None:
    """Every function listed makes a document of several 100 KB: it must not be cut at 64 KiB."""
    results = profile_steps(registry, ["web3/transfer-funds"], ProfileOptions(modes=("precise",), repeat=1,
                                                                             top_n=100_000))
    assert not results[0].failed, results[0].error
    assert len(results[0].outcome.phases["execute"].top_functions) > 500  # ≈ 150 bytes each


def test_counts_do_not_depend_on_the_callers_environment(registry, corpus_run, monkeypatch) -> None:
    """`debug` (under @sendgrid/mail) calls a function per environment variable at import: steps get a
    fixed environment, so who runs the profile does not change the numbers (and no secrets leak in)."""
    _, summary = corpus_run
    for i in range(40):
        monkeypatch.setenv(f"WFPROF_TEST_NOISE_{i}", "x")
    monkeypatch.setenv("DATABASE_URL", "postgresql://secret@db/prod")
    for var in ("HTTP_PROXY", "http_proxy"):  # a proxy of the caller must not see the loopback stub's traffic
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    again = profile_steps(registry, ["sendgrid/send-email"], ProfileOptions(modes=("precise",), repeat=1))[0]
    assert not again.failed, again.error
    expected = _row(summary, "sendgrid/send-email", "precise", "import")
    assert again.outcome.phases["import"].calls.package == expected.calls_packages
