"""Usage assets: real executions priced (thin wiring around `wfprof_pipeline.lib.usage`).

`execution_costs` is daily, on the traces' partitions; the roll-ups, the what-ifs and the fuel caps are
unpartitioned (nightly) and read the warehouse. `wfprof run` runs the two jobs here after the nightly job
(pipeline/stages.py), so the day's costs use tonight's prices.
"""

from datetime import timedelta

import dagster as dg
import polars as pl

from wfprof_pipeline.defs.metadata import markdown_table, table_metadata
from wfprof_pipeline.defs.pricing.assets import GROUP
from wfprof_pipeline.defs.resources import WarehouseResource
from wfprof_pipeline.defs.workflow_traces.partitions import traces_partitions
from wfprof_pipeline.lib import warehouse as wh
from wfprof_pipeline.lib.cost_model.inputs import exists, read_inputs, read_table
from wfprof_pipeline.lib.cost_model.policy import PolicyError, PricingPolicy, load_policy
from wfprof_pipeline.lib.fuel.sandbox import Limits
from wfprof_pipeline.lib.fuel.server import ServerConfig
from wfprof_pipeline.lib.usage import costs, fuel_limits, scenarios
from wfprof_pipeline.lib.usage.tables import (
    CUSTOMER_USAGE_DAILY,
    EXECUTION_COSTS,
    FUEL_LIMIT_RECOMMENDATIONS,
    PRICING_SCENARIOS,
    WORKFLOW_COSTS,
)

# The trace assets execution_costs reads (their tables: workflow_executions, workflow_step_runs). One place
# to change when the traces asset is split.
TRACE_ASSETS = ["workflow_executions", "workflow_step_runs"]
ROLLUPS = ("customer_usage_daily", "workflow_costs", "pricing_scenarios")


def _policy() -> PricingPolicy:
    try:
        return load_policy()
    except PolicyError as exc:  # one line in the UI, naming the field
        raise dg.Failure(description=str(exc)) from None


@dg.asset(
    group_name=GROUP, kinds={"duckdb", "polars"}, pool="duckdb",
    partitions_def=traces_partitions, tags={"partitioning": "daily"},
    deps=[*TRACE_ASSETS, "step_pricing", "step_tiers"],
    description="One row per traced execution of the day: status, step runs by status, units under the pricing "
    "policy (step_pricing per action type; trigger at usage.trigger_units; failed and cancelled executions per "
    "usage.charge_failed), steps without a price counted and flagged, measured compute (trace ms), cost_calls "
    "and warm CPU ms where the step is profiled. Re-running a day replaces exactly that day.",
    metadata=table_metadata(EXECUTION_COSTS),
)
def execution_costs(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    policy = _policy()
    span = context.partition_time_window
    start, end = span.start.date(), span.end.date()
    with warehouse.connect() as con:
        prices = costs.step_type_prices(read_table(con, "step_pricing"), read_table(con, "step_tiers"),
                                        read_inputs(con, None, latency=False).measurements)
        if exists(con, "workflow_executions") and exists(con, "workflow_step_runs"):
            frame = costs.warehouse_costs(con, start, end, prices, policy)
        else:
            frame = EXECUTION_COSTS.frame()
            context.log.warning("no trace tables yet: materialize workflow_traces first")
        wh.replace_rows(con, EXECUTION_COSTS, frame, costs.between("day", start, end))
    if prices.height == 0:
        context.log.warning("step_pricing is empty or missing: every step run is unpriced")
    unpriced = frame.filter(pl.col("unpriced_steps") > 0)
    if unpriced.height:
        types = sorted(set(",".join(unpriced["unpriced_action_types"].drop_nulls().to_list()).split(",")) - {""})
        context.log.warning(f"{unpriced.height} execution(s) ran steps without a price: {', '.join(types)}")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": frame.height,
        "days": f"{start} … {end - timedelta(days=1)}",
        "units": float(frame["units"].sum() or 0),
        "executions_with_unpriced_steps": unpriced.height,
        "policy_digest": policy.digest(),
        "charge_failed": policy.usage.charge_failed,
    })


def _costs(warehouse: WarehouseResource, context: dg.AssetExecutionContext) -> pl.DataFrame:
    with warehouse.connect() as con:
        frame = read_table(con, EXECUTION_COSTS.name)
    if frame is None:
        context.log.warning("execution_costs does not exist yet: materialize it for the trace days (`wfprof run` "
                            "prices them after the nightly job)")
        return EXECUTION_COSTS.frame()
    return frame


@dg.asset(
    group_name=GROUP, kinds={"duckdb", "polars"}, pool="duckdb", deps=["execution_costs"],
    description="Usage per customer (user id; executions without one in their own bucket) and UTC day: "
    "executions, failures, steps, units, compute and cost_calls, from execution_costs.",
    metadata=table_metadata(CUSTOMER_USAGE_DAILY),
)
def customer_usage_daily(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    table = costs.customer_usage_daily(_costs(warehouse, context))
    with warehouse.connect() as con:
        count = wh.replace_table(con, CUSTOMER_USAGE_DAILY, table)
    return dg.MaterializeResult(metadata={"dagster/row_count": count,
                                          "customers": table["subject"].n_unique() if count else 0,
                                          "preview": dg.MetadataValue.md(markdown_table(table))})


@dg.asset(
    group_name=GROUP, kinds={"duckdb", "polars"}, pool="duckdb", deps=["execution_costs"],
    description="Per workflow over the scenario window (default the last 30 days ingested): executions, units "
    "per execution p50/p95, units per day and projected per 30 days.",
    metadata=table_metadata(WORKFLOW_COSTS),
)
def workflow_costs(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    table = costs.workflow_costs(_costs(warehouse, context), _policy())
    with warehouse.connect() as con:
        count = wh.replace_table(con, WORKFLOW_COSTS, table)
    return dg.MaterializeResult(metadata={"dagster/row_count": count,
                                          "preview": dg.MetadataValue.md(markdown_table(table))})


@dg.asset(
    group_name=GROUP, kinds={"duckdb", "polars"}, pool="duckdb", deps=["execution_costs"],
    description="The window's executions replayed under each billing model with the policy's prices "
    "(usage.scenarios): wfprof units, flat per execution, per step plus per run, per compute-second, per CPU ms. "
    "Revenue per customer per model and its change against the current model (units).",
    metadata=table_metadata(PRICING_SCENARIOS),
)
def pricing_scenarios(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    table = scenarios.pricing_scenarios(_costs(warehouse, context), _policy())
    with warehouse.connect() as con:
        count = wh.replace_table(con, PRICING_SCENARIOS, table)
    return dg.MaterializeResult(metadata={"dagster/row_count": count,
                                          "totals": dg.MetadataValue.md(markdown_table(scenarios.totals(table)))})


@dg.asset(
    group_name=GROUP, kinds={"duckdb", "polars"}, pool="duckdb", deps=["user_code_fuel", "fuel_fits"],
    description="Candidate sandbox fuel caps judged on the fuel measured on the stored workflows' user code: "
    "the share of evaluations each would stop and the workflows affected; one recommended default, with its "
    "reasoning, beside the sandbox's configured default and maximum.",
    metadata=table_metadata(FUEL_LIMIT_RECOMMENDATIONS),
)
def fuel_limit_recommendations(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        user_code, fits = read_table(con, "user_code_fuel"), read_table(con, "fuel_fits")
    table = fuel_limits.recommend(user_code, fits, default_fuel=Limits().fuel, max_fuel=ServerConfig().max_fuel)
    with warehouse.connect() as con:
        count = wh.replace_table(con, FUEL_LIMIT_RECOMMENDATIONS, table)
    pick = table.filter(pl.col("recommended")).row(0, named=True)
    return dg.MaterializeResult(metadata={"dagster/row_count": count, "recommended_cap": pick["cap"],
                                          "reasoning": pick["reasoning"]})


execution_costs_job = dg.define_asset_job(
    name="execution_costs_daily", selection=[execution_costs],
    description="Price one day of traced executions (or a range of days in one run).",
)
usage_rollups_job = dg.define_asset_job(
    name="usage_rollups", selection=[*ROLLUPS, "cost_report"],
    description="Customer, workflow and scenario tables from execution_costs, and the report that shows them "
    "(all also part of the nightly job).",
)


@dg.schedule(
    name="execution_costs_daily_schedule", job=execution_costs_job, cron_schedule="0 1 * * *",
    execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
    description="At 01:00 UTC, after the traces (00:30), price yesterday's executions with the current prices; "
    "the nightly job (02:00) then rolls them up.",
)
def execution_costs_daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
    return dg.RunRequest(run_key=day, partition_key=day)
