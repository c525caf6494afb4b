"""Deferred mode: what on_start captures becomes attributes on the exporter thread, unchanged."""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer
from spanscope.instrument.configurator import enrichment_pipeline
from spanscope.instrument.cursor_tracer import leaving_params
from spanscope.instrument.deferred import (
    Enricher,
    EnrichingSpanExporter,
    Enrichment,
    take_captured,
)
from spanscope.instrument.processor import SpanCapture, SpanscopeSpanProcessor
from spanscope.instrument.query_params import ParamsHasher, current_params
from spanscope.instrument.relation_context import Relation, current_relation

HASH = "spanscope.db.params_hash"
HASHER = ParamsHasher(b"test key")
AUTHOR = Relation("inventory.Book.author", "forward_fk", "author")


def _upstream_populate_span(self: object, span: object, cursor: object, *args: object) -> None:
    """Stands for upstream's CursorTracer._populate_span, which sets db.* attributes."""


# What spanscope installs on upstream's CursorTracer: the span keeps its params.
populate_span = leaving_params(_upstream_populate_span)


def query(tracer: Tracer, params: object) -> None:
    """One DB span as the dbapi instrumentation makes it: started, populated, ended."""
    span = tracer.start_span("SELECT")
    populate_span(None, span, None, "SELECT * FROM book WHERE id = %s", params)
    span.end()


def run_queries(
    processor: SpanProcessor,
    exporter: SpanExporter,
    params: list[object],
    limits: SpanLimits | None = None,
) -> None:
    provider = TracerProvider(span_limits=limits)
    provider.add_span_processor(processor)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("opentelemetry.instrumentation.sqlite3")
    relation = current_relation.set((AUTHOR, None))
    try:
        for value in params:
            query(tracer, value)
    finally:
        current_relation.reset(relation)


def deferred(
    exporter: SpanExporter, hasher: ParamsHasher | None = HASHER
) -> tuple[SpanCapture, SpanExporter]:
    return SpanCapture(), EnrichingSpanExporter(exporter, Enricher(Enrichment(hasher, False)))


def deferred_tracer(exporter: SpanExporter) -> Tracer:
    """A DB instrumentation's tracer whose spans go through the deferred pipeline to ``exporter``."""
    processor, enriching = deferred(exporter)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    provider.add_span_processor(SimpleSpanProcessor(enriching))
    return provider.get_tracer("opentelemetry.instrumentation.sqlite3")


def test_deferred_and_immediate_modes_give_the_same_attributes() -> None:
    immediate = InMemorySpanExporter()
    run_queries(
        SpanscopeSpanProcessor(enrichment=Enrichment(HASHER, capture_params=False)),
        immediate,
        [(1,), (2,)],
    )
    late = InMemorySpanExporter()
    processor, exporter = deferred(late)
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
    # Taken off the spans once made into attributes.
    assert [take_captured(s) for s in late.get_finished_spans()] == [None, None]


class Recorder(SpanExporter):
    """Records what each span's attributes were at the moment of export."""

    def __init__(self) -> None:
        self.seen: list[dict[str, object]] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.seen += [dict(s.attributes or {}) for s in spans]
        return SpanExportResult.SUCCESS


def test_attributes_are_in_place_before_the_wrapped_exporter_encodes() -> None:
    recorder = Recorder()
    processor, exporter = deferred(recorder)

    run_queries(processor, exporter, [(7,)])

    assert recorder.seen[0][HASH] == HASHER((7,))
    assert recorder.seen[0]["spanscope.orm.relation"] == "inventory.Book.author"
    assert recorder.seen[0]["code.file.path"] == __file__


def test_hash_switched_off_keeps_location_and_relation() -> None:
    recorder = Recorder()
    processor, exporter = deferred(recorder, hasher=None)

    run_queries(processor, exporter, [(7,)])

    assert HASH not in recorder.seen[0]
    assert recorder.seen[0]["spanscope.layer"] == "db"


def test_attribute_count_limit_is_respected_and_counted() -> None:
    late = InMemorySpanExporter()
    processor, exporter = deferred(late)

    run_queries(processor, exporter, [(1,)], limits=SpanLimits(max_span_attributes=3))

    (span,) = late.get_finished_spans()
    assert len(span.attributes or {}) == 3
    assert span.dropped_attributes > 0


def test_a_failing_hash_never_stops_the_export() -> None:
    def broken(params: object) -> str:
        raise RuntimeError("simulated")

    late = InMemorySpanExporter()
    enricher = Enricher(Enrichment(broken, capture_params=False))
    run_queries(SpanCapture(), EnrichingSpanExporter(late, enricher), [(1,)])

    (span,) = late.get_finished_spans()
    assert HASH not in (span.attributes or {})


def test_parameters_published_by_the_fallback_execute_wrapper_are_hashed_too() -> None:
    # Without the cursor-tracer hook, Django's execute wrapper publishes them
    # in a context variable that on_start reads.
    recorder = Recorder()
    tracer = deferred_tracer(recorder)
    token = current_params.set((5,))
    try:
        tracer.start_span("SELECT").end()
    finally:
        current_params.reset(token)

    assert recorder.seen[0][HASH] == HASHER((5,))


def test_two_exporters_of_one_pipeline_both_see_the_attributes() -> None:
    first, second = Recorder(), Recorder()
    enricher = Enricher(Enrichment(HASHER, capture_params=False))
    provider = TracerProvider()
    provider.add_span_processor(SpanCapture())
    provider.add_span_processor(SimpleSpanProcessor(EnrichingSpanExporter(first, enricher)))
    provider.add_span_processor(SimpleSpanProcessor(EnrichingSpanExporter(second, enricher)))
    tracer = provider.get_tracer("opentelemetry.instrumentation.sqlite3")
    query(tracer, (3,))

    assert first.seen == second.seen
    assert first.seen[0][HASH] == HASHER((3,))


class Params(list):  # type: ignore[type-arg]
    """Query parameters that can be watched through a weak reference."""


def test_what_a_span_captured_goes_with_the_span_when_it_is_never_exported() -> None:
    provider = TracerProvider()
    provider.add_span_processor(SpanCapture())  # and no exporter at all
    tracer = provider.get_tracer("opentelemetry.instrumentation.sqlite3")
    params = Params([1])
    watch = weakref.ref(params)
    query(tracer, params)
    del params
    gc.collect()

    assert watch() is None


def select_here(tracer: Tracer) -> int:
    tracer.start_span("SELECT").end()
    return sys._getframe().f_lineno - 1


def test_spans_from_two_lines_of_one_function_each_get_their_line() -> None:
    recorder = Recorder()
    tracer = deferred_tracer(recorder)

    lines = [select_here(tracer), select_here(tracer)]
    tracer.start_span("SELECT").end()
    lines.append(sys._getframe().f_lineno - 1)

    assert [seen["code.line.number"] for seen in recorder.seen] == lines
    assert [seen["code.function.name"] for seen in recorder.seen] == [
        f"{__name__}.select_here",
        f"{__name__}.select_here",
        f"{__name__}.test_spans_from_two_lines_of_one_function_each_get_their_line",
    ]


def test_the_pipeline_captures_in_its_export_processor_and_exports_enriched_spans() -> None:
    recorder = Recorder()
    pipeline = enrichment_pipeline()
    processor = pipeline.export_processor(recorder, schedule_delay_millis=60_000)
    provider = TracerProvider()
    for extra in pipeline.span_processors:
        provider.add_span_processor(extra)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("opentelemetry.instrumentation.sqlite3")

    tracer.start_span("SELECT").end()
    provider.force_flush()

    # One processor for the SDK to call per span, as without spanscope.
    assert len(provider._active_span_processor._span_processors) == 1
    assert recorder.seen[0]["code.file.path"] == __file__
    assert recorder.seen[0]["spanscope.layer"] == "db"
    provider.shutdown()
