"""Endpoints ranked by total time: latency percentiles and the DB/app split per request."""

from __future__ import annotations

import math
from typing import Final

import pyarrow as pa
from spanscope.analyzer.analyses.grouping import DEFAULT_GROUP_BY, regroup
from spanscope.analyzer.analyses.inputs import SpansOrPaths, prepare_spans
from spanscope.analyzer.engine import connect
from spanscope.analyzer.errors import UsageError
from spanscope.analyzer.report import EndpointsResult, EndpointStats
from spanscope.analyzer.requests import Prepared

#: Apdex target T in ms when none is given (the common 0.5 s default of APM tools).
DEFAULT_APDEX_MS: Final = 500.0

# Exact percentiles (quantile_cont interpolates like numpy's default "linear").
# Apdex (apdex.org): satisfied <= T < tolerating <= 4T < frustrated; a failed request
# counts as frustrated however fast it failed, as APM tools count it, because a quick
# 500 satisfies nobody.
_ENDPOINTS_SQL: Final = """
    SELECT endpoint,
        CAST(count(*) AS BIGINT) AS requests,
        CAST(count(*) FILTER (WHERE error) AS BIGINT) AS errors,
        count(*) FILTER (WHERE error) / count(*) AS error_rate,
        CAST(count(*) FILTER (WHERE NOT error AND duration_ms <= $t) AS BIGINT) AS satisfied,
        CAST(count(*) FILTER (WHERE NOT error AND duration_ms > $t AND duration_ms <= 4 * $t)
            AS BIGINT) AS tolerating,
        CAST(count(*) FILTER (WHERE error OR duration_ms > 4 * $t) AS BIGINT) AS frustrated,
        (count(*) FILTER (WHERE NOT error AND duration_ms <= $t)
            + count(*) FILTER (WHERE NOT error AND duration_ms > $t AND duration_ms <= 4 * $t)
            / 2) / count(*) AS apdex,
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


def check_apdex_ms(apdex_ms: float) -> None:
    if not (apdex_ms > 0 and math.isfinite(apdex_ms)):
        raise UsageError(
            f"apdex target {apdex_ms!r} ms is not a positive number of milliseconds",
            "pass the response time users are satisfied with, e.g. 500",
        )


def endpoints_from(prepared: Prepared, apdex_ms: float = DEFAULT_APDEX_MS) -> EndpointsResult:
    """Endpoints of a span set prepared by :func:`spanscope.analyzer.requests.prepare`."""
    return endpoints_of(prepared.requests, apdex_ms)


def endpoints_of(requests: pa.Table, apdex_ms: float = DEFAULT_APDEX_MS) -> EndpointsResult:
    """Endpoints of a request table (:attr:`spanscope.analyzer.requests.Prepared.requests`)."""
    check_apdex_ms(apdex_ms)
    with connect({"requests": requests}) as con:
        rows = con.sql(_ENDPOINTS_SQL, params={"t": apdex_ms}).to_arrow_table().to_pylist()
    return EndpointsResult(tuple(EndpointStats(**row) for row in rows))


def endpoints(
    spans: SpansOrPaths,
    *,
    group_by: str = DEFAULT_GROUP_BY,
    apdex_ms: float = DEFAULT_APDEX_MS,
) -> EndpointsResult:
    """Per endpoint (keyed as ``group_by`` says: route, url or name): requests, errors
    and error rate, Apdex against ``apdex_ms``, mean/p50/p90/p95/p99/max/total ms, mean
    DB and app ms per request, queries per request; sorted by total time, descending."""
    prepared = regroup(prepare_spans(spans), group_by)
    return endpoints_from(prepared, apdex_ms)
