"""`complexity_budget`: the seed's CI gate — average cyclomatic complexity per step file within a budget."""

import dagster as dg

from wfprof_pipeline.defs.resources import WarehouseResource
from wfprof_pipeline.lib import settings as s


class ComplexityBudgetConfig(dg.Config):
    budget: float | None = None  # None = $WFPROF_COMPLEXITY_BUDGET, default 15 (the seed's gate)


@dg.asset_check(
    pool="duckdb",  # opens the warehouse: serialized with its writers (DuckDB is single-writer)
    asset="static_metrics",
    description="Average cyclomatic complexity of the step files is within the budget "
    f"(${s.ENV_COMPLEXITY_BUDGET}, default {s.DEFAULT_COMPLEXITY_BUDGET:g}: "
    "the seed's CI gate).",
)
def complexity_budget(config: ComplexityBudgetConfig, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    budget = config.budget if config.budget is not None else s.Settings.from_env().complexity_budget
    if not budget >= 1:  # NaN would pass every average
        raise s.SettingsError(f"complexity_budget: budget must be a number ≥ 1, got {budget}")
    with warehouse.connect(read_only=True) as con:
        files, average, worst = con.sql(
            "select count(*), avg(cyclomatic_complexity), max(cyclomatic_complexity) from static_metrics"
        ).fetchone()
        over = con.sql(
            "select plugin || '/' || step from static_metrics where cyclomatic_complexity > ? "
            "order by cyclomatic_complexity desc, file",
            params=[budget],
        ).fetchall()
    # Unrounded, like the seed's JSON summary (`.summary.avgCyclomaticComplexity`), so the check,
    # `wfprof analyze --budget` and a jq gate on the JSON agree on the same corpus.
    average = float(average or 0.0)
    return dg.AssetCheckResult(
        passed=average <= budget,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "budget": budget,
            "avg_cyclomatic_complexity": average,
            "max_cyclomatic_complexity": int(worst or 0),
            "files": int(files),
            "files_over_budget": ", ".join(r[0] for r in over[:20]) or "none",
        },
    )
