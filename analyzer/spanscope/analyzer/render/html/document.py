"""The data behind the HTML report, as one JSON-ready dict of bounded size.

Everything is aggregated before it reaches the page: one row per endpoint, one
point per (endpoint, time bucket), capped findings, and capped waterfalls.
:class:`Limits` holds the caps; :func:`fit` then guarantees the embedded JSON
stays under ``Limits.data_bytes`` by dropping the least important waterfalls and
charts first (each drop is listed under ``"trimmed"`` so the page says so).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final

from spanscope.analyzer.render.html.buckets import percentile_series
from spanscope.analyzer.render.html.correlation import correlation_section
from spanscope.analyzer.render.html.embed import script_json
from spanscope.analyzer.render.html.findings import PageFindings
from spanscope.analyzer.render.html.layers import layer_breakdown
from spanscope.analyzer.render.html.slow import STATEMENT_CHARS, top_statements
from spanscope.analyzer.render.html.sql import rows
from spanscope.analyzer.render.html.tables import ReportTables, endpoint_label
from spanscope.analyzer.render.html.values import clip, ms
from spanscope.analyzer.render.html.waterfall import waterfalls
from spanscope.analyzer.report import (
    EndpointStats,
    HttpNPlusOneFinding,
    NPlusOneFinding,
)

SCHEMA_VERSION: Final = 1


@dataclass(frozen=True)
class Limits:
    """Caps on what the page embeds; the defaults keep any report under 2 MB."""

    #: rows of the endpoint table (the rest are counted, not listed)
    endpoints: int = 500
    #: endpoints with a latency chart (by total time)
    chart_endpoints: int = 40
    #: endpoints with a bar in the time breakdown (by total time)
    breakdown_endpoints: int = 20
    #: endpoints with a representative-trace waterfall (by total time)
    waterfalls: int = 20
    #: spans per waterfall, the first ones by start time
    waterfall_spans: int = 300
    #: N+1 findings, and separately N+1 backend-call findings, by wasted time
    n_plus_one: int = 50
    statements: int = 25
    #: the embedded JSON never exceeds this (the page's HTML, CSS and JS add ~40 kB)
    data_bytes: int = 1_800_000


DEFAULT_LIMITS: Final = Limits()

_ENDPOINT_COLUMNS: Final = (
    "endpoint",
    "requests",
    "errors",
    "mean_ms",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "total_ms",
    "db_ms",
    "app_ms",
    "queries_per_request",
    "apdex",
)

_SUMMARY_SQL: Final = """
    SELECT count(*) AS requests, count(*) FILTER (WHERE error) AS errors,
        min(start_ns) AS first_ns, max(start_ns + duration_ms * 1e6) AS last_ns,
        sum(duration_ms) AS total_ms, avg(duration_ms) AS mean_ms,
        quantile_cont(duration_ms, 0.95) AS p95_ms
    FROM requests
"""


def _endpoint_row(row: EndpointStats, n_plus_one: int) -> list[Any]:
    values: list[Any] = []
    for name in _ENDPOINT_COLUMNS:
        value = getattr(row, name)
        if name == "endpoint":
            value = endpoint_label(value)
        values.append(ms(value) if isinstance(value, float) else value)
    return [*values, n_plus_one]


def _finding(finding: NPlusOneFinding | HttpNPlusOneFinding, text: str) -> dict[str, Any]:
    """A finding as the page shows it; its ``text`` key (the statement, or the URL: as
    unbounded, with long query strings) is clipped."""
    data = finding.to_dict()
    data["endpoint"] = endpoint_label(finding.endpoint)
    data[text] = clip(data[text], STATEMENT_CHARS)
    data["wasted_ms"] = ms(finding.wasted_ms)
    return data


def _request_summary(tables: ReportTables) -> dict[str, Any]:
    row = rows(tables.con, _SUMMARY_SQL)[0]
    first, last = row["first_ns"], row["last_ns"]
    return {
        "requests": row["requests"],
        "errors": row["errors"],
        "total_ms": ms(row["total_ms"]),
        "mean_ms": ms(row["mean_ms"]),
        "p95_ms": ms(row["p95_ms"]),
        "first_ms": None if first is None else first // 1_000_000,
        "last_ms": None if last is None else round(last / 1e6),
    }


def build_document(
    tables: ReportTables,
    analysis: PageFindings,
    *,
    title: str,
    generated_ms: int,
    interval_s: float | None,
    limits: Limits = DEFAULT_LIMITS,
) -> dict[str, Any]:
    """The report data: ``analysis`` (endpoints, N+1 findings) of the spans the
    ``tables`` were built from, plus the sections computed on those tables."""
    stats = analysis.endpoints.rows
    findings = analysis.n_plus_one
    http_findings = analysis.n_plus_one_http
    per_endpoint: dict[str, int] = {}
    for finding in findings:
        label = endpoint_label(finding.endpoint)
        per_endpoint[label] = per_endpoint.get(label, 0) + 1
    ranked = [endpoint_label(row.endpoint) for row in stats]
    charted = ranked[: limits.chart_endpoints]
    latency = percentile_series(tables.con, charted, interval_s)
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "title": title,
        "spanscope_version": analysis.spanscope_version,
        "generated_ms": generated_ms,
        "input": {**asdict(analysis.input), **_request_summary(tables)},
        "limits": asdict(limits),
        "min_repeats": analysis.min_repeats,
        "endpoints": {
            "apdex_ms": analysis.apdex_ms,
            "columns": [*_ENDPOINT_COLUMNS, "n_plus_one"],
            "rows": [
                _endpoint_row(row, per_endpoint.get(endpoint_label(row.endpoint), 0))
                for row in stats[: limits.endpoints]
            ],
            "omitted": max(0, len(stats) - limits.endpoints),
        },
        "latency": latency,
        "breakdown": layer_breakdown(tables.con, ranked[: limits.breakdown_endpoints]),
        "n_plus_one": {
            "findings": [_finding(f, "statement") for f in findings[: limits.n_plus_one]],
            "omitted": max(0, len(findings) - limits.n_plus_one),
        },
        "n_plus_one_http": {
            "findings": [_finding(f, "url") for f in http_findings[: limits.n_plus_one]],
            "omitted": max(0, len(http_findings) - limits.n_plus_one),
        },
        "statements": top_statements(tables.con, limits.statements),
        "waterfalls": waterfalls(tables.con, ranked[: limits.waterfalls], limits.waterfall_spans),
        "correlation": correlation_section(
            tables.requests, latency["interval_s"] if latency else None
        ),
        "trimmed": [],
    }
    return fit(document, limits.data_bytes)


def fit(document: dict[str, Any], data_bytes: int) -> dict[str, Any]:
    """Drop waterfalls, then latency series, of the least busy endpoints until the
    embedded JSON fits ``data_bytes``.  Sizes are measured on the escaped text."""
    size = len(script_json(document).encode())
    waterfall_map: dict[str, Any] = document["waterfalls"]
    series: dict[str, Any] = (document["latency"] or {}).get("series", {})
    while size > data_bytes and (waterfall_map or len(series) > 1):
        if waterfall_map:
            endpoint = list(waterfall_map)[-1]
            dropped = waterfall_map.pop(endpoint)
            entry = {"section": "waterfall", "endpoint": endpoint}
        else:
            endpoint = list(series)[-1]
            dropped = series.pop(endpoint)
            entry = {"section": "latency", "endpoint": endpoint}
        document["trimmed"].append(entry)
        # Conservative bookkeeping: the dropped key and separators are not
        # subtracted, the new entry and its comma are added.
        size += len(script_json(entry).encode()) + 1 - len(script_json(dropped).encode())
    return document
