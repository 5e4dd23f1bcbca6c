"""A remote sandbox over HTTP (`SANDBOX_URL`): wfprof's own `wfprof sandbox serve` or the seed's secure-js-sandbox."""

from __future__ import annotations

from typing import Any

import httpx

from wfprof_pipeline.lib.errors import WfprofError
from wfprof_pipeline.lib.fuel.sandbox import EvaluationResult, Limits


class SandboxUnreachable(WfprofError, RuntimeError):
    """The sandbox at SANDBOX_URL did not answer."""


class SandboxRequestFailed(WfprofError, RuntimeError):
    """The sandbox answered with an HTTP error instead of an evaluation result."""


class InvalidSandboxUrl(WfprofError, ValueError):
    """SANDBOX_URL is not a URL httpx can use."""


class SandboxClient:
    """Same `evaluate` signature as the embedded Sandbox; limits travel in the body (capped by the server)."""

    def __init__(self, url: str, *, connect_timeout_s: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self._connect_timeout_s = connect_timeout_s
        try:
            self._http = httpx.Client(base_url=self.url, timeout=httpx.Timeout(60.0, connect=connect_timeout_s))
        except httpx.InvalidURL as exc:
            raise InvalidSandboxUrl(f"sandbox URL {url!r} is not valid: {exc}") from None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SandboxClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise SandboxUnreachable(
                f"sandbox at {self.url} is unreachable ({type(exc).__name__}: {exc}); "
                "start one with `wfprof sandbox serve` or unset SANDBOX_URL to use the embedded sandbox"
            ) from None

    def health(self) -> dict[str, Any]:
        response = self._request("GET", "/health")
        if response.status_code != 200:
            raise SandboxRequestFailed(f"GET {self.url}/health answered {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            data = {}
        return data if isinstance(data, dict) else {}

    def evaluate(
        self,
        code: str,
        parameters: Any = None,
        *,
        limits: Limits | None = None,
        filename: str = "code.js",
        deterministic: bool = True,
    ) -> EvaluationResult:
        limits = limits or Limits()
        body = {
            "code": code,
            "parameters": parameters,
            "filename": filename,
            "fuel": limits.fuel,
            "memory_bytes": limits.memory_bytes,
            "timeout_ms": max(1, round(limits.timeout_s * 1000)),
            "deterministic": deterministic,
        }
        response = self._request("POST", "/evaluate", json=body,
                                 timeout=httpx.Timeout(limits.timeout_s + 30.0, connect=self._connect_timeout_s))
        if response.status_code != 200:
            try:
                detail = response.json().get("error", response.text)
            except (ValueError, AttributeError):
                detail = response.text
            raise SandboxRequestFailed(f"POST {self.url}/evaluate answered {response.status_code}: {str(detail)[:300]}")
        return EvaluationResult.model_validate(response.json())

