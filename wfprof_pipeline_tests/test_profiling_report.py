"""`wfprof profile` text output: the seed's comparison table, from real harness runs of two compute steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from wfprof_pipeline.cli import main
from wfprof_pipeline.lib.profiling.report import render_table
from wfprof_pipeline.lib.profiling.summary import StepProfileRow, Summary
from wfprof_pipeline.lib.registry import load_for_root

STEPS_ROOT = Path(__file__).resolve().parents[1] / "data" / "steps"


def test_cli_compare_prints_the_comparison_table(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["profile", "--compare", "math/aggregate,code/run-code", "--precise", "--repeat", "2", "--no-timing"])
    out = capsys.readouterr().out
    assert rc == 0, out
    lines = out.splitlines()
    # side by side: one column per step, then the difference and the ratio to the first
    assert lines[0].split() == ["measure", "math/aggregate", "code/run-code", "Δ", "ratio"]
    rows = {line.split(":")[0] + ":" + line.split(":")[1].split("  ")[0]: line.split() for line in lines[2:]
            if ":" in line and line.startswith(("import", "execute"))}
    own = rows["execute: own"]
    # aggregation is thousands of own calls; the code step's work is user code (other), not its own
    math_own, code_own = (int(v.replace(",", "")) for v in own[2:4])
    assert math_own > 1000 and code_own < 100
    assert own[4] == f"{code_own - math_own:+,}" and own[5] == f"{code_own / math_own:,.2f}×"
    assert "execute_warm: own + packages" in out and "each step against math/aggregate" in out
    assert ("deterministic (own + packages equal in 2 fresh process(es) and every warm execution): "
            "yes, every step and phase") in out


def test_table_names_steps_whose_counts_varied() -> None:
    registry = load_for_root(STEPS_ROOT)
    rows = [
        StepProfileRow("math/aggregate", "precise", "import", calls_own=1, calls_packages=0, calls_total=1500,
                       runs=3, deterministic=True),
        StepProfileRow("math/aggregate", "precise", "execute", calls_own=2900, calls_packages=0, calls_total=3000,
                       runs=3, deterministic=False),
        StepProfileRow("code/run-code", "precise", "execute", error="step threw: boom", runs=0),
    ]
    text = render_table(Summary(profiles=rows), registry, mode="precise",
                        step_ids=["math/aggregate", "code/run-code"])
    assert ("deterministic (own + packages equal in 3 fresh process(es) and every warm execution): "
            "NO for math/aggregate execute") in text
    assert "error: code/run-code: step threw: boom" in text
