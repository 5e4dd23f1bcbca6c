"""Fakes of the resources' clients for the fast test layer (the real ones are exercised by the integration tests)."""

from __future__ import annotations

import json
from typing import Any

from wfprof_pipeline.lib.fuel.sandbox import ErrorKind, EvaluationResult, Limits
from wfprof_pipeline.lib.keeperhub import KeeperHub, StoredWorkflow
from wfprof_pipeline.lib.workflows.errors import UnknownWorkflow


class FakeEvaluator:
    """An `Evaluator` that charges 1,000 fuel per character of code and records every call. Code containing
    `FAIL` raises (a sandbox that went down), code longer than the budget allows runs out of fuel."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, Limits | None]] = []

    def evaluate(self, code: str, parameters: Any = None, *, limits: Limits | None = None,
                 filename: str = "code.js", deterministic: bool = True) -> EvaluationResult:
        self.calls.append((code, parameters, limits))
        if "FAIL" in code:
            raise ConnectionError("fake sandbox is down")
        fuel = 1_000 * len(code)
        budget = (limits or Limits()).fuel
        if fuel > budget:
            return EvaluationResult(success=False, error="out of fuel", error_kind=ErrorKind.OUT_OF_FUEL,
                                    fuel_consumed=budget)
        return EvaluationResult(success=True, result=parameters, fuel_consumed=fuel, memory_used=64 * 1024,
                                duration_ms=0.1)




class FakeKeeperHub(KeeperHub):
    """A `KeeperHub` over in-memory workflows (and the latest successful input per (workflow, node)); any query
    it does not fake fails, instead of reaching a database."""

    def __init__(self, workflows: list[StoredWorkflow], last_inputs: dict[tuple[str, str], Any] | None = None) -> None:
        super().__init__("postgresql://fake/keeperhub")
        self.workflows = {w.id: w for w in workflows}
        self.last_inputs = dict(last_inputs or {})

    @property
    def conn(self):  # type: ignore[override]
        raise AssertionError("FakeKeeperHub: this query is not faked")

    def workflow(self, workflow_id: str) -> StoredWorkflow:
        if workflow_id not in self.workflows:
            known = ", ".join(sorted(self.workflows))
            raise UnknownWorkflow(f"unknown workflow id {workflow_id!r}; known ids: {known}")
        return self.workflows[workflow_id]

    def code_node_sources(self) -> tuple[list[tuple[str, str | None, str]], dict[tuple[str, str], str]]:
        rows = [(w.id, w.name, json.dumps(w.nodes)) for w in sorted(self.workflows.values(), key=lambda w: w.id)]
        return rows, {k: json.dumps(v) for k, v in self.last_inputs.items()}
