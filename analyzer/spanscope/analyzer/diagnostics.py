"""Problems found while reading input: collected, counted, never fatal (unless strict).

Readers call :meth:`Diagnostics.skip` for every record they cannot use and carry on
with the next one; the CLI prints one line per problem kind (the first location and
a count) so a dump with a million broken lines still yields a readable stderr.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from spanscope.analyzer.errors import MalformedRecordError


@dataclass(frozen=True)
class Problem:
    path: str
    line: int  # 1-based line (or record number for framed binary input); 0 = whole file
    kind: str  # short stable key, e.g. "invalid-json", "missing-id"
    message: str
    hint: str
    note: bool = False  # True: informational, no span record was lost

    def render(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        verb = "note" if self.note else "skipped"
        return f"{where}: {verb}: {self.message} (hint: {self.hint})"


@dataclass
class Diagnostics:
    """Accumulates problems; ``strict=True`` turns the first one into an exception."""

    strict: bool = False
    problems: list[Problem] = field(default_factory=list)
    skipped_records: int = 0
    # Keep memory bounded on hostile input: details for the first N, counts for all.
    max_kept: int = 1000
    _counts: dict[str, int] = field(default_factory=dict)

    def skip(
        self, path: str, line: int, kind: str, message: str, hint: str, records: int = 1
    ) -> None:
        if self.strict:
            raise MalformedRecordError(path, line, message, hint)
        self.skipped_records += records
        self._counts[kind] = self._counts.get(kind, 0) + records
        if len(self.problems) < self.max_kept:
            self.problems.append(Problem(path, line, kind, message, hint))

    def note(self, path: str, line: int, kind: str, message: str, hint: str) -> None:
        """Something worth telling the user that is not a lost span record.

        Log noise before a console dump, an unknown file inside a folder, a truncated
        compressed stream: reported like a skip, but ``skipped_records`` is not
        touched and strict mode does not fail on it.
        """
        self._counts[kind] = self._counts.get(kind, 0) + 1
        if len(self.problems) < self.max_kept:
            self.problems.append(Problem(path, line, kind, message, hint, note=True))

    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def summary_lines(self) -> Iterator[str]:
        """One line per problem kind: its first occurrence, plus how many more."""
        seen: set[str] = set()
        for problem in self.problems:
            if problem.kind in seen:
                continue
            seen.add(problem.kind)
            more = self._counts[problem.kind] - 1
            suffix = f" [+{more} more like this]" if more > 0 else ""
            yield problem.render() + suffix
