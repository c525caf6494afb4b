"""Attach spanscope's attributes on the exporter thread, in batches, not on the request thread.

Timed in place in a Django N+1 loop on the 2-core development machine (thread
CPU time per DB span, machine under load): every small step of ``on_start``
costs about a microsecond there -- between two queries Django's own code has
evicted spanscope's code and data from the CPU caches -- so storing eight
attributes and hashing the parameters cost 8-10 µs of the ~15 µs, against
~1 µs per span for the same work in a tight loop over an export batch.

So ``on_start`` (:class:`~spanscope.instrument.processor.SpanCapture`) keeps
only what must be captured while the query runs -- the application frame found
by the stack walk, raw (code object, instruction offset: its line and function
name are worked out here, see :func:`spanscope.instrument.code_location.resolve`),
the current ORM relation -- as one tuple left on the span's attribute store
(the query parameters are left beside it by the hook in
:mod:`spanscope.instrument.query_params`), and :class:`EnrichingSpanExporter`, which the
configurator puts in front of every exporter, turns a whole export batch's
tuples into attributes (hashing the parameters) just before the wrapped
exporter encodes them.

The capture is not a processor of its own in spanscope's pipeline: the SDK
calls ``on_start``, ``_on_ending`` and ``on_end`` of every processor for every
span, so the capture's ``on_start`` replaces the no-op ``on_start`` of the
first export processor (:class:`CapturingBatchSpanProcessor`) and the SDK calls
one processor per span, as it does without spanscope.

The attribute store is shared between the ``Span`` and the ``ReadableSpan`` an
exporter receives; the attributes are written into it directly (it is marked
immutable once a span has ended), under a lock shared by every exporter, so two
exporters never see a span half-finished, and within the span-attribute count
limit.  What ``on_start`` left on a span that is never exported (a full queue
drops it, or no exporter is configured) goes with the span.  In-process
consumers that read attributes before export (an ``on_end`` hook of another
processor) do not see spanscope's attributes in this mode.  The parameters
object is kept by reference until export, not copied: drivers and Django pass a
fresh tuple or list per query, which nobody changes afterwards.

Making the attributes costs little per span because most of them repeat: the
code location, relation and layer of an N+1 loop's spans are the same from
span to span, so their attributes are built once per (code object, instruction
offset, relation, layer) and copied in with one ``dict.update``
(:class:`Enrichment`); only the parameter hash is computed per span.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.util.types import AttributeValue
from spanscope.instrument import attributes, query_params
from spanscope.instrument.code_location import RawLocation, resolve
from spanscope.instrument.otlp_json import GROUP_ATTRIBUTE
from spanscope.instrument.relation_context import Relation

_logger = logging.getLogger(__name__)

_NO_PARAMS = query_params.no_params()
PARAMS_ATTRIBUTE = query_params.PARAMS_ATTRIBUTE


# What ``on_start`` captured for one span: (layer, raw code location, ORM relation,
# query parameters or query_params.no_params()).  A plain tuple: building a
# NamedTuple costs a Python-level __new__ call per span.
Captured = tuple[str | None, RawLocation | None, Relation | None, object]

# Where SpanCapture.on_start leaves a span's Captured tuple: an attribute of the
# span's attribute store (spelled out there, as a plain attribute assignment).
CAPTURED_ATTRIBUTE = "_spanscope_captured"

# Attribute groups built, by (code id, instruction offset, relation id, layer);
# cleared when full.  Keyed by ids: hashing a code object rehashes its bytecode
# (see code_location), and each entry keeps its code object and relation alive,
# so an id is never reused while its entry stands.
_MAX_GROUPS = 4096
GroupKey = tuple[int, int, int, str | None]


def take_captured(span: ReadableSpan) -> Captured | None:
    """What ``on_start`` left on ``span``, removed from it; None if nothing."""
    state = getattr(span._attributes, "__dict__", None)
    if state is None:
        return None
    captured: Captured | None = state.pop(CAPTURED_ATTRIBUTE, None)
    return captured


class Enrichment:
    """How captured data becomes attributes: parameter hash and capture settings."""

    def __init__(self, hasher: Callable[[object], str] | None, capture_params: bool) -> None:
        self.hasher = hasher
        self.capture_params = capture_params
        self._groups: dict[GroupKey, tuple[object, object, dict[str, AttributeValue]]] = {}

    def _group(
        self, layer: str | None, raw_location: RawLocation | None, relation: Relation | None
    ) -> dict[str, AttributeValue]:
        """The attributes of a layer, code location and relation (shared: never modify it)."""
        code = raw_location[1] if raw_location is not None else None
        key = (
            id(code),
            raw_location[2] if raw_location is not None else -1,
            id(relation),
            layer,
        )
        cached = self._groups.get(key)
        if cached is not None:
            return cached[2]
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
        if len(self._groups) >= _MAX_GROUPS:
            self._groups.clear()
        self._groups[key] = (code, relation, out)
        return out

    def _extra(self, params: object) -> dict[str, AttributeValue] | None:
        """The per-span attributes of the query parameters: their hash, their values if asked."""
        if params is _NO_PARAMS or (self.hasher is None and not self.capture_params):
            return None
        out: dict[str, AttributeValue] = {}
        if self.hasher is not None:
            out[attributes.DB_PARAMS_HASH] = self.hasher(params)
        if self.capture_params:
            out.update(query_params.parameter_attributes(params))
        return out

    def attributes(self, captured: Captured) -> dict[str, AttributeValue]:
        """Every attribute ``captured`` stands for, in a new dict."""
        layer, raw_location, relation, params = captured
        out = dict(self._group(layer, raw_location, relation))
        out.update(self._extra(params) or {})
        return out

    def store(self, captured: Captured, span: ReadableSpan, params: object = _NO_PARAMS) -> None:
        """Store the attributes ``captured`` stands for on the ended ``span``.

        ``params``: the query parameters the cursor-tracer hook left on the span
        (:data:`~spanscope.instrument.query_params.PARAMS_ATTRIBUTE`), which take
        the place of the captured ones.  Written into the dict behind the span's
        ``BoundedAttributes`` (it is immutable once the span has ended), within
        its count limit; a span whose store is something else is left as it is.
        """
        layer, raw_location, relation, captured_params = captured
        if params is _NO_PARAMS:
            params = captured_params
        store: Any = span._attributes
        target = getattr(store, "_dict", None)
        if type(target) is not dict:
            return
        if raw_location is not None:
            # _group's cache lookup, inline: it hits for nearly every span.
            cached = self._groups.get((id(raw_location[1]), raw_location[2], id(relation), layer))
            group = cached[2] if cached is not None else self._group(layer, raw_location, relation)
        else:
            group = self._group(layer, raw_location, relation)
        hasher = self.hasher
        if hasher is not None and not self.capture_params and params is not _NO_PARAMS:
            extra: dict[str, AttributeValue] | None = {attributes.DB_PARAMS_HASH: hasher(params)}
        else:
            extra = self._extra(params)
        maxlen = getattr(store, "maxlen", None)
        if maxlen is None or len(target) + len(group) + len(extra or ()) <= maxlen:
            # Within the count limit (the usual case), inline: one Python call less per span.
            target.update(group)
            if extra:
                target.update(extra)
            # Stored whole: spanscope's encoder writes the group's text once per group.
            store.__dict__[GROUP_ATTRIBUTE] = group
            return
        _store_within_limit(store, target, group, extra)

    def store_params(self, span: ReadableSpan) -> None:
        """Store the attributes of the parameters the cursor-tracer hook left on the ended ``span``."""
        state = getattr(span._attributes, "__dict__", None)
        if state is None:
            return
        params = state.pop(query_params.PARAMS_ATTRIBUTE, _NO_PARAMS)
        extra = self._extra(params)
        target = getattr(span._attributes, "_dict", None)
        if extra and type(target) is dict:
            _store_within_limit(span._attributes, target, extra, None)


def _store_within_limit(
    store: Any,
    target: dict[str, AttributeValue],
    values: dict[str, AttributeValue],
    more: dict[str, AttributeValue] | None,
) -> None:
    """``target.update(values); target.update(more)`` within ``store``'s attribute count limit."""
    maxlen = getattr(store, "maxlen", None)
    if maxlen is None or len(target) + len(values) + len(more or ()) <= maxlen:
        # Within the count limit (the usual case): no per-attribute check.
        target.update(values)
        if more:
            target.update(more)
        return
    for group in (values, more or {}):
        for key, value in group.items():
            if len(target) >= maxlen and key not in target:
                store.dropped += 1
                continue
            target[key] = value


class Enricher:
    """Turns what ``on_start`` left on spans into attributes; one per pipeline, thread-safe."""

    def __init__(self, enrichment: Enrichment) -> None:
        self.enrichment = enrichment
        # Shared by every exporter of the pipeline: a span exported by two
        # exporters is enriched by the first, and the second waits for it.
        self._lock = threading.Lock()

    def finish(self, spans: Sequence[ReadableSpan]) -> None:
        """Store the attributes of every span of ``spans`` that has captured data waiting."""
        store = self.enrichment.store
        with self._lock:
            for span in spans:
                try:
                    # take_captured, inline: one Python call less per span.
                    state = span._attributes.__dict__
                    captured = state.pop(CAPTURED_ATTRIBUTE, None)
                    if captured is not None:
                        store(captured, span, state.pop(PARAMS_ATTRIBUTE, _NO_PARAMS))
                except Exception:  # this span goes out unenriched, the others do not
                    _logger.debug("spanscope could not enrich span %r", span, exc_info=True)


class EnrichingSpanExporter(SpanExporter):
    """Finishes captured attributes, then hands the batch to ``exporter``.  Never raises."""

    def __init__(self, exporter: SpanExporter, enricher: Enricher) -> None:
        self.exporter = exporter
        self._enricher = enricher

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            self._enricher.finish(spans)
        except Exception:  # the spans still go out, unenriched
            _logger.debug("spanscope: could not enrich an export batch", exc_info=True)
        return self.exporter.export(spans)

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self.exporter.force_flush(timeout_millis))


class CapturingBatchSpanProcessor(BatchSpanProcessor):
    """A ``BatchSpanProcessor`` whose ``on_start`` is ``capture``'s (the SDK's is a no-op).

    One processor instead of a capturing one plus the batch processor saves the
    SDK's three calls per span into the second processor (``on_start``,
    ``_on_ending``, ``on_end``).
    """

    def __init__(
        self, span_exporter: SpanExporter, capture: SpanProcessor, *args: Any, **kwargs: Any
    ) -> None:
        super().__init__(span_exporter, *args, **kwargs)
        # An instance attribute: the SDK's call lands in capture.on_start directly.
        self.on_start = capture.on_start  # type: ignore[method-assign]
