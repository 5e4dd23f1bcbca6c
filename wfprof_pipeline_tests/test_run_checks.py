"""`wfprof run` tells the truth about asset checks: a failed ERROR check fails the run (exit 1) and is named
with where to see its details; a failed WARN check is listed and the run still succeeds.

The checks are the real ones, evaluated by Dagster: `complexity_budget` (severity ERROR) with a budget of 3,
and `call_count_regression` (severity WARN) after the stored counts were lowered. The `wfprof run` command
is then driven with those real outcomes (the whole pipeline end to end is in test_run_end_to_end.py).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from wfprof_pipeline.cli import main
from wfprof_pipeline.defs.resources import NodeResource, StepCorpusResource, WarehouseResource
from wfprof_pipeline.defs.static_metrics.checks import complexity_budget
from wfprof_pipeline.defs.static_metrics.metrics import static_analysis
from wfprof_pipeline.defs.step_profiles.assets import step_profiling
from wfprof_pipeline.pipeline import run as pipeline

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "steps"


def _complexity_run(warehouse: Path, budget: float) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [static_analysis, complexity_budget],
        resources={"warehouse": WarehouseResource.pinned(path=str(warehouse)),
                   "step_corpus": StepCorpusResource.pinned(root=str(SAMPLE))},
        run_config={"ops": {"static_metrics_complexity_budget": {"config": {"budget": budget}}}},
    )


def _profiling_run(warehouse: Path) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [step_profiling],
        resources={"warehouse": WarehouseResource.pinned(path=str(warehouse)),
                   "step_corpus": StepCorpusResource.pinned(root=str(SAMPLE)), "node": NodeResource()},
        run_config={"ops": {"step_profiling": {"config": {"steps": ["webhook/send-webhook"], "modes": ["precise"],
                                                          "repeat": 1}}}},
    )


@pytest.fixture(scope="module")
def error_outcome(tmp_path_factory) -> pipeline.RunOutcome:
    result = _complexity_run(tmp_path_factory.mktemp("e") / "w.duckdb", budget=3)
    assert result.success  # Dagster itself calls this run a success
    return pipeline.RunOutcome(jobs=[(pipeline.NIGHTLY_JOB, result.success)], run_id=result.run_id,
                               failed_checks=pipeline.failed_checks(result))


@pytest.fixture(scope="module")
def warn_outcome(tmp_path_factory) -> pipeline.RunOutcome:
    warehouse = tmp_path_factory.mktemp("w") / "w.duckdb"
    assert _profiling_run(warehouse).success
    with duckdb.connect(str(warehouse)) as con:  # last night's counts were lower
        con.execute("update step_profiles set calls_own = 1, calls_packages = 0")
    result = _profiling_run(warehouse)
    assert result.success
    return pipeline.RunOutcome(jobs=[(pipeline.NIGHTLY_JOB, result.success)], run_id=result.run_id,
                               failed_checks=pipeline.failed_checks(result))


@pytest.mark.slow
def test_a_failed_error_check_fails_the_outcome(error_outcome: pipeline.RunOutcome) -> None:
    (check,) = error_outcome.failed_checks
    assert (check.name, check.asset, check.severity) == ("complexity_budget", "static_metrics", "ERROR")
    assert "budget=3" in check.details and "avg_cyclomatic_complexity=" in check.details
    assert not error_outcome.success


@pytest.mark.slow
def test_a_failed_warn_check_does_not(warn_outcome: pipeline.RunOutcome) -> None:
    (check,) = warn_outcome.failed_checks
    assert (check.name, check.asset, check.severity) == ("call_count_regression", "step_profiles", "WARN")
    assert "webhook/send-webhook" in check.details
    assert warn_outcome.success


def _wfprof_run(monkeypatch, tmp_path: Path, outcome: pipeline.RunOutcome) -> int:
    from wfprof_pipeline.lib import environment

    monkeypatch.setenv("WFPROF_WAREHOUSE", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("WFPROF_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("DATABASE_URL", "postgresql://unused@127.0.0.1:1/unused")
    duckdb.connect(str(tmp_path / "w.duckdb")).close()
    monkeypatch.setattr(environment, "apply", lambda *a, **k: {})  # no embedded server for this
    monkeypatch.setattr(pipeline, "run_all", lambda *a, **k: outcome)
    # In process, as `wfprof run`'s worker (its supervisor would start a real worker process instead).
    monkeypatch.setenv("WFPROF_RUN_WORKER", "1")
    return main(["run"])


@pytest.mark.slow
def test_wfprof_run_exits_1_on_a_failed_error_check(monkeypatch, tmp_path, capsys, error_outcome) -> None:
    assert _wfprof_run(monkeypatch, tmp_path, error_outcome) == 1
    out = capsys.readouterr().out
    assert "FAILED check complexity_budget on static_metrics (severity ERROR): " in out
    assert "check details: `wfprof dev` opens the Dagster UI: Assets → static_metrics → Checks, or Runs → " \
           f"{error_outcome.run_id}" in out
    assert "wfprof run FAILED in" in out


@pytest.mark.slow
def test_wfprof_run_exits_0_on_a_failed_warn_check(monkeypatch, tmp_path, capsys, warn_outcome) -> None:
    assert _wfprof_run(monkeypatch, tmp_path, warn_outcome) == 0
    out = capsys.readouterr().out
    assert "WARN check failed: call_count_regression on step_profiles (severity WARN): " in out
    assert "wfprof run succeeded in" in out
