"""`execution_costs` from the traces, vectorised in polars, and the roll-ups per customer-day and per workflow.

A step run is priced by its action type (`workflow_step_runs.action_type` = `step_pricing.step_type`). When
several steps implement one action type, the step named after it is the price (as the report's latency
join does), else the first by step id. The trigger has its own price (policy `usage.trigger_units`).
"""

from __future__ import annotations

from datetime import date, timedelta

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


def _charged(policy: PricingPolicy) -> pl.Expr:
    """Whether a step run is charged, from its execution's status (`ex_status`) and its own."""
    step_ok = pl.col("status") == SUCCESS
    mode = policy.usage.charge_failed
    on_failure = pl.lit(True) if mode == "full" else step_ok if mode == "steps_run" else pl.lit(False)
    return (pl.when(pl.col("ex_status") == SUCCESS).then(pl.lit(True))
            .when(pl.col("ex_status").is_in(FAILED_STATUSES)).then(on_failure)
            .otherwise(step_ok))


def execution_costs(executions: pl.DataFrame, step_runs: pl.DataFrame, prices: pl.DataFrame,
                    policy: PricingPolicy) -> pl.DataFrame:
    """One row per execution (EXECUTION_COSTS). Step runs of executions not in `executions` are ignored."""
    ex = executions.select(EXECUTION_INPUT)
    trigger = pl.col("action_type") == TRIGGER_ACTION_TYPE
    runs = (step_runs.lazy().select(STEP_RUN_INPUT)
            .join(ex.lazy().select("execution_id", pl.col("status").alias("ex_status")), on="execution_id")
            .join(prices.lazy(), on="action_type", how="left")
            .with_columns(
                pl.when(trigger).then(pl.lit(policy.usage.trigger_units)).otherwise(pl.col("units")).alias("price"),
                _charged(policy).alias("charged"),
            ))
    charged = pl.col("charged")
    unpriced = charged & pl.col("price").is_null()
    agg = runs.group_by("execution_id").agg(
        pl.len().cast(pl.Int64).alias("steps_run"),
        (pl.col("status") == SUCCESS).sum().cast(pl.Int64).alias("steps_succeeded"),
        (pl.col("status") == "error").sum().cast(pl.Int64).alias("steps_failed"),
        charged.sum().cast(pl.Int64).alias("steps_charged"),
        (charged & ~trigger.fill_null(False)).sum().cast(pl.Int64).alias("billable_steps"),
        pl.col("price").filter(charged).sum().alias("units"),
        unpriced.sum().cast(pl.Int64).alias("unpriced_steps"),
        pl.col("action_type").filter(unpriced).fill_null("(none)").unique().sort().str.join(",")
        .alias("unpriced_action_types"),
        pl.col("duration_ms").sum().alias("compute_ms"),
        pl.when(pl.col("cost_calls").is_not_null().any()).then(pl.col("cost_calls").sum()).alias("cost_calls"),
        pl.when(pl.col("cpu_ms").is_not_null().any()).then(pl.col("cpu_ms").sum()).alias("cpu_ms"),
        pl.col("cost_calls").is_not_null().sum().cast(pl.Int64).alias("profiled_steps"),
    )
    mode = policy.usage.charge_failed
    status = pl.col("status")
    out = (ex.lazy().join(agg, on="execution_id", how="left")
           .with_columns(
               pl.col("user_id").fill_null(NO_USER_SUBJECT).alias("subject"),
               pl.col("started_at").dt.date().alias("day"),
               pl.when(status == SUCCESS).then(pl.lit("complete"))
               .when(status.is_in(FAILED_STATUSES)).then(pl.lit(mode)).otherwise(pl.lit("steps_run")).alias("charge"),
               *[pl.col(c).fill_null(0) for c in ("steps_run", "steps_succeeded", "steps_failed", "steps_charged",
                                                  "billable_steps", "unpriced_steps", "profiled_steps")],
               pl.col("units").fill_null(0.0), pl.col("compute_ms").fill_null(0.0),
               pl.col("duration_ms").alias("execution_ms"),
               pl.when(pl.col("unpriced_action_types") != "").then(pl.col("unpriced_action_types"))
               .alias("unpriced_action_types"),
               pl.lit(policy.digest()).alias("policy_digest"),
           )
           .with_columns((pl.col("steps_run") - pl.col("steps_succeeded") - pl.col("steps_failed"))
                         .alias("steps_other"))
           .collect())
    return EXECUTION_COSTS.conform(out).sort("started_at", "execution_id")


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
