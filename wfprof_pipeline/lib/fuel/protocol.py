"""What evaluates JavaScript for fuel: the embedded QuickJS sandbox or a remote one at SANDBOX_URL, behind one
`Evaluator` protocol. Calibration, the fuel check, user-code metering and the gate's snapshot all get theirs from
`open_evaluator`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from wfprof_pipeline.lib.fuel.sandbox import EvaluationResult, Limits


class Evaluator(Protocol):
    def evaluate(self, code: str, parameters: Any = None, *, limits: Limits | None = None,
                 filename: str = "code.js", deterministic: bool = True) -> EvaluationResult: ...


@dataclass(frozen=True)
class SandboxInfo:
    label: str  # "embedded" or the URL
    wasmtime_version: str
    quickjs_version: str


def open_evaluator(url: str | None) -> Evaluator:
    """The HTTP client when `url` (SANDBOX_URL) is set, else the process-wide embedded sandbox. Nothing is
    contacted yet: a remote sandbox that is down fails each evaluation, which callers record."""
    if url:
        from wfprof_pipeline.lib.fuel.client import SandboxClient

        return SandboxClient(url)
    from wfprof_pipeline.lib.fuel.sandbox import default_sandbox

    return default_sandbox()


def sandbox_info(evaluator: Evaluator) -> SandboxInfo:
    """Which engine `evaluator` runs (asks a remote sandbox's /health; raises if it is unreachable)."""
    from wfprof_pipeline.lib.fuel.client import SandboxClient

    if isinstance(evaluator, SandboxClient):
        health = evaluator.health()
        return SandboxInfo(evaluator.url, str(health.get("wasmtime", "unknown")), str(health.get("quickjs", "unknown")))
    loaded = getattr(evaluator, "loaded", None)
    return SandboxInfo("embedded", getattr(loaded, "wasmtime_version", "unknown"),
                       getattr(loaded, "quickjs_version", "unknown"))
