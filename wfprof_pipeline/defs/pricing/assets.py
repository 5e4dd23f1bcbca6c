"""Cost-model assets: thin wiring around `wfprof_pipeline.lib.cost_model`.

Each asset reads its measurement inputs and the upstream cost tables its `deps` name from the
warehouse, so what it writes follows the lineage shown in Dagster. The pricing policy comes from
`$WFPROF_PRICING_POLICY` (TOML/JSON; the seed's table by default).
"""

import datetime as dt

import dagster as dg
import polars as pl

from wfprof_pipeline.defs.metadata import markdown_table, table_metadata
from wfprof_pipeline.defs.resources import (
    StepCorpusResource,
    WarehouseResource,
)
from wfprof_pipeline.lib import warehouse as wh
from wfprof_pipeline.lib.cost_model import tables
from wfprof_pipeline.lib.cost_model.breakdown import breakdown_table
from wfprof_pipeline.lib.cost_model.correlation import (
    RUNTIME_MEASURES,
    STATIC_METRICS,
    correlation_table,
)
from wfprof_pipeline.lib.cost_model.cpu_fit import cpu_fit
from wfprof_pipeline.lib.cost_model.history import (
    changes,
    history_rows,
    lockfile_digest,
    source_digests,
)
from wfprof_pipeline.lib.cost_model.inputs import CostInputs, read_inputs, read_table
from wfprof_pipeline.lib.cost_model.model import (
    V_STEP_COSTS_SQL,
    assemble,
    per_step_frame,
    pricing_with_context,
)
from wfprof_pipeline.lib.cost_model.policy import PolicyError, load_policy
from wfprof_pipeline.lib.cost_model.pricing import price_steps
from wfprof_pipeline.lib.cost_model.priorities import priorities_table
from wfprof_pipeline.lib.cost_model.report import summary_markdown, write_report
from wfprof_pipeline.lib.cost_model.tiers import NEAR_THRESHOLD_MARGIN, assign_tiers
from wfprof_pipeline.lib.registry import load_for_root
from wfprof_pipeline.lib.settings import Settings
from wfprof_pipeline.lib.usage.report import UsageTables

GROUP = "pricing"


def _load(warehouse: WarehouseResource, step_corpus: StepCorpusResource, *tables: str, latency: bool = False):
    """(inputs, policy, {table: frame or None}) in one connection; trace latency only if asked for."""
    try:
        policy = load_policy()
    except PolicyError as exc:  # a clean one-line failure in the UI, naming the field
        raise dg.Failure(description=str(exc)) from None
    with warehouse.connect() as con:
        inputs = read_inputs(con, step_corpus.resolved_root(), latency=latency)
        frames = {t: read_table(con, t) for t in tables}
    return inputs, policy, frames


def _warn_missing(context: dg.AssetExecutionContext, inputs: CostInputs) -> None:
    for m in inputs.missing:
        context.log.warning(f"missing measurement: {m}")


@dg.asset(
    group_name=GROUP, kinds={"duckdb"}, pool="duckdb",
    deps=["step_profiles", "platform_profiles"],
    description="Per step: what one execution costs as production pays it (cost_calls = warm execution + "
    "cold_start_rate × (marginal import + cold extra), beside the import, marginal import, cold and warm "
    "execution), the figure it is tiered on, and its tier light / medium / heavy on absolute thresholds "
    "(defaults 27,500 / 180,000 calls: the seed's figures land in the seed's tiers), so no step's tier depends "
    "on the others. Every discovered step is listed; one without a usable profile has its coverage and no tier.",
    metadata=table_metadata(tables.STEP_TIERS),
)
def step_tiers(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, step_corpus: StepCorpusResource
) -> dg.MaterializeResult:
    inputs, policy, _ = _load(warehouse, step_corpus)
    _warn_missing(context, inputs)
    tiers = assign_tiers(inputs.measurements, policy)
    count = warehouse.replace_table(tables.STEP_TIERS, tiers)
    unt = tiers.filter(pl.col("tier").is_null())
    if unt.height:
        context.log.warning(f"{unt.height} step(s) not tiered: {', '.join(unt['step_id'].to_list())}")
    by_tier = {t: tiers.filter(pl.col("tier") == t).height for t in ("light", "medium", "heavy")}
    near = pl.col("boundary_margin") < NEAR_THRESHOLD_MARGIN
    noisy = policy.tiers.basis in ("all", "cold", "cost_calls")  # these include Node's import-phase calls
    close = tiers.filter(near) if noisy else tiers.clear()
    for row in close.iter_rows(named=True):
        context.log.warning(f"{row['step_id']} is within {row['boundary_margin']:.0%} of a tier threshold "
                            f"({row['tier_calls']:,} {policy.tiers.basis}): its tier may flip between runs")
    costs = tiers.filter(pl.col("cost_calls").is_not_null()).sort("cost_calls", descending=True)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": count,
        "basis": policy.tiers.basis,
        "cold_start_rate": policy.cold_start_rate,
        "heaviest_step": str(costs["step_id"][0]) if costs.height else "none",
        "heaviest_cost_calls": int(costs["cost_calls"][0]) if costs.height else 0,
        "platform_import_calls": int(tiers["calls_platform_import"].drop_nulls().first() or 0) if tiers.height else 0,
        **{f"{t}_steps": n for t, n in by_tier.items()},
        "untiered_steps": ", ".join(unt["step_id"].to_list()) or "none",
        "near_threshold_steps": ", ".join(close["step_id"].to_list()) or "none",
        "tiers": dg.MetadataValue.md(markdown_table(tiers.select("step_id", "tier", "cost_calls", "calls_execute_warm",
                                                        "calls_execute_cold", "calls_import_marginal",
                                                        "calls_own_packages", "coverage"))),
    })


@dg.asset(
    group_name=GROUP, kinds={"duckdb"}, pool="duckdb",
    deps=["step_tiers", "step_profiles", "step_io_requests", "static_metrics", "workflow_step_runs"],
    description="Per step: step_type, tier, base_units, I/O class (declared in the registry, else inferred from "
    "the JSON-RPC methods it called: writes vs reads), io_multiplier, io_operations (requests per execution) and "
    "total_units = base + multiplier × operations — the seed's formula; unpriceable steps are listed with their "
    "status. Also carries tier_calls, cyclomatic_complexity and p95 latency, and (re)creates the view "
    "`v_step_costs`.",
    metadata=table_metadata(tables.STEP_PRICING),
)
def step_pricing(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, step_corpus: StepCorpusResource
) -> dg.MaterializeResult:
    inputs, policy, frames = _load(warehouse, step_corpus, "step_tiers", latency=True)  # p95 per step
    tiers = frames["step_tiers"]
    if tiers is None:
        raise dg.Failure("step_tiers does not exist: materialize it first")
    pricing = price_steps(inputs.measurements, tiers, policy)
    table = pricing_with_context(pricing, per_step_frame(inputs, tiers, pricing))
    with warehouse.connect() as con:
        count = wh.replace_table(con, "step_pricing", table)
        con.execute(V_STEP_COSTS_SQL)
    unpriced = table.filter(pl.col("total_units").is_null())
    for row in unpriced.iter_rows(named=True):
        context.log.warning(f"not priced: {row['step_id']} ({row['status']}: {row['note']})")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": count,
        "priced_steps": table.height - unpriced.height,
        "unpriced_steps": ", ".join(unpriced["step_id"].to_list()) or "none",
        "policy": policy.model_dump_json(),
        "pricing": dg.MetadataValue.md(markdown_table(table.select("step_id", "tier", "io_class", "io_operations",
                                                        "total_units", "status"))),
    })


@dg.asset(
    group_name=GROUP, kinds={"duckdb"}, pool="duckdb",
    deps=["step_tiers", "step_pricing"],
    description="Append-only: every materialization adds one row per step (materialized_at, run id, digests of "
    "the step's source and of the lockfile, calls per phase, cost_calls, tier, units, coverage), so each price "
    "shows its change since the last night and the steps whose source or dependencies changed.",
    metadata=table_metadata(tables.STEP_COST_HISTORY),
)
def step_cost_history(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, step_corpus: StepCorpusResource
) -> dg.MaterializeResult:
    root = step_corpus.resolved_root()
    registry = load_for_root(root)
    with warehouse.connect() as con:
        tiers, pricing = read_table(con, "step_tiers"), read_table(con, "step_pricing")
        if tiers is None or pricing is None:
            raise dg.Failure("step_tiers / step_pricing do not exist: materialize them first")
        rows = history_rows(tiers, pricing, source_digests(registry), lockfile_digest(root), context.run.run_id,
                            dt.datetime.now(dt.UTC))
        count = wh.append_rows(con, "step_cost_history", rows)
        change = changes(read_table(con, "step_cost_history"))
    moved = change.filter(pl.col("units_change").fill_null(0) != 0)
    edited = change.filter(pl.col("source_changed") | pl.col("dependencies_changed"))
    priced = rows.filter(pl.col("total_units").is_not_null())
    return dg.MaterializeResult(metadata={
        "dagster/row_count": count,
        "total_units": float(priced["total_units"].sum() or 0),
        "steps_with_price_change": moved.height,
        "steps_with_source_or_dependency_change": ", ".join(edited["step_id"].to_list()) or "none",
        "changes": dg.MetadataValue.md(markdown_table(moved.select(
            "step_id", "units_before", "units_after", "units_change", "tier_before", "tier_after"))),
    })


@dg.asset(
    group_name=GROUP, kinds={"duckdb"}, pool="duckdb",
    deps=["step_profiles"],
    description="Calls as a proxy for CPU: across the corpus, warm executions' calls against their CPU ms "
    "(Spearman ρ, n), the median CPU ms per 1,000 calls with its quartiles, and a least-squares line — what a "
    "unit of calls costs in CPU time, and how far to trust it.",
    metadata=table_metadata(tables.CALLS_CPU_FIT),
)
def calls_cpu_fit(warehouse: WarehouseResource, step_corpus: StepCorpusResource) -> dg.MaterializeResult:
    inputs, _, _ = _load(warehouse, step_corpus)
    fit = cpu_fit(inputs.measurements)
    count = warehouse.replace_table(tables.CALLS_CPU_FIT, fit)
    row = fit.row(0, named=True)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": count, "n": row["n"], "status": row["status"],
        "rho": float(row["rho"]) if row["rho"] is not None else float("nan"),
        "ms_per_1k_calls": float(row["ms_per_1k_calls"]) if row["ms_per_1k_calls"] is not None else float("nan"),
    })


@dg.asset_check(
    pool="duckdb",  # opens the warehouse: serialized with its writers (DuckDB is single-writer)
    asset=step_pricing, blocking=True,
    description="Every step with a successful profile has a price (a profiled step without one would be billed "
    "at nothing). Blocks the downstream cost assets when it fails.",
)
def pricing_covers_every_profiled_step(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        profiled = read_table(con, "step_profiles")
        pricing = read_table(con, "step_pricing")
    if profiled is None or pricing is None:
        return dg.AssetCheckResult(passed=False, metadata={"reason": "step_profiles or step_pricing is missing"})
    # Executed steps only: a step profiled at import alone is import_only, not priced on purpose.
    ok = profiled.filter((pl.col("mode") == "precise") & pl.col("error").is_null() & (pl.col("phase") == "execute"))
    profiled_ids = set(ok["step_id"].to_list()) - set(
        profiled.filter(pl.col("error").is_not_null() & (pl.col("mode") == "precise"))["step_id"].to_list()
    )
    priced = set(pricing.filter(pl.col("total_units").is_not_null())["step_id"].to_list())
    missing = sorted(profiled_ids - priced)
    return dg.AssetCheckResult(
        passed=not missing,
        metadata={"profiled_steps": len(profiled_ids), "priced_steps": len(priced & profiled_ids),
                  "unpriced_profiled_steps": ", ".join(missing) or "none"},
    )


@dg.asset(
    group_name=GROUP, kinds={"duckdb", "scipy"}, pool="duckdb",
    deps=["static_metrics", "step_tiers", "step_pricing", "step_profiles"],
    description="Spearman rank correlation (ρ, n, two-sided p) between static metrics (cyclomatic complexity, "
    "lines, external calls, awaits, function calls) and runtime measures (tier calls, execute calls, duration, "
    "I/O operations) across profiled steps — the seed's 'static ≠ runtime', measured. Fewer than 5 steps, a "
    "constant column or a missing measurement gives a status row, not a number.",
    metadata=table_metadata(tables.STATIC_RUNTIME_CORRELATION),
)
def static_runtime_correlation(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, step_corpus: StepCorpusResource
) -> dg.MaterializeResult:
    inputs, _, frames = _load(warehouse, step_corpus, "step_tiers", "step_pricing")
    if frames["step_tiers"] is None or frames["step_pricing"] is None:
        raise dg.Failure("step_tiers / step_pricing do not exist: materialize them first")
    per_step = per_step_frame(inputs, frames["step_tiers"], frames["step_pricing"])
    table = correlation_table(per_step.filter(pl.col("status") == "ok"), STATIC_METRICS, RUNTIME_MEASURES)
    count = warehouse.replace_table(tables.STATIC_RUNTIME_CORRELATION, table)
    ok = table.filter(pl.col("status") == "ok")
    if not ok.height:
        context.log.warning("no correlation could be computed: " + "; ".join(
            sorted(set(table["note"].drop_nulls().to_list()))[:3]))
    return dg.MaterializeResult(metadata={
        "dagster/row_count": count,
        "computed_pairs": ok.height,
        "correlations": dg.MetadataValue.md(markdown_table(table.select("static_metric", "runtime_measure", "n", "rho",
                                                             "p_value", "status"))),
    })


@dg.asset(
    group_name=GROUP, kinds={"duckdb"}, pool="duckdb",
    deps=["step_profiles", "step_package_calls", "workflow_profiles"],
    description="Shares of calls: per step (own code, packages, Node internals, other), over all steps, per "
    "npm package, per profiled workflow and over all workflow runs by category (database, step functions, "
    "executor, external API, Node internals) — the seed's 'dependencies dominate' and 'database is 50 %+', "
    "measured.",
    metadata=table_metadata(tables.COST_BREAKDOWN),
)
def cost_breakdown(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, step_corpus: StepCorpusResource
) -> dg.MaterializeResult:
    inputs, _, _ = _load(warehouse, step_corpus)
    table = breakdown_table(inputs.measurements, inputs.package_calls, inputs.workflow_calls)
    count = warehouse.replace_table(tables.COST_BREAKDOWN, table)
    overall = table.filter(pl.col("scope").is_in(["steps", "workflows"]))
    return dg.MaterializeResult(metadata={
        "dagster/row_count": count,
        "overall": dg.MetadataValue.md(markdown_table(overall.select("scope", "category", "calls", "share"))),
    })


@dg.asset(
    group_name=GROUP, kinds={"duckdb"}, pool="duckdb",
    deps=["step_tiers", "cost_breakdown", "static_runtime_correlation", "step_package_calls",
          "workflow_profiles", "workflow_profile_steps"],
    description="The seed's optimization list re-ranked by the data: each opportunity with the measured share "
    "of calls it addresses, an estimated reduction computed from the measurements (formula in `basis`), the "
    "seed's stated impact and whether the seed's range holds. Unmeasured opportunities are listed last.",
    metadata=table_metadata(tables.OPTIMIZATION_PRIORITIES),
)
def optimization_priorities(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, step_corpus: StepCorpusResource
) -> dg.MaterializeResult:
    inputs, _, f = _load(warehouse, step_corpus, "step_tiers", "cost_breakdown", "static_runtime_correlation")
    if any(v is None for v in f.values()):
        raise dg.Failure("step_tiers / cost_breakdown / static_runtime_correlation must be materialized first")
    table = priorities_table(inputs.measurements, f["step_tiers"], f["cost_breakdown"],
                             f["static_runtime_correlation"], inputs.package_calls, inputs.db_statements_per_run)
    count = warehouse.replace_table(tables.OPTIMIZATION_PRIORITIES, table)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": count,
        "priorities": dg.MetadataValue.md(markdown_table(table.select("rank", "opportunity", "measured_share",
                                                           "estimated_reduction", "impact", "seed_impact"))),
    })


@dg.asset(
    group_name=GROUP, kinds={"html"}, pool="duckdb",
    deps=["step_tiers", "step_pricing", "step_cost_history", "calls_cpu_fit", "static_runtime_correlation",
          "cost_breakdown",
          "optimization_priorities", "user_code_fuel", "fuel_fits", "fuel_budgets", "workflow_step_runs",
          "workflow_costs", "pricing_scenarios", "fuel_limit_recommendations"],
    description="The self-contained HTML cost report (SVG charts, no scripts, no network) in the reports "
    "directory (WFPROF_REPORTS_DIR, default data/reports/cost_report.html): the seed's claims checked, calls "
    "per step by tier, prices, fuel per operation and budgets, static vs runtime, latency per action type, "
    "call shares and ranked priorities, cost per workflow, customers under each billing model and the "
    "recommended fuel cap.",
)
def cost_report(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, step_corpus: StepCorpusResource
) -> dg.MaterializeResult:
    names = ("step_tiers", "step_pricing", "static_runtime_correlation", "cost_breakdown",
             "optimization_priorities", "user_code_fuel", "step_cost_history")
    inputs, policy, f = _load(warehouse, step_corpus, *names, latency=True)
    model = assemble(inputs, policy, tiers=f["step_tiers"], pricing=f["step_pricing"],
                     correlation=f["static_runtime_correlation"], breakdown=f["cost_breakdown"],
                     priorities=f["optimization_priorities"])
    with warehouse.connect() as con:
        usage = UsageTables.read(con)
    path = write_report(model, Settings.from_env().reports_dir, dt.datetime.now(dt.UTC), f["user_code_fuel"],
                        changes=changes(f["step_cost_history"]), usage=usage)
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(path.resolve())),
        "bytes": path.stat().st_size,
        "summary": dg.MetadataValue.md(summary_markdown(model)),
        "missing_measurements": len(inputs.missing),
    })
