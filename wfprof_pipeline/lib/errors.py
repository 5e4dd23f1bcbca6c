"""The one error base: every error wfprof raises on purpose derives from `WfprofError`.

The CLI prints such an error as one line (`wfprof: error: …`, exit code 2) and keeps the traceback of
anything else, which is then a bug. Subclasses also derive from the builtin they stand for (ValueError
for bad input, RuntimeError for a failed operation) so callers may catch either.
"""

from __future__ import annotations


class WfprofError(Exception):
    """A user-facing error with a message that says what to do."""


class UsageError(WfprofError, ValueError):
    """Bad command-line input (a flag out of range, a file that cannot be read)."""
