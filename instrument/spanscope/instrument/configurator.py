"""spanscope's OpenTelemetry SDK configurator (entry point ``opentelemetry_configurator: spanscope``).

It builds the same TracerProvider as the SDK's own configurator, through the
SDK's ``_initialize_components`` (so ``OTEL_TRACES_EXPORTER``, ``OTEL_RESOURCE_*``,
samplers, id generators and entry-point exporters all behave as documented
upstream), with four differences:

1. :class:`~spanscope.instrument.processor.SpanscopeSpanProcessor` is the first
   span processor, so every exporter sees the ``code.*`` and ``spanscope.orm.*``
   attributes it adds;
2. each exporter named in ``OTEL_TRACES_EXPORTER`` (a comma list such as
   ``spanscope_file,otlp``) gets a BatchSpanProcessor whose defaults suit N+1
   hunting: a 2 s schedule delay (files stay at most a few seconds behind) and a
   queue of 8,192 spans (one N+1 request easily ends 2,000 spans at once, more
   than the SDK's default 2,048).  ``OTEL_BSP_*`` variables, when set, win;
3. SIGTERM flushes the provider (:mod:`spanscope.instrument.shutdown`), and the
   Django patches are installed (:mod:`spanscope.instrument.layers`);
4. each exporter is fronted by an
   :class:`~spanscope.instrument.deferred.EnrichingSpanExporter`: the
   processor only captures what it must while the query runs, and the
   attributes (and the parameter hash) are made in batches on the exporter
   thread (:mod:`spanscope.instrument.deferred` has the measurements).

Sampling is left entirely to ``OTEL_TRACES_SAMPLER``/``OTEL_TRACES_SAMPLER_ARG``:
``parentbased_traceidratio`` keeps or drops whole traces.  When the configured
sampler keeps only a fraction of traces, a one-time warning says that N+1
detection sees only the kept requests (:mod:`spanscope.instrument.sampling`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk._configuration import _initialize_components, _OTelSDKConfigurator
from opentelemetry.sdk.environment_variables import (
    OTEL_BSP_MAX_QUEUE_SIZE,
    OTEL_BSP_SCHEDULE_DELAY,
    OTEL_CONFIG_FILE,
)
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from spanscope.instrument import layers
from spanscope.instrument.deferred import EnrichingSpanExporter, PendingAttributes
from spanscope.instrument.processor import SpanscopeSpanProcessor, enrichment_from_env
from spanscope.instrument.sampling import warn_if_sampling
from spanscope.instrument.shutdown import install_sigterm_flush

_logger = logging.getLogger(__name__)

DEFAULT_SCHEDULE_DELAY_MS = 2000
DEFAULT_MAX_QUEUE_SIZE = 8192


def enrichment_pipeline() -> tuple[SpanscopeSpanProcessor, Callable[..., SpanProcessor]]:
    """spanscope's span processor and the export-processor factory that goes with it.

    The processor runs in deferred mode: every exporter is wrapped in an
    :class:`~spanscope.instrument.deferred.EnrichingSpanExporter` that turns
    what the processor captured into attributes, in batches, on the exporter
    thread.
    """
    pending = PendingAttributes(enrichment_from_env())
    processor = SpanscopeSpanProcessor(pending=pending)

    def export_processor(span_exporter: SpanExporter, *args: Any, **kwargs: Any) -> SpanProcessor:
        return batch_span_processor(EnrichingSpanExporter(span_exporter, pending), *args, **kwargs)

    return processor, export_processor


def batch_span_processor(span_exporter: SpanExporter, *args: Any, **kwargs: Any) -> SpanProcessor:
    """A BatchSpanProcessor with spanscope's defaults where no ``OTEL_BSP_*`` variable is set."""
    if not os.environ.get(OTEL_BSP_SCHEDULE_DELAY):
        kwargs.setdefault("schedule_delay_millis", DEFAULT_SCHEDULE_DELAY_MS)
    if not os.environ.get(OTEL_BSP_MAX_QUEUE_SIZE):
        kwargs.setdefault("max_queue_size", DEFAULT_MAX_QUEUE_SIZE)
    return BatchSpanProcessor(span_exporter, *args, **kwargs)


class SpanscopeConfigurator(_OTelSDKConfigurator):
    def _configure(self, **kwargs: Any) -> None:
        layers.install()
        if os.environ.get(OTEL_CONFIG_FILE):
            # A declarative configuration file describes the whole SDK; honour it as is.
            super()._configure(**kwargs)  # type: ignore[no-untyped-call]
        else:
            processor, export_processor = enrichment_pipeline()
            kwargs.setdefault("span_processors", [processor])
            kwargs.setdefault("export_span_processor", export_processor)
            _initialize_components(**kwargs)
        provider = trace.get_tracer_provider()
        if isinstance(provider, TracerProvider):
            install_sigterm_flush(provider)
            warn_if_sampling(provider.sampler)
