"""spanscope's OpenTelemetry side: a distro, a configurator, a file exporter and span enrichment.

Importing this package is cheap and side-effect free: nothing is patched and no
heavy dependency (pyarrow, DuckDB) is ever imported.  ``opentelemetry-instrument``
loads :mod:`spanscope.instrument.distro` and :mod:`spanscope.instrument.configurator`
through the entry points declared in ``pyproject.toml``.
"""
