"""Which frames count as the application's code, and the processor's safety."""

from __future__ import annotations

import json
import logging
import os
import sys
import sysconfig
from pathlib import Path

import django
import opentelemetry.sdk.trace
import pytest
import spanscope.instrument
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from spanscope.instrument.code_location import CodeLocator, default_excluded_prefixes
from spanscope.instrument.processor import SpanscopeSpanProcessor


def _is_excluded(path: str) -> bool:
    return path.startswith(default_excluded_prefixes())


@pytest.mark.parametrize(
    "library_file",
    [
        django.__file__,
        opentelemetry.sdk.trace.__file__,
        json.__file__,
        spanscope.instrument.__file__,
        pytest.__file__,
    ],
)
def test_libraries_stdlib_and_spanscope_are_not_user_code(library_file: str | None) -> None:
    assert library_file is not None
    assert _is_excluded(os.path.abspath(library_file))


def test_this_test_file_is_user_code() -> None:
    assert not _is_excluded(__file__)
    assert sysconfig.get_paths()["stdlib"] not in __file__


def test_frames_in_excluded_folders_are_skipped_for_their_caller(tmp_path: Path) -> None:
    library = tmp_path / "fake_library.py"
    library.write_text(
        "import sys\n\ndef run_query(on_query):\n    return on_query(sys._getframe())\n"
    )
    namespace: dict[str, object] = {}
    exec(compile(library.read_text(), str(library), "exec"), namespace)
    locator = CodeLocator(excluded_prefixes=[str(tmp_path) + os.sep])

    location, line = namespace["run_query"](locator.locate), sys._getframe().f_lineno  # type: ignore[operator]

    assert location is not None
    assert (location.file_path, location.line_number) == (__file__, line)


def test_locator_reports_path_line_and_module_qualified_function() -> None:
    locator = CodeLocator(excluded_prefixes=[])

    location, line = locator.locate(sys._getframe()), sys._getframe().f_lineno

    assert location is not None
    assert (location.file_path, location.line_number) == (__file__, line)
    assert (
        location.function_name
        == f"{__name__}.test_locator_reports_path_line_and_module_qualified_function"
    )


def _traced(processor: SpanscopeSpanProcessor) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(processor)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_spans_of_other_instrumentations_are_left_alone() -> None:
    provider, exporter = _traced(SpanscopeSpanProcessor())

    with provider.get_tracer("opentelemetry.instrumentation.django").start_as_current_span(
        "GET books/"
    ):
        pass

    assert dict(exporter.get_finished_spans()[0].attributes or {}) == {}


class BrokenLocator(CodeLocator):
    def locate_caller(self) -> None:
        raise RuntimeError("simulated failure")


def test_enrichment_failure_never_reaches_the_application(caplog: pytest.LogCaptureFixture) -> None:
    provider, exporter = _traced(
        SpanscopeSpanProcessor(locator=BrokenLocator(excluded_prefixes=[]))
    )

    tracer = provider.get_tracer("opentelemetry.instrumentation.sqlite3")
    with (
        caplog.at_level(logging.DEBUG, logger="spanscope.instrument.processor"),
        tracer.start_as_current_span("SELECT"),
    ):
        pass

    assert "code.file.path" not in (exporter.get_finished_spans()[0].attributes or {})
    assert any("could not enrich" in r.getMessage() for r in caplog.records)
