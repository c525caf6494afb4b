"""Large, realistic span tables for the HTML report, built column-wise with numpy.

    spans = shop_spans(requests=100_000, minutes=120, seed=7)

Requests are spread over ``minutes`` across :data:`ENDPOINTS` with Zipf-like
weights; each is a server span followed by sequential DB client spans.  Planted
for the report to show: N+1 endpoints (one relation lookup per row, with code
location and ORM relation attributes), a DB slow spell that drives the response
time (so the correlation ranking has a real signal), errors, and an endpoint and
span names carrying markup (:data:`XSS`) that must render as text.

Built with vectorised numpy rather than :class:`spanbuilder.SpanBuilder`: 100 k
requests are ~600 k spans, which a per-span Python loop would take far too long
to build in a test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from spanbuilder import EPOCH_NS
from spanscope.analyzer.schema import SPAN_SCHEMA

XSS = "</script><script>alert(1)</script>"
MINUTE_NS = 60_000_000_000


@dataclass(frozen=True)
class Endpoint:
    route: str
    weight: float
    app_ms: float
    queries: int
    query_ms: float
    n_plus_one: bool = False
    method: str = "GET"


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("books/", 30, 18.0, 21, 0.6, n_plus_one=True),
    Endpoint("books/<int:pk>/", 25, 9.0, 3, 0.8),
    Endpoint("authors/", 12, 14.0, 11, 0.5, n_plus_one=True),
    Endpoint("search/", 10, 35.0, 4, 6.0),
    Endpoint("cart/", 8, 12.0, 5, 0.9, method="POST"),
    Endpoint(f"{XSS}/", 6, 7.0, 6, 0.7, n_plus_one=True),
    Endpoint("reports/daily/", 2, 220.0, 8, 40.0),
    *(Endpoint(f"shop/section{k}/", 4 / (k + 1), 6.0 + k, 2 + k % 4, 0.7) for k in range(33)),
)


def _decoded(indices: np.ndarray, values: list[str]) -> pa.Array:
    """A string array of ``values[indices]`` (-1: null), decoded by Arrow."""
    dictionary = pa.DictionaryArray.from_arrays(
        pa.array(indices, pa.int32(), mask=indices < 0), pa.array(values, pa.string())
    )
    return dictionary.cast(pa.string())


def _ids(values: np.ndarray, width: int) -> pa.Array:
    """Lower-case hex ids, ``width`` digits, formatted by numpy rather than per value."""
    shifts = (np.arange(15, -1, -1) * 4).astype(np.uint64)
    digits = (values.astype(np.uint64)[:, None] >> shifts) & np.uint64(0xF)
    text = np.frombuffer(b"0123456789abcdef", np.uint8)[digits]
    text = np.hstack([np.full((len(values), width - 16), ord("0"), np.uint8), text])
    return pa.array(np.ascontiguousarray(text).view(f"S{width}").ravel()).cast(pa.string())


def shop_spans(requests: int = 2_000, minutes: int = 60, seed: int = 1) -> pa.Table:
    """A SPAN_SCHEMA table of ``requests`` requests over ``minutes`` (see the module)."""
    rng = np.random.default_rng(seed)
    weights = np.array([e.weight for e in ENDPOINTS])
    which = rng.choice(len(ENDPOINTS), size=requests, p=weights / weights.sum())
    start = np.sort(rng.integers(0, minutes * MINUTE_NS, size=requests)) + EPOCH_NS
    minute = (start - EPOCH_NS) // MINUTE_NS
    # A DB slow spell: every query is ``spell`` times slower in some minutes.
    spell = np.where(rng.random(minutes) < 0.15, rng.uniform(2.5, 4.0, minutes), 1.0)
    spell *= rng.lognormal(0.0, 0.1, minutes)

    app_ms = np.array([e.app_ms for e in ENDPOINTS])[which] * rng.lognormal(0, 0.35, requests)
    n_queries = np.array([e.queries for e in ENDPOINTS])[which]
    query_ms = np.array([e.query_ms for e in ENDPOINTS])[which] * spell[minute]

    # DB spans: one row per query, laid out back to back after half the view code.
    owner = np.repeat(np.arange(requests), n_queries)
    position = np.arange(owner.size) - np.repeat(np.cumsum(n_queries) - n_queries, n_queries)
    each_ns = (query_ms[owner] * rng.lognormal(0, 0.25, owner.size) * 1e6).astype(np.int64)
    global_start = np.cumsum(each_ns) - each_ns
    first_of = np.cumsum(n_queries) - n_queries  # index of each request's first query
    within = global_start - global_start[first_of[owner]]
    query_offset = (app_ms[owner] * 0.5 * 1e6).astype(np.int64) + within
    db_total_ns = np.bincount(owner, weights=each_ns, minlength=requests).astype(np.int64)
    duration = (app_ms * 1e6).astype(np.int64) + db_total_ns

    errors = rng.random(requests) < 0.004
    status = np.where(errors, 500, 200).astype(np.int32)

    trace_ids = _ids(np.arange(1, requests + 1), 32)
    server_ids = _ids(np.arange(1, requests + 1), 16)
    db_ids = _ids(np.arange(requests + 1, requests + 1 + owner.size), 16)

    endpoint_of = [ENDPOINTS[k] for k in which.tolist()]
    ep_of_query = which[owner]
    n_plus_one = np.array([e.n_plus_one for e in ENDPOINTS])[ep_of_query] & (position > 0)
    # Statements and names by dictionary index: 4 statements per endpoint (3 plain
    # ones, then the N+1 lookup), decoded by Arrow rather than built per span.
    templates = []
    for endpoint in ENDPOINTS:
        templates += [
            f'SELECT * FROM "shop_{endpoint.route.strip("/")}_{i}" WHERE "id" = %s'
            for i in range(3)
        ]
        templates.append(
            f'SELECT "shop_author"."id", "shop_author"."name" FROM "shop_author" '
            f'WHERE "shop_author"."id" = %s /* {endpoint.route} */'
        )
    statement_index = np.where(n_plus_one, ep_of_query * 4 + 3, ep_of_query * 4 + position % 3)
    statements = _decoded(statement_index, templates)
    xss_endpoint = next(i for i, e in enumerate(ENDPOINTS) if XSS in e.route)
    names = _decoded((n_plus_one & (ep_of_query == xss_endpoint)).astype(np.int64), ["SELECT", XSS])
    relation_mask = n_plus_one

    rows = requests + owner.size
    timestamps = np.concatenate([start, start[owner] + query_offset])
    durations = np.concatenate([duration, each_ns])

    def opt(mask: np.ndarray, value: str | int) -> pa.Array:
        """``value`` where ``mask``, else null -- server spans first (all null)."""
        where = np.concatenate([np.zeros(requests, bool), mask])
        if isinstance(value, int):
            return pa.array(np.full(rows, value, np.int32), mask=~where)
        return _decoded(np.where(where, 0, -1), [value])

    def per_kind(server: str, db: str) -> pa.Array:
        return _decoded(np.repeat(np.array([0, 1]), [requests, owner.size]), [server, db])

    empty_maps = pa.MapArray.from_arrays(
        pa.array(np.zeros(rows + 1, np.int32)), pa.array([], pa.string()), pa.array([], pa.string())
    )
    columns: dict[str, pa.Array] = {
        "Timestamp": pa.array(timestamps, pa.int64()).cast(pa.timestamp("ns", tz="UTC")),
        "TraceId": pa.concat_arrays([trace_ids, trace_ids.take(pa.array(owner))]),
        "SpanId": pa.concat_arrays([server_ids, db_ids]),
        "ParentSpanId": pa.concat_arrays(
            [per_kind("", "")[:requests], server_ids.take(pa.array(owner))]
        ),
        "SpanName": pa.concat_arrays(
            [pa.array([f"{e.method} {e.route}" for e in endpoint_of], pa.string()), names]
        ),
        "SpanKind": per_kind("Server", "Client"),
        "ServiceName": per_kind("shop", "shop"),
        "ScopeName": per_kind("tests", "tests"),
        "Duration": pa.array(durations, pa.int64()),
        "StatusCode": _decoded(
            np.concatenate([errors.astype(np.int64), np.zeros(owner.size, np.int64)]),
            ["Unset", "Error"],
        ),
        "StatusMessage": per_kind("", ""),
        "SpanAttributes": empty_maps,
        "ResourceAttributes": empty_maps,
        "layer": per_kind("server", "db"),
        "http_route": pa.concat_arrays(
            [
                pa.array([e.route for e in endpoint_of], pa.string()),
                pa.nulls(owner.size, pa.string()),
            ]
        ),
        "http_method": pa.concat_arrays(
            [
                pa.array([e.method for e in endpoint_of], pa.string()),
                pa.nulls(owner.size, pa.string()),
            ]
        ),
        "http_status_code": pa.array(
            np.concatenate([status, np.zeros(owner.size, np.int32)]),
            mask=np.arange(rows) >= requests,
        ),
        "http_target": pa.nulls(rows, pa.string()),
        "db_system": _decoded(np.repeat(np.array([-1, 0]), [requests, owner.size]), ["postgresql"]),
        "db_statement": pa.concat_arrays([pa.nulls(requests, pa.string()), statements]),
        "code_filepath": opt(relation_mask, "/srv/shop/views.py"),
        "code_lineno": opt(relation_mask, 42),
        "code_function": opt(relation_mask, "book_list"),
        "orm_relation": opt(relation_mask, "shop.Book.author"),
        "orm_relation_kind": opt(relation_mask, "forward_fk"),
        "orm_lookup": opt(relation_mask, "author"),
        "db_params_hash": pa.nulls(rows, pa.string()),
    }
    return pa.Table.from_arrays([columns[spec.name] for spec in SPAN_SCHEMA], schema=SPAN_SCHEMA)
