"""One span per call to a Django cache: ``spanscope.layer=cache``, backend, operation, hit.

``install()`` wraps ``CacheHandler.create_connection``, so every cache object
Django builds for ``caches[alias]`` (and the ``cache`` proxy) gets its public
methods traced on the instance.  Instance wrapping, rather than patching
``BaseCache``, covers every backend, including third-party ones such as
django-redis, whose classes override those methods.  A call made by another
traced call of the same cache (``get_or_set`` calling ``get`` and ``add``,
``get_many`` looping over ``get`` in the base class) does not get a span of its
own: one span per call of the application.  The async ``a*`` methods run the
traced sync ones through ``sync_to_async``.

Keys and values are never recorded (keys often hold user ids or e-mail
addresses); ``spanscope.cache.hit`` is set for ``get`` (a value other than the
``default`` argument came back; a cached ``None`` with the default ``None``
reads as a miss, as Django itself cannot tell).

Patching needs no configured settings, so ``install()`` may run before
``DJANGO_SETTINGS_MODULE`` is read; caches created before it stay untraced.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace
from opentelemetry.util.types import AttributeValue
from spanscope.instrument import attributes
from spanscope.instrument.layer_spans import run_in_span

_logger = logging.getLogger(__name__)

TRACER_NAME = "spanscope.instrument.cache"

# The public BaseCache methods an application calls (Django 4.2-5.x).
OPERATIONS = (
    "get",
    "set",
    "add",
    "delete",
    "get_many",
    "set_many",
    "delete_many",
    "get_or_set",
    "has_key",
    "incr",
    "decr",
    "touch",
    "clear",
)

_TRACED = "_spanscope_traced"
_MISSING = object()

# True while a traced cache call runs: inner calls it makes are part of it.
_inside_cache_call: ContextVar[bool] = ContextVar("spanscope_inside_cache_call", default=False)


def _get_hit(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Callable[[Any], Mapping[str, AttributeValue]]:
    # get(key, default=None, version=None)
    default = args[1] if len(args) > 1 else kwargs.get("default")
    return lambda result: {attributes.CACHE_HIT: result is not default}


# Registry: operation -> how to describe its result (only ``get`` for now).
RESULT_DESCRIBERS: dict[
    str, Callable[[tuple[Any, ...], dict[str, Any]], Callable[[Any], Mapping[str, AttributeValue]]]
] = {"get": _get_hit}


def backend_name(cache: object) -> str:
    cls = type(cache)
    return f"{cls.__module__}.{cls.__qualname__}"


# The tracer of the latest install(): looked up per call, so a later install with
# an explicit provider (tests, a second configuration) takes effect everywhere.
_tracer: trace.Tracer = trace.get_tracer(TRACER_NAME)


def _traced_method(backend: str, operation: str, method: Callable[..., Any]) -> Callable[..., Any]:
    span_name = f"cache {operation}"
    span_attributes: dict[str, AttributeValue] = {
        attributes.LAYER: attributes.LAYER_CACHE,
        attributes.CACHE_BACKEND: backend,
        attributes.CACHE_OPERATION: operation,
    }
    describer = RESULT_DESCRIBERS.get(operation)

    @functools.wraps(method)
    def traced(*args: Any, **kwargs: Any) -> Any:
        if _inside_cache_call.get():
            return method(*args, **kwargs)
        token = _inside_cache_call.set(True)
        try:
            describe = describer(args, kwargs) if describer is not None else None
            return run_in_span(
                _tracer,
                span_name,
                trace.SpanKind.CLIENT,
                span_attributes,
                lambda: method(*args, **kwargs),
                describe,
            )
        finally:
            _inside_cache_call.reset(token)

    return traced


def trace_cache(cache: object) -> bool:
    """Trace the public methods of one cache object.  Idempotent; never raises."""
    try:
        if getattr(cache, _TRACED, False):
            return True
        backend = backend_name(cache)
        for operation in OPERATIONS:
            method = getattr(cache, operation, None)
            if callable(method):
                setattr(cache, operation, _traced_method(backend, operation, method))
        setattr(cache, _TRACED, True)
        return True
    except Exception:
        _logger.debug("spanscope: cannot trace cache %r", cache, exc_info=True)
        return False


_lock = threading.Lock()
_installed = False


def install(tracer_provider: trace.TracerProvider | None = None) -> bool:
    """Trace every Django cache created from now on.  Idempotent; never raises.

    ``tracer_provider`` None means the global one; an explicit provider replaces
    the one of an earlier call.
    """
    global _installed, _tracer
    with _lock:
        if tracer_provider is not None:
            _tracer = trace.get_tracer(TRACER_NAME, tracer_provider=tracer_provider)
        if _installed:
            return True
        try:
            from django.core.cache import CacheHandler
        except Exception:
            _logger.debug("spanscope: Django cache not importable, cache calls not traced")
            return False
        original = CacheHandler.create_connection

        @functools.wraps(original)
        def create_connection(self: Any, alias: str) -> Any:
            cache = original(self, alias)
            trace_cache(cache)
            return cache

        CacheHandler.create_connection = create_connection  # type: ignore[method-assign]
        _installed = True
        return True
