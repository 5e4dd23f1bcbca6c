"""Benchmark: whole-process `wfprof analyze --json` against the seed's approach (a TypeScript compiler program
per file, benchmarks/static-baseline/), measured in the same run. Not a test: prints medians and ratios.

    .venv/bin/python benchmarks/static_analysis.py [--repeats 11] [--large-files 5000] [--baseline-slice 100]

Corpora: the bundled sample (data/steps), a generated 40-file (~9,000-line) corpus, and a generated corpus of
--large-files realistic files (benchmarks/static_corpus.py). The compiler baseline is too slow to run on the
whole large corpus (~0.2 s per file), so it runs on its first --baseline-slice files and is compared per file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import static_corpus  # the sibling script: a script's own folder is on sys.path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent

BASELINE_DIR = HERE / "static-baseline"
WFPROF = Path(sys.executable).parent / "wfprof"
METRIC_KEYS = ("lines", "awaitExpressions", "functionCalls", "conditionals", "tryCatchBlocks", "throwStatements",
               "loops", "cyclomaticComplexity", "details")

# A bare tree-sitter pass (discover, read, parse, visit every node): the floor any Python analyzer sits on.
BARE_WALK = """
import sys, tree_sitter as ts, tree_sitter_typescript as t
from pathlib import Path
parser = ts.Parser(ts.Language(t.language_typescript()))
nodes = 0
for path in sorted(Path(sys.argv[1]).glob("plugins/*/steps/*.ts")):
    cursor = parser.parse(path.read_bytes()).walk()
    while True:
        nodes += 1
        if cursor.goto_first_child() or cursor.goto_next_sibling():
            continue
        while cursor.goto_parent() and not cursor.goto_next_sibling():
            pass
        if cursor.node.parent is None:
            break
print(nodes)
"""


def run(command: list[str], cwd: Path | None = None) -> tuple[float, int, str, float]:
    """Wall seconds, peak RSS (MiB), stdout and CPU seconds (user + system) of one whole process."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        stderr = proc.stderr.read().decode() if proc.stderr else ""
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}): {stderr}")
        out.seek(0)
        return wall, usage.ru_maxrss // 1024, out.read().decode(), usage.ru_utime + usage.ru_stime


def measure(command: list[str], repeats: int) -> dict:
    runs = [run(command) for _ in range(repeats)]
    return {"median_s": statistics.median(r[0] for r in runs), "min_s": min(r[0] for r in runs),
            "cpu_s": statistics.median(r[3] for r in runs), "peak_mib": max(r[1] for r in runs),
            "stdout": runs[-1][2], "runs": repeats}


def corpus_stats(root: Path) -> tuple[int, int]:
    files = sorted(root.glob("plugins/*/steps/*.ts"))
    return len(files), sum(p.read_bytes().count(b"\n") + 1 for p in files)


def ensure_baseline() -> None:
    if not (BASELINE_DIR / "node_modules" / "typescript").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=BASELINE_DIR, check=True)


def agreement(ours: str, baseline: str) -> tuple[int, int]:
    """Files whose seed metrics are identical in both outputs, out of the files both analyzed."""
    a = {f["file"]: f for p in json.loads(ours)["plugins"].values() for f in p}
    b = {f["file"]: f for p in json.loads(baseline)["plugins"].values() for f in p}
    same = 0
    for name in a.keys() & b.keys():
        if all(a[name][k] == b[name][k] for k in METRIC_KEYS):
            same += 1
    return same, len(a.keys() & b.keys())


def in_process(root: Path, repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of analyze_corpus (start-up excluded)."""
    from wfprof_pipeline.lib.static.analyze import analyze_corpus
    from wfprof_pipeline.lib.static.external_calls import RuleSet

    rules = RuleSet()
    analyze_corpus(root, rules)  # warm: grammars, queries, page cache
    walls, cpus = [], []
    for _ in range(repeats):
        started, cpu = time.perf_counter(), time.process_time()
        analyze_corpus(root, rules)
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--large-files", type=int, default=5000)
    ap.add_argument("--baseline-slice", type=int, default=100)
    ap.add_argument("--baseline-repeats", type=int, default=3)
    args = ap.parse_args()
    ensure_baseline()

    work = Path(tempfile.mkdtemp(prefix="wfprof-bench-static-"))
    try:
        medium, large, sliced = work / "medium", work / "large", work / "slice"
        static_corpus.generate(medium, 40, seed=1)
        static_corpus.generate(large, args.large_files, seed=2)
        for path in sorted(large.glob("plugins/*/steps/*.ts"))[: args.baseline_slice]:
            target = sliced / path.relative_to(large)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
        corpora = {"sample (data/steps)": PROJECT / "data" / "steps", "generated 40 files": medium,
                   f"generated {args.large_files} files": large}

        node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"python {sys.version.split()[0]}, node {node}, {os.cpu_count()} CPUs, load average {load}; "
              "medians of whole-process wall time (and CPU time: user + system)\n")
        rows = []
        for label, root in corpora.items():
            files, lines = corpus_stats(root)
            repeats = args.repeats if files <= 100 else 3
            ours = measure([str(WFPROF), "analyze", "--root", str(root), "--json"], repeats)
            row = {"corpus": label, "files": files, "lines": lines, "ours": ours}
            if files <= 100:
                row["bare"] = measure([sys.executable, "-c", BARE_WALK, str(root)], repeats)
                row["baseline"] = measure(["node", str(BASELINE_DIR / "analyze-steps.mjs"), str(root)],
                                          args.baseline_repeats)
                row["agreement"] = agreement(ours["stdout"], row["baseline"]["stdout"])
            rows.append(row)
            print(f"{label}: {files} files, {lines:,} lines")
            print(f"  wfprof analyze --json   {ours['median_s']:.3f} s  (cpu {ours['cpu_s']:.3f} s, "
                  f"min {ours['min_s']:.3f}, peak {ours['peak_mib']} MiB, {files / ours['median_s']:,.0f} files/s, "
                  f"{lines / ours['median_s']:,.0f} lines/s, n={repeats})")
            if "baseline" in row:
                base, bare = row["baseline"], row["bare"]
                print(f"  bare tree-sitter walk   {bare['median_s']:.3f} s  (cpu {bare['cpu_s']:.3f} s, "
                      f"peak {bare['peak_mib']} MiB)")
                print(f"  TS createProgram/file   {base['median_s']:.3f} s  (cpu {base['cpu_s']:.3f} s, "
                      f"peak {base['peak_mib']} MiB, n={base['runs']})")
                print(f"  ratio baseline / ours   {base['median_s'] / ours['median_s']:.1f}x wall, "
                      f"{base['cpu_s'] / ours['cpu_s']:.1f}x cpu")
                same, both = row["agreement"]
                print(f"  seed metrics identical  {same}/{both} files")

        slice_files, slice_lines = corpus_stats(sliced)
        base = measure(["node", str(BASELINE_DIR / "analyze-steps.mjs"), str(sliced)], 1)
        ours_slice = measure([str(WFPROF), "analyze", "--root", str(sliced), "--json"], 3)
        same, both = agreement(ours_slice["stdout"], base["stdout"])
        large_row = rows[-1]
        ours_rate = large_row["files"] / large_row["ours"]["median_s"]
        base_rate = slice_files / base["median_s"]
        print(f"baseline on the first {slice_files} files of the large corpus ({slice_lines:,} lines): "
              f"{base['median_s']:.2f} s, {base_rate:.1f} files/s, peak {base['peak_mib']} MiB; "
              f"seed metrics identical {same}/{both}")
        print(f"  ratio files/s ours (whole large corpus) / baseline: {ours_rate / base_rate:.0f}x")

        wall, cpu = in_process(large, 3)
        files, lines = large_row["files"], large_row["lines"]
        print(f"in-process analyze_corpus on the large corpus: {wall:.2f} s wall, {files / wall:,.0f} files/s, "
              f"{lines / wall:,.0f} lines/s; {cpu:.2f} s cpu, {lines / cpu:,.0f} lines per cpu-second (median of 3)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
