"""Named exceptions.  Every message ends with a hint that says what to do next.

The library raises these; the CLI turns them into one line on stderr and an exit
code, never a traceback.
"""

from __future__ import annotations


class SpanscopeError(Exception):
    """Base class: ``str(err)`` is ``"<what went wrong> (hint: <what to do>)"``."""

    exit_code = 2

    def __init__(self, message: str, hint: str) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message} (hint: {hint})")


class InputNotFoundError(SpanscopeError):
    """A path, folder or glob named on the command line matched no file."""


class UnreadableInputError(SpanscopeError):
    """A file exists but cannot be read at all (permissions, unknown format, bad compression)."""


class MalformedRecordError(SpanscopeError):
    """One record is broken; raised only in ``strict`` mode, otherwise reported and skipped."""

    def __init__(self, path: str, line: int, message: str, hint: str) -> None:
        self.path = path
        self.line = line
        super().__init__(f"{path}:{line}: {message}", hint)


class UsageError(SpanscopeError):
    """An option or threshold makes no sense."""


class SpillError(SpanscopeError):
    """Spans of an input too large for memory could not be written to the temporary folder."""
