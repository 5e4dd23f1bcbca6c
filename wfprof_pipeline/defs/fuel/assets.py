"""`fuel_calibrations` → `fuel_fits` → `fuel_budgets`: what JS operations cost in WASM fuel, and budgets from it."""

import datetime as dt

import dagster as dg
import polars as pl

from wfprof_pipeline.defs.resources import SandboxResource, WarehouseResource
from wfprof_pipeline.lib import warehouse as wh
from wfprof_pipeline.lib.cost_model.history import FUEL_FIT_HISTORY_SCHEMA
from wfprof_pipeline.lib.fuel import calibrate as cal
from wfprof_pipeline.lib.fuel.client import open_sandbox

CALIBRATIONS_SCHEMA = {
    "workload": pl.Utf8,
    "category": pl.Utf8,
    "description": pl.Utf8,
    "iterations": pl.Int64,
    "fuel_consumed": pl.Int64,
    "fuel_per_iteration": pl.Float64,
    "success": pl.Boolean,
    "error": pl.Utf8,
    "repeats": pl.Int64,
    "deterministic": pl.Boolean,
    "sandbox": pl.Utf8,
    "wasmtime_version": pl.Utf8,
    "quickjs_version": pl.Utf8,
    "measured_at": pl.Utf8,
}
FITS_SCHEMA = {
    "workload": pl.Utf8,
    "category": pl.Utf8,
    "fuel_per_op": pl.Float64,
    "net_fuel_per_op": pl.Float64,
    "fixed_fuel": pl.Float64,
    "r_squared": pl.Float64,
    "sizes": pl.Int64,
    "min_iterations": pl.Int64,
    "max_iterations": pl.Int64,
    "naive_fuel_per_op": pl.Float64,
}
BUDGETS_SCHEMA = {
    "target_ops": pl.Int64,
    "fuel_budget": pl.Int64,
    "fuel_budget_median": pl.Int64,
    "naive_fuel_budget": pl.Int64,
    "fixed_fuel": pl.Int64,
    "fuel_per_op": pl.Float64,
    "derivation": pl.Utf8,
}
_DOCS = {
    "workload": "Operation type (the seed's calibration tests)",
    "category": "Seed category: arithmetic, property, array, function, string, object, json, …",
    "description": "What one iteration does",
    "iterations": "Operations performed (loop iterations)",
    "fuel_consumed": "Total fuel of the evaluation, start-up included",
    "fuel_per_iteration": "The seed's figure: fuel_consumed / iterations (folds the fixed cost in)",
    "success": "The evaluation returned a result",
    "error": "error_kind: message, when it did not",
    "repeats": "Evaluations made of this measurement",
    "deterministic": "Every repeat consumed exactly the same fuel",
    "sandbox": "embedded, or the SANDBOX_URL used",
    "wasmtime_version": "wasmtime (Python) version",
    "quickjs_version": "QuickJS-NG version (qjs-wasi-reactor.wasm)",
    "measured_at": "UTC timestamp of the calibration",
    "fuel_per_op": "Least-squares slope: marginal fuel of one operation (loop included)",
    "net_fuel_per_op": "fuel_per_op minus the empty loop's slope",
    "fixed_fuel": "Least-squares intercept: start-up, harness and setup",
    "r_squared": "Coefficient of determination of the fit",
    "sizes": "Distinct iteration counts fitted",
    "min_iterations": "Smallest iteration count",
    "max_iterations": "Largest iteration count",
    "naive_fuel_per_op": "The seed's method at the largest size: total fuel / iterations",
    "target_ops": "Operations the budget must cover",
    "fuel_budget": "fixed_fuel + p90 fuel_per_op × target_ops",
    "fuel_budget_median": "fixed_fuel + median fuel_per_op × target_ops",
    "naive_fuel_budget": "The seed's budget: mean(total fuel / iterations) × target_ops",
    "derivation": "How the budget was derived",
    "materialized_at": "fuel_fit_history: when the fits were computed (UTC)",
    "run_id": "fuel_fit_history: the Dagster run that computed them",
}


def _schema(columns: dict[str, pl.DataType]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(n, str(t), description=_DOCS.get(n)) for n, t in columns.items()])


@dg.asset(
    group_name="fuel",
    kinds={"duckdb", "wasm"},
    pool="duckdb",
    description="Fuel consumed by each of the seed's JS operation types at 4 sizes, in QuickJS-NG under wasmtime "
    "(embedded, or the sandbox at SANDBOX_URL); every measurement repeated, fuel must not vary.",
    metadata={"dagster/column_schema": _schema(CALIBRATIONS_SCHEMA), "dagster/table_name": "fuel_calibrations"},
)
def fuel_calibrations(
    context: dg.AssetExecutionContext, sandbox: SandboxResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    evaluator, info = open_sandbox(sandbox.resolved_url())
    result = cal.calibrate(evaluator, sandbox=info.label, wasmtime_version=info.wasmtime_version,
                           quickjs_version=info.quickjs_version)
    rows = [
        {**m.model_dump(), "sandbox": result.sandbox, "wasmtime_version": result.wasmtime_version,
         "quickjs_version": result.quickjs_version, "measured_at": result.timestamp}
        for m in result.measurements
    ]
    frame = pl.DataFrame(rows, schema=CALIBRATIONS_SCHEMA)
    count = warehouse.replace_table("fuel_calibrations", frame)
    failed = frame.filter(~pl.col("success")).height
    if failed:
        context.log.warning(f"{failed} calibration measurement(s) failed; see the `error` column")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": count,
        "sandbox": result.sandbox,
        "wasmtime_version": result.wasmtime_version,
        "quickjs_version": result.quickjs_version,
        "empty_evaluation_fuel": result.empty_fuel,
        "workloads": frame["workload"].n_unique(),
        "failed": failed,
        "deterministic": result.deterministic,
    })


def _markdown(frame: pl.DataFrame) -> str:
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(f"{v:,.6g}" if isinstance(v, float) else str(v) for v in row) + " |"
              for row in frame.iter_rows()]
    return "\n".join(lines)


def _measurements(warehouse: WarehouseResource) -> list[cal.Measurement]:
    with warehouse.connect() as con:
        frame = con.sql("select * from fuel_calibrations").pl()
    return [cal.Measurement.model_validate(row) for row in frame.iter_rows(named=True)]


@dg.asset(
    group_name="fuel",
    kinds={"duckdb"},
    pool="duckdb",
    deps=[fuel_calibrations],
    description="Least-squares fit per operation type: fuel = fixed_fuel + fuel_per_op × iterations, with R² "
    "(the seed divided total fuel by iterations instead; `naive_fuel_per_op` keeps that figure).",
    metadata={"dagster/column_schema": _schema(FITS_SCHEMA), "dagster/table_name": "fuel_fits"},
)
def fuel_fits(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    fits = cal.fit_workloads(_measurements(warehouse))
    frame = pl.DataFrame([f.model_dump() for f in fits], schema=FITS_SCHEMA)
    count = warehouse.replace_table("fuel_fits", frame)
    ranked = frame.filter(pl.col("category") != "baseline").sort("fuel_per_op", descending=True)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": count,
        "min_r_squared": float(frame["r_squared"].min() or 0.0) if count else 0.0,
        "most_expensive": dg.MetadataValue.md(_markdown(ranked.head(5).select("workload", "fuel_per_op",
                                                                                "r_squared"))),
    })


@dg.asset(
    group_name="fuel",
    kinds={"duckdb"},
    pool="duckdb",
    deps=[fuel_fits],
    description="Append-only: the fuel fits of every materialization (materialized_at, run id, workload, fuel per "
    "operation, fixed fuel, R²), so a QuickJS or wasmtime upgrade shows as a change.",
    metadata={"dagster/column_schema": _schema(FUEL_FIT_HISTORY_SCHEMA), "dagster/table_name": "fuel_fit_history"},
)
def fuel_fit_history(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        fits = con.sql("select workload, fuel_per_op, fixed_fuel, r_squared from fuel_fits").pl()
        rows = fits.with_columns(pl.lit(dt.datetime.now(dt.UTC)).alias("materialized_at"),
                                 pl.lit(context.run.run_id).alias("run_id"))
        count = wh.append_rows(con, "fuel_fit_history", rows.select(list(FUEL_FIT_HISTORY_SCHEMA))
                               .cast(FUEL_FIT_HISTORY_SCHEMA))
        runs = con.execute("select count(distinct run_id) from fuel_fit_history").fetchone()[0]
    return dg.MaterializeResult(metadata={"dagster/row_count": count, "materializations": int(runs)})


@dg.asset(
    group_name="fuel",
    kinds={"duckdb"},
    pool="duckdb",
    deps=[fuel_fits],
    description="Fuel budgets for 1k/10k/100k/1M operations: fixed fuel + p90 of the fitted per-operation fuel "
    "× ops (median alongside), beside the seed's naive figure (total fuel / iterations × ops).",
    metadata={"dagster/column_schema": _schema(BUDGETS_SCHEMA), "dagster/table_name": "fuel_budgets"},
)
def fuel_budgets(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        fits_frame = con.sql("select * from fuel_fits").pl()
    fits = [cal.Fit.model_validate(row) for row in fits_frame.iter_rows(named=True)]
    rows = cal.budgets(fits)
    frame = pl.DataFrame([b.model_dump() for b in rows], schema=BUDGETS_SCHEMA)
    count = warehouse.replace_table("fuel_budgets", frame)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": count,
        "fuel_per_op_p90": rows[0].fuel_per_op if rows else 0.0,
        "budget_1k_ops": rows[0].fuel_budget if rows else 0,
    })
