"""The seed's per-file metrics, with the seed's exact semantics (design.md, "Static analysis").

The seed walked the TypeScript compiler's AST; these are the same node kinds in tree-sitter's grammar:
if/ternary/switch/case/catch/try/throw/loops/`&&`/`||`/`??`/await/call. Not counted at file level (the seed
did not): `?.`, default values, logical assignment, `default:` clauses, conditional *types*.
"""

from __future__ import annotations

from dataclasses import dataclass

import tree_sitter as ts


@dataclass(frozen=True)
class Details:
    ifs: int = 0
    ternaries: int = 0
    switches: int = 0
    switch_cases: int = 0  # `case` clauses; `default:` is not a decision point
    for_loops: int = 0  # for, for-in, for-of (and for-await)
    while_loops: int = 0
    do_while_loops: int = 0
    logical_ands: int = 0
    logical_ors: int = 0
    nullish_coalescing: int = 0  # `??`: counted in cyclomaticComplexity by the seed, reported here too


@dataclass(frozen=True)
class FileMetrics:
    lines: int = 1
    await_expressions: int = 0
    function_calls: int = 0  # call expressions incl. optional and chained calls; not `new`, not tagged templates
    conditionals: int = 0  # if + ternary + switch
    try_catch_blocks: int = 0  # try statements (with or without catch)
    throw_statements: int = 0
    loops: int = 0
    cyclomatic_complexity: int = 1
    details: Details = Details()


def count_lines(source: bytes) -> int:
    """The seed's definition: newline count + 1 (an empty file has one line)."""
    return source.count(b"\n") + 1


def file_metrics(source: bytes, caps: dict[str, list[ts.Node]]) -> FileMetrics:
    def n(name: str) -> int:
        return len(caps.get(name, ()))

    details = Details(
        ifs=n("if"),
        ternaries=n("ternary"),
        switches=n("switch"),
        switch_cases=n("case"),
        for_loops=n("for") + n("forin"),
        while_loops=n("while"),
        do_while_loops=n("do"),
        logical_ands=n("and"),
        logical_ors=n("or"),
        nullish_coalescing=n("nullish"),
    )
    loops = details.for_loops + details.while_loops + details.do_while_loops
    cyclomatic = (
        1
        + details.ifs
        + details.ternaries
        + details.switch_cases
        + n("catch")
        + loops
        + details.logical_ands
        + details.logical_ors
        + details.nullish_coalescing
    )
    return FileMetrics(
        lines=count_lines(source),
        await_expressions=n("await"),
        function_calls=n("call"),
        conditionals=details.ifs + details.ternaries + details.switches,
        try_catch_blocks=n("try"),
        throw_statements=n("throw"),
        loops=loops,
        cyclomatic_complexity=cyclomatic,
        details=details,
    )
