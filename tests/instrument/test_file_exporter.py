"""The file exporter: one private file per process, whole lines, failures contained."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult
from spans_for_tests import request_with_queries
from spanscope.instrument.file_exporter import OTLPJsonFileSpanExporter, trace_file_name


def read_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_nothing_is_created_before_the_first_export(tmp_path: Path) -> None:
    exporter = OTLPJsonFileSpanExporter(tmp_path / "traces")

    assert exporter.path is None
    assert not (tmp_path / "traces").exists()


def test_each_export_appends_one_json_line(tmp_path: Path) -> None:
    exporter = OTLPJsonFileSpanExporter(tmp_path)
    spans = request_with_queries(3)

    assert exporter.export(spans[:2]) is SpanExportResult.SUCCESS
    assert exporter.export(spans[2:]) is SpanExportResult.SUCCESS

    assert exporter.path is not None
    lines = read_lines(exporter.path)
    assert len(lines) == 2
    names = [
        s["name"]
        for line in lines
        for rs in line["resourceSpans"]
        for ss in rs["scopeSpans"]
        for s in ss["spans"]
    ]  # type: ignore[index, union-attr, attr-defined]
    assert names == [s.name for s in spans]


def test_file_is_owner_only_and_created_folder_is_0700(tmp_path: Path) -> None:
    exporter = OTLPJsonFileSpanExporter(tmp_path / "new" / "traces")
    exporter.export(request_with_queries(1))

    assert exporter.path is not None
    assert stat.S_IMODE(exporter.path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "new" / "traces").stat().st_mode) == 0o700


def test_file_name_sorts_by_time_and_names_the_process(tmp_path: Path) -> None:
    exporter = OTLPJsonFileSpanExporter(tmp_path)
    exporter.export(request_with_queries(1))

    assert exporter.path is not None
    assert exporter.path.name.endswith(f"-{os.getpid()}.jsonl")
    assert trace_file_name(1, 1_700_000_000) < trace_file_name(1, 1_800_000_000)
    assert trace_file_name(1, 1_700_000_000.001) < trace_file_name(1, 1_700_000_000.002)
    assert trace_file_name(42, 0.25) == "spans-19700101T000000.250Z-42.jsonl"


def test_folder_defaults_to_spanscope_traces_env_then_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SPANSCOPE_TRACES_DIR", raising=False)
    assert OTLPJsonFileSpanExporter().directory == tmp_path / "spanscope-traces"

    monkeypatch.setenv("SPANSCOPE_TRACES_DIR", "elsewhere")
    assert OTLPJsonFileSpanExporter().directory == tmp_path / "elsewhere"


def test_unwritable_folder_warns_once_drops_and_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    exporter = OTLPJsonFileSpanExporter(blocker / "traces")
    spans = request_with_queries(2)

    with caplog.at_level(logging.DEBUG, logger="spanscope.instrument.file_exporter"):
        first = exporter.export(spans)
        second = exporter.export(spans)

    assert first is SpanExportResult.FAILURE and second is SpanExportResult.FAILURE
    assert exporter.dropped_spans == 2 * len(spans)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "SPANSCOPE_TRACES_DIR" in warnings[0].getMessage()


def test_export_after_shutdown_is_dropped_not_raised(tmp_path: Path) -> None:
    exporter = OTLPJsonFileSpanExporter(tmp_path)
    exporter.shutdown()

    assert exporter.export(request_with_queries(1)) is SpanExportResult.FAILURE
    assert exporter.dropped_spans == 2


def test_forked_child_writes_its_own_file(tmp_path: Path) -> None:
    exporter = OTLPJsonFileSpanExporter(tmp_path)
    spans = request_with_queries(1)
    exporter.export(spans)  # the parent's file is open before the fork

    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 0 if exporter.export(spans) is SpanExportResult.SUCCESS else 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    exporter.export(spans)

    assert os.waitstatus_to_exitcode(status) == 0
    assert exporter.path is not None
    child_files = list(tmp_path.glob(f"spans-*-{pid}.jsonl"))
    assert len(child_files) == 1
    assert sorted(tmp_path.iterdir()) == sorted([exporter.path, child_files[0]])
    assert len(read_lines(exporter.path)) == 2  # before and after the fork
    assert len(read_lines(child_files[0])) == 1
