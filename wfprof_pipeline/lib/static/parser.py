"""tree-sitter grammars, parsers and the one query every analysis pass reads, built once per language.

Everything the analyzer counts is captured by a single query run in C; Python only looks at the captured
nodes, never walks the whole tree (that is what makes it faster than lizard).
"""

from __future__ import annotations

from functools import cache

import tree_sitter as ts

# Grammar per corpus language (see corpus.EXTENSIONS): .ts/.mts/.cts → typescript, .tsx → tsx, JS → javascript.
LANGUAGES = ("typescript", "tsx", "javascript")

# Decision points and other counted constructs. Capture names are what the analysis passes look up.
_COMMON_PATTERNS = """
(if_statement) @if
(ternary_expression) @ternary
(switch_statement) @switch
(switch_case) @case
(catch_clause) @catch
(try_statement) @try
(throw_statement) @throw
(for_statement) @for
(for_in_statement) @forin
(while_statement) @while
(do_statement) @do
(binary_expression operator: "&&") @and
(binary_expression operator: "||") @or
(binary_expression operator: "??") @nullish
(await_expression) @await
(call_expression arguments: (arguments)) @call
(call_expression function: (import)) @import_call
(optional_chain) @optional
(assignment_pattern) @default
(object_assignment_pattern) @default
(augmented_assignment_expression operator: ["&&=" "||=" "??="]) @logical_assign
[(function_declaration) (function_expression) (generator_function_declaration) (generator_function)
 (arrow_function) (method_definition)] @function
(class_static_block) @static_block
"""
# Grammar differences: TypeScript keeps a parameter's default on `required_parameter` and the `?.` of an
# optional call as a bare token; JavaScript uses assignment_pattern and an optional_chain node for both.
_TS_PATTERNS = """
(required_parameter value: (_)) @default
(call_expression "?." @optional)
(public_field_definition value: (_) @field_value)
"""
_JS_PATTERNS = """
(field_definition value: (_) @field_value)
"""


@cache
def language(name: str) -> ts.Language:
    if name == "javascript":
        import tree_sitter_javascript

        return ts.Language(tree_sitter_javascript.language())
    import tree_sitter_typescript

    if name == "typescript":
        return ts.Language(tree_sitter_typescript.language_typescript())
    if name == "tsx":
        return ts.Language(tree_sitter_typescript.language_tsx())
    raise ValueError(f"unknown language {name!r} (expected one of {', '.join(LANGUAGES)})")


@cache
def parser(name: str) -> ts.Parser:
    return ts.Parser(language(name))


@cache
def query(name: str) -> ts.Query:
    extra = _JS_PATTERNS if name == "javascript" else _TS_PATTERNS
    return ts.Query(language(name), _COMMON_PATTERNS + extra)


def parse(source: bytes, name: str) -> ts.Tree:
    return parser(name).parse(source)


def captures(tree: ts.Tree, name: str) -> dict[str, list[ts.Node]]:
    """Every counted construct of the tree, by capture name (each list in document order)."""
    return ts.QueryCursor(query(name)).captures(tree.root_node)
