"""The seed's secure-js-sandbox HTTP API over the embedded sandbox: starlette on uvicorn.

POST /evaluate {code, parameters, filename[, fuel, memory_bytes, timeout_ms, deterministic]}
  → 200 {success, result, error, error_kind, stdout, stderr, fuel_consumed, memory_used, duration_ms}
GET /health → 200 {status, wasmtime, quickjs, limits}
OPTIONS → 204 with `Allow`

Whatever the code does, the answer is a 200 with a result. Bad requests get 400 (not JSON, wrong fields,
nested deeper than MAX_JSON_DEPTH), 411 (no Content-Length), 413 (body over the limit), 408 (body not
received within `body_timeout_s`), 404/405; a full server answers 503. Requested limits are capped by
the server's maxima. Every answer is JSON.

Slow clients are kept apart from evaluations: a connection must deliver its request headers within
`header_timeout_s` and its body within `body_timeout_s`, and when `max_connections` are open the oldest
connection still waiting for headers is dropped to make room (64 slowloris sockets lock no one out).
Evaluation slots (`max_concurrency`) are taken only once a whole, valid request is in.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import socket
import threading
import time
from typing import Any

import h11
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from wfprof_pipeline.lib.fuel.sandbox import MIN_MEMORY_BYTES, Limits, Sandbox, default_sandbox

# Deeper JSON is refused with a 400: Python's and QuickJS's recursive code would hit their stack limits.
MAX_JSON_DEPTH = 256
DRAIN_MAX_BYTES = 16 << 20  # an oversized body up to this is read and dropped before the 413


class ServerConfig(BaseModel):
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    max_fuel: int = Field(default=20_000_000_000, ge=1)
    max_memory_bytes: int = Field(default=256 << 20, ge=MIN_MEMORY_BYTES)
    max_timeout_s: float = Field(default=30.0, gt=0, le=600)
    default_limits: Limits = Limits()
    max_concurrency: int = Field(default_factory=lambda: os.cpu_count() or 2, ge=1)
    max_connections: int = Field(default=256, ge=1)
    queue_timeout_s: float = Field(default=30.0, ge=0)
    idle_timeout_s: float = Field(default=15.0, gt=0)  # keep-alive: a connection with no request in flight
    header_timeout_s: float = Field(default=10.0, gt=0)  # request line + headers, once the connection is open
    body_timeout_s: float = Field(default=15.0, gt=0)  # the whole body, once the headers are in
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


def json_depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item if isinstance(child, (dict, list)))
    return deepest


class _Reply(Exception):
    """Answer now with `status` and a JSON error; `close` drops the connection after it."""

    def __init__(self, status: int, error: str, *, close: bool = False) -> None:
        super().__init__(error)
        self.status, self.error, self.close = status, error, close


def _json(status: int, payload: dict[str, Any], *, close: bool = False,
          headers: dict[str, str] | None = None) -> JSONResponse:
    headers = dict(headers or {})
    if close:
        headers["Connection"] = "close"
    return JSONResponse(payload, status_code=status, headers=headers)


class SandboxApp:
    """The ASGI application and the state it shares between requests (evaluation slots, counters)."""

    def __init__(self, config: ServerConfig, sandbox: Sandbox) -> None:
        self.config = config
        self.sandbox = sandbox
        self.active = 0  # evaluations running now (read by tests and /health)
        self._slots: asyncio.Semaphore | None = None  # created on the server's loop
        self.app = Starlette(
            routes=[
                Route("/health", self.health, methods=["GET", "HEAD", "OPTIONS"]),
                Route("/evaluate", self.evaluate, methods=["POST", "OPTIONS"]),
            ],
            exception_handlers={HTTPException: self._http_error, Exception: self._internal_error},
        )

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            error = f"{request.method} is not supported on {request.url.path[:200]}"
        elif exc.status_code == 404:
            error = f"no such endpoint: {request.method} {request.url.path[:200]}"
        else:
            error = exc.detail
        return _json(exc.status_code, {"error": error}, close=exc.status_code == 405, headers=exc.headers)

    async def _internal_error(self, request: Request, exc: Exception) -> Response:
        # A bug, not the code's fault: say so, keep serving.
        return _json(500, {"error": f"internal error: {type(exc).__name__}: {exc}"})

    async def health(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": "GET, HEAD, OPTIONS"})
        loaded = self.sandbox.loaded
        cfg = self.config
        return _json(200, {
            "status": "ok",
            "active_evaluations": self.active,
            "engine": "QuickJS-NG (qjs-wasi-reactor) in wasmtime, fuel-metered",
            "wasmtime": loaded.wasmtime_version,
            "quickjs": loaded.quickjs_version,
            "limits": {"max_body_bytes": cfg.max_body_bytes, "max_fuel": cfg.max_fuel,
                       "max_memory_bytes": cfg.max_memory_bytes, "max_timeout_s": cfg.max_timeout_s,
                       "max_concurrency": cfg.max_concurrency, "default": cfg.default_limits.model_dump()},
        })

    async def evaluate(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": "POST, OPTIONS"})
        try:
            body = await self._read_body(request)
            evaluation = self._parse(body)
        except _Reply as reply:
            return _json(reply.status, {"error": reply.error}, close=reply.close)
        if not await self._acquire_slot():
            return _json(503, {"error": "server busy: every evaluation slot is taken"})
        self.active += 1
        try:
            import anyio.to_thread

            outcome = await anyio.to_thread.run_sync(self._run, evaluation)
        finally:
            self.active -= 1
            assert self._slots is not None
            self._slots.release()
        return _json(200, outcome.model_dump())

    def _run(self, request: EvaluateRequest):  # noqa: ANN202 - EvaluationResult
        return self.sandbox.evaluate(
            request.code, request.parameters, limits=request.limits(self.config),
            filename=request.filename, deterministic=request.deterministic,
        )

    async def _acquire_slot(self) -> bool:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.config.max_concurrency)
        if not self._slots.locked():
            await self._slots.acquire()
            return True
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout=self.config.queue_timeout_s)
        except TimeoutError:
            return False
        return True

    async def _read_body(self, request: Request) -> bytes:
        if request.headers.get("transfer-encoding"):
            raise _Reply(411, "send the body with a Content-Length", close=True)
        raw = request.headers.get("content-length")
        if raw is None:
            raise _Reply(411, "a valid Content-Length is required", close=True)
        try:
            length = int(raw)
        except ValueError:
            raise _Reply(400, "a valid Content-Length is required", close=True) from None
        limit = self.config.max_body_bytes
        if length > limit:
            # A client still sending when the server closes sees a reset instead of the 413: a body up to
            # DRAIN_MAX_BYTES is read and dropped first (lingering close); a larger one is not read at all.
            if length <= DRAIN_MAX_BYTES:
                async def drain() -> None:
                    async for _ in request.stream():
                        pass

                with contextlib.suppress(TimeoutError, ClientDisconnect):
                    await asyncio.wait_for(drain(), timeout=self.config.body_timeout_s)
            raise _Reply(413, f"body of {length:,} bytes exceeds the limit of {limit:,} bytes", close=True)
        chunks: list[bytes] = []

        async def receive_all() -> None:
            async for chunk in request.stream():
                chunks.append(chunk)

        try:
            await asyncio.wait_for(receive_all(), timeout=self.config.body_timeout_s)
        except TimeoutError:
            raise _Reply(408, f"the body did not arrive within {self.config.body_timeout_s:g} s",
                         close=True) from None
        body = b"".join(chunks)
        if len(body) != length:
            raise _Reply(400, "the body is shorter than its Content-Length", close=True)
        return body

    @staticmethod
    def _parse(body: bytes) -> EvaluateRequest:
        try:
            payload = json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
        except RecursionError:
            raise _Reply(400, "the body is nested too deeply") from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise _Reply(400, f"the body is not JSON: {exc}") from None
        if json_depth(payload) > MAX_JSON_DEPTH:
            raise _Reply(400, f"the body is nested too deeply (more than {MAX_JSON_DEPTH} levels)")
        try:
            return EvaluateRequest.model_validate(payload)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
            raise _Reply(400, f"invalid request: {problems}") from None


class _GuardedH11(H11Protocol):
    """uvicorn's h11 protocol with a deadline for request headers and a connection cap that evicts.

    uvicorn times out only idle keep-alive connections, and its `limit_concurrency` answers 503 once that
    many sockets are open, whatever they do; a client trickling headers would hold its socket forever.
    """

    config_ref: ServerConfig  # set on the subclass made per server

    def connection_made(self, transport) -> None:  # noqa: ANN001 - asyncio.Transport
        super().connection_made(transport)
        self.opened_at = time.monotonic()
        self._headers_deadline: asyncio.TimerHandle | None = None
        self._arm(self.config_ref.header_timeout_s)
        if len(self.connections) > self.config_ref.max_connections and not self._evict_one():
            body = b'{"error":"server busy: too many connections"}'
            transport.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            transport.close()

    def _waiting_for_headers(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _evict_one(self) -> bool:
        """Close the oldest other connection that has no request in flight (a slow or idle client)."""
        candidates = [c for c in self.connections
                      if c is not self and isinstance(c, _GuardedH11) and c._waiting_for_headers()
                      and not c.transport.is_closing()]
        if not candidates:
            return False
        min(candidates, key=lambda c: c.opened_at).transport.close()
        return True

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._headers_deadline = self.loop.call_later(seconds, self._headers_timed_out)

    def _disarm(self) -> None:
        if self._headers_deadline is not None:
            self._headers_deadline.cancel()
            self._headers_deadline = None

    def _headers_timed_out(self) -> None:
        self._headers_deadline = None
        if self._waiting_for_headers() and not self.transport.is_closing():
            if self.conn.their_state is h11.SEND_BODY or self.conn.our_state is not h11.IDLE:
                self.transport.close()
                return
            body = b'{"error":"request headers not received in time"}'
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
                                 b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            self.transport.close()

    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not before and self.cycle is not None:  # a new request's headers are in
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            # The next request's headers must come within the idle timeout (uvicorn's keep-alive timer
            # stops as soon as any byte arrives, so a trickle would otherwise never time out).
            self._arm(self.config_ref.idle_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


class SandboxServer:
    """A bound server: `serve_forever()` runs it (blocking), `shutdown()` stops it from another thread."""

    def __init__(self, sock: socket.socket, config: ServerConfig, sandbox: Sandbox) -> None:
        import logging

        import uvicorn

        self.config = config
        self.sandbox = sandbox
        self.socket = sock
        self.asgi = SandboxApp(config, sandbox)
        protocol = type("GuardedH11", (_GuardedH11,), {"config_ref": config})
        self._uvicorn = uvicorn.Server(uvicorn.Config(
            self.asgi.app, http=protocol, loop="asyncio", lifespan="off", ws="none",
            timeout_keep_alive=max(1, math.ceil(config.idle_timeout_s)), timeout_graceful_shutdown=5,
            access_log=config.verbose, log_level="info" if config.verbose else "warning",
            server_header=False, date_header=False,
        ))
        if not config.verbose:
            logging.getLogger("uvicorn.error").setLevel(logging.ERROR)
        self._stopped = threading.Event()

    @property
    def server_address(self) -> tuple[str, int]:
        return self.socket.getsockname()[:2]

    @property
    def url(self) -> str:
        host, port = self.server_address
        return f"http://{host}:{port}"

    @property
    def active(self) -> int:
        return self.asgi.active

    def serve_forever(self) -> None:
        self._stopped.clear()
        try:
            self._uvicorn.run(sockets=[self.socket])
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        self._uvicorn.should_exit = True
        self._stopped.wait(timeout=15)

    def server_close(self) -> None:
        self.socket.close()


def make_server(host: str = "127.0.0.1", port: int = 3001, config: ServerConfig | None = None,
                sandbox: Sandbox | None = None) -> SandboxServer:
    """Bind (port 0 = any free port); call `.serve_forever()` to run and `.shutdown()` to stop."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return SandboxServer(sock, config or ServerConfig(), sandbox or default_sandbox())
