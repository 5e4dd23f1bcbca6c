"""The graph's shape is pinned: changes to assets, groups, jobs and schedules are deliberate."""

import dagster as dg
import pytest

from wfprof_pipeline.definitions import defs

# (asset key, group) for every asset; update deliberately when the graph changes.
EXPECTED_ASSETS = {
    ("step_sources", "static_metrics"),
    ("static_metrics", "static_metrics"),
    ("static_functions", "static_metrics"),
    ("static_external_calls", "static_metrics"),
    ("static_step_metrics", "static_metrics"),
    ("step_profiles", "step_profiles"),
    ("step_package_calls", "step_profiles"),
    ("step_profile_functions", "step_profiles"),
    ("step_io_requests", "step_profiles"),
    ("platform_profiles", "step_profiles"),
    ("step_tiers", "pricing"),
    ("step_pricing", "pricing"),
    ("static_runtime_correlation", "pricing"),
    ("cost_breakdown", "pricing"),
    ("optimization_priorities", "pricing"),
    ("user_code_fuel", "wasm_fuel"),
    ("cost_report", "pricing"),
    ("step_cost_history", "pricing"),
    ("calls_cpu_fit", "pricing"),
    ("execution_costs", "pricing"),
    ("customer_usage_daily", "pricing"),
    ("workflow_costs", "pricing"),
    ("pricing_scenarios", "pricing"),
    ("fuel_limit_recommendations", "pricing"),
    ("fuel_calibrations", "wasm_fuel"),
    ("fuel_fits", "wasm_fuel"),
    ("fuel_budgets", "wasm_fuel"),
    ("fuel_fit_history", "wasm_fuel"),
    ("workflow_executions", "workflow_traces"),
    ("workflow_step_runs", "workflow_traces"),
    ("step_latency", "workflow_traces"),
    ("workflow_profiles", "workflow_profiles"),
    ("workflow_profile_steps", "workflow_profiles"),
}
EXPECTED_SCHEDULES = {
    "wfprof_nightly_schedule": ("0 2 * * *", "wfprof_nightly"),
    "workflow_traces_daily_schedule": ("30 0 * * *", "workflow_traces_daily"),
    "execution_costs_daily_schedule": ("0 1 * * *", "execution_costs_daily"),
}
EXPECTED_SENSORS = {"step_sources_sensor", "dead_runs_sensor"}


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    return defs()


def test_definitions_load(definitions: dg.Definitions) -> None:
    dg.Definitions.validate_loadable(definitions)


def test_asset_keys_and_groups_are_pinned(definitions: dg.Definitions) -> None:
    graph = definitions.resolve_asset_graph()
    actual = {
        (key.to_user_string(), graph.get(key).group_name)
        for key in graph.get_all_asset_keys()
        if graph.get(key).is_materializable
    }
    assert actual == EXPECTED_ASSETS


def test_schedules_are_pinned(definitions: dg.Definitions) -> None:
    actual = {}
    for schedule in definitions.schedules or []:
        resolved = definitions.resolve_schedule_def(schedule.name)
        actual[resolved.name] = (resolved.cron_schedule, resolved.job_name)
    assert actual == EXPECTED_SCHEDULES
    assert {sensor.name for sensor in definitions.sensors or []} == EXPECTED_SENSORS


def test_every_warehouse_writer_is_in_the_duckdb_pool(definitions: dg.Definitions) -> None:
    graph = definitions.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_materializable and "duckdb" in node.kinds:
            pools = {op.pool for op in graph.assets_def_for_key(key).node_def.iterate_op_defs()}
            assert pools == {"duckdb"}, f"{key.to_user_string()} writes DuckDB outside the pool"


def test_nightly_job_covers_every_unpartitioned_asset(definitions: dg.Definitions) -> None:
    job = definitions.resolve_job_def("wfprof_nightly")
    graph = definitions.resolve_asset_graph()
    unpartitioned = {k for k in graph.get_all_asset_keys()
                     if graph.get(k).is_materializable and graph.get(k).partitions_def is None}
    assert unpartitioned <= set(job.asset_layer.executable_asset_keys)
