"""The one way wfprof launches Node: a job as JSON on stdin, one JSON document back on stdout.

One environment allow-list (no credentials of the caller reach Node: steps and stored workflow code run
there), one kill policy (a process group of its own, killed on timeout and after every exit, so children a
step started never outlive it), and the kernel isolation of `lib/profiling/isolation.py` applied here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from wfprof_pipeline.lib.errors import WfprofError
from wfprof_pipeline.lib.profiling.isolation import Isolation
from wfprof_pipeline.lib.profiling.isolation import wrap as isolation_wrap

NODE_DIR = Path(__file__).resolve().parent.parent / "node"

# What Node gets from our environment; everything else a caller must pass explicitly. A fixed TZ and
# LANG keep counts and timestamps independent of who runs wfprof.
PASSED_ENV = ("PATH", "HOME")
BASE_ENV = {"TZ": "UTC", "LANG": "C.UTF-8"}

Doc = TypeVar("Doc", bound=BaseModel)


class NodeNotFound(WfprofError, RuntimeError):
    """The Node.js executable does not exist."""


def node_environment(extra: Mapping[str, str] | None = None, passthrough: tuple[str, ...] = ()) -> dict[str, str]:
    """The allow-listed variables of this process, the fixed base, then `extra`."""
    env = {k: os.environ[k] for k in (*PASSED_ENV, *passthrough) if k in os.environ}
    return {**env, **BASE_ENV, **(extra or {})}


@dataclass(frozen=True)
class NodeResult:
    stdout: str
    stderr: str
    returncode: int | None  # negative: killed by that signal (also inside a namespace)
    timed_out: bool
    wall_ms: float

    def document(self, model: type[Doc]) -> Doc | None:
        """The last non-empty stdout line as `model` (scripts may print, but to stderr), or None."""
        lines = [ln for ln in self.stdout.splitlines() if ln.strip()]
        if not lines:
            return None
        try:
            return model.model_validate_json(lines[-1])
        except ValidationError:
            return None

    def stderr_tail(self, lines: int = 6, chars: int = 600) -> str:
        return "\n".join(self.stderr.strip().splitlines()[-lines:])[-chars:]


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_node_json(
    script: Path,
    job: BaseModel,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    *,
    node: str = "node",
    node_args: tuple[str, ...] = (),
    isolation: Isolation | None = None,
    cwd: str | Path | None = None,
    passthrough: tuple[str, ...] = (),
) -> NodeResult:
    """Run `node [node_args] script` with `job` on stdin; its output, also after a timeout (then killed).

    `env`: variables on top of the allow-list. `isolation="namespaces"` runs it in fresh user, network,
    PID and mount namespaces (loopback only); "guard" or None, as a plain child.
    """
    cmd = [node, *node_args, str(script)]
    if isolation == "namespaces":
        if shutil.which(node) is None:  # inside the wrapper a missing node would be the shell's exit 127
            raise NodeNotFound(f"Node.js executable {node!r} not found (set WFPROF_NODE)")
        cmd = isolation_wrap(cmd)
    t0 = time.perf_counter()
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",  # a step may write any bytes to stderr; that must not lose the result
            cwd=cwd or None,
            env=node_environment(env, passthrough),
            start_new_session=True,  # its own process group: one kill takes its children too
        )
    except FileNotFoundError:
        raise NodeNotFound(f"Node.js executable {node!r} not found (set WFPROF_NODE)") from None
    timed_out = False
    try:
        stdout, stderr = proc.communicate(job.model_dump_json(exclude_none=True), timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        stdout, stderr = proc.communicate()
    finally:
        # Also after a normal exit: children it started (and never waited for) die with it.
        _kill_group(proc)
    code = proc.returncode
    if isolation == "namespaces" and code is not None and code > 128:  # the namespace's shell reports 128 + N
        code = -(code - 128)
    return NodeResult(stdout or "", stderr or "", code, timed_out, (time.perf_counter() - t0) * 1000)
