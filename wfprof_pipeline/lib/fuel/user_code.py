"""`user_code_fuel`: the fuel of the user JavaScript in stored workflows' code nodes.

A KeeperHub code node (`data.config.actionType == "code/run-code"`) holds a function body that reads
`inputs` and returns a value. Here it becomes `function fn(inputs) { <body> }` and runs in the fuel
sandbox under a budget, with the inputs of its latest logged run when there is one (the stored config
still holds `{{@node.field}}` templates). Every failure is a row with its kind, never an exception.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl

from wfprof_pipeline.lib.fuel.protocol import Evaluator
from wfprof_pipeline.lib.fuel.sandbox import Limits
from wfprof_pipeline.lib.fuel.tables import USER_CODE_FUEL
from wfprof_pipeline.lib.keeperhub import KeeperHub

CODE_ACTION_TYPES = frozenset({"code/run-code", "code"})
DEFAULT_FUEL_BUDGET = 500_000_000



@dataclass(frozen=True)
class CodeNode:
    workflow_id: str
    workflow_name: str | None
    node_id: str
    label: str | None
    code: str
    config_inputs: Any


def _as_json(value: Any) -> Any:
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def find_code_nodes(workflows: Iterable[tuple[str, str | None, Any]]) -> list[CodeNode]:
    """(workflow id, name, nodes JSON) → the code nodes, in workflow then node order."""
    found = []
    for wf_id, name, nodes in workflows:
        nodes = _as_json(nodes)
        if not isinstance(nodes, list):
            continue
        for node in nodes:
            data = node.get("data") if isinstance(node, dict) else None
            config = data.get("config") if isinstance(data, dict) else None
            if not isinstance(config, dict) or config.get("actionType") not in CODE_ACTION_TYPES:
                continue
            code = config.get("code")
            found.append(CodeNode(str(wf_id), name, str(node.get("id")), data.get("label"),
                                  code if isinstance(code, str) else "", config.get("inputs")))
    return found


def as_fn(body: str) -> str:
    """The code node's body as the sandbox's `fn` (the sandbox has no event loop: no async)."""
    return f"function fn(inputs) {{\n{body}\n}}"


def _inputs_of(node: CodeNode, last_inputs: dict[tuple[str, str], Any]) -> tuple[Any, str]:
    logged = _as_json(last_inputs.get((node.workflow_id, node.node_id)))
    if isinstance(logged, dict):
        # KeeperHub logs the step input; the code step reads its `inputs` field.
        return (logged.get("inputs", logged), "last_run")
    if node.config_inputs is not None:
        return node.config_inputs, "config"
    return {}, "none"


def meter_code_nodes(
    nodes: list[CodeNode],
    evaluator: Evaluator,
    *,
    last_inputs: dict[tuple[str, str], Any] | None = None,
    fuel_budget: int = DEFAULT_FUEL_BUDGET,
    timeout_s: float = 5.0,
) -> pl.DataFrame:
    """Run each node's code in `evaluator` under `fuel_budget`; an exception from it (e.g. a remote sandbox
    that is down) is recorded on that node's row."""
    limits = Limits(fuel=fuel_budget, timeout_s=timeout_s)
    rows = []
    for node in nodes:
        params, source = _inputs_of(node, last_inputs or {})
        base = {"workflow_id": node.workflow_id, "workflow_name": node.workflow_name, "node_id": node.node_id,
                "node_label": node.label, "code_bytes": len(node.code.encode()), "inputs_source": source,
                "fuel_budget": fuel_budget}
        if not node.code.strip():
            rows.append({**base, "success": False, "error_kind": "empty_code", "error": "the code node has no code"})
            continue
        try:
            out = evaluator.evaluate(as_fn(node.code), params, limits=limits, filename="user-code.js",
                                     deterministic=True)
        except Exception as exc:  # a sandbox fault must not stop the other nodes
            rows.append({**base, "success": False, "error_kind": "sandbox_error",
                         "error": f"{type(exc).__name__}: {exc}"[:500]})
            continue
        error = out.error
        kind = out.error_kind.value if out.error_kind is not None else None
        if kind == "syntax_error" and "await" in node.code:
            error = f"{error} (the fuel sandbox runs no event loop: code using await cannot be metered)"
        rows.append({**base, "fuel_consumed": out.fuel_consumed, "memory_used": out.memory_used,
                     "duration_ms": out.duration_ms, "success": out.success, "error_kind": kind,
                     "error": error[:500] if error else None})
    return pl.DataFrame(rows, schema=USER_CODE_FUEL.schema)


def load_code_nodes(kh: KeeperHub) -> tuple[list[CodeNode], dict[tuple[str, str], Any]]:
    """Code nodes of every stored workflow, and the inputs of their latest successful runs."""
    workflows, last = kh.code_node_sources()
    nodes = find_code_nodes(workflows)
    code_ids = {(n.workflow_id, n.node_id) for n in nodes}
    return nodes, {key: data for key, data in last.items() if key in code_ids}
