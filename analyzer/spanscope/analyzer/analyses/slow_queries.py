"""Slow statements: per normalized statement, how often it ran and how long it took.

Count, total, mean, exact p95 and max of the statement's own durations (ms) over
every request that ran it, with the endpoints that spent the most time in it; the
top :data:`TOP_STATEMENTS` by total time.

Two small tables carry everything the report needs (:class:`StatementTimes`): per
template its count, total, max and p95, and per (template, request) the time spent.
Totals are integer nanoseconds, so they do not depend on the order the durations are
added in: a prepared Parquet file stores both tables (``spanscope convert`` computes
them with :func:`statement_times`) and its report is the one the spans give.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as _compute
from spanscope.analyzer.analyses.inputs import SpansOrPaths, prepare_spans
from spanscope.analyzer.analyses.statements import DbSpans, db_spans
from spanscope.analyzer.engine import Int64s, connect, dense_key, table_of, to_numpy
from spanscope.analyzer.report import SlowStatement
from spanscope.analyzer.requests import Prepared

pc: Any = _compute

TOP_STATEMENTS: Final = 20
#: Endpoints listed per statement, those that spent the most time in it first.
TOP_ENDPOINTS: Final = 10
#: The percentile reported.
_P95: Final = 0.95

_SLOW_SQL: Final = f"""
    WITH
    per_statement AS (
        SELECT * FROM stats ORDER BY total_ns DESC, template_id LIMIT {TOP_STATEMENTS}
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
    SELECT t.template AS statement, s.count,
        s.total_ns / 1e6 AS total_ms,
        s.total_ns / s.count / 1e6 AS mean_ms,
        s.p95_ns / 1e6 AS p95_ms,
        s.max_ns / 1e6 AS max_ms,
        coalesce(l.endpoints, []) AS endpoints
    FROM per_statement AS s
    JOIN templates AS t USING (template_id)
    LEFT JOIN listed AS l USING (template_id)
    ORDER BY s.total_ns DESC, statement
"""


@dataclass(frozen=True)
class StatementTimes:
    """What the slow-statement report is computed from."""

    stats: pa.Table  # template_id, count, total_ns, max_ns, p95_ns (float64)
    spent: pa.Table  # template_id, request_id, spent_ns: per (template, request) pair


def statement_times(
    template: Int64s, request: Int64s, duration_ns: Int64s, pair: Int64s | None = None
) -> StatementTimes:
    """The :class:`StatementTimes` of statement spans with these templates, owning
    requests and durations (aligned arrays); ``pair``, when known, is a dense id per
    (template, request) pair (:func:`~spanscope.analyzer.engine.dense_key` of them)."""
    templates = int(template.max()) + 1 if template.size else 0
    count = np.bincount(template, minlength=templates).astype(np.int64)
    # Sorted by (template, duration): totals are integer sums of runs (exact, unlike a
    # float sum), and each template's order statistics are an index lookup; p95
    # interpolates linearly between the two nearest (numpy's default).
    ordered = _sorted_by_template(template, duration_ns, templates)
    begin = np.cumsum(count) - count
    present = np.flatnonzero(count)
    position = (count[present] - 1) * _P95
    low = np.floor(position).astype(np.int64)
    high = np.ceil(position).astype(np.int64)
    below = ordered[begin[present] + low].astype(np.float64)
    above = ordered[begin[present] + high].astype(np.float64)
    stats = table_of(
        {
            "template_id": present.astype(np.int64),
            "count": count[present],
            "total_ns": np.add.reduceat(ordered, begin[present]) if present.size else count,
            "max_ns": ordered[begin[present] + count[present] - 1],
            "p95_ns": below + (above - below) * (position - low),
        }
    )
    if pair is None:
        pair = dense_key(template, request)
    by_pair = np.argsort(pair, kind="stable")
    heads = np.flatnonzero(np.r_[True, np.diff(pair[by_pair]) != 0]) if pair.size else pair
    first = by_pair[heads]
    spent = np.add.reduceat(duration_ns[by_pair], heads) if pair.size else pair
    per_request = table_of(
        {"template_id": template[first], "request_id": request[first], "spent_ns": spent}
    )
    return StatementTimes(stats, per_request)


def _sorted_by_template(template: Int64s, duration_ns: Int64s, templates: int) -> Int64s:
    """``duration_ns`` sorted by (template, duration): one sort of both packed into an
    int64 when they fit (durations under ~2**40 ns, always in practice), else a lexsort."""
    shift = max(int(duration_ns.max()).bit_length(), 1) if duration_ns.size else 1
    if duration_ns.size and int(duration_ns.min()) >= 0 and shift + templates.bit_length() < 63:
        packed = np.sort((template << shift) | duration_ns)
        result: Int64s = packed & ((1 << shift) - 1)
        return result
    ordered: Int64s = duration_ns[np.lexsort((duration_ns, template))]
    return ordered


def slow_statements(
    times: StatementTimes, requests: pa.Table, templates: pa.Table
) -> list[SlowStatement]:
    """The slowest statements of ``times``; ``requests`` holds ``request_id`` and
    ``endpoint``, ``templates`` ``template_id`` and ``template``."""
    if times.stats.num_rows == 0:
        return []
    tables = {
        "stats": times.stats,
        "per_endpoint": _per_endpoint(times, requests),
        "templates": templates,
    }
    with connect(tables) as con:
        found = con.sql(_SLOW_SQL).to_arrow_table().to_pylist()
    return [_statement(row) for row in found]


def _per_endpoint(times: StatementTimes, requests: pa.Table) -> pa.Table:
    """(template_id, endpoint, spent): the time each endpoint spent in each of the top
    statements -- summed by integer codes, a few rows for SQL to rank."""
    stats = times.stats
    total = to_numpy(stats.column("total_ns"), np.int64)
    template_ids = to_numpy(stats.column("template_id"), np.int64)
    top = template_ids[np.lexsort((template_ids, -total))[:TOP_STATEMENTS]]
    template = to_numpy(times.spent.column("template_id"), np.int64)
    rows = np.flatnonzero(np.isin(template, top))
    endpoint = requests.column("endpoint").combine_chunks()
    encoded = pc.dictionary_encode(endpoint, null_encoding="encode")
    endpoint_of_request = to_numpy(encoded.indices, np.int64)
    request_id = to_numpy(requests.column("request_id"), np.int64)
    code_of_request = np.empty(len(request_id), dtype=np.int64)
    code_of_request[request_id] = endpoint_of_request
    endpoint_code = code_of_request[to_numpy(times.spent.column("request_id"), np.int64)[rows]]
    width = max(len(encoded.dictionary), 1)
    pair, slot = np.unique(template[rows] * width + endpoint_code, return_inverse=True)
    spent = np.zeros(len(pair), dtype=np.int64)
    np.add.at(spent, slot, to_numpy(times.spent.column("spent_ns"), np.int64)[rows])
    picks: Any = pa.array(pair % width)  # the stubs type it as booleans
    return table_of(
        {
            "template_id": pair // width,
            "endpoint": encoded.dictionary.take(picks),
            "spent": spent,
        }
    )


def slow_queries_from(prepared: Prepared, statements: DbSpans) -> list[SlowStatement]:
    """The slowest statements (by total time) of a prepared span set."""
    if not len(statements):
        return []
    tree = prepared.tree
    duration = to_numpy(tree.view.column("Duration"), np.int64)[statements.rows]
    times = statement_times(statements.template, tree.request[statements.rows], duration)
    return slow_statements(times, prepared.requests, statements.template_table())


def _statement(row: dict[str, Any]) -> SlowStatement:
    row["endpoints"] = tuple(row["endpoints"])
    return SlowStatement(**row)


def slow_queries(spans: SpansOrPaths) -> list[SlowStatement]:
    """The top statements by total time, with count, mean, p95, max and endpoints."""
    prepared = prepare_spans(spans)
    return slow_queries_from(prepared, db_spans(prepared))
