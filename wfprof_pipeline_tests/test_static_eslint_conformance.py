"""Conformance with the real tools, on every fixture, the inline probes and the bundled sample corpus:

- per-function complexity equals ESLint's `complexity` rule (ESLint 10 + typescript-eslint, threshold 0);
- per-file metrics equal the seed's metrics counted on the TypeScript compiler's own AST (seed_metrics.mjs,
  which reproduces the probes' measured seed numbers).

Both tools live in a test-only npm folder (eslint_conformance/, own package-lock); `npm ci` runs here when its
node_modules is missing or stale.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from wfprof_pipeline.lib.corpus import discover
from wfprof_pipeline_tests import test_static_fixtures as fixtures
from wfprof_pipeline_tests.static_helpers import analyze_path, fixture_files

ESLINT_DIR = Path(__file__).parent / "eslint_conformance"
SAMPLE_CORPUS = Path(__file__).resolve().parents[1] / "data" / "steps"


@pytest.fixture(scope="session")
def eslint_runner() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("Node.js and npm are required for the ESLint conformance test")
    stamp = ESLINT_DIR / "node_modules" / ".package-lock.json"
    lock = ESLINT_DIR / "package-lock.json"
    if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ESLINT_DIR, check=True,
                       timeout=300)
    return ESLINT_DIR / "complexity.mjs"


def _inline_sources(tmp: Path) -> list[Path]:
    sources = [src for src, _, _ in fixtures.INLINE]
    sources += [fixtures.NAMES_SOURCE, fixtures.CALLS_SOURCE, fixtures.TYPE_IMPORTS_SOURCE]
    paths = []
    for i, src in enumerate(sources):
        p = tmp / f"inline-{i:02d}.ts"
        p.write_text(src)
        paths.append(p)
    return paths


def _eslint(runner: Path, root: Path, files: list[Path]) -> dict[str, dict]:
    proc = subprocess.run(["node", str(runner), str(root), *map(str, files)], capture_output=True, text=True,
                          timeout=120, check=True)
    return {Path(r["file"]).resolve().as_posix(): r for r in json.loads(proc.stdout)}


def _groups(tmp: Path) -> list[tuple[Path, list[Path]]]:
    inline_dir = tmp / "inline"
    inline_dir.mkdir(exist_ok=True)
    return [
        (fixtures.PROBES.parent, fixture_files()),
        (inline_dir, _inline_sources(inline_dir)),
        (SAMPLE_CORPUS, [f.path for f in discover(SAMPLE_CORPUS)]),
    ]


def test_every_file_metric_matches_the_typescript_compiler(eslint_runner, tmp_path):
    files = [f for _, group in _groups(tmp_path) for f in group]
    proc = subprocess.run(["node", str(ESLINT_DIR / "seed_metrics.mjs"), *map(str, files)], capture_output=True,
                          text=True, timeout=120, check=True)
    reference = {Path(r["file"]).as_posix(): r["metrics"] for r in json.loads(proc.stdout)}
    mismatches = []
    for path in files:
        expected = reference[path.resolve().as_posix()]
        assert expected.pop("parseErrors") == 0, f"the compiler reports syntax errors in {path}"
        m = analyze_path(path).metrics
        d = m.details
        ours = {
            "lines": m.lines, "awaitExpressions": m.await_expressions, "functionCalls": m.function_calls,
            "conditionals": m.conditionals, "tryCatchBlocks": m.try_catch_blocks,
            "throwStatements": m.throw_statements, "loops": m.loops, "cyclomaticComplexity": m.cyclomatic_complexity,
            "details": {"ifs": d.ifs, "ternaries": d.ternaries, "switches": d.switches,
                        "switchCases": d.switch_cases, "forLoops": d.for_loops, "whileLoops": d.while_loops,
                        "doWhileLoops": d.do_while_loops, "logicalAnds": d.logical_ands, "logicalOrs": d.logical_ors,
                        "nullishCoalescing": d.nullish_coalescing},
        }  # fmt: skip
        if ours != expected:
            mismatches.append((path.name, ours, expected))
    assert mismatches == []
    assert len(files) > 50


def test_every_function_matches_eslint(eslint_runner, tmp_path):
    groups = _groups(tmp_path)
    compared_functions = 0
    mismatches = []
    for root, files in groups:
        assert files, f"nothing to compare under {root}"
        reports = _eslint(eslint_runner, root, files)
        for path in files:
            report = reports[path.resolve().as_posix()]
            assert report["fatal"] == [], f"ESLint could not parse {path}: {report['fatal']}"
            ours = analyze_path(path)
            assert ours.parse_error is None, f"{path}: {ours.parse_error}"
            theirs = Counter((f["name"], f["complexity"]) for f in report["functions"])
            mine = Counter((f.name, f.cyclomatic_complexity) for f in ours.functions)
            if mine != theirs:
                mismatches.append((path.name, sorted((mine - theirs).elements()), sorted((theirs - mine).elements())))
                continue
            # ESLint reports each function at its head; it must lie within one of ours with that name and value.
            for f in report["functions"]:
                assert any(
                    g.name == f["name"] and g.cyclomatic_complexity == f["complexity"]
                    and g.start_line <= f["line"] <= g.end_line
                    for g in ours.functions
                ), f"{path.name}: ESLint's {f} is not within any of our functions"
            compared_functions += len(report["functions"])
    assert mismatches == [], "ours − ESLint, ESLint − ours per file"
    assert compared_functions > 100
