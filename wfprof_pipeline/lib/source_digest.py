"""A content digest of everything that changes what the step code measures, for the source-change sensor.

Tracked: the step files (corpus globs), the step registry, the corpus's `package-lock.json` (an SDK
upgrade changes every profile) and the platform code steps compile in (`lib/`, `shims/`). The digest is a
sha256 over sorted (path, sha256) pairs, so renames and edits change it and file-system order does not.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from wfprof_pipeline.lib.corpus import DEFAULT_GLOBS, EXTENSIONS, discover

EXTRA_FILES = ("registry.toml", "package-lock.json")
EXTRA_DIRS = ("lib", "shims")


def tracked_files(root: Path, globs: tuple[str, ...] | list[str] = DEFAULT_GLOBS) -> list[Path]:
    root = Path(root)
    files = {f.path for f in discover(root, globs)}
    files |= {root / name for name in EXTRA_FILES if (root / name).is_file()}
    for d in EXTRA_DIRS:
        if (root / d).is_dir():
            files |= {p for p in (root / d).rglob("*") if p.is_file() and p.suffix in EXTENSIONS
                      and "node_modules" not in p.parts}
    return sorted(files)


def file_hashes(root: Path, globs: tuple[str, ...] | list[str] = DEFAULT_GLOBS) -> dict[str, str]:
    """Relative path → sha256 (an unreadable file hashes as 'unreadable', so it still registers a change)."""
    root = Path(root).resolve()
    out = {}
    for path in tracked_files(root, globs):
        # Not resolve(): a symlinked lib/ or step file (pnpm workspaces) points outside the root.
        rel = Path(os.path.relpath(path, root)).as_posix()
        try:
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            out[rel] = "unreadable"
    return out


def digest(hashes: dict[str, str]) -> str:
    h = hashlib.sha256()
    for rel in sorted(hashes):
        h.update(f"{rel}\0{hashes[rel]}\n".encode())
    return h.hexdigest()


def changed(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """Paths added, removed or edited between two hash maps, sorted."""
    return sorted(p for p in old.keys() | new.keys() if old.get(p) != new.get(p))


def encode_cursor(hashes: dict[str, str]) -> str:
    return json.dumps({"digest": digest(hashes), "files": hashes}, sort_keys=True, separators=(",", ":"))


def decode_cursor(cursor: str | None) -> dict[str, str] | None:
    """The previous hash map, or None for no (or an unreadable) cursor."""
    if not cursor:
        return None
    try:
        data = json.loads(cursor)
        files = data["files"]
    except (ValueError, KeyError, TypeError):
        return None
    return files if isinstance(files, dict) else None
