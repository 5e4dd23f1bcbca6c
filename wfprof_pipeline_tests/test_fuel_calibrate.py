"""Calibration: fits, budgets, the seed's JSON shape, `wfprof calibrate`, and the Dagster assets and checks."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from wfprof_pipeline.defs.resources import SandboxResource, WarehouseResource
from wfprof_pipeline.defs.wasm_fuel import assets, checks
from wfprof_pipeline.lib.fuel import calibrate as cal
from wfprof_pipeline.lib.fuel.sandbox import default_sandbox
from wfprof_pipeline.lib.fuel.workloads import WORKLOADS, workload
from wfprof_pipeline.lib.progress import Progress

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SEED_OPERATION_TYPES = {
    "baseline", "arithmetic_add", "arithmetic_multiply", "arithmetic_divide", "property_read", "property_write",
    "property_dynamic", "array_push", "array_index", "array_map", "function_call", "function_recursive",
    "string_concat", "string_template", "object_create", "json_stringify", "json_parse", "comparison",
    "logical_and", "logical_or", "workflow_sim",
}


@pytest.fixture(scope="module")
def calibration() -> cal.Calibration:
    sandbox = default_sandbox()
    return cal.calibrate(sandbox, sandbox="embedded", wasmtime_version=sandbox.loaded.wasmtime_version,
                         quickjs_version=sandbox.loaded.quickjs_version, repeats=2)


# --- pure math -------------------------------------------------------------------------------------------

def test_least_squares_recovers_an_exact_line() -> None:
    slope, intercept, r2 = cal.least_squares([1, 2, 4, 8], [107, 114, 128, 156])
    assert slope == pytest.approx(7.0) and intercept == pytest.approx(100.0) and r2 == pytest.approx(1.0)


def test_least_squares_r_squared_drops_for_a_curve() -> None:
    _, _, r2 = cal.least_squares([1, 2, 3, 4, 5], [1, 4, 9, 16, 25])
    assert 0.9 < r2 < 0.99


def test_least_squares_needs_two_distinct_sizes() -> None:
    with pytest.raises(ValueError):
        cal.least_squares([5, 5], [1, 2])


def test_quantile_interpolates_like_numpy() -> None:
    assert cal.quantile([1, 2, 3, 4], 0.5) == 2.5
    assert cal.quantile([10, 20, 30, 40, 50], 0.9) == pytest.approx(46.0)
    assert cal.quantile([7], 0.9) == 7


# --- the calibration itself ------------------------------------------------------------------------------

def test_every_seed_operation_type_is_measured_at_four_or_more_sizes(calibration: cal.Calibration) -> None:
    assert {w.name for w in WORKLOADS} == SEED_OPERATION_TYPES
    sizes: dict[str, set[int]] = {}
    for m in calibration.measurements:
        sizes.setdefault(m.workload, set()).add(m.iterations)
    assert all(len(s) >= 4 for s in sizes.values()) and set(sizes) == SEED_OPERATION_TYPES
    assert all(m.success for m in calibration.measurements), [m.error for m in calibration.measurements]


def test_fuel_is_deterministic_across_repeats(calibration: cal.Calibration) -> None:
    assert calibration.deterministic
    assert all(m.repeats == 2 for m in calibration.measurements)


def test_every_loop_shaped_workload_fits_a_line(calibration: cal.Calibration) -> None:
    assert len(calibration.fits) == len(WORKLOADS)
    for f in calibration.fits:
        assert f.r_squared >= 0.999, f
        assert f.fuel_per_op > 0 and f.fixed_fuel > 1_000_000


def test_fits_separate_the_fixed_cost_the_seed_folded_in(calibration: cal.Calibration) -> None:
    fits = {f.workload: f for f in calibration.fits}
    add = fits["arithmetic_add"]
    # the seed's per-iteration figure is inflated by fixed_fuel / iterations
    assert add.naive_fuel_per_op == pytest.approx(add.fuel_per_op + add.fixed_fuel / add.max_iterations, rel=1e-3)
    assert fits["baseline"].net_fuel_per_op == 0
    assert add.net_fuel_per_op == pytest.approx(add.fuel_per_op - fits["baseline"].fuel_per_op)
    # the heavy workflow-like step costs far more per iteration than an addition
    assert fits["workflow_sim"].fuel_per_op > 20 * add.fuel_per_op


def test_budgets_are_fixed_plus_p90_rate_times_ops(calibration: cal.Calibration) -> None:
    ops = [f.fuel_per_op for f in calibration.fits if f.category != "baseline"]
    rate = cal.quantile(ops, 0.9)
    assert [b.target_ops for b in calibration.budgets] == [1_000, 10_000, 100_000, 1_000_000]
    for b in calibration.budgets:
        assert b.fuel_per_op == pytest.approx(rate)
        assert abs(b.fuel_budget - (b.fixed_fuel + rate * b.target_ops)) <= 1  # rounding only
        assert b.fuel_budget_median < b.fuel_budget
        assert "p90" in b.derivation
    assert calibration.budgets[0].fixed_fuel >= calibration.empty_fuel


def test_seed_json_shape(calibration: cal.Calibration) -> None:
    doc = json.loads(json.dumps(cal.seed_json(calibration)))
    assert set(doc) >= {"timestamp", "sandboxUrl", "testCount", "successCount", "results", "statistics", "fits"}
    assert doc["testCount"] == doc["successCount"] == len(WORKLOADS)
    for r in doc["results"]:
        assert set(r) == {"name", "description", "iterations", "fuelConsumed", "fuelPerIteration", "success",
                          "error"}
        assert r["fuelPerIteration"] == pytest.approx(r["fuelConsumed"] / r["iterations"], abs=0.01)
    assert set(doc["statistics"]) == {"baseline", "avgFuelPerIteration"}
    assert doc["statistics"]["baseline"] == calibration.empty_fuel
    assert {f["name"] for f in doc["fits"]} == SEED_OPERATION_TYPES


def test_text_report_has_categories_extremes_budgets_and_fits(calibration: cal.Calibration) -> None:
    text = cal.text_report(calibration)
    for fragment in ("[arithmetic]", "[json]", "most expensive:", "least expensive:", "1,000,000", "R²", "p90"):
        assert fragment in text
    assert "workflow_sim" in text.split("most expensive:")[1].splitlines()[0]


def test_text_report_survives_a_flat_workload(calibration: cal.Calibration) -> None:
    # e.g. a remote sandbox whose fuel does not grow with iterations: no division by a zero slope
    flat = [f.model_copy(update={"fuel_per_op": 0.0}) if f.workload == "comparison" else f for f in calibration.fits]
    text = cal.text_report(calibration.model_copy(update={"fits": flat}))
    assert "least expensive: comparison (0)" in text and "spread:" not in text


def test_a_failing_measurement_is_reported_not_raised() -> None:
    broken = cal.Workload("broken", "test", "throws", "throw new Error('boom');", sizes=(10, 20))
    m = cal.measure(default_sandbox(), broken, 10, repeats=2)
    assert not m.success and not m.deterministic and "boom" in m.error
    assert cal.fit_workloads([m]) == []


def test_calibrate_cli_text_and_json(tmp_path: Path) -> None:
    wfprof = str(Path(sys.executable).parent / "wfprof")
    out = tmp_path / "nested" / "cal.json"
    out.parent.mkdir()  # a missing folder is an error now, not created silently (issue 16, item 11)
    done = subprocess.run([wfprof, "calibrate", f"--output={out}"], capture_output=True, text=True, timeout=120,
                          cwd=PROJECT_ROOT, env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home())})
    assert done.returncode == 0, done.stderr
    assert "WASM fuel calibration" in done.stdout and "deterministic: yes" in done.stdout
    # Not a terminal: plain progress lines on stderr, one per operation type, then the total.
    lines = done.stderr.splitlines()
    assert lines[0].startswith("calibrate (embedded): baseline (0/21 done, ")
    assert lines[-1].startswith("calibrate (embedded): 21/21 done in ") and len(lines) == len(WORKLOADS) + 1
    doc = json.loads(out.read_text())
    assert doc["sandboxUrl"] == "embedded" and doc["deterministic"] is True


def test_progress_draws_a_bar_on_a_terminal_and_counts_only_finished_work() -> None:
    live = io.StringIO()
    with Progress("job", 3, stream=live, live=True) as p:
        p.step("a long first name")
        p.step("b")
        p._bar.refresh()  # what a terminal shows now (rich redraws on a timer)
        shown = live.getvalue()
    assert "job: b" in shown and "1/3" in shown  # a finished first unit, the second running
    assert p._bar is None and p.done == 2  # stopped; b counted once the block ended
    tail = live.getvalue()[len(shown):]
    assert "\x1b[?25h" in tail and tail.endswith("\x1b[2K")  # transient: cursor back, the bar's line erased
    plain = io.StringIO()
    with pytest.raises(RuntimeError), Progress("job", 2, stream=plain, live=False) as p:
        p.step("a")
        p.step("b")
        raise RuntimeError("b failed")
    assert plain.getvalue().splitlines()[-1].startswith("job: b (1/2 done, ")  # b is not counted as done


def test_calibrate_cli_unwritable_output_is_a_clean_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    wfprof = str(Path(sys.executable).parent / "wfprof")
    done = subprocess.run([wfprof, "calibrate", "--repeats", "1", f"--output={blocker}/cal.json"],
                          capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
    assert done.returncode == 2 and done.stderr.startswith("wfprof: error: cannot write")


# --- Dagster assets and checks ---------------------------------------------------------------------------

FUEL_DEFS = [assets.fuel_calibrations, assets.fuel_fits, assets.fuel_budgets, checks.fuel_deterministic,
             checks.fuel_fits_linear]


@pytest.fixture(scope="module")
def materialized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dg.ExecuteInProcessResult]:
    warehouse = tmp_path_factory.mktemp("fuel-wh") / "w.duckdb"
    result = dg.materialize(FUEL_DEFS, resources={"warehouse": WarehouseResource.pinned(path=str(warehouse)),
                                                  "sandbox": SandboxResource()})
    return warehouse, result


def test_assets_write_the_three_tables(materialized: tuple[Path, dg.ExecuteInProcessResult]) -> None:
    warehouse, result = materialized
    assert result.success
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cols = {r[0] for r in con.sql("describe fuel_calibrations").fetchall()}
        assert {"workload", "category", "iterations", "fuel_consumed", "wasmtime_version",
                "quickjs_version"} <= cols
        assert con.sql("select count(distinct workload), min(iterations > 0)::int from fuel_calibrations"
                       ).fetchone() == (len(WORKLOADS), 1)
        fits = con.sql("select workload, fuel_per_op, fixed_fuel, r_squared from fuel_fits").fetchall()
        assert len(fits) == len(WORKLOADS) and min(r[3] for r in fits) >= 0.999
        budgets = con.sql("select target_ops, fuel_budget, naive_fuel_budget, derivation from fuel_budgets "
                          "order by target_ops").fetchall()
        assert [b[0] for b in budgets] == [1_000, 10_000, 100_000, 1_000_000]
        assert all(b[1] > 0 and b[2] > 0 for b in budgets)
    meta = result.asset_materializations_for_node("fuel_calibrations")[0].metadata
    assert meta["dagster/row_count"].value == len(WORKLOADS) * 4


def test_determinism_check_passes_on_real_measurements(materialized: tuple[Path, dg.ExecuteInProcessResult]) -> None:
    _, result = materialized
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["fuel_deterministic"].passed
    assert evaluations["fuel_fits_linear"].passed


def test_determinism_check_fails_when_stored_fuel_differs(
    materialized: tuple[Path, dg.ExecuteInProcessResult], tmp_path: Path
) -> None:
    warehouse, _ = materialized
    tampered = tmp_path / "tampered.duckdb"
    tampered.write_bytes(warehouse.read_bytes())
    smallest = min(workload("json_parse").sizes)
    with duckdb.connect(str(tampered)) as con:
        con.execute("update fuel_calibrations set fuel_consumed = fuel_consumed + 1 "
                    "where workload = 'json_parse' and iterations = ?", [smallest])
    result = dg.materialize(
        [assets.fuel_calibrations, checks.fuel_deterministic],
        selection=dg.AssetSelection.checks(checks.fuel_deterministic),
        resources={"warehouse": WarehouseResource.pinned(path=str(tampered)), "sandbox": SandboxResource()},
        raise_on_error=False,
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert "json_parse" in evaluation.metadata["mismatches"].value
