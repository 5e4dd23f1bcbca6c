"""The cost model end to end on a real DuckDB warehouse: read inputs, compute, write the HTML report."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import duckdb
import polars as pl
import pytest

from wfprof_pipeline.lib.cost_model.inputs import read_inputs
from wfprof_pipeline.lib.cost_model.model import compute_cost_model
from wfprof_pipeline.lib.cost_model.report import render_html, summary_markdown, write_report
from wfprof_pipeline.lib.cost_model.synthetic import (
    STEPS,
    UNPROFILED,
    WORKFLOW_CALLS,
    build_warehouse,
    insert_rows,
    write_registry,
)
from wfprof_pipeline.lib.profiling.tables import IO_REQUESTS, STEP_PROFILES


@pytest.fixture(scope="module")
def model_and_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cost")
    write_registry(root)
    build_warehouse(root / "w.duckdb")
    with duckdb.connect(str(root / "w.duckdb"), read_only=True) as con:
        inputs = read_inputs(con, root)
    return compute_cost_model(inputs), root


def test_inputs_are_read_from_the_warehouse_tables(model_and_root) -> None:
    model, _ = model_and_root
    m = model.inputs.measurements
    assert sorted(m["step_id"].to_list()) == sorted([*STEPS, UNPROFILED])
    eth = m.filter(pl.col("step_id") == "web3/check-balance").row(0, named=True)
    oi, oe, pi, pe, ni, ne, io = STEPS["web3/check-balance"][:7]
    assert (eth["calls_own"], eth["calls_packages"]) == (oi + oe, pi + pe)
    assert (eth["calls_node_import"], eth["calls_node_execute"]) == (ni, ne)
    assert eth["import_calls"] == oi + pi + ni + 8 and eth["execute_calls"] == oe + pe + ne + 8
    assert eth["io_operations"] == io and eth["rpc_methods"] == ["eth_chainId", "eth_getBalance"]
    assert eth["duration_ms"] == 10.0 + STEPS["web3/check-balance"][9]
    assert model.inputs.static is not None and model.inputs.static["step_id"].null_count() == 0
    assert model.inputs.latency["n"].sum() == 2_000
    assert not [x for x in model.inputs.missing if "workflow" in x or "static" in x]
    # Workflow calls come from precise runs only; batching is estimated over the nodes of a run.
    wf = model.inputs.workflow_calls
    db = sum(v[0] for v in WORKFLOW_CALLS.values())
    total = sum(v[0] + v[1] + v[2] + 20_000 for v in WORKFLOW_CALLS.values())
    assert wf.filter(pl.col("category") == "database")["calls"].sum() == db
    assert model.inputs.db_statements_per_run == pytest.approx(4.0)
    row = model.breakdown.filter((pl.col("scope") == "workflows") & (pl.col("category") == "database"))
    assert row["share"][0] == pytest.approx(db / total)


def test_pricing_lists_the_unprofiled_step_and_prices_the_rest(model_and_root) -> None:
    model, _ = model_and_root
    by = {r["step_id"]: r for r in model.pricing.iter_rows(named=True)}
    assert by[UNPROFILED]["status"] == "missing_profile" and by[UNPROFILED]["total_units"] is None
    assert by["web3/transfer-funds"]["io_class"] == "chain_write"
    assert by["web3/transfer-funds"]["io_class_source"] == "json_rpc"
    assert by["slack/send-message"]["io_class"] == "chat"
    assert by["resend/send-email"]["io_class"] == "http"
    assert model.unpriced_profiled_steps == []
    w = by["web3/transfer-funds"]
    assert w["total_units"] == w["base_units"] + 10 * 9


def test_correlations_use_the_joined_static_metrics(model_and_root) -> None:
    model, _ = model_and_root
    row = model.correlation.filter(
        (pl.col("static_metric") == "cyclomatic_complexity") & (pl.col("runtime_measure") == "duration_ms")
    ).row(0, named=True)
    # duration = 10 + complexity in the fixture: a perfect rank correlation over the 7 profiled steps.
    assert row["status"] == "ok" and row["n"] == len(STEPS) and row["rho"] == pytest.approx(1.0)


def test_report_is_self_contained_and_every_chart_is_valid_svg(model_and_root, tmp_path: Path) -> None:
    model, _ = model_and_root
    path = write_report(model, tmp_path / "reports")
    html = path.read_text()
    assert path.name == "cost_report.html" and not list(path.parent.glob("*.tmp"))
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    srcs = re.findall(r'<img class="chart" alt="([^"]+)" src="data:image/svg\+xml;base64,([^"]+)"', html)
    assert len(srcs) == 6
    for alt, data in srcs:
        root = ET.fromstring(base64.b64decode(data))
        assert root.tag.endswith("svg"), alt
        shapes = [e for e in root.iter() if e.tag.split("}")[-1] in ("rect", "circle", "line")]
        assert len(shapes) > 3, f"chart {alt} draws nothing"
    assert "does not hold" in html and UNPROFILED in html
    md = summary_markdown(model)
    t = model.tiers.filter(pl.col("step_id") == "web3/transfer-funds").row(0, named=True)
    assert (f"| web3/transfer-funds | heavy | {t['tier_calls']:,} | {t['calls_own_packages']:,} | chain_write |"
            in md)
    # The deterministic own + packages count is shown next to the tier basis's count.
    assert "calls (cost_calls)" in html and "own + packages (deterministic)" in html
    assert f"<td class='num'>{t['calls_own_packages']:,}</td>" in html


def test_tier_table_reconciles_its_basis_and_shows_the_deterministic_count(model_and_root) -> None:
    model, _ = model_and_root
    assert model.policy.tiers.basis == "cost_calls"
    for r in model.tiers.filter(pl.col("status") == "ok").iter_rows(named=True):
        assert r["calls_own_packages"] == r["calls_own"] + r["calls_packages"]
        # The fixture has no warm phase and no platform baseline: warm = cold, the whole import is marginal.
        assert r["calls_import_marginal"] == r["calls_import"] and r["calls_execute_warm"] is None
        expected = r["calls_execute_cold"] + r["cold_start_rate"] * r["calls_import_marginal"]
        assert r["tier_calls"] == r["cost_calls"] == round(expected), r["step_id"]


def test_report_with_no_measurements_still_renders(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "empty.duckdb"))
    inputs = read_inputs(con, tmp_path)
    con.close()
    model = compute_cost_model(inputs)
    html = render_html(model)
    assert model.pricing.height == 0 and "Missing measurements" in html
    assert any("step_profiles" in m for m in inputs.missing)
    assert html.count('<img class="chart"') == 6


def test_inputs_from_the_profilers_tables(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "p.duckdb"))
    base = {"step_id": "w/tx", "mode": "precise", "action_type": "web3/transfer"}
    insert_rows(con, STEP_PROFILES, [
        {**base, "phase": "import", "calls_own": 1, "calls_packages": 100, "calls_node_internals": 1000,
         "calls_harness": 3, "calls_other": 0, "io_operations": 0, "duration_ms": 5},
        {**base, "phase": "execute", "calls_own": 2, "calls_packages": 400, "calls_node_internals": 50,
         "calls_harness": 3, "calls_other": 1, "io_operations": 3, "duration_ms": 9,
         "rpc_methods": "eth_chainId,eth_sendRawTransaction"},
        *[{"step_id": "x/broken", "mode": "precise", "phase": p, "error": "boom", "action_type": "x",
           "io_class": "http"} for p in ("import", "execute")],
    ])
    insert_rows(con, IO_REQUESTS, [
        {"step_id": "w/tx", "phase": "execute", "request_seq": 1, "rpc_method": "eth_sendRawTransaction"},
        {"step_id": "w/tx", "phase": "execute", "request_seq": 2, "rpc_method": "eth_chainId"},
        {"step_id": "w/tx", "phase": "execute", "request_seq": 3, "rpc_method": None},
    ])
    inputs = read_inputs(con, None)
    con.close()
    by = {r["step_id"]: r for r in inputs.measurements.iter_rows(named=True)}
    tx = by["w/tx"]
    assert tx["rpc_methods"] == ["eth_chainId", "eth_sendRawTransaction"]
    assert tx["calls_other"] == 3 + 3 + 1 and tx["action_type"] == "web3/transfer"
    assert tx["import_calls"] == 1 + 100 + 1000 + 3 and tx["io_operations"] == 3
    assert by["x/broken"]["error"] == "boom" and by["x/broken"]["declared_io_class"] == "http"
    pricing = compute_cost_model(inputs).pricing
    assert dict(zip(pricing["step_id"], pricing["status"], strict=True)) == {"w/tx": "ok",
                                                                            "x/broken": "profile_error"}
    assert pricing.filter(pl.col("step_id") == "w/tx")["io_class"][0] == "chain_write"
