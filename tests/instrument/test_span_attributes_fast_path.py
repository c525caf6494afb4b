"""Attributes stored without the SDK's validation are exactly what set_attributes would store."""

from __future__ import annotations

import sys

from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from spanscope.instrument.code_location import CodeLocator
from spanscope.instrument.processor import SpanscopeSpanProcessor
from spanscope.instrument.span_attributes import add_attributes, fast_path_applies

DB_SCOPE = "opentelemetry.instrumentation.sqlite3"


def _provider(limits: SpanLimits | None = None) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(span_limits=limits)
    provider.add_span_processor(SpanscopeSpanProcessor(locator=CodeLocator(excluded_prefixes=[])))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _db_span(provider: TracerProvider, exporter: InMemorySpanExporter) -> ReadableSpan:
    provider.get_tracer(DB_SCOPE).start_span("SELECT").end()
    return exporter.get_finished_spans()[-1]


def test_direct_store_equals_validated_store() -> None:
    values = {"code.file.path": "/app/views.py", "code.line.number": 12, "spanscope.layer": "db"}
    tracer = TracerProvider().get_tracer("t")
    direct, validated = tracer.start_span("a"), tracer.start_span("b")

    add_attributes(direct, values)  # type: ignore[arg-type]
    validated.set_attributes(values)

    assert fast_path_applies(direct, 3)  # type: ignore[arg-type]
    assert dict(direct.attributes) == dict(validated.attributes)  # type: ignore[attr-defined]


def test_value_length_limit_is_honoured_through_the_sdk() -> None:
    provider, exporter = _provider(SpanLimits(max_attribute_length=5))

    attributes = _db_span(provider, exporter).attributes or {}

    assert attributes["code.file.path"] == __file__[:5]


def test_attribute_count_limit_is_honoured_through_the_sdk() -> None:
    provider, exporter = _provider(SpanLimits(max_span_attributes=2))

    span = _db_span(provider, exporter)

    assert len(span.attributes or {}) == 2
    assert span.dropped_attributes > 0


def test_ended_span_is_not_written_directly() -> None:
    span = TracerProvider().get_tracer("t").start_span("a")
    span.end()

    assert not fast_path_applies(span, 1)  # type: ignore[arg-type]


def _query_from_line_a(provider: TracerProvider) -> int:
    provider.get_tracer(DB_SCOPE).start_span("SELECT").end()
    return sys._getframe().f_lineno - 1


def _query_from_line_b(provider: TracerProvider) -> int:
    provider.get_tracer(DB_SCOPE).start_span("SELECT").end()
    return sys._getframe().f_lineno - 1


def test_remembered_stack_anchor_still_finds_each_calling_line() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    locator = CodeLocator()  # the default: this test file is application code
    provider.add_span_processor(SpanscopeSpanProcessor(locator=locator))
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    lines = [_query_from_line_a(provider), _query_from_line_b(provider)]
    lines += [_query_from_line_a(provider), _query_from_line_b(provider)]

    assert locator._anchors  # later walks started from the remembered SDK frame
    found = [
        s.attributes["code.line.number"] for s in exporter.get_finished_spans() if s.attributes
    ]
    assert found == lines
