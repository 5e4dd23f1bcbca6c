"""Plugin manifests (`plugins/<plugin>/index.ts`), read statically with tree-sitter, never executed.

A manifest is the object literal with a string `type` and an `actions` array; each action names its
`slug`, `stepFunction`, `stepImportPath` and `configFields` (fields may nest in `{type: "group", fields}`).
The action type a workflow node stores is `<type>/<slug>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wfprof_pipeline.lib.discovery.source_facts import NonStatic, iter_nodes, literal_value, string_value
from wfprof_pipeline.lib.static import parser

MANIFEST_NAMES = ("index.ts", "index.tsx", "index.js", "index.mjs")


@dataclass(frozen=True)
class ConfigField:
    key: str
    type: str | None
    example: Any = None
    default: Any = None
    first_option: Any = None
    required: bool = False


@dataclass(frozen=True)
class Action:
    slug: str
    step_function: str | None
    step_import_path: str | None
    fields: tuple[ConfigField, ...] = ()


@dataclass
class Manifest:
    path: str  # relative to the checkout root
    type: str
    actions: list[Action] = field(default_factory=list)


def _flatten_fields(raw: Any, out: list[ConfigField]) -> None:
    if not isinstance(raw, list):
        return
    for f in raw:
        if not isinstance(f, dict):
            continue
        if f.get("type") == "group" or ("fields" in f and "key" not in f):
            _flatten_fields(f.get("fields"), out)
            continue
        key = f.get("key")
        if not isinstance(key, str):
            continue
        options = f.get("options")
        first = None
        if isinstance(options, list) and options:
            o = options[0]
            first = o.get("value") if isinstance(o, dict) else o
        static = lambda v: None if isinstance(v, NonStatic) else v  # noqa: E731
        out.append(ConfigField(
            key=key, type=f.get("type") if isinstance(f.get("type"), str) else None,
            example=static(f.get("example")), default=static(f.get("defaultValue")),
            first_option=static(first), required=f.get("required") is True,
        ))


def _has_nonstatic(value: Any) -> bool:
    if isinstance(value, NonStatic):
        return True
    if isinstance(value, dict):
        return any(k.startswith("<") or _has_nonstatic(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nonstatic(v) for v in value)
    return False


def read_manifest(path: Path, rel: str) -> tuple[Manifest | None, str | None]:
    """(manifest, warning). No manifest object at all → (None, None); one that is not a static literal
    → (None, warning), and discovery falls back to the step files' exports."""
    try:
        source = path.read_bytes()
    except OSError as exc:
        return None, f"{rel}: unreadable ({exc.strerror}); steps found by their exports"
    language = "tsx" if path.suffix == ".tsx" else "javascript" if path.suffix in (".js", ".mjs") else "typescript"
    tree = parser.parse(source, language)
    for obj in iter_nodes(tree.root_node, {"object"}):
        keys = {}
        for pair in obj.named_children:
            if pair.type == "pair" and (k := pair.child_by_field_name("key")) is not None:
                name = string_value(k) if k.type == "string" else k.text.decode() if k.text else ""
                keys[name] = pair.child_by_field_name("value")
        if "actions" not in keys or "type" not in keys:
            continue
        type_value = literal_value(keys["type"])
        actions_value = literal_value(keys["actions"])
        if not isinstance(type_value, str) or not isinstance(actions_value, list):
            return None, (f"{rel}: the plugin manifest is not a static object literal (type/actions are computed); "
                          "skipped, steps found by their exports")
        actions: list[Action] = []
        for raw in actions_value:
            essentials = {k: raw.get(k) for k in ("slug", "stepFunction", "stepImportPath", "configFields")} \
                if isinstance(raw, dict) else None
            # Only what discovery uses must be literal: labels, icons or placeholders may be computed.
            names = {k: essentials[k] for k in ("slug", "stepFunction", "stepImportPath")} if essentials else {}
            if essentials is None or any(k.startswith("<") for k in raw) or _has_nonstatic(names) \
                    or isinstance(essentials["configFields"], NonStatic) or not isinstance(essentials["slug"], str):
                return None, (f"{rel}: the plugin manifest is not a static object literal (an action is built at "
                              "run time or spread in); skipped, steps found by their exports")
            fields: list[ConfigField] = []
            _flatten_fields(essentials["configFields"], fields)
            actions.append(Action(
                slug=essentials["slug"],
                step_function=essentials["stepFunction"] if isinstance(essentials["stepFunction"], str) else None,
                step_import_path=essentials["stepImportPath"] if isinstance(essentials["stepImportPath"], str)
                else None,
                fields=tuple(fields),
            ))
        return Manifest(path=rel, type=type_value, actions=actions), None
    return None, None
