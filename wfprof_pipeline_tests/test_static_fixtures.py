"""One construct per fixture, counted and not counted.

The probes (fixtures/static-probes) carry numbers *measured* with the seed's TypeScript-compiler analyzer and
ESLint 10.15 (their README's table, parsed below); the constructs (fixtures/static-constructs) carry numbers
worked out by hand, asserted here for every metric.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wfprof_pipeline.lib.static.file_metrics import Details, FileMetrics
from wfprof_pipeline_tests.static_helpers import CONSTRUCTS, PROBES, analyze_path, analyze_text

_ROW = re.compile(r"^\| (\d\d-[\w-]+) \| (\d+) \| ([^|]+) \|")
_ESLINT_ENTRY = re.compile(r"^(.*?)=(\d+)$")


def _probe_table() -> dict[str, tuple[int, list[tuple[str, int]]]]:
    table = {}
    for line in (PROBES / "README.md").read_text().splitlines():
        m = _ROW.match(line)
        if m:
            entries = []
            for part in m.group(3).strip().split("; "):
                name, cc = _ESLINT_ENTRY.match(part.strip()).groups()
                entries.append((name, int(cc)))
            table[m.group(1)] = (int(m.group(2)), entries)
    return table


PROBE_TABLE = _probe_table()


def test_probe_table_covers_every_probe_file():
    assert sorted(PROBE_TABLE) == sorted(p.stem for p in PROBES.glob("*.ts"))
    assert len(PROBE_TABLE) == 33


@pytest.mark.parametrize("probe", sorted(PROBE_TABLE))
def test_probe_matches_seed_file_complexity_and_eslint_functions(probe):
    seed_cc, eslint = PROBE_TABLE[probe]
    result = analyze_path(PROBES / f"{probe}.ts")
    assert result.parse_error is None
    assert result.metrics.cyclomatic_complexity == seed_cc
    # ESLint reports in traversal-exit order; compare as multisets of (name, complexity).
    assert sorted((f.name, f.cyclomatic_complexity) for f in result.functions) == sorted(eslint)


def _metrics(lines, awaits=0, calls=0, conditionals=0, tries=0, throws=0, loops=0, cc=1, **details):
    return FileMetrics(lines, awaits, calls, conditionals, tries, throws, loops, cc, Details(**details))


# file → (file metrics, [(function name, start line, end line, complexity, awaits, calls)], external calls)
CONSTRUCT_EXPECTATIONS = {
    # `new` and tagged templates are not calls; `new Map(...).get()` is one.
    "40-new-tagged-template.ts": (
        _metrics(7, calls=3),
        [("Arrow function", 1, 1, 1, 0, 1), ("Function 'f'", 2, 6, 1, 0, 2)],
        [],
    ),
    # Static block, getters/setters, private and static methods, parameter-property default, for-await.
    "41-class-members.ts": (
        _metrics(27, calls=1, conditionals=2, loops=1, cc=6, ifs=1, ternaries=1, for_loops=1, logical_ors=1,
                 nullish_coalescing=1),
        [
            ("Class field initializer", 2, 2, 1, 0, 0),
            ("Class static block", 3, 7, 2, 0, 0),
            ("Class field initializer", 8, 8, 1, 0, 0),
            ("Getter 'size'", 9, 11, 2, 0, 0),
            ("Setter 'limit'", 12, 14, 2, 0, 0),
            ("Class field initializer", 15, 15, 1, 0, 0),
            ("Static method 'create'", 16, 18, 2, 0, 1),
            ("Constructor", 19, 19, 2, 0, 0),
            ("Async generator method 'stream'", 20, 24, 2, 0, 0),
            ("Private method #secret", 25, 25, 2, 0, 0),
        ],
        [],
    ),
    # Type-only import, enum initializers, namespace, `satisfies`, `as`, `<` that is not a generic.
    "42-satisfies-as-enum-namespace.ts": (
        _metrics(14, conditionals=1, cc=3, ternaries=1, nullish_coalescing=1),
        [("Function 'clamp'", 5, 7, 2, 0, 0), ("Function 'pick'", 10, 13, 3, 0, 0)],
        [],
    ),
    # Decorator calls are calls; two `??` in the arrow.
    "43-decorators.ts": (
        _metrics(10, calls=2, cc=4, logical_ands=1, nullish_coalescing=2),
        [("Function 'Step'", 1, 3, 1, 0, 0), ("Arrow function", 2, 2, 3, 0, 0), ("Method 'run'", 6, 8, 2, 0, 0)],
        [],
    ),
    # TSX: JSX is not a call; a destructuring default counts for the function only.
    "44-component.tsx": (
        _metrics(14, calls=3, conditionals=2, cc=3, ifs=1, ternaries=1),
        [("Function 'List'", 2, 13, 3, 0, 1), ("Arrow function", 8, 10, 2, 0, 1), ("Arrow function", 9, 9, 1, 0, 1)],
        [],
    ),
    # Generic calls and type arguments vs less-than comparisons.
    "45-generics-lt.ts": (
        _metrics(10, calls=3, conditionals=3, cc=7, ternaries=3, logical_ands=2, logical_ors=1),
        [
            ("Function 'first'", 1, 6, 5, 0, 1),
            ("Function 'identity'", 7, 7, 1, 0, 0),
            ("Arrow function", 8, 8, 2, 0, 0),
            ("Arrow function", 9, 9, 2, 0, 1),
        ],
        [],
    ),
    # External calls: fetchCredentials is not fetch, fetch(...).finally(...) is one fetch, a Drizzle chain is
    # one db call; try/finally is a try block without a catch; `?.` counts for the function only.
    "46-external-calls.ts": (
        _metrics(17, awaits=5, calls=11, tries=1, cc=2, nullish_coalescing=1),
        [
            ("Async function 'run'", 3, 16, 5, 5, 10),
            ("Async arrow function", 4, 4, 1, 0, 0),
            ("Arrow function", 6, 6, 1, 0, 1),
        ],
        [(6, "fetch", "fetch"), (7, "db.select", "db"), (9, "provider.getBalance", "web3"),
         (11, "globalThis.fetch", "fetch")],  # ethers.formatEther is a pure helper, not I/O
    ),
    # JavaScript grammar: CommonJS, defaults in params and destructuring, while, catch, throw, static block.
    "47-commonjs.cjs": (
        _metrics(18, awaits=1, calls=4, conditionals=1, tries=1, throws=1, loops=1, cc=4, ifs=1, while_loops=1),
        [
            ("Async function 'send'", 2, 15, 6, 1, 0),
            ("Arrow function", 7, 9, 1, 0, 3),
            ("Class field initializer", 16, 16, 1, 0, 0),
            ("Class static block", 16, 16, 2, 0, 0),
        ],
        [(8, "https.request", "http")],
    ),
    # Object members: getters/setters, string/number/computed keys, parentheses, named function values.
    "48-object-members.ts": (
        _metrics(14, cc=2, nullish_coalescing=1),
        [
            ("Getter 'ready'", 3, 3, 1, 0, 0),
            ("Setter 'ready'", 4, 4, 1, 0, 0),
            ("Async method 'load'", 5, 5, 2, 0, 0),
            ("Method 'quoted-name'", 6, 6, 1, 0, 0),
            ("Method '42'", 7, 7, 1, 0, 0),
            ("Method", 8, 8, 1, 0, 0),
            ("Method 'lit'", 9, 9, 2, 0, 0),
            ("Method 'wrapped'", 10, 10, 1, 0, 0),
            ("Method 'named'", 11, 11, 1, 0, 0),
            ("Generator method 'gen'", 12, 12, 1, 0, 0),
        ],
        [],
    ),
}


def test_every_construct_fixture_has_expectations():
    assert sorted(CONSTRUCT_EXPECTATIONS) == sorted(p.name for p in CONSTRUCTS.iterdir())


@pytest.mark.parametrize("name", sorted(CONSTRUCT_EXPECTATIONS))
def test_construct_fixture(name):
    metrics, functions, external = CONSTRUCT_EXPECTATIONS[name]
    result = analyze_path(CONSTRUCTS / name)
    assert result.parse_error is None
    assert result.metrics == metrics
    got = [(f.name, f.start_line, f.end_line, f.cyclomatic_complexity, f.await_expressions, f.function_calls)
           for f in result.functions]
    assert got == functions
    assert [(c.line, c.callee, c.kind) for c in result.external_calls] == external


# Inline probes for single decision points: (source, file CC, [function CCs]). File CC is the seed's (no `?.`,
# defaults or logical assignment); function CC is ESLint's (all of them).
INLINE = [
    ("function f(a) { for (;;) { break; } }", 2, [2]),
    ("function f(a) { switch (a) { default: return 1; } }", 1, [1]),
    ("function f(a) { switch (a) { case 1: case 2: return 1; } }", 3, [3]),
    ("function f(a) { return a?.b?.c; }", 1, [3]),
    ("function f(a) { return a?.b.c.d; }", 1, [2]),
    ("function f(a) { return a?.[0]?.(1); }", 1, [3]),
    ("function f([a = 1, b = 2] = []) { return a + b; }", 1, [4]),
    ("function f(a) { ({ x: a = 1 } = {}); return a; }", 1, [2]),
    ("function f(a) { a.b ||= 1; a.c &&= 2; a.d ??= 3; a.e += 4; }", 1, [4]),
    ("function f(a) { try { a(); } catch { return 1; } finally { a(); } }", 2, [2]),
    ("function f(a) { return a && (a.b || a.c) && a.d; }", 4, [4]),
    ("function f(a) { if (a) {} else if (!a) {} else {} }", 3, [3]),
    ("const x = (a, b = 1) => a ? b : 0;", 2, [3]),
    ("function f(xs) { for await (const x of xs) { await x; } }", 2, [2]),
    ("type T<A> = A extends string ? (A extends 'x' ? 1 : 2) : 3; function f(a?: number) { return a; }", 1, [1]),
    ("function outer() { function inner(a) { return a || 1; } return inner; }", 2, [1, 2]),
    ("class K { static { for (const k in this) {} } m = () => this ? 1 : 0; }", 3, [2, 1, 2]),
    # An auto-accessor's value is no field initializer for ESLint, and a function in it is a bare arrow.
    ("class K { accessor w = a && b; accessor v = () => c || d; n = e ?? f; }", 4, [2, 2]),
    # `await using` declares (no await expression); tree-sitter reads it as `await (using r = …)`.
    ("async function f(a) { await using r = a ?? open(); using s = r; await r; }", 2, [2]),
]


@pytest.mark.parametrize(("source", "file_cc", "function_ccs"), INLINE)
def test_inline_decision_points(source, file_cc, function_ccs):
    result = analyze_text(source)
    assert result.parse_error is None
    assert result.metrics.cyclomatic_complexity == file_cc
    assert [f.cyclomatic_complexity for f in result.functions] == function_ccs


CALLS_SOURCE = """
    class B extends A { constructor() { super(); } }
    @decorate() class C {}
    const m = import("./m");
    a?.(); b.c?.(); d().e().f();
    new G(); new H().i(); tag`x${j()}`; String.raw`y`;
    """


def test_calls_count_optional_chained_super_import_and_decorators_but_not_new_or_tagged():
    result = analyze_text(CALLS_SOURCE)
    # super(), decorate(), import(), a?.(), b.c?.(), d(), .e(), .f(), .i(), j()
    assert result.metrics.function_calls == 10


TYPE_IMPORTS_SOURCE = """
type T = typeof import("./m");
type U = import("./m").X;
let x: typeof import("y") | undefined;
function f(a: Parameters<typeof import("q").g>[0]) { return import("r"); }
const g = async () => (await import("s")) as typeof import("s");
"""


def test_type_level_imports_are_not_calls():
    # The compiler parses `typeof import("m")` as an ImportType; only the value-level imports are calls.
    result = analyze_text(TYPE_IMPORTS_SOURCE)
    assert result.parse_error is None
    assert result.metrics.function_calls == 2
    assert [(f.name, f.function_calls) for f in result.functions] == [("Function 'f'", 1), ("Async arrow function", 1)]


def test_awaits_and_throws_counted_everywhere_in_the_file():
    result = analyze_text("await top(); async function f() { await a; throw new E(); } const g = async () => await b;")
    assert result.metrics.await_expressions == 3
    assert result.metrics.throw_statements == 1
    assert [(f.name, f.await_expressions) for f in result.functions] == [
        ("Async function 'f'", 1), ("Async arrow function", 1)
    ]


def test_lines_are_newline_count_plus_one():
    assert analyze_text("").metrics.lines == 1
    assert analyze_text("a();\n").metrics.lines == 2
    assert analyze_text("a();\r\nb();\r\n\r\n").metrics.lines == 4


NAMES_SOURCE = """
    export default function () {}
    const a = function named() {};
    const b = async function* () {};
    class K {
      static async #p() {}
      static get s() { return 1; }
      ['computed']() {}
      [Symbol.iterator]() {}
      'constructor'() {}
      handler = async () => {};
      static #field = function () {};
    }
    const o = { constructor() {}, async *g() {}, 0x10: () => 1, 1.50: () => 2, [`t`]: () => 3 };
    """


def test_function_names_follow_eslint():
    names = [f.name for f in analyze_text(NAMES_SOURCE).functions]
    assert names == [
        "Function",
        "Function 'named'",
        "Async generator function",
        "Static private async method #p",
        "Static getter 's'",
        "Method 'computed'",
        "Method",
        "Constructor",
        "Class field initializer",
        "Async method 'handler'",
        "Class field initializer",
        "Static private method #field",
        "Method 'constructor'",
        "Async generator method 'g'",
        "Method '16'",
        "Method '1.5'",
        "Method 't'",
    ]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(INLINE) - 1), max_size=10))
def test_concatenated_probes_add_up(indices):
    """Scopes never leak: any sequence of probes counts exactly as the sum of its parts."""
    source = "\n".join(INLINE[i][0] for i in indices)
    result = analyze_text(source)
    assert result.parse_error is None
    assert result.metrics.cyclomatic_complexity == 1 + sum(INLINE[i][1] - 1 for i in indices)
    assert [f.cyclomatic_complexity for f in result.functions] == [cc for i in indices for cc in INLINE[i][2]]
