"""The distro supplies defaults only; the configurator builds spanscope's pipeline."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from child_python import run_python
from spanscope.instrument.distro import SpanscopeDistro


@pytest.fixture
def clean_otel_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_distro_defaults_to_spanscope_file_exporter_and_no_metrics_or_logs(
    clean_otel_env: pytest.MonkeyPatch,
) -> None:
    SpanscopeDistro().configure()

    assert os.environ["OTEL_TRACES_EXPORTER"] == "spanscope_file"
    assert os.environ["OTEL_METRICS_EXPORTER"] == "none"
    assert os.environ["OTEL_LOGS_EXPORTER"] == "none"
    assert os.environ["OTEL_PYTHON_CONFIGURATOR"] == "spanscope"


def test_users_otel_settings_win_over_distro_defaults(clean_otel_env: pytest.MonkeyPatch) -> None:
    clean_otel_env.setenv("OTEL_TRACES_EXPORTER", "otlp")
    clean_otel_env.setenv("OTEL_METRICS_EXPORTER", "console")

    SpanscopeDistro().configure()

    assert os.environ["OTEL_TRACES_EXPORTER"] == "otlp"
    assert os.environ["OTEL_METRICS_EXPORTER"] == "console"


# The configurator sets the process-global tracer provider, so it runs in a child.
_PIPELINE_PROBE = textwrap.dedent(
    """
    import json
    from opentelemetry import trace
    from spanscope.instrument.configurator import SpanscopeConfigurator

    SpanscopeConfigurator().configure(auto_instrumentation_version="test")
    provider = trace.get_tracer_provider()
    out = []
    for p in provider._active_span_processor._span_processors:
        # DropCountingSpanProcessor (otlp_drops) fronts the batch processor of
        # every exporter but the file exporter.
        inner = getattr(p, "processor", p)
        batch = getattr(inner, "_batch_processor", None)
        exporter = getattr(batch._exporter, "exporter", None) if batch else None
        out.append({
            "processor": type(p).__name__,
            "captures": type(inner).__name__ == "CapturingBatchSpanProcessor",
            "exporter": type(getattr(exporter, "exporter", exporter)).__name__ if batch else None,
            "enriching": type(batch._exporter).__name__ == "EnrichingSpanExporter" if batch else None,
            "delay_ms": batch._schedule_delay * 1000 if batch else None,
            "queue": batch._max_queue_size if batch else None,
        })
    print(json.dumps(out))
    """
)


def configured_pipeline(tmp_path: Path, **env: str) -> list[dict[str, object]]:
    out = run_python(_PIPELINE_PROBE, **env, SPANSCOPE_TRACES_DIR=str(tmp_path)).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_one_batch_processor_per_exporter_the_first_capturing_for_all(tmp_path: Path) -> None:
    pipeline = configured_pipeline(tmp_path, OTEL_TRACES_EXPORTER="spanscope_file,otlp")

    # No processor of spanscope's own: the SDK calls one processor per exporter.
    assert [p["processor"] for p in pipeline] == [
        "CapturingBatchSpanProcessor",
        "DropCountingSpanProcessor",
    ]
    assert [p["captures"] for p in pipeline] == [True, False]
    assert [p["exporter"] for p in pipeline] == ["OTLPJsonFileSpanExporter", "OTLPSpanExporter"]
    assert [p["enriching"] for p in pipeline] == [True, True]
    assert {p["delay_ms"] for p in pipeline} == {2000}
    assert {p["queue"] for p in pipeline} == {8192}


def test_an_otlp_exporter_named_first_captures_behind_its_drop_counter(tmp_path: Path) -> None:
    pipeline = configured_pipeline(tmp_path, OTEL_TRACES_EXPORTER="otlp,spanscope_file")

    assert [p["processor"] for p in pipeline] == [
        "DropCountingSpanProcessor",
        "BatchSpanProcessor",
    ]
    assert [p["captures"] for p in pipeline] == [True, False]


def test_users_batch_settings_win(tmp_path: Path) -> None:
    pipeline = configured_pipeline(
        tmp_path,
        OTEL_TRACES_EXPORTER="spanscope_file",
        OTEL_BSP_SCHEDULE_DELAY="500",
        OTEL_BSP_MAX_QUEUE_SIZE="1000",
    )

    assert pipeline[0]["delay_ms"] == 500
    assert pipeline[0]["queue"] == 1000
