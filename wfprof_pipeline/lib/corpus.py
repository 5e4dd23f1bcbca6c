"""Finding step files in a KeeperHub-layout checkout (`plugins/<plugin>/steps/<step>.ts`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from wfprof_pipeline.lib.errors import WfprofError

DEFAULT_GLOBS: tuple[str, ...] = ("plugins/*/steps/*", "keeperhub/plugins/*/steps/*")
EXTENSIONS: dict[str, str] = {
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
}
_EXCLUDED_MARKERS = (".test.", ".spec.")


class CorpusError(WfprofError, ValueError):
    """The step corpus root is missing or holds no step files."""


@dataclass(frozen=True)
class StepFile:
    path: Path  # absolute
    rel: str  # relative to the corpus root, '/'-separated
    plugin: str
    step: str
    language: str


def is_step_file(path: Path) -> bool:
    name = path.name
    if name.endswith((".d.ts", ".d.mts", ".d.cts")) or any(m in name for m in _EXCLUDED_MARKERS):
        return False
    return path.suffix in EXTENSIONS


def discover(root: Path | str, globs: tuple[str, ...] | list[str] = DEFAULT_GLOBS) -> list[StepFile]:
    """Step files under `root` matching `globs`, sorted by relative path.

    Plugin = the folder above `steps`, step = the file name without its extension. Globs never
    recurse (`**` is not used by default), so symlink loops in a checkout cannot trap discovery.
    """
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"step corpus root {root} does not exist or is not a directory (set WFPROF_STEPS_ROOT)")
    root = root.resolve()
    found: dict[str, StepFile] = {}
    for pattern in globs:
        if not pattern or Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            raise CorpusError(f"step file glob {pattern!r} must be a non-empty pattern relative to the corpus root")
        for path in root.glob(pattern):
            if not path.is_file() or not is_step_file(path):
                continue
            rel = path.relative_to(root).as_posix()
            found[rel] = StepFile(
                path=path,
                rel=rel,
                plugin=path.parent.parent.name,
                step=path.name[: -len(path.suffix)],
                language=EXTENSIONS[path.suffix],
            )
    return [found[k] for k in sorted(found)]


def require_steps(root: Path | str, globs: tuple[str, ...] | list[str] = DEFAULT_GLOBS) -> list[StepFile]:
    """discover(), but an empty corpus is an error naming where we looked."""
    files = discover(root, globs)
    if not files:
        raise CorpusError(f"no step files under {root} (looked for {', '.join(globs)})")
    return files


@dataclass(frozen=True)
class SourceRow:
    plugin: str
    step: str
    path: str
    language: str
    bytes: int | None
    lines: int | None
    sha256: str | None
    error: str | None


def source_row(f: StepFile) -> SourceRow:
    """One `step_sources` row; an unreadable file yields a row with `error` instead of failing the run."""
    try:
        data = f.path.read_bytes()
    except OSError as exc:
        return SourceRow(f.plugin, f.step, f.rel, f.language, None, None, None, f"unreadable: {exc.strerror}")
    return SourceRow(
        plugin=f.plugin,
        step=f.step,
        path=f.rel,
        language=f.language,
        bytes=len(data),
        lines=data.count(b"\n") + 1,  # the seed's definition: newline count + 1
        sha256=hashlib.sha256(data).hexdigest(),
        error=None,
    )
