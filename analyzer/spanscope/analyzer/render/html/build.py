"""``html_report``: span table or dump files -> one self-contained HTML page."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from spanscope.analyzer.analyses.endpoints import DEFAULT_APDEX_MS, check_apdex_ms
from spanscope.analyzer.analyses.grouping import DEFAULT_GROUP_BY, check_group_by, regroup
from spanscope.analyzer.analyses.inputs import LoadedSpans, SpansOrPaths, spans_or_spill
from spanscope.analyzer.analyses.nplusone import DEFAULT_MIN_REPEATS, check_min_repeats
from spanscope.analyzer.analyses.partitioned_limits import DEFAULT_MEMORY_SPANS, check_memory_spans
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.render.html.document import DEFAULT_LIMITS, Limits, build_document
from spanscope.analyzer.render.html.findings import PageFindings, page_findings
from spanscope.analyzer.render.html.page import render_page
from spanscope.analyzer.render.html.spilled import spilled_page
from spanscope.analyzer.render.html.tables import ReportTables, report_tables
from spanscope.analyzer.requests import prepare

DEFAULT_TITLE = "Trace report"


@dataclass(frozen=True)
class HtmlReport:
    """The page, the data embedded in it, and what reading the input cost."""

    html: str
    data: dict[str, Any]
    diagnostics: Diagnostics = field(default_factory=Diagnostics, compare=False)


def html_report(
    source: SpansOrPaths,
    *,
    title: str = DEFAULT_TITLE,
    interval_s: float | None = None,
    min_repeats: int = DEFAULT_MIN_REPEATS,
    input_format: str | None = None,
    strict: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    group_by: str = DEFAULT_GROUP_BY,
    apdex_ms: float = DEFAULT_APDEX_MS,
    memory_spans: int | None = DEFAULT_MEMORY_SPANS,
) -> HtmlReport:
    """The HTML report of a span table or of dump files (see :mod:`.document` for
    the sections and the size bounds); ``interval_s`` is the width of the latency
    chart buckets, chosen from the time range when ``None``.  Dumps of more than
    ``memory_spans`` spans are analysed a partition at a time (:mod:`.spilled`;
    None: all at once, in memory)."""
    check_min_repeats(min_repeats)
    check_group_by(group_by)
    check_apdex_ms(apdex_ms)
    if memory_spans is not None:
        check_memory_spans(memory_spans)
    # Only the analysed columns: the page's tables are the span tree's view of them
    # (they keep the URLs that --group-by url needs, whatever the input format).
    loaded = spans_or_spill(
        source, input_format=input_format, strict=strict, memory_spans=memory_spans
    )
    if not isinstance(loaded, LoadedSpans):
        assert memory_spans is not None  # only a limited read spills
        try:
            page = spilled_page(
                loaded,
                memory_spans=memory_spans,
                min_repeats=min_repeats,
                group_by=group_by,
                apdex_ms=apdex_ms,
                waterfalls=limits.waterfalls,
            )
            with page.tables() as tables:
                document = _document(tables, page.findings, title, interval_s, limits)
        finally:
            loaded.close()
        return HtmlReport(render_page(document), document, loaded.diagnostics)
    # One span tree for the whole page (the parent rows reading found are reused):
    # the findings and every section's tables are computed on it.
    prepared = regroup(prepare(loaded.table, loaded.parent), group_by)
    findings = page_findings(loaded, prepared, min_repeats=min_repeats, apdex_ms=apdex_ms)
    with report_tables(prepared) as tables:
        document = _document(tables, findings, title, interval_s, limits)
    return HtmlReport(render_page(document), document, loaded.diagnostics)


def _document(
    tables: ReportTables,
    findings: PageFindings,
    title: str,
    interval_s: float | None,
    limits: Limits,
) -> dict[str, Any]:
    return build_document(
        tables,
        findings,
        title=title,
        generated_ms=time.time_ns() // 1_000_000,
        interval_s=interval_s,
        limits=limits,
    )
