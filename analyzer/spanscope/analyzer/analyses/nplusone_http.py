"""N+1 backend calls: the same HTTP call (method + parameterized URL) made at least
``min_repeats`` times under one parent span, e.g. one ``GET /users/{id}`` per row.

URLs come from ``url.full`` / ``http.url``, else the path (``url.path`` /
``http.target``), else the span name.  Parameterizing replaces every path segment
and query value that is a number, a UUID or a hex string of 8+ digits with ``{id}``
-- with Arrow's vectorized RE2 over the whole column, never per span in Python.
As for SQL, interleaved and overlapping calls still form a group (grouping is by
parent, not adjacency), and ``wasted_ms`` is the union of the calls minus one call.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as _compute
from spanscope.analyzer.analyses.inputs import SpansOrPaths, read_spans
from spanscope.analyzer.analyses.nplusone import (
    DEFAULT_MIN_REPEATS,
    check_min_repeats,
    repeat_groups,
)
from spanscope.analyzer.engine import Int64s, connect, group_summary, table_of, to_numpy
from spanscope.analyzer.report import HttpNPlusOneFinding
from spanscope.analyzer.requests import LAYER_CODE, Prepared, prepare

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

_FINDINGS_SQL: Final = """
    WITH scored AS (
        SELECT g.*, r.endpoint, r.TraceId
        FROM groups AS g
        JOIN requests AS r USING (request_id)
    )
    SELECT endpoint, method, url, parent,
        CAST(max(n) AS BIGINT) AS repeats,
        CAST(count(DISTINCT request_id) AS BIGINT) AS requests,
        sum(wasted_ns) / 1e6 AS wasted_ms,
        first(TraceId ORDER BY n DESC, wasted_ns DESC, TraceId) AS example_trace_id
    FROM scored
    GROUP BY ALL
    ORDER BY wasted_ms DESC, repeats DESC, endpoint, url
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


def n_plus_one_http_from(
    prepared: Prepared, min_repeats: int = DEFAULT_MIN_REPEATS
) -> list[HttpNPlusOneFinding]:
    """HTTP N+1 findings of a prepared span set, by wasted time."""
    check_min_repeats(min_repeats)
    tree = prepared.tree
    rows = np.flatnonzero((tree.layer == LAYER_CODE["http"]) & (tree.request >= 0))
    if not rows.size:
        return []
    urls = parameterize_urls(_urls(prepared, rows))
    methods = pc.fill_null(tree.view.column("http_method").take(rows), "")
    call = pc.binary_join_element_wise(methods, pc.fill_null(urls, ""), " ")
    if isinstance(call, pa.ChunkedArray):
        call = call.combine_chunks()  # one dictionary for every chunk
    call_id = to_numpy(pc.dictionary_encode(call).indices, np.int64)
    members, gid = repeat_groups((tree.parent[rows], call_id), min_repeats)
    if not members.size:
        return []
    member_rows = rows[members]
    summary = group_summary(gid, tree.start[member_rows], tree.end[member_rows])
    first = members[summary.first]
    groups = table_of(
        {
            "request_id": tree.request[rows[first]],
            "method": pc.take(methods, pa.array(first)),
            "url": pc.take(urls, pa.array(first)),
            "parent": tree.view.column("SpanName").take(tree.parent[rows[first]]),
            "n": summary.size,
            "wasted_ns": summary.wasted_ns,
        }
    )
    tables = {
        "groups": groups,
        "requests": prepared.requests.select(["request_id", "endpoint", "TraceId"]),
    }
    with connect(tables) as con:
        found = con.sql(_FINDINGS_SQL).to_arrow_table().to_pylist()
    return [HttpNPlusOneFinding(**row) for row in found]


def n_plus_one_http(
    spans: SpansOrPaths, min_repeats: int = DEFAULT_MIN_REPEATS
) -> list[HttpNPlusOneFinding]:
    """HTTP N+1 findings sorted by wasted time, descending (see the module docstring)."""
    return n_plus_one_http_from(prepare(read_spans(spans).table), min_repeats)
