"""Fakes of the resources' clients for the fast test layer (the real ones are exercised by the integration tests)."""

from __future__ import annotations

import json
from typing import Any

from wfprof_pipeline.lib.keeperhub import KeeperHub, StoredWorkflow
from wfprof_pipeline.lib.workflows.errors import UnknownWorkflow


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
