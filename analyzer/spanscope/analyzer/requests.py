"""The span tree and the request table: one row per request (a SpanKind Server span).

Every other span belongs to its nearest Server ancestor in the same trace.  Parents
are found once by integer keys (:func:`spanscope.analyzer.engine.parent_rows`); the
owning request is then resolved for all spans at once, one parent step per round,
each round touching only the spans still unresolved (almost every span is one to
three levels below its request, so there are few rounds).  A walk stops at a Server
span, at a root, at a missing parent (orphan), or after :data:`MAX_DEPTH` steps,
which also ends any parent cycle.

Time is attributed like Elastic's breakdown: each span is first clipped into its
parent's (clipped) interval, so a child that outlives its parent (clock skew,
fire-and-forget work) never counts twice; a span's *self time* is its duration minus
the union of its direct children's intervals, so concurrent children are never
double counted.  Unless siblings overlap, the self times of a request's spans add up
to its duration.

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
                          count once)
``app_ms``                the server span's self time: its duration minus the union
                          of its children's intervals
``queries``               number of DB descendants
``<layer>_self_ms``       for each layer in :data:`CHILD_LAYERS` (``db``, ``cache``,
                          ``template``, ``http``, ``other``): the summed self time
                          of the request's spans of that layer
``<layer>_calls``         the number of the request's spans of that layer
========================  ===========================================================

``other`` is every span of no known layer: client calls to unknown systems,
messaging, and custom internal spans.  A nested Server span (another service called
within the trace) is a request of its own; the client span that called it keeps the
whole call as its self time.
"""

from __future__ import annotations

import dataclasses
import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as _compute
from spanscope.analyzer.engine import (
    Bools,
    Int64s,
    covered_per_group,
    parent_rows,
    span_view,
    to_numpy,
    value_codes,
)

pc: Any = _compute

#: Deeper ancestor chains are treated as broken (no request owns the span).
MAX_DEPTH: Final = 128
#: Longer (absurd) durations are cut to this (2**60 ns, 36 years), so that
#: start + duration never overflows int64.
MAX_DURATION_NS: Final = 2**60

#: Layers of the spans below a request, in report order; ``app`` is the request's own time.
CHILD_LAYERS: Final = ("db", "cache", "template", "http", "other")
#: Every layer of the breakdown.
BREAKDOWN_LAYERS: Final = ("app", *CHILD_LAYERS)

_LAYER_CODES: Final = ("server", *CHILD_LAYERS[:-1])  # anything else is "other"
_OTHER: Final = len(_LAYER_CODES)
LAYER_CODE: Final = {name: code for code, name in enumerate((*_LAYER_CODES, "other"))}


@dataclass(frozen=True)
class SpanTree:
    """Row-aligned arrays over :attr:`view` (the analysed columns of the span table)."""

    view: pa.Table
    parent: Int64s  # row of the parent span, -1 for a root or an orphan
    request: Int64s  # index of the owning request in the request table, -1 for none
    start: Int64s  # start clipped into the parent's clipped interval (ns)
    end: Int64s  # end, likewise
    self_ns: Int64s  # clipped duration minus the union of the direct children
    is_server: Bools
    layer: npt.NDArray[np.int8]  # index into LAYER_CODE's order; server spans are 0


@dataclass(frozen=True)
class Prepared:
    """What every analysis starts from: the span tree and the request table."""

    tree: SpanTree
    requests: pa.Table  # request_table() columns plus ``request_id`` (0..n-1) and ``start_ns``


# The columns that identify spans: the tree and the request table are built from
# them, and no analysis reads them afterwards (the request table keeps its own
# TraceId for examples).
SPAN_ID_COLUMNS: Final = ("TraceId", "SpanId", "ParentSpanId")


def without_span_ids(prepared: Prepared) -> Prepared:
    """``prepared`` whose span view no longer holds :data:`SPAN_ID_COLUMNS`.

    The ids are the largest columns of the analysis table (~70 of its ~170 bytes a
    span, hex strings): once nothing else holds them, their memory is free for the
    analyses, which is where the peak of ``analyze`` is.
    """
    view = prepared.tree.view
    kept = [name for name in view.column_names if name not in SPAN_ID_COLUMNS]
    return Prepared(dataclasses.replace(prepared.tree, view=view.select(kept)), prepared.requests)


def prepare(spans: pa.Table, parent: Int64s | None = None) -> Prepared:
    """Resolve the span tree of ``spans`` and build its request table.

    ``parent``, when given, is the row of each span's parent as reading found it
    (:attr:`spanscope.analyzer.load.LoadResult.parent`): the lookup is not repeated.
    """
    view = span_view(spans)
    n = view.num_rows
    kinds = view.column("SpanKind")
    is_server = value_codes(kinds, ("Server",)) == 0
    # The requests' order and their Server spans' own columns do not depend on the tree:
    # a second thread works them out meanwhile (Arrow's sort and take release the GIL).
    with ThreadPoolExecutor(max_workers=1) as helper:
        servers_future = helper.submit(_ordered_servers, view, is_server)
        if parent is None or len(parent) != n:
            parent = parent_rows(
                view.column("TraceId"), view.column("SpanId"), view.column("ParentSpanId")
            )
        owner, depth = _owners(parent, is_server)
        start = to_numpy(view.column("start_ns"), np.int64)
        duration = to_numpy(pc.fill_null(view.column("Duration"), 0), np.int64)
        end = start + np.clip(duration, 0, MAX_DURATION_NS)
        start, end = _clip_into_parents(parent, owner, depth, is_server, start, end)
        owned = owner >= 0
        layer = _layer_codes(view.column("layer"), is_server)
        order, servers = servers_future.result()
        request_of_row = np.full(n, -1, dtype=np.int64)
        request_of_row[order] = np.arange(len(order))
        request = np.where(owned, request_of_row[np.maximum(owner, 0)], -1)
        # What follows runs at the analysis's memory peak: spent arrays go first.
        del request_of_row, owner, depth, duration
    children = np.flatnonzero(owned & ~is_server)
    # Children are clipped into their parent: the parent's start is their base.  (The
    # two unions of intervals run one after the other: side by side they would save a
    # tenth of a second per GB but hold both sets of temporaries at the memory peak.)
    covered = covered_per_group(parent[children], start[children], end[children], n, base=start)
    del children
    self_ns = np.where(owned, end - start - covered, 0)
    del covered
    db_ns = _db_union(request, layer, start, end, order)
    tree = SpanTree(view, parent, request, start, end, self_ns, is_server, layer)
    columns = server_columns(tree, order, servers, db_ns=db_ns)
    return Prepared(tree, build_requests(tree, order, columns))


def _ordered_servers(view: pa.Table, is_server: Bools) -> tuple[Int64s, pa.Table]:
    """The request table's order of the Server span rows, and their own columns."""
    order = _request_order(view, is_server)
    return order, view.select(list(_SERVER_COLUMNS)).take(order)


def _owners(parent: Int64s, is_server: Bools) -> tuple[Int64s, npt.NDArray[np.int32]]:
    """Per span, the row of its nearest Server ancestor-or-self (-1: none) and the
    number of steps to it."""
    n = len(parent)
    rows = np.arange(n, dtype=np.int64)
    owner = np.where(is_server, rows, -1)
    depth = np.zeros(n, dtype=np.int32)
    active = np.flatnonzero(~is_server & (parent >= 0))
    cursor = parent[active]
    step = 1
    while active.size and step <= MAX_DEPTH:
        arrived = is_server[cursor]
        owner[active[arrived]] = cursor[arrived]
        depth[active[arrived]] = step
        active, cursor = active[~arrived], parent[cursor[~arrived]]
        alive = cursor >= 0
        active, cursor = active[alive], cursor[alive]
        step += 1
    return owner, depth


def _clip_into_parents(
    parent: Int64s,
    owner: Int64s,
    depth: npt.NDArray[np.int32],
    is_server: Bools,
    start: Int64s,
    end: Int64s,
) -> tuple[Int64s, Int64s]:
    """Clip every owned span into its parent's clipped interval, top-down by depth."""
    owned = np.flatnonzero((owner >= 0) & ~is_server)
    if not owned.size:
        return start, end
    up = parent[owned]
    if not ((start[owned] < start[up]).any() or (end[owned] > end[up]).any()):
        # Every span lies within its parent (the usual case, checked in one pass): then
        # so do the clipped ones, level by level, and clipping would change nothing.
        return start, end
    start, end = start.copy(), end.copy()
    by_depth = owned[np.argsort(depth[owned], kind="stable")]
    levels = np.searchsorted(depth[by_depth], np.arange(1, int(depth[by_depth[-1]]) + 2))
    for lo, hi in itertools.pairwise(levels.tolist()):
        rows = by_depth[lo:hi]
        up = parent[rows]
        clipped_start = np.minimum(np.maximum(start[rows], start[up]), end[up])
        end[rows] = np.maximum(np.minimum(end[rows], end[up]), clipped_start)
        start[rows] = clipped_start
    return start, end


def _request_order(view: pa.Table, is_server: Bools) -> Int64s:
    """Server span rows ordered by (start, TraceId, SpanId): the request table's order."""
    rows = np.flatnonzero(is_server)
    servers = view.select(["start_ns", "TraceId", "SpanId"]).take(rows)
    servers = servers.append_column("row", pa.array(rows, pa.int64()))
    ordered = servers.sort_by([(c, "ascending") for c in ("start_ns", "TraceId", "SpanId")])
    result: Int64s = to_numpy(ordered.column("row"), np.int64)
    return result


def _layer_codes(layer: Any, is_server: Bools) -> npt.NDArray[np.int8]:
    codes = value_codes(layer, _LAYER_CODES)  # anything else is _OTHER
    codes[(codes == 0) & ~is_server] = _OTHER  # a "server" layer on a non-Server span
    codes[is_server] = 0
    return codes


def _endpoint(servers: pa.Table) -> Any:
    method, route, name = (servers.column(c) for c in ("http_method", "http_route", "SpanName"))
    has_route = pc.fill_null(pc.not_equal(route, ""), False)
    has_method = pc.is_valid(method)
    return pc.case_when(
        pc.make_struct(
            pc.and_(has_route, has_method),
            pc.match_substring(name, " "),
            has_route,
            has_method,
        ),
        pc.binary_join_element_wise(method, route, " "),
        name,
        route,
        pc.binary_join_element_wise(method, "(no route)", " "),
        name,
    )


_SERVER_COLUMNS: Final = (
    "TraceId",
    "SpanId",
    "SpanName",
    "start_ns",
    "Duration",
    "StatusCode",
    "http_method",
    "http_route",
    "http_status_code",
)


@dataclass(frozen=True)
class ServerColumns:
    """What the request table takes from each request's own Server span and from the
    union of its DB spans, in request order (a prepared Parquet file stores these)."""

    trace_id: Any
    span_id: Any
    endpoint: Any
    http_status_code: Any
    status_code: Any  # the span's StatusCode
    db_ns: Int64s  # union of the DB descendants' intervals


def server_columns(
    tree: SpanTree,
    order: Int64s,
    servers: pa.Table | None = None,
    *,
    db_ns: Int64s | None = None,
) -> ServerColumns:
    """The :class:`ServerColumns` of the requests whose Server spans are rows ``order``
    (``servers``: their own columns, and ``db_ns`` the union of their DB spans, when
    already worked out)."""
    if servers is None:
        servers = tree.view.select(list(_SERVER_COLUMNS)).take(order)
    if db_ns is None:
        db_ns = _db_union(tree.request, tree.layer, tree.start, tree.end, order)
    return ServerColumns(
        trace_id=servers.column("TraceId"),
        span_id=servers.column("SpanId"),
        endpoint=_endpoint(servers),
        http_status_code=servers.column("http_status_code"),
        status_code=servers.column("StatusCode"),
        db_ns=db_ns,
    )


def _db_union(
    request: Int64s, layer: npt.NDArray[np.int8], start: Int64s, end: Int64s, order: Int64s
) -> Int64s:
    """Per request (Server span rows ``order``), the union of its DB spans' intervals."""
    db = np.flatnonzero((request >= 0) & (layer == LAYER_CODE["db"]))
    return covered_per_group(request[db], start[db], end[db], len(order), base=start[order])


def build_requests(tree: SpanTree, order: Int64s, servers: ServerColumns) -> pa.Table:
    """The request table (plus ``request_id`` and ``start_ns``) of the requests whose
    Server spans are rows ``order`` of ``tree``."""
    count = len(order)
    status = servers.http_status_code
    error = pc.or_(
        pc.fill_null(pc.greater_equal(status, 500), False),
        pc.fill_null(pc.equal(servers.status_code, "Error"), False),
    )
    below = np.flatnonzero((tree.request >= 0) & ~tree.is_server)
    # One count and one weighted sum over (request, layer) pairs: each pair's sum adds
    # the same spans in the same row order as a sum per layer would.
    layers = len(LAYER_CODE)
    pair = tree.request[below] * layers + tree.layer[below]
    calls = np.bincount(pair, minlength=count * layers).reshape(count, layers)
    self_ns = tree.self_ns[below].astype(np.float64)
    spent = np.bincount(pair, weights=self_ns, minlength=count * layers).reshape(count, layers)
    duration = to_numpy(pc.take(tree.view.column("Duration"), order), np.int64)
    start_ns = pa.array(tree.start[order], pa.int64())
    columns: dict[str, Any] = {
        "TraceId": servers.trace_id,
        "SpanId": servers.span_id,
        "endpoint": servers.endpoint,
        "start": pc.cast(start_ns, pa.timestamp("ns", tz="UTC")),
        "duration_ms": duration / 1e6,
        "http_status_code": status,
        "error": error,
        "db_ms": servers.db_ns / 1e6,
        "app_ms": tree.self_ns[order] / 1e6,
        "queries": calls[:, LAYER_CODE["db"]].astype(np.int64),
    }
    for name in CHILD_LAYERS:
        columns[f"{name}_self_ms"] = spent[:, LAYER_CODE[name]] / 1e6
        columns[f"{name}_calls"] = calls[:, LAYER_CODE[name]].astype(np.int64)
    columns["request_id"] = np.arange(count, dtype=np.int64)
    columns["start_ns"] = start_ns
    return pa.table(columns)


#: Columns of :attr:`Prepared.requests` that are internal to the analyses.
_INTERNAL_COLUMNS: Final = ("request_id", "start_ns")


def public_request_table(prepared: Prepared) -> pa.Table:
    """The request table of a prepared span set (see the module docstring)."""
    return prepared.requests.drop_columns(list(_INTERNAL_COLUMNS))


def request_table(spans: pa.Table) -> pa.Table:
    """One row per request; see the module docstring for the columns."""
    return public_request_table(prepare(spans))
