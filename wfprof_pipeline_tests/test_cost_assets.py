"""The cost-model assets materialized by Dagster on a real DuckDB warehouse and a real embedded Postgres."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from wfprof_pipeline.defs.pricing import assets as cm
from wfprof_pipeline.defs.resources import (
    KeeperHubDatabase,
    SandboxResource,
    StepCorpusResource,
    WarehouseResource,
)
from wfprof_pipeline.defs.wasm_fuel import user_code
from wfprof_pipeline.lib import postgres
from wfprof_pipeline.lib.cost_model.synthetic import STEPS, UNPROFILED, build_warehouse, write_registry
from wfprof_pipeline.lib.workflows.schema import create_schema

WORKFLOWS = Path(__file__).resolve().parents[1] / "data" / "workflows"
COST_ASSETS = [cm.step_tiers, cm.step_pricing, cm.static_runtime_correlation, cm.cost_breakdown,
               cm.optimization_priorities, user_code.user_code_fuel, cm.cost_report]
TABLES = ["step_tiers", "step_pricing", "static_runtime_correlation", "cost_breakdown", "optimization_priorities",
          "user_code_fuel"]


def _seed_workflows(url: str) -> None:
    with postgres.connect(url, autocommit=True) as conn:
        create_schema(conn)
        for path in sorted(WORKFLOWS.glob("*.json")):
            doc = json.loads(path.read_text())
            conn.execute("insert into workflows (id, name, user_id, nodes, edges) values (%s, %s, %s, %s, %s)",
                         (doc["id"], doc["name"], doc.get("user_id", "u"), json.dumps(doc["nodes"]),
                          json.dumps(doc.get("edges", []))))


def _materialize(root: Path, db_url: str, monkeypatch, assets: list | None = None) -> dg.ExecuteInProcessResult:
    monkeypatch.setenv("WFPROF_STEP_REGISTRY", str(root / "registry.toml"))
    monkeypatch.setenv("WFPROF_REPORTS_DIR", str(root / "reports"))
    monkeypatch.delenv("WFPROF_PRICING_POLICY", raising=False)
    return dg.materialize(
        (assets or COST_ASSETS) + [cm.pricing_covers_every_profiled_step],
        resources={"warehouse": WarehouseResource.pinned(path=str(root / "w.duckdb")),
                   "step_corpus": StepCorpusResource.pinned(root=str(root)),
                   "keeperhub_db": KeeperHubDatabase.pinned(url=db_url), "sandbox": SandboxResource()},
        raise_on_error=False,
    )


def test_cost_assets_materialize_every_table_and_the_report(tmp_path: Path, embedded_db: str, monkeypatch) -> None:
    write_registry(tmp_path)
    build_warehouse(tmp_path / "w.duckdb", trace_rows=1_000)
    _seed_workflows(embedded_db)
    result = _materialize(tmp_path, embedded_db, monkeypatch)
    assert result.success
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        for table in TABLES:
            assert con.execute(f"select count(*) from {table}").fetchone()[0] > 0, table
        rows = con.execute("select step, tier, calls, complexity, io_operations, units, p95_latency_ms, "
                           "deterministic_calls from v_step_costs order by step").fetchall()
        fuel = con.execute("select count(*), count(*) filter (where success) from user_code_fuel").fetchone()
    assert len(rows) == len(STEPS) + 1
    transfer = next(r for r in rows if r[0] == "web3/transfer-funds")
    assert transfer[1] == "heavy" and transfer[3] == STEPS["web3/transfer-funds"][9] and transfer[6] > 0
    assert 0 < transfer[7] < transfer[2]  # own + packages, beside the all-calls basis it is tiered on
    assert next(r for r in rows if r[0] == UNPROFILED)[5] is None
    assert fuel[0] >= 1 and fuel[1] >= 1
    checks = result.get_asset_check_evaluations()
    assert [c.passed for c in checks] == [True]
    report = tmp_path / "reports" / "cost_report.html"
    assert report.is_file() and "User code in stored workflows" in report.read_text()
    assert "p95/p5 = " in report.read_text()  # the report asset reads the trace latency (other assets skip it)
    meta = result.asset_materializations_for_node("cost_report")[0].metadata
    assert "does not hold" in meta["summary"].value


def test_blocking_check_fails_when_a_profiled_step_has_no_price(tmp_path: Path, embedded_db: str,
                                                                  monkeypatch) -> None:
    write_registry(tmp_path)
    build_warehouse(tmp_path / "w.duckdb", trace_rows=100)
    # A profiled (executed) step whose profile has no request count cannot be priced. (An unknown declared
    # I/O class no longer gets this far: the registry rejects it, naming the step.)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("update step_profiles set io_operations = null where step_id = 'slack/send-message'")
    con.close()
    result = _materialize(tmp_path, embedded_db, monkeypatch,
                          [cm.step_tiers, cm.step_pricing, cm.static_runtime_correlation, cm.cost_report])
    assert not result.success
    check = result.get_asset_check_evaluations()[0]
    assert not check.passed and "slack/send-message" in check.metadata["unpriced_profiled_steps"].value
    # Blocking: nothing downstream of step_pricing ran, so no report was written.
    assert not (tmp_path / "reports" / "cost_report.html").exists()


def test_bad_policy_fails_the_asset_naming_the_field(tmp_path: Path, embedded_db: str, monkeypatch) -> None:
    write_registry(tmp_path)
    build_warehouse(tmp_path / "w.duckdb", trace_rows=10)
    policy = tmp_path / "policy.toml"
    policy.write_text("[io_multipliers]\nchain_read = -3\n")
    monkeypatch.setenv("WFPROF_PRICING_POLICY", str(policy))
    monkeypatch.setenv("WFPROF_STEP_REGISTRY", str(tmp_path / "registry.toml"))
    result = dg.materialize(
        [cm.step_tiers], resources={"warehouse": WarehouseResource.pinned(path=str(tmp_path / "w.duckdb")),
                                    "step_corpus": StepCorpusResource.pinned(root=str(tmp_path))},
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "io_multipliers.chain_read:" in failure.step_failure_data.user_failure_data.description


@pytest.mark.parametrize("table", TABLES)
def test_every_cost_asset_declares_its_table(table: str) -> None:
    spec = {a.key.to_user_string(): a for a in COST_ASSETS}[table]
    assert spec.metadata_by_key[spec.key]["dagster/table_name"] == table


@pytest.mark.parametrize("table", TABLES)
def test_every_column_is_described(table: str) -> None:
    spec = {a.key.to_user_string(): a for a in COST_ASSETS}[table]
    columns = spec.metadata_by_key[spec.key]["dagster/column_schema"].columns
    assert columns and all(c.description for c in columns), [c.name for c in columns if not c.description]


def test_history_grows_per_materialization_and_names_the_change(tmp_path: Path, embedded_db: str,
                                                                 monkeypatch) -> None:
    write_registry(tmp_path)
    build_warehouse(tmp_path / "w.duckdb", trace_rows=100)
    assets = [cm.step_tiers, cm.step_pricing, cm.step_cost_history]
    assert _materialize(tmp_path, embedded_db, monkeypatch, assets).success
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        steps = con.execute("select count(*) from step_tiers").fetchone()[0]
        assert con.execute("select count(*) from step_cost_history").fetchone()[0] == steps
    # An edited step, and one more request per Slack execution: its price moves by the chat multiplier.
    slack = tmp_path / "plugins" / "slack" / "steps" / "send-message.ts"
    slack.write_text(slack.read_text() + "// edited\n")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("update step_profiles set io_operations = io_operations + 1 where step_id = 'slack/send-message' "
                "and phase = 'execute'")
    con.close()
    assert _materialize(tmp_path, embedded_db, monkeypatch, assets).success
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from step_cost_history").fetchone()[0] == 2 * steps
        assert con.execute("select count(distinct run_id) from step_cost_history").fetchone()[0] == 2
        history = con.execute("select * from step_cost_history").pl()
    from wfprof_pipeline.lib.cost_model.history import changes

    by = {r["step_id"]: r for r in changes(history).iter_rows(named=True)}
    assert by["slack/send-message"]["units_change"] == 2.0 and by["slack/send-message"]["source_changed"] is True
    assert by["webhook/send-webhook"]["units_change"] == 0.0 and by["webhook/send-webhook"]["source_changed"] is False
    assert not any(r["dependencies_changed"] for r in by.values())
