"""Analyses: pure functions from the span table to results."""

from spanscope.analyzer.analyses.analyze import analyze
from spanscope.analyzer.analyses.endpoints import endpoints
from spanscope.analyzer.analyses.nplusone import n_plus_one

__all__ = ["analyze", "endpoints", "n_plus_one"]
