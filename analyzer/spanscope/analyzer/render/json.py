"""``--format json``: one JSON object, schema version 1.

Every float is rounded to 3 decimals; times are milliseconds.  Keys may be added
in a later version of the same ``schema_version``; a key is never removed or
renamed without bumping it.

Top level
    ``schema_version`` (str)
        ``"1"``.
    ``spanscope_version`` (str)
        The spanscope release that wrote the report.
    ``options`` (object)
        ``min_repeats`` (int): the N+1 threshold used;
        ``group_by`` (str): how requests were keyed into endpoints: ``route``,
        ``url`` (method and URL path) or ``name`` (server span name);
        ``apdex_ms`` (float): the Apdex target T the endpoints were scored against.
    ``input`` (object)
        ``files`` (int): files read (0 when a table was analysed directly);
        ``spans`` (int): spans analysed, after de-duplication;
        ``traces`` (int): distinct trace ids;
        ``skipped_records`` (int): records that could not be read (reported on stderr).
    ``endpoints`` (array)
        One object per endpoint, sorted by ``total_ms`` descending:

        ``endpoint`` (str): ``"GET books/"`` -- HTTP method and Django route;
        ``"GET (no route)"`` for requests that matched no route (404s); with
        ``group_by`` ``url`` the method and URL path (``"GET /blog/first-post/"``),
        with ``name`` the server span's name;
        ``requests`` (int): server spans; ``errors`` (int): those with HTTP status
        >= 500 or span status Error; ``error_rate`` (float): errors / requests;
        ``satisfied``, ``tolerating``, ``frustrated`` (int): Apdex counts -- at most
        T, above T and at most 4T, above 4T or an error; ``apdex`` (float):
        (satisfied + tolerating / 2) / requests;
        ``mean_ms``, ``p50_ms``, ``p90_ms``, ``p95_ms``, ``p99_ms``, ``max_ms`` (float):
        request duration statistics, exact (linearly interpolated) percentiles;
        ``total_ms`` (float): sum of request durations;
        ``db_ms`` (float): mean per request of the time covered by DB spans (overlapping
        queries counted once);
        ``app_ms`` (float): mean per request of the time covered by no child span;
        ``queries_per_request`` (float): mean number of DB spans per request.
    ``n_plus_one`` (array)
        One object per finding, sorted by ``wasted_ms`` descending:

        ``endpoint`` (str); ``statement`` (str): the normalized SQL template
        (literals and placeholders as ``?``);
        ``parent`` (str | null): name of the span the repeated queries run under;
        ``repeats`` (int): the count under one parent in the worst affected request;
        ``requests`` (int): requests in which the pattern occurs;
        ``wasted_ms`` (float): summed over those requests, the time covered by the
        repeated queries minus one query's mean time;
        ``example_trace_id`` (str): the worst affected request's trace;
        ``code`` (object | null): ``{"file": str, "line": int | null,
        "function": str | null}``, the most common code location of the queries;
        ``relation`` (str | null): the ORM relation lazily loaded, e.g.
        ``"inventory.Book.author"``; ``relation_kind`` (str | null): ``forward_fk``,
        ``one_to_one``, ``reverse_one_to_one``, ``reverse_fk``, ``many_to_many`` or
        ``generic``; ``lookup`` (str | null): the lookup name;
        ``suggestion`` (str | null): the fix, e.g. ``select_related("author")``
        or ``prefetch_related("book_set")``;
        ``level`` (str): ``"parent"`` when the repeats run under one parent span,
        ``"request"`` when they are spread over several parents of one request
        (``parent`` is then the most common one); no query counts at both levels.
    ``n_plus_one_http`` (array)
        Backend calls repeated in a request, sorted by ``wasted_ms`` descending:
        ``endpoint`` (str); ``method`` (str); ``url`` (str): the URL with numbers,
        UUIDs and hex ids in path segments and query values replaced by ``{id}``;
        ``parent`` (str | null); ``repeats``, ``requests``, ``wasted_ms``,
        ``example_trace_id`` and ``level`` (``"parent"`` or ``"request"``) as for
        ``n_plus_one``.  A client span directly under another HTTP client span (the
        same call wrapped by a lower library) is not counted again.
    ``duplicates`` (array)
        The same statement with the same parameters (equal ``spanscope.db.params_hash``,
        or identical text with inline values) run more than once in a request, sorted
        by ``wasted_ms`` descending: ``endpoint``, ``statement``, ``copies`` (int: in
        the worst request), ``requests``, ``wasted_ms`` (union of the copies minus one),
        ``example_trace_id``, ``code``.
    ``slow_queries`` (array)
        The 20 normalized statements with the most total time: ``statement``;
        ``count`` (int); ``total_ms``, ``mean_ms``, ``p95_ms``, ``max_ms`` (float): the
        statement's own durations; ``endpoints`` (array of str): up to 10 endpoints
        that spent the most time in it, most first.
    ``breakdown`` (object)
        Self time by layer: ``overall`` (object | null: null without requests) and
        ``endpoints`` (array, by total time descending), each with ``endpoint``
        (``"(all)"`` for ``overall``); ``requests`` (int); ``duration_ms`` (mean
        request duration); ``app_ms``, ``db_ms``, ``cache_ms``, ``template_ms``,
        ``http_ms``, ``other_ms``: mean per request of the summed self time (duration
        minus the union of the children's intervals) of the request's spans of that
        layer, ``app_ms`` being the request span's own; ``db_calls``,
        ``cache_calls``, ``template_calls``, ``http_calls``, ``other_calls``: mean
        spans of that layer per request.
"""

from __future__ import annotations

from typing import Any, Final, TextIO

from spanscope.analyzer.render.json_output import JsonFormat, write_json
from spanscope.analyzer.render.registry import register
from spanscope.analyzer.report import AnalysisReport

SCHEMA_VERSION: Final = "1"
DECIMALS: Final = 3


def rounded(value: Any) -> Any:
    """``value`` with every float, however deeply nested, rounded to :data:`DECIMALS`."""
    if isinstance(value, float):
        return round(value, DECIMALS)
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item) for item in value]
    return value


def report_document(report: AnalysisReport) -> dict[str, Any]:
    """The JSON document as Python data (see the module docstring)."""
    data = report.to_dict()
    document: dict[str, Any] = rounded(
        {
            "schema_version": SCHEMA_VERSION,
            "spanscope_version": data["spanscope_version"],
            "options": data["options"],
            "input": data["input"],
            "endpoints": data["endpoints"],
            "n_plus_one": data["n_plus_one"],
            "n_plus_one_http": data["n_plus_one_http"],
            "duplicates": data["duplicates"],
            "slow_queries": data["slow_queries"],
            "breakdown": data["breakdown"],
        }
    )
    return document


@register
class JsonRenderer(JsonFormat):
    def render(self, report: AnalysisReport, out: TextIO, *, color: bool) -> None:
        write_json(report_document(report), out)
