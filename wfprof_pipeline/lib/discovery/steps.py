"""Discovery of a checkout's steps: every file of the corpus globs, classified as a step or a helper, with
its export and action type from the plugin manifest (or its single `…Step` export when there is none).

A file in a `steps/` folder that exports no step function and that a sibling step imports (KeeperHub's
`*-core.ts` pattern) is a **helper**: its code is the step's logic, so step-level figures fold it in.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path

from wfprof_pipeline.lib.corpus import DEFAULT_GLOBS, EXTENSIONS, StepFile, discover
from wfprof_pipeline.lib.discovery.manifest import MANIFEST_NAMES, ConfigField, Manifest, read_manifest
from wfprof_pipeline.lib.discovery.source_facts import SourceFacts, facts
from wfprof_pipeline.lib.discovery.tsconfig import Aliases, load_aliases


@dataclass
class DiscoveredFile:
    file: StepFile
    role: str  # "step" | "helper"
    step_id: str
    export: str | None = None
    action_type: str | None = None
    manifest: str | None = None
    fields: tuple[ConfigField, ...] = ()
    helpers: list[str] = field(default_factory=list)  # helper files this step imports (rel paths)
    helper_of: list[str] = field(default_factory=list)  # steps that import this helper (rel paths)
    problem: str | None = None  # why this step cannot be profiled as discovered
    facts: SourceFacts = field(default_factory=SourceFacts)


@dataclass
class Discovery:
    root: Path
    files: list[DiscoveredFile]
    aliases: Aliases
    manifests: list[Manifest]
    warnings: list[str]

    @property
    def steps(self) -> list[DiscoveredFile]:
        return [f for f in self.files if f.role == "step"]

    @property
    def helpers(self) -> list[DiscoveredFile]:
        return [f for f in self.files if f.role == "helper"]

    def by_rel(self) -> dict[str, DiscoveredFile]:
        return {f.file.rel: f for f in self.files}


def module_candidates(base: str) -> list[str]:
    """Files an import of `base` (a '/'-path without or with an extension) may name, in resolution order:
    as written, with each source extension, as a folder's index, and a TS source imported with its emitted
    .js extension."""
    stem, ext = posixpath.splitext(base)
    out = [base, *(base + e for e in EXTENSIONS), *(posixpath.join(base, "index" + e) for e in EXTENSIONS)]
    if ext in (".js", ".mjs", ".cjs", ".jsx"):
        out += [stem + e for e in EXTENSIONS]
    return out


def _relative_target(importer: StepFile, spec: str, rels: set[str]) -> str | None:
    """The corpus file a relative import names, if it is one."""
    if not spec.startswith("."):
        return None
    base = posixpath.normpath(posixpath.join(posixpath.dirname(importer.rel), spec))
    return next((c for c in module_candidates(base) if c in rels), None)


def _ids(files: list[StepFile]) -> dict[str, str]:
    """plugin/stem, except that a second file with the same stem (a.ts and a.js) keeps its extension."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for f in files:
        sid = f"{f.plugin}/{f.step}"
        if sid in taken:
            sid = f"{f.plugin}/{f.path.name}"
        taken.add(sid)
        out[f.rel] = sid
    return out


def discover_steps(root: Path | str, globs: tuple[str, ...] | list[str] = DEFAULT_GLOBS) -> Discovery:
    root = Path(root).resolve()
    files = discover(root, globs)
    warnings: list[str] = []
    try:
        aliases = load_aliases(root)
    except ValueError as exc:  # a broken tsconfig: no aliases, said once
        aliases = Aliases(warnings=[f"{exc}; no path aliases"])
    warnings += aliases.warnings
    rels = {f.rel for f in files}
    ids = _ids(files)
    found: dict[str, DiscoveredFile] = {}
    for f in files:
        try:
            fx = facts(f.path.read_bytes(), EXTENSIONS[f.path.suffix])
        except OSError:
            fx = SourceFacts(parse_error=True)
        found[f.rel] = DiscoveredFile(file=f, role="step", step_id=ids[f.rel], facts=fx)

    # Helpers: no step export, imported by a sibling step file.
    for d in found.values():
        for spec in d.facts.imports:
            target = _relative_target(d.file, spec, rels)
            if target and target != d.file.rel and posixpath.dirname(target) == posixpath.dirname(d.file.rel):
                t = found[target]
                if not t.facts.step_exports() and d.facts.step_exports():
                    t.role = "helper"
                    if d.file.rel not in t.helper_of:
                        t.helper_of.append(d.file.rel)
                    if target not in d.helpers:
                        d.helpers.append(target)

    # Manifests: one per plugin folder (the folder above steps/).
    manifests: dict[Path, Manifest | None] = {}
    for d in found.values():
        plugin_dir = d.file.path.parent.parent
        if plugin_dir in manifests:
            continue
        manifests[plugin_dir] = None
        for name in MANIFEST_NAMES:
            path = plugin_dir / name
            if path.is_file():
                rel = path.relative_to(root).as_posix()
                manifest, warning = read_manifest(path, rel)
                if warning:
                    warnings.append(warning)
                manifests[plugin_dir] = manifest
                break

    for d in found.values():
        if d.role != "step":
            continue
        manifest = manifests.get(d.file.path.parent.parent)
        exports = d.facts.step_exports()
        action = None
        if manifest is not None:
            d.manifest = manifest.path
            action = next((a for a in manifest.actions if a.step_import_path and
                           posixpath.splitext(a.step_import_path)[0] == d.file.step), None)
            if action is None and exports:  # a manifest that names the function but another file stem
                action = next((a for a in manifest.actions if a.step_function in exports), None)
        plugin_type = manifest.type if manifest else d.file.plugin
        if action is not None:
            d.action_type = f"{plugin_type}/{action.slug}"
            d.fields = action.fields
            if action.step_function and action.step_function in d.facts.exports:
                d.export = action.step_function
            elif action.step_function:
                d.problem = (f"the manifest {manifest.path} names {action.step_function}, which {d.file.rel} "
                             "does not export")
        else:
            d.action_type = f"{plugin_type}/{d.file.step}"
        if d.export is None and d.problem is None:
            if len(exports) == 1:
                d.export = exports[0]
            elif not exports:
                d.problem = "exports no …Step function (name the export in the registry)"
            else:
                d.problem = (f"exports {len(exports)} step functions ({', '.join(exports)}); name the one to "
                             "profile in the registry")
    return Discovery(root=root, files=[found[f.rel] for f in files], aliases=aliases,
                     manifests=[m for m in manifests.values() if m], warnings=warnings)
