"""Step profiling benchmark: what profiling costs, measured against baselines taken in the same run.

    .venv/bin/python benchmarks/step_profiling.py [--rounds N] [--root data/steps]

1. Wall time of profiling every sample step in precise + timing mode (one process each, parallel up to
   the cores), as `wfprof run` does with repeat 1 — the acceptance budget is 15 s.
2. Per-process harness overhead against bare `node -e 0`, for a trivial JavaScript step, per mode.
3. Profiled vs unprofiled execution: execute-phase time under precise coverage / sampling against the
   timing mode (no profiler), per step.
All figures are medians of `--rounds` repetitions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from wfprof_pipeline.lib.profiling.runner import HARNESS, ProfileOptions, compile_steps, profile_steps
from wfprof_pipeline.lib.registry import load_for_root, load_registry


def _median(values: list[float]) -> float:
    return statistics.median(values)


def wall_time_all_steps(root: Path, rounds: int) -> list[float]:
    registry = load_for_root(root)
    walls = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        results = profile_steps(registry, None, ProfileOptions(modes=("precise", "timing"), repeat=1))
        walls.append(time.perf_counter() - t0)
        failed = [r.step_id for r in results if r.failed]
        if failed:
            print(f"  warning: failed steps {failed}", file=sys.stderr)
    return walls


def _spawn(cmd: list[str], stdin: str | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=True)
    return (time.perf_counter() - t0) * 1000


def harness_overhead(rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        steps = root / "plugins" / "bench" / "steps"
        steps.mkdir(parents=True)
        (steps / "trivial.mjs").write_text("export async function step() { return { success: true }; }\n")
        (root / "registry.toml").write_text(
            '[steps."bench/trivial"]\nmodule = "plugins/bench/steps/trivial.mjs"\nexport = "step"\n'
            'action_type = "bench/trivial"\n'
        )
        registry = load_registry(root / "registry.toml")
        entry = registry.get("bench/trivial")
        compiled, shim_dir = compile_steps(registry, [entry], root / "build")

        def job(mode: str) -> str:
            return json.dumps({"mode": mode, "stepsRoot": str(root), "shimDir": shim_dir, "steps": [
                {"id": entry.id, "compiled": compiled[entry.module].compiled, "export": "step", "input": {}}]})

        out = {"node -e 0": _median([_spawn(["node", "-e", "0"]) for _ in range(rounds)])}
        for mode in ("timing", "precise", "sampling"):
            flags = ["--expose-gc"] if mode == "timing" else []
            out[f"harness {mode}"] = _median(
                [_spawn(["node", *flags, str(HARNESS)], job(mode)) for _ in range(rounds)]
            )
        return out


def profiled_vs_unprofiled(root: Path, rounds: int) -> list[tuple[str, float, float, float]]:
    registry = load_for_root(root)
    results = profile_steps(registry, None, ProfileOptions(modes=("precise", "sampling", "timing"), repeat=rounds))
    by: dict[tuple[str, str], list[float]] = {}
    for r in results:
        if r.outcome and "execute" in r.outcome.phases:
            by.setdefault((r.step_id, r.mode), []).append(r.outcome.phases["execute"].duration_ms)
    rows = []
    for step in registry.ids:
        base = by.get((step, "timing"))
        if not base:
            continue
        t = _median(base)
        rows.append((step, t, _median(by[(step, "precise")]) / t, _median(by[(step, "sampling")]) / t))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--root", default="data/steps")
    args = parser.parse_args()
    root = Path(args.root)

    print(f"1. profiling all sample steps, precise + timing, parallel ({args.rounds} rounds)")
    walls = wall_time_all_steps(root, min(args.rounds, 3))
    print(f"   median {_median(walls):.1f} s  (min {min(walls):.1f}, max {max(walls):.1f}; budget 15 s)")

    print(f"\n2. per-process overhead for a trivial JS step (median of {args.rounds * 2} spawns)")
    overhead = harness_overhead(args.rounds * 2)
    bare = overhead["node -e 0"]
    for name, ms in overhead.items():
        extra = "" if name == "node -e 0" else f"  (+{ms - bare:.0f} ms over node -e 0, {ms / bare:.2f}×)"
        print(f"   {name:18} {ms:7.1f} ms{extra}")

    print(f"\n3. execute phase, profiled / unprofiled (timing mode) — medians of {args.rounds} runs")
    print(f"   {'step':26} {'timing ms':>10} {'precise ×':>10} {'sampling ×':>11}")
    for step, t, precise, sampling in profiled_vs_unprofiled(root, args.rounds):
        print(f"   {step:26} {t:10.1f} {precise:10.2f} {sampling:11.2f}")


if __name__ == "__main__":
    main()
