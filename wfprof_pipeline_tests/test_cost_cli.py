"""`wfprof report` as users run it: a real process against a real DuckDB warehouse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from wfprof_pipeline.cli import main
from wfprof_pipeline.lib.cost_model.synthetic import UNPROFILED, build_warehouse, write_registry

WFPROF = Path(sys.executable).parent / "wfprof"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    write_registry(root)
    build_warehouse(root / "w.duckdb", trace_rows=500)
    return root


def _run(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WFPROF_STEP_REGISTRY": str(root / "registry.toml"), "WFPROF_STEPS_ROOT": str(root),
           "WFPROF_REPORTS_DIR": str(root / "reports"), "WFPROF_WAREHOUSE": str(root / "w.duckdb")}
    env.pop("WFPROF_PRICING_POLICY", None)
    return subprocess.run([str(WFPROF), "report", *args], env=env, capture_output=True, text=True, timeout=120)


def test_report_prints_tables_claims_and_writes_html(corpus: Path) -> None:
    out = _run(corpus)
    assert out.returncode == 0, out.stderr
    for heading in ("Step tiers", "Step pricing", "Optimization priorities", "The seed's claims"):
        assert heading in out.stdout
    assert f"not priced: {UNPROFILED} (missing_profile" in out.stdout
    assert "DOES NOT HOLD" in out.stdout
    html = corpus / "reports" / "cost_report.html"
    assert html.is_file() and f"report: {html}" in out.stdout


def test_report_json_keeps_every_table(corpus: Path, tmp_path: Path) -> None:
    out = _run(corpus, "--json", "--output", str(tmp_path / "r.html"))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert {"tiers", "pricing", "correlation", "breakdown", "priorities", "claims", "missing"} <= set(doc)
    assert (tmp_path / "r.html").is_file() and doc["report"] == str(tmp_path / "r.html")
    # camelCase keys, as the README says of every --json (they were snake_case: issue 16)
    priced = [r for r in doc["pricing"] if r["totalUnits"] is not None]
    assert "stepId" in doc["tiers"][0] and "step_id" not in doc["tiers"][0]
    assert len(priced) == len(doc["pricing"]) - 1


def test_bad_policy_and_missing_warehouse_are_one_line_errors(corpus: Path, tmp_path: Path, capsys,
                                                              monkeypatch) -> None:
    # In-process through the CLI's own entry point (the error path is the same; no interpreter start-up).
    monkeypatch.setenv("WFPROF_STEP_REGISTRY", str(corpus / "registry.toml"))
    bad = tmp_path / "policy.toml"
    bad.write_text('[io_multipliers]\nchain_writ = 10\n')
    assert main(["report", "--warehouse", str(corpus / "w.duckdb"), "--policy", str(bad), "--no-html"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "io_multipliers.chain_writ: Extra inputs are not permitted" in err
    assert main(["report", "--warehouse", str(tmp_path / "nope.duckdb")]) == 2
    assert "does not exist" in capsys.readouterr().err
    not_duckdb = tmp_path / "notes.txt"
    not_duckdb.write_text("not a database")
    assert main(["report", "--warehouse", str(not_duckdb)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot read warehouse" in err
    assert main(["report", "--warehouse", str(corpus / "w.duckdb"), "--output", str(not_duckdb / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write the HTML report" in err
