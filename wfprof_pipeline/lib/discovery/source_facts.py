"""Facts read from one TypeScript/JavaScript file with tree-sitter: exports, import specifiers, the
properties of exported input types, and object literals turned into plain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import tree_sitter as ts

from wfprof_pipeline.lib.static import parser


class NonStatic:
    """A value that is not a literal (an identifier, a call, a function, a spread): not knowable statically."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"NonStatic({self.text[:40]!r})"


@dataclass
class SourceFacts:
    exports: list[str] = field(default_factory=list)  # value exports (functions, consts, specifiers)
    imports: list[str] = field(default_factory=list)  # module specifiers, static and dynamic
    input_props: dict[str, tuple[str, bool]] = field(default_factory=dict)  # name -> (type text, optional)
    parse_error: bool = False

    def step_exports(self) -> list[str]:
        return [e for e in self.exports if e.endswith("Step") and len(e) > 4]


def _text(node: ts.Node) -> str:
    return node.text.decode("utf-8", "replace") if node.text is not None else ""


def string_value(node: ts.Node) -> str | None:
    """A string literal, or a template literal without substitutions."""
    if node.type == "string":
        return "".join(_text(c) if c.type == "string_fragment" else _unescape(_text(c))
                       for c in node.named_children)
    if node.type == "template_string" and not any(c.type == "template_substitution" for c in node.named_children):
        return "".join(_text(c) for c in node.named_children)
    return None


def _unescape(seq: str) -> str:
    try:
        return seq.encode("utf-8").decode("unicode_escape")
    except UnicodeDecodeError:
        return seq


def _unwrap(node: ts.Node) -> ts.Node:
    # `{…} as const`, `{…} satisfies Plugin`, `({…})`, `<T>{…}`
    while node.type in ("as_expression", "satisfies_expression", "parenthesized_expression",
                        "type_assertion", "non_null_expression") and node.named_child_count:
        node = node.named_children[0] if node.type != "type_assertion" else node.named_children[-1]
    return node


def literal_value(node: ts.Node) -> Any:
    """Object/array/string/number/bool/null literal → Python value; anything else → NonStatic."""
    node = _unwrap(node)
    s = string_value(node)
    if s is not None:
        return s
    if node.type == "number":
        text = _text(node).replace("_", "")
        try:
            return int(text, 0) if text.isdigit() or text.lower().startswith(("0x", "0o", "0b")) else float(text)
        except ValueError:
            return NonStatic(text)
    if node.type == "unary_expression" and _text(node).startswith("-"):
        inner = literal_value(node.named_children[0])
        return -inner if isinstance(inner, int | float) else NonStatic(_text(node))
    if node.type in ("true", "false"):
        return node.type == "true"
    if node.type == "null":
        return None
    if node.type == "array":
        return [literal_value(c) for c in node.named_children if c.type != "comment"]
    if node.type == "object":
        out: dict[str, Any] = {}
        for child in node.named_children:
            if child.type == "comment":
                continue
            if child.type != "pair":  # spread, shorthand property, method: not a static literal
                out[f"<{child.type}>"] = NonStatic(_text(child))
                continue
            key_node = child.child_by_field_name("key")
            value_node = child.child_by_field_name("value")
            if key_node is None or value_node is None:
                continue
            key = string_value(key_node) if key_node.type in ("string", "template_string") else _text(key_node)
            if key_node.type == "computed_property_name":
                out[f"<{_text(key_node)}>"] = NonStatic(_text(child))
                continue
            out[key or ""] = literal_value(value_node)
        return out
    return NonStatic(_text(node))


def iter_nodes(root: ts.Node, types: set[str]):
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type in types:
            yield node
        stack.extend(reversed(node.children))


def _declared_names(decl: ts.Node) -> list[str]:
    if decl.type in ("function_declaration", "generator_function_declaration", "class_declaration",
                     "abstract_class_declaration"):
        name = decl.child_by_field_name("name")
        return [_text(name)] if name is not None else []
    if decl.type in ("lexical_declaration", "variable_declaration"):
        return [_text(n) for d in decl.named_children if d.type == "variable_declarator"
                and (n := d.child_by_field_name("name")) is not None and n.type == "identifier"]
    return []


def _type_props(body: ts.Node, out: dict[str, tuple[str, bool]]) -> None:
    for prop in body.named_children:
        if prop.type != "property_signature":
            continue
        name = prop.child_by_field_name("name")
        annotation = prop.child_by_field_name("type")
        if name is None:
            continue
        optional = any(not c.is_named and c.type == "?" for c in prop.children)
        type_text = _text(annotation).lstrip(":").strip() if annotation is not None else "unknown"
        out.setdefault(_text(name).strip("'\""), (type_text, optional))


def facts(source: bytes, language: str) -> SourceFacts:
    tree = parser.parse(source, language)
    out = SourceFacts(parse_error=tree.root_node.has_error)
    for node in iter_nodes(tree.root_node, {"export_statement", "import_statement", "call_expression",
                                              "type_alias_declaration", "interface_declaration"}):
        if node.type == "export_statement":
            src = node.child_by_field_name("source")
            if src is not None and (spec := string_value(src)) is not None:
                out.imports.append(spec)
            decl = node.child_by_field_name("declaration")
            if decl is not None:
                out.exports.extend(_declared_names(decl))
            for clause in node.named_children:
                if clause.type == "export_clause":
                    for spec_node in clause.named_children:
                        if spec_node.type != "export_specifier":
                            continue
                        if any(not c.is_named and c.type == "type" for c in spec_node.children):
                            continue
                        alias = spec_node.child_by_field_name("alias") or spec_node.child_by_field_name("name")
                        if alias is not None:
                            out.exports.append(_text(alias))
        elif node.type == "import_statement":
            src = node.child_by_field_name("source")
            if src is not None and (spec := string_value(src)) is not None:
                out.imports.append(spec)
        elif node.type == "call_expression":
            fn = node.child_by_field_name("function")
            args = node.child_by_field_name("arguments")
            if fn is not None and args is not None and (fn.type == "import" or _text(fn) == "require"):
                first = next((a for a in args.named_children if a.type != "comment"), None)
                if first is not None and (spec := string_value(first)) is not None:
                    out.imports.append(spec)
        else:
            name_node = node.child_by_field_name("name")
            if name_node is None or not _text(name_node).endswith("Input") or _text(name_node) == "StepInput":
                continue
            body = node.child_by_field_name("body") if node.type == "interface_declaration" else \
                node.child_by_field_name("value")
            if body is None:
                continue
            for obj in iter_nodes(body, {"object_type", "interface_body"}):
                _type_props(obj, out.input_props)
    return out
