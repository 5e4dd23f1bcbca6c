"""Progress for long CLI work: a rich progress bar on a terminal, plain lines elsewhere (CI, pipes).

It writes to stderr, so a command's stdout (e.g. `--json`) stays machine-readable. Plain lines are kept for
logs: one per unit as it starts or finishes, and a summary, which a CI log shows better than redraws.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

from wfprof_pipeline.lib.settings import Settings


class Progress:
    """`step(what)` as each unit of work starts; `close()` (or the context manager) counts the last one done.

    For parallel work, whose units finish in any order, call `finished(what)` as each one ends instead.
    """

    def __init__(self, label: str, total: int, *, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.label = label
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        if live is None:
            live = _isatty(self.stream) and not Settings.from_env().ci
        self.live = live
        self.done = 0
        self.started = time.monotonic()
        self._running = False
        self._summarized = False
        self._lock = threading.Lock()  # finished() is called from worker threads
        self._bar: Any = None
        if live:
            self._bar, self._task = _rich_bar(self.stream, label, total)

    def line(self, what: str) -> str:
        return f"{self.label}: {what} ({self.done}/{self.total} done, {time.monotonic() - self.started:.1f} s)"

    def step(self, what: str) -> None:
        if self._running:
            self.done += 1
        self._running = True
        self._show(what)

    def finished(self, what: str) -> None:
        with self._lock:
            self.done += 1
            self._show(what)

    def _show(self, what: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, description=f"{self.label}: {what}")
            return
        self.stream.write(self.line(what) + "\n")
        self.stream.flush()

    def close(self) -> None:
        # A summary once all work finished (a failed unit leaves the count as it was).
        finishing = self._running or (self.done == self.total and self.done > 0 and not self._summarized)
        if finishing:
            if self._running:
                self.done += 1
            self._running = False
            self._summarized = True
            if self._bar is None:
                self.stream.write(f"{self.label}: {self.done}/{self.total} done in "
                                  f"{time.monotonic() - self.started:.1f} s\n")
                self.stream.flush()
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)
            self._bar.stop()  # transient: the terminal is left clean for the report
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:
            self._running = False  # the unit that raised is not done
        self.close()


def _rich_bar(stream: TextIO, label: str, total: int) -> tuple[Any, Any]:
    # rich only on a terminal: the plain path (CI, pipes, `wfprof analyze`) does not pay for its import.
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress

    bar = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       console=Console(file=stream, force_terminal=True), transient=True)
    task = bar.add_task(label, total=total)
    bar.start()
    return bar, task


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
