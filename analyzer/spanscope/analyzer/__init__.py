"""spanscope's offline trace analyzer: span dumps in, endpoints and N+1 findings out.

    from spanscope.analyzer import correlation_series, endpoints, load, n_plus_one
    spans = load("spanscope-traces/")
    endpoints(spans).to_pandas()
    n_plus_one(spans)[0].suggestion
    correlation_series(spans).to_pandas().diff().corr()

Importing this package never imports Django or the OpenTelemetry SDK.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

#: Exported name -> the module it comes from.  Nothing is imported until a name is
#: first used (PEP 562), so ``spanscope analyze`` pays only for what it runs.
_EXPORTS = {
    **dict.fromkeys(
        (
            "analyze",
            "breakdown",
            "duplicates",
            "endpoints",
            "n_plus_one",
            "n_plus_one_http",
            "slow_queries",
        ),
        "spanscope.analyzer.analyses",
    ),
    "CheckResult": "spanscope.analyzer.analyses.check",
    "check": "spanscope.analyzer.analyses.check",
    "CompareResult": "spanscope.analyzer.analyses.compare",
    "compare": "spanscope.analyzer.analyses.compare",
    "CorrelationResult": "spanscope.analyzer.analyses.correlate",
    "InsufficientDataError": "spanscope.analyzer.analyses.correlate",
    "correlate": "spanscope.analyzer.analyses.correlate",
    "correlation_series": "spanscope.analyzer.analyses.series",
    "Config": "spanscope.analyzer.config",
    "load_config": "spanscope.analyzer.config",
    "Diagnostics": "spanscope.analyzer.diagnostics",
    "Problem": "spanscope.analyzer.diagnostics",
    "SpanscopeError": "spanscope.analyzer.errors",
    "LoadResult": "spanscope.analyzer.load",
    "load": "spanscope.analyzer.load",
    "read": "spanscope.analyzer.load",
    **dict.fromkeys(
        (
            "AnalysisReport",
            "CodeLocation",
            "EndpointsResult",
            "EndpointStats",
            "InputStats",
            "NPlusOneFinding",
            "findings_to_arrow",
        ),
        "spanscope.analyzer.report",
    ),
    "request_table": "spanscope.analyzer.requests",
    "SPAN_SCHEMA": "spanscope.analyzer.schema",
}
#: The module names exported in place of a submodule of the same name.
_ALIASES = {"normalize_sql": ("spanscope.analyzer.sqlnorm", "normalize")}


def __getattr__(name: str) -> Any:
    if name in _ALIASES:
        module, attribute = _ALIASES[name]
    elif name in _EXPORTS:
        module, attribute = _EXPORTS[name], name
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_ALIASES})


class _Package(types.ModuleType):
    """This package, whose exported ``load`` is the function of the submodule of the
    same name: importing that submodule must not replace the function with the module
    (the import system binds a submodule on its package once it is loaded)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return  # the exported object is fetched by __getattr__ instead
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = [
    "SPAN_SCHEMA",
    "AnalysisReport",
    "CheckResult",
    "CodeLocation",
    "CompareResult",
    "Config",
    "CorrelationResult",
    "Diagnostics",
    "EndpointStats",
    "EndpointsResult",
    "InputStats",
    "InsufficientDataError",
    "LoadResult",
    "NPlusOneFinding",
    "Problem",
    "SpanscopeError",
    "analyze",
    "breakdown",
    "check",
    "compare",
    "correlate",
    "correlation_series",
    "duplicates",
    "endpoints",
    "findings_to_arrow",
    "load",
    "load_config",
    "n_plus_one",
    "n_plus_one_http",
    "normalize_sql",
    "read",
    "request_table",
    "slow_queries",
]
