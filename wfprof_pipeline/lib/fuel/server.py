"""The seed's secure-js-sandbox HTTP API over the embedded sandbox (stdlib http.server, one thread per connection).

POST /evaluate {code, parameters, filename[, fuel, memory_bytes, timeout_ms, deterministic]}
  → 200 {success, result, error, error_kind, stdout, stderr, fuel_consumed, memory_used, duration_ms}
GET /health → 200 {status, wasmtime, quickjs, limits}

Whatever the code does, the answer is a 200 with a result. Bad requests get 400 (not JSON, wrong fields),
411 (no Content-Length), 413 (body over the limit), 404/405; a full server answers 503. Requested limits
are capped by the server's maxima; at most `max_concurrency` evaluations run at once.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wfprof_pipeline.lib.fuel.sandbox import MIN_MEMORY_BYTES, Limits, Sandbox, default_sandbox


class ServerConfig(BaseModel):
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    max_fuel: int = Field(default=20_000_000_000, ge=1)
    max_memory_bytes: int = Field(default=256 << 20, ge=MIN_MEMORY_BYTES)
    max_timeout_s: float = Field(default=30.0, gt=0, le=600)
    default_limits: Limits = Limits()
    max_concurrency: int = Field(default_factory=lambda: os.cpu_count() or 2, ge=1)
    max_connections: int = Field(default=64, ge=1)
    queue_timeout_s: float = Field(default=30.0, ge=0)
    idle_timeout_s: float = Field(default=15.0, gt=0)
    verbose: bool = False


class EvaluateRequest(BaseModel):
    """The seed's body; the limit fields are wfprof's (optional, capped by the server)."""

    model_config = ConfigDict(extra="ignore")

    code: str
    parameters: Any = None
    filename: str = Field(default="code.js", max_length=256)
    fuel: int | None = Field(default=None, ge=1)
    memory_bytes: int | None = Field(default=None, ge=MIN_MEMORY_BYTES)
    timeout_ms: int | None = Field(default=None, ge=1)
    deterministic: bool = True

    def limits(self, config: ServerConfig) -> Limits:
        d = config.default_limits
        return Limits(
            fuel=min(self.fuel or d.fuel, config.max_fuel),
            memory_bytes=min(self.memory_bytes or d.memory_bytes, config.max_memory_bytes),
            timeout_s=min(self.timeout_ms / 1000 if self.timeout_ms else d.timeout_s, config.max_timeout_s),
            max_output_bytes=d.max_output_bytes,
            max_result_bytes=d.max_result_bytes,
        )


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e400 parses as inf, which QuickJS's JSON cannot receive
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], config: ServerConfig, sandbox: Sandbox) -> None:
        self.config = config
        self.sandbox = sandbox
        self.evaluations = threading.BoundedSemaphore(config.max_concurrency)
        self.active = 0  # evaluations running now (read by tests and /health)
        self._active_lock = threading.Lock()
        self._connections = threading.BoundedSemaphore(config.max_connections)
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._connections.acquire(blocking=False):
            body = b'{"error":"server busy: too many connections"}'
            with contextlib.suppress(OSError):
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._connections.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connections.release()


class _Handler(BaseHTTPRequestHandler):
    server: SandboxServer
    protocol_version = "HTTP/1.1"  # keep-alive: a client reuses its connection
    server_version = "wfprof-sandbox"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        self.request.settimeout(self.server.config.idle_timeout_s)
        # Headers and body are separate writes; without NODELAY, Nagle + delayed ACK add ~40 ms.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.config.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        if self.path.split("?")[0] != "/health":
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: GET {self.path[:200]}"})
            return
        loaded = self.server.sandbox.loaded
        cfg = self.server.config
        self._reply(HTTPStatus.OK, {
            "status": "ok",
            "active_evaluations": self.server.active,
            "engine": "QuickJS-NG (qjs-wasi-reactor) in wasmtime, fuel-metered",
            "wasmtime": loaded.wasmtime_version,
            "quickjs": loaded.quickjs_version,
            "limits": {"max_body_bytes": cfg.max_body_bytes, "max_fuel": cfg.max_fuel,
                       "max_memory_bytes": cfg.max_memory_bytes, "max_timeout_s": cfg.max_timeout_s,
                       "max_concurrency": cfg.max_concurrency, "default": cfg.default_limits.model_dump()},
        })

    def do_POST(self) -> None:
        if self.path.split("?")[0] != "/evaluate":
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: POST {self.path[:200]}"})
            self.close_connection = True
            return
        body = self._read_body()
        if body is None:
            return
        try:
            payload = json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
        except (UnicodeDecodeError, ValueError) as exc:
            self._reply(HTTPStatus.BAD_REQUEST, {"error": f"the body is not JSON: {exc}"})
            return
        except RecursionError:
            self._reply(HTTPStatus.BAD_REQUEST, {"error": "the body is nested too deeply"})
            return
        try:
            request = EvaluateRequest.model_validate(payload)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
            self._reply(HTTPStatus.BAD_REQUEST, {"error": f"invalid request: {problems}"})
            return
        if not self.server.evaluations.acquire(timeout=self.server.config.queue_timeout_s):
            self._reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "server busy: every evaluation slot is taken"})
            return
        with self.server._active_lock:
            self.server.active += 1
        try:
            outcome = self.server.sandbox.evaluate(
                request.code, request.parameters, limits=request.limits(self.server.config),
                filename=request.filename, deterministic=request.deterministic,
            )
        except Exception as exc:  # a bug, not the code's fault: say so, keep serving
            self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"internal error: {type(exc).__name__}: {exc}"})
            return
        finally:
            with self.server._active_lock:
                self.server.active -= 1
            self.server.evaluations.release()
        self._reply(HTTPStatus.OK, outcome.model_dump())

    def do_PUT(self) -> None:
        self._method_not_allowed()

    do_DELETE = do_PATCH = do_PUT

    def _method_not_allowed(self) -> None:
        self.close_connection = True
        self._reply(HTTPStatus.METHOD_NOT_ALLOWED, {"error": f"{self.command} is not supported"})

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self._reply(HTTPStatus.LENGTH_REQUIRED, {"error": "send the body with a Content-Length"})
            return None
        raw = self.headers.get("Content-Length")
        try:
            length = int(raw) if raw is not None else -1
        except ValueError:
            length = -2
        if length < 0:
            self.close_connection = True
            status = HTTPStatus.LENGTH_REQUIRED if length == -1 else HTTPStatus.BAD_REQUEST
            self._reply(status, {"error": "a valid Content-Length is required"})
            return None
        if length > self.server.config.max_body_bytes:
            # Do not read it: answer and close, so a huge body costs nothing.
            self.close_connection = True
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                        {"error": f"body of {length:,} bytes exceeds the limit of "
                                  f"{self.server.config.max_body_bytes:,} bytes"})
            return None
        try:
            body = self.rfile.read(length)
        except OSError:
            self.close_connection = True
            return None
        if len(body) != length:
            self.close_connection = True
            self._reply(HTTPStatus.BAD_REQUEST, {"error": "the body is shorter than its Content-Length"})
            return None
        return body

    def _reply(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=True).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client went away


def make_server(host: str = "127.0.0.1", port: int = 3001, config: ServerConfig | None = None,
                sandbox: Sandbox | None = None) -> SandboxServer:
    """Bind (port 0 = any free port); call `.serve_forever()` to run and `.shutdown()` to stop."""
    return SandboxServer((host, port), config or ServerConfig(), sandbox or default_sandbox())
