"""``analyze``: every analysis of ``spanscope analyze`` over one span table, in one pass."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import pyarrow.compute as pc
from spanscope.analyzer.analyses.endpoints import endpoints_from
from spanscope.analyzer.analyses.inputs import SpansOrPaths, read_spans
from spanscope.analyzer.analyses.nplusone import DEFAULT_MIN_REPEATS, n_plus_one_from
from spanscope.analyzer.engine import connect
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
    """Input statistics, endpoints and N+1 findings of a span table or of dump files."""
    loaded = read_spans(source, input_format=input_format, strict=strict)
    spans = loaded.table
    with connect({}) as con:
        prepare(con, spans)
        endpoint_stats = endpoints_from(con)
        findings = n_plus_one_from(con, min_repeats)
    stats = InputStats(
        files=len(loaded.files),
        spans=spans.num_rows,
        traces=pc.count_distinct(spans.column("TraceId")).as_py() if spans.num_rows else 0,
        skipped_records=loaded.diagnostics.skipped_records,
    )
    return AnalysisReport(
        spanscope_version=spanscope_version(),
        input=stats,
        endpoints=endpoint_stats,
        n_plus_one=findings,
        min_repeats=min_repeats,
        diagnostics=loaded.diagnostics,
    )
