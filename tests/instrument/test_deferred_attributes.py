"""Deferred mode: what on_start captures becomes attributes on the exporter thread, unchanged."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from spanscope.instrument.deferred import (
    EnrichingSpanExporter,
    Enrichment,
    PendingAttributes,
)
from spanscope.instrument.processor import SpanscopeSpanProcessor
from spanscope.instrument.query_params import ParamsHasher, current_params
from spanscope.instrument.relation_context import Relation, current_relation

HASH = "spanscope.db.params_hash"
HASHER = ParamsHasher(b"test key")
AUTHOR = Relation("inventory.Book.author", "forward_fk", "author")


def run_queries(
    processor: SpanscopeSpanProcessor,
    exporter: SpanExporter,
    params: list[object],
    limits: SpanLimits | None = None,
) -> None:
    provider = TracerProvider(span_limits=limits)
    provider.add_span_processor(processor)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("opentelemetry.instrumentation.sqlite3")
    relation = current_relation.set(AUTHOR)
    try:
        for value in params:
            token = current_params.set(value)
            try:
                tracer.start_span("SELECT").end()
            finally:
                current_params.reset(token)
    finally:
        current_relation.reset(relation)


def deferred(
    exporter: SpanExporter, hasher: ParamsHasher | None = HASHER
) -> tuple[SpanscopeSpanProcessor, SpanExporter, PendingAttributes]:
    pending = PendingAttributes(Enrichment(hasher, capture_params=False))
    return (
        SpanscopeSpanProcessor(pending=pending),
        EnrichingSpanExporter(exporter, pending),
        pending,
    )


def test_deferred_and_immediate_modes_give_the_same_attributes() -> None:
    immediate = InMemorySpanExporter()
    run_queries(
        SpanscopeSpanProcessor(enrichment=Enrichment(HASHER, capture_params=False)),
        immediate,
        [(1,), (2,)],
    )
    late = InMemorySpanExporter()
    processor, exporter, pending = deferred(late)
    run_queries(processor, exporter, [(1,), (2,)])

    def attributes_of(span: ReadableSpan) -> dict[str, object]:
        # Both runs start their spans from the same line of run_queries.
        return dict(span.attributes or {})

    assert [attributes_of(s) for s in late.get_finished_spans()] == [
        attributes_of(s) for s in immediate.get_finished_spans()
    ]
    assert [(s.attributes or {})[HASH] for s in late.get_finished_spans()] == [
        HASHER((1,)),
        HASHER((2,)),
    ]
    assert len(pending) == 0


class Recorder(SpanExporter):
    """Records what each span's attributes were at the moment of export."""

    def __init__(self) -> None:
        self.seen: list[dict[str, object]] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.seen += [dict(s.attributes or {}) for s in spans]
        return SpanExportResult.SUCCESS


def test_attributes_are_in_place_before_the_wrapped_exporter_encodes() -> None:
    recorder = Recorder()
    processor, exporter, _ = deferred(recorder)

    run_queries(processor, exporter, [(7,)])

    assert recorder.seen[0][HASH] == HASHER((7,))
    assert recorder.seen[0]["spanscope.orm.relation"] == "inventory.Book.author"
    assert recorder.seen[0]["code.file.path"] == __file__


def test_hash_switched_off_keeps_location_and_relation() -> None:
    recorder = Recorder()
    processor, exporter, _ = deferred(recorder, hasher=None)

    run_queries(processor, exporter, [(7,)])

    assert HASH not in recorder.seen[0]
    assert recorder.seen[0]["spanscope.layer"] == "db"


def test_attribute_count_limit_is_respected_and_counted() -> None:
    late = InMemorySpanExporter()
    processor, exporter, _ = deferred(late)

    run_queries(processor, exporter, [(1,)], limits=SpanLimits(max_span_attributes=3))

    (span,) = late.get_finished_spans()
    assert len(span.attributes or {}) == 3
    assert span.dropped_attributes > 0


def test_pending_entries_are_bounded() -> None:
    pending = PendingAttributes(Enrichment(HASHER, capture_params=False), limit=4)

    for span_id in range(100):
        pending.add(span_id, ("db", None, None, (span_id,)))

    assert len(pending) <= 4
    assert pending.forgotten == 100 - len(pending)
    assert 99 in pending._pending  # the newest is always kept


def test_a_failing_hash_never_stops_the_export() -> None:
    def broken(params: object) -> str:
        raise RuntimeError("simulated")

    late = InMemorySpanExporter()
    pending = PendingAttributes(Enrichment(broken, capture_params=False))
    run_queries(
        SpanscopeSpanProcessor(pending=pending), EnrichingSpanExporter(late, pending), [(1,)]
    )

    (span,) = late.get_finished_spans()
    assert HASH not in (span.attributes or {})
