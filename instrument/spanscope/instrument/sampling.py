"""Warn, once per process, when the configured sampler keeps only part of the traces.

spanscope never chooses a sampler: ``OTEL_TRACES_SAMPLER`` and
``OTEL_TRACES_SAMPLER_ARG`` are honoured as the SDK documents them.  Use
``parentbased_traceidratio``: the root span's decision is inherited by every
child (DB, cache, template, HTTP spans) and by downstream services through
``traceparent``, so a trace is kept or dropped whole.  N+1 detection counts the
queries of one request, so it needs whole traces -- with ratio sampling, the
requests that are kept are analysed correctly, the others are simply absent.
"""

from __future__ import annotations

import logging
import threading

from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, StaticSampler, TraceIdRatioBased

_logger = logging.getLogger(__name__)

_warned = False
_lock = threading.Lock()


def kept_fraction(sampler: Sampler) -> float | None:
    """The fraction of new traces ``sampler`` keeps, or None when it cannot be told."""
    root = sampler._root if isinstance(sampler, ParentBased) else sampler
    if isinstance(root, TraceIdRatioBased):
        return float(root.rate)
    if isinstance(root, StaticSampler):
        return 1.0 if root.get_description() == "AlwaysOnSampler" else 0.0
    return None


def warn_if_sampling(sampler: Sampler) -> bool:
    """Log the warning (at most once per process) when ``sampler`` keeps < 100 %; True if it did."""
    global _warned
    fraction = kept_fraction(sampler)
    if fraction is None or fraction >= 1.0:
        return False
    with _lock:
        if _warned:
            return False
        _warned = True
    whole = "whole traces" if isinstance(sampler, ParentBased) else "traces"
    _logger.warning(
        "spanscope: the sampler %s keeps %.0f%% of %s; N+1 detection needs complete traces "
        "and only sees the requests that are kept (hint: use "
        "OTEL_TRACES_SAMPLER=parentbased_traceidratio so no trace is cut in parts, or "
        "OTEL_TRACES_SAMPLER_ARG=1 to keep all)",
        sampler.get_description(),
        fraction * 100,
        whole,
    )
    return True
