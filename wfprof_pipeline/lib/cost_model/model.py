"""Compute the whole cost model from `CostInputs`: what the assets, `wfprof report` and the benchmark run."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

import polars as pl

from wfprof_pipeline.lib.cost_model.breakdown import breakdown_table
from wfprof_pipeline.lib.cost_model.claims import ClaimCheck, check_claims
from wfprof_pipeline.lib.cost_model.correlation import RUNTIME_MEASURES, STATIC_METRICS, correlation_table
from wfprof_pipeline.lib.cost_model.inputs import CostInputs
from wfprof_pipeline.lib.cost_model.policy import PricingPolicy
from wfprof_pipeline.lib.cost_model.pricing import price_steps
from wfprof_pipeline.lib.cost_model.priorities import priorities_table
from wfprof_pipeline.lib.cost_model.tables import PRICING_CONTEXT, STEP_PRICING
from wfprof_pipeline.lib.cost_model.tiers import assign_tiers


@dataclass
class CostModel:
    policy: PricingPolicy
    inputs: CostInputs
    tiers: pl.DataFrame
    pricing: pl.DataFrame
    per_step: pl.DataFrame  # tiers + static metrics + runtime measures, one row per step
    correlation: pl.DataFrame
    breakdown: pl.DataFrame
    priorities: pl.DataFrame
    claims: list[ClaimCheck] = field(default_factory=list)

    @property
    def unpriced_profiled_steps(self) -> list[str]:
        """Steps that have a successful profile but no price (what the blocking check looks for)."""
        m = self.inputs.measurements.filter(pl.col("profiled").fill_null(False) & pl.col("error").is_null()
                                            & pl.col("executed").fill_null(True))
        priced = set(self.pricing.filter(pl.col("total_units").is_not_null())["step_id"].to_list())
        return sorted(set(m["step_id"].to_list()) - priced)


def fuel_per_op_median(fits: pl.DataFrame | None) -> float | None:
    """The median over calibration workloads of the fitted marginal fuel per operation."""
    if fits is None or "fuel_per_op" not in fits.columns:
        return None
    values = [v for v in fits["fuel_per_op"].to_list() if v is not None and v > 0]
    if "workload" in fits.columns:
        values = [v for w, v in zip(fits["workload"].to_list(), fits["fuel_per_op"].to_list(), strict=True)
                  if v is not None and v > 0 and w != "baseline"]
    return statistics.median(values) if values else None


def per_step_frame(inputs: CostInputs, tiers: pl.DataFrame, pricing: pl.DataFrame) -> pl.DataFrame:
    frame = tiers.join(
        inputs.measurements.select(["step_id", "execute_calls", "import_calls", "duration_ms", "module_load_ms"]),
        on="step_id", how="left",
    ).join(pricing.select(["step_id", "io_operations", "io_class", "total_units"]), on="step_id", how="left")
    if inputs.static is not None:
        static = inputs.static.filter(pl.col("step_id").is_not_null()).unique("step_id", keep="first")
        frame = frame.join(static, on="step_id", how="left")
    if inputs.latency is not None and inputs.latency.height:
        lat = inputs.latency.select(pl.col("action_type"), pl.col("p95").alias("p95_latency_ms"))
        frame = frame.join(lat, on="action_type", how="left")
    else:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Float64).alias("p95_latency_ms"))
    # Traces are per action type: of several steps implementing one (a viem variant of a balance read), only
    # the one named after it gets the latency; the others show none and say why.
    owner = {}
    for sid, action in zip(frame["step_id"].to_list(), frame["action_type"].to_list(), strict=True):
        if action is not None:
            owner.setdefault(action, []).append(sid)
    notes = []
    for sid, action in zip(frame["step_id"].to_list(), frame["action_type"].to_list(), strict=True):
        sharing = owner.get(action, [])
        primary = action if action in sharing else None
        notes.append(None if len(sharing) < 2 or sid == primary else
                     f"shares action type {action} with {', '.join(x for x in sharing if x != sid)}: the traces "
                     "cannot tell them apart, so no latency is shown")
    frame = frame.with_columns(pl.Series("latency_note", notes, dtype=pl.Utf8))
    return frame.with_columns(pl.when(pl.col("latency_note").is_null()).then(pl.col("p95_latency_ms"))
                              .otherwise(None).alias("p95_latency_ms"))


def compute_cost_model(inputs: CostInputs, policy: PricingPolicy | None = None) -> CostModel:
    """Everything from the measurements alone."""
    return assemble(inputs, policy or PricingPolicy())


def assemble(
    inputs: CostInputs,
    policy: PricingPolicy,
    *,
    tiers: pl.DataFrame | None = None,
    pricing: pl.DataFrame | None = None,
    correlation: pl.DataFrame | None = None,
    breakdown: pl.DataFrame | None = None,
    priorities: pl.DataFrame | None = None,
) -> CostModel:
    """The model from already-computed tables (the materialized assets), computing whatever is missing.

    Each downstream asset reads its upstream cost tables through this, so what it writes follows the
    lineage shown in Dagster rather than a private recomputation.
    """
    m = inputs.measurements
    tiers = tiers if tiers is not None else assign_tiers(m, policy)
    pricing = pricing if pricing is not None else price_steps(m, tiers, policy)
    per_step = per_step_frame(inputs, tiers, pricing)
    if correlation is None:
        correlation = correlation_table(per_step.filter(pl.col("status") == "ok"), STATIC_METRICS, RUNTIME_MEASURES)
    if breakdown is None:
        breakdown = breakdown_table(m, inputs.package_calls, inputs.workflow_calls)
    if priorities is None:
        priorities = priorities_table(m, tiers, breakdown, correlation, inputs.package_calls,
                                      inputs.db_statements_per_run)
    claims = check_claims(m, breakdown, correlation, priorities, fuel_per_op_median(inputs.fuel_fits),
                          inputs.latency, pricing, workflow_calls=inputs.workflow_calls)
    return CostModel(policy, inputs, tiers, pricing, per_step, correlation, breakdown, priorities, claims)


# Extra columns `step_pricing` carries so `v_step_costs` needs no joins: what the price was based on.


def pricing_with_context(pricing: pl.DataFrame, per_step: pl.DataFrame) -> pl.DataFrame:
    context = per_step.select(
        "step_id",
        *[(pl.col(c) if c in per_step.columns else pl.lit(None)).cast(STEP_PRICING.column(c).dtype).alias(c)
          for c in PRICING_CONTEXT],
    )
    return pricing.drop([c for c in PRICING_CONTEXT if c in pricing.columns]).join(
        context, on="step_id", how="left"
    )


V_STEP_COSTS_SQL = """
create or replace view v_step_costs as
select step_id as step, step_type, tier, tier_calls as calls, calls_own_packages as deterministic_calls,
       cyclomatic_complexity as complexity,
       io_class, io_operations, total_units as units, p95_latency_ms, status, coverage
from step_pricing
"""
