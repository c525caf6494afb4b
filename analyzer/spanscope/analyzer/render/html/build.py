"""``html_report``: span table or dump files -> one self-contained HTML page."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from spanscope.analyzer.analyses.analyze import analyze
from spanscope.analyzer.analyses.endpoints import DEFAULT_APDEX_MS
from spanscope.analyzer.analyses.grouping import DEFAULT_GROUP_BY
from spanscope.analyzer.analyses.inputs import SpansOrPaths, read_spans
from spanscope.analyzer.analyses.nplusone import DEFAULT_MIN_REPEATS
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.render.html.document import DEFAULT_LIMITS, Limits, build_document
from spanscope.analyzer.render.html.page import render_page
from spanscope.analyzer.render.html.tables import report_tables

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
) -> HtmlReport:
    """The HTML report of a span table or of dump files (see :mod:`.document` for
    the sections and the size bounds); ``interval_s`` is the width of the latency
    chart buckets, chosen from the time range when ``None``."""
    loaded = read_spans(source, input_format=input_format, strict=strict)
    analysis = analyze(loaded.table, min_repeats=min_repeats, group_by=group_by, apdex_ms=apdex_ms)
    with report_tables(loaded.table, group_by, loaded.parent) as tables:
        document = build_document(
            tables,
            analysis,
            title=title,
            generated_ms=time.time_ns() // 1_000_000,
            interval_s=interval_s,
            limits=limits,
        )
    # analyze() was handed the table, not the files: the read knows what it cost.
    document["input"].update(
        files=len(loaded.files), skipped_records=loaded.diagnostics.skipped_records
    )
    return HtmlReport(render_page(document), document, loaded.diagnostics)
