"""``analyze``: every analysis of ``spanscope analyze`` over one span table, in one pass.

The span tree and the request table are resolved once and the DB statements
normalized once (:mod:`.analysis_input`; for a prepared Parquet file, read from its
stored columns); every analysis then reads those.
"""

from __future__ import annotations

import dataclasses

from spanscope.analyzer.analyses.analysis_input import (
    AnalysisInput,
    RollupInput,
    SpilledInput,
    analysis_input,
)
from spanscope.analyzer.analyses.breakdown import breakdown_from
from spanscope.analyzer.analyses.duplicates import duplicates_from
from spanscope.analyzer.analyses.endpoints import DEFAULT_APDEX_MS, check_apdex_ms, endpoints_from
from spanscope.analyzer.analyses.grouping import DEFAULT_GROUP_BY, check_group_by, regroup
from spanscope.analyzer.analyses.inputs import SpansOrPaths
from spanscope.analyzer.analyses.nplusone import (
    DEFAULT_MIN_REPEATS,
    check_min_repeats,
    n_plus_one_from,
)
from spanscope.analyzer.analyses.nplusone_http import n_plus_one_http_from
from spanscope.analyzer.analyses.partitioned import (
    DEFAULT_MEMORY_SPANS,
    check_memory_spans,
    partitioned_results,
)
from spanscope.analyzer.analyses.rollup_report import Results, rollup_results
from spanscope.analyzer.analyses.slow_queries import slow_queries_from
from spanscope.analyzer.analyses.threads import analysis_pool
from spanscope.analyzer.engine import open_database_early
from spanscope.analyzer.report import AnalysisReport, InputStats
from spanscope.analyzer.requests import without_span_ids
from spanscope.analyzer.version import spanscope_version

__all__ = ["analyze", "spanscope_version"]


def analyze(
    source: SpansOrPaths,
    *,
    min_repeats: int = DEFAULT_MIN_REPEATS,
    input_format: str | None = None,
    strict: bool = False,
    group_by: str = DEFAULT_GROUP_BY,
    apdex_ms: float = DEFAULT_APDEX_MS,
    memory_spans: int | None = DEFAULT_MEMORY_SPANS,
) -> AnalysisReport:
    """Input statistics, endpoints, breakdown and findings of a span table or of dump files.

    ``group_by`` keys requests into endpoints (``route``, ``url`` or ``name``, see
    :mod:`spanscope.analyzer.analyses.grouping`); ``apdex_ms`` is the Apdex target T.
    Dumps of more than ``memory_spans`` spans are analysed that many spans at a time
    (:mod:`.partitioned`; None: all at once, in memory).
    """
    check_min_repeats(min_repeats)
    if memory_spans is not None:
        check_memory_spans(memory_spans)
    check_group_by(group_by)
    check_apdex_ms(apdex_ms)
    # Every analysis path queries DuckDB at the end: import it and open its database
    # on another core while the input is read.
    open_database_early()
    # Only the columns the analyses read (a file's attribute maps are never built), or
    # a prepared Parquet file's rollups, or its stored span tree, requests and templates.
    loaded = analysis_input(
        source,
        input_format=input_format,
        strict=strict,
        group_by=group_by,
        memory_spans=memory_spans,
    )
    if isinstance(loaded, SpilledInput):
        try:
            spilled = partitioned_results(
                loaded.read,
                memory_spans=loaded.memory_spans,
                min_repeats=min_repeats,
                group_by=group_by,
                apdex_ms=apdex_ms,
            )
        finally:
            loaded.read.close()
        results, diagnostics = spilled.results, loaded.read.diagnostics
        stats = InputStats(
            len(loaded.read.files), spilled.spans, spilled.traces, diagnostics.skipped_records
        )
    else:
        if isinstance(loaded, RollupInput):
            results = rollup_results(
                loaded.rollups, min_repeats=min_repeats, group_by=group_by, apdex_ms=apdex_ms
            )
        else:
            # Rebound, not copied: the span ids go once the input no longer holds them.
            loaded = dataclasses.replace(loaded, prepared=without_span_ids(loaded.prepared))
            results = _span_results(loaded, min_repeats, group_by, apdex_ms)
        diagnostics = loaded.diagnostics
        stats = InputStats(
            len(loaded.files), loaded.spans, loaded.traces, diagnostics.skipped_records
        )
    return AnalysisReport(
        spanscope_version=spanscope_version(),
        input=stats,
        endpoints=results.endpoints,
        n_plus_one=results.n_plus_one,
        min_repeats=min_repeats,
        diagnostics=diagnostics,
        breakdown=results.breakdown,
        duplicates=results.duplicates,
        slow_queries=results.slow_queries,
        n_plus_one_http=results.n_plus_one_http,
        group_by=group_by,
        apdex_ms=apdex_ms,
    )


def _span_results(
    loaded: AnalysisInput, min_repeats: int, group_by: str, apdex_ms: float
) -> Results:
    prepared = regroup(loaded.prepared, group_by)
    statements = loaded.statements
    # The analyses only read the prepared input, and their work is Arrow, NumPy and
    # DuckDB calls that release the GIL: on a second core the N+1 analysis (the
    # longest, ~half of the total) runs beside the light ones.  The slow-statement
    # summary waits for it: each of the two holds ~50-120 MB per GB of input for a
    # moment, and side by side they made the analysis's peak RSS (~90 MB more).
    with analysis_pool() as pool:
        n_plus_one = pool.submit(n_plus_one_from, prepared, statements, min_repeats, loaded.keys)
        endpoints = pool.submit(endpoints_from, prepared, apdex_ms)
        breakdown = pool.submit(breakdown_from, prepared)
        duplicates = pool.submit(duplicates_from, prepared, statements, loaded.keys)
        n_plus_one_http = pool.submit(n_plus_one_http_from, prepared, min_repeats)
        n_plus_one_found = n_plus_one.result()
        slow_queries = pool.submit(slow_queries_from, prepared, statements)
        return Results(
            endpoints=endpoints.result(),
            n_plus_one=n_plus_one_found,
            breakdown=breakdown.result(),
            duplicates=duplicates.result(),
            slow_queries=slow_queries.result(),
            n_plus_one_http=n_plus_one_http.result(),
        )
