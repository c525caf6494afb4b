"""``spanscope explain`` output: an indented tree for people, JSON for machines.

JSON (``schema_version`` "1"): ``trace_id``, ``spans``, ``duration_ms``,
``findings`` (N+1 findings of this trace, as in ``analyze``'s ``n_plus_one``) and
``roots``: nodes of ``name``, ``layer``, ``count`` (siblings folded into this node),
``start_ms`` (offset from the trace's first span), ``duration_ms`` and ``self_ms``
(sums over a folded group), ``statement`` (normalized SQL or null), ``finding``
(index into ``findings`` or null) and ``children``.
"""

from __future__ import annotations

import json
from typing import Final, TextIO

from rich.table import Table
from rich.text import Text
from spanscope.analyzer.analyses.explain import ExplainedTrace, TraceNode
from spanscope.analyzer.render.console import TerminalFormat, make_console
from spanscope.analyzer.render.json_output import JsonFormat
from spanscope.analyzer.render.result_formats import Formats
from spanscope.analyzer.render.terminal import format_code, format_ms, shorten

_STATEMENT_CHARS = 90


class ExplainTerminalRenderer(TerminalFormat):
    def render(self, result: ExplainedTrace, out: TextIO, *, color: bool) -> None:
        console = make_console(out, color=color)
        console.print(
            f"trace {result.trace_id}: {result.spans:,} spans, {format_ms(result.duration_ms)} ms"
        )
        table = Table(box=None, pad_edge=False, show_edge=False, collapse_padding=True)
        for header in ("start", "duration", "self"):
            table.add_column(header, justify="right", no_wrap=True)
        table.add_column("span (ms; Nx = N sibling spans folded)", overflow="fold")
        for depth, node in _walk(result.roots, 0):
            table.add_row(
                format_ms(node.start_ms),
                format_ms(node.duration_ms),
                format_ms(node.self_ms),
                _label(node, depth),
            )
        console.print(table)


def _walk(nodes: list[TraceNode], depth: int) -> list[tuple[int, TraceNode]]:
    rows: list[tuple[int, TraceNode]] = []
    for node in nodes:
        rows.append((depth, node))
        rows.extend(_walk(node.children, depth + 1))
    return rows


def _label(node: TraceNode, depth: int) -> Text:
    text = Text("  " * depth)
    if node.count > 1:
        text.append(f"{node.count:,}x ", style="bold")
    text.append(shorten(node.statement, _STATEMENT_CHARS) if node.statement else node.name)
    text.append(f" [{node.layer}]", style="dim")
    finding = node.finding
    if finding is not None:
        fix = finding.suggestion or "batch these queries"
        text.append(f"  N+1: {fix}", style="bold red")
        if finding.code is not None:
            text.append(f" at {format_code(finding.code)}", style="red")
    return text


class ExplainJsonRenderer(JsonFormat):
    def render(self, result: ExplainedTrace, out: TextIO, *, color: bool) -> None:
        json.dump(result.to_dict(), out, indent=2)
        out.write("\n")


EXPLAIN_FORMATS: Final = Formats[ExplainedTrace](
    "terminal", ExplainTerminalRenderer, ExplainJsonRenderer
)
