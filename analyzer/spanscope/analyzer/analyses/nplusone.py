"""N+1 queries: the same statement template run again and again under one parent span.

A group is (request, parent span, normalized statement) with at least
``min_repeats`` DB spans.  No duration threshold: a local SQLite N+1 is fast and
still an N+1.  Other spans interleaved between the repeats, or repeats that
overlap in time (async), do not break a group, because grouping is by parent and
template, not by adjacency.

Groups are then merged per (endpoint, template, parent span name) into one
finding; see :class:`spanscope.analyzer.report.NPlusOneFinding` for the fields.
"""

from __future__ import annotations

from typing import Any, Final

import duckdb
import pyarrow as pa
from spanscope.analyzer.analyses.inputs import SpansOrPaths, read_spans
from spanscope.analyzer.engine import connect, interval_union_sql
from spanscope.analyzer.errors import UsageError
from spanscope.analyzer.report import CodeLocation, NPlusOneFinding
from spanscope.analyzer.requests import prepare
from spanscope.analyzer.sqlnorm import normalize_many

DEFAULT_MIN_REPEATS: Final = 5

# relation kind -> the QuerySet method that loads that relation up front
_FIX_BY_RELATION_KIND: Final = {
    "forward_fk": "select_related",
    "one_to_one": "select_related",
    "reverse_one_to_one": "prefetch_related",
    "reverse_fk": "prefetch_related",
    "many_to_many": "prefetch_related",
    "generic": "prefetch_related",
}

_DB_SPANS_SQL: Final = """
    CREATE TEMP TABLE db_spans AS
    SELECT d.TraceId, o.RequestSpanId, d.SpanId, d.ParentSpanId, d.start_ns,
        d.start_ns + d.Duration AS end_ns, d.Duration, d.db_system, d.db_statement,
        d.code_filepath, d.code_lineno, d.code_function,
        d.orm_relation, d.orm_relation_kind, d.orm_lookup
    FROM spans AS d
    JOIN span_owner AS o ON o.TraceId = d.TraceId AND o.SpanId = d.SpanId
    WHERE d.layer = 'db' AND d.db_statement IS NOT NULL
"""

_GROUP_KEYS: Final = ("TraceId", "RequestSpanId", "ParentSpanId", "template")

_GROUPS_SQL: Final = f"""
    CREATE TEMP TABLE nplus_members AS
    WITH templated AS (
        SELECT d.*, n.template
        FROM db_spans AS d
        JOIN statement_templates AS n
            ON n.db_statement = d.db_statement
            AND n.db_system IS NOT DISTINCT FROM d.db_system
    )
    SELECT *, count(*) OVER (PARTITION BY {", ".join(_GROUP_KEYS)}) AS group_size
    FROM templated
    QUALIFY group_size >= $min_repeats
"""

_FINDINGS_SQL: Final = f"""
    WITH
    groups AS (
        SELECT {", ".join(_GROUP_KEYS)}, count(*) AS n, avg(Duration) AS mean_ns
        FROM nplus_members
        GROUP BY ALL
    ),
    covered AS (
        {interval_union_sql("(SELECT *, start_ns AS s, end_ns AS e FROM nplus_members)", _GROUP_KEYS)}
    ),
    scored AS (
        SELECT g.*, r.endpoint, coalesce(p.SpanName, '') AS parent,
            c.covered_ns - g.mean_ns AS wasted_ns
        FROM groups AS g
        JOIN covered AS c USING ({", ".join(_GROUP_KEYS)})
        JOIN requests AS r ON r.TraceId = g.TraceId AND r.SpanId = g.RequestSpanId
        LEFT JOIN spans AS p ON p.TraceId = g.TraceId AND p.SpanId = g.ParentSpanId
    ),
    findings AS (
        SELECT endpoint, template, parent,
            CAST(max(n) AS BIGINT) AS repeats,
            CAST(count(DISTINCT (TraceId, RequestSpanId)) AS BIGINT) AS requests,
            sum(wasted_ns) / 1e6 AS wasted_ms,
            first(TraceId ORDER BY n DESC, wasted_ns DESC, TraceId) AS example_trace_id
        FROM scored
        GROUP BY ALL
    ),
    members AS (
        SELECT s.endpoint, s.template, s.parent, m.*
        FROM nplus_members AS m
        JOIN scored AS s USING ({", ".join(_GROUP_KEYS)})
    ),
    code AS (
        SELECT endpoint, template, parent, code_filepath, code_lineno, code_function
        FROM members
        WHERE code_filepath IS NOT NULL
        GROUP BY endpoint, template, parent, code_filepath, code_lineno, code_function
        QUALIFY row_number() OVER (
            PARTITION BY endpoint, template, parent
            ORDER BY count(*) DESC, code_filepath, code_lineno, code_function
        ) = 1
    ),
    relation AS (
        SELECT endpoint, template, parent, orm_relation, orm_relation_kind, orm_lookup
        FROM members
        WHERE orm_relation IS NOT NULL
        GROUP BY endpoint, template, parent, orm_relation, orm_relation_kind, orm_lookup
        QUALIFY row_number() OVER (
            PARTITION BY endpoint, template, parent
            ORDER BY count(*) DESC, orm_relation, orm_relation_kind, orm_lookup
        ) = 1
    )
    SELECT f.*, c.code_filepath, c.code_lineno, c.code_function,
        r.orm_relation, r.orm_relation_kind, r.orm_lookup
    FROM findings AS f
    LEFT JOIN code AS c USING (endpoint, template, parent)
    LEFT JOIN relation AS r USING (endpoint, template, parent)
    ORDER BY wasted_ms DESC, repeats DESC, endpoint, template
"""


def suggestion(relation_kind: str | None, lookup: str | None) -> str | None:
    """The QuerySet call that removes the N+1, e.g. ``select_related("author")``."""
    method = _FIX_BY_RELATION_KIND.get(relation_kind or "")
    if method is None or not lookup:
        return None
    return f'{method}("{lookup}")'


def _register_templates(con: duckdb.DuckDBPyConnection) -> None:
    """Normalize each distinct (db_system, statement) once and register the mapping."""
    distinct = con.sql("SELECT DISTINCT db_system, db_statement FROM db_spans").to_arrow_table()
    systems = distinct.column("db_system").to_pylist()
    statements = distinct.column("db_statement").to_pylist()
    templates = normalize_many(statements, systems)
    con.register(
        "statement_templates",
        pa.table(
            {
                "db_system": pa.array(systems, pa.string()),
                "db_statement": pa.array(statements, pa.string()),
                "template": pa.array(templates, pa.string()),
            }
        ),
    )


def _finding(row: dict[str, Any]) -> NPlusOneFinding:
    code = None
    if row["code_filepath"] is not None:
        code = CodeLocation(row["code_filepath"], row["code_lineno"], row["code_function"])
    return NPlusOneFinding(
        endpoint=row["endpoint"],
        statement=row["template"],
        parent=row["parent"] or None,
        repeats=row["repeats"],
        requests=row["requests"],
        wasted_ms=row["wasted_ms"],
        example_trace_id=row["example_trace_id"],
        code=code,
        relation=row["orm_relation"],
        relation_kind=row["orm_relation_kind"],
        lookup=row["orm_lookup"],
        suggestion=suggestion(row["orm_relation_kind"], row["orm_lookup"]),
    )


def n_plus_one_from(
    con: duckdb.DuckDBPyConnection, min_repeats: int = DEFAULT_MIN_REPEATS
) -> list[NPlusOneFinding]:
    """N+1 findings of a connection prepared by :func:`spanscope.analyzer.requests.prepare`."""
    if min_repeats < 2:
        raise UsageError(
            f"min_repeats must be at least 2, got {min_repeats}",
            "a statement repeated once is not an N+1; use 5 (the default) or more",
        )
    con.execute(_DB_SPANS_SQL)
    _register_templates(con)
    con.execute(_GROUPS_SQL, {"min_repeats": min_repeats})
    rows = con.sql(_FINDINGS_SQL).to_arrow_table().to_pylist()
    return [_finding(row) for row in rows]


def n_plus_one(
    spans: SpansOrPaths, min_repeats: int = DEFAULT_MIN_REPEATS
) -> list[NPlusOneFinding]:
    """N+1 findings sorted by wasted time, descending (see the module docstring)."""
    with connect({}) as con:
        prepare(con, read_spans(spans).table)
        return n_plus_one_from(con, min_repeats)
