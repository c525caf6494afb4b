"""Optional: one span per Django middleware (``SPANSCOPE_MIDDLEWARE_SPANS=1``; off by default).

Each middleware's span encloses everything inside it (the next middleware and,
at the bottom, the view), so its *self* time is the middleware's own work --
the way Scout's "Middleware" layer reads.  Off by default because a typical
stack of 8-12 middlewares adds as many spans to every request, which costs more
than it usually tells.

``BaseHandler.load_middleware`` wraps each middleware instance in
``convert_exception_to_response``, looked up in ``django.core.handlers.base``'s
globals; spanscope replaces that name with a version that also traces the
instance (sync or async alike).  The handler that calls the view
(``BaseHandler._get_response``) and OpenTelemetry's own middleware (which starts
the server span, so it cannot be inside it) are left alone.  Installed before
the handler loads its middleware -- at start-up -- it covers every request.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from spanscope.instrument import attributes
from spanscope.instrument.layer_spans import run_in_span
from spanscope.instrument.settings import SPANSCOPE_MIDDLEWARE_SPANS, env_flag

_logger = logging.getLogger(__name__)

TRACER_NAME = "spanscope.instrument.middleware"
_PATCHED = "__spanscope_patched__"

_tracer: trace.Tracer = trace.get_tracer(TRACER_NAME)


def middleware_name(get_response: object) -> str | None:
    """``module.Class`` of a middleware instance (or function), None for what is not one."""
    if getattr(get_response, "__self__", None) is not None:
        return None  # a bound method: BaseHandler._get_response, the view caller
    target = (
        get_response
        if callable(get_response) and hasattr(get_response, "__qualname__")
        else type(get_response)
    )
    module = getattr(target, "__module__", "") or ""
    if module.startswith("opentelemetry."):
        return None
    return f"{module}.{getattr(target, '__qualname__', '?')}"


def _traced(handler: Callable[..., Any], name: str) -> Callable[..., Any]:
    from asgiref.sync import iscoroutinefunction, markcoroutinefunction

    span_name = f"middleware {name}"
    span_attributes = {
        attributes.LAYER: attributes.LAYER_MIDDLEWARE,
        attributes.MIDDLEWARE_NAME: name,
    }

    if iscoroutinefunction(handler):

        async def traced_async(request: Any) -> Any:
            with _tracer.start_as_current_span(
                span_name, attributes=span_attributes, record_exception=True
            ):
                return await handler(request)

        return markcoroutinefunction(functools.wraps(handler)(traced_async))

    @functools.wraps(handler)
    def traced(request: Any) -> Any:
        return run_in_span(
            _tracer, span_name, trace.SpanKind.INTERNAL, span_attributes, lambda: handler(request)
        )

    return traced


_lock = threading.Lock()
_installed = False


def install(
    tracer_provider: trace.TracerProvider | None = None, enabled: bool | None = None
) -> bool:
    """Trace middleware when ``enabled`` (default: ``SPANSCOPE_MIDDLEWARE_SPANS``).

    Returns True when middleware is traced.  Idempotent; never raises.
    """
    global _installed, _tracer
    if not (env_flag(SPANSCOPE_MIDDLEWARE_SPANS, False) if enabled is None else enabled):
        return False
    with _lock:
        if tracer_provider is not None:
            _tracer = trace.get_tracer(TRACER_NAME, tracer_provider=tracer_provider)
        if _installed:
            return True
        try:
            from django.core.handlers import base as base_module
        except Exception:
            _logger.debug("spanscope: Django not importable, middleware not traced")
            return False
        base: Any = base_module  # django-stubs do not list the module's imported names
        original = base.convert_exception_to_response
        if getattr(original, _PATCHED, False):
            _installed = True
            return True

        @functools.wraps(original)
        def convert_exception_to_response(get_response: Any) -> Any:
            handler = original(get_response)
            try:
                name = middleware_name(get_response)
                return handler if name is None else _traced(handler, name)
            except Exception:
                _logger.debug("spanscope: cannot trace middleware %r", get_response, exc_info=True)
                return handler

        setattr(convert_exception_to_response, _PATCHED, True)
        base.convert_exception_to_response = convert_exception_to_response
        _installed = True
        return True
