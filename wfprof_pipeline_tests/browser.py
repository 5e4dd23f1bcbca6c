"""Headless Chromium for tests: run a page, let it settle, read back the DOM (no driver packages needed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium() -> str:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("headless Chromium is required for this test: install Debian's package (apt-get install chromium); "
                "`make test` installs it when apt-get is available")


def dump_dom(url: str, *, budget_ms: int = 5_000, timeout_s: float = 90, profile_dir: Path | None = None) -> str:
    """The page's DOM after load plus `budget_ms` of virtual time (scripts have run, images decoded)."""
    args = [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--disable-extensions", f"--virtual-time-budget={budget_ms}", "--dump-dom", url]
    if profile_dir is not None:
        args.insert(1, f"--user-data-dir={profile_dir}")
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s)
    if out.returncode != 0:
        pytest.fail(f"chromium exited with {out.returncode}: {out.stderr[-500:]}")
    return out.stdout


class Page:
    """A real headless Chromium page driven over the DevTools protocol (for single-page apps that render
    after their own network requests and web-worker layout, which `--dump-dom` cannot wait for)."""

    def __init__(self, profile_dir: Path, *, size: tuple[int, int] = (1600, 1200)) -> None:
        import json
        import time

        import httpx
        from websockets.sync.client import connect

        profile_dir.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(
            [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--disable-extensions", "--remote-debugging-port=0",
             f"--user-data-dir={profile_dir}", f"--window-size={size[0]},{size[1]}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        port_file = profile_dir / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or self._proc.poll() is not None:
                self.close()
                pytest.fail("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(t for t in targets if t["type"] == "page")
        self._conn = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        self._ws = self._conn.__enter__()  # closed in close()
        self._id = 0
        self._json = json

    def _call(self, method: str, **params: object) -> dict:
        self._id += 1
        self._ws.send(self._json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = self._json.loads(self._ws.recv(timeout=60))
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def goto(self, url: str) -> None:
        self._call("Page.navigate", url=url)

    def evaluate(self, expression: str) -> object:
        result = self._call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(str(result["exceptionDetails"])[:500])
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 60) -> object:
        """Poll `expression` until it is truthy; returns its value (fails the test on timeout)."""
        import time

        deadline = time.monotonic() + timeout_s
        value = None
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except RuntimeError:
                value = None
            if value:
                return value
            time.sleep(0.5)
        pytest.fail(f"timed out after {timeout_s:.0f} s waiting for: {expression[:200]} (last value {value!r})")

    def screenshot(self, path: Path) -> None:
        import base64

        path.write_bytes(base64.b64decode(self._call("Page.captureScreenshot", format="png")["data"]))

    def close(self) -> None:
        import contextlib

        with contextlib.suppress(Exception):
            self._conn.__exit__(None, None, None)
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
