"""Renderers of an :class:`~spanscope.analyzer.report.AnalysisReport`, behind a name registry."""

from spanscope.analyzer.render import json, terminal
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
    "terminal",
]
