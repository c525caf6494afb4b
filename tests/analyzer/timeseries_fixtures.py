"""Realistic time-varying traffic of a Django books shop, as span tables and dumps.

    spans = shop_traffic(Scenario(minutes=40, seed=1))  # SPAN_SCHEMA table, ~7.5 k spans
    write_dump(spans, tmp_path / "traces.parquet")  # what the CLI reads

What is planted, minute by minute (minutes are aligned to whole UTC minutes, so they
are exactly the 1min buckets):

* **DB slow spells** -- every query on the primary database takes ``db_factor[m]``
  times its usual time (a log-normal wobble plus occasional 3x spikes).  This is the
  co-movement a correlation must find first: it drives the ``db`` layer and, through
  it, the mean response time.
* **A steady slowdown** -- every view's own (app) time grows linearly over the run,
  so the mean response time trends upwards.  A straight line has a constant first
  difference, so it adds nothing to any differenced correlation.
* **GET reports/** -- a dashboard polls it exactly twice a minute (constant
  throughput), it reads the reporting replica (no DB spells) and it gets slower
  steadily as its table grows, with its own noise: a *trend-only* series whose raw
  levels track the target closely but whose changes do not.
* Every other endpoint gets Poisson-distributed traffic around a steady rate.

Each request is a server span with its DB client spans laid out one after another
after a stretch of view code, so ``request_table`` finds ``db_ms`` and ``app_ms``
exactly as for a real dump.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from spanbuilder import EPOCH_NS
from spanscope.analyzer.requests import request_table
from spanscope.analyzer.schema import SPAN_SCHEMA

MINUTE_MS = 60_000.0
#: Offset (ms after SpanBuilder's epoch) of the first whole UTC minute.
ALIGNED_START_MS = float(MINUTE_MS - (EPOCH_NS // 1_000_000) % MINUTE_MS)


@dataclass(frozen=True)
class EndpointProfile:
    """How one endpoint behaves: traffic, view time and queries."""

    method: str
    route: str
    per_minute: float  # Poisson mean; exact count per minute when ``fixed_rate``
    app_ms: float  # mean view time at minute 0
    queries: int
    query_ms: float  # mean time of one query at normal DB speed
    fixed_rate: bool = False
    follows_db: bool = True  # False: reads a replica untouched by the DB spells
    own_trend_ms: float = 0.0  # extra view time added per minute (its own slowdown)
    own_noise_ms: float = 0.0  # per-minute noise of that extra time (sd)
    app_spread: float = 0.4  # sd of log(view time) from one request to the next


SHOP_ENDPOINTS: tuple[EndpointProfile, ...] = (
    EndpointProfile("GET", "books/", per_minute=8, app_ms=25, queries=4, query_ms=6),
    EndpointProfile("GET", "books/<int:pk>/", per_minute=8, app_ms=12, queries=2, query_ms=3),
    EndpointProfile("GET", "authors/", per_minute=6, app_ms=15, queries=2, query_ms=4),
    EndpointProfile("GET", "authors/<int:pk>/", per_minute=5, app_ms=10, queries=3, query_ms=3),
    EndpointProfile("GET", "cart/", per_minute=6, app_ms=20, queries=3, query_ms=4),
    EndpointProfile("POST", "cart/add/", per_minute=4, app_ms=15, queries=4, query_ms=3),
    EndpointProfile("GET", "search/", per_minute=5, app_ms=30, queries=1, query_ms=16),
    EndpointProfile("POST", "orders/", per_minute=3, app_ms=40, queries=6, query_ms=6),
    EndpointProfile(
        "GET",
        "reports/",
        per_minute=2,
        app_ms=60,
        queries=1,
        query_ms=1,
        fixed_rate=True,
        follows_db=False,
        own_trend_ms=6.0,
        own_noise_ms=3.0,
        app_spread=0.01,
    ),
)


@dataclass(frozen=True)
class Scenario:
    minutes: int = 40
    seed: int = 1
    endpoints: tuple[EndpointProfile, ...] = SHOP_ENDPOINTS
    #: sd of log(db_factor); 0 keeps the database at one steady speed
    db_wobble: float = 0.35
    db_spike_chance: float = 0.12
    #: fractional growth of every view's app time per minute
    app_slowdown_per_minute: float = 0.04
    #: minutes in which nothing at all is served (e.g. a deploy)
    idle_minutes: frozenset[int] = field(default_factory=frozenset)


def db_factors(scenario: Scenario) -> np.ndarray:
    """The planted DB speed per minute (1 = normal), as the generator draws it."""
    rng = np.random.default_rng([scenario.seed, 1])
    factors = np.exp(rng.normal(0.0, scenario.db_wobble, scenario.minutes))
    spikes = rng.random(scenario.minutes) < scenario.db_spike_chance
    return np.where(spikes, factors * 3.0, factors)


@dataclass
class _Spans:
    """Column lists of the spans drawn so far (built into Arrow once, at the end)."""

    start_ms: list[np.ndarray] = field(default_factory=list)
    duration_ms: list[np.ndarray] = field(default_factory=list)
    request: list[np.ndarray] = field(default_factory=list)  # owning request number
    endpoint: list[np.ndarray] = field(default_factory=list)  # profile index; -1: a query
    requests: int = 0

    def add(self, start: np.ndarray, duration: np.ndarray, request: np.ndarray, kind: int) -> None:
        self.start_ms.append(start)
        self.duration_ms.append(duration)
        self.request.append(request)
        self.endpoint.append(np.full(start.size, kind))


@functools.cache
def shop_traffic(plan: Scenario) -> pa.Table:
    """The span table of one generated run (cached: tables are immutable).

    Drawn with whole-array numpy calls per minute and endpoint, and built into Arrow
    column by column, so a 40-minute run of ~9 k spans takes a fraction of a second.
    """
    rng = np.random.default_rng([plan.seed, 2])
    factors = db_factors(plan)
    spans = _Spans()
    for minute in range(plan.minutes):
        if minute in plan.idle_minutes:
            continue
        slowdown = 1.0 + plan.app_slowdown_per_minute * minute
        for index, profile in enumerate(plan.endpoints):
            count = (
                round(profile.per_minute)
                if profile.fixed_rate
                else int(rng.poisson(profile.per_minute))
            )
            own = max(profile.own_trend_ms * minute + rng.normal(0.0, profile.own_noise_ms), 0.0)
            db = factors[minute] if profile.follows_db else 1.0
            app = profile.app_ms * slowdown * rng.lognormal(0.0, profile.app_spread, count) + own
            queries = profile.query_ms * db * rng.lognormal(0.0, 0.3, (count, profile.queries))
            start = ALIGNED_START_MS + minute * MINUTE_MS + rng.uniform(0.0, MINUTE_MS, count)
            ids = spans.requests + np.arange(count)
            spans.requests += count
            spans.add(start, app + queries.sum(axis=1), ids, index)
            # Half the view code runs before the first query; queries run back to back.
            offsets = np.cumsum(queries, axis=1) - queries
            query_start = start[:, None] + app[:, None] / 2 + offsets
            spans.add(query_start.ravel(), queries.ravel(), np.repeat(ids, profile.queries), -1)
    return _table(spans, plan.endpoints)


def _table(spans: _Spans, endpoints: tuple[EndpointProfile, ...]) -> pa.Table:
    start = np.concatenate(spans.start_ms) if spans.start_ms else np.zeros(0)
    duration = np.concatenate(spans.duration_ms) if spans.duration_ms else np.zeros(0)
    request = np.concatenate(spans.request).astype(np.int64) if spans.request else np.zeros(0, int)
    kind = np.concatenate(spans.endpoint) if spans.endpoint else np.zeros(0, int)
    is_server = kind >= 0
    rows = start.size
    span_ids = [f"{i + 1:016x}" for i in range(rows)]
    server_row = np.zeros(spans.requests, dtype=np.int64)
    server_row[request[is_server]] = np.flatnonzero(is_server)
    methods = [endpoints[k].method if k >= 0 else None for k in kind.tolist()]
    routes = [endpoints[k].route if k >= 0 else None for k in kind.tolist()]
    owners = server_row[request].tolist()  # the server span's row, for every span
    # A query reads the table named after its view ("books/<int:pk>/" -> "books").
    statements = [
        None if k >= 0 else f'SELECT * FROM "{str(routes[o]).split("/")[0]}" WHERE "id" = %s'
        for k, o in zip(kind.tolist(), owners, strict=True)
    ]
    attributes = [
        [("http.method", m), ("http.route", r), ("http.status_code", "200")]
        if m is not None
        else [("db.system", "sqlite"), ("db.statement", st)]
        for m, r, st in zip(methods, routes, statements, strict=True)
    ]
    columns: dict[str, pa.Array] = {
        "Timestamp": pa.array(EPOCH_NS + np.round(start * 1e6).astype(np.int64)).cast(
            pa.timestamp("ns", tz="UTC")
        ),
        "TraceId": pa.array([f"{r + 1:032x}" for r in request.tolist()]),
        "SpanId": pa.array(span_ids),
        "ParentSpanId": pa.array(
            ["" if k >= 0 else span_ids[o] for k, o in zip(kind.tolist(), owners, strict=True)]
        ),
        "SpanName": pa.array(
            [
                f"{m} {r}" if m is not None else "SELECT"
                for m, r in zip(methods, routes, strict=True)
            ]
        ),
        "SpanKind": pa.array(np.where(is_server, "Server", "Client").tolist()),
        "ServiceName": pa.array(["bookshop"] * rows),
        "ScopeName": pa.array(["tests"] * rows),
        "Duration": pa.array(np.round(duration * 1e6).astype(np.int64)),
        "StatusCode": pa.array(["Unset"] * rows),
        "StatusMessage": pa.array([""] * rows),
        "SpanAttributes": pa.array(attributes, pa.map_(pa.string(), pa.string())),
        "ResourceAttributes": pa.array(
            [[("service.name", "bookshop")]] * rows, pa.map_(pa.string(), pa.string())
        ),
        "layer": pa.array(np.where(is_server, "server", "db").tolist()),
        "http_route": pa.array(routes, pa.string()),
        "http_method": pa.array(methods, pa.string()),
        "http_status_code": pa.array([200 if m else None for m in methods], pa.int32()),
        "db_system": pa.array([None if m else "sqlite" for m in methods], pa.string()),
        "db_statement": pa.array(statements, pa.string()),
    }
    arrays = [
        columns[f.name].cast(f.type) if f.name in columns else pa.nulls(rows, f.type)
        for f in SPAN_SCHEMA
    ]
    return pa.Table.from_arrays(arrays, schema=SPAN_SCHEMA)


@functools.cache
def shop_requests(plan: Scenario) -> pa.Table:
    """``request_table`` of :func:`shop_traffic` (cached)."""
    return request_table(shop_traffic(plan))


def write_dump(spans: pa.Table, path: Path) -> Path:
    """Write ``spans`` as a Parquet dump (the canonical schema ``load`` reads back)."""
    pq.write_table(spans, path)
    return path
