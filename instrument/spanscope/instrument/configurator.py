"""spanscope's OpenTelemetry SDK configurator (entry point ``opentelemetry_configurator: spanscope``).

It builds the same TracerProvider as the SDK's own configurator, through the
SDK's ``_initialize_components`` (so ``OTEL_TRACES_EXPORTER``, ``OTEL_RESOURCE_*``,
samplers, id generators and entry-point exporters all behave as documented
upstream), with five differences:

1. :class:`~spanscope.instrument.processor.SpanCapture` captures what the
   ``code.*``, ``spanscope.orm.*`` and ``spanscope.db.params_hash`` attributes
   are made of when a span starts, as the ``on_start`` of the first export
   processor (so every exporter sees them, and the SDK calls one processor per
   span, not two);
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
   thread (:mod:`spanscope.instrument.deferred` has the measurements);
5. every exporter but spanscope's file exporter (which counts its own drops) is
   also wrapped by :mod:`spanscope.instrument.otlp_drops`: spans lost to failed
   exports or to a full queue are counted, an outage is logged once with its
   recovery, and the totals once at exit.

Sampling is left entirely to ``OTEL_TRACES_SAMPLER``/``OTEL_TRACES_SAMPLER_ARG``:
``parentbased_traceidratio`` keeps or drops whole traces.  When the configured
sampler keeps only a fraction of traces, a one-time warning says that N+1
detection sees only the kept requests (:mod:`spanscope.instrument.sampling`).
"""

from __future__ import annotations

import inspect
import itertools
import logging
import os
from collections.abc import Callable
from typing import Any, NamedTuple

from opentelemetry import trace
from opentelemetry.sdk._configuration import _initialize_components, _OTelSDKConfigurator
from opentelemetry.sdk.environment_variables import (
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    OTEL_BSP_MAX_QUEUE_SIZE,
    OTEL_BSP_SCHEDULE_DELAY,
    OTEL_CONFIG_FILE,
)
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from spanscope.instrument import layers
from spanscope.instrument.deferred import (
    CapturingBatchSpanProcessor,
    Enricher,
    EnrichingSpanExporter,
)
from spanscope.instrument.file_exporter import OTLPJsonFileSpanExporter
from spanscope.instrument.otlp_drops import DropCountingSpanProcessor, QueueLimits
from spanscope.instrument.processor import SpanCapture, enrichment_from_env
from spanscope.instrument.sampling import warn_if_sampling
from spanscope.instrument.shutdown import install_sigterm_flush

_logger = logging.getLogger(__name__)

DEFAULT_SCHEDULE_DELAY_MS = 2000
DEFAULT_MAX_QUEUE_SIZE = 8192
# The specification's BatchSpanProcessor defaults, which the SDK applies when a
# variable is unset or not an integer.
SPEC_MAX_QUEUE_SIZE = 2048
SPEC_MAX_EXPORT_BATCH_SIZE = 512


class Pipeline(NamedTuple):
    """What :func:`enrichment_pipeline` builds, as ``_initialize_components`` takes it."""

    span_processors: list[SpanProcessor]  # registered before the export processors
    export_processor: Callable[..., SpanProcessor]  # (exporter, *batch args) -> processor


def enrichment_pipeline() -> Pipeline:
    """spanscope's capture and the export-processor factory that goes with it.

    Every exporter is wrapped in an
    :class:`~spanscope.instrument.deferred.EnrichingSpanExporter` that turns
    what was captured into attributes, in batches, on the exporter thread.  The
    capture is no processor of its own: the first export processor made is a
    :class:`~spanscope.instrument.deferred.CapturingBatchSpanProcessor`, so the
    SDK calls one processor per span (see :mod:`spanscope.instrument.deferred`).
    """
    enricher = Enricher(enrichment_from_env())
    capture = SpanCapture()
    made = itertools.count()

    def export_processor(span_exporter: SpanExporter, *args: Any, **kwargs: Any) -> SpanProcessor:
        def batch(exporter: SpanExporter) -> SpanProcessor:
            enriching = EnrichingSpanExporter(exporter, enricher)
            if next(made) == 0:  # the first export processor captures for all of them
                return batch_span_processor(enriching, *args, capture=capture, **kwargs)
            return batch_span_processor(enriching, *args, **kwargs)

        if isinstance(span_exporter, OTLPJsonFileSpanExporter):
            return batch(span_exporter)
        return DropCountingSpanProcessor(span_exporter, batch, queue_limits(*args, **kwargs))

    return Pipeline([], export_processor)


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def queue_limits(*args: Any, **kwargs: Any) -> QueueLimits:
    """The queue and batch sizes :func:`batch_span_processor` gives its BatchSpanProcessor.

    Resolved here as the SDK resolves them, because the processor does not expose them.
    """
    given = inspect.signature(BatchSpanProcessor).bind_partial(None, *args, **kwargs).arguments
    queue = given.get("max_queue_size")
    if queue is None:
        if os.environ.get(OTEL_BSP_MAX_QUEUE_SIZE):
            queue = _env_int(OTEL_BSP_MAX_QUEUE_SIZE, SPEC_MAX_QUEUE_SIZE)
        else:
            queue = DEFAULT_MAX_QUEUE_SIZE
    batch = given.get("max_export_batch_size")
    if batch is None:
        batch = _env_int(OTEL_BSP_MAX_EXPORT_BATCH_SIZE, SPEC_MAX_EXPORT_BATCH_SIZE)
    return QueueLimits(int(queue), int(batch))


def batch_span_processor(
    span_exporter: SpanExporter,
    *args: Any,
    capture: SpanProcessor | None = None,
    **kwargs: Any,
) -> SpanProcessor:
    """A BatchSpanProcessor with spanscope's defaults where no ``OTEL_BSP_*`` variable is set.

    With ``capture``, a :class:`CapturingBatchSpanProcessor` whose ``on_start`` is ``capture``'s.
    """
    if not os.environ.get(OTEL_BSP_SCHEDULE_DELAY):
        kwargs.setdefault("schedule_delay_millis", DEFAULT_SCHEDULE_DELAY_MS)
    if not os.environ.get(OTEL_BSP_MAX_QUEUE_SIZE):
        kwargs.setdefault("max_queue_size", DEFAULT_MAX_QUEUE_SIZE)
    if capture is not None:
        return CapturingBatchSpanProcessor(span_exporter, capture, *args, **kwargs)
    return BatchSpanProcessor(span_exporter, *args, **kwargs)


class SpanscopeConfigurator(_OTelSDKConfigurator):
    def _configure(self, **kwargs: Any) -> None:
        layers.install()
        if os.environ.get(OTEL_CONFIG_FILE):
            # A declarative configuration file describes the whole SDK; honour it as is.
            super()._configure(**kwargs)  # type: ignore[no-untyped-call]
        else:
            pipeline = enrichment_pipeline()
            kwargs.setdefault("span_processors", pipeline.span_processors)
            kwargs.setdefault("export_span_processor", pipeline.export_processor)
            _initialize_components(**kwargs)
        provider = trace.get_tracer_provider()
        if isinstance(provider, TracerProvider):
            install_sigterm_flush(provider)
            warn_if_sampling(provider.sampler)
