"""Attach spanscope's attributes on the exporter thread, in batches, not on the request thread.

Timed in place in a Django N+1 loop on the 2-core development machine (thread
CPU time per DB span, machine under load): every small step of ``on_start``
costs about a microsecond there -- between two queries Django's own code has
evicted spanscope's code and data from the CPU caches -- so storing eight
attributes and hashing the parameters cost 8-10 µs of the ~15 µs, against
~1 µs per span for the same work in a tight loop over an export batch.

So with deferral on (spanscope's configurator turns it on), ``on_start`` keeps
only what must be captured while the query runs -- the application frame found
by the stack walk, raw (code object, instruction offset: its line and function
name are worked out here, see :func:`spanscope.instrument.code_location.resolve`),
the current ORM relation, the query parameters -- as one tuple filed under the
span id in :class:`PendingAttributes`, and
:class:`EnrichingSpanExporter`, which the configurator puts in front of every
exporter, turns a whole export batch's tuples into attributes (hashing the
parameters) just before the wrapped exporter encodes them.

The attribute store is shared between the ``Span`` and the ``ReadableSpan`` an
exporter receives; the attributes are written into it directly (it is marked
immutable once a span has ended), under a lock, so two exporters never see a
span half-finished, and within the span-attribute count limit.  Entries of
spans that are never exported (a full queue drops them, or no exporter is
configured) are forgotten, oldest half first, beyond :data:`MAX_PENDING`, so
memory stays bounded.  In-process consumers that read attributes before export
(an ``on_end`` hook of another processor) do not see spanscope's attributes in
this mode.  The parameters object is kept by reference until export, not
copied: drivers and Django pass a fresh tuple or list per query, which nobody
changes afterwards.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.util.types import AttributeValue
from spanscope.instrument import attributes, query_params
from spanscope.instrument.code_location import RawLocation, resolve
from spanscope.instrument.relation_context import Relation

_logger = logging.getLogger(__name__)

# Twice the batch processor's queue as spanscope configures it: spans still queued
# are never forgotten.
MAX_PENDING = 16_384

_NO_PARAMS = query_params.no_params()


# What ``on_start`` captured for one span: (layer, raw code location, ORM relation,
# query parameters or query_params.no_params()).  A plain tuple: building a
# NamedTuple costs a Python-level __new__ call per span.
Captured = tuple[str | None, RawLocation | None, Relation | None, object]


class Enrichment:
    """How captured data becomes attributes: parameter hash and capture settings."""

    def __init__(self, hasher: Callable[[object], str] | None, capture_params: bool) -> None:
        self.hasher = hasher
        self.capture_params = capture_params

    def attributes(self, captured: Captured) -> dict[str, AttributeValue]:
        layer, raw_location, relation, params = captured
        out: dict[str, AttributeValue] = {}
        if layer is not None:
            out[attributes.LAYER] = layer
        if raw_location is not None:
            location = resolve(raw_location)
            out[attributes.CODE_FILE_PATH] = location.file_path
            out[attributes.CODE_LINE_NUMBER] = location.line_number
            out[attributes.CODE_FUNCTION_NAME] = location.function_name
        if relation is not None:
            out[attributes.ORM_RELATION] = relation.name
            out[attributes.ORM_RELATION_KIND] = relation.kind
            out[attributes.ORM_LOOKUP] = relation.lookup
        if params is not _NO_PARAMS:
            if self.hasher is not None:
                out[attributes.DB_PARAMS_HASH] = self.hasher(params)
            if self.capture_params:
                out.update(query_params.parameter_attributes(params))
        return out


def _store_into(span: ReadableSpan, values: Mapping[str, AttributeValue]) -> None:
    store: Any = span._attributes
    target = getattr(store, "_dict", None)
    if type(target) is not dict:
        return
    maxlen = getattr(store, "maxlen", None)
    for key, value in values.items():
        if maxlen is not None and len(target) >= maxlen and key not in target:
            store.dropped += 1
            continue
        target[key] = value


class PendingAttributes:
    """Captured data waiting for export, by span id; bounded, thread-safe."""

    def __init__(self, enrichment: Enrichment, limit: int = MAX_PENDING) -> None:
        self.enrichment = enrichment
        self._limit = limit
        # A plain dict (insertion-ordered) is cheaper to insert into than an OrderedDict.
        self._pending: dict[int, Captured] = {}
        self._lock = threading.Lock()
        self.forgotten = 0

    def add(self, span_id: int, captured: Captured) -> None:
        # One C-level dict operation under the GIL: no lock on the request thread.
        pending = self._pending
        pending[span_id] = captured
        if len(pending) > self._limit:
            self._forget_oldest_half()

    def _forget_oldest_half(self) -> None:
        # Rebuilt in one go rather than popping the oldest entry per insert: a dict
        # with many deleted entries at its front makes next(iter(d)) scan them all.
        with self._lock:
            pending = self._pending
            if len(pending) <= self._limit:
                return
            keep = list(pending.items())[len(pending) // 2 :]
            self.forgotten += len(pending) - len(keep)
            pending.clear()
            pending.update(keep)

    def __len__(self) -> int:
        return len(self._pending)

    def finish(self, spans: Sequence[ReadableSpan]) -> None:
        """Store the attributes of every span of ``spans`` that has captured data waiting."""
        pending, enrichment = self._pending, self.enrichment
        with self._lock:
            for span in spans:
                context = span.context
                if context is None:
                    continue
                captured = pending.pop(context.span_id, None)
                if captured is None:
                    continue
                try:
                    _store_into(span, enrichment.attributes(captured))
                except Exception:  # this span goes out unenriched, the others do not
                    _logger.debug("spanscope could not enrich span %r", span, exc_info=True)


class EnrichingSpanExporter(SpanExporter):
    """Finishes pending attributes, then hands the batch to ``exporter``.  Never raises."""

    def __init__(self, exporter: SpanExporter, pending: PendingAttributes) -> None:
        self.exporter = exporter
        self._pending = pending

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            self._pending.finish(spans)
        except Exception:  # the spans still go out, unenriched
            _logger.debug("spanscope: could not enrich an export batch", exc_info=True)
        return self.exporter.export(spans)

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self.exporter.force_flush(timeout_millis))
