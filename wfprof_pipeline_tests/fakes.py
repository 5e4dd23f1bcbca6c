"""Fakes of the resources' clients for the fast test layer (the real ones are exercised by the integration tests)."""

from __future__ import annotations

from typing import Any

from wfprof_pipeline.lib.fuel.sandbox import ErrorKind, EvaluationResult, Limits


class FakeEvaluator:
    """An `Evaluator` that charges 1,000 fuel per character of code and records every call. Code containing
    `FAIL` raises (a sandbox that went down), code longer than the budget allows runs out of fuel."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, Limits | None]] = []

    def evaluate(self, code: str, parameters: Any = None, *, limits: Limits | None = None,
                 filename: str = "code.js", deterministic: bool = True) -> EvaluationResult:
        self.calls.append((code, parameters, limits))
        if "FAIL" in code:
            raise ConnectionError("fake sandbox is down")
        fuel = 1_000 * len(code)
        budget = (limits or Limits()).fuel
        if fuel > budget:
            return EvaluationResult(success=False, error="out of fuel", error_kind=ErrorKind.OUT_OF_FUEL,
                                    fuel_consumed=budget)
        return EvaluationResult(success=True, result=parameters, fuel_consumed=fuel, memory_used=64 * 1024,
                                duration_ms=0.1)
