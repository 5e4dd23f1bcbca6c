"""tree-sitter grammars, parsers and the one query every analysis pass reads, built once per language.

Everything the analyzer counts is captured by a single query run in C; Python only looks at the captured
nodes, never walks the whole tree (that is what makes it faster than lizard).
"""

from __future__ import annotations

from functools import cache

import tree_sitter as ts

# Grammar per corpus language (see corpus.EXTENSIONS): .ts/.mts/.cts → typescript, .tsx → tsx, JS → javascript.
LANGUAGES = ("typescript", "tsx", "javascript")

# Decision points and other counted constructs. Every pattern is a bare node or token: a field or child
# constraint makes tree-sitter's query compiler analyze many more parse states (137 ms instead of 2 ms for this
# query with the TypeScript grammar — most of `wfprof analyze`'s start-up), so those checks run in Python on
# the few captured nodes instead (see captures()).
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
"&&" @and
"||" @or
"??" @nullish
(await_expression) @await
(call_expression) @call
(template_string) @template
(import) @import
(import_statement) @import_statement
(assignment_pattern) @default
(object_assignment_pattern) @default
["&&=" "||=" "??="] @logical_assign
[(function_declaration) (function_expression) (generator_function_declaration) (generator_function)
 (arrow_function) (method_definition)] @function
(class_static_block) @static_block
"""
# Grammar differences: TypeScript keeps a parameter's default on `required_parameter`, names class fields
# `public_field_definition` and leaves an optional call's `?.` a bare token (one capture covers every `?.`);
# JavaScript uses assignment_pattern for parameters, `field_definition`, and an optional_chain node per `?.`.
_TS_PATTERNS = """
"?." @optional
(required_parameter) @parameter
(public_field_definition) @field
"""
_JS_PATTERNS = """
(optional_chain) @optional
(field_definition) @field
"""

# Nodes that put an `import("m")` in type position (`typeof import("m")`, `import("m").T`): the compiler's
# ImportType, not a call, though tree-sitter parses it as a call_expression.
_TYPE_CONTEXTS = frozenset({"type_query", "type_annotation", "type_alias_declaration", "type_arguments",
                            "generic_type", "lookup_type", "constraint", "default_type", "extends_type_clause"})


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
    """Every counted construct of the tree, by name. Besides the query's names: `call` holds real calls only
    (no tagged templates, no type-level `import()`), `default` includes parameters with a default value, and
    `field_value` holds class field initializers. Lists are not necessarily in document order."""
    caps = ts.QueryCursor(query(name)).captures(tree.root_node)
    excluded: set[int] = set()
    for template in caps.pop("template", ()):
        parent = template.parent
        if parent is not None and parent.type == "call_expression":  # tag`...`: a tagged template, not a call
            excluded.add(parent.id)
    for keyword in caps.pop("import", ()):
        parent = keyword.parent
        if parent is not None and parent.type == "call_expression" and _in_type(parent):
            excluded.add(parent.id)
    if excluded and "call" in caps:
        caps["call"] = [c for c in caps["call"] if c.id not in excluded]
    # tree-sitter-typescript 0.23 parses an `await using x = …` declaration as `await (using x = …)`: the
    # compiler has no AwaitExpression there.
    if "await" in caps:
        caps["await"] = [a for a in caps["await"] if not _is_using_declaration(a.named_children[0] if
                                                                              a.named_child_count else None)]
    defaults = [p for p in caps.pop("parameter", ()) if p.child_by_field_name("value") is not None]
    if defaults:
        caps.setdefault("default", []).extend(defaults)
    # An auto-accessor (`accessor x = …`) is ESTree's AccessorProperty: ESLint gives its value no code path.
    values = [v for f in caps.pop("field", ()) if (v := f.child_by_field_name("value")) is not None
              and not is_accessor(f)]
    if values:
        caps["field_value"] = values
    return caps


def _is_using_declaration(node: ts.Node | None) -> bool:
    return node is not None and node.type == "assignment_expression" and any(
        not c.is_named and c.type == "using" for c in node.children
    )


def is_accessor(field: ts.Node) -> bool:
    return any(not c.is_named and c.type == "accessor" for c in field.children)


def _in_type(call: ts.Node) -> bool:
    node = call.parent
    while node is not None and not node.type.endswith(("statement", "program", "statement_block")):
        if node.type in _TYPE_CONTEXTS or node.type.endswith("_type"):
            return True
        if node.type.endswith("declaration"):  # a value-level declaration: the import is a real call
            return False
        node = node.parent
    return False
