"""The request table: one row per request (a SpanKind Server span).

Every other span belongs to its nearest Server ancestor in the same trace.  The
ancestors are resolved set-wise (a recursive CTE that advances every unresolved
span one parent per step) rather than by walking each span in Python; the walk
stops at a Server span, at a root, at a missing parent (orphan), or after
:data:`MAX_DEPTH` steps, which also ends any parent cycle.

Columns of :func:`request_table`:

========================  ===========================================================
``TraceId``, ``SpanId``   the server span
``endpoint``              ``"GET books/"``: method + route, else a span name that
                          already reads ``"METHOD route"``, else ``"GET (no route)"``;
                          non-HTTP server spans use their span name
``start``                 timestamp[ns, UTC]
``duration_ms``           the server span's duration
``http_status_code``      int32, null when not recorded
``error``                 HTTP status >= 500 or StatusCode ``Error``
``db_ms``                 union of the DB descendants' intervals (concurrent queries
                          count once), clipped to the request
``app_ms``                duration minus the union of *all* descendants' intervals
``queries``               number of DB descendants
========================  ===========================================================
"""

from __future__ import annotations

from typing import Final

import duckdb
import pyarrow as pa
from spanscope.analyzer.engine import connect, interval_union_sql, span_view

#: Deeper ancestor chains are treated as broken (no request owns the span).
MAX_DEPTH: Final = 128

_ENDPOINT_SQL: Final = """
    CASE
        WHEN http_route IS NOT NULL AND http_route <> '' AND http_method IS NOT NULL
            THEN http_method || ' ' || http_route
        WHEN contains(SpanName, ' ') THEN SpanName
        WHEN http_route IS NOT NULL AND http_route <> '' THEN http_route
        WHEN http_method IS NOT NULL THEN http_method || ' (no route)'
        ELSE SpanName
    END
"""

_OWNER_SQL: Final = f"""
    CREATE TEMP TABLE span_owner AS
    WITH RECURSIVE
    walk(TraceId, SpanId, ptr, depth) AS (
        SELECT TraceId, SpanId, ParentSpanId, 1
        FROM spans
        WHERE SpanKind <> 'Server' AND ParentSpanId <> ''
        UNION ALL
        SELECT w.TraceId, w.SpanId, p.ParentSpanId, w.depth + 1
        FROM walk AS w
        JOIN spans AS p ON p.TraceId = w.TraceId AND p.SpanId = w.ptr
        WHERE p.SpanKind <> 'Server' AND p.ParentSpanId <> '' AND w.depth < {MAX_DEPTH}
    )
    SELECT w.TraceId, w.SpanId, w.ptr AS RequestSpanId
    FROM walk AS w
    JOIN spans AS r ON r.TraceId = w.TraceId AND r.SpanId = w.ptr AND r.SpanKind = 'Server'
    QUALIFY row_number() OVER (PARTITION BY w.TraceId, w.SpanId ORDER BY w.depth) = 1
"""

# Unions are partitioned by a small integer request id rather than the two id
# strings: on 1 M spans that makes the window sorts several times cheaper.
_REQUEST_KEYS: Final = ("rid",)
# Descendant intervals are clipped to the request first, so a child that outlives
# its parent (clock skew, fire-and-forget work) never makes app time negative.
_ALL_COVERED_SQL: Final = interval_union_sql(
    "(SELECT rid, s, e FROM descendants WHERE e > s)", _REQUEST_KEYS
)
_DB_COVERED_SQL: Final = interval_union_sql(
    "(SELECT rid, s, e FROM descendants WHERE e > s AND layer = 'db')", _REQUEST_KEYS
)

_REQUESTS_SQL: Final = f"""
    CREATE TEMP TABLE requests AS
    WITH
    servers AS (
        SELECT row_number() OVER (ORDER BY start_ns, TraceId, SpanId) AS rid,
            TraceId, SpanId, start_ns, Duration, start_ns + Duration AS end_ns,
            http_status_code, StatusCode, {_ENDPOINT_SQL} AS endpoint
        FROM spans
        WHERE SpanKind = 'Server'
    ),
    descendants AS MATERIALIZED (
        SELECT r.rid, d.layer,
            greatest(d.start_ns, r.start_ns) AS s,
            least(d.start_ns + d.Duration, r.end_ns) AS e
        FROM span_owner AS o
        JOIN spans AS d ON d.TraceId = o.TraceId AND d.SpanId = o.SpanId
        JOIN servers AS r ON r.TraceId = o.TraceId AND r.SpanId = o.RequestSpanId
    ),
    covered AS ({_ALL_COVERED_SQL}),
    db_covered AS ({_DB_COVERED_SQL}),
    query_counts AS (
        SELECT rid, count(*) AS queries FROM descendants WHERE layer = 'db' GROUP BY rid
    )
    SELECT r.TraceId, r.SpanId, r.endpoint, r.start_ns,
        r.Duration / 1e6 AS duration_ms,
        r.http_status_code,
        coalesce(r.http_status_code >= 500, false) OR r.StatusCode = 'Error' AS error,
        coalesce(db.covered_ns, 0) / 1e6 AS db_ms,
        (r.Duration - coalesce(c.covered_ns, 0)) / 1e6 AS app_ms,
        CAST(coalesce(q.queries, 0) AS BIGINT) AS queries
    FROM servers AS r
    LEFT JOIN covered AS c USING (rid)
    LEFT JOIN db_covered AS db USING (rid)
    LEFT JOIN query_counts AS q USING (rid)
    ORDER BY r.rid
"""


def prepare(con: duckdb.DuckDBPyConnection, spans: pa.Table) -> None:
    """Register ``spans`` (as the analysis view) and build ``span_owner`` and ``requests``.

    ``span_owner(TraceId, SpanId, RequestSpanId)`` maps every span below a request
    to that request; ``requests`` is the request table with ``start_ns`` (int64).
    """
    con.register("spans", span_view(spans))
    con.execute(_OWNER_SQL)
    con.execute(_REQUESTS_SQL)


def fetch_request_table(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """The ``requests`` table of a prepared connection, ``start`` as a UTC timestamp."""
    table: pa.Table = con.sql("SELECT * FROM requests").to_arrow_table()
    index = table.schema.get_field_index("start_ns")
    start = table.column(index).cast(pa.timestamp("ns", tz="UTC"))
    return table.set_column(index, "start", start)


def request_table(spans: pa.Table) -> pa.Table:
    """One row per request; see the module docstring for the columns."""
    with connect({}) as con:
        prepare(con, spans)
        return fetch_request_table(con)
