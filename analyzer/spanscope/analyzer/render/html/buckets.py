"""Latency percentiles over time: p50/p90/p95 per endpoint and time bucket.

Computed in SQL over the request table, so the page receives one small row per
(endpoint, bucket) whatever the number of requests.  The bucket width is a
"nice" interval chosen so a chart never has more than :data:`MAX_AUTO_BUCKETS`
points; empty buckets are left out and the chart shows them as gaps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

import duckdb
from spanscope.analyzer.errors import UsageError
from spanscope.analyzer.render.html.sql import rows
from spanscope.analyzer.render.html.values import ms

MAX_AUTO_BUCKETS: Final = 120
#: An explicit ``--interval`` may ask for finer charts, up to this many buckets.
MAX_BUCKETS: Final = 1000
#: Bucket widths (seconds) a human reads at a glance on a time axis.
NICE_INTERVALS_S: Final = (
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
)  # fmt: skip

_SERIES_SQL: Final = """
    SELECT endpoint,
        CAST((start_ns - $t0) // $width AS BIGINT) AS bucket,
        CAST(count(*) AS BIGINT) AS n,
        quantile_cont(duration_ms, [0.5, 0.9, 0.95]) AS q
    FROM requests
    WHERE endpoint IN (SELECT unnest($endpoints))
    GROUP BY ALL
    ORDER BY endpoint, bucket
"""

_ALL_SQL: Final = """
    SELECT CAST((start_ns - $t0) // $width AS BIGINT) AS bucket,
        CAST(count(*) AS BIGINT) AS n,
        quantile_cont(duration_ms, [0.5, 0.9, 0.95]) AS q
    FROM requests
    GROUP BY ALL
    ORDER BY bucket
"""

#: The key of the series over every request, beside the endpoint names.
ALL_REQUESTS: Final = "All requests"


def auto_interval_s(span_s: float) -> int:
    """The smallest nice interval giving at most :data:`MAX_AUTO_BUCKETS` buckets."""
    for interval in NICE_INTERVALS_S:
        if span_s / interval < MAX_AUTO_BUCKETS:
            return interval
    days = math.ceil(span_s / MAX_AUTO_BUCKETS / 86400)
    return days * 86400


def check_interval(interval_s: float, span_s: float) -> None:
    if interval_s <= 0:
        raise UsageError(
            f"the bucket interval must be positive, got {interval_s:g} s",
            "pass --interval 60 for one-minute buckets, or leave it out to choose one",
        )
    if span_s / interval_s >= MAX_BUCKETS:
        raise UsageError(
            f"an interval of {interval_s:g} s cuts {span_s:.0f} s of requests into more "
            f"than {MAX_BUCKETS} buckets",
            f"use --interval {auto_interval_s(span_s)} or leave it out",
        )


def _series(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {
        "bucket": [row["bucket"] for row in rows],
        "count": [row["n"] for row in rows],
        "p50": [ms(row["q"][0]) for row in rows],
        "p90": [ms(row["q"][1]) for row in rows],
        "p95": [ms(row["q"][2]) for row in rows],
    }


def percentile_series(
    con: duckdb.DuckDBPyConnection, endpoints: Sequence[str], interval_s: float | None
) -> dict[str, Any] | None:
    """``{"interval_s", "start_ms", "buckets", "series": {name: columns}}`` or ``None``
    when there are no requests.

    ``start_ms`` is the epoch time of bucket 0; ``series`` holds
    :data:`ALL_REQUESTS` and each endpoint in ``endpoints``, as parallel lists
    ``bucket``, ``count``, ``p50``, ``p90``, ``p95`` (non-empty buckets only).
    """
    bounds = rows(con, "SELECT min(start_ns) AS first, max(start_ns) AS last FROM requests")[0]
    first, last = bounds["first"], bounds["last"]
    if first is None or last is None:
        return None
    span_s = (last - first) / 1e9
    if interval_s is None:
        interval_s = auto_interval_s(span_s)
    else:
        check_interval(interval_s, span_s)
    width = max(1, round(interval_s * 1e9))
    # Align bucket 0 on a multiple of the width (1-minute buckets start on the minute).
    t0 = first - first % width
    params = {"t0": t0, "width": width}
    series = {ALL_REQUESTS: _series(rows(con, _ALL_SQL, params))}
    by_endpoint: dict[str, list[dict[str, Any]]] = {name: [] for name in endpoints}
    for row in rows(con, _SERIES_SQL, {**params, "endpoints": list(endpoints)}):
        by_endpoint[row["endpoint"]].append(row)
    series.update({name: _series(items) for name, items in by_endpoint.items()})
    return {
        "interval_s": interval_s,
        "start_ms": t0 // 1_000_000,
        "buckets": (last - t0) // width + 1,
        "series": series,
    }
