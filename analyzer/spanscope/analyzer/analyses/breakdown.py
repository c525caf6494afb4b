"""Breakdown: where requests spend their time, by layer, per endpoint and overall.

Layers are ``app`` (the request span's own time), ``db``, ``cache``, ``template``,
``http`` (external calls) and ``other`` (client calls to unknown systems, messaging,
custom internal spans).  Each span contributes its *self time*: its duration minus
the union of its children's intervals, every span first clipped into its parent
(see :mod:`spanscope.analyzer.requests`).  Concurrent children are therefore never
subtracted twice from their parent.  Siblings that run at the same time each count
their own self time, as in Elastic APM's breakdown; without such concurrency the six
layers add up to the request's duration.
"""

from __future__ import annotations

from typing import Final

from spanscope.analyzer.analyses.inputs import SpansOrPaths, prepare_spans
from spanscope.analyzer.engine import connect
from spanscope.analyzer.report import ALL_ENDPOINTS, Breakdown, BreakdownRow
from spanscope.analyzer.requests import CHILD_LAYERS, Prepared

_MEANS: Final = ",\n        ".join(
    [f"avg({layer}_self_ms) AS {layer}_ms" for layer in CHILD_LAYERS]
    + [f"avg(CAST({layer}_calls AS DOUBLE)) AS {layer}_calls" for layer in CHILD_LAYERS]
)

_BREAKDOWN_SQL: Final = f"""
    SELECT
        CASE WHEN grouping(endpoint) = 1 THEN NULL ELSE endpoint END AS endpoint,
        CAST(count(*) AS BIGINT) AS requests,
        avg(duration_ms) AS duration_ms,
        avg(app_ms) AS app_ms,
        {_MEANS}
    FROM requests
    GROUP BY GROUPING SETS ((endpoint), ())
    ORDER BY grouping(endpoint) DESC, sum(duration_ms) DESC, endpoint
"""


def breakdown_from(prepared: Prepared) -> Breakdown:
    """The breakdown of a span set prepared by :func:`spanscope.analyzer.requests.prepare`."""
    if prepared.requests.num_rows == 0:
        return Breakdown(None, ())
    with connect({"requests": prepared.requests}) as con:
        found = con.sql(_BREAKDOWN_SQL).to_arrow_table().to_pylist()
    overall, *per_endpoint = found
    overall["endpoint"] = ALL_ENDPOINTS
    return Breakdown(BreakdownRow(**overall), tuple(BreakdownRow(**row) for row in per_endpoint))


def breakdown(spans: SpansOrPaths) -> Breakdown:
    """Mean self time (ms) and calls per request by layer, overall and per endpoint."""
    return breakdown_from(prepare_spans(spans))
