"""spanscope's ``_populate_span`` gives DB spans exactly upstream's attributes, and their params.

Each case runs real SQLite queries through upstream's dbapi instrumentation in a
fresh interpreter (the semantic-convention mode and the span limits are read
once per process), first with upstream's ``_populate_span``, then with
spanscope's, and compares every span's attributes in order.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from child_python import run_python
from opentelemetry.instrumentation.dbapi import CursorTracer
from spanscope.instrument.cursor_tracer import (
    _UPSTREAM_FINGERPRINT,
    _helpers_as_checked,
    fingerprint,
)


def _expected_replacement() -> str:
    """The copy for the upstream code it was made from (0.66b1), a wrapper for any other."""
    upstream = getattr(CursorTracer._populate_span, "__wrapped__", CursorTracer._populate_span)
    checked = fingerprint(upstream) == _UPSTREAM_FINGERPRINT
    return "fast" if checked and _helpers_as_checked(upstream.__globals__) else "wrapper"


_QUERIES = """
import json, sqlite3, sys
from opentelemetry.instrumentation import dbapi
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from spanscope.instrument import cursor_tracer

{prepare}

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
dbapi.wrap_connect(
    "opentelemetry.instrumentation.sqlite3", sqlite3, "connect", "sqlite",
    {{"database": "database"}}, tracer_provider=provider, capture_parameters={capture},
)
class NamedConnection(sqlite3.Connection):
    database = {database!r}  # read through the connection attributes mapping as db.name

connection = sqlite3.connect(":memory:", factory=NamedConnection)

def run():
    cursor = connection.cursor()
    cursor.execute("CREATE TABLE IF NOT EXISTS book (title TEXT, author_id INT)")
    cursor.execute("INSERT INTO book VALUES (?, ?)", ("Dune", 1))
    cursor.executemany("INSERT INTO book VALUES (?, ?)", [("Emma", 2), ("Ulysses", 3)])
    cursor.execute("SELECT title FROM book WHERE author_id = ?", (2,))
    cursor.execute("SELECT count(*) FROM book")
    spans = exporter.get_finished_spans()
    exporter.clear()
    params = [vars(s._attributes).get("_spanscope_params", "-") for s in spans]
    return [[s.name, list((s.attributes or {{}}).items()), s.dropped_attributes] for s in spans], params

upstream, _ = run()
installed = cursor_tracer.install(leave_params=True)
spanscope, params = run()
print(json.dumps({{"installed": installed, "upstream": upstream, "spanscope": spanscope,
                  "params": [repr(p) for p in params]}}))
"""


def _run(
    prepare: str = "", capture: bool = False, database: str = "", **env: str
) -> dict[str, Any]:
    code = _QUERIES.format(prepare=prepare, capture=capture, database=database)
    out = run_python(code, ("OTEL_", "SPANSCOPE_"), **env).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"OTEL_SEMCONV_STABILITY_OPT_IN": "database"},
        {"OTEL_SEMCONV_STABILITY_OPT_IN": "database/dup"},
        # Limits the SDK applies value by value: the faster store must step aside.
        {"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "12"},
        {"OTEL_ATTRIBUTE_COUNT_LIMIT": "2"},
    ],
    ids=["default", "new-semconv", "dup-semconv", "value-length-limit", "count-limit"],
)
def test_db_spans_get_exactly_upstreams_attributes(env: dict[str, str]) -> None:
    result = _run(**env)

    assert result["installed"] == _expected_replacement()
    assert result["spanscope"] == result["upstream"]
    assert result["upstream"][3][1]  # the spans do carry attributes to compare


@pytest.mark.parametrize("mode", ["", "database/dup"])
def test_a_named_database_is_written_as_upstream_writes_it(mode: str) -> None:
    result = _run(database="books", OTEL_SEMCONV_STABILITY_OPT_IN=mode)

    assert result["spanscope"] == result["upstream"]
    assert ("db.name", "books") in [tuple(kv) for kv in result["spanscope"][3][1]]


def test_upstreams_own_parameter_capture_is_kept() -> None:
    result = _run(capture=True)

    assert result["spanscope"] == result["upstream"]
    attributes = dict(result["spanscope"][3][1])
    assert attributes["db.statement.parameters"] == "(2,)"


def test_each_query_leaves_its_params_on_its_span() -> None:
    result = _run()

    # CREATE without params (None, as Django's wrappers see it), INSERT, executemany's
    # sequence of rows, SELECT with one, SELECT with none.
    assert result["params"] == [
        "None",
        "('Dune', 1)",
        "[('Emma', 2), ('Ulysses', 3)]",
        "(2,)",
        "None",
    ]


# An upstream release whose _populate_span spanscope has not checked: one more
# attribute than the copy knows about.
_CHANGED_UPSTREAM = """
original = dbapi.CursorTracer._populate_span
def _populate_span(self, span, cursor, *args):
    original(self, span, cursor, *args)
    span.set_attribute("db.future.attribute", "kept")
dbapi.CursorTracer._populate_span = _populate_span
"""


def test_an_unknown_upstream_is_wrapped_not_copied() -> None:
    result = _run(prepare=_CHANGED_UPSTREAM)

    assert result["installed"] == "wrapper"
    assert result["spanscope"] == result["upstream"]
    assert ("db.future.attribute", "kept") in [tuple(kv) for kv in result["spanscope"][3][1]]
    assert result["params"][3] == "(2,)"
