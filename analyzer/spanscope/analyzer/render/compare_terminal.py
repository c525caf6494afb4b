"""``spanscope compare`` in the terminal: a before/after table per endpoint, then the N+1 changes.

Each endpoint reads like a fix write-up's results table -- version, query
strategy, response time -- plus a ``change`` row with the verdict, the p-value
and the relative changes.  Times are milliseconds.
"""

from __future__ import annotations

from typing import Final, TextIO

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from spanscope.analyzer.analyses.compare import (
    CompareResult,
    EndpointChange,
    NPlusOneChange,
    NPlusOneStatus,
)
from spanscope.analyzer.analyses.compare_stats import FASTER, SLOWER, Summary
from spanscope.analyzer.render.console import (
    TerminalFormat,
    compact_table,
    make_console,
    print_lead,
)
from spanscope.analyzer.render.terminal import format_code, format_ms, shorten

_VERDICT_STYLE: Final = {FASTER: "bold green", SLOWER: "bold red"}
_STATUS_STYLE: Final[dict[NPlusOneStatus, str]] = {
    "resolved": "green",
    "remaining": "yellow",
    "new": "bold red",
}
#: Statements in the N+1 list are shortened harder than in ``analyze``: one line each.
_STATEMENT_CHARS: Final = 160


def format_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f}%"


def format_p(value: float | None) -> str:
    if value is None:
        return ""
    return "p<0.001" if value < 0.001 else f"p={value:.3f}"


def query_strategy(n_plus_one: int) -> str:
    """The "Query strategy" column of a before/after write-up: N+1 queries, or none left."""
    if n_plus_one:
        return f"N+1 queries ({n_plus_one})"
    return "no N+1"


def _verdict_text(row: EndpointChange) -> Text:
    text = Text(row.verdict, style=_VERDICT_STYLE.get(row.verdict, ""))
    details = [format_p(row.p_value)]
    speedup = row.speedup
    if row.verdict in (FASTER, SLOWER) and speedup is not None:
        ratio = speedup if speedup >= 1 else 1 / speedup
        details.append(f"{ratio:,.1f}x")
    extra = ", ".join(item for item in details if item)
    if extra:
        text.append(f" ({extra})")
    return text


def _times(summary: Summary) -> list[str]:
    return [format_ms(summary.mean_ms), format_ms(summary.p50_ms), format_ms(summary.p95_ms)]


def endpoints_table(result: CompareResult) -> Table:
    table = compact_table(
        "Response time by endpoint, before and after (ms)", collapse_padding=False
    )
    table.add_column("endpoint", overflow="fold", max_width=28)
    table.add_column("version", no_wrap=True)
    table.add_column("requests", justify="right", no_wrap=True)
    table.add_column("query strategy", overflow="fold")
    table.add_column("q/req", justify="right", no_wrap=True)
    for header in ("mean", "p50", "p95"):
        table.add_column(header, justify="right", no_wrap=True)
    for row in result.endpoints:
        versions = [("before", row.before, row.n_plus_one_before)]
        versions.append(("after", row.after, row.n_plus_one_after))
        first = True
        for version, summary, findings in versions:
            if summary is None:
                continue
            table.add_row(
                row.endpoint if first else "",
                version,
                f"{summary.requests:,}",
                query_strategy(findings),
                f"{summary.queries_per_request:,.1f}",
                *_times(summary),
            )
            first = False
        change = row.change
        table.add_row(
            "",
            "change",
            "",
            _verdict_text(row),
            f"{change.queries_per_request:+,.1f}" if change else "",
            *(
                (
                    format_pct(change.mean_pct),
                    format_pct(change.p50_pct),
                    format_pct(change.p95_pct),
                )
                if change
                else ("", "", "")
            ),
            end_section=True,
        )
    return table


def _finding_grid(change: NPlusOneChange) -> Table:
    finding = change.finding
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, min_width=9)
    grid.add_column(overflow="fold")
    counts = ", ".join(
        f"{side} x{found.repeats:,}"
        for side, found in (("before", change.before), ("after", change.after))
        if found is not None
    )
    headline = Text.assemble((change.endpoint, "bold"), f"  {counts}")
    if finding.relation:
        headline.append(f"  {finding.relation}")
    grid.add_row(Text(change.status, style=_STATUS_STYLE[change.status]), headline)
    grid.add_row("", Text(shorten(finding.statement, _STATEMENT_CHARS), style="dim"))
    where = Text(f"at {format_code(finding.code)}")
    if change.status != "resolved" and finding.suggestion:
        where.append(f"  fix: {finding.suggestion}", style="green")
    grid.add_row("", where)
    return grid


def n_plus_one_parts(result: CompareResult) -> list[Text | Table]:
    counts = {status: len(result.n_plus_one_with(status)) for status in _STATUS_STYLE}
    heading = Text(
        f"N+1 queries: {counts['resolved']} resolved, {counts['remaining']} remaining, "
        f"{counts['new']} new",
        style="bold",
    )
    return [heading, *(_finding_grid(change) for change in result.n_plus_one)]


def _files(count: int) -> str:
    return f"{count:,} file{'' if count == 1 else 's'}"


class CompareTerminalRenderer(TerminalFormat):
    def render(self, result: CompareResult, out: TextIO, *, color: bool) -> None:
        console = make_console(out, color=color)
        options = result.options
        headline: list[RenderableType] = [
            f"spanscope {result.spanscope_version} compare: before {result.before.requests:,} "
            f"requests ({_files(result.before.files)}), after {result.after.requests:,} requests "
            f"({_files(result.after.files)})",
            Text(
                f"Mann-Whitney U, two-sided, alpha {options.alpha:g}; changes of the "
                f"{options.metric} under {options.min_change_pct:g}% are not called faster "
                "or slower",
                style="dim",
            ),
        ]
        print_lead(
            console,
            headline,
            endpoints_table(result) if result.endpoints else None,
            "No requests on either side: the inputs have no SpanKind Server spans.",
        )
        for part in n_plus_one_parts(result):
            console.print(part)
