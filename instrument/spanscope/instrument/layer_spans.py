"""Run one call of the host application inside a span of spanscope's own layers.

Shared by the cache and template instrumentation.  The contract with the host
application: its call runs exactly once, with its own arguments, and its result
or exception reaches the caller unchanged; any failure of tracing itself is
logged at debug level and the call simply runs untraced.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.sdk.trace import Span
from opentelemetry.util.types import AttributeValue
from spanscope.instrument.span_attributes import add_attributes

_logger = logging.getLogger(__name__)

T = TypeVar("T")
ResultAttributes = Callable[[Any], Mapping[str, AttributeValue]]


def _add(span: trace.Span, values: Mapping[str, AttributeValue]) -> None:
    if isinstance(span, Span):
        # Not yet shared with another thread or ended: the cheap store applies.
        add_attributes(span, values)
    else:
        span.set_attributes(values)


def run_in_span(
    tracer: trace.Tracer,
    name: str,
    kind: trace.SpanKind,
    attributes: Mapping[str, AttributeValue],
    call: Callable[[], T],
    result_attributes: ResultAttributes | None = None,
) -> T:
    """``call()`` inside a new current span; exceptions are recorded on it and re-raised."""
    try:
        span = tracer.start_span(name, kind=kind)
        if span.is_recording():
            _add(span, attributes)
    except Exception:
        _logger.debug("spanscope: cannot start span %r", name, exc_info=True)
        return call()
    with trace.use_span(span, end_on_exit=True, record_exception=True):
        result = call()
        if result_attributes is not None and span.is_recording():
            try:
                _add(span, result_attributes(result))
            except Exception:
                _logger.debug("spanscope: cannot describe the result of %r", name, exc_info=True)
        return result
