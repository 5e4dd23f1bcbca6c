"""The platform baseline: the modules every step of the corpus imports (KeeperHub's step handler, which
pulls in its database schema and drizzle), imported alone in a fresh process. A worker pays that import once
whatever it runs, so each step's own cost is its import minus this baseline (`import_marginal`).

The modules are the registry's `[platform] modules`, or else the import specifiers (aliases and packages,
not relative paths) that every profilable step imports directly.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from wfprof_pipeline.lib.discovery.source_facts import facts
from wfprof_pipeline.lib.profiling.runner import ProfileOptions, RunResult, profile_steps
from wfprof_pipeline.lib.registry import StepEntry, StepRegistry
from wfprof_pipeline.lib.static.analyze import language_for

PLATFORM_ID = "(platform)"


def shared_modules(registry: StepRegistry, entries: list[StepEntry] | None = None) -> list[str]:
    """The registry's `[platform] modules`, or the non-relative specifiers every step imports directly."""
    if registry.platform_modules is not None:
        return list(registry.platform_modules)
    shared: set[str] | None = None
    for entry in registry.profilable(entries if entries is not None else registry.select(None)):
        path = registry.module_path(entry)
        try:
            imports = {s for s in facts(path.read_bytes(), language_for(path)).imports if not s.startswith(".")}
        except (OSError, ValueError):
            continue
        shared = imports if shared is None else shared & imports
    return sorted(shared or ())


def profile_platform(registry: StepRegistry, modules: list[str], options: ProfileOptions) -> list[RunResult]:
    """Import `modules` alone, in every mode of `options`, `repeat` fresh processes each. Empty when none."""
    if not modules:
        return []
    with tempfile.TemporaryDirectory(prefix="wfprof-platform-") as tmp:
        entry_file = Path(tmp) / "platform-entry.ts"
        # Namespace imports keep every module whole (a bare `import "m"` would let esbuild drop what no step
        # code uses), exactly as each step's bundle includes them.
        entry_file.write_text("".join(f'import * as m{i} from {spec!r};\n' for i, spec in enumerate(modules))
                              + f"export {{ {', '.join(f'm{i}' for i in range(len(modules)))} }};\n")
        # A step with no export and no input: the runner profiles its import only, like any discovered step.
        entry = StepEntry.model_construct(
            id=PLATFORM_ID, module=str(entry_file), export=None, action_type=PLATFORM_ID, io_class=None,
            runs_user_code=False, description="", input=None, input_file=None, env={}, timeout_s=None,
            warm_runs=0, responses=[], origin="discovered", problem=None, helpers=[],
        )
        alone = registry.model_copy(update={"steps": {PLATFORM_ID: entry}})
        return profile_steps(alone, [PLATFORM_ID], options)
