"""`wfprof gate` end to end: the baseline (a snapshot file, or REF measured in a temporary worktree),
the head (the working tree measured as it is, or a snapshot file), the comparison."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from wfprof_pipeline.lib.cost_model.policy import PricingPolicy
from wfprof_pipeline.lib.gate import models
from wfprof_pipeline.lib.gate.compare import GateResult, compare
from wfprof_pipeline.lib.gate.limits import Limits
from wfprof_pipeline.lib.gate.snapshot import SnapshotOptions, build_snapshot, measure_fuel, measure_user_code


@dataclass(frozen=True)
class GateRequest:
    root: Path
    registry: Path | None  # explicit --registry (None = $WFPROF_STEP_REGISTRY or <root>/registry.toml)
    policy: PricingPolicy
    options: SnapshotOptions
    limits: Limits
    baseline: Path | None = None
    base_ref: str | None = None
    current: Path | None = None  # a head snapshot file instead of measuring the working tree
    sections_given: bool = False  # the user chose the sections (else: the baseline file's)


def _dirty_note(root: Path, registry: Path | None) -> str | None:
    from wfprof_pipeline.lib.gate import gitref

    try:
        repo = gitref.toplevel(root)
    except gitref.GitRefError:
        return None  # not a git checkout: nothing to say about commits
    paths = [root] + ([registry] if registry is not None and gitref._inside(registry, repo) is not None else [])
    dirty = gitref.dirty_files(repo, paths)
    if not dirty:
        return None
    shown = ", ".join(dirty[:5]) + (f" … {len(dirty) - 5} more" if len(dirty) > 5 else "")
    return f"uncommitted changes, measured as they are ({len(dirty)} file{'s' if len(dirty) != 1 else ''}: {shown})"


def _registry_file(root: Path, explicit: Path | None) -> Path | None:
    """The working tree's registry file as the registry loader finds it (None: there is none)."""
    from wfprof_pipeline.lib.errors import WfprofError
    from wfprof_pipeline.lib.registry import load_for_root

    try:
        path = load_for_root(root, explicit).path
    except WfprofError:  # no usable registry: measuring steps will say so; static and fuel need none
        path = explicit
    return Path(path).resolve() if path is not None else None


def run_gate(request: GateRequest, on_result: Callable[[str, Any], None] | None = None) -> GateResult:
    notes: list[str] = []
    options = request.options
    if request.base_ref is not None:  # a ref that names no commit fails before anything is measured
        from wfprof_pipeline.lib.gate import gitref

        gitref.resolve_commit(gitref.toplevel(request.root), request.base_ref)
    base: models.Snapshot | None = None
    if request.baseline is not None:
        base = models.load(request.baseline)
        if not request.sections_given:
            options = replace(options, sections=tuple(base.sections))
        base_label = f"`{request.baseline.name}` (snapshot of {base.created_at}, wfprof {base.tool_version})"

    registry_file = _registry_file(request.root, request.registry)
    head_label = "working tree"
    if request.current is not None:
        head = models.load(request.current)
        head_label = f"`{request.current.name}` (snapshot of {head.created_at})"
    else:
        dirty = _dirty_note(request.root, registry_file)
        if dirty:
            head_label += f" — {dirty}"

    shared: dict[str, Any] = {}
    if request.base_ref is not None and request.current is None:
        # Fuel depends on wfprof's engine and workloads, user-code fuel on the database: not on the tree.
        if "fuel" in options.sections:
            shared["fuel"] = measure_fuel()
        if "user_code" in options.sections and options.database_url:
            shared["user_code"] = measure_user_code(options.database_url)
        if shared:
            what = " and ".join({"fuel": "calibration fuel", "user_code": "user-code fuel"}[k] for k in shared)
            notes.append(f"{what} measured once for both trees (it depends on wfprof's engine and the database, "
                         "not on the tree)")

    def measure(root: Path, registry: Path | None, side: str) -> models.Snapshot:
        return build_snapshot(root, registry, request.policy, options, **shared,
                              on_result=(lambda r: on_result(side, r)) if on_result else None)

    if request.current is None:
        head = measure(request.root, request.registry, "head")
    if request.base_ref is not None:
        from wfprof_pipeline.lib.gate.gitref import checkout

        with checkout(request.base_ref, request.root, registry_file) as tree:
            notes += tree.notes
            notes.append(f"node_modules of the base tree: {tree.node_modules}")
            base = measure(tree.root, tree.registry, "base")
        base_label = f"`{request.base_ref}` (commit {tree.commit[:10]})"
    assert base is not None
    return compare(base, head, request.limits, base_label=base_label, head_label=head_label, notes=notes)
