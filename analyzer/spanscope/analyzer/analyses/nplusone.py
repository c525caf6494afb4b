"""N+1 queries: the same statement template run again and again in one request.

Two levels, and no span is counted at both:

``parent``
    At least ``min_repeats`` DB spans with the same template under one parent span
    (the view, a template render, a loop's own span).  Other spans interleaved
    between the repeats, or repeats that overlap in time (async), do not break a
    group: grouping is by parent and template, not by adjacency.
``request``
    The DB spans left over (those in no parent-level group), grouped by request and
    template: at least ``min_repeats`` of them spread over several parents -- the
    loop body is its own span, e.g. one ``{% include %}`` render per row.  The
    finding names the most common parent span.

A nested N+1 (a loop of queries inside a loop of queries) is found at each level at
which it repeats: each inner loop under its own span is a parent-level group, and
the outer loop is a group of its own template.

Groups are then merged per (endpoint, template, parent span name, level) into one
finding; see :class:`spanscope.analyzer.report.NPlusOneFinding` for the fields.
No duration threshold: a local SQLite N+1 is fast and still an N+1.  Repeats with
identical parameters count toward a group like any other; the duplicates analysis
(:mod:`spanscope.analyzer.analyses.duplicates`) lists those separately.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as _compute
from spanscope.analyzer.analyses.inputs import SpansOrPaths, prepare_spans
from spanscope.analyzer.analyses.statement_keys import (
    SITE_COLUMNS,
    StatementKeys,
    StatementSites,
    site_counts,
)
from spanscope.analyzer.analyses.statements import DbSpans, db_spans
from spanscope.analyzer.engine import (
    Int64s,
    connect,
    dense_key,
    group_summary,
    renumber,
    table_of,
)
from spanscope.analyzer.errors import UsageError
from spanscope.analyzer.report import CodeLocation, NPlusOneFinding
from spanscope.analyzer.requests import Prepared

pc: Any = _compute

DEFAULT_MIN_REPEATS: Final = 5
LEVELS: Final = ("parent", "request")

# relation kind -> the QuerySet method that loads that relation up front
_FIX_BY_RELATION_KIND: Final = {
    "forward_fk": "select_related",
    "one_to_one": "select_related",
    "reverse_one_to_one": "prefetch_related",
    "reverse_fk": "prefetch_related",
    "many_to_many": "prefetch_related",
    "generic": "prefetch_related",
}

_MEMBER_COLUMNS: Final = SITE_COLUMNS

_KEY: Final = "endpoint, template, parent, level"

# How many members of each group ran at each site.  Without site keys, ``members`` is
# the whole span table: DuckDB filters and counts it in place, so the strings of a
# million repeats are never copied out; with them, the counts arrive ready.
_COUNTED_IN_PLACE: Final = f"""
        SELECT gid, {", ".join(_MEMBER_COLUMNS)}, count(*) AS c
        FROM members
        WHERE gid >= 0
        GROUP BY ALL
"""
_COUNTED_AHEAD: Final = "SELECT * FROM counted"

_FINDINGS_SQL: Final = f"""
    WITH
    member_counts AS ({{member_counts}}),
    request_parents AS (
        SELECT gid, parent_name FROM (
            SELECT gid, parent_name, sum(c) AS c FROM spread GROUP BY ALL
        )
        QUALIFY row_number() OVER (PARTITION BY gid ORDER BY c DESC, parent_name) = 1
    ),
    scored AS (
        SELECT g.*, t.template,
            coalesce(p.parent_name, g.parent_name, '') AS parent
        FROM groups AS g
        JOIN templates AS t USING (template_id)
        LEFT JOIN request_parents AS p USING (gid)
    ),
    findings AS (
        SELECT {_KEY},
            CAST(max(n) AS BIGINT) AS repeats,
            CAST(count(DISTINCT request_id) AS BIGINT) AS requests,
            sum(wasted_ns) / 1e6 AS wasted_ms,
            first(TraceId ORDER BY n DESC, wasted_ns DESC, TraceId) AS example_trace_id
        FROM scored
        GROUP BY ALL
    ),
    located AS (
        SELECT s.endpoint, s.template, s.parent, s.level, m.*
        FROM member_counts AS m
        JOIN scored AS s USING (gid)
    ),
    code AS (
        SELECT {_KEY}, code_filepath, code_lineno, code_function
        FROM located
        WHERE code_filepath IS NOT NULL
        GROUP BY {_KEY}, code_filepath, code_lineno, code_function
        QUALIFY row_number() OVER (
            PARTITION BY {_KEY}
            ORDER BY sum(c) DESC, code_filepath, code_lineno, code_function
        ) = 1
    ),
    relation AS (
        SELECT {_KEY}, orm_relation, orm_relation_kind, orm_lookup
        FROM located
        WHERE orm_relation IS NOT NULL
        GROUP BY {_KEY}, orm_relation, orm_relation_kind, orm_lookup
        QUALIFY row_number() OVER (
            PARTITION BY {_KEY}
            ORDER BY sum(c) DESC, orm_relation, orm_relation_kind, orm_lookup
        ) = 1
    )
    SELECT f.*, c.code_filepath, c.code_lineno, c.code_function,
        r.orm_relation, r.orm_relation_kind, r.orm_lookup
    FROM findings AS f
    LEFT JOIN code AS c USING ({_KEY})
    LEFT JOIN relation AS r USING ({_KEY})
    ORDER BY wasted_ms DESC, repeats DESC, endpoint, template, level, parent
"""


def suggestion(relation_kind: str | None, lookup: str | None) -> str | None:
    """The QuerySet call that removes the N+1, e.g. ``select_related("author")``."""
    method = _FIX_BY_RELATION_KIND.get(relation_kind or "")
    if method is None or not lookup:
        return None
    return f'{method}("{lookup}")'


def check_min_repeats(min_repeats: int) -> None:
    if min_repeats < 2:
        raise UsageError(
            f"min_repeats must be at least 2, got {min_repeats}",
            "a statement repeated once is not an N+1; use 5 (the default) or more",
        )


def repeat_groups(keys: tuple[Int64s, ...], min_size: int) -> tuple[Int64s, Int64s]:
    """Rows whose key tuple occurs at least ``min_size`` times, and a dense group id per row."""
    if not len(keys[0]):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return repeat_groups_of(dense_key(*keys), min_size)


def repeat_groups_of(key: Int64s, min_size: int) -> tuple[Int64s, Int64s]:
    """:func:`repeat_groups` of rows already keyed (any non-negative ids): the group ids
    are numbered in order of first appearance, as :func:`dense_key` numbers them."""
    if not len(key):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    counts = np.bincount(key)
    # Compared per key, then looked up per row: a bool per row, not a count per row.
    rows = np.flatnonzero((counts >= min_size)[key])
    return rows, renumber(key[rows], len(counts))


def two_level_groups(
    parent_key: Int64s, request_key_of: Callable[[Int64s], Int64s], min_repeats: int
) -> tuple[Int64s, Int64s, Int64s]:
    """(member index, dense group id, level code: 0 parent, 1 request) of every repeat.

    ``parent_key`` keys each member by (parent span, what repeats); the members left
    over once parent-level groups are taken are keyed by ``request_key_of(left)``
    (request, what repeats) and grouped again, so no span counts at both levels.
    Shared by the SQL and the HTTP detectors.
    """
    in_parent, parent_gid = repeat_groups_of(parent_key, min_repeats)
    rest = np.ones(len(parent_key), dtype=np.bool_)
    rest[in_parent] = False
    left = np.flatnonzero(rest)
    in_request, request_gid = repeat_groups_of(request_key_of(left), min_repeats)
    offset = int(parent_gid.max()) + 1 if parent_gid.size else 0
    members = np.concatenate([in_parent, left[in_request]])
    gid = np.concatenate([parent_gid, request_gid + offset])
    level = np.concatenate(
        [np.zeros(len(in_parent), dtype=np.int64), np.ones(len(in_request), dtype=np.int64)]
    )
    return members, gid, level


def _groups(
    prepared: Prepared, statements: DbSpans, min_repeats: int, keys: StatementKeys | None
) -> tuple[Int64s, Int64s, Int64s]:
    """(member index into ``statements``, group id, level code) of every N+1 member."""
    tree = prepared.tree
    template = statements.template
    if keys is not None:  # a prepared file stored both keys
        stored = keys
        return two_level_groups(
            stored.parent_template, lambda left: stored.request_template[left], min_repeats
        )
    return two_level_groups(
        dense_key(tree.parent[statements.rows], template),
        lambda left: dense_key(tree.request[statements.rows[left]], template[left]),
        min_repeats,
    )


def n_plus_one_from(
    prepared: Prepared,
    statements: DbSpans,
    min_repeats: int = DEFAULT_MIN_REPEATS,
    keys: StatementKeys | None = None,
) -> list[NPlusOneFinding]:
    """N+1 findings of a prepared span set (see the module docstring); ``keys``: the
    statements' group keys when already known (a prepared file)."""
    check_min_repeats(min_repeats)
    members, gid, level = _groups(prepared, statements, min_repeats, keys)
    if not members.size:
        return []
    tree = prepared.tree
    rows = statements.rows[members]
    names = tree.view.column("SpanName")
    summary = group_summary(gid, tree.start[rows], tree.end[rows])
    first_rows = rows[summary.first]
    parent_level = level[summary.first] == 0
    spread = level == 1  # request-level members: their parents' names are voted on
    groups = table_of(
        {
            "gid": np.arange(len(summary.size), dtype=np.int64),
            "level": pa.array(np.array(LEVELS)[level[summary.first]], pa.string()),
            "request_id": tree.request[first_rows],
            "template_id": statements.template[members[summary.first]],
            "parent_name": pc.if_else(
                pa.array(parent_level), _names(names, tree.parent[first_rows]), None
            ),
            "n": summary.size,
            "wasted_ns": summary.wasted_ns,
        }
    )
    counted = keys is not None and keys.sites is not None
    if keys is not None and keys.sites is not None:
        sites = _site_counts(gid, keys.sites, members)
    else:
        gid_of_row = np.full(tree.view.num_rows, -1, dtype=np.int64)
        gid_of_row[rows] = gid
        sites = tree.view.select(list(_MEMBER_COLUMNS)).append_column("gid", pa.array(gid_of_row))
    spread_rows = rows[spread]
    spread_table = table_of(
        {
            "gid": gid[spread],
            "parent_name": _names(names, tree.parent[spread_rows]),
            "c": np.ones(len(spread_rows), dtype=np.int64),
        }
    )
    return n_plus_one_findings(
        groups,
        spread_table,
        prepared.requests,
        statements.template_table(),
        sites,
        counted=counted,
    )


def n_plus_one_findings(
    groups: pa.Table,
    spread: pa.Table,
    requests: pa.Table,
    templates: pa.Table,
    sites: pa.Table,
    *,
    counted: bool = True,
) -> list[NPlusOneFinding]:
    """The findings of N+1 ``groups`` (``gid``, ``level``, ``request_id``,
    ``template_id``, ``parent_name``, ``n``, ``wasted_ns``).

    ``spread``: (``gid``, ``parent_name``, ``c``), the parent names of request-level
    groups' members and how many ran under each; ``sites``: (``gid``, the site
    columns, ``c``), how many members of each group ran at each site -- or, with
    ``counted=False``, the span view's site columns with each member's ``gid`` (-1
    for the other spans), counted in place.
    """
    if groups.num_rows == 0:
        return []
    tables = {
        "counted" if counted else "members": sites,
        "spread": spread,
        "groups": of_requests(groups, requests),
        "templates": templates,
    }
    sql = _FINDINGS_SQL.format(member_counts=_COUNTED_AHEAD if counted else _COUNTED_IN_PLACE)
    with connect(tables) as con:
        found = con.sql(sql).to_arrow_table().to_pylist()
    return [_finding(row) for row in found]


def of_requests(groups: pa.Table, requests: pa.Table) -> pa.Table:
    """``groups`` with the ``endpoint`` and ``TraceId`` of each group's request, looked
    up by row (``request_id`` is the request table's row number): no join in SQL."""
    picks: Any = groups.column("request_id")  # the stubs type it as booleans
    return groups.append_column("endpoint", requests.column("endpoint").take(picks)).append_column(
        "TraceId", requests.column("TraceId").take(picks)
    )


def _site_counts(gid: Int64s, sites: StatementSites, members: Int64s) -> pa.Table:
    """(gid, the site's columns, c): how many members of each group ran at each site."""
    return located_counts(site_counts(gid, sites.site[members], sites.sites.num_rows), sites.sites)


def located_counts(counts: pa.Table, sites: pa.Table) -> pa.Table:
    """``counts`` (``gid``, ``site``, ``c``) with each site id replaced by its values
    (``sites``, row ``i`` site ``i``)."""
    located = sites.take(counts.column("site"))
    return located.add_column(0, "gid", counts.column("gid")).append_column("c", counts.column("c"))


def _names(names: Any, rows: Int64s) -> Any:
    """The span names of ``rows`` as plain strings (a prepared file's view holds them
    dictionary-encoded)."""
    return pc.cast(names.take(rows), pa.string())


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
        level=row["level"],
    )


def n_plus_one(
    spans: SpansOrPaths, min_repeats: int = DEFAULT_MIN_REPEATS
) -> list[NPlusOneFinding]:
    """N+1 findings sorted by wasted time, descending (see the module docstring)."""
    check_min_repeats(min_repeats)
    prepared = prepare_spans(spans)
    return n_plus_one_from(prepared, db_spans(prepared), min_repeats)
