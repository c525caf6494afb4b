"""``--format terminal`` in the renderer registry, without importing rich.

rich and the table layout (:mod:`.terminal`) cost ~45 ms to import; a command asked
for ``--format json`` or another machine-readable format never draws a table, so the
registry holds this stand-in and the layout is imported only when a report is drawn.
"""

from __future__ import annotations

from typing import ClassVar, TextIO

from spanscope.analyzer.render.registry import register
from spanscope.analyzer.report import AnalysisReport


class TerminalFormat:
    """What a terminal renderer answers to: ``--format terminal``, and text output files."""

    name: ClassVar[str] = "terminal"
    suffixes: ClassVar[tuple[str, ...]] = (".txt", ".log")


@register
class TerminalReportFormat(TerminalFormat):
    """The analysis report as rich tables (:class:`.terminal.TerminalRenderer`)."""

    def render(self, report: AnalysisReport, out: TextIO, *, color: bool) -> None:
        from spanscope.analyzer.render.terminal import TerminalRenderer

        TerminalRenderer().render(report, out, color=color)
