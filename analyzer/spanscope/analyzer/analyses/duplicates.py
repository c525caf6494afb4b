"""Exact duplicate queries: the same statement with the same parameters, twice or more
in one request (django-debug-toolbar's "duplicated"; an N+1 runs one template with
*different* parameters, so the two are reported separately).

Parameters are known equal when both spans carry the same ``db_params_hash``
(``spanscope.db.params_hash``), or, without a hash, when the statement holds its
values inline (no placeholders) and the texts are identical.  A parameterized
statement without a hash is never called a duplicate: equal text says nothing
about its parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as _compute
from spanscope.analyzer.analyses.inputs import SpansOrPaths, prepare_spans
from spanscope.analyzer.analyses.nplusone import of_requests, repeat_groups, repeat_groups_of
from spanscope.analyzer.analyses.statement_keys import (
    StatementKeys,
    StatementSites,
    parameter_identity,
    site_counts,
)
from spanscope.analyzer.analyses.statements import DbSpans, db_spans
from spanscope.analyzer.engine import Int64s, connect, group_summary, table_of
from spanscope.analyzer.report import CodeLocation, DuplicateFinding
from spanscope.analyzer.requests import Prepared, SpanTree

pc: Any = _compute

_FINDINGS_SQL: Final = """
    WITH
    scored AS (
        SELECT g.*, t.template
        FROM groups AS g
        JOIN templates AS t USING (template_id)
    ),
    findings AS (
        SELECT endpoint, template,
            CAST(max(n) AS BIGINT) AS copies,
            CAST(count(DISTINCT request_id) AS BIGINT) AS requests,
            sum(wasted_ns) / 1e6 AS wasted_ms,
            first(TraceId ORDER BY n DESC, wasted_ns DESC, TraceId) AS example_trace_id
        FROM scored
        GROUP BY ALL
    ),
    code AS (
        SELECT s.endpoint, s.template, m.code_filepath, m.code_lineno, m.code_function
        FROM members AS m
        JOIN scored AS s USING (gid)
        WHERE m.code_filepath IS NOT NULL
        GROUP BY s.endpoint, s.template, m.code_filepath, m.code_lineno, m.code_function
        QUALIFY row_number() OVER (
            PARTITION BY s.endpoint, s.template
            ORDER BY sum(m.c) DESC, m.code_filepath, m.code_lineno, m.code_function
        ) = 1
    )
    SELECT f.*, c.code_filepath, c.code_lineno, c.code_function
    FROM findings AS f
    LEFT JOIN code AS c USING (endpoint, template)
    ORDER BY wasted_ms DESC, copies DESC, endpoint, template
"""


#: The columns of a duplicate's code location.
CODE_COLUMNS: Final = ("code_filepath", "code_lineno", "code_function")


@dataclass(frozen=True)
class DuplicateGroups:
    """Every group of duplicates (ids 0..n-1 in order of first appearance) and where
    its members ran."""

    groups: pa.Table  # gid, request_id, template_id, n, wasted_ns
    sites: pa.Table  # gid, site, c: how many members of each group ran at each site


def duplicate_groups(
    tree: SpanTree, statements: DbSpans, keys: StatementKeys, sites: StatementSites
) -> DuplicateGroups:
    """The duplicate groups of ``statements`` keyed by ``keys.duplicate``; ``sites``:
    the statements' sites.  ``spanscope convert`` stores these (they depend on no
    option)."""
    known = np.flatnonzero(keys.duplicate >= 0)
    in_group, gid = repeat_groups_of(keys.duplicate[known], 2)
    members = known[in_group]
    groups = _groups(tree, statements, members, gid)
    return DuplicateGroups(groups, site_counts(gid, sites.site[members], sites.sites.num_rows))


def _groups(tree: SpanTree, statements: DbSpans, members: Int64s, gid: Int64s) -> pa.Table:
    """The :attr:`DuplicateGroups.groups` of ``members`` (statement indices) grouped by
    ``gid``."""
    rows = statements.rows[members]
    summary = group_summary(gid, tree.start[rows], tree.end[rows])
    return table_of(
        {
            "gid": np.arange(len(summary.size), dtype=np.int64),
            "request_id": tree.request[rows[summary.first]],
            "template_id": statements.template[members[summary.first]],
            "n": summary.size,
            "wasted_ns": summary.wasted_ns,
        }
    )


def duplicates_from(
    prepared: Prepared, statements: DbSpans, keys: StatementKeys | None = None
) -> list[DuplicateFinding]:
    """Duplicate findings of a prepared span set, by wasted time (see the module docstring).

    ``keys``: the statements' group keys when already known (a prepared file).
    """
    if not len(statements):
        return []
    tree = prepared.tree
    if keys is None:
        identity = parameter_identity(prepared, statements)
        known = np.flatnonzero(identity >= 0)
        request = tree.request[statements.rows[known]]
        in_group, gid = repeat_groups((request, statements.template[known], identity[known]), 2)
    else:
        known = np.flatnonzero(keys.duplicate >= 0)
        in_group, gid = repeat_groups_of(keys.duplicate[known], 2)
    if not in_group.size:
        return []
    members = known[in_group]
    groups = _groups(tree, statements, members, gid)
    if keys is not None and keys.sites is not None:
        picks: Any = pa.array(keys.sites.site[members])  # the stubs type it as booleans
        code = keys.sites.sites.select(list(CODE_COLUMNS)).take(picks)
    else:
        code = tree.view.select(list(CODE_COLUMNS)).take(statements.rows[members])
    code = code.append_column("gid", pa.array(gid)).append_column(
        "c", pa.array(np.ones(len(gid), dtype=np.int64))
    )
    return duplicate_findings(groups, code, prepared.requests, statements.template_table())


def duplicate_findings(
    groups: pa.Table, code: pa.Table, requests: pa.Table, templates: pa.Table
) -> list[DuplicateFinding]:
    """The findings of duplicate ``groups`` (see :class:`DuplicateGroups`); ``code``:
    ``gid``, :data:`CODE_COLUMNS` and ``c``, how many members ran there."""
    if groups.num_rows == 0:
        return []
    tables = {
        "groups": of_requests(groups, requests),
        "members": code,
        "templates": templates,
    }
    with connect(tables) as con:
        found = con.sql(_FINDINGS_SQL).to_arrow_table().to_pylist()
    return [_finding(row) for row in found]


def _finding(row: dict[str, Any]) -> DuplicateFinding:
    code = None
    if row["code_filepath"] is not None:
        code = CodeLocation(row["code_filepath"], row["code_lineno"], row["code_function"])
    return DuplicateFinding(
        endpoint=row["endpoint"],
        statement=row["template"],
        copies=row["copies"],
        requests=row["requests"],
        wasted_ms=row["wasted_ms"],
        example_trace_id=row["example_trace_id"],
        code=code,
    )


def duplicates(spans: SpansOrPaths) -> list[DuplicateFinding]:
    """Exact duplicate queries per endpoint, sorted by wasted time, descending."""
    prepared = prepare_spans(spans)
    return duplicates_from(prepared, db_spans(prepared))
