"""`static_runtime_correlation`: Spearman rank correlation between static metrics and runtime measures.

The seed's "static ≠ runtime" finding, measured: ρ with its n and two-sided p-value. Fewer than
`MIN_STEPS` steps with both values, or a constant column, gives a row that says so instead of a number.
"""

from __future__ import annotations

import math

import polars as pl
from scipy import stats

from wfprof_pipeline.lib.cost_model.tables import STATIC_RUNTIME_CORRELATION

MIN_STEPS = 5

STATIC_METRICS = ("cyclomatic_complexity", "lines", "external_calls", "await_expressions", "function_calls")
RUNTIME_MEASURES = ("tier_calls", "execute_calls", "duration_ms", "io_operations")



def spearman(xs: list[float], ys: list[float], *, min_n: int = MIN_STEPS) -> dict[str, object]:
    pairs = [
        (float(x), float(y))
        for x, y in zip(xs, ys, strict=True)
        if x is not None and y is not None and not (math.isnan(x) or math.isnan(y))
    ]
    n = len(pairs)
    if n < min_n:
        return {"n": n, "rho": None, "p_value": None, "status": "insufficient_data",
                "note": f"{n} step(s) with both values; at least {min_n} are needed"}
    x, y = zip(*pairs, strict=True)
    if len(set(x)) == 1 or len(set(y)) == 1:
        which = "static metric" if len(set(x)) == 1 else "runtime measure"
        return {"n": n, "rho": None, "p_value": None, "status": "constant_input",
                "note": f"the {which} is the same for every step: no ranking to correlate"}
    result = stats.spearmanr(x, y)
    return {"n": n, "rho": float(result.statistic), "p_value": float(result.pvalue), "status": "ok",
            "note": None}


def correlation_table(
    per_step: pl.DataFrame,
    static_metrics: tuple[str, ...] = STATIC_METRICS,
    runtime_measures: tuple[str, ...] = RUNTIME_MEASURES,
    *,
    min_n: int = MIN_STEPS,
) -> pl.DataFrame:
    """Every static metric against every runtime measure, over the steps of `per_step` (one row each)."""
    rows = []
    for s in static_metrics:
        for r in runtime_measures:
            base = {"static_metric": s, "runtime_measure": r}
            missing = [c for c in (s, r) if c not in per_step.columns]
            if missing:
                rows.append({**base, "n": 0, "rho": None, "p_value": None, "status": "missing_column",
                             "note": f"no measurement named {', '.join(missing)}"})
                continue
            xs = per_step[s].cast(pl.Float64).to_list()
            ys = per_step[r].cast(pl.Float64).to_list()
            rows.append({**base, **spearman(xs, ys, min_n=min_n)})
    return pl.DataFrame(rows, schema=STATIC_RUNTIME_CORRELATION.schema)


def strength(rho: float | None) -> str:
    if rho is None:
        return "n/a"
    a = abs(rho)
    return "strong" if a >= 0.7 else "moderate" if a >= 0.4 else "weak"
