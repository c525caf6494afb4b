"""What the page shows of the analyses: the endpoints and both kinds of N+1 finding.

Computed on the one span tree the page's own tables are registered from, so a
report resolves the tree once.  ``analyze`` itself would prepare its input again
and add breakdown, duplicate and slow-query sections the page does not show (it
draws its layer breakdown and statements from its own tables).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow.compute as pc
from spanscope.analyzer.analyses.analyze import spanscope_version
from spanscope.analyzer.analyses.endpoints import endpoints_from
from spanscope.analyzer.analyses.inputs import LoadedSpans
from spanscope.analyzer.analyses.nplusone import n_plus_one_from
from spanscope.analyzer.analyses.nplusone_http import n_plus_one_http_from
from spanscope.analyzer.analyses.statements import db_spans
from spanscope.analyzer.report import (
    EndpointsResult,
    HttpNPlusOneFinding,
    InputStats,
    NPlusOneFinding,
)
from spanscope.analyzer.requests import Prepared


@dataclass(frozen=True)
class PageFindings:
    """The sections of :class:`spanscope.analyzer.report.AnalysisReport` the page shows."""

    spanscope_version: str
    input: InputStats
    endpoints: EndpointsResult
    n_plus_one: list[NPlusOneFinding]
    n_plus_one_http: list[HttpNPlusOneFinding]
    min_repeats: int
    apdex_ms: float


def page_findings(
    loaded: LoadedSpans, prepared: Prepared, *, min_repeats: int, apdex_ms: float
) -> PageFindings:
    """The findings of ``prepared``, the span tree of ``loaded`` with its requests
    keyed into endpoints."""
    spans = loaded.table
    traces = pc.count_distinct(spans.column("TraceId")).as_py() if spans.num_rows else 0
    return PageFindings(
        spanscope_version=spanscope_version(),
        input=InputStats(
            files=len(loaded.files),
            spans=spans.num_rows,
            traces=traces,
            skipped_records=loaded.diagnostics.skipped_records,
        ),
        endpoints=endpoints_from(prepared, apdex_ms),
        n_plus_one=n_plus_one_from(prepared, db_spans(prepared), min_repeats),
        n_plus_one_http=n_plus_one_http_from(prepared, min_repeats),
        min_repeats=min_repeats,
        apdex_ms=apdex_ms,
    )
