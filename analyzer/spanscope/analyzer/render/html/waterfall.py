"""A representative slow trace per endpoint, as waterfall rows.

The representative is the request whose duration is closest to its endpoint's
p95: slow enough to show the problem, typical enough not to be a one-off
outlier.  Its spans (the server span and every span it owns) are listed in
tree order -- each parent followed by its children by start time -- with their
depth, offset from the request start and duration.  Only the first
``max_spans`` spans by start time are kept; the rest are counted as ``more``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Final

import duckdb
from spanscope.analyzer.render.html.sql import rows
from spanscope.analyzer.render.html.values import clip, ms

NAME_CHARS: Final = 160
DETAIL_CHARS: Final = 400

_PICK_SQL: Final = """
    CREATE OR REPLACE TEMP TABLE report_representatives AS
    WITH p95 AS (
        SELECT endpoint, quantile_cont(duration_ms, 0.95) AS p95_ms
        FROM requests
        WHERE endpoint IN (SELECT unnest($endpoints))
        GROUP BY endpoint
    )
    SELECT r.endpoint, r.request_id, r.TraceId, r.SpanId, r.start_ns, r.duration_ms, p.p95_ms
    FROM requests AS r
    JOIN p95 AS p USING (endpoint)
    QUALIFY row_number() OVER (
        PARTITION BY r.endpoint ORDER BY abs(r.duration_ms - p.p95_ms), r.TraceId, r.SpanId
    ) = 1
"""

_SPANS_SQL: Final = """
    WITH members AS (
        SELECT k.endpoint, s.SpanId, s.SpanId = k.SpanId AS is_root, s.ParentSpanId,
            s.start_ns - k.start_ns AS offset_ns, s.Duration, s.SpanName, s.layer,
            s.StatusCode, s.db_statement, s.code_filepath, s.code_lineno
        FROM report_representatives AS k
        JOIN spans AS s ON s.request_id = k.request_id
    )
    SELECT *, count(*) OVER (PARTITION BY endpoint) AS total
    FROM members
    QUALIFY row_number() OVER (
        PARTITION BY endpoint ORDER BY NOT is_root, offset_ns, SpanId
    ) <= $max_spans
    ORDER BY endpoint, offset_ns, SpanId
"""


def _detail(row: dict[str, Any]) -> str | None:
    parts = []
    if row["db_statement"]:
        parts.append(row["db_statement"])
    if row["code_filepath"]:
        line = row["code_lineno"]
        parts.append(f"{row['code_filepath']}:{line}" if line is not None else row["code_filepath"])
    return clip("\n".join(parts), DETAIL_CHARS) if parts else None


class _StringTable:
    def __init__(self) -> None:
        self.values: list[str] = []
        self._index: dict[str, int] = {}

    def index(self, text: str | None) -> int:
        if text is None:
            return -1
        found = self._index.get(text)
        if found is None:
            found = self._index[text] = len(self.values)
            self.values.append(text)
        return found


def _tree_order(rows: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """(depth, row) in depth-first order; a span whose parent was cut off (or is
    missing) hangs under the root so nothing kept is lost."""
    kept = {row["SpanId"] for row in rows}
    root = next(row for row in rows if row["is_root"])
    children: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row is root:
            continue
        parent = row["ParentSpanId"] if row["ParentSpanId"] in kept else root["SpanId"]
        children[parent].append(row)
    ordered: list[tuple[int, dict[str, Any]]] = []
    # An explicit stack, not recursion: a deep ORM call chain must not hit the
    # interpreter's recursion limit.
    stack: list[tuple[int, dict[str, Any]]] = [(0, root)]
    seen: set[str] = set()
    while stack:
        depth, row = stack.pop()
        if row["SpanId"] in seen:  # duplicated ids must not loop
            continue
        seen.add(row["SpanId"])
        ordered.append((depth, row))
        for child in reversed(children.get(row["SpanId"], [])):
            stack.append((depth + 1, child))
    return ordered


def representatives(
    con: duckdb.DuckDBPyConnection, endpoints: Sequence[str]
) -> list[dict[str, Any]]:
    """The representative request of each of ``endpoints`` (see the module docstring):
    ``endpoint``, ``request_id``, ``TraceId``, ``SpanId``, ``start_ns``, ``duration_ms``
    and ``p95_ms``, from the ``requests`` table alone."""
    con.execute(_PICK_SQL, {"endpoints": list(endpoints)})
    return rows(con, "SELECT * FROM report_representatives")


def waterfalls(
    con: duckdb.DuckDBPyConnection, endpoints: Sequence[str], max_spans: int
) -> dict[str, dict[str, Any]]:
    """Per endpoint: ``trace_id``, ``duration_ms``, ``p95_ms``, ``more`` (spans left
    out), ``strings`` and ``spans`` as rows ``[depth, offset_ms, duration_ms, layer,
    name, detail, error]`` where ``name`` and ``detail`` index ``strings`` (``detail``
    is -1 when there is none): the 200 queries of an N+1 share one statement text."""
    if not endpoints:
        return {}
    picks = {row["endpoint"]: row for row in representatives(con, endpoints)}
    by_endpoint: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows(con, _SPANS_SQL, {"max_spans": max_spans}):
        by_endpoint[row["endpoint"]].append(row)
    result = {}
    for endpoint in endpoints:
        members = by_endpoint.get(endpoint)
        if not members:
            continue
        pick = picks[endpoint]
        strings = _StringTable()
        result[endpoint] = {
            "trace_id": pick["TraceId"],
            "duration_ms": ms(pick["duration_ms"]),
            "p95_ms": ms(pick["p95_ms"]),
            "more": members[0]["total"] - len(members),
            "spans": [
                [
                    depth,
                    ms(row["offset_ns"] / 1e6),
                    ms(row["Duration"] / 1e6),
                    row["layer"] or "other",
                    strings.index(clip(row["SpanName"], NAME_CHARS) or ""),
                    strings.index(_detail(row)),
                    row["StatusCode"] == "Error",
                ]
                for depth, row in _tree_order(members)
            ],
        }
        result[endpoint]["strings"] = strings.values
    return result
