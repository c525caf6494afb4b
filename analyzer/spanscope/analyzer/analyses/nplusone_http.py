"""N+1 backend calls: the same HTTP call (method + parameterized URL) made again and
again in one request, e.g. one ``GET /users/{id}`` per row.

Two levels, as for SQL (:mod:`spanscope.analyzer.analyses.nplusone`), and no call is
counted at both:

``parent``
    At least ``min_repeats`` calls under one parent span.  Interleaved spans and
    calls that overlap in time (async) still form a group: grouping is by parent,
    not adjacency.
``request``
    The calls left over, grouped by request: at least ``min_repeats`` of them spread
    over several parents -- the loop body is its own span (a template render, a
    task, a ``with tracer.start_as_current_span(...)`` per row).  The finding names
    the most common parent span.

A nested N+1 (a loop of calls inside a loop of calls) is found at each level at
which it repeats, and groups are merged per (endpoint, call, parent span name,
level) into one finding with ``repeats`` from the worst request.

A client span directly under another HTTP client span is the same call seen by a
lower library (``requests`` over ``urllib3``, a retry wrapper): only the outer span
counts, or every wrapped call would be found a second time at request level.

URLs come from ``url.full`` / ``http.url``, else the path (``url.path`` /
``http.target``), else the span name.  Parameterizing replaces every path segment
and query value that is a number, a UUID or a hex string of 8+ digits with ``{id}``
-- with Arrow's vectorized RE2 over the whole column, never per span in Python.
``wasted_ms`` is the union of the calls minus one call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as _compute
from spanscope.analyzer.analyses.inputs import SpansOrPaths, prepare_spans
from spanscope.analyzer.analyses.nplusone import (
    DEFAULT_MIN_REPEATS,
    LEVELS,
    check_min_repeats,
    two_level_groups,
)
from spanscope.analyzer.engine import Int64s, connect, dense_key, group_summary, table_of, to_numpy
from spanscope.analyzer.report import HttpNPlusOneFinding
from spanscope.analyzer.requests import LAYER_CODE, Prepared

pc: Any = _compute

_URL_ATTRIBUTES: Final = ("url.full", "http.url")
ID: Final = "{id}"
_ID_PATTERN: Final = (
    r"(?:[0-9]+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{8,})"
)
# A match consumes the separator after it, so a second pass catches ``/1/2``.
_REWRITES: Final = (
    (r"/" + _ID_PATTERN + r"(/|\?|#|;|$)", r"/" + ID + r"\1"),
    (r"([?&][^=&#]*=)" + _ID_PATTERN + r"(&|#|$)", r"\1" + ID + r"\2"),
)

_KEY: Final = "endpoint, method, url, parent, level"

_FINDINGS_SQL: Final = f"""
    WITH
    request_parents AS (
        -- request level: the parent span most of the group's calls run under
        SELECT gid, parent_name FROM (
            SELECT gid, parent_name, count(*) AS c FROM spread GROUP BY ALL
        )
        QUALIFY row_number() OVER (PARTITION BY gid ORDER BY c DESC, parent_name) = 1
    ),
    scored AS (
        SELECT g.* EXCLUDE (parent_name), r.endpoint, r.TraceId,
            coalesce(p.parent_name, g.parent_name) AS parent
        FROM groups AS g
        JOIN requests AS r USING (request_id)
        LEFT JOIN request_parents AS p USING (gid)
    )
    SELECT {_KEY},
        CAST(max(n) AS BIGINT) AS repeats,
        CAST(count(DISTINCT request_id) AS BIGINT) AS requests,
        sum(wasted_ns) / 1e6 AS wasted_ms,
        first(TraceId ORDER BY n DESC, wasted_ns DESC, TraceId) AS example_trace_id
    FROM scored
    GROUP BY ALL
    ORDER BY wasted_ms DESC, repeats DESC, endpoint, url, level, method, parent NULLS LAST
"""


def parameterize_urls(urls: Any) -> Any:
    """``/users/42/orders?page=3`` -> ``/users/{id}/orders?page={id}`` for a whole column."""
    for pattern, replacement in _REWRITES:
        for _ in range(2):
            urls = pc.replace_substring_regex(urls, pattern, replacement)
    return urls


def _urls(prepared: Prepared, rows: Int64s) -> Any:
    view = prepared.tree.view
    attributes = view.column("SpanAttributes").take(rows)
    candidates = [pc.map_lookup(attributes, key, "first") for key in _URL_ATTRIBUTES]
    candidates.append(view.column("http_target").take(rows))
    candidates.append(view.column("SpanName").take(rows))
    return pc.coalesce(*candidates)


def _call_rows(prepared: Prepared) -> Int64s:
    """HTTP client spans in a request, except those wrapped by another HTTP span."""
    tree = prepared.tree
    is_http = tree.layer == LAYER_CODE["http"]
    parent = tree.parent
    wrapped = np.zeros(len(is_http), dtype=np.bool_)
    has_parent = parent >= 0
    wrapped[has_parent] = is_http[parent[has_parent]]
    rows: Int64s = np.flatnonzero(is_http & ~wrapped & (tree.request >= 0))
    return rows


@dataclass(frozen=True)
class HttpGroups:
    """The HTTP N+1 groups of some requests, before they are merged into findings."""

    groups: pa.Table  # gid, level, request_id, method, url, parent_name, n, wasted_ns
    spread: pa.Table  # gid, parent_name: one row per request-level member


def n_plus_one_http_from(
    prepared: Prepared, min_repeats: int = DEFAULT_MIN_REPEATS
) -> list[HttpNPlusOneFinding]:
    """HTTP N+1 findings of a prepared span set, by wasted time (see the module docstring)."""
    check_min_repeats(min_repeats)
    found = http_groups(prepared, min_repeats)
    if found is None:
        return []
    return http_findings(found, prepared.requests)


def http_groups(prepared: Prepared, min_repeats: int) -> HttpGroups | None:
    """The HTTP N+1 groups of ``prepared`` (None: there are none), request ids those of
    its request table."""
    tree = prepared.tree
    rows = _call_rows(prepared)
    if not rows.size:
        return None
    # The regexes run once per distinct URL: a loop calls the same few URLs (or
    # the same id space) many times over.
    encoded = pc.dictionary_encode(_urls(prepared, rows))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.unify_dictionaries().combine_chunks()
    urls = pc.take(parameterize_urls(encoded.dictionary), encoded.indices)
    methods = pc.fill_null(tree.view.column("http_method").take(rows), "")
    call = pc.binary_join_element_wise(methods, pc.fill_null(urls, ""), " ")
    if isinstance(call, pa.ChunkedArray):
        call = call.combine_chunks()  # one dictionary for every chunk
    call_id = to_numpy(pc.dictionary_encode(call).indices, np.int64)
    request = tree.request[rows]
    members, gid, level = two_level_groups(
        dense_key(tree.parent[rows], call_id),
        lambda left: dense_key(request[left], call_id[left]),
        min_repeats,
    )
    if not members.size:
        return None
    member_rows = rows[members]
    names = tree.view.column("SpanName")
    summary = group_summary(gid, tree.start[member_rows], tree.end[member_rows])
    first = members[summary.first]
    first_level = level[summary.first]
    spread = level == 1  # request-level members: their parents' names are voted on
    groups = table_of(
        {
            "gid": np.arange(len(summary.size), dtype=np.int64),
            "level": pa.array(np.array(LEVELS)[first_level], pa.string()),
            "request_id": tree.request[rows[first]],
            "method": pc.take(methods, pa.array(first)),
            "url": pc.take(urls, pa.array(first)),
            "parent_name": pc.if_else(
                pa.array(first_level == 0), names.take(tree.parent[rows[first]]), None
            ),
            "n": summary.size,
            "wasted_ns": summary.wasted_ns,
        }
    )
    spread_table = table_of(
        {"gid": gid[spread], "parent_name": names.take(tree.parent[member_rows[spread]])}
    )
    return HttpGroups(groups, spread_table)


def http_findings(found: HttpGroups, requests: pa.Table) -> list[HttpNPlusOneFinding]:
    """The findings of ``found``, whose request ids are rows of ``requests`` (a request
    table: ``request_id``, ``endpoint``, ``TraceId``), by wasted time."""
    tables = {
        "groups": found.groups,
        "spread": found.spread,
        "requests": requests.select(["request_id", "endpoint", "TraceId"]),
    }
    with connect(tables) as con:
        rows = con.sql(_FINDINGS_SQL).to_arrow_table().to_pylist()
    return [HttpNPlusOneFinding(**row) for row in rows]


def n_plus_one_http(
    spans: SpansOrPaths, min_repeats: int = DEFAULT_MIN_REPEATS
) -> list[HttpNPlusOneFinding]:
    """HTTP N+1 findings sorted by wasted time, descending (see the module docstring)."""
    return n_plus_one_http_from(prepare_spans(spans), min_repeats)
