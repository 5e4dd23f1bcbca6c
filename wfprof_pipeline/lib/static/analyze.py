"""Corpus → per-file results: the seed's metrics, per-function complexity and external calls, never crashing.

Bad input still yields a row: unreadable files and files over the size limit get zero counts and a `parse_error`;
syntax errors are flagged with the first error's position and keep the counts tree-sitter's error recovery
could make; invalid UTF-8 is decoded with replacement characters (as Node's `readFileSync(f, "utf8")` does
for the seed) and flagged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import tree_sitter as ts

from wfprof_pipeline.lib.corpus import DEFAULT_GLOBS, EXTENSIONS, StepFile, discover
from wfprof_pipeline.lib.static import parser
from wfprof_pipeline.lib.static.external_calls import ExternalCall, RuleSet, external_calls
from wfprof_pipeline.lib.static.file_metrics import FileMetrics, count_lines, file_metrics
from wfprof_pipeline.lib.static.functions import FunctionMetrics, function_metrics

# Generated bundles can be huge; above this a file is reported, not parsed (tree-sitter needs ~20× the
# source size in memory). 5 MB sources parse fine.
MAX_FILE_BYTES = 32 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"


@dataclass
class FileResult:
    file: str  # relative to the corpus root, '/'-separated
    plugin: str
    step: str
    language: str
    metrics: FileMetrics = field(default_factory=FileMetrics)
    functions: list[FunctionMetrics] = field(default_factory=list)
    external_calls: list[ExternalCall] = field(default_factory=list)
    # Why the counts are partial or missing (syntax error, unreadable, too large, invalid UTF-8); None if clean.
    parse_error: str | None = None


def _first_error(root: ts.Node) -> ts.Node | None:
    node = root
    while True:
        for child in node.children:
            if child.is_error or child.is_missing:
                return child
            if child.has_error:
                node = child
                break
        else:
            return node if node is not root else None


def _syntax_error(root: ts.Node) -> str:
    bad = _first_error(root)
    if bad is None:
        return "syntax error"
    line, col = bad.start_point[0] + 1, bad.start_point[1] + 1
    if bad.is_missing:
        return f"syntax error at line {line}, column {col}: missing {bad.type!r}"
    return f"syntax error at line {line}, column {col}"


def _decode_utf8(source: bytes) -> tuple[bytes, str | None]:
    """Valid UTF-8 for tree-sitter; invalid bytes become U+FFFD (line numbers stay the same)."""
    try:
        source.decode("utf-8")
        return source, None
    except UnicodeDecodeError as exc:
        line = source.count(b"\n", 0, exc.start) + 1
        return source.decode("utf-8", "replace").encode("utf-8"), f"invalid UTF-8 at line {line} (byte {exc.start})"


def analyze_source(source: bytes, language: str, rules: RuleSet, *, name: str = "<source>", plugin: str = "",
                   step: str = "") -> FileResult:
    """Analyze one file's bytes. `language` is typescript, tsx or javascript."""
    result = FileResult(file=name, plugin=plugin, step=step, language=language)
    lines = count_lines(source)
    if len(source) > MAX_FILE_BYTES:
        result.metrics = FileMetrics(lines=lines)
        result.parse_error = f"not analyzed: {len(source):,} bytes is over the {MAX_FILE_BYTES:,}-byte limit"
        return result
    text, encoding_error = _decode_utf8(source[3:] if source.startswith(_BOM) else source)
    tree = parser.parse(text, language)
    caps = parser.captures(tree, language)
    result.metrics = file_metrics(text, caps)  # a stripped BOM or U+FFFD never changes the newline count
    result.functions = function_metrics(caps, text)
    result.external_calls = external_calls(caps.get("call", []), text, rules, caps.get("import_statement", []))
    errors = [e for e in (_syntax_error(tree.root_node) if tree.root_node.has_error else None, encoding_error) if e]
    result.parse_error = "; ".join(errors) or None
    return result


def analyze_file(step: StepFile, rules: RuleSet) -> FileResult:
    try:
        source = step.path.read_bytes()
    except OSError as exc:
        result = FileResult(step.rel, step.plugin, step.step, step.language)
        result.parse_error = f"unreadable: {exc.strerror or exc}"
        return result
    return analyze_source(source, step.language, rules, name=step.rel, plugin=step.plugin, step=step.step)


def language_for(path: Path | str) -> str:
    suffix = Path(path).suffix
    if suffix not in EXTENSIONS:
        raise ValueError(f"{path}: not a source file ({', '.join(sorted(EXTENSIONS))})")
    return EXTENSIONS[suffix]


def analyze_corpus(
    root: Path | str,
    rules: RuleSet,
    *,
    globs: Iterable[str] = DEFAULT_GLOBS,
    plugin: str | None = None,
) -> list[FileResult]:
    """Every step file under `root` (sorted by path), optionally only one plugin's."""
    files = discover(root, tuple(globs))
    if plugin is not None:
        files = [f for f in files if f.plugin == plugin]
    return [analyze_file(f, rules) for f in files]
