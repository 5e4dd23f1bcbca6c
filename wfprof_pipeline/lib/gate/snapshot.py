"""Measure a tree into a `Snapshot`, reusing the measurements the rest of wfprof makes.

- static: `lib/static` (the same analysis as `wfprof analyze`);
- steps: `profile_steps` in precise mode, one fresh process per step (own + package counts are
  bit-identical in every fresh process, so one run is enough), summarized by `lib/profiling/summary`;
  tiers and units by `lib/cost_model` (tiers, pricing) under the policy, on the deterministic basis;
- fuel: `lib/fuel/calibrate` on the embedded QuickJS engine (deterministic fuel);
- user_code: `lib/fuel/user_code` over the stored workflows at `DATABASE_URL`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wfprof_pipeline.lib.corpus import DEFAULT_GLOBS
from wfprof_pipeline.lib.cost_model.policy import PricingPolicy
from wfprof_pipeline.lib.gate.models import (
    SECTIONS,
    FileSnapshot,
    FuelSection,
    FuelWorkload,
    FunctionComplexity,
    IoCount,
    PhaseCalls,
    PricingInfo,
    Snapshot,
    StepSnapshot,
    TreeInfo,
    UserCodeNode,
)

# The snapshot tiers on own + packages whatever the policy's basis: Node-internal counts differ from
# one fresh process to the next (import phase by up to ~20 %, execute phase by a few calls), so a tier
# computed from them could flip between two runs of an unchanged tree.
TIER_BASIS = "own_packages"
LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "yarn.lock", "bun.lock")


@dataclass(frozen=True)
class SnapshotOptions:
    sections: tuple[str, ...] = SECTIONS
    steps: list[str] | None = None  # None = every registered step
    globs: tuple[str, ...] = DEFAULT_GLOBS
    rules_file: Path | None = None
    node: str = "node"
    timeout_s: float = 60.0
    jobs: int | None = None
    database_url: str | None = None  # user-code fuel only when set


def tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wfprof")
    except PackageNotFoundError:
        return "unknown"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


def find_lockfile(root: Path) -> Path | None:
    """The lockfile that governs the corpus's node_modules: the nearest one at or above the root (Node
    resolves packages upwards), not above the repository that holds the root."""
    here = root.resolve()
    for folder in (here, *here.parents):
        for name in LOCKFILES:
            if (folder / name).is_file():
                return folder / name
        if (folder / ".git").exists():
            return None
    return None


def locked_versions(lockfile: Path | None) -> dict[str, str]:
    """package -> version from an npm lockfile (v2/v3 `packages`); other lockfiles are only digested."""
    if lockfile is None or lockfile.name not in ("package-lock.json", "npm-shrinkwrap.json"):
        return {}
    try:
        data = json.loads(lockfile.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    packages = data.get("packages") or {}
    out = {}
    for key, info in packages.items():
        if not key.startswith("node_modules/") or not isinstance(info, dict):
            continue
        if info.get("link"):  # a workspace or file: link; its version is in the entry it points to
            info = packages.get(str(info.get("resolved", "")), {})
        if isinstance(info, dict) and info.get("version"):
            out[key.removeprefix("node_modules/")] = str(info["version"])
    return out


def _scrub(text: str | None, root: Path) -> str | None:
    """Error texts without this machine's paths (the base tree lives in a temporary folder)."""
    if text is None:
        return None
    text = text.replace(str(root.resolve()), "<root>").replace(str(root), "<root>")
    return re.sub(r"/[^\s'\"]*wfprof-steps-[^/\s'\"]+", "<build>", text)


def measure_static(root: Path, options: SnapshotOptions) -> dict[str, FileSnapshot]:
    from wfprof_pipeline.lib.corpus import discover
    from wfprof_pipeline.lib.static.analyze import analyze_file
    from wfprof_pipeline.lib.static.external_calls import load_rules

    rules = load_rules(options.rules_file)
    files = {}
    for result in (analyze_file(f, rules) for f in discover(root, options.globs)):
        functions = [FunctionComplexity(name=fn.name, line=fn.start_line, complexity=fn.cyclomatic_complexity)
                     for fn in result.functions]
        files[result.file] = FileSnapshot(
            plugin=result.plugin,
            step=result.step,
            cyclomatic_complexity=result.metrics.cyclomatic_complexity,
            max_function_complexity=max((f.complexity for f in functions), default=0),
            functions=functions,
            parse_error=result.parse_error,
        )
    return files


def measure_steps(
    registry: Any, policy: PricingPolicy, options: SnapshotOptions, lockfile_sha: str | None,
    on_result: Callable[[Any], None] | None = None,
) -> dict[str, StepSnapshot]:
    from wfprof_pipeline.lib.cost_model.io_class import JSON_RPC_WRITE_METHODS
    from wfprof_pipeline.lib.cost_model.measurements import step_measurements
    from wfprof_pipeline.lib.cost_model.pricing import price_steps
    from wfprof_pipeline.lib.cost_model.tiers import assign_tiers
    from wfprof_pipeline.lib.profiling.runner import ProfileOptions, profile_steps
    from wfprof_pipeline.lib.profiling.summary import summarize

    entries = registry.select(options.steps)
    ids = [e.id for e in entries]
    # Import + the first execution, as the seed's totalCalls: warm executions are left out of the gate (they
    # would double its time, and ethers' 10 ms JSON-RPC batching makes a transfer's warm calls move by a
    # fraction of a percent on a loaded CI machine).
    profile_options = ProfileOptions(modes=("precise",), repeat=1, timeout_s=options.timeout_s, jobs=options.jobs,
                                     node=options.node, warm_runs=0)
    results = profile_steps(registry, ids, profile_options, on_result=on_result)
    summary = summarize(results)
    errors: dict[str, str] = {}
    for r in results:
        if r.failed and r.step_id not in errors:
            errors[r.step_id] = _scrub(r.error, registry.root) or "failed"
    phases: dict[str, dict[str, PhaseCalls]] = defaultdict(dict)
    for row in summary.profiles:
        if row.mode == "precise" and row.calls_own is not None and row.calls_packages is not None:
            phases[row.step_id][row.phase] = PhaseCalls(own=row.calls_own, packages=row.calls_packages)
    for pc in summary.package_calls:
        phase = phases.get(pc["step_id"], {}).get(pc["phase"])
        if phase is not None and pc["calls"]:
            phase.by_package[pc["package"]] = int(pc["calls"])
    # Requests: one row per JSON-RPC call of a batch in summary.io_requests; count each request once.
    write_requests = {(q["step_id"], q["phase"], q["request_seq"]) for q in summary.io_requests
                      if q["rpc_method"] in JSON_RPC_WRITE_METHODS}
    requests: dict[str, dict[tuple[str, str, str], IoCount]] = defaultdict(dict)
    seen: set[tuple[str, str, int]] = set()
    writes: dict[str, int] = defaultdict(int)
    rpc: dict[str, set[str]] = defaultdict(set)
    for q in summary.io_requests:
        sid, phase, seq = q["step_id"], q["phase"], q["request_seq"]
        key = (phase, q["host"] or "", q["method"])
        count = requests[sid].setdefault(key, IoCount(phase=phase, host=key[1], method=key[2], requests=0))
        if (sid, phase, seq) not in seen:
            seen.add((sid, phase, seq))
            count.requests += 1
            if phase == "execute" and (sid, phase, seq) in write_requests:
                writes[sid] += 1
        if q["rpc_method"]:
            count.rpc_methods[q["rpc_method"]] = count.rpc_methods.get(q["rpc_method"], 0) + 1
            if phase == "execute":
                rpc[sid].add(q["rpc_method"])
    io_ops = {row.step_id: row.io_operations for row in summary.profiles
              if row.mode == "precise" and row.phase == "execute"}

    rows = []
    for e in entries:
        p = phases.get(e.id, {})
        counted = e.id not in errors and bool(p)
        rows.append({
            "step_id": e.id,
            "action_type": e.action_type,
            "declared_io_class": e.io_class,
            "profiled": counted or e.id in errors,
            "error": errors.get(e.id),
            # Node-internal columns stay null: the tier basis is own + packages (see TIER_BASIS).
            # import + the first execution (the warm phase is its own measure, per execution)
            "calls_own": sum(x.own for ph, x in p.items() if ph != "execute_warm") if counted else None,
            "calls_packages": sum(x.packages for ph, x in p.items() if ph != "execute_warm") if counted else None,
            "executed": "execute" in p if counted else None,
            "io_operations": float(io_ops.get(e.id) or 0) if counted else None,
            "io_write_operations": float(writes.get(e.id, 0)) if counted else None,
            "rpc_methods": sorted(rpc.get(e.id, ())),
        })
    frame = step_measurements(rows)
    deterministic = policy.model_copy(update={"tiers": policy.tiers.model_copy(update={"basis": TIER_BASIS})})
    tiers = assign_tiers(frame, deterministic)
    pricing = {r["step_id"]: r for r in price_steps(frame, tiers, policy).iter_rows(named=True)}

    out = {}
    for e in entries:
        source = registry.module_path(e)
        try:
            source_sha = _sha256(source.read_bytes())
        except OSError:
            source_sha = None
        try:
            step_input: Any = registry.input_for(e)
        except Exception:  # an unreadable input_file: the profile reports it; the digest says "unreadable"
            step_input = "unreadable"
        entry = e.model_dump(mode="json", exclude={"description", "input", "input_file"})
        p = phases.get(e.id, {})
        price = pricing.get(e.id, {})
        failed = e.id in errors
        out[e.id] = StepSnapshot(
            status="not_profiled" if e.problem else "failed" if failed else "ok" if e.executes else "import_only",
            error=errors.get(e.id),
            module=e.module,
            action_type=e.action_type,
            source_sha256=source_sha,
            entry_sha256=_sha256(_canonical({**entry, "input": step_input})),
            lockfile_sha256=lockfile_sha,
            phases={} if failed else dict(sorted(p.items())),
            calls=None if failed or not p else sum(x.own + x.packages for x in p.values()),
            io_operations=None if failed else io_ops.get(e.id),
            io_requests=[] if failed else sorted(requests.get(e.id, {}).values(),
                                                 key=lambda c: (c.phase, c.host, c.method)),
            tier=price.get("tier"),
            io_class=price.get("io_class"),
            units=price.get("total_units"),
            pricing_status=price.get("status"),
        )
    return out


def measure_fuel() -> FuelSection:
    """Calibration workloads on the embedded engine (a remote SANDBOX_URL may run another engine build)."""
    from wfprof_pipeline.lib.fuel.calibrate import calibrate
    from wfprof_pipeline.lib.fuel.protocol import open_evaluator, sandbox_info

    evaluator = open_evaluator(None)
    info = sandbox_info(evaluator)
    # One evaluation per size: fuel is deterministic, and the gate compares two snapshots anyway.
    cal = calibrate(evaluator, sandbox=info.label, wasmtime_version=info.wasmtime_version,
                    quickjs_version=info.quickjs_version, repeats=1)
    fits = {f.workload: f for f in cal.fits}
    by_workload: dict[str, list[Any]] = defaultdict(list)
    for m in cal.measurements:
        by_workload[m.workload].append(m)
    workloads = {}
    for name, ms in by_workload.items():
        largest = max(ms, key=lambda m: m.iterations)
        fit = fits.get(name)
        workloads[name] = FuelWorkload(
            category=largest.category,
            fuel=largest.fuel_consumed,
            by_iterations={str(m.iterations): m.fuel_consumed for m in sorted(ms, key=lambda m: m.iterations)},
            fuel_per_op=round(fit.fuel_per_op, 3) if fit else None,
            fixed_fuel=round(fit.fixed_fuel, 3) if fit else None,
            success=all(m.success for m in ms),
        )
    return FuelSection(engine={"quickjs": info.quickjs_version, "wasmtime": info.wasmtime_version},
                       empty_fuel=cal.empty_fuel, workloads=workloads)


def measure_user_code(database_url: str) -> dict[str, UserCodeNode]:
    from wfprof_pipeline.lib.fuel.protocol import open_evaluator
    from wfprof_pipeline.lib.fuel.user_code import load_code_nodes, meter_code_nodes
    from wfprof_pipeline.lib.keeperhub import KeeperHub

    with KeeperHub(database_url) as kh:
        nodes, last_inputs = load_code_nodes(kh)
    table = meter_code_nodes(nodes, open_evaluator(None), last_inputs=last_inputs)
    return {
        f"{r['workflow_id']}/{r['node_id']}": UserCodeNode(
            workflow_id=r["workflow_id"], node_id=r["node_id"], fuel=r["fuel_consumed"], success=bool(r["success"]),
            error_kind=r["error_kind"],
        )
        for r in table.iter_rows(named=True)
    }


def tree_info(root: Path, globs: Sequence[str], registry_file: Path | None) -> TreeInfo:
    from wfprof_pipeline.lib.source_digest import digest, file_hashes

    hashes = file_hashes(root, tuple(globs))
    lockfile = find_lockfile(root)
    registry_sha = None
    if registry_file is not None:
        try:
            registry_sha = _sha256(Path(registry_file).read_bytes())
        except OSError:
            registry_sha = None
    lock_name = None
    if lockfile is not None:
        try:
            lock_name = Path(lockfile).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:  # above the root (a monorepo's lockfile)
            lock_name = "../" * len(root.resolve().relative_to(lockfile.parent.resolve()).parts) + lockfile.name
    return TreeInfo(
        source_sha256=digest(hashes),
        files=hashes,
        registry_sha256=registry_sha,
        lockfile=lock_name,
        lockfile_sha256=_sha256(lockfile.read_bytes()) if lockfile else None,
        dependencies=locked_versions(lockfile),
    )


def policy_info(policy: PricingPolicy) -> PricingInfo:
    data = policy.model_dump(mode="json", exclude={"gate"})
    return PricingInfo(policy_sha256=_sha256(_canonical(data)), policy_basis=policy.tiers.basis,
                       tier_basis=TIER_BASIS)


def build_snapshot(
    root: Path,
    registry_file: Path | str | None,
    policy: PricingPolicy,
    options: SnapshotOptions,
    *,
    fuel: FuelSection | None = None,
    user_code: dict[str, UserCodeNode] | None = None,
    on_result: Callable[[Any], None] | None = None,
) -> Snapshot:
    """Measure the tree at `root`. `fuel` and `user_code`, when given, are used instead of measuring
    them again: they depend on wfprof's engine and the database, not on the tree."""
    from wfprof_pipeline.lib.registry import load_for_root

    unknown = sorted(set(options.sections) - set(SECTIONS))
    if unknown:
        from wfprof_pipeline.lib.errors import UsageError

        raise UsageError(f"unknown section(s) {', '.join(unknown)}; sections: {', '.join(SECTIONS)}")
    root = Path(root)
    sections = [s for s in SECTIONS if s in options.sections]
    if "user_code" in sections and not options.database_url and user_code is None:
        sections.remove("user_code")  # no database configured: nothing to measure, and it says so
    # The registry only when steps are measured (a static-only snapshot needs none); its file, if any,
    # is digested with the tree.
    registry = load_for_root(root, registry_file) if "steps" in sections else None
    info = tree_info(root, options.globs, registry.path if registry is not None else None)
    snapshot = Snapshot(
        tool_version=tool_version(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        sections=sections,
        tree=info,
    )
    if "static" in sections:
        snapshot.files = measure_static(root, options)
    if registry is not None:
        snapshot.pricing = policy_info(policy)
        snapshot.steps = measure_steps(registry, policy, options, info.lockfile_sha256, on_result)
    if "fuel" in sections:
        snapshot.fuel = fuel if fuel is not None else measure_fuel()
    if "user_code" in sections:
        snapshot.user_code_fuel = user_code if user_code is not None else measure_user_code(options.database_url or "")
    return snapshot
