"""A stored workflow's nodes and edges (React Flow JSON) → the order its nodes run in.

KeeperHub starts at the trigger and follows edges; a node runs after every node with an edge into it.
Nodes no trigger reaches are not run (they are listed as unreachable). A cycle or an edge naming a node
that does not exist makes the workflow unrunnable: both are errors that name the nodes involved.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wfprof_pipeline.lib.errors import WfprofError


class WorkflowGraphError(WfprofError, ValueError):
    """The workflow's nodes/edges cannot be run (cycle, dangling edge, no trigger, malformed JSON)."""


class NodeData(BaseModel):
    model_config = ConfigDict(extra="allow")

    label: str = ""
    type: Literal["trigger", "action"]
    config: dict[str, Any] = Field(default_factory=dict)


class Node(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1)
    data: NodeData

    @property
    def kind(self) -> str:
        return self.data.type

    @property
    def action_type(self) -> str:
        """`trigger` for triggers (KeeperHub's node_type), else config.actionType."""
        if self.data.type == "trigger":
            return "trigger"
        action = self.data.config.get("actionType")
        return str(action) if action else ""

    @property
    def label(self) -> str:
        return self.data.label or self.id


class Edge(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = ""
    source: str
    target: str


class ExecutionPlan(BaseModel):
    order: list[Node]
    unreachable: list[str]


def parse(nodes: object, edges: object) -> tuple[list[Node], list[Edge]]:
    try:
        parsed_nodes = [Node.model_validate(n) for n in (nodes or [])]  # type: ignore[union-attr]
        parsed_edges = [Edge.model_validate(e) for e in (edges or [])]  # type: ignore[union-attr]
    except (ValidationError, TypeError) as exc:
        first = exc.errors()[0] if isinstance(exc, ValidationError) else {"msg": str(exc), "loc": ()}
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise WorkflowGraphError(f"malformed workflow JSON ({where}: {first['msg']})") from None
    return parsed_nodes, parsed_edges


def plan(nodes: object, edges: object) -> ExecutionPlan:
    """Topological order from the trigger(s); ties broken by the nodes' stored order (deterministic)."""
    parsed_nodes, parsed_edges = parse(nodes, edges)
    by_id: dict[str, Node] = {}
    for node in parsed_nodes:
        if node.id in by_id:
            raise WorkflowGraphError(f"duplicate node id {node.id!r}")
        by_id[node.id] = node
    for edge in parsed_edges:
        absent = [end for end in (edge.source, edge.target) if end not in by_id]
        if absent:
            raise WorkflowGraphError(
                f"edge {edge.id or edge.source + '->' + edge.target} points to missing node(s) "
                f"{', '.join(repr(a) for a in absent)}"
            )
    triggers = [n.id for n in parsed_nodes if n.kind == "trigger"]
    if not triggers:
        raise WorkflowGraphError("workflow has no trigger node")

    successors: dict[str, list[str]] = {nid: [] for nid in by_id}
    for edge in parsed_edges:
        successors[edge.source].append(edge.target)
    reachable = _reachable(triggers, successors)
    cycle = _find_cycle(list(by_id), successors)
    if cycle:
        raise WorkflowGraphError("workflow has a cycle: " + " -> ".join(cycle))

    position = {nid: i for i, nid in enumerate(by_id)}
    indegree = {nid: 0 for nid in reachable}
    for edge in parsed_edges:
        if edge.source in reachable and edge.target in reachable:
            indegree[edge.target] += 1
    ready = sorted((nid for nid, d in indegree.items() if d == 0), key=position.__getitem__)
    order: list[Node] = []
    while ready:
        nid = ready.pop(0)
        order.append(by_id[nid])
        for nxt in successors[nid]:
            if nxt in indegree:
                indegree[nxt] -= 1
                if indegree[nxt] == 0:
                    ready.append(nxt)
                    ready.sort(key=position.__getitem__)
    unreachable = [nid for nid in by_id if nid not in reachable]
    return ExecutionPlan(order=order, unreachable=unreachable)


def _reachable(starts: list[str], successors: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(starts)
    while stack:
        nid = stack.pop()
        if nid not in seen:
            seen.add(nid)
            stack.extend(successors[nid])
    return seen


def _find_cycle(ids: list[str], successors: dict[str, list[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None (iterative DFS: deep graphs must not hit the recursion limit)."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(ids, white)
    for root in ids:
        if colour[root] != white:
            continue
        path: list[str] = [root]
        iters = [iter(successors[root])]
        colour[root] = grey
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                colour[path.pop()] = black
                iters.pop()
            elif colour[nxt] == grey:
                return path[path.index(nxt) :] + [nxt]
            elif colour[nxt] == white:
                colour[nxt] = grey
                path.append(nxt)
                iters.append(iter(successors[nxt]))
    return None
