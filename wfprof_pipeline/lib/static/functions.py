"""Per-function cyclomatic complexity with the semantics of ESLint's `complexity` rule (classic variant).

A function's complexity is 1 + its own decision points: if, ternary, `case`, catch, for/for-in/for-of,
while, do-while, `&&`, `||`, `??`, each `?.` (member, element or call), each default value (parameters and
destructuring) and `&&=`/`||=`/`??=`. Nested functions are separate entries, and so are class field
initializers and class static blocks (ESLint treats both as implicit functions). Code outside every function
belongs to no entry, as in ESLint. Names are ESLint's: "Function 'f'", "Arrow function", "Method 'm'",
"Static async method 'm'", "Getter 'x'", "Constructor", "Class field initializer", …
"""

from __future__ import annotations

from dataclasses import dataclass

import tree_sitter as ts

# Capture names (see parser.py) that add one to the enclosing function's complexity.
DECISION_CAPTURES = (
    "if", "ternary", "case", "catch", "for", "forin", "while", "do",
    "and", "or", "nullish", "optional", "default", "logical_assign",
)  # fmt: skip

FUNCTION = "function"
FIELD_INITIALIZER = "class_field_initializer"
STATIC_BLOCK = "class_static_block"


@dataclass
class FunctionMetrics:
    name: str
    kind: str  # FUNCTION, FIELD_INITIALIZER or STATIC_BLOCK
    start_line: int  # 1-based; ESLint reports the function's head, which lies within start_line..end_line
    end_line: int
    cyclomatic_complexity: int = 1
    await_expressions: int = 0
    function_calls: int = 0


@dataclass
class _Scope:
    start: int
    end: int
    order: int  # tie-break for identical ranges: a field initializer encloses the arrow that is its value
    result: FunctionMetrics


def _unparenthesized_parent(node: ts.Node) -> ts.Node | None:
    """ESTree has no parenthesis nodes: `{a: (() => 1)}` has the arrow directly under the property."""
    parent = node.parent
    while parent is not None and parent.type == "parenthesized_expression":
        parent = parent.parent
    return parent


def _has_token(node: ts.Node, token: str) -> bool:
    return any(not c.is_named and c.type == token for c in node.children)


_NUMBER_PREFIX = {"0x": 16, "0o": 8, "0b": 2}


def _js_number_string(text: str) -> str | None:
    """String(value) of a numeric literal key, as ESLint prints it (`1.0` → `1`, `0x10` → `16`)."""
    clean = text.replace("_", "").lower()
    try:
        if clean[:2] in _NUMBER_PREFIX:
            return str(int(clean[2:], _NUMBER_PREFIX[clean[:2]]))
        if clean.endswith("n"):
            return clean[:-1]
        value = float(clean)
    except ValueError:
        return None
    return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)


def _string_value(node: ts.Node, src: bytes) -> str | None:
    if node.type == "string":
        return "".join(_text(c, src) for c in node.named_children if c.type in ("string_fragment", "escape_sequence"))
    if node.type == "number":
        return _js_number_string(_text(node, src))
    if node.type == "template_string" and not any(c.type == "template_substitution" for c in node.named_children):
        return "".join(_text(c, src) for c in node.named_children if c.type == "string_fragment")
    return None


def _static_property_name(key: ts.Node | None, src: bytes) -> str | None:
    """ESLint's getStaticPropertyName: identifiers and literal keys; computed keys only when literal."""
    if key is None:
        return None
    if key.type in ("property_identifier", "identifier", "type_identifier"):
        return _text(key, src)
    if key.type == "computed_property_name":
        inner = key.named_children[0] if key.named_child_count else None
        return _string_value(inner, src) if inner is not None else None
    return _string_value(key, src)


def _text(node: ts.Node, src: bytes) -> str:
    return src[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _is_constructor(node: ts.Node, container: str | None, key: ts.Node | None, src: bytes) -> bool:
    """ESTree kind "constructor": a non-static class method keyed `constructor` (not computed)."""
    return (
        container == "class"
        and not _has_token(node, "static")
        and key is not None
        and key.type != "computed_property_name"
        and _static_property_name(key, src) == "constructor"
    )


def function_name(node: ts.Node, src: bytes) -> str:
    """ESLint's getFunctionNameWithKind, capitalised as the complexity rule reports it."""
    tokens: list[str] = []
    if node.type == "method_definition":
        member, key = node, node.child_by_field_name("name")
        container = "class" if node.parent is not None and node.parent.type == "class_body" else "object"
        function = node
    else:
        function = node
        parent = _unparenthesized_parent(node)
        member, key, container = None, None, None
        if parent is not None and parent.type == "pair" and parent.child_by_field_name("value") is not None:
            member, key, container = parent, parent.child_by_field_name("key"), "object"
        elif parent is not None and parent.type in ("public_field_definition", "field_definition") and not (
            _has_token(parent, "accessor")  # ESLint names a function in an AccessorProperty like a bare one
        ):
            key = parent.child_by_field_name("name") or parent.child_by_field_name("property")
            member, container = parent, "field"

    private = key is not None and key.type == "private_property_identifier"
    if container in ("class", "field"):
        if _has_token(member, "static"):
            tokens.append("static")
        if private:
            tokens.append("private")
    if _has_token(function, "async"):
        tokens.append("async")
    if function.type.startswith("generator_") or _has_token(function, "*"):
        tokens.append("generator")

    if container in ("class", "object"):
        if _is_constructor(node, container, key, src):
            return "Constructor"
        if node.type == "method_definition" and _has_token(member, "get"):
            tokens.append("getter")
        elif node.type == "method_definition" and _has_token(member, "set"):
            tokens.append("setter")
        else:
            tokens.append("method")
    elif container == "field":
        tokens.append("method")
    else:
        if node.type == "arrow_function":
            tokens.append("arrow")
        tokens.append("function")

    own_name = node.child_by_field_name("name") if node.type != "method_definition" else None
    if container is not None:
        if private:
            tokens.append(_text(key, src))  # '#name'
        else:
            name = _static_property_name(key, src)
            if name is not None:
                tokens.append(f"'{name}'")
            elif own_name is not None:
                tokens.append(f"'{_text(own_name, src)}'")
    elif own_name is not None:
        tokens.append(f"'{_text(own_name, src)}'")
    text = " ".join(tokens)
    return text[:1].upper() + text[1:]


def _function_start(node: ts.Node) -> ts.Node:
    """Where the function's own code starts: a method's key (maybe computed) belongs to the enclosing scope,
    its FunctionExpression begins at the parameters."""
    if node.type == "method_definition":
        return node.child_by_field_name("type_parameters") or node.child_by_field_name("parameters") or node
    return node


def _scopes(caps: dict[str, list[ts.Node]], src: bytes) -> list[_Scope]:
    scopes: list[_Scope] = []
    for node in caps.get("function", ()):
        start = _function_start(node)
        result = FunctionMetrics(
            name=function_name(node, src),
            kind=FUNCTION,
            start_line=node.start_point[0] + 1,
            end_line=node.end_point[0] + 1,
        )
        scopes.append(_Scope(start.start_byte, node.end_byte, 1, result))
    for value in caps.get("field_value", ()):
        result = FunctionMetrics("Class field initializer", FIELD_INITIALIZER, value.start_point[0] + 1,
                                 value.end_point[0] + 1)
        scopes.append(_Scope(value.start_byte, value.end_byte, 0, result))
    for block in caps.get("static_block", ()):
        result = FunctionMetrics("Class static block", STATIC_BLOCK, block.start_point[0] + 1, block.end_point[0] + 1)
        scopes.append(_Scope(block.start_byte, block.end_byte, 0, result))
    scopes.sort(key=lambda s: (s.start, -s.end, s.order))
    return scopes


def function_metrics(caps: dict[str, list[ts.Node]], src: bytes) -> list[FunctionMetrics]:
    """One entry per function, class field initializer and static block, in source order."""
    scopes = _scopes(caps, src)
    if not scopes:
        return []
    points: list[tuple[int, int, int]] = []  # (start, end, what): what 0 = decision, 1 = await, 2 = call
    for name in DECISION_CAPTURES:
        points.extend((n.start_byte, n.end_byte, 0) for n in caps.get(name, ()))
    points.extend((n.start_byte, n.end_byte, 1) for n in caps.get("await", ()))
    points.extend((n.start_byte, n.end_byte, 2) for n in caps.get("call", ()))
    points.sort()

    stack: list[_Scope] = []
    i = 0
    for start, end, what in points:
        while i < len(scopes) and scopes[i].start <= start:
            while stack and stack[-1].end <= scopes[i].start:
                stack.pop()
            stack.append(scopes[i])
            i += 1
        while stack and stack[-1].end <= start:
            stack.pop()
        # Innermost scope that contains the whole point (a point can start where a scope starts and outlast it).
        for scope in reversed(stack):
            if scope.end >= end:
                result = scope.result
                if what == 0:
                    result.cyclomatic_complexity += 1
                elif what == 1:
                    result.await_expressions += 1
                else:
                    result.function_calls += 1
                break
    return [s.result for s in scopes]
