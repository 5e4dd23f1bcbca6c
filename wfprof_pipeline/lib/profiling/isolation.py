"""Kernel isolation of step processes: each one runs in its own Linux namespaces (unshare(1)).

- network: a namespace with only loopback (brought up inside), where the canned-response stub runs too (in
  the harness's worker thread), so nothing — a raw binding, a child process, a worker thread — reaches a
  real network or a port of the host;
- PID, with its own /proc: no ancestor's environment is visible, and every descendant dies with the step;
- user (mapped to root inside), so it works for an unprivileged wfprof as well.

Where namespaces are unavailable (a container without user namespaces, no unshare), profiling falls back to
the in-process egress guard, says so once, and records the mode in every profile row. The guard stays on as
a second layer either way.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import cache
from typing import Literal

from wfprof_pipeline.lib.errors import WfprofError
from wfprof_pipeline.lib.settings import ENV_ISOLATION, ISOLATION_MODES, Settings


class IsolationError(WfprofError, RuntimeError):
    """Namespace isolation was asked for and is not available, or the mode is not one of the known ones."""

Isolation = Literal["namespaces", "guard"]
UNSHARE_FLAGS = ("--user", "--map-root-user", "--net", "--pid", "--fork", "--mount-proc", "--kill-child")
# Loopback starts down in a new network namespace; 97 = it could not be brought up. The shell stays PID 1 (not
# exec): the namespace's init ignores signals sent from inside it, and the step must be killable as usual; a
# step killed by signal N shows as exit status 128 + N.
_INSIDE = 'ip=$1; shift; "$ip" link set lo up || exit 97; "$@"'


def _ip() -> str | None:
    return shutil.which("ip") or next((p for p in ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip")
                                       if os.access(p, os.X_OK)), None)


def wrap(cmd: list[str]) -> list[str]:
    """`cmd` run in fresh user, network, PID and mount namespaces with loopback up."""
    return ["unshare", *UNSHARE_FLAGS, "sh", "-c", _INSIDE, "wfprof-isolated", _ip() or "ip", *cmd]


@cache
def probe() -> tuple[bool, str]:
    """(available, why not): one trial run, cached for the process."""
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return False, "unshare(1) is not available"
    if _ip() is None:
        return False, "ip(8) is not available to bring loopback up"
    try:
        proc = subprocess.run(wrap(["true"]), capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"unshare failed: {exc}"
    if proc.returncode != 0:
        return False, f"unshare failed (exit {proc.returncode}): {proc.stderr.strip()[:200]}"
    return True, ""


_warned = False


def resolve_isolation(requested: str | None = None) -> Isolation:
    """The mode to use: `requested`, else $WFPROF_ISOLATION, else namespaces when they work."""
    global _warned
    want = (requested or Settings.from_env().isolation).strip().lower()
    if want not in ISOLATION_MODES:
        raise IsolationError(f"{ENV_ISOLATION} must be auto, namespaces or guard, got {want!r}")
    if want == "guard":
        return "guard"
    ok, why = probe()
    if ok:
        return "namespaces"
    if want == "namespaces":
        raise IsolationError(f"namespace isolation was asked for ({ENV_ISOLATION}=namespaces) but {why}")
    if not _warned:
        _warned = True
        print(f"wfprof: warning: steps and workflow runs are not isolated by the kernel ({why}); only the in-process "
              "egress guard protects the network", file=sys.stderr)
    return "guard"
