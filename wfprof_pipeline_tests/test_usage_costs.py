"""execution_costs and the roll-ups on a hand-computed fixture; scenarios per model; the policy's usage section."""

from __future__ import annotations

from datetime import date

import dagster as dg
import duckdb
import polars as pl
import pytest

from wfprof_pipeline.defs.pricing.usage import (
    customer_usage_daily,
    execution_costs,
    fuel_limit_recommendations,
    pricing_scenarios,
    workflow_costs,
)
from wfprof_pipeline.defs.resources import WarehouseResource
from wfprof_pipeline.lib.cost_model.policy import PolicyError, PricingPolicy, load_policy, parse_policy
from wfprof_pipeline.lib.usage import costs, fuel_limits, scenarios
from wfprof_pipeline.lib.usage.tables import NO_USER_SUBJECT
from wfprof_pipeline_tests import usage_fixtures as fx

PRICES = {"unit": 0.5, "execution": 2.0, "step": 0.25, "run": 1.0, "compute_second": 10.0, "cpu_ms": 0.1}


def _policy(mode: str = "steps_run", trigger: float = 0.5) -> PricingPolicy:
    return parse_policy({"usage": {"charge_failed": mode, "trigger_units": trigger, "scenarios": PRICES}})


def _units(mode: str) -> dict[str, float]:
    frame = costs.execution_costs(fx.EXECUTIONS, fx.STEP_RUNS, fx.PRICES, _policy(mode))
    return dict(zip(frame["execution_id"], frame["units"], strict=True))


@pytest.mark.parametrize(("mode", "expected"), [
    # e1: 0.5 + 3 + 3; e2 (error): full 0.5+3+3, steps_run 0.5+3, none 0; e3 (cancelled): 0.5+3 unless none;
    # e4: the trigger only (y has no price).
    ("full", {"e1": 6.5, "e2": 6.5, "e3": 3.5, "e4": 0.5}),
    ("steps_run", {"e1": 6.5, "e2": 3.5, "e3": 3.5, "e4": 0.5}),
    ("none", {"e1": 6.5, "e2": 0.0, "e3": 0.0, "e4": 0.5}),
])
def test_units_per_execution_under_each_charge_failed_mode(mode, expected):
    assert _units(mode) == expected


def test_execution_costs_counts_steps_flags_unpriced_and_buckets_missing_users():
    frame = costs.execution_costs(fx.EXECUTIONS, fx.STEP_RUNS, fx.PRICES, _policy("steps_run"))
    rows = {r["execution_id"]: r for r in frame.iter_rows(named=True)}
    e2 = rows["e2"]
    assert (e2["steps_run"], e2["steps_succeeded"], e2["steps_failed"], e2["steps_other"]) == (3, 2, 1, 0)
    assert (e2["steps_charged"], e2["billable_steps"], e2["charge"]) == (2, 1, "steps_run")
    assert e2["compute_ms"] == 31.0 and e2["cost_calls"] == 200.0 and e2["cpu_ms"] == 4.0
    e4 = rows["e4"]
    assert (e4["unpriced_steps"], e4["unpriced_action_types"]) == (1, "y")
    assert e4["user_id"] is None and e4["subject"] == NO_USER_SUBJECT
    assert e4["cost_calls"] is None and e4["profiled_steps"] == 0 and e4["day"] == fx.DAY2
    assert rows["e1"]["charge"] == "complete" and rows["e1"]["unpriced_action_types"] is None
    assert set(frame["policy_digest"]) == {_policy("steps_run").digest()}


def test_trigger_price_defaults_to_zero():
    frame = costs.execution_costs(fx.EXECUTIONS, fx.STEP_RUNS, fx.PRICES, PricingPolicy())
    assert dict(zip(frame["execution_id"], frame["units"], strict=True))["e4"] == 0.0


def test_prices_come_from_the_step_named_after_the_action_type():
    prices = costs.step_type_prices(fx.STEP_PRICING, fx.STEP_TIERS)
    assert prices.to_dicts() == [{"action_type": "x", "units": 3.0, "cost_calls": 100.0, "cpu_ms": None}]


def _revenue(frame: pl.DataFrame) -> dict[tuple[str, str], float]:
    return {(r["model"], r["subject"]): round(r["revenue"], 9) for r in frame.iter_rows(named=True)}


def test_scenario_revenue_per_customer_under_each_model():
    # steps_run: alice = e1 (6.5 units, 2 billable steps, 23 ms, 4 CPU ms) + e2 (3.5 units, 1 step, 31 ms,
    # 4 CPU ms: CPU is what the step runs used); bob = e3 (3.5, 1, 15 ms, 2); no user = e4 (0.5, 1, 6 ms, no CPU).
    frame = scenarios.pricing_scenarios(
        costs.execution_costs(fx.EXECUTIONS, fx.STEP_RUNS, fx.PRICES, _policy("steps_run")), _policy("steps_run"))
    nobody = NO_USER_SUBJECT
    assert _revenue(frame) == {
        ("units", "alice"): 5.0, ("units", "bob"): 1.75, ("units", nobody): 0.25,
        ("per_execution", "alice"): 4.0, ("per_execution", "bob"): 2.0, ("per_execution", nobody): 2.0,
        ("per_step_and_run", "alice"): 2.75, ("per_step_and_run", "bob"): 1.25, ("per_step_and_run", nobody): 1.25,
        ("compute_seconds", "alice"): 0.54, ("compute_seconds", "bob"): 0.15, ("compute_seconds", nobody): 0.06,
        ("cpu_ms", "alice"): 0.8, ("cpu_ms", "bob"): 0.2, ("cpu_ms", nobody): 0.0,
    }
    per_exec = frame.filter(pl.col("model") == "per_execution")
    alice = per_exec.filter(pl.col("subject") == "alice").row(0, named=True)
    assert (alice["current_revenue"], alice["change"], alice["change_pct"]) == (5.0, -1.0, -0.2)
    # bob's bill rises most (+0.25), alice's falls (-1.0): ranks 1 and 3
    assert dict(zip(per_exec["subject"], per_exec["change_rank"], strict=True)) == {nobody: 1, "bob": 2, "alice": 3}
    cpu = frame.filter((pl.col("model") == "cpu_ms") & (pl.col("subject") == nobody)).row(0, named=True)
    assert cpu["unmeasured_executions"] == 1
    units = frame.filter((pl.col("model") == "units") & (pl.col("subject") == nobody)).row(0, named=True)
    assert units["unmeasured_executions"] == 1


def test_scenarios_leave_out_executions_charged_nothing():
    policy = _policy("none")
    frame = scenarios.pricing_scenarios(costs.execution_costs(fx.EXECUTIONS, fx.STEP_RUNS, fx.PRICES, policy),
                                        policy)
    assert _revenue(frame)[("per_execution", "alice")] == 2.0  # e2 (error) is free under charge_failed = none
    assert "bob" not in frame["subject"].to_list()  # e3 (cancelled) was bob's only execution


def test_workflow_costs_and_customer_days():
    c = costs.execution_costs(fx.EXECUTIONS, fx.STEP_RUNS, fx.PRICES, _policy("full"))
    wf = {r["workflow_id"]: r for r in costs.workflow_costs(c, _policy("full")).iter_rows(named=True)}
    # wf_a: 6.5 + 6.5 over the 2 days of data; wf_b: 3.5 + 0.5
    assert wf["wf_a"]["units_total"] == 13.0 and wf["wf_a"]["units_per_day"] == 6.5
    assert wf["wf_a"]["projected_units_30d"] == 195.0 and wf["wf_b"]["units_per_execution_p50"] == 2.0
    assert wf["wf_b"]["subjects"] == 2 and wf["wf_b"]["unpriced_steps"] == 1
    daily = costs.customer_usage_daily(c)
    assert daily.select("subject", "day", "executions", "failed_executions", "units").rows() == [
        ("alice", fx.DAY1, 2, 1, 13.0), ("bob", fx.DAY1, 1, 1, 3.5), (NO_USER_SUBJECT, fx.DAY2, 1, 0, 0.5)]


def test_scenario_window_is_the_last_days_ingested():
    policy = parse_policy({"usage": {"scenario_window_days": 1, "scenarios": PRICES}})
    frame = scenarios.pricing_scenarios(costs.execution_costs(fx.EXECUTIONS, fx.STEP_RUNS, fx.PRICES, policy),
                                        policy)
    assert set(frame["subject"]) == {NO_USER_SUBJECT} and set(frame["window_start"]) == {fx.DAY2}


@pytest.mark.parametrize(("scenario", "field"), [
    ({"unit": 1, "execution": 1, "step": 1, "run": 1, "compute_second": 1}, "usage.scenarios.cpu_ms: Field required"),
    ({**PRICES, "step": -0.1}, "usage.scenarios.step: Input should be greater than or equal to 0"),
])
def test_a_missing_or_negative_scenario_price_is_a_one_line_error_naming_the_field(tmp_path, scenario, field):
    path = tmp_path / "policy.toml"
    path.write_text("[usage.scenarios]\n" + "".join(f"{k} = {v}\n" for k, v in scenario.items()))
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert field in str(err.value) and "\n" not in str(err.value)


def test_charge_failed_accepts_only_its_modes():
    with pytest.raises(PolicyError, match="usage.charge_failed"):
        parse_policy({"usage": {"charge_failed": "half"}})


def test_policy_digest_is_stable_for_the_same_content_and_changes_with_it(tmp_path):
    a, b = tmp_path / "a.toml", tmp_path / "b.json"
    a.write_text("[usage]\ntrigger_units = 1\n\n[units]\nheavy = 5\nlight = 1\n")
    b.write_text('{"units": {"light": 1.0, "heavy": 5}, "usage": {"trigger_units": 1.0}}')
    assert load_policy(a).digest() == load_policy(b).digest()
    assert load_policy(a).digest() != PricingPolicy().digest()
    assert PricingPolicy().digest() == parse_policy({}).digest()


def test_fuel_caps_from_measured_user_code():
    code = pl.DataFrame({
        "workflow_id": ["wf_a", "wf_b", "wf_c"], "fuel_consumed": [40_000_000, 3_000_000, 500_000_000],
        "fuel_budget": [500_000_000] * 3, "success": [True, True, False], "error_kind": [None, None, "out_of_fuel"]})
    frame = fuel_limits.recommend(code, pl.DataFrame({"fixed_fuel": [2_500_000.0]}),
                                  default_fuel=2_000_000_000, max_fuel=20_000_000_000)
    by_cap = {r["cap"]: r for r in frame.iter_rows(named=True)}
    assert (by_cap[10_000_000]["stopped"], by_cap[10_000_000]["affected_workflows"]) == (2, "wf_a,wf_c")
    assert by_cap[10_000_000]["stopped_share"] == pytest.approx(2 / 3)
    (pick,) = frame.filter(pl.col("recommended")).iter_rows(named=True)
    # 10 × the 40M peak = 400M → the smallest candidate at or above it is 500M; wf_c fails under any cap
    assert pick["cap"] == 500_000_000 and pick["stopped"] == 1 and "40,000,000" in pick["reasoning"]
    assert pick["sandbox_max_fuel"] == 20_000_000_000


def test_fuel_caps_without_measurements_keep_the_sandbox_default():
    frame = fuel_limits.recommend(None, None, default_fuel=2_000_000_000, max_fuel=20_000_000_000)
    (pick,) = frame.filter(pl.col("recommended")).iter_rows(named=True)
    assert pick["cap"] == 2_000_000_000 and "no user code" in pick["reasoning"]


def _rows(path) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("select * exclude (policy_digest) from execution_costs order by execution_id").fetchall()


def test_rerunning_a_day_replaces_exactly_that_day(warehouse_path, monkeypatch):
    fx.write_warehouse(warehouse_path)
    monkeypatch.delenv("WFPROF_PRICING_POLICY", raising=False)
    resources = {"warehouse": WarehouseResource.pinned(path=warehouse_path)}
    with dg.instance_for_test() as instance:
        for day in (fx.DAY1, fx.DAY2):
            assert dg.materialize([execution_costs], partition_key=day.isoformat(), resources=resources,
                                  instance=instance).success
        first = _rows(warehouse_path)
        assert [r[0] for r in first] == ["e1", "e2", "e3", "e4"]
        assert dg.materialize([execution_costs], partition_key=fx.DAY1.isoformat(), resources=resources,
                              instance=instance).success
        assert _rows(warehouse_path) == first
        # Day 1 loses an execution at the source: its re-run drops it, day 2 is untouched.
        with duckdb.connect(str(warehouse_path)) as con:
            con.execute("delete from workflow_executions where execution_id = 'e3'")
        assert dg.materialize([execution_costs], partition_key=fx.DAY1.isoformat(), resources=resources,
                              instance=instance).success
        assert [r[0] for r in _rows(warehouse_path)] == ["e1", "e2", "e4"]
        rollups = dg.materialize([customer_usage_daily, workflow_costs, pricing_scenarios,
                                  fuel_limit_recommendations], resources=resources, instance=instance)
        assert rollups.success
    with duckdb.connect(str(warehouse_path), read_only=True) as con:
        assert con.execute("select count(*) from pricing_scenarios").fetchone()[0] == 5 * 2  # alice, (no user)
        # the default policy: trigger 0, steps_run → e1 3 + 3, e2 3, e4 0
        assert con.execute("select sum(units) from customer_usage_daily").fetchone()[0] == 9.0
        assert con.execute("select count(*) from fuel_limit_recommendations where recommended").fetchone()[0] == 1
        comment = con.execute("select comment from duckdb_columns() where table_name = 'execution_costs' "
                              "and column_name = 'unpriced_steps'").fetchone()[0]
    assert "has no price" in comment


def test_a_range_of_days_in_one_run(warehouse_path):
    fx.write_warehouse(warehouse_path)
    resources = {"warehouse": WarehouseResource.pinned(path=warehouse_path)}
    with dg.instance_for_test() as instance:
        result = dg.materialize([execution_costs], resources=resources, instance=instance, tags={
            "dagster/asset_partition_range_start": fx.DAY1.isoformat(),
            "dagster/asset_partition_range_end": fx.DAY2.isoformat()})
        assert result.success
    assert [r[0] for r in _rows(warehouse_path)] == ["e1", "e2", "e3", "e4"]
    assert date(2026, 3, 3) in {r[4] for r in _rows(warehouse_path)}
