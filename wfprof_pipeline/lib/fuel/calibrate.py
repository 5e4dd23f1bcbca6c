"""Fuel calibration: measure every workload at every size, fit fuel = fixed + fuel_per_op × ops, derive budgets.

The seed reported `fuelConsumed / iterations` per operation type, which folds QuickJS's ~1.7 M-fuel
start-up into every operation (more so the fewer the iterations). Here the least-squares slope is the
marginal cost of one operation and the intercept is the fixed cost; the seed's figure is kept beside
it (`naive_*`) so the two can be compared.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from wfprof_pipeline.lib.fuel.protocol import Evaluator
from wfprof_pipeline.lib.fuel.sandbox import Limits
from wfprof_pipeline.lib.fuel.workloads import EMPTY_CODE, WORKLOADS, Workload

BUDGET_TARGETS = (1_000, 10_000, 100_000, 1_000_000)
# Budgets must fit most real code, not the average operation: the 90th percentile of the per-operation
# slopes (over every workload except the empty-loop baseline) is the budget rate.
BUDGET_QUANTILE = 0.9
CALIBRATION_LIMITS = Limits(fuel=20_000_000_000, memory_bytes=128 << 20, timeout_s=60)


class Measurement(BaseModel):
    workload: str
    category: str
    description: str
    iterations: int
    fuel_consumed: int
    fuel_per_iteration: float  # the seed's figure: total fuel / iterations
    success: bool
    error: str | None = None
    repeats: int
    deterministic: bool  # every repeat consumed exactly the same fuel


class Fit(BaseModel):
    workload: str
    category: str
    fuel_per_op: float  # least-squares slope: marginal fuel of one more iteration
    net_fuel_per_op: float  # minus the empty loop's slope: the operation without its loop
    fixed_fuel: float  # intercept: start-up, harness, setup
    r_squared: float
    sizes: int
    min_iterations: int
    max_iterations: int
    naive_fuel_per_op: float  # the seed's method at the largest size: total fuel / iterations


class Budget(BaseModel):
    target_ops: int
    fuel_budget: int
    fuel_budget_median: int
    naive_fuel_budget: int
    fixed_fuel: int
    fuel_per_op: float
    derivation: str


class Calibration(BaseModel):
    timestamp: str
    sandbox: str  # "embedded" or the SANDBOX_URL
    wasmtime_version: str
    quickjs_version: str
    empty_fuel: int  # an evaluation whose fn returns at once: the floor every evaluation pays
    measurements: list[Measurement]
    fits: list[Fit]
    budgets: list[Budget]

    @property
    def deterministic(self) -> bool:
        return all(m.deterministic for m in self.measurements)


def least_squares(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """(slope, intercept, r_squared) of the ordinary least-squares line through the points (scipy)."""
    if len(xs) != len(ys) or len(set(xs)) < 2:
        raise ValueError("a fit needs at least two distinct x values")
    from scipy import stats

    if len(set(ys)) == 1:  # a flat line fits exactly (scipy's r is undefined there)
        return 0.0, float(ys[0]), 1.0
    line = stats.linregress(xs, ys)
    return float(line.slope), float(line.intercept), float(line.rvalue**2)


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default)."""
    if not len(values):
        raise ValueError("quantile of nothing")
    import numpy as np

    return float(np.quantile(values, q))


def measure(evaluator: Evaluator, w: Workload, iterations: int, repeats: int) -> Measurement:
    fuels: list[int] = []
    error: str | None = None
    for _ in range(repeats):
        r = evaluator.evaluate(w.code, {"iterations": iterations}, limits=CALIBRATION_LIMITS,
                               filename=f"{w.name}.js")
        if not r.success:
            error = f"{r.error_kind}: {r.error}"
            break
        fuels.append(r.fuel_consumed)
    fuel = fuels[0] if fuels else 0
    return Measurement(
        workload=w.name,
        category=w.category,
        description=w.description,
        iterations=iterations,
        fuel_consumed=fuel,
        fuel_per_iteration=fuel / iterations,
        success=error is None,
        error=error,
        repeats=len(fuels),
        deterministic=error is None and len(set(fuels)) == 1,
    )


def fit_workloads(measurements: Sequence[Measurement]) -> list[Fit]:
    by_workload: dict[str, list[Measurement]] = {}
    for m in measurements:
        if m.success:
            by_workload.setdefault(m.workload, []).append(m)
    raw: list[tuple[list[Measurement], float, float, float]] = []
    for ms in by_workload.values():
        if len({m.iterations for m in ms}) < 2:
            continue
        slope, intercept, r2 = least_squares([m.iterations for m in ms], [m.fuel_consumed for m in ms])
        raw.append((ms, slope, intercept, r2))
    loop_slope = next((s for ms, s, _, _ in raw if ms[0].category == "baseline"), 0.0)
    fits = []
    for ms, slope, intercept, r2 in raw:
        largest = max(ms, key=lambda m: m.iterations)
        fits.append(Fit(
            workload=ms[0].workload,
            category=ms[0].category,
            fuel_per_op=slope,
            net_fuel_per_op=0.0 if ms[0].category == "baseline" else slope - loop_slope,
            fixed_fuel=intercept,
            r_squared=r2,
            sizes=len(ms),
            min_iterations=min(m.iterations for m in ms),
            max_iterations=largest.iterations,
            naive_fuel_per_op=largest.fuel_per_iteration,
        ))
    return fits


def budgets(fits: Sequence[Fit], empty_fuel: int = 0) -> list[Budget]:
    """Fuel for N operations = fixed + rate × N, with rate the p90 (and, beside it, the median) slope.

    fixed = the empty-loop workload's intercept (start-up, harness, loop setup), or the empty evaluation
    if that is larger.
    """
    ops = [f for f in fits if f.category != "baseline"]
    if not ops:
        return []
    rate = quantile([f.fuel_per_op for f in ops], BUDGET_QUANTILE)
    median_rate = statistics.median(f.fuel_per_op for f in ops)
    naive_rate = statistics.fmean(f.naive_fuel_per_op for f in ops)
    fixed = max([empty_fuel, *(f.fixed_fuel for f in fits if f.category == "baseline")])
    derivation = (
        f"fixed_fuel + p{int(BUDGET_QUANTILE * 100)} of fitted fuel_per_op over {len(ops)} workloads × target_ops; "
        "naive = the seed's method (mean of total fuel / iterations) × target_ops"
    )
    return [
        Budget(
            target_ops=n,
            fuel_budget=round(fixed + rate * n),
            fuel_budget_median=round(fixed + median_rate * n),
            naive_fuel_budget=round(naive_rate * n),
            fixed_fuel=round(fixed),
            fuel_per_op=rate,
            derivation=derivation,
        )
        for n in BUDGET_TARGETS
    ]


def calibrate(
    evaluator: Evaluator,
    *,
    sandbox: str,
    wasmtime_version: str,
    quickjs_version: str,
    workloads: Sequence[Workload] = WORKLOADS,
    repeats: int = 2,
    progress: Callable[[str], None] | None = None,  # called with each workload's name before it runs
) -> Calibration:
    """Measure every workload at each of its sizes (`repeats` times: fuel must not vary) and fit."""
    empty = evaluator.evaluate(EMPTY_CODE, {}, limits=CALIBRATION_LIMITS)
    if not empty.success:
        raise RuntimeError(f"the sandbox cannot run an empty function: {empty.error}")
    measurements = []
    for w in workloads:
        if progress:
            progress(w.name)
        measurements.extend(measure(evaluator, w, n, repeats) for n in w.sizes)
    fits = fit_workloads(measurements)
    return Calibration(
        timestamp=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        sandbox=sandbox,
        wasmtime_version=wasmtime_version,
        quickjs_version=quickjs_version,
        empty_fuel=empty.fuel_consumed,
        measurements=measurements,
        fits=fits,
        budgets=budgets(fits, empty.fuel_consumed),
    )


def seed_json(cal: Calibration) -> dict[str, Any]:
    """The seed's `profile:calibrate --json` document (one result per workload, at its largest size),
    plus wfprof's `measurements`, `fits` and `budgets` (camelCase like the rest of the document)."""
    largest: dict[str, Measurement] = {}
    for m in cal.measurements:
        if m.workload not in largest or m.iterations > largest[m.workload].iterations:
            largest[m.workload] = m
    results = [
        {
            "name": m.workload,
            "description": m.description,
            "iterations": m.iterations,
            "fuelConsumed": m.fuel_consumed,
            "fuelPerIteration": round(m.fuel_per_iteration, 2),
            "success": m.success,
            "error": m.error,
        }
        for m in largest.values()
    ]
    ok = [r for r in results if r["success"]]
    return {
        "timestamp": cal.timestamp,
        "sandboxUrl": cal.sandbox,
        "testCount": len(results),
        "successCount": len(ok),
        "results": results,
        "statistics": {
            "baseline": cal.empty_fuel,
            "avgFuelPerIteration": round(statistics.fmean(r["fuelPerIteration"] for r in ok), 2) if ok else 0,
        },
        "engine": {"wasmtime": cal.wasmtime_version, "quickjs": cal.quickjs_version},
        "deterministic": cal.deterministic,
        "measurements": [
            {"name": m.workload, "category": m.category, "iterations": m.iterations,
             "fuelConsumed": m.fuel_consumed, "success": m.success, "error": m.error,
             "repeats": m.repeats, "deterministic": m.deterministic}
            for m in cal.measurements
        ],
        "fits": [
            {"name": f.workload, "category": f.category, "fuelPerOp": round(f.fuel_per_op, 2),
             "netFuelPerOp": round(f.net_fuel_per_op, 2), "fixedFuel": round(f.fixed_fuel),
             "rSquared": f.r_squared, "sizes": f.sizes, "naiveFuelPerOp": round(f.naive_fuel_per_op, 2)}
            for f in cal.fits
        ],
        "budgets": [
            {"targetOps": b.target_ops, "fuelBudget": b.fuel_budget, "fuelBudgetMedian": b.fuel_budget_median,
             "naiveFuelBudget": b.naive_fuel_budget, "derivation": b.derivation}
            for b in cal.budgets
        ],
    }


def text_report(cal: Calibration) -> str:
    """The seed's console report: by category, most/least expensive, budgets, plus the fits."""
    fits = {f.workload: f for f in cal.fits}
    lines = [
        "WASM fuel calibration",
        f"  sandbox: {cal.sandbox}   wasmtime {cal.wasmtime_version}   QuickJS-NG {cal.quickjs_version}",
        f"  empty evaluation: {cal.empty_fuel:,} fuel   deterministic: {'yes' if cal.deterministic else 'NO'}",
        "",
        f"  {'operation':<22}{'fuel/op':>12}{'net/op':>10}{'fixed':>12}{'R²':>12}{'seed-style/op':>15}",
    ]
    by_category: dict[str, list[Fit]] = {}
    for f in cal.fits:
        by_category.setdefault(f.category, []).append(f)
    for category, group in by_category.items():
        lines.append(f"  [{category}]")
        for f in group:
            lines.append(
                f"  {f.workload:<22}{f.fuel_per_op:>12,.1f}{f.net_fuel_per_op:>10,.1f}{f.fixed_fuel:>12,.0f}"
                f"{f.r_squared:>12.6f}{f.naive_fuel_per_op:>15,.1f}"
            )
    failed = [m for m in cal.measurements if not m.success]
    for m in failed:
        lines.append(f"  FAILED {m.workload} @ {m.iterations}: {m.error}")
    ops = sorted((f for f in fits.values() if f.category != "baseline"), key=lambda f: f.fuel_per_op)
    if ops:
        lines += [
            "",
            f"  most expensive:  {', '.join(f'{f.workload} ({f.fuel_per_op:,.0f})' for f in ops[::-1][:3])}",
            f"  least expensive: {', '.join(f'{f.workload} ({f.fuel_per_op:,.0f})' for f in ops[:3])}",
        ]
        if ops[0].fuel_per_op > 0:  # a remote sandbox may give a flat (zero-slope) workload
            lines.append(f"  spread: {ops[-1].fuel_per_op / ops[0].fuel_per_op:,.0f}x")
    if cal.budgets:
        lines += ["", f"  {'target ops':>12}{'budget (p90)':>16}{'budget (median)':>18}{'seed-style':>16}"]
        for b in cal.budgets:
            lines.append(f"  {b.target_ops:>12,}{_fuel(b.fuel_budget):>16}{_fuel(b.fuel_budget_median):>18}"
                         f"{_fuel(b.naive_fuel_budget):>16}")
        lines.append(f"  ({cal.budgets[0].derivation})")
    return "\n".join(lines)


def _fuel(n: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:,.1f}{unit}"
    return f"{n:,.0f}"
