"""spanscope's offline trace analyzer: span dumps in, endpoints and N+1 findings out.

    from spanscope.analyzer import correlation_series, endpoints, load, n_plus_one
    spans = load("spanscope-traces/")
    endpoints(spans).to_pandas()
    n_plus_one(spans)[0].suggestion
    correlation_series(spans).to_pandas().diff().corr()

Importing this package never imports Django or the OpenTelemetry SDK.
"""

from spanscope.analyzer.analyses import (
    analyze,
    breakdown,
    duplicates,
    endpoints,
    n_plus_one,
    n_plus_one_http,
    slow_queries,
)
from spanscope.analyzer.analyses.check import CheckResult, check
from spanscope.analyzer.analyses.compare import CompareResult, compare
from spanscope.analyzer.analyses.correlate import (
    CorrelationResult,
    InsufficientDataError,
    correlate,
)
from spanscope.analyzer.analyses.series import correlation_series
from spanscope.analyzer.config import Config, load_config
from spanscope.analyzer.diagnostics import Diagnostics, Problem
from spanscope.analyzer.errors import SpanscopeError
from spanscope.analyzer.load import LoadResult, load, read
from spanscope.analyzer.report import (
    AnalysisReport,
    CodeLocation,
    EndpointsResult,
    EndpointStats,
    InputStats,
    NPlusOneFinding,
    findings_to_arrow,
)
from spanscope.analyzer.requests import request_table
from spanscope.analyzer.schema import SPAN_SCHEMA
from spanscope.analyzer.sqlnorm import normalize as normalize_sql

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
