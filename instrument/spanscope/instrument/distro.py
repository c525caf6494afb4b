"""spanscope's OpenTelemetry distro (entry point ``opentelemetry_distro: spanscope``).

``opentelemetry-instrument`` (opentelemetry-instrumentation 0.66b1,
``auto_instrumentation/_load.py``) loads, in this order:

1. the distro: the ``opentelemetry_distro`` entry point named by
   ``OTEL_PYTHON_DISTRO``, or else the *first* one installed, and calls its
   ``configure()``;
2. the configurator: the ``opentelemetry_configurator`` entry point named by
   ``OTEL_PYTHON_CONFIGURATOR``, or else the first one (any other is skipped
   with a warning);
3. every ``opentelemetry_instrumentor`` (Django, sqlite3, psycopg, ...).

This distro only ``setdefault``s environment variables, so whatever the user
exported wins.  Because the distro runs before step 2, its
``OTEL_PYTHON_CONFIGURATOR=spanscope`` default already selects spanscope's
configurator.  When ``opentelemetry-distro`` (or another distro) is installed in
the same environment, which distro comes first is an accident of installation
order; choose explicitly::

    OTEL_PYTHON_DISTRO=spanscope OTEL_PYTHON_CONFIGURATOR=spanscope opentelemetry-instrument ...

Defaults set here:

- ``OTEL_TRACES_EXPORTER=spanscope_file``: OTLP JSON lines in
  ``$SPANSCOPE_TRACES_DIR`` (default ``./spanscope-traces``).  Set it to ``otlp``
  to send to a Collector instead, or ``spanscope_file,otlp`` for both.
- ``OTEL_METRICS_EXPORTER=none`` and ``OTEL_LOGS_EXPORTER=none``: spanscope
  reads traces only, and without a Collector an OTLP metrics exporter would log
  connection errors forever.
- ``OTEL_PYTHON_CONFIGURATOR=spanscope``.
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry.environment_variables import (
    OTEL_LOGS_EXPORTER,
    OTEL_METRICS_EXPORTER,
    OTEL_TRACES_EXPORTER,
)

# mypy sees this module as a bare ModuleType (no attributes), hence the ignore.
from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.instrumentation.environment_variables import OTEL_PYTHON_CONFIGURATOR
from spanscope.instrument import layers
from spanscope.instrument.settings import FILE_EXPORTER_NAME

CONFIGURATOR_NAME = "spanscope"

# Registry of the defaults this distro supplies; the user's environment always wins.
DEFAULT_ENVIRONMENT: dict[str, str] = {
    OTEL_TRACES_EXPORTER: FILE_EXPORTER_NAME,
    OTEL_METRICS_EXPORTER: "none",
    OTEL_LOGS_EXPORTER: "none",
    OTEL_PYTHON_CONFIGURATOR: CONFIGURATOR_NAME,
}


class SpanscopeDistro(BaseDistro):  # type: ignore[misc]
    def _configure(self, **kwargs: Any) -> None:
        for name, value in DEFAULT_ENVIRONMENT.items():
            os.environ.setdefault(name, value)
        # Patch Django (related descriptors, templates, caches, query parameters)
        # before any model class or cache is used; the configurator does it too,
        # for setups that pair another distro with it.
        layers.install()
