"""Renderers by name: ``--format`` choices and ``-o FILE`` suffix guessing come from here."""

from __future__ import annotations

from pathlib import PurePath
from typing import ClassVar, Final, Protocol, TextIO, TypeVar

from spanscope.analyzer.errors import UsageError
from spanscope.analyzer.report import AnalysisReport

DEFAULT_RENDERER: Final = "terminal"


class Renderer(Protocol):
    #: the ``--format`` value
    name: ClassVar[str]
    #: output-file suffixes that select this renderer (``".json"``)
    suffixes: ClassVar[tuple[str, ...]]

    def render(self, report: AnalysisReport, out: TextIO, *, color: bool) -> None:
        """Write ``report`` to ``out``; ``color`` is false for files and pipes."""


RENDERERS: dict[str, type[Renderer]] = {}

R = TypeVar("R", bound=type[Renderer])


def register(cls: R) -> R:
    """Class decorator: make a renderer available under ``cls.name``."""
    RENDERERS[cls.name] = cls
    return cls


def get_renderer(name: str) -> Renderer:
    try:
        return RENDERERS[name]()
    except KeyError:
        choices = ", ".join(sorted(RENDERERS))
        raise UsageError(f"unknown output format {name!r}", f"use one of: {choices}") from None


def renderer_name_for_path(path: str | None) -> str:
    """The renderer an output file's suffix asks for (``.json`` -> json), else terminal."""
    if path is not None:
        suffix = PurePath(path).suffix.lower()
        for name, cls in RENDERERS.items():
            if suffix in cls.suffixes:
                return name
    return DEFAULT_RENDERER
