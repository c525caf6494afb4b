"""``analyze``: every analysis of ``spanscope analyze`` over one span table, in one pass.

The span tree and the request table are resolved once (:func:`prepare`) and the DB
statements normalized once (:func:`db_spans`); every analysis then reads those.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import pyarrow.compute as pc
from spanscope.analyzer.analyses.breakdown import breakdown_from
from spanscope.analyzer.analyses.duplicates import duplicates_from
from spanscope.analyzer.analyses.endpoints import endpoints_from
from spanscope.analyzer.analyses.inputs import SpansOrPaths, read_spans
from spanscope.analyzer.analyses.nplusone import (
    DEFAULT_MIN_REPEATS,
    check_min_repeats,
    n_plus_one_from,
)
from spanscope.analyzer.analyses.nplusone_http import n_plus_one_http_from
from spanscope.analyzer.analyses.slow_queries import slow_queries_from
from spanscope.analyzer.analyses.statements import db_spans
from spanscope.analyzer.report import AnalysisReport, InputStats
from spanscope.analyzer.requests import prepare


def spanscope_version() -> str:
    try:
        return version("spanscope")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def analyze(
    source: SpansOrPaths,
    *,
    min_repeats: int = DEFAULT_MIN_REPEATS,
    input_format: str | None = None,
    strict: bool = False,
) -> AnalysisReport:
    """Input statistics, endpoints, breakdown and findings of a span table or of dump files."""
    check_min_repeats(min_repeats)
    # Only the columns the analyses read: a file's attribute maps are never built.
    loaded = read_spans(source, input_format=input_format, strict=strict, columns="analysis")
    spans = loaded.table
    prepared = prepare(spans)
    statements = db_spans(prepared)
    stats = InputStats(
        files=len(loaded.files),
        spans=spans.num_rows,
        traces=pc.count_distinct(spans.column("TraceId")).as_py() if spans.num_rows else 0,
        skipped_records=loaded.diagnostics.skipped_records,
    )
    return AnalysisReport(
        spanscope_version=spanscope_version(),
        input=stats,
        endpoints=endpoints_from(prepared),
        n_plus_one=n_plus_one_from(prepared, statements, min_repeats),
        min_repeats=min_repeats,
        diagnostics=loaded.diagnostics,
        breakdown=breakdown_from(prepared),
        duplicates=duplicates_from(prepared, statements),
        slow_queries=slow_queries_from(prepared, statements),
        n_plus_one_http=n_plus_one_http_from(prepared, min_repeats),
    )
