"""Install every Django patch spanscope makes, in one call.

Outgoing HTTP needs nothing here: the upstream ``opentelemetry-instrumentation-
requests``/``-urllib3``/``-httpx`` instrumentors (in the ``instrument`` extra)
are loaded by ``opentelemetry-instrument`` through their entry points, and
:mod:`spanscope.instrument.processor` marks their
spans ``spanscope.layer=http``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from opentelemetry import trace
from spanscope.instrument import (
    autoreload,
    cache,
    middleware,
    query_params,
    relations,
    templates,
)

_logger = logging.getLogger(__name__)

# Registry: description -> installer (each idempotent, never raising, returns success).
INSTALLERS: dict[str, Callable[[trace.TracerProvider | None], bool]] = {
    "ORM relations": lambda provider: relations.install(),
    "query parameters": lambda provider: query_params.install(),
    "cache calls": cache.install,
    "template rendering": templates.install,
    "runserver autoreloader SIGTERM": lambda provider: autoreload.install(),
}
# Installed only when asked for (SPANSCOPE_MIDDLEWARE_SPANS=1): reported apart.
OPTIONAL_INSTALLERS: dict[str, Callable[[trace.TracerProvider | None], bool]] = {
    "middleware": middleware.install,
}


def install(tracer_provider: trace.TracerProvider | None = None) -> dict[str, bool]:
    """Install every patch; returns which ones are in place.  Never raises.

    Optional patches (middleware spans) are only in place when their setting asks for them.

    ``tracer_provider`` None means the global one (resolved when spans start,
    so installing before the SDK is configured is fine).
    """
    done: dict[str, bool] = {}
    for description, installer in {**INSTALLERS, **OPTIONAL_INSTALLERS}.items():
        try:
            done[description] = installer(tracer_provider)
        except Exception:
            done[description] = False
            _logger.debug("spanscope: installing %s failed", description, exc_info=True)
    return done
