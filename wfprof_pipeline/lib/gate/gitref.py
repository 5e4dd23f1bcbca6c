"""Check out a git ref in a temporary worktree, with the step corpus's node_modules ready.

`node_modules` is reused from the working tree (a symlink) when the corpus's lockfile is byte-identical
in both; otherwise the project's install runs in the worktree (`npm ci` for package-lock.json, the
matching frozen install for pnpm and yarn). The worktree is removed afterwards, whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from wfprof_pipeline.lib.errors import WfprofError

INSTALL_COMMANDS = {
    "package-lock.json": ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
    "npm-shrinkwrap.json": ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
    "pnpm-lock.yaml": ["pnpm", "install", "--frozen-lockfile"],
    "yarn.lock": ["yarn", "install", "--frozen-lockfile"],
}


class GitRefError(WfprofError, RuntimeError):
    """--base-ref cannot be used: no git repository, no such commit, the worktree or install failed."""


@dataclass
class BaseTree:
    ref: str
    commit: str
    root: Path  # the step corpus root inside the worktree
    registry: Path | None  # the registry to use for it (None = the default under root)
    node_modules: str  # "linked" | "installed (<command>)" | "none"
    notes: list[str] = field(default_factory=list)


def _git(*args: str, cwd: Path, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(["git", "-c", "core.hooksPath=/dev/null", *args], cwd=cwd, capture_output=True,
                              text=True, timeout=timeout)
    except FileNotFoundError:
        raise GitRefError("--base-ref needs git, which is not on PATH") from None
    if check and proc.returncode != 0:
        raise GitRefError(f"git {' '.join(args[:2])} failed: {proc.stderr.strip()[-400:]}")
    return proc


def toplevel(path: Path) -> Path:
    proc = _git("rev-parse", "--show-toplevel", cwd=path, check=False)
    if proc.returncode != 0:
        raise GitRefError(f"--base-ref needs the step corpus in a git repository; {path} is not in one")
    return Path(proc.stdout.strip())


def resolve_commit(repo: Path, ref: str) -> str:
    proc = _git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", cwd=repo, check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise GitRefError(f"--base-ref {ref!r} names no commit in {repo}")
    return proc.stdout.strip()


def dirty_files(repo: Path, paths: list[Path]) -> list[str]:
    """Uncommitted changes (tracked or untracked, not ignored) under the given paths."""
    rels = [os.path.relpath(p, repo) for p in paths]
    proc = _git("status", "--porcelain", "--untracked-files=all", "--", *rels, cwd=repo)
    return [line[3:] for line in proc.stdout.splitlines() if line.strip()]


def _inside(path: Path, folder: Path) -> Path | None:
    try:
        return path.resolve().relative_to(folder.resolve())
    except ValueError:
        return None


def _prepare_node_modules(head_root: Path, base_root: Path, lockfile: Path | None, timeout_s: float,
                          links: list[Path]) -> str:
    from wfprof_pipeline.lib.gate.snapshot import find_lockfile

    if lockfile is None:
        if (head_root / "node_modules").is_dir() and not (base_root / "node_modules").exists():
            links.append(base_root / "node_modules")
            os.symlink((head_root / "node_modules").resolve(), links[-1])
            return "linked (no lockfile)"
        return "none"
    head_dir = lockfile.parent
    rel = _inside(head_dir, head_root)
    base_lock = find_lockfile(base_root)
    base_dir = base_root / rel if rel is not None else (base_lock.parent if base_lock else base_root)
    same = base_lock is not None and base_lock.name == lockfile.name and base_lock.read_bytes() == lockfile.read_bytes()
    target = base_dir / "node_modules"
    if same and (head_dir / "node_modules").is_dir():
        if not target.exists():
            links.append(target)
            os.symlink((head_dir / "node_modules").resolve(), target)
        return "linked"
    if base_lock is None:
        return "none"
    command = INSTALL_COMMANDS.get(base_lock.name)
    if command is None:
        raise GitRefError(f"the base tree's lockfile {base_lock.name} changed and wfprof knows no install for it")
    try:
        proc = subprocess.run(command, cwd=base_lock.parent, capture_output=True, text=True, timeout=timeout_s)
    except FileNotFoundError:
        raise GitRefError(f"the lockfile changed, so the base tree needs `{' '.join(command)}`, but "
                          f"{command[0]} is not on PATH") from None
    except subprocess.TimeoutExpired:
        raise GitRefError(f"`{' '.join(command)}` in the base tree took longer than {timeout_s:.0f} s") from None
    if proc.returncode != 0:
        raise GitRefError(f"`{' '.join(command)}` in the base tree failed: {proc.stderr.strip()[-400:]}")
    return f"installed ({' '.join(command[:2])})"


@contextlib.contextmanager
def checkout(
    ref: str, steps_root: Path, registry: Path | None, *, install_timeout_s: float = 600
) -> Iterator[BaseTree]:
    """The tree at `ref` in a temporary worktree; `registry` is the working tree's registry file."""
    from wfprof_pipeline.lib.gate.snapshot import find_lockfile

    steps_root = Path(steps_root)
    repo = toplevel(steps_root)
    commit = resolve_commit(repo, ref)
    rel = _inside(steps_root, repo)
    assert rel is not None  # toplevel() of the root contains it
    tmp = Path(tempfile.mkdtemp(prefix="wfprof-gate-"))
    tree = tmp / "tree"
    added = False
    links: list[Path] = []
    base_root = tree / rel
    try:
        _git("worktree", "add", "--detach", "--quiet", str(tree), commit, cwd=repo, timeout=600)
        added = True
        if not base_root.is_dir():
            raise GitRefError(f"{ref} ({commit[:10]}) has no step corpus at {rel.as_posix() or '.'}")
        notes = []
        base_registry = None
        if registry is not None:
            inside = _inside(registry, repo)
            if inside is not None:
                base_registry = tree / inside
            else:
                base_registry = registry
                notes.append("the registry lives outside the repository: the same file is used for both trees")
        how = _prepare_node_modules(steps_root, base_root, find_lockfile(steps_root), install_timeout_s, links)
        yield BaseTree(ref=ref, commit=commit, root=base_root, registry=base_registry, node_modules=how, notes=notes)
    finally:
        # Unlink reused node_modules first, so nothing below can ever reach into the working tree's copy.
        for link in links:
            if link.is_symlink():
                link.unlink()
        if added:
            _git("worktree", "remove", "--force", str(tree), cwd=repo, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
        if added:
            _git("worktree", "prune", cwd=repo, check=False)
