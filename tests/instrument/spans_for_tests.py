"""Real SDK spans for encoder and exporter tests (no hand-built fakes)."""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags


def request_with_queries(n_queries: int = 3) -> list[ReadableSpan]:
    """A server span with ``n_queries`` DB client children, an event, a link and an error."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "books-demo"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    db = provider.get_tracer(
        "opentelemetry.instrumentation.sqlite3",
        "0.66b1",
        schema_url="https://opentelemetry.io/schemas/1.11.0",
    )
    web = provider.get_tracer("opentelemetry.instrumentation.django", "0.66b1")
    remote = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(1))
    with web.start_as_current_span(
        "GET books/", kind=SpanKind.SERVER, links=[Link(remote, {"why": "test"})]
    ) as root:
        root.set_attribute("http.route", "books/")
        root.set_attribute("http.status_code", 500)
        root.add_event(
            "exception", {"exception.type": "ValueError", "exception.message": 'ünïcode "quoted"'}
        )
        for i in range(n_queries):
            with db.start_as_current_span("SELECT", kind=SpanKind.CLIENT) as span:
                span.set_attributes(
                    {
                        "db.system": "sqlite",
                        "db.statement": 'SELECT "a"."id" FROM "a" WHERE "a"."id" = %s',
                        "code.line.number": 40 + i,
                        "ratio": 0.5,
                        "cached": False,
                        "tags": ("x", "y"),
                    }
                )
        root.set_status(Status(StatusCode.ERROR, "boom"))
    return list(exporter.get_finished_spans())
