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
    assert lines[0].split() == ["step", "phase", "own", "packages", "node", "total", "io", "ms", "load", "ms",
                                "heap", "MB", "×", "lightest"]
    rows = {tuple(line.split()[:2]): line.split() for line in lines[2:6]}
    assert set(rows) == {(s, p) for s in ("math/aggregate", "code/run-code") for p in ("import", "execute")}
    # aggregation is thousands of own calls; the code step's work is user code (other), not its own
    assert int(rows[("math/aggregate", "execute")][2].replace(",", "")) > 1000
    assert rows[("code/run-code", "execute")][-1] == "1.0×"  # the lighter step is the baseline
    assert "deterministic across 2 fresh processes: yes, every step and phase" in out


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
    assert "deterministic across 3 fresh processes: NO for math/aggregate execute" in text
    assert "error: code/run-code: step threw: boom" in text
