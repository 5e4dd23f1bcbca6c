"""The platform's own workflow executor in a checkout of KeeperHub's layout: the executor module, its step
boundary (`withStepLogging`) and its integration check, each found only when the file declares it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

EXECUTOR = ("lib/workflow-executor.workflow.ts", "executeWorkflow")
STEP_BOUNDARY = ("lib/steps/step-handler.ts", "withStepLogging")
CHECK_INTEGRATIONS = ("lib/db/integrations.ts", "validateWorkflowIntegrations")


def _exports(path: Path, name: str) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(rf"export\s+(async\s+)?(function\*?|const|let)\s+{re.escape(name)}\b", text) is not None


def discover_executor(root: Path) -> dict[str, Any]:
    """`[executor]` fields for the checkout at `root`; {} when it has no executor module.

    The executor is taken when its file exists (a missing export is then reported by name when profiling);
    boundary and validation only when their file exports the function.
    """
    module, export = EXECUTOR
    if not (root / module).is_file():
        return {}
    found: dict[str, Any] = {"module": module, "export": export}
    for key, (rel, name) in (("step_boundary", STEP_BOUNDARY), ("check_integrations", CHECK_INTEGRATIONS)):
        if _exports(root / rel, name):
            found[key] = {"module": rel, "export": name}
    return found
