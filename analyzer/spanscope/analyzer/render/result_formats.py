"""A name registry of renderers for one kind of result (compare, check).

The ``analyze`` renderers have their own registry (:mod:`.registry`) typed on
:class:`~spanscope.analyzer.report.AnalysisReport`; the other commands render
other results, so each gets a :class:`Formats` of its own, built from an explicit
list of renderer classes: ``--format`` choices and ``-o FILE`` suffix guessing
come from that list, never from an if/elif chain.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import ClassVar, Generic, Protocol, TextIO, TypeVar

from spanscope.analyzer.errors import UsageError

ResultT = TypeVar("ResultT")
ResultT_contra = TypeVar("ResultT_contra", contravariant=True)


class ResultRenderer(Protocol[ResultT_contra]):
    #: the ``--format`` value
    name: ClassVar[str]
    #: output-file suffixes that select this renderer (``".xml"``)
    suffixes: ClassVar[tuple[str, ...]]

    def render(self, result: ResultT_contra, out: TextIO, *, color: bool) -> None:
        """Write ``result`` to ``out``; ``color`` is false for files and pipes."""


class Formats(Generic[ResultT]):
    """The renderers of one result type, by name; ``default`` when nothing else says."""

    def __init__(self, default: str, *renderers: type[ResultRenderer[ResultT]]) -> None:
        self._renderers = {cls.name: cls for cls in renderers}
        if default not in self._renderers:
            raise ValueError(f"default format {default!r} is not among the renderers")
        self.default = default

    def names(self) -> list[str]:
        return sorted(self._renderers)

    def get(self, name: str) -> ResultRenderer[ResultT]:
        try:
            return self._renderers[name]()
        except KeyError:
            raise UsageError(
                f"unknown output format {name!r}", f"use one of: {', '.join(self.names())}"
            ) from None

    def for_output(self, name: str | None, path: str | None) -> ResultRenderer[ResultT]:
        """The renderer ``--format`` names, else the one ``-o FILE``'s suffix asks for."""
        if name is not None:
            return self.get(name)
        if path is not None:
            suffix = PurePath(path).suffix.lower()
            for cls in self._renderers.values():
                if suffix in cls.suffixes:
                    return cls()
        return self.get(self.default)
