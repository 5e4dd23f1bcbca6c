"""`wfprof registry init`: a starter registry for every discovered step, from what the checkout declares.

Each step gets its module, export, action type and an `input` built from the manifest's config fields
(`example`, then `defaultValue`, then the first option, then a placeholder typed from the step's exported
input type). Platform modules that reach a database or the app are suggested as shims (in comments, never
applied), hard-coded hosts get a canned response to fill in, and whatever could not be decided is a TODO.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit

from wfprof_pipeline.lib.discovery.manifest import ConfigField
from wfprof_pipeline.lib.discovery.source_facts import SourceFacts, facts
from wfprof_pipeline.lib.discovery.steps import DiscoveredFile, Discovery, module_candidates

# Packages whose import means "this module talks to a database or needs the app around it".
DATABASE_PACKAGES = ("pg", "postgres", "mysql2", "better-sqlite3", "@neondatabase/serverless", "@prisma/client",
                     "drizzle-orm/postgres-js", "drizzle-orm/node-postgres", "drizzle-orm/neon-http", "ioredis",
                     "redis", "@vercel/postgres", "@planetscale/database", "mongodb", "mongoose")
APP_PACKAGES = ("next", "react", "react-dom", "@clerk/nextjs", "next-auth")
_URL = re.compile(r"""["'`](https?://([a-z0-9-]+(?:\.[a-z0-9-]+)+)(?::\d+)?(/[^"'`$\s]*)?)["'`]""", re.I)
_ENV = re.compile(r"process\.env(?:\.([A-Z][A-Z0-9_]*)|\[\s*[\"']([A-Z][A-Z0-9_]*)[\"']\s*\])")
_PLACEHOLDER_HOSTS = ("example.com", "example.org", "localhost")


@dataclass
class Need:
    kind: str  # "database" | "app"
    via: list[str]  # import chain from the step's import to the package


@dataclass
class ImportGraph:
    """Import facts of checkout files reached through aliases and relative imports (cached per file)."""

    root: Path
    aliases: dict[str, list[str]]
    _facts: dict[str, SourceFacts] = field(default_factory=dict)
    _needs: dict[str, Need | None] = field(default_factory=dict)

    def resolve(self, importer_rel: str, spec: str) -> str | None:
        if spec.startswith("."):
            base = posixpath.normpath(posixpath.join(posixpath.dirname(importer_rel), spec))
            return self._file(base)
        best = None
        for pattern, targets in self.aliases.items():
            if "*" in pattern:
                prefix, suffix = pattern.split("*", 1)
                if spec.startswith(prefix) and spec.endswith(suffix) and (best is None or len(prefix) > best[0]):
                    star = spec[len(prefix):len(spec) - len(suffix) if suffix else None]
                    best = (len(prefix), [t.replace("*", star) for t in targets])
            elif pattern == spec:
                best = (len(pattern) + 1, targets)
        for target in best[1] if best else []:
            if (hit := self._file(posixpath.normpath(target))) is not None:
                return hit
        return None

    def _file(self, base: str) -> str | None:
        return next((c for c in module_candidates(base) if (self.root / c).is_file()), None)

    def facts_of(self, rel: str) -> SourceFacts:
        if rel not in self._facts:
            path = self.root / rel
            try:
                self._facts[rel] = facts(path.read_bytes(), "tsx" if rel.endswith((".tsx", ".jsx")) else
                                         "javascript" if rel.endswith((".js", ".mjs", ".cjs")) else "typescript")
            except (OSError, ValueError):
                self._facts[rel] = SourceFacts(parse_error=True)
        return self._facts[rel]

    def need(self, rel: str, depth: int = 0, seen: frozenset[str] = frozenset()) -> Need | None:
        """Does this module (or what it imports inside the checkout) reach a database or the app?"""
        if rel in self._needs:
            return self._needs[rel]
        if depth > 12 or rel in seen:
            return None
        found: Need | None = None
        for spec in self.facts_of(rel).imports:
            pkg = spec if spec.startswith("@") else spec.split("/")[0]
            if spec in DATABASE_PACKAGES or pkg in DATABASE_PACKAGES:
                found = Need("database", [spec])
                break
            if pkg in APP_PACKAGES or spec in APP_PACKAGES:
                found = found or Need("app", [spec])
                continue
            target = self.resolve(rel, spec)
            if target is not None and not target.startswith("node_modules/"):
                sub = self.need(target, depth + 1, seen | {rel})
                if sub is not None and (found is None or (sub.kind == "database" and found.kind != "database")):
                    found = Need(sub.kind, [spec, *sub.via])
                    if found.kind == "database":
                        break
        if depth == 0 or found is not None:
            self._needs[rel] = found
        return found


def _placeholder(type_text: str | None, field_type: str | None, key: str) -> tuple[Any, bool]:
    """(value, is_a_guess) for a field with no example, default or option."""
    t = (type_text or "").replace(" ", "")
    literal = re.match(r"""^["']([^"']*)["']""", t)
    if literal:
        return literal.group(1), False
    if t.endswith("[]") or t.startswith("Array<"):
        return [], True
    if t in ("number", "bigint") or field_type == "number":
        return 0, True
    if t == "boolean" or field_type in ("checkbox", "switch", "toggle"):
        return False, True
    if t.startswith("Record<") or t.startswith("{"):
        return {}, True
    return f"TODO {key}", True


def step_input(d: DiscoveredFile, extra: dict[str, tuple[str, bool]]) -> tuple[dict[str, Any], list[str]]:
    """The starter input and the keys that are placeholders (TODOs)."""
    props = {**extra, **d.facts.input_props}
    out: dict[str, Any] = {}
    todo: list[str] = []
    fields: list[ConfigField] = list(d.fields)
    if not fields:  # no manifest: the required properties of the exported input type
        fields = [ConfigField(key=k, type=None, required=True) for k, (_, optional) in props.items()
                  if not optional and not k.startswith("_")]
    for f in fields:
        for value in (f.example, f.default, f.first_option):
            if value is not None and value != "":
                out[f.key] = _coerce(value, props.get(f.key, ("", False))[0], f.type)
                break
        else:
            out[f.key], guess = _placeholder(props.get(f.key, (None, False))[0], f.type, f.key)
            if guess:
                todo.append(f.key)
    return out, todo


def _coerce(value: Any, type_text: str, field_type: str | None) -> Any:
    # Manifests often give numbers as strings ("60"); the step's input type says what it takes.
    if isinstance(value, str) and (type_text.strip() == "number" or field_type == "number"):
        try:
            return int(value) if value.lstrip("-").isdigit() else float(value)
        except ValueError:
            return value
    return value


def _hosts(texts: list[str]) -> list[tuple[str, str]]:
    """(host, path prefix) of hard-coded http(s) URLs, placeholders left out."""
    out: dict[str, str] = {}
    for text in texts:
        for m in _URL.finditer(text):
            host, path = m.group(2).lower(), (m.group(3) or "/")
            if any(host == h or host.endswith("." + h) for h in _PLACEHOLDER_HOSTS):
                continue
            out.setdefault(host, path)
    return sorted(out.items())


def _env_vars(texts: list[str]) -> list[str]:
    names = {a or b for text in texts for a, b in _ENV.findall(text)}
    return sorted(n for n in names if n not in ("NODE_ENV",))


def _inline(value: Any) -> Any:
    if isinstance(value, dict):
        table = tomlkit.inline_table()
        for k, v in value.items():
            table[k] = _inline(v)
        return table
    if isinstance(value, list):
        arr = tomlkit.array()
        for v in value:
            arr.append(_inline(v))
        return arr
    return value


def starter_registry(discovery: Discovery) -> str:
    """The registry file's text."""
    root = discovery.root
    graph = ImportGraph(root, discovery.aliases.paths)
    doc = tomlkit.document()
    doc.add(tomlkit.comment("wfprof step registry, written by `wfprof registry init` from what the checkout declares."))
    doc.add(tomlkit.comment("Everything discovered is already known without this file (module, export, action type,"))
    doc.add(tomlkit.comment("tsconfig aliases, server-only): entries here add an input (so the step is executed),"))
    doc.add(tomlkit.comment("env, canned responses and shims. Lines marked TODO are guesses to check; the format is"))
    doc.add(tomlkit.comment("documented in wfprof's data/steps/registry.toml."))
    for w in discovery.warnings:
        doc.add(tomlkit.comment(f"note: {w}"))
    doc.add(tomlkit.nl())

    needs: dict[str, tuple[Need, list[str]]] = {}
    for d in discovery.steps:
        for spec in dict.fromkeys(d.facts.imports):
            if spec.startswith("."):
                continue
            if spec in needs:
                needs[spec][1].append(d.step_id)
                continue
            target = graph.resolve(d.file.rel, spec)
            if target is None:
                continue
            need = graph.need(target)
            if need is not None:
                needs.setdefault(spec, (need, []))[1].append(d.step_id)
    shims = tomlkit.table()
    shims.add(tomlkit.comment("Suggested shims (uncomment the ones you need, and write the stand-in module):"))
    shims.add(tomlkit.comment("a platform module that reaches a database or the app at import or call time."))
    for spec, (need, users) in sorted(needs.items()):
        chain = " -> ".join(need.via)
        shims.add(tomlkit.comment(f"suggestion: \"{spec}\" = \"wfprof-shims/{spec.lstrip('@/').lstrip('~/')}.ts\"  "
                                  f"# reaches the {need.kind} via {chain}; imported by {len(users)} step(s)"))
    if not needs:
        shims.add(tomlkit.comment("(none found)"))
    doc.add("shims", shims)
    doc.add(tomlkit.nl())

    helpers_by_rel = {h.file.rel: h for h in discovery.helpers}
    steps = tomlkit.table(is_super_table=True)
    for d in discovery.steps:
        t = tomlkit.table()
        source = f"manifest {d.manifest}" if d.manifest and d.fields is not None and d.action_type else "its export"
        t.add(tomlkit.comment(f"{d.file.rel} ({'from ' + source})"))
        t.add("module", d.file.rel)
        if d.export:
            t.add("export", d.export)
        else:
            t.add(tomlkit.comment(f"TODO: {d.problem}"))
            t.add(tomlkit.comment('export = "…Step"'))
        t.add("action_type", d.action_type or d.step_id)
        extra: dict[str, tuple[str, bool]] = {}
        texts: list[str] = []
        for rel in [d.file.rel, *d.helpers]:
            h = helpers_by_rel.get(rel)
            if h is not None:
                extra.update(h.facts.input_props)
            with contextlib.suppress(OSError):
                texts.append((root / rel).read_text(encoding="utf-8", errors="replace"))
        value, todo = step_input(d, extra)
        t.add("input", _inline(value))
        if todo:
            t.add(tomlkit.comment(f"TODO: placeholder input for {', '.join(todo)} (no example or default declared)"))
        if any(s in needs for s in d.facts.imports if not s.startswith(".")):
            used = list(dict.fromkeys(s for s in d.facts.imports if s in needs))
            t.add(tomlkit.comment(f"TODO: imports {', '.join(used)}, which reach(es) the database or app: see [shims]"))
        env = _env_vars(texts)
        if env:
            t.add(tomlkit.comment("TODO: the step reads " + ", ".join(env) + " from the environment:"))
            t.add(tomlkit.comment("env = { " + ", ".join(f'{n} = "…"' for n in env) + " }"))
        hosts = _hosts(texts)
        if hosts:
            responses = tomlkit.aot()
            for host, path in hosts:
                r = tomlkit.table()
                r.add(tomlkit.comment(f"TODO: the reply the step expects from {host}"))
                r.add("url", f"https://{host}{path.rstrip('/')}/*")
                r.add("status", 200)
                r.add("json", tomlkit.inline_table())
                responses.append(r)
            t.add("responses", responses)
        steps.add(d.step_id, t)
    doc.add("steps", steps)
    return tomlkit.dumps(doc)
