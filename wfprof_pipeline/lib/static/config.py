"""Environment knobs of static analysis, read at run time without pydantic (the CLI must start fast)."""

from __future__ import annotations

import os
from pathlib import Path

from wfprof_pipeline.lib.errors import WfprofError

# Same variable and default as lib/settings.py (which imports pydantic, too slow for `wfprof analyze`).
ENV_STEPS_ROOT = "WFPROF_STEPS_ROOT"
DEFAULT_STEPS_ROOT = Path("data/steps")
# A JSON rules file for external-call classification (see external_calls.py); unset = the defaults.
ENV_EXTERNAL_CALL_RULES = "WFPROF_EXTERNAL_CALL_RULES"
# The seed's CI gate: average cyclomatic complexity per step file must not exceed this.
ENV_COMPLEXITY_BUDGET = "WFPROF_COMPLEXITY_BUDGET"
DEFAULT_COMPLEXITY_BUDGET = 15.0


class StaticConfigError(WfprofError, ValueError):
    pass


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def steps_root() -> Path:
    value = _env(ENV_STEPS_ROOT)
    return Path(value) if value else DEFAULT_STEPS_ROOT


def external_call_rules_file() -> Path | None:
    value = _env(ENV_EXTERNAL_CALL_RULES)
    return Path(value) if value else None


def complexity_budget() -> float:
    value = _env(ENV_COMPLEXITY_BUDGET)
    if value is None:
        return DEFAULT_COMPLEXITY_BUDGET
    try:
        budget = float(value)
    except ValueError:
        raise StaticConfigError(f"{ENV_COMPLEXITY_BUDGET}={value!r} is not a number") from None
    if budget != budget or budget < 1:  # NaN or below the minimum complexity of any file
        raise StaticConfigError(f"{ENV_COMPLEXITY_BUDGET}={value!r} must be a number ≥ 1")
    return budget
