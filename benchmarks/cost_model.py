"""Benchmark: recompute the whole cost model from existing measurements, with and without 1M trace rows.

What is timed is everything the cost-model assets do after their upstream measurements exist: read the
measurement tables, compute tiers, prices, correlations, breakdowns, priorities and claim checks, write
the five tables and the `v_step_costs` view, and render + write the HTML report. Baseline: the same with a
small trace table (2,000 step runs), measured in the same run. A second table times the same through
Dagster: `dg.materialize` of the six warehouse cost-model assets (user_code_fuel, which needs Postgres and
the sandbox, is left out), in-process on an ephemeral instance.

    .venv/bin/python benchmarks/cost_model.py [--repeat 5] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from wfprof_pipeline.lib import warehouse
from wfprof_pipeline.lib.cost_model.inputs import read_inputs
from wfprof_pipeline.lib.cost_model.model import (
    V_STEP_COSTS_SQL,
    compute_cost_model,
    pricing_with_context,
)
from wfprof_pipeline.lib.cost_model.report import write_report
from wfprof_pipeline.lib.cost_model.synthetic import build_warehouse, write_registry, write_traces


def recompute(db: Path, root: Path) -> dict[str, float]:
    t0 = time.perf_counter()
    with warehouse.session(db) as con:
        inputs = read_inputs(con, root)
        t1 = time.perf_counter()
        model = compute_cost_model(inputs)
        t2 = time.perf_counter()
        for name, frame in (("step_tiers", model.tiers),
                            ("step_pricing", pricing_with_context(model.pricing, model.per_step)),
                            ("static_runtime_correlation", model.correlation),
                            ("cost_breakdown", model.breakdown),
                            ("optimization_priorities", model.priorities)):
            warehouse.replace_table(con, name, frame)
        con.execute(V_STEP_COSTS_SQL)
        t3 = time.perf_counter()
    write_report(model, root / "reports")
    t4 = time.perf_counter()
    return {"read": t1 - t0, "compute": t2 - t1, "write": t3 - t2, "report": t4 - t3, "total": t4 - t0}


def materialize(db: Path, root: Path) -> float:
    import dagster as dg

    from wfprof_pipeline.defs.pricing import assets as cm
    from wfprof_pipeline.defs.resources import StepCorpusResource, WarehouseResource

    selection = [cm.step_tiers, cm.step_pricing, cm.static_runtime_correlation, cm.cost_breakdown,
                 cm.optimization_priorities, cm.cost_report]
    t0 = time.perf_counter()
    result = dg.materialize(selection, resources={"warehouse": WarehouseResource.pinned(path=str(db)),
                                                  "step_corpus": StepCorpusResource.pinned(root=str(root))},
                            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}})
    elapsed = time.perf_counter() - t0
    assert result.success
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wfprof-bench-cost-") as tmp:  # ~20 MB of warehouses, removed after
        return run(args, Path(tmp))


def run(args: argparse.Namespace, root: Path) -> int:
    write_registry(root)
    small, big = root / "small.duckdb", root / "big.duckdb"
    build_warehouse(small, trace_rows=2_000)
    build_warehouse(big, trace_rows=0)
    with duckdb.connect(str(big)) as con:
        write_traces(con, args.rows)
    print(f"warehouses in {root}: baseline 2,000 trace rows; large {args.rows:,} trace rows")

    results: dict[str, list[dict[str, float]]] = {"baseline": [], "large": []}
    recompute(small, root)  # warm-up: imports, scipy, first DuckDB connection
    for _ in range(args.repeat):  # interleaved, so machine noise hits both alike
        results["baseline"].append(recompute(small, root))
        results["large"].append(recompute(big, root))

    def med(name: str, part: str) -> float:
        return statistics.median(r[part] for r in results[name])

    print(f"\nmedian of {args.repeat} runs (seconds)")
    print(f"{'':>10} {'read':>8} {'compute':>8} {'write':>8} {'report':>8} {'total':>8}")
    parts = ("read", "compute", "write", "report", "total")
    for name in results:
        print(f"{name:>10} " + " ".join(f"{med(name, p):8.3f}" for p in parts))
    ratio = med("large", "total") / med("baseline", "total")
    print(f"\nlarge / baseline total: {ratio:.2f}×; large total {med('large', 'total'):.2f} s (goal ≤ 5 s)")

    import os

    os.environ["WFPROF_STEP_REGISTRY"] = str(root / "registry.toml")
    os.environ["WFPROF_REPORTS_DIR"] = str(root / "reports")
    materialize(small, root)  # warm-up
    runs: dict[str, list[float]] = {"baseline": [], "large": []}
    for _ in range(args.repeat):
        runs["baseline"].append(materialize(small, root))
        runs["large"].append(materialize(big, root))
    b, lg = statistics.median(runs["baseline"]), statistics.median(runs["large"])
    print(f"\nthrough Dagster (dg.materialize of 6 cost-model assets), median of {args.repeat} runs:")
    print(f"  baseline {b:.2f} s, large {lg:.2f} s, large / baseline {lg / b:.2f}× (goal ≤ 5 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
