"""The running Dagster UI in real headless Chromium: the global asset lineage shows every asset group, and
the cost report's upstream lineage draws every cost-model asset with an edge from each of its inputs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import dagster as dg
import pytest

from wfprof_pipeline.definitions import defs
from wfprof_pipeline_tests.browser import Page
from wfprof_pipeline_tests.dagster_env import BIN, PROJECT_ROOT, dagster_env
from wfprof_pipeline_tests.test_webserver import free_port, wait_for_location

COST_GROUP = "pricing"

# Nodes: the asset-name label inside each node's <foreignObject> (graph coordinates in its x/y/width/
# height). Edges: the <path>s stroked with the lineage-edge colour, from an upstream node's right side to
# a downstream node's left side. Each edge end is matched to the nearest node box.
GRAPH_JS = r"""
(() => {
  const nodes = [];
  for (const label of document.querySelectorAll('[class*="AssetNode_assetName"]')) {
    const fo = label.closest('foreignObject');
    if (!fo) continue;
    const [x, y, w, h] = ['x', 'y', 'width', 'height'].map(a => parseFloat(fo.getAttribute(a)));
    nodes.push({name: label.textContent.trim(), x, y, w, h});
  }
  const nearest = (px, py) => {
    let best = null, bestD = Infinity;
    for (const n of nodes) {
      const dx = Math.max(n.x - px, 0, px - (n.x + n.w)), dy = Math.max(n.y - py, 0, py - (n.y + n.h));
      const d = Math.hypot(dx, dy);
      if (d < bestD) { bestD = d; best = n; }
    }
    return bestD <= 60 ? best.name : null;
  };
  const edges = [];
  for (const p of document.querySelectorAll('path[stroke*="lineage-edge"]')) {
    const nums = (p.getAttribute('d') || '').match(/-?\d+(\.\d+)?/g);
    if (!nums || nums.length < 4) continue;
    const v = nums.map(Number);
    edges.push([nearest(v[0], v[1]), nearest(v[v.length - 2], v[v.length - 1])]);
  }
  return {nodes: nodes.map(n => n.name), edges};
})()
"""


def _full_name(shown: str, names: set[str]) -> str | None:
    """The UI shortens long names with an ellipsis in the middle (`stati…_correlation`)."""
    if shown in names:
        return shown
    if "…" in shown:
        head, tail = shown.split("…", 1)
        hits = [n for n in names if n.startswith(head) and n.endswith(tail)]
        return hits[0] if len(hits) == 1 else None
    return None


@pytest.fixture(scope="module")
def graph() -> dg.AssetGraph:  # type: ignore[name-defined]
    return defs().resolve_asset_graph()


@pytest.fixture
def ui(tmp_path: Path, embedded_db: str):
    port = free_port()
    env = dagster_env(tmp_path, embedded_db, DATABASE_URL=embedded_db)
    proc = subprocess.Popen(
        [str(BIN / "dagster-webserver"), "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", "127.0.0.1",
         "-p", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    page = Page(tmp_path / "chrome", size=(2400, 2000))  # the UI draws only nodes inside the viewport
    try:
        wait_for_location(f"http://127.0.0.1:{port}/graphql", proc)
        yield f"http://127.0.0.1:{port}", page
    finally:
        page.close()
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_lineage_in_the_dagster_ui(ui, graph, tmp_path: Path) -> None:
    base, page = ui
    keys = [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable]
    names = {k.to_user_string() for k in keys}
    groups = {graph.get(k).group_name for k in keys}
    cost_assets = {k.to_user_string() for k in keys if graph.get(k).group_name == COST_GROUP}
    assert len(cost_assets) == 13  # 8 step-cost assets + 5 usage assets

    # The global asset lineage: one (collapsed) box per asset group.
    page.goto(f"{base}/asset-groups")
    page.wait_for(f"document.body.innerText.includes({COST_GROUP!r})", 90)
    text = page.evaluate("document.body.innerText")
    missing_groups = {g for g in groups if not re.search(rf"(^|\s){re.escape(g)}(\s|$)", text)}
    assert not missing_groups, f"groups not shown in the global lineage: {missing_groups}"

    # The cost report's whole upstream lineage (the UI clamps the depth to the graph's; loading the page
    # with it zooms the graph to fit, so every node is drawn): every cost-model asset and its input edges.
    # (customer_usage_daily feeds no report: it is a leaf of its own, so not in the report's upstream.)
    upstream, todo = set(), [dg.AssetKey("cost_report")]
    while todo:
        for parent in graph.get(todo.pop()).parent_keys:
            if parent.to_user_string() not in upstream:
                upstream.add(parent.to_user_string())
                todo.append(parent)
    cost_assets = {a for a in cost_assets if a in upstream or a == "cost_report"}
    assert "customer_usage_daily" not in cost_assets and len(cost_assets) == 12
    page.goto(f"{base}/assets/cost_report?view=lineage&lineageScope=upstream&lineageDepth=100")
    page.wait_for("document.querySelectorAll('path[stroke*=\"lineage-edge\"]').length > 0", 90)
    expected_edges = {
        (parent.to_user_string(), key)
        for key in cost_assets
        for parent in graph.get(dg.AssetKey(key)).parent_keys
    }
    shown_nodes: set[str] = set()
    shown_edges: set[tuple[str | None, str | None]] = set()
    for _ in range(30):  # the layout runs in a web worker: poll until every expected edge is drawn
        drawn = page.wait_for(f"(() => {{ const g = {GRAPH_JS}; return g.nodes.length ? g : null; }})()", 60)
        shown_nodes = {_full_name(n, names) for n in drawn["nodes"]}
        shown_edges = {(_full_name(a, names) if a else None, _full_name(b, names) if b else None)
                       for a, b in drawn["edges"]}
        if cost_assets <= shown_nodes and expected_edges <= shown_edges:
            break
        page.evaluate("new Promise(r => setTimeout(r, 1000))")
    page.screenshot(tmp_path / "lineage.png")
    assert cost_assets <= shown_nodes, f"cost-model assets not drawn: {cost_assets - shown_nodes}"
    missing = expected_edges - shown_edges
    assert not missing, f"upstream edges not drawn: {sorted(missing)} (screenshot {tmp_path / 'lineage.png'})"
    assert None not in {a for a, _ in shown_edges} | {b for _, b in shown_edges}, "an edge end matched no node"
