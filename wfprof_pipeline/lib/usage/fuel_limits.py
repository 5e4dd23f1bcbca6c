"""`fuel_limit_recommendations`: sandbox fuel caps judged on the fuel real user code used (user_code_fuel).

Candidates are 1, 2 and 5 × powers of ten up to the server's maximum, plus the sandbox's default. The
recommended default is the smallest candidate at or above HEADROOM × the most fuel a successful evaluation
used (code grows; inputs vary) and the calibration's fixed start-up fuel (an empty program must run): it
stops no evaluation that succeeded. An evaluation that ran out of fuel under its own budget counts as stopped
by every cap up to that budget (above it, whether it would finish is unknown). Without measurements the
sandbox's default stays.
"""

from __future__ import annotations

import polars as pl

from wfprof_pipeline.lib.usage.tables import FUEL_LIMIT_RECOMMENDATIONS

HEADROOM = 10.0
OUT_OF_FUEL = "out_of_fuel"


def candidate_caps(default_fuel: int, max_fuel: int, smallest: int = 1_000_000) -> list[int]:
    caps, power = {default_fuel, max_fuel}, smallest
    while power <= max_fuel:
        caps.update(c for c in (power, 2 * power, 5 * power) if c <= max_fuel)
        power *= 10
    return sorted(c for c in caps if c <= max_fuel)


def fixed_overhead(fits: pl.DataFrame | None) -> float | None:
    """The largest fitted fixed overhead (fuel every evaluation pays before its first operation)."""
    if fits is None or "fixed_fuel" not in fits.columns:
        return None
    values = fits["fixed_fuel"].drop_nulls()
    return float(values.max()) if values.len() else None


def recommend(user_code: pl.DataFrame | None, fits: pl.DataFrame | None, *, default_fuel: int,
              max_fuel: int) -> pl.DataFrame:
    code = user_code if user_code is not None else pl.DataFrame(
        schema={"workflow_id": pl.Utf8, "fuel_consumed": pl.Int64, "fuel_budget": pl.Int64,
                "success": pl.Boolean, "error_kind": pl.Utf8})
    ok = code.filter(pl.col("success").fill_null(False))
    peak = int(ok["fuel_consumed"].max()) if ok.height and ok["fuel_consumed"].max() is not None else None
    overhead = fixed_overhead(fits)
    caps = candidate_caps(default_fuel, max_fuel)
    rows = []
    for cap in caps:
        # Out of fuel under a budget above the cap: it would be stopped by the cap too.
        stopped = code.filter((pl.col("fuel_consumed").fill_null(0) > cap)
                              | ((pl.col("error_kind") == OUT_OF_FUEL) & (pl.col("fuel_budget") >= cap)))
        affected = sorted(set(stopped["workflow_id"].drop_nulls().to_list()))
        rows.append({"cap": cap, "evaluations": code.height, "stopped": stopped.height,
                     "stopped_share": stopped.height / code.height if code.height else None,
                     "workflows_affected": len(affected), "affected_workflows": ",".join(affected) or None,
                     "headroom": cap / peak if peak else None, "recommended": False, "reasoning": None,
                     "sandbox_default_fuel": default_fuel, "sandbox_max_fuel": max_fuel})
    pick, reason = _choose(rows, peak, overhead, default_fuel, code.height)
    for r in rows:
        if r["cap"] == pick:
            r["recommended"], r["reasoning"] = True, reason
    return FUEL_LIMIT_RECOMMENDATIONS.frame(rows)


def _choose(rows: list[dict], peak: int | None, overhead: float | None, default_fuel: int,
            evaluations: int) -> tuple[int, str]:
    if peak is None:
        why = "no user-code evaluation succeeded" if evaluations else "no user code was measured"
        return default_fuel, f"{why}: keep the sandbox's default of {default_fuel:,} fuel"
    floor = max(HEADROOM * peak, overhead or 0)
    # At or above the floor no successful evaluation is stopped; what it still stops ran out of fuel anyway.
    chosen = next((r for r in rows if r["cap"] >= floor), rows[-1])
    basis = (f"the most fuel a successful evaluation used is {peak:,}; ×{HEADROOM:g} headroom = {HEADROOM * peak:,.0f}"
             + (f"; the calibration's fixed start-up is {overhead:,.0f}" if overhead else ""))
    stopped = (f"it stops {chosen['stopped']} of {chosen['evaluations']} measured evaluation(s)"
               + (f" (already failing: {chosen['affected_workflows']})" if chosen["stopped"] else ""))
    return chosen["cap"], f"{basis}: the smallest candidate above that is {chosen['cap']:,}; {stopped}"

