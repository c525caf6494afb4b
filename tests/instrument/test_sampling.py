"""Ratio sampling keeps whole traces, and spanscope says once that N+1 detection needs them."""

from __future__ import annotations

import logging
import subprocess
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest
from child_python import run_python
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBasedTraceIdRatio
from spanscope.instrument import sampling
from spanscope.instrument.processor import SpanscopeSpanProcessor

_PROBE = textwrap.dedent(
    """
    from opentelemetry import trace
    from spanscope.instrument.configurator import SpanscopeConfigurator

    SpanscopeConfigurator().configure(auto_instrumentation_version="test")
    SpanscopeConfigurator().configure(auto_instrumentation_version="test")
    print(trace.get_tracer_provider().sampler.get_description())
    """
)


def configure_in_child(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return run_python(
        _PROBE, **env, SPANSCOPE_TRACES_DIR=str(tmp_path), OTEL_TRACES_EXPORTER="none"
    )


def test_configurator_keeps_the_users_parent_based_ratio_sampler(tmp_path: Path) -> None:
    result = configure_in_child(
        tmp_path, OTEL_TRACES_SAMPLER="parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG="0.25"
    )

    description = result.stdout.strip().splitlines()[-1]
    assert description.startswith("ParentBased{root:TraceIdRatioBased{0.25}")
    assert result.stderr.count("N+1 detection needs complete traces") == 1


def test_no_warning_when_every_trace_is_kept(tmp_path: Path) -> None:
    result = configure_in_child(tmp_path)

    assert "N+1 detection" not in result.stderr


def test_parent_based_ratio_sampling_keeps_or_drops_whole_traces() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBasedTraceIdRatio(0.5))
    provider.add_span_processor(SpanscopeSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    web = provider.get_tracer("opentelemetry.instrumentation.django")
    db = provider.get_tracer("opentelemetry.instrumentation.sqlite3")

    for _ in range(200):
        with web.start_as_current_span("GET books/"):
            for _ in range(5):
                db.start_span("SELECT").end()

    per_trace: dict[int, int] = defaultdict(int)
    for span in exporter.get_finished_spans():
        assert span.context is not None
        per_trace[span.context.trace_id] += 1
    assert 0 < len(per_trace) < 200  # some traces kept, some dropped ...
    assert set(per_trace.values()) == {6}  # ... but never in part


def test_warning_is_logged_once_per_process(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sampling, "_warned", False)

    with caplog.at_level(logging.WARNING, logger="spanscope.instrument.sampling"):
        first = sampling.warn_if_sampling(ParentBasedTraceIdRatio(0.1))
        second = sampling.warn_if_sampling(ParentBasedTraceIdRatio(0.1))

    assert (first, second) == (True, False)
    assert len(caplog.records) == 1
    assert "10%" in caplog.records[0].getMessage()


def test_kept_fraction_of_common_samplers() -> None:
    assert sampling.kept_fraction(ALWAYS_ON) == 1.0
    assert sampling.kept_fraction(ParentBasedTraceIdRatio(0.3)) == 0.3
