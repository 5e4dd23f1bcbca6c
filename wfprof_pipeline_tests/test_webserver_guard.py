"""The Dagster UI refuses a forged Host (DNS rebinding) and a cross-site Origin; GraphQL still works.

One real webserver (`python -m wfprof_pipeline.webserver`, what `wfprof dev` and docker-compose start);
the websocket case on the middleware alone (raw ASGI).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

import httpx
import pytest

from wfprof_pipeline.lib.host_guard import allowed_hosts, guard
from wfprof_pipeline_tests.dagster_env import PROJECT_ROOT, dagster_env
from wfprof_pipeline_tests.test_webserver import free_port, wait_for_location

QUERY = {"query": "{ version }"}


@pytest.fixture(scope="module")
def server(tmp_path_factory, embedded_pg):
    tmp = tmp_path_factory.mktemp("ui")
    port = free_port()
    env = dagster_env(tmp, embedded_pg.url("postgres"), WFPROF_ALLOWED_HOSTS="ui.internal, proxy.example")
    proc = subprocess.Popen(
        [sys.executable, "-m", "wfprof_pipeline.webserver", "-w", str(PROJECT_ROOT / "workspace.yaml"),
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        wait_for_location(f"http://127.0.0.1:{port}/graphql", proc)
        yield f"http://127.0.0.1:{port}", port
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_good_hosts_get_graphql(server) -> None:
    base, port = server
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "ui.internal", "proxy.example:443"):
        r = httpx.post(f"{base}/graphql", json=QUERY, headers={"Host": host}, timeout=30)
        assert r.status_code == 200 and r.json()["data"]["version"], (host, r.text[:200])
    same_site = httpx.post(f"{base}/graphql", json=QUERY, headers={"Origin": f"http://localhost:{port}"}, timeout=30)
    assert same_site.status_code == 200


@pytest.mark.parametrize("host", ["evil.example", f"attacker.test:{3000}", "127.0.0.1.nip.io"])
def test_a_forged_host_is_refused(server, host) -> None:
    base, _ = server
    for method in ("GET", "POST"):
        r = httpx.request(method, f"{base}/graphql", json=QUERY, headers={"Host": host}, timeout=30)
        assert r.status_code == 400 and "Invalid host header" in r.text


def test_a_cross_site_post_is_refused(server) -> None:
    base, _ = server
    mutation = {"query": "mutation { launchRun(executionParams: {}) { __typename } }"}
    for origin in ("http://evil.example", "null", "http://127.0.0.1.evil.example:3000"):
        r = httpx.post(f"{base}/graphql", json=mutation, headers={"Origin": origin}, timeout=30)
        assert r.status_code == 403 and "cross-origin" in r.text, origin


def test_allowed_hosts_are_the_bind_address_loopback_and_the_setting() -> None:
    assert allowed_hosts("0.0.0.0") == ["127.0.0.1", "::1", "localhost"]
    assert "10.0.0.5" in allowed_hosts("10.0.0.5") and "ui.internal" in allowed_hosts("::", [" ui.internal ", ""])


def _websocket(app, origin: str, host: str = "localhost:3000") -> list[dict]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "websocket.connect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "headers": [(b"host", host.encode()), (b"origin", origin.encode())]}
    asyncio.run(app(scope, receive, send))
    return sent


def test_a_cross_site_websocket_is_closed() -> None:
    async def inner(scope, receive, send) -> None:
        await send({"type": "websocket.accept"})

    app = guard(inner, allowed_hosts("127.0.0.1"))
    assert _websocket(app, "http://localhost:3000") == [{"type": "websocket.accept"}]
    assert _websocket(app, "http://evil.example") == [{"type": "websocket.close", "code": 1008}]
    assert _websocket(app, "http://[::1]:3000", host="[::1]:3000") == [{"type": "websocket.accept"}]
