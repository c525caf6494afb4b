"""The output formats of ``spanscope compare``: ``terminal`` (default) and ``json``."""

from __future__ import annotations

from typing import Final

from spanscope.analyzer.analyses.compare import CompareResult
from spanscope.analyzer.render.compare_json import CompareJsonRenderer
from spanscope.analyzer.render.compare_terminal import CompareTerminalRenderer
from spanscope.analyzer.render.result_formats import Formats

COMPARE_FORMATS: Final = Formats[CompareResult](
    "terminal", CompareTerminalRenderer, CompareJsonRenderer
)
