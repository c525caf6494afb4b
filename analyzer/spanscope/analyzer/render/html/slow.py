"""Slow queries: the statement templates that cost the most, with where they run.

Each distinct statement is normalized once (:func:`normalize_many`) and joined
back, as the N+1 detector does.  A template is *slow* when one execution took
at least :data:`SLOW_QUERY_MS` (Sentry's slow-DB-query threshold); the section
lists the templates with the largest total time, slow ones flagged, so a
statement that is fast but runs a million times is not hidden either.
"""

from __future__ import annotations

from typing import Any, Final

import duckdb
import pyarrow as pa
from spanscope.analyzer.render.html.sql import rows
from spanscope.analyzer.render.html.values import clip, ms
from spanscope.analyzer.sqlnorm import normalize_many

SLOW_QUERY_MS: Final = 500.0
STATEMENT_CHARS: Final = 600

_DISTINCT_SQL: Final = """
    SELECT DISTINCT db_system, db_statement
    FROM statement_spans
    WHERE layer = 'db' AND db_statement IS NOT NULL
"""

_TEMPLATES_SQL: Final = """
    WITH
    db AS (
        SELECT t.template, s.Duration / 1e6 AS ms, s.code_filepath, s.code_lineno,
            s.code_function, r.endpoint
        FROM statement_spans AS s
        JOIN report_statement_templates AS t
            ON t.db_statement = s.db_statement AND t.db_system IS NOT DISTINCT FROM s.db_system
        LEFT JOIN requests AS r ON r.request_id = s.request_id
        WHERE s.layer = 'db'
    ),
    stats AS (
        SELECT template, CAST(count(*) AS BIGINT) AS calls, sum(ms) AS total_ms,
            avg(ms) AS mean_ms, quantile_cont(ms, 0.95) AS p95_ms, max(ms) AS max_ms
        FROM db
        GROUP BY template
        ORDER BY total_ms DESC, template
        LIMIT $limit
    ),
    code AS (
        SELECT template, code_filepath, code_lineno, code_function
        FROM db
        WHERE code_filepath IS NOT NULL AND template IN (SELECT template FROM stats)
        GROUP BY template, code_filepath, code_lineno, code_function
        QUALIFY row_number() OVER (
            PARTITION BY template ORDER BY count(*) DESC, code_filepath, code_lineno
        ) = 1
    ),
    endpoints AS (
        SELECT template, list(endpoint ORDER BY n DESC, endpoint)[1:3] AS endpoints
        FROM (
            SELECT template, endpoint, count(*) AS n
            FROM db
            WHERE endpoint IS NOT NULL AND template IN (SELECT template FROM stats)
            GROUP BY ALL
        )
        GROUP BY template
    )
    SELECT s.*, c.code_filepath, c.code_lineno, c.code_function, e.endpoints
    FROM stats AS s
    LEFT JOIN code AS c USING (template)
    LEFT JOIN endpoints AS e USING (template)
    ORDER BY s.total_ms DESC, s.template
"""


def _register_templates(con: duckdb.DuckDBPyConnection) -> None:
    distinct = con.sql(_DISTINCT_SQL).to_arrow_table()
    systems = distinct.column("db_system").to_pylist()
    statements = distinct.column("db_statement").to_pylist()
    con.register(
        "report_statement_templates",
        pa.table(
            {
                "db_system": pa.array(systems, pa.string()),
                "db_statement": pa.array(statements, pa.string()),
                "template": pa.array(normalize_many(statements, systems), pa.string()),
            }
        ),
    )


def _fix(row: dict[str, Any]) -> str | None:
    if row["max_ms"] < SLOW_QUERY_MS:
        return None
    return "run EXPLAIN ANALYZE on it: a missing index or a full scan is the usual cause"


def top_statements(con: duckdb.DuckDBPyConnection, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` templates by total time: calls, total/mean/p95/max ms, ``slow``,
    the most common code location and the (up to 3) endpoints running it most."""
    _register_templates(con)
    found = rows(con, _TEMPLATES_SQL, {"limit": limit})
    return [
        {
            "statement": clip(row["template"], STATEMENT_CHARS),
            "calls": row["calls"],
            "total_ms": ms(row["total_ms"]),
            "mean_ms": ms(row["mean_ms"]),
            "p95_ms": ms(row["p95_ms"]),
            "max_ms": ms(row["max_ms"]),
            "slow": row["max_ms"] >= SLOW_QUERY_MS,
            "code": _code(row),
            "endpoints": row["endpoints"] or [],
            "fix": _fix(row),
        }
        for row in found
    ]


def _code(row: dict[str, Any]) -> dict[str, Any] | None:
    if row["code_filepath"] is None:
        return None
    return {
        "file": row["code_filepath"],
        "line": row["code_lineno"],
        "function": row["code_function"],
    }
