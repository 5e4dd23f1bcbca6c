"""WASM fuel tables (calibrations, fits, fit history, budgets, user code fuel), each declared once."""

import polars as pl

from wfprof_pipeline.lib.tables import Table

FUEL_CALIBRATIONS = Table.of("fuel_calibrations", [
    ("workload", pl.Utf8, "Operation type (the seed's calibration tests)"),
    ("category", pl.Utf8, "Seed category: arithmetic, property, array, function, string, object, json, …"),
    ("description", pl.Utf8, "What one iteration does"),
    ("iterations", pl.Int64, "Operations performed (loop iterations)"),
    ("fuel_consumed", pl.Int64, "Total fuel of the evaluation, start-up included"),
    ("fuel_per_iteration", pl.Float64, "The seed's figure: fuel_consumed / iterations (folds the fixed cost in)"),
    ("success", pl.Boolean, "The evaluation returned a result"),
    ("error", pl.Utf8, "error_kind: message, when it did not"),
    ("repeats", pl.Int64, "Evaluations made of this measurement"),
    ("deterministic", pl.Boolean, "Every repeat consumed exactly the same fuel"),
    ("sandbox", pl.Utf8, "embedded, or the SANDBOX_URL used"),
    ("wasmtime_version", pl.Utf8, "wasmtime (Python) version"),
    ("quickjs_version", pl.Utf8, "QuickJS-NG version (qjs-wasi-reactor.wasm)"),
    ("measured_at", pl.Utf8, "UTC timestamp of the calibration"),
])

FUEL_FITS = Table.of("fuel_fits", [
    ("workload", pl.Utf8, "Operation type (the seed's calibration tests)"),
    ("category", pl.Utf8, "Seed category: arithmetic, property, array, function, string, object, json, …"),
    ("fuel_per_op", pl.Float64, "Least-squares slope: marginal fuel of one operation (loop included)"),
    ("net_fuel_per_op", pl.Float64, "fuel_per_op minus the empty loop's slope"),
    ("fixed_fuel", pl.Float64, "Least-squares intercept: start-up, harness and setup"),
    ("r_squared", pl.Float64, "Coefficient of determination of the fit"),
    ("sizes", pl.Int64, "Distinct iteration counts fitted"),
    ("min_iterations", pl.Int64, "Smallest iteration count"),
    ("max_iterations", pl.Int64, "Largest iteration count"),
    ("naive_fuel_per_op", pl.Float64, "The seed's method at the largest size: total fuel / iterations"),
])

FUEL_FIT_HISTORY = Table.of("fuel_fit_history", [
    ("materialized_at", pl.Datetime("us", "UTC"), "when the fits were computed (UTC)"),
    ("run_id", pl.Utf8, "the Dagster run that computed them"),
    ("workload", pl.Utf8, "Operation type (the seed's calibration tests)"),
    ("fuel_per_op", pl.Float64, "Least-squares slope: marginal fuel of one operation (loop included)"),
    ("fixed_fuel", pl.Float64, "Least-squares intercept: start-up, harness and setup"),
    ("r_squared", pl.Float64, "Coefficient of determination of the fit"),
])

FUEL_BUDGETS = Table.of("fuel_budgets", [
    ("target_ops", pl.Int64, "Operations the budget must cover"),
    ("fuel_budget", pl.Int64, "fixed_fuel + p90 fuel_per_op × target_ops"),
    ("fuel_budget_median", pl.Int64, "fixed_fuel + median fuel_per_op × target_ops"),
    ("naive_fuel_budget", pl.Int64, "The seed's budget: mean(total fuel / iterations) × target_ops"),
    ("fixed_fuel", pl.Int64, "Least-squares intercept: start-up, harness and setup"),
    ("fuel_per_op", pl.Float64, "Least-squares slope: marginal fuel of one operation (loop included)"),
    ("derivation", pl.Utf8, "How the budget was derived"),
])

USER_CODE_FUEL = Table.of("user_code_fuel", [
    ("workflow_id", pl.Utf8, "Stored workflow"),
    ("workflow_name", pl.Utf8, "Its name"),
    ("node_id", pl.Utf8, "The code node"),
    ("node_label", pl.Utf8, "Its label"),
    ("code_bytes", pl.Int64, "Size of the user code"),
    ("inputs_source", pl.Utf8, "last_run (inputs of the node's latest successful run) | config | none"),
    ("fuel_budget", pl.Int64, "Fuel the evaluation was allowed"),
    ("fuel_consumed", pl.Int64, "Fuel used (≈ wasm instructions), including the sandbox's fixed start-up"),
    ("memory_used", pl.Int64, "Linear memory used (bytes)"),
    ("duration_ms", pl.Float64, "Wall time of the evaluation"),
    ("success", pl.Boolean, "fn returned a JSON result"),
    ("error_kind", pl.Utf8, "out_of_fuel | syntax_error | runtime_error | timeout | empty_code | sandbox_error | …"),
    ("error", pl.Utf8, "The error, truncated"),
])
