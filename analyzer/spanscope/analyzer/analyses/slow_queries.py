"""Slow statements: per normalized statement, how often it ran and how long it took.

Count, total, mean, exact p95 and max of the statement's own durations (ms) over
every request that ran it, with the endpoints that spent the most time in it; the
top :data:`TOP_STATEMENTS` by total time.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pyarrow.compute as _compute
from spanscope.analyzer.analyses.inputs import SpansOrPaths, prepare_spans
from spanscope.analyzer.analyses.statements import DbSpans, db_spans
from spanscope.analyzer.engine import connect, table_of, to_numpy
from spanscope.analyzer.report import SlowStatement
from spanscope.analyzer.requests import Prepared

pc: Any = _compute

TOP_STATEMENTS: Final = 20
#: Endpoints listed per statement, those that spent the most time in it first.
TOP_ENDPOINTS: Final = 10

_SLOW_SQL: Final = f"""
    WITH
    per_statement AS (
        SELECT template_id,
            CAST(count(*) AS BIGINT) AS count,
            sum(ms) AS total_ms,
            avg(ms) AS mean_ms,
            quantile_cont(ms, 0.95) AS p95_ms,
            max(ms) AS max_ms
        FROM queries
        GROUP BY template_id
        ORDER BY total_ms DESC, template_id
        LIMIT {TOP_STATEMENTS}
    ),
    per_endpoint AS (
        -- Each query carries its endpoint's id: summed per id, then named, with no
        -- join of a million queries against the request table.
        SELECT p.template_id, e.endpoint, p.spent
        FROM (
            SELECT q.template_id, q.endpoint_id, sum(q.ms) AS spent
            FROM queries AS q
            SEMI JOIN per_statement AS s ON s.template_id = q.template_id
            GROUP BY ALL
        ) AS p
        JOIN endpoints AS e USING (endpoint_id)
    ),
    listed AS (
        SELECT template_id, list(endpoint ORDER BY spent DESC, endpoint) AS endpoints
        FROM (
            SELECT * FROM per_endpoint
            QUALIFY row_number() OVER (
                PARTITION BY template_id ORDER BY spent DESC, endpoint
            ) <= {TOP_ENDPOINTS}
        )
        GROUP BY template_id
    )
    SELECT t.template AS statement, s.count, s.total_ms, s.mean_ms, s.p95_ms, s.max_ms,
        coalesce(l.endpoints, []) AS endpoints
    FROM per_statement AS s
    JOIN templates AS t USING (template_id)
    LEFT JOIN listed AS l USING (template_id)
    ORDER BY s.total_ms DESC, statement
"""


def slow_queries_from(prepared: Prepared, statements: DbSpans) -> list[SlowStatement]:
    """The slowest statements (by total time) of a prepared span set."""
    if not len(statements):
        return []
    tree = prepared.tree
    duration = to_numpy(tree.view.column("Duration"), np.int64)[statements.rows]
    endpoint = prepared.requests.column("endpoint").combine_chunks()
    encoded = pc.dictionary_encode(endpoint, null_encoding="encode")
    endpoint_of_request = to_numpy(encoded.indices, np.int64)
    queries = table_of(
        {
            "template_id": statements.template,
            "endpoint_id": endpoint_of_request[tree.request[statements.rows]],
            "ms": duration / 1e6,
        }
    )
    endpoints = table_of(
        {
            "endpoint_id": np.arange(len(encoded.dictionary), dtype=np.int64),
            "endpoint": encoded.dictionary,
        }
    )
    tables = {
        "queries": queries,
        "endpoints": endpoints,
        "templates": statements.template_table(),
    }
    with connect(tables) as con:
        found = con.sql(_SLOW_SQL).to_arrow_table().to_pylist()
    return [_statement(row) for row in found]


def _statement(row: dict[str, Any]) -> SlowStatement:
    row["endpoints"] = tuple(row["endpoints"])
    return SlowStatement(**row)


def slow_queries(spans: SpansOrPaths) -> list[SlowStatement]:
    """The top statements by total time, with count, mean, p95, max and endpoints."""
    prepared = prepare_spans(spans)
    return slow_queries_from(prepared, db_spans(prepared))
