"""The shared canned-response stub: one Node process (wfprof_pipeline/node/serve-stub.mjs) for a whole
profiling batch, so no stub code runs inside any profiled process. Each step process is a tenant with
its own routes, port (its base URL) and request log."""

from __future__ import annotations

import contextlib
import json
import select
import subprocess
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from wfprof_pipeline.lib.errors import WfprofError
from wfprof_pipeline.lib.node_process import node_environment
from wfprof_pipeline.lib.profiling.models import IoRequest, StepOutcome

SERVE_STUB = Path(__file__).resolve().parents[2] / "node" / "serve-stub.mjs"


# The stub is on loopback: an HTTP_PROXY of the caller's environment must never see these requests.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class StubError(WfprofError, RuntimeError):
    pass


def fill_stub(value: Any, url: str) -> Any:
    """Replace {{stub}} in every string of a JSON-like value."""
    if isinstance(value, str):
        return value.replace("{{stub}}", url)
    if isinstance(value, list):
        return [fill_stub(v, url) for v in value]
    if isinstance(value, dict):
        return {k: fill_stub(v, url) for k, v in value.items()}
    return value


class StubProcess:
    def __init__(self, node: str = "node", start_timeout_s: float = 15.0) -> None:
        try:
            self._proc = subprocess.Popen(
                [node, str(SERVE_STUB)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, start_new_session=True, env=node_environment(),  # a server, not a job: long-lived
            )
        except FileNotFoundError:
            raise StubError(f"Node.js executable {node!r} not found (set WFPROF_NODE)") from None
        # Wait for the port line at most start_timeout_s: a stub that never answers must not hang the batch.
        ready = select.select([self._proc.stdout], [], [], start_timeout_s)[0] if self._proc.stdout else []
        line = self._proc.stdout.readline() if ready and self._proc.stdout else ""
        try:
            self.port = int(json.loads(line)["port"])
        except (ValueError, KeyError, TypeError):
            if ready and self._proc.poll() is None:  # it answered (garbage or EOF): let it finish dying
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(timeout=2)
            err = self._proc.stderr.read() if self._proc.stderr and self._proc.poll() is not None else ""
            if not (line or err):
                err = f"no port announced within {start_timeout_s:g} s"
            self._kill()
            self.close()
            raise StubError(f"the stub server did not start: {(line or err).strip()[:300]}") from None
        self.base = f"http://127.0.0.1:{self.port}"

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"content-type": "application/json"})
        with _NO_PROXY.open(req, timeout=10) as resp:  # loopback only
            return json.loads(resp.read() or b"{}")

    def tenant(self, routes: list[dict[str, Any]]) -> tuple[str, str, int]:
        """Register routes for one step process; returns (token, base URL for its {{stub}}, its port).

        Each tenant gets its own port, so its base URL is a bare origin: an SDK that resolves an absolute
        path against it ("/v3/mail/send") still lands in its tenant and is counted."""
        token = uuid.uuid4().hex[:16]
        port = int(self._request("PUT", f"/__wfprof/tenants/{token}", [])["port"])
        url = f"http://127.0.0.1:{port}"
        self._request("PUT", f"/__wfprof/tenants/{token}", fill_stub(routes, url))  # now {{stub}} is known
        return token, url, port

    def take_log(self, token: str) -> list[IoRequest]:
        log = self._request("GET", f"/__wfprof/tenants/{token}/log").get("log", [])
        self._request("DELETE", f"/__wfprof/tenants/{token}")
        return [IoRequest.model_validate(entry) for entry in log]

    def _kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def close(self) -> None:
        if self._proc.poll() is None:
            if self._proc.stdin:
                self._proc.stdin.close()  # serve-stub exits when its stdin ends
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream:
                stream.close()

    def __enter__(self) -> StubProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def attach_io(outcome: StepOutcome, requests: list[IoRequest]) -> None:
    """Split a tenant's requests into the phases (by time) and flag requests nothing answered."""
    io: dict[str, list[IoRequest]] = {ph: [] for ph in outcome.phases}
    # Each request belongs to the last phase that had started when the stub received it.
    starts = sorted((p.started_at or 0.0, name) for name, p in outcome.phases.items())
    for req in requests:
        phase = starts[0][1] if starts else "import"
        for started, name in starts:
            if req.at is not None and req.at >= started:
                phase = name
        io.setdefault(phase, []).append(req)
    outcome.io = io  # type: ignore[assignment]
    unmatched = [r for r in requests if not r.matched]
    if unmatched and outcome.ok:
        outcome.ok = False
        outcome.error_kind = "unmatched_request"
        outcome.error = "no canned response for " + "; ".join(
            f"{r.method} {r.path}" + (f" [{','.join(r.rpc_methods)}]" if r.rpc_methods else "") for r in unmatched
        )
