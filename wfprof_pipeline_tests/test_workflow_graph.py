"""Workflow node ordering: dependency order from the trigger, and clear errors for unrunnable graphs."""

from __future__ import annotations

import pytest

from wfprof_pipeline.lib.workflows.graph import WorkflowGraphError, plan


def node(nid: str, kind: str = "action", action: str = "webhook/send") -> dict:
    config = {"actionType": action} if kind == "action" else {"triggerType": "manual"}
    return {
        "id": nid,
        "type": kind,
        "position": {"x": 0, "y": 0},
        "data": {"label": nid.title(), "type": kind, "config": config},
    }


def edge(a: str, b: str) -> dict:
    return {"id": f"{a}-{b}", "source": a, "target": b}


def test_diamond_runs_each_node_after_all_its_predecessors():
    nodes = [node("d"), node("b"), node("t", "trigger"), node("c"), node("a")]
    edges = [edge("t", "a"), edge("a", "b"), edge("a", "c"), edge("b", "d"), edge("c", "d")]
    result = plan(nodes, edges)
    order = [n.id for n in result.order]
    assert order[0] == "t" and order[-1] == "d"
    assert order.index("a") < order.index("b") < order.index("d")
    assert order.index("a") < order.index("c") < order.index("d")
    assert order == ["t", "a", "b", "c", "d"]  # ties follow the stored node order
    assert result.order[0].action_type == "trigger"
    assert result.order[1].action_type == "webhook/send"


def test_nodes_no_trigger_reaches_are_reported_not_run():
    result = plan([node("t", "trigger"), node("a"), node("orphan")], [edge("t", "a")])
    assert [n.id for n in result.order] == ["t", "a"]
    assert result.unreachable == ["orphan"]


def test_cycle_is_an_error_naming_the_cycle():
    nodes = [node("t", "trigger"), node("a"), node("b"), node("c")]
    with pytest.raises(WorkflowGraphError, match=r"cycle: a -> b -> c -> a"):
        plan(nodes, [edge("t", "a"), edge("a", "b"), edge("b", "c"), edge("c", "a")])


def test_self_loop_is_a_cycle():
    with pytest.raises(WorkflowGraphError, match="cycle"):
        plan([node("t", "trigger"), node("a")], [edge("t", "a"), edge("a", "a")])


def test_dangling_edge_is_an_error_naming_the_missing_node():
    with pytest.raises(WorkflowGraphError, match=r"missing node\(s\) 'ghost'"):
        plan([node("t", "trigger"), node("a")], [edge("t", "a"), edge("a", "ghost")])


def test_no_trigger_duplicate_ids_and_malformed_json_are_errors():
    with pytest.raises(WorkflowGraphError, match="no trigger"):
        plan([node("a")], [])
    with pytest.raises(WorkflowGraphError, match="duplicate node id"):
        plan([node("t", "trigger"), node("t")], [])
    with pytest.raises(WorkflowGraphError, match="malformed workflow JSON"):
        plan([{"id": "x", "data": {"type": "bogus"}}], [])
    with pytest.raises(WorkflowGraphError, match="malformed workflow JSON"):
        plan("not a list", [])


def test_long_chain_does_not_recurse():
    nodes = [node("n0", "trigger")] + [node(f"n{i}") for i in range(1, 3000)]
    edges = [edge(f"n{i}", f"n{i + 1}") for i in range(2999)]
    assert len(plan(nodes, edges).order) == 3000
