"""Is the process that owns a run still there? Host, pid and start time, so a reused pid is not mistaken."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import psutil

# Start times are compared with this slack: psutil's create_time is derived from boot time and jiffies.
_START_SLACK_S = 2.0


@dataclass(frozen=True)
class ProcessStamp:
    host: str
    pid: int
    started: float  # process start, seconds since the epoch

    @classmethod
    def current(cls) -> ProcessStamp:
        return cls(socket.gethostname(), os.getpid(), psutil.Process().create_time())

    def to_tags(self, prefix: str) -> dict[str, str]:
        return {f"{prefix}host": self.host, f"{prefix}pid": str(self.pid), f"{prefix}started": f"{self.started:.3f}"}

    @classmethod
    def from_tags(cls, tags: dict[str, str], prefix: str) -> ProcessStamp | None:
        try:
            return cls(tags[f"{prefix}host"], int(tags[f"{prefix}pid"]), float(tags[f"{prefix}started"]))
        except (KeyError, ValueError):
            return None

    def is_local(self) -> bool:
        return self.host == socket.gethostname()


def is_gone(pid: int, *, started_before: float | None = None, started_at: float | None = None) -> bool:
    """Whether process `pid` on this host no longer exists (or the pid now belongs to another process).

    `started_at`: the process's recorded start time; `started_before`: a moment the process already
    existed at (e.g. the timestamp of an event it wrote). A process started later is a reused pid.
    """
    try:
        proc = psutil.Process(pid)
        created = proc.create_time()
        if proc.status() == psutil.STATUS_ZOMBIE:
            return True
    except psutil.NoSuchProcess:
        return True
    except psutil.AccessDenied:  # exists, owned by someone else: assume it is the one
        return False
    if started_at is not None and abs(created - started_at) > _START_SLACK_S:
        return True
    return started_before is not None and created > started_before + _START_SLACK_S
