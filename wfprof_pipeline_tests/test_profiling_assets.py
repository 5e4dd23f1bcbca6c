"""The step profiling multi-asset writes its four tables into a real DuckDB file, and the call-count
regression check warns when deterministic counts grew since the previous materialization."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from wfprof_pipeline.defs.resources import NodeResource, StepCorpusResource, WarehouseResource
from wfprof_pipeline.defs.step_profiles.assets import step_profiling
from wfprof_pipeline.lib.profiling.tables import IO_REQUESTS, PACKAGE_CALLS, PROFILE_FUNCTIONS, STEP_PROFILES

STEPS_ROOT = Path(__file__).resolve().parents[1] / "data" / "steps"
STEPS = ["webhook/send-webhook", "web3/check-balance"]


def _materialize(warehouse: Path, warn_pct: float = 10.0) -> dg.ExecuteInProcessResult:
    config = {"steps": STEPS, "regression_warn_pct": warn_pct}
    return dg.materialize(
        [step_profiling],
        resources={
            "warehouse": WarehouseResource.pinned(path=str(warehouse)),
            "step_corpus": StepCorpusResource.pinned(root=str(STEPS_ROOT)),
            "node": NodeResource(),
        },
        run_config={"ops": {"step_profiling": {"config": config}}},
    )


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("wh") / "wfprof.duckdb"


@pytest.fixture(scope="module")
def first_run(warehouse: Path) -> dg.ExecuteInProcessResult:
    return _materialize(warehouse)


def test_tables_have_the_declared_columns_and_rows(first_run, warehouse: Path) -> None:
    assert first_run.success
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table in (STEP_PROFILES, PACKAGE_CALLS, PROFILE_FUNCTIONS, IO_REQUESTS):
            cols = [r[0] for r in con.execute(f"describe {table.name}").fetchall()]
            assert cols == table.names, table.name
            comments = dict(con.execute("select column_name, comment from duckdb_columns() "
                                        "where table_name = ?", [table.name]).fetchall())
            assert comments == {c.name: c.doc for c in table.columns}, table.name
        rows = con.execute(
            "select step_id, mode, phase, action_type, io_class, deterministic, runs, error from step_profiles "
            "order by 1, 2, 3"
        ).fetchall()
        assert [(r[0], r[1], r[2]) for r in rows] == [
            (s, m, p) for s in sorted(STEPS) for m in ("precise", "timing")
            for p in ("execute", "execute_warm", "import")
        ]
        assert all(r[7] is None for r in rows)
        precise = [r for r in rows if r[1] == "precise"]
        assert all(r[6] == 2 for r in precise)  # default: 2 fresh processes, compared
        # exact everywhere, except ethers' warm balance read: its first warm execution still initialises
        varying = {(r[0], r[2]) for r in precise if r[5] is not True}
        assert varying <= {("web3/check-balance", "execute_warm")}, varying
        assert ("web3/check-balance", "web3/check-balance", "chain_read") in {(r[0], r[3], r[4]) for r in rows}
        ethers = con.execute(
            "select sum(calls) from step_package_calls where step_id = 'web3/check-balance' and package = 'ethers'"
        ).fetchone()[0]
        assert ethers > 0
        rpc = con.execute("select rpc_method from step_io_requests where step_id = 'web3/check-balance' order by 1")
        assert [r[0] for r in rpc.fetchall()] == ["eth_chainId", "eth_getBalance"]
    meta = first_run.get_asset_materialization_events()[0].materialization.metadata
    assert meta["dagster/row_count"].value == 12 and meta["failed_steps"].value == "none"  # 2 steps, 2 modes, 3 phases
    check = first_run.get_asset_check_evaluations()[0]
    assert check.passed and "first materialization" in check.metadata["previous"].value


def test_regression_check_warns_when_counts_grew(first_run, warehouse: Path) -> None:
    assert first_run.success
    # Pretend the previous materialization measured the ethers step with far fewer package calls.
    with duckdb.connect(str(warehouse)) as con:
        con.execute("update step_profiles set calls_packages = calls_packages // 2 "
                    "where step_id = 'web3/check-balance' and mode = 'precise' and phase = 'execute'")
    result = _materialize(warehouse)
    check = result.get_asset_check_evaluations()[0]
    assert result.success  # a warning does not fail the run
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    regressions = check.metadata["regressions"].value
    assert "web3/check-balance execute" in regressions and "webhook" not in regressions
    # Unchanged counts against that fresh materialization: passes.
    again = _materialize(warehouse)
    assert again.get_asset_check_evaluations()[0].passed
