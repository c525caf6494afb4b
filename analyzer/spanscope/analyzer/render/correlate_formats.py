"""The output formats of ``spanscope correlate``: ``terminal`` (default) and ``json``."""

from __future__ import annotations

from typing import Final

from spanscope.analyzer.analyses.correlate import CorrelationResult
from spanscope.analyzer.render.correlate_json import CorrelationJsonRenderer
from spanscope.analyzer.render.correlate_terminal import CorrelationTerminalRenderer
from spanscope.analyzer.render.result_formats import Formats

CORRELATE_FORMATS: Final = Formats[CorrelationResult](
    "terminal", CorrelationTerminalRenderer, CorrelationJsonRenderer
)
