"""The KeeperHub client: one consumer on the fake (fast), and the real queries on a real Postgres."""

from __future__ import annotations

import pytest

from wfprof_pipeline.lib import postgres
from wfprof_pipeline.lib.fuel.user_code import load_code_nodes
from wfprof_pipeline.lib.keeperhub import KeeperHub, StoredWorkflow
from wfprof_pipeline.lib.workflows import demo
from wfprof_pipeline.lib.workflows.errors import UnknownWorkflow, WorkflowRunError
from wfprof_pipeline_tests.fakes import FakeKeeperHub


def _code(node_id: str, code: str) -> dict:
    return {"id": node_id, "data": {"label": node_id, "type": "action",
                                    "config": {"actionType": "code/run-code", "code": code}}}


def test_code_nodes_and_their_latest_inputs_come_from_the_client() -> None:
    trigger = {"id": "t", "data": {"type": "trigger", "config": {}}}
    kh = FakeKeeperHub(
        [StoredWorkflow(id="wf_b", name="B", user_id="u", nodes=[trigger, _code("c2", "return 2")], edges=[]),
         StoredWorkflow(id="wf_a", name="A", user_id="u", nodes=[_code("c1", "return 1"), trigger], edges=[])],
        last_inputs={("wf_a", "c1"): {"x": 1}, ("wf_a", "t"): {"not": "code"}},
    )
    nodes, last = load_code_nodes(kh)
    assert [(n.workflow_id, n.node_id, n.code) for n in nodes] == [("wf_a", "c1", "return 1"),
                                                                   ("wf_b", "c2", "return 2")]
    assert last == {("wf_a", "c1"): '{"x": 1}'}  # only code nodes' inputs


def test_a_query_the_fake_does_not_fake_fails_loudly() -> None:
    with pytest.raises(AssertionError, match="not faked"):
        FakeKeeperHub([]).execution_count()


def test_real_client_on_a_real_postgres(system_db) -> None:
    with KeeperHub(system_db) as kh:
        with pytest.raises(Exception, match="table workflows is missing"):
            kh.workflow("wf_order_email")
        demo.install(kh, demo.load_definitions())
        assert kh.workflow("wf_order_email").name
        with pytest.raises(UnknownWorkflow, match="known ids: .*wf_order_email"):
            kh.workflow("nope")
        assert kh.execution_count() == 0
        workflow = kh.workflow("wf_order_email")
        kh.create_pending(workflow, "ex1", {"orderId": "o1"})
        assert kh.pending_input("wf_order_email", "ex1") == {"orderId": "o1"}
        with pytest.raises(WorkflowRunError, match="belongs to workflow 'wf_order_email'"):
            kh.pending_input("wf_balance_watch", "ex1")
        kh.mark_error("ex1", "boom")
        with pytest.raises(WorkflowRunError, match="is error, not pending"):
            kh.pending_input("wf_order_email", "ex1")
        assert kh.execution_result("ex1")[:2] == ("error", "boom")
        assert kh.execution_result("ghost")[0] == "missing"
        with kh.advisory_lock(42, 1) as taken, KeeperHub(system_db) as other:
            assert taken
            with other.advisory_lock(42, 0.2) as second:
                assert not second  # held by the first client


def test_an_unreachable_database_names_it_without_the_password() -> None:
    with pytest.raises(postgres.PostgresUnreachable, match=r"127\.0\.0\.1:9/keeperhub") as info:
        KeeperHub("postgresql://u:s3cret@127.0.0.1:9/keeperhub", timeout_s=1).workflow("x")
    assert "s3cret" not in str(info.value)
