"""The usage tables, declared once (schema, DDL, column docs for Dagster, DuckDB comments and the README)."""

from __future__ import annotations

import polars as pl

from wfprof_pipeline.lib.tables import Table

# The subject of an execution with no user id: its own bucket, never merged into a real customer's.
NO_USER_SUBJECT = "(no user)"

EXECUTION_COSTS = Table.of("execution_costs", [
    ("execution_id", pl.Utf8, "workflow_executions.execution_id"),
    ("workflow_id", pl.Utf8, "The workflow that ran"),
    ("user_id", pl.Utf8, "Owner of the execution (null if the trace has none)"),
    ("subject", pl.Utf8, f"Who is billed: user_id, or '{NO_USER_SUBJECT}' for executions without one"),
    ("day", pl.Date, "UTC day of started_at (the partition)"),
    ("started_at", pl.Datetime("us"), "Start (UTC)"),
    ("status", pl.Utf8, "Execution status: success, error, cancelled, running or pending"),
    ("charge", pl.Utf8, "How it was charged: complete (succeeded), full | steps_run | none (the policy's "
                        "charge_failed, for error and cancelled), steps_run (still running)"),
    ("steps_run", pl.Int64, "Step runs logged (trigger included)"),
    ("steps_succeeded", pl.Int64, "Of those, status success"),
    ("steps_failed", pl.Int64, "Of those, status error"),
    ("steps_other", pl.Int64, "Of those, any other status (running, pending, …)"),
    ("steps_charged", pl.Int64, "Step runs charged under the policy"),
    ("billable_steps", pl.Int64, "Charged step runs that are not triggers (the per-step billing models count these)"),
    ("units", pl.Float64, "wfprof units charged: step_pricing.total_units per charged step run (trigger: "
                          "usage.trigger_units); steps without a price add nothing and are counted in unpriced_steps"),
    ("unpriced_steps", pl.Int64, "Charged step runs whose action type has no price (units is then a lower bound)"),
    ("unpriced_action_types", pl.Utf8, "Those action types, comma-separated (null if none)"),
    ("compute_ms", pl.Float64, "Measured compute: the sum of the step runs' trace durations (ms)"),
    ("execution_ms", pl.Float64, "The execution's own duration in the trace (ms; null if not recorded)"),
    ("cost_calls", pl.Float64, "Sum of step_tiers.cost_calls over the step runs whose step is profiled (null if none)"),
    ("cpu_ms", pl.Float64, "Sum of the profiles' warm CPU ms over the step runs whose step has one (null if none)"),
    ("profiled_steps", pl.Int64, "Step runs whose step has a profile (cost_calls)"),
    ("policy_digest", pl.Utf8, "sha256 of the pricing policy the units were computed under"),
], doc="One row per traced execution: its steps, units under the pricing policy and measured compute.")

CUSTOMER_USAGE_DAILY = Table.of("customer_usage_daily", [
    ("subject", pl.Utf8, f"Customer: user_id, or '{NO_USER_SUBJECT}'"),
    ("day", pl.Date, "UTC day"),
    ("executions", pl.Int64, "Executions started that day"),
    ("failed_executions", pl.Int64, "Of those, error or cancelled"),
    ("workflows", pl.Int64, "Distinct workflows run"),
    ("steps_run", pl.Int64, "Step runs logged"),
    ("billable_steps", pl.Int64, "Charged non-trigger step runs"),
    ("units", pl.Float64, "wfprof units charged"),
    ("unpriced_steps", pl.Int64, "Charged step runs without a price"),
    ("compute_ms", pl.Float64, "Sum of step-run trace durations (ms)"),
    ("cost_calls", pl.Float64, "Sum of cost_calls where profiled"),
], doc="Usage per customer and UTC day, from execution_costs.")

WORKFLOW_COSTS = Table.of("workflow_costs", [
    ("workflow_id", pl.Utf8, "Workflow"),
    ("executions", pl.Int64, "Executions in the window"),
    ("failed_executions", pl.Int64, "Of those, error or cancelled"),
    ("subjects", pl.Int64, "Distinct customers that ran it"),
    ("units_total", pl.Float64, "Units charged in the window"),
    ("units_per_execution_p50", pl.Float64, "Median units per execution"),
    ("units_per_execution_p95", pl.Float64, "95th percentile of units per execution"),
    ("units_per_day", pl.Float64, "units_total / the days the window spans (first to last day with data)"),
    ("projected_units_30d", pl.Float64, "units_per_day × 30"),
    ("compute_ms_p50", pl.Float64, "Median measured compute per execution (ms)"),
    ("unpriced_steps", pl.Int64, "Charged step runs without a price"),
    ("window_start", pl.Date, "First day of the window"),
    ("window_end", pl.Date, "Last day of the window (the last day ingested)"),
], doc="Per workflow over the scenario window: executions, units per execution, per day and projected.")

PRICING_SCENARIOS = Table.of("pricing_scenarios", [
    ("model", pl.Utf8, "units (the current model) | per_execution | per_step_and_run | compute_seconds | cpu_ms"),
    ("subject", pl.Utf8, f"Customer: user_id, or '{NO_USER_SUBJECT}'"),
    ("executions", pl.Int64, "Charged executions in the window (charge ≠ none)"),
    ("quantity", pl.Float64, "What the model bills: units, executions, billable steps, compute seconds or CPU ms"),
    ("unit_price", pl.Float64, "The policy's price per quantity (usage.scenarios)"),
    ("revenue", pl.Float64, "What the customer pays under the model (per_step_and_run: steps × step + runs × run)"),
    ("current_revenue", pl.Float64, "What the customer pays under the current model (units)"),
    ("change", pl.Float64, "revenue − current_revenue (positive: the customer pays more)"),
    ("change_pct", pl.Float64, "change / current_revenue (null when that is 0)"),
    ("change_rank", pl.Int64, "1 = the customer whose bill rises most under the model; the last rank falls most"),
    ("unmeasured_executions", pl.Int64, "Executions whose quantity is incomplete under the model (units: a step "
                                        "without a price; cpu_ms: no step with a CPU profile)"),
    ("window_start", pl.Date, "First day replayed"),
    ("window_end", pl.Date, "Last day replayed"),
], doc="Revenue per customer under each billing model, replaying the window's executions, against the current one.")

FUEL_LIMIT_RECOMMENDATIONS = Table.of("fuel_limit_recommendations", [
    ("cap", pl.Int64, "Candidate sandbox fuel cap per evaluation"),
    ("evaluations", pl.Int64, "Measured user-code evaluations (user_code_fuel)"),
    ("stopped", pl.Int64, "Of those, the ones the cap would stop (fuel used above the cap, or out of fuel under "
                          "their own budget when that budget was above the cap)"),
    ("stopped_share", pl.Float64, "stopped / evaluations (null without evaluations)"),
    ("workflows_affected", pl.Int64, "Distinct workflows with a stopped evaluation"),
    ("affected_workflows", pl.Utf8, "Their ids, comma-separated"),
    ("headroom", pl.Float64, "cap / the most fuel a successful evaluation used (null without one)"),
    ("recommended", pl.Boolean, "The recommended default cap (exactly one row)"),
    ("reasoning", pl.Utf8, "Why (on the recommended row)"),
    ("sandbox_default_fuel", pl.Int64, "The sandbox's configured default fuel per evaluation"),
    ("sandbox_max_fuel", pl.Int64, "The sandbox server's configured maximum (a request cannot exceed it)"),
], doc="Sandbox fuel caps from the fuel measured on real user code: what each would stop, one recommended.")

TABLES = (EXECUTION_COSTS, CUSTOMER_USAGE_DAILY, WORKFLOW_COSTS, PRICING_SCENARIOS, FUEL_LIMIT_RECOMMENDATIONS)
