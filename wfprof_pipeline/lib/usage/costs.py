"""`execution_costs` from the traces (DuckDB SQL), and the roll-ups per customer-day and per workflow (polars).

A step run is priced by its action type (`workflow_step_runs.action_type` = `step_pricing.step_type`). When
several steps implement one action type, the step named after it is the price (as the report's latency
join does), else the first by step id. The trigger has its own price (policy `usage.trigger_units`).
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import polars as pl

from wfprof_pipeline.lib.cost_model.policy import PricingPolicy
from wfprof_pipeline.lib.usage.tables import (
    CUSTOMER_USAGE_DAILY,
    EXECUTION_COSTS,
    NO_USER_SUBJECT,
    WORKFLOW_COSTS,
)

TRIGGER_ACTION_TYPE = "trigger"
FAILED_STATUSES = ("error", "cancelled")
SUCCESS = "success"
PRICE_SCHEMA = {"action_type": pl.Utf8, "units": pl.Float64, "cost_calls": pl.Float64, "cpu_ms": pl.Float64}
EXECUTION_INPUT = ("execution_id", "workflow_id", "user_id", "status", "started_at", "duration_ms")
STEP_RUN_INPUT = ("execution_id", "action_type", "status", "duration_ms")


def step_type_prices(pricing: pl.DataFrame | None, tiers: pl.DataFrame | None,
                     measurements: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per action type: units (step_pricing.total_units), cost_calls (step_tiers) and warm CPU ms."""
    if pricing is None or not pricing.height:
        return pl.DataFrame(schema=PRICE_SCHEMA)
    frame = pricing.select("step_id", pl.col("step_type").alias("action_type"),
                           pl.col("total_units").cast(pl.Float64).alias("units"))
    if tiers is not None and "cost_calls" in tiers.columns:
        frame = frame.join(tiers.select("step_id", pl.col("cost_calls").cast(pl.Float64)), on="step_id", how="left")
    else:
        frame = frame.with_columns(pl.lit(None, pl.Float64).alias("cost_calls"))
    if measurements is not None and "warm_cpu_ms" in measurements.columns:
        cpu = measurements.select("step_id", pl.col("warm_cpu_ms").cast(pl.Float64).alias("cpu_ms"))
        frame = frame.join(cpu.unique("step_id", keep="first"), on="step_id", how="left")
    else:
        frame = frame.with_columns(pl.lit(None, pl.Float64).alias("cpu_ms"))
    named_after = (pl.col("step_id") != pl.col("action_type")).cast(pl.Int8)  # 0 sorts first
    return (frame.filter(pl.col("action_type").is_not_null())
            .sort([named_after, "step_id"]).unique("action_type", keep="first", maintain_order=True)
            .select(list(PRICE_SCHEMA)).sort("action_type"))


def _charged_sql(policy: PricingPolicy) -> str:
    """Whether a step run is charged, from its execution's status (`ex_status`) and its own (SQL)."""
    on_failure = {"full": "true", "steps_run": "s.status = 'success'", "none": "false"}[policy.usage.charge_failed]
    failed = ", ".join(f"'{s}'" for s in FAILED_STATUSES)
    return (f"case when e.ex_status = '{SUCCESS}' then true when e.ex_status in ({failed}) then {on_failure} "
            f"else s.status = '{SUCCESS}' end")


# DuckDB, not polars: the join and the group-by over a million string-keyed step runs run several times faster
# there, and the asset's rows never leave the warehouse until they are aggregated.
_COSTS_SQL = """
with ex as (select execution_id, workflow_id, user_id, status, started_at, duration_ms from {executions}),
runs as (
    select s.execution_id, s.action_type, s.status, s.duration_ms, p.cost_calls, p.cpu_ms,
           case when s.action_type = '{trigger_type}' then {trigger_units}::double else p.units end as price,
           {charged} as charged
    from (select execution_id, action_type, status, duration_ms from {step_runs}) s
    join (select execution_id, status as ex_status from ex) e using (execution_id)
    left join _wfprof_prices p using (action_type)
),
agg as (
    select execution_id,
           count(*) as steps_run,
           count(*) filter (status = '{success}') as steps_succeeded,
           count(*) filter (status = 'error') as steps_failed,
           count(*) filter (charged) as steps_charged,
           count(*) filter (charged and action_type is distinct from '{trigger_type}') as billable_steps,
           coalesce(sum(price) filter (charged), 0) as units,
           count(*) filter (charged and price is null) as unpriced_steps,
           coalesce(sum(duration_ms), 0) as compute_ms,
           sum(cost_calls) as cost_calls,
           sum(cpu_ms) as cpu_ms,
           count(cost_calls) as profiled_steps
    from runs group by execution_id
),
unpriced as (  -- only the few executions with a step without a price
    select execution_id, string_agg(distinct coalesce(action_type, '(none)'), ',' order by
           coalesce(action_type, '(none)')) as unpriced_action_types
    from runs where charged and price is null group by execution_id
)
select ex.*, agg.* exclude (execution_id), unpriced.unpriced_action_types
from ex left join agg using (execution_id) left join unpriced using (execution_id)
"""


def execution_costs_sql(con: duckdb.DuckDBPyConnection, executions: str, step_runs: str, prices: pl.DataFrame,
                        policy: PricingPolicy) -> pl.DataFrame:
    """EXECUTION_COSTS from two relations on `con` (table names, or subqueries in parentheses, built by the
    caller from trusted values). Step runs of executions not in `executions` are ignored."""
    con.register("_wfprof_prices", prices.select(list(PRICE_SCHEMA)).cast(PRICE_SCHEMA))
    try:
        sql = _COSTS_SQL.format(executions=executions, step_runs=step_runs, charged=_charged_sql(policy),
                                trigger_type=TRIGGER_ACTION_TYPE, trigger_units=repr(float(policy.usage.trigger_units)),
                                success=SUCCESS)
        frame = con.execute(sql).pl()
    finally:
        con.unregister("_wfprof_prices")
    status = pl.col("status")
    counts = ("steps_run", "steps_succeeded", "steps_failed", "steps_charged", "billable_steps", "unpriced_steps",
              "profiled_steps")
    out = frame.with_columns(
        pl.col("user_id").fill_null(NO_USER_SUBJECT).alias("subject"),
        pl.col("started_at").dt.date().alias("day"),
        pl.when(status == SUCCESS).then(pl.lit("complete")).when(status.is_in(FAILED_STATUSES))
        .then(pl.lit(policy.usage.charge_failed)).otherwise(pl.lit("steps_run")).alias("charge"),
        *[pl.col(c).fill_null(0).cast(pl.Int64) for c in counts],
        pl.col("units").fill_null(0.0), pl.col("compute_ms").fill_null(0.0),
        pl.col("duration_ms").alias("execution_ms"),
        pl.lit(policy.digest()).alias("policy_digest"),
    ).with_columns((pl.col("steps_run") - pl.col("steps_succeeded") - pl.col("steps_failed")).alias("steps_other"))
    return EXECUTION_COSTS.conform(out).sort("started_at", "execution_id")


def between(column: str, start: date, end: date) -> str:
    """`start <= column < end` as SQL (dates from the partition, never user text)."""
    return f"{column} >= timestamp '{start.isoformat()}' and {column} < timestamp '{end.isoformat()}'"


def warehouse_costs(con: duckdb.DuckDBPyConnection, start: date, end: date, prices: pl.DataFrame,
                    policy: PricingPolicy) -> pl.DataFrame:
    """execution_costs of the executions that started in [start, end), from the warehouse's trace tables.

    A step belongs to its execution's day, even one that ran past midnight."""
    day = between("started_at", start, end)
    return execution_costs_sql(
        con, f"(select * from workflow_executions where {day})",
        f"(select * from workflow_step_runs where execution_id in "
        f"(select execution_id from workflow_executions where {day}))", prices, policy)


def execution_costs(executions: pl.DataFrame, step_runs: pl.DataFrame, prices: pl.DataFrame,
                    policy: PricingPolicy) -> pl.DataFrame:
    """execution_costs_sql over frames (an in-memory DuckDB)."""
    with duckdb.connect() as con:
        con.register("_wfprof_ex", executions.select(EXECUTION_INPUT))
        con.register("_wfprof_sr", step_runs.select(STEP_RUN_INPUT))
        return execution_costs_sql(con, "_wfprof_ex", "_wfprof_sr", prices, policy)


def customer_usage_daily(costs: pl.DataFrame) -> pl.DataFrame:
    out = costs.group_by("subject", "day").agg(
        pl.len().cast(pl.Int64).alias("executions"),
        pl.col("status").is_in(FAILED_STATUSES).sum().cast(pl.Int64).alias("failed_executions"),
        pl.col("workflow_id").n_unique().cast(pl.Int64).alias("workflows"),
        pl.col("steps_run").sum(), pl.col("billable_steps").sum(), pl.col("units").sum(),
        pl.col("unpriced_steps").sum(), pl.col("compute_ms").sum(),
        pl.when(pl.col("cost_calls").is_not_null().any()).then(pl.col("cost_calls").sum()).alias("cost_calls"),
    )
    return CUSTOMER_USAGE_DAILY.conform(out).sort("day", "subject")


def window(costs: pl.DataFrame, days: int) -> tuple[date, date] | None:
    """(first, last) day of the last `days` days ingested, ending at the last day with executions."""
    if not costs.height:
        return None
    last = costs["day"].max()
    return last - timedelta(days=days - 1), last


def in_window(costs: pl.DataFrame, span: tuple[date, date] | None) -> pl.DataFrame:
    if span is None:
        return costs.clear()
    return costs.filter(pl.col("day").is_between(span[0], span[1]))


def workflow_costs(costs: pl.DataFrame, policy: PricingPolicy) -> pl.DataFrame:
    span = window(costs, policy.usage.scenario_window_days)
    part = in_window(costs, span)
    if span is None or not part.height:
        return WORKFLOW_COSTS.frame()
    days = (span[1] - part["day"].min()).days + 1
    out = part.group_by("workflow_id").agg(
        pl.len().cast(pl.Int64).alias("executions"),
        pl.col("status").is_in(FAILED_STATUSES).sum().cast(pl.Int64).alias("failed_executions"),
        pl.col("subject").n_unique().cast(pl.Int64).alias("subjects"),
        pl.col("units").sum().alias("units_total"),
        pl.col("units").median().alias("units_per_execution_p50"),
        pl.col("units").quantile(0.95, interpolation="linear").alias("units_per_execution_p95"),
        pl.col("compute_ms").median().alias("compute_ms_p50"),
        pl.col("unpriced_steps").sum(),
    ).with_columns(
        (pl.col("units_total") / days).alias("units_per_day"),
        (pl.col("units_total") / days * 30).alias("projected_units_30d"),
        pl.lit(span[0]).alias("window_start"), pl.lit(span[1]).alias("window_end"),
    )
    return WORKFLOW_COSTS.conform(out).sort("units_total", "workflow_id", descending=[True, False])
