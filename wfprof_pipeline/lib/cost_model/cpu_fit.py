"""How well deterministic call counts stand in for CPU time: across the corpus, warm executions' calls
against their CPU milliseconds (timing run, no profiler attached). Pricing engineers then know what a
unit of calls costs in CPU time, and how far to trust it."""

from __future__ import annotations

import statistics

import polars as pl
from scipy import stats

from wfprof_pipeline.lib.cost_model.tables import CALLS_CPU_FIT

MIN_STEPS = 5


def cpu_fit(measurements: pl.DataFrame) -> pl.DataFrame:
    """One row: Spearman ρ of warm calls vs warm CPU ms over the steps that have both, the median CPU ms per
    1,000 calls with its quartiles, and a least-squares line (slope per 1K calls, fixed ms, R²)."""
    base = {"calls_measure": "execute_warm calls (every category)", "cpu_measure": "warm_cpu_ms (timing run)"}
    if not {"execute_warm_calls", "warm_cpu_ms"} <= set(measurements.columns):
        return pl.DataFrame([{**base, "n": 0, "status": "missing_column"}], schema=CALLS_CPU_FIT.schema)
    rows = measurements.filter(pl.col("execute_warm_calls").is_not_null() & pl.col("warm_cpu_ms").is_not_null()
                               & (pl.col("execute_warm_calls") > 0))
    n = rows.height
    if n < MIN_STEPS:
        return pl.DataFrame([{**base, "n": n, "status": "insufficient_data",
                              "note": f"needs {MIN_STEPS} steps with warm calls and CPU time, has {n}"}],
                            schema=CALLS_CPU_FIT.schema)
    calls = [float(v) for v in rows["execute_warm_calls"].to_list()]
    cpu = [float(v) for v in rows["warm_cpu_ms"].to_list()]
    ratios = sorted(c / (k / 1000) for c, k in zip(cpu, calls, strict=True))
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    if len(set(calls)) < 2 or len(set(cpu)) < 2:
        return pl.DataFrame([{**base, "n": n, "ms_per_1k_calls": statistics.median(ratios), "status": "constant_input",
                              "note": "calls or CPU time are the same for every step"}], schema=CALLS_CPU_FIT.schema)
    rho = stats.spearmanr(calls, cpu)
    line = stats.linregress([k / 1000 for k in calls], cpu)
    return pl.DataFrame([{
        **base, "n": n, "rho": float(rho.statistic), "p_value": float(rho.pvalue),
        "ms_per_1k_calls": statistics.median(ratios), "ms_per_1k_calls_p25": q[0], "ms_per_1k_calls_p75": q[2],
        "slope_ms_per_1k_calls": float(line.slope), "intercept_ms": float(line.intercept),
        "r_squared": float(line.rvalue ** 2), "status": "ok",
        "note": "CPU ms are statistical (one timing process per step); calls are exact",
    }], schema=CALLS_CPU_FIT.schema)
