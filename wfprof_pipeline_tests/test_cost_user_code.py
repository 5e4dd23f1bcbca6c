"""User code of stored workflows, metered in the real embedded QuickJS sandbox (wasmtime, fuel)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from wfprof_pipeline.lib.fuel.protocol import open_evaluator
from wfprof_pipeline.lib.fuel.sandbox import Limits
from wfprof_pipeline.lib.fuel.user_code import as_fn, find_code_nodes, meter_code_nodes
from wfprof_pipeline_tests.fakes import FakeEvaluator

WORKFLOWS = Path(__file__).resolve().parents[1] / "data" / "workflows"


def _wf(wf_id: str, *codes: str | None) -> tuple[str, str, str]:
    nodes = [{"id": "t", "type": "trigger", "data": {"type": "trigger", "config": {}}}]
    for i, code in enumerate(codes):
        cfg = {"actionType": "code/run-code", "inputs": {"n": 10}}
        if code is not None:
            cfg["code"] = code
        nodes.append({"id": f"c{i}", "type": "action", "data": {"label": f"code {i}", "config": cfg}})
    nodes.append({"id": "w", "type": "action", "data": {"config": {"actionType": "webhook/send-webhook"}}})
    return wf_id, f"workflow {wf_id}", json.dumps(nodes)


@pytest.fixture(scope="module")
def embedded():
    return open_evaluator(None)


def test_demo_workflows_code_nodes_are_found_and_metered(embedded) -> None:
    stored = []
    for path in sorted(WORKFLOWS.glob("*.json")):
        doc = json.loads(path.read_text())
        stored.append((doc["id"], doc.get("name"), doc["nodes"]))
    nodes = find_code_nodes(stored)
    assert nodes, "the demo workflows hold code nodes"
    table = meter_code_nodes(nodes, embedded)
    assert table.height == len(nodes)
    ok = table.filter(table["success"])
    assert ok.height >= 1 and (ok["fuel_consumed"] > 0).all()
    assert set(table["inputs_source"].to_list()) <= {"config", "last_run", "none"}


def test_fuel_is_deterministic_and_grows_with_work(embedded) -> None:
    loop = "let s = 0; for (let i = 0; i < inputs.n; i++) s += i; return s;"
    small = meter_code_nodes(find_code_nodes([_wf("a", loop)]), embedded,
                             last_inputs={("a", "c0"): {"inputs": {"n": 100}}})
    again = meter_code_nodes(find_code_nodes([_wf("a", loop)]), embedded,
                             last_inputs={("a", "c0"): json.dumps({"inputs": {"n": 100}})})
    big = meter_code_nodes(find_code_nodes([_wf("a", loop)]), embedded,
                           last_inputs={("a", "c0"): {"inputs": {"n": 10_000}}})
    assert small["success"].to_list() == [True] and small["inputs_source"].to_list() == ["last_run"]
    assert small["fuel_consumed"].to_list() == again["fuel_consumed"].to_list()
    assert big["fuel_consumed"][0] > small["fuel_consumed"][0]


def test_failures_are_recorded_not_fatal(embedded) -> None:
    nodes = find_code_nodes([_wf("bad", "while (true) {}", "const x = await fetch('x'); return x;", "",
                                 "throw new Error('boom')", None, "return inputs.n * 2;")])
    table = meter_code_nodes(nodes, embedded, fuel_budget=20_000_000)
    kinds = table["error_kind"].to_list()
    assert kinds[0] == "out_of_fuel" and table["fuel_consumed"][0] == 20_000_000
    assert kinds[1] == "syntax_error" and "no event loop" in table["error"][1]
    assert kinds[2] == "empty_code" and kinds[4] == "empty_code"
    assert kinds[3] == "runtime_error" and "boom" in table["error"][3]
    assert table["success"].to_list() == [False, False, False, False, False, True]


def test_unreachable_remote_sandbox_is_a_row_per_node() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens here
    remote = open_evaluator(f"http://127.0.0.1:{port}")
    table = meter_code_nodes(find_code_nodes([_wf("r", "return 1;", "return 2;")]), remote)
    assert table["error_kind"].to_list() == ["sandbox_error", "sandbox_error"]
    assert "Unreachable" in table["error"][0] or "connect" in table["error"][0].lower()


def test_malformed_nodes_json_is_skipped() -> None:
    assert find_code_nodes([("x", None, "not json"), ("y", None, json.dumps({"a": 1})), ("z", None, None)]) == []


def test_metering_maps_each_outcome_to_its_row_fast() -> None:
    """The fast layer: the row mapping with a fake evaluator (the real sandbox is the tests above)."""
    fake = FakeEvaluator()
    nodes = find_code_nodes([_wf("f", "return 1;", "FAIL", "x".join(["y"] * 400))])
    table = meter_code_nodes(nodes, fake, fuel_budget=100_000, timeout_s=2.5,
                             last_inputs={("f", "c0"): {"inputs": {"n": 3}}})
    rows = table.to_dicts()
    assert [r["error_kind"] for r in rows] == [None, "sandbox_error", "out_of_fuel"]
    assert rows[0]["fuel_consumed"] == 1_000 * len(as_fn("return 1;")) and rows[0]["inputs_source"] == "last_run"
    assert "fake sandbox is down" in rows[1]["error"] and rows[2]["fuel_consumed"] == 100_000
    assert fake.calls[0][1] == {"n": 3} and fake.calls[0][2] == Limits(fuel=100_000, timeout_s=2.5)
