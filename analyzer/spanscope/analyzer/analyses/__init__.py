"""Analyses: pure functions from the span table to results."""

from spanscope.analyzer.analyses.analyze import analyze
from spanscope.analyzer.analyses.breakdown import breakdown
from spanscope.analyzer.analyses.duplicates import duplicates
from spanscope.analyzer.analyses.endpoints import endpoints
from spanscope.analyzer.analyses.nplusone import n_plus_one
from spanscope.analyzer.analyses.nplusone_http import n_plus_one_http
from spanscope.analyzer.analyses.slow_queries import slow_queries

__all__ = [
    "analyze",
    "breakdown",
    "duplicates",
    "endpoints",
    "n_plus_one",
    "n_plus_one_http",
    "slow_queries",
]
