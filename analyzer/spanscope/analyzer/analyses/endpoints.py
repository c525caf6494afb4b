"""Endpoints ranked by total time: latency percentiles and the DB/app split per request."""

from __future__ import annotations

from typing import Final

from spanscope.analyzer.analyses.inputs import SpansOrPaths, read_spans
from spanscope.analyzer.engine import connect
from spanscope.analyzer.report import EndpointsResult, EndpointStats
from spanscope.analyzer.requests import Prepared, prepare

# Exact percentiles (quantile_cont interpolates like numpy's default "linear").
_ENDPOINTS_SQL: Final = """
    SELECT endpoint,
        CAST(count(*) AS BIGINT) AS requests,
        CAST(count(*) FILTER (WHERE error) AS BIGINT) AS errors,
        avg(duration_ms) AS mean_ms,
        quantile_cont(duration_ms, 0.50) AS p50_ms,
        quantile_cont(duration_ms, 0.90) AS p90_ms,
        quantile_cont(duration_ms, 0.95) AS p95_ms,
        quantile_cont(duration_ms, 0.99) AS p99_ms,
        max(duration_ms) AS max_ms,
        sum(duration_ms) AS total_ms,
        avg(db_ms) AS db_ms,
        avg(app_ms) AS app_ms,
        avg(queries) AS queries_per_request
    FROM requests
    GROUP BY endpoint
    ORDER BY total_ms DESC, endpoint
"""


def endpoints_from(prepared: Prepared) -> EndpointsResult:
    """Endpoints of a span set prepared by :func:`spanscope.analyzer.requests.prepare`."""
    with connect({"requests": prepared.requests}) as con:
        rows = con.sql(_ENDPOINTS_SQL).to_arrow_table().to_pylist()
    return EndpointsResult(tuple(EndpointStats(**row) for row in rows))


def endpoints(spans: SpansOrPaths) -> EndpointsResult:
    """Per endpoint: requests, errors, mean/p50/p90/p95/p99/max/total ms, mean DB and
    app ms per request, queries per request; sorted by total time, descending."""
    return endpoints_from(prepare(read_spans(spans).table))
