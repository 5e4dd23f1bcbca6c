"""The miniature platform checkout in fixtures/miniplatform (own code, KeeperHub's shape), and writable
copies of it for tests that add bad files. Its node_modules come from `make setup`."""

from __future__ import annotations

import shutil
from pathlib import Path

PLATFORM = Path(__file__).resolve().parent / "fixtures" / "miniplatform"


def platform_copy(dest: Path) -> Path:
    """A copy of the fixture (sources only) with its node_modules linked, for tests that edit files."""
    if not (PLATFORM / "node_modules").is_dir():
        raise RuntimeError(f"{PLATFORM}/node_modules is missing: run `make setup`")
    shutil.copytree(PLATFORM, dest, ignore=shutil.ignore_patterns("node_modules"))
    (dest / "node_modules").symlink_to(PLATFORM / "node_modules", target_is_directory=True)
    return dest
