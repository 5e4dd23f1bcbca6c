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
