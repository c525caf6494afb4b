"""The stack walk's shortcuts: raw capture resolved later, and anchors that skip library frames."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from spanscope.instrument.code_location import (
    CodeLocator,
    default_plumbing_prefixes,
    line_number,
    resolve,
)
from spanscope.instrument.processor import SpanscopeSpanProcessor

# A stand-in for an ORM: ``get`` goes through a spanscope-like wrapper (a
# plumbing file) into library code that either runs the query itself or calls
# back into the application first.
ORM = """
def get(tracer, callback=None):
    return lazy_load(tracer, callback)

def get_via(tracer):
    return get(tracer)

def fetch(tracer, callback):
    if callback is not None:
        return callback()
    return execute(tracer)

def execute(tracer):
    tracer.start_span("SELECT").end()
"""
WRAPPER = """
def lazy_load(tracer, callback):
    return fetch(tracer, callback)
"""


class FakeOrm:
    def __init__(self, library: Path) -> None:
        library.mkdir()
        self.wrapper_file = library / "wrapper.py"
        self.namespace: dict[str, Any] = {}
        for name, source in (("orm.py", ORM), ("wrapper.py", WRAPPER)):
            exec(compile(source, str(library / name), "exec"), self.namespace)
        self.exporter = InMemorySpanExporter()
        self.locator = CodeLocator(
            excluded_prefixes=[str(library) + os.sep],
            plumbing_prefixes=[*default_plumbing_prefixes(), str(self.wrapper_file)],
        )
        provider = TracerProvider()
        provider.add_span_processor(SpanscopeSpanProcessor(locator=self.locator))
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = provider.get_tracer("opentelemetry.instrumentation.sqlite3")

        # Library functions, called straight from the tests (the application here).
        self.get: Callable[..., None] = self.namespace["get"]
        self.get_via: Callable[..., None] = self.namespace["get_via"]
        self.execute: Callable[..., None] = self.namespace["execute"]

    def lines(self) -> list[object]:
        return [
            (s.attributes or {}).get("code.line.number") for s in self.exporter.get_finished_spans()
        ]


@pytest.fixture
def orm(tmp_path: Path) -> FakeOrm:
    return FakeOrm(tmp_path / "library")


def here() -> int:
    return sys._getframe(1).f_lineno


def test_lazy_loads_from_several_lines_each_get_their_own_line(orm: FakeOrm) -> None:
    expected = []
    for _ in range(3):
        orm.get(orm.tracer)
        expected.append(here() - 1)
        orm.get(orm.tracer)
        expected.append(here() - 1)

    assert orm.locator._upper_anchors  # the wrapper's depth was learned on the first walk
    assert orm.lines() == expected


def test_the_wrapper_reached_through_one_more_library_frame_still_finds_its_caller(
    orm: FakeOrm,
) -> None:
    orm.get(orm.tracer)  # learns where the application frame sits above the wrapper
    expected = [here() - 1]
    orm.get_via(orm.tracer)  # the same wrapper at the same depth, the caller one frame further
    expected.append(here() - 1)
    orm.get(orm.tracer)
    expected.append(here() - 1)

    assert orm.lines() == expected
    # Both paths are remembered: the wrapper with each application depth seen above it.
    assert len({above for _depth, _code, above in orm.locator._upper_anchors}) == 2


def test_application_code_called_back_under_the_wrapper_is_found(orm: FakeOrm) -> None:
    orm.get(orm.tracer)  # learns the wrapper's depth for the direct path
    callback_line = 0

    def callback() -> None:
        nonlocal callback_line
        callback_line = here() + 1
        orm.execute(orm.tracer)

    orm.get(orm.tracer, callback)

    assert orm.lines()[-1] == callback_line


def test_plumbing_frames_are_never_application_code(orm: FakeOrm) -> None:
    location = orm.namespace["lazy_load"].__code__

    assert orm.locator._classify(location.co_filename) == ""
    assert orm.locator._classify(__file__) == os.path.abspath(__file__)


def _caller_as_seen_now(locator: CodeLocator) -> tuple[object, int]:
    caller = sys._getframe(1)
    return locator.find(caller), caller.f_lineno


def _paused_in_a_multiline_call(locator: CodeLocator) -> tuple[object, int]:
    return _caller_as_seen_now(
        locator,
    )


def test_raw_location_resolves_to_the_frames_own_line_number() -> None:
    locator = CodeLocator(excluded_prefixes=[])

    raw, line = _paused_in_a_multiline_call(locator)

    assert raw is not None
    location = resolve(raw)  # type: ignore[arg-type]
    assert location.file_path == os.path.abspath(__file__)
    assert location.line_number == line
    assert location.function_name == f"{__name__}._paused_in_a_multiline_call"


def test_line_number_matches_f_lineno_at_every_line_of_a_function() -> None:
    seen: dict[int, int] = {}

    def record() -> None:
        frame = sys._getframe(1)
        seen[frame.f_lasti] = frame.f_lineno

    def several_lines() -> None:
        record()
        for _ in range(2):
            record()
        (record() if seen else None)

    several_lines()

    assert len(set(seen.values())) >= 3
    assert {lasti: line_number(several_lines.__code__, lasti) for lasti in seen} == seen
