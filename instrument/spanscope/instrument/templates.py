"""One span per template rendering: ``render <template name>``, ``spanscope.layer=template``.

Django: ``django.template.base.Template.render`` is what every path ends in --
the ``django.template.backends.django`` backend (``render()``, class-based
views, ``TemplateResponse``), ``{% include %}`` (so included templates nest
under their includer), and direct use of ``Template``.  ``{% extends %}``
renders the parent through ``_render`` inside the child's span, which is where
its time belongs.  Jinja2 (when installed): ``jinja2.Template.render``, which
Django's Jinja2 backend calls too.

Patching needs no configured settings.  Idempotent; never raises; a template
error still reaches the application (and is recorded on the span).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from opentelemetry import trace
from spanscope.instrument import attributes
from spanscope.instrument.layer_spans import run_in_span

_logger = logging.getLogger(__name__)

TRACER_NAME = "spanscope.instrument.templates"
_PATCHED = "__spanscope_patched__"
UNNAMED = "(string)"  # a template built from a string has no name


class TemplateClass(NamedTuple):
    engine: str  # spanscope.template.engine
    module: str
    cls: str


# Registry of the template classes whose ``render`` is traced.
TEMPLATE_CLASSES = (
    TemplateClass("django", "django.template.base", "Template"),
    TemplateClass("jinja2", "jinja2.environment", "Template"),
)


# The tracer of the latest install(): looked up per call, so a later install with
# an explicit provider (tests, a second configuration) takes effect everywhere.
_tracer: trace.Tracer = trace.get_tracer(TRACER_NAME)


def _traced_render(engine: str, render: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(render)
    def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(self, "name", None) or UNNAMED
        return run_in_span(
            _tracer,
            f"render {name}",
            trace.SpanKind.INTERNAL,
            {
                attributes.LAYER: attributes.LAYER_TEMPLATE,
                attributes.TEMPLATE_NAME: str(name),
                attributes.TEMPLATE_ENGINE: engine,
            },
            lambda: render(self, *args, **kwargs),
        )

    setattr(traced, _PATCHED, True)
    return traced


def _patch(target: TemplateClass) -> bool:
    # An engine that is not installed is not an error, and is not imported.
    if importlib.util.find_spec(target.module.split(".")[0]) is None:
        return False
    cls = getattr(importlib.import_module(target.module), target.cls)
    render = cls.render
    if not getattr(render, _PATCHED, False):
        cls.render = _traced_render(target.engine, render)
    return True


_lock = threading.Lock()
_installed = False


def install(tracer_provider: trace.TracerProvider | None = None) -> bool:
    """Trace template rendering of every installed engine.  Idempotent; never raises.

    Returns True when Django's templates are traced.  ``tracer_provider`` None
    means the global one; an explicit provider replaces the one of an earlier call.
    """
    global _installed, _tracer
    with _lock:
        if tracer_provider is not None:
            _tracer = trace.get_tracer(TRACER_NAME, tracer_provider=tracer_provider)
        if _installed:
            return True
        patched: dict[str, bool] = {}
        for target in TEMPLATE_CLASSES:
            try:
                patched[target.engine] = _patch(target)
            except Exception:
                patched[target.engine] = False
                _logger.debug("spanscope: cannot trace %s templates", target.engine, exc_info=True)
        _installed = patched.get("django", False)
        return _installed
