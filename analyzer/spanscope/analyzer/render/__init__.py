"""Renderers of an :class:`~spanscope.analyzer.report.AnalysisReport`, behind a name registry."""

# terminal_format, not terminal: the tables and rich load only when a table is drawn.
from spanscope.analyzer.render import json, terminal_format
from spanscope.analyzer.render.registry import (
    DEFAULT_RENDERER,
    RENDERERS,
    Renderer,
    get_renderer,
    register,
    renderer_name_for_path,
)

__all__ = [
    "DEFAULT_RENDERER",
    "RENDERERS",
    "Renderer",
    "get_renderer",
    "json",
    "register",
    "renderer_name_for_path",
    "terminal_format",
]
