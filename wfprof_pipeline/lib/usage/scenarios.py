"""`pricing_scenarios`: the window's executions replayed under several billing models, per customer.

Every model bills the charged executions only (an execution the policy charges nothing for, `charge = none`,
is free under every model), so the models differ in what they count, not in whom they bill.
"""

from __future__ import annotations

import polars as pl

from wfprof_pipeline.lib.cost_model.policy import PricingPolicy
from wfprof_pipeline.lib.usage.costs import in_window, window
from wfprof_pipeline.lib.usage.tables import PRICING_SCENARIOS

CURRENT_MODEL = "units"
# model → what it bills (the report's legend); the order is the tables' order.
MODELS: dict[str, str] = {
    "units": "wfprof units × unit",
    "per_execution": "executions × execution (n8n)",
    "per_step_and_run": "billable steps × step + executions × run (Inngest)",
    "compute_seconds": "step compute seconds (trace durations) × compute_second (Trigger.dev, Pipedream)",
    "cpu_ms": "profiled warm CPU ms × cpu_ms (Cloudflare Workers)",
}


def _quantities(policy: PricingPolicy) -> dict[str, tuple[pl.Expr, pl.Expr, float, pl.Expr]]:
    """model → (quantity, unmeasured flag, unit price, revenue) as expressions over one execution."""
    p = policy.usage.scenarios
    steps = pl.col("billable_steps").cast(pl.Float64)
    return {
        "units": (pl.col("units"), pl.col("unpriced_steps") > 0, p.unit, pl.col("units") * p.unit),
        "per_execution": (pl.lit(1.0), pl.lit(False), p.execution, pl.lit(p.execution)),
        "per_step_and_run": (steps, pl.lit(False), p.step, steps * p.step + p.run),
        "compute_seconds": (pl.col("compute_ms") / 1000, pl.lit(False), p.compute_second,
                            pl.col("compute_ms") / 1000 * p.compute_second),
        "cpu_ms": (pl.col("cpu_ms").fill_null(0.0), pl.col("cpu_ms").is_null(), p.cpu_ms,
                   pl.col("cpu_ms").fill_null(0.0) * p.cpu_ms),
    }


def pricing_scenarios(costs: pl.DataFrame, policy: PricingPolicy) -> pl.DataFrame:
    span = window(costs, policy.usage.scenario_window_days)
    part = in_window(costs, span).filter(pl.col("charge") != "none")
    if span is None or not part.height:
        return PRICING_SCENARIOS.frame()
    per_model = []
    for model, (quantity, unmeasured, price, revenue) in _quantities(policy).items():
        # Per execution first (a literal broadcasts there; summed in an aggregation it would count once).
        per_model.append(part.lazy().select(
            "subject", quantity.cast(pl.Float64).alias("quantity"), revenue.cast(pl.Float64).alias("revenue"),
            unmeasured.alias("unmeasured"),
        ).group_by("subject").agg(
            pl.len().cast(pl.Int64).alias("executions"), pl.col("quantity").sum(), pl.col("revenue").sum(),
            pl.col("unmeasured").sum().cast(pl.Int64).alias("unmeasured_executions"),
        ).with_columns(pl.lit(model).alias("model"), pl.lit(float(price)).alias("unit_price")))
    frame = pl.concat(per_model).collect()
    current = frame.filter(pl.col("model") == CURRENT_MODEL).select("subject",
                                                                     pl.col("revenue").alias("current_revenue"))
    change = pl.col("revenue") - pl.col("current_revenue")
    out = frame.join(current, on="subject", how="left").with_columns(
        change.alias("change"),
        pl.when(pl.col("current_revenue") != 0).then(change / pl.col("current_revenue")).alias("change_pct"),
        pl.lit(span[0]).alias("window_start"), pl.lit(span[1]).alias("window_end"),
    ).with_columns(
        pl.col("change").rank("ordinal", descending=True).over("model").cast(pl.Int64).alias("change_rank"))
    order = {m: i for i, m in enumerate(MODELS)}
    return (PRICING_SCENARIOS.conform(out)
            .sort(pl.col("model").replace_strict(order, return_dtype=pl.Int32), "change_rank"))


def totals(scenarios: pl.DataFrame) -> pl.DataFrame:
    """Per model: customers, revenue, the current model's, the change, and who moves most each way."""
    if not scenarios.height:
        return pl.DataFrame(schema={"model": pl.Utf8, "customers": pl.Int64, "revenue": pl.Float64,
                                    "current_revenue": pl.Float64, "change": pl.Float64,
                                    "pays_most_more": pl.Utf8, "pays_most_less": pl.Utf8})
    order = {m: i for i, m in enumerate(MODELS)}

    def mover(expr: pl.Expr, descending: bool) -> pl.Expr:
        return (pl.when(expr).then(pl.col("subject") + " (" + pl.col("change").round(4).cast(pl.Utf8) + ")")
                .sort_by("change", descending=descending).drop_nulls().first())

    return (scenarios.group_by("model").agg(
        pl.len().cast(pl.Int64).alias("customers"), pl.col("revenue").sum(), pl.col("current_revenue").sum(),
        pl.col("change").sum(),
        mover(pl.col("change") > 0, True).alias("pays_most_more"),
        mover(pl.col("change") < 0, False).alias("pays_most_less"),
    ).sort(pl.col("model").replace_strict(order, return_dtype=pl.Int32)))
