"""Step profiling benchmark: what profiling costs, measured against baselines taken in the same run.

    .venv/bin/python benchmarks/step_profiling.py [--rounds N] [--root data/steps]

1. Wall time of profiling every sample step in precise + timing mode (one process each, parallel up to
   the cores), as `wfprof run` does with repeat 1 — the acceptance budget is 15 s — with the default 5 warm
   executions per process against none (the baseline: what profiling cost before warm runs), interleaved
   round by round so both see the same machine load.
2. Per-process harness overhead against bare `node -e 0`, for a trivial JavaScript step, per mode.
3. Profiled vs unprofiled execution: execute-phase time under precise coverage / sampling against the
   timing mode (no profiler), per step.
All figures are medians of `--rounds` repetitions.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


def wall_time_all_steps(root: Path, rounds: int) -> dict[int, list[float]]:
    """Wall seconds per round, keyed by warm runs (0 = the baseline, 5 = the default)."""
    registry = load_for_root(root)
    walls: dict[int, list[float]] = {0: [], 5: []}
    for _ in range(rounds):
        for warm in (0, 5):
            t0 = time.perf_counter()
            results = profile_steps(registry, None, ProfileOptions(modes=("precise", "timing"), repeat=1,
                                                                   warm_runs=warm))
            walls[warm].append(time.perf_counter() - t0)
            failed = [r.step_id for r in results if r.failed]
            if failed:
                print(f"  warning: failed steps {failed}", file=sys.stderr)
    return walls


def _spawn(cmd: list[str], stdin: str | None = None) -> tuple[float, float]:
    """(wall ms, CPU ms) of one process. CPU time is far less disturbed by a busy machine than wall time."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=True)
    wall = (time.perf_counter() - t0) * 1000
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000


def _medians(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return _median([w for w, _ in samples]), _median([c for _, c in samples])


def harness_overhead(rounds: int) -> dict[str, tuple[float, float]]:
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

        def job(mode: str, network: bool = False) -> str:
            step = {"id": entry.id, "compiled": compiled[entry.module].compiled, "export": "step", "input": {}}
            extra = {}
            if network:  # a step with canned responses: fetch/https prewarm, stub is the batch's process
                step["responses"] = [{"path": "/x"}]
                extra = {"stub": {"url": "http://127.0.0.1:9/t/bench", "port": 9}}
            return json.dumps({"mode": mode, "stepsRoot": str(root), "shimDir": shim_dir, "steps": [step], **extra})

        out = {"node -e 0": _medians([_spawn(["node", "-e", "0"]) for _ in range(rounds)])}
        for mode in ("timing", "precise", "sampling"):
            flags = ["--expose-gc"] if mode == "timing" else []
            out[f"harness {mode}"] = _medians(
                [_spawn(["node", *flags, str(HARNESS)], job(mode)) for _ in range(rounds)]
            )
        out["harness precise, I/O step"] = _medians(
            [_spawn(["node", str(HARNESS)], job("precise", network=True)) for _ in range(rounds)]
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

    print(f"1. profiling all sample steps, precise + timing, parallel ({min(args.rounds, 3)} rounds)")
    walls = wall_time_all_steps(root, min(args.rounds, 3))
    for warm, label in ((0, "no warm runs (baseline)"), (5, "5 warm runs (default)")):
        w = walls[warm]
        print(f"   {label:24} median {_median(w):.1f} s  (min {min(w):.1f}, max {max(w):.1f}; budget 15 s)")
    print(f"   warm runs cost {_median(walls[5]) / _median(walls[0]):.2f}× the baseline's wall time (budget 1.5×)")

    print(f"\n2. per-process overhead for a trivial JS step (median of {args.rounds * 2} spawns)")
    overhead = harness_overhead(args.rounds * 2)
    bare_wall, bare_cpu = overhead["node -e 0"]
    print(f"   {'':26} {'wall ms':>8} {'over bare':>10} {'CPU ms':>8} {'over bare':>10}")
    for name, (wall, cpu) in overhead.items():
        print(f"   {name:26} {wall:8.1f} {wall - bare_wall:+10.1f} {cpu:8.1f} {cpu - bare_cpu:+10.1f}")
    print(f"   (load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")

    print(f"\n3. execute phase, profiled / unprofiled (timing mode) — medians of {args.rounds} runs")
    print(f"   {'step':26} {'timing ms':>10} {'precise ×':>10} {'sampling ×':>11}")
    for step, t, precise, sampling in profiled_vs_unprofiled(root, args.rounds):
        print(f"   {step:26} {t:10.1f} {precise:10.2f} {sampling:11.2f}")


if __name__ == "__main__":
    main()
