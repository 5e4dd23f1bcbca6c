"""A progress line for long CLI work: rewritten in place on a terminal, plain lines elsewhere (CI, pipes).

It writes to stderr, so a command's stdout (e.g. `--json`) stays machine-readable.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO


class Progress:
    """`step(what)` as each unit of work starts; `close()` (or the context manager) counts the last one done.

    For parallel work, whose units finish in any order, call `finished(what)` as each one ends instead.
    """

    def __init__(self, label: str, total: int, *, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.label = label
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        if live is None:
            live = _isatty(self.stream) and not os.environ.get("CI")
        self.live = live
        self.done = 0
        self.started = time.monotonic()
        self._width = 0
        self._running = False
        self._summarized = False
        self._lock = threading.Lock()  # finished() is called from worker threads

    def line(self, what: str) -> str:
        return f"{self.label}: {what} ({self.done}/{self.total} done, {time.monotonic() - self.started:.1f} s)"

    def step(self, what: str) -> None:
        if self._running:
            self.done += 1
        self._running = True
        self._show(self.line(what))

    def finished(self, what: str) -> None:
        with self._lock:
            self.done += 1
            self._show(self.line(what))

    def _show(self, text: str) -> None:
        if self.live:
            # Pad over the previous, possibly longer, line.
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        # A summary line once all work finished (a failed unit leaves the last line as it was).
        finishing = self._running or (self.done == self.total and self.done > 0 and not self._summarized)
        if finishing:
            if self._running:
                self.done += 1
            self._running = False
            self._summarized = True
            if not self.live:
                self._show(f"{self.label}: {self.done}/{self.total} done in {time.monotonic() - self.started:.1f} s")
        if self.live and self._width:
            self.stream.write("\r" + " " * self._width + "\r")  # leave the terminal clean for the report
            self.stream.flush()
        self._width = 0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:
            self._running = False  # the unit that raised is not done
        self.close()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
