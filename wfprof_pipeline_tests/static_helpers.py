"""Shared by the static-analysis tests: fixture locations and a one-call analyzer."""

from __future__ import annotations

from pathlib import Path

from wfprof_pipeline.lib.static.analyze import FileResult, analyze_source, language_for
from wfprof_pipeline.lib.static.external_calls import RuleSet

FIXTURES = Path(__file__).parent / "fixtures"
PROBES = FIXTURES / "static-probes"
CONSTRUCTS = FIXTURES / "static-constructs"
SOURCE_SUFFIXES = {".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs"}


def analyze_path(path: Path, rules: RuleSet | None = None) -> FileResult:
    return analyze_source(path.read_bytes(), language_for(path), rules or RuleSet(), name=path.name)


def analyze_text(text: str, language: str = "typescript", rules: RuleSet | None = None) -> FileResult:
    return analyze_source(text.encode(), language, rules or RuleSet())


def fixture_files() -> list[Path]:
    return sorted(p for d in (PROBES, CONSTRUCTS) for p in d.iterdir() if p.suffix in SOURCE_SUFFIXES)
