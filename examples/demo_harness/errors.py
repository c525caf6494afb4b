"""The one exception the harness raises: a message that ends with what to do next."""

from __future__ import annotations


class HarnessError(Exception):
    def __init__(self, message: str, hint: str) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message} (hint: {hint})")


def tail(text: str, lines: int = 20) -> str:
    """The last lines of a log, indented, to quote in an error message."""
    kept = text.rstrip().splitlines()[-lines:]
    return "\n".join("    " + line for line in kept)
