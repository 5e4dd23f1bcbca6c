"""The HTTP API (`wfprof sandbox serve`) and its client: real server threads, real sockets on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfprof_pipeline.lib.fuel.client import (
    InvalidSandboxUrl,
    SandboxClient,
    SandboxRequestFailed,
    SandboxUnreachable,
)
from wfprof_pipeline.lib.fuel.protocol import open_evaluator, sandbox_info
from wfprof_pipeline.lib.fuel.sandbox import ErrorKind, Limits, default_sandbox
from wfprof_pipeline.lib.fuel.server import SandboxServer, ServerConfig, make_server

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MAX_FUEL = 200_000_000
CONFIG = ServerConfig(
    max_body_bytes=256 << 10,
    max_fuel=MAX_FUEL,
    max_memory_bytes=32 << 20,
    max_timeout_s=2.0,
    default_limits=Limits(fuel=100_000_000, memory_bytes=16 << 20, timeout_s=1.0),
    max_concurrency=2,
    queue_timeout_s=20,
)


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    srv = make_server("127.0.0.1", 0, CONFIG)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def http(server: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def test_health_reports_engine_versions_and_limits(http: httpx.Client) -> None:
    r = http.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["wasmtime"] and body["quickjs"]
    assert body["limits"]["max_fuel"] == MAX_FUEL


def test_evaluate_speaks_the_seed_protocol(http: httpx.Client) -> None:
    r = http.post("/evaluate", json={"code": "function fn(p) { print('hi'); return p.a * 2; }",
                                     "parameters": {"a": 21}, "filename": "double.js"})
    assert r.status_code == 200
    body = r.json()
    for key in ("success", "result", "error", "stdout", "stderr", "fuel_consumed", "memory_used"):
        assert key in body
    assert body["success"] is True and body["result"] == 42 and body["stdout"] == "hi\n"


def test_embedded_and_http_give_identical_fuel(server: SandboxServer) -> None:
    code = "function fn(p) { let s = 0; for (let i = 0; i < p.n; i++) s += i * 2; return s; }"
    limits = Limits(fuel=50_000_000, memory_bytes=16 << 20, timeout_s=2)
    embedded = default_sandbox().evaluate(code, {"n": 3000}, limits=limits)
    with SandboxClient(server.url) as client:
        remote = client.evaluate(code, {"n": 3000}, limits=limits)
    assert remote.success and remote.result == embedded.result
    assert remote.fuel_consumed == embedded.fuel_consumed


def test_requested_limits_are_capped_by_the_server(http: httpx.Client) -> None:
    r = http.post("/evaluate", json={"code": "function fn() { while (true) {} }", "parameters": {},
                                     "fuel": 10**15, "timeout_ms": 10**9})
    body = r.json()
    assert r.status_code == 200 and body["error_kind"] == "out_of_fuel"
    assert body["fuel_consumed"] == MAX_FUEL


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("function fn() { while (true) {} }", "out_of_fuel"),
        ("function fn() { const a = []; while (true) a.push(new Float64Array(1e5)); }", "out_of_memory"),
        ("function fn( {", "syntax_error"),
        ('import x from "y"; function fn() {}', "syntax_error"),
        ("function fn() { throw 'text'; }", "runtime_error"),
        ("function fn() { return 1n; }", "invalid_result"),
        ("var x = 1;", "missing_fn"),
    ],
)
def test_hostile_code_over_http_is_a_200_with_a_clear_result(http: httpx.Client, code: str, kind: str) -> None:
    payload = {"code": code, "parameters": {}, "fuel": MAX_FUEL if kind == "out_of_memory" else None}
    r = http.post("/evaluate", json=payload)
    assert r.status_code == 200
    assert r.json()["success"] is False and r.json()["error_kind"] == kind, r.json()["error"]


def test_wall_deadline_over_http(http: httpx.Client) -> None:
    r = http.post("/evaluate", json={"code": "function fn() { const t = Date.now(); while (Date.now() < t + 1e6) {} }",
                                     "deterministic": False, "timeout_ms": 300})
    assert r.status_code == 200 and r.json()["error_kind"] in ("timeout", "out_of_fuel")


def _read_until_closed(s: socket.socket) -> str:
    chunks = []
    while chunk := s.recv(4096):
        chunks.append(chunk)
    return b"".join(chunks).decode()


def test_oversized_body_is_413_without_reading_it(server: SandboxServer) -> None:
    with socket.create_connection(server.server_address[:2], timeout=10) as s:
        s.sendall(b"POST /evaluate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000000000\r\n\r\n{\"code\":")
        reply = _read_until_closed(s)
    assert reply.startswith("HTTP/1.1 413")
    assert "exceeds the limit" in reply


def test_oversized_body_via_client_library(http: httpx.Client) -> None:
    r = http.post("/evaluate", json={"code": "x" * (CONFIG.max_body_bytes + 1)})
    assert r.status_code == 413


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"not json", "not JSON"),
        (b'{"code": "function fn(){}", "parameters": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "too deeply"),
        (b'{"code": "function fn(){}", "parameters": NaN}', "NaN is not valid JSON"),
        (b'{"code": "function fn(){}", "parameters": {"x": -1e400}}', "out of range"),
        (b"\xff\xfe\x00garbage", "not JSON"),
        (b"[1, 2, 3]", "invalid request"),
        (b'{"parameters": {}}', "code"),
        (b'{"code": 42}', "code"),
        (b'{"code": "function fn(){}", "fuel": -5}', "fuel"),
        (b'{"code": "function fn(){}", "memory_bytes": 1}', "memory_bytes"),
        (b'{"code": "function fn(){}", "filename": "' + b"f" * 300 + b'"}', "filename"),
    ],
)
def test_bad_bodies_are_400(http: httpx.Client, body: bytes, fragment: str) -> None:
    r = http.post("/evaluate", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert fragment in r.json()["error"]


def test_missing_content_length_is_411(server: SandboxServer) -> None:
    with socket.create_connection(server.server_address[:2], timeout=10) as s:
        s.sendall(b"POST /evaluate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        assert _read_until_closed(s).startswith("HTTP/1.1 411")


def test_unknown_paths_and_methods(http: httpx.Client) -> None:
    assert http.get("/nope").status_code == 404
    assert http.post("/nope", json={}).status_code == 404
    assert http.put("/evaluate", json={}).status_code == 405
    assert http.delete("/evaluate").status_code == 405


def test_many_parallel_requests_all_get_answers(server: SandboxServer) -> None:
    code = "function fn(p) { let s = 0; for (let i = 0; i < 20000; i++) s += i; return [p.k, s]; }"

    def call(k: int) -> tuple[int, object, int]:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            r = c.post("/evaluate", json={"code": code, "parameters": {"k": k}})
            return r.status_code, r.json()["result"], r.json()["fuel_consumed"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(call, range(32)))
    assert [a[0] for a in answers] == [200] * 32
    assert [a[1][0] for a in answers] == list(range(32))
    # Concurrency does not change fuel: each answer matches a sequential embedded run of the same input
    # (fuel depends on the input itself, e.g. how many digits k has).
    limits = CONFIG.default_limits
    sequential = [default_sandbox().evaluate(code, {"k": k}, limits=limits).fuel_consumed for k in range(32)]
    assert [a[2] for a in answers] == sequential


def test_server_stays_up_after_hostile_traffic(http: httpx.Client) -> None:
    r = http.post("/evaluate", json={"code": "function fn() { return 'still here'; }"})
    assert r.json()["result"] == "still here"


# --- property-based: arbitrary code and bodies never crash the server --------------------------------

JS_FRAGMENTS = st.sampled_from([
    "function fn(p) {", "}", "return", " p", ".x", "(", ")", "while (true) {}", "throw ", "null", "1n",
    "new Array(1e6)", "import", "'", '"', "`", "${", "/*", "//", "\n", "async ", "=>", "fn", ";", "\\",
    "JSON.stringify(", "Symbol()", "print(", "\u0000", "\ud800", "é", "{", "[", "]", "this", "eval(",
])
CODE = st.one_of(st.text(max_size=200), st.lists(JS_FRAGMENTS, max_size=25).map("".join))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(code=CODE, parameters=JSON_VALUES, fuel=st.none() | st.integers(min_value=-5, max_value=10**13))
def test_property_arbitrary_code_never_500s_or_hangs(http: httpx.Client, code: str, parameters: object,
                                                     fuel: int | None) -> None:
    started = time.monotonic()
    body = json.dumps({"code": code, "parameters": parameters, "fuel": fuel}).encode()
    r = http.post("/evaluate", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code in (200, 400, 413)
    if r.status_code == 200:
        answer = r.json()
        assert isinstance(answer["success"], bool)
        assert answer["success"] or answer["error"]
        if not answer["success"]:
            assert answer["error_kind"] in {k.value for k in ErrorKind}
    # the server's wall cap is 2 s; queueing on 2 slots under a noisy machine gets generous slack
    assert time.monotonic() - started < 60


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.binary(max_size=300), JSON_VALUES.map(lambda v: json.dumps(v).encode()),
                      st.dictionaries(st.sampled_from(["code", "parameters", "filename", "fuel", "memory_bytes",
                                                       "timeout_ms", "deterministic"]), JSON_VALUES)
                      .map(lambda d: json.dumps(d).encode())))
def test_property_arbitrary_bodies_get_4xx_or_a_result(http: httpx.Client, body: bytes) -> None:
    r = http.post("/evaluate", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code in (200, 400)
    assert isinstance(r.json(), dict)


# --- the client ------------------------------------------------------------------------------------------

def test_client_reports_an_unreachable_sandbox_clearly() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens here
    client = SandboxClient(f"http://127.0.0.1:{port}", connect_timeout_s=2)
    with pytest.raises(SandboxUnreachable, match="unreachable"):
        client.evaluate("function fn() {}")


def test_a_malformed_sandbox_url_is_a_clear_error() -> None:
    with pytest.raises(InvalidSandboxUrl, match="not valid"):
        SandboxClient("http://[::1")


def test_client_raises_on_http_errors(server: SandboxServer) -> None:
    with SandboxClient(server.url) as client, pytest.raises(SandboxRequestFailed, match="413"):
        client.evaluate("x" * (CONFIG.max_body_bytes + 10))


def test_open_evaluator_picks_http_when_a_url_is_set(server: SandboxServer) -> None:
    evaluator = open_evaluator(server.url)
    info = sandbox_info(evaluator)
    assert isinstance(evaluator, SandboxClient) and info.label == server.url and info.quickjs_version != "unknown"
    embedded = sandbox_info(open_evaluator(None))
    assert embedded.label == "embedded" and embedded.quickjs_version == info.quickjs_version


# --- the CLI: a real `wfprof sandbox serve` process, used through SANDBOX_URL ------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_wfprof_sandbox_serve_and_calibrate_through_sandbox_url(tmp_path: Path) -> None:
    port = _free_port()
    wfprof = str(Path(sys.executable).parent / "wfprof")
    proc = subprocess.Popen([wfprof, "sandbox", "serve", "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT)
    try:
        assert "listening on http://127.0.0.1:" in proc.stdout.readline()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "SANDBOX_URL": url}
        out = tmp_path / "calibration.json"
        done = subprocess.run([wfprof, "calibrate", "--json", f"--output={out}", "--repeats", "1"], env=env,
                              capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
        assert done.returncode == 0, done.stderr
        remote = json.loads(done.stdout)
        assert remote["sandboxUrl"] == url and remote["successCount"] == remote["testCount"] >= 20
        assert json.loads(out.read_text()) == remote
        local = subprocess.run([wfprof, "calibrate", "--json", "--repeats", "1"], capture_output=True, text=True,
                               timeout=120, cwd=PROJECT_ROOT, env={k: v for k, v in os.environ.items()
                                                                   if k != "SANDBOX_URL"})
        embedded = json.loads(local.stdout)
        assert embedded["sandboxUrl"] == "embedded"
        # identical fuel, embedded vs HTTP, for every measurement
        assert [m["fuelConsumed"] for m in embedded["measurements"]] == [
            m["fuelConsumed"] for m in remote["measurements"]]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_calibrate_against_a_dead_sandbox_url_is_a_one_line_error() -> None:
    wfprof = str(Path(sys.executable).parent / "wfprof")
    done = subprocess.run([wfprof, "calibrate"], env={**os.environ, "SANDBOX_URL": f"http://127.0.0.1:{_free_port()}"},
                          capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT)
    assert done.returncode == 2
    assert done.stderr.startswith("wfprof: error: sandbox at http://127.0.0.1:")
    assert "Traceback" not in done.stderr


def test_sandbox_serve_on_a_busy_port_is_a_one_line_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        wfprof = str(Path(sys.executable).parent / "wfprof")
        done = subprocess.run([wfprof, "sandbox", "serve", "--port", str(port)], capture_output=True, text=True,
                              timeout=60, cwd=PROJECT_ROOT)
    assert done.returncode == 2 and "cannot listen on 127.0.0.1" in done.stderr
    bad = subprocess.run([wfprof, "sandbox", "serve", "--port", "70000"], capture_output=True, text=True,
                         timeout=60, cwd=PROJECT_ROOT)
    assert bad.returncode == 2 and "not in 0-65535" in bad.stderr and "Traceback" not in bad.stderr


def test_a_full_server_answers_503_instead_of_queueing_forever() -> None:
    config = CONFIG.model_copy(update={"max_concurrency": 1, "queue_timeout_s": 0, "max_fuel": 10**13})
    srv = make_server("127.0.0.1", 0, config)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    slow = {"code": "function fn() { for (;;) {} }", "fuel": 10**13, "timeout_ms": 1500}  # ends by wall clock
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            first = pool.submit(lambda: httpx.post(f"{srv.url}/evaluate", json=slow, timeout=30))
            deadline = time.monotonic() + 30
            while srv.active == 0 and time.monotonic() < deadline and not first.done():
                time.sleep(0.01)
            second = httpx.post(f"{srv.url}/evaluate", json={"code": "function fn() { return 1; }"}, timeout=30)
            assert second.status_code == 503 and "busy" in second.json()["error"]
            assert first.result().json()["error_kind"] == "timeout"
        assert httpx.post(f"{srv.url}/evaluate", json={"code": "function fn() { return 1; }"}).json()["result"] == 1
    finally:
        srv.shutdown()
        srv.server_close()


# --- slow clients, deep JSON, the wall cap, OPTIONS (issue 16, item 8) ---------------------------------

@pytest.fixture
def strict_server() -> Iterator[SandboxServer]:
    """Few connections, short read deadlines: what slow clients meet."""
    config = CONFIG.model_copy(update={"max_connections": 16, "header_timeout_s": 1.0, "body_timeout_s": 1.0,
                                       "idle_timeout_s": 2.0})
    srv = make_server("127.0.0.1", 0, config)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_64_slowloris_sockets_lock_no_client_out(strict_server: SandboxServer) -> None:
    sockets = []
    try:
        for _ in range(64):
            s = socket.create_connection(strict_server.server_address, timeout=10)
            s.sendall(b"POST /evaluate HTTP/1.1\r\nHost: x\r\n")  # and never the rest
            sockets.append(s)
        started = time.monotonic()
        r = httpx.post(f"{strict_server.url}/evaluate", json={"code": "function fn() { return 7; }"}, timeout=10)
        assert r.status_code == 200 and r.json()["result"] == 7
        assert time.monotonic() - started < 3
    finally:
        for s in sockets:
            s.close()


def test_headers_and_body_have_read_deadlines(strict_server: SandboxServer) -> None:
    with socket.create_connection(strict_server.server_address, timeout=10) as s:
        s.sendall(b"POST /evaluate HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        reply = _read_until_closed(s)
        assert reply.startswith("HTTP/1.1 408") and time.monotonic() - started < 5
    with socket.create_connection(strict_server.server_address, timeout=10) as s:
        s.sendall(b"POST /evaluate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{\"code\":")
        started = time.monotonic()
        reply = _read_until_closed(s)
        assert reply.startswith("HTTP/1.1 408") and "did not arrive" in reply and time.monotonic() - started < 5
    # A trickle on a kept-alive connection is cut too.
    with socket.create_connection(strict_server.server_address, timeout=10) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(65536).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        for byte in b"POST /evaluate HTTP/1.1\r\n":
            try:
                s.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.2)
            if time.monotonic() - started > 8:
                break
        assert time.monotonic() - started < 8


def test_parameters_nested_984_deep_are_a_400(http: httpx.Client) -> None:
    body = b'{"code": "function fn(p){ return 1; }", "parameters": ' + b"[" * 984 + b"]" * 984 + b"}"
    r = http.post("/evaluate", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "nested too deeply" in r.json()["error"]
    ok = http.post("/evaluate", json={"code": "function fn(p){ return 1; }", "parameters": [[[[1]]]]})
    assert ok.status_code == 200 and ok.json()["result"] == 1


def test_options_is_a_json_free_204_with_allow_and_nothing_is_html(http: httpx.Client) -> None:
    r = http.options("/evaluate")
    assert r.status_code == 204 and "POST" in r.headers["allow"]
    assert http.options("/health").status_code == 204
    for response in (http.get("/nope"), http.put("/evaluate", json={}), http.patch("/evaluate")):
        assert response.headers["content-type"].startswith("application/json")
        assert "<html" not in response.text.lower()


def test_the_wall_clock_cap_does_not_overshoot_under_load() -> None:
    config = CONFIG.model_copy(update={"max_timeout_s": 10.0, "max_fuel": 10**14})
    srv = make_server("127.0.0.1", 0, config)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    spin = {"code": "function fn() { for (;;) {} }", "fuel": 10**14, "timeout_ms": 3000}
    try:
        httpx.post(f"{srv.url}/evaluate", json={"code": "function fn() { return 1; }"}, timeout=60)  # warm
        def timed(_: int) -> tuple[float, dict]:
            started = time.monotonic()
            r = httpx.post(f"{srv.url}/evaluate", json=spin, timeout=60)
            return time.monotonic() - started, r.json()

        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(timed, range(2)))
        for elapsed, body in results:
            assert body["error_kind"] == "timeout"
            # the deadline is counted in 5 ms epoch ticks: it may end a tick early, never ~15 % late (34.6 s for 30 s)
            assert 2.95 <= body["duration_ms"] / 1000 < 3.15, body["duration_ms"]
            assert elapsed < 4.5, elapsed  # plus HTTP, with the client, server and burners sharing 2 cores
    finally:
        for b in burners:
            b.kill()
        srv.shutdown()
        srv.server_close()
